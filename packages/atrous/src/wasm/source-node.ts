// Node: the .wasm files ship beside dist/ in the package; read them from disk.
import { readFile } from 'node:fs/promises';
import type { WasmBuild } from './builds.js';

const FILES: Record<WasmBuild, URL> = {
  relaxed: new URL('../../wasm/atrous-relaxed.wasm', import.meta.url),
  simd128: new URL('../../wasm/atrous-simd128.wasm', import.meta.url),
  scalar: new URL('../../wasm/atrous-scalar.wasm', import.meta.url),
};

export async function compileBuild(build: WasmBuild): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await readFile(FILES[build]));
}

export function describeSource(build: WasmBuild): string {
  return FILES[build].href;
}
