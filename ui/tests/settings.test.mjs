// Browser tests of the settings page: real chromium, mocked Tauri IPC (test-entry.ts for the
// shared commands, settings-fixtures.mjs for the settings ones).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { agenda, NOW, status } from './fixtures.mjs';
import { audit } from './axe.mjs';
import { buildTestBundle, calls, ensureArtifacts, launch, openApp, serve } from './harness.mjs';
import { CLIENT_ID, config, lockedView, POLICY_ERROR, POLICY_PATH, settingsView, withSettings } from './settings-fixtures.mjs';

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

/**
 * Open the app (on the settings page unless `path` says otherwise) with `settings` as the
 * settings mock's scenario, run `fn`, then check the page had no errors, CSP violations or dialogs.
 */
async function withSettingsApp(opts, fn) {
  const { settings = { view: settingsView() }, ...rest } = opts;
  const app = await openApp(withSettings(browser, settings), base, {
    time: NOW,
    scenario: { agenda: agenda(), status: status() },
    path: '/test.html#settings',
    wait: '[data-testid="section-account"]',
    ...rest,
  });
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

/** Settings commands the mock answered, optionally of one command. */
const settingsCalls = async (page, cmd) => {
  const all = await page.evaluate(() => window.__settingsMock.calls);
  return cmd ? all.filter((c) => c.cmd === cmd) : all;
};
const waitForCalls = (page, cmd, n) =>
  page.waitForFunction(([c, k]) => window.__settingsMock.calls.filter((x) => x.cmd === c).length >= k, [cmd, n]);
const texts = (loc) => loc.evaluateAll((els) => els.map((e) => e.textContent.trim()));
const focused = (page) => page.evaluate(() => document.activeElement?.dataset.testid ?? document.activeElement?.id ?? null);
/** The field (label, control, hint, error) a control belongs to. */
const fieldOf = (page, testid) => page.locator('.field', { has: page.getByTestId(testid) });
const describedBy = (loc) =>
  loc.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent.trim() ?? '')
      .join(' | '),
  );

test('every section renders from the settings view, every control labelled', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const settings = page.getByTestId('settings');
    assert.equal(await page.evaluate(() => location.hash), '#settings');
    assert.equal(await settings.getByRole('heading', { level: 2 }).textContent(), 'Settings');
    assert.deepEqual(await texts(settings.getByRole('heading', { level: 3 })), [
      'Account',
      'Accounts',
      'Calendars to sync',
      'Presence automation',
      'Call forwarding',
      'General',
    ]);
    for (const name of ['Account', 'Accounts', 'Calendars to sync', 'Presence automation', 'Call forwarding', 'General']) {
      assert.equal(await page.getByRole('region', { name, exact: true }).count(), 1, `${name} is a labelled region`);
    }
    // The agenda and its filter bar are out of the way.
    assert.equal(await page.getByTestId('filter-bar').isVisible(), false);
    assert.equal(await page.locator('#content').isVisible(), false);

    // Account: who, which application and where it comes from.
    assert.match(await page.getByTestId('account-who').textContent(), /Dana Fischer\s*dana@contoso\.com/);
    assert.equal(await page.getByTestId('app-name').textContent(), 'Presently for Contoso');
    assert.equal(await page.getByTestId('app-client-id').textContent(), CLIENT_ID);
    assert.equal(await page.getByTestId('app-tenant').textContent(), 'contoso.com');
    assert.match(await page.getByTestId('app-source').textContent(), /Your organization’s policy/);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Sign in again' }).count(), 1);

    // Calendars: one checkbox per calendar, none checked = primary only, said so.
    const cals = page.getByRole('group', { name: 'Calendars' });
    assert.equal(await cals.getByRole('checkbox').count(), 2);
    assert.equal(await page.getByRole('checkbox', { name: 'Team events' }).isChecked(), false);
    assert.match(await cals.textContent(), /None checked: only your primary calendar \(Calendar\) is synced\./);
    assert.equal(await page.getByRole('spinbutton', { name: 'Days back' }).inputValue(), '7');
    assert.equal(await page.getByRole('spinbutton', { name: 'Days ahead' }).inputValue(), '60');
    assert.equal(await page.getByRole('spinbutton', { name: 'Sync every (minutes)' }).inputValue(), '5');
    assert.equal(await page.getByRole('spinbutton', { name: 'Days shown in the agenda' }).inputValue(), '7');

    // Presence: on, built-ins read-only, the user's profile and rules editable.
    assert.equal(await page.getByRole('checkbox', { name: 'Switch my Teams presence during appointments' }).isChecked(), true);
    assert.deepEqual(await texts(page.locator('[data-testid="builtin-profile"] .builtin-name')), ['In a meeting', 'Out of office', 'Focus']);
    assert.equal(await page.getByTestId('builtin-profiles').locator('input, select, textarea').count(), 0);
    const profile = page.getByTestId('profile');
    assert.equal(await profile.count(), 1);
    assert.equal(await profile.getByRole('textbox', { name: 'Name' }).inputValue(), 'Deep work');
    assert.equal(await profile.getByTestId('profile-teams').inputValue(), 'preferred:DoNotDisturb:DoNotDisturb');
    assert.equal(await profile.getByRole('textbox', { name: 'Status message' }).inputValue(), 'Focusing until {end}');
    assert.equal(await profile.getByRole('spinbutton', { name: 'Priority' }).inputValue(), '25');
    assert.equal(await profile.getByRole('combobox', { name: 'Call forwarding' }).inputValue(), 'voicemail');
    // Teams presence offers only the pairs the API accepts.
    assert.deepEqual(await profile.getByTestId('profile-teams').locator('option').evaluateAll((os) => os.map((o) => o.value)), [
      '',
      'preferred:Available:Available',
      'preferred:Busy:Busy',
      'preferred:DoNotDisturb:DoNotDisturb',
      'preferred:BeRightBack:BeRightBack',
      'preferred:Away:Away',
      'preferred:Offline:OffWork',
      'session:Available:Available',
      'session:Busy:InACall',
      'session:Busy:InAConferenceCall',
      'session:Away:Away',
    ]);
    const rules = page.getByTestId('rule');
    assert.equal(await rules.count(), 2);
    assert.equal(await rules.nth(0).getByRole('textbox', { name: 'Category' }).inputValue(), 'Focus');
    assert.equal(await rules.nth(0).getByRole('combobox', { name: 'Switch to' }).inputValue(), 'Deep work');
    assert.equal(await rules.nth(1).getByRole('textbox', { name: 'Subject contains' }).inputValue(), 'lunch');
    assert.equal(await rules.nth(1).getByRole('combobox', { name: 'Switch to' }).inputValue(), '');
    assert.equal(await rules.nth(0).getByRole('button', { name: 'Move rule 1 up' }).isDisabled(), true);
    assert.equal(await rules.nth(1).getByRole('button', { name: 'Move rule 2 down' }).isDisabled(), true);
    assert.equal(await page.getByRole('group', { name: 'Rule 1' }).count(), 1);
    assert.deepEqual(
      await rules.nth(0).getByRole('combobox', { name: 'Switch to' }).locator('option').evaluateAll((os) => os.map((o) => o.textContent)),
      ['Change nothing', 'In a meeting', 'Out of office', 'Focus', 'Deep work'],
    );
    assert.equal(await page.getByRole('checkbox', { name: 'Then apply the standard rules' }).isChecked(), true);

    // Live preview of today's plan, asked for with the presence configuration.
    await page.getByTestId('plan').waitFor();
    assert.deepEqual((await settingsCalls(page, 'presence_preview'))[0].args, { presence: config().presence });
    assert.equal(await page.getByRole('region', { name: 'Today’s plan' }).count(), 1);

    // Forwarding and general.
    assert.equal(await page.getByRole('combobox', { name: 'Phone system' }).inputValue(), 'none');
    assert.equal(await page.getByTestId('forwarding-test').count(), 0, 'nothing to test without a phone system');
    assert.equal(await page.getByRole('checkbox', { name: 'Show reminders before appointments' }).isChecked(), true);
    assert.equal(await page.getByRole('checkbox', { name: /Start Presently when I sign in/ }).isChecked(), false);
    assert.equal(await page.getByRole('combobox', { name: 'Language' }).inputValue(), 'system');

    // Nothing changed yet.
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), false);
    assert.equal(await page.getByTestId('settings-save').getAttribute('aria-disabled'), 'true');
    assert.match(await page.getByTestId('config-path').textContent(), /config\.toml/);

    // Every control has an accessible name.
    const unnamed = await settings.locator('input, select, textarea, button').evaluateAll((els) =>
      els
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unnamed, []);
    const ids = await page.evaluate(() => [...document.querySelectorAll('[id]')].map((e) => e.id));
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  });
});

