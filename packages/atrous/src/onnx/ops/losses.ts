import { show } from '../../errors.js';
import { attrInt, attrString } from '../attributes.js';
import { sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { wasmValue, type RunEnv, type Value } from '../value.js';
import { withTemps } from './data-movement.js';
import { expectFloat, input, opError, type OpContext, type OpPreparer, type PreparedOp, type ValueMeta } from './op.js';
import { softmaxOps } from './softmax.js';

/**
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (the losses exported training graphs end in, and
 * ONNX's function bodies of one another). The per-sample picks and weights are integer metadata; the
 * float work runs on the kernels: `layout.gather` picks input[n][target][d] and the sample weights,
 * `maps.combine` weighs them, `maps.meanPlanes` reduces, `maps.scalePlanes` negates and normalizes.
 */

type Reduction = 'none' | 'sum' | 'mean';

interface LossShape {
  /** N, C and the product of the spatial dims d1..dk. */
  n: number;
  c: number;
  d: number;
  reduction: Reduction;
  ignoreIndex: number | undefined;
  outDims: number[];
}

/** The loss node's inputs (scores, integer targets called `targetName` in the spec, optional class weights), checked. */
function lossShape(ctx: OpContext, targetName: string): LossShape & { x: ValueMeta } {
  const x = expectFloat(ctx, 0);
  const target = input(ctx, 1, targetName);
  const weight = ctx.inputs[2] ? expectFloat(ctx, 2) : undefined;
  const rank = x.dims.length;
  if (rank < 2) throw opError(ctx.node, `input dims ${show(x.dims)} must be [N, C, d1, ...]`);
  const [n, c] = x.dims as [number, number];
  const want = [n, ...x.dims.slice(2)];
  if (target.dims.length !== want.length || target.dims.some((v, i) => v !== want[i])) {
    throw opError(ctx.node, `target dims ${show(target.dims)} must be ${show(want)} for input dims ${show(x.dims)}`);
  }
  if (target.type !== 'int64' && target.type !== 'int32') throw opError(ctx.node, `target must be an integer tensor, got ${target.type}`);
  if (weight && (weight.type !== 'float32' || weight.dims.length !== 1 || weight.dims[0] !== c)) {
    throw opError(ctx.node, `weight must be a float tensor of dims [${c}], got ${weight.type} ${show(weight.dims)}`);
  }
  const reduction = attrString(ctx.node, 'reduction', 'mean');
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') throw opError(ctx.node, `reduction ${show(reduction)} is not none, sum or mean`);
  const ignoreIndex = ctx.node.attributes.has('ignore_index') ? attrInt(ctx.node, 'ignore_index') : undefined;
  return { x, n, c, d: sizeOf(x.dims.slice(2)), reduction, ignoreIndex, outDims: reduction === 'none' ? [...target.dims] : [] };
}

/**
 * loss[n][d] = -logp[n][target[n][d]][d] · weight[target[n][d]] (0 where the target is ignore_index), then
 * summed, or summed and divided by the sum of the weights picked (mean).
 */
function nllRun(env: RunEnv, s: LossShape, logpPtr: number, target: Value, weight: Value | undefined, out: Value, label: string, node: OpContext['node']): void {
  const { n, c, d } = s;
  const m = n * d;
  if (m === 0) {
    if (s.reduction !== 'none') env.kernels.layout.fill(out.ptr, 1, s.reduction === 'sum' ? 0 : NaN, label);
    return;
  }
  const picks = new Int32Array(m);
  const weights = new Int32Array(m);
  const zeroSlot = weight ? c : 1;
  for (let i = 0; i < m; i++) {
    const t = target.data[i]!;
    if (t === s.ignoreIndex) {
      picks[i] = 0;
      weights[i] = zeroSlot;
      continue;
    }
    if (!Number.isInteger(t) || t < 0 || t >= c) throw opError(node, `target ${t} is outside [0, ${c})`);
    const b = Math.floor(i / d), k = i - b * d;
    picks[i] = (b * c + t) * d + k;
    weights[i] = weight ? t : 0;
  }
  const e = env.engine;
  const { layout, maps } = env.kernels;
  withTemps(e, (temp) => {
    const idx = temp(m * 4, `${label}: picks`);
    const table = temp((zeroSlot + 1) * 4, `${label}: weights`);
    const picked = temp(m * 4, `${label}: picked log-probabilities`);
    const w = temp(m * 4, `${label}: sample weights`);
    const weighed = temp(m * 4, `${label}: weighed losses`);
    const scalars = temp(16, `${label}: scalars`);
    const i32 = () => new Int32Array(e.exports.memory.buffer, idx, m);
    // The weight table is [weight..., 0] (or [1, 0] without weights): an ignored sample picks the 0.
    if (weight) layout.copyStrided(weight.ptr, table, [c], [1], [1], label);
    else layout.fill(table, 1, 1, label);
    layout.fill(table + zeroSlot * 4, 1, 0, label);
    i32().set(picks);
    layout.gather(logpPtr, idx, picked, 1, n * c * d, 1, m, label);
    i32().set(weights);
    layout.gather(table, idx, w, 1, zeroSlot + 1, 1, m, label);
    maps.combine(picked, w, weighed, m, true, label);
    const scale = scalars, sum = scalars + 4, norm = scalars + 8;
    if (s.reduction === 'none') {
      layout.fill(scale, 1, -1, label);
      maps.scalePlanes(weighed, scale, out.ptr, 1, m, label);
      return;
    }
    maps.meanPlanes(weighed, sum, 1, m, label);
    if (s.reduction === 'sum') {
      layout.fill(scale, 1, -m, label);
    } else {
      // mean(weighed) / mean(w) = sum(weighed) / sum(w): one scalar, read back to divide.
      maps.meanPlanes(w, norm, 1, m, label);
      const meanWeight = e.f32(norm, 1)[0]!;
      layout.fill(scale, 1, -1 / meanWeight, label);
    }
    maps.scalePlanes(sum, scale, out.ptr, 1, 1, label);
  });
}

function negativeLogLikelihoodLoss(ctx: OpContext): PreparedOp {
  const s = lossShape(ctx, 'target');
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: 'float32', dims: s.outDims }],
    run([logp, t, w], [out], env) {
      nllRun(env, s, logp!.ptr, t!, w, out!, label, ctx.node);
    },
  };
}

