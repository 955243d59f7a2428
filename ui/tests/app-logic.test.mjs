// The app shell's pure parts, run in Node (no browser): the keyboard shortcuts' mapping.
// What the commands do on screen is covered in the browser by ui.test.mjs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { load, unload } from './modules.mjs';

let k; // app-keyboard.ts
before(async () => {
  k = await load('src/app-keyboard.ts');
});
after(unload);

const press = (key, mods = {}) => ({ key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, defaultPrevented: false, ...mods });
const agenda = { screen: 'agenda', detailOpen: false, onAgendaItem: false };

test('Ctrl+W and ⌘W close the window anywhere; with Alt or Shift they do not', () => {
  assert.equal(k.keyCommand(press('w', { ctrlKey: true }), agenda), 'close-window');
  assert.equal(k.keyCommand(press('W', { metaKey: true }), { ...agenda, screen: 'settings' }), 'close-window');
  assert.equal(k.keyCommand(press('w', { ctrlKey: true, shiftKey: true }), agenda), null);
  assert.equal(k.keyCommand(press('w', { ctrlKey: true, altKey: true }), agenda), null);
  assert.equal(k.keyCommand(press('w'), agenda), null);
});

test('Escape leaves the settings unless handled already, else closes the detail pane', () => {
  assert.equal(k.keyCommand(press('Escape'), { ...agenda, screen: 'settings' }), 'leave-settings');
  assert.equal(k.keyCommand(press('Escape', { defaultPrevented: true }), { ...agenda, screen: 'settings' }), null);
  assert.equal(k.keyCommand(press('Escape'), { ...agenda, detailOpen: true }), 'close-detail');
  assert.equal(k.keyCommand(press('Escape'), agenda), null);
});

test('Up and Down move between agenda items only from an item, and not while the pane is open', () => {
  const onItem = { ...agenda, onAgendaItem: true };
  assert.equal(k.keyCommand(press('ArrowDown'), onItem), 'next-item');
  assert.equal(k.keyCommand(press('ArrowUp'), onItem), 'previous-item');
  assert.equal(k.keyCommand(press('ArrowDown'), agenda), null);
  assert.equal(k.keyCommand(press('ArrowDown'), { ...onItem, detailOpen: true }), null);
  assert.equal(k.keyCommand(press('ArrowLeft'), onItem), null);
});

test('the first frame from boot data draws the days that fill the window, counted with rows at less than their least height', async () => {
  const r = await load('src/render.ts');
  const day = (n) => ({ date: '2026-11-24', items: Array.from({ length: n }, () => ({})) });
  const view = (...counts) => ({ days: counts.map(day) });
  // 16 px to the rem: a day of 4 items counts (1.5 + 4 × 2) × 16 = 152 px, an empty one 56 px.
  assert.equal(r.daysFillingHeight(view(4, 4, 4, 4, 4), 400, 16), 3);
  assert.equal(r.daysFillingHeight(view(4, 4, 4, 4, 4), 304, 16), 2, 'exactly filled: no day more');
  assert.equal(r.daysFillingHeight(view(0, 0, 0, 0, 0, 0, 0, 0), 200, 16), 4);
  // Larger text fills the window sooner.
  assert.equal(r.daysFillingHeight(view(4, 4, 4, 4, 4), 400, 32), 2);
  // A window taller than the whole agenda: every day; never fewer than one.
  assert.equal(r.daysFillingHeight(view(1, 2), 5000, 16), 2);
  assert.equal(r.daysFillingHeight(view(30), 10, 16), 1);
  assert.equal(r.daysFillingHeight(view(), 400, 16), 0);
});
