// The settings page's Accounts section (two or more accounts: a work tenant and a
// customer's): every account with its user and whether it is signed in; "Add account"
// (a name, then the browser sign-in a first sign-in uses, for that account); Sign in and
// Sign out of a named account; Remove once it is signed out. The default account is
// signed in and out in the Account section above. Its note outlives re-renders.
import { toIpcError } from './api';
import { h } from './dom';
import type { Kit } from './settings-form';
import type { AccountEntry, SettingsView } from './types';

/** An account name as the engine accepts it (`check_account_name`). */
export function validAccountName(name: string): boolean {
  return /^[a-z0-9][a-z0-9-]{0,31}$/.test(name);
}

/** The section's renderer; `reload` fetches the settings again. */
export function createAccountsSection(kit: Kit, reload: () => void): (v: SettingsView) => HTMLElement {
  const { s, api, section } = kit;
  let note: { text: string; tone: 'ok' | 'error' } | null = null;
  let nameDraft = '';
  let nameError: string | null = null;
  let listening = false;
  function listenOnce(): void {
    if (listening) return;
    listening = true;
    // A named account signed in (or its sign-in ended): list them again. Outside Tauri
    // (the production page opened in a browser) there are no events to hear.
    api.onAccountsChanged(() => reload()).catch(() => undefined);
  }

  function setNote(text: string, tone: 'ok' | 'error'): void {
    note = { text, tone };
    const el = kit.el.querySelector('[data-testid="accounts-note"]');
    if (el) {
      el.className = `account-note tone-${tone}`;
      el.textContent = text;
    }
  }

  function accountRow(a: AccountEntry): HTMLElement {
    const isDefault = a.name === 'default';
    const state = a.signed_in ? s.accountSignedIn : s.accountNotSignedIn;
    const buttons: HTMLElement[] = [];
    if (!isDefault && a.signed_in) {
      const out = h(
        'button',
        { type: 'button', class: 'btn', 'data-testid': 'account-sign-out', 'aria-label': `${s.accountSignOut}: ${a.name}` },
        s.accountSignOut,
      );
      out.addEventListener('click', () => {
        api.accountSignOut(a.name).then(
          () => {
            setNote(s.accountSignedOut(a.name), 'ok');
            reload();
          },
          (e: unknown) => setNote(toIpcError(e).message, 'error'),
        );
      });
      buttons.push(out);
    } else if (!isDefault) {
      const signIn = h(
        'button',
        { type: 'button', class: 'btn', 'data-testid': 'account-sign-in', 'aria-label': `${s.accountSignIn}: ${a.name}` },
        s.accountSignIn,
      );
      signIn.addEventListener('click', () => {
        api.accountSignIn(a.name).then(
          (r) => setNote(r.browser_opened ? s.signInStarted : `${s.signInStarted} ${r.url}`, 'ok'),
          (e: unknown) => setNote(toIpcError(e).message, 'error'),
        );
      });
      const remove = h(
        'button',
        {
          type: 'button',
          class: 'btn',
          'data-testid': 'account-remove',
          'aria-label': `${s.accountRemove}: ${a.name}`,
          'aria-describedby': 'accounts-remove-hint',
        },
        s.accountRemove,
      );
      remove.addEventListener('click', () => {
        api.accountRemove(a.name).then(
          () => {
            setNote(s.accountRemoved(a.name), 'ok');
            reload();
          },
          (e: unknown) => setNote(toIpcError(e).message, 'error'),
        );
      });
      buttons.push(signIn, remove);
    }
    return h(
      'li',
      { class: 'account-entry', 'data-testid': 'account-entry', 'data-account': a.name },
      h(
        'span',
        { class: 'who' },
        h('span', { class: 'who-name' }, isDefault ? `${a.name} (${s.defaultAccount})` : a.name),
        a.upn ? h('span', { class: 'who-upn muted selectable' }, a.upn) : null,
        h('span', { class: 'muted', 'data-testid': 'account-state' }, state),
      ),
      buttons.length ? h('span', { class: 'settings-actions' }, ...buttons) : null,
    );
  }

  function addForm(v: SettingsView): HTMLElement {
    if (!v.accounts_addable) return h('p', { class: 'muted', 'data-testid': 'accounts-demo' }, s.accountsDemo);
    const input = h('input', {
      type: 'text',
      id: 'account-name',
      class: 'input',
      'data-testid': 'account-name',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': nameError ? 'account-name-hint account-name-error' : 'account-name-hint',
      'aria-invalid': nameError ? 'true' : 'false',
    }) as HTMLInputElement;
    input.value = nameDraft;
    input.addEventListener('input', () => {
      nameDraft = input.value;
    });
    const add = h('button', { type: 'button', class: 'btn', 'data-testid': 'account-add' }, s.addAccount);
    const submit = (): void => {
      const name = input.value.trim();
      nameDraft = name;
      if (!validAccountName(name)) {
        nameError = s.accountNameInvalid;
      } else if (v.accounts.some((a) => a.name === name)) {
        nameError = s.accountNameTaken;
      } else {
        nameError = null;
      }
      if (nameError) {
        kit.focusAfterRender('account-name');
        reload();
        return;
      }
      api.accountAdd(name).then(
        (r) => {
          nameDraft = '';
          setNote(r.browser_opened ? s.signInStarted : `${s.signInStarted} ${r.url}`, 'ok');
          reload();
        },
        (e: unknown) => setNote(toIpcError(e).message, 'error'),
      );
    };
    add.addEventListener('click', submit);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        submit();
      }
    });
    input.setAttribute('data-focus', 'account-name');
    return h(
      'div',
      { class: 'field' },
      h('label', { for: 'account-name', class: 'field-label' }, s.accountName),
      h('div', { class: 'settings-actions' }, input, add),
      h('p', { class: 'field-hint', id: 'account-name-hint' }, s.accountNameHint),
      nameError ? h('p', { class: 'field-error', id: 'account-name-error', 'data-testid': 'account-name-error' }, nameError) : null,
    );
  }

  return (v: SettingsView): HTMLElement => {
    listenOnce();
    return section(
      'accounts',
      s.accounts,
      h('p', { class: 'field-hint' }, s.accountsIntro),
      h('ul', { class: 'account-list', 'data-testid': 'account-list' }, ...v.accounts.map(accountRow)),
      v.accounts.some((a) => a.name !== 'default' && !a.signed_in)
        ? h('p', { class: 'field-hint', id: 'accounts-remove-hint' }, s.accountRemoveHint)
        : null,
      addForm(v),
      h('p', { class: `account-note${note ? ` tone-${note.tone}` : ''}`, role: 'status', 'data-testid': 'accounts-note' }, note?.text ?? ''),
    );
  };
}
