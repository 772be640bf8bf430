import { AtrousError } from '../errors.js';
import { nodeLabel } from './graph.js';
import type { Program } from './shape-inference.js';
import type { RunEnv, Value } from './value.js';

/** The empty output slot an optional output (`''`) gets. */
const NONE: Value = { type: 'float32', dims: [], data: new Float32Array(0), ptr: 0 };

/**
 * Runs one step of a program on its values (`valueOf` maps a value name to its buffer): the one place a
 * session and the trainer's forward pass call an op, so a non-AtrousError from an op becomes the same
 * INTERNAL error naming the node in both.
 */
export function runStep(step: Program['steps'][number], valueOf: (name: string) => Value, env: RunEnv): void {
  const inputs = step.inputs.map((n) => (n === '' ? undefined : valueOf(n)));
  const outputs = step.outputs.map((n) => (n === '' ? NONE : valueOf(n)));
  try {
    step.run(inputs, outputs, env);
  } catch (err) {
    if (err instanceof AtrousError) throw err;
    throw new AtrousError('INTERNAL', `${nodeLabel(step.node)}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}
