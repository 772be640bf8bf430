// The op paths the ONNX conformance suite needed (issue 9): Resize cubic / tf_crop_and_resize, MaxPool's
// Indices, BatchNormalization training mode, Cast to BFLOAT16, and dims fed at run time (shape feeds), each
// through the registered op or a session, against values computed here from ONNX's definitions.
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelBuilder, f } from '../../../test-support/onnx-builder.js';
import { testEnv } from '../../../test-support/run-env.js';
import { AtrousError } from '../../errors.js';
import { Tensor } from '../../tensor.js';
import { InferenceSession } from '../session.js';
import { hostTensor, OnnxDataType, type HostTensor } from '../data-types.js';
import type { AttrValue, NodeIR } from '../graph.js';
import { evaluateOnce, type RunEnv } from '../value.js';
import { OPS } from './registry.js';

let env: RunEnv;
beforeAll(async () => {
  env = await testEnv();
});

const t = (dims: number[], values: number[], type: HostTensor['type'] = 'float32'): HostTensor => {
  const h = hostTensor(type, dims);
  h.data.set(values);
  return h;
};

/** Runs one registered op (no load hook) on constant inputs; `outputs` names how many outputs the node has. */
function run(opType: string, inputs: (HostTensor | undefined)[], attrs: Record<string, AttrValue> = {}, outputs = 1, opset = 13): HostTensor[] {
  const node: NodeIR = {
    name: opType.toLowerCase(),
    opType,
    domain: '',
    inputs: inputs.map((x, i) => (x ? `in${i}` : '')),
    outputs: Array.from({ length: outputs }, (_, i) => `out${i}`),
    attributes: new Map(Object.entries(attrs)),
  };
  const definition = OPS.get(opType)!;
  const state = definition.load?.({ node, opset, engine: env.engine, consts: new Map() });
  try {
    const prepared = definition.prepare({ node, opset, inputs: inputs.map((x) => x && { type: x.type, dims: x.dims }), consts: inputs, state });
    return evaluateOnce(env, prepared.run, inputs, prepared.outputs);
  } finally {
    state?.dispose();
  }
}

/** ONNX's 1-D cubic interpolation at `x` (edge-padded samples, Keys' kernel with `a`), optionally excluding outside taps. */
function cubic1d(line: number[], x: number, a: number, excludeOutside: boolean): number {
  // The four samples nearest x, ties toward the lower index (ONNX's neighbour rule).
  const base = Math.ceil(x) - 1;
  const kernel = (s: number) => (s <= 1 ? (a + 2) * s ** 3 - (a + 3) * s ** 2 + 1 : a * s ** 3 - 5 * a * s ** 2 + 8 * a * s - 4 * a);
  const taps = [base - 1, base, base + 1, base + 2];
  let w = taps.map((i) => kernel(Math.abs(x - i)));
  if (excludeOutside) {
    w = w.map((wk, k) => (taps[k]! < 0 || taps[k]! >= line.length ? 0 : wk));
    const sum = w.reduce((p, q) => p + q, 0);
    w = w.map((wk) => wk / sum);
  }
  return taps.reduce((acc, i, k) => acc + w[k]! * line[Math.min(Math.max(i, 0), line.length - 1)]!, 0);
}