test('locked keys are disabled and say they are set by the organization', async () => {
  await withSettingsApp({ settings: { view: lockedView() } }, async ({ page }) => {
    assert.match(await page.getByTestId('policy-note').textContent(), new RegExp(`managed by your organization \\(${POLICY_PATH}, group “Sales”\\)`));
    const interval = page.getByRole('spinbutton', { name: 'Sync every (minutes)' });
    assert.equal(await interval.isDisabled(), true);
    assert.match(await describedBy(interval), /Set by your organization/);
    assert.match(await fieldOf(page, 'interval').textContent(), /Set by your organization/);
    assert.equal(await page.getByRole('spinbutton', { name: 'Days back' }).isDisabled(), false, 'unlocked keys stay editable');
    const login = page.getByRole('checkbox', { name: /Start Presently when I sign in/ });
    assert.equal(await login.isDisabled(), true);
    assert.match(await describedBy(login), /Set by your organization/);
    // A locked table locks every key under it, with one note for the table.
    const provider = page.getByRole('combobox', { name: 'Phone system' });
    assert.equal(await provider.isDisabled(), true);
    assert.match(await describedBy(provider), /Set by your organization/);
    assert.match(await page.getByTestId('section-forwarding').textContent(), /Set by your organization/);
    // Locked rules: no editing, adding, moving or removing.
    assert.equal(await page.getByTestId('add-rule').isDisabled(), true);
    assert.equal(await page.getByTestId('rule-remove').first().isDisabled(), true);
    assert.equal(await page.getByTestId('rule-category').first().isDisabled(), true);
    assert.equal(await page.getByTestId('rule-profile').first().isDisabled(), true);
    assert.equal(await page.getByTestId('add-profile').isDisabled(), false);
    assert.equal(await page.getByTestId('profile-name').isDisabled(), false);
  });
  await withSettingsApp({ locale: 'de-DE', settings: { view: lockedView() } }, async ({ page }) => {
    const interval = page.getByRole('spinbutton', { name: 'Synchronisieren alle (Minuten)' });
    assert.equal(await interval.isDisabled(), true);
    assert.match(await describedBy(interval), /Von Ihrer Organisation festgelegt/);
  });
});

test('a policy error, a broken settings file and sync turned off by the organization show at the top', async () => {
  const view = settingsView({
    policy: { path: POLICY_PATH, group: null, error: POLICY_ERROR },
    config_error: '/home/dana/.config/presently/config.toml line 3: key agenda.days: expected an integer',
    sync_method: 'disabled',
  });
  await withSettingsApp({ settings: { view } }, async ({ page }) => {
    const banner = page.getByTestId('policy-error');
    assert.equal(await banner.getAttribute('role'), 'alert');
    assert.match(await banner.textContent(), /Your organization’s policy could not be applied/);
    assert.match(await banner.textContent(), /policy\.toml line 7: key sync\.interval_secs/);
    // The banners come first, right under the title.
    const order = await page.evaluate(() =>
      [...document.querySelectorAll('#settings-view [data-testid]')].map((e) => e.dataset.testid).filter((t) => /error|section-account/.test(t)),
    );
    assert.deepEqual(order.slice(0, 3), ['policy-error', 'config-error', 'section-account']);
    assert.match(await page.getByTestId('config-error').textContent(), /could not be read; Presently is using the defaults.*line 3: key agenda\.days/s);
    assert.equal(await page.getByTestId('sync-disabled').textContent(), 'Calendar sync is turned off by your organization');
    for (const name of ['Days back', 'Days ahead', 'Sync every (minutes)']) {
      assert.equal(await page.getByRole('spinbutton', { name }).isDisabled(), true, name);
    }
    assert.equal(await page.getByRole('checkbox', { name: 'Team events' }).isDisabled(), true);
    assert.equal(await page.getByRole('checkbox', { name: 'Show reminders before appointments' }).isDisabled(), false);
  });
});

