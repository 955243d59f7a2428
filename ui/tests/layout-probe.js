// The layout probe: what a person would see as broken layout in the window as it is now.
//
// A self-contained script *body* (not a module, no imports, no arguments): it ends in
// `return {...}`, a JSON-serialisable answer.
// - WebDriver's Execute Script (the Rust end-to-end tests, WebKitGTK):
//     const LAYOUT_PROBE: &str = include_str!("../../../ui/tests/layout-probe.js");
//     let answer = client.execute(LAYOUT_PROBE, vec![]).await?;
//     assert_eq!(answer["problems"], serde_json::json!([]), "{answer}");
//   with the agenda on screen (`answer["texts"]` > 20 says the probe saw it).
// - Playwright (ui/tests/a11y.test.mjs): `page.evaluate('(function () {' + text + '}).apply(null, [])')`.
// Hover needs no pointer: the hover rule is read from the style sheets (b). To see one of the
// page's tooltips checked too, move the pointer onto its control first (WebDriver actions:
// pointerMove with the element as origin), wait 0.6 s for it to show, then run the probe.
//
// The answer: { viewport, texts, horizontalScroll, clipped: [...], overlaps: [...], layout: [...],
// problems: [...] }; `problems` is every finding of the others as one list, empty when clean:
// - horizontalScroll: the page scrolls sideways;
// - clipped: text cut off by its own box (overflow, ellipsis) or by an ancestor that hides
//   its overflow (a scroll container does not clip: its content can be scrolled to);
// - overlaps: the glyph boxes of two different pieces of text intersect;
// - layout: the agenda's own rules, checked from the layout's properties (white-space, the
//   boxes the CSS rules paint) more than from pixel counts, so a wider font does not hide them:
//   (a) an appointment's start and end each stay on one line ("8:15 AM", never "AM" alone),
//       and may not wrap at all (white-space), so a wider font cannot break them either;
//   (b) what paints a row's hover (or focus) background spans the whole row, the Join
//       button's column too. WebDriver has no :hover, so the probe reads the style sheets'
//       :hover/:focus rules that set a background and measures the elements they target
//       that hold a row's subject (the row's own state, not a button's within it);
//   (c) scrolled to its end (the list, then the page, as a mouse wheel does), the agenda
//       leaves the header and the search where they were, the page itself does not scroll,
//       and there is no blank of more than a row below the last day;
//   (d) tooltips lie inside the window: the page's own while shown (`[role=tooltip]`, `.tip`,
//       `[popover]`), and the native ones (`title`) of controls without text of their own:
//       GTK draws those from the pointer rightwards, so one that would cross the window's
//       edge is reported (an estimate: the page can neither place nor measure them); the
//       status line keeps its dot beside its text's first line, and the signed-in name whole
//       on one line when it fits on one.
// The probe scrolls while it looks and puts every scroll position back; it changes nothing else.
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
/** The glyph boxes of all the text inside `el`, its children's too. */
const allBoxes = (el) => {
  const r = document.createRange();
  r.selectNodeContents(el);
  return [...r.getClientRects()].filter((b) => b.width > 0.5 && b.height > 0.5);
};
/** The lines text boxes stand on: a box whose middle is below the line so far starts the next. */
const lines = (rects) => {
  const out = [];
  for (const b of [...rects].sort((p, q) => p.top - q.top)) {
    const last = out[out.length - 1];
    const mid = (b.top + b.bottom) / 2;
    if (last && mid < last.bottom) {
      last.bottom = Math.max(last.bottom, b.bottom);
      last.width += b.width;
    } else out.push({ top: b.top, bottom: b.bottom, width: b.width });
  }
  return out;
};
const short = (el) => el.textContent.trim().replace(/\s+/g, ' ').slice(0, 40);
const root = document.documentElement;
const vw = root.clientWidth;
const vh = root.clientHeight;
const px = (n) => `${Math.round(n)} px`;
const layout = [];
// Every scroll position, to put back at the end.
const scrollers = [document.scrollingElement || root, ...document.body.querySelectorAll('*')]
  .filter((e) => e.scrollHeight > e.clientHeight || e.scrollWidth > e.clientWidth)
  .map((e) => [e, e.scrollTop, e.scrollLeft]);

