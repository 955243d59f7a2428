// WCAG 2.x contrast ratio of CSS colours (hex or rgb()/rgba(), as getComputedStyle gives them).

/** [r, g, b, a] with r, g, b in 0..255 and a in 0..1. */
export function parseColor(css) {
  const s = css.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,8})$/.exec(s);
  if (hex) {
    let h = hex[1];
    if (h.length === 3 || h.length === 4) h = [...h].map((c) => c + c).join('');
    if (h.length !== 6 && h.length !== 8) throw new Error(`not a colour: ${css}`);
    const n = (i) => parseInt(h.slice(i, i + 2), 16);
    return [n(0), n(2), n(4), h.length === 8 ? n(6) / 255 : 1];
  }
  const fn = /^rgba?\(([^)]+)\)$/.exec(s);
  if (fn) {
    const parts = fn[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    if (parts.length < 3 || parts.some(Number.isNaN)) throw new Error(`not a colour: ${css}`);
    return [parts[0], parts[1], parts[2], parts[3] ?? 1];
  }
  throw new Error(`not a colour: ${css}`);
}

/** `top` painted over the opaque `under` (alpha compositing), as an opaque colour. */
export function over(top, under) {
  const [r, g, b, a] = typeof top === 'string' ? parseColor(top) : top;
  const base = typeof under === 'string' ? parseColor(under) : under;
  return [0, 1, 2].map((i) => [r, g, b][i] * a + base[i] * (1 - a)).concat(1);
}

function luminance([r, g, b]) {
  const lin = (v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Contrast ratio of `fg` on `bg` (bg opaque; a translucent fg is composited over it). */
export function contrast(fg, bg) {
  const b = typeof bg === 'string' ? parseColor(bg) : bg;
  if (b[3] !== 1) throw new Error('the background must be opaque; composite it first');
  const f = over(fg, b);
  const [l1, l2] = [luminance(f), luminance(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}