function softmaxCrossEntropyLoss(ctx: OpContext): PreparedOp {
  const s = lossShape(ctx, 'labels');
  const { x } = s;
  const label = nodeLabel(ctx.node);
  // log_prob is LogSoftmax over the class axis: the LogSoftmax op itself, prepared for axis 1.
  const logSoftmax = softmaxOps.LogSoftmax!({
    node: { ...ctx.node, opType: 'LogSoftmax', attributes: new Map([['axis', 1]]), inputs: [ctx.node.inputs[0]!], outputs: ['log_prob'] },
    opset: 13,
    inputs: [x],
    consts: [undefined],
  });
  const wantLogProb = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
  const bytes = sizeOf(x.dims) * 4;
  return {
    outputs: [{ type: 'float32', dims: s.outDims }, ...(wantLogProb ? [{ type: 'float32' as const, dims: [...x.dims] }] : [])],
    run([scores, t, w], outputs, env) {
      const run = (logp: Value): void => {
        // A fresh view of the scores: allocating the temporary may have grown (detached) the memory.
        logSoftmax.run([wasmValue(env.engine, 'float32', [...x.dims], scores!.ptr)], [logp], env);
        nllRun(env, s, logp.ptr, t!, w, outputs[0]!, label, ctx.node);
      };
      if (wantLogProb) {
        run(outputs[1]!);
        return;
      }
      withTemps(env.engine, (temp) => {
        const ptr = temp(bytes, `${label}: log-probabilities`);
        run(wasmValue(env.engine, 'float32', [...x.dims], ptr));
      });
    },
  };
}

export const lossOps: Record<string, OpPreparer> = {
  NegativeLogLikelihoodLoss: negativeLogLikelihoodLoss,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropyLoss,
};
