import { beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../test-support/run-env.js';
import type { RunEnv } from './value.js';
import { AtrousError } from '../errors.js';
import { ModelBuilder, randomFloats } from '../../test-support/onnx-builder.js';
import { foldConstants } from './constant-folding.js';
import { parseModel } from './model-parser.js';
import { specialize } from './shape-inference.js';

describe('specialize', () => {
  let env: RunEnv;
  beforeAll(async () => {
    env = await testEnv();
  });

  it('folds a Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain for known dims', () => {
    const m = new ModelBuilder(13);
    m.input('x', ['n', 3, 'h', 'w']);
    const shape = m.node('Shape', ['x']);
    m.init('zero', [], [0], 7);
    m.init('axis0', [1], [0], 7);
    const n = m.node('Unsqueeze', [m.node('Gather', [shape, 'zero'], 1, { axis: 0 }), 'axis0']);
    m.init('minus', [1], [-1], 7);
    const target = m.node('Concat', [n, 'minus'], 1, { axis: 0 });
    m.node('Reshape', ['x', target], ['y']);
    m.init('w', [3], randomFloats(3));
    m.output('y');
    const graph = parseModel(m.bytes());
    foldConstants(graph, env);
    const program = specialize(graph, new Map(), new Map([['x', [2, 3, 5, 7]]]), env);
    expect(program.steps).toEqual([]); // all folded; the Reshape is a view of x
    expect(program.metas.get('y')!.dims).toEqual([2, 105]);
  });

  it('keeps data-dependent steps, folds what depends on dims only, and checks computed dims', () => {
    const m = new ModelBuilder(13);
    m.input('x', ['n', 4]);
    const n = m.node('Shape', ['x']);
    m.node('ConstantOfShape', [n], ['z'], { value: { dims: [1], values: [2] } });
    m.node('Relu', ['x'], ['y']);
    m.output('y');
    m.output('z');
    const graph = parseModel(m.bytes());
    foldConstants(graph, env);
    const program = specialize(graph, new Map(), new Map([['x', [3, 4]]]), env);
    expect(program.steps.map((s) => s.node.opType)).toEqual(['Relu']);
    expect(Array.from(program.consts.get('z')!.data)).toEqual(new Array(12).fill(2));
    // Dims a model computes from (corrupted) constants are refused before anything is allocated.
    const big = new ModelBuilder(13);
    big.input('x', [1]);
    big.init('shape', [3], [1 << 20, 1 << 20, 4], 7);
    big.node('ConstantOfShape', ['shape'], ['z']);
    big.node('Add', ['x', 'z'], ['y']);
    big.output('y');
    const g2 = parseModel(big.bytes());
    let error: unknown;
    try {
      foldConstants(g2, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AtrousError);
    expect((error as AtrousError).code).toBe('OUT_OF_MEMORY');
  });
});