test('validation: messages next to the fields, and Save is blocked until they are fixed', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const back = page.getByRole('spinbutton', { name: 'Days back' });
    await back.fill('400');
    const backField = fieldOf(page, 'window-days-back');
    assert.equal(await backField.getByTestId('field-error').textContent(), 'Enter a whole number from 0 to 365.');
    assert.equal(await back.getAttribute('aria-invalid'), 'true');
    assert.match(await describedBy(back), /Enter a whole number from 0 to 365\./);
    await page.getByRole('spinbutton', { name: 'Days shown in the agenda' }).fill('15');
    assert.equal(await fieldOf(page, 'agenda-days').getByTestId('field-error').textContent(), 'Enter a whole number from 1 to 14.');
    await page.getByRole('spinbutton', { name: 'Sync every (minutes)' }).fill('0.25');
    assert.equal(await fieldOf(page, 'interval').getByTestId('field-error').textContent(), 'Enter 0.5 to 1440 minutes.');
    await page.getByTestId('profile-priority').fill('300');
    assert.equal(await fieldOf(page, 'profile-priority').getByTestId('field-error').textContent(), 'Enter a whole number from 0 to 255.');
    await page.getByTestId('profile-status').fill('Back at {later}');
    assert.match(await fieldOf(page, 'profile-status').getByTestId('field-error').textContent(), /Unknown placeholder \{later\}/);

    // Profile names: not empty, not twice; rules must name an existing profile.
    const name = page.getByTestId('profile-name');
    await name.fill('');
    assert.equal(await fieldOf(page, 'profile-name').getByTestId('field-error').textContent(), 'Enter a name.');
    assert.equal(await page.getByTestId('rule-profile').first().inputValue(), 'Deep work');
    await page.getByTestId('add-profile').click();
    await name.first().fill('Twin');
    await page.getByTestId('profile-name').nth(1).fill('Twin');
    assert.equal(await page.getByTestId('field-error').filter({ hasText: 'Another profile has this name.' }).count(), 1);
    await page.getByTestId('profile-remove').first().click();
    await page.getByTestId('profile-remove').first().click();
    assert.equal(await page.getByTestId('profile').count(), 0);
    // The rule followed its profile's renaming ("Deep work" → "Twin"); now it is gone.
    const ruleProfile = page.getByTestId('rule-profile').first();
    assert.equal(await ruleProfile.inputValue(), 'Twin');
    assert.equal(await ruleProfile.getAttribute('aria-invalid'), 'true');
    assert.match(await describedBy(ruleProfile), /There is no profile “Twin”\./);
    // The preview waits for a valid presence configuration.
    await page.waitForFunction(() => document.querySelector('[data-testid="preview-summary"]')?.textContent.includes('Correct the marked fields'));

    // Save: nothing sent, the count said, focus on the first invalid field.
    const before = (await settingsCalls(page, 'settings_save')).length;
    await page.getByTestId('settings-save').click();
    assert.equal(await page.getByTestId('settings-error').textContent(), 'Correct the 4 marked fields before saving.');
    assert.equal(await page.getByTestId('settings-error').getAttribute('role'), 'alert');
    assert.equal(await focused(page), 'window-days-back');
    assert.equal((await settingsCalls(page, 'settings_save')).length, before, 'nothing was saved');

    // Fixing them clears the messages; Save goes through.
    await back.fill('14');
    await page.getByRole('spinbutton', { name: 'Days shown in the agenda' }).fill('10');
    await page.getByRole('spinbutton', { name: 'Sync every (minutes)' }).fill('2');
    await ruleProfile.selectOption('Focus');
    assert.equal(await page.locator('#settings-view [aria-invalid="true"]').count(), 0);
    assert.equal(await page.getByTestId('settings-error').textContent(), '');
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-status"]').textContent === 'Saved');
    const saved = (await settingsCalls(page, 'settings_save')).at(-1).args.config;
    assert.equal(saved.sync.window_days_back, 14);
    assert.equal(saved.sync.interval_secs, 120);
    assert.equal(saved.agenda.days, 10);
    assert.deepEqual(saved.presence.profiles, []);
    assert.equal(saved.presence.rules[0].profile, 'Focus');
  });
});

