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
import { checkClientId, checkTenant } from './registration';
import type { AgendaDay, AgendaItem, AgendaView, DeviceCode, ErrorHelp, IpcError, SignInInfo, Status } from './types';

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
  if (item.presence) {
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
        title: s.joinMeeting,
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
export function renderAgenda(view: AgendaView, ctx: Ctx, on: Handlers, multiCalendar?: boolean): HTMLElement {
  const todayKey = dateKeyOf(ctx.now, ctx.tz);
  const all = view.days.flatMap((d) => d.items);
  const nn = nowAndNext(all, ctx.now);
  const multi = multiCalendar ?? new Set(all.map((i) => i.calendar)).size > 1;
  return h(
    'div',
    { class: 'agenda', 'data-testid': 'agenda', role: 'region', 'aria-label': ctx.s.agenda },
    ...view.days.map((d) => renderDay(d, ctx, todayKey, nn, multi, on)),
  );
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

// ---- sign-in -----------------------------------------------------------------

export type SignInFlow = 'browser' | 'device';

/** Where the sign-in on the consent screen stands. */
export type SignInState =
  | { kind: 'idle' }
  | { kind: 'starting'; flow: SignInFlow }
  | { kind: 'browser'; url: string; opened: boolean }
  | { kind: 'device'; code: DeviceCode; until: number }
  | { kind: 'error'; flow: SignInFlow; error: IpcError };

export interface SignInHandlers {
  start(flow: SignInFlow): void;
  cancel(): void;
  copyCode(code: string, button: HTMLButtonElement, codeEl: HTMLElement): void;
  /** Copy a value shown in a read-only field (falls back to selecting the field). */
  copyText(text: string, button: HTMLButtonElement, field: HTMLTextAreaElement): void;
  /** The first-launch form: a field changed (no re-render). */
  editRegistration(field: RegField, value: string): void;
  /** The first-launch form: a field was left, its incomplete value now counts as a problem. */
  touchRegistration(field: RegField): void;
  /** Both fields are valid: hand them to Rust (`set_registration`). */
  saveRegistration(): void;
  /** Edit the user's own registration ("Change" in the details list). */
  changeRegistration(): void;
  cancelRegistration(): void;
  /** Rust opens the administrator's guide; the page never opens URLs. */
  openAdminGuide(): void;
}

export type RegField = 'clientId' | 'tenant';

/** The first-launch form's state (kept by the app, so re-renders keep what was typed). */
export interface RegistrationForm {
  clientId: string;
  tenant: string;
  /** Fields whose incomplete or empty value is shown as a problem (left once, or submitted). */
  touched: Record<RegField, boolean>;
  saving: boolean;
  /** `set_registration` refused. */
  error: IpcError | null;
  /** Opened with "Change" over a working registration (Cancel goes back). */
  editing: boolean;
}

export function emptyRegistrationForm(): RegistrationForm {
  return { clientId: '', tenant: '', touched: { clientId: false, tenant: false }, saving: false, error: null, editing: false };
}

/** No application yet, and the user may provide one (not the organization's policy, not demo). */
export function needsRegistration(info: SignInInfo | null): boolean {
  return !!info && !info.configured && info.source !== 'policy' && info.source !== 'demo';
}

/** The problem to show for a field, or null. */
export function registrationProblem(field: RegField, value: string, touched: boolean, s: Strings): string | null {
  const check = field === 'clientId' ? checkClientId(value) : checkTenant(value);
  if (check === 'ok') return null;
  if (check === 'invalid') return field === 'clientId' ? s.clientIdInvalid : s.tenantInvalid;
  if (!touched) return null;
  if (check === 'empty') return field === 'clientId' ? s.clientIdEmpty : s.tenantEmpty;
  return field === 'clientId' ? s.clientIdPartial : s.tenantInvalid;
}

const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';

function detailsList(info: SignInInfo, s: Strings): HTMLElement {
  const row = (label: string, ...value: Child[]) => [h('dt', {}, label), h('dd', {}, ...value)];
  const friendly = s.tenantNames[info.tenant.toLowerCase()];
  const rows: HTMLElement[] = [];
  if (info.source === 'policy') {
    rows.push(...row(s.application, h('span', { 'data-testid': 'policy-note' }, s.providedByOrg(info.application_name ?? null))));
  } else if (info.application_name) {
    rows.push(...row(s.application, h('span', { 'data-testid': 'application-name' }, info.application_name)));
  }
  rows.push(
    ...row(
      s.organization,
      friendly ?? h('span', { class: 'mono', 'data-testid': 'tenant' }, info.tenant),
      friendly ? h('span', { class: 'muted mono', 'data-testid': 'tenant' }, ` (${info.tenant})`) : null,
    ),
  );
  if (info.client_id) rows.push(...row(s.applicationId, h('span', { class: 'mono', 'data-testid': 'client-id' }, info.client_id)));
  const authority = info.authority_host.replace(/\/+$/, '');
  if (authority && authority !== DEFAULT_AUTHORITY) {
    rows.push(...row(s.signInService, h('span', { class: 'mono', 'data-testid': 'authority' }, authority)));
  }
  return h('dl', { class: 'sign-in-details', 'data-testid': 'sign-in-details', 'aria-label': s.signInDetails }, ...rows);
}

function waitingLine(s: Strings): HTMLElement {
  return h(
    'p',
    { class: 'waiting', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    h('span', {}, s.waitingForSignIn),
  );
}

function cancelButton(s: Strings, on: SignInHandlers): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'btn', 'data-testid': 'sign-in-cancel' }, s.cancel);
  b.addEventListener('click', () => on.cancel());
  return b;
}

