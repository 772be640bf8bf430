// Longer than 400 lines for a reason: the element-indexed ops (GatherElements, GatherND, ScatterElements,
// ScatterND, Compress, OneHot, ReverseSequence, MaxUnpool) share one index normalisation and one way of
// moving their float data through the layout kernels; apart they would repeat both.
import { show } from '../../errors.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import { numbersOf, scalarOf, sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import type { RunEnv, Value } from '../value.js';
import { gatherAxis, moveStrided, take, withTemps, wrapIndex } from './data-movement.js';
import { checkOutputDims, constInput, input, normAxis, opError, stridesOf, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Ops that move elements by index tensors: GatherElements, GatherND, ScatterElements (and its opset-9
 * name Scatter), ScatterND, Compress, OneHot, ReverseSequence, MaxUnpool. Positions are computed from the
 * integer indices in JavaScript (metadata); float32 data only moves through the layout kernels
 * (data-movement.ts), and the add / mul of a scatter reduction through maps.combine.
 */

function outOfRange(ctx: OpContext, k: number, len: number, what = 'index'): Error {
  return opError(ctx.node, `${what} ${k} is out of range for an axis of size ${len}`);
}

/** Odometer over `dims`: calls `body(flat, idx)` for each multi-index in row-major order. */
function forEachIndex(dims: readonly number[], body: (flat: number, idx: number[]) => void): void {
  const n = sizeOf(dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    body(flat, idx);
    for (let a = dims.length - 1; a >= 0 && ++idx[a]! === dims[a]; a--) idx[a] = 0;
  }
}

/**
 * GatherElements' and ScatterElements' addressing: for each position of `indices` (dims `indDims`), the flat
 * offset in data (dims `dataDims`) of the element it names, its own multi-index with the `axis` coordinate
 * replaced by the index (negative ones counted from the end). An index out of range is an error naming it.
 */
function elementOffsets(ctx: OpContext, indices: Value, indDims: readonly number[], dataDims: readonly number[], axis: number): Int32Array {
  const strides = stridesOf([...dataDims]);
  const offsets = new Int32Array(sizeOf(indDims));
  const len = dataDims[axis]!;
  forEachIndex(indDims, (flat, idx) => {
    const k = indices.data[flat]!;
    const j = wrapIndex(k, len);
    if (j < 0) throw outOfRange(ctx, k, len);
    let off = 0;
    for (let a = 0; a < dataDims.length; a++) off += (a === axis ? j : idx[a]!) * strides[a]!;
    offsets[flat] = off;
  });
  return offsets;
}

function gatherElements(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const ind = input(ctx, 1, 'indices');
  const rank = x.dims.length;
  if (ind.dims.length !== rank) throw opError(ctx.node, `indices dims ${show(ind.dims)} must have the rank of data dims ${show(x.dims)}`);
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), rank);
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims: [...ind.dims] }],
    run([data, indices], [out], env) {
      take(env, data!, out!, elementOffsets(ctx, indices!, ind.dims, x.dims, axis), label);
    },
  };
}

/**
 * `out = data` with `updates[p]` written at `targets[p]` (the last write wins, as ONNX's reference loop
 * does): one take from [data, updates] laid end to end, so float32 moves through the kernels only.
 */
function scatterInto(env: RunEnv, data: Value, updates: Value, out: Value, targets: Int32Array, sliceSize: number, label: string): void {
  const n = sizeOf(data.dims);
  const map = new Int32Array(n);
  for (let i = 0; i < n; i++) map[i] = i;
  for (let p = 0; p < targets.length; p++) {
    const t = targets[p]!;
    for (let i = 0; i < sliceSize; i++) map[t + i] = n + p * sliceSize + i;
  }
  const u = targets.length * sliceSize;
  if (data.type !== 'float32') {
    const d = data.data, s = updates.data, o = out.data;
    for (let i = 0; i < n; i++) { const m = map[i]!; o[i] = m < n ? d[m]! : s[m - n]!; }
    return;
  }
  const e = env.engine;
  withTemps(e, (temp) => {
    const both = temp((n + u) * 4, `${label}: data and updates`);
    if (n > 0) env.kernels.layout.copyStrided(data.ptr, both, [n], [1], [1], label);
    if (u > 0) env.kernels.layout.copyStrided(updates.ptr, both + n * 4, [u], [1], [1], label);
    const idx = temp(n * 4, `${label}: element offsets`);
    new Int32Array(e.exports.memory.buffer, idx, n).set(map);
    if (n > 0) env.kernels.layout.gather(both, idx, out.ptr, 1, n + u, 1, n, label);
  });
}

