// Pure date/time helpers. No DOM access here, so they are easy to reason about and test.
import type { AgendaItem, PresenceProblem, Status } from './types';
import type { Strings } from './i18n';

const DATE_KEY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A locale Intl accepts. WebKit reports POSIX locales such as "C" (LANG=C) as they are,
 * and Intl throws on those: fall back to en-US rather than fail to render.
 */
export function usableLocale(candidate: string | null | undefined): string {
  if (candidate) {
    try {
      return Intl.DateTimeFormat.supportedLocalesOf([candidate])[0] ?? 'en-US';
    } catch {
      // RangeError: not a BCP 47 tag.
    }
  }
  return 'en-US';
}

/** `tz` if this webview's Intl knows the zone, else undefined. */
export function validTimeZone(tz: string | null | undefined): string | undefined {
  if (!tz) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    return undefined;
  }
}

/**
 * The zone every time on screen is formatted in: the engine's display zone (`name`, from
 * the agenda or the status), never the webview's own idea of the local zone (WebKit reads
 * it its own way; it can differ from TZ and from the agenda's days). When this webview's
 * Intl does not know the name (its ICU older than the engine's zone data), the fixed offset
 * the engine used in `sample` (an RFC 3339 time it formatted) stands in; UTC only when
 * nothing is known yet.
 */
export function displayZone(name: string | null | undefined, sample?: string | null): string {
  const named = validTimeZone(name);
  if (named) return named;
  const m = sample ? /([+-])(\d{2}):(\d{2})$/.exec(sample) : null;
  if (m) {
    const sign = m[1] === '-' ? -1 : 1;
    const hours = Number(m[2]);
    const minutes = Number(m[3]);
    // Etc/GMT names count the other way: Etc/GMT-9 is UTC+9.
    const etc = minutes === 0 ? (hours === 0 ? 'Etc/GMT' : `Etc/GMT${sign > 0 ? '-' : '+'}${hours}`) : undefined;
    const offset = validTimeZone(etc) ?? validTimeZone(`${m[1]}${m[2]}:${m[3]}`);
    if (offset) return offset;
  }
  return 'UTC';
}

const keyFormatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar date ("YYYY-MM-DD") of an instant in a time zone (the engine's display zone). */
export function dateKeyOf(instant: Date | number, tz: string): string {
  const cacheKey = tz;
  let f = keyFormatters.get(cacheKey);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    keyFormatters.set(cacheKey, f);
  }
  const parts = f.formatToParts(instant);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** "YYYY-MM-DD" -> a Date at UTC midnight of that day (use with timeZone: 'UTC'). */
export function dateKeyToUtc(key: string): Date {
  const m = DATE_KEY.exec(key);
  if (!m) return new Date(NaN);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

export function addDays(key: string, n: number): string {
  const d = dateKeyToUtc(key);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Epoch ms of an RFC 3339 timestamp; NaN when unparseable. */
export function instant(iso: string): number {
  return Date.parse(iso);
}

export interface DayLabel {
  /** "Today", "Tomorrow" or e.g. "Thursday, November 26". */
  title: string;
  /** Short date shown next to Today/Tomorrow, e.g. "Tue, Nov 24"; empty otherwise. */
  subtitle: string;
}

export function dayLabel(key: string, todayKey: string, locale: string, s: Strings): DayLabel {
  const d = dateKeyToUtc(key);
  const short = new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    month: 'short',
    day: 'numeric',
    timeZone: 'UTC',
  }).format(d);
  if (key === todayKey) return { title: s.today, subtitle: short };
  if (key === addDays(todayKey, 1)) return { title: s.tomorrow, subtitle: short };
  const long = new Intl.DateTimeFormat(locale, {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    timeZone: 'UTC',
  }).format(d);
  return { title: long, subtitle: '' };
}

/** '2-digit' for locales with a 24 h clock, 'numeric' for 12 h ones. */
export function hourStyle(locale: string): '2-digit' | 'numeric' {
  const hc = new Intl.DateTimeFormat(locale, { hour: 'numeric' }).resolvedOptions().hourCycle;
  return hc === 'h23' || hc === 'h24' ? '2-digit' : 'numeric';
}

const timeFormatters = new Map<string, Intl.DateTimeFormat>();

function timeFormatter(locale: string, tz: string): Intl.DateTimeFormat {
  const k = `${locale}|${tz}`;
  let f = timeFormatters.get(k);
  if (!f) {
    // hour/minute only: the locale decides 12 h vs 24 h. 24 h clocks get a leading zero
    // ("08:30", as calendars in those locales show it); 12 h ones do not ("8:30 AM").
    f = new Intl.DateTimeFormat(locale, { hour: hourStyle(locale), minute: '2-digit', timeZone: tz });
    timeFormatters.set(k, f);
  }
  return f;
}

/** "10:00" (de) / "10:00 AM" (en-US). */
export function formatTime(ms: number, locale: string, tz: string): string {
  if (!Number.isFinite(ms)) return '';
  return timeFormatter(locale, tz).format(ms);
}

/** "10:00 – 10:30 AM" style range, by locale. */
export function formatTimeRange(startMs: number, endMs: number, locale: string, tz: string): string {
  if (!Number.isFinite(startMs)) return '';
  if (!Number.isFinite(endMs) || endMs <= startMs) return formatTime(startMs, locale, tz);
  return timeFormatter(locale, tz).formatRange(startMs, endMs);
}

/** Long form for the detail pane, e.g. "Tuesday, November 24, 10:00 – 10:30 AM". */
export function formatWhen(item: AgendaItem, locale: string, tz: string, s: Strings): string {
  if (item.all_day) {
    const start = dateKeyToUtc(item.start);
    const lastKey = addDays(item.end, -1);
    const opts: Intl.DateTimeFormatOptions = {
      weekday: 'long',
      month: 'long',
      day: 'numeric',
      timeZone: 'UTC',
    };
    const f = new Intl.DateTimeFormat(locale, opts);
    if (!DATE_KEY.test(item.end) || lastKey <= item.start) return `${f.format(start)} · ${s.allDay}`;
    return `${f.formatRange(start, dateKeyToUtc(lastKey))} · ${s.allDay}`;
  }
  const a = instant(item.start);
  const b = instant(item.end);
  if (!Number.isFinite(a)) return '';
  const f = new Intl.DateTimeFormat(locale, {
    weekday: 'long',
    month: 'long',
    day: 'numeric',
    hour: hourStyle(locale),
    minute: '2-digit',
    timeZone: tz,
  });
  return Number.isFinite(b) && b > a ? f.formatRange(a, b) : f.format(a);
}

/** Last-synced timestamp: time only when today, else short date + time. */
export function formatSyncedAt(ms: number, nowMs: number, locale: string, tz: string): string {
  if (dateKeyOf(ms, tz) === dateKeyOf(nowMs, tz)) return formatTime(ms, locale, tz);
  return new Intl.DateTimeFormat(locale, {
    month: 'short',
    day: 'numeric',
    hour: hourStyle(locale),
    minute: '2-digit',
    timeZone: tz,
  }).format(ms);
}

/** All-day first, then by start, end, subject. Returns a new array. */
export function sortItems(items: readonly AgendaItem[]): AgendaItem[] {
  const key = (i: AgendaItem) => (i.all_day ? -Infinity : instant(i.start));
  return [...items].sort((x, y) => {
    if (x.all_day !== y.all_day) return x.all_day ? -1 : 1;
    if (x.all_day && y.all_day) {
      if (x.start !== y.start) return x.start < y.start ? -1 : 1;
    } else {
      const d = (key(x) || 0) - (key(y) || 0);
      if (d) return d;
      const e = instant(x.end) - instant(y.end);
      if (e) return e;
    }
    return x.subject.localeCompare(y.subject);
  });
}

/** Does this item count as a meeting the user will attend (for now/next markers)? */
export function attends(i: AgendaItem): boolean {
  return !i.all_day && !i.cancelled && i.response !== 'declined' && i.show_as !== 'free';
}

export interface NowNext {
  current: Set<string>;
  next: { id: string; start: number } | null;
}

/** Running meetings and the next one to start (within `horizonMs`). */
export function nowAndNext(items: Iterable<AgendaItem>, nowMs: number, horizonMs = 12 * 3600_000): NowNext {
  const current = new Set<string>();
  let next: NowNext['next'] = null;
  for (const i of items) {
    if (!attends(i)) continue;
    const a = instant(i.start);
    const b = instant(i.end);
    if (!Number.isFinite(a)) continue;
    if (a <= nowMs && nowMs < b) current.add(i.id);
    else if (a > nowMs && a - nowMs <= horizonMs && (!next || a < next.start)) next = { id: i.id, start: a };
  }
  return { current, next };
}

/** "in 12 min", "in 1 h 5 min" (rounded up to whole minutes). */
export function formatCountdown(deltaMs: number, s: Strings): string {
  const mins = Math.max(1, Math.ceil(deltaMs / 60_000));
  if (mins < 60) return s.inMinutes(mins);
  return s.inHours(Math.floor(mins / 60), mins % 60);
}

/** Milliseconds until the next whole minute. */
export function msToNextMinute(nowMs: number): number {
  const r = 60_000 - (nowMs % 60_000);
  return r <= 0 ? 60_000 : r;
}

export interface StatusLine {
  text: string;
  tone: 'ok' | 'busy' | 'warn' | 'error' | 'muted';
}

export function statusLine(st: Status, nowMs: number, locale: string, s: Strings, tz: string): StatusLine {
  const last = st.sync.last_synced_at ? instant(st.sync.last_synced_at) : NaN;
  const lastText = Number.isFinite(last) ? formatSyncedAt(last, nowMs, locale, tz) : '';
  switch (st.sync.state) {
    case 'syncing':
      return { text: s.syncing, tone: 'busy' };
    case 'offline':
      return { text: lastText ? s.offlineSince(lastText) : s.offline, tone: 'warn' };
    case 'error':
      return {
        text: st.sync.message ? `${s.syncError}: ${st.sync.message}` : s.syncError,
        tone: 'error',
      };
    case 'idle':
      return lastText ? { text: s.syncedAt(lastText), tone: 'ok' } : { text: s.neverSynced, tone: 'muted' };
    case 'never':
    default:
      return { text: s.neverSynced, tone: 'muted' };
  }
}

/**
 * The status line's words for what presence automation keeps failing at, in the UI's
 * language: "Forwarding still on — switching it off failed, retrying (3 tries)". The last
 * error goes in `detail` (a tooltip). Null when nothing fails.
 */
export function presenceLine(problems: PresenceProblem[] | undefined, s: Strings): { text: string; detail: string | null } | null {
  const p = problems?.[0];
  if (!p) return null;
  const what = s.presenceResource[p.resource] ?? p.resource;
  const head = p.read
    ? s.presenceReadFailed(what)
    : p.purpose === 'restore'
      ? p.resource === 'forwarding' && p.switches_off
        ? s.presenceStillOn
        : s.presenceNotBack(what)
      : s.presenceNotSet(what);
  return {
    text: `${head} (${s.presenceTries(p.failures)})`,
    detail: p.error ? `${s.presenceLastError}: ${p.error}` : null,
  };
}

/** Accept only #rgb / #rrggbb colours from the server for CSS custom properties. */
export function safeColor(c: string | null | undefined): string | null {
  return c && /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(c) ? c : null;
}
