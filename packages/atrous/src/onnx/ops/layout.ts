import { show } from '../../errors.js';
import { MAX_LAYOUT_RANK, type ElemBytes } from '../../kernels/layout-kernels.js';
import { attrFloat, attrInt, attrInts, attrString } from '../attributes.js';
import { numbersOf, sizeOf, type ElemType } from '../data-types.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import { elemBytes, residesInWasm, type RunEnv, type Value } from '../value.js';
import { constInput, input, normAxis, opError, stridesOf, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * Axes of a strided copy without size-1 axes, neighbours that address as one merged: what the layout
 * kernel would do itself, done first so that a view of rank above its maximum can still fit it.
 */
function coalesce(dims: readonly number[], ss: readonly number[], ds: readonly number[]): { dims: number[]; ss: number[]; ds: number[] } {
  const out = { dims: [] as number[], ss: [] as number[], ds: [] as number[] };
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const k = out.dims.length - 1;
    if (k >= 0 && out.ss[k] === ss[i]! * dims[i]! && out.ds[k] === ds[i]! * dims[i]!) {
      out.dims[k]! *= dims[i]!;
      out.ss[k] = ss[i]!;
      out.ds[k] = ds[i]!;
      continue;
    }
    out.dims.push(dims[i]!);
    out.ss.push(ss[i]!);
    out.ds.push(ds[i]!);
  }
  return out;
}

/**
 * `dst[dstOrigin + i · ds] = src[srcOrigin + i · ss]` for every index `i` of `dims` (origins and strides in
 * elements). Values in wasm memory move through the layout kernel, by address, float32 or bytes; host
 * integers (shapes, indices: metadata) move here. A copy whose rank stays above the kernel's maximum after
 * coalescing runs as one kernel call per index of its outermost axes.
 */
export function copyRegion(env: RunEnv, node: NodeIR, type: ElemType, src: Value, srcOrigin: number, dst: Value, dstOrigin: number, dims: readonly number[], ss: readonly number[], ds: readonly number[]): void {
  if (dims.some((d) => d === 0)) return;
  const c = coalesce(dims, ss, ds);
  if (!residesInWasm(type)) {
    hostCopy(src.data, srcOrigin, dst.data, dstOrigin, c.dims, c.ss, c.ds);
    return;
  }
  const eb = elemBytes(type) as ElemBytes;
  const label = nodeLabel(node);
  const lead = Math.max(0, c.dims.length - MAX_LAYOUT_RANK);
  const [outerDims, innerDims] = [c.dims.slice(0, lead), c.dims.slice(lead)];
  const [innerSs, innerDs] = [c.ss.slice(lead), c.ds.slice(lead)];
  eachIndex(outerDims, (idx) => {
    let so = srcOrigin, d = dstOrigin;
    for (let a = 0; a < lead; a++) {
      so += idx[a]! * c.ss[a]!;
      d += idx[a]! * c.ds[a]!;
    }
    env.kernels.layout.copyStrided(src.ptr + so * eb, dst.ptr + d * eb, innerDims, innerSs, innerDs, label, eb);
  });
}

/** Calls `f` with every multi-index of `dims` (once, with `[]`, for rank 0). */
function eachIndex(dims: readonly number[], f: (idx: number[]) => void): void {
  const idx = new Array<number>(dims.length).fill(0);
  for (;;) {
    f(idx);
    let a = dims.length - 1;
    for (; a >= 0; a--) {
      if (++idx[a]! < dims[a]!) break;
      idx[a] = 0;
    }
    if (a < 0) return;
  }
}

/** The strided copy on host-held integer data (a JavaScript loop over metadata-sized tensors). */
function hostCopy(src: ArrayLike<number>, so: number, dst: { [i: number]: number }, d0: number, dims: number[], ss: number[], ds: number[]): void {
  eachIndex(dims, (idx) => {
    let s = so, d = d0;
    for (let a = 0; a < dims.length; a++) {
      s += idx[a]! * ss[a]!;
      d += idx[a]! * ds[a]!;
    }
    dst[d] = src[s]!;
  });
}

