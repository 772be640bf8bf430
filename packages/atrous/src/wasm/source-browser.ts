// Browsers, workers and bundles: fetch the .wasm by a URL relative to this module. The literal
// `new URL('...', import.meta.url)` form is what Vite and webpack recognise and rewrite to the emitted asset.
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

function file(build: WasmBuild, shared: boolean): URL {
  return (shared ? SHARED_FILES[build] : undefined) ?? FILES[build];
}

export async function compileBuild(build: WasmBuild, shared = false): Promise<WebAssembly.Module> {
  const url = file(build, shared);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url.href}`);
  // Streaming compile needs the application/wasm MIME type; fall back for servers that send another.
  if (response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

export function describeSource(build: WasmBuild, shared = false): string {
  return file(build, shared).href;
}
