// Winograd parity (issue 13): 3x3 stride-1 convolutions the plan runs with Winograd (checked through
// `plan.method`), against onnxruntime-node and a float64 reference, within 1e-4 of max |output|. The cases
// cover every tile remainder of F(4x4) and F(3x3) (output sizes per sub-lattice), every dilation 1 to 24, any
// padding, 1024 input or output channels, inputs scaled by 1e3 and 1e-3, and the fused epilogue.
import { describe, expect, it, beforeAll } from 'vitest';
import { Tensor, init, loadedBuild, prepareConv2d, type WasmBuild } from 'atrous';
import { compare, describeCase, expectedOutputDims, explicitPads, rng, type CaseActivation, type ConvCase } from './cases.js';
import type { Oracle } from './parity-suite.js';

export interface WinogradSuiteOptions {
  build: WasmBuild;
  oracle: Oracle;
}

interface WinogradCase {
  conv: ConvCase;
  /** Input values are uniform in [-scale, scale] (bias and residual too). */
  scale: number;
}

let next = 0;

function winogradCase(
  shape: { c: number; m: number; h: number; w: number; d: [number, number]; pads?: [number, number, number, number] | 'same-upper' | 'same-lower' },
  extra: { scale?: number; batch?: number; activation?: CaseActivation; residual?: boolean; tag: string },
): WinogradCase {
  const [dy, dx] = shape.d;
  const pads = shape.pads ?? [dy, dx, dy, dx];
  const index = next++;
  return {
    scale: extra.scale ?? 1,
    conv: {
      index,
      seed: 0x3a3a0000 + index,
      op: 'plan',
      causal: false,
      batch: extra.batch ?? 1,
      inChannels: shape.c,
      outChannels: shape.m,
      groups: 1,
      height: shape.h,
      width: shape.w,
      kernel: [3, 3],
      strides: [1, 1],
      dilations: shape.d,
      pads: typeof pads === 'string' ? { kind: pads } : { kind: 'explicit', pads },
      bias: true,
      residual: extra.residual ?? false,
      activation: extra.activation ?? { kind: 'none' },
      tags: [extra.tag],
    },
  };
}

/** The cases, each checked to run on Winograd before it is compared. */
export function winogradCases(): WinogradCase[] {
  next = 0;
  const cases: WinogradCase[] = [];
  // Tile remainders: F(4x4) at dilation 1 and 2 (each sub-lattice of a 2x-dilated map has its own size), sizes
  // 24 + r for every remainder r of 4 along each axis.
  for (const d of [1, 2]) {
    for (const [h, w] of [[24, 25], [26, 27], [25 * d, 24 * d + 1], [27 * d + 1, 26 * d]] as const) {
      cases.push(winogradCase({ c: 48, m: 40, h, w, d: [d, d] }, { tag: `F4 remainders ${h % 4},${w % 4} d${d}` }));
    }
  }
  // Every dilation 1 to 24 (F(4x4) below 6, F(3x3) from 6), each on the smallest map from 33 up where the
  // cost model predicts Winograd 1.3x faster (so a small change to its constants keeps these Winograd cases);
  // across the rates the sub-lattices take every remainder of 3 and 4.
  const maps = [33, 33, 33, 33, 34, 33, 37, 47, 48, 53, 39, 36, 69, 51, 79, 48, 61, 54, 100, 72, 62, 66, 83, 72];
  for (let d = 1; d <= 24; d++) {
    const h = maps[d - 1]!;
    const pads: [number, number, number, number] | 'same-lower' = d % 3 === 0 ? 'same-lower' : d % 3 === 1 ? [d, d, d, d] : [d, 0, 2, d + 1];
    cases.push(winogradCase({ c: 64, m: 64, h, w: h + (d % 2), d: [d, d], pads }, { tag: `dilation ${d}`, residual: d % 4 === 0 }));
  }
  // 1024 channels in and out, and magnitudes 1e3 and 1e-3.
  cases.push(winogradCase({ c: 1024, m: 8, h: 16, w: 17, d: [1, 1] }, { tag: '1024 in' }));
  cases.push(winogradCase({ c: 32, m: 1024, h: 16, w: 16, d: [2, 2] }, { tag: '1024 out' }));
  for (const scale of [1e3, 1e-3]) {
    cases.push(winogradCase({ c: 256, m: 64, h: 33, w: 33, d: [1, 1] }, { tag: `inputs x${scale}`, scale }));
    cases.push(winogradCase({ c: 256, m: 256, h: 33, w: 33, d: [12, 12] }, { tag: `aspp inputs x${scale}`, scale }));
  }
  // The epilogue (residual before the activation), batches, different dilations along the two axes.
  const activations: CaseActivation[] = [{ kind: 'relu' }, { kind: 'relu6' }, { kind: 'hardSwish' }, { kind: 'sigmoid' }, { kind: 'leakyRelu', alpha: 0.1 }];
  for (const [i, activation] of activations.entries()) {
    cases.push(winogradCase({ c: 64, m: 48, h: 30, w: 29, d: [1 + i, 2], pads: 'same-upper' }, { tag: 'epilogue', batch: 2, activation, residual: true }));
  }
  return cases;
}

