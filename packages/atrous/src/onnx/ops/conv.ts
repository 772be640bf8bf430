import { AtrousError, show } from '../../errors.js';
import { Tensor } from '../../tensor.js';
import { resolveActivation, type Activation } from '../../ops/activation.js';
import { convOutputDims, encodeConvSpec, resolveConvSpec, type AutoPad, type ConvSpec } from '../../ops/conv-options.js';
import type { Engine } from '../../wasm/engine.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import type { HostTensor } from '../data-types.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import { checkOutputDims, type NodeState, expectFloat, opError, unsupported, type LoadContext, type OpContext, type OpDefinition, type PreparedOp } from './op.js';
import { broadcastStrides } from './elementwise.js';
import { broadcastDims } from '../broadcast.js';

/** A Conv node's attributes, read once: 1-D convs run as 2-D with height 1. */
export interface ConvAttributes {
  oneD: boolean;
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number] | AutoPad;
  groups: number;
}

export function readConvAttributes(node: NodeIR, weightDims: readonly number[]): ConvAttributes {
  const rank = weightDims.length;
  if (rank === 5) {
    throw new AtrousError('UNSUPPORTED', `${nodeLabel(node)}: 3-D convolution (weights ${show(weightDims)}) is out of atrous' scope; it runs 1-D and 2-D convolutions`);
  }
  if (rank !== 3 && rank !== 4) throw opError(node, `weights must be [M, C/groups, kH, kW] or [M, C/groups, K], got dims ${show(weightDims)}`);
  const oneD = rank === 3;
  const n = rank - 2;
  const kernel = attrInts(node, 'kernel_shape');
  if (kernel && (kernel.length !== n || kernel.some((k, i) => k !== weightDims[2 + i]))) {
    throw opError(node, `kernel_shape ${show(kernel)} does not match weights ${show(weightDims)}`);
  }
  const strides = attrInts(node, 'strides', new Array<number>(n).fill(1));
  const dilations = attrInts(node, 'dilations', new Array<number>(n).fill(1));
  const explicit = attrInts(node, 'pads', new Array<number>(2 * n).fill(0));
  if (strides.length !== n || dilations.length !== n || explicit.length !== 2 * n) {
    throw opError(node, `strides ${show(strides)}, dilations ${show(dilations)} and pads ${show(explicit)} do not fit ${n}-D weights ${show(weightDims)}`);
  }
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let pads: ConvAttributes['pads'];
  switch (autoPad) {
    case 'NOTSET': pads = oneD ? [0, explicit[0]!, 0, explicit[1]!] : (explicit as [number, number, number, number]); break;
    case 'SAME_UPPER': pads = 'same-upper'; break;
    case 'SAME_LOWER': pads = 'same-lower'; break;
    case 'VALID': pads = 'valid'; break;
    default: throw opError(node, `auto_pad ${show(autoPad)} is not valid`);
  }
  const pair = (v: number[]): [number, number] => (oneD ? [1, v[0]!] : [v[0]!, v[1]!]);
  return { oneD, strides: pair(strides), dilations: pair(dilations), pads, groups: attrInt(node, 'group', 1) };
}

/**
 * A Conv node's prepared weights in wasm memory. Each variant (with or without the fused activation)
 * is packed once, on first use, and kept until `dispose`: the residual/activation fusion is decided when
 * the dims are known, and a variant that never runs is never packed.
 */
export class ConvKernel implements NodeState {
  readonly node: NodeIR;
  readonly attrs: ConvAttributes;
  readonly weightDims: number[];
  readonly activation: Activation;
  private readonly engine: Engine;
  // Dropped once no variant can still need packing (see `plan`): the packed copy in wasm memory is enough.
  private weights: Tensor<'float32'> | undefined;
  private bias: Float32Array | undefined;
  private readonly specs = new Map<boolean, ConvSpec>();
  private readonly plans = new Map<boolean, { ptr: number; spec: ConvSpec }>();

