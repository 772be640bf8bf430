import { AtrousError, show } from '../../errors.js';
import { resolveActivation, type Activation } from '../../ops/activation.js';
import type { ConvTransposePlanHandle, ConvTransposeSpec } from '../../kernels/conv-transpose-kernels.js';
import type { Engine } from '../../wasm/engine.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import { sizeOf, type HostTensor } from '../data-types.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import { constantWeights, convInputAndOutput, fusedActivation } from './conv.js';
import { checkOutputDims, expectFloat, opError, unsupported, type LoadContext, type NodeState, type OpContext, type OpDefinition, type PreparedOp } from './op.js';

type AutoPad = 'NOTSET' | 'VALID' | 'SAME_UPPER' | 'SAME_LOWER';

/**
 * A ConvTranspose (or the optimizer's FusedConvTranspose) on the direct kernel: one stride-1 convolution
 * per output phase, weights split and packed once at load. The kernel takes begin pads only; end pads,
 * output_padding, output_shape and auto_pad are resolved here, per input size, into the begin pads of
 * the plan and the output size of the run. The begin pads depend on the input size only under auto_pad
 * SAME_* or output_shape, so the plan is packed for the first input size seen and again (once) for
 * another one that needs other begin pads.
 */
export class ConvTransposeKernel implements NodeState {
  private readonly node: NodeIR;
  private readonly engine: Engine;
  private readonly oneD: boolean;
  private readonly strides: [number, number];
  private readonly kernel: [number, number];
  private readonly dilations: [number, number];
  private readonly pads: [number, number, number, number];
  private readonly outputPadding: [number, number];
  private readonly outputShape: number[] | undefined;
  private readonly autoPad: AutoPad;
  private readonly groups: number;
  private readonly inChannels: number;
  private readonly outChannels: number;
  private readonly activation: Activation;
  // Dropped once the plan for the attributes' own pads is packed, unless other begin pads can be asked for.
  private weights: Float32Array | undefined;
  private bias: Float32Array | undefined;
  private readonly plans = new Map<string, ConvTransposePlanHandle>();

  constructor(engine: Engine, node: NodeIR, weights: HostTensor, bias: HostTensor | undefined, activation: Activation = 'none') {
    this.node = node;
    this.engine = engine;
    const rank = weights.dims.length;
    if (rank === 5) throw new AtrousError('UNSUPPORTED', `${nodeLabel(node)}: 3-D transposed convolution (weights ${show(weights.dims)}) is out of atrous' scope`);
    if (rank !== 3 && rank !== 4) throw opError(node, `weights must be [C, M/groups, kH, kW] or [C, M/groups, K], got dims ${show(weights.dims)}`);
    if (weights.type !== 'float32') throw opError(node, `weights must be float, got ${weights.type}`);
    if (bias && bias.type !== 'float32') throw opError(node, `bias must be float, got ${bias.type}`);
    this.oneD = rank === 3;
    const n = rank - 2;
    // 1-D runs as height 1: kernel, stride and dilation 1 on the height, no output padding there.
    const pair = (v: number[], height = 1): [number, number] => (this.oneD ? [height, v[0]!] : [v[0]!, v[1]!]);
    const group = attrInt(node, 'group', 1);
    const [c, mPerGroup] = [weights.dims[0]!, weights.dims[1]!];
    if (!Number.isInteger(group) || group < 1 || c % group !== 0) throw opError(node, `group ${group} must divide the ${c} input channels of weights ${show(weights.dims)}`);
    const kernelShape = attrInts(node, 'kernel_shape');
    if (kernelShape && (kernelShape.length !== n || kernelShape.some((k, i) => k !== weights.dims[2 + i]))) {
      throw opError(node, `kernel_shape ${show(kernelShape)} does not match weights ${show(weights.dims)}`);
    }
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID' && autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw opError(node, `auto_pad ${show(autoPad)} is not valid`);
    this.autoPad = autoPad;
    const list = (name: string, fallback: number) => {
      const v = attrInts(node, name, new Array<number>(n).fill(fallback));
      if (v.length !== n || v.some((x) => !Number.isInteger(x) || x < (name === 'output_padding' ? 0 : 1))) throw opError(node, `${name} ${show(v)} is not valid for ${n}-D weights`);
      return v;
    };
    this.strides = pair(list('strides', 1));
    this.dilations = pair(list('dilations', 1));
    this.outputPadding = pair(list('output_padding', 0), 0);
    this.kernel = pair(weights.dims.slice(2));
    const pads = autoPad === 'NOTSET' ? attrInts(node, 'pads', new Array<number>(2 * n).fill(0)) : new Array<number>(2 * n).fill(0);
    if (pads.length !== 2 * n || pads.some((p) => !Number.isInteger(p) || p < 0)) throw opError(node, `pads ${show(pads)} are not valid`);
    this.pads = this.oneD ? [0, pads[0]!, 0, pads[1]!] : (pads as [number, number, number, number]);
    const outputShape = attrInts(node, 'output_shape');
    if (outputShape && outputShape.length !== n && outputShape.length !== n + 2) throw opError(node, `output_shape ${show(outputShape)} fits neither the ${n} spatial dims nor all ${n + 2}`);
    // output_shape may list the spatial dims only or all of them.
    this.outputShape = outputShape && outputShape.length === n + 2 ? outputShape.slice(2) : outputShape;
    this.groups = group;
    this.inChannels = c;
    this.outChannels = mPerGroup * group;
    if (bias && bias.data.length !== this.outChannels) throw opError(node, `bias holds ${bias.data.length} values, the weights ${show(weights.dims)} make ${this.outChannels} output channels`);
    this.activation = activation;
    this.weights = weights.data as Float32Array;
    this.bias = bias ? (bias.data as Float32Array) : undefined;
  }