type Reduce = (a: number, b: number) => number;
const REDUCTIONS: Record<string, Reduce | undefined> = {
  none: undefined,
  add: (a, b) => a + b,
  mul: (a, b) => a * b,
  max: (a, b) => Math.max(a, b),
  min: (a, b) => Math.min(a, b),
};

/**
 * The reduction of a Scatter op: none for every type; add and mul on float32 too (maps.combine); max and
 * min on integers only (float32 would need an element-wise max kernel).
 */
function reductionOf(ctx: OpContext, type: string): { name: string; fn: Reduce | undefined } {
  const name = attrString(ctx.node, 'reduction', 'none');
  if (!(name in REDUCTIONS)) throw opError(ctx.node, `reduction ${show(name)} is not one of none, add, mul, max, min`);
  const fn = REDUCTIONS[name];
  if (fn && (type === 'bool' || (type === 'float32' && name !== 'add' && name !== 'mul'))) {
    throw unsupported(ctx.node, `reduction ${show(name)} on ${type} data is not supported (none, add and mul are; max and min on integer data)`);
  }
  return { name, fn };
}

/**
 * Float32 scatter with add or mul, on the kernels: updates are applied in rounds in which no element is
 * targeted twice (round r holds the r-th update of each target, so duplicates accumulate in order); a
 * round gathers the current values and its updates, combines them, and scatters the results back.
 */
function scatterCombine(env: RunEnv, data: Value, updates: Value, out: Value, targets: Int32Array, sliceSize: number, multiply: boolean, label: string): void {
  const n = sizeOf(data.dims);
  if (n === 0) return;
  const { layout, maps } = env.kernels;
  const e = env.engine;
  const u = targets.length * sliceSize;
  const rounds: { at: number[]; from: number[] }[] = [];
  const seen = new Map<number, number>();
  for (let p = 0; p < targets.length; p++) {
    for (let i = 0; i < sliceSize; i++) {
      const at = targets[p]! + i;
      const r = seen.get(at) ?? 0;
      seen.set(at, r + 1);
      (rounds[r] ??= { at: [], from: [] }).at.push(at);
      rounds[r]!.from.push(p * sliceSize + i);
    }
  }
  withTemps(e, (temp) => {
    const both = temp((n + Math.max(1, u)) * 4, `${label}: values and results`);
    const cur = temp(u * 4, `${label}: current values`);
    const upd = temp(u * 4, `${label}: updates of a round`);
    const res = temp(u * 4, `${label}: results of a round`);
    const idx = temp(Math.max(n, u) * 4, `${label}: offsets`);
    const offsets = (values: ArrayLike<number>) => new Int32Array(e.exports.memory.buffer, idx, values.length).set(values);
    layout.copyStrided(data.ptr, out.ptr, [n], [1], [1], label);
    const map = new Int32Array(n);
    for (const round of rounds) {
      const c = round.at.length;
      offsets(round.at);
      layout.gather(out.ptr, idx, cur, 1, n, 1, c, label);
      offsets(round.from);
      layout.gather(updates.ptr, idx, upd, 1, Math.max(1, u), 1, c, label);
      maps.combine(cur, upd, res, c, multiply, label);
      layout.copyStrided(out.ptr, both, [n], [1], [1], label);
      layout.copyStrided(res, both + n * 4, [c], [1], [1], label);
      for (let i = 0; i < n; i++) map[i] = i;
      round.at.forEach((at, j) => (map[at] = n + j));
      offsets(map);
      layout.gather(both, idx, out.ptr, 1, n + c, 1, n, label);
    }
  });
}

/** A scatter with its reduction: integers in JavaScript, float32 on the kernels. */
function scatterWith(env: RunEnv, reduction: { name: string; fn: Reduce | undefined }, data: Value, updates: Value, out: Value, targets: Int32Array, sliceSize: number, label: string): void {
  if (!reduction.fn) scatterInto(env, data, updates, out, targets, sliceSize, label);
  else if (data.type === 'float32') scatterCombine(env, data, updates, out, targets, sliceSize, reduction.name === 'mul', label);
  else scatterReduce(data, updates, out, targets, sliceSize, reduction.fn);
}

