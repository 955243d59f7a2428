// Browser tests of the Presently UI: real chromium, mocked Tauri IPC (see src/test-entry.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  ADMIN_CONSENT_URL,
  agenda,
  item as itemAt,
  CLIENT_ID,
  consentError,
  DATES,
  emptyAgenda,
  NOW,
  redirectError,
  signedOut,
  signInInfo as info,
  status,
  unconfigured,
} from './fixtures.mjs';
import { audit } from './axe.mjs';
import { buildTestBundle, calls, DIST, ensureArtifacts, launch, openApp, serve } from './harness.mjs';

let browser;
let server;
let base;

before(async () => {
  await buildTestBundle();
  ({ server, base } = await serve());
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok()));
});

const defaultScenario = () => ({ agenda: agenda(), status: status() });

/** Open the app, run `fn`, then check nothing went wrong in the page (errors, CSP, dialogs). */
async function withApp(opts, fn) {
  const app = await openApp(browser, base, { time: NOW, scenario: defaultScenario(), ...opts });
  try {
    await fn(app);
    // Whatever state the test leaves the page in meets WCAG 2.1 AA (axe-core).
    await audit(app.page, 'the page at the end of this test');
    const csp = await app.page.evaluate(() => window.__csp);
    assert.deepEqual(csp, [], 'no CSP violations');
    assert.deepEqual(app.problems, [], 'no console errors or page errors');
    assert.deepEqual(app.dialogs, [], 'no dialogs opened');
  } finally {
    await app.context.close();
  }
}

const texts = (loc) => loc.evaluateAll((els) => els.map((e) => e.textContent.trim()));

test('days are grouped with Today/Tomorrow headers and items in time order', async () => {
  await withApp({}, async ({ page }) => {
    const days = page.getByTestId('day');
    assert.deepEqual(await days.evaluateAll((els) => els.map((e) => e.dataset.date)), DATES);
    const headers = await texts(page.locator('[data-testid="day"] h2 .day-title'));
    assert.equal(headers[0], 'Today');
    assert.equal(headers[1], 'Tomorrow');
    assert.equal(headers[2], 'Thursday, November 26');
    assert.equal(await page.getByRole('heading', { level: 2, name: /Today/ }).count(), 1);

    const today = page.locator('[data-testid="day"][data-date="2026-11-24"]');
    assert.deepEqual(await texts(today.getByTestId('item-subject')), [
      'Release week',
      'Focus time',
      'Daily standup',
      'Weekly sync',
      'Lunch with Sam',
      'Quarterly planning',
      'Vendor demo: Northwind',
    ]);
    const tomorrow = page.locator('[data-testid="day"][data-date="2026-11-25"]');
    assert.deepEqual(await texts(tomorrow.getByTestId('item-subject')), [
      'Release week',
      'Working from Hamburg',
      'Customer call — Fabrikam',
      'Budget review',
    ]);
    // ARIA: lists of listitems, one region for the agenda.
    assert.equal(await today.getByRole('list').count(), 1);
    assert.equal(await today.getByRole('listitem').filter({ has: page.getByTestId('item-subject') }).count(), 7);
  });
});

test('all-day items show "All day" and timed items their local time range', async () => {
  await withApp({}, async ({ page }) => {
    const allDay = page.locator('[data-testid="day"][data-date="2026-11-24"] [data-testid="item"][data-id="release-week"]');
    assert.equal((await allDay.locator('.time').textContent()).trim(), 'All day');
    const sync = page.locator('[data-testid="item"][data-id="weekly-sync"]');
    assert.equal(await sync.locator('.t-start').textContent(), '10:00 AM');
    assert.equal(await sync.locator('.t-end').textContent(), '10:30 AM');
  });
});

test('Ctrl+W closes the window (Presently stays in the tray); W alone is just a key', async () => {
  await withApp({}, async ({ page }) => {
    await page.locator('[data-testid="item"]').first().waitFor();
    await page.keyboard.press('w');
    assert.equal((await calls(page, 'close_window')).length, 0);
    await page.keyboard.press('Control+w');
    assert.equal((await calls(page, 'close_window')).length, 1);
  });
});

test('an empty day shows the empty state', async () => {
  await withApp({}, async ({ page }) => {
    const empty = page.locator('[data-testid="day"][data-date="2026-11-26"]');
    assert.equal(await empty.getByTestId('empty-day').textContent(), 'Nothing scheduled');
    assert.equal(await empty.getByTestId('item').count(), 0);
    const busy = page.locator('[data-testid="day"][data-date="2026-11-24"]');
    assert.equal(await busy.getByTestId('empty-day').count(), 0);
  });
});

test('English uses the locale clock (12 h); German shows German strings and 24 h times', async () => {
  await withApp({ locale: 'en-US' }, async ({ page }) => {
    assert.match(await page.locator('[data-testid="item"][data-id="focus"] .t-start').textContent(), /^8:30\sAM$/);
    assert.match(await page.getByTestId('status').textContent(), /Synced 9:12\sAM/);
    assert.equal(await page.getByTestId('sync-now').getAttribute('aria-label'), 'Sync now');
  });
  await withApp({ locale: 'de-DE' }, async ({ page }) => {
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    const headers = await texts(page.locator('[data-testid="day"] h2 .day-title'));
    assert.deepEqual(headers.slice(0, 3), ['Heute', 'Morgen', 'Donnerstag, 26. November']);
    assert.equal(await page.locator('[data-testid="item"][data-id="focus"] .t-start').textContent(), '08:30');
    assert.equal(await page.locator('[data-testid="item"][data-id="vendor-demo"] .t-start').textContent(), '16:00');
    assert.equal((await page.locator('[data-testid="item"][data-id="release-week"] .time').first().textContent()).trim(), 'Ganztägig');
    assert.equal(await page.getByTestId('empty-day').first().textContent(), 'Keine Termine');
    assert.equal(await page.getByTestId('sync-now').getAttribute('aria-label'), 'Jetzt synchronisieren');
    assert.match(await page.getByTestId('status').textContent(), /Synchronisiert 09:12/);
    assert.equal(await page.locator('[data-testid="item"][data-id="weekly-sync"] [data-testid="next-marker"]').textContent(), 'in 12 Min.');
    const agendaText = await page.getByTestId('agenda').textContent();
    assert.doesNotMatch(agendaText, /\b(AM|PM)\b/);
    assert.doesNotMatch(agendaText, /Today|Tomorrow|All day/);
  });
});

/** What src-tauri's AppStatus carries while forwarding's restore keeps failing. */
const failingRestore = (failures) => ({
  resource: 'forwarding',
  purpose: 'restore',
  read: false,
  switches_off: true,
  failures,
  error: 'HTTP forwarding refused the change (HTTP 500): emulated failure',
  message: 'Forwarding still on — switching it off failed, retrying',
  key: 'a1b2c3-7',
});

test('a restore that keeps failing shows under the status line, in English and German, until it lands', async () => {
  await withApp({ scenario: { agenda: agenda(), status: { ...status(), presence: [failingRestore(3)] } } }, async ({ page }) => {
    const line = page.getByTestId('presence-problem');
    await line.waitFor();
    assert.equal((await line.textContent()).trim(), 'Forwarding still on — switching it off failed, retrying (3 tries)');
    assert.equal(await line.getAttribute('title'), 'Last error: HTTP forwarding refused the change (HTTP 500): emulated failure');
    assert.equal(await line.getAttribute('role'), 'status');
    // The warning line is readable too (it is gone by the end of this test).
    await audit(page, 'a restore that keeps failing');
    // The sync status stays as it was beside it.
    assert.match(await page.getByTestId('status').textContent(), /Synced 9:12\sAM/);
    // Another attempt failed: the count follows the event.
    await page.evaluate((st) => window.__presently.emit('status-changed', st), { ...status(), presence: [failingRestore(4)] });
    await page.waitForFunction(() => document.querySelector('[data-testid="presence-problem"]')?.textContent?.includes('4 tries'));
    // A read that fails before another resource is given back.
    await page.evaluate(
      (st) => window.__presently.emit('status-changed', st),
      {
        ...status(),
        presence: [{ ...failingRestore(2), resource: 'automatic_replies', switches_off: false, read: true, error: null }],
      },
    );
    await page.waitForFunction(() => document.querySelector('[data-testid="presence-problem"]')?.textContent?.includes('reading'));
    assert.equal((await line.textContent()).trim(), 'Automatic replies: reading it failed, retrying (2 tries)');
    assert.equal(await line.getAttribute('title'), null);
    // It landed: the line goes.
    await page.evaluate((st) => window.__presently.emit('status-changed', st), status());
    await page.waitForFunction(() => document.querySelector('[data-testid="presence-problem"]')?.hidden === true);
  });
  await withApp(
    { locale: 'de-DE', scenario: { agenda: agenda(), status: { ...status(), presence: [failingRestore(3)] } } },
    async ({ page }) => {
      const line = page.getByTestId('presence-problem');
      await line.waitFor();
      assert.equal(
        (await line.textContent()).trim(),
        'Anrufweiterleitung noch an — Ausschalten fehlgeschlagen, wird wiederholt (3 Versuche)',
      );
      assert.match(await line.getAttribute('title'), /^Letzter Fehler: HTTP forwarding refused/);
      await page.evaluate(
        (st) => window.__presently.emit('status-changed', st),
        { ...status(), presence: [{ ...failingRestore(1), resource: 'presence', switches_off: false }] },
      );
      await page.waitForFunction(() => document.querySelector('[data-testid="presence-problem"]')?.textContent?.includes('1 Versuch'));
      assert.equal(
        (await line.textContent()).trim(),
        'Präsenz noch von Presently gesetzt — Zurückgeben fehlgeschlagen, wird wiederholt (1 Versuch)',
      );
    },
  );
  // Nothing failing: no line at all.
  await withApp({}, async ({ page }) => {
    await page.getByTestId('status').waitFor();
    assert.equal(await page.getByTestId('presence-problem').isHidden(), true);
  });
});

test('a POSIX locale such as "C" (LANG=C) falls back to English instead of failing', async () => {
  await withApp({ navigatorLanguage: 'C' }, async ({ page }) => {
    assert.equal(await page.evaluate(() => navigator.language), 'C');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    const headers = await texts(page.locator('[data-testid="day"] h2 .day-title'));
    assert.equal(headers[0], 'Today');
  });
});

test('appointments that switch presence are marked with the profile', async () => {
  await withApp({}, async ({ page }) => {
    const marker = page.locator('[data-testid="item"][data-id="weekly-sync"] [data-testid="presence-marker"]');
    assert.equal(await marker.textContent(), 'In a meeting');
    assert.equal(await marker.getAttribute('title'), 'Presence switches to: In a meeting');
    assert.equal(await page.locator('[data-testid="item"][data-id="standup"] [data-testid="presence-marker"]').count(), 0);
  });
});