test('Save sends the edited configuration and shows Saved; the agenda follows the new length', async () => {
  await withSettingsApp({}, async ({ page }) => {
    await page.getByRole('checkbox', { name: 'Team events' }).check();
    await page.getByRole('spinbutton', { name: 'Days ahead' }).fill('90');
    await page.getByRole('spinbutton', { name: 'Sync every (minutes)' }).fill('10');
    await page.getByRole('spinbutton', { name: 'Days shown in the agenda' }).fill('5');
    const rule2 = page.getByTestId('rule').nth(1);
    await rule2.getByRole('textbox', { name: 'Subject contains' }).fill('Lunch with');
    await rule2.getByRole('combobox', { name: 'Switch to' }).selectOption('Out of office');
    await rule2.getByRole('checkbox', { name: 'Busy' }).check();
    await page.getByTestId('profile-forwarding').selectOption('number');
    await page.getByTestId('profile-forwarding-number').fill('+49 30 1234567');
    await page.getByRole('checkbox', { name: 'Show reminders before appointments' }).uncheck();
    await page.getByRole('checkbox', { name: /Start Presently when I sign in/ }).check();

    assert.equal(await page.getByTestId('settings-dirty').isVisible(), true);
    assert.equal(await page.getByTestId('settings-dirty').textContent(), 'Unsaved changes');
    assert.equal(await page.getByTestId('settings-save').getAttribute('aria-disabled'), 'false');
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-status"]').textContent === 'Saved');

    const expected = config();
    expected.sync.calendars = ['cal-team'];
    expected.sync.window_days_ahead = 90;
    expected.sync.interval_secs = 600;
    expected.agenda.days = 5;
    expected.presence.profiles[0].forwarding = { number: '+49 30 1234567' };
    expected.presence.rules[1] = { ...expected.presence.rules[1], subject_contains: 'Lunch with', profile: 'Out of office', show_as: ['busy'] };
    expected.reminders.enabled = false;
    expected.app.start_at_login = true;
    const saves = await settingsCalls(page, 'settings_save');
    assert.equal(saves.length, 1);
    assert.deepEqual(saves[0].args, { config: expected });

    // The view is the one the save returned; nothing is left unsaved.
    assert.equal(await page.getByTestId('settings-status').getAttribute('role'), 'status');
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), false);
    assert.equal(await page.getByTestId('settings-save').getAttribute('aria-disabled'), 'true');
    assert.equal(await page.getByRole('checkbox', { name: 'Team events' }).isChecked(), true);
    assert.equal(await page.getByTestId('profile-forwarding-number').inputValue(), '+49 30 1234567');
    // The agenda is fetched again with the new length.
    await page.waitForFunction(() => window.__presently.calls.some((c) => c.cmd === 'agenda' && c.args?.days === 5));
    // A change after saving replaces "Saved" with the dirty indicator.
    await page.getByRole('checkbox', { name: 'Show reminders before appointments' }).check();
    assert.equal(await page.getByTestId('settings-status').textContent(), '');
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), true);
  });
});

test('a rejected save shows the message and keeps the draft; Revert drops it', async () => {
  const saveError = { code: 'setting_locked', message: `sync.interval_secs is set by your organization (${POLICY_PATH})` };
  await withSettingsApp({ settings: { view: settingsView(), saveError } }, async ({ page }) => {
    const interval = page.getByRole('spinbutton', { name: 'Sync every (minutes)' });
    await interval.fill('1');
    await page.getByTestId('settings-save').click();
    const err = page.getByTestId('settings-error');
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-error"]').textContent !== '');
    assert.equal(await err.textContent(), `Not saved: ${saveError.message}`);
    assert.equal(await interval.inputValue(), '1', 'the draft is kept');
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), true);
    assert.equal(await page.getByTestId('settings-status').textContent(), '');

    // invalid_settings: the same, with the engine's message (file, key).
    await page.evaluate(() => {
      window.__settingsMock.state.saveError = { code: 'invalid_settings', message: 'presence.rules.profile: rule 1: there is no profile "Nope"' };
    });
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-error"]').textContent.includes('there is no profile'));
    assert.equal((await settingsCalls(page, 'settings_save')).length, 2);
    assert.equal((await settingsCalls(page, 'settings_save'))[1].args.config.sync.interval_secs, 60);

    await page.getByTestId('settings-revert').click();
    assert.equal(await interval.inputValue(), '5');
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), false);
    assert.equal(await err.textContent(), '');
  });
});

test('the join shortcut: edited and saved; a failed registration and a Wayland desktop are said; locked by the organization', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const field = page.getByTestId('join-shortcut');
    assert.equal(await field.inputValue(), 'Ctrl+Alt+J');
    assert.equal(await page.getByTestId('shortcut-status').count(), 0, 'registered: nothing to say');
    await field.fill('Ctrl+Shift+M');
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-status"]').textContent === 'Saved');
    const saves = await settingsCalls(page, 'settings_save');
    assert.equal(saves.at(-1).args.config.app.join_shortcut, 'Ctrl+Shift+M');
  });
  const failed = settingsView({ join_shortcut: { registered: null, error: 'no X11 display', wayland: true } });
  await withSettingsApp({ settings: { view: failed } }, async ({ page }) => {
    assert.match(
      await page.getByTestId('shortcut-status').textContent(),
      /^The shortcut is not available on this desktop: no X11 display\. Some desktops \(many Wayland ones\) give applications no global shortcuts/,
    );
  });
  const wayland = settingsView({ join_shortcut: { registered: 'Ctrl+Alt+J', error: null, wayland: true } });
  await withSettingsApp({ settings: { view: wayland } }, async ({ page }) => {
    assert.match(await page.getByTestId('shortcut-status').textContent(), /^This is a Wayland desktop/);
  });
  const locked = settingsView({ locked: ['app.join_shortcut'], join_shortcut: { registered: null, error: null, wayland: false } });
  locked.config.app.join_shortcut = '';
  await withSettingsApp({ settings: { view: locked } }, async ({ page }) => {
    assert.equal(await page.getByTestId('join-shortcut').isDisabled(), true);
    assert.equal(await page.getByTestId('shortcut-status').count(), 0);
  });
});

test('privacy mode: a labelled checkbox, saved as app.privacy; locked by the organization', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const box = page.getByRole('checkbox', { name: /^Privacy mode: hide subjects and places in the tray and reminders/ });
    assert.equal(await box.count(), 1, 'the checkbox is named by its label');
    assert.equal(await box.isChecked(), false, 'off by default: only private appointments are hidden');
    assert.match(await page.getByTestId('section-general').textContent(), /Appointments marked private are always hidden there/);
    await box.focus();
    await page.keyboard.press('Space');
    assert.equal(await box.isChecked(), true, 'the keyboard turns it on');
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-status"]').textContent === 'Saved');
    assert.equal((await settingsCalls(page, 'settings_save')).at(-1).args.config.app.privacy, 'all');
    await box.uncheck();
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-status"]').textContent === 'Saved');
    assert.equal((await settingsCalls(page, 'settings_save')).at(-1).args.config.app.privacy, 'private_only');
  });
  const locked = settingsView({ locked: ['app.privacy'] });
  locked.config.app.privacy = 'all';
  await withSettingsApp({ settings: { view: locked } }, async ({ page }) => {
    const box = page.getByTestId('privacy-mode');
    assert.equal(await box.isChecked(), true);
    assert.equal(await box.isDisabled(), true);
    assert.match(await describedBy(box), /Set by your organization/);
  });
  await withSettingsApp({ locale: 'de-DE' }, async ({ page }) => {
    assert.equal(await page.getByRole('checkbox', { name: /^Privatsphäre-Modus/ }).count(), 1);
  });
});

