// Render functions: state in, DOM out. Server strings only ever reach the DOM as text nodes.
import { h, icon, type Child } from './dom';
import {
  dateKeyOf,
  dayLabel,
  formatCountdown,
  formatTime,
  formatTimeRange,
  formatWhen,
  instant,
  nowAndNext,
  safeColor,
  sortItems,
  type NowNext,
} from './format';
import type { CalendarInfo, FilterKey, Filters } from './filter';
import { FILTER_KEYS } from './filter';
import type { Strings } from './i18n';
import type { AgendaDay, AgendaItem, AgendaView, IpcError, Status } from './types';

export interface Ctx {
  locale: string;
  s: Strings;
  /** Time zone of the agenda (from the view), undefined = the engine's. */
  /** The engine's display zone: every time and "today" on screen is in it. */
  tz: string;
  now: number;
}

export interface Handlers {
  open(id: string): void;
  join(id: string): void;
  openInOutlook(id: string): void;
  closeDetail(): void;
  retry(): void;
  /** Rust copies the item's join URL to the clipboard. */
  copyJoinLink(id: string): void;
  /** "Don't switch for this one" (`skip`; `series`: the whole series), or its undo. */
  skip(id: string, series: boolean, skip: boolean): void;
}

/** What the last "Copy join link" in the detail pane came to (shown until it fades). */
export interface JoinCopy {
  id: string;
  ok: boolean;
  /** "Copied", or the error message. */
  text: string;
}

/** The attendee count worth showing: a positive whole number (absent, null or 0: nothing). */
export function attendeeCount(item: AgendaItem): number | null {
  const n = item.attendees;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : null;
}

const SHOW_AS = new Set(['free', 'tentative', 'busy', 'oof', 'workingElsewhere']);

function isPrivate(i: AgendaItem): boolean {
  return i.sensitivity === 'private' || i.sensitivity === 'confidential';
}

function isRecurring(i: AgendaItem): boolean {
  return i.type === 'occurrence' || i.type === 'exception';
}

function canJoin(i: AgendaItem): boolean {
  return !!i.join_url && !i.cancelled;
}

function chip(cls: string, label: string, ic?: Parameters<typeof icon>[0]): HTMLElement {
  return h('span', { class: `chip ${cls}` }, ic ? icon(ic) : null, label);
}

function responseChip(i: AgendaItem, s: Strings): HTMLElement | null {
  switch (i.response) {
    case 'tentativelyAccepted':
      return chip('chip-tentative', s.tentative, 'question');
    case 'notResponded':
      return chip('chip-pending', s.notResponded);
    case 'declined':
      return chip('chip-declined', s.declined, 'x');
    default:
      return null;
  }
}

function timeColumn(item: AgendaItem, day: AgendaDay, ctx: Ctx): { el: HTMLElement; label: string } {
  if (item.all_day) {
    return { el: h('span', { class: 'time all-day' }, h('span', { class: 't-start' }, ctx.s.allDay)), label: ctx.s.allDay };
  }
  const a = instant(item.start);
  const b = instant(item.end);
  const startsToday = dateKeyOf(a, ctx.tz) === day.date;
  const endsToday = Number.isFinite(b) && dateKeyOf(b - 1, ctx.tz) === day.date;
  const top = startsToday ? formatTime(a, ctx.locale, ctx.tz) : '…';
  const bottom = endsToday ? formatTime(b, ctx.locale, ctx.tz) : '…';
  return {
    el: h(
      'span',
      { class: 'time' },
      h('span', { class: 't-start' }, top),
      h('span', { class: 'sr-only' }, ' – '),
      h('span', { class: 't-end' }, bottom),
    ),
    label: formatTimeRange(a, b, ctx.locale, ctx.tz),
  };
}

