// The agenda as a static page, to measure what its styles cost WebKit without the app around
// it (BENCHMARKS.md, "Desktop app": the page's first layout).
//
//   node ui/tests/static-agenda.mjs OUT.html [--font system-ui|sans-serif] [--css FILE]
//
// Renders the test fixtures' agenda in Chromium (420×640, as the app's window), removes the
// scripts and writes the DOM with the built stylesheet inlined (or FILE, for a variant), and a
// script of its own, with the face the page names set as `--font` says (default: system-ui,
// the face before the page's font check; sans-serif, after it found the two the same): it lays the page out, posts `mark:layout <ms>` and `ready` to the
// webview's IPC, then `painted` after two animation frames. `webview_floor` with
// FLOOR_PAGE=OUT.html loads it as it loads its own one-line page.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agenda, NOW, status } from './fixtures.mjs';
import { buildTestBundle, DIST, launch, openApp, serve } from './harness.mjs';

const [out, ...rest] = process.argv.slice(2);
if (!out) {
  console.error('usage: node ui/tests/static-agenda.mjs OUT.html [--font system-ui|sans-serif] [--css FILE]');
  process.exit(2);
}
const cssArg = rest.indexOf('--css');
const fontArg = rest.indexOf('--font');
const font = fontArg >= 0 ? rest[fontArg + 1] : 'system-ui';
if (font !== 'system-ui' && font !== 'sans-serif') {
  console.error(`--font: system-ui or sans-serif, not ${font}`);
  process.exit(2);
}
await buildTestBundle();
const cssFile =
  cssArg >= 0 ? rest[cssArg + 1] : join(DIST, 'assets', readdirSync(join(DIST, 'assets')).find((f) => f.endsWith('.css')));
const css = readFileSync(cssFile, 'utf8');

const { server, base } = await serve();
const browser = await launch();
try {
  const app = await openApp(browser, base, {
    time: NOW,
    scenario: { agenda: agenda(), status: status() },
    viewport: { width: 420, height: 640 },
  });
  const dom = await app.page.evaluate((face) => {
    for (const el of document.querySelectorAll('script, link')) el.remove();
    if (face === 'sans-serif') document.documentElement.dataset.font = 'sans-serif';
    else delete document.documentElement.dataset.font;
    return document.documentElement.outerHTML;
  }, font);
  const timing = `<script>
const before = performance.now();
document.body.offsetHeight;
window.ipc.postMessage('mark:layout ' + (performance.now() - before).toFixed(1) + ' ms');
window.ipc.postMessage('ready');
requestAnimationFrame(() => requestAnimationFrame(() => window.ipc.postMessage('painted')));
</script>`;
  const page = dom.replace('</head>', `<style>${css}</style></head>`).replace('</body>', `${timing}</body>`);
  writeFileSync(out, `<!doctype html>${page}`);
  console.log(`wrote ${out} (${page.length} bytes; font ${font}; styles from ${cssFile})`);
} finally {
  await browser.close();
  server.close();
}