test('live preview: asked for with the draft after a rule change (debounced) and rendered', async () => {
  await withSettingsApp({}, async ({ page }) => {
    await page.getByTestId('plan').waitFor();
    const items = page.getByTestId('plan-item');
    assert.equal(await items.count(), 4);
    assert.match(await items.nth(0).textContent(), /^10:00\sAM/);
    assert.match(await items.nth(0).textContent(), /Switch to “Deep work”/);
    assert.match(await items.nth(0).textContent(), /for “Weekly sync” until 10:30\sAM/);
    assert.match(await items.nth(0).textContent(), /Teams: Busy/);
    assert.match(await items.nth(0).textContent(), /Status message “In a meeting until 10:30”/);
    // A skipped appointment is listed, changes nothing and is not counted.
    assert.match(await items.nth(1).textContent(), /^11:00\sAM\s*Skipped: no switch to “Deep work”\s*for “Budget review” until 11:30\sAM$/);
    assert.match(await items.nth(2).textContent(), /for a private appointment until 1:00\sPM/);
    assert.match(await items.nth(2).textContent(), /Call forwarding to voicemail/);
    assert.match(await items.nth(3).textContent(), /^1:00\sPM\s*Back to your own presence/);
    assert.equal(await page.getByTestId('preview-summary').textContent(), '3 changes planned for today');
    const first = (await settingsCalls(page, 'presence_preview')).length;

    // Move rule 2 up: the preview follows the new order.
    await page.getByRole('button', { name: 'Move rule 2 up' }).click();
    assert.equal(await focused(page), 'rule-down', 'focus stays with the moved rule');
    await waitForCalls(page, 'presence_preview', first + 1);
    const moved = (await settingsCalls(page, 'presence_preview')).at(-1).args.presence;
    assert.equal(moved.rules[0].subject_contains, 'lunch');
    assert.equal(moved.rules[1].profile, 'Deep work');

    // Typing is debounced: one call for the whole word.
    await page.getByTestId('plan').waitFor();
    const n = (await settingsCalls(page, 'presence_preview')).length;
    await page.getByTestId('rule-category').nth(1).focus();
    await page.keyboard.press('End');
    await page.keyboard.type('Deep', { delay: 20 });
    await waitForCalls(page, 'presence_preview', n + 1);
    await page.waitForTimeout(450);
    assert.equal((await settingsCalls(page, 'presence_preview')).length, n + 1);
    assert.equal((await settingsCalls(page, 'presence_preview')).at(-1).args.presence.rules[1].category, 'FocusDeep');

    // A rule now switching to Focus first: rendered.
    await page.getByTestId('rule').first().getByRole('combobox', { name: 'Switch to' }).selectOption('Focus');
    await page.waitForFunction(() => document.querySelector('[data-testid="plan-item"]')?.textContent.includes('Switch to “Focus”'));
    assert.equal((await settingsCalls(page, 'presence_preview')).at(-1).args.presence.rules[0].profile, 'Focus');

    // A failing preview shows inline.
    await page.evaluate(() => {
      window.__settingsMock.state.previewError = { code: 'invalid_settings', message: 'presence.rules.profile: rule 1: no profile' };
    });
    await page.getByTestId('default-rules').uncheck();
    await page.getByTestId('preview-error').waitFor();
    assert.match(await page.getByTestId('preview-error').textContent(), /The preview is not available: presence\.rules\.profile: rule 1: no profile/);
    assert.equal(await page.getByTestId('plan').count(), 0);
  });
});

