import { beforeAll, describe, expect, it } from 'vitest';
import { randomFloats } from '../../test-support/onnx-builder.js';
import { AtrousError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { init } from '../wasm/loader.js';
import { conv1d } from './conv1d.js';
import { conv2d } from './conv2d.js';
import { prepareConv2d } from './conv-plan.js';

function tensor(dims: number[], seed: number): Tensor<'float32'> {
  return new Tensor('float32', randomFloats(dims.reduce((a, b) => a * b, 1), seed), dims);
}

function zeros(dims: number[]): Tensor<'float32'> {
  return new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
}

function sameBits(a: Tensor<'float32'>, b: Tensor<'float32'>): boolean {
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  return a.dims.join() === b.dims.join() && x.length === y.length && x.every((v, i) => v === y[i]);
}

function thrown(f: () => unknown): AtrousError {
  try {
    f();
  } catch (e) {
    if (e instanceof AtrousError) return e;
    throw e;
  }
  throw new Error('expected an AtrousError');
}

describe('options.output', () => {
  beforeAll(async () => {
    await init();
  });

  it('plan.run writes into the given tensor, returns it, and matches the allocating path bit for bit', () => {
    const x = tensor([2, 6, 9, 11], 1);
    const w = tensor([6, 1, 3, 3], 2);
    const r = tensor([2, 6, 9, 11], 3);
    const options = { dilations: 2, pads: 'same-upper', groups: 6, bias: randomFloats(6, 4), activation: 'relu' } as const;
    const plan = prepareConv2d(w, options);
    try {
      const expected = plan.run(x, { residual: r });
      const out = new Tensor('float32', new Float32Array(expected.size).fill(Number.NaN), expected.dims);
      const got = plan.run(x, { residual: r, output: out });
      expect(got).toBe(out);
      expect(sameBits(got, expected)).toBe(true);
      // A second run into the same tensor overwrites it.
      const x2 = tensor([2, 6, 9, 11], 5);
      expect(sameBits(plan.run(x2, { output: out }), plan.run(x2))).toBe(true);
    } finally {
      plan.dispose();
    }
  });

  it('conv2d and conv1d take it too', () => {
    const x = tensor([1, 4, 8, 8], 6);
    const w = tensor([5, 4, 3, 3], 7);
    const expected = conv2d(x, w, { strides: 2, pads: [1, 1, 1, 1] });
    const out = zeros([...expected.dims]);
    const got = conv2d(x, w, { strides: 2, pads: [1, 1, 1, 1], output: out });
    expect(got).toBe(out);
    expect(sameBits(got, expected)).toBe(true);

    const x1 = tensor([2, 3, 20], 8);
    const w1 = tensor([4, 3, 3], 9);
    const r1 = tensor([2, 4, 20], 10);
    const e1 = conv1d(x1, w1, { dilation: 3, causal: true, residual: r1 });
    const o1 = zeros([2, 4, 20]);
    const g1 = conv1d(x1, w1, { dilation: 3, causal: true, residual: r1, output: o1 });
    expect(g1).toBe(o1);
    expect(sameBits(g1, e1)).toBe(true);
  });

  it('refuses an output of the wrong type, dims, or sharing memory with the input or the residual', () => {
    const x = tensor([1, 2, 6, 6], 11);
    const w = tensor([3, 2, 3, 3], 12);
    const r = tensor([1, 3, 4, 4], 13);
    const plan = prepareConv2d(w);
    try {
      let e = thrown(() => plan.run(x, { output: new Tensor('int32', new Int32Array(48), [1, 3, 4, 4]) as never }));
      expect(e.code).toBe('INVALID_TENSOR');
      expect(e.message).toBe('prepareConv2d: options.output must be a float32 tensor, got type "int32"');
      e = thrown(() => plan.run(x, { output: new Float32Array(48) as never }));
      expect(e.code).toBe('INVALID_TENSOR');
      expect(e.message).toMatch(/^prepareConv2d: options\.output must be a Tensor, got/);
      e = thrown(() => plan.run(x, { output: zeros([1, 3, 6, 6]) }));
      expect(e.code).toBe('INVALID_SHAPE');
      expect(e.message).toBe("prepareConv2d: options.output must have the output's dims [1, 3, 4, 4], got [1, 3, 6, 6]");
      e = thrown(() => plan.run(x, { output: zeros([48]) }));
      expect(e.code).toBe('INVALID_SHAPE');
      expect(e.message).toBe('prepareConv2d: options.output must have rank 4 [N, M, OH, OW], got dims [48]');
      // Same element count, other dims.
      e = thrown(() => plan.run(x, { output: zeros([1, 3, 2, 8]) }));
      expect(e.code).toBe('INVALID_SHAPE');
      expect(e.message).toContain('[1, 3, 2, 8]');

      // The residual itself, and a view overlapping the input.
      e = thrown(() => plan.run(x, { residual: r, output: r }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe('prepareConv2d: options.output (dims [1, 3, 4, 4]) shares memory with the residual; give a tensor of its own');
      const big = new Float32Array(72 + 48);
      const xIn = new Tensor('float32', big.subarray(0, 72), [1, 2, 6, 6]);
      xIn.data.set(x.data);
      e = thrown(() => plan.run(xIn, { output: new Tensor('float32', big.subarray(60, 108), [1, 3, 4, 4]) }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain('shares memory with the input');
      // Adjacent views of one buffer do not overlap: accepted.
      const adjacent = new Tensor('float32', big.subarray(72, 120), [1, 3, 4, 4]);
      expect(sameBits(plan.run(xIn, { output: adjacent }), plan.run(x))).toBe(true);

      e = thrown(() => conv1d(tensor([1, 2, 10], 14), tensor([3, 2, 3], 15), { output: zeros([1, 3, 10]) }));
      expect(e.code).toBe('INVALID_SHAPE');
      expect(e.message).toBe("conv1d: options.output must have the output's dims [1, 3, 8], got [1, 3, 10]");
    } finally {
      plan.dispose();
    }
  });

  it('a loop of 100 runs into one output does not grow the JS heap', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'run with --expose-gc').toBeTypeOf('function');
    const x = tensor([1, 32, 33, 33], 16);
    const plan = prepareConv2d(tensor([32, 1, 3, 3], 17), { groups: 32, dilations: 2, pads: 'same-upper' });
    try {
      const out = zeros([1, 32, 33, 33]); // 139 KB: 100 leaked outputs would be 14 MB
      const expected = plan.run(x);
      const loop = () => {
        for (let i = 0; i < 100; i++) plan.run(x, { output: out });
      };
      const settle = () => {
        for (let i = 0; i < 4; i++) gc!();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      loop();
      const start = settle();
      loop();
      const grew = settle() - start;
      console.log(`100 runs with options.output: heap + array buffers grew ${grew} bytes`);
      expect(grew).toBeLessThan(256 * 1024);
      expect(sameBits(out, expected)).toBe(true);
    } finally {
      plan.dispose();
    }
  });
});
