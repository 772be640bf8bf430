// Node: the .wasm files ship beside dist/ in the package; read them from disk.
import { readFile } from 'node:fs/promises';
import type { WasmBuild } from './builds.js';
import { wasmFile } from './wasm-files.js';

export { describeSource } from './wasm-files.js';

export async function compileBuild(build: WasmBuild, shared = false): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await readFile(wasmFile(build, shared)));
}
