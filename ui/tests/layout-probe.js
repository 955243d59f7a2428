// Run in the app's window (WebDriver execute script): what a person would see as broken
// layout at this zoom. Returns { viewport, horizontalScroll, clipped: [...], overlaps: [...] }.
// - clipped: text cut off by its own box (overflow, ellipsis) or by an ancestor that hides
//   its overflow (a scroll container does not clip: its content can be scrolled to);
// - overlaps: the glyph boxes of two different pieces of text intersect.
const name = (el) => {
  const id = el.getAttribute('data-testid');
  const cls = [...el.classList].slice(0, 2).join('.');
  return `${el.tagName.toLowerCase()}${id ? `[data-testid=${id}]` : ''}${cls ? `.${cls}` : ''}`;
};
const shown = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden' || e.hidden) return false;
    if (e.classList.contains('sr-only')) return false;
  }
  return el.getClientRects().length > 0;
};
const textNodes = (el) => [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
const leaves = [...document.body.querySelectorAll('*')].filter((el) => textNodes(el).length && shown(el));
const boxes = (el) =>
  textNodes(el).flatMap((n) => {
    const r = document.createRange();
    r.selectNodeContents(n);
    return [...r.getClientRects()].filter((b) => b.width > 0.5 && b.height > 0.5);
  });
const short = (el) => el.textContent.trim().replace(/\s+/g, ' ').slice(0, 40);
const clipped = [];
const pieces = [];
for (const el of leaves) {
  const own = getComputedStyle(el);
  if (own.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'INPUT' && el.tagName !== 'TEXTAREA') {
    clipped.push(`${name(el)} "${short(el)}": its text is ${el.scrollWidth} px wide in ${el.clientWidth} px (${own.textOverflow})`);
  }
  const rects = boxes(el);
  for (const b of rects) pieces.push({ el, b });
  for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    const hides = (v) => v === 'hidden' || v === 'clip';
    if (!hides(s.overflowX) && !hides(s.overflowY)) continue;
    const box = a.getBoundingClientRect();
    const out = rects.find((b) => (hides(s.overflowX) && (b.left < box.left - 1 || b.right > box.right + 1)) || (hides(s.overflowY) && (b.top < box.top - 1 || b.bottom > box.bottom + 1)));
    if (out) clipped.push(`${name(el)} "${short(el)}" is cut off by ${name(a)} (overflow ${s.overflowX}/${s.overflowY})`);
  }
}
// The intersection of two boxes, if more than a sliver: a line box is taller than its
// glyphs, so a pixel or two is leading, not overlap.
const meet = (a, b) => {
  const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return w > 2 && h > 2 ? { x: Math.max(a.left, b.left) + w / 2, y: Math.max(a.top, b.top) + h / 2, w, h } : null;
};
const opaque = (el) => {
  const s = getComputedStyle(el);
  const alpha = /rgba?\(([^)]+)\)/.exec(s.backgroundColor)?.[1].split(/[\s,/]+/).filter(Boolean)[3];
  return s.backgroundImage !== 'none' || (s.backgroundColor !== 'transparent' && (alpha === undefined || Number(alpha) === 1));
};
// Text under an opaque layer (the detail pane over the agenda, a sticky day header over the
// items scrolled beneath it) is hidden, not drawn over: what is on top at that point, up to
// the layer's common ancestor with the text, has a background of its own.
const hidden = (el, x, y) => {
  const hit = document.elementFromPoint(x, y);
  if (!hit || el.contains(hit) || hit.contains(el)) return false;
  for (let e = hit; e && !e.contains(el); e = e.parentElement) {
    const r = e.getBoundingClientRect();
    if (opaque(e) && r.left <= x && x <= r.right && r.top <= y && y <= r.bottom) return true;
  }
  return false;
};
const overlaps = [];
for (let i = 0; i < pieces.length; i++) {
  for (let j = i + 1; j < pieces.length; j++) {
    const p = pieces[i];
    const q = pieces[j];
    if (p.el === q.el || p.el.contains(q.el) || q.el.contains(p.el)) continue;
    if (!meet(p.b, q.b)) continue;
    // Look at it on screen: scrolled into view, the boxes read again (a sticky header moves).
    p.el.scrollIntoView({ block: 'center' });
    const now = boxes(p.el).flatMap((a) => boxes(q.el).map((b) => meet(a, b))).find(Boolean);
    if (!now) continue;
    if (hidden(p.el, now.x, now.y) || hidden(q.el, now.x, now.y)) continue;
    overlaps.push(`${name(p.el)} "${short(p.el)}" and ${name(q.el)} "${short(q.el)}" (${Math.round(now.w)}×${Math.round(now.h)} px)`);
  }
}
const root = document.documentElement;
return {
  viewport: `${root.clientWidth}×${root.clientHeight}`,
  horizontalScroll: root.scrollWidth > root.clientWidth ? `${root.scrollWidth} px of content in ${root.clientWidth}` : null,
  texts: leaves.length,
  clipped: [...new Set(clipped)],
  overlaps: [...new Set(overlaps)],
};