function renderItem(
  item: AgendaItem,
  day: AgendaDay,
  ctx: Ctx,
  nn: NowNext,
  multiCalendar: boolean,
  on: Handlers,
): HTMLLIElement {
  const { s } = ctx;
  const showAs = SHOW_AS.has(item.show_as) ? item.show_as : 'unknown';
  const isNow = nn.current.has(item.id);
  const isNext = nn.next?.id === item.id;
  const past = !item.all_day && instant(item.end) <= ctx.now;
  const classes = [
    'item',
    `show-${showAs}`,
    item.cancelled && 'is-cancelled',
    item.response === 'declined' && 'is-declined',
    isNow && 'is-now',
    isNext && 'is-next',
    past && 'is-past',
  ].filter(Boolean);

  const time = timeColumn(item, day, ctx);
  const marker = isNow
    ? h('span', { class: 'pill pill-now', 'data-testid': 'now-marker' }, s.now)
    : isNext && nn.next
      ? h('span', { class: 'pill pill-next', 'data-testid': 'next-marker' }, formatCountdown(nn.next.start - ctx.now, s))
      : null;

  const meta: Child[] = [];
  if (item.cancelled) meta.push(chip('chip-cancelled', s.cancelled));
  const resp = responseChip(item, s);
  if (resp) meta.push(resp);
  if (isPrivate(item)) meta.push(chip('chip-private', s.private, 'lock'));
  if (item.presence && item.skipped) {
    meta.push(skippedChip(item.presence, s));
  } else if (item.presence) {
    const c = chip('chip-presence', item.presence);
    c.setAttribute('title', `${s.presenceSwitch}: ${item.presence}`);
    c.setAttribute('data-testid', 'presence-marker');
    meta.push(c);
  }
  if (isRecurring(item)) {
    meta.push(h('span', { class: 'meta-icon', title: s.recurring }, icon('repeat'), h('span', { class: 'sr-only' }, s.recurring)));
  }
  if (item.location) {
    meta.push(h('span', { class: 'meta-text location' }, icon('pin'), h('span', { class: 'truncate' }, item.location)));
  } else if ((item.online_provider || item.join_url) && !(canJoin(item) && !past)) {
    meta.push(h('span', { class: 'meta-text' }, icon('video'), s.onlineMeeting));
  }
  // Only an agenda merged across two or more accounts names them (one account's has no
  // `account`), so a user with one account sees no change.
  if (item.account) {
    meta.push(
      h(
        'span',
        { class: 'meta-text account', 'data-testid': 'item-account' },
        icon('user'),
        h('span', { class: 'sr-only' }, `${s.account}: `),
        h('span', { class: 'truncate' }, item.account),
      ),
    );
  }
  if (multiCalendar) {
    const dot = h('span', { class: 'cal-dot', 'aria-hidden': 'true' });
    const c = safeColor(item.calendar_color);
    if (c) dot.style.setProperty('--cal', c);
    meta.push(h('span', { class: 'meta-text calendar' }, dot, item.calendar_name));
  }

  const main = h(
    'button',
    { type: 'button', class: 'item-main', 'data-action': 'open', 'aria-haspopup': 'dialog' },
    h('span', { class: 'bar', 'aria-hidden': 'true', title: s.showAs[showAs] ?? '' }),
    time.el,
    h(
      'span',
      { class: 'item-body' },
      h(
        'span',
        { class: 'subject-row' },
        h('span', { class: 'subject', 'data-testid': 'item-subject' }, item.subject),
        marker,
      ),
      meta.length ? h('span', { class: 'meta' }, ...meta) : null,
    ),
    h('span', { class: 'sr-only' }, `, ${s.showAs[showAs] ?? ''}`),
  );
  main.addEventListener('click', () => on.open(item.id));

  const li = h('li', { class: classes.join(' '), 'data-testid': 'item', 'data-id': item.id }, main);
  if (canJoin(item) && !past) {
    const join = h(
      'button',
      {
        type: 'button',
        class: 'join-btn',
        'data-testid': 'join',
        'aria-label': `${s.joinMeeting}: ${item.subject}`,
        'data-tip': s.joinMeeting,
      },
      icon('video'),
      h('span', { class: 'join-label' }, s.join),
    );
    join.addEventListener('click', () => on.join(item.id));
    li.appendChild(join);
  }
  return li;
}

function nowLine(ctx: Ctx): HTMLLIElement {
  const t = formatTime(ctx.now, ctx.locale, ctx.tz);
  return h(
    'li',
    { class: 'now-line', 'data-testid': 'now-line', 'aria-label': ctx.s.nowLine(t) },
    h('span', { class: 'now-time', 'aria-hidden': 'true' }, t),
    h('span', { class: 'now-rule', 'aria-hidden': 'true' }),
  );
}

