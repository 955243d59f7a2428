// The settings page's own check of a draft, mirroring what the engine refuses (its
// check_template, check_placeholders, check_endpoint and ranges), so that a save never
// fails on something the page could have said next to the field. Pure: no DOM, no IPC.
import { amiOf, commandOf, httpOf, LIMITS, pairKnown, profileNames, profilesOf, webexOf } from './settings-config';
import type { SettingsStrings } from './settings-i18n';
import type { ConfigJson, SettingsView } from './types';

export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const intIn = (v: unknown, [min, max]: readonly [number, number]) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const blank = (v: unknown) => typeof v !== 'string' || v.trim() === '';

/** Status message templates know {end} and {subject} (engine check_template). */
export function templateProblem(t: string, s: SettingsStrings): string | null {
  if ([...t].length > 280) return s.tooLong(280);
  if (CONTROL.test(t)) return s.controlChars;
  let rest = t;
  for (let open = rest.indexOf('{'); open >= 0; open = rest.indexOf('{')) {
    const after = rest.slice(open + 1);
    const close = after.indexOf('}');
    if (close < 0) return s.unclosedBrace;
    const name = after.slice(0, close);
    if (name !== 'end' && name !== 'subject') return s.unknownPlaceholder(name, '{end}, {subject}');
    rest = after.slice(close + 1);
  }
  return null;
}

/** Forwarding templates: `{name}` with a lower-case name must be a known one (engine check_placeholders). */
export function placeholderProblem(t: string, known: string[], s: SettingsStrings): string | null {
  for (const m of t.matchAll(/\{([a-z_]+)\}/g)) {
    const name = m[1] ?? '';
    if (!known.includes(name)) return s.unknownPlaceholder(name, known.map((k) => `{${k}}`).join(', '));
  }
  return null;
}

/** https anywhere, http only to this computer (engine check_endpoint). */
export function endpointOk(url: string): boolean {
  try {
    const u = new URL(url.replace(/\{[a-z_]+\}/g, 'x'));
    if (u.protocol === 'https:') return !!u.hostname;
    if (u.protocol !== 'http:') return false;
    return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) || /^127\./.test(u.hostname);
  } catch {
    return false;
  }
}

/**
 * Messages for what the engine would refuse, keyed by the field's dotted key (list items by
 * index: `presence.rules.2.profile`). Locked keys are not checked: the user cannot change them.
 */