test('call forwarding: provider fields, the keyring, and Test shows the result', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const provider = page.getByRole('combobox', { name: 'Phone system' });
    assert.deepEqual(await provider.locator('option').evaluateAll((os) => os.map((o) => o.value)), ['none', 'webex', 'ami', 'http', 'command']);
    await provider.focus();
    await provider.selectOption('webex');
    assert.equal(await focused(page), 'forwarding-provider', 'focus stays on the select');
    assert.equal(await page.getByRole('textbox', { name: 'API address' }).inputValue(), 'https://webexapis.com/v1');
    assert.match(await page.getByTestId('keyring-note').textContent(), /stored in the keyring/);
    assert.equal(await page.getByRole('spinbutton', { name: 'Timeout (seconds)' }).inputValue(), '10');
    // The secret goes to the keyring through its own command, never into the draft.
    const secret = page.getByTestId('forwarding-secret');
    await page.getByTestId('forwarding-secret-save').click();
    assert.equal(await page.getByTestId('forwarding-secret-status').textContent(), 'Enter the secret first');
    await secret.fill('webex-token-123');
    await page.getByTestId('forwarding-secret-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="forwarding-secret-status"]').textContent === 'Saved in the keyring');
    // With the draft's provider settings: the secret is tied to the host it is entered for.
    const saved = (await settingsCalls(page, 'forwarding_secret_save'))[0].args;
    assert.deepEqual({ provider: saved.provider, secret: saved.secret }, { provider: 'webex', secret: 'webex-token-123' });
    assert.equal(saved.forwarding.provider, 'webex');
    assert.equal(saved.forwarding.webex.base_url, 'https://webexapis.com/v1');
    assert.equal(await secret.inputValue(), '', 'the field is cleared once saved');

    // Test with missing fields: the fields say what is missing, nothing is invoked.
    await page.getByTestId('forwarding-test').click();
    assert.equal(await fieldOf(page, 'webex-person-id').getByTestId('field-error').textContent(), 'Required.');
    assert.equal(await focused(page), 'webex-person-id');
    assert.equal((await settingsCalls(page, 'forwarding_test')).length, 0);

    await page.getByTestId('webex-person-id').fill('Y2lzY29zcGFyazovL3VzL1BFT1BMRS9kYW5h');
    await page.getByTestId('webex-voicemail').fill('+49 30 9999');
    await page.getByTestId('forwarding-test').click();
    const result = page.getByTestId('forwarding-test-result');
    await page.waitForFunction(() => document.querySelector('[data-testid="forwarding-test-result"]').textContent.startsWith('Works'));
    assert.equal(await result.textContent(), 'Works: call forwarding read: off');
    assert.equal(await result.getAttribute('role'), 'status');
    assert.deepEqual((await settingsCalls(page, 'forwarding_test'))[0].args, {
      forwarding: {
        provider: 'webex',
        timeout_secs: 10,
        webex: { base_url: 'https://webexapis.com/v1', person_id: 'Y2lzY29zcGFyazovL3VzL1BFT1BMRS9kYW5h', voicemail: '+49 30 9999' },
      },
    });

    // A failure, from the result and from a rejected call.
    await page.evaluate(() => {
      window.__settingsMock.state.forwardingResult = { ok: false, message: 'Webex Calling refused the credentials: HTTP 401' };
    });
    await page.getByTestId('forwarding-test').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="forwarding-test-result"]').textContent.startsWith('Failed'));
    assert.equal(await result.textContent(), 'Failed: Webex Calling refused the credentials: HTTP 401');
    await page.evaluate(() => {
      window.__settingsMock.state.forwardingError = { code: 'keyring', message: 'no secret for provider:webex in the keyring' };
    });
    await page.getByTestId('forwarding-test').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="forwarding-test-result"]').textContent.includes('no secret'));
    assert.equal(await result.textContent(), 'Failed: no secret for provider:webex in the keyring');

    // Other providers bring their own fields and defaults.
    await provider.selectOption('ami');
    assert.equal(await page.getByTestId('ami-host').inputValue(), '127.0.0.1');
    assert.equal(await page.getByTestId('ami-port').inputValue(), '5038');
    assert.equal(await page.getByTestId('ami-family').inputValue(), 'CF');
    assert.match(await page.getByTestId('keyring-note').textContent(), /AMI secret is stored in the keyring/);
    await provider.selectOption('http');
    await page.getByTestId('http-on-url').fill('ftp://pbx.example/cf');
    assert.match(await fieldOf(page, 'http-on-url').getByTestId('field-error').textContent(), /https:\/\//);
    await provider.selectOption('command');
    assert.equal(await page.getByTestId('command-program').inputValue(), '');
  });
});

test('language: choosing Deutsch and saving re-renders the whole UI in German at once', async () => {
  await withSettingsApp({}, async ({ page }) => {
    await page.getByTestId('plan').waitFor();
    await page.getByRole('combobox', { name: 'Language' }).selectOption('de');
    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('#settings-title')?.textContent === 'Einstellungen');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    assert.equal((await settingsCalls(page, 'settings_save'))[0].args.config.app.language, 'de');
    assert.deepEqual(await texts(page.getByTestId('settings').getByRole('heading', { level: 3 })), [
      'Konto',
      'Konten',
      'Zu synchronisierende Kalender',
      'Präsenz-Automatik',
      'Anrufweiterleitung',
      'Allgemein',
    ]);
    assert.equal(await page.getByTestId('settings-status').textContent(), 'Gespeichert');
    assert.equal(await page.getByRole('combobox', { name: 'Sprache' }).inputValue(), 'de');
    assert.equal(await focused(page), 'settings-save', 'focus stays on Save');
    await page.getByTestId('plan').waitFor();
    assert.match(await page.getByTestId('plan-item').first().textContent(), /^10:00\s*Wechsel zu „Deep work“/);
    // The rest of the window too: header, status line, agenda.
    assert.equal(await page.getByTestId('sync-now').getAttribute('aria-label'), 'Jetzt synchronisieren');
    assert.match(await page.getByTestId('status').textContent(), /Synchronisiert 09:12/);
    await page.getByRole('button', { name: 'Zurück zu den Terminen' }).click();
    await page.getByTestId('agenda').waitFor();
    assert.equal(await page.locator('[data-testid="day"] h2 .day-title').first().textContent(), 'Heute');
    assert.equal(await page.getByTestId('open-settings').getAttribute('aria-label'), 'Einstellungen');
    assert.equal(await page.locator('#app > .app').count(), 1, 'one app, not two');
    // The old mount no longer listens: one agenda-changed, one refetch.
    const before = (await calls(page, 'agenda')).length;
    await page.evaluate(() => window.__presently.emit('agenda-changed'));
    await page.waitForFunction((n) => window.__presently.calls.filter((c) => c.cmd === 'agenda').length > n, before);
    await page.waitForTimeout(200);
    assert.equal((await calls(page, 'agenda')).length, before + 1);
  });
  // The language in the configuration applies from the start.
  const view = settingsView();
  view.config.app.language = 'de';
  await withSettingsApp({ settings: { view }, path: '/test.html', wait: '[data-testid="agenda"]' }, async ({ page }) => {
    await page.waitForFunction(() => document.documentElement.lang === 'de');
    await page.waitForFunction(() => document.querySelector('.day-title')?.textContent === 'Heute');
  });
});