function renderDay(day: AgendaDay, ctx: Ctx, todayKey: string, nn: NowNext, multi: boolean, on: Handlers): HTMLElement {
  const label = dayLabel(day.date, todayKey, ctx.locale, ctx.s);
  const headingId = `day-${day.date}`;
  const isToday = day.date === todayKey;
  const section = h(
    'section',
    { class: `day${isToday ? ' is-today' : ''}`, 'data-testid': 'day', 'data-date': day.date, 'aria-labelledby': headingId },
    h(
      'h2',
      { class: 'day-header', id: headingId },
      h('span', { class: 'day-title' }, label.title),
      label.subtitle ? h('span', { class: 'day-sub' }, label.subtitle) : null,
    ),
  );
  const items = sortItems(day.items);
  if (!items.length) {
    section.appendChild(
      h('p', { class: 'empty-day', 'data-testid': 'empty-day' }, ctx.s.nothingScheduled),
    );
    return section;
  }
  const ul = h('ul', { class: 'items', role: 'list', 'aria-label': `${label.title}: ${ctx.s.itemCount(items.length)}` });
  let lineDone = !isToday;
  for (const item of items) {
    if (!lineDone && !item.all_day && instant(item.start) > ctx.now) {
      ul.appendChild(nowLine(ctx));
      lineDone = true;
    }
    ul.appendChild(renderItem(item, day, ctx, nn, multi, on));
  }
  if (!lineDone) ul.appendChild(nowLine(ctx));
  section.appendChild(ul);
  return section;
}

/** `multiCalendar`: label items with their calendar (default: when the view has more than one). */
/** The agenda, with its first `dayCount` days (all of them by default); the rest can be
 * added later with `appendAgendaDays`. */
export function renderAgenda(view: AgendaView, ctx: Ctx, on: Handlers, multiCalendar?: boolean, dayCount?: number): HTMLElement {
  return h(
    'div',
    { class: 'agenda', 'data-testid': 'agenda', role: 'region', 'aria-label': ctx.s.agenda },
    ...renderDays(view, ctx, on, multiCalendar, 0, dayCount ?? view.days.length),
  );
}

/** Adds the days from `from` on to an agenda `renderAgenda` drew with fewer. */
export function appendAgendaDays(agenda: HTMLElement, view: AgendaView, ctx: Ctx, on: Handlers, multiCalendar: boolean | undefined, from: number): void {
  agenda.append(...renderDays(view, ctx, on, multiCalendar, from, view.days.length));
}

function renderDays(view: AgendaView, ctx: Ctx, on: Handlers, multiCalendar: boolean | undefined, from: number, to: number): HTMLElement[] {
  const todayKey = dateKeyOf(ctx.now, ctx.tz);
  const all = view.days.flatMap((d) => d.items);
  const nn = nowAndNext(all, ctx.now);
  const multi = multiCalendar ?? new Set(all.map((i) => i.calendar)).size > 1;
  return view.days.slice(from, to).map((d) => renderDay(d, ctx, todayKey, nn, multi, on));
}

/**
 * How many of the agenda's first days fill a window `heightPx` tall (at least one): a first
 * frame draws those and the rest follow it. Each row counts with less than its least height
 * (a day's header 1.5rem, an item or "nothing scheduled" 2rem), so the count errs on drawing
 * more than shows, never on leaving the window's bottom empty.
 */
export function daysFillingHeight(view: AgendaView, heightPx: number, remPx: number): number {
  let px = 0;
  for (let i = 0; i < view.days.length; i++) {
    const items = view.days[i]?.items.length ?? 0;
    px += (1.5 + 2 * Math.max(items, 1)) * remPx;
    if (px >= heightPx) return i + 1;
  }
  return view.days.length;
}

export interface FilterHandlers {
  toggle(key: FilterKey): void;
  toggleCalendar(id: string): void;
}

function filterLabel(key: FilterKey, s: Strings): string {
  switch (key) {
    case 'declined':
      return s.declined;
    case 'tentative':
      return s.tentative;
    case 'notResponded':
      return s.notResponded;
    case 'allDay':
      return s.allDay;
    case 'cancelled':
      return s.cancelled;
  }
}

