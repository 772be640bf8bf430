// The conv backward facade on every build: a null out-pointer skips that gradient and leaves its buffer
// alone, the others match a plain JavaScript backward, and bad descriptors and sizes are AtrousErrors
// naming the op. (Accuracy over every option is test/conv/backward-*.test.ts, against PyTorch.)
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { encodeConvSpec, resolveConvSpec } from '../ops/conv-options.js';
import { Tensor } from '../tensor.js';
import { BUILDS } from '../wasm/builds.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

describe('conv backward kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: skipped gradients stay untouched, the others are right, bad calls are errors`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.convBackward;
      const r = rng(build.length * 31 + 5);
      // Depthwise x2, 3x3, stride 2, dilation 2, pads [2, 1, 0, 3], on [2, 2, 5, 6]: output [2, 4, 2, 3].
      const [n, c, h, wd, m] = [2, 2, 5, 6, 4];
      const w = new Tensor('float32', Float32Array.from({ length: m * 9 }, () => r() * 2 - 1), [m, 1, 3, 3]);
      const spec = resolveConvSpec(w, { groups: 2, strides: 2, dilations: 2, pads: [2, 1, 0, 3] }, 'test');
      const [oh, ow] = [2, 3];
      const x = Float32Array.from({ length: n * c * h * wd }, () => r() * 2 - 1);
      const dy = Float32Array.from({ length: n * m * oh * ow }, () => r() * 2 - 1);
      const gx = new Float64Array(x.length);
      const gw = new Float64Array(w.data.length);
      for (let b = 0; b < n; b++)
        for (let o = 0; o < m; o++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++)
              for (let ky = 0; ky < 3; ky++)
                for (let kx = 0; kx < 3; kx++) {
                  const iy = oy * 2 + ky * 2 - 2;
                  const ix = ox * 2 + kx * 2 - 1;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                  const d = dy[((b * m + o) * oh + oy) * ow + ox]!;
                  const xi = ((b * c + Math.floor(o / 2)) * h + iy) * wd + ix;
                  gx[xi]! += d * w.data[o * 9 + ky * 3 + kx]!;
                  gw[o * 9 + ky * 3 + kx]! += d * x[xi]!;
                }
      const ptr = { x: engine.upload(x, 'x'), w: engine.upload(w.data, 'w'), dy: engine.upload(dy, 'dy') };
      const gxPtr = engine.upload(new Float32Array(x.length).fill(7), 'gx');
      const gwPtr = engine.upload(new Float32Array(w.data.length).fill(7), 'gw');
      try {
        k.gradients(encodeConvSpec(spec), n, h, wd, ptr.x, ptr.w, ptr.dy, { gradInput: gxPtr, gradWeights: 0, gradBias: 0 }, 'dw', () => 'only gradInput');
        const gotX = engine.f32(gxPtr, x.length);
        for (let i = 0; i < x.length; i++) expect(Math.abs(gotX[i]! - gx[i]!), `gradInput[${i}]`).toBeLessThan(1e-5);
        expect([...engine.f32(gwPtr, w.data.length)].every((v) => v === 7)).toBe(true);
        k.gradients(encodeConvSpec(spec), n, h, wd, ptr.x, ptr.w, ptr.dy, { gradInput: 0, gradWeights: gwPtr, gradBias: 0 }, 'dw', () => 'only gradWeight');
        const gotW = engine.f32(gwPtr, w.data.length);
        for (let i = 0; i < gw.length; i++) expect(Math.abs(gotW[i]! - gw[i]!), `gradWeight[${i}]`).toBeLessThan(1e-5);

        const relu = encodeConvSpec({ ...spec, activation: { code: 1, p0: 0, p1: 0 } as typeof spec.activation });
        expect(() => k.gradients(relu, n, h, wd, ptr.x, ptr.w, ptr.dy, { gradInput: gxPtr, gradWeights: 0, gradBias: 0 }, 'dw', () => 'relu')).toThrow(
          /dw: a descriptor field is out of range \(relu\)/,
        );
        // Height 1 cannot hold the 5-row dilated kernel with 2 rows of padding.
        expect(() => k.gradients(encodeConvSpec(spec), n, 1, wd, ptr.x, ptr.w, ptr.dy, { gradInput: gxPtr, gradWeights: 0, gradBias: 0 }, 'dw', () => 'h 1')).toThrow(
          /dw: the output would be smaller than 1 pixel/,
        );
      } finally {
        engine.free(ptr.x, x.byteLength);
        engine.free(ptr.w, w.data.byteLength);
        engine.free(ptr.dy, dy.byteLength);
        engine.free(gxPtr, x.byteLength);
        engine.free(gwPtr, w.data.byteLength);
      }
    });
  }
});
