// The settings page's Call forwarding section: the provider (Webex, Asterisk AMI, an HTTP
// endpoint, a command) with its own table of fields, its secret (straight to the keyring),
// and Test, which tries the draft's settings without saving them. The test's result
// outlives re-renders until the provider changes or the draft is reverted.
import { toIpcError } from './api';
import { h, icon, type Child } from './dom';
import { AMI_FAMILIES, amiOf, clone, commandOf, ensureProviderTable, HTTP_METHODS, httpOf, PROVIDERS, webexOf } from './settings-config';
import type { Kit } from './settings-form';
import type { ConfigJson, ForwardingConfigJson, HttpRequestJson } from './types';

export interface ForwardingSection {
  render(d: ConfigJson): HTMLElement;
  /** Forgets the last test's result (the draft was reverted). */
  resetTest(): void;
}

/** Splits a text area into its non-blank lines. */
export function linesOf(v: string): string[] {
  return v.split('\n').map((x) => x.replace(/\r$/, '')).filter((x) => x.trim() !== '');
}

export function createForwardingSection(kit: Kit): ForwardingSection {
  const { s, api, rawErrors, section, groupLockNote, textField, numberField, areaField, selectField } = kit;
  let fwTest: { state: 'running' } | { state: 'done'; ok: boolean; message: string } | null = null;

  function headersField(req: HttpRequestJson, key: string, focus: string): HTMLElement {
    const text = Object.entries(req.headers ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n');
    return areaField({ key, group: 'presence.forwarding', focus, label: s.headers, rows: 2 }, () => text, (v) => {
      const headers: Record<string, string> = {};
      let bad: string | null = null;
      for (const line of linesOf(v)) {
        const at = line.indexOf(':');
        const name = at > 0 ? line.slice(0, at).trim() : '';
        if (!name || /\s/.test(name)) {
          bad ??= line.trim();
          continue;
        }
        headers[name] = line.slice(at + 1).trim();
      }
      if (Object.keys(headers).length) req.headers = headers;
      else delete req.headers;
      if (bad) rawErrors.set(key, s.badHeader(bad));
      else rawErrors.delete(key);
    });
  }

  function httpRequestGroup(req: HttpRequestJson, part: 'on' | 'off'): HTMLElement {
    const F = `presence.forwarding.http.${part}`;
    const group = 'presence.forwarding';
    const methods = HTTP_METHODS.includes(req.method.toUpperCase()) ? HTTP_METHODS : [...HTTP_METHODS, req.method];
    return h(
      'fieldset',
      { class: 'settings-group' },
      h('legend', { class: 'field-label' }, part === 'on' ? s.httpOn : s.httpOff),
      h(
        'div',
        { class: 'field-row field-row-url' },
        selectField(
          { key: `${F}.method`, group, label: s.method, class: 'field-narrow' },
          methods.map((m) => ({ value: m, label: m })),
          () => (HTTP_METHODS.includes(req.method.toUpperCase()) ? req.method.toUpperCase() : req.method),
          (v) => (req.method = v),
        ),
        textField({ key: `${F}.url`, group, label: s.url, mono: true, placeholder: 'https://', testid: `http-${part}-url` }, () => req.url, (v) => (req.url = v)),
      ),
      headersField(req, `${F}.headers`, `${F}.headers`),
      areaField({ key: `${F}.body`, group, label: s.body, rows: 2 }, () => req.body ?? '', (v) => {
        if (v.trim() === '') delete req.body;
        else req.body = v;
      }),
    );
  }

  function providerFields(fw: ForwardingConfigJson): Child[] {
    const P = 'presence.forwarding';
    const group = P;
    switch (fw.provider) {
      case 'webex': {
        const w = webexOf(fw);
        if (!w) return [];
        return [
          textField({ key: `${P}.webex.base_url`, group, label: s.webexBase, mono: true, testid: 'webex-base-url' }, () => w.base_url, (v) => (w.base_url = v)),
          textField({ key: `${P}.webex.person_id`, group, label: s.personId, mono: true, testid: 'webex-person-id' }, () => w.person_id, (v) => (w.person_id = v)),
          textField({ key: `${P}.webex.voicemail`, group, label: s.voicemailDestination, testid: 'webex-voicemail' }, () => w.voicemail, (v) => (w.voicemail = v)),
        ];
      }
      case 'ami': {
        const a = amiOf(fw);
        if (!a) return [];
        return [
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.ami.host`, group, label: s.host, mono: true, testid: 'ami-host' }, () => a.host, (v) => (a.host = v)),
            numberField({ key: `${P}.ami.port`, group, label: s.port, min: 1, max: 65535, testid: 'ami-port', class: 'field-narrow' }, () => a.port, (n) => (a.port = n)),
          ),
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.ami.username`, group, label: s.username, testid: 'ami-username' }, () => a.username, (v) => (a.username = v)),
            textField({ key: `${P}.ami.extension`, group, label: s.extension, testid: 'ami-extension' }, () => a.extension, (v) => (a.extension = v)),
          ),
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.ami.voicemail`, group, label: s.voicemailTarget, mono: true, testid: 'ami-voicemail' }, () => a.voicemail, (v) => (a.voicemail = v)),
            selectField(
              { key: `${P}.ami.family`, group, label: s.family, testid: 'ami-family' },
              AMI_FAMILIES.map((f) => ({ value: f, label: `${s.families[f] ?? f} (${f})` })),
              () => a.family,
              (v) => (a.family = v),
            ),
          ),
        ];
      }
      case 'http': {
        const c = httpOf(fw);
        if (!c) return [];
        return [
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.http.extension`, group, label: s.extension }, () => c.extension, (v) => (c.extension = v)),
            textField({ key: `${P}.http.voicemail`, group, label: s.voicemailTarget }, () => c.voicemail, (v) => (c.voicemail = v)),
          ),
          httpRequestGroup(c.on, 'on'),
          httpRequestGroup(c.off, 'off'),
        ];
      }
      case 'command': {
        const c = commandOf(fw);
        if (!c) return [];
        return [
          textField({ key: `${P}.command.program`, group, label: s.program, mono: true, testid: 'command-program' }, () => c.program, (v) => (c.program = v)),
          areaField({ key: `${P}.command.on_args`, group, label: s.onArgs, rows: 2 }, () => (c.on_args ?? []).join('\n'), (v) => (c.on_args = linesOf(v))),
          areaField({ key: `${P}.command.off_args`, group, label: s.offArgs, rows: 2 }, () => (c.off_args ?? []).join('\n'), (v) => (c.off_args = linesOf(v))),
          h(
            'div',
            { class: 'field-row' },
            textField({ key: `${P}.command.extension`, group, label: s.extension }, () => c.extension, (v) => (c.extension = v)),
            textField({ key: `${P}.command.voicemail`, group, label: s.voicemailTarget }, () => c.voicemail, (v) => (c.voicemail = v)),
          ),
        ];
      }
      case 'none':
        return [];
    }
  }

  function forwardingSection(d: ConfigJson): HTMLElement {
    const fw = d.presence.forwarding;
    const P = 'presence.forwarding';
    const on = fw.provider !== 'none';
    const result = h(
      'p',
      {
        class: `fw-result${fwTest?.state === 'done' ? (fwTest.ok ? ' tone-ok' : ' tone-error') : ''}`,
        role: 'status',
        'data-testid': 'forwarding-test-result',
      },
      fwTest?.state === 'running' ? s.testing : fwTest?.state === 'done' ? `${fwTest.ok ? s.testOk : s.testFailed}: ${fwTest.message}` : '',
    );
    const test = h(
      'button',
      { type: 'button', class: 'btn', 'data-testid': 'forwarding-test', 'data-focus': 'forwarding-test', 'aria-describedby': 'settings-fw-test-hint' },
      s.test,
    );
    test.addEventListener('click', () => void runForwardingTest(result));
    return section(
      'forwarding',
      s.forwarding,
      h('p', { class: 'field-hint' }, s.forwardingIntro),
      groupLockNote(P),
      selectField(
        { key: `${P}.provider`, group: P, label: s.provider, testid: 'forwarding-provider' },
        PROVIDERS.map((p) => ({ value: p, label: s.providers[p] ?? p })),
        () => fw.provider,
        (v) => {
          fw.provider = (PROVIDERS as readonly string[]).includes(v) ? (v as ForwardingConfigJson['provider']) : 'none';
          ensureProviderTable(fw);
          fwTest = null;
        },
        'all',
      ),
      on ? h('p', { class: 'keyring-note', 'data-testid': 'keyring-note' }, icon('lock'), s.keyring[fw.provider] ?? '') : null,
      on && (fw.provider === 'webex' || fw.provider === 'ami' || fw.provider === 'http') ? secretField(fw.provider) : null,
      ...(on ? providerFields(fw) : []),
      on && fw.provider !== 'webex' ? h('p', { class: 'field-hint' }, s.placeholders) : null,
      on
        ? numberField(
            { key: `${P}.timeout_secs`, group: P, label: s.timeout, min: 1, max: 120, testid: 'forwarding-timeout', class: 'field-narrow' },
            () => fw.timeout_secs,
            (n) => (fw.timeout_secs = n),
          )
        : null,
      on ? h('div', { class: 'settings-actions' }, test, result) : null,
      on ? h('p', { class: 'field-hint', id: 'settings-fw-test-hint' }, s.testHint) : null,
    );
  }

  async function runForwardingTest(result: HTMLElement): Promise<void> {
    const draft = kit.draft();
    if (!draft || fwTest?.state === 'running') return;
    const invalid = [...kit.errors().keys()].find((k) => k.startsWith('presence.forwarding.'));
    if (invalid) {
      kit.control(invalid)?.focus();
      return;
    }
    const show = () => {
      result.className = `fw-result${fwTest?.state === 'done' ? (fwTest.ok ? ' tone-ok' : ' tone-error') : ''}`;
      result.textContent =
        fwTest?.state === 'running' ? s.testing : fwTest?.state === 'done' ? `${fwTest.ok ? s.testOk : s.testFailed}: ${fwTest.message}` : '';
    };
    fwTest = { state: 'running' };
    show();
    try {
      const r = await api.forwardingTest(clone(draft.presence.forwarding));
      fwTest = { state: 'done', ok: !!r.ok, message: r.message };
    } catch (e) {
      fwTest = { state: 'done', ok: false, message: toIpcError(e).message };
    }
    show();
  }

  /** The provider's secret goes straight to the keyring (not into the draft or the file). */
  function secretField(provider: 'webex' | 'ami' | 'http'): HTMLElement {
    const id = 'forwarding-secret';
    const input = h('input', {
      type: 'password',
      id,
      class: 'input',
      autocomplete: 'off',
      'data-testid': id,
    });
    const status = h('p', { class: 'field-hint', 'aria-live': 'polite', 'data-testid': 'forwarding-secret-status' });
    const save = h('button', { type: 'button', class: 'btn', 'data-testid': 'forwarding-secret-save' }, s.secretSave);
    save.addEventListener('click', async () => {
      if (!input.value.trim()) {
        status.textContent = s.secretEmpty;
        input.focus();
        return;
      }
      try {
        const draft = kit.draft();
        if (!draft) return;
        await api.forwardingSecretSave(provider, input.value, clone(draft.presence.forwarding));
        input.value = '';
        status.textContent = s.secretSaved;
      } catch (e) {
        status.textContent = toIpcError(e).message;
      }
    });
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, class: 'field-label' }, s.secretLabel),
      h('div', { class: 'field-row' }, input, save),
      status,
    );
  }

  return {
    render: forwardingSection,
    resetTest() {
      fwTest = null;
    },
  };
}