/** The filter toggles: one per kind of item, and one per calendar when there is more than one. */
export function renderFilterToggles(f: Filters, calendars: CalendarInfo[], s: Strings, on: FilterHandlers): HTMLElement {
  const buttons: HTMLElement[] = FILTER_KEYS.map((key) => {
    const b = h(
      'button',
      { type: 'button', class: 'filter-toggle', 'aria-pressed': String(f[key]), 'data-testid': `filter-${key}`, 'data-filter': key },
      h('span', { class: 'filter-check', 'aria-hidden': 'true' }),
      filterLabel(key, s),
    );
    b.addEventListener('click', () => on.toggle(key));
    return b;
  });
  if (calendars.length > 1) {
    for (const cal of calendars) {
      const dot = h('span', { class: 'cal-dot', 'aria-hidden': 'true' });
      const c = safeColor(cal.color);
      if (c) dot.style.setProperty('--cal', c);
      const b = h(
        'button',
        {
          type: 'button',
          class: 'filter-toggle filter-calendar',
          'aria-pressed': String(!f.hiddenCalendars.includes(cal.id)),
          'data-testid': 'filter-calendar',
          'data-calendar': cal.id,
          title: `${s.calendar}: ${cal.name}`,
        },
        dot,
        h('span', { class: 'filter-name' }, cal.name),
      );
      b.addEventListener('click', () => on.toggleCalendar(cal.id));
      buttons.push(b);
    }
  }
  return h('div', { class: 'filter-toggles', role: 'group', 'aria-label': s.filters, 'data-testid': 'filter-toggles' }, ...buttons);
}

export function renderLoading(s: Strings): HTMLElement {
  const rows = [0, 1, 2, 3].map(() =>
    h('div', { class: 'skeleton-row' }, h('span', { class: 'sk sk-time' }), h('span', { class: 'sk sk-text' })),
  );
  return h(
    'div',
    { class: 'state loading', 'data-testid': 'loading', role: 'status', 'aria-busy': 'true' },
    h('span', { class: 'sr-only' }, s.loading),
    h('div', { class: 'sk sk-heading', 'aria-hidden': 'true' }),
    ...rows,
  );
}

export function renderSignedOut(s: Strings): HTMLElement {
  return h(
    'div',
    { class: 'state signed-out', 'data-testid': 'signed-out' },
    h('div', { class: 'state-icon' }, icon('signin')),
    h('h2', { class: 'state-title' }, s.notSignedIn),
    h('p', { class: 'state-text' }, s.notSignedInText),
  );
}

export function renderFirstSync(status: Status | null, who: string | null, s: Strings, retrySync: () => void): HTMLElement {
  const failed = status && (status.sync.state === 'error' || status.sync.state === 'offline');
  let problem: HTMLElement | null = null;
  if (failed) {
    const retry = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'first-sync-retry' }, icon('sync'), s.tryAgain);
    retry.addEventListener('click', () => retrySync());
    problem = h(
      'div',
      { class: 'notice notice-error', role: 'alert', 'data-testid': 'first-sync-error' },
      h('p', { class: 'notice-text' }, s.firstSyncFailed, ' ', h('span', { class: 'selectable' }, status.sync.message ?? s.syncError)),
      retry,
    );
  }
  return h(
    'section',
    { class: 'state first-sync', 'data-testid': 'first-sync', 'aria-labelledby': 'first-sync-title', 'aria-busy': failed ? null : 'true' },
    h('div', { class: 'state-icon' }, failed ? icon('alert') : h('span', { class: 'spinner', 'aria-hidden': 'true' })),
    h('h2', { class: 'state-title', id: 'first-sync-title', tabindex: '-1' }, s.firstSyncTitle),
    who ? h('p', { class: 'state-text', 'data-testid': 'signed-in-as' }, s.signedInAs(who)) : null,
    failed ? problem : h('p', { class: 'state-text', role: 'status' }, s.firstSyncText),
  );
}

