import type { ActivationParams } from '../ops/activation.js';
import { ActivationSaved } from '../wasm/abi.js';
import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';
import { withResizeCoords } from './feature-map-kernels.js';

/** Where a conv's gradients go: arena addresses, 0 to skip one. */
export interface ConvGradientPointers {
  gradInput: number;
  gradWeights: number;
  gradBias: number;
}

/** Gradients for training: of a convolution, of a fused activation, of the resize. */
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

  /**
   * Gradient of `maps.resize` under the same `resize_desc` descriptor and coordinates: `gradOutput`
   * `planes x [OUT_H, OUT_W]` -> `gradInput` `planes x [IN_H, IN_W]`.
   */
  resize(gradOutput: number, gradInput: number, desc: Uint32Array, coords: Float64Array, op: string): void {
    const e = this.engine;
    withResizeCoords(e, desc, coords, op, (c) => {
      check(e.exports.atrous_resize_backward(gradOutput, gradInput, e.scratchU32(desc), c), op, () => `resize gradient, descriptor ${Array.from(desc).join(', ')}`);
    });
  }
}
