import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs: the build works from any folder of a static host.
  base: './',
  // atrous creates its workers and fetches its .wasm with `new URL(..., import.meta.url)`; pre-bundling
  // it would move the code away from those files, so Vite serves it as it is.
  optimizeDeps: { exclude: ['atrous'] },
  worker: { format: 'es' },
  build: { target: 'es2022', assetsInlineLimit: 0 },
});