/** The consent screen (and its waiting and error states) shown while nobody is signed in. */
export function renderSignIn(
  info: SignInInfo | null,
  st: SignInState,
  ctx: Ctx,
  on: SignInHandlers,
  reg: RegistrationForm = emptyRegistrationForm(),
): HTMLElement {
  if (st.kind === 'browser') return renderBrowserWaiting(st.url, st.opened, ctx.s, on);
  if (st.kind === 'device') return renderDeviceCode(st.code, st.until, ctx, on);
  const { s } = ctx;
  const policyWarning = info?.policy_error
    ? h(
        'div',
        { class: 'notice notice-warn policy-error', 'data-testid': 'policy-error', role: 'note' },
        icon('alert'),
        h('p', { class: 'notice-text' }, s.policyError, ' ', h('span', { class: 'selectable' }, info.policy_error)),
      )
    : null;
  if (needsRegistration(info) || (reg.editing && info?.source !== 'policy')) {
    return h(
      'section',
      { class: 'state sign-in', 'data-testid': 'sign-in-screen', 'aria-labelledby': 'sign-in-title' },
      h('div', { class: 'state-icon' }, icon('calendar')),
      h('h2', { class: 'state-title', id: 'sign-in-title', tabindex: '-1' }, s.signInTitle),
      policyWarning,
      renderRegistrationForm(reg, s, on),
    );
  }
  const configured = info?.configured ?? true;
  const starting = st.kind === 'starting' ? st.flow : null;

  const primary = h(
    'button',
    {
      type: 'button',
      class: st.kind === 'error' ? 'btn btn-link' : 'btn btn-primary btn-large',
      'data-testid': 'sign-in',
      disabled: !configured || starting !== null,
      'aria-busy': starting === 'browser' ? 'true' : null,
    },
    starting === 'browser' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : icon('signin'),
    starting === 'browser' ? s.starting : s.signInWithMicrosoft,
  );
  primary.addEventListener('click', () => on.start('browser'));
  const device = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-link',
      'data-testid': 'sign-in-device',
      disabled: !configured || starting !== null,
      'aria-busy': starting === 'device' ? 'true' : null,
    },
    starting === 'device' ? s.starting : s.useCode,
  );
  device.addEventListener('click', () => on.start('device'));

  let problem: HTMLElement | null = null;
  if (st.kind === 'error') {
    problem = renderSignInProblem(st.error, st.flow, s, on);
  } else if (!configured) {
    problem = h('p', { class: 'notice notice-warn', 'data-testid': 'not-configured', role: 'note' }, icon('alert'), s.notConfigured);
  }

  return h(
    'section',
    { class: 'state sign-in', 'data-testid': 'sign-in-screen', 'aria-labelledby': 'sign-in-title' },
    h('div', { class: 'state-icon' }, icon('calendar')),
    h('h2', { class: 'state-title', id: 'sign-in-title', tabindex: '-1' }, s.signInTitle),
    h('p', { class: 'state-text' }, s.signInText),
    policyWarning,
    problem,
    // After an error "Try again" repeats that flow; the other one stays on offer.
    h(
      'div',
      { class: 'sign-in-actions' },
      st.kind === 'error' && st.flow === 'browser' ? null : primary,
      st.kind === 'error' && st.flow === 'device' ? null : device,
    ),
    info ? detailsList(info, s) : null,
    info?.source === 'user' && info.configured ? changeButton(s, on) : null,
  );
}

