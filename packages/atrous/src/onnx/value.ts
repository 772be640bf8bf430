import type { Kernels } from '../kernels/kernels.js';
import type { Engine } from '../wasm/engine.js';
import { allocData, sizeOf, type ElemType, type HostData, type HostTensor } from './data-types.js';

/**
 * Where a value lives while a session runs, decided by its type alone: feature maps (float32) and byte
 * tensors (bool, uint8) in wasm memory, where the kernels read and write them; integers (shapes, indices,
 * held as float64 numbers) on the JavaScript side, where only metadata-sized work touches them.
 */
export function residesInWasm(type: ElemType): boolean {
  return type === 'float32' || type === 'bool' || type === 'uint8';
}

export function elemBytes(type: ElemType): number {
  return type === 'float32' ? 4 : type === 'bool' || type === 'uint8' ? 1 : 8;
}

/**
 * A value as a step sees it: its data (a view of wasm memory for wasm-resident types, made for this step)
 * and, for those, its address `ptr` for the kernels (0 for host-held integers).
 */
export interface Value extends HostTensor {
  ptr: number;
}

/** What a step runs with: the kernel facade (every op's float math) and the engine behind it. */
export interface RunEnv {
  kernels: Kernels;
  engine: Engine;
}

/** A view of `n` elements of `type` at `ptr` in wasm memory. */
export function wasmView(engine: Engine, type: ElemType, ptr: number, n: number): HostData {
  const buffer = engine.exports.memory.buffer;
  return type === 'float32' ? new Float32Array(buffer, ptr, n) : new Uint8Array(buffer, ptr, n);
}

export function wasmValue(engine: Engine, type: ElemType, dims: number[], ptr: number): Value {
  return { type, dims, ptr, data: wasmView(engine, type, ptr, sizeOf(dims)) };
}

/**
 * Runs one prepared op on constant inputs (load-time folding, dims-only subgraphs): wasm-resident inputs
 * are copied into temporary wasm buffers so the op runs exactly as it does in a session, on the kernels,
 * and its outputs are copied back. One implementation per op: folding has no JavaScript twin.
 */
export function evaluateOnce(
  env: RunEnv,
  run: (inputs: (Value | undefined)[], outputs: Value[], env: RunEnv) => void,
  inputs: (HostTensor | undefined)[],
  outputs: { type: ElemType; dims: number[] }[],
): HostTensor[] {
  const e = env.engine;
  const temps: { ptr: number; bytes: number }[] = [];
  const place = (type: ElemType, dims: number[], data?: HostData): Value => {
    if (!residesInWasm(type)) return { type, dims, ptr: 0, data: data ?? allocData(type, sizeOf(dims)) };
    const bytes = Math.max(16, sizeOf(dims) * elemBytes(type));
    const ptr = e.alloc(bytes, 'constant folding');
    temps.push({ ptr, bytes });
    const v = wasmValue(e, type, dims, ptr);
    if (data) v.data.set(data as ArrayLike<number>);
    return v;
  };
  try {
    const ins = inputs.map((t) => t && place(t.type, t.dims, t.data));
    const outs = outputs.map((m) => place(m.type, m.dims));
    run(ins, outs, env);
    return outs.map((v) => {
      if (!residesInWasm(v.type)) return { type: v.type, dims: v.dims, data: v.data };
      const data = allocData(v.type, sizeOf(v.dims));
      data.set(wasmView(e, v.type, v.ptr, sizeOf(v.dims)) as ArrayLike<number> & Float32Array);
      return { type: v.type, dims: v.dims, data };
    });
  } finally {
    for (const t of temps) e.free(t.ptr, t.bytes);
  }
}