  constructor(engine: Engine, node: NodeIR, weights: HostTensor, bias: HostTensor | undefined, activation: Activation) {
    this.engine = engine;
    this.node = node;
    this.weightDims = [...weights.dims];
    this.attrs = readConvAttributes(node, weights.dims);
    if (weights.type !== 'float32') throw opError(node, `weights must be float, got ${weights.type}`);
    const dims4 = this.attrs.oneD ? [weights.dims[0]!, weights.dims[1]!, 1, weights.dims[2]!] : weights.dims;
    this.weights = new Tensor('float32', weights.data as Float32Array, dims4);
    if (bias && bias.type !== 'float32') throw opError(node, `bias must be float, got ${bias.type}`);
    this.bias = bias ? (bias.data as Float32Array) : undefined;
    this.activation = activation;
    this.spec(false); // validates the attributes against the weights now, at load
  }

  private spec(withActivation: boolean): ConvSpec {
    const known = this.specs.get(withActivation);
    if (known) return known;
    const { strides, dilations, pads, groups } = this.attrs;
    try {
      const activation = withActivation ? this.activation : 'none';
      const spec = resolveConvSpec(this.weights!, { bias: this.bias, strides, dilations, pads, groups, activation }, nodeLabel(this.node));
      this.specs.set(withActivation, spec);
      return spec;
    } catch (e) {
      if (e instanceof AtrousError) throw new AtrousError('INVALID_MODEL', e.message);
      throw e;
    }
  }

  /**
   * Packs the fused variant and lets go of the JavaScript copy of the weights when no other variant can be
   * asked for: without a residual (or without an activation) the unfused variant is never needed.
   */
  packForLoad(hasResidual: boolean): void {
    this.plan(true);
    if (!hasResidual || this.activation === 'none') {
      this.spec(false);
      this.weights = undefined;
      this.bias = undefined;
    }
  }

  /** The packed plan for one variant; packs it on first use. */
  plan(withActivation: boolean): number {
    const same = this.activation === 'none' ? true : withActivation;
    const known = this.plans.get(same);
    if (known) return known.ptr;
    if (!this.weights) throw new AtrousError('INTERNAL', `${nodeLabel(this.node)}: the weights were released before the ${withActivation ? 'fused' : 'unfused'} variant was packed`);
    const spec = this.spec(same);
    withActivation = same;
    const ptr = this.engine.kernels.conv.createPlan(encodeConvSpec(spec), this.weights.data, spec.bias, nodeLabel(this.node), () => `weights ${show(this.weightDims)}`);
    this.plans.set(withActivation, { ptr, spec });
    return ptr;
  }

  /** Output dims for input dims `[N, C, H, W]` (or `[N, C, L]` for 1-D). */
  outputDims(inputDims: readonly number[]): number[] {
    const label = nodeLabel(this.node);
    const rank = this.attrs.oneD ? 3 : 4;
    if (inputDims.length !== rank) {
      throw new AtrousError('INVALID_SHAPE', `${label}: input must have rank ${rank}, got dims ${show(inputDims)}`);
    }
    const d4 = this.attrs.oneD ? [inputDims[0]!, inputDims[1]!, 1, inputDims[2]!] : inputDims;
    const out = convOutputDims(this.spec(false), d4, label);
    return this.attrs.oneD ? [out[0], out[1], out[3]] : out;
  }

  /** Runs on wasm pointers: input `[N, C, H, W]` -> output, plus residual (or 0) before the activation. */
  run(withActivation: boolean, inputDims: readonly number[], input: number, output: number, residual: number): void {
    const [n, , h, w] = this.attrs.oneD ? [inputDims[0]!, 0, 1, inputDims[2]!] : (inputDims as [number, number, number, number]);
    this.engine.kernels.conv.run(this.plan(withActivation), input, n, h, w, output, residual, nodeLabel(this.node), () => `input ${show(inputDims)}, weights ${show(this.weightDims)}`);
  }

  /** Bytes of wasm memory the packed variants hold. */
  get bytes(): number {
    let total = 0;
    for (const { ptr } of this.plans.values()) total += this.engine.kernels.conv.planBytes(ptr);
    return total;
  }

  dispose(): void {
    for (const { ptr } of this.plans.values()) this.engine.kernels.conv.freePlan(ptr);
    this.plans.clear();
  }
}

