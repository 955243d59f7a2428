// The settings page's live preview: today's presence plan for the draft (what would change
// and when), asked of the engine a moment after each valid presence edit, so the effect of
// rules and profiles is seen before they are saved. Late answers to older drafts are dropped.
import { toIpcError } from './api';
import { h, icon } from './dom';
import { clone, stable } from './settings-config';
import { clockAt, clockOf, describeAction } from './settings-describe';
import { fill, type Kit } from './settings-form';
import type { ConfigJson, PlannedTransition } from './types';

type PreviewState =
  | { state: 'idle' }
  | { state: 'invalid' }
  | { state: 'loading'; plan: PlannedTransition[] | null }
  | { state: 'ok'; plan: PlannedTransition[] }
  | { state: 'error'; message: string };

export interface Preview {
  /** A new host for the preview, placed by the presence section in this render. */
  host(): HTMLElement;
  /** The page re-renders without a presence section (loading, an error). */
  detach(): void;
  /** Asks for a new preview when the presence draft changed and is valid (debounced unless `immediate`). */
  schedule(immediate: boolean): void;
  render(): void;
  /** The next `schedule` asks again even if the draft did not change (the page was shown again). */
  forget(): void;
  /** The page was hidden: pending requests are dropped. */
  hide(): void;
}

export function createPreview(kit: Kit, visible: () => boolean): Preview {
  const { s, api, locale } = kit;
  let preview: PreviewState = { state: 'idle' };
  let previewKey = '';
  let previewTimer = 0;
  let previewSeq = 0;
  let previewHost: HTMLElement | null = null;

  function presenceErrors(): boolean {
    for (const k of kit.errors().keys()) if (k.startsWith('presence.')) return true;
    return false;
  }

  /** Asks for a new preview when the presence draft changed and is valid (debounced). */
  function schedulePreview(immediate: boolean): void {
    const draft = kit.draft();
    if (!draft || !visible()) return;
    if (presenceErrors()) {
      window.clearTimeout(previewTimer);
      previewSeq++;
      previewKey = '';
      if (preview.state !== 'invalid') {
        preview = { state: 'invalid' };
        renderPreview();
      }
      return;
    }
    const key = stable(draft.presence);
    if (key === previewKey) return;
    previewKey = key;
    window.clearTimeout(previewTimer);
    const presence = clone(draft.presence);
    previewTimer = window.setTimeout(() => void runPreview(presence), immediate ? 0 : 300);
  }

  async function runPreview(presence: ConfigJson['presence']): Promise<void> {
    const seq = ++previewSeq;
    preview = { state: 'loading', plan: preview.state === 'ok' ? preview.plan : preview.state === 'loading' ? preview.plan : null };
    renderPreview();
    try {
      const plan = await api.presencePreview(presence);
      if (seq !== previewSeq) return;
      preview = { state: 'ok', plan: Array.isArray(plan) ? plan : [] };
    } catch (e) {
      if (seq !== previewSeq) return;
      preview = { state: 'error', message: toIpcError(e).message };
    }
    renderPreview();
  }

  function transitionItem(t: PlannedTransition): HTMLElement {
    const local = typeof t.local === 'string' ? t.local : '';
    let what: string;
    let detail: string | null = null;
    if (t.kind === 'apply' || t.kind === 'skipped') {
      const profile = typeof t['profile'] === 'string' ? t['profile'] : '';
      what = t.kind === 'apply' ? s.planApply(profile) : s.planSkipped(profile);
      const subject = t['subject_for_display'];
      const until = clockAt(t['until'], local, locale);
      detail = [typeof subject === 'string' ? s.planFor(subject) : s.planPrivate, until ? s.planUntil(until) : null].filter(Boolean).join(' ');
    } else if (t.kind === 'restore') {
      what = s.planRestore;
    } else {
      what = String((t as { kind: unknown }).kind);
    }
    const actions = (Array.isArray(t['actions']) ? (t['actions'] as unknown[]) : []).map((a) => describeAction(s, a)).filter((x): x is string => !!x);
    return h(
      'li',
      { class: `plan-item kind-${String(t.kind).replace(/[^a-z_]/gi, '')}`, 'data-testid': 'plan-item' },
      h('time', { class: 'plan-time', datetime: typeof t.at === 'string' ? t.at : null }, clockOf(local, locale)),
      h(
        'div',
        { class: 'plan-what' },
        h('p', { class: 'plan-title' }, what),
        detail ? h('p', { class: 'plan-detail muted' }, detail) : null,
        actions.length ? h('ul', { class: 'plan-actions' }, ...actions.map((x) => h('li', {}, x))) : null,
      ),
    );
  }

  function renderPreview(): void {
    const draft = kit.draft();
    if (!previewHost || !draft) return;
    const off = !draft.features.presence ? h('p', { class: 'field-hint', 'data-testid': 'preview-off' }, s.previewOff) : null;
    const summary = (text: string, cls = '') => h('p', { class: `preview-summary ${cls}`.trim(), role: 'status', 'data-testid': 'preview-summary' }, text);
    previewHost.setAttribute('aria-busy', String(preview.state === 'loading'));
    switch (preview.state) {
      case 'idle':
        fill(previewHost, off);
        break;
      case 'invalid':
        fill(previewHost, off, summary(s.previewInvalid, 'muted'));
        break;
      case 'error':
        fill(previewHost, off, h('p', { class: 'preview-error', role: 'status', 'data-testid': 'preview-error' }, icon('alert'), `${s.previewFailed} ${preview.message}`));
        break;
      case 'loading':
      case 'ok': {
        const plan = preview.plan;
        const list = plan && plan.length ? h('ol', { class: 'plan', 'data-testid': 'plan' }, ...plan.map(transitionItem)) : null;
        // A skipped appointment is listed but changes nothing.
        const changes = plan ? plan.filter((t) => t.kind !== 'skipped').length : 0;
        const text = preview.state === 'loading' && !plan ? s.previewLoading : plan && plan.length ? s.previewCount(changes) : s.previewEmpty;
        fill(previewHost, off, summary(text, plan && plan.length ? 'sr-only' : 'muted'), list);
        break;
      }
    }
  }

  return {
    host() {
      previewHost = h('div', { class: 'preview-body', 'data-testid': 'preview' });
      return previewHost;
    },
    detach() {
      previewHost = null;
    },
    schedule: schedulePreview,
    render: renderPreview,
    forget() {
      previewKey = '';
    },
    hide() {
      window.clearTimeout(previewTimer);
      previewSeq++;
      if (preview.state === 'loading') preview = { state: 'idle' };
    },
  };
}
