import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/**
 * Calls an export that makes something (a plan, packed weights) and writes its handle through an
 * out-pointer, the ABI's one way of returning what it made. Returns the handle; throws on a bad status.
 */
export function makeHandle(engine: Engine, op: string, context: () => string, call: (out: number) => number): number {
  const out = engine.alloc(4, `${op}: handle`);
  try {
    check(call(out), op, context);
    return engine.u32(out, 1)[0]!;
  } finally {
    engine.free(out, 4);
  }
}

/** Copies `arrays` (undefined ones give address 0) into wasm memory for the duration of `use`. */
export function withUploads<T>(engine: Engine, arrays: (Float32Array | undefined)[], label: () => string, use: (ptrs: number[]) => T): T {
  const ptrs: number[] = [];
  try {
    for (const a of arrays) ptrs.push(a ? engine.upload(a, label()) : 0);
    return use(ptrs);
  } finally {
    ptrs.forEach((p, i) => engine.free(p, arrays[i]?.byteLength ?? 0));
  }
}