test("Don't switch for this one: the detail pane skips the appointment, the agenda shows the badge, and it is taken back", async () => {
  await withApp({}, async ({ page }) => {
    const row = page.locator('[data-testid="item"][data-id="weekly-sync"]');
    assert.equal(await row.locator('[data-testid="skipped-marker"]').count(), 0);
    await row.locator('.item-main').click();
    const pane = page.getByTestId('detail');
    // Part of a series: both choices; the standup (no presence profile) offers neither.
    assert.equal(await pane.getByTestId('skip-series').textContent(), "Don't switch for the series");
    await pane.getByTestId('skip').click();
    await pane.getByTestId('unskip').waitFor();
    assert.deepEqual((await calls(page, 'presence_skip')).map((c) => c.args), [{ id: 'weekly-sync', series: false, skip: true }]);
    const badge = row.locator('[data-testid="skipped-marker"]');
    assert.equal(await badge.textContent(), 'No switching');
    assert.equal(await badge.getAttribute('title'), 'Presence does not switch to In a meeting for this one');
    assert.equal(await row.locator('[data-testid="presence-marker"]').count(), 0);
    assert.equal(await pane.locator('[data-testid="skipped-marker"]').count(), 1);
    await pane.getByTestId('unskip').click();
    await pane.getByTestId('skip').waitFor();
    assert.equal(await row.locator('[data-testid="skipped-marker"]').count(), 0);
    assert.equal(await row.locator('[data-testid="presence-marker"]').textContent(), 'In a meeting');
    await page.getByTestId('detail-close').click();
    await page.locator('[data-testid="item"][data-id="standup"] .item-main').click();
    assert.equal(await page.getByTestId('detail').getByTestId('skip').count(), 0);
  });
});

test('two or more accounts: each appointment names its account, in the row and the detail pane; one account shows none', async () => {
  // One account: the agenda as it always was.
  await withApp({}, async ({ page }) => {
    assert.equal(await page.getByTestId('item-account').count(), 0);
  });
  // Merged across accounts: the engine puts the account on every item.
  const merged = agenda();
  for (const day of merged.days) {
    for (const it of day.items) it.account = it.id === 'vendor-demo' ? 'customer' : 'default';
  }
  await withApp({ scenario: { agenda: merged, status: status() } }, async ({ page }) => {
    const row = page.locator('[data-testid="item"][data-id="vendor-demo"]');
    assert.equal((await row.getByTestId('item-account').textContent()).trim(), 'Account: customer');
    assert.equal(
      (await page.locator('[data-testid="item"][data-id="weekly-sync"]').getByTestId('item-account').textContent()).trim(),
      'Account: default',
    );
    await page.locator('[data-testid="item"][data-id="weekly-sync"] .item-main').click();
    const pane = page.getByTestId('detail');
    assert.equal(await pane.getByTestId('detail-account').textContent(), 'default');
    await pane.getByTestId('join').click();
    // Join names the appointment; Rust finds its account by the id.
    assert.deepEqual(await calls(page, 'join_meeting'), [{ cmd: 'join_meeting', args: { id: 'weekly-sync' } }]);
  });
  await withApp({ locale: 'de-DE', scenario: { agenda: merged, status: status() } }, async ({ page }) => {
    const row = page.locator('[data-testid="item"][data-id="vendor-demo"]');
    assert.equal((await row.getByTestId('item-account').textContent()).trim(), 'Konto: customer');
  });
});

test('error state shows the message and Retry re-invokes agenda', async () => {
  const scenario = {
    ...defaultScenario(),
    agendaErrors: [{ code: 'store_corrupt', message: 'database disk image is malformed' }],
  };
  await withApp({ scenario, wait: '[data-testid="error"]' }, async ({ page }) => {
    const err = page.getByTestId('error');
    assert.equal(await err.getAttribute('role'), 'alert');
    assert.match(await err.textContent(), /The local calendar store is damaged/);
    assert.match(await err.textContent(), /database disk image is malformed/);
    assert.equal(await page.getByTestId('agenda').count(), 0);
    assert.equal((await calls(page, 'agenda')).length, 1);
    await page.getByTestId('retry').click();
    await page.getByTestId('agenda').waitFor();
    assert.equal((await calls(page, 'agenda')).length, 2);
    assert.equal(await page.getByTestId('error').count(), 0);
  });
});

test('loading state is shown while the agenda loads', async () => {
  const scenario = { ...defaultScenario(), holdAgenda: true };
  await withApp({ scenario, wait: '[data-testid="loading"]' }, async ({ page }) => {
    assert.equal(await page.locator('#content').getAttribute('aria-busy'), 'true');
    await page.evaluate(() => window.__presently.release());
    await page.getByTestId('agenda').waitFor();
    assert.equal(await page.getByTestId('loading').count(), 0);
    assert.equal(await page.locator('#content').getAttribute('aria-busy'), 'false');
  });
});

test('boot data from the window: the agenda is drawn before any IPC answers, then asked again in the background', async () => {
  // The IPC agenda is held: whatever is drawn comes from the boot data.
  const scenario = { ...defaultScenario(), holdAgenda: true };
  const stale = agenda();
  const removed = stale.days[0].items.pop();
  const boot = { days: DATES.length, status: status(), agenda: stale };
  await withApp({ scenario, boot }, async ({ page }) => {
    assert.equal(await page.getByTestId('loading').count(), 0, 'no loading state');
    const today = page.locator('[data-testid="day"][data-date="2026-11-24"]');
    assert.equal(await today.getByText(removed.subject).count(), 0);
    // The page consumed the boot data.
    assert.equal(await page.evaluate(() => '__PRESENTLY_BOOT__' in window), false);
    // After the first frame it asks again (same window of days) and shows what changed.
    await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'agenda'));
    const asked = await calls(page, 'agenda');
    assert.deepEqual(asked[0].args, { from: null, days: DATES.length });
    await page.evaluate(() => window.__presently.release());
    await today.getByText(removed.subject).waitFor();
  });
});

test('boot data: the first frame draws the days that fill the window; the others follow once it is painted', async () => {
  // Before the page's scripts: what the first agenda put into the page held, and whether its
  // last day reached the window's bottom.
  const init = () => {
    new MutationObserver((_, observer) => {
      const agenda = document.querySelector('[data-testid="agenda"]');
      if (!agenda) return;
      observer.disconnect();
      const days = agenda.querySelectorAll('[data-testid="day"]');
      window.__firstAgenda = {
        days: [...days].map((d) => d.dataset.date),
        bottom: days[days.length - 1].getBoundingClientRect().bottom,
        height: window.innerHeight,
      };
    }).observe(document, { childList: true, subtree: true });
  };
  const full = agenda();
  const boot = { days: DATES.length, status: status(), agenda: full };
  await withApp({ boot, init, viewport: { width: 420, height: 400 } }, async ({ page }) => {
    const first = await page.evaluate(() => window.__firstAgenda);
    assert.ok(first.days.length >= 1 && first.days.length < DATES.length, `first frame: ${first.days.length} of ${DATES.length} days`);
    assert.deepEqual(first.days, DATES.slice(0, first.days.length), 'the first days, in order');
    assert.ok(first.bottom >= first.height, `the drawn days fill the window (${first.bottom} of ${first.height} px)`);
    // Then every day, in order, each item once.
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="day"]').length === n, DATES.length);
    assert.deepEqual(await page.locator('[data-testid="day"]').evaluateAll((els) => els.map((e) => e.dataset.date)), DATES);
    const items = full.days.reduce((n, d) => n + d.items.length, 0);
    assert.equal(await page.getByTestId('item').count(), items);
  });
  // Without boot data (a language switch, a reload) the agenda is drawn whole at once.
  await withApp({ init, viewport: { width: 420, height: 400 } }, async ({ page }) => {
    const first = await page.evaluate(() => window.__firstAgenda);
    assert.equal(first.days.length, DATES.length);
  });
});

test('boot data: a refetch that brings the same agenda leaves the drawn one alone; a changed one is redrawn', async () => {
  // The fixture numbers its items anew with each call: the same object, answered later.
  const scenario = { ...defaultScenario(), holdAgenda: true };
  const boot = { days: DATES.length, status: status(), agenda: { ...scenario.agenda, generated_at: '2026-11-24T07:00:00Z' } };
  await withApp({ scenario, boot }, async ({ page }) => {
    assert.notEqual(boot.agenda.generated_at, scenario.agenda.generated_at);
    const first = page.locator('[data-testid="item"]').first();
    await first.evaluate((el) => {
      el.dataset.probe = 'boot';
    });
    assert.equal(await page.locator('[data-probe="boot"]').count(), 1);
    await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'agenda'));
    await page.evaluate(() => window.__presently.release());
    // Let the answer (same days, another generated_at) land.
    await page.evaluate(() => new Promise((r) => setTimeout(r, 100)));
    assert.equal(await page.locator('[data-probe="boot"]').count(), 1, 'the boot-drawn items stay in place');
    // A sync that changed something: the next answer differs and the agenda is rebuilt.
    await page.evaluate(() => {
      window.__presently.scenario.holdAgenda = false;
      window.__presently.scenario.agenda.days[0].items.pop();
    });
    await page.evaluate(() => window.__presently.emit('agenda-changed'));
    await page.waitForFunction(() => document.querySelectorAll('[data-probe="boot"]').length === 0);
  });
});

test('boot data that is not signed in or malformed is ignored: the usual loading path', async () => {
  for (const boot of [
    { days: DATES.length, status: signedOut(), agenda: agenda() },
    { days: 'seven', status: status(), agenda: agenda() },
    { days: DATES.length, status: status(), agenda: { days: null } },
  ]) {
    const scenario = { ...defaultScenario(), holdAgenda: true };
    await withApp({ scenario, boot, wait: '[data-testid="loading"]' }, async ({ page }) => {
      await page.evaluate(() => window.__presently.release());
      await page.getByTestId('agenda').waitFor();
    });
  }
});