/** With a reduction (integer data, on the JavaScript side): out = data, then out[t] = f(out[t], update) in order. */
function scatterReduce(data: Value, updates: Value, out: Value, targets: Int32Array, sliceSize: number, fn: Reduce): void {
  out.data.set(data.data as ArrayLike<number> & Float64Array);
  for (let p = 0; p < targets.length; p++) {
    const t = targets[p]!;
    for (let i = 0; i < sliceSize; i++) out.data[t + i] = fn(out.data[t + i]!, updates.data[p * sliceSize + i]!);
  }
}

function scatterElements(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const ind = input(ctx, 1, 'indices');
  const upd = input(ctx, 2, 'updates');
  const rank = x.dims.length;
  if (ind.dims.length !== rank || upd.dims.length !== rank || ind.dims.some((d, i) => d !== upd.dims[i])) {
    throw opError(ctx.node, `indices ${show(ind.dims)} and updates ${show(upd.dims)} must have one dims of the rank of data ${show(x.dims)}`);
  }
  if (upd.type !== x.type) throw opError(ctx.node, `updates (${upd.type}) must have the element type of data (${x.type})`);
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), rank);
  const reduction = reductionOf(ctx, x.type);
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims: [...x.dims] }],
    run([data, indices, updates], [out], env) {
      scatterWith(env, reduction, data!, updates!, out!, elementOffsets(ctx, indices!, ind.dims, x.dims, axis), 1, label);
    },
  };
}

/** The flat offsets of the slices `indices` (`[..., k]`) address in data dims `dims`, after `batch` batch axes. */
function sliceOffsets(ctx: OpContext, dims: readonly number[], indices: Value, batch: number): Int32Array {
  const k = indices.dims[indices.dims.length - 1]!;
  const strides = stridesOf(dims);
  const count = sizeOf(indices.dims.slice(0, -1));
  const perBatch = count / Math.max(1, sizeOf(dims.slice(0, batch)));
  const offsets = new Int32Array(count);
  for (let t = 0; t < count; t++) {
    // The batch coordinates of tuple t, then its k indices.
    let off = 0;
    let b = Math.floor(t / Math.max(1, perBatch));
    for (let a = batch - 1; a >= 0; a--) {
      off += (b % dims[a]!) * strides[a]!;
      b = Math.floor(b / dims[a]!);
    }
    for (let j = 0; j < k; j++) {
      const raw = indices.data[t * k + j]!;
      const w = wrapIndex(raw, dims[batch + j]!);
      if (w < 0) throw outOfRange(ctx, raw, dims[batch + j]!);
      off += w * strides[batch + j]!;
    }
    offsets[t] = off;
  }
  return offsets;
}

function gatherND(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const ind = input(ctx, 1, 'indices');
  const b = attrInt(ctx.node, 'batch_dims', 0);
  const q = ind.dims.length;
  const k = ind.dims[q - 1];
  if (q < 1 || k === undefined || !Number.isInteger(b) || b < 0 || b >= q || b + k > x.dims.length || ind.dims.slice(0, b).some((d, i) => d !== x.dims[i])) {
    throw opError(ctx.node, `indices dims ${show(ind.dims)} (batch_dims ${b}) do not address data dims ${show(x.dims)}`);
  }
  const sliceDims = x.dims.slice(b + k);
  const dims = [...ind.dims.slice(0, -1), ...sliceDims];
  const sliceSize = sizeOf(sliceDims);
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims }],
    run([data, indices], [out], env) {
      const offsets = sliceOffsets(ctx, x.dims, indices!, b);
      // Offsets are multiples of the slice size: a take of whole slices.
      const slices = sliceSize === 0 ? 0 : sizeOf(x.dims) / sliceSize;
      for (let i = 0; i < offsets.length; i++) offsets[i] = sliceSize === 0 ? 0 : offsets[i]! / sliceSize;
      gatherAxis(env, data!, out!, 1, slices, sliceSize, offsets, label);
    },
  };
}

function scatterND(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const ind = input(ctx, 1, 'indices');
  const upd = input(ctx, 2, 'updates');
  const q = ind.dims.length;
  const k = ind.dims[q - 1];
  if (q < 1 || k === undefined || k > x.dims.length) throw opError(ctx.node, `indices dims ${show(ind.dims)} do not address data dims ${show(x.dims)}`);
  const want = [...ind.dims.slice(0, -1), ...x.dims.slice(k)];
  if (upd.dims.length !== want.length || upd.dims.some((d, i) => d !== want[i])) {
    throw opError(ctx.node, `updates dims ${show(upd.dims)} must be ${show(want)}`);
  }
  if (upd.type !== x.type) throw opError(ctx.node, `updates (${upd.type}) must have the element type of data (${x.type})`);
  const reduction = reductionOf(ctx, x.type);
  const sliceSize = sizeOf(x.dims.slice(k));
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims: [...x.dims] }],
    run([data, indices, updates], [out], env) {
      const targets = sliceOffsets(ctx, x.dims, indices!, 0);
      scatterWith(env, reduction, data!, updates!, out!, targets, sliceSize, label);
    },
  };
}

