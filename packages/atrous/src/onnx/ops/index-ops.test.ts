// The index, loss, diagonal and integer ops (element-indexing.ts, losses.ts, diagonal.ts, integer-logic.ts)
// on hand-computed cases, edge cases included; ONNX's own tests of them run in test/onnx/conformance.
import { beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../../test-support/run-env.js';
import { AtrousError } from '../../errors.js';
import { evaluateOnce, type RunEnv } from '../value.js';
import { hostTensor, type HostTensor } from '../data-types.js';
import type { AttrValue, NodeIR } from '../graph.js';
import { OPS } from './registry.js';

const t = (dims: number[], values: number[], type: HostTensor['type'] = 'float32'): HostTensor => {
  const h = hostTensor(type, dims);
  h.data.set(values);
  return h;
};
const ints = (dims: number[], values: number[]) => t(dims, values, 'int64');

let env: RunEnv;
beforeAll(async () => {
  env = await testEnv();
});

/**
 * Runs one op; inputs listed in `constant` are also given as constants (what the op sees at preparation),
 * the others only as data at run (indices computed by the graph).
 */
function run(opType: string, inputs: (HostTensor | undefined)[], attrs: Record<string, AttrValue> = {}, constant: number[] = [], outputs = 1): HostTensor[] {
  const node: NodeIR = {
    name: opType.toLowerCase(),
    opType,
    domain: '',
    inputs: inputs.map((x, i) => (x ? `in${i}` : '')),
    outputs: Array.from({ length: outputs }, (_, i) => `out${i}`),
    attributes: new Map(Object.entries(attrs)),
  };
  const prepared = OPS.get(opType)!.prepare({
    node,
    opset: 18,
    inputs: inputs.map((x) => x && { type: x.type, dims: x.dims }),
    consts: inputs.map((x, i) => (constant.includes(i) ? x : undefined)),
  });
  return evaluateOnce(env, prepared.run, inputs, prepared.outputs);
}

const values = (h: HostTensor) => Array.from(h.data as ArrayLike<number>);

function failure(body: () => unknown): AtrousError {
  try {
    body();
  } catch (e) {
    if (e instanceof AtrousError) return e;
    throw e;
  }
  throw new Error('expected an AtrousError');
}

describe('index ops', () => {
  const x = t([2, 3], [1, 2, 3, 4, 5, 6]);

  it('GatherElements along axis 1 with a negative index, on floats and integers; out of range is INVALID_MODEL', () => {
    expect(values(run('GatherElements', [x, ints([2, 2], [0, -1, 2, 1])], { axis: 1 })[0]!)).toEqual([1, 3, 6, 5]);
    expect(values(run('GatherElements', [ints([2, 3], [1, 2, 3, 4, 5, 6]), ints([1, 3], [1, 0, 1])], { axis: 0 })[0]!)).toEqual([4, 2, 6]);
    expect(failure(() => run('GatherElements', [x, ints([1, 1], [3])], { axis: 1 })).code).toBe('INVALID_MODEL');
  });

  it('ScatterElements: the last of duplicate indices wins; integer reductions; float reductions refused', () => {
    expect(values(run('ScatterElements', [x, ints([1, 2], [1, 1]), t([1, 2], [10, 20])], { axis: 1 })[0]!)).toEqual([1, 20, 3, 4, 5, 6]);
    const i = ints([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(values(run('ScatterElements', [i, ints([1, 2], [0, 0]), ints([1, 2], [10, 20])], { axis: 1, reduction: 'add' })[0]!)).toEqual([31, 2, 3, 4, 5, 6]);
    // Float add / mul on the kernels, duplicates accumulating in order.
    const add = run('ScatterElements', [x, ints([1, 3], [1, 1, 0]), t([1, 3], [10, 20, 30])], { axis: 1, reduction: 'add' })[0]!;
    expect(values(add)).toEqual([31, 32, 3, 4, 5, 6]);
    const mul = run('ScatterND', [x, ints([3, 1], [1, 0, 1]), t([3, 3], [2, 2, 2, 3, 3, 3, 10, 10, 10])], { reduction: 'mul' })[0]!;
    expect(values(mul)).toEqual([3, 6, 9, 80, 100, 120]);
    const e = failure(() => run('ScatterElements', [x, ints([1, 1], [0]), t([1, 1], [1])], { reduction: 'max' }));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/reduction "max"/);
  });

  it('ScatterND writes slices; GatherND reads them, with batch_dims', () => {
    expect(values(run('ScatterND', [x, ints([1, 1], [1]), t([1, 3], [7, 8, 9])])[0]!)).toEqual([1, 2, 3, 7, 8, 9]);
    expect(values(run('ScatterND', [x, ints([2, 2], [0, 2, 1, 0]), t([2], [7, 8])])[0]!)).toEqual([1, 2, 7, 8, 5, 6]);
    const g = run('GatherND', [x, ints([2, 1], [1, 0])])[0]!;
    expect(g.dims).toEqual([2, 3]);
    expect(values(g)).toEqual([4, 5, 6, 1, 2, 3]);
    const b = run('GatherND', [x, ints([2, 1], [2, 0])], { batch_dims: 1 })[0]!;
    expect(b.dims).toEqual([2]);
    expect(values(b)).toEqual([3, 4]);
  });

  it('Compress along an axis and flattened (condition shorter than the axis)', () => {
    const cond = t([2], [0, 1], 'bool');
    expect(values(run('Compress', [x, cond], { axis: 1 }, [1])[0]!)).toEqual([2, 5]);
    const flat = run('Compress', [x, t([4], [1, 0, 0, 1], 'bool')], {}, [1])[0]!;
    expect(flat.dims).toEqual([2]);
    expect(values(flat)).toEqual([1, 4]);
  });

  it('OneHot on an inner axis, with negative and out-of-range indices', () => {
    const o = run('OneHot', [ints([3], [1, -1, 5]), ints([], [3]), t([2], [-2, 7])], { axis: 0 }, [1])[0]!;
    expect(o.dims).toEqual([3, 3]);
    expect(values(o)).toEqual([-2, -2, -2, 7, -2, -2, -2, 7, -2]);
  });

  it('MaxUnpool puts values at their flat indices, with and without output_shape', () => {
    const v = t([1, 1, 1, 2], [5, 7]), i = ints([1, 1, 1, 2], [1, 2]);
    const u = run('MaxUnpool', [v, i], { kernel_shape: [1, 2], strides: [1, 2] })[0]!;
    expect(u.dims).toEqual([1, 1, 1, 4]);
    expect(values(u)).toEqual([0, 5, 7, 0]);
    const w = run('MaxUnpool', [v, i, ints([4], [1, 1, 1, 5])], { kernel_shape: [1, 2], strides: [1, 2] }, [2])[0]!;
    expect(values(w)).toEqual([0, 5, 7, 0, 0]);
    // With another output_shape an index keeps its coordinates in the inferred [1, 1, 2, 2] output.
    const q = run('MaxUnpool', [t([1, 1, 1, 1], [9]), ints([1, 1, 1, 1], [3])], { kernel_shape: [2, 2], strides: [2, 2] }, [])[0]!;
    expect(values(q)).toEqual([0, 0, 0, 9]);
    const r = run('MaxUnpool', [t([1, 1, 1, 1], [9]), ints([1, 1, 1, 1], [3]), ints([4], [1, 1, 3, 3])], { kernel_shape: [2, 2], strides: [2, 2] }, [2])[0]!;
    expect(values(r)).toEqual([0, 0, 0, 0, 9, 0, 0, 0, 0]);
    expect(failure(() => run('MaxUnpool', [v, ints([1, 1, 1, 2], [0, 4])], { kernel_shape: [1, 2], strides: [1, 2] })).code).toBe('INVALID_MODEL');
  });

  it('ReverseSequence reverses each batch up to its length', () => {
    const s = run('ReverseSequence', [t([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]), ints([2], [3, 0])], { batch_axis: 0, time_axis: 1 })[0]!;
    expect(values(s)).toEqual([3, 2, 1, 4, 5, 6, 7, 8]);
  });
});

describe('selection', () => {
  it('TopK largest and smallest along an axis with the Indices output; Hardmax one-hots the first maximum', () => {
    const x = t([2, 3], [1, 3, 3, 2, NaN, -1]);
    const [v, i] = run('TopK', [x, ints([1], [2])], { axis: 1 }, [1], 2);
    expect(values(v!)).toEqual([3, 3, NaN, 2]);
    expect(values(i!)).toEqual([1, 2, 1, 0]);
    const [s] = run('TopK', [x, ints([1], [1])], { axis: 0, largest: 0 }, [1], 2);
    expect(values(s!)).toEqual([1, 3, -1]);
    const [iv, ii] = run('TopK', [ints([4], [4, 9, 9, 1]), ints([1], [3])], {}, [1], 2);
    expect([values(iv!), values(ii!)]).toEqual([[9, 9, 4], [1, 2, 0]]);
    expect(values(run('Hardmax', [t([2, 3], [1, 3, 3, 0, -1, -2])])[0]!)).toEqual([0, 1, 0, 1, 0, 0]);
    expect(values(run('Hardmax', [t([2, 2], [1, 4, 3, 2])], { axis: 0 })[0]!)).toEqual([0, 1, 1, 0]);
  });
});

describe('CumSum', () => {
  const x = t([2, 3], [1, 2, 3, 4, 5, 6]);
  const sums = (attrs: Record<string, AttrValue>, axis: number, v: HostTensor = x) => values(run('CumSum', [v, ints([], [axis])], attrs, [1])[0]!);

  it('inclusive, exclusive, reverse, on either axis, on floats (kernels) and integers (JavaScript)', () => {
    expect(sums({}, 1)).toEqual([1, 3, 6, 4, 9, 15]);
    expect(sums({}, 0)).toEqual([1, 2, 3, 5, 7, 9]);
    expect(sums({ exclusive: 1 }, 1)).toEqual([0, 1, 3, 0, 4, 9]);
    expect(sums({ reverse: 1 }, -1)).toEqual([6, 5, 3, 15, 11, 6]);
    expect(sums({ reverse: 1, exclusive: 1 }, 1)).toEqual([5, 3, 0, 11, 6, 0]);
    expect(sums({ reverse: 1, exclusive: 1 }, 0)).toEqual([4, 5, 6, 0, 0, 0]);
    const i = ints([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(sums({ exclusive: 1 }, 1, i)).toEqual([0, 1, 3, 0, 4, 9]);
    expect(sums({ reverse: 1 }, 0, i)).toEqual([5, 7, 9, 4, 5, 6]);
    expect(sums({}, 0, t([1], [7]))).toEqual([7]);
  });

  it('a middle axis of a 3-D float tensor matches a plain loop, in every mode', () => {
    const dims = [2, 3, 4];
    const v = t(dims, Array.from({ length: 24 }, (_, k) => ((k * 7) % 11) - 5));
    for (const exclusive of [0, 1]) {
      for (const reverse of [0, 1]) {
        const want = new Array<number>(24).fill(0);
        for (let o = 0; o < 2; o++) {
          for (let i = 0; i < 4; i++) {
            let acc = 0;
            for (let s = 0; s < 3; s++) {
              const k = reverse ? 2 - s : s, at = (o * 3 + k) * 4 + i;
              if (exclusive) { want[at] = acc; acc += v.data[at]!; } else { acc += v.data[at]!; want[at] = acc; }
            }
          }
        }
        expect(sums({ exclusive, reverse }, 1, v), `exclusive ${exclusive} reverse ${reverse}`).toEqual(want);
      }
    }
  });
});

describe('DequantizeLinear', () => {
  it('uint8 per tensor, int8 per axis through a table; int32 without an int8 zero point is refused', () => {
    const u = run('DequantizeLinear', [t([4], [0, 3, 128, 255], 'uint8'), t([], [2]), t([], [128], 'uint8')], {}, [1, 2])[0]!;
    expect(values(u)).toEqual([-256, -250, 0, 254]);
    const s = run('DequantizeLinear', [t([2, 2], [-128, 1, 127, -1], 'int32'), t([2], [1, 0.5]), t([2], [0, 1], 'int32')], { axis: 0 }, [1, 2])[0]!;
    expect(values(s)).toEqual([-128, 1, 63, -1]);
    expect(failure(() => run('DequantizeLinear', [t([1], [5], 'int32'), t([], [2])], {}, [1])).code).toBe('UNSUPPORTED_OP');
  });
});

describe('losses', () => {
  // log-probabilities [N=2, C=3, d=2]
  const logp = t([2, 3, 2], [-1, -2, -3, -4, -5, -6, -0.5, -1.5, -2.5, -3.5, -4.5, -5.5]);
  const target = ints([2, 2], [0, 2, 1, -100]);
  const weight = t([3], [1, 2, 3]);

  it('NegativeLogLikelihoodLoss: none, sum and weighted mean with ignore_index', () => {
    const none = run('NegativeLogLikelihoodLoss', [logp, target, weight], { reduction: 'none', ignore_index: -100 })[0]!;
    expect(none.dims).toEqual([2, 2]);
    expect(values(none)).toEqual([1, 18, 5, 0]);
    const sum = run('NegativeLogLikelihoodLoss', [logp, target, weight], { reduction: 'sum', ignore_index: -100 })[0]!;
    expect(sum.dims).toEqual([]);
    expect(values(sum)[0]).toBeCloseTo(24, 5);
    const mean = run('NegativeLogLikelihoodLoss', [logp, target, weight], { ignore_index: -100 })[0]!;
    expect(values(mean)[0]).toBeCloseTo(24 / 6, 5);
    const plain = run('NegativeLogLikelihoodLoss', [logp, ints([2, 2], [0, 2, 1, 1]) ])[0]!;
    expect(values(plain)[0]).toBeCloseTo((1 + 6 + 2.5 + 3.5) / 4, 5);
    const allIgnored = run('NegativeLogLikelihoodLoss', [logp, ints([2, 2], [-1, -1, -1, -1])], { ignore_index: -1 })[0]!;
    expect(values(allIgnored)[0]).toBeNaN();
    expect(failure(() => run('NegativeLogLikelihoodLoss', [logp, ints([2, 2], [0, 3, 0, 0])])).code).toBe('INVALID_MODEL');
  });

  it('SoftmaxCrossEntropyLoss is NLL of LogSoftmax over axis 1, with the log_prob output', () => {
    const scores = t([2, 2], [0, 0, 1, 3]);
    const [loss, lp] = run('SoftmaxCrossEntropyLoss', [scores, ints([2], [0, 1])], {}, [], 2);
    const l1 = Math.log(2), l2 = Math.log(1 + Math.exp(-2));
    expect(values(loss!)[0]).toBeCloseTo((l1 + l2) / 2, 5);
    expect(values(lp!)[0]).toBeCloseTo(-l1, 5);
    expect(values(lp!)[3]).toBeCloseTo(-l2, 5);
  });
});

describe('diagonal ops', () => {
  const m = t([2, 3], [1, 2, 3, 4, 5, 6]);

  it('Trilu keeps the upper or lower triangle shifted by k (a constant or a value at run), over a batch', () => {
    expect(values(run('Trilu', [m])[0]!)).toEqual([1, 2, 3, 0, 5, 6]);
    expect(values(run('Trilu', [m, ints([], [1])], { upper: 0 }, [1])[0]!)).toEqual([1, 2, 0, 4, 5, 6]);
    expect(values(run('Trilu', [m, ints([], [-1])], { upper: 0 })[0]!)).toEqual([0, 0, 0, 4, 0, 0]);
    const batch = t([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(values(run('Trilu', [batch, ints([], [1])], {}, [1])[0]!)).toEqual([0, 2, 0, 0, 0, 6, 0, 0]);
    expect(values(run('Trilu', [ints([2, 2], [1, 2, 3, 4])], { upper: 0 })[0]!)).toEqual([1, 0, 3, 4]);
  });

  it('EyeLike on non-square inputs, above and below the diagonal, and with another dtype', () => {
    expect(values(run('EyeLike', [t([2, 3], new Array(6).fill(9))], { k: 1 })[0]!)).toEqual([0, 1, 0, 0, 0, 1]);
    expect(values(run('EyeLike', [t([3, 2], new Array(6).fill(9))], { k: -1 })[0]!)).toEqual([0, 0, 1, 0, 0, 1]);
    const i = run('EyeLike', [t([2, 2], [0, 0, 0, 0])], { dtype: 7 })[0]!;
    expect(i.type).toBe('int64');
    expect(values(i)).toEqual([1, 0, 0, 1]);
    expect(values(run('EyeLike', [t([2, 2], [0, 0, 0, 0])], { k: 5 })[0]!)).toEqual([0, 0, 0, 0]);
  });
});

describe('integer and boolean ops', () => {
  it('Mod follows the divisor sign (fmod 0) or the dividend sign (fmod 1), on integers and floats', () => {
    const a = ints([4], [-4, 7, 5, -5]), b = ints([4], [3, -3, 3, -3]);
    expect(values(run('Mod', [a, b])[0]!)).toEqual([2, -2, 2, -2]);
    expect(values(run('Mod', [a, b], { fmod: 1 })[0]!)).toEqual([-1, 1, 2, -2]);
    expect(values(run('Mod', [t([2], [-5.5, 7]), t([2], [2, -3])], { fmod: 1 })[0]!)).toEqual([-1.5, 1]);
  });

  it('BitShift wraps uint8 and broadcasts; Xor broadcasts booleans; NonZero lists coordinates', () => {
    const u = t([3], [1, 128, 255], 'uint8');
    expect(values(run('BitShift', [u, t([1], [1], 'uint8')], { direction: 'LEFT' })[0]!)).toEqual([2, 0, 254]);
    expect(values(run('BitShift', [ints([2], [16, 7]), ints([2], [2, 1])], { direction: 'RIGHT' })[0]!)).toEqual([4, 3]);
    const x = run('Xor', [t([2, 2], [1, 0, 1, 0], 'bool'), t([2], [1, 1], 'bool')])[0]!;
    expect(x.type).toBe('bool');
    expect(values(x)).toEqual([0, 1, 0, 1]);
    const nz = run('NonZero', [t([2, 2], [1, 0, 0, 3])], {}, [0])[0]!;
    expect(nz.dims).toEqual([2, 2]);
    expect(values(nz)).toEqual([0, 1, 0, 1]);
  });
});