function changeButton(s: Strings, on: SignInHandlers): HTMLElement {
  const b = h(
    'button',
    { type: 'button', class: 'btn btn-link btn-small', 'data-testid': 'change-registration', 'aria-label': `${s.changeRegistration}: ${s.signInDetails}` },
    s.changeRegistration,
  );
  b.addEventListener('click', () => on.changeRegistration());
  return h('div', { class: 'details-actions' }, b);
}

function adminGuideButton(s: Strings, on: SignInHandlers): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'btn btn-link', 'data-testid': 'admin-guide' }, icon('external'), s.adminGuide);
  b.addEventListener('click', () => on.openAdminGuide());
  return b;
}

/** The error help worth using (the event payload comes straight from Rust: check its shape). */
function usableHelp(err: IpcError): ErrorHelp | null {
  const help = err.help;
  if (!help || typeof help !== 'object') return null;
  if (typeof help.title !== 'string' || !help.title || typeof help.next_step !== 'string') return null;
  return help;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

/** A failed sign-in: the help the engine found for it (title, next step, what to send or add), or the message. */
function renderSignInProblem(err: IpcError, flow: SignInFlow, s: Strings, on: SignInHandlers): HTMLElement {
  const retry = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'sign-in-retry' }, icon('sync'), s.tryAgain);
  retry.addEventListener('click', () => on.start(flow));
  const cls = `notice notice-error code-${err.code.replace(/[^a-z_]/gi, '')}`;
  const help = usableHelp(err);
  if (!help) {
    return h(
      'div',
      { class: cls, 'data-testid': 'sign-in-error', role: 'alert' },
      h('h3', { class: 'notice-title' }, icon('alert'), s.signInErrorTitles[err.code] ?? s.signInFailed),
      h('p', { class: 'notice-text selectable', 'data-testid': 'sign-in-error-message' }, err.message),
      retry,
    );
  }
  const consentUrl = str(help.admin_consent_url);
  const redirectUri = str(help.redirect_uri);
  const aadsts = str(help.aadsts);
  return h(
    'div',
    { class: `${cls} has-help`, 'data-testid': 'sign-in-error', role: 'alert' },
    h('h3', { class: 'notice-title', 'data-testid': 'sign-in-error-title' }, icon('alert'), help.title),
    h('p', { class: 'notice-text', 'data-testid': 'sign-in-next-step' }, help.next_step),
    consentUrl ? copyField('admin-consent-url', s.adminConsentLabel, consentUrl, s, on) : null,
    redirectUri ? copyField('redirect-uri', s.redirectUriLabel, redirectUri, s, on) : null,
    aadsts
      ? h('p', { class: 'notice-text small muted' }, `${s.errorCode}: `, h('span', { class: 'mono selectable', 'data-testid': 'aadsts' }, aadsts))
      : null,
    err.message && err.message !== help.title
      ? h(
          'details',
          { class: 'notice-details small' },
          h('summary', {}, s.technicalDetails),
          h('p', { class: 'selectable', 'data-testid': 'sign-in-error-details' }, err.message),
        )
      : null,
    h('div', { class: 'notice-actions' }, retry, consentUrl || redirectUri ? adminGuideButton(s, on) : null),
  );
}

