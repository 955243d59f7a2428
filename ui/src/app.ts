// The app shell: state, IPC wiring, the once-a-minute tick, focus management.
// Start-up (boot data, first-paint report) is in app-startup.ts, the keyboard shortcuts in
// app-keyboard.ts, the signed-out screen's controller in app-signin.ts.
import { api as realApi, scopedApi, toIpcError, type Api } from './api';
import { keyCommand } from './app-keyboard';
import { createSignIn } from './app-signin';
import { afterFirstPaint, afterNextFrame, marks, reportFirstPaint, sizeTimeColumn, takeBoot } from './app-startup';
import type { Phase, State } from './app-state';
import { h, icon } from './dom';
import { applyFilters, calendarsOf, isDefault, loadFilters, saveFilters, type FilterKey } from './filter';
import { applyStoredFont, checkFont } from './font';
import { dateKeyOf, displayZone, msToNextMinute, presenceLine, statusLine, usableLocale } from './format';
import { pickLang, strings } from './i18n';
import {
  appendAgendaDays,
  daysFillingHeight,
  renderAgenda,
  renderDetail,
  renderError,
  renderFilterToggles,
  renderFirstSync,
  renderLoading,
  renderSignedOut,
  type Ctx,
  type Handlers,
  type JoinCopy,
} from './render';
import { emptyRegistrationForm, renderSignIn } from './render-signin';
import { createSettings, type SettingsResume } from './settings';
import { settingsIcon } from './settings-icons';
import { settingsStrings } from './settings-i18n';
import { agendaDays, uiLocale } from './settings-language';
import { installTooltips } from './tooltip';
import type { AgendaView, SettingsView } from './types';
import './styles.css';

export const DEFAULT_DAYS = 7;

/** The same appointments in the same zone (`generated_at` differs with each answer). */
function sameAgenda(a: AgendaView, b: AgendaView): boolean {
  return a.timezone === b.timezone && JSON.stringify(a.days) === JSON.stringify(b.days);
}

/** Error codes that replace the agenda with the error state even when one is shown. */
const FATAL = new Set(['not_signed_in', 'store_corrupt', 'store_too_new', 'config_invalid']);

export interface StartOptions {
  root?: HTMLElement;
  api?: Api;
  days?: number;
  /** Internal: the app re-mounted in another language (settings.ts) and what the settings page carries over. */
  resume?: SettingsResume;
}

