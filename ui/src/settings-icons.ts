// The settings page's icons that the shared set (dom.ts) does not have: the gear of the
// Settings button, and the move/add/remove buttons of the profile and rule cards.
const SVG_NS = 'http://www.w3.org/2000/svg';

/** Icons the shared set (dom.ts) does not have, drawn the same way (24×24, stroked). */
function svg(paths: string[], extraClass = ''): SVGSVGElement {
  const el = document.createElementNS(SVG_NS, 'svg');
  el.setAttribute('viewBox', '0 0 24 24');
  el.setAttribute('class', `icon ${extraClass}`.trim());
  el.setAttribute('aria-hidden', 'true');
  el.setAttribute('focusable', 'false');
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    el.appendChild(p);
  }
  return el;
}

export function settingsIcon(): SVGSVGElement {
  return svg([
    'M12 8.8a3.2 3.2 0 1 0 0 6.4 3.2 3.2 0 0 0 0-6.4z',
    'M10.3 3h3.4l.5 2.4 1.7 1 2.3-.8 1.7 2.9-1.8 1.6v2l1.8 1.6-1.7 2.9-2.3-.8-1.7 1-.5 2.4h-3.4l-.5-2.4-1.7-1-2.3.8-1.7-2.9 1.8-1.6v-2L4.1 8.5l1.7-2.9 2.3.8 1.7-1z',
  ]);
}
export const upIcon = () => svg(['M6 15l6-6 6 6']);
export const downIcon = () => svg(['M6 9l6 6 6-6']);
export const plusIcon = () => svg(['M12 5v14M5 12h14']);
export const trashIcon = () => svg(['M4 7h16', 'M9.5 7V4.5h5V7', 'M6.5 7l1 12.5h9l1-12.5', 'M10 11v5M14 11v5']);