function concat(ctx: OpContext): PreparedOp {
  const metas = ctx.inputs.map((_, i) => input(ctx, i));
  if (metas.length === 0) throw opError(ctx.node, 'needs at least one input');
  const first = metas[0]!;
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis'), first.dims.length);
  const dims = [...first.dims];
  dims[axis] = 0;
  for (const m of metas) {
    if (m.type !== first.type || m.dims.length !== first.dims.length || m.dims.some((d, i) => i !== axis && d !== first.dims[i])) {
      throw opError(ctx.node, `inputs ${metas.map((x) => `${x.type} ${show(x.dims)}`).join(', ')} do not fit together on axis ${axis}`);
    }
    dims[axis] += m.dims[axis]!;
  }
  const outer = sizeOf(dims.slice(0, axis));
  const inner = sizeOf(dims.slice(axis + 1));
  const rowOut = dims[axis]! * inner;
  // Each input is an [outer, row] block of the output at its column offset. (Concats the memory planner
  // made in place never run: their inputs were written into the output.)
  return {
    outputs: [{ type: first.type, dims }],
    run(inputs, [out], env) {
      let offset = 0;
      for (const t of inputs) {
        const row = t!.dims[axis]! * inner;
        copyRegion(env, ctx.node, first.type, t!, 0, out!, offset, [outer, row], [row, 1], [rowOut, 1]);
        offset += row;
      }
    },
    gradient: { kind: 'concat', axis },
  };
}

function split(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const axis = normAxis(ctx.node, attrInt(ctx.node, 'axis', 0), x.dims.length);
  const count = ctx.node.outputs.length;
  let sizes = ctx.opset < 13 ? attrInts(ctx.node, 'split') : ctx.inputs[1] ? numbersOf(constInput(ctx, 1, 'split')!) : undefined;
  if (!sizes) {
    const d = x.dims[axis]!;
    const chunk = Math.ceil(d / count);
    sizes = Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  }
  if (sizes.length !== count || sizes.reduce((a, b) => a + b, 0) !== x.dims[axis]) {
    throw opError(ctx.node, `split ${show(sizes)} does not divide axis ${axis} of dims ${show(x.dims)} into ${count} outputs`);
  }
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  const rowIn = x.dims[axis]! * inner;
  return {
    outputs: sizes.map((s) => ({ type: x.type, dims: x.dims.map((d, i) => (i === axis ? s : d)) })),
    run([t], outs, env) {
      let offset = 0;
      outs.forEach((out, k) => {
        const row = sizes![k]! * inner;
        if (ctx.node.outputs[k] !== '') copyRegion(env, ctx.node, x.type, t!, offset, out, 0, [outer, row], [rowIn, 1], [row, 1]);
        offset += row;
      });
    },
  };
}

function transpose(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0);
  const rank = x.dims.length;
  const perm = attrInts(ctx.node, 'perm') ?? x.dims.map((_, i) => rank - 1 - i);
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw opError(ctx.node, `perm ${show(perm)} is not a permutation of the ${rank} axes of dims ${show(x.dims)}`);
  }
  const dims = perm.map((p) => x.dims[p]!);
  // Moving only axes of size 1 keeps every element where it is ([1, 1, H, W] -> [1, H, W, 1], the
  // NCHW -> NHWC of a one-channel map): a view, no copy.
  const moved = perm.filter((p) => x.dims[p] !== 1);
  if (moved.every((p, i) => i === 0 || p > moved[i - 1]!)) return { outputs: [{ type: x.type, dims }], view: true, run: () => {} };
  const inStrides = stridesOf(x.dims);
  const ss = perm.map((p) => inStrides[p]!);
  const ds = stridesOf(dims);
  return {
    outputs: [{ type: x.type, dims }],
    run: ([a], [out], env) => copyRegion(env, ctx.node, x.type, a!, 0, out!, 0, dims, ss, ds),
  };
}

type PadMode = 'constant' | 'reflect' | 'edge';

/**
 * Pads contiguous `dims` of `src` by non-negative `begin` / `end` into `dst`: the pad kernel for values
 * in wasm memory, an index loop for host integers. Above the kernel's rank, neighbouring axes are merged
 * where the inner one is unpadded (and, but for a constant pad, the outer one too).
 */
