// Tooltips the page places itself, for controls marked `data-tip="…"`.
//
// Why not `title`: WebKitGTK hands a title to GTK, which draws it from the pointer rightwards,
// so the tooltips of the header's buttons at the window's right edge were cut off there. This
// one is laid out inside the window: under its control, right-aligned with it, moved in from
// an edge and above the control when there is no room below.
//
// WCAG 2.1 1.4.13: it shows on hover (after a moment) and on keyboard focus, stays while the
// pointer is over the control or the tooltip, and Escape hides it. It says what the control's
// aria-label says, so it is hidden from assistive technology (read once, not twice).
// One element and a few delegated listeners for the whole page: nothing per control.
import { h } from './dom';

/** How long the pointer rests on a control before its tooltip shows (GTK's is 500 ms). */
const SHOW_DELAY_MS = 500;
/** Time to move the pointer from the control onto its tooltip. */
const HIDE_DELAY_MS = 150;
/** Distance from the control and from the window's edges. */
const GAP_PX = 4;

export function installTooltips(host: HTMLElement, signal: AbortSignal): HTMLElement {
  const tip = h('div', { class: 'tip', 'data-testid': 'tooltip', 'aria-hidden': 'true', hidden: true });
  host.appendChild(tip);
  let anchor: HTMLElement | null = null;
  let timer: number | undefined;

  const later = (ms: number, fn: () => void): void => {
    window.clearTimeout(timer);
    timer = window.setTimeout(fn, ms);
  };

  function show(el: HTMLElement): void {
    window.clearTimeout(timer);
    const text = el.dataset['tip'];
    if (!text || !el.isConnected) return hide();
    anchor = el;
    tip.textContent = text;
    tip.hidden = false;
    place(el);
  }

  function hide(): void {
    window.clearTimeout(timer);
    anchor = null;
    tip.hidden = true;
  }

  function place(el: HTMLElement): void {
    const root = document.documentElement;
    const a = el.getBoundingClientRect();
    const t = tip.getBoundingClientRect();
    const left = Math.max(GAP_PX, Math.min(a.right - t.width, root.clientWidth - GAP_PX - t.width));
    const below = a.bottom + GAP_PX;
    const top = below + t.height <= root.clientHeight - GAP_PX ? below : Math.max(GAP_PX, a.top - GAP_PX - t.height);
    tip.style.setProperty('left', `${left}px`);
    tip.style.setProperty('top', `${top}px`);
  }

  const tipped = (target: EventTarget | null): HTMLElement | null =>
    target instanceof Element ? target.closest<HTMLElement>('[data-tip]') : null;
  const opts = { signal, capture: true };

  document.addEventListener(
    'pointerover',
    (ev) => {
      if (ev.target instanceof Node && tip.contains(ev.target)) return window.clearTimeout(timer);
      const el = tipped(ev.target);
      if (!el) return;
      if (el === anchor) return window.clearTimeout(timer);
      // Moving along a row of controls, the next tooltip follows at once.
      if (anchor) show(el);
      else later(SHOW_DELAY_MS, () => show(el));
    },
    opts,
  );
  document.addEventListener(
    'pointerout',
    (ev) => {
      const from = tipped(ev.target);
      const to = ev.relatedTarget;
      // Within the control (icon to button), or from it onto its tooltip: nothing changes.
      if (to instanceof Node && [tip, anchor, from].some((el) => el?.contains(to))) return;
      if (anchor || from) later(HIDE_DELAY_MS, hide);
    },
    opts,
  );
  document.addEventListener(
    'focusin',
    (ev) => {
      const el = tipped(ev.target);
      if (el && el === ev.target && el.matches(':focus-visible')) show(el);
      else if (anchor && !anchor.contains(ev.target as Node)) hide();
    },
    opts,
  );
  document.addEventListener('focusout', (ev) => ev.target === anchor && hide(), opts);
  document.addEventListener('keydown', (ev) => ev.key === 'Escape' && anchor && hide(), opts);
  document.addEventListener('pointerdown', () => anchor && hide(), opts);
  // Scrolling moves the tooltip with its control, or hides it with the control out of sight.
  document.addEventListener(
    'scroll',
    () => {
      if (!anchor) return;
      const a = anchor.getBoundingClientRect();
      const hit = document.elementFromPoint((a.left + a.right) / 2, (a.top + a.bottom) / 2);
      if (hit && anchor.contains(hit)) place(anchor);
      else hide();
    },
    opts,
  );
  window.addEventListener('blur', () => hide(), { signal });
  window.addEventListener('resize', () => hide(), { signal });
  return tip;
}
