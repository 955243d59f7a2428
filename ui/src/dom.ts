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

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Icon shapes drawn on a 24×24 grid, stroked with currentColor (see .icon in styles.css). */
const ICONS = {
  sync: [
    ['path', { d: 'M20 11a8 8 0 0 0-14.3-4.9L4 8' }],
    ['path', { d: 'M4 3.5V8h4.5' }],
    ['path', { d: 'M4 13a8 8 0 0 0 14.3 4.9L20 16' }],
    ['path', { d: 'M20 20.5V16h-4.5' }],
  ],
  lock: [
    ['rect', { x: 5, y: 11, width: 14, height: 10, rx: 2 }],
    ['path', { d: 'M8 11V7.5a4 4 0 0 1 8 0V11' }],
  ],
  repeat: [
    ['path', { d: 'M17 3l3 3-3 3' }],
    ['path', { d: 'M4 11v-1a4 4 0 0 1 4-4h12' }],
    ['path', { d: 'M7 21l-3-3 3-3' }],
    ['path', { d: 'M20 13v1a4 4 0 0 1-4 4H4' }],
  ],
  video: [
    ['rect', { x: 2.5, y: 6, width: 13, height: 12, rx: 2.5 }],
    ['path', { d: 'M15.5 10.5 21 7v10l-5.5-3.5' }],
  ],
  pin: [
    ['path', { d: 'M12 21s-6.5-5.8-6.5-11a6.5 6.5 0 0 1 13 0c0 5.2-6.5 11-6.5 11z' }],
    ['circle', { cx: 12, cy: 10, r: 2.3 }],
  ],
  back: [['path', { d: 'M15 18l-6-6 6-6' }]],
  external: [
    ['path', { d: 'M14 4h6v6' }],
    ['path', { d: 'M20 4l-9 9' }],
    ['path', { d: 'M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5' }],
  ],
  user: [
    ['circle', { cx: 12, cy: 8, r: 4 }],
    ['path', { d: 'M4 21a8 8 0 0 1 16 0' }],
  ],
  clock: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M12 7v5l3.5 2' }],
  ],
  calendar: [
    ['rect', { x: 3, y: 5, width: 18, height: 16, rx: 3 }],
    ['path', { d: 'M3 10h18M8 3v4M16 3v4' }],
  ],
  alert: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M12 7.5v5.5M12 16.5v.01' }],
  ],
  offline: [
    ['path', { d: 'M3 3l18 18' }],
    ['path', { d: 'M8.5 8.6A6 6 0 0 0 6 13a4 4 0 0 0 1 7.9h10.5M20.5 18.2A4 4 0 0 0 18 11a6 6 0 0 0-6.7-5.4' }],
  ],
  question: [
    ['circle', { cx: 12, cy: 12, r: 9 }],
    ['path', { d: 'M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .8-1 1.5v.7M12 17v.01' }],
  ],
  x: [['path', { d: 'M6 6l12 12M18 6 6 18' }]],
  copy: [
    ['rect', { x: 9, y: 9, width: 11, height: 11, rx: 2 }],
    ['path', { d: 'M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1' }],
  ],
  search: [
    ['circle', { cx: 11, cy: 11, r: 6.5 }],
    ['path', { d: 'M16 16l4.5 4.5' }],
  ],
  signin: [
    ['path', { d: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3' }],
    ['path', { d: 'M10 16l4-4-4-4M14 12H4' }],
  ],
} as const satisfies Record<string, ReadonlyArray<readonly [string, Record<string, string | number>]>>;

export type IconName = keyof typeof ICONS;

export function icon(name: IconName, extraClass = ''): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${extraClass}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const [tag, attrs] of ICONS[name]) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    svg.appendChild(el);
  }
  return svg;
}
