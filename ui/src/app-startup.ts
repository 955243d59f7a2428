// The app's start-up: the first-paint data the Rust side puts into a new window, the
// time column sized before the first frame, and the report that the agenda is on screen
// with its marks. BENCHMARKS.md's start-up figure is measured up to that report, so what
// happens here is kept small and in this order.
import { h } from './dom';
import { formatTime } from './format';
import type { AgendaView, Status } from './types';

/** What the Rust side puts into a new window before the page loads (src-tauri/src/boot.rs):
 * the status and the agenda from the local store, for the first frame. */
export interface Boot {
  days: number;
  status: Status;
  agenda: AgendaView;
}

declare global {
  interface Window {
    __PRESENTLY_BOOT__?: unknown;
  }
}

/** Takes the first-paint data, once: a re-mount (another language) or a reload asks again. */
export function takeBoot(): Boot | null {
  const raw = window.__PRESENTLY_BOOT__;
  delete window.__PRESENTLY_BOOT__;
  if (!raw || typeof raw !== 'object') return null;
  const b = raw as Partial<Boot>;
  const ok =
    typeof b.days === 'number' &&
    b.days >= 1 &&
    !!b.status?.account?.signed_in &&
    Array.isArray(b.agenda?.days) &&
    typeof b.agenda?.timezone === 'string';
  return ok ? (b as Boot) : null;
}

/** Runs `fn` once the next frame is on screen (work that must not delay the first paint). */
export function afterNextFrame(fn: () => void): void {
  requestAnimationFrame(() => window.setTimeout(fn, 0));
}

/**
 * Size the time column to the widest label this locale can produce ("All day"/"Ganztägig",
 * "12:59 PM", "23:59"), in rem so it keeps scaling with the text size.
 */
export function sizeTimeColumn(host: HTMLElement, locale: string, allDay: string): void {
  const samples = [allDay, formatTime(Date.UTC(2026, 0, 1, 12, 59), locale, 'UTC'), formatTime(Date.UTC(2026, 0, 1, 23, 59), locale, 'UTC')];
  const probe = h('span', { class: 'time time-probe', 'aria-hidden': 'true' }, ...samples.map((t) => h('span', { class: 't-start' }, t)));
  host.appendChild(probe);
  const widest = Math.max(...[...probe.children].map((c) => c.getBoundingClientRect().width));
  const rootPx = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  probe.remove();
  if (widest > 0) document.documentElement.style.setProperty('--time-col', `${Math.ceil((widest / rootPx) * 100) / 100 + 0.1}rem`);
}

/** Set once the first agenda paint was reported (one per process, not per mount). */
let firstPaintReported = false;
/** Start-up marks (ms since the page's time origin) sent with the first-paint report. */
export const marks: Record<string, number> = {};

/** Tells Rust, once, that the agenda is on screen (after the next frame): the start-up
 * figure in BENCHMARKS.md is measured from process start to this. */
export function reportFirstPaint(painted: () => Promise<unknown>): void {
  if (firstPaintReported) return;
  firstPaintReported = true;
  requestAnimationFrame(() => {
    marks.firstFrame ??= performance.now();
    requestAnimationFrame(() => {
      painted().catch(() => undefined);
    });
  });
}


/** Runs `fn` once the first agenda paint has been reported (two frames, then a task), or
 * after a second if no frame comes (a window still hidden): work that must not delay it. */
export function afterFirstPaint(fn: () => void): void {
  let done = false;
  const run = (): void => {
    if (done) return;
    done = true;
    fn();
  };
  requestAnimationFrame(() => requestAnimationFrame(() => window.setTimeout(run, 0)));
  window.setTimeout(run, 1000);
}