export function renderError(err: IpcError, s: Strings, on: Handlers): HTMLElement {
  const retry = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'retry' }, icon('sync'), s.retry);
  retry.addEventListener('click', () => on.retry());
  return h(
    'div',
    { class: `state error code-${err.code.replace(/[^a-z_]/gi, '')}`, 'data-testid': 'error', role: 'alert' },
    h('div', { class: 'state-icon' }, icon(err.code === 'network' ? 'offline' : 'alert')),
    h('h2', { class: 'state-title' }, s.errorTitles[err.code] ?? s.errorFallback),
    h('p', { class: 'state-text error-message', 'data-testid': 'error-message' }, err.message),
    retry,
  );
}

/** Meeting services by `online_provider`, named as they name themselves (not translated). */
const PROVIDERS: Record<string, string> = {
  teamsForBusiness: 'Microsoft Teams',
  skypeForBusiness: 'Skype for Business',
  skypeForConsumer: 'Skype',
  zoom: 'Zoom',
  googleMeet: 'Google Meet',
  webex: 'Webex',
  goTo: 'GoTo Meeting',
};

/** The online meeting's row: its service, and the meeting ID and passcode to type in. */
function meetingRow(item: AgendaItem, s: Strings): HTMLElement | null {
  const provider = item.online_provider ? PROVIDERS[item.online_provider] : undefined;
  const code = (label: string, value: string | null | undefined, testid: string): HTMLElement | null =>
    value
      ? h(
          'span',
          { class: 'meeting-code' },
          h('span', { class: 'muted' }, `${label}: `),
          h('span', { class: 'mono selectable', 'data-testid': testid }, value),
        )
      : null;
  const id = code(s.meetingId, item.meeting_id, 'meeting-id');
  const passcode = code(s.meetingPasscode, item.meeting_passcode, 'meeting-passcode');
  if (!provider && !id && !passcode) return null;
  const row = detailRow(
    'video',
    s.onlineMeeting,
    provider ? h('span', { class: 'meeting-provider', 'data-testid': 'meeting-provider' }, provider) : null,
    id,
    passcode,
  );
  row.setAttribute('data-testid', 'meeting-row');
  return row;
}

/** "No switching": the user skipped this appointment for presence automation. The chip's
 *  text is its accessible name; the profile it would have switched to is in its title. */
function skippedChip(profile: string, s: Strings): HTMLElement {
  const c = chip('chip-skipped', s.skippedBadge);
  c.setAttribute('title', s.skippedTitle(profile));
  c.setAttribute('data-testid', 'skipped-marker');
  return c;
}

/** "Don't switch for this one" (and for the series), or its undo: only for an appointment
 *  presence automation switches for. */
function skipActions(item: AgendaItem, s: Strings, on: Handlers): HTMLElement[] {
  if (!item.presence) return [];
  const button = (label: string, testid: string, series: boolean, skip: boolean): HTMLElement => {
    const b = h('button', { type: 'button', class: 'btn', 'data-testid': testid }, label);
    b.addEventListener('click', () => on.skip(item.id, series, skip));
    return b;
  };
  if (item.skipped) return [button(s.unskip, 'unskip', false, false)];
  const out = [button(s.skipOne, 'skip', false, true)];
  if (item.series_id) out.push(button(s.skipSeries, 'skip-series', true, true));
  return out;
}

function detailRow(ic: Parameters<typeof icon>[0], label: string, ...value: Child[]): HTMLElement {
  return h(
    'div',
    { class: 'detail-row' },
    h('dt', {}, icon(ic), h('span', { class: 'sr-only' }, label)),
    h('dd', {}, ...value),
  );
}

