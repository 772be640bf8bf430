import type { ActivationParams } from '../ops/activation.js';
import { ActivationSaved } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** Where a conv's gradients go: arena addresses, 0 to skip one. */
export interface ConvGradientPointers {
  gradInput: number;
  gradWeights: number;
  gradBias: number;
}

/** Gradients for training: of a convolution, of a fused activation, of the bilinear resize. */
export class BackwardKernels {
  constructor(private readonly engine: Engine) {}

  /**
   * Gradients of the convolution `desc` (a `conv_desc` with activation none) at `input`
   * `[batch, C, height, width]` and `weights`, given `gradOutput` `[batch, M, OH, OW]`.
   */
  conv(
    desc: Uint32Array,
    batch: number,
    height: number,
    width: number,
    input: number,
    weights: number,
    gradOutput: number,
    out: ConvGradientPointers,
    op: string,
    context: () => string,
  ): void {
    const e = this.engine;
    const status = e.exports.atrous_conv_backward(e.scratchU32(desc), batch, height, width, input, weights, gradOutput, out.gradInput, out.gradWeights, out.gradBias);
    check(status, op, context);
  }

  /**
   * `gradInput = gradOutput * f'` over `n` floats, from the activation's input or its output (`saved`, of
   * kind `from`); `gradInput` may be either input buffer.
   */
  activation(saved: number, from: 'input' | 'output', gradOutput: number, gradInput: number, n: number, a: ActivationParams, op: string): void {
    const status = this.engine.exports.atrous_activation_backward(saved, gradOutput, gradInput, n, a.code, a.p0, a.p1, from === 'input' ? ActivationSaved.preActivation : ActivationSaved.output);
    check(status, op, () => `activation code ${a.code} from its ${from}, ${n} elements`);
  }

  /** Gradient of `maps.resizeBilinear` with the same `tables`: `gradOutput` `planes x [oh, ow]` -> `gradInput` `planes x [h, w]`. */
  resizeBilinear(gradOutput: number, gradInput: number, planes: number, h: number, w: number, oh: number, ow: number, tables: Uint32Array, op: string): void {
    const e = this.engine;
    const t = e.alloc(tables.byteLength, `${op}: resize tables`);
    try {
      e.u32(t, tables.length).set(tables);
      check(e.exports.atrous_resize_bilinear_backward(gradOutput, gradInput, planes, h, w, oh, ow, t), op, () => `gradient [${planes}, ${oh}, ${ow}] -> [${h}, ${w}]`);
    } finally {
      e.free(t, tables.byteLength);
    }
  }
}
