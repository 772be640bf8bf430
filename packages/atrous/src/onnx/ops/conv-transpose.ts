import { AtrousError, show } from '../../errors.js';
import type { Activation } from '../../ops/activation.js';
import type { Engine } from '../../wasm/engine.js';
import { attrInt, attrInts, attrString } from '../attributes.js';
import type { HostTensor } from '../data-types.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import { ConvKernel } from './conv.js';
import { fusedActivation } from './conv.js';
import { checkOutputDims, expectFloat, opError, unsupported, type LoadContext, type NodeState, type OpContext, type OpDefinition, type PreparedOp } from './op.js';
import { wasmView } from '../value.js';

/**
 * ConvTranspose as a convolution the kernels already run: the input is spread out (a zero between
 * neighbours for stride s) and padded by `(k - 1) * d - pad` on each side (cropped where that is
 * negative, grown by output_padding at the end), then convolved with stride 1, the same dilation and the
 * weights transposed per group and flipped. Simple and exact; it spends s^2 times the multiply-adds of a
 * direct transposed kernel, on zeros.
 */
export class ConvTransposeKernel implements NodeState {
  readonly conv: ConvKernel;
  private readonly node: NodeIR;
  private readonly oneD: boolean;
  private readonly strides: [number, number];
  private readonly kernel: [number, number];
  private readonly dilations: [number, number];
  private readonly pads: [number, number, number, number];
  private readonly outputPadding: [number, number];
  private readonly outputShape: number[] | undefined;
  private readonly inChannels: number;

  constructor(engine: Engine, node: NodeIR, weights: HostTensor, bias: HostTensor | undefined, activation: Activation = 'none') {
    this.node = node;
    const rank = weights.dims.length;
    if (rank === 5) throw new AtrousError('UNSUPPORTED', `${nodeLabel(node)}: 3-D transposed convolution (weights ${show(weights.dims)}) is out of atrous' scope`);
    if (rank !== 3 && rank !== 4) throw opError(node, `weights must be [C, M/groups, kH, kW] or [C, M/groups, K], got dims ${show(weights.dims)}`);
    if (weights.type !== 'float32') throw opError(node, `weights must be float, got ${weights.type}`);
    this.oneD = rank === 3;
    const n = rank - 2;
    const pair = (v: number[]): [number, number] => (this.oneD ? [1, v[0]!] : [v[0]!, v[1]!]);
    const group = attrInt(node, 'group', 1);
    const [c, mPerGroup] = [weights.dims[0]!, weights.dims[1]!];
    if (group < 1 || c % group !== 0) throw opError(node, `group ${group} must divide the ${c} input channels of weights ${show(weights.dims)}`);
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw unsupported(node, `auto_pad ${show(autoPad)} is not supported (explicit pads or output_shape are)`);
    const list = (name: string, fallback: number) => {
      const v = attrInts(node, name, new Array<number>(n).fill(fallback));
      if (v.length !== n || v.some((x) => !Number.isInteger(x) || x < (name === 'output_padding' ? 0 : 1))) throw opError(node, `${name} ${show(v)} is not valid for ${n}-D weights`);
      return v;
    };
    this.strides = pair(list('strides', 1));
    this.dilations = pair(list('dilations', 1));
    this.outputPadding = pair(list('output_padding', 0));
    this.kernel = pair(weights.dims.slice(2));
    const pads = autoPad === 'VALID' ? new Array<number>(2 * n).fill(0) : attrInts(node, 'pads', new Array<number>(2 * n).fill(0));
    if (pads.length !== 2 * n || pads.some((p) => !Number.isInteger(p) || p < 0)) throw opError(node, `pads ${show(pads)} are not valid`);
    this.pads = this.oneD ? [0, pads[0]!, 0, pads[1]!] : (pads as [number, number, number, number]);
    this.outputShape = attrInts(node, 'output_shape');
    this.inChannels = c;

    // W [C, M/g, kH, kW] -> W' [M, C/g, kH, kW], flipped in space.
    const [kh, kw] = this.kernel;
    const cPerGroup = c / group;
    const m = mPerGroup * group;
    const flipped = new Float32Array(weights.data.length);
    for (let g = 0; g < group; g++) {
      for (let mo = 0; mo < mPerGroup; mo++) {
        for (let ci = 0; ci < cPerGroup; ci++) {
          const src = ((g * cPerGroup + ci) * mPerGroup + mo) * kh * kw;
          const dst = ((g * mPerGroup + mo) * cPerGroup + ci) * kh * kw;
          for (let i = 0; i < kh * kw; i++) flipped[dst + i] = weights.data[src + kh * kw - 1 - i]!;
        }
      }
    }
    const convNode: NodeIR = {
      name: node.name,
      opType: 'ConvTranspose',
      domain: '',
      inputs: node.inputs,
      outputs: node.outputs,
      attributes: new Map<string, number | number[]>([
        ['group', group],
        ['dilations', this.oneD ? [this.dilations[1]] : this.dilations],
      ]),
    };
    const w = { type: 'float32' as const, dims: [m, cPerGroup, ...weights.dims.slice(2)], data: flipped };
    this.conv = new ConvKernel(engine, convNode, w, bias, activation);
  }

