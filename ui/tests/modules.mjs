// Loads modules of src/ in Node, for tests of the pure parts (validation, mappings) that need
// no browser: Vite compiles the TypeScript the same way the app's build does.
import { createServer } from 'vite';
import { UI_DIR } from './harness.mjs';

let server = null;

/** The module at `path` (relative to ui/, e.g. 'src/settings-validate.ts'). */
export async function load(path) {
  server ??= await createServer({ root: UI_DIR, logLevel: 'warn', appType: 'custom', server: { middlewareMode: true, hmr: false, ws: false } });
  return server.ssrLoadModule(`/${path}`);
}

/** Stops the compiler (call from `after`). */
export async function unload() {
  await server?.close();
  server = null;
}
