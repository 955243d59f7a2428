// Test harness: builds the test bundle, serves it on 127.0.0.1 with a strict CSP,
// and drives Debian's chromium through playwright-core.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';

export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(UI_DIR, 'dist-test');
export const ARTIFACTS = resolve(UI_DIR, '..', 'test-artifacts');

/** The policy the Tauri window should use too (see README). */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self' ipc: http://ipc.localhost",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export async function buildTestBundle() {
  await build({ root: UI_DIR, mode: 'test', logLevel: 'warn' });
}

export async function serve(root = DIST) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      let rel = decodeURIComponent(url.pathname);
      if (rel.endsWith('/')) rel += 'index.html';
      const file = normalize(join(root, rel));
      if (!file.startsWith(root + sep)) throw new Error('outside root');
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Security-Policy': CSP,
        'Cache-Control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { server, base: `http://127.0.0.1:${port}` };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    // playwright-core adds a fresh temporary --user-data-dir itself.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Open the app in a new context. `scenario` is what test-entry.ts installs as IPC mocks.
 * Returns { page, context, problems, dialogs }: console errors, page errors and CSP
 * violations land in `problems`.
 */
export async function openApp(browser, base, opts = {}) {
  const {
    scenario = {},
    locale = 'en-US',
    colorScheme = 'light',
    time,
    path = '/test.html',
    viewport = { width: 400, height: 760 },
    deviceScaleFactor = 1,
    wait = '[data-testid="agenda"]',
    navigatorLanguage,
    boot,
    // A script run before the page's own (after the scenario and the boot data).
    init,
    // The browser's own zone (the fixtures' engine zone is Europe/Berlin too, unless a
    // test sets them apart).
    timezoneId = 'Europe/Berlin',
  } = opts;
  const context = await browser.newContext({
    locale,
    timezoneId,
    colorScheme,
    viewport,
    deviceScaleFactor,
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  if (time) await page.clock.install({ time: new Date(time) });
  if (navigatorLanguage) {
    // What WebKitGTK reports under LANG=C: a tag Intl rejects.
    await page.addInitScript((lang) => {
      Object.defineProperty(Navigator.prototype, 'language', { get: () => lang, configurable: true });
    }, navigatorLanguage);
  }
  await page.addInitScript((s) => {
    window.__PRESENTLY_SCENARIO__ = s;
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  }, scenario);
  if (boot) {
    // What src-tauri/src/boot.rs puts into a new window before the page loads.
    await page.addInitScript((b) => {
      window.__PRESENTLY_BOOT__ = b;
    }, boot);
  }
  if (init) await page.addInitScript(init);
  await page.goto(base + path);
  if (wait) await page.waitForSelector(wait);
  return { page, context, problems, dialogs };
}

/** IPC calls recorded by the mock, optionally filtered by command. */
export async function calls(page, cmd) {
  const all = await page.evaluate(() => window.__presently.calls);
  return cmd ? all.filter((c) => c.cmd === cmd) : all;
}

export function ensureArtifacts() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}
