import { show } from '../../errors.js';
import { nodeLabel } from '../graph.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import { sizeOf } from '../data-types.js';
import { withScratch } from './elementwise.js';
import { expectFloat, input, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

interface Window {
  kernel: number;
  stride: number;
  dilation: number;
  padBegin: number;
  padEnd: number;
  inSize: number;
  outSize: number;
}

/** One spatial axis of a pooling window, ONNX semantics (auto_pad, ceil_mode with PyTorch's last-window rule). */
function windows(ctx: OpContext, spatial: number[]): Window[] {
  const { node } = ctx;
  const n = spatial.length;
  const kernel = attrInts(node, 'kernel_shape');
  if (!kernel || kernel.length !== n) throw opError(node, `kernel_shape ${show(kernel)} must have ${n} values for spatial dims ${show(spatial)}`);
  const strides = attrInts(node, 'strides', new Array<number>(n).fill(1));
  const dilations = attrInts(node, 'dilations', new Array<number>(n).fill(1));
  const pads = attrInts(node, 'pads', new Array<number>(2 * n).fill(0));
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  if (strides.length !== n || dilations.length !== n || pads.length !== 2 * n) {
    throw opError(node, `strides ${show(strides)}, dilations ${show(dilations)} and pads ${show(pads)} do not match ${n} spatial axes`);
  }
  return spatial.map((inSize, i) => {
    const k = kernel[i]!, s = strides[i]!, d = dilations[i]!;
    if (k < 1 || s < 1 || d < 1 || pads[i]! < 0 || pads[i + n]! < 0) throw opError(node, `kernel ${k}, stride ${s}, dilation ${d} and pads must be positive`);
    const effective = (k - 1) * d + 1;
    let padBegin = pads[i]!, padEnd = pads[i + n]!, outSize: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      outSize = Math.ceil(inSize / s);
      const total = Math.max(0, (outSize - 1) * s + effective - inSize);
      padBegin = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      padEnd = total - padBegin;
    } else {
      if (autoPad === 'VALID') padBegin = padEnd = 0;
      else if (autoPad !== 'NOTSET') throw opError(node, `auto_pad ${show(autoPad)} is not valid`);
      const span = inSize + padBegin + padEnd - effective;
      if (span < 0) throw opError(node, `the window (${effective} wide) is larger than the padded input (${inSize} + ${padBegin} + ${padEnd})`);
      outSize = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      // A last window that would start inside the end padding is dropped (PyTorch and onnxruntime agree).
      if (ceil && (outSize - 1) * s >= inSize + padBegin) outSize--;
    }
    return { kernel: k, stride: s, dilation: d, padBegin, padEnd, inSize, outSize };
  });
}