test('signed out: the consent screen, from status and from a not_signed_in error; demo keeps the plain state', async () => {
  await withApp(
    { scenario: { agenda: agenda(), status: signedOut() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      assert.equal(await page.getByTestId('agenda').count(), 0);
      assert.equal(await page.getByTestId('item').count(), 0);
      assert.equal(await page.getByTestId('sync-now').isVisible(), false);
    },
  );
  await withApp(
    {
      scenario: { status: signedOut(), agendaErrors: [{ code: 'not_signed_in', message: 'no account' }] },
      wait: '[data-testid="sign-in-screen"]',
    },
    async ({ page }) => {
      assert.equal(await page.getByTestId('error').count(), 0);
      assert.equal(await page.getByTestId('sync-now').isVisible(), false);
    },
  );
  await withApp(
    { scenario: { agenda: agenda(), status: signedOut({ demo: true }) }, wait: '[data-testid="signed-out"]' },
    async ({ page }) => {
      assert.match(await page.getByTestId('signed-out').textContent(), /Not signed in/);
      assert.equal(await page.getByTestId('sign-in-screen').count(), 0);
    },
  );
});

test('consent screen: Sign in with Microsoft, Use a code instead, and the app registration used', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-details"]' },
    async ({ page }) => {
      const screen = page.getByTestId('sign-in-screen');
      assert.equal(await screen.getByRole('heading', { level: 2 }).textContent(), 'Sign in to Microsoft 365');
      assert.equal(await page.getByRole('button', { name: 'Sign in with Microsoft' }).count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Use a code instead' }).count(), 1);
      assert.equal(await page.getByRole('region', { name: 'Sign in to Microsoft 365' }).count(), 1);
      const details = page.getByTestId('sign-in-details');
      assert.equal(await details.getAttribute('aria-label'), 'Sign-in details');
      assert.match(await details.textContent(), /Organization\s*Any work or school account \(organizations\)/);
      assert.equal(await page.getByTestId('client-id').textContent(), '7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b');
      assert.equal(await page.getByTestId('authority').count(), 0, 'the default authority is not worth a line');
      assert.equal(await page.getByTestId('not-configured').count(), 0);
      assert.deepEqual((await calls(page, 'sign_in_info')).length, 1);
      // Keyboard: past the header's controls, Tab reaches the primary button first, then the code alternative.
      for (let i = 0; i < 5; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(() => document.getElementById('content').contains(document.activeElement))) break;
      }
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'sign-in');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none', 'focus is visible');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'sign-in-device');
    },
  );
  // German, a tenant of its own and a non-default authority.
  const signInInfo = { client_id: 'abc-123', tenant: 'contoso.com', authority_host: 'http://127.0.0.1:4321', configured: true };
  await withApp(
    { locale: 'de-DE', scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo }, wait: '[data-testid="sign-in-details"]' },
    async ({ page }) => {
      assert.equal(await page.getByRole('button', { name: 'Mit Microsoft anmelden' }).count(), 1);
      assert.equal(await page.getByRole('button', { name: 'Stattdessen einen Code verwenden' }).count(), 1);
      assert.match(await page.getByTestId('sign-in-screen').textContent(), /Bei Microsoft 365 anmelden/);
      assert.equal(await page.getByTestId('tenant').textContent(), 'contoso.com');
      assert.equal(await page.getByTestId('authority').textContent(), 'http://127.0.0.1:4321');
      assert.match(await page.getByTestId('sign-in-details').textContent(), /Anwendungs-ID \(Client-ID\)\s*abc-123/);
    },
  );
  // The organization's policy names no usable application: said plainly, the buttons are off, no form.
  const notConfigured = unconfigured({ source: 'policy' });
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: notConfigured }, wait: '[data-testid="not-configured"]' },
    async ({ page }) => {
      assert.equal(await page.getByTestId('not-configured').textContent(), 'No application is configured; ask your administrator.');
      assert.equal(await page.getByTestId('sign-in').isDisabled(), true);
      assert.equal(await page.getByTestId('sign-in-device').isDisabled(), true);
      assert.equal(await page.getByTestId('client-id').count(), 0);
      assert.equal(await page.getByTestId('registration-form').count(), 0);
    },
  );
});

test('Sign in invokes sign_in, waits for the browser, and Cancel invokes cancel_sign_in', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      const waiting = page.getByTestId('sign-in-waiting');
      await waiting.waitFor();
      assert.equal((await calls(page, 'sign_in')).length, 1);
      assert.match(await waiting.textContent(), /Continue in your browser/);
      assert.match(await waiting.textContent(), /Waiting for the sign-in…/);
      // The URL is text to copy, never a link the page opens.
      assert.match(await page.getByTestId('sign-in-url').textContent(), /^https:\/\/login\.microsoftonline\.com\/organizations\/oauth2/);
      assert.equal(await page.locator('#app a').count(), 0);
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'sign-in-cancel');
      await page.keyboard.press('Enter');
      await page.getByTestId('sign-in-screen').waitFor();
      assert.equal((await calls(page, 'cancel_sign_in')).length, 1);
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'sign-in');
      // The shell confirms the cancel; nothing changes.
      await page.evaluate(() => window.__presently.emit('sign-in-progress', { phase: 'cancelled' }));
      assert.equal(await page.getByTestId('sign-in-screen').count(), 1);
    },
  );
  // A browser that could not be opened: the URL is shown at once.
  await withApp(
    {
      scenario: { agenda: emptyAgenda(), status: signedOut(), signIn: { url: 'http://127.0.0.1:9/authorize?state=x', browser_opened: false } },
      wait: '[data-testid="sign-in-screen"]',
    },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      assert.match(await page.getByRole('alert').textContent(), /could not open your browser/);
      assert.equal(await page.getByTestId('sign-in-url').isVisible(), true);
      assert.equal(await page.getByTestId('sign-in-url').textContent(), 'http://127.0.0.1:9/authorize?state=x');
    },
  );
});

test('device code: the code large and copyable, the verification URL as text', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page, context }) => {
      await page.getByTestId('sign-in-device').click();
      const view = page.getByTestId('device-code');
      await view.waitFor();
      assert.equal((await calls(page, 'sign_in_device')).length, 1);
      assert.equal(await page.getByTestId('user-code').textContent(), 'F7KQ-9XRT');
      assert.equal(await page.getByTestId('verification-uri').textContent(), 'https://microsoft.com/devicelogin');
      assert.equal(await page.locator('#app a').count(), 0, 'no links: the page never opens URLs');
      assert.match(await page.getByTestId('code-expiry').textContent(), /valid until 10:03\sAM/);
      const size = await page.getByTestId('user-code').evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
      assert.ok(size >= 24, `the code is large (${size}px)`);
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'copy-code');
      await context.grantPermissions(['clipboard-read', 'clipboard-write']);
      await page.getByTestId('copy-code').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="copy-code"]').textContent.includes('Copied'));
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'F7KQ-9XRT');
      await page.getByTestId('sign-in-cancel').click();
      await page.getByTestId('sign-in-screen').waitFor();
      assert.equal((await calls(page, 'cancel_sign_in')).length, 1);
    },
  );
});

test('errors are shown with their message, and Try again repeats the sign-in', async () => {
  const consent = {
    code: 'consent_required',
    message:
      'AADSTS65001: your organization requires an administrator to approve Presently before you can use it. Send your administrator this link to grant consent: https://login.microsoftonline.com/contoso.com/adminconsent?client_id=cid',
  };
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: consent }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      const err = page.getByTestId('sign-in-error');
      await err.waitFor();
      assert.equal(await err.getAttribute('role'), 'alert');
      assert.match(await err.textContent(), /Your administrator must approve Presently/);
      assert.equal(await page.getByTestId('sign-in-error-message').textContent(), consent.message);
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'sign-in-retry');
      await page.evaluate(() => {
        delete window.__presently.scenario.signInError;
      });
      await page.getByTestId('sign-in-retry').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      assert.equal((await calls(page, 'sign_in')).length, 2);
      // The browser flow fails later: the event carries the error.
      await page.evaluate(() =>
        window.__presently.emit('sign-in-progress', {
          phase: 'failed',
          error: { code: 'login_timeout', message: 'sign-in timed out: the browser did not come back within 300 seconds' },
        }),
      );
      await err.waitFor();
      assert.match(await err.textContent(), /Sign-in timed out/);
      assert.match(await err.textContent(), /did not come back within 300 seconds/);
    },
  );
  // A device-code failure retries the device flow.
  await withApp(
    {
      scenario: { agenda: emptyAgenda(), status: signedOut(), deviceCodeError: { code: 'network', message: 'cannot reach the sign-in service: refused' } },
      wait: '[data-testid="sign-in-screen"]',
    },
    async ({ page }) => {
      await page.getByTestId('sign-in-device').click();
      await page.getByTestId('sign-in-error').waitFor();
      assert.match(await page.getByTestId('sign-in-error').textContent(), /Could not reach Microsoft 365.*refused/s);
      await page.getByTestId('sign-in-retry').click();
      await page.waitForFunction(() => window.__presently.calls.filter((c) => c.cmd === 'sign_in_device').length === 2);
      assert.equal((await calls(page, 'sign_in')).length, 0);
    },
  );
});

const fieldError = (page, id) => page.getByTestId(`${id}-error`);
const activeTestId = (page) => page.evaluate(() => document.activeElement?.dataset.testid ?? null);

test('first launch: the IDs are checked as they are typed; invalid ones never reach set_registration', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: unconfigured() }, wait: '[data-testid="registration-form"]' },
    async ({ page }) => {
      const form = page.getByTestId('registration-form');
      assert.match(await form.textContent(), /Connect Presently to your organization/);
      // No sign-in buttons and no "not configured" dead end: the form is the way on.
      assert.equal(await page.getByTestId('sign-in').count(), 0);
      assert.equal(await page.getByTestId('sign-in-device').count(), 0);
      assert.equal(await page.getByTestId('not-configured').count(), 0);
      const clientId = page.getByLabel('Application (client) ID');
      const tenant = page.getByLabel('Directory (tenant) ID');
      assert.equal(await clientId.count(), 1);
      assert.equal(await tenant.count(), 1);
      assert.equal(await fieldError(page, 'reg-client-id').isVisible(), false, 'nothing to complain about yet');

      // Half a GUID is fine while typing, a problem once the field is left.
      const err = fieldError(page, 'reg-client-id');
      await clientId.pressSequentially('7e1c4b6a-2f3d');
      assert.equal(await err.isVisible(), false);
      assert.equal(await clientId.getAttribute('aria-invalid'), 'false');
      await page.keyboard.press('Tab');
      assert.match(await err.textContent(), /not complete/);

      // Not hexadecimal: said at once, while typing.
      await clientId.fill('');
      await clientId.pressSequentially('not-a-guid');
      assert.equal(await err.isVisible(), true);
      assert.match(await err.textContent(), /not an application ID: it is a GUID/);
      assert.equal(await clientId.getAttribute('aria-invalid'), 'true');
      assert.match(await clientId.getAttribute('aria-describedby'), /reg-client-id-error/);
      await tenant.fill('contoso.onmicrosoft.com');
      await page.getByTestId('reg-save').click();
      assert.equal(await activeTestId(page), 'reg-client-id', 'focus goes to the field to fix');
      assert.equal((await calls(page, 'set_registration')).length, 0);
      await clientId.fill(CLIENT_ID);
      assert.equal(await err.isVisible(), false);
      assert.equal(await clientId.getAttribute('aria-invalid'), 'false');

      // The tenant: a GUID, a domain, organizations or common.
      const tErr = fieldError(page, 'reg-tenant');
      for (const bad of ['contoso onmicrosoft', 'https://contoso.com', 'contoso_it.com']) {
        await tenant.fill(bad);
        assert.equal(await tErr.isVisible(), true, bad);
        assert.match(await tErr.textContent(), /Enter a GUID, a domain name such as contoso\.onmicrosoft\.com/);
      }
      await tenant.fill('contoso');
      await tenant.blur();
      assert.equal(await tErr.isVisible(), true, 'a bare word is neither a domain nor a keyword');
      for (const good of ['organizations', 'common', 'Contoso.com', '72f988bf-86f1-41af-91ab-2d7cd011db47', 'contoso.onmicrosoft.com']) {
        await tenant.fill(good);
        assert.equal(await tErr.isVisible(), false, good);
      }
      // Empty fields on submit.
      await tenant.fill('');
      await page.getByTestId('reg-save').click();
      assert.equal(await tErr.textContent(), 'Enter the directory (tenant) ID or your organization’s domain.');
      assert.equal(await activeTestId(page), 'reg-tenant');
      assert.equal((await calls(page, 'set_registration')).length, 0);

      // Admin guide: Rust opens it.
      await page.getByRole('button', { name: 'Admin guide' }).click();
      await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'open_admin_guide'));
      assert.equal(await page.locator('#app a').count(), 0, 'no links: the page never opens URLs');
    },
  );
});

