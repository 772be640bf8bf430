import { defineConfig } from 'vite';

// Cross-origin isolation: without these two headers a page has no SharedArrayBuffer, so atrous cannot give a
// run more than one thread (it falls back to one and says why). A static host must send the same two.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: isolation },
  preview: { headers: isolation },
  // Relative asset URLs: the build works from any folder of a static host.
  base: './',
  // atrous creates its workers and fetches its .wasm with `new URL(..., import.meta.url)`; pre-bundling
  // it would move the code away from those files, so Vite serves it as it is.
  optimizeDeps: { exclude: ['atrous'] },
  worker: { format: 'es' },
  build: { target: 'es2022', assetsInlineLimit: 0 },
});
