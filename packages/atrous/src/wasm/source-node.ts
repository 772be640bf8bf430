// Node: the .wasm files ship beside dist/ in the package; read them from disk.
import { readFile } from 'node:fs/promises';
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
  return WebAssembly.compile(await readFile(file(build, shared)));
}

export function describeSource(build: WasmBuild, shared = false): string {
  return file(build, shared).href;
}
