import { show } from '../../errors.js';
import { attrFloat, attrInt } from '../attributes.js';
import { sizeOf, type HostTensor } from '../data-types.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import type { Engine } from '../../wasm/engine.js';
import { ActivationCode } from '../../wasm/abi.js';
import type { Value } from '../value.js';
import { withScratch } from './elementwise.js';
import { expectFloat, input, normAxis, opError, unsupported, type LoadContext, type NodeState, type OpContext, type OpDefinition, type PreparedOp } from './op.js';

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

/** Constants an op derives once at load (BatchNorm's affine map, GroupNorm's per-channel scale), in wasm memory. */
class DerivedConstants implements NodeState {
  readonly consumed: readonly number[] = [];
  readonly ptrs: number[] = [];
  private readonly sizes: number[] = [];
  constructor(private readonly engine: Engine, arrays: Float32Array[], label: string) {
    try {
      for (const a of arrays) {
        this.ptrs.push(engine.upload(a, `${label}: derived constant`));
        this.sizes.push(a.byteLength);
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }
  get bytes(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }
  dispose(): void {
    this.ptrs.forEach((p, i) => this.engine.free(p, this.sizes[i]!));
    this.ptrs.length = 0;
  }
}

/** BatchNormalization's statistics must be constants: inference mode, the only one atrous runs. */
function batchNormParams(node: NodeIR, consts: ReadonlyMap<string, HostTensor>): HostTensor[] {
  const params = node.inputs.slice(1, 5).map((n) => consts.get(n));
  if (params.length !== 4 || params.some((p) => p === undefined)) throw unsupported(node, 'scale, bias, mean and variance must be constants');
  return params as HostTensor[];
}

const isTraining = (node: NodeIR): boolean => attrInt(node, 'training_mode', 0) === 1;

function loadBatchNorm(ctx: LoadContext): NodeState {
  const { node } = ctx;
  // Training mode normalises with the batch's own statistics: nothing to derive at load.
  if (isTraining(node)) return new DerivedConstants(ctx.engine, [], nodeLabel(node));
  if (node.outputs.filter((o) => o !== '').length > 1) {
    throw unsupported(node, 'the running mean / variance outputs of opsets before 14 (is_test 0) are not supported; opset 14 training_mode is');
  }
  const params = batchNormParams(node, ctx.consts);
  const { scale, shift } = batchNormAffine(node, params, params[0]!.data.length);
  return new DerivedConstants(ctx.engine, [scale, shift], nodeLabel(node));
}

/**
 * An inference BatchNormalization the optimizer could not fold into a conv: the per-channel affine map
 * computed once at load, run as a broadcast multiply and add on the kernels.
 */
function batchNormalization(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const x = expectFloat(ctx, 0);
  if (x.dims.length < 2) throw opError(node, `input must be [N, C, ...], got dims ${show(x.dims)}`);
  if (isTraining(node)) return trainingBatchNorm(ctx, x.dims);
  const channels = x.dims[1]!;
  const state = ctx.state as DerivedConstants;
  const [scalePtr, shiftPtr] = state.ptrs as [number, number];
  if (state.bytes !== 8 * channels) throw opError(node, `the statistics hold ${state.bytes / 8} values, input has C = ${channels} (dims ${show(x.dims)})`);
  const dims = [x.dims[0]!, channels, sizeOf(x.dims.slice(2))];
  const mapStrides = [channels * dims[2]!, dims[2]!, 1];
  const perChannel = [0, 1, 0];
  const label = nodeLabel(node);
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run([a], [out], env) {
      env.kernels.elementwise.binary('mul', a!.ptr, scalePtr, out!.ptr, dims, mapStrides, perChannel, label);
      env.kernels.elementwise.binary('add', out!.ptr, shiftPtr, out!.ptr, dims, mapStrides, perChannel, label);
    },
  };
}

/**
 * BatchNormalization with training_mode 1 (opset 14+): Y normalised by the batch's statistics per channel
 * (mean and population variance over N and the spatial dims), and the optional running statistics
 * `input_mean * momentum + batch_mean * (1 - momentum)` (likewise the variance). All on the kernels: the
 * statistics as two mean reductions (over the spatial dims, then over N: every group has the same size).
 */
function trainingBatchNorm(ctx: OpContext, xDims: number[]): PreparedOp {
  const { node } = ctx;
  const [n, channels, spatial] = [xDims[0]!, xDims[1]!, sizeOf(xDims.slice(2))];
  for (const [i, what] of [[1, 'scale'], [2, 'B'], [3, 'input_mean'], [4, 'input_var']] as const) {
    const m = expectFloat(ctx, i);
    if (sizeOf(m.dims) !== channels) throw opError(node, `${what} (input ${i}) must hold C = ${channels} values, got dims ${show(m.dims)}`);
  }
  if (node.outputs.length > 3) throw unsupported(node, `training mode gives 3 outputs (Y, running_mean, running_var); ${node.outputs.length} are not supported`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const momentum = attrFloat(node, 'momentum', 0.9);
  const label = nodeLabel(node);
  const dims = [n, channels, spatial];
  const full = [channels * spatial, spatial, 1];
  const perChannel = [0, 1, 0];
  const stat = { type: 'float32' as const, dims: [channels] };
  return {
    outputs: [{ type: 'float32', dims: [...xDims] }, stat, stat],
    run([a, scale, bias, inMean, inVar], [y, runMean, runVar], env) {
      const k = env.kernels;
      const count = n * channels * spatial;
      withScratch(env, [count * 4, n * channels * 4, channels * 4, channels * 4, 16], `${label}: batch statistics`, ([centered, perSample, mean, factor, scalar]) => {
        // The mean of each channel over N and the spatial dims.
        const channelMean = (src: number, dst: number) => {
          k.norm.reduce('mean', src, perSample!, n * channels, spatial, 1, label);
          k.norm.reduce('mean', perSample!, dst, 1, n, channels, label);
        };
        channelMean(a!.ptr, mean!);
        k.elementwise.binary('sub', a!.ptr, mean!, centered!, dims, full, perChannel, label);
        // The variance, in y (a scratch here, overwritten last) as the squares of the centered values.
        k.elementwise.binary('mul', centered!, centered!, y!.ptr, dims, full, full, label);
        channelMean(y!.ptr, factor!);
        if (runMean?.ptr || runVar?.ptr) {
          // out = running * momentum + batch * (1 - momentum), the batch part in `perSample` (>= C floats,
          // free again); an output the model does not read has address 0.
          const blend = (out: Value | undefined, running: number, batch: number) => {
            if (!out?.ptr) return;
            k.layout.fill(scalar!, 1, momentum, label);
            k.elementwise.binary('mul', running, scalar!, out.ptr, [channels], [1], [0], label);
            k.layout.fill(scalar!, 1, 1 - momentum, label);
            k.elementwise.binary('mul', batch, scalar!, perSample!, [channels], [1], [0], label);
            k.elementwise.binary('add', out.ptr, perSample!, out.ptr, [channels], [1], [1], label);
          };
          blend(runMean, inMean!.ptr, mean!);
          blend(runVar, inVar!.ptr, factor!);
        }
        // factor = scale / sqrt(var + eps); y = centered * factor + B.
        k.layout.fill(scalar!, 1, eps, label);
        k.elementwise.binary('add', factor!, scalar!, factor!, [channels], [1], [0], label);
        k.elementwise.unary(factor!, factor!, channels, { code: ActivationCode.sqrt, p0: 0, p1: 0 }, label);
        k.elementwise.binary('div', scale!.ptr, factor!, factor!, [channels], [1], [1], label);
        k.elementwise.binary('mul', centered!, factor!, y!.ptr, dims, full, perChannel, label);
        k.elementwise.binary('add', y!.ptr, bias!.ptr, y!.ptr, dims, full, perChannel, label);
      });
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
  const spatial = sizeOf(x.dims.slice(2));
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run: ([a, scale, bias], [out], env) => env.kernels.norm.groupNorm(a!.ptr, out!.ptr, x.dims[0]!, channels, channels, spatial, scale!.ptr, bias!.ptr, eps, label),
  };
}

function loadGroupNorm(ctx: LoadContext): NodeState {
  const { node, consts } = ctx;
  const groups = attrInt(node, 'num_groups', 0);
  const scale = consts.get(node.inputs[1] ?? ''), bias = consts.get(node.inputs[2] ?? '');
  if (!scale || !bias) throw unsupported(node, 'scale and bias must be constants');
  if (groups < 1) throw opError(node, `num_groups ${groups} must be positive`);
  // Per group before opset 21, per channel after: stored per channel either way (C is known at prepare).
  return new DerivedConstants(ctx.engine, [Float32Array.from(scale.data as ArrayLike<number>), Float32Array.from(bias.data as ArrayLike<number>)], nodeLabel(node));
}

/** GroupNormalization: statistics per sample and group, scale and bias per group (opset 18) or channel (21). */
function groupNormalization(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const x = expectFloat(ctx, 0);
  if (x.dims.length < 3) throw opError(node, `input must be [N, C, ...spatial], got dims ${show(x.dims)}`);
  const channels = x.dims[1]!;
  const groups = attrInt(node, 'num_groups', 0);
  if (channels % groups !== 0) throw opError(node, `num_groups ${groups} must divide C = ${channels}`);
  const state = ctx.state as DerivedConstants;
  const values = state.bytes / 8;
  if (values !== channels && values !== groups) throw opError(node, `scale must hold C = ${channels} or num_groups = ${groups} values, got ${values}`);
  if (values !== channels) throw unsupported(node, `scale and bias per group (${groups}) with C = ${channels} channels: opset 21's per-channel form is supported`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const spatial = sizeOf(x.dims.slice(2));
  const label = nodeLabel(node);
  const [s, b] = state.ptrs as [number, number];
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run: ([a], [out], env) => env.kernels.norm.groupNorm(a!.ptr, out!.ptr, x.dims[0]!, groups, channels, spatial, s, b, eps, label),
  };
}

/**
 * LayerNormalization (opset 17, and the decomposed form older exports write, fused into it by the
 * optimizer): statistics over the dims from `axis` on, scale and bias over those dims.
 */
function layerNormalization(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const x = expectFloat(ctx, 0);
  const rank = x.dims.length;
  const axis = normAxis(node, attrInt(node, 'axis', -1), Math.max(rank, 1));
  const len = sizeOf(x.dims.slice(axis));
  const rows = sizeOf(x.dims.slice(0, axis));
  const scale = input(ctx, 1, 'Scale');
  if (sizeOf(scale.dims) !== len) throw opError(node, `Scale ${show(scale.dims)} must hold the ${len} values of the normalized dims ${show(x.dims.slice(axis))}`);
  const bias = ctx.inputs[2];
  if (bias && sizeOf(bias.dims) !== len) throw opError(node, `B ${show(bias.dims)} must hold the ${len} values of the normalized dims ${show(x.dims.slice(axis))}`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const label = nodeLabel(node);
  const y = { type: 'float32' as const, dims: [...x.dims] };
  const stats = node.outputs.slice(1).some((o) => o !== '');
  if (!stats) return { outputs: [y], run: ([a, s, b], [out], env) => env.kernels.norm.layerNorm(a!.ptr, out!.ptr, rows, len, s!.ptr, b ? b.ptr : 0, eps, label) };
  // The optional Mean and InvStdDev outputs (what training keeps), from the reduction and element-wise
  // kernels: mean, then 1 / sqrt(mean((x - mean)^2) + eps), per normalized row.
  const statDims = x.dims.map((d, i) => (i < axis ? d : 1));
  return {
    outputs: [y, { type: 'float32', dims: statDims }, { type: 'float32', dims: statDims }],
    run([a, s, b], [out, meanOut, invStdOut], env) {
      const k = env.kernels;
      k.norm.layerNorm(a!.ptr, out!.ptr, rows, len, s!.ptr, b ? b.ptr : 0, eps, label);
      const e = env.engine;
      const bytes = Math.max(16, rows * len * 4);
      const centered = e.alloc(bytes, `${label}: centered rows`);
      const epsPtr = e.alloc(16, `${label}: epsilon`);
      try {
        const invStd = invStdOut!.ptr;
        // An output the model does not read has no buffer (address 0); the mean still feeds the variance.
        const meanBuf = meanOut!.ptr || e.alloc(Math.max(16, rows * 4), `${label}: row means`);
        try {
          k.norm.reduce('mean', a!.ptr, meanBuf, rows, len, 1, label);
          k.elementwise.binary('sub', a!.ptr, meanBuf, centered, [rows, len], [len, 1], [1, 0], label);
          k.elementwise.binary('mul', centered, centered, centered, [rows, len], [len, 1], [len, 1], label);
          if (invStd) {
            k.norm.reduce('mean', centered, invStd, rows, len, 1, label);
            k.layout.fill(epsPtr, 1, eps, label);
            k.elementwise.binary('add', invStd, epsPtr, invStd, [rows], [1], [0], label);
            k.elementwise.unary(invStd, invStd, rows, { code: ActivationCode.sqrt, p0: 0, p1: 0 }, label);
            k.elementwise.unary(invStd, invStd, rows, { code: ActivationCode.reciprocal, p0: 0, p1: 0 }, label);
          }
        } finally {
          if (!meanOut!.ptr) e.free(meanBuf, Math.max(16, rows * 4));
        }
      } finally {
        e.free(centered, bytes);
        e.free(epsPtr, 16);
      }
    },
  };
}

export const normalizationOps: Record<string, OpDefinition> = {
  BatchNormalization: { load: loadBatchNorm, prepare: batchNormalization },
  InstanceNormalization: { prepare: instanceNormalization },
  GroupNormalization: { load: loadGroupNorm, prepare: groupNormalization },
  LayerNormalization: { prepare: layerNormalization },
};
