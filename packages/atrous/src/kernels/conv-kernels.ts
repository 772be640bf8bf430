import type { Engine } from '../wasm/engine.js';
import { check } from './status.js';

/** A packed convolution in wasm memory (an opaque handle). */
export type ConvPlanHandle = number;

/** Convolution plans: weights packed once, run many times on arena pointers. */
export class ConvKernels {
  constructor(private readonly engine: Engine) {}

  /** Packs `weights` (and `bias`) under the `conv_desc` descriptor `desc`. */
  createPlan(desc: Uint32Array, weights: Float32Array, bias: Float32Array | undefined, op: string, context: () => string): ConvPlanHandle {
    const e = this.engine;
    const descPtr = e.scratchU32(desc);
    let weightPtr = 0;
    let biasPtr = 0;
    try {
      weightPtr = e.upload(weights, `${op}: ${context()}`);
      if (bias) biasPtr = e.upload(bias, `${op}: bias of ${context()}`);
      const out = e.alloc(4, `${op}: plan handle`);
      try {
        check(e.exports.atrous_conv_plan_create(descPtr, weightPtr, biasPtr, out), op, context);
        return e.u32(out, 1)[0]!;
      } finally {
        e.free(out, 4);
      }
    } finally {
      e.free(weightPtr, weights.byteLength);
      if (bias) e.free(biasPtr, bias.byteLength);
    }
  }

  freePlan(plan: ConvPlanHandle): void {
    if (plan !== 0) this.engine.exports.atrous_conv_plan_free(plan);
  }

  /** Bytes the plan's packed weights and bias occupy. */
  planBytes(plan: ConvPlanHandle): number {
    return this.engine.exports.atrous_conv_plan_bytes(plan);
  }

  /** `output = act(conv(input) + bias + residual)`; `residual` 0 for none. */
  run(plan: ConvPlanHandle, input: number, batch: number, height: number, width: number, output: number, residual: number, op: string, context: () => string): void {
    check(this.engine.exports.atrous_conv_plan_run(plan, input, batch, height, width, output, residual), op, context);
  }
}