test('first launch: valid IDs go to set_registration, then the sign-in buttons appear', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: unconfigured() }, wait: '[data-testid="registration-form"]' },
    async ({ page }) => {
      await page.getByLabel('Application (client) ID').fill(`  ${CLIENT_ID.toUpperCase()} `);
      await page.getByLabel('Directory (tenant) ID').fill('Contoso.onmicrosoft.com');
      await page.keyboard.press('Enter'); // submits the form
      await page.getByTestId('sign-in').waitFor();
      assert.deepEqual(await calls(page, 'set_registration'), [
        { cmd: 'set_registration', args: { clientId: CLIENT_ID, tenant: 'contoso.onmicrosoft.com' } },
      ]);
      assert.equal(await page.getByTestId('registration-form').count(), 0);
      assert.equal(await page.getByTestId('sign-in').isEnabled(), true);
      assert.equal(await page.getByTestId('sign-in-device').isEnabled(), true);
      assert.equal(await activeTestId(page), 'sign-in');
      assert.equal(await page.getByTestId('client-id').textContent(), CLIENT_ID);
      assert.equal(await page.getByTestId('tenant').textContent(), 'contoso.onmicrosoft.com');

      // The user's own registration can be changed again (Cancel keeps it).
      await page.getByTestId('change-registration').click();
      assert.equal(await page.getByLabel('Application (client) ID').inputValue(), CLIENT_ID);
      assert.equal(await activeTestId(page), 'reg-client-id');
      await page.getByTestId('reg-cancel').click();
      assert.equal(await page.getByTestId('registration-form').count(), 0);
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-waiting').waitFor();
    },
  );
  // Rust refuses: the message, and the form keeps what was typed.
  await withApp(
    {
      locale: 'de-DE',
      scenario: {
        agenda: emptyAgenda(),
        status: signedOut(),
        signInInfo: unconfigured(),
        registrationError: { code: 'invalid_settings', message: 'the configuration file could not be written: permission denied' },
      },
      wait: '[data-testid="registration-form"]',
    },
    async ({ page }) => {
      assert.match(await page.getByTestId('registration-form').textContent(), /Presently mit Ihrer Organisation verbinden/);
      await page.getByLabel('Anwendungs-ID (Client-ID)').fill(CLIENT_ID);
      await page.getByLabel('Verzeichnis-ID (Mandanten-ID)').fill('organizations');
      await page.getByRole('button', { name: 'Speichern und weiter' }).click();
      const err = page.getByTestId('reg-error');
      await err.waitFor();
      assert.equal(await err.getAttribute('role'), 'alert');
      assert.equal(await err.textContent(), 'the configuration file could not be written: permission denied');
      assert.equal(await page.getByLabel('Anwendungs-ID (Client-ID)').inputValue(), CLIENT_ID);
      assert.equal(await page.getByTestId('sign-in').count(), 0);
      assert.equal(await page.getByRole('button', { name: 'Anleitung für Administratoren' }).count(), 1);
      await page.getByLabel('Anwendungs-ID (Client-ID)').fill('xyz');
      assert.match(await page.getByTestId('reg-client-id-error').textContent(), /keine Anwendungs-ID/);
    },
  );
});

test('an application provided by the organization: the note, no form, no edit; a policy error is a warning', async () => {
  const policy = info({ tenant: 'contoso.com', source: 'policy', application_name: 'Presently for Contoso' });
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: policy }, wait: '[data-testid="policy-note"]' },
    async ({ page }) => {
      assert.equal(await page.getByTestId('policy-note').textContent(), 'Provided by your organization: Presently for Contoso');
      assert.match(await page.getByTestId('sign-in-details').textContent(), /Application\s*Provided by your organization/);
      assert.equal(await page.getByTestId('registration-form').count(), 0);
      assert.equal(await page.getByTestId('change-registration').count(), 0);
      assert.equal(await page.getByTestId('policy-error').count(), 0);
      assert.equal(await page.getByTestId('sign-in').isEnabled(), true);
    },
  );
  await withApp(
    { locale: 'de-DE', scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: policy }, wait: '[data-testid="policy-note"]' },
    async ({ page }) => {
      assert.equal(await page.getByTestId('policy-note').textContent(), 'Bereitgestellt von Ihrer Organisation: Presently for Contoso');
    },
  );
  // A policy file that could not be used: shown as a warning; sign-in still works.
  const policyError = '/etc/presently/policy.toml, line 7: unknown key `sync.intervall`';
  await withApp(
    {
      scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: info({ source: 'user', policy_error: policyError }) },
      wait: '[data-testid="policy-error"]',
    },
    async ({ page }) => {
      const warn = page.getByTestId('policy-error');
      assert.match(await warn.textContent(), /Your organization’s policy could not be used:/);
      assert.match(await warn.textContent(), /policy\.toml, line 7: unknown key `sync\.intervall`/);
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      assert.equal((await calls(page, 'sign_in')).length, 1);
    },
  );
  // ...also above the first-launch form.
  await withApp(
    {
      scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: unconfigured({ policy_error: policyError }) },
      wait: '[data-testid="registration-form"]',
    },
    async ({ page }) => {
      assert.match(await page.getByTestId('policy-error').textContent(), /line 7/);
    },
  );
});

test('sign-in diagnostics: AADSTS90094 shows the admin-consent URL in a field to copy', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: consentError() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page, context }) => {
      await page.getByTestId('sign-in').click();
      const err = page.getByTestId('sign-in-error');
      await err.waitFor();
      assert.equal(await err.getAttribute('role'), 'alert');
      assert.equal(await page.getByTestId('sign-in-error-title').textContent(), 'An administrator has to approve Presently');
      assert.match(await page.getByTestId('sign-in-next-step').textContent(), /Send the link below to your administrator/);
      assert.equal(await page.getByTestId('aadsts').textContent(), 'AADSTS90094');
      const field = page.getByLabel('Send this link to your administrator');
      assert.equal(await field.inputValue(), ADMIN_CONSENT_URL);
      assert.equal(await field.getAttribute('readonly'), '');
      assert.equal(await field.evaluate((e) => getComputedStyle(e).userSelect), 'text');
      assert.equal(await page.getByTestId('redirect-uri').count(), 0);
      assert.equal(await page.getByTestId('sign-in-error-message').count(), 0, 'the help replaces the raw message');
      assert.equal(await page.locator('#app a').count(), 0);
      assert.equal(await activeTestId(page), 'sign-in-retry');

      await context.grantPermissions(['clipboard-read', 'clipboard-write']);
      await page.getByTestId('copy-admin-consent-url').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="copy-admin-consent-url"]').textContent.includes('Copied'));
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), ADMIN_CONSENT_URL);
      // A second click while it says "Copied" still comes back to "Copy".
      await page.getByTestId('copy-admin-consent-url').click();
      let label = '';
      for (let i = 0; i < 20 && label !== 'Copy'; i++) {
        await page.clock.runFor(500);
        label = (await page.getByTestId('copy-admin-consent-url').textContent()).trim();
      }
      assert.equal(label, 'Copy');
      await page.clock.runFor(3000);
      assert.equal((await page.getByTestId('copy-admin-consent-url').textContent()).trim(), 'Copy', 'and stays so');

      // Without the clipboard API the URL is selected, ready for Ctrl+C.
      await page.evaluate(() => {
        navigator.clipboard.writeText = () => Promise.reject(new Error('denied'));
      });
      await page.getByTestId('copy-admin-consent-url').click();
      await page.waitForFunction(() => {
        const f = document.querySelector('[data-testid="admin-consent-url"]');
        return document.activeElement === f && f.selectionEnd - f.selectionStart === f.value.length;
      });

      await page.getByTestId('admin-guide').click();
      await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'open_admin_guide'));

      // Retry repeats the sign-in.
      await page.evaluate(() => {
        delete window.__presently.scenario.signInError;
      });
      await page.getByTestId('sign-in-retry').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      assert.equal((await calls(page, 'sign_in')).length, 2);
    },
  );
  // German labels.
  await withApp(
    {
      locale: 'de-DE',
      scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: consentError() },
      wait: '[data-testid="sign-in-screen"]',
    },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-error').waitFor();
      assert.equal(await page.getByLabel('Senden Sie diesen Link an Ihren Administrator').inputValue(), ADMIN_CONSENT_URL);
      assert.match(await page.getByTestId('sign-in-error').textContent(), /Fehlercode: AADSTS90094/);
      assert.equal(await page.getByRole('button', { name: 'Erneut versuchen' }).count(), 1);
    },
  );
});

