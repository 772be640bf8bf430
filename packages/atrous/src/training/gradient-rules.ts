import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import { encodeConvSpec, resolveConvSpec } from '../ops/conv-options.js';
import { ActivationCode } from '../wasm/abi.js';
import type { ActivationParams } from '../ops/activation.js';
import { attrFloat } from '../onnx/attributes.js';
import { sizeOf, type HostTensor } from '../onnx/data-types.js';
import { nodeLabel } from '../onnx/graph.js';
import type { ConvKernel } from '../onnx/ops/conv.js';
import type { Step } from '../onnx/shape-inference.js';
import type { RunEnv } from '../onnx/value.js';

/** What one node's backward is given: the gradient at its output and ways to read and hand on the rest. */
export interface BackwardCall {
  env: RunEnv;
  step: Step;
  /** What the op's load hook made (a Conv's kernel), if it has one. */
  state: unknown;
  dims(name: string): number[];
  /** Address of dL/d(output 0). */
  dy: number;
  /** Address of a value the forward kept for this backward (see `keptValues`). */
  saved(name: string): number;
  /** Whether input `i` carries a gradient back (it depends on a trained tensor). */
  wantsInput(i: number): boolean;
  /** Whether input `i` is a trained parameter. */
  trains(i: number): boolean;
  /** The current value of constant input `i` (weights, BatchNorm statistics). */
  constant(i: number): HostTensor;
  /** A new float buffer of `n` elements in wasm memory; handed on, or given back with `free`. */
  alloc(n: number): number;
  /** Frees a buffer `alloc` made (or a copy `upload` made). */
  free(ptr: number): void;
  /** A copy of `data` in wasm memory, for this call. */
  upload(data: Float32Array): number;
  /** Hands on the gradient at input `i` (the buffer is the trainer's from now on). */
  inputGrad(i: number, ptr: number): void;
  /** The gradient of parameter input `i`, read at once (the buffer stays the rule's). */
  paramGrad(i: number, ptr: number): void;
}

/** Whether an activation's derivative can be had from its output (activation_backward.rs's rule). */
function fromOutput(a: ActivationParams): boolean {
  const C = ActivationCode;
  if (a.code === C.leakyRelu || a.code === C.elu) return a.p0 > 0;
  return ([C.none, C.relu, C.clip, C.hardSigmoid, C.sigmoid, C.tanh] as number[]).includes(a.code);
}

function activationOf(step: Step): ActivationParams {
  if (step.gradient?.kind !== 'activation') throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(step.node)}: no backward for this form of the op (a float32 activation has one)`);
  return step.gradient.params;
}

/**
 * The values the backward of `step` reads, which the forward must keep: a conv's input (for its weights'
 * gradient), an activation's output (or input, where its derivative needs that), a BatchNorm's input when
 * its scale trains, a max pool's input (its argmax is recomputed). Everything else runs on dims alone.
 */
export function keptValues(step: Step, trained: ReadonlySet<number>): string[] {
  const [x] = step.inputs;
  switch (step.node.opType) {
    case 'Conv': case 'MaxPool': return [x!];
    case 'BatchNormalization': return trained.has(1) ? [x!] : [];
    case 'Add': case 'Concat': case 'Resize': case 'Upsample': case 'AveragePool': case 'GlobalAveragePool': return [];
    default: return [fromOutput(activationOf(step)) ? step.outputs[0]! : x!];
  }
}

/** The geometry each op's backward needs from its forward, by op type (gradient-info.ts). */
const NEEDS: Record<string, string> = { Resize: 'resize', Upsample: 'resize', MaxPool: 'pool', AveragePool: 'pool', Concat: 'concat' };

/**
 * Refuses, when the program is prepared (before any step), a node whose prepared form has no backward:
 * a nearest Resize, pooling on uint8, an activation on integers.
 */
export function checkBackward(step: Step): void {
  const op = step.node.opType;
  if (op === 'Conv' || op === 'BatchNormalization' || op === 'Add' || op === 'GlobalAveragePool') return;
  const need = NEEDS[op];
  if (need === undefined) return void activationOf(step);
  if (step.gradient?.kind !== need) {
    const what = need === 'resize' ? 'only linear and cubic Resize have a backward in atrous' : `no backward for this form of ${op}`;
    throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(step.node)}: ${what}; train only the layers after it with { after }`);
  }
}

/** Runs the backward of one node. */
export function backward(c: BackwardCall): void {
  const { step, env } = c;
  const label = nodeLabel(step.node);
  const outDims = c.dims(step.outputs[0]!);
  const n = sizeOf(outDims);
  const gx = (i: number) => c.alloc(sizeOf(c.dims(step.inputs[i]!)));
  const k = env.kernels;
  switch (step.node.opType) {
    case 'Conv': return convBackward(c, label);
    case 'BatchNormalization': return batchNormBackward(c, label);
    case 'Add': return addBackward(c, outDims, label);
    case 'Concat': {
      if (step.gradient?.kind !== 'concat') throw new AtrousError('INTERNAL', `${label}: no concat axis`);
      const axis = step.gradient.axis;
      const outer = sizeOf(outDims.slice(0, axis)), inner = sizeOf(outDims.slice(axis + 1));
      const rowOut = outDims[axis]! * inner;
      let offset = 0;
      step.inputs.forEach((name, i) => {
        const row = c.dims(name)[axis]! * inner;
        if (c.wantsInput(i)) {
          const g = gx(i);
          k.layout.copyStrided(c.dy + offset * 4, g, [outer, row], [rowOut, 1], [row, 1], label);
          c.inputGrad(i, g);
        }
        offset += row;
      });
      return;
    }
    case 'Resize': case 'Upsample': {
      if (step.gradient?.kind !== 'resize') throw new AtrousError('UNSUPPORTED_OP', `${label}: only linear and cubic Resize have a backward in atrous`);
      const g = gx(0);
      k.backward.resize(c.dy, g, step.gradient.desc, step.gradient.coords, label);
      return c.inputGrad(0, g);
    }
    case 'MaxPool': case 'AveragePool': {
      const info = step.gradient;
      if (info?.kind !== 'pool') throw new AtrousError('UNSUPPORTED_OP', `${label}: no backward for this form of pooling`);
      const g = gx(0);
      if (info.max) k.training.maxPool2d(c.saved(step.inputs[0]!), c.dy, g, info.desc, label);
      else k.training.avgPool2d(c.dy, g, info.desc, info.padEnd, info.includePad, label);
      return c.inputGrad(0, g);
    }
    case 'GlobalAveragePool': {
      const xd = c.dims(step.inputs[0]!);
      const g = gx(0);
      k.training.meanPlanes(c.dy, g, xd[0]! * xd[1]!, sizeOf(xd.slice(2)), label);
      return c.inputGrad(0, g);
    }
    default: {
      const a = activationOf(step);
      const out = fromOutput(a);
      const g = c.alloc(n);
      k.backward.activation(c.saved(out ? step.outputs[0]! : step.inputs[0]!), out ? 'output' : 'input', c.dy, g, n, a, label);
      return c.inputGrad(0, g);
    }
  }
}

