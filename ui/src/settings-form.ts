// The settings page's form controls: a labelled field with its hint, organization lock note
// and error slot, and the number/text/area/check/select fields built on it. Every field
// registers under its dotted configuration key so that validation messages land next to it,
// and reports edits through the page's `changed`. The sections (settings-*.ts) build from
// these; the page (settings.ts) owns the draft and implements `Form`.
import type { Api } from './api';
import { append, h, icon, type Child } from './dom';
import type { SettingsStrings } from './settings-i18n';
import type { ConfigJson } from './types';

/** What an edit needs redrawn: nothing but messages, the rule cards (a profile renamed), or the page. */
export type ChangeKind = 'value' | 'rules' | 'all';

export interface FieldOpts {
  /** Dotted key: errors, and the locked check unless `lock` names another. */
  key: string;
  lock?: string;
  /** A locked group (list or table) that shows the organization note once for all its fields. */
  group?: string;
  /** Stable focus key across re-renders (default: `key`). */
  focus?: string;
  label: string;
  hint?: string;
  testid?: string;
  class?: string;
}

export interface Registered {
  control: HTMLElement;
  error: HTMLElement;
}

export type SelectOption = { value: string; label: string } | { group: string; options: Array<{ value: string; label: string }> };

/** Replaces the children (null/false children are skipped). */
export function fill(host: HTMLElement, ...children: Child[]): void {
  host.replaceChildren();
  append(host, children);
}

let idSeq = 0;
export const nextId = (p: string) => `set-${p}-${++idSeq}`;

/** What the sections need of the page. */
export interface Form {
  readonly s: SettingsStrings;
  readonly api: Api;
  readonly locale: string;
  /** The page's element (sections update their own live regions in it). */
  readonly el: HTMLElement;
  /** Parse errors of free-text lists (headers): the draft only holds the lines that parse. */
  readonly rawErrors: Map<string, string>;
  /** The draft being edited (null until the settings are loaded). */
  draft(): ConfigJson | null;
  /** The draft's current validation messages, by dotted key. */
  errors(): ReadonlyMap<string, string>;
  /** The control registered for a dotted key in this render. */
  control(key: string): HTMLElement | undefined;
  register(key: string, field: Registered): void;
  /** Forgets the fields whose key starts with `prefix` (their cards are redrawn). */
  unregister(prefix: string): void;
  isLocked(key: string): boolean;
  /** A stable number for a profile or rule object, for focus keys that survive re-renders. */
  idOf(o: object): number;
  /** The draft was edited. */
  changed(kind?: ChangeKind): void;
  /** After the next render, focus the control with this `data-focus` key (scrolled into view if asked). */
  focusAfterRender(key: string, scroll?: boolean): void;
}

export type Controls = ReturnType<typeof controls>;
export type Kit = Form & Controls;

export function withControls(form: Form): Kit {
  return { ...form, ...controls(form) };
}