  /** Dims of the spread and padded input the convolution reads, for input dims `[N, C, H, W]` (or `[N, C, L]`). */
  spreadDims(inputDims: readonly number[]): { dims: number[]; begin: [number, number] } {
    const rank = this.oneD ? 3 : 4;
    if (inputDims.length !== rank) throw new AtrousError('INVALID_SHAPE', `${nodeLabel(this.node)}: input must have rank ${rank}, got dims ${show(inputDims)}`);
    if (inputDims[1] !== this.inChannels) {
      throw new AtrousError('INVALID_SHAPE', `${nodeLabel(this.node)}: input has C = ${inputDims[1]} channels (dims ${show(inputDims)}) but the weights expect ${this.inChannels}`);
    }
    const spatial = this.oneD ? [1, inputDims[2]!] : [inputDims[2]!, inputDims[3]!];
    const begin: [number, number] = [0, 0];
    const size = spatial.map((s, a) => {
      const eff = (this.kernel[a]! - 1) * this.dilations[a]! + 1;
      const full = this.strides[a]! * (s - 1) + this.outputPadding[a]! + eff;
      let padBegin = this.pads[a]!, padEnd = this.pads[a + 2]!;
      // output_shape may list the spatial dims only or all of them.
      const shape = this.outputShape && this.outputShape.length === rank ? this.outputShape.slice(2) : this.outputShape;
      const want = shape?.[this.oneD ? 0 : a];
      if (want !== undefined) {
        // output_shape given: the pads follow from it, the odd one at the start (as onnxruntime does); an
        // output larger than the windows reach grows at the end.
        const total = full - want;
        padEnd = total >= 0 ? Math.floor(total / 2) : total;
        padBegin = total >= 0 ? total - padEnd : 0;
      }
      const out = full - padBegin - padEnd;
      if (out < 1) throw new AtrousError('INVALID_SHAPE', `${nodeLabel(this.node)}: output would be smaller than 1 pixel for input dims ${show(inputDims)}`);
      begin[a] = eff - 1 - padBegin;
      return out + eff - 1;
    }) as [number, number];
    const dims = this.oneD ? [inputDims[0]!, inputDims[1]!, size[1]] : [inputDims[0]!, inputDims[1]!, size[0], size[1]];
    return { dims, begin };
  }

  /** Spreads and pads the input (`[N, C, H, W]`) into `dst` of the dims `spreadDims` gives. */
  spread(inputDims: readonly number[], src: Float32Array, dst: Float32Array): void {
    const { dims, begin } = this.spreadDims(inputDims);
    const [sh, sw] = this.strides;
    const planes = inputDims[0]! * inputDims[1]!;
    const [H, W] = this.oneD ? [1, inputDims[2]!] : [inputDims[2]!, inputDims[3]!];
    const [PH, PW] = this.oneD ? [1, dims[2]!] : [dims[2]!, dims[3]!];
    dst.fill(0);
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < H; y++) {
        const py = begin[0] + y * sh;
        if (py < 0 || py >= PH) continue;
        const srow = (p * H + y) * W, drow = (p * PH + py) * PW;
        for (let xx = 0; xx < W; xx++) {
          const px = begin[1] + xx * sw;
          if (px >= 0 && px < PW) dst[drow + px] = src[srow + xx]!;
        }
      }
    }
  }

  get bytes(): number {
    return this.conv.bytes;
  }

  packForLoad(): void {
    this.conv.packForLoad(false);
  }

  dispose(): void {
    this.conv.dispose();
  }
}

function loadConvTranspose(ctx: LoadContext): ConvTransposeKernel {
  const { node, consts, engine } = ctx;
  const w = consts.get(node.inputs[1] ?? '');
  const b = node.inputs[2] ? consts.get(node.inputs[2]) : undefined;
  if (!w || (node.inputs[2] && !b)) {
    throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: weights and bias computed at run time are not supported; they must be initializers`);
  }
  const kernel = new ConvTransposeKernel(engine, node, w, b, node.opType === 'FusedConvTranspose' ? fusedActivation(node) : 'none');
  kernel.packForLoad();
  return kernel;
}

function prepareConvTranspose(ctx: OpContext): PreparedOp {
  const { node } = ctx;
  const kernel = ctx.state as ConvTransposeKernel;
  const x = expectFloat(ctx, 0);
  if (ctx.consts[0]) throw unsupported(node, `a ConvTranspose whose input ${show(node.inputs[0])} is a constant is not supported`);
  const spreadDims = kernel.spreadDims(x.dims).dims;
  const outDims = kernel.conv.outputDims(spreadDims);
  const outputs = [{ type: 'float32' as const, dims: outDims }];
  checkOutputDims(node, [...outputs, { type: 'float32', dims: spreadDims }]);
  const spreadBytes = spreadDims.reduce((a, d) => a * d, 4);
  return {
    outputs,
    run([a], [out], env) {
      const e = env.engine;
      const spread = e.alloc(spreadBytes, `${nodeLabel(node)}: spread input`);
      try {
        kernel.spread(x.dims, wasmView(e, 'float32', a!.ptr, a!.data.length) as Float32Array, wasmView(e, 'float32', spread, spreadBytes / 4) as Float32Array);
        kernel.conv.run(true, spreadDims, spread, out!.ptr, 0);
      } finally {
        e.free(spread, spreadBytes);
      }
    },
  };
}

const convTranspose: OpDefinition = { load: loadConvTranspose, prepare: prepareConvTranspose, consumes: [1, 2] };

export const convTransposeOps: Record<string, OpDefinition> = { ConvTranspose: convTranspose, 'atrous.FusedConvTranspose': convTranspose };
