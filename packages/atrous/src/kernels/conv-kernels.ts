import type { Engine } from '../wasm/engine.js';
import { makeHandle, withUploads } from './handles.js';
import { check } from './status.js';

/** A packed convolution in wasm memory (an opaque handle). */
export type ConvPlanHandle = number;

/** Convolution plans: weights packed once, run many times on arena pointers. */
export class ConvKernels {
  constructor(private readonly engine: Engine) {}

  /** Packs `weights` (and `bias`) under the `conv_desc` descriptor `desc`. */
  createPlan(desc: Uint32Array, weights: Float32Array, bias: Float32Array | undefined, op: string, context: () => string): ConvPlanHandle {
    const e = this.engine;
    return withUploads(e, [weights, bias], () => `${op}: ${context()}`, ([w, b]) =>
      makeHandle(e, op, context, (out) => e.exports.atrous_conv_plan_create(e.scratchU32(desc), w!, b!, out)),
    );
  }

  freePlan(plan: ConvPlanHandle): void {
    if (plan !== 0) this.engine.exports.atrous_conv_plan_free(plan);
  }

  /** Bytes the plan's packed weights and bias occupy. */
  planBytes(plan: ConvPlanHandle): number {
    return this.engine.exports.atrous_conv_plan_bytes(plan);
  }

  /** The `ConvMethodCode` a run on `[batch, C, height, width]` would use. */
  planMethod(plan: ConvPlanHandle, batch: number, height: number, width: number, op: string, context: () => string): number {
    const e = this.engine;
    return makeHandle(e, op, context, (out) => e.exports.atrous_conv_plan_method(plan, batch, height, width, out));
  }

  /** `output = act(conv(input) + bias + residual)`; `residual` 0 for none. */
  run(plan: ConvPlanHandle, input: number, batch: number, height: number, width: number, output: number, residual: number, op: string, context: () => string): void {
    check(this.engine.exports.atrous_conv_plan_run(plan, input, batch, height, width, output, residual, this.engine.teamPtr), op, context);
  }
}