function padRegion(env: RunEnv, node: NodeIR, type: ElemType, src: Value, srcPtr: number, dst: Value, dims: number[], begin: number[], end: number[], mode: PadMode, value: number): void {
  if (!residesInWasm(type)) {
    hostPad(src.data, dst.data, dims, begin, end, mode, value);
    return;
  }
  const m = { dims: [] as number[], begin: [] as number[], end: [] as number[] };
  for (let i = 0; i < dims.length; i++) {
    const k = m.dims.length - 1;
    if (k >= 0 && begin[i] === 0 && end[i] === 0 && (mode === 'constant' || (m.begin[k] === 0 && m.end[k] === 0))) {
      m.dims[k]! *= dims[i]!;
      m.begin[k]! *= dims[i]!;
      m.end[k]! *= dims[i]!;
      continue;
    }
    m.dims.push(dims[i]!);
    m.begin.push(begin[i]!);
    m.end.push(end[i]!);
  }
  if (m.dims.length > MAX_LAYOUT_RANK) throw unsupported(node, `a pad of dims ${show(dims)} by ${show(begin)} / ${show(end)} has more than ${MAX_LAYOUT_RANK} padded axes`);
  env.kernels.layout.pad(srcPtr, dst.ptr, m.dims, m.begin, m.end, mode, value, nodeLabel(node), elemBytes(type) as ElemBytes);
}

function hostPad(src: ArrayLike<number>, dst: { [i: number]: number; length: number }, dims: number[], begin: number[], end: number[], mode: PadMode, value: number): void {
  const rank = dims.length;
  const out = dims.map((d, i) => d + begin[i]! + end[i]!);
  if (sizeOf(out) === 0) return;
  const inStrides = stridesOf(dims);
  let o = 0;
  eachIndex(out, (idx) => {
    let s = 0;
    let inside = true;
    for (let i = 0; i < rank; i++) {
      let c = idx[i]! - begin[i]!;
      const d = dims[i]!;
      if (c < 0 || c >= d) {
        if (mode === 'constant' || d === 0) { inside = false; break; }
        if (mode === 'edge') c = c < 0 ? 0 : d - 1;
        else c = c < 0 ? -c : 2 * (d - 1) - c;
      }
      s += c * inStrides[i]!;
    }
    dst[o++] = inside ? src[s]! : value;
  });
}

function pad(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'data');
  const rank = x.dims.length;
  const mode = attrString(ctx.node, 'mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge') throw unsupported(ctx.node, `mode ${show(mode)} is not supported`);
  let pads: number[];
  let value = 0;
  if (ctx.opset < 11) {
    pads = attrInts(ctx.node, ctx.opset < 2 ? 'paddings' : 'pads', []);
    value = attrFloat(ctx.node, 'value', 0);
  } else {
    pads = numbersOf(constInput(ctx, 1, 'pads')!);
    const v = ctx.inputs[2] ? constInput(ctx, 2, 'constant_value') : undefined;
    if (v && v.data.length > 0) value = v.data[0]!;
    const axesT = ctx.inputs[3] ? constInput(ctx, 3, 'axes') : undefined;
    if (axesT) {
      const axes = numbersOf(axesT).map((a) => normAxis(ctx.node, a, rank));
      const full = new Array<number>(2 * rank).fill(0);
      axes.forEach((a, i) => { full[a] = pads[i]!; full[a + rank] = pads[i + axes.length]!; });
      pads = full;
    }
  }
  if (pads.length !== 2 * rank) throw opError(ctx.node, `pads ${show(pads)} must have 2 x rank = ${2 * rank} values for dims ${show(x.dims)}`);
  const dims = x.dims.map((d, i) => d + pads[i]! + pads[i + rank]!);
  if (dims.some((d) => d < 0)) throw opError(ctx.node, `pads ${show(pads)} remove more than dims ${show(x.dims)} hold`);
  // Negative pads crop: a slice of the input (the cropped dims), then the non-negative pads around it.
  const cropBegin = x.dims.map((_, i) => Math.max(0, -pads[i]!));
  const cropped = x.dims.map((d, i) => d - cropBegin[i]! - Math.max(0, -pads[i + rank]!));
  const begin = x.dims.map((_, i) => Math.max(0, pads[i]!));
  const end = x.dims.map((_, i) => Math.max(0, pads[i + rank]!));
  const crops = cropBegin.some((c, i) => c > 0 || cropped[i] !== x.dims[i]);
  const grows = begin.some((b, i) => b > 0 || end[i]! > 0);
  if (grows && mode !== 'constant') {
    for (let i = 0; i < rank; i++) {
      const padded = begin[i]! > 0 || end[i]! > 0;
      if (padded && cropped[i] === 0) throw opError(ctx.node, `${mode} pad of an empty axis ${i} (dims ${show(x.dims)}, pads ${show(pads)})`);
      if (mode === 'reflect' && padded && (begin[i]! >= cropped[i]! || end[i]! >= cropped[i]!)) {
        throw unsupported(ctx.node, `reflect pads ${show(pads)} reach past the ${cropped[i]} values of axis ${i} (dims ${show(x.dims)})`);
      }
    }
  }
  const inStrides = stridesOf(x.dims);
  const cropOrigin = cropBegin.reduce((acc, c, i) => acc + c * inStrides[i]!, 0);
  const croppedBytes = sizeOf(cropped) * elemBytes(x.type);
  return {
    outputs: [{ type: x.type, dims }],
    run([a], [out], env) {
      if (sizeOf(dims) === 0) return;
      if (!crops) {
        padRegion(env, ctx.node, x.type, a!, a!.ptr, out!, x.dims, begin, end, mode, value);
        return;
      }
      if (!grows) {
        copyRegion(env, ctx.node, x.type, a!, cropOrigin, out!, 0, cropped, inStrides, stridesOf(cropped));
        return;
      }
      // Crop into a scratch buffer, then pad from it.
      if (!residesInWasm(x.type)) {
        const tmp = new Float64Array(sizeOf(cropped));
        const t = { type: x.type, dims: cropped, data: tmp, ptr: 0 };
        copyRegion(env, ctx.node, x.type, a!, cropOrigin, t, 0, cropped, inStrides, stridesOf(cropped));
        padRegion(env, ctx.node, x.type, t, 0, out!, cropped, begin, end, mode, value);
        return;
      }
      const e = env.engine;
      const scratch = e.alloc(Math.max(16, croppedBytes), `${nodeLabel(ctx.node)}: cropped input`);
      try {
        const t = { type: x.type, dims: cropped, data: new Float32Array(0), ptr: scratch };
        copyRegion(env, ctx.node, x.type, a!, cropOrigin, t, 0, cropped, inStrides, stridesOf(cropped));
        padRegion(env, ctx.node, x.type, t, scratch, out!, cropped, begin, end, mode, value);
      } finally {
        e.free(scratch, Math.max(16, croppedBytes));
      }
    },
  };
}

