// The backward facade on every build. Conv: a null out-pointer skips that gradient and leaves its buffer
// alone, the others match a plain JavaScript backward, bad descriptors and sizes are AtrousErrors naming the
// op (accuracy over every option is test/conv/backward-*.test.ts, against PyTorch). Activations: from the
// input and from the output, against the derivatives written out here. Resize (linear, cubic,
// extrapolated): the transpose of the forward, <dy, R x> = <R' dy, x>.
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { resolveActivation, type Activation } from '../ops/activation.js';
import { encodeConvSpec, resolveConvSpec } from '../ops/conv-options.js';
import { Tensor } from '../tensor.js';
import { ResizeDesc, ResizeMode } from '../wasm/abi.js';
import { BUILDS } from '../wasm/builds.js';
import { instantiate } from '../wasm/loader.js';
import { xorshift32 as rng } from '../../test-support/seeded-random.js';

setFlagsFromString('--experimental-wasm-relaxed-simd');

describe('conv backward kernels', () => {
  for (const build of BUILDS) {
    it(`${build}: skipped gradients stay untouched, the others are right, bad calls are errors`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.backward;
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
        k.conv(encodeConvSpec(spec), n, h, wd, ptr.x, ptr.w, ptr.dy, { gradInput: gxPtr, gradWeights: 0, gradBias: 0 }, 'dw', () => 'only gradInput');
        const gotX = engine.f32(gxPtr, x.length);
        for (let i = 0; i < x.length; i++) expect(Math.abs(gotX[i]! - gx[i]!), `gradInput[${i}]`).toBeLessThan(1e-5);
        expect([...engine.f32(gwPtr, w.data.length)].every((v) => v === 7)).toBe(true);
        k.conv(encodeConvSpec(spec), n, h, wd, ptr.x, ptr.w, ptr.dy, { gradInput: 0, gradWeights: gwPtr, gradBias: 0 }, 'dw', () => 'only gradWeight');
        const gotW = engine.f32(gwPtr, w.data.length);
        for (let i = 0; i < gw.length; i++) expect(Math.abs(gotW[i]! - gw[i]!), `gradWeight[${i}]`).toBeLessThan(1e-5);

        const relu = encodeConvSpec({ ...spec, activation: { code: 1, p0: 0, p1: 0 } as typeof spec.activation });
        expect(() => k.conv(relu, n, h, wd, ptr.x, ptr.w, ptr.dy, { gradInput: gxPtr, gradWeights: 0, gradBias: 0 }, 'dw', () => 'relu')).toThrow(
          /dw: a descriptor field is out of range \(relu\)/,
        );
        // Height 1 cannot hold the 5-row dilated kernel with 2 rows of padding.
        expect(() => k.conv(encodeConvSpec(spec), n, 1, wd, ptr.x, ptr.w, ptr.dy, { gradInput: gxPtr, gradWeights: 0, gradBias: 0 }, 'dw', () => 'h 1')).toThrow(
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

    it(`${build}: activation gradients from the input and from the output`, async () => {
      const engine = await instantiate(build);
      const k = engine.kernels.backward;
      const sig = (x: number) => 1 / (1 + Math.exp(-x));
      const cases: [Activation, (x: number) => number, (x: number) => number, boolean][] = [
        ['relu', (x) => Math.max(x, 0), (x) => (x > 0 ? 1 : 0), true],
        ['relu6', (x) => Math.min(Math.max(x, 0), 6), (x) => (x > 0 && x < 6 ? 1 : 0), true],
        [{ type: 'clip', min: -0.5, max: 0.25 }, (x) => Math.min(Math.max(x, -0.5), 0.25), (x) => (x > -0.5 && x < 0.25 ? 1 : 0), true],
        ['hardSigmoid', (x) => Math.min(Math.max(0.2 * x + 0.5, 0), 1), (x) => (0.2 * x + 0.5 > 0 && 0.2 * x + 0.5 < 1 ? 0.2 : 0), true],
        ['hardSwish', (x) => x * Math.min(Math.max(x / 6 + 0.5, 0), 1), (x) => (x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1), false],
        ['sigmoid', sig, (x) => sig(x) * (1 - sig(x)), true],
        [{ type: 'leakyRelu', alpha: 0.2 }, (x) => (x > 0 ? x : 0.2 * x), (x) => (x > 0 ? 1 : 0.2), true],
      ];
      const r = rng(build.length * 17 + 3);
      const n = 203; // not a multiple of the vector width: the tail goes through the same code
      const x = Float32Array.from({ length: n }, () => (r() * 2 - 1) * 8);
      const dy = Float32Array.from({ length: n }, () => r() * 2 - 1);
      for (const [activation, f, df, fromOutput] of cases) {
        const a = resolveActivation(activation, 'a');
        const y = Float32Array.from(x, f);
        const ptr = { x: engine.upload(x, 'x'), y: engine.upload(y, 'y'), dy: engine.upload(dy, 'dy'), dx: engine.upload(new Float32Array(n), 'dx') };
        try {
          k.activation(ptr.x, 'input', ptr.dy, ptr.dx, n, a, 'act');
          const got = engine.f32(ptr.dx, n);
          for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - dy[i]! * df(x[i]!)), `${JSON.stringify(activation)} at ${x[i]}`).toBeLessThan(1e-6);
          if (fromOutput) {
            k.activation(ptr.y, 'output', ptr.dy, ptr.dx, n, a, 'act');
            const fromY = engine.f32(ptr.dx, n);
            for (let i = 0; i < n; i++) expect(Math.abs(fromY[i]! - dy[i]! * df(x[i]!)), `${JSON.stringify(activation)} from y at ${x[i]}`).toBeLessThan(1e-6);
          } else {
            expect(() => k.activation(ptr.y, 'output', ptr.dy, ptr.dx, n, a, 'act')).toThrow(/act: a descriptor field is out of range/);
          }
        } finally {
          for (const p of Object.values(ptr)) engine.free(p, n * 4);
        }
      }
    });

    it(`${build}: the resize gradient is the forward's transpose (linear, cubic, extrapolated)`, async () => {
      const engine = await instantiate(build);
      const r = rng(build.length * 5 + 11);
      const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
      const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;
      for (let trial = 0; trial < 12; trial++) {
        const [planes, h, w, oh, ow] = [int(1, 3), int(1, 9), int(1, 9), int(1, 21), int(1, 21)];
        const desc = new Uint32Array(ResizeDesc.LEN);
        [desc[ResizeDesc.PLANES], desc[ResizeDesc.IN_H], desc[ResizeDesc.IN_W], desc[ResizeDesc.OUT_H], desc[ResizeDesc.OUT_W]] = [planes, h, w, oh, ow];
        desc[ResizeDesc.MODE] = trial % 2 === 0 ? ResizeMode.linear : ResizeMode.cubic;
        desc[ResizeDesc.CUBIC_A] = f32Bits(-0.75);
        desc[ResizeDesc.EXCLUDE_OUTSIDE] = trial % 4 === 1 ? 1 : 0;
        // Extrapolation with value 0 keeps the resize linear in its input.
        desc[ResizeDesc.EXTRAPOLATE] = trial % 3 === 2 ? 1 : 0;
        const axis = (out: number, size: number) => Array.from({ length: out }, (_, o) => (o + 0.5) * (size / out) - 0.5 + (trial % 3 === 2 ? r() * 2 - 1 : 0));
        const coords = Float64Array.from([...axis(oh, h), ...axis(ow, w)]);
        const x = Float32Array.from({ length: planes * h * w }, () => r() * 2 - 1);
        const dy = Float32Array.from({ length: planes * oh * ow }, () => r() * 2 - 1);
        const p = { x: engine.upload(x, 'x'), y: engine.upload(new Float32Array(dy.length), 'y'), dy: engine.upload(dy, 'dy'), dx: engine.upload(new Float32Array(x.length).fill(Number.NaN), 'dx') };
        try {
          engine.kernels.maps.resize(p.x, p.y, desc, coords, 'Resize_1');
          engine.kernels.backward.resize(p.dy, p.dx, desc, coords, 'Resize_1');
          const y = engine.f32(p.y, dy.length);
          const dx = engine.f32(p.dx, x.length);
          let lhs = 0;
          let rhs = 0;
          let scale = 1;
          for (let i = 0; i < dy.length; i++) (lhs += dy[i]! * y[i]!), (scale += Math.abs(dy[i]!));
          for (let i = 0; i < x.length; i++) rhs += dx[i]! * x[i]!;
          expect(Math.abs(lhs - rhs), `<dy, Rx> ${lhs} vs <R'dy, x> ${rhs}: ${Array.from(desc)}`).toBeLessThan(1e-5 * scale);
          expect(() => engine.kernels.backward.resize(p.dy, p.dx, desc, coords.subarray(1), 'Resize_1')).toThrow(/Resize_1: resize needs/);
          const bad = desc.slice();
          bad[ResizeDesc.MODE] = 7;
          expect(() => engine.kernels.backward.resize(p.dy, p.dx, bad, coords, 'Resize_1')).toThrow(/Resize_1: a descriptor field is out of range/);
        } finally {
          engine.free(p.x, x.byteLength);
          engine.free(p.y, dy.byteLength);
          engine.free(p.dy, dy.byteLength);
          engine.free(p.dx, x.byteLength);
        }
      }
    });
  }
});