// (c) Scrolled to the end. First, before anything else scrolls.
const agendaEl = document.querySelector('[data-testid="agenda"]');
if (agendaEl && shown(agendaEl)) {
  const page = document.scrollingElement || root;
  let scroller = null;
  for (let a = agendaEl.parentElement; a && a !== document.body && a !== root; a = a.parentElement) {
    const oy = getComputedStyle(a).overflowY;
    if ((oy === 'auto' || oy === 'scroll') && a.scrollHeight > a.clientHeight + 1) {
      scroller = a;
      break;
    }
  }
  const steady = [...document.querySelectorAll('header, [role="search"]')].filter(shown);
  const before = steady.map((el) => el.getBoundingClientRect().top);
  const saved = [page.scrollTop, scroller ? scroller.scrollTop : 0];
  if (scroller) scroller.scrollTop = scroller.scrollHeight;
  // A wheel turned past the list's end scrolls the page next.
  page.scrollTop = page.scrollHeight;
  const rows = agendaEl.querySelectorAll('[data-testid="item"], .empty-day');
  const row = rows.length ? rows[rows.length - 1].getBoundingClientRect().height : 0;
  const rowHeight = Math.max(row, 40);
  let blank;
  if (scroller) {
    // The agenda scrolls in its own box, under a header and search that stay.
    if (root.scrollHeight > root.clientHeight + 1) {
      layout.push(`the page scrolls ${px(root.scrollHeight - root.clientHeight)} besides the agenda's own scrolling (content ${px(root.scrollHeight)} high in a ${px(root.clientHeight)} window): header and search scroll away`);
    }
    steady.forEach((el, i) => {
      const r = el.getBoundingClientRect();
      if (Math.abs(r.top - before[i]) > 1 || r.top < 0 || r.bottom > vh) {
        layout.push(`${name(el)} moved from ${px(before[i])} to ${px(r.top)} from the top when the agenda was scrolled to its end`);
      }
    });
    blank = scroller.getBoundingClientRect().bottom - agendaEl.getBoundingClientRect().bottom;
  } else {
    // A short window scrolls as one page: below the content there is nothing to scroll to.
    let end = 0;
    for (const el of document.querySelectorAll('body > *, body > * > *, body > * > * > *')) {
      const p = getComputedStyle(el).position;
      if (p === 'absolute' || p === 'fixed' || !shown(el)) continue;
      end = Math.max(end, el.getBoundingClientRect().bottom);
    }
    blank = Math.min(vh, root.scrollHeight - page.scrollTop) - end;
  }
  if (blank > rowHeight) {
    layout.push(`scrolled to its end, the agenda leaves ${px(blank)} of blank below its last day (a row is ${px(rowHeight)})`);
  }
  page.scrollTop = saved[0];
  if (scroller) scroller.scrollTop = saved[1];
}

// (a) An appointment's start and end: each on one line, in its column.
const noWrap = (s) => s.whiteSpace === 'nowrap' || s.whiteSpace === 'pre' || s.textWrapMode === 'nowrap' || s.textWrap === 'nowrap';
const some = (list) => `${list.slice(0, 4).join(', ')}${list.length > 4 ? ` and ${list.length - 4} more` : ''}`;
const mayWrap = [];
const wrapped = [];
const tooWide = [];
for (const cell of document.querySelectorAll('[data-testid="item"] .time')) {
  if (!shown(cell)) continue;
  for (const part of cell.children) {
    const text = part.textContent.trim();
    if (!text || !shown(part)) continue;
    const s = getComputedStyle(part);
    if (/\s/.test(text) && !noWrap(s)) mayWrap.push(`"${text}" (white-space: ${s.whiteSpace})`);
    const n = lines(allBoxes(part)).length;
    if (n > 1) wrapped.push(`"${text}" on ${n} lines`);
  }
  if (cell.scrollWidth > cell.clientWidth + 1) tooWide.push(`"${short(cell)}" ${px(cell.scrollWidth)} in ${px(cell.clientWidth)}`);
}
if (mayWrap.length) layout.push(`times that may wrap at their space, where a narrower column or a wider font breaks them: ${some(mayWrap)}`);
if (wrapped.length) layout.push(`times broken over lines: ${some(wrapped)}`);
if (tooWide.length) layout.push(`times wider than their column: ${some(tooWide)}`);

// (b) Hover and focus backgrounds of the agenda's rows: across the whole row.
const stateRules = [];
const splitList = (sel) => {
  const out = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < sel.length; i++) {
    if (sel[i] === '(') depth++;
    else if (sel[i] === ')') depth--;
    else if (sel[i] === ',' && depth === 0) {
      out.push(sel.slice(from, i).trim());
      from = i + 1;
    }
  }
  out.push(sel.slice(from).trim());
  return out;
};
const STATE = /:(hover|focus-visible|focus-within|focus)\b/;
const STATES = /:(hover|focus-visible|focus-within|focus)\b/g;
const collect = (rules) => {
  for (const r of rules) {
    if (r.selectorText && STATE.test(r.selectorText)) {
      const st = r.style;
      if (st.getPropertyValue('background') || st.getPropertyValue('background-color') || st.getPropertyValue('background-image')) {
        for (const part of splitList(r.selectorText)) {
          if (STATE.test(part)) stateRules.push({ rule: part, target: part.replace(STATES, '') || '*' });
        }
      }
    }
    if (r.cssRules) collect(r.cssRules);
  }
};
for (const sheet of document.styleSheets) {
  try {
    collect(sheet.cssRules);
  } catch {
    // A sheet from another origin: not the app's.
  }
}
const agendaRows = [...document.querySelectorAll('[data-testid="item"]')].filter(shown);
let rowHover = false;
for (const { rule, target } of stateRules) {
  let targets;
  try {
    targets = [...document.querySelectorAll(target)];
  } catch {
    continue;
  }
  let narrow = 0;
  let example = '';
  for (const el of targets) {
    const row = el.closest('[data-testid="item"]');
    const subject = row?.querySelector('[data-testid="item-subject"]');
    // The row's own state (it holds the subject), not a button's within it.
    if (!row || !subject || !el.contains(subject) || !shown(row)) continue;
    if (rule.includes(':hover')) rowHover = true;
    const r = el.getBoundingClientRect();
    const rr = row.getBoundingClientRect();
    if (r.left > rr.left + 1 || r.right < rr.right - 1) {
      narrow++;
      example ||= `${px(r.left - rr.left)} to ${px(r.right - rr.left)} of the row's ${px(rr.width)} in "${short(subject)}"`;
    }
  }
  if (narrow) layout.push(`"${rule}" paints ${name(targets[0])} short of the row's width in ${narrow} row(s) (from ${example}): the Join button's column keeps another background`);
}
if (agendaRows.length && !rowHover) layout.push('no :hover rule paints a background across the agenda rows');

