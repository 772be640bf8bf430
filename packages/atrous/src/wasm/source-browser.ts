// Browsers, workers and bundles: fetch the .wasm by its URL (wasm-files.ts).
import type { WasmBuild } from './builds.js';
import { wasmFile } from './wasm-files.js';

export { describeSource } from './wasm-files.js';

export async function compileBuild(build: WasmBuild, shared = false): Promise<WebAssembly.Module> {
  const url = wasmFile(build, shared);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url.href}`);
  // Streaming compile needs the application/wasm MIME type; fall back for servers that send another.
  if (response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}
