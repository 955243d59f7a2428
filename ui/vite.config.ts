import { defineConfig } from 'vite';

// `vite build` -> dist/ (what Tauri serves, frontendDist "../ui/dist").
// `vite build --mode test` -> dist-test/ with an extra test.html entry that
// installs @tauri-apps/api mocks before the app starts. It is never part of dist/.
export default defineConfig(({ mode }) => {
  const test = mode === 'test';
  return {
    clearScreen: false,
    server: { host: '127.0.0.1', port: 5173, strictPort: true },
    build: {
      outDir: test ? 'dist-test' : 'dist',
      emptyOutDir: true,
      target: ['es2021', 'chrome105', 'safari15'],
      sourcemap: false,
      // Keep assets as files: the CSP has no data:/inline allowances to spare.
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      rolldownOptions: {
        input: test ? { index: 'index.html', test: 'test.html' } : { index: 'index.html' },
      },
    },
  };
});
