// Bad input to conv2dBackward / conv1dBackward: each gets the error conv2d / conv1d gives for the same input and
// options (same code, same message but for the op's name), and a bad gradOutput is named with its dims.
import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError, Tensor, conv1d, conv1dBackward, conv2d, conv2dBackward, init } from 'atrous';

const f32 = (dims: number[], fill = 0.5): Tensor<'float32'> =>
  new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

function thrown(run: () => unknown): AtrousError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AtrousError);
    return error as AtrousError;
  }
  throw new Error('expected an AtrousError, nothing was thrown');
}

// Any gradOutput: the forward's errors come before gradOutput is looked at.
const anyGrad = f32([1, 4, 6, 6]);

describe('conv2dBackward and conv1dBackward give the forward ops their errors', () => {
  beforeAll(async () => {
    await init();
  });

  const x = f32([1, 4, 6, 6]);
  const w = f32([4, 2, 3, 3]);
  const bad2d: [string, unknown, unknown, unknown][] = [
    ['stride 0', x, w, { strides: 0, groups: 2 }],
    ['negative dilation', x, w, { dilations: [1, -1], groups: 2 }],
    ['three pads', x, w, { pads: [1, 2, 3], groups: 2 }],
    ['a negative pad', x, w, { pads: [1, -2, 1, 1], groups: 2 }],
    ['an unknown auto pad', x, w, { pads: 'same', groups: 2 }],
    ['groups 0', x, w, { groups: 0 }],
    ['groups not dividing M', x, w, { groups: 3 }],
    ['input channels not matching', x, w, {}],
    ['a bias of the wrong length', x, w, { groups: 2, bias: new Float32Array(3) }],
    ['a bias that is not float32', x, w, { groups: 2, bias: [1, 2, 3, 4] }],
    ['a kernel wider than the padded input', f32([1, 4, 2, 2]), w, { groups: 2, dilations: 2 }],
    ['weights of rank 3', x, f32([4, 2, 3]), { groups: 2 }],
    ['input of rank 3', f32([4, 6, 6]), w, { groups: 2 }],
    ['input not a tensor', [1, 2, 3], w, { groups: 2 }],
    ['weights of type uint8', x, new Tensor('uint8', new Uint8Array(72), [4, 2, 3, 3]), { groups: 2 }],
    ['options not an object', x, w, 7],
    ['an unknown activation', x, w, { groups: 2, activation: 'swish' }],
    ['a clip with min above max', x, w, { groups: 2, activation: { type: 'clip', min: 1, max: 0 } }],
  ];
  for (const [what, input, weights, options] of bad2d) {
    it(`conv2d: ${what}`, () => {
      const forward = thrown(() => conv2d(input as Tensor<'float32'>, weights as Tensor<'float32'>, options as object));
      const backward = thrown(() => conv2dBackward(input as Tensor<'float32'>, weights as Tensor<'float32'>, anyGrad, options as object));
      expect(backward.code).toBe(forward.code);
      expect(backward.message).toBe(forward.message.replace(/^conv2d:/, 'conv2dBackward:'));
    });
  }

  const s = f32([2, 3, 10]);
  const w1 = f32([6, 1, 3]);
  const bad1d: [string, unknown, unknown, unknown][] = [
    ['stride 0', s, w1, { stride: 0, groups: 3 }],
    ['dilation 1.5', s, w1, { dilation: 1.5, groups: 3 }],
    ['causal with pads', s, w1, { causal: true, pads: [1, 1], groups: 3 }],
    ['four pads', s, w1, { pads: [1, 1, 1, 1], groups: 3 }],
    ['groups not dividing C', s, w1, { groups: 2 }],
    ['a kernel longer than the input', f32([2, 3, 2]), w1, { groups: 3, pads: 'valid' }],
    ['weights of rank 4', s, f32([6, 1, 1, 3]), { groups: 3 }],
    ['an unknown activation', s, w1, { groups: 3, activation: 'gelu' }],
  ];
  for (const [what, input, weights, options] of bad1d) {
    it(`conv1d: ${what}`, () => {
      const forward = thrown(() => conv1d(input as Tensor<'float32'>, weights as Tensor<'float32'>, options as object));
      const backward = thrown(() => conv1dBackward(input as Tensor<'float32'>, weights as Tensor<'float32'>, f32([2, 6, 8]), options as object));
      expect(backward.code).toBe(forward.code);
      expect(backward.message).toBe(forward.message.replace(/^conv1d:/, 'conv1dBackward:'));
    });
  }

  it('a gradOutput without the forward output dims is named with both', () => {
    // Output of a 3x3 conv, stride 2, same-upper on 6x6: [1, 4, 3, 3].
    const options = { groups: 2, strides: 2, pads: 'same-upper' } as const;
    const e = thrown(() => conv2dBackward(x, w, f32([1, 4, 6, 6]), options));
    expect(e.code).toBe('INVALID_SHAPE');
    expect(e.message).toContain('conv2dBackward: gradOutput');
    expect(e.message).toContain('[1, 4, 3, 3]');
    expect(e.message).toContain('[1, 4, 6, 6]');
    expect(thrown(() => conv2dBackward(x, w, f32([4, 3, 3]), options)).message).toContain('gradOutput must have rank 4');
    expect(thrown(() => conv1dBackward(s, w1, f32([2, 6, 1, 8]), { groups: 3 })).message).toContain('gradOutput must have rank 3');
    expect(thrown(() => conv2dBackward(x, w, new Tensor('int32', new Int32Array(36), [1, 4, 3, 3]), options)).code).toBe('INVALID_TENSOR');
  });

  it('after the errors, gradients are still right (a 1x1 conv: gradInput = W^T gradOutput)', () => {
    const wt = new Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2, 1, 1]);
    const xi = new Tensor('float32', Float32Array.from([1, -1, 2, 0.5]), [1, 2, 1, 2]);
    const gy = new Tensor('float32', Float32Array.from([1, 0, 0, 1, 2, -1]), [1, 3, 1, 2]);
    const g = conv2dBackward(xi, wt, gy);
    // gradInput[c, p] = sum_m W[m, c] gy[m, p]; gradWeight[m, c] = sum_p gy[m, p] x[c, p]; gradBias[m] = sum_p gy[m, p].
    expect([...g.gradInput.data]).toEqual([1 + 10, 3 - 5, 2 + 12, 4 - 6]);
    expect([...g.gradWeight.data]).toEqual([1, 2, -1, 0.5, 2 + 1, 4 - 0.5]);
    expect([...g.gradBias.data]).toEqual([1, 1, 1]);
  });
});