test('keyboard: the Settings button, Tab through the controls, Escape and Back return to the agenda', async () => {
  await withSettingsApp({ path: '/test.html', wait: '[data-testid="agenda"]' }, async ({ page }) => {
    const button = page.getByRole('button', { name: 'Settings' });
    assert.equal(await button.count(), 1);
    let id = null;
    for (let i = 0; i < 5 && id !== 'open-settings'; i++) {
      await page.keyboard.press('Tab');
      id = await focused(page);
    }
    assert.equal(id, 'open-settings', 'the header button is reachable with Tab');
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    await page.getByTestId('section-account').waitFor();
    assert.equal(await focused(page), 'settings-title', 'focus moves to the page title');
    assert.equal(await page.getByTestId('open-settings').isVisible(), false);

    // Tab walks the controls in order.
    const seen = [];
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focused(page));
      if (seen.at(-1) === 'settings-save') break;
    }
    for (const t of ['settings-sign-out', 'settings-reconsent', 'window-days-back', 'interval', 'presence-enabled', 'profile-name', 'rule-category', 'add-rule', 'forwarding-provider', 'language', 'settings-save']) {
      assert.ok(seen.includes(t), `Tab reaches ${t} (${seen.join(', ')})`);
    }
    assert.ok(seen.indexOf('window-days-back') < seen.indexOf('presence-enabled') && seen.indexOf('presence-enabled') < seen.indexOf('language'));
    // Back sits above the title: Shift+Tab from the title.
    await page.getByTestId('settings').getByRole('heading', { level: 2 }).focus();
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(page), 'settings-back');
    await page.getByTestId('window-days-back').focus();
    assert.notEqual(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none', 'inputs show focus');
    // Space toggles a checkbox.
    await page.getByTestId('presence-enabled').focus();
    await page.keyboard.press('Space');
    assert.equal(await page.getByTestId('presence-enabled').isChecked(), false);
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), true);

    // Escape: back to the agenda, focus on the Settings button; the draft waits.
    await page.keyboard.press('Escape');
    await page.getByTestId('agenda').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('settings').isVisible(), false);
    assert.equal(await focused(page), 'open-settings');
    assert.equal(await page.evaluate(() => location.hash), '');
    await page.keyboard.press('Enter');
    await page.getByTestId('section-account').waitFor();
    assert.equal(await page.getByTestId('presence-enabled').isChecked(), false, 'the unsaved draft is still there');

    // Back: Shift+Tab to it, Enter.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(page), 'settings-back');
    await page.keyboard.press('Enter');
    await page.getByTestId('agenda').waitFor({ state: 'visible' });
    assert.equal(await focused(page), 'open-settings');

    // The tray's navigate event switches too.
    await page.evaluate(() => window.__presently.emit('navigate', 'settings'));
    await page.getByTestId('section-account').waitFor({ state: 'visible' });
    await page.evaluate(() => window.__presently.emit('navigate', 'agenda'));
    await page.getByTestId('agenda').waitFor({ state: 'visible' });
    assert.equal(await page.getByTestId('settings').isVisible(), false);
  });
});

test('account: Sign out and Sign in again', async () => {
  await withSettingsApp({ scenario: { agenda: agenda(), status: status({ account: { demo: false } }) } }, async ({ page }) => {
    const gets = (await settingsCalls(page, 'settings_get')).length;
    await page.evaluate(() => {
      window.__settingsMock.state.view = { ...window.__settingsMock.state.view, account: { signed_in: false, upn: null, display_name: null } };
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="account-who"]')?.textContent === 'Not signed in');
    assert.equal((await calls(page, 'sign_out')).length, 1);
    assert.ok((await settingsCalls(page, 'settings_get')).length > gets);
    assert.equal(await page.getByTestId('account-note').textContent(), 'Signed out.');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    await page.getByRole('button', { name: 'Sign in again' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="account-note"]').textContent.includes('browser'));
    assert.equal((await calls(page, 'sign_in')).length, 1);
    assert.equal(await page.getByTestId('account-note').textContent(), 'Continue in your browser to finish signing in.');
  });
});

test('accounts: listed with their users; Add account checks the name, then signs it in; Sign out and Remove a named one', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const list = page.getByTestId('account-list');
    assert.equal(await page.getByRole('heading', { level: 3, name: 'Accounts' }).count(), 1);
    assert.deepEqual(await list.getByTestId('account-entry').evaluateAll((els) => els.map((e) => e.dataset.account)), ['default']);
    // The default account is signed in and out in the Account section: no buttons here.
    assert.equal(await list.getByRole('button').count(), 0);

    // A name the engine would refuse never reaches Rust; the field says why.
    const name = page.getByLabel('Account name');
    await name.fill('Customer A');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByTestId('account-name-error').waitFor();
    assert.equal(await page.getByTestId('account-name-error').textContent(), 'Use 1 to 32 lowercase letters, digits and dashes, not starting with a dash.');
    assert.equal(await page.getByLabel('Account name').getAttribute('aria-invalid'), 'true');
    assert.equal((await settingsCalls(page, 'account_add')).length, 0);

    // Keyboard: type a valid name and press Enter.
    await page.getByLabel('Account name').fill('customer-a');
    await page.getByLabel('Account name').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="account-entry"]').length === 2);
    assert.deepEqual((await settingsCalls(page, 'account_add')).map((c) => c.args), [{ name: 'customer-a' }]);
    assert.equal(await page.getByTestId('accounts-note').textContent(), 'Continue in your browser to finish signing in.');
    const customer = list.locator('[data-account="customer-a"]');
    assert.equal(await customer.getByTestId('account-state').textContent(), 'Signed in');
    assert.match(await customer.textContent(), /customer-a@fabrikam\.com/);

    // Sign out, then Remove (offered once signed out).
    assert.equal(await customer.getByTestId('account-remove').count(), 0);
    await page.getByRole('button', { name: 'Sign out: customer-a' }).click();
    await customer.getByTestId('account-remove').waitFor();
    assert.equal(await customer.getByTestId('account-state').textContent(), 'Not signed in');
    assert.equal(await page.getByTestId('accounts-note').textContent(), 'Account customer-a signed out.');
    await audit(page, 'the Accounts section with a signed-out account');
    await page.getByRole('button', { name: 'Remove: customer-a' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="account-entry"]').length === 1);
    assert.deepEqual((await settingsCalls(page, 'account_remove')).map((c) => c.args), [{ name: 'customer-a' }]);
    assert.equal(await page.getByTestId('accounts-note').textContent(), 'Account customer-a removed.');

    // A sign-in that ends in Rust (accounts-changed) lists the accounts again.
    const gets = (await settingsCalls(page, 'settings_get')).length;
    await page.evaluate(() => window.__presently.emit('accounts-changed', 'customer-a'));
    await waitForCalls(page, 'settings_get', gets + 1);
  });
  // German, and demo mode offers no Add account.
  await withSettingsApp({ locale: 'de-DE', settings: { view: settingsView({ accounts_addable: false }) } }, async ({ page }) => {
    assert.equal(await page.getByRole('heading', { level: 3, name: 'Konten' }).count(), 1);
    assert.equal(await page.getByTestId('accounts-demo').textContent(), 'Im Demo-Modus können keine Konten hinzugefügt werden.');
    assert.equal(await page.getByTestId('account-add').count(), 0);
    assert.match(await page.getByTestId('account-entry').textContent(), /default \(Standardkonto\)/);
  });
});