function convBackward(c: BackwardCall, label: string): void {
  const kernel = c.state as ConvKernel;
  const { oneD, strides, dilations, pads, groups } = kernel.attrs;
  const w = c.constant(1);
  const wDims = oneD ? [w.dims[0]!, w.dims[1]!, 1, w.dims[2]!] : w.dims;
  const spec = resolveConvSpec(new Tensor('float32', w.data as Float32Array, wDims), { strides, dilations, pads, groups }, label);
  const xd = c.dims(c.step.inputs[0]!);
  const [n, h, wd] = oneD ? [xd[0]!, 1, xd[2]!] : [xd[0]!, xd[2]!, xd[3]!];
  const wPtr = c.upload(w.data as Float32Array);
  const gx = c.wantsInput(0) ? c.alloc(sizeOf(xd)) : 0;
  const gw = c.trains(1) ? c.alloc(w.data.length) : 0;
  const gb = c.trains(2) ? c.alloc(wDims[0]!) : 0;
  const context = () => `input ${show(xd)}, weights ${show(w.dims)}`;
  c.env.kernels.backward.conv(encodeConvSpec(spec), n, h, wd, c.saved(c.step.inputs[0]!), wPtr, c.dy, { gradInput: gx, gradWeights: gw, gradBias: gb }, label, context);
  if (gx) c.inputGrad(0, gx);
  if (gw) c.paramGrad(1, gw);
  if (gb) c.paramGrad(2, gb);
  for (const p of [wPtr, gw, gb]) c.free(p);
}

function batchNormBackward(c: BackwardCall, label: string): void {
  const xd = c.dims(c.step.inputs[0]!);
  const channels = xd[1]!, spatial = sizeOf(xd.slice(2));
  const [gamma, , mean, variance] = [1, 2, 3, 4].map((i) => c.constant(i).data);
  const eps = attrFloat(c.step.node, 'epsilon', 1e-5);
  const invStd = Float32Array.from({ length: channels }, (_, i) => 1 / Math.sqrt(variance![i]! + eps));
  const scale = Float32Array.from(invStd, (s, i) => s * gamma![i]!);
  const ptrs = [c.upload(scale), c.upload(invStd), c.upload(Float32Array.from(mean!))];
  const gGamma = c.trains(1) ? c.alloc(channels) : 0;
  const gBeta = c.trains(2) ? c.alloc(channels) : 0;
  const gx = c.wantsInput(0) ? c.alloc(sizeOf(xd)) : 0;
  const x = gGamma ? c.saved(c.step.inputs[0]!) : 0;
  c.env.kernels.training.batchNorm(x, c.dy, { gradInput: gx, gradGamma: gGamma, gradBeta: gBeta }, xd[0]!, channels, spatial, ptrs[0]!, ptrs[1]!, ptrs[2]!, label);
  if (gx) c.inputGrad(0, gx);
  if (gGamma) c.paramGrad(1, gGamma);
  if (gBeta) c.paramGrad(2, gBeta);
  for (const p of [...ptrs, gGamma, gBeta]) c.free(p);
}

/**
 * Add: the gradient passes to each operand of the output's dims as it is, and to a broadcast one summed
 * over the axes it was broadcast along (one reduction per such axis, innermost first).
 */
function addBackward(c: BackwardCall, outDims: number[], label: string): void {
  const k = c.env.kernels;
  c.step.inputs.forEach((name, i) => {
    if (!c.wantsInput(i)) return;
    const inDims = c.dims(name);
    const aligned = [...new Array<number>(outDims.length - inDims.length).fill(1), ...inDims];
    let cur = c.dy, curDims = [...outDims], curOwned = false;
    for (let axis = outDims.length - 1; axis >= 0; axis--) {
      if (aligned[axis] === curDims[axis]) continue;
      const next = c.alloc(sizeOf(curDims) / curDims[axis]!);
      k.norm.reduce('sum', cur, next, sizeOf(curDims.slice(0, axis)), curDims[axis]!, sizeOf(curDims.slice(axis + 1)), label);
      if (curOwned) c.free(cur);
      curDims[axis] = 1;
      cur = next;
      curOwned = true;
    }
    if (!curOwned) {
      const n = sizeOf(outDims);
      const copy = c.alloc(n);
      k.layout.copyStrided(c.dy, copy, [n], [1], [1], label);
      cur = copy;
    }
    c.inputGrad(i, cur);
  });
}