export function renderDetail(item: AgendaItem, ctx: Ctx, on: Handlers, joinCopy: JoinCopy | null = null): HTMLElement {
  const { s } = ctx;
  const back = h('button', { type: 'button', class: 'icon-btn detail-back', 'data-testid': 'detail-close', 'aria-label': s.back, title: s.close }, icon('back'));
  back.addEventListener('click', () => on.closeDetail());

  const status: Child[] = [];
  if (item.cancelled) status.push(chip('chip-cancelled', s.cancelled));
  const resp = responseChip(item, s);
  if (resp) status.push(resp);
  if (item.response === 'organizer') status.push(chip('chip-neutral', s.organizerYou));
  if (isPrivate(item)) status.push(chip('chip-private', s.private, 'lock'));
  if (isRecurring(item)) status.push(chip('chip-neutral', s.recurring, 'repeat'));
  if (item.presence && item.skipped) status.push(skippedChip(item.presence, s));
  const showAs = SHOW_AS.has(item.show_as) ? item.show_as : 'unknown';
  status.push(h('span', { class: `chip chip-showas show-${showAs}` }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), s.showAs[showAs] ?? ''));

  const rows: Child[] = [detailRow('clock', s.when, formatWhen(item, ctx.locale, ctx.tz, s))];
  if (item.location) rows.push(detailRow('pin', s.where, item.location));
  const meeting = meetingRow(item, s);
  if (meeting) rows.push(meeting);
  const count = attendeeCount(item);
  const attendees = count
    ? h('span', { class: 'attendees muted', 'data-testid': 'attendees' }, s.attendeeCount(count, count.toLocaleString(ctx.locale)))
    : null;
  if (item.organizer || item.organizer_email) {
    rows.push(
      detailRow(
        'user',
        s.organizer,
        h('span', { class: 'organizer' }, item.organizer ?? item.organizer_email ?? ''),
        attendees,
        item.organizer && item.organizer_email ? h('span', { class: 'muted email' }, item.organizer_email) : null,
      ),
    );
  } else if (attendees) {
    rows.push(detailRow('user', s.attendees, attendees));
  }
  const dot = h('span', { class: 'cal-dot', 'aria-hidden': 'true' });
  const c = safeColor(item.calendar_color);
  if (c) dot.style.setProperty('--cal', c);
  rows.push(detailRow('calendar', s.calendar, dot, item.calendar_name));
  if (item.account) rows.push(detailRow('user', s.account, h('span', { 'data-testid': 'detail-account' }, item.account)));

  const actions: Child[] = [];
  if (canJoin(item)) {
    const join = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'join' }, icon('video'), s.joinMeeting);
    join.addEventListener('click', () => on.join(item.id));
    actions.push(join);
  }
  let copyStatus: HTMLElement | null = null;
  if (item.join_url) {
    const copy = h('button', { type: 'button', class: 'btn', 'data-testid': 'copy-join-link' }, icon('copy'), s.copyJoinLink);
    copy.addEventListener('click', () => on.copyJoinLink(item.id));
    actions.push(copy);
    // Always present while the pane shows a join link, so a later change is announced.
    const fb = joinCopy && joinCopy.id === item.id ? joinCopy : null;
    copyStatus = h(
      'p',
      {
        class: `copy-status${fb && !fb.ok ? ' is-error' : ''}`,
        'data-testid': 'copy-join-status',
        role: 'status',
        'aria-live': 'polite',
      },
      fb?.text ?? '',
    );
  }
  // A calendar subscription's event opens its own page (the feed's URL), not Outlook.
  const fromFeed = item.calendar.startsWith('ics:');
  const open = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'open', disabled: !item.web_link },
    icon('external'),
    fromFeed ? s.openEventPage : s.openInOutlook,
  );
  open.addEventListener('click', () => on.openInOutlook(item.id));
  actions.push(open);
  const skip = skipActions(item, s, on);

  const titleId = 'detail-title';
  return h(
    'div',
    { class: 'detail-inner', 'data-id': item.id },
    h('div', { class: 'detail-top' }, back),
    h('h2', { class: 'detail-title', id: titleId, tabindex: '-1' }, item.subject),
    h('div', { class: 'chips' }, ...status),
    h('dl', { class: 'detail-rows' }, ...rows),
    item.categories.length
      ? h('div', { class: 'chips categories', 'aria-label': s.categories }, ...item.categories.map((cat) => chip('chip-neutral', cat)))
      : null,
    item.body_preview
      ? h('section', { class: 'notes', 'aria-label': s.notes }, h('p', { class: 'body-preview', 'data-testid': 'body-preview' }, item.body_preview))
      : null,
    h('div', { class: 'actions' }, ...actions),
    copyStatus,
    skip.length ? h('div', { class: 'presence-actions', role: 'group', 'aria-label': s.presenceAutomation }, ...skip) : null,
  );
}