/** A labelled, read-only, selectable value with a Copy button. */
function copyField(name: string, label: string, value: string, s: Strings, on: SignInHandlers): HTMLElement {
  const id = `diag-${name}`;
  const field = h(
    'textarea',
    {
      id,
      class: 'copy-field mono selectable',
      'data-testid': name,
      readonly: true,
      spellcheck: 'false',
      autocomplete: 'off',
      // The tray window is narrow: about 26 monospace characters a line; longer ones scroll.
      rows: Math.min(5, Math.max(1, Math.ceil(value.length / 26))),
    },
    value,
  );
  const button = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': `copy-${name}`, 'aria-describedby': `${id}-label` },
    icon('copy'),
    h('span', { class: 'copy-label', 'aria-live': 'polite' }, s.copy),
  );
  button.addEventListener('click', () => on.copyText(value, button, field));
  return h(
    'div',
    { class: 'copy-block' },
    h('label', { class: 'copy-block-label', for: id, id: `${id}-label` }, label),
    h('div', { class: 'copy-row' }, field, button),
  );
}

/** First launch without an application: the IDs the administrator gave, checked as they are typed. */
function renderRegistrationForm(reg: RegistrationForm, s: Strings, on: SignInHandlers): HTMLFormElement {
  const fields = (['clientId', 'tenant'] as const).map((key) => registrationField(key, reg, s, on));
  const save = h(
    'button',
    {
      type: 'submit',
      class: 'btn btn-primary btn-large',
      'data-testid': 'reg-save',
      disabled: reg.saving,
      'aria-busy': reg.saving ? 'true' : null,
    },
    reg.saving ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null,
    reg.saving ? s.saving : s.saveRegistration,
  );
  let cancel: HTMLButtonElement | null = null;
  if (reg.editing) {
    cancel = h('button', { type: 'button', class: 'btn', 'data-testid': 'reg-cancel' }, s.cancel);
    cancel.addEventListener('click', () => on.cancelRegistration());
  }
  const form = h(
    'form',
    { class: 'reg-form', 'data-testid': 'registration-form', 'aria-labelledby': 'reg-title', novalidate: true },
    h('h3', { class: 'reg-title', id: 'reg-title' }, s.regTitle),
    h('p', { class: 'reg-text' }, s.regText),
    ...fields.map((f) => f.el),
    reg.error
      ? h('p', { class: 'notice notice-error reg-error selectable', 'data-testid': 'reg-error', role: 'alert' }, reg.error.message)
      : null,
    h('div', { class: 'sign-in-actions reg-actions' }, save, cancel, adminGuideButton(s, on)),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (reg.saving) return;
    const bad = fields.filter((f) => !f.submit());
    if (bad.length) bad[0]?.input.focus();
    else on.saveRegistration();
  });
  return form;
}

function registrationField(
  key: RegField,
  reg: RegistrationForm,
  s: Strings,
  on: SignInHandlers,
): { el: HTMLElement; input: HTMLInputElement; submit(): boolean } {
  const id = key === 'clientId' ? 'reg-client-id' : 'reg-tenant';
  let touched = reg.touched[key];
  const input = h('input', {
    type: 'text',
    id,
    name: id,
    class: 'field-input mono',
    'data-testid': id,
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    required: true,
    value: reg[key],
  });
  const hint = h('p', { class: 'field-hint', id: `${id}-hint` }, key === 'clientId' ? s.clientIdHint : s.tenantHint);
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'data-testid': `${id}-error`, 'aria-live': 'polite' });
  const show = (): boolean => {
    const problem = registrationProblem(key, input.value, touched, s);
    if (error.textContent !== (problem ?? '')) error.textContent = problem ?? '';
    error.hidden = !problem;
    input.setAttribute('aria-invalid', String(!!problem));
    input.setAttribute('aria-describedby', problem ? `${id}-error ${id}-hint` : `${id}-hint`);
    return !problem && (key === 'clientId' ? checkClientId(input.value) : checkTenant(input.value)) === 'ok';
  };
  const touch = () => {
    if (touched) return;
    touched = true;
    on.touchRegistration(key);
  };
  input.addEventListener('input', () => {
    on.editRegistration(key, input.value);
    show();
  });
  input.addEventListener('blur', () => {
    // Leaving an empty field untouched (tabbing through) is not a mistake yet.
    if (input.value.trim()) touch();
    show();
  });
  show();
  return {
    el: h(
      'div',
      { class: 'field' },
      h('label', { class: 'field-label', for: id }, key === 'clientId' ? s.clientIdLabel : s.tenantLabel),
      input,
      error,
      hint,
    ),
    input,
    submit: () => {
      touch();
      return show();
    },
  };
}

