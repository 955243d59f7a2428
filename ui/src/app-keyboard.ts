// The agenda window's keyboard shortcuts: which key press does what, given where the user
// is. Kept as a pure mapping so the whole table reads (and is tested) in one place; app.ts
// listens for keys and carries the commands out.

export type KeyCommand = 'close-window' | 'leave-settings' | 'close-detail' | 'next-item' | 'previous-item';

/** The parts of a KeyboardEvent the mapping looks at. */
export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  /** Something closer to the focus handled the key already (e.g. Escape clearing the search). */
  defaultPrevented: boolean;
}

export interface KeyContext {
  screen: 'agenda' | 'settings';
  detailOpen: boolean;
  /** The focus is on an agenda item's main button. */
  onAgendaItem: boolean;
}

export function keyCommand(ev: KeyPress, at: KeyContext): KeyCommand | null {
  // Ctrl+W (⌘W): close the window, as its close button does; Presently stays in the tray.
  if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === 'w') return 'close-window';
  if (ev.key === 'Escape' && at.screen === 'settings' && !ev.defaultPrevented) return 'leave-settings';
  if (ev.key === 'Escape' && at.detailOpen) return 'close-detail';
  // Up/Down move between agenda items (Tab works too).
  if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && !at.detailOpen && at.onAgendaItem) {
    return ev.key === 'ArrowDown' ? 'next-item' : 'previous-item';
  }
  return null;
}
