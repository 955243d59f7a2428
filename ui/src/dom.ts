// Minimal DOM builder. Strings always become text nodes; there is no way to pass markup.
// Inline style attributes and on* handlers are refused (CSP and safety).

export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'style' || k.startsWith('on')) throw new Error(`refused attribute ${k}`);
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/**
 * The icons. Each is a 24×24 stroked shape in styles.css (`.icon-NAME`, a data: SVG used as
 * a mask over `currentColor`), so a use is one empty element: an agenda shows a hundred, and
 * a hundred inline SVG trees cost WebKit ~25 ms of layout and ~10 ms of painting at start-up
 * (BENCHMARKS.md, "Desktop app").
 */
const ICON_NAMES = [
  'sync',
  'lock',
  'repeat',
  'video',
  'pin',
  'back',
  'external',
  'user',
  'clock',
  'calendar',
  'alert',
  'offline',
  'question',
  'x',
  'copy',
  'search',
  'signin',
  'settings',
  'up',
  'down',
  'plus',
  'trash',
] as const;

export type IconName = (typeof ICON_NAMES)[number];

export function icon(name: IconName, extraClass = ''): HTMLElement {
  return h('span', { class: `icon icon-${name} ${extraClass}`.trim(), 'aria-hidden': 'true' });
}
