/**
 * The page's text face: `system-ui`, except where the system has no UI face of its own and
 * `system-ui` ends in the same face as `sans-serif` anyway.
 *
 * Why: WebKitGTK asks fontconfig for `system-ui` first at every font size and weight; where
 * none of its faces is installed (Cantarell, Noto Sans UI, …) that lookup fails and a second
 * one for `sans-serif` follows. On such a machine the first layout spent ~55 ms more in
 * fontconfig than with `sans-serif` (BENCHMARKS.md, "Desktop app"), for the same face. So the
 * page measures, after its first paint, whether the two families draw the same face, and
 * remembers it: the next start lays out with `sans-serif` directly. Where `system-ui` is a
 * face of its own (Windows, macOS, a desktop with Cantarell) nothing changes.
 */

/** localStorage key: present ("sans-serif") when `system-ui` draws the `sans-serif` face. */
export const FONT_KEY = 'presently.font.v1';

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: system-ui, as before
  }
}

/** Applies the remembered choice; call before the first layout. */
export function applyStoredFont(root: HTMLElement = document.documentElement): void {
  if (storage()?.getItem(FONT_KEY) === 'sans-serif') root.dataset['font'] = 'sans-serif';
}

/** Widths of a sample with letters of many widths, regular and bold, at a size where one
 * glyph's difference shows. Equal for both families means the same face (or one whose
 * every glyph here is as wide, which draws the same layout). */
function sameFace(a: string, b: string): boolean {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return false;
  const sample = 'Mmil1 WQgjy0.,:;—ÄÖÜßéçñ@&%fi tabular 12:59';
  for (const weight of ['400', '700']) {
    ctx.font = `${weight} 40px ${a}`;
    // A family the canvas does not take leaves the previous font: never "the same" then.
    if (!ctx.font.includes(a)) return false;
    const wa = ctx.measureText(sample).width;
    ctx.font = `${weight} 40px ${b}`;
    if (!ctx.font.includes(b)) return false;
    const wb = ctx.measureText(sample).width;
    if (wa !== wb) return false;
  }
  return true;
}

/**
 * Measures whether `family` (`system-ui` unless a test says otherwise) draws the `sans-serif`
 * face, remembers the answer for the next start and applies it now if it changed (a font
 * installed or removed since). Run it after the first paint: it costs the slow lookups once.
 */
export function checkFont(family = 'system-ui', root: HTMLElement = document.documentElement): void {
  const store = storage();
  const same = sameFace(family, 'sans-serif');
  if (same) {
    store?.setItem(FONT_KEY, 'sans-serif');
    root.dataset['font'] = 'sans-serif';
  } else {
    store?.removeItem(FONT_KEY);
    delete root.dataset['font'];
  }
}