export function start(opts: StartOptions = {}): void {
  // The page's script is loaded, parsed and evaluated: what comes before this is WebKit's.
  marks.start ??= performance.now();
  applyStoredFont();
  // One mount of the app: aborted when it re-mounts itself in another language.
  const life = new AbortController();
  const api = scopedApi(opts.api ?? realApi, life.signal);
  // Only the first mount of a window draws from the boot data; it takes it either way.
  const takenBoot = takeBoot();
  const boot = opts.resume || opts.days ? null : takenBoot;
  let days = opts.days ?? agendaDays(opts.resume?.view) ?? boot?.days ?? DEFAULT_DAYS;
  const root = opts.root ?? document.getElementById('app') ?? document.body;
  const locale = usableLocale(uiLocale(navigator.language));
  const lang = pickLang(locale);
  const s = strings(lang);
  document.documentElement.lang = lang;
  document.title = s.appName;

  const state: State = {
    phase: 'loading',
    view: null,
    error: null,
    status: null,
    syncError: null,
    selectedId: null,
    info: null,
    signIn: { kind: 'idle' },
    reg: emptyRegistrationForm(),
    joinCopy: null,
    filters: loadFilters(),
    query: '',
  };
  marks.stateReady ??= performance.now();

  // ---- static shell -------------------------------------------------------
  const statusEl = h('p', { class: 'status', 'data-testid': 'status', role: 'status', 'aria-live': 'polite' });
  // What presence automation keeps failing at (a restore first): never silent.
  const presenceEl = h('p', {
    class: 'status presence-problem tone-warn',
    'data-testid': 'presence-problem',
    role: 'status',
    'aria-live': 'polite',
    hidden: true,
  });
  const demoBadge = h('span', { class: 'badge badge-demo', 'data-testid': 'demo', title: s.demoTitle, hidden: true }, s.demo);
  const syncBtn = h(
    'button',
    { type: 'button', class: 'icon-btn sync-btn', 'data-testid': 'sync-now', 'aria-label': s.syncNow, 'data-tip': s.syncNow },
    icon('sync'),
  );
  const banner = h(
    'div',
    { class: 'banner', 'data-testid': 'offline-banner', role: 'status', hidden: true },
    icon('offline'),
    h('span', {}, s.offlineBanner),
  );
  const searchInput = h('input', {
    type: 'search',
    class: 'search-input',
    'data-testid': 'search',
    'aria-label': s.search,
    placeholder: s.searchPlaceholder,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const toggles = h('div', { class: 'filter-toggles-host' });
  const matchLive = h('span', { class: 'sr-only', role: 'status', 'data-testid': 'match-count' });
  const filterBar = h(
    'div',
    { class: 'filterbar', 'data-testid': 'filter-bar', hidden: true },
    h('div', { class: 'search', role: 'search' }, icon('search'), searchInput),
    toggles,
    matchLive,
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
  // The settings page (settings.ts) and the header button that opens it.
  const ss = settingsStrings(lang);
  const settingsBtn = h(
    'button',
    { type: 'button', class: 'icon-btn settings-btn', 'data-testid': 'open-settings', 'aria-label': ss.openSettings, 'data-tip': ss.openSettings },
    settingsIcon(),
  );
  const settings = createSettings(
    { api, lang, locale, back: () => showAgendaScreen(), applied: (v, saved) => settingsApplied(v, saved) },
    opts.resume ?? null,
  );
  const header = h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'topbar-row' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, icon('calendar')), h('h1', {}, s.appName), demoBadge),
      h('div', { class: 'topbar-actions' }, syncBtn, settingsBtn),
    ),
    statusEl,
    presenceEl,
  );
  const shell = h('div', { class: 'app' }, header, filterBar, banner, content, settings.el, detail);
  root.replaceChildren(shell);
  installTooltips(shell, life.signal);
  marks.shellBuilt ??= performance.now();
  sizeTimeColumn(shell, locale, s.allDay);
  marks.timeColumnSized ??= performance.now();
  /** Set for the first render from boot data: it draws only the days that fill the window. */
  let firstScreenOnly = false;
  const remPx = (): number => parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;

  // ---- rendering ----------------------------------------------------------
  /**
   * The engine's display zone: the agenda's (its days were cut in it), else the status's
   * (signed out, or before the agenda arrives). Never the webview's local zone.
   */
  const zone = (): string =>
    state.view
      ? displayZone(state.view.timezone, state.view.generated_at)
      : displayZone(state.status?.timezone, state.status?.sync.last_synced_at);
  const ctx = (): Ctx => ({ locale, s, tz: zone(), now: Date.now() });

  const handlers: Handlers = {
    open: (id) => openDetail(id),
    join: (id) => void api.joinMeeting(id).catch(reportActionError),
    openInOutlook: (id) => void api.openItem(id).catch(reportActionError),
    closeDetail: () => closeDetail(),
    retry: () => void refresh(true),
    copyJoinLink: (id) => void copyJoinLink(id),
    // The agenda comes again (`agenda-changed`) with the item's `skipped` flag.
    skip: (id, series, skip) => void api.presenceSkip(id, series, skip).then(() => loadAgenda(false), reportActionError),
  };

  const signIn = createSignIn({ state, api, s, content, renderContent, renderStatus, loadAgenda, reportActionError });


  function reportActionError(e: unknown): void {
    state.syncError = toIpcError(e).message;
    renderStatus();
  }

  function renderPresence(): void {
    const st = state.status;
    const line = st?.account.signed_in ? presenceLine(st.presence, s) : null;
    const signature = line ? `${line.text}|${line.detail ?? ''}` : '';
    if (presenceEl.dataset['sig'] === signature) return;
    presenceEl.dataset['sig'] = signature;
    presenceEl.hidden = !line;
    if (!line) {
      presenceEl.replaceChildren();
      presenceEl.removeAttribute('title');
      return;
    }
    presenceEl.replaceChildren(
      h('span', { class: 'status-main' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), h('span', { class: 'status-text' }, line.text)),
    );
    if (line.detail) presenceEl.setAttribute('title', line.detail);
    else presenceEl.removeAttribute('title');
  }

  function renderStatus(): void {
    renderPresence();
    const st = state.status;
    demoBadge.hidden = !st?.account.demo;
    const syncing = st?.sync.state === 'syncing';
    syncBtn.classList.toggle('is-syncing', syncing);
    syncBtn.setAttribute('aria-disabled', String(syncing));
    syncBtn.hidden = !!st && !st.account.signed_in;
    banner.hidden = st?.sync.state !== 'offline';
    let line = st ? statusLine(st, Date.now(), locale, s, zone()) : { text: '', tone: 'muted' as const };
    if (st && !st.account.signed_in) line = { text: s.notSignedIn, tone: 'muted' };
    if (state.syncError) line = { text: state.syncError, tone: 'error' };
    const who = st?.account.signed_in ? st.account.display_name ?? st.account.upn : null;
    // Only touch the live region when the text really changes (no re-announcements each minute).
    const signature = `${line.tone}|${line.text}|${who ?? ''}`;
    if (statusEl.dataset['sig'] === signature) return;
    statusEl.dataset['sig'] = signature;
    statusEl.className = `status tone-${line.tone}`;
    statusEl.replaceChildren(
      h('span', { class: 'status-main' }, h('span', { class: 'status-dot', 'aria-hidden': 'true' }), h('span', { class: 'status-text' }, line.text)),
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
    // Outside the agenda (sign-in screens), focus stays on the control with the same role.
    const focusControl =
      active instanceof HTMLElement && content.contains(active) && !focusItem ? active.dataset['testid'] : undefined;
    const caret = active instanceof HTMLInputElement ? { from: active.selectionStart, to: active.selectionEnd } : null;
    const scroll = content.scrollTop;

    content.setAttribute('aria-busy', String(state.phase === 'loading'));
    switch (state.phase) {
      case 'loading':
        content.replaceChildren(renderLoading(s));
        break;
      case 'signed-out':
        // Demo mode signs in by itself; its signed-out state has nothing to offer.
        content.replaceChildren(
          state.status?.account.demo ? renderSignedOut(s) : renderSignIn(state.info, state.signIn, ctx(), signIn.handlers, state.reg),
        );
        break;
      case 'first-sync':
        content.replaceChildren(renderFirstSync(state.status, signedInName(), s, retryFirstSync));
        break;
      case 'error':
        content.replaceChildren(renderError(state.error ?? { code: 'internal', message: '' }, s, handlers));
        break;
      case 'ready':
        if (state.view) {
          const multi = calendarsOf(state.view).length > 1;
          const view = applyFilters(state.view, state.filters, state.query);
          // The first frame from boot data draws the days that fill the window; the others
          // (below it) follow once that frame is painted, so they cost the start-up nothing.
          const first = firstScreenOnly ? daysFillingHeight(view, window.innerHeight, remPx()) : view.days.length;
          firstScreenOnly = false;
          const agendaEl = renderAgenda(view, ctx(), handlers, multi, first);
          content.replaceChildren(agendaEl);
          marks.agendaRendered ??= performance.now();
          reportFirstPaint(() => api.uiPainted({ ...marks, painted: performance.now() }));
          if (first < view.days.length) {
            const drawnWith = ctx();
            // A re-render in between replaced this agenda with a whole one.
            afterFirstPaint(() => {
              if (agendaEl.isConnected) appendAgendaDays(agendaEl, view, drawnWith, handlers, multi, first);
            });
          }
        }
        break;
    }
    renderFilterBar();
    content.scrollTop = scroll;
    // Setting scrollTop lays the page out: the first time, that is the agenda's first layout.
    if (marks.agendaRendered !== undefined) marks.laidOut ??= performance.now();
    if (focusId) {
      const rows = [...content.querySelectorAll<HTMLElement>('[data-testid="item"]')].filter((el) => el.dataset['id'] === focusId);
      const li = rows.find((el) => el.closest<HTMLElement>('[data-testid="day"]')?.dataset['date'] === focusDate) ?? rows[0];
      const target = li?.querySelector<HTMLElement>(focusJoin ? '[data-testid="join"]' : '.item-main');
      target?.focus({ preventScroll: true });
    } else if (focusControl) {
      const again = content.querySelector<HTMLElement>(`[data-testid="${focusControl}"]:not([disabled])`);
      again?.focus({ preventScroll: true });
      if (caret && again instanceof HTMLInputElement && caret.from !== null && caret.to !== null) {
        again.setSelectionRange(caret.from, caret.to);
      }
    }
    renderDetailPane(false);
  }

  // ---- filters and search ---------------------------------------------------
  /** Calendars the toggles were last drawn for, to redraw only when they change. */
  let toggleSig = '';

  function renderFilterBar(): void {
    filterBar.hidden = state.phase !== 'ready' || !state.view;
    if (filterBar.hidden || !state.view) return;
    const cals = calendarsOf(state.view);
    const sig = JSON.stringify([state.filters, cals]);
    if (sig === toggleSig) return;
    toggleSig = sig;
    const active = document.activeElement;
    const had = active instanceof HTMLElement && toggles.contains(active) ? active : null;
    const key = had?.dataset['filter'];
    const cal = had?.dataset['calendar'];
    toggles.replaceChildren(
      renderFilterToggles(state.filters, cals, s, {
        toggle: (k) => toggleFilter(k),
        toggleCalendar: (id) => toggleCalendar(id),
      }),
    );
    if (had) {
      const sel = key ? `[data-filter="${key}"]` : cal ? `[data-calendar="${CSS.escape(cal)}"]` : null;
      (sel ? toggles.querySelector<HTMLElement>(sel) : null)?.focus();
    }
  }

  /** Announces how many events the filters and search leave (only when something is filtered). */
  function announceMatches(): void {
    if (!state.view || isDefault(state.filters, state.query)) {
      matchLive.textContent = '';
      return;
    }
    const ids = new Set(applyFilters(state.view, state.filters, state.query).days.flatMap((d) => d.items.map((i) => i.id)));
    matchLive.textContent = s.matchCount(ids.size);
  }

  function filtersChanged(): void {
    saveFilters(state.filters);
    renderContent();
    announceMatches();
  }

  function toggleFilter(key: FilterKey): void {
    state.filters = { ...state.filters, [key]: !state.filters[key] };
    filtersChanged();
  }

  function toggleCalendar(id: string): void {
    const hidden = state.filters.hiddenCalendars;
    state.filters = {
      ...state.filters,
      hiddenCalendars: hidden.includes(id) ? hidden.filter((c) => c !== id) : [...hidden, id],
    };
    filtersChanged();
  }

  searchInput.addEventListener('input', () => {
    state.query = searchInput.value;
    renderContent();
    announceMatches();
  });
  searchInput.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || !searchInput.value) return;
    ev.preventDefault();
    ev.stopPropagation();
    searchInput.value = '';
    state.query = '';
    renderContent();
    announceMatches();
  });

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
    detail.replaceChildren(renderDetail(item, ctx(), handlers, state.joinCopy));
    detail.hidden = false;
    header.inert = true;
    filterBar.inert = true;
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
    state.joinCopy = null;
    renderDetailPane(true);
  }

  function closeDetail(): void {
    const id = state.selectedId;
    state.selectedId = null;
    state.joinCopy = null;
    detail.hidden = true;
    detail.replaceChildren();
    header.inert = false;
    filterBar.inert = false;
    content.inert = false;
    banner.inert = false;
    if (id) {
      const rows = [...content.querySelectorAll<HTMLElement>('[data-testid="item"]')].filter((el) => el.dataset['id'] === id);
      const li = rows.find((el) => el.closest<HTMLElement>('[data-testid="day"]')?.dataset['date'] === openerDate) ?? rows[0];
      li?.querySelector<HTMLElement>('.item-main')?.focus();
    }
  }

  /** Rust copies the join URL; the pane says "Copied" (politely) or shows the error. */
  async function copyJoinLink(id: string): Promise<void> {
    let fb: JoinCopy;
    try {
      await api.copyJoinLink(id);
      fb = { id, ok: true, text: s.copied };
    } catch (e) {
      fb = { id, ok: false, text: toIpcError(e).message };
    }
    state.joinCopy = fb;
    showJoinCopy();
    if (fb.ok) {
      window.setTimeout(() => {
        if (state.joinCopy !== fb) return;
        state.joinCopy = null;
        showJoinCopy();
      }, 2500);
    }
  }

  /** Updates the pane's live region in place (a re-render would not be announced). */
  function showJoinCopy(): void {
    const el = detail.querySelector<HTMLElement>('[data-testid="copy-join-status"]');
    if (!el) return;
    const fb = state.joinCopy && state.joinCopy.id === state.selectedId ? state.joinCopy : null;
    el.textContent = fb?.text ?? '';
    el.classList.toggle('is-error', !!fb && !fb.ok);
  }

  /** With boot data, start-up work the first frame does not need waits for that frame. */
  function deferWithBoot(fn: () => void): void {
    if (boot) afterNextFrame(fn);
    else fn();
  }

  // ---- data ---------------------------------------------------------------
  let loadSeq = 0;
  let loadedDay: string | null = null;

  async function loadAgenda(showLoading: boolean): Promise<void> {
    const seq = ++loadSeq;
    if (showLoading || (!state.view && state.phase !== 'first-sync' && state.phase !== 'signed-out')) {
      state.phase = 'loading';
      renderContent();
    }
    try {
      const view = await api.agenda(null, days);
      marks.agendaReceived ??= performance.now();
      if (seq !== loadSeq) return;
      // A refetch that brings what is on screen (the one after a boot-data paint, a sync
      // that changed nothing here) leaves the agenda's DOM alone: no second build and
      // layout, and nothing for a screen reader to re-read.
      // Not across midnight, though: "Today" moved even if the appointments did not.
      const unchanged = state.phase === 'ready' && state.view !== null && sameAgenda(state.view, view);
      const dayBefore = loadedDay;
      state.view = view;
      state.error = null;
      state.phase = settledPhase();
      loadedDay = dateKeyOf(Date.now(), zone());
      if (unchanged && state.phase === 'ready' && loadedDay === dayBefore) {
        renderStatus();
        return;
      }
    } catch (e) {
      if (seq !== loadSeq) return;
      const err = toIpcError(e);
      if (!showLoading && state.view && (state.phase === 'ready' || state.phase === 'first-sync') && !FATAL.has(err.code)) {
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

  /** What a loaded agenda shows: the sign-in screen, the first sync, or the agenda. */
  function settledPhase(): Phase {
    const st = state.status;
    if (st && !st.account.signed_in) return 'signed-out';
    const empty = !state.view?.days.some((d) => d.items.length > 0);
    if (st && !st.sync.last_synced_at && empty) return 'first-sync';
    return 'ready';
  }

  function signedInName(): string | null {
    const a = state.status?.account;
    return a?.signed_in ? a.display_name ?? a.upn : null;
  }

  async function loadStatus(): Promise<void> {
    try {
      state.status = await api.status();
    } catch {
      // The agenda call reports errors; a missing status just leaves the line empty.
    }
    if (state.status && (state.phase === 'ready' || state.phase === 'first-sync')) {
      const phase = settledPhase();
      if (phase !== state.phase) {
        state.phase = phase;
        renderContent();
      }
    }
    renderStatus();
  }

  async function loadInfo(): Promise<void> {
    try {
      state.info = await api.signInInfo();
    } catch {
      // Without it the screen still offers sign-in; the command itself reports what is wrong.
      state.info = null;
    }
    if (state.phase === 'signed-out') renderContent();
  }

  function retryFirstSync(): void {
    state.syncError = null;
    api.syncNow().then(
      () => renderStatus(),
      (e) => reportActionError(e),
    );
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
    const active = document.activeElement;
    const onAgendaItem = active instanceof HTMLElement && active.classList.contains('item-main');
    const command = keyCommand(ev, { screen: currentScreen, detailOpen: !detail.hidden, onAgendaItem });
    switch (command) {
      case 'close-window':
        ev.preventDefault();
        api.closeWindow().catch((e) => reportActionError(e));
        break;
      case 'leave-settings':
        ev.preventDefault();
        showAgendaScreen();
        break;
      case 'close-detail':
        ev.preventDefault();
        closeDetail();
        break;
      case 'next-item':
      case 'previous-item': {
        const all = [...content.querySelectorAll<HTMLElement>('.item-main')];
        const next = all[all.indexOf(active as HTMLElement) + (command === 'next-item' ? 1 : -1)];
        if (next) {
          ev.preventDefault();
          next.focus();
        }
        break;
      }
      case null:
        break;
    }
  }, { signal: life.signal });

  // ---- settings screen (settings.ts) ------------------------------------------
  let currentScreen: 'agenda' | 'settings' = 'agenda';

  function showSettingsScreen(): void {
    if (!detail.hidden) closeDetail();
    if (currentScreen !== 'settings') {
      currentScreen = 'settings';
      shell.classList.add('is-settings');
      settingsBtn.hidden = true;
      if (location.hash !== '#settings') history.replaceState(history.state, '', '#settings');
    }
    settings.show();
  }

  function showAgendaScreen(): void {
    if (currentScreen !== 'settings') return;
    const active = document.activeElement;
    const hadFocus = !active || active === document.body || settings.el.contains(active);
    currentScreen = 'agenda';
    shell.classList.remove('is-settings');
    settings.hide();
    settingsBtn.hidden = false;
    if (location.hash === '#settings') history.replaceState(history.state, '', `${location.pathname}${location.search}`);
    if (hadFocus) settingsBtn.focus();
  }

  /** A loaded or saved configuration: a new language re-renders everything, a new agenda length reloads. */
  function settingsApplied(v: SettingsView, saved: boolean): void {
    if (usableLocale(uiLocale(navigator.language, v.config.app.language)) !== locale) {
      const resume = settings.snapshot(saved, currentScreen === 'settings');
      settings.hide();
      life.abort();
      const next: StartOptions = { ...opts };
      delete next.resume;
      if (resume) next.resume = resume;
      start(next);
      return;
    }
    const d = agendaDays(v);
    if (!opts.days && d && d !== days) {
      days = d;
      void loadAgenda(false);
    }
  }

  settingsBtn.addEventListener('click', () => showSettingsScreen());
  window.addEventListener('hashchange', () => (location.hash === '#settings' ? showSettingsScreen() : showAgendaScreen()), {
    signal: life.signal,
  });
  void api.onNavigate((to) => (to === 'settings' ? showSettingsScreen() : showAgendaScreen())).catch(() => undefined);
  if (opts.resume?.open || location.hash === '#settings') showSettingsScreen();
  if (!opts.resume) deferWithBoot(() => settings.prefetch());

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
      if (!st.account.signed_in) {
        if (state.phase !== 'signed-out' && state.phase !== 'error') {
          state.phase = 'signed-out';
          state.signIn = { kind: 'idle' };
          renderContent();
          void loadInfo();
        }
      } else if (wasSignedIn === false || state.phase === 'signed-out') {
        // Signed in elsewhere (the CLI, another window).
        void loadAgenda(state.phase !== 'first-sync');
      } else if (state.phase === 'first-sync') {
        if (st.sync.last_synced_at) void loadAgenda(false);
        else renderContent();
      }
    })
    .catch(() => undefined);
  void api.onSignInProgress(signIn.onProgress).catch(() => undefined);

  // ---- the only timer: a tick at each minute boundary ------------------------
  function tick(): void {
    const day = state.view ? dateKeyOf(Date.now(), zone()) : null;
    if (loadedDay && day && day !== loadedDay) {
      void loadAgenda(false); // midnight: "today" moved, fetch the new window
    } else if (state.phase === 'ready') {
      renderContent();
    }
    renderStatus();
    schedule();
  }
  function schedule(): void {
    if (life.signal.aborted) return; // re-mounted (settings: another language)
    window.setTimeout(tick, msToNextMinute(Date.now()) + 50);
  }

  if (boot) {
    // The first frame shows the agenda from the store; the page then asks again, after its
    // listeners are attached, so a sync that finished in between is not missed.
    state.status = boot.status;
    state.view = boot.agenda;
    marks.agendaReceived ??= performance.now();
    marks.boot = 1;
    firstScreenOnly = true;
    state.phase = settledPhase();
    loadedDay = dateKeyOf(Date.now(), zone());
    renderContent();
    renderStatus();
    deferWithBoot(() => {
      void refresh(false);
      void loadInfo();
    });
  } else {
    renderStatus();
    void refresh(true);
    void loadInfo();
  }
  schedule();
  // After the first paint is reported: the check costs the slow font lookups it saves later.
  if (!fontChecked) {
    fontChecked = true;
    requestAnimationFrame(() => afterNextFrame(() => checkFont()));
  }
  marks.scriptDone ??= performance.now();
  if (!readyReported) {
    readyReported = true;
    api.uiReady().catch(() => undefined);
  }
}

/** Set once the font check is scheduled (one per page, not per mount). */
let fontChecked = false;

/** Set once the window was told the page is ready to be shown (one per page). */
let readyReported = false;
