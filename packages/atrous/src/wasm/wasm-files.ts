// Where each build's .wasm lies: beside dist/ in the package. The literal `new URL('...', import.meta.url)`
// form is what Vite and webpack recognise and rewrite to the emitted asset; Node reads the same URLs from
// disk. One table for both sources (source-node.ts, source-browser.ts).
import type { WasmBuild } from './builds.js';

const FILES: Record<WasmBuild, URL> = {
  relaxed: new URL('../../wasm/atrous-relaxed.wasm', import.meta.url),
  simd128: new URL('../../wasm/atrous-simd128.wasm', import.meta.url),
  scalar: new URL('../../wasm/atrous-scalar.wasm', import.meta.url),
};
/** The shared-memory variants (no scalar one). */
const SHARED_FILES: Partial<Record<WasmBuild, URL>> = {
  relaxed: new URL('../../wasm/atrous-relaxed-threads.wasm', import.meta.url),
  simd128: new URL('../../wasm/atrous-simd128-threads.wasm', import.meta.url),
};

/** The file of `build`, its shared-memory variant when `shared` and there is one. */
export function wasmFile(build: WasmBuild, shared: boolean): URL {
  return (shared ? SHARED_FILES[build] : undefined) ?? FILES[build];
}

export function describeSource(build: WasmBuild, shared = false): string {
  return wasmFile(build, shared).href;
}
