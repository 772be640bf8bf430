import type { Engine } from '../../wasm/engine.js';
import type { RunEnv, Value } from '../value.js';

/**
 * Element moves shared by the index ops (GatherElements, GatherND, Scatter*, Compress, OneHot, Trilu...):
 * the positions are integer metadata computed in JavaScript; float32 data moves only through the layout
 * kernels (`layout.gather` over the flattened source is a take by element offset). Integer values, held
 * on the JavaScript side, and byte values (bool, uint8) move in JavaScript.
 */

/** A temporary block of wasm memory, freed by `release`. */
export interface WasmTemp {
  ptr: number;
  bytes: number;
}

export function allocTemp(engine: Engine, bytes: number, what: string): WasmTemp {
  const size = Math.max(16, bytes);
  return { ptr: engine.alloc(size, what), bytes: size };
}

export function release(engine: Engine, temps: WasmTemp[]): void {
  for (const t of temps) engine.free(t.ptr, t.bytes);
}

/** Runs `body` with temporary wasm blocks that are freed afterwards, whatever happens. */
export function withTemps<T>(engine: Engine, body: (temp: (bytes: number, what: string) => number) => T): T {
  const temps: WasmTemp[] = [];
  try {
    return body((bytes, what) => {
      const t = allocTemp(engine, bytes, what);
      temps.push(t);
      return t.ptr;
    });
  } finally {
    release(engine, temps);
  }
}

/**
 * `dst[o][c][i] = src[o][indices[c]][i]` (`src` `[outer, axisLen, inner]`, indices already in range):
 * float32 through `layout.gather`, other types in JavaScript. With `outer = inner = 1` it is a take by
 * element offset over the flattened source; with `outer = 1` a take of whole slices.
 */
export function gatherAxis(
  env: RunEnv,
  src: Value,
  dst: Value,
  outer: number,
  axisLen: number,
  inner: number,
  indices: Int32Array,
  label: string,
): void {
  const n = indices.length;
  if (n === 0 || outer === 0 || inner === 0) return;
  if (src.type !== 'float32') {
    const s = src.data, d = dst.data;
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < n; c++) {
        const from = (o * axisLen + indices[c]!) * inner, to = (o * n + c) * inner;
        for (let i = 0; i < inner; i++) d[to + i] = s[from + i]!;
      }
    }
    return;
  }
  const e = env.engine;
  withTemps(e, (temp) => {
    const idx = temp(n * 4, `${label}: indices`);
    new Int32Array(e.exports.memory.buffer, idx, n).set(indices);
    env.kernels.layout.gather(src.ptr, idx, dst.ptr, outer, axisLen, inner, n, label);
  });
}

/** `dst[i] = src[offsets[i]]` over the flattened source (offsets already in range). */
export function take(env: RunEnv, src: Value, dst: Value, offsets: Int32Array, label: string): void {
  let size = 1;
  for (const d of src.dims) size *= d;
  gatherAxis(env, src, dst, 1, size, 1, offsets, label);
}

/**
 * `dst[dstOffset + i · dstStrides] = src[srcOffset + i · srcStrides]` over the index space `dims` (offsets and
 * strides in elements; source strides may be negative or 0). Float32 through `layout.copyStrided`.
 */
export function moveStrided(
  env: RunEnv,
  src: Value,
  srcOffset: number,
  dst: Value,
  dstOffset: number,
  dims: number[],
  srcStrides: number[],
  dstStrides: number[],
  label: string,
): void {
  let n = 1;
  for (const d of dims) n *= d;
  if (n === 0) return;
  if (src.type === 'float32') {
    env.kernels.layout.copyStrided(src.ptr + srcOffset * 4, dst.ptr + dstOffset * 4, dims, srcStrides, dstStrides, label);
    return;
  }
  const rank = dims.length;
  const idx = new Array<number>(rank).fill(0);
  const s = src.data, d = dst.data;
  let si = srcOffset, di = dstOffset;
  for (let k = 0; k < n; k++) {
    d[di] = s[si]!;
    for (let a = rank - 1; a >= 0; a--) {
      si += srcStrides[a]!;
      di += dstStrides[a]!;
      if (++idx[a]! < dims[a]!) break;
      si -= srcStrides[a]! * dims[a]!;
      di -= dstStrides[a]! * dims[a]!;
      idx[a] = 0;
    }
  }
}

/** `dst[0..n) = value` for any element type. */
export function fillValue(env: RunEnv, dst: Value, n: number, value: number, label: string): void {
  if (n === 0) return;
  if (dst.type === 'float32') env.kernels.layout.fill(dst.ptr, n, value, label);
  else dst.data.fill(value, 0, n);
}

/** The index of a possibly negative index `k` along an axis of `len`, or -1 when it is out of range. */
export function wrapIndex(k: number, len: number): number {
  const j = k < 0 ? k + len : k;
  return Number.isInteger(j) && j >= 0 && j < len ? j : -1;
}