function fill(seed: number, n: number, scale: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

function applyActivation(a: CaseActivation, x: number): number {
  switch (a.kind) {
    case 'none':
      return x;
    case 'relu':
      return Math.max(0, x);
    case 'relu6':
      return Math.min(6, Math.max(0, x));
    case 'hardSwish':
      return x * Math.min(1, Math.max(0, x / 6 + 0.5));
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'leakyRelu':
      return x > 0 ? x : (a.alpha ?? 0.01) * x;
    default:
      throw new Error(`no float64 reference for ${a.kind}`);
  }
}

/** The convolution in float64: ONNX Conv semantics, then the residual and the activation. */
export function referenceConv(c: ConvCase, input: Float32Array, weights: Float32Array, bias: Float32Array, residual: Float32Array | undefined): Float64Array {
  const [, , oh, ow] = expectedOutputDims(c) as [number, number, number, number];
  const [top, left] = explicitPads(c);
  const { batch, inChannels: cin, outChannels: m, height: h, width: w } = c;
  const [dy, dx] = c.dilations;
  const out = new Float64Array(batch * m * oh * ow);
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < m; o++) {
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          let sum = bias[o]!;
          for (let ci = 0; ci < cin; ci++) {
            const plane = (n * cin + ci) * h * w;
            const wBase = (o * cin + ci) * 9;
            for (let ky = 0; ky < 3; ky++) {
              const iy = y + ky * dy - top;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < 3; kx++) {
                const ix = x + kx * dx - left;
                if (ix < 0 || ix >= w) continue;
                sum += input[plane + iy * w + ix]! * weights[wBase + ky * 3 + kx]!;
              }
            }
          }
          const at = ((n * m + o) * oh + y) * ow + x;
          if (residual) sum += residual[at]!;
          out[at] = applyActivation(c.activation, sum);
        }
      }
    }
  }
  return out;
}

function toActivation(a: CaseActivation) {
  return a.kind === 'leakyRelu' ? ({ type: 'leakyRelu', alpha: a.alpha ?? 0.01 } as const) : a.kind;
}