function renderBrowserWaiting(url: string, opened: boolean, s: Strings, on: SignInHandlers): HTMLElement {
  const urlText = h('p', { class: 'url-text selectable', 'data-testid': 'sign-in-url' }, url);
  const link = opened
    ? h('details', { class: 'fallback' }, h('summary', {}, s.browserLinkSummary), h('p', { class: 'muted' }, s.browserLinkText), urlText)
    : h('div', { class: 'fallback' }, h('p', { class: 'notice notice-warn', role: 'alert' }, s.browserNotOpened), urlText);
  const device = h('button', { type: 'button', class: 'btn btn-link', 'data-testid': 'sign-in-device' }, s.useCode);
  device.addEventListener('click', () => on.start('device'));
  return h(
    'section',
    { class: 'state sign-in', 'data-testid': 'sign-in-waiting', 'aria-labelledby': 'sign-in-title' },
    h('div', { class: 'state-icon' }, icon('external')),
    h('h2', { class: 'state-title', id: 'sign-in-title', tabindex: '-1' }, s.browserTitle),
    opened ? h('p', { class: 'state-text' }, s.browserText) : null,
    waitingLine(s),
    link,
    h('div', { class: 'sign-in-actions' }, cancelButton(s, on), device),
  );
}

function renderDeviceCode(code: DeviceCode, until: number, ctx: Ctx, on: SignInHandlers): HTMLElement {
  const { s } = ctx;
  const codeEl = h(
    'output',
    { class: 'user-code selectable', 'data-testid': 'user-code', 'aria-label': `${s.userCode}: ${code.user_code.split('').join(' ')}` },
    code.user_code,
  );
  const copy = h('button', { type: 'button', class: 'btn', 'data-testid': 'copy-code' }, icon('copy'), h('span', { class: 'copy-label', 'aria-live': 'polite' }, s.copyCode));
  copy.addEventListener('click', () => on.copyCode(code.user_code, copy, codeEl));
  return h(
    'section',
    { class: 'state sign-in device', 'data-testid': 'device-code', 'aria-labelledby': 'sign-in-title' },
    h('div', { class: 'state-icon' }, icon('signin')),
    h('h2', { class: 'state-title', id: 'sign-in-title', tabindex: '-1' }, s.deviceTitle),
    h(
      'ol',
      { class: 'device-steps' },
      h('li', {}, h('span', {}, s.deviceOpen), h('span', { class: 'url-text selectable', 'data-testid': 'verification-uri' }, code.verification_uri)),
      h('li', {}, h('span', {}, s.deviceEnter), h('span', { class: 'code-row' }, codeEl, copy)),
    ),
    h('p', { class: 'muted small', 'data-testid': 'code-expiry' }, s.codeValidUntil(formatTime(until, ctx.locale, ctx.tz))),
    waitingLine(s),
    h('div', { class: 'sign-in-actions' }, cancelButton(s, on)),
  );
}

/** Signed in, nothing synced yet: shown until the first sync fills the agenda. */
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
  const open = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'open', disabled: !item.web_link },
    icon('external'),
    s.openInOutlook,
  );
  open.addEventListener('click', () => on.openInOutlook(item.id));
  actions.push(open);

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
  );
}