/** The activation a FusedConv carries, from its `activation` attribute (JSON of an `Activation`). */
export function fusedActivation(node: NodeIR): Activation {
  const text = attrString(node, 'activation', '"none"');
  return JSON.parse(text) as Activation;
}

/** A (transposed) conv's weights (input 1) and bias (input 2), which must be initializers. */
export function constantWeights({ node, consts }: LoadContext): { w: HostTensor; b: HostTensor | undefined } {
  const w = consts.get(node.inputs[1] ?? '');
  const b = node.inputs[2] ? consts.get(node.inputs[2]) : undefined;
  if (!w || (node.inputs[2] && !b)) {
    throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: weights and bias computed at run time are not supported; they must be initializers`);
  }
  return { w, b };
}

/** Loads a Conv's (or FusedConv's) weights from the graph's constants and packs them. */
function loadConv(ctx: LoadContext): ConvKernel {
  const { node, engine } = ctx;
  const { w, b } = constantWeights(ctx);
  const kernel = new ConvKernel(engine, node, w, b, node.opType === 'FusedConv' ? fusedActivation(node) : 'none');
  kernel.packForLoad(Boolean(node.inputs[3]));
  return kernel;
}

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * The data input and the float output of a prepacked convolution (Conv or ConvTranspose): a constant data
 * input is refused (the kernels read their input from the arena), the output dims come from the plan.
 */
export function convInputAndOutput(ctx: OpContext, kernel: { outputDims(dims: readonly number[]): number[] }) {
  const { node } = ctx;
  const x = expectFloat(ctx, 0);
  if (ctx.consts[0]) throw unsupported(node, `a ${node.opType.replace(/^Fused/, '')} whose input ${show(node.inputs[0])} is a constant is not supported`);
  const outDims = kernel.outputDims(x.dims);
  const outputs = [{ type: 'float32' as const, dims: outDims }];
  checkOutputDims(node, outputs);
  return { x, outDims, outputs };
}

/**
 * A convolution, optionally with the residual input (3) and activation the optimizer fused into it: one
 * kernel call. A residual whose dims differ from the output's (it broadcasts) runs unfused after the conv.
 */
function prepareConv(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const kernel = ctx.state as ConvKernel;
  const { x, outDims, outputs } = convInputAndOutput(ctx, kernel);
  const r = node.inputs[3] ? ctx.inputs[3] : undefined;
  if (!r || (r.type === 'float32' && sameDims(r.dims, outDims) && !ctx.consts[3])) {
    return { outputs, run: ([a, , , res], [out]) => kernel.run(true, x.dims, a!.ptr, out!.ptr, res ? res.ptr : 0) };
  }
  if (r.type !== 'float32') throw opError(node, `residual ${show(node.inputs[3])} must be float, got ${r.type}`);
  // The Add the optimizer fused broadcasts: conv into a scratch map, then the add and the activation.
  const dims = broadcastDims([outDims, r.dims], nodeLabel(node));
  const convBytes = outDims.reduce((p, d) => p * d, 4);
  const label = nodeLabel(node);
  const activation = resolveActivation(kernel.activation, `${label} activation`);
  const [convStrides, resStrides] = [broadcastStrides(outDims, dims), broadcastStrides(r.dims, dims)];
  const size = dims.reduce((p, d) => p * d, 1);
  return {
    outputs: [{ type: 'float32', dims }],
    run([a, , , res], [out], env) {
      const e = env.engine;
      const scratch = e.alloc(convBytes, `${label}: conv output before the broadcast residual`);
      try {
        kernel.run(false, x.dims, a!.ptr, scratch, 0);
        env.kernels.elementwise.binary('add', scratch, res!.ptr, out!.ptr, dims, convStrides, resStrides, label);
        env.kernels.elementwise.unary(out!.ptr, out!.ptr, size, activation, label);
      } finally {
        e.free(scratch, convBytes);
      }
    },
  };
}

const conv: OpDefinition = { load: loadConv, prepare: prepareConv, consumes: [1, 2] };

export const convOps: Record<string, OpDefinition> = { Conv: conv, 'atrous.FusedConv': conv };
