import { beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../test-support/run-env.js';
import type { RunEnv } from './value.js';
import { ModelBuilder } from '../../test-support/onnx-builder.js';
import { foldConstants } from './constant-folding.js';
import { planMemory, storageOf } from './memory-planner.js';
import { parseModel } from './model-parser.js';
import { specialize } from './shape-inference.js';

/** A chain of 12 Relu/Add/Reshape steps with a skip connection: most values die right after their reader. */
function chainModel(): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('x', [1, 4, 16, 16]);
  let v = 'x';
  for (let i = 0; i < 10; i++) v = m.node(i % 2 ? 'Relu' : 'Sigmoid', [v]);
  const skip = m.node('Add', [v, 'x']);
  m.init('flat', [2], [1, -1], 7);
  m.node('Reshape', [skip, 'flat'], ['y']);
  m.output('y');
  return m.bytes();
}

let env: RunEnv;
beforeAll(async () => {
  env = await testEnv();
});

describe('planMemory', () => {
  it('shares bytes between values whose lifetimes do not overlap, and never between those that do', () => {
    const graph = parseModel(chainModel());
    foldConstants(graph, env);
    const program = specialize(graph, new Map(), new Map([['x', [1, 4, 16, 16]]]), env);
    const plan = planMemory(program, ['x'], ['y']);
    const bytes = 4 * 16 * 16 * 4;
    // x lives throughout (the skip); the chain ping-pongs between two more buffers.
    expect(plan.arenaBytes).toBe(3 * bytes);
    expect(plan.unsharedBytes).toBe(12 * bytes);
    // The reshaped output is a view: same offset as the Add's result.
    expect(program.viewOf.get('y')).toBe(program.steps[program.steps.length - 1]!.outputs[0]);
    expect(plan.offsets.get('y')).toBe(plan.offsets.get(storageOf(program, 'y')));
    // Invariant: values alive at the same step occupy disjoint byte ranges.
    const life = new Map<string, [number, number]>([['x', [-1, program.steps.length]]]);
    program.steps.forEach((s, i) => s.outputs.forEach((o) => life.set(o, [i, i])));
    program.steps.forEach((s, i) => s.inputs.forEach((n) => { const l = life.get(storageOf(program, n)); if (l) l[1] = Math.max(l[1], i); }));
    life.get(storageOf(program, 'y'))![1] = program.steps.length;
    const names = [...life.keys()];
    for (const a of names) for (const b of names) {
      if (a >= b) continue;
      const [la, lb] = [life.get(a)!, life.get(b)!];
      if (la[0] > lb[1] || lb[0] > la[1]) continue;
      const [oa, ob] = [plan.offsets.get(a)!, plan.offsets.get(b)!];
      expect(oa + bytes <= ob || ob + bytes <= oa, `${a} and ${b} overlap`).toBe(true);
    }
  });

  it('places the inputs of a channel concatenation inside its output and skips the copy', () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 2, 4, 4]);
    const a = m.node('Relu', ['x']);
    const b = m.node('Sigmoid', ['x']);
    m.node('Concat', [a, b], ['y'], { axis: 1 });
    m.node('Concat', ['x', a], ['z'], { axis: 1 }); // a graph input: this one copies
    m.output('y');
    m.output('z');
    const graph = parseModel(m.bytes());
    const program = specialize(graph, new Map(), new Map([['x', [1, 2, 4, 4]]]), env);
    const plan = planMemory(program, ['x'], ['y', 'z']);
    const [concatY, concatZ] = program.steps.filter((s) => s.node.opType === 'Concat');
    expect(plan.inPlace.has(concatY!)).toBe(true);
    expect(plan.inPlace.has(concatZ!)).toBe(false);
    expect(plan.offsets.get(a)).toBe(plan.offsets.get('y'));
    expect(plan.offsets.get(b)).toBe(plan.offsets.get('y')! + 2 * 16 * 4);
  });
});