function compress(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  const cond = constInput(ctx, 1, 'condition')!;
  const rank = x.dims.length;
  const axisAttr = ctx.node.attributes.get('axis');
  const axis = axisAttr === undefined ? undefined : normAxis(ctx.node, attrInt(ctx.node, 'axis'), rank);
  const len = axis === undefined ? sizeOf(x.dims) : x.dims[axis]!;
  const picked: number[] = [];
  const flags = numbersOf(cond);
  if (flags.length > len) throw opError(ctx.node, `condition has ${flags.length} entries, more than the ${len} it selects from`);
  flags.forEach((f, i) => { if (f) picked.push(i); });
  const indices = Int32Array.from(picked);
  const dims = axis === undefined ? [picked.length] : x.dims.map((d, i) => (i === axis ? picked.length : d));
  const outer = axis === undefined ? 1 : sizeOf(x.dims.slice(0, axis));
  const inner = axis === undefined ? 1 : sizeOf(x.dims.slice(axis + 1));
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims }],
    run([data], [out], env) {
      gatherAxis(env, data!, out!, outer, len, inner, indices, label);
    },
  };
}

function oneHot(ctx: OpContext): PreparedOp {
  const ind = input(ctx, 0, 'indices');
  const depthT = constInput(ctx, 1, 'depth')!;
  const values = input(ctx, 2, 'values');
  const depth = Math.trunc(scalarOf(depthT, `${nodeLabel(ctx.node)} depth`));
  if (!(depth >= 1)) throw opError(ctx.node, `depth ${depth} must be at least 1`);
  if (sizeOf(values.dims) !== 2) throw opError(ctx.node, `values must hold two values (off, on), got dims ${show(values.dims)}`);
  const rank = ind.dims.length + 1;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', -1), rank);
  const dims = [...ind.dims.slice(0, axis), depth, ...ind.dims.slice(axis)];
  checkOutputDims(ctx.node, [{ type: values.type, dims }]);
  const outer = sizeOf(ind.dims.slice(0, axis));
  const inner = sizeOf(ind.dims.slice(axis));
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: values.type, dims }],
    run([indices, , vals], [out], env) {
      // Each output element picks values[0] (off) or values[1] (on): one take from the two values.
      const pick = new Int32Array(outer * depth * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const k = Math.trunc(indices!.data[o * inner + i]!);
          const j = Number.isInteger(k) && k >= -depth && k < depth ? (k < 0 ? k + depth : k) : -1;
          if (j >= 0) pick[(o * depth + j) * inner + i] = 1;
        }
      }
      take(env, vals!, out!, pick, label);
    },
  };
}

function reverseSequence(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'input');
  const lens = input(ctx, 1, 'sequence_lens');
  const rank = x.dims.length;
  if (rank < 2) throw opError(ctx.node, `input dims ${show(x.dims)} must have rank 2 or more`);
  const batchAxis = normAxis(ctx.node, attrInt(ctx.node, 'batch_axis', 1), rank, 'batch_axis');
  const timeAxis = normAxis(ctx.node, attrInt(ctx.node, 'time_axis', 0), rank, 'time_axis');
  if (batchAxis === timeAxis) throw opError(ctx.node, 'batch_axis and time_axis must differ');
  const batch = x.dims[batchAxis]!, time = x.dims[timeAxis]!;
  if (sizeOf(lens.dims) !== batch) throw opError(ctx.node, `sequence_lens dims ${show(lens.dims)} must hold one length per batch (${batch})`);
  const strides = stridesOf(x.dims);
  const ts = strides[timeAxis]!, bs = strides[batchAxis]!;
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims: [...x.dims] }],
    run([data, seq], [out], env) {
      for (let b = 0; b < batch; b++) {
        const len = seq!.data[b]!;
        if (!Number.isInteger(len) || len < 0 || len > time) throw opError(ctx.node, `sequence length ${len} is outside [0, ${time}]`);
        const head = x.dims.map((d, a) => (a === batchAxis ? 1 : a === timeAxis ? len : d));
        const tail = x.dims.map((d, a) => (a === batchAxis ? 1 : a === timeAxis ? time - len : d));
        const reversed = strides.map((s, a) => (a === timeAxis ? -s : s));
        moveStrided(env, data!, b * bs + Math.max(0, len - 1) * ts, out!, b * bs, head, reversed, strides, label);
        moveStrided(env, data!, b * bs + len * ts, out!, b * bs + len * ts, tail, strides, strides, label);
      }
    },
  };
}