test('sign-in diagnostics: AADSTS50011 (from sign-in-progress) shows the redirect URI; without help, the message', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      await page.evaluate((error) => window.__presently.emit('sign-in-progress', { phase: 'failed', error }), redirectError());
      await page.getByTestId('sign-in-error').waitFor();
      assert.equal(await page.getByTestId('sign-in-error-title').textContent(), 'The app registration lacks Presently’s redirect URI');
      assert.equal(await page.getByTestId('aadsts').textContent(), 'AADSTS50011');
      const field = page.getByLabel('Add this redirect URI to the app registration');
      assert.equal(await field.inputValue(), 'http://localhost');
      assert.equal(await page.getByTestId('admin-consent-url').count(), 0);
      assert.match(await page.getByTestId('sign-in-error-details').textContent(), /redirect URI is not registered/);
      assert.equal(await page.getByTestId('sign-in-retry').count(), 1);

      // A failure the engine has no help for: its message, as before.
      await page.getByTestId('sign-in-retry').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      await page.evaluate(() =>
        window.__presently.emit('sign-in-progress', {
          phase: 'failed',
          error: { code: 'auth_failed', message: 'the sign-in service answered something Presently cannot use: no token' },
        }),
      );
      await page.getByTestId('sign-in-error-message').waitFor();
      assert.equal(
        await page.getByTestId('sign-in-error-message').textContent(),
        'the sign-in service answered something Presently cannot use: no token',
      );
      assert.match(await page.getByTestId('sign-in-error').textContent(), /Sign-in failed/);
      assert.equal(await page.getByTestId('redirect-uri').count(), 0);
      assert.equal(await page.getByTestId('aadsts').count(), 0);
      assert.equal(await page.getByTestId('sign-in-retry').count(), 1);
    },
  );
  await withApp(
    { locale: 'de-DE', scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: redirectError() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-error').waitFor();
      assert.equal(await page.getByLabel('Fügen Sie diese Umleitungs-URI der App-Registrierung hinzu').inputValue(), 'http://localhost');
    },
  );
});

test('sign-in-progress signed_in: first sync in progress, then the agenda loads', async () => {
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      await page.evaluate(() => window.__presently.emit('sign-in-progress', { phase: 'signed_in', upn: 'dana@contoso.com', display_name: 'Dana Fischer' }));
      const first = page.getByTestId('first-sync');
      await first.waitFor();
      assert.match(await first.textContent(), /First sync in progress/);
      assert.equal(await page.getByTestId('signed-in-as').textContent(), 'Signed in as Dana Fischer');
      // The shell's status follows; the sync has not finished yet.
      await page.evaluate((st) => window.__presently.emit('status-changed', st), status({ account: { demo: false }, sync: { state: 'syncing', last_synced_at: null } }));
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.includes('Syncing…'));
      assert.equal(await page.getByTestId('first-sync').count(), 1);
      // The first sync stored the calendar.
      await page.evaluate((a) => {
        window.__presently.scenario.agenda = a;
        return window.__presently.emit('agenda-changed');
      }, agenda());
      await page.getByTestId('agenda').waitFor();
      assert.ok((await page.getByTestId('item').count()) > 5);
      assert.equal(await page.getByTestId('first-sync').count(), 0);
      assert.equal(await page.getByTestId('sync-now').isVisible(), true);
    },
  );
  // A first sync that fails says so and offers to try again.
  await withApp(
    { scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.evaluate(() => window.__presently.emit('sign-in-progress', { phase: 'signed_in', upn: 'dana@contoso.com', display_name: null }));
      await page.getByTestId('first-sync').waitFor();
      await page.evaluate(
        (st) => window.__presently.emit('status-changed', st),
        status({ account: { demo: false, display_name: null }, sync: { state: 'error', last_synced_at: null, message: 'the server answered 503' } }),
      );
      const err = page.getByTestId('first-sync-error');
      await err.waitFor();
      assert.match(await err.textContent(), /the server answered 503/);
      await page.getByTestId('first-sync-retry').click();
      await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'sync_now'));
      // A sync that completes (even with nothing in it) ends the first-sync state.
      await page.evaluate(
        (st) => window.__presently.emit('status-changed', st),
        status({ account: { demo: false, display_name: null }, sync: { state: 'idle' } }),
      );
      await page.getByTestId('agenda').waitFor();
      assert.equal(await page.getByTestId('first-sync').count(), 0);
    },
  );
});

test('signing out (status-changed) returns to the consent screen', async () => {
  await withApp({ scenario: { agenda: agenda(), status: status({ account: { demo: false } }) } }, async ({ page }) => {
    await page.evaluate((st) => window.__presently.emit('status-changed', st), signedOut());
    await page.getByTestId('sign-in-screen').waitFor();
    assert.equal(await page.getByTestId('agenda').count(), 0);
    assert.ok((await calls(page, 'sign_in_info')).length >= 1);
  });
});

test('server strings are rendered as text, never as markup', async () => {
  const evil = '<img src=x onerror="window.__pwned=1;alert(1)">';
  const a = agenda();
  const target = a.days[0].items.find((i) => i.id === 'weekly-sync');
  target.subject = evil;
  target.location = '<b>Room</b>';
  target.body_preview = '<script>window.__pwned=2</script><i>hi</i>';
  target.organizer = '<svg onload=alert(2)>';
  await withApp({ scenario: { agenda: a, status: status() } }, async ({ page }) => {
    const item = page.locator('[data-testid="item"][data-id="weekly-sync"]');
    assert.equal(await item.getByTestId('item-subject').textContent(), evil);
    await item.locator('.item-main').click();
    await page.getByTestId('detail').waitFor();
    assert.equal(await page.getByTestId('body-preview').textContent(), target.body_preview);
    const counts = await page.evaluate(() => ({
      img: document.querySelectorAll('#app img').length,
      b: document.querySelectorAll('#app b, #app i').length,
      script: document.querySelectorAll('#app script').length,
      svgOnload: document.querySelectorAll('#app svg[onload]').length,
      pwned: window.__pwned ?? null,
    }));
    assert.deepEqual(counts, { img: 0, b: 0, script: 0, svgOnload: 0, pwned: null });
  });
});

test('keyboard: Tab reaches an item, Enter opens the detail pane, Escape returns', async () => {
  await withApp({}, async ({ page }) => {
    let id = null;
    for (let i = 0; i < 10 && !id; i++) {
      await page.keyboard.press('Tab');
      id = await page.evaluate(() => document.activeElement?.closest('[data-testid="item"]')?.dataset.id ?? null);
    }
    assert.ok(id, 'an agenda item is reachable with Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    const subject = await page.evaluate(
      () => document.activeElement.closest('[data-testid="item"]').querySelector('[data-testid="item-subject"]').textContent,
    );
    await page.keyboard.press('Enter');
    const detail = page.getByTestId('detail');
    await detail.waitFor();

    assert.equal(await detail.locator('h2').textContent(), subject);
    assert.ok(await page.evaluate(() => document.getElementById('content').inert), 'agenda is inert behind the pane');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.closest('[data-testid="item"]')?.dataset.id), id);
  });
});

test('detail pane shows the item and its actions invoke open_item / join_meeting', async () => {
  await withApp({}, async ({ page }) => {
    // Join straight from the list.
    await page.locator('[data-testid="item"][data-id="weekly-sync"] [data-testid="join"]').click();
    assert.deepEqual(await calls(page, 'join_meeting'), [{ cmd: 'join_meeting', args: { id: 'weekly-sync' } }]);

    await page.locator('[data-testid="item"][data-id="weekly-sync"] .item-main').click();
    const detail = page.getByTestId('detail');
    await detail.waitFor();
    const text = await detail.textContent();
    assert.match(text, /Weekly sync/);
    assert.match(text, /Dana Fischer/);
    assert.match(text, /Room 4\.12/);
    assert.match(text, /Tuesday, November 24/);
    assert.equal(
      await detail.getByTestId('body-preview').textContent(),
      'Agenda:\n1. Release status\n2. Open issues\n\nPlease add topics to the Loop page.',
    );
    await detail.getByTestId('join').click();
    await detail.getByTestId('open').click();
    assert.deepEqual(await calls(page, 'join_meeting'), [
      { cmd: 'join_meeting', args: { id: 'weekly-sync' } },
      { cmd: 'join_meeting', args: { id: 'weekly-sync' } },
    ]);
    assert.deepEqual(await calls(page, 'open_item'), [{ cmd: 'open_item', args: { id: 'weekly-sync' } }]);
    await detail.getByTestId('detail-close').click();
    await detail.waitFor({ state: 'hidden' });

    // An item without a meeting link has no Join button.
    await page.locator('[data-testid="item"][data-id="lunch"] .item-main').click();
    await detail.waitFor();
    assert.equal(await detail.getByTestId('join').count(), 0);
    assert.match(await detail.textContent(), /Private/);
  });
});

const openDetailOf = async (page, id) => {
  await page.locator(`[data-testid="item"][data-id="${id}"] .item-main`).first().click();
  const detail = page.getByTestId('detail');
  await detail.waitFor();
  return detail;
};

test('detail pane: the online meeting\'s service, meeting ID and passcode (English, German)', async () => {
  const a = agenda();
  // A Zoom link found in the invitation's body, with its meeting ID and passcode.
  Object.assign(a.days[0].items.find((i) => i.id === 'planning'), {
    join_url: 'https://us02web.zoom.us/j/81234567890?pwd=abc',
    online_provider: 'zoom',
    meeting_id: '812 3456 7890',
    meeting_passcode: '424242',
  });
  // A Teams meeting with an ID but no passcode.
  Object.assign(a.days[0].items.find((i) => i.id === 'standup'), { meeting_id: '312 456 789 012' });
  const scenario = { agenda: a, status: status() };
  await withApp({ scenario }, async ({ page }) => {
    let detail = await openDetailOf(page, 'planning');
    const row = detail.getByTestId('meeting-row');
    assert.equal(await detail.getByTestId('meeting-provider').textContent(), 'Zoom');
    assert.equal(await detail.getByTestId('meeting-id').textContent(), '812 3456 7890');
    assert.equal(await detail.getByTestId('meeting-passcode').textContent(), '424242');
    assert.match(await row.textContent(), /Zoom\s*Meeting ID: 812 3456 7890\s*Passcode: 424242/);
    // Join joins what the engine found.
    await detail.getByTestId('join').click();
    assert.deepEqual(await calls(page, 'join_meeting'), [{ cmd: 'join_meeting', args: { id: 'planning' } }]);
    await detail.getByTestId('detail-close').click();

    detail = await openDetailOf(page, 'standup');
    assert.equal(await detail.getByTestId('meeting-provider').textContent(), 'Microsoft Teams');
    assert.equal(await detail.getByTestId('meeting-id').textContent(), '312 456 789 012');
    assert.equal(await detail.getByTestId('meeting-passcode').count(), 0);
    await detail.getByTestId('detail-close').click();

    // No online meeting: no row.
    detail = await openDetailOf(page, 'lunch');
    assert.equal(await detail.getByTestId('meeting-row').count(), 0);
  });
  await withApp({ locale: 'de-DE', scenario }, async ({ page }) => {
    const detail = await openDetailOf(page, 'planning');
    assert.match(
      await detail.getByTestId('meeting-row').textContent(),
      /Zoom\s*Besprechungs-ID: 812 3456 7890\s*Kenncode: 424242/,
    );
  });
});

