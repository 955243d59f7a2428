// The signed-out screen's controller: starting and cancelling a sign-in (browser or device
// code), following the engine's sign-in progress events, the first-launch app registration
// form, and keeping keyboard focus on the screen's main control as it changes.
import type { Api } from './api';
import { toIpcError } from './api';
import type { State } from './app-state';
import type { Strings } from './i18n';
import { checkClientId, checkTenant, normalise } from './registration';
import { emptyRegistrationForm, type SignInFlow, type SignInHandlers, type SignInState } from './render-signin';
import type { SignInInfo, SignInProgress } from './types';

export interface SignInDeps {
  state: State;
  api: Api;
  s: Strings;
  /** The agenda window's content area, where the sign-in screen is drawn. */
  content: HTMLElement;
  renderContent(): void;
  renderStatus(): void;
  loadAgenda(showLoading: boolean): Promise<void>;
  reportActionError(e: unknown): void;
}

export interface SignIn {
  /** What the sign-in screen's controls call. */
  handlers: SignInHandlers;
  /** A sign-in-progress event from the engine. */
  onProgress(p: SignInProgress): void;
}

export function createSignIn(deps: SignInDeps): SignIn {
  const { state, api, s, content, renderContent, renderStatus, loadAgenda, reportActionError } = deps;

  const handlers: SignInHandlers = {
    start: (flow) => void startSignIn(flow),
    cancel: () => void cancelSignIn(),
    copyCode: (code, button, codeEl) => void copyToClipboard(code, button, codeEl),
    copyText: (text, button, field) => void copyToClipboard(text, button, field),
    editRegistration: (field, value) => {
      state.reg[field] = value;
    },
    touchRegistration: (field) => {
      state.reg.touched[field] = true;
    },
    saveRegistration: () => void saveRegistration(),
    changeRegistration: () => {
      const info = state.info;
      state.reg = {
        ...emptyRegistrationForm(),
        clientId: info?.client_id ?? '',
        tenant: info?.tenant ?? '',
        editing: true,
      };
      state.signIn = { kind: 'idle' };
      renderContent();
      content.querySelector<HTMLElement>('[data-testid="reg-client-id"]')?.focus();
    },
    cancelRegistration: () => {
      state.reg = emptyRegistrationForm();
      renderContent();
      content.querySelector<HTMLElement>('[data-testid="change-registration"]')?.focus();
    },
    openAdminGuide: () => void api.openAdminGuide().catch(reportActionError),
  };

  /** Which element gets focus after the sign-in view changes (undefined: leave focus alone). */
  function focusTarget(): string | undefined {
    switch (state.signIn.kind) {
      case 'idle':
        return '[data-testid="sign-in"]:not([disabled])';
      case 'starting':
        return undefined;
      case 'browser':
        return '[data-testid="sign-in-cancel"]';
      case 'device':
        return '[data-testid="copy-code"]';
      case 'error':
        return '[data-testid="sign-in-retry"]';
    }
  }

  /**
   * Keeps keyboard focus inside the sign-in screen as it changes: if focus was in the
   * content (or nowhere), the returned function moves it to the new view's main control.
   */
  function moveFocusAfterRender(): () => void {
    const active = document.activeElement;
    const wasInside = !active || active === document.body || content.contains(active);
    return () => {
      if (!wasInside || state.phase !== 'signed-out') return;
      const sel = focusTarget();
      if (!sel) return;
      content.querySelector<HTMLElement>(sel)?.focus();
    };
  }

  function setSignIn(next: SignInState): void {
    state.signIn = next;
    if (state.phase !== 'signed-out') return;
    const focused = moveFocusAfterRender();
    renderContent();
    focused();
  }

  async function startSignIn(flow: SignInFlow): Promise<void> {
    if (state.signIn.kind === 'starting') return;
    const starting: SignInState = { kind: 'starting', flow };
    setSignIn(starting);
    // A progress event may move on before the answer arrives (signed in, failed, cancelled):
    // the answer only applies while this attempt is still the one shown.
    const current = () => state.signIn === starting;
    try {
      if (flow === 'browser') {
        const r = await api.signIn();
        if (current()) setSignIn({ kind: 'browser', url: r.url, opened: r.browser_opened });
      } else {
        const code = await api.signInDevice();
        if (current()) setSignIn({ kind: 'device', code, until: Date.now() + code.expires_in * 1000 });
      }
    } catch (e) {
      if (current()) setSignIn({ kind: 'error', flow, error: toIpcError(e) });
    }
  }

  async function cancelSignIn(): Promise<void> {
    setSignIn({ kind: 'idle' });
    try {
      await api.cancelSignIn();
    } catch {
      // Nothing left to cancel.
    }
  }

  /** Copies `text`; without the clipboard API (or permission) selects `el` so Ctrl+C copies it. */
  async function copyToClipboard(text: string, button: HTMLButtonElement, el: HTMLElement): Promise<void> {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      if (el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement) {
        el.focus();
        el.select();
      } else {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel?.removeAllRanges();
        sel?.addRange(range);
      }
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
    }
    const label = button.querySelector<HTMLElement>('.copy-label');
    if (ok && label) {
      // The label to come back to, kept from the first click (a second one must not keep "Copied").
      const original = (label.dataset['label'] ??= label.textContent ?? '');
      label.textContent = s.copied;
      window.setTimeout(() => {
        if (label.isConnected) label.textContent = original;
      }, 2000);
    }
  }

  async function saveRegistration(): Promise<void> {
    const reg = state.reg;
    if (reg.saving) return;
    const clientId = normalise(reg.clientId);
    const tenant = normalise(reg.tenant);
    // The form checked already; this is the last word before Rust sees it.
    if (checkClientId(clientId) !== 'ok' || checkTenant(tenant) !== 'ok') return;
    state.reg = { ...reg, saving: true, error: null };
    renderContent();
    let info: SignInInfo;
    try {
      info = await api.setRegistration(clientId, tenant);
    } catch (e) {
      state.reg = { ...state.reg, saving: false, error: toIpcError(e) };
      renderContent();
      content.querySelector<HTMLElement>('[data-testid="reg-save"]')?.focus();
      return;
    }
    state.info = info;
    state.reg = emptyRegistrationForm();
    state.signIn = { kind: 'idle' };
    renderContent();
    if (state.phase === 'signed-out') {
      (content.querySelector<HTMLElement>('[data-testid="sign-in"]:not([disabled])') ??
        content.querySelector<HTMLElement>('#sign-in-title'))?.focus();
    }
  }

  function onSignInProgress(p: SignInProgress): void {
    switch (p.phase) {
      case 'waiting_for_browser':
        if (state.phase === 'signed-out' && state.signIn.kind !== 'browser') {
          setSignIn({ kind: 'browser', url: p.url, opened: p.browser_opened });
        }
        break;
      case 'waiting_for_code':
        if (state.phase === 'signed-out' && state.signIn.kind !== 'device') {
          const { verification_uri, user_code, expires_in } = p;
          setSignIn({ kind: 'device', code: { verification_uri, user_code, expires_in }, until: Date.now() + expires_in * 1000 });
        }
        break;
      case 'signed_in': {
        state.signIn = { kind: 'idle' };
        // status-changed follows; until then the account is known from here.
        if (state.status) {
          state.status = {
            ...state.status,
            account: { ...state.status.account, signed_in: true, upn: p.upn, display_name: p.display_name },
          };
        }
        state.phase = state.status?.sync.last_synced_at ? 'loading' : 'first-sync';
        const hadFocus = content.contains(document.activeElement);
        renderContent();
        renderStatus();
        if (hadFocus) content.querySelector<HTMLElement>('.state-title')?.focus();
        void loadAgenda(false);
        break;
      }
      case 'failed': {
        const cur = state.signIn;
        const flow: SignInFlow = cur.kind === 'device' || (cur.kind === 'starting' && cur.flow === 'device') ? 'device' : 'browser';
        setSignIn({ kind: 'error', flow, error: toIpcError(p.error) });
        break;
      }
      case 'cancelled':
        if (state.signIn.kind !== 'idle' && state.signIn.kind !== 'error') setSignIn({ kind: 'idle' });
        break;
    }
  }

  return { handlers, onProgress: onSignInProgress };
}