/**
 * MaxUnpool puts each value of X at the flat output position its MaxPool index names, zeros elsewhere:
 * one take from [0, X...] (index 0 for every position no index names).
 */
function maxUnpool(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'X');
  const ind = input(ctx, 1, 'I');
  if (ind.dims.length !== x.dims.length || ind.dims.some((d, i) => d !== x.dims[i])) {
    throw opError(ctx.node, `indices dims ${show(ind.dims)} must be the dims of X ${show(x.dims)}`);
  }
  const spatial = x.dims.length - 2;
  const kernel = attrInts(ctx.node, 'kernel_shape');
  if (spatial < 1 || !kernel || kernel.length !== spatial) throw opError(ctx.node, `kernel_shape ${show(kernel)} must have one value per spatial axis of X ${show(x.dims)}`);
  const strides = attrInts(ctx.node, 'strides', new Array<number>(spatial).fill(1));
  const pads = attrInts(ctx.node, 'pads', new Array<number>(2 * spatial).fill(0));
  const shape = ctx.inputs[2] ? numbersOf(constInput(ctx, 2, 'output_shape')!) : undefined;
  const inferred = [x.dims[0]!, x.dims[1]!, ...kernel.map((k, i) => (x.dims[i + 2]! - 1) * strides[i]! + k - pads[i]! - pads[i + spatial]!)];
  const dims = shape ?? inferred;
  if (dims.length !== x.dims.length || dims[0] !== x.dims[0] || dims[1] !== x.dims[1]) throw opError(ctx.node, `output_shape ${show(dims)} does not fit X ${show(x.dims)}`);
  checkOutputDims(ctx.node, [{ type: x.type, dims }]);
  const n = sizeOf(x.dims), total = sizeOf(dims);
  // The indices are flat positions in the inferred output (MaxPool's input); with another output_shape
  // each keeps its coordinates, as ONNX's reference and its test (maxunpool_export_with_output_shape) do.
  const same = inferred.every((d, i) => d === dims[i]);
  const inferredTotal = sizeOf(inferred);
  const remap = (raw: number): number => {
    if (!Number.isInteger(raw) || raw < 0 || raw >= (same ? total : inferredTotal)) return -1;
    if (same) return raw;
    let rest = raw, at = 0, scale = 1;
    for (let a = inferred.length - 1; a >= 0; a--) {
      const c = rest % inferred[a]!;
      rest = Math.floor(rest / inferred[a]!);
      if (c >= dims[a]!) return -1;
      at += c * scale;
      scale *= dims[a]!;
    }
    return at;
  };
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: x.type, dims }],
    run([data, indices], [out], env) {
      const map = new Int32Array(total);
      for (let i = 0; i < n; i++) {
        const raw = indices!.data[i]!;
        const at = remap(raw);
        if (at < 0) throw outOfRange(ctx, raw, total, 'MaxUnpool index');
        map[at] = 1 + i;
      }
      if (x.type !== 'float32') {
        const src = data!.data, dst = out!.data;
        for (let j = 0; j < total; j++) dst[j] = map[j] ? src[map[j]! - 1]! : 0;
        return;
      }
      const e = env.engine;
      withTemps(e, (temp) => {
        const padded = temp((n + 1) * 4, `${label}: zero and X`);
        env.kernels.layout.fill(padded, 1, 0, label);
        if (n > 0) env.kernels.layout.copyStrided(data!.ptr, padded + 4, [n], [1], [1], label);
        const idx = temp(total * 4, `${label}: positions`);
        new Int32Array(e.exports.memory.buffer, idx, total).set(map);
        if (total > 0) env.kernels.layout.gather(padded, idx, out!.ptr, 1, n + 1, 1, total, label);
      });
    },
  };
}

export const elementIndexingOps: Record<string, OpPreparer> = {
  GatherElements: gatherElements,
  GatherND: gatherND,
  ScatterElements: scatterElements,
  Scatter: scatterElements,
  ScatterND: scatterND,
  Compress: compress,
  OneHot: oneHot,
  ReverseSequence: reverseSequence,
  MaxUnpool: maxUnpool,
};
