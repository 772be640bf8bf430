import { AtrousError, show } from '../errors.js';
import type { ActivationParams } from '../ops/activation.js';
import { ConvTransposeDesc } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { makeHandle, withUploads } from './handles.js';
import { check } from './status.js';

/** A transposed convolution as the kernels take it: begin pads only (end pads, output_padding and output_shape become the output size `run` is given). 1-D is H = 1. */
export interface ConvTransposeSpec {
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  padsBegin: [number, number];
  groups: number;
  activation: ActivationParams;
}

/** A prepared transposed convolution in wasm memory (an opaque handle). */
export type ConvTransposePlanHandle = number;

/**
 * ConvTranspose computed directly (one stride-1 convolution per output phase, no zeros spread into the
 * input): weights split and packed once per plan, run many times on arena pointers.
 */
export class ConvTransposeKernels {
  private readonly desc = new Uint32Array(ConvTransposeDesc.LEN);
  private readonly bits = new DataView(new ArrayBuffer(4));

  constructor(private readonly engine: Engine) {}

  /** Packs `weights` (`[C, M / groups, kH, kW]`, the ONNX layout) and `bias` (`[M]`). */
  createPlan(spec: ConvTransposeSpec, weights: Float32Array, bias: Float32Array | undefined, op: string): ConvTransposePlanHandle {
    const s = spec;
    const context = () =>
      `C ${s.inChannels}, M ${s.outChannels}, kernel ${show(s.kernel)}, strides ${show(s.strides)}, dilations ${show(s.dilations)}, pads ${show(s.padsBegin)}, groups ${s.groups}`;
    const fields = [s.inChannels, s.outChannels, ...s.kernel, ...s.strides, ...s.dilations, ...s.padsBegin, s.groups];
    if (fields.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) throw new AtrousError('INVALID_ARGUMENT', `${op}: transposed convolution fields must be non-negative integers (${context()})`);
    if (s.groups > 0 && s.outChannels % s.groups === 0) {
      const want = s.inChannels * (s.outChannels / s.groups) * s.kernel[0] * s.kernel[1];
      if (weights.length !== want) throw new AtrousError('INVALID_TENSOR', `${op}: weights hold ${weights.length} floats, [C, M/groups, kH, kW] needs ${want} (${context()})`);
    }
    if (bias && bias.length !== s.outChannels) throw new AtrousError('INVALID_TENSOR', `${op}: bias holds ${bias.length} floats, want M = ${s.outChannels}`);
    const d = this.desc;
    const D = ConvTransposeDesc;
    d[D.IN_CHANNELS] = s.inChannels;
    d[D.OUT_CHANNELS] = s.outChannels;
    [d[D.KERNEL_H], d[D.KERNEL_W]] = s.kernel;
    [d[D.STRIDE_H], d[D.STRIDE_W]] = s.strides;
    [d[D.DILATION_H], d[D.DILATION_W]] = s.dilations;
    [d[D.PAD_TOP], d[D.PAD_LEFT]] = s.padsBegin;
    d[D.GROUPS] = s.groups;
    d[D.ACTIVATION] = s.activation.code;
    d[D.ACTIVATION_P0] = this.f32Bits(s.activation.p0);
    d[D.ACTIVATION_P1] = this.f32Bits(s.activation.p1);
    const e = this.engine;
    return withUploads(e, [weights, bias], () => `${op}: weights of ${context()}`, ([w, b]) =>
      makeHandle(e, op, context, (out) => e.exports.atrous_conv_transpose_plan_create(e.scratchU32(d), w!, b!, out)),
    );
  }

  /** Bytes the plan's packed phase weights and bias occupy. */
  planBytes(plan: ConvTransposePlanHandle): number {
    return this.engine.exports.atrous_conv_transpose_plan_bytes(plan);
  }

  freePlan(plan: ConvTransposePlanHandle): void {
    if (plan !== 0) this.engine.exports.atrous_conv_transpose_plan_free(plan);
  }

  /** `output` `[batch, M, outHeight, outWidth]` (every pixel written) from `input` `[batch, C, height, width]`. */
  run(plan: ConvTransposePlanHandle, input: number, batch: number, height: number, width: number, output: number, outHeight: number, outWidth: number, op: string): void {
    check(this.engine.exports.atrous_conv_transpose_plan_run(plan, input, batch, height, width, output, outHeight, outWidth, this.engine.teamPtr), op, () => `input [${batch}, C, ${height}, ${width}] -> output [${batch}, M, ${outHeight}, ${outWidth}]`);
  }

  private f32Bits(x: number): number {
    this.bits.setFloat32(0, x, true);
    return this.bits.getUint32(0, true);
  }
}