test('detail pane: the attendee count next to the organizer (singular, plural, absent; German)', async () => {
  const a = agenda();
  // An appointment without an organizer line still shows its count.
  Object.assign(a.days[3].items.find((i) => i.id === 'team-lunch'), { organizer: null, organizer_email: null, attendees: 1200 });
  await withApp({ scenario: { agenda: a, status: status() } }, async ({ page }) => {
    let detail = await openDetailOf(page, 'weekly-sync');
    assert.equal(await detail.getByTestId('attendees').textContent(), '12 attendees');
    // In the organizer's row.
    assert.equal(await detail.locator('.organizer + [data-testid="attendees"]').count(), 1);
    await detail.getByTestId('detail-close').click();
    detail = await openDetailOf(page, 'planning');
    assert.equal(await detail.getByTestId('attendees').textContent(), '1 attendee');
    await detail.getByTestId('detail-close').click();
    for (const id of ['standup', 'customer-call', 'lunch']) {
      // absent, null, 0
      detail = await openDetailOf(page, id);
      assert.equal(await detail.getByTestId('attendees').count(), 0, id);
      await detail.getByTestId('detail-close').click();
    }
    detail = await openDetailOf(page, 'team-lunch');
    assert.equal(await detail.getByTestId('attendees').textContent(), '1,200 attendees');
  });
  await withApp({ locale: 'de-DE' }, async ({ page }) => {
    let detail = await openDetailOf(page, 'weekly-sync');
    assert.equal(await detail.getByTestId('attendees').textContent(), '12 Teilnehmende');
    await detail.getByTestId('detail-close').click();
    detail = await openDetailOf(page, 'planning');
    assert.equal(await detail.getByTestId('attendees').textContent(), '1 teilnehmende Person');
    await detail.getByTestId('detail-close').click();
    detail = await openDetailOf(page, 'standup');
    assert.equal(await detail.getByTestId('attendees').count(), 0);
  });
});

test('detail pane: Copy join link invokes copy_join_link and says Copied; an error shows its message', async () => {
  await withApp({}, async ({ page }) => {
    const detail = await openDetailOf(page, 'weekly-sync');
    const copy = detail.getByRole('button', { name: 'Copy join link' });
    assert.equal(await copy.count(), 1);
    // Beside Join meeting.
    assert.deepEqual(await texts(detail.locator('.actions button')), ['Join meeting', 'Copy join link', 'Open in Outlook']);
    const live = detail.getByTestId('copy-join-status');
    assert.equal(await live.getAttribute('aria-live'), 'polite');
    assert.equal(await live.textContent(), '');
    await copy.click();
    await page.waitForFunction(() => document.querySelector('[data-testid="copy-join-status"]')?.textContent === 'Copied');
    assert.deepEqual(await calls(page, 'copy_join_link'), [{ cmd: 'copy_join_link', args: { id: 'weekly-sync' } }]);
    assert.equal(await activeTestId(page), 'copy-join-link', 'focus stays on the button');
    assert.equal(await calls(page, 'join_meeting').then((c) => c.length), 0);
    // The confirmation fades.
    await page.clock.runFor(3000);
    assert.equal(await live.textContent(), '');
    await detail.getByTestId('detail-close').click();
    // No join link: no button.
    const lunch = await openDetailOf(page, 'lunch');
    assert.equal(await lunch.getByTestId('copy-join-link').count(), 0);
    assert.equal(await lunch.getByTestId('copy-join-status').count(), 0);
  });
  await withApp(
    { locale: 'de-DE', scenario: { ...defaultScenario(), copyJoinLinkError: { code: 'internal', message: 'clipboard unavailable: no display' } } },
    async ({ page }) => {
      const detail = await openDetailOf(page, 'weekly-sync');
      await detail.getByRole('button', { name: 'Link zum Beitreten kopieren' }).click();
      await page.waitForFunction(() => document.querySelector('[data-testid="copy-join-status"]')?.textContent.includes('clipboard unavailable'));
      assert.ok(await detail.getByTestId('copy-join-status').evaluate((e) => e.classList.contains('is-error')));
      // It stays through the minute tick's re-render.
      await page.clock.runFor(61_000);
      assert.equal(await detail.getByTestId('copy-join-status').textContent(), 'clipboard unavailable: no display');
    },
  );
});

test('markers: response states, private, recurring, cancelled, declined', async () => {
  await withApp({}, async ({ page }) => {
    const item = (id) => page.locator(`[data-testid="day"][data-date="${id.startsWith('customer') || id === 'budget' ? '2026-11-25' : id === 'dentist' ? '2026-11-27' : '2026-11-24'}"] [data-testid="item"][data-id="${id}"]`);
    assert.match(await item('planning').textContent(), /Tentative/);
    assert.match(await item('customer-call').textContent(), /Not responded/);
    assert.match(await item('vendor-demo').textContent(), /Declined/);
    assert.ok(await item('vendor-demo').evaluate((e) => e.classList.contains('is-declined')));
    // Declined and past items step back by colour and weight (readable, not faded): the
    // subject in the secondary text colour, lighter than an accepted one's, the chip neutral.
    const look = (id) =>
      item(id).evaluate((e) => {
        const s = getComputedStyle(e.querySelector('.subject'));
        return { color: s.color, weight: Number(s.fontWeight), opacity: getComputedStyle(e.querySelector('.item-main')).opacity };
      });
    const muted = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.className = 'muted';
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    const [declined, past, accepted] = [await look('vendor-demo'), await look('focus'), await look('weekly-sync')];
    for (const dimmed of [declined, past]) {
      assert.equal(dimmed.color, muted);
      assert.notEqual(dimmed.color, accepted.color);
      assert.ok(dimmed.weight < accepted.weight, `${dimmed.weight} < ${accepted.weight}`);
      assert.equal(dimmed.opacity, '1', 'dimmed by colour, not by fading the text');
    }
    assert.match(await item('lunch').textContent(), /Private/);
    assert.equal(await item('lunch').locator('svg.icon').count() > 0, true);
    assert.match(await item('dentist').textContent(), /Private/);
    assert.match(await item('weekly-sync').textContent(), /Recurring/);
    assert.doesNotMatch(await item('planning').textContent(), /Recurring/);
    const budget = item('budget');
    assert.equal(await budget.locator('.subject').evaluate((e) => getComputedStyle(e).textDecorationLine), 'line-through');
    assert.equal(await budget.getByTestId('join').count(), 0);
    // Distinct show-as colours.
    const colors = await page.evaluate(() =>
      ['busy', 'tentative', 'oof', 'workingElsewhere', 'free'].map((k) => {
        const bar = document.querySelector(`.show-${k} .bar`);
        const cs = getComputedStyle(bar);
        return `${cs.backgroundColor}|${cs.backgroundImage}|${cs.boxShadow}`;
      }),
    );
    assert.equal(new Set(colors).size, 5, colors.join('\n'));
  });
});

test('now and next: markers, now-line, and the minute tick updates the countdown', async () => {
  await withApp({}, async ({ page }) => {
    await page.clock.pauseAt(new Date(Date.parse(NOW) + 10_000));
    const standup = page.locator('[data-testid="item"][data-id="standup"]');
    const sync = page.locator('[data-testid="item"][data-id="weekly-sync"]');
    assert.equal(await standup.getByTestId('now-marker').textContent(), 'Now');
    assert.equal(await sync.getByTestId('next-marker').textContent(), 'in 12 min');
    assert.equal(await page.getByTestId('now-marker').count(), 1);
    assert.equal(await page.getByTestId('next-marker').count(), 1);
    const line = page.locator('[data-testid="day"][data-date="2026-11-24"] [data-testid="now-line"]');
    assert.equal(await line.count(), 1);
    assert.deepEqual(
      await line.evaluate((e) => [e.previousElementSibling?.dataset.id, e.nextElementSibling?.dataset.id]),
      ['standup', 'weekly-sync'],
    );
    assert.equal(await page.getByTestId('now-line').count(), 1, 'only today has a now-line');

    await page.clock.runFor(60_000);
    assert.equal(await sync.getByTestId('next-marker').textContent(), 'in 11 min');
    await page.clock.runFor(12 * 60_000);
    assert.equal(await sync.getByTestId('now-marker').textContent(), 'Now');
    assert.equal(await standup.getByTestId('now-marker').count(), 0);
    assert.ok(await standup.evaluate((e) => e.classList.contains('is-past')));
  });
});

test('at midnight the tick refetches the agenda and "Today" moves on', async () => {
  await withApp({ time: '2026-11-24T23:59:20+01:00' }, async ({ page }) => {
    await page.clock.pauseAt(new Date('2026-11-24T23:59:25+01:00'));
    assert.equal((await calls(page, 'agenda')).length, 1);
    assert.equal(await page.getByTestId('now-line').count(), 1);
    await page.clock.runFor(60_000);
    await page.waitForFunction(() => window.__presently.calls.filter((c) => c.cmd === 'agenda').length === 2);
    await page.waitForFunction(() => document.querySelectorAll('.day-title')[1]?.textContent === 'Today');
    const headers = await texts(page.locator('[data-testid="day"] h2 .day-title'));
    assert.deepEqual(headers.slice(0, 3), ['Tuesday, November 24', 'Today', 'Tomorrow']);
  });
});

// The engine's display zone (TZ, agenda.timezone, the system's) decides every time on
// screen; the browser here runs in another zone, as WebKit's idea of the local zone may.
const LA = 'America/Los_Angeles';
const la = (date, hm) => `${date}T${hm}:00-08:00`;
const LA_NOW = la('2026-11-24', '16:30'); // Wednesday 09:30 in Tokyo: another day there

function laAgenda() {
  const days = DATES.map((date) => ({ date, items: [] }));
  days[0].items = [
    itemAt({ id: 'standup', subject: 'Standup', start: la(DATES[0], '09:00'), end: la(DATES[0], '09:15') }),
    itemAt({ id: 'review', subject: 'Review', start: la(DATES[0], '16:00'), end: la(DATES[0], '17:00') }),
    itemAt({ id: 'late-sync', subject: 'Late sync', start: la(DATES[0], '17:00'), end: la(DATES[0], '17:30') }),
  ];
  days[1].items = [itemAt({ id: 'breakfast', subject: 'Breakfast', start: la(DATES[1], '08:00'), end: la(DATES[1], '09:00') })];
  return { timezone: LA, generated_at: LA_NOW, days };
}

