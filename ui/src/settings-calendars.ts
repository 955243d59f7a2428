// The settings page's Calendars section: which calendars to sync, the sync window and
// interval, and how many days the agenda shows. Turned off (but shown) when the
// organization disabled sync.
import { h, icon } from './dom';
import { nextId, type Kit } from './settings-form';
import { plusIcon, trashIcon } from './settings-icons';
import type { ConfigJson, SettingsView } from './types';

export function calendarsSection(kit: Kit, v: SettingsView, d: ConfigJson): HTMLElement {
  const { s, isLocked, changed, numberField, section, lockNote } = kit;
  const off = v.sync_method === 'disabled';
  const chosen = () => d.sync.calendars;
  const lockedCals = isLocked('sync.calendars');
  const boxes: HTMLElement[] = [];
  const known = new Set<string>();
  for (const c of v.calendars) {
    known.add(c.id);
    known.add(c.name);
    const id = nextId('cal');
    const input = h('input', { type: 'checkbox', class: 'checkbox', id, 'data-focus': `cal:${c.id}`, 'data-testid': 'calendar-choice', 'data-calendar': c.id, disabled: lockedCals });
    input.checked = chosen().includes(c.id) || chosen().includes(c.name);
    input.addEventListener('change', () => {
      const rest = chosen().filter((x) => x !== c.id && x !== c.name);
      d.sync.calendars = input.checked ? [...rest, c.id] : rest;
      changed();
    });
    const dot = h('span', { class: 'cal-dot', 'aria-hidden': 'true' });
    if (c.color && /^#[0-9a-f]{3,8}$/i.test(c.color)) dot.style.setProperty('--cal', c.color);
    boxes.push(h('div', { class: 'check-row' }, input, h('label', { for: id }, dot, c.name, c.primary ? h('span', { class: 'muted' }, ` (${s.primary})`) : null)));
  }
  // Entries of the configuration that match no known calendar stay visible, to uncheck.
  for (const x of chosen().filter((x) => !known.has(x))) {
    const id = nextId('cal');
    const input = h('input', { type: 'checkbox', class: 'checkbox', id, 'data-focus': `cal:${x}`, 'data-testid': 'calendar-choice', 'data-calendar': x, disabled: lockedCals });
    input.checked = true;
    input.addEventListener('change', () => {
      d.sync.calendars = input.checked ? [...chosen().filter((y) => y !== x), x] : chosen().filter((y) => y !== x);
      changed();
    });
    boxes.push(h('div', { class: 'check-row' }, input, h('label', { for: id }, s.unknownCalendar(x))));
  }
  const primary = v.calendars.find((c) => c.primary)?.name ?? null;
  const calHint = h('p', { class: 'field-hint', id: 'settings-cal-hint' }, v.calendars.length ? s.primaryOnly(primary) : s.noCalendars);
  const cals = h(
    'fieldset',
    { class: 'settings-group', 'aria-describedby': lockedCals ? 'settings-cal-hint lock-sync-calendars' : 'settings-cal-hint' },
    h('legend', { class: 'field-label' }, s.calendarsLegend),
    ...boxes,
    calHint,
    lockedCals ? lockNote('lock-sync-calendars') : null,
  );
  const sync = h(
    'fieldset',
    { class: 'settings-plain', disabled: off, 'data-testid': 'sync-controls' },
    cals,
    h(
      'fieldset',
      { class: 'settings-group' },
      h('legend', { class: 'field-label' }, s.windowLegend),
      h(
        'div',
        { class: 'field-row' },
        numberField({ key: 'sync.window_days_back', label: s.windowBack, min: 0, max: 365, testid: 'window-days-back' }, () => d.sync.window_days_back, (n) => (d.sync.window_days_back = n)),
        numberField({ key: 'sync.window_days_ahead', label: s.windowAhead, min: 1, max: 730, testid: 'window-days-ahead' }, () => d.sync.window_days_ahead, (n) => (d.sync.window_days_ahead = n)),
      ),
    ),
    numberField(
      { key: 'sync.interval_secs', label: s.interval, hint: s.intervalHint, min: 0.5, max: 1440, step: 'any', testid: 'interval' },
      () => d.sync.interval_secs / 60,
      (m) => (d.sync.interval_secs = Number.isFinite(m) ? Math.round(m * 60) : NaN),
    ),
    numberField({ key: 'agenda.days', label: s.agendaDays, min: 1, max: 14, testid: 'agenda-days' }, () => d.agenda.days, (n) => (d.agenda.days = n)),
  );
  return section(
    'calendars',
    s.calendars,
    off ? h('p', { class: 'settings-managed', 'data-testid': 'sync-disabled', role: 'note' }, icon('lock'), s.syncOff) : null,
    sync,
    // Feeds are not Microsoft 365: they stay editable when the organization turned sync off.
    subscriptionsGroup(kit, d),
  );
}

/** `[[subscriptions]]`: iCalendar feeds kept beside the Microsoft 365 calendars. */
function subscriptionsGroup(kit: Kit, d: ConfigJson): HTMLElement {
  const { s, isLocked, changed, iconButton, lockNote } = kit;
  const locked = isLocked('subscriptions');
  const list = () => d.subscriptions ?? [];
  const rows = list().map((feed, i) => {
    const dot = h('span', { class: 'cal-dot', 'aria-hidden': 'true' });
    if (feed.color && /^#[0-9a-f]{6}$/i.test(feed.color)) dot.style.setProperty('--cal', feed.color);
    return h(
      'li',
      { class: 'feed-row', 'data-testid': 'subscription' },
      h('span', { class: 'feed-name' }, dot, feed.name),
      h('span', { class: 'feed-url muted mono' }, feed.url),
      iconButton(
        s.removeSubscription(feed.name),
        `feed:${i}:remove`,
        trashIcon(),
        () => {
          d.subscriptions = list().filter((_, j) => j !== i);
          kit.focusAfterRender(list().length ? `feed:${Math.min(i, list().length - 1)}:remove` : 'feed-add', true);
          changed('all');
        },
        { disabled: locked, testid: 'subscription-remove' },
      ),
    );
  });
  const nameId = nextId('feed-name');
  const urlId = nextId('feed-url');
  const name = h('input', { type: 'text', class: 'input', id: nameId, autocomplete: 'off', disabled: locked, 'data-testid': 'subscription-name' });
  const url = h('input', { type: 'url', class: 'input mono', id: urlId, autocomplete: 'off', spellcheck: 'false', placeholder: 'webcal://', disabled: locked, 'data-testid': 'subscription-url' });
  const problem = h('p', { class: 'field-error', id: nextId('feed-error'), role: 'alert', 'data-testid': 'subscription-error' });
  problem.hidden = true;
  const add = h('button', { type: 'button', class: 'btn', 'data-focus': 'feed-add', 'data-testid': 'subscription-add', disabled: locked }, plusIcon(), s.addSubscription);
  add.addEventListener('click', () => {
    const feedName = name.value.trim();
    const address = url.value.trim();
    const say = (text: string) => {
      problem.textContent = text;
      problem.hidden = false;
      name.setAttribute('aria-describedby', problem.id);
      url.setAttribute('aria-describedby', problem.id);
    };
    if (!feedName || !/^(https|webcal):\/\/\S+$/i.test(address)) return say(s.subscriptionIncomplete);
    if (list().some((f) => f.name.trim().toLowerCase() === feedName.toLowerCase())) return say(s.subscriptionTaken(feedName));
    d.subscriptions = [...list(), { name: feedName, url: address }];
    kit.focusAfterRender('feed-add');
    changed('all');
  });
  return h(
    'fieldset',
    { class: 'settings-group', 'data-testid': 'subscriptions', 'aria-describedby': locked ? 'feeds-hint lock-subscriptions' : 'feeds-hint' },
    h('legend', { class: 'field-label' }, s.subscriptionsLegend),
    h('p', { class: 'field-hint', id: 'feeds-hint' }, s.subscriptionsHint),
    rows.length ? h('ul', { class: 'feed-list' }, ...rows) : h('p', { class: 'muted' }, s.noSubscriptions),
    h(
      'div',
      { class: 'field-row' },
      h('div', { class: 'field' }, h('label', { class: 'field-label', for: nameId }, s.subscriptionName), name),
      h('div', { class: 'field' }, h('label', { class: 'field-label', for: urlId }, s.subscriptionUrl), url),
    ),
    problem,
    add,
    locked ? lockNote('lock-subscriptions') : null,
  );
}
