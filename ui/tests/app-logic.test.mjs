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