export function defineWinogradSuite({ build, oracle }: WinogradSuiteOptions): void {
  describe(`Winograd parity with onnxruntime-node and float64 on the ${build} build`, () => {
    beforeAll(async () => {
      await init({ build });
      expect(loadedBuild()).toBe(build);
    });

    for (const { conv: c, scale } of winogradCases()) {
      it(describeCase(c), async () => {
        const outDims = expectedOutputDims(c);
        const outLength = outDims.reduce((a, b) => a * b, 1);
        const input = fill(c.seed, c.batch * c.inChannels * c.height * c.width, scale);
        const weights = fill(c.seed + 1, c.outChannels * c.inChannels * 9, 1.5 / Math.sqrt(c.inChannels * 9));
        const bias = fill(c.seed + 2, c.outChannels, scale * 0.5);
        const residual = c.residual ? fill(c.seed + 3, outLength, scale) : undefined;
        const plan = prepareConv2d(new Tensor('float32', weights, [c.outChannels, c.inChannels, 3, 3]), {
          bias,
          dilations: c.dilations,
          pads: c.pads.kind === 'explicit' ? c.pads.pads : c.pads.kind,
          activation: toActivation(c.activation),
          // Forced: the cost model keeps the direct method at large dilations on small maps, and these cases
          // are here for Winograd's precision at every dilation. `auto` is checked below.
          method: 'winograd',
        });
        const x = new Tensor('float32', input, [c.batch, c.inChannels, c.height, c.width]);
        let actual: Float32Array;
        try {
          expect(plan.method(x.dims), `method 'winograd' must run Winograd for ${describeCase(c)}`).toBe('winograd');
          actual = plan.run(x, { residual: residual && new Tensor('float32', residual, outDims) }).data;
        } finally {
          plan.dispose();
        }
        const where = `${describeCase(c)} (inputs x${scale}) on ${loadedBuild()}`;
        const expected = await oracle(c, { input, weights, bias, residual });
        expect([...expected.dims], where).toEqual(outDims);
        for (const [name, reference] of [
          ['onnxruntime-node', expected.data],
          ['float64', referenceConv(c, input, weights, bias, residual)],
        ] as const) {
          const r = compare(actual, reference);
          expect(r.ok, `vs ${name}: max error ${r.maxError} > ${r.tolerance} (1e-4 x max |y| ${r.maxAbs}) at ${r.worstIndex}: ${where}`).toBe(true);
        }
      });
    }

    it("options.method: 'auto' lets the cost model choose once per plan, 'direct' and 'winograd' force a family, bad requests are refused", () => {
      const weights = new Tensor('float32', fill(7, 64 * 64 * 9, 0.05), [64, 64, 3, 3]);
      const x = new Tensor('float32', fill(8, 64 * 48 * 48, 1), [1, 64, 48, 48]);
      const methodOf = (options: Parameters<typeof prepareConv2d>[1]) => {
        const plan = prepareConv2d(weights, options);
        try {
          return plan.method(x.dims);
        } finally {
          plan.dispose();
        }
      };
      // Dilation 2 with 64 channels: Winograd pays; at ASPP's dilation 24 the direct method (which skips the
      // taps that read only padding) is kept.
      expect(methodOf({ dilations: 2, pads: [2, 2, 2, 2] })).toBe('winograd');
      expect(methodOf({ dilations: 24, pads: [24, 24, 24, 24] })).toBe('gemm');
      // DeepLabV3-MobileNetV3's rate-24 ASPP branch (960 -> 256, a 33x33 map at 513x513): with many channels
      // Winograd pays at 64x64 but costs 5.5x the direct method's products at 33x33 (one mostly-padding tile
      // per sub-lattice), so the plan, which cannot know the map yet, keeps the direct method.
      const aspp = new Tensor('float32', fill(9, 256 * 960 * 9, 0.01), [256, 960, 3, 3]);
      const asppPlan = prepareConv2d(aspp, { dilations: 24, pads: [24, 24, 24, 24] });
      try {
        expect(asppPlan.method([1, 960, 33, 33])).toBe('gemm');
      } finally {
        asppPlan.dispose();
      }
      expect(methodOf({ dilations: 2, pads: [2, 2, 2, 2], method: 'direct' })).toBe('gemm');
      expect(methodOf({ dilations: 24, pads: [24, 24, 24, 24], method: 'winograd' })).toBe('winograd');
      expect(() => prepareConv2d(weights, { strides: 2, method: 'winograd' })).toThrow(/prepareConv2d/);
      expect(() => prepareConv2d(weights, { method: 'fast' as never })).toThrow(/options\.method must be one of 'auto', 'direct', 'winograd', got "fast"/);
    });

    it("an 'auto' plan packed for the direct method runs Winograd from its first run on a map where that pays, with the forced method's bits at every size", () => {
      // A rate-24 branch: on 33x33 each sub-lattice is one or two pixels (direct); on 129x129 five (Winograd).
      const [m, ch] = [64, 64];
      const weights = new Tensor('float32', fill(11, m * ch * 9, 0.05), [m, ch, 3, 3]);
      const options = { bias: fill(12, m, 0.1), dilations: 24, pads: [24, 24, 24, 24] as [number, number, number, number], activation: 'relu' as const };
      const auto = prepareConv2d(weights, options);
      const direct = prepareConv2d(weights, { ...options, method: 'direct' });
      const winograd = prepareConv2d(weights, { ...options, method: 'winograd' });
      try {
        const small = [1, ch, 33, 33];
        const large = [1, ch, 129, 129];
        expect(auto.method(small)).toBe('gemm');
        expect(auto.method(large)).toBe('winograd');
        expect(direct.method(large)).toBe('gemm');
        const packed = auto.preparedBytes;
        for (const dims of [large, small, large]) {
          const x = new Tensor('float32', fill(dims[2]!, dims.reduce((a, b) => a * b, 1), 1), dims);
          const want = (dims === large ? winograd : direct).run(x).data;
          const got = auto.run(x).data;
          expect(new Uint32Array(got.buffer), `auto on ${dims.join('x')}`).toEqual(new Uint32Array(want.buffer));
        }
        // Winograd's weights were added once, beside the direct packing (the bias is counted once).
        expect(auto.preparedBytes).toBe(packed + winograd.preparedBytes - m * 4);
      } finally {
        for (const p of [auto, direct, winograd]) p.dispose();
      }
    });
  });
}