test("times, Today, the now-line and the status line follow the engine's zone, not the browser's", async () => {
  const scenario = {
    agenda: laAgenda(),
    status: status({ sync: { last_synced_at: la(DATES[0], '16:20') }, timezone: LA }),
    holdAgenda: true,
  };
  await withApp(
    { scenario, time: LA_NOW, timezoneId: 'Asia/Tokyo', wait: '[data-testid="loading"]' },
    async ({ page }) => {
      await page.clock.pauseAt(new Date(Date.parse(LA_NOW) + 10_000));
      // Before the agenda arrives, the status line already speaks the engine's zone.
      assert.match(await page.getByTestId('status').textContent(), /Synced 4:20\sPM/);
      await page.evaluate(() => window.__presently.release());
      await page.getByTestId('agenda').waitFor();
      const headers = await texts(page.locator('[data-testid="day"] h2 .day-title'));
      assert.deepEqual(headers.slice(0, 2), ['Today', 'Tomorrow']);
      const today = page.locator('[data-testid="day"][data-date="2026-11-24"]');
      assert.equal(await today.locator('.day-title').textContent(), 'Today');
      const times = await texts(today.locator('[data-testid="item"] .t-start'));
      assert.deepEqual(times.map((t) => t.replace(/\s/g, ' ')), ['9:00 AM', '4:00 PM', '5:00 PM']);
      assert.equal(await page.locator('[data-testid="item"][data-id="review"]').getByTestId('now-marker').count(), 1);
      assert.equal(await page.locator('[data-testid="item"][data-id="late-sync"]').getByTestId('next-marker').textContent(), 'in 30 min');
      const line = today.getByTestId('now-line');
      assert.equal(await line.count(), 1);
      assert.match(await line.getAttribute('aria-label'), /Now, 4:30\sPM/);
      assert.deepEqual(
        await line.evaluate((e) => [e.previousElementSibling?.dataset.id, e.nextElementSibling?.dataset.id]),
        ['review', 'late-sync'],
      );
      assert.match(await page.getByTestId('status').textContent(), /Synced 4:20\sPM/);
      await page.locator('[data-testid="item"][data-id="review"]').click();
      assert.match(await page.getByTestId('detail').textContent(), /Tuesday, November 24, 4:00\s–\s5:00\sPM/);
    },
  );
});

test("signed out, the device code's expiry is in the engine's zone", async () => {
  await withApp(
    {
      // No agenda to take the zone from: the status brings it.
      scenario: { status: { ...signedOut(), timezone: LA }, agendaErrors: [{ code: 'not_signed_in', message: 'no account' }] },
      time: la(DATES[0], '09:48'),
      timezoneId: 'Asia/Tokyo',
      wait: '[data-testid="sign-in-screen"]',
    },
    async ({ page }) => {
      await page.getByTestId('sign-in-device').click();
      await page.getByTestId('device-code').waitFor();
      assert.match(await page.getByTestId('code-expiry').textContent(), /valid until 10:03\sAM/);
    },
  );
});

test("a zone the webview's Intl does not know yet is shown at the engine's offset, not the browser's zone", async () => {
  // An engine zone database newer than WebKit's ICU: the name is unknown here, the offset
  // the engine wrote into its times stands in.
  const view = laAgenda();
  const shifted = JSON.parse(JSON.stringify(view).replaceAll('-08:00', '-03:00'));
  shifted.timezone = 'America/Not_Yet_In_ICU';
  await withApp(
    {
      scenario: { agenda: shifted, status: status({ sync: { last_synced_at: '2026-11-24T16:20:00-03:00' }, timezone: shifted.timezone }) },
      time: '2026-11-24T16:30:00-03:00',
      timezoneId: 'Asia/Tokyo',
    },
    async ({ page }) => {
      const today = page.locator('[data-testid="day"][data-date="2026-11-24"]');
      assert.equal(await today.locator('.day-title').textContent(), 'Today');
      const times = await texts(today.locator('[data-testid="item"] .t-start'));
      assert.deepEqual(times.map((t) => t.replace(/\s/g, ' ')), ['9:00 AM', '4:00 PM', '5:00 PM']);
      assert.equal(await today.getByTestId('now-line').count(), 1);
      assert.match(await page.getByTestId('status').textContent(), /Synced 4:20\sPM/);
    },
  );
});

test('a failed background refetch keeps the agenda and reports in the status line', async () => {
  await withApp({}, async ({ page }) => {
    await page.evaluate(() => {
      window.__presently.scenario.agenda = undefined; // next agenda call fails
      return window.__presently.emit('agenda-changed');
    });
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.includes('no agenda fixture'));
    assert.equal(await page.getByTestId('error').count(), 0);
    assert.equal(await page.getByTestId('item').count() > 0, true);
  });
});

test('agenda-changed triggers a refetch; status-changed updates the status line', async () => {
  await withApp({}, async ({ page }) => {
    assert.equal((await calls(page, 'agenda')).length, 1);
    assert.deepEqual((await calls(page, 'agenda'))[0].args, { from: null, days: 7 });
    await page.evaluate(() => {
      const day = window.__presently.scenario.agenda.days[2];
      day.items.push({ ...window.__presently.scenario.agenda.days[0].items[0], id: 'new-one', subject: 'Added by sync', start: '2026-11-26T09:00:00+01:00', end: '2026-11-26T09:30:00+01:00' });
      return window.__presently.emit('agenda-changed');
    });
    await page.locator('[data-testid="item"][data-id="new-one"]').waitFor();
    assert.equal((await calls(page, 'agenda')).length, 2);
    assert.equal(await page.locator('[data-testid="day"][data-date="2026-11-26"] [data-testid="empty-day"]').count(), 0);

    const statusEl = page.getByTestId('status');
    assert.match(await statusEl.textContent(), /Synced 9:12\sAM/);
    assert.equal(await statusEl.getAttribute('aria-live'), 'polite');
    assert.equal(await page.getByTestId('demo').isVisible(), true);
    await page.evaluate((s) => window.__presently.emit('status-changed', s), status({ sync: { state: 'syncing' } }));
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.includes('Syncing…'));
    await page.evaluate((s) => window.__presently.emit('status-changed', s), status({ sync: { state: 'offline' } }));
    await page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.includes('Offline — last synced at'));
    assert.equal(await page.getByTestId('offline-banner').isVisible(), true);
    assert.equal((await calls(page, 'agenda')).length, 2, 'status events do not refetch the agenda');
  });
});

test('Sync now invokes sync_now', async () => {
  await withApp({}, async ({ page }) => {
    await page.getByTestId('sync-now').click();
    await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'sync_now'));
    assert.equal((await calls(page, 'sync_now')).length, 1);
  });
});

const subjects = (page) => texts(page.getByTestId('item-subject'));
const filterButton = (page, name) => page.getByTestId('filter-toggles').getByRole('button', { name, exact: true });

test('filters: turning off "Declined" hides the declined item, and the choice survives a reload', async () => {
  await withApp({}, async ({ page }) => {
    const bar = page.getByTestId('filter-bar');
    assert.equal(await bar.isVisible(), true);
    const group = page.getByRole('group', { name: 'Filters' });
    assert.deepEqual(await texts(group.getByRole('button')), ['Declined', 'Tentative', 'Not responded', 'All day', 'Cancelled']);
    // One calendar in the fixture: no calendar toggles.
    assert.equal(await page.getByTestId('filter-calendar').count(), 0);
    const declined = filterButton(page, 'Declined');
    assert.equal(await declined.getAttribute('aria-pressed'), 'true');
    assert.ok((await subjects(page)).includes('Vendor demo: Northwind'));

    await declined.focus();
    await page.keyboard.press('Enter');
    assert.equal(await declined.getAttribute('aria-pressed'), 'false');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.filter), 'declined', 'focus stays on the toggle');
    assert.equal(await page.locator('[data-testid="item"][data-id="vendor-demo"]').count(), 0);
    assert.ok((await subjects(page)).includes('Quarterly planning'), 'other items stay');
    assert.match(await page.getByTestId('match-count').textContent(), /^\d+ events shown$/);
    assert.deepEqual(JSON.parse(await page.evaluate(() => localStorage.getItem('presently.filters.v1'))).declined, false);

    await page.reload();
    await page.getByTestId('agenda').waitFor();
    assert.equal(await filterButton(page, 'Declined').getAttribute('aria-pressed'), 'false');
    assert.equal(await page.locator('[data-testid="item"][data-id="vendor-demo"]').count(), 0);

    // Cancelled and all-day off as well: hidden, and a day left with nothing shows the empty state.
    await filterButton(page, 'Cancelled').click();
    await filterButton(page, 'All day').click();
    assert.equal(await page.locator('[data-testid="item"][data-id="budget"]').count(), 0);
    assert.equal(await page.locator('[data-testid="item"][data-id="release-week"]').count(), 0);
    await filterButton(page, 'Declined').click();
    assert.equal(await page.locator('[data-testid="item"][data-id="vendor-demo"]').count(), 1);
  });
});

test('filters: corrupt remembered JSON falls back to showing everything; calendar toggles with several calendars', async () => {
  const a = agenda();
  const lunch = a.days[0].items.find((i) => i.id === 'lunch');
  Object.assign(lunch, { calendar: 'cal-private', calendar_name: 'Family', calendar_color: '#2e9e5b' });
  await withApp({ scenario: { agenda: a, status: status() } }, async ({ page }) => {
    await page.evaluate(() => localStorage.setItem('presently.filters.v1', '{not json'));
    await page.reload();
    await page.getByTestId('agenda').waitFor();
    assert.equal(await page.locator('[data-testid="filter-toggles"] [aria-pressed="false"]').count(), 0);
    const cals = page.getByTestId('filter-calendar');
    assert.deepEqual(await texts(cals), ['Calendar', 'Family']);
    assert.equal(
      await cals.nth(1).locator('.cal-dot').evaluate((el) => getComputedStyle(el).backgroundColor),
      'rgb(46, 158, 91)',
    );
    await cals.nth(1).click();
    assert.equal(await cals.nth(1).getAttribute('aria-pressed'), 'false');
    assert.equal(await page.locator('[data-testid="item"][data-id="lunch"]').count(), 0);
    assert.equal(await page.locator('[data-testid="item"][data-id="weekly-sync"]').count(), 1);
    // Items keep their calendar label while another calendar is hidden.
    assert.equal(await page.locator('[data-testid="item"][data-id="weekly-sync"] .calendar').count(), 1);
    assert.deepEqual(JSON.parse(await page.evaluate(() => localStorage.getItem('presently.filters.v1'))).hiddenCalendars, ['cal-private']);
  });
});