export function validate(draft: ConfigJson, view: SettingsView, s: SettingsStrings): Map<string, string> {
  const errors = new Map<string, string>();
  // Locked keys, and the sync section when the organization turned sync off, are not the user's to fix.
  const syncOff = view.sync_method === 'disabled';
  const locked = (key: string) =>
    view.locked.some((l) => key === l || key.startsWith(`${l}.`)) || (syncOff && (key.startsWith('sync.') || key === 'agenda.days'));
  const check = (key: string, ok: boolean, message: string) => {
    if (!ok && !locked(key) && !errors.has(key)) errors.set(key, message);
  };
  const range = (key: string, v: unknown, r: readonly [number, number]) => check(key, intIn(v, r), s.intRange(r[0], r[1]));

  range('sync.window_days_back', draft.sync.window_days_back, LIMITS.windowDaysBack);
  range('sync.window_days_ahead', draft.sync.window_days_ahead, LIMITS.windowDaysAhead);
  check('sync.interval_secs', intIn(draft.sync.interval_secs, LIMITS.intervalSecs), s.minutesRange);
  range('agenda.days', draft.agenda.days, LIMITS.agendaDays);

  const profiles = profilesOf(draft);
  profiles.forEach((p, i) => {
    const key = (f: string) => `presence.profiles.${i}.${f}`;
    const name = p.name ?? '';
    if (!locked('presence.profiles')) {
      if (name.trim() === '') check(key('name'), false, s.nameEmpty);
      else if ([...name].length > 64) check(key('name'), false, s.nameLong);
      else if (CONTROL.test(name)) check(key('name'), false, s.controlChars);
      else check(key('name'), profiles.findIndex((q) => q.name === name) === i, s.nameDuplicate);
    }
    range(key('priority'), p.priority, LIMITS.priority);
    if (p.teams) check(key('teams'), pairKnown(p.teams), s.badPair);
    if (typeof p.status_message === 'string') {
      const problem = templateProblem(p.status_message, s);
      check(key('status_message'), !problem, problem ?? '');
    }
    const fw = p.forwarding;
    if (fw && typeof fw === 'object') {
      const n = fw.number ?? '';
      check(key('forwarding'), n.trim() !== '', s.required);
      check(key('forwarding'), [...n.trim()].length <= 100, s.tooLong(100));
      check(key('forwarding'), !CONTROL.test(n), s.controlChars);
    }
  });

  const names = profileNames(draft, view);
  draft.presence.rules.forEach((r, i) => {
    if (typeof r.profile === 'string') check(`presence.rules.${i}.profile`, names.includes(r.profile), s.unknownProfile(r.profile));
  });

  const fw = draft.presence.forwarding;
  const F = 'presence.forwarding';
  if (fw.provider !== 'none') range(`${F}.timeout_secs`, fw.timeout_secs, LIMITS.timeoutSecs);
  const text = (key: string, v: unknown, max: number) => {
    check(key, !blank(v), s.required);
    if (typeof v === 'string') {
      check(key, [...v].length <= max, s.tooLong(max));
      check(key, !CONTROL.test(v), s.controlChars);
    }
  };
  const placeholders = (key: string, v: string, known: string[]) => {
    const problem = placeholderProblem(v, known, s);
    check(key, !problem, problem ?? '');
  };
  switch (fw.provider) {
    case 'webex': {
      const w = webexOf(fw);
      if (!w) break;
      check(`${F}.webex.base_url`, endpointOk(w.base_url ?? ''), s.badUrl);
      text(`${F}.webex.person_id`, w.person_id, 512);
      check(`${F}.webex.person_id`, !/[/?#]/.test(w.person_id ?? ''), s.noSlash);
      text(`${F}.webex.voicemail`, w.voicemail, 100);
      break;
    }
    case 'ami': {
      const a = amiOf(fw);
      if (!a) break;
      text(`${F}.ami.host`, a.host, 253);
      check(`${F}.ami.host`, !/\s/.test(a.host ?? ''), s.required);
      range(`${F}.ami.port`, a.port, LIMITS.port);
      text(`${F}.ami.username`, a.username, 80);
      text(`${F}.ami.extension`, a.extension, 80);
      text(`${F}.ami.voicemail`, a.voicemail, 100);
      placeholders(`${F}.ami.voicemail`, a.voicemail ?? '', ['extension']);
      break;
    }
    case 'http': {
      const c = httpOf(fw);
      if (!c) break;
      for (const part of ['on', 'off'] as const) {
        const r = c[part];
        const key = (k: string) => `${F}.http.${part}.${k}`;
        check(key('url'), endpointOk(r?.url ?? ''), s.badUrl);
        placeholders(key('url'), r?.url ?? '', ['target', 'extension']);
        for (const value of Object.values(r?.headers ?? {})) placeholders(key('headers'), value, ['target', 'extension', 'secret']);
        if (typeof r?.body === 'string' && r.body.trim() !== '') {
          let ok = true;
          try {
            JSON.parse(r.body);
          } catch {
            ok = false;
          }
          check(key('body'), ok, s.badJson);
        }
      }
      break;
    }
    case 'command': {
      const c = commandOf(fw);
      if (!c) break;
      check(`${F}.command.program`, !blank(c.program), s.required);
      for (const k of ['on_args', 'off_args'] as const) {
        for (const a of c[k] ?? []) placeholders(`${F}.command.${k}`, a, ['target', 'extension']);
      }
      break;
    }
    case 'none':
      break;
  }
  return errors;
}