describe('Resize, cubic and tf_crop_and_resize', () => {
  const line = [1, 4, 2, 8, -3];
  const x = t([1, 1, 1, 5], line);

  for (const [a, exclude] of [[-0.75, 0], [-0.5, 1]] as const) {
    it(`cubic with cubic_coeff_a ${a}, exclude_outside ${exclude}: ONNX's taps and weights (half_pixel, x2)`, () => {
      const [y] = run('Resize', [x, undefined, undefined, t([4], [1, 1, 1, 10], 'int64')], { mode: 'cubic', cubic_coeff_a: a, exclude_outside: exclude });
      expect(y!.dims).toEqual([1, 1, 1, 10]);
      const want = Array.from({ length: 10 }, (_, o) => cubic1d(line, (o + 0.5) / 2 - 0.5, a, exclude === 1));
      Array.from(y!.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
      // exclude_outside changes the border outputs: the check above fails if the flag is ignored.
      expect(Math.abs(cubic1d(line, -0.25, a, true) - cubic1d(line, -0.25, a, false))).toBeGreaterThan(1e-3);
    });
  }

  it('tf_crop_and_resize samples the roi and gives extrapolation_value outside the input', () => {
    const img = t([1, 1, 2, 3], [0, 1, 2, 10, 11, 12]);
    // Rows 0..1 (roi 0..1), columns from -0.5 to 1.5 of the width's 2: x = -1, 0.5, 2, 3.5 -> outside, inside, inside, outside.
    const roi = t([8], [0, 0, 0, -0.5, 1, 1, 1, 1.75]);
    const [y] = run('Resize', [img, roi, undefined, t([4], [1, 1, 2, 4], 'int64')], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: -7 });
    expect(Array.from(y!.data)).toEqual([-7, 0.5, 2, -7, -7, 10.5, 12, -7]);
  });

  it('refuses a roi that crops a leading axis, and tf_crop_and_resize in nearest mode', () => {
    const img = t([1, 1, 2, 2], [0, 1, 2, 3]);
    expect(() => run('Resize', [img, t([8], [0, 0.5, 0, 0, 1, 1, 1, 1]), undefined, t([4], [1, 1, 2, 2], 'int64')], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize' })).toThrow(/crops an axis before the last two/);
    expect(() => run('Resize', [img, t([8], [0, 0, 0, 0, 1, 1, 1, 1]), undefined, t([4], [1, 1, 2, 2], 'int64')], { mode: 'nearest', coordinate_transformation_mode: 'tf_crop_and_resize' })).toThrow(/nearest/);
  });
});

describe('MaxPool Indices', () => {
  // 2 planes of 3 x 3; kernel 2, stride 1: each output takes the max of a 2 x 2 window.
  const x = t([1, 2, 3, 3], [1, 9, 2, 3, 4, 8, 7, 5, 6, /**/ 0, 0, 0, 0, 5, 0, 0, 0, 0]);

  it('gives int64 flat indices over the whole input, row-major (storage_order 0) and column-major (1)', () => {
    const [y, rowMajor] = run('MaxPool', [x], { kernel_shape: [2, 2] }, 2);
    expect(Array.from(y!.data)).toEqual([9, 9, 7, 8, 5, 5, 5, 5]);
    expect(rowMajor!.type).toBe('int64');
    // Plane 1's max (5) is at (1, 1): 9 + 4 = 13 either way; plane 0's 9 at (0, 1), 7 at (2, 0), 8 at (1, 2).
    expect(Array.from(rowMajor!.data)).toEqual([1, 1, 6, 5, 13, 13, 13, 13]);
    const [, columnMajor] = run('MaxPool', [x], { kernel_shape: [2, 2], storage_order: 1 }, 2);
    expect(Array.from(columnMajor!.data)).toEqual([3, 3, 2, 7, 13, 13, 13, 13]);
  });

  it('refuses a storage_order other than 0 or 1', () => {
    expect(() => run('MaxPool', [x], { kernel_shape: [2, 2], storage_order: 2 }, 2)).toThrow(/storage_order/);
  });
});

describe('BatchNormalization training_mode', () => {
  it('normalises with the batch statistics and blends the running ones with momentum', () => {
    // N 2, C 2, 2 values each: channel 0 holds 1, 2, 3, 6 (mean 3, variance 3.5), channel 1 holds 0, 0, 4, 4 (mean 2, variance 4).
    const x = t([2, 2, 2], [1, 2, 0, 0, 3, 6, 4, 4]);
    const [scale, bias, mean, variance] = [t([2], [2, 1]), t([2], [0.5, -1]), t([2], [10, 20]), t([2], [1, 2])];
    const eps = 0.25, momentum = 0.75;
    const [y, runMean, runVar] = run('BatchNormalization', [x, scale, bias, mean, variance], { training_mode: 1, epsilon: eps, momentum }, 3, 15);
    const norm = (v: number, m: number, s2: number, g: number, b: number) => ((v - m) / Math.sqrt(s2 + eps)) * g + b;
    const want = [norm(1, 3, 3.5, 2, 0.5), norm(2, 3, 3.5, 2, 0.5), norm(0, 2, 4, 1, -1), norm(0, 2, 4, 1, -1), norm(3, 3, 3.5, 2, 0.5), norm(6, 3, 3.5, 2, 0.5), norm(4, 2, 4, 1, -1), norm(4, 2, 4, 1, -1)];
    Array.from(y!.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    Array.from(runMean!.data).forEach((v, i) => expect(v).toBeCloseTo([10 * momentum + 3 * (1 - momentum), 20 * momentum + 2 * (1 - momentum)][i]!, 5));
    Array.from(runVar!.data).forEach((v, i) => expect(v).toBeCloseTo([1 * momentum + 3.5 * (1 - momentum), 2 * momentum + 4 * (1 - momentum)][i]!, 5));
  });

  it('is not folded into a preceding Conv (its statistics are the batch\'s)', async () => {
    const m = new ModelBuilder(15);
    m.input('x', [2, 1, 1, 2]);
    m.init('w', [1, 1, 1, 1], [1]);
    for (const [name, v] of [['s', 1], ['b', 0], ['m', 100], ['v', 100]] as const) m.init(name, [1], [v]);
    m.node('Conv', ['x', 'w'], ['c']);
    m.node('BatchNormalization', ['c', 's', 'b', 'm', 'v'], ['y'], { training_mode: 1, epsilon: f(0) });
    m.output('y');
    const s = await InferenceSession.create(m.bytes());
    try {
      const { y } = await s.run({ x: new Tensor('float32', Float32Array.from([1, 3, 5, 7]), [2, 1, 1, 2]) });
      // Batch mean 4, variance 5: the constants (mean 100) would give values near -1.
      Array.from(y!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo([-3, -1, 1, 3][i]! / Math.sqrt(5), 5));
    } finally {
      s.dispose();
    }
  });
});

describe('Cast to BFLOAT16', () => {
  it('rounds float32 to the nearest bfloat16, ties to even', () => {
    const [y] = run('Cast', [t([4], [0.48033666610717773, 1 + 1 / 256, 1 + 3 / 256, -3.4e38])], { to: OnnxDataType.BFLOAT16 });
    // 0.48033667 is 0x3ef5f0f6...: rounds up to 0x3ef6 (0.48046875); truncation would give 0.478515625.
    expect(Array.from(y!.data)).toEqual([0.48046875, 1, 1 + 4 / 256, -Infinity]);
  });
});

describe('dims fed at run time (shape feeds)', () => {
  const model = () => {
    const m = new ModelBuilder(13);
    m.input('shape', [2], OnnxDataType.INT64);
    m.node('ConstantOfShape', ['shape'], ['y'], { value: { dims: [1], values: [3] } });
    m.output('y');
    return m.bytes();
  };

  it('specializes on the values of an integer input a ConstantOfShape needs, one program per value', async () => {
    const s = await InferenceSession.create(model());
    try {
      for (const [rows, cols] of [[2, 3], [1, 4], [2, 3]]) {
        const { y } = await s.run({ shape: new Tensor('int64', BigInt64Array.from([BigInt(rows!), BigInt(cols!)]), [2]) });
        expect(y!.dims).toEqual([rows, cols]);
        expect(Array.from(y!.data as Float32Array)).toEqual(new Array(rows! * cols!).fill(3));
      }
    } finally {
      s.dispose();
    }
  });

  it('still refuses a value computed from float data, naming the node', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [2]);
    m.node('Cast', ['x'], ['s'], { to: OnnxDataType.INT64 });
    m.node('ConstantOfShape', ['s'], ['y']);
    m.output('y');
    let error: unknown;
    try {
      await InferenceSession.create(m.bytes());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AtrousError);
    expect((error as AtrousError).code).toBe('UNSUPPORTED_OP');
    expect((error as AtrousError).message).toMatch(/ConstantOfShape node .* must be computable when the session is prepared/);
  });
});
