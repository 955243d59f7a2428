// What the settings page knows of the configuration's shape: the choices the engine accepts
// (show-as values, Teams presence pairs, forwarding providers), the numeric limits, typed
// views of the tables types.ts leaves open, and the defaults a newly chosen provider starts
// with. Kept apart from the page so that validation and the sections share one source.
import type {
  AmiConfigJson,
  Availability,
  CommandConfigJson,
  ConfigJson,
  ForwardingConfigJson,
  HttpConfigJson,
  PresenceProfile,
  ProfileForwardingJson,
  SettingsView,
  ShowAs,
  TeamsPresenceJson,
  WebexConfigJson,
} from './types';

export const SHOW_AS: ShowAs[] = ['free', 'tentative', 'busy', 'oof', 'workingElsewhere'];

/** The availability/activity pairs setUserPreferredPresence accepts (engine PREFERRED_PAIRS). */
export const PREFERRED_PAIRS: ReadonlyArray<readonly [Availability, string]> = [
  ['Available', 'Available'],
  ['Busy', 'Busy'],
  ['DoNotDisturb', 'DoNotDisturb'],
  ['BeRightBack', 'BeRightBack'],
  ['Away', 'Away'],
  ['Offline', 'OffWork'],
];

/** The pairs setPresence (an app session) accepts (engine SESSION_PAIRS). */
export const SESSION_PAIRS: ReadonlyArray<readonly [Availability, string]> = [
  ['Available', 'Available'],
  ['Busy', 'InACall'],
  ['Busy', 'InAConferenceCall'],
  ['Away', 'Away'],
];

export const PROVIDERS: ReadonlyArray<ForwardingConfigJson['provider']> = ['none', 'webex', 'ami', 'http', 'command'];
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
export const AMI_FAMILIES = ['CF', 'CFB', 'CFU'];

export const LIMITS = {
  windowDaysBack: [0, 365],
  windowDaysAhead: [1, 730],
  intervalSecs: [30, 86400],
  agendaDays: [1, 14],
  priority: [0, 255],
  timeoutSecs: [1, 120],
  port: [1, 65535],
} as const;

/** A profile as the engine serialises it (PresenceProfile leaves `teams`/`forwarding` open). */
export type ProfileJson = Omit<PresenceProfile, 'teams' | 'forwarding'> & {
  teams?: TeamsPresenceJson | null;
  forwarding?: ProfileForwardingJson | null;
};

export const profilesOf = (c: ConfigJson): ProfileJson[] => c.presence.profiles as unknown as ProfileJson[];
export const builtinsOf = (v: SettingsView): ProfileJson[] => v.builtin_profiles as unknown as ProfileJson[];
export const webexOf = (f: ForwardingConfigJson) => f.webex as unknown as WebexConfigJson | null | undefined;
export const amiOf = (f: ForwardingConfigJson) => f.ami as unknown as AmiConfigJson | null | undefined;
export const httpOf = (f: ForwardingConfigJson) => f.http as unknown as HttpConfigJson | null | undefined;
export const commandOf = (f: ForwardingConfigJson) => f.command as unknown as CommandConfigJson | null | undefined;

/** What a newly chosen provider starts with (the engine's defaults). */
export function ensureProviderTable(f: ForwardingConfigJson): void {
  const put = <K extends 'webex' | 'ami' | 'http' | 'command'>(key: K, value: NonNullable<ForwardingConfigJson[K]>) => {
    if (!f[key]) f[key] = value;
  };
  switch (f.provider) {
    case 'webex':
      put('webex', { base_url: 'https://webexapis.com/v1', person_id: '', voicemail: '' } satisfies WebexConfigJson);
      break;
    case 'ami':
      put('ami', {
        host: '127.0.0.1',
        port: 5038,
        username: '',
        extension: '',
        voicemail: 'vmu{extension}',
        family: 'CF',
      } satisfies AmiConfigJson);
      break;
    case 'http':
      put('http', {
        extension: '',
        voicemail: 'voicemail',
        on: { method: 'POST', url: '' },
        off: { method: 'POST', url: '' },
      } satisfies HttpConfigJson);
      break;
    case 'command':
      put('command', { program: '', on_args: [], off_args: [], extension: '', voicemail: 'voicemail' } satisfies CommandConfigJson);
      break;
    case 'none':
      break;
  }
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** JSON with sorted keys and without null members: equal configurations compare equal. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) return x;
    return Object.fromEntries(
      Object.entries(x as Record<string, unknown>)
        .filter(([, val]) => val !== null && val !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

/** The names a rule can switch to: the built-in profiles and the user's. */
export function profileNames(draft: ConfigJson, view: SettingsView): string[] {
  const names = builtinsOf(view).map((p) => p.name);
  for (const p of profilesOf(draft)) if (p.name && !names.includes(p.name)) names.push(p.name);
  return names;
}

export function pairKnown(t: TeamsPresenceJson): boolean {
  const pairs = t.mode === 'session' ? SESSION_PAIRS : PREFERRED_PAIRS;
  return pairs.some(([a, b]) => a === t.availability && b === t.activity);
}