  /** Begin pads and output size, `[H, W]` each (H 1 for 1-D), for input dims `[N, C, H, W]` (or `[N, C, L]`). */
  geometry(inputDims: readonly number[]): { padsBegin: [number, number]; out: [number, number] } {
    const label = nodeLabel(this.node);
    const rank = this.oneD ? 3 : 4;
    if (inputDims.length !== rank) throw new AtrousError('INVALID_SHAPE', `${label}: input must have rank ${rank}, got dims ${show(inputDims)}`);
    if (inputDims[1] !== this.inChannels) {
      throw new AtrousError('INVALID_SHAPE', `${label}: input has C = ${inputDims[1]} channels (dims ${show(inputDims)}) but the weights expect ${this.inChannels}`);
    }
    const spatial = this.oneD ? [1, inputDims[2]!] : [inputDims[2]!, inputDims[3]!];
    const padsBegin: [number, number] = [0, 0];
    const out: [number, number] = [1, 1];
    for (let a = 0; a < 2; a++) {
      const s = spatial[a]!;
      const eff = (this.kernel[a]! - 1) * this.dilations[a]! + 1;
      const full = this.strides[a]! * (s - 1) + this.outputPadding[a]! + eff;
      let padBegin = this.pads[a]!, padEnd = this.pads[a + 2]!;
      // The 1-D height axis is always 1 with no pads.
      const want = this.oneD && a === 0 ? undefined : this.outputShape?.[this.oneD ? 0 : a] ?? (this.autoPad.startsWith('SAME') ? s * this.strides[a]! : undefined);
      if (want !== undefined) {
        // The pads follow from the output size (ONNX: SAME_UPPER puts the odd one at the end, otherwise at
        // the start); an output larger than the windows reach grows at the end (zeros plus bias).
        const total = full - want;
        if (total >= 0) {
          const half = Math.floor(total / 2);
          [padBegin, padEnd] = this.autoPad === 'SAME_UPPER' ? [half, total - half] : [total - half, half];
        } else {
          [padBegin, padEnd] = [0, total];
        }
      }
      const size = full - padBegin - padEnd;
      if (size < 1) throw new AtrousError('INVALID_SHAPE', `${label}: output would be smaller than 1 pixel for input dims ${show(inputDims)}`);
      padsBegin[a] = padBegin;
      out[a] = size;
    }
    return { padsBegin, out };
  }

