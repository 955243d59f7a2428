// The settings page's Account section: who is signed in, the application registration in
// use (and where it comes from), Sign out and Sign in again. Its note ("Signed out", an
// error) outlives re-renders, so the section keeps it.
import { toIpcError } from './api';
import { h, icon, type Child } from './dom';
import type { Kit } from './settings-form';
import type { SettingsView } from './types';

/** The section's renderer; `reload` fetches the settings again (after signing out). */
export function createAccountSection(kit: Kit, reload: () => void): (v: SettingsView) => HTMLElement {
  const { s, api, section } = kit;
  let accountNote: { text: string; tone: 'ok' | 'error' } | null = null;

  function row(label: string, value: Child, testid?: string): HTMLElement[] {
    return [h('dt', {}, label), h('dd', { 'data-testid': testid }, value)];
  }

  function accountSection(v: SettingsView): HTMLElement {
    const a = v.account;
    const app = v.application;
    const who = a.signed_in
      ? h('span', { class: 'who' }, a.display_name ? h('span', { class: 'who-name' }, a.display_name) : null, a.upn ? h('span', { class: 'who-upn muted selectable' }, a.upn) : null)
      : h('span', { class: 'muted' }, s.notSignedIn);
    const appRows = app
      ? [
          ...(app.display_name ? row(s.applicationName, app.display_name, 'app-name') : []),
          ...row(s.clientId, h('span', { class: 'mono selectable' }, app.client_id), 'app-client-id'),
          ...row(s.tenant, h('span', { class: 'selectable' }, app.tenant), 'app-tenant'),
          ...row(
            s.source,
            app.source === 'policy' && v.policy ? `${s.sources[app.source] ?? app.source} (${v.policy.path})` : (s.sources[app.source] ?? app.source),
            'app-source',
          ),
        ]
      : [];
    const signOut = h('button', { type: 'button', class: 'btn', 'data-testid': 'settings-sign-out', 'data-focus': 'sign-out' }, s.signOut);
    signOut.addEventListener('click', () => doSignOut());
    const reconsent = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'settings-reconsent', 'data-focus': 'reconsent', 'aria-describedby': 'settings-reconsent-hint', disabled: !app },
      icon('signin'),
      s.reconsent,
    );
    reconsent.addEventListener('click', () => doReconsent());
    return section(
      'account',
      s.account,
      h('dl', { class: 'settings-dl' }, ...row(s.signedInAs, who, 'account-who')),
      h('h4', { class: 'settings-sub' }, s.application),
      app ? h('dl', { class: 'settings-dl' }, ...appRows) : h('p', { class: 'muted', 'data-testid': 'no-application' }, s.noApplication),
      h('div', { class: 'settings-actions' }, a.signed_in ? signOut : null, reconsent),
      h('p', { class: 'field-hint', id: 'settings-reconsent-hint' }, s.reconsentHint),
      h(
        'p',
        { class: `account-note${accountNote ? ` tone-${accountNote.tone}` : ''}`, role: 'status', 'data-testid': 'account-note' },
        accountNote?.text ?? '',
      ),
    );
  }

  function setAccountNote(text: string, tone: 'ok' | 'error'): void {
    accountNote = { text, tone };
    const note = kit.el.querySelector('[data-testid="account-note"]');
    if (note) {
      note.className = `account-note tone-${tone}`;
      note.textContent = text;
    }
  }

  function doSignOut(): void {
    api.signOut().then(
      () => {
        setAccountNote(s.signedOut, 'ok');
        kit.focusAfterRender('reconsent');
        reload();
      },
      (e: unknown) => setAccountNote(toIpcError(e).message, 'error'),
    );
  }

  function doReconsent(): void {
    api.signIn().then(
      (r) => setAccountNote(r.browser_opened ? s.signInStarted : `${s.signInStarted} ${r.url}`, 'ok'),
      (e: unknown) => setAccountNote(toIpcError(e).message, 'error'),
    );
  }

  return accountSection;
}
