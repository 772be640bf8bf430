// InferenceSession in Debian's chromium, bundled by Vite as an app would bundle it (onnx-proto is CommonJS:
// this checks that the parser survives the bundler), against atrous's own conv2d and a plain mean.
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, conv2d, init } from 'atrous';
import { ModelBuilder, randomFloats } from '../../packages/atrous/test-support/onnx-builder.js';

describe('InferenceSession in chromium', () => {
  it('loads a model from bytes and runs a fused dilated conv and a pooling branch', async () => {
    await init();
    const m = new ModelBuilder(13);
    m.input('x', ['n', 3, 'h', 'w']);
    const w = randomFloats(4 * 3 * 9, 11);
    const b = randomFloats(4, 12);
    m.init('w', [4, 3, 3, 3], w);
    m.init('b', [4], b);
    const c = m.node('Conv', ['x', 'w', 'b'], 1, { pads: [3, 3, 3, 3], dilations: [3, 3] });
    m.node('Relu', [c], ['y']);
    m.node('GlobalAveragePool', ['x'], ['g']);
    m.output('y');
    m.output('g');
    const session = await InferenceSession.create(m.bytes().slice().buffer);
    expect(session.optimizations.fusedActivations).toBe(1);
    const x = new Tensor('float32', randomFloats(2 * 3 * 10 * 12, 13), [2, 3, 10, 12]);
    const { y, g } = await session.run({ x });
    const want = conv2d(x, new Tensor('float32', w, [4, 3, 3, 3]), { bias: b, pads: [3, 3, 3, 3], dilations: [3, 3], activation: 'relu' });
    expect(y!.dims).toEqual([2, 4, 10, 12]);
    const got = y!.data as Float32Array;
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want.data[i]!)).toBeLessThan(1e-5);
    for (let p = 0; p < 6; p++) {
      let sum = 0;
      for (let i = 0; i < 120; i++) sum += x.data[p * 120 + i]!;
      expect((g!.data as Float32Array)[p]).toBeCloseTo(sum / 120, 5);
    }
    expect(session.peakMemoryBytes).toBeGreaterThan(0);
    session.dispose();
  });

  it('refuses a path outside Node with INVALID_ARGUMENT', async () => {
    await expect(InferenceSession.create('/models/x.onnx')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