/**
 * DepthToSpace (pixel shuffle) and SpaceToDepth on `[N, C, H, W]` as one strided copy of rank 6: the
 * output walked as `[N, C', H, b, W, b]` (to space) or `[N, b, b, C, H', W']` (to depth), the input read
 * with the strides the ONNX modes give the block offsets (DCR: before the channel, CRD: after it).
 */
function depthSpace(ctx: OpContext, toSpace: boolean): PreparedOp {
  const x = input(ctx, 0);
  const b = attrInt(ctx.node, 'blocksize');
  if (x.dims.length !== 4 || !Number.isInteger(b) || b < 1) throw opError(ctx.node, `needs [N, C, H, W] and a positive blocksize, got dims ${show(x.dims)} and ${b}`);
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const mode = toSpace ? attrString(ctx.node, 'mode', 'DCR') : 'DCR';
  if (mode !== 'DCR' && mode !== 'CRD') throw opError(ctx.node, `mode ${show(mode)} must be DCR or CRD`);
  if (toSpace ? c % (b * b) !== 0 : h % b !== 0 || w % b !== 0) throw opError(ctx.node, `dims ${show(x.dims)} do not divide by blocksize ${b}`);
  const dims = toSpace ? [n, c / (b * b), h * b, w * b] : [n, c * b * b, h / b, w / b];
  const plane = h * w;
  let walk: number[], ss: number[];
  if (toSpace) {
    const cOut = c / (b * b);
    // out[n][c'][y·b + by][x·b + bx] = in[n][channel(c', by, bx)][y][x]
    walk = [n, cOut, h, b, w, b];
    ss = mode === 'DCR'
      ? [c * plane, plane, w, b * cOut * plane, 1, cOut * plane]
      : [c * plane, b * b * plane, w, b * plane, 1, plane];
  } else {
    const [ho, wo] = [h / b, w / b];
    // out[n][(by·b + bx)·C + c][y][x] = in[n][c][y·b + by][x·b + bx]
    walk = [n, b, b, c, ho, wo];
    ss = [c * plane, w, 1, plane, b * w, b];
  }
  const ds = stridesOf(walk);
  return {
    outputs: [{ type: x.type, dims }],
    run: ([a], [out], env) => copyRegion(env, ctx.node, x.type, a!, 0, out!, 0, walk, ss, ds),
  };
}

export const layoutOps: Record<string, OpPreparer> = {
  Concat: concat,
  Split: split,
  Transpose: transpose,
  Pad: pad,
  DepthToSpace: (ctx) => depthSpace(ctx, true),
  SpaceToDepth: (ctx) => depthSpace(ctx, false),
};
