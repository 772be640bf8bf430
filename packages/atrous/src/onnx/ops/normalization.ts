import { show } from '../../errors.js';
import { attrFloat } from '../attributes.js';
import { sizeOf, type HostTensor } from '../data-types.js';
import { expectFloat, input, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/** Per-channel scale and shift of an inference BatchNormalization: y = x * scale + shift. */
export function batchNormAffine(
  node: OpContext['node'],
  [gamma, beta, mean, variance]: HostTensor[],
  channels: number,
): { scale: Float32Array; shift: Float32Array } {
  for (const [i, t] of [gamma, beta, mean, variance].entries()) {
    if (!t || t.data.length !== channels) {
      throw opError(node, `input ${i + 1} must hold C = ${channels} values, got ${t ? show(t.dims) : 'nothing'}`);
    }
  }
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = gamma!.data[c]! / Math.sqrt(variance!.data[c]! + eps);
    scale[c] = s;
    shift[c] = beta!.data[c]! - mean!.data[c]! * s;
  }
  return { scale, shift };
}

function batchNormalization(ctx: OpContext): PreparedOp {
  const x = expectFloat(ctx, 0);
  if (ctx.node.outputs.filter((o) => o !== '').length > 1) throw unsupported(ctx.node, 'training mode (running mean/var outputs) is not supported');
  if (x.dims.length < 2) throw opError(ctx.node, `input must be [N, C, ...], got dims ${show(x.dims)}`);
  const channels = x.dims[1]!;
  for (let i = 1; i <= 4; i++) input(ctx, i);
  const inner = sizeOf(x.dims.slice(2));
  const n = x.dims[0]!;
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run([a, ...params], [out]) {
      const { scale, shift } = batchNormAffine(ctx.node, params as HostTensor[], channels);
      const src = a!.data, dst = out!.data;
      for (let b = 0; b < n; b++) {
        for (let c = 0; c < channels; c++) {
          const s = scale[c]!, t = shift[c]!, base = (b * channels + c) * inner;
          for (let i = 0; i < inner; i++) dst[base + i] = src[base + i]! * s + t;
        }
      }
    },
  };
}

/** Per sample and channel: (x - mean) / sqrt(var + eps) * scale + bias, statistics over the spatial dims. */
function instanceNormalization(ctx: OpContext): PreparedOp {
  const x = expectFloat(ctx, 0);
  if (x.dims.length < 3) throw opError(ctx.node, `input must be [N, C, ...spatial], got dims ${show(x.dims)}`);
  const channels = x.dims[1]!;
  for (const i of [1, 2]) if (input(ctx, i).dims.length !== 1 || input(ctx, i).dims[0] !== channels) throw opError(ctx.node, `input ${i} must be [C] = [${channels}]`);
  const eps = attrFloat(ctx.node, 'epsilon', 1e-5);
  const inner = sizeOf(x.dims.slice(2));
  const planes = x.dims[0]! * channels;
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run([a, scale, bias], [out]) {
      const src = a!.data, dst = out!.data;
      for (let p = 0; p < planes; p++) {
        const base = p * inner, c = p % channels;
        let mean = 0;
        for (let i = 0; i < inner; i++) mean += src[base + i]!;
        mean /= inner;
        let variance = 0;
        for (let i = 0; i < inner; i++) { const d = src[base + i]! - mean; variance += d * d; }
        variance /= inner;
        const k = scale!.data[c]! / Math.sqrt(variance + eps), b = bias!.data[c]!;
        for (let i = 0; i < inner; i++) dst[base + i] = (src[base + i]! - mean) * k + b;
      }
    },
  };
}

export const normalizationOps: Record<string, OpPreparer> = { BatchNormalization: batchNormalization, InstanceNormalization: instanceNormalization };