/** The controls, bound to one page. */
function controls(form: Form) {
  const { s, isLocked, changed } = form;

  function section(id: string, heading: string, ...children: Child[]): HTMLElement {
    const hid = `settings-${id}-title`;
    return h(
      'section',
      { class: 'settings-section', 'data-testid': `section-${id}`, 'aria-labelledby': hid },
      h('h3', { class: 'settings-section-title', id: hid }, heading),
      ...children,
    );
  }

  function lockNote(id: string): HTMLElement {
    return h('p', { class: 'lock-note', id, 'data-testid': 'locked-note' }, icon('lock'), s.orgLocked);
  }

  /** One organization note for a locked list or table (its fields point at it). */
  function groupLockNote(group: string): HTMLElement | null {
    return isLocked(group) ? lockNote(groupNoteId(group)) : null;
  }
  const groupNoteId = (group: string) => `lock-${group.replace(/[^a-z0-9_-]/gi, '-')}`;

  // ---- fields ---------------------------------------------------------------------------
  function field(o: FieldOpts, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): HTMLElement {
    const id = nextId('f');
    control.id = id;
    control.dataset['focus'] = o.focus ?? o.key;
    if (o.testid) control.dataset['testid'] = o.testid;
    const groupLocked = !!o.group && isLocked(o.group);
    const locked = groupLocked || isLocked(o.lock ?? o.key);
    if (locked) control.disabled = true;
    const hint = o.hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, o.hint) : null;
    const lock = locked && !groupLocked ? lockNote(`${id}-lock`) : null;
    const err = h('p', { class: 'field-error', id: `${id}-err`, 'data-testid': 'field-error', hidden: true });
    const describedBy = [hint?.id, lock?.id, groupLocked && o.group ? groupNoteId(o.group) : null, err.id].filter(Boolean).join(' ');
    control.setAttribute('aria-describedby', describedBy);
    form.register(o.key, { control, error: err });
    const check = control instanceof HTMLInputElement && control.type === 'checkbox';
    const label = h('label', { for: id, class: 'field-label' }, o.label);
    return h(
      'div',
      { class: `field${check ? ' field-check' : ''}${o.class ? ` ${o.class}` : ''}`, 'data-field': o.key },
      check ? h('div', { class: 'check-row' }, control, label) : label,
      check ? null : control,
      hint,
      lock,
      err,
    );
  }

  function numberField(
    o: FieldOpts & { min: number; max: number; step?: number | 'any' },
    get: () => number,
    set: (n: number) => void,
  ): HTMLElement {
    const input = h('input', {
      type: 'number',
      class: 'input input-number',
      min: o.min,
      max: o.max,
      step: o.step ?? 1,
      inputmode: o.step === 'any' ? 'decimal' : 'numeric',
    });
    const v = get();
    input.value = Number.isFinite(v) ? String(v) : '';
    input.addEventListener('input', () => {
      const raw = input.value.trim();
      set(raw === '' ? NaN : Number(raw));
      changed();
    });
    return field(o, input);
  }

  function textField(
    o: FieldOpts & { placeholder?: string; mono?: boolean },
    get: () => string,
    set: (v: string) => void,
    kind: ChangeKind = 'value',
  ): HTMLElement {
    const input = h('input', {
      type: 'text',
      class: `input${o.mono ? ' mono' : ''}`,
      placeholder: o.placeholder,
      autocomplete: 'off',
      spellcheck: 'false',
    });
    input.value = get();
    input.addEventListener('input', () => {
      set(input.value);
      changed(kind);
    });
    return field(o, input);
  }

  function areaField(o: FieldOpts & { rows?: number }, get: () => string, set: (v: string) => void): HTMLElement {
    const area = h('textarea', { class: 'input textarea mono', rows: o.rows ?? 3, spellcheck: 'false' });
    area.value = get();
    area.addEventListener('input', () => {
      set(area.value);
      changed();
    });
    return field(o, area);
  }

  function checkField(o: FieldOpts, get: () => boolean, set: (v: boolean) => void, kind: ChangeKind = 'value'): HTMLElement {
    const input = h('input', { type: 'checkbox', class: 'checkbox' });
    input.checked = get();
    input.addEventListener('change', () => {
      set(input.checked);
      changed(kind);
    });
    return field(o, input);
  }

  function selectField(
    o: FieldOpts,
    options: SelectOption[],
    get: () => string,
    set: (v: string) => void,
    kind: ChangeKind = 'value',
  ): HTMLElement {
    const sel = h('select', { class: 'input select' });
    const opt = (x: { value: string; label: string }) => h('option', { value: x.value }, x.label);
    for (const x of options) {
      sel.appendChild('group' in x ? h('optgroup', { label: x.group }, ...x.options.map(opt)) : opt(x));
    }
    sel.value = get();
    sel.addEventListener('change', () => {
      set(sel.value);
      changed(kind);
    });
    return field(o, sel);
  }

  function iconButton(label: string, focus: string, content: SVGSVGElement, onClick: () => void, opts: { disabled?: boolean; testid?: string } = {}): HTMLButtonElement {
    const b = h(
      'button',
      { type: 'button', class: 'icon-btn settings-icon-btn', 'aria-label': label, 'data-tip': label, 'data-focus': focus, 'data-testid': opts.testid, disabled: !!opts.disabled },
      content,
    );
    b.addEventListener('click', onClick);
    return b;
  }

  return { section, lockNote, groupLockNote, field, numberField, textField, areaField, checkField, selectField, iconButton };
}
