// Browsers, workers and bundles: fetch the .wasm by a URL relative to this module. The literal
// `new URL('...', import.meta.url)` form is what Vite and webpack recognise and rewrite to the emitted asset.
import type { WasmBuild } from './builds.js';

const FILES: Record<WasmBuild, URL> = {
  relaxed: new URL('../../wasm/atrous-relaxed.wasm', import.meta.url),
  simd128: new URL('../../wasm/atrous-simd128.wasm', import.meta.url),
  scalar: new URL('../../wasm/atrous-scalar.wasm', import.meta.url),
};

export async function compileBuild(build: WasmBuild): Promise<WebAssembly.Module> {
  const response = await fetch(FILES[build]);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${FILES[build].href}`);
  // Streaming compile needs the application/wasm MIME type; fall back for servers that send another.
  if (response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

export function describeSource(build: WasmBuild): string {
  return FILES[build].href;
}
