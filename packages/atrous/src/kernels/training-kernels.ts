import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** What a cross-entropy pass sums besides the gradient. */
export interface CrossEntropySums {
  /** Mean loss over the counted pixels, weighted (0 when none counts). */
  loss: number;
  /** Sum of the counted pixels' class weights (their count without weights). */
  weightSum: number;
  /** Counted pixels whose largest logit is at their label. */
  correct: number;
  /** Pixels whose label is not the ignore index. */
  counted: number;
}

/** Where an inference BatchNorm's gradients go: arena addresses, 0 to skip one. */
export interface BatchNormGradientPointers {
  gradInput: number;
  gradGamma: number;
  gradBeta: number;
}

/** Kernels only training uses: the loss with its gradient, and the backward of pooling and BatchNorm. */
export class TrainingKernels {
  constructor(private readonly engine: Engine) {}

  /**
   * Softmax cross-entropy of `logits` `[batch, classes, spatial]` against i32 `labels` `[batch, spatial]`
   * (PyTorch's `F.cross_entropy`, mean over the pixels not `ignoreIndex`, weighted by `weights` `[classes]`
   * when non-zero); writes the loss's gradient at `grad` (0 to skip). A label out of range fails.
   */
  softmaxCrossEntropy(logits: number, labels: number, weights: number, grad: number, batch: number, classes: number, spatial: number, ignoreIndex: number, op: string): CrossEntropySums {
    const e = this.engine;
    const sums = e.alloc(32, `${op}: loss sums`);
    try {
      const status = e.exports.atrous_softmax_cross_entropy(logits, labels, weights, grad, batch, classes, spatial, ignoreIndex, sums);
      check(status, op, () => `logits [${batch}, ${classes}, ${spatial}], ignore index ${ignoreIndex}`);
      const [loss, weightSum, correct, counted] = new Float64Array(e.exports.memory.buffer, sums, 4);
      return { loss: loss!, weightSum: weightSum!, correct: correct!, counted: counted! };
    } finally {
      e.free(sums, 32);
    }
  }

  /** Gradient of `maps.maxPool2d(src, ..., desc)`: the argmax of each window is recomputed from `src`. */
  maxPool2d(src: number, gradOutput: number, gradInput: number, desc: Uint32Array, op: string): void {
    const e = this.engine;
    check(e.exports.atrous_max_pool2d_backward(src, gradOutput, gradInput, e.scratchU32(desc)), op, () => `max pool gradient, descriptor ${Array.from(desc).join(', ')}`);
  }

  /** Gradient of `maps.avgPool2d` under the same descriptor, end pads and divisor rule. */
  avgPool2d(gradOutput: number, gradInput: number, desc: Uint32Array, padEnd: [number, number], countIncludePad: boolean, op: string): void {
    const e = this.engine;
    const status = e.exports.atrous_avg_pool2d_backward(gradOutput, gradInput, e.scratchU32(desc), padEnd[0], padEnd[1], countIncludePad ? 1 : 0);
    check(status, op, () => `average pool gradient, descriptor ${Array.from(desc).join(', ')}`);
  }

  /** Gradient of `maps.meanPlanes`: every element of plane p gets `gradOutput[p] / len`. */
  meanPlanes(gradOutput: number, gradInput: number, planes: number, len: number, op: string): void {
    check(this.engine.exports.atrous_mean_planes_backward(gradOutput, gradInput, planes, len), op, () => `${planes} planes of ${len}`);
  }

  /**
   * Gradients of an inference BatchNormalization over `[batch, channels, spatial]`, from its folded
   * per-channel `scale` (gamma / sqrt(var + eps)), `invStd` and `mean` (addresses of `channels` floats);
   * `x` is read only for the gamma gradient.
   */
  batchNorm(x: number, gradOutput: number, out: BatchNormGradientPointers, batch: number, channels: number, spatial: number, scale: number, invStd: number, mean: number, op: string): void {
    const status = this.engine.exports.atrous_batch_norm_backward(x, gradOutput, out.gradInput, out.gradGamma, out.gradBeta, batch, channels, spatial, scale, invStd, mean);
    check(status, op, () => `BatchNorm gradient over [${batch}, ${channels}, ${spatial}]`);
  }
}
