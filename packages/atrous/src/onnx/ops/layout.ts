import { show } from '../../errors.js';
import { attrFloat, attrInt, attrInts, attrString } from '../attributes.js';
import { numbersOf, sizeOf } from '../data-types.js';
import { constInput, input, normAxis, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

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
  return {
    outputs: [{ type: first.type, dims }],
    run(inputs, [out]) {
      let offset = 0;
      for (const t of inputs) {
        const row = t!.dims[axis]! * inner;
        for (let o = 0; o < outer; o++) out!.data.set(t!.data.subarray(o * row, (o + 1) * row), o * rowOut + offset);
        offset += row;
      }
    },
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
    run([t], outs) {
      let offset = 0;
      outs.forEach((out, k) => {
        const row = sizes![k]! * inner;
        for (let o = 0; o < outer; o++) out.data.set(t!.data.subarray(o * rowIn + offset, o * rowIn + offset + row), o * row);
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
  const inStrides: number[] = [];
  for (let i = rank - 1, acc = 1; i >= 0; i--) { inStrides[i] = acc; acc *= x.dims[i]!; }
  const strides = perm.map((p) => inStrides[p]!);
  return {
    outputs: [{ type: x.type, dims }],
    run([a], [out]) {
      const n = out!.data.length, idx = new Array<number>(rank).fill(0), src = a!.data, dst = out!.data;
      let s = 0;
      for (let o = 0; o < n; o++) {
        dst[o] = src[s]!;
        for (let i = rank - 1; i >= 0; i--) {
          s += strides[i]!;
          if (++idx[i]! < dims[i]!) break;
          s -= strides[i]! * dims[i]!;
          idx[i] = 0;
        }
      }
    },
  };
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
  const inStrides: number[] = [];
  for (let i = rank - 1, acc = 1; i >= 0; i--) { inStrides[i] = acc; acc *= x.dims[i]!; }
  return {
    outputs: [{ type: x.type, dims }],
    run([a], [out]) {
      const n = out!.data.length, idx = new Array<number>(rank).fill(0), src = a!.data, dst = out!.data;
      for (let o = 0; o < n; o++) {
        let s = 0;
        let inside = true;
        for (let i = 0; i < rank; i++) {
          let c = idx[i]! - pads[i]!;
          const d = x.dims[i]!;
          if (c < 0 || c >= d) {
            if (mode === 'constant' || d === 0) { inside = false; break; }
            if (mode === 'edge') c = c < 0 ? 0 : d - 1;
            else { const period = 2 * (d - 1) || 1; c = ((c % period) + period) % period; if (c >= d) c = period - c; }
          }
          s += c * inStrides[i]!;
        }
        dst[o] = inside ? src[s]! : value;
        for (let i = rank - 1; i >= 0 && ++idx[i]! === dims[i]; i--) idx[i] = 0;
      }
    },
  };
}

/**
 * DepthToSpace (pixel shuffle) and SpaceToDepth on `[N, C, H, W]`: `out[n][c'][y][x] = in[n][c][y'][x']`
 * with the block offsets taken from (DCR) or after (CRD) the output channel, per the ONNX modes.
 */
function depthSpace(ctx: OpContext, toSpace: boolean): PreparedOp {
  const x = input(ctx, 0);
  const b = attrInt(ctx.node, 'blocksize');
  if (x.dims.length !== 4 || b < 1) throw opError(ctx.node, `needs [N, C, H, W] and a positive blocksize, got dims ${show(x.dims)} and ${b}`);
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const mode = toSpace ? attrString(ctx.node, 'mode', 'DCR') : 'DCR';
  if (mode !== 'DCR' && mode !== 'CRD') throw opError(ctx.node, `mode ${show(mode)} must be DCR or CRD`);
  if (toSpace ? c % (b * b) !== 0 : h % b !== 0 || w % b !== 0) throw opError(ctx.node, `dims ${show(x.dims)} do not divide by blocksize ${b}`);
  const dims = toSpace ? [n, c / (b * b), h * b, w * b] : [n, c * b * b, h / b, w / b];
  // Index maps on the larger-space side: (n, c, y, x) of the spatial tensor <-> channel of the depth tensor.
  const [sc, sh, sw] = toSpace ? [dims[1]!, dims[2]!, dims[3]!] : [c, h, w];
  const [dc, dh, dw] = toSpace ? [c, h, w] : [dims[1]!, dims[2]!, dims[3]!];
  const depthIndex = (bn: number, ch: number, y: number, xx: number) => {
    const [by, bx] = [y % b, xx % b];
    const channel = mode === 'DCR' ? (by * b + bx) * sc + ch : ch * b * b + by * b + bx;
    return ((bn * dc + channel) * dh + Math.floor(y / b)) * dw + Math.floor(xx / b);
  };
  return {
    outputs: [{ type: x.type, dims }],
    run([a], [out]) {
      const src = a!.data, dst = out!.data;
      for (let bn = 0; bn < n; bn++) for (let ch = 0; ch < sc; ch++) for (let y = 0; y < sh; y++) for (let xx = 0; xx < sw; xx++) {
        const s = ((bn * sc + ch) * sh + y) * sw + xx, d = depthIndex(bn, ch, y, xx);
        if (toSpace) dst[s] = src[d]!;
        else dst[d] = src[s]!;
      }
    },
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