// (d) Tooltips inside the window.
for (const tip of document.querySelectorAll('[role="tooltip"], .tip, [popover]')) {
  if (!tip.getClientRects().length) continue;
  const r = tip.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) continue;
  const anchor = tip.parentElement.getBoundingClientRect();
  // A tooltip of a control scrolled out of view shows when it is scrolled back.
  if (anchor.top < 0 || anchor.bottom > vh) continue;
  const what = `tooltip "${short(tip)}" of ${name(tip.parentElement)}`;
  if (r.left < -0.5 || r.right > vw + 0.5 || r.top < -0.5 || r.bottom > vh + 0.5) {
    layout.push(`${what} reaches out of the window: ${px(r.left)}–${px(r.right)} × ${px(r.top)}–${px(r.bottom)} in ${vw}×${vh}`);
  }
  for (let a = tip.parentElement.parentElement; a && a !== root; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const box = a.getBoundingClientRect();
    if (anchor.top < box.top || anchor.bottom > box.bottom) break;
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
      layout.push(`${what} is cut off by ${name(a)} (overflow ${s.overflowX}/${s.overflowY})`);
      break;
    }
  }
}
const measure = document.createElement('canvas').getContext('2d');
for (const el of document.querySelectorAll('button[title], a[title], [role="button"][title], input[title], select[title]')) {
  const title = el.getAttribute('title').trim();
  const ownText = [el, ...el.querySelectorAll('*')].some((e) => textNodes(e).length && shown(e));
  if (!title || ownText || !shown(el)) continue;
  // A native tooltip: about 13 px system text plus padding, from the pointer rightwards.
  measure.font = `13px ${getComputedStyle(document.body).fontFamily}`;
  const width = measure.measureText(title).width + 16;
  const r = el.getBoundingClientRect();
  const x = (r.left + r.right) / 2;
  if (x + width > vw) layout.push(`${name(el)}: its native tooltip "${title}" (~${px(width)} from the pointer at ${px(x)}) would cross the window's edge at ${px(vw)}; the page cannot place it`);
}

// (d) The status line: its dot beside its text, the signed-in name not squeezed.
for (const line of document.querySelectorAll('.status')) {
  if (!shown(line)) continue;
  const dot = line.querySelector('.status-dot');
  const text = line.querySelector('.status-text');
  if (dot && text && shown(dot) && shown(text) && text.textContent.trim()) {
    const first = lines(allBoxes(text))[0];
    const d = dot.getBoundingClientRect();
    const mid = (d.top + d.bottom) / 2;
    if (first && (mid < first.top || mid > first.bottom)) layout.push(`${name(line)}: its dot stands on a line of its own, away from "${short(text)}"`);
  }
  const who = line.querySelector('.status-who');
  if (who && shown(who)) {
    const ls = lines(allBoxes(who));
    const natural = ls.reduce((sum, l) => sum + l.width, 0);
    const cs = getComputedStyle(line);
    const room = line.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    if (ls.length > 1 && natural < room - 2) layout.push(`the signed-in name "${short(who)}" is broken over ${ls.length} lines though it is ${px(natural)} wide and a line has ${px(room)}`);
  }
}

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
for (const [e, top, left] of scrollers) {
  e.scrollTop = top;
  e.scrollLeft = left;
}
const horizontalScroll = root.scrollWidth > root.clientWidth ? `${root.scrollWidth} px of content in ${root.clientWidth}` : null;
const result = {
  viewport: `${root.clientWidth}×${root.clientHeight}`,
  horizontalScroll,
  texts: leaves.length,
  clipped: [...new Set(clipped)],
  overlaps: [...new Set(overlaps)],
  layout: [...new Set(layout)],
};
result.problems = [...(horizontalScroll ? [`scrolls sideways: ${horizontalScroll}`] : []), ...result.clipped, ...result.overlaps, ...result.layout];
return result;
