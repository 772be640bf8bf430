// activationBackward, the public gradient of a fused activation: from the saved output it agrees with the
// gradient from the saved input (which the conv backward suite holds to PyTorch through conv2dBackward), and
// bad input is an AtrousError naming the argument.
import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError, Tensor, activationBackward, conv2d, init, type Activation } from 'atrous';
import { rng } from './cases.js';

const tensor = (data: Float32Array, dims: number[]) => new Tensor('float32', data, dims);

describe('activationBackward', () => {
  beforeAll(async () => {
    await init();
  });

  const r = rng(77);
  const dims = [2, 3, 5, 7];
  const n = dims.reduce((a, b) => a * b, 1);
  const x = tensor(Float32Array.from({ length: n }, () => (r() * 2 - 1) * 7), dims);
  const dy = tensor(Float32Array.from({ length: n }, () => r() * 2 - 1), dims);

  const fromOutput: Activation[] = ['none', 'relu', 'relu6', 'sigmoid', 'hardSigmoid', 'leakyRelu', { type: 'clip', min: -1, max: 2 }, { type: 'hardSigmoid', alpha: 0.3, beta: 0.4 }];
  for (const a of fromOutput) {
    it(`${JSON.stringify(a)}: from the output as from the input`, () => {
      // The forward output of a 1x1 identity conv with this activation is f(x), computed by atrous itself.
      const c = dims[1]!;
      const eye = new Float32Array(c * c);
      for (let i = 0; i < c; i++) eye[i * c + i] = 1;
      const y = conv2d(x, tensor(eye, [c, c, 1, 1]), { activation: a });
      const gx = activationBackward(dy, x, a);
      const gy = activationBackward(dy, y, a, { from: 'output' });
      expect([...gx.dims]).toEqual(dims);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(gx.data[i]! - gy.data[i]!));
      expect(worst).toBeLessThan(1e-6);
      // And it is not the identity (except for none): the activation was applied.
      if (a !== 'none') expect([...gx.data].some((v, i) => Math.abs(v - dy.data[i]!) > 1e-3)).toBe(true);
    });
  }

  it('relu: the gradient passes where x > 0 only', () => {
    const g = activationBackward(dy, x, 'relu');
    // dy * 0 is -0 where dy < 0: compared with ===, which equates the zeros.
    for (let i = 0; i < n; i++) expect(g.data[i] === (x.data[i]! > 0 ? dy.data[i] : 0), `at ${i}`).toBe(true);
  });

  it('bad input names the argument', () => {
    const expectError = (run: () => unknown, code: string, text: string) => {
      try {
        run();
      } catch (e) {
        expect(e).toBeInstanceOf(AtrousError);
        expect((e as AtrousError).code).toBe(code);
        expect((e as AtrousError).message).toContain(text);
        return;
      }
      throw new Error(`expected ${code}`);
    };
    expectError(() => activationBackward(dy, tensor(new Float32Array(n), [2, 3, 7, 5]), 'relu'), 'INVALID_SHAPE', 'saved must have gradOutput\'s dims [2, 3, 5, 7]');
    expectError(() => activationBackward(dy, x, 'hardSwish', { from: 'output' }), 'INVALID_ARGUMENT', 'cannot be had from its output');
    expectError(() => activationBackward(dy, x, { type: 'leakyRelu', alpha: -0.5 }, { from: 'output' }), 'INVALID_ARGUMENT', 'cannot be had from its output');
    expectError(() => activationBackward(dy, x, 'relu', { from: 'pre' as 'input' }), 'INVALID_ARGUMENT', 'options.from must be "input" or "output", got "pre"');
    expectError(() => activationBackward(dy, x, 'swish' as Activation), 'INVALID_ARGUMENT', 'activationBackward: activation must be one of');
    expectError(() => activationBackward([1, 2] as unknown as Tensor<'float32'>, x, 'relu'), 'INVALID_TENSOR', 'gradOutput must be a Tensor');
  });
});