function pool(ctx: OpContext, kind: 'max' | 'average'): PreparedOp {
  const { node } = ctx;
  const x = kind === 'max' && input(ctx, 0).type === 'uint8' ? input(ctx, 0) : expectFloat(ctx, 0);
  const withIndices = kind === 'max' && node.outputs.length > 1 && node.outputs[1] !== '';
  if (withIndices && x.type !== 'float32') throw unsupported(node, `the Indices output of MaxPool on ${x.type} is not supported (on float it is)`);
  if (x.dims.length !== 3 && x.dims.length !== 4) {
    throw (x.dims.length > 4 ? unsupported : opError)(node, `only 1-D and 2-D pooling ([N, C, L] or [N, C, H, W]) is supported, got dims ${show(x.dims)}`);
  }
  const oneD = x.dims.length === 3;
  const spatial = oneD ? [1, x.dims[2]!] : [x.dims[2]!, x.dims[3]!];
  const ws = windows(ctx, oneD ? [x.dims[2]!] : spatial);
  const [wh, ww] = (oneD ? [{ kernel: 1, stride: 1, dilation: 1, padBegin: 0, padEnd: 0, inSize: 1, outSize: 1 }, ws[0]!] : ws) as [Window, Window];
  const includePad = attrInt(node, 'count_include_pad', 0) === 1;
  const planes = x.dims[0]! * x.dims[1]!;
  const dims = oneD ? [x.dims[0]!, x.dims[1]!, ww.outSize] : [x.dims[0]!, x.dims[1]!, wh.outSize, ww.outSize];
  const [H, W, OH, OW] = [wh.inSize, ww.inSize, wh.outSize, ww.outSize];
  const desc = Uint32Array.of(planes, H, W, OH, OW, wh.kernel, ww.kernel, wh.stride, ww.stride, wh.dilation, ww.dilation, wh.padBegin, ww.padBegin);
  const outputs = [{ type: x.type, dims }];
  const label = nodeLabel(node);
  if (x.type === 'uint8') {
    // Widened to float32 (exact), pooled, narrowed back.
    const [n, m] = [planes * H * W, planes * OH * OW];
    return {
      outputs,
      run: ([src], [dst], env) => withScratch(env, [n * 4, m * 4], `${label}: uint8 widened to float32`, ([wide, pooled]) => {
        env.kernels.layout.convert(src!.ptr, wide!, n, 'u8ToF32', label);
        env.kernels.maps.maxPool2d(wide!, pooled!, desc, label);
        env.kernels.layout.convert(pooled!, dst!.ptr, m, 'f32ToU8', label);
      }),
    };
  }
  if (withIndices) {
    // The kernel writes i32 flat indices (the input has fewer than 2^31 elements) into scratch; the int64
    // output lives on the JavaScript side, filled by one typed-array copy.
    const storageOrder = attrInt(node, 'storage_order', 0);
    if (storageOrder !== 0 && storageOrder !== 1) throw opError(node, `storage_order must be 0 (row major) or 1 (column major), got ${storageOrder}`);
    const m = planes * OH * OW;
    return {
      outputs: [...outputs, { type: 'int64', dims }],
      run: ([src], [dst, indices], env) => withScratch(env, [m * 4], `${label}: indices`, ([at]) => {
        env.kernels.maps.maxPool2dWithIndices(src!.ptr, dst!.ptr, at!, desc, storageOrder === 1, label);
        indices!.data.set(new Int32Array(env.engine.exports.memory.buffer, at!, m));
      }),
    };
  }
  const padEnd: [number, number] = [wh.padEnd, ww.padEnd];
  const gradient = { kind: 'pool' as const, max: kind === 'max', desc, padEnd, includePad };
  if (kind === 'max') return { outputs, run: ([src], [dst], env) => env.kernels.maps.maxPool2d(src!.ptr, dst!.ptr, desc, label), gradient };
  return { outputs, run: ([src], [dst], env) => env.kernels.maps.avgPool2d(src!.ptr, dst!.ptr, desc, padEnd, includePad, label), gradient };
}

function globalPool(ctx: OpContext, kind: 'max' | 'average'): PreparedOp {
  const x = expectFloat(ctx, 0);
  if (x.dims.length < 3) throw opError(ctx.node, `input must be [N, C, ...spatial], got dims ${show(x.dims)}`);
  const planes = x.dims[0]! * x.dims[1]!;
  const inner = sizeOf(x.dims.slice(2));
  const outputs = [{ type: 'float32' as const, dims: x.dims.map((d, i) => (i < 2 ? d : 1)) }];
  const label = nodeLabel(ctx.node);
  if (kind === 'average' && inner > 0) return { outputs, run: ([src], [dst], env) => env.kernels.maps.meanPlanes(src!.ptr, dst!.ptr, planes, inner, label) };
  // Max, and the mean of empty planes (NaN): the reduction kernel over each plane.
  return { outputs, run: ([src], [dst], env) => env.kernels.norm.reduce(kind === 'max' ? 'max' : 'mean', src!.ptr, dst!.ptr, planes, inner, 1, label) };
}

export const poolingOps: Record<string, OpPreparer> = {
  MaxPool: (ctx) => pool(ctx, 'max'),
  AveragePool: (ctx) => pool(ctx, 'average'),
  GlobalAveragePool: (ctx) => globalPool(ctx, 'average'),
  GlobalMaxPool: (ctx) => globalPool(ctx, 'max'),
};
