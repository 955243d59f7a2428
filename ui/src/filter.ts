// Agenda filters and search: pure functions, plus the remembered filter settings.
import type { AgendaItem, AgendaView } from './types';

/** Which kinds of items are shown. Every kind is shown by default. */
export interface Filters {
  declined: boolean;
  tentative: boolean;
  notResponded: boolean;
  allDay: boolean;
  cancelled: boolean;
  /** Calendar ids whose items are hidden. */
  hiddenCalendars: string[];
}

export type FilterKey = 'declined' | 'tentative' | 'notResponded' | 'allDay' | 'cancelled';
export const FILTER_KEYS: readonly FilterKey[] = ['declined', 'tentative', 'notResponded', 'allDay', 'cancelled'];

export const STORAGE_KEY = 'presently.filters.v1';

export function defaultFilters(): Filters {
  return { declined: true, tentative: true, notResponded: true, allDay: true, cancelled: true, hiddenCalendars: [] };
}

/** Reads remembered filters; anything missing, corrupt or of the wrong type falls back to the default. */
export function parseFilters(raw: string | null | undefined): Filters {
  const f = defaultFilters();
  if (!raw) return f;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return f;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return f;
  const o = data as Record<string, unknown>;
  for (const k of FILTER_KEYS) if (typeof o[k] === 'boolean') f[k] = o[k];
  if (Array.isArray(o['hiddenCalendars'])) {
    f.hiddenCalendars = [...new Set(o['hiddenCalendars'].filter((c): c is string => typeof c === 'string'))];
  }
  return f;
}

export function loadFilters(storage: Pick<Storage, 'getItem'> | null = safeStorage()): Filters {
  try {
    return parseFilters(storage?.getItem(STORAGE_KEY));
  } catch {
    return defaultFilters();
  }
}

export function saveFilters(f: Filters, storage: Pick<Storage, 'setItem'> | null = safeStorage()): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(f));
  } catch {
    // Storage full or unavailable: the choice lasts for this session only.
  }
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** True when the filters hide nothing (and there is no search text). */
export function isDefault(f: Filters, query = ''): boolean {
  return FILTER_KEYS.every((k) => f[k]) && f.hiddenCalendars.length === 0 && !query.trim();
}

function matchesQuery(i: AgendaItem, q: string): boolean {
  if (!q) return true;
  return [i.subject, i.location, i.organizer, i.organizer_email].some((v) => !!v && v.toLocaleLowerCase().includes(q));
}

export function itemVisible(i: AgendaItem, f: Filters, q: string): boolean {
  if (!f.declined && i.response === 'declined') return false;
  if (!f.tentative && i.response === 'tentativelyAccepted') return false;
  if (!f.notResponded && i.response === 'notResponded') return false;
  if (!f.allDay && i.all_day) return false;
  if (!f.cancelled && i.cancelled) return false;
  if (f.hiddenCalendars.includes(i.calendar)) return false;
  return matchesQuery(i, q);
}

/**
 * The view with only the items the filters and the search text (case-insensitive substring
 * of subject, location or organizer name/address) let through. Days stay, possibly empty.
 */
export function applyFilters(view: AgendaView, f: Filters, query = ''): AgendaView {
  const q = query.trim().toLocaleLowerCase();
  if (isDefault(f, q)) return view;
  return { ...view, days: view.days.map((d) => ({ ...d, items: d.items.filter((i) => itemVisible(i, f, q)) })) };
}

export interface CalendarInfo {
  id: string;
  name: string;
  color: string | null;
}

/** The calendars in the view, in order of first appearance. */
export function calendarsOf(view: AgendaView): CalendarInfo[] {
  const seen = new Map<string, CalendarInfo>();
  for (const d of view.days) {
    for (const i of d.items) {
      if (!seen.has(i.calendar)) seen.set(i.calendar, { id: i.calendar, name: i.calendar_name ?? '', color: i.calendar_color });
    }
  }
  return [...seen.values()];
}