test('settings_get failing shows the error with Retry', async () => {
  await withSettingsApp(
    { settings: { view: settingsView(), getError: { code: 'internal', message: 'the settings store is busy' } }, wait: '[data-testid="settings-load-error"]' },
    async ({ page }) => {
      assert.match(await page.getByTestId('settings-load-error').textContent(), /could not be loaded.*the settings store is busy/s);
      await page.evaluate(() => {
        window.__settingsMock.state.getError = null;
      });
      await page.getByTestId('settings-retry').click();
      await page.getByTestId('section-account').waitFor();
    },
  );
});

test('large text: the settings page does not overflow sideways at 200%', async () => {
  await withSettingsApp({ settings: { view: lockedView() } }, async ({ page }) => {
    await page.getByRole('combobox', { name: 'Language' }).focus();
    await page.evaluate(() => document.documentElement.style.setProperty('font-size', '200%'));
    const overflow = await page.evaluate(() => {
      const host = document.getElementById('settings-view');
      const bad = [];
      if (host.scrollWidth > host.clientWidth + 1) bad.push(`host ${host.scrollWidth} > ${host.clientWidth}`);
      const right = host.getBoundingClientRect().right;
      for (const el of host.querySelectorAll('label, .field-hint, .field-error, .lock-note, h2, h3, h4, h5, button, input, select')) {
        const r = el.getBoundingClientRect();
        if (r.width && r.right > right + 1) bad.push(`${el.tagName} ${el.textContent.slice(0, 30)}`);
      }
      return bad;
    });
    assert.deepEqual(overflow, []);
  });
});

test('screenshots: settings (light), locked with a policy error (dark, German)', async () => {
  const dir = ensureArtifacts();
  await withSettingsApp({ deviceScaleFactor: 2, viewport: { width: 400, height: 1400 } }, async ({ page }) => {
    await page.getByTestId('plan').waitFor();
    await page.screenshot({ path: join(dir, 'ui-settings.png') });
    await page.evaluate(() => {
      const host = document.getElementById('settings-view');
      const section = document.querySelector('[data-testid="section-presence"]');
      host.scrollTop += section.getBoundingClientRect().top - host.getBoundingClientRect().top - 8;
    });
    await page.screenshot({ path: join(dir, 'ui-settings-presence.png') });
  });
  const view = lockedView();
  view.policy.error = POLICY_ERROR;
  await withSettingsApp({ deviceScaleFactor: 2, colorScheme: 'dark', locale: 'de-DE', settings: { view }, viewport: { width: 400, height: 1000 } }, async ({ page }) => {
    const bg = await page.evaluate(() => getComputedStyle(document.querySelector('.settings-section')).backgroundColor);
    assert.notEqual(bg, 'rgb(255, 255, 255)', 'dark theme applies');
    await page.getByRole('spinbutton', { name: 'Tage zurück' }).fill('999');
    await page.screenshot({ path: join(dir, 'ui-settings-dark.png') });
  });
});

test('calendar subscriptions: add a feed, checked before it is added, saved with the configuration; locked by the organization', async () => {
  await withSettingsApp({}, async ({ page }) => {
    const group = page.getByTestId('subscriptions');
    assert.match(await group.textContent(), /No subscriptions/);
    // Nothing usable is added: no address, then one that is not https or webcal.
    await group.getByRole('textbox', { name: 'Name' }).fill('Holidays');
    await page.getByTestId('subscription-add').click();
    assert.match(await page.getByTestId('subscription-error').textContent(), /https:\/\/ or webcal:\/\//);
    await page.getByTestId('subscription-url').fill('ftp://example.com/h.ics');
    await page.getByTestId('subscription-add').click();
    assert.equal(await page.getByTestId('subscription').count(), 0);

    await page.getByTestId('subscription-url').fill('webcal://example.com/holidays.ics');
    await page.getByTestId('subscription-add').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="subscription"]').length === 1);
    assert.match(await page.getByTestId('subscription').textContent(), /Holidays.*webcal:\/\/example\.com\/holidays\.ics/);
    // The same name twice is refused.
    await page.getByTestId('subscription-name').fill('holidays');
    await page.getByTestId('subscription-url').fill('https://example.com/other.ics');
    await page.getByTestId('subscription-add').click();
    assert.match(await page.getByTestId('subscription-error').textContent(), /already in the list/);
    assert.equal(await page.getByTestId('subscription').count(), 1);

    await page.getByTestId('settings-save').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="settings-status"]').textContent === 'Saved');
    const saved = (await settingsCalls(page, 'settings_save')).at(-1).args.config;
    assert.deepEqual(saved.subscriptions, [{ name: 'Holidays', url: 'webcal://example.com/holidays.ics' }]);
    // Removed again: the list is empty in the draft.
    await page.getByRole('button', { name: 'Remove Holidays' }).click();
    assert.equal(await page.getByTestId('subscription').count(), 0);
    assert.equal(await page.getByTestId('settings-dirty').isVisible(), true);
  });
  const view = settingsView({ locked: ['subscriptions'], policy: { path: POLICY_PATH, group: 'Support', error: null } });
  view.config.subscriptions = [{ name: 'On-call rota', url: 'https://rota.contoso.com/support.ics', color: '#aa3300' }];
  await withSettingsApp({ settings: { view } }, async ({ page }) => {
    assert.equal(await page.getByRole('button', { name: 'Remove On-call rota' }).isDisabled(), true);
    assert.equal(await page.getByTestId('subscription-add').isDisabled(), true);
    assert.equal(await page.getByTestId('subscription-url').isDisabled(), true);
    assert.match(await page.getByTestId('subscriptions').textContent(), /Set by your organization/);
  });
});
