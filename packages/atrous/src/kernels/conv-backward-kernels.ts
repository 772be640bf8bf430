import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** Where the gradients go: arena addresses, 0 to skip one. */
export interface ConvGradientPointers {
  gradInput: number;
  gradWeights: number;
  gradBias: number;
}

/** The backward of a convolution: its gradients with respect to input, weights and bias, in one call. */
export class ConvBackwardKernels {
  constructor(private readonly engine: Engine) {}

  /**
   * Gradients of the convolution `desc` (a `conv_desc` with activation none) at `input`
   * `[batch, C, height, width]` and `weights`, given `gradOutput` `[batch, M, OH, OW]`.
   */
  gradients(
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
}
