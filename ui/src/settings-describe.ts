// How the settings page words presence, forwarding and the preview's planned transitions:
// "Busy — In a call", "Forward to +49 …", a transition's local clock time. Pure functions of
// the strings and the locale, shared by the profile cards and the live preview.
import { formatTime } from './format';
import type { SettingsStrings } from './settings-i18n';

/** "Availability — activity" in the page's language (unknown values shown as they are). */
export function presenceLabel(s: SettingsStrings, availability: unknown, activity: unknown): string {
  const a = typeof availability === 'string' ? (s.availability[availability] ?? availability) : '';
  const act = typeof activity === 'string' ? s.activity[activity] : undefined;
  return act ? `${a} — ${act}` : a;
}

/** What a profile does to call forwarding. */
export function forwardingText(s: SettingsStrings, f: unknown): string {
  if (f === 'off') return s.forwardingOff;
  if (f === 'voicemail') return s.forwardingVoicemail;
  if (f && typeof f === 'object' && typeof (f as { number?: unknown }).number === 'string') return s.forwardingTo((f as { number: string }).number);
  return '';
}

/** "HH:MM" of an RFC 3339 local time, in the locale's clock, without converting zones. */
export function clockOf(local: string, locale: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!m) return local;
  return formatTime(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!), locale, 'UTC');
}

/** A UTC instant shown at the offset of `local` (the display zone's, that day). */
export function clockAt(utc: unknown, local: string, locale: string): string | null {
  if (typeof utc !== 'string') return null;
  const ms = Date.parse(utc);
  if (!Number.isFinite(ms)) return null;
  const m = /([+-])(\d{2}):(\d{2})$/.exec(local);
  const offset = m ? (m[1] === '-' ? -1 : 1) * (+m[2]! * 60 + +m[3]!) : 0;
  return formatTime(ms + offset * 60_000, locale, 'UTC');
}

/** One action of a planned transition, as a line of the preview. */
export function describeAction(s: SettingsStrings, a: unknown): string | null {
  if (!a || typeof a !== 'object') return null;
  const o = a as Record<string, unknown>;
  switch (o['action']) {
    case 'set_presence': {
      const p = (o['presence'] ?? {}) as Record<string, unknown>;
      return s.actSetPresence(presenceLabel(s, p['availability'], p['activity']));
    }
    case 'clear_presence':
      return s.actClearPresence;
    case 'set_status_message':
      return s.actSetStatus(typeof o['message'] === 'string' ? o['message'] : '');
    case 'restore_status_message':
      return s.actRestoreStatus;
    case 'set_forwarding':
      return s.actSetForwarding(forwardingText(s, o['forwarding']));
    case 'restore_forwarding':
      return s.actRestoreForwarding;
    case 'set_automatic_replies':
      return s.actSetReplies;
    case 'restore_automatic_replies':
      return s.actRestoreReplies;
    default:
      return typeof o['action'] === 'string' ? o['action'] : null;
  }
}