test('search by organizer and by location narrows the list; Escape clears it', async () => {
  await withApp({}, async ({ page }) => {
    const all = (await subjects(page)).length;
    const search = page.getByRole('searchbox', { name: 'Search' });
    await search.fill('jonas');
    assert.deepEqual(await subjects(page), ['Quarterly planning', 'Budget review']);
    // Days without a match show the empty state.
    assert.equal(await page.locator('[data-testid="day"][data-date="2026-11-27"] [data-testid="empty-day"]').count(), 1);
    assert.equal(await page.getByTestId('match-count').textContent(), '2 events shown');

    await search.fill('MARKTHALLE');
    assert.deepEqual(await subjects(page), ['Team lunch']);
    await search.fill('sprint');
    assert.deepEqual(await subjects(page), ['Sprint planning']);

    await search.focus();
    await page.keyboard.press('Escape');
    assert.equal(await search.inputValue(), '');
    assert.equal((await subjects(page)).length, all);
    // Search text is not remembered.
    await search.fill('jonas');
    await page.reload();
    await page.getByTestId('agenda').waitFor();
    assert.equal(await page.getByRole('searchbox').inputValue(), '');
    assert.equal((await subjects(page)).length, all);
  });
});

test('filter bar in German', async () => {
  await withApp({ locale: 'de-DE' }, async ({ page }) => {
    const group = page.getByRole('group', { name: 'Filter' });
    assert.deepEqual(await texts(group.getByRole('button')), ['Abgelehnt', 'Mit Vorbehalt', 'Nicht beantwortet', 'Ganztägig', 'Abgesagt']);
    const search = page.getByRole('searchbox', { name: 'Suchen' });
    assert.equal(await search.getAttribute('placeholder'), 'Betreff, Ort, Organisator suchen');
    await search.fill('Café');
    assert.deepEqual(await subjects(page), ['Lunch with Sam']);
    assert.equal(await page.getByTestId('match-count').textContent(), '1 Termin angezeigt');
  });
});

test('the production entry outside Tauri shows an error, not a blank page', async () => {
  await withApp({ path: '/index.html', wait: '[data-testid="error"]' }, async ({ page }) => {
    assert.equal(await page.getByTestId('retry').isVisible(), true);
    assert.equal(await page.evaluate(() => typeof window.__presently), 'undefined');
  });
});

test('built HTML/JS keep to a strict CSP: no inline scripts or styles, no innerHTML, no remote URLs', () => {
  for (const f of ['index.html', 'test.html']) {
    const html = readFileSync(join(DIST, f), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${f}: inline script`);
    assert.doesNotMatch(html, /<style|\sstyle=/, `${f}: inline style`);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, `${f}: remote content`);
  }
  const assets = readdirSync(join(DIST, 'assets'));
  for (const f of assets.filter((a) => a.endsWith('.js'))) {
    const js = readFileSync(join(DIST, 'assets', f), 'utf8');
    assert.doesNotMatch(js, /\.innerHTML\b|outerHTML\s*=|insertAdjacentHTML|document\.write/, `${f}: HTML injection sink`);
  }
  for (const f of assets.filter((a) => a.endsWith('.css'))) {
    const css = readFileSync(join(DIST, 'assets', f), 'utf8');
    assert.doesNotMatch(css, /@import|url\(\s*['"]?https?:/, `${f}: remote CSS`);
  }
});

test('text face: sans-serif named directly where system-ui draws the same face, remembered for the next start', async () => {
  await withApp({}, async ({ page }) => {
    const key = () => page.evaluate(() => localStorage.getItem('presently.font.v1'));
    const attr = () => page.evaluate(() => document.documentElement.dataset.font ?? null);
    // The page's own check of system-ui runs after its first two frames: let it be done first.
    const settled = () =>
      page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(ok, 50)))));
    await settled();
    // monospace is never the sans-serif face: system-ui stays.
    await page.evaluate(() => window.__presently.checkFont('monospace'));
    assert.equal(await key(), null);
    assert.equal(await attr(), null);
    assert.match(await page.evaluate(() => getComputedStyle(document.body).fontFamily), /^system-ui/);
    // The same face: remembered and applied at once.
    await page.evaluate(() => window.__presently.checkFont('sans-serif'));
    assert.equal(await key(), 'sans-serif');
    assert.equal(await attr(), 'sans-serif');
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).fontFamily), 'sans-serif');
    // The next start lays out with it from its first style, before any frame.
    await page.addInitScript(() => {
      document.addEventListener('DOMContentLoaded', () => {
        window.__fontAtStart = getComputedStyle(document.body).fontFamily;
      });
    });
    await page.evaluate(() => window.__presently.checkFont('sans-serif'));
    await page.reload();
    await page.getByTestId('agenda').waitFor();
    assert.equal(await page.evaluate(() => window.__fontAtStart), 'sans-serif');
    await settled();
    // A family the canvas refuses is never taken for the same face.
    await page.evaluate(() => window.__presently.checkFont('"unclosed'));
    assert.equal(await key(), null);
    assert.equal(await attr(), null);
  });
});

test('large text: no horizontal overflow at 200% font size', async () => {
  await withApp({}, async ({ page }) => {
    await page.evaluate(() => document.documentElement.style.setProperty('font-size', '200%'));
    const overflow = await page.evaluate(() => {
      const bad = [];
      for (const el of document.querySelectorAll('[data-testid="item-subject"], .day-title, .status-text, .t-start')) {
        if (el.scrollWidth > el.clientWidth + 1) bad.push(el.textContent);
      }
      const c = document.getElementById('content');
      if (c.scrollWidth > c.clientWidth + 1) bad.push('content');
      return bad;
    });
    assert.deepEqual(overflow, []);
  });
});

test('screenshots: agenda (light, dark/German), detail pane, error, sign-in screens, signed out, first launch, diagnostics', async () => {
  const dir = ensureArtifacts();
  await withApp({ deviceScaleFactor: 2 }, async ({ page }) => {
    await page.screenshot({ path: join(dir, 'ui-agenda.png') });
    await page.locator('[data-testid="item"][data-id="weekly-sync"] .item-main').click();
    await page.getByTestId('detail').waitFor();
    await page.screenshot({ path: join(dir, 'ui-detail.png') });
  });
  await withApp({ deviceScaleFactor: 2, colorScheme: 'dark', locale: 'de-DE' }, async ({ page }) => {
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, 'rgb(245, 245, 247)', 'dark theme applies');
    await page.screenshot({ path: join(dir, 'ui-agenda-dark.png') });
  });
  const err = { code: 'store_corrupt', message: 'database disk image is malformed' };
  await withApp({ scenario: { ...defaultScenario(), agendaErrors: [err] }, wait: '[data-testid="error"]' }, async ({ page }) => {
    await page.evaluate((s) => window.__presently.emit('status-changed', s), status({ sync: { state: 'offline' } }));
    await page.getByTestId('offline-banner').waitFor();
    await page.screenshot({ path: join(dir, 'ui-error.png') });
  });
  await withApp(
    { deviceScaleFactor: 2, scenario: { agenda: emptyAgenda(), status: signedOut() }, wait: '[data-testid="sign-in-details"]' },
    async ({ page }) => {
      await page.screenshot({ path: join(dir, 'ui-sign-in.png') });
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-waiting').waitFor();
      await page.screenshot({ path: join(dir, 'ui-sign-in-waiting.png') });
      await page.getByTestId('sign-in-device').click();
      await page.getByTestId('device-code').waitFor();
      await page.screenshot({ path: join(dir, 'ui-sign-in-device.png') });
      await page.evaluate(() => window.__presently.emit('sign-in-progress', { phase: 'signed_in', upn: 'dana@contoso.com', display_name: 'Dana Fischer' }));
      await page.getByTestId('first-sync').waitFor();
      await page.screenshot({ path: join(dir, 'ui-first-sync.png') });
    },
  );
  const consent = {
    code: 'consent_required',
    message:
      'AADSTS65001: your organization requires an administrator to approve Presently before you can use it. Send your administrator this link to grant consent: https://login.microsoftonline.com/contoso.com/adminconsent?client_id=7e1c4b6a-2f3d-4d8e-9a5b-6c0d1e2f3a4b',
  };
  await withApp(
    {
      deviceScaleFactor: 2,
      colorScheme: 'dark',
      locale: 'de-DE',
      scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: consent },
      wait: '[data-testid="sign-in-details"]',
    },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-error').waitFor();
      await page.screenshot({ path: join(dir, 'ui-sign-in-error-dark.png') });
    },
  );
  await withApp({ deviceScaleFactor: 2, scenario: { agenda: agenda(), status: signedOut({ demo: true }) }, wait: '[data-testid="signed-out"]' }, async ({ page }) => {
    await page.screenshot({ path: join(dir, 'ui-signed-out.png') });
  });
  await withApp(
    { deviceScaleFactor: 2, scenario: { agenda: emptyAgenda(), status: signedOut(), signInInfo: unconfigured() }, wait: '[data-testid="registration-form"]' },
    async ({ page }) => {
      await page.getByLabel('Application (client) ID').pressSequentially('7e1c4b6a-2f3d-4d8e');
      await page.getByLabel('Directory (tenant) ID').pressSequentially('contoso onmicrosoft');
      await page.screenshot({ path: join(dir, 'ui-first-launch.png') });
    },
  );
  await withApp(
    { deviceScaleFactor: 2, scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: consentError() }, wait: '[data-testid="sign-in-screen"]' },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-error').waitFor();
      await page.screenshot({ path: join(dir, 'ui-sign-in-diagnostics.png'), fullPage: true });
    },
  );
  await withApp(
    {
      deviceScaleFactor: 2,
      colorScheme: 'dark',
      locale: 'de-DE',
      scenario: { agenda: emptyAgenda(), status: signedOut(), signInError: redirectError() },
      wait: '[data-testid="sign-in-screen"]',
    },
    async ({ page }) => {
      await page.getByTestId('sign-in').click();
      await page.getByTestId('sign-in-error').waitFor();
      await page.screenshot({ path: join(dir, 'ui-sign-in-diagnostics-dark.png'), fullPage: true });
    },
  );
});

test('an appointment from a calendar subscription opens its own event page, not Outlook', async () => {
  const view = agenda();
  view.days[0].items.push(
    itemAt({
      id: 'rota@feeds.example/20261124T120000Z',
      calendar: 'ics:0123456789abcdef',
      calendar_name: 'Team rota',
      subject: 'Rota check',
      start: '2026-11-24T13:00:00+01:00',
      end: '2026-11-24T13:30:00+01:00',
      organizer: null,
      organizer_email: null,
      web_link: 'https://www.google.com/calendar/event?eid=abc',
    }),
  );
  await withApp({ scenario: { agenda: view, status: status() } }, async ({ page }) => {
    await page.locator('[data-testid="item"][data-id="rota@feeds.example/20261124T120000Z"] .item-main').click();
    const detail = page.getByTestId('detail');
    await detail.waitFor();
    assert.equal((await detail.getByTestId('open').textContent()).trim(), 'Open event page');
    await detail.getByTestId('open').click();
    assert.deepEqual(await calls(page, 'open_item'), [{ cmd: 'open_item', args: { id: 'rota@feeds.example/20261124T120000Z' } }]);
  });
});
