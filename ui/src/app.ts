// The app shell: state, IPC wiring, the once-a-minute tick, focus management.
import { api as realApi, toIpcError, type Api } from './api';
import { h, icon } from './dom';
import { dateKeyOf, formatTime, msToNextMinute, statusLine, usableLocale, validTimeZone } from './format';
import { pickLang, strings } from './i18n';
import { renderAgenda, renderDetail, renderError, renderLoading, renderSignedOut, type Ctx, type Handlers } from './render';
import type { AgendaView, IpcError, Status } from './types';
import './styles.css';

export const DEFAULT_DAYS = 7;

/** Error codes that replace the agenda with the error state even when one is shown. */
const FATAL = new Set(['not_signed_in', 'store_corrupt', 'store_too_new', 'config_invalid']);

type Phase = 'loading' | 'ready' | 'error' | 'signed-out';

interface State {
  phase: Phase;
  view: AgendaView | null;
  error: IpcError | null;
  status: Status | null;
  /** Error from the last sync_now call, shown in the status line. */
  syncError: string | null;
  selectedId: string | null;
}

export interface StartOptions {
  root?: HTMLElement;
  api?: Api;
  days?: number;
}

export function start(opts: StartOptions = {}): void {
  const api = opts.api ?? realApi;
  const days = opts.days ?? DEFAULT_DAYS;
  const root = opts.root ?? document.getElementById('app') ?? document.body;
  const locale = usableLocale(navigator.language);
  const lang = pickLang(locale);
  const s = strings(lang);
  document.documentElement.lang = lang;
  document.title = s.appName;

  const state: State = { phase: 'loading', view: null, error: null, status: null, syncError: null, selectedId: null };

  // ---- static shell -------------------------------------------------------
  const statusEl = h('p', { class: 'status', 'data-testid': 'status', role: 'status', 'aria-live': 'polite' });
  const demoBadge = h('span', { class: 'badge badge-demo', 'data-testid': 'demo', title: s.demoTitle, hidden: true }, s.demo);
  const syncBtn = h(
    'button',
    { type: 'button', class: 'icon-btn sync-btn', 'data-testid': 'sync-now', 'aria-label': s.syncNow, title: s.syncNow },
    icon('sync'),
  );
  const banner = h(
    'div',
    { class: 'banner', 'data-testid': 'offline-banner', role: 'status', hidden: true },
    icon('offline'),
    h('span', {}, s.offlineBanner),
  );
  const content = h('main', { class: 'content', id: 'content', 'aria-busy': 'true' });
  const detail = h('aside', {
    class: 'detail',
    'data-testid': 'detail',
    role: 'dialog',
    'aria-modal': 'true',
    'aria-labelledby': 'detail-title',
    hidden: true,
  });
  const header = h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'topbar-row' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, icon('calendar')), h('h1', {}, s.appName), demoBadge),
      syncBtn,
    ),
    statusEl,
  );
  const shell = h('div', { class: 'app' }, header, banner, content, detail);
  root.replaceChildren(shell);
  sizeTimeColumn(shell, locale, s.allDay);

  // ---- rendering ----------------------------------------------------------
  const ctx = (): Ctx => ({ locale, s, tz: validTimeZone(state.view?.timezone), now: Date.now() });

  const handlers: Handlers = {
    open: (id) => openDetail(id),
    join: (id) => void api.joinMeeting(id).catch(reportActionError),
    openInOutlook: (id) => void api.openItem(id).catch(reportActionError),
    closeDetail: () => closeDetail(),
    retry: () => void refresh(true),
  };

  function reportActionError(e: unknown): void {
    state.syncError = toIpcError(e).message;
    renderStatus();
  }

  function renderStatus(): void {
    const st = state.status;
    demoBadge.hidden = !st?.account.demo;
    const syncing = st?.sync.state === 'syncing';
    syncBtn.classList.toggle('is-syncing', syncing);
    syncBtn.setAttribute('aria-disabled', String(syncing));
    syncBtn.hidden = !!st && !st.account.signed_in;
    banner.hidden = st?.sync.state !== 'offline';
    let line = st ? statusLine(st, Date.now(), locale, s, validTimeZone(state.view?.timezone)) : { text: '', tone: 'muted' as const };
    if (st && !st.account.signed_in) line = { text: s.notSignedIn, tone: 'muted' };
    if (state.syncError) line = { text: state.syncError, tone: 'error' };
    const who = st?.account.signed_in ? st.account.display_name ?? st.account.upn : null;
    // Only touch the live region when the text really changes (no re-announcements each minute).
    const signature = `${line.tone}|${line.text}|${who ?? ''}`;
    if (statusEl.dataset['sig'] === signature) return;
    statusEl.dataset['sig'] = signature;
    statusEl.className = `status tone-${line.tone}`;
    statusEl.replaceChildren(
      h('span', { class: 'status-dot', 'aria-hidden': 'true' }),
      h('span', { class: 'status-text' }, line.text),
    );
    if (who) statusEl.appendChild(h('span', { class: 'status-who' }, who));
  }

  function renderContent(): void {
    // Keep keyboard focus on the same logical element across re-renders.
    const active = document.activeElement;
    const focusItem = active instanceof HTMLElement && content.contains(active) ? active.closest<HTMLElement>('[data-testid="item"]') : null;
    const focusId = focusItem?.dataset['id'];
    const focusDate = focusItem?.closest<HTMLElement>('[data-testid="day"]')?.dataset['date'];
    const focusJoin = active instanceof HTMLElement && active.dataset['testid'] === 'join';
    const scroll = content.scrollTop;

    content.setAttribute('aria-busy', String(state.phase === 'loading'));
    switch (state.phase) {
      case 'loading':
        content.replaceChildren(renderLoading(s));
        break;
      case 'signed-out':
        content.replaceChildren(renderSignedOut(s));
        break;
      case 'error':
        content.replaceChildren(renderError(state.error ?? { code: 'internal', message: '' }, s, handlers));
        break;
      case 'ready':
        if (state.view) content.replaceChildren(renderAgenda(state.view, ctx(), handlers));
        break;
    }
    content.scrollTop = scroll;
    if (focusId) {
      const rows = [...content.querySelectorAll<HTMLElement>('[data-testid="item"]')].filter((el) => el.dataset['id'] === focusId);
      const li = rows.find((el) => el.closest<HTMLElement>('[data-testid="day"]')?.dataset['date'] === focusDate) ?? rows[0];
      const target = li?.querySelector<HTMLElement>(focusJoin ? '[data-testid="join"]' : '.item-main');
      target?.focus({ preventScroll: true });
    }
    renderDetailPane(false);
  }

  function findItem(id: string) {
    for (const d of state.view?.days ?? []) for (const i of d.items) if (i.id === id) return i;
    return null;
  }

  function renderDetailPane(focus: boolean): void {
    const item = state.selectedId && state.phase === 'ready' ? findItem(state.selectedId) : null;
    if (!item) {
      if (!detail.hidden) closeDetail();
      return;
    }
    const active = document.activeElement;
    const hadFocus = active instanceof HTMLElement && detail.contains(active) ? active.dataset['testid'] ?? 'title' : null;
    detail.replaceChildren(renderDetail(item, ctx(), handlers));
    detail.hidden = false;
    header.inert = true;
    content.inert = true;
    banner.inert = true;
    if (focus || hadFocus) {
      const again = hadFocus && hadFocus !== 'title' ? detail.querySelector<HTMLElement>(`[data-testid="${hadFocus}"]`) : null;
      (again ?? detail.querySelector<HTMLElement>('.detail-title'))?.focus();
    }
  }

  /** The day (data-date) of the row that opened the pane, to return focus there. */
  let openerDate: string | null = null;

  function openDetail(id: string): void {
    const active = document.activeElement;
    openerDate =
      active instanceof HTMLElement ? active.closest<HTMLElement>('[data-testid="day"]')?.dataset['date'] ?? null : null;
    state.selectedId = id;
    renderDetailPane(true);
  }

  function closeDetail(): void {
    const id = state.selectedId;
    state.selectedId = null;
    detail.hidden = true;
    detail.replaceChildren();
    header.inert = false;
    content.inert = false;
    banner.inert = false;
    if (id) {
      const rows = [...content.querySelectorAll<HTMLElement>('[data-testid="item"]')].filter((el) => el.dataset['id'] === id);
      const li = rows.find((el) => el.closest<HTMLElement>('[data-testid="day"]')?.dataset['date'] === openerDate) ?? rows[0];
      li?.querySelector<HTMLElement>('.item-main')?.focus();
    }
  }

  // ---- data ---------------------------------------------------------------
  let loadSeq = 0;
  let loadedDay: string | null = null;

  async function loadAgenda(showLoading: boolean): Promise<void> {
    const seq = ++loadSeq;
    if (showLoading || !state.view) {
      state.phase = 'loading';
      renderContent();
    }
    try {
      const view = await api.agenda(null, days);
      if (seq !== loadSeq) return;
      state.view = view;
      state.error = null;
      state.phase = state.status && !state.status.account.signed_in ? 'signed-out' : 'ready';
      loadedDay = dateKeyOf(Date.now(), validTimeZone(view.timezone));
    } catch (e) {
      if (seq !== loadSeq) return;
      const err = toIpcError(e);
      if (!showLoading && state.view && state.phase === 'ready' && !FATAL.has(err.code)) {
        // A background refetch failed: keep showing what we have, report it in the status line.
        state.syncError = err.message;
      } else {
        state.error = err;
        state.phase = err.code === 'not_signed_in' ? 'signed-out' : 'error';
      }
    }
    renderContent();
    renderStatus();
  }

  async function loadStatus(): Promise<void> {
    try {
      state.status = await api.status();
    } catch {
      // The agenda call reports errors; a missing status just leaves the line empty.
    }
    if (state.status && !state.status.account.signed_in && state.phase === 'ready') {
      state.phase = 'signed-out';
      renderContent();
    }
    renderStatus();
  }

  async function refresh(showLoading: boolean): Promise<void> {
    await Promise.all([loadStatus(), loadAgenda(showLoading)]);
  }

  syncBtn.addEventListener('click', () => {
    if (state.status?.sync.state === 'syncing') return;
    state.syncError = null;
    syncBtn.classList.add('is-syncing');
    api.syncNow().then(
      () => renderStatus(),
      (e) => reportActionError(e),
    );
  });

  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !detail.hidden) {
      ev.preventDefault();
      closeDetail();
      return;
    }
    // Up/Down move between agenda items (Tab works too).
    if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && detail.hidden) {
      const active = document.activeElement;
      if (!(active instanceof HTMLElement) || !active.classList.contains('item-main')) return;
      const all = [...content.querySelectorAll<HTMLElement>('.item-main')];
      const i = all.indexOf(active);
      const next = all[i + (ev.key === 'ArrowDown' ? 1 : -1)];
      if (next) {
        ev.preventDefault();
        next.focus();
      }
    }
  });

  // ---- events from Rust -----------------------------------------------------
  void api
    .onAgendaChanged(() => void loadAgenda(false))
    .catch(() => undefined);
  void api
    .onStatusChanged((st) => {
      const wasSignedIn = state.status?.account.signed_in;
      state.status = st;
      state.syncError = null;
      renderStatus();
      if (wasSignedIn === false && st.account.signed_in) void loadAgenda(true);
      else if (!st.account.signed_in && state.phase !== 'signed-out') {
        state.phase = 'signed-out';
        renderContent();
      }
    })
    .catch(() => undefined);

  // ---- the only timer: a tick at each minute boundary ------------------------
  function tick(): void {
    const day = state.view ? dateKeyOf(Date.now(), validTimeZone(state.view.timezone)) : null;
    if (loadedDay && day && day !== loadedDay) {
      void loadAgenda(false); // midnight: "today" moved, fetch the new window
    } else if (state.phase === 'ready') {
      renderContent();
    }
    renderStatus();
    schedule();
  }
  function schedule(): void {
    window.setTimeout(tick, msToNextMinute(Date.now()) + 50);
  }

  renderStatus();
  void refresh(true);
  schedule();
}

/**
 * Size the time column to the widest label this locale can produce ("All day"/"Ganztägig",
 * "12:59 PM", "23:59"), in rem so it keeps scaling with the text size.
 */
function sizeTimeColumn(host: HTMLElement, locale: string, allDay: string): void {
  const samples = [allDay, formatTime(Date.UTC(2026, 0, 1, 12, 59), locale, 'UTC'), formatTime(Date.UTC(2026, 0, 1, 23, 59), locale, 'UTC')];
  const probe = h('span', { class: 'time time-probe', 'aria-hidden': 'true' }, ...samples.map((t) => h('span', { class: 't-start' }, t)));
  host.appendChild(probe);
  const widest = Math.max(...[...probe.children].map((c) => c.getBoundingClientRect().width));
  const rootPx = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  probe.remove();
  if (widest > 0) document.documentElement.style.setProperty('--time-col', `${Math.ceil((widest / rootPx) * 100) / 100 + 0.1}rem`);
}