  outputDims(inputDims: readonly number[]): number[] {
    const { out } = this.geometry(inputDims);
    return this.oneD ? [inputDims[0]!, this.outChannels, out[1]] : [inputDims[0]!, this.outChannels, out[0], out[1]];
  }

  /** Whether the begin pads depend on the input size (auto_pad SAME_* or output_shape). */
  private get padsFollowInput(): boolean {
    return this.outputShape !== undefined || this.autoPad === 'SAME_UPPER' || this.autoPad === 'SAME_LOWER';
  }

  /** The packed plan for these begin pads; packs it on first use. */
  plan(padsBegin: [number, number]): ConvTransposePlanHandle {
    const key = padsBegin.join(',');
    const known = this.plans.get(key);
    if (known !== undefined) return known;
    const label = nodeLabel(this.node);
    if (!this.weights) throw new AtrousError('INTERNAL', `${label}: the weights were released before the plan for begin pads ${show(padsBegin)} was packed`);
    const spec: ConvTransposeSpec = {
      inChannels: this.inChannels,
      outChannels: this.outChannels,
      kernel: this.kernel,
      strides: this.strides,
      dilations: this.dilations,
      padsBegin,
      groups: this.groups,
      activation: resolveActivation(this.activation, `${label}: activation`),
    };
    const plan = this.engine.kernels.convTranspose.createPlan(spec, this.weights, this.bias, label);
    this.plans.set(key, plan);
    return plan;
  }

  /** Packs the plan of the attributes' pads; keeps the weights only if other begin pads can be asked for. */
  packForLoad(): void {
    if (this.padsFollowInput) return; // packed per input size, on first use
    this.plan([this.pads[0], this.pads[1]]);
    this.weights = undefined;
    this.bias = undefined;
  }

  run(inputDims: readonly number[], input: number, output: number): void {
    const { padsBegin, out } = this.geometry(inputDims);
    // The kernel writes [N, M, out[0], out[1]] floats: for 1-D the height must be the 1 the output has.
    if (this.oneD && out[0] !== 1) throw new AtrousError('INTERNAL', `${nodeLabel(this.node)}: 1-D output height ${out[0]}`);
    const [n, h, w] = this.oneD ? [inputDims[0]!, 1, inputDims[2]!] : [inputDims[0]!, inputDims[2]!, inputDims[3]!];
    if (n === 0 || h === 0 || w === 0) {
      // No input pixels: every output pixel is the bias alone (nothing to do for an empty batch).
      if (n !== 0) throw unsupported(this.node, `an empty spatial input (dims ${show(inputDims)}) is not supported`);
      return;
    }
    this.engine.kernels.convTranspose.run(this.plan(padsBegin), input, n, h, w, output, out[0], out[1], nodeLabel(this.node));
  }

  get bytes(): number {
    let total = 0;
    for (const p of this.plans.values()) total += this.engine.kernels.convTranspose.planBytes(p);
    return total;
  }

  dispose(): void {
    for (const p of this.plans.values()) this.engine.kernels.convTranspose.freePlan(p);
    this.plans.clear();
  }
}

function loadConvTranspose(ctx: LoadContext): ConvTransposeKernel {
  const { node, engine } = ctx;
  const { w, b } = constantWeights(ctx);
  const kernel = new ConvTransposeKernel(engine, node, w, b, node.opType === 'FusedConvTranspose' ? fusedActivation(node) : 'none');
  kernel.packForLoad();
  return kernel;
}

function prepareConvTranspose(ctx: OpContext): PreparedOp {
  const kernel = ctx.state as ConvTransposeKernel;
  const { x, outDims, outputs } = convInputAndOutput(ctx, kernel);
  return {
    outputs,
    run([a], [out]) {
      if (sizeOf(outDims) === 0) return;
      kernel.run(x.dims, a!.ptr, out!.ptr);
    },
  };
}

const convTranspose: OpDefinition = { load: loadConvTranspose, prepare: prepareConvTranspose, consumes: [1, 2] };

export const convTransposeOps: Record<string, OpDefinition> = { ConvTranspose: convTranspose, 'atrous.FusedConvTranspose': convTranspose };
