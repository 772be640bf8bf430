import { AtrousError, show } from '../../errors.js';
import { nodeLabel } from '../graph.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import { sizeOf } from '../data-types.js';
import { expectFloat, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

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
  const x = expectFloat(ctx, 0);
  const { node } = ctx;
  if (node.outputs.length > 1 && node.outputs[1] !== '') throw unsupported(node, 'the Indices output of MaxPool is not supported');
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
  const outputs = [{ type: 'float32' as const, dims }];
  if (kind === 'max') return { outputs, run: ([src], [dst], env) => env.kernels.maps.maxPool2d(src!.ptr, dst!.ptr, desc, nodeLabel(node)) };
  return {
    outputs,
    run([a], [out]) {
      const src = a!.data as Float32Array, dst = out!.data as Float32Array;
      const ry = tapRanges(wh), rx = tapRanges(ww);
      for (let p = 0; p < planes; p++) {
        const ib = p * H * W, ob = p * OH * OW;
        for (let oy = 0; oy < OH; oy++) {
          const y0 = oy * wh.stride - wh.padBegin, ky0 = ry.first[oy]!, ky1 = ry.end[oy]!;
          for (let ox = 0; ox < OW; ox++) {
            const x0 = ox * ww.stride - ww.padBegin, kx0 = rx.first[ox]!, kx1 = rx.end[ox]!;
            let acc = 0;
            for (let ky = ky0; ky < ky1; ky++) {
              const row = ib + (y0 + ky * wh.dilation) * W + x0;
              for (let kx = kx0; kx < kx1; kx++) acc += src[row + kx * ww.dilation]!;
            }
            let count = (ky1 - ky0) * (kx1 - kx0);
            if (includePad) {
              // Taps over the declared padding count; taps past it (ceil_mode overhang) do not.
              const hEnd = Math.min(y0 + (wh.kernel - 1) * wh.dilation + 1, H + wh.padEnd);
              const wEnd = Math.min(x0 + (ww.kernel - 1) * ww.dilation + 1, W + ww.padEnd);
              count = Math.ceil((hEnd - y0) / wh.dilation) * Math.ceil((wEnd - x0) / ww.dilation);
            }
            dst[ob + oy * OW + ox] = count > 0 ? acc / count : 0;
          }
        }
      }
    },
  };
}

/** Per output position along one axis: the taps [first, end) that land inside the input. */
function tapRanges(w: Window): { first: Int32Array; end: Int32Array } {
  const first = new Int32Array(w.outSize), end = new Int32Array(w.outSize);
  for (let o = 0; o < w.outSize; o++) {
    const start = o * w.stride - w.padBegin;
    let k0 = 0;
    while (k0 < w.kernel && start + k0 * w.dilation < 0) k0++;
    let k1 = w.kernel;
    while (k1 > k0 && start + (k1 - 1) * w.dilation >= w.inSize) k1--;
    first[o] = k0;
    end[o] = k1;
  }
  return { first, end };
}

function globalPool(ctx: OpContext, kind: 'max' | 'average'): PreparedOp {
  const x = expectFloat(ctx, 0);
  if (x.dims.length < 3) throw opError(ctx.node, `input must be [N, C, ...spatial], got dims ${show(x.dims)}`);
  const planes = x.dims[0]! * x.dims[1]!;
  const inner = sizeOf(x.dims.slice(2));
  const outputs = [{ type: 'float32' as const, dims: x.dims.map((d, i) => (i < 2 ? d : 1)) }];
  if (kind === 'average' && inner > 0) return { outputs, run: ([src], [dst], env) => env.kernels.maps.meanPlanes(src!.ptr, dst!.ptr, planes, inner, nodeLabel(ctx.node)) };
  return {
    outputs,
    run([a], [out]) {
      const src = a!.data, dst = out!.data;
      for (let p = 0; p < planes; p++) {
        let acc = kind === 'max' ? -Infinity : 0;
        const base = p * inner;
        if (kind === 'max') for (let i = 0; i < inner; i++) acc = Math.max(acc, src[base + i]!);
        else { for (let i = 0; i < inner; i++) acc += src[base + i]!; acc /= inner; }
        dst[p] = acc;
      }
    },
  };
}

export const poolingOps: Record<string, OpPreparer> = {
  MaxPool: (ctx) => pool(ctx, 'max'),
  AveragePool: (ctx) => pool(ctx, 'average'),
  GlobalAveragePool: (ctx) => globalPool(ctx, 'average'),
  GlobalMaxPool: (ctx) => globalPool(ctx, 'max'),
};
