// The UI language the user chose in the settings (`app.language`), remembered in
// localStorage so that the first paint, before the configuration is loaded, is already in it;
// and the agenda length the configuration asks for. app.ts reads both at start.
import type { ConfigJson, SettingsView } from './types';

export type LanguageChoice = ConfigJson['app']['language'];

/** localStorage key remembering `app.language`, so the first paint is already in it. */
const LANGUAGE_KEY = 'presently.language.v1';

export function storedLanguage(): LanguageChoice {
  try {
    const v = localStorage.getItem(LANGUAGE_KEY);
    return v === 'en' || v === 'de' ? v : 'system';
  } catch {
    return 'system';
  }
}

export function rememberLanguage(choice: LanguageChoice): void {
  try {
    if (choice === 'en' || choice === 'de') localStorage.setItem(LANGUAGE_KEY, choice);
    else localStorage.removeItem(LANGUAGE_KEY);
  } catch {
    // No storage: the language follows the configuration once it is loaded.
  }
}

/**
 * The locale the UI uses: the system's, unless a language was chosen in the settings (then
 * the system's own tag when it is of that language, e.g. de-AT, else the bare language).
 */
export function uiLocale(system: string | undefined, choice: LanguageChoice = storedLanguage()): string {
  if (choice !== 'en' && choice !== 'de') return system ?? '';
  const sys = (system ?? '').toLowerCase();
  return sys === choice || sys.startsWith(`${choice}-`) ? (system ?? choice) : choice;
}

/** The agenda length the configuration asks for, when it is a usable one. */
export function agendaDays(view: SettingsView | null | undefined): number | null {
  const d = view?.config.agenda.days;
  return typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 14 ? d : null;
}

