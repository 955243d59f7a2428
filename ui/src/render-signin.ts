// The signed-out screen, state in, DOM out: sign in with the browser or a device code, the
// first-launch app registration form, what the app registration in use is, and a sign-in
// problem with the help the engine attached. Server strings only reach the DOM as text nodes.
import { h, icon, type Child } from './dom';
import { formatTime } from './format';
import type { Strings } from './i18n';
import { checkClientId, checkTenant } from './registration';
import type { Ctx } from './render';
import type { DeviceCode, ErrorHelp, IpcError, SignInInfo } from './types';


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
