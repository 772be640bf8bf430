import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { InferenceSession } from '../onnx/session.js';
import { Tensor } from '../tensor.js';
import { randomFloats } from '../../test-support/onnx-builder.js';
import { TfliteBuilder, halfBits, tfl } from '../../test-support/tflite-builder.js';

const { BuiltinOperator: Op, BuiltinOptions: Opt, Padding, ActivationFunctionType: Act } = tfl;

type Dims = [number, number, number, number];

/** TF's output size and begin pad for SAME / VALID (the odd pad at the end). */
function tfPad(size: number, k: number, s: number, d: number, same: boolean): { out: number; begin: number } {
  const eff = (k - 1) * d + 1;
  if (!same) return { out: Math.floor((size - eff) / s) + 1, begin: 0 };
  const out = Math.ceil(size / s);
  return { out, begin: Math.floor(Math.max((out - 1) * s + eff - size, 0) / 2) };
}

/** Grouped conv in NHWC with [O, kH, kW, I] filters, written from TFLite's definition. */
function convNhwc(x: Float32Array, [n, h, w, c]: Dims, f: Float32Array, [o, kh, kw, ci]: Dims, bias: Float32Array | undefined, s: [number, number], d: [number, number], same: boolean) {
  const py = tfPad(h, kh, s[0], d[0], same), px = tfPad(w, kw, s[1], d[1], same);
  const groups = c / ci, perGroup = o / groups;
  const out = new Float32Array(n * py.out * px.out * o);
  for (let b = 0; b < n; b++) for (let y = 0; y < py.out; y++) for (let xx = 0; xx < px.out; xx++) for (let oc = 0; oc < o; oc++) {
    let acc = bias ? bias[oc]! : 0;
    const g = Math.floor(oc / perGroup);
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = y * s[0] - py.begin + ky * d[0], ix = xx * s[1] - px.begin + kx * d[1];
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
      for (let i = 0; i < ci; i++) acc += x[((b * h + iy) * w + ix) * c + g * ci + i]! * f[((oc * kh + ky) * kw + kx) * ci + i]!;
    }
    out[((b * py.out + y) * px.out + xx) * o + oc] = acc;
  }
  return { data: out, dims: [n, py.out, px.out, o] };
}

async function run(m: TfliteBuilder, x: Float32Array, dims: number[], inputName = 'x'): Promise<{ session: InferenceSession; out: Tensor }> {
  const session = await InferenceSession.create(m.bytes());
  const r = await session.run({ [inputName]: new Tensor('float32', x, dims) });
  return { session, out: r[session.outputNames[0]!]! };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  let worst = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  expect(worst).toBeLessThanOrEqual(tol * Math.max(1, scale));
}

async function rejection(p: Promise<unknown>): Promise<AtrousError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AtrousError) return e;
    throw e;
  }
  throw new Error('expected an AtrousError');
}

const relu = (v: Float32Array) => v.map((a) => Math.max(0, a));

describe('TFLite import: convolutions', () => {
  for (const c of [
    { what: 'a 5x5 conv, dilation 2, SAME, stride 1 (the classic 28x28 case)', x: [1, 28, 28, 1] as Dims, f: [2, 5, 5, 1] as Dims, s: [1, 1] as [number, number], d: [2, 2] as [number, number], same: true, act: Act.NONE },
    { what: 'a 3x3 conv, stride 2, SAME on odd sizes (the extra pad at the end), fused RELU', x: [2, 7, 8, 3] as Dims, f: [4, 3, 3, 3] as Dims, s: [2, 2] as [number, number], d: [1, 1] as [number, number], same: true, act: Act.RELU },
    { what: 'a 3x2 conv, dilations 3 and 2, VALID', x: [1, 11, 9, 2] as Dims, f: [3, 3, 2, 2] as Dims, s: [1, 1] as [number, number], d: [3, 2] as [number, number], same: false, act: Act.NONE },
    { what: 'a grouped conv (filter I = C / 2)', x: [1, 6, 6, 4] as Dims, f: [6, 3, 3, 2] as Dims, s: [1, 1] as [number, number], d: [1, 1] as [number, number], same: true, act: Act.NONE },
  ]) {
    it(`CONV_2D: ${c.what}`, async () => {
      const m = new TfliteBuilder();
      const xs = randomFloats(c.x.reduce((a, b) => a * b), 1);
      const fs = randomFloats(c.f.reduce((a, b) => a * b), 2);
      const bs = randomFloats(c.f[0], 3);
      const x = m.input('x', c.x);
      const f = m.f32('filter', c.f, fs);
      const b = m.f32('bias', [c.f[0]], bs);
      const want = convNhwc(xs, c.x, fs, c.f, bs, c.s, c.d, c.same);
      const y = m.tensor('y', want.dims);
      m.op(Op.CONV_2D, [x, f, b], [y], (fbb) => [Opt.Conv2DOptions, tfl.Conv2DOptions.createConv2DOptions(fbb, c.same ? Padding.SAME : Padding.VALID, c.s[1], c.s[0], c.act, c.d[1], c.d[0])]);
      m.output(y);
      const { session, out } = await run(m, xs, c.x);
      expect(out.dims).toEqual(want.dims);
      expectClose(out.data as Float32Array, c.act === Act.RELU ? relu(want.data) : want.data);
      session.dispose();
    });
  }

  it('DEPTHWISE_CONV_2D: depth multiplier 2, dilation 2, SAME, fused RELU6, fp16 weights through DEQUANTIZE', async () => {
    const m = new TfliteBuilder();
    const dims: Dims = [1, 9, 10, 3];
    const xs = randomFloats(270, 4).map((v) => v * 8);
    const fs = randomFloats(3 * 3 * 6, 5);
    const bs = randomFloats(6, 6);
    const x = m.input('x', dims);
    const half = m.f16('filter_fp16', [1, 3, 3, 6], fs);
    const f = m.tensor('filter', [1, 3, 3, 6]);
    m.op(Op.DEQUANTIZE, [half], [f]);
    const b = m.f32('bias', [6], bs);
    const y = m.tensor('y', [1, 9, 10, 6]);
    m.op(Op.DEPTHWISE_CONV_2D, [x, f, b], [y], (fbb) => [Opt.DepthwiseConv2DOptions, tfl.DepthwiseConv2DOptions.createDepthwiseConv2DOptions(fbb, Padding.SAME, 1, 1, 2, Act.RELU6, 2, 2)]);
    m.output(y);
    // The reference reads the same fp16-rounded weights: depthwise is a grouped conv, filter [6, 3, 3, 1].
    const rounded = new Float32Array(54);
    const h = halfBits(fs);
    for (let i = 0; i < 54; i++) rounded[i] = halfToFloat(h[i]!);
    const grouped = new Float32Array(54);
    for (let k = 0; k < 9; k++) for (let oc = 0; oc < 6; oc++) grouped[oc * 9 + k] = rounded[k * 6 + oc]!;
    const want = convNhwc(xs, dims, grouped, [6, 3, 3, 1], bs, [1, 1], [2, 2], true);
    const { session, out } = await run(m, xs, dims);
    expectClose(out.data as Float32Array, want.data.map((v) => Math.min(6, Math.max(0, v))));
    session.dispose();
  });

  it('TRANSPOSE_CONV (stride 2, SAME) and MediaPipe Convolution2DTransposeBias agree with a scatter reference', async () => {
    const dims: Dims = [1, 4, 5, 3];
    const xs = randomFloats(60, 7);
    const fs = randomFloats(2 * 3 * 3 * 3, 8);
    const bs = randomFloats(2, 9);
    const outDims: Dims = [1, 8, 10, 2];
    // Scatter form: out[y*s - pad + ky] += x[y] * f[o, ky, kx, i]; SAME pad = floor(total / 2).
    const pad = (size: number, k: number, s: number) => Math.floor(Math.max((Math.ceil(size / s) - 1) * s + k - size, 0) / 2);
    const [py, px] = [pad(8, 3, 2), pad(10, 3, 2)];
    const want = new Float32Array(160);
    for (let p = 0; p < 80; p++) for (let o = 0; o < 2; o++) want[p * 2 + o] = bs[o]!;
    for (let y = 0; y < 4; y++) for (let xx = 0; xx < 5; xx++) for (let o = 0; o < 2; o++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
      const oy = y * 2 - py + ky, ox = xx * 2 - px + kx;
      if (oy < 0 || oy >= 8 || ox < 0 || ox >= 10) continue;
      for (let i = 0; i < 3; i++) want[(oy * 10 + ox) * 2 + o] += xs[(y * 5 + xx) * 3 + i]! * fs[((o * 3 + ky) * 3 + kx) * 3 + i]!;
    }
    {
      const m = new TfliteBuilder();
      const shape = m.i32('output_shape', [4], outDims);
      const f = m.f32('filter', [2, 3, 3, 3], fs);
      const x = m.input('x', dims);
      const b = m.f32('bias', [2], bs);
      const y = m.tensor('y', outDims);
      m.op(Op.TRANSPOSE_CONV, [shape, f, x, b], [y], (fbb) => [Opt.TransposeConvOptions, tfl.TransposeConvOptions.createTransposeConvOptions(fbb, Padding.SAME, 2, 2, Act.NONE)]);
      m.output(y);
      const { session, out } = await run(m, xs, dims);
      expect(out.dims).toEqual(outDims);
      expectClose(out.data as Float32Array, want);
      session.dispose();
    }
    {
      const m = new TfliteBuilder();
      const x = m.input('x', dims);
      const f = m.f32('filter', [2, 3, 3, 3], fs);
      const b = m.f32('bias', [2], bs);
      const y = m.tensor('y', outDims);
      m.custom('Convolution2DTransposeBias', [x, f, b], [y], new Uint8Array(Int32Array.of(1, 2, 2).buffer));
      m.output(y);
      const { session, out } = await run(m, xs, dims);
      expectClose(out.data as Float32Array, want);
      session.dispose();
    }
  });
});

/** Half bits -> float, independent of the package's table. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  return e === 0 ? s * f * 2 ** -24 : s * (1 + f / 1024) * 2 ** (e - 15);
}

/** One op on input x [dims] with declared output dims; `extra` adds its other inputs. */
async function single(op: number, dims: number[], outDims: number[], extra: (m: TfliteBuilder) => number[], options: ((fbb: import('flatbuffers').Builder) => [number, number]) | undefined, xs: Float32Array) {
  const m = new TfliteBuilder();
  const x = m.input('x', dims);
  const more = extra(m);
  const y = m.tensor('y', outDims);
  m.op(op, [x, ...more], [y], options as never);
  m.output(y);
  const r = await run(m, xs, dims);
  r.session.dispose();
  expect(r.out.dims).toEqual(outDims);
  return r.out.data as Float32Array;
}

describe('TFLite import: element-wise, pooling, shapes', () => {
  const dims = [1, 3, 4, 5];
  const xs = randomFloats(60, 11).map((v) => v * 4);
  const at = (y: number, x: number, c: number) => xs[(y * 4 + x) * 5 + c]!;

  it('ADD / SUB / MUL / DIV broadcast [C] constants and [1, 1, 1, C] tensors, with fused activations', async () => {
    const cs = randomFloats(5, 12).map((v) => v + 2);
    const cases: [number, number, (a: number, b: number) => number, number][] = [
      [Op.ADD, Opt.AddOptions, (a, b) => Math.max(0, a + b), Act.RELU],
      [Op.SUB, Opt.SubOptions, (a, b) => Math.min(1, Math.max(-1, a - b)), Act.RELU_N1_TO_1],
      [Op.MUL, Opt.MulOptions, (a, b) => Math.min(6, Math.max(0, a * b)), Act.RELU6],
      [Op.DIV, Opt.DivOptions, (a, b) => a / b, Act.NONE],
    ];
    for (const [op, optType, f, act] of cases) {
      for (const shape of [[5], [1, 1, 1, 5]]) {
        // Add/Sub/Mul/DivOptions all start with fused_activation_function (field 0).
        const got = await single(op, dims, dims, (m) => [m.f32('c', shape, cs)], (fbb) => {
          fbb.startObject(2);
          fbb.addFieldInt8(0, act, 0);
          return [optType, fbb.endObject()];
        }, xs);
        expectClose(got, xs.map((v, i) => f(v, cs[i % 5]!)));
      }
    }
  });

  it('HARD_SWISH, LOGISTIC, RELU, RELU6 and SOFTMAX (beta 2, over channels)', async () => {
    expectClose(await single(Op.HARD_SWISH, dims, dims, () => [], undefined, xs), xs.map((v) => (v * Math.min(6, Math.max(0, v + 3))) / 6));
    expectClose(await single(Op.LOGISTIC, dims, dims, () => [], undefined, xs), xs.map((v) => 1 / (1 + Math.exp(-v))));
    expectClose(await single(Op.RELU, dims, dims, () => [], undefined, xs), xs.map((v) => Math.max(0, v)));
    expectClose(await single(Op.RELU6, dims, dims, () => [], undefined, xs), xs.map((v) => Math.min(6, Math.max(0, v))));
    const got = await single(Op.SOFTMAX, dims, dims, () => [], (fbb) => [Opt.SoftmaxOptions, tfl.SoftmaxOptions.createSoftmaxOptions(fbb, 2)], xs);
    const want = new Float32Array(60);
    for (let p = 0; p < 12; p++) {
      const e = Array.from({ length: 5 }, (_, c) => Math.exp(2 * xs[p * 5 + c]!));
      const sum = e.reduce((a, b) => a + b);
      e.forEach((v, c) => (want[p * 5 + c] = v / sum));
    }
    expectClose(got, want);
  });

  it('AVERAGE_POOL_2D (SAME, padding not counted), MAX_POOL_2D, and a whole-map average', async () => {
    const pool = (max: boolean) => {
      const out = new Float32Array(2 * 2 * 5);
      for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) for (let c = 0; c < 5; c++) {
        // SAME, 3x3 stride 2 on 3x4: output 2x2, total pads 2 (H) and 1 (W): begin 1 and 0.
        let acc = max ? -Infinity : 0, n = 0;
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
          const iy = y * 2 - 1 + ky, ix = x * 2 + kx;
          if (iy < 0 || iy >= 3 || ix < 0 || ix >= 4) continue;
          acc = max ? Math.max(acc, at(iy, ix, c)) : acc + at(iy, ix, c);
          n++;
        }
        out[(y * 2 + x) * 5 + c] = max ? acc : acc / n;
      }
      return out;
    };
    const opts = (k: number[], s: number, same: boolean) => (fbb: import('flatbuffers').Builder): [number, number] => [Opt.Pool2DOptions, tfl.Pool2DOptions.createPool2DOptions(fbb, same ? Padding.SAME : Padding.VALID, s, s, k[1]!, k[0]!, Act.NONE)];
    expectClose(await single(Op.AVERAGE_POOL_2D, dims, [1, 2, 2, 5], () => [], opts([3, 3], 2, true), xs), pool(false));
    expectClose(await single(Op.MAX_POOL_2D, dims, [1, 2, 2, 5], () => [], opts([3, 3], 2, true), xs), pool(true));
    const mean = Array.from({ length: 5 }, (_, c) => Array.from({ length: 12 }, (_, p) => xs[p * 5 + c]!).reduce((a, b) => a + b) / 12);
    expectClose(await single(Op.AVERAGE_POOL_2D, dims, [1, 1, 1, 5], () => [], opts([3, 4], 1, false), xs), mean);
    // MEAN over H, W, with and without keep_dims.
    expectClose(await single(Op.MEAN, dims, [1, 1, 1, 5], (m) => [m.i32('axes', [2], [1, 2])], (fbb) => [Opt.ReducerOptions, tfl.ReducerOptions.createReducerOptions(fbb, true)], xs), mean);
    expectClose(await single(Op.MEAN, dims, [1, 5], (m) => [m.i32('axes', [2], [1, 2])], (fbb) => [Opt.ReducerOptions, tfl.ReducerOptions.createReducerOptions(fbb, false)], xs), mean);
    // MEAN over C without keep_dims: [1, 3, 4] in TFLite's order.
    const overC = Array.from({ length: 12 }, (_, p) => Array.from({ length: 5 }, (_, c) => xs[p * 5 + c]!).reduce((a, b) => a + b) / 5);
    expectClose(await single(Op.MEAN, dims, [1, 3, 4], (m) => [m.i32('axes', [1], [3])], (fbb) => [Opt.ReducerOptions, tfl.ReducerOptions.createReducerOptions(fbb, false)], xs), overC);
  });

  it('MEAN over W alone without keep_dims: [1, 3, 5] in TFLite\'s order (C moves back behind H)', async () => {
    const want = Float32Array.from({ length: 15 }, (_, i) => { const y = Math.floor(i / 5), c = i % 5; return (at(y, 0, c) + at(y, 1, c) + at(y, 2, c) + at(y, 3, c)) / 4; });
    expectClose(await single(Op.MEAN, dims, [1, 3, 5], (m) => [m.i32('axes', [1], [2])], (fbb) => [Opt.ReducerOptions, tfl.ReducerOptions.createReducerOptions(fbb, false)], xs), want);
  });

  it('TRANSPOSE_CONV with VALID padding, a crop at the end and a fused RELU', async () => {
    // 3x3 stride 2 on 3x4 reaches 7x9; VALID pads nothing and keeps the first 6x9 rows and columns.
    const fs = randomFloats(2 * 3 * 3 * 5, 21);
    const full = new Float32Array(7 * 9 * 2);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) for (let o = 0; o < 2; o++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
      for (let i = 0; i < 5; i++) full[((y * 2 + ky) * 9 + x * 2 + kx) * 2 + o] += at(y, x, i) * fs[((o * 3 + ky) * 3 + kx) * 5 + i]!;
    }
    const m = new TfliteBuilder();
    const shape = m.i32('output_shape', [4], [1, 6, 9, 2]);
    const f = m.f32('filter', [2, 3, 3, 5], fs);
    const x = m.input('x', dims);
    const y = m.tensor('y', [1, 6, 9, 2]);
    m.op(Op.TRANSPOSE_CONV, [shape, f, x], [y], (fbb) => [Opt.TransposeConvOptions, tfl.TransposeConvOptions.createTransposeConvOptions(fbb, Padding.VALID, 2, 2, Act.RELU)]);
    m.output(y);
    const { session, out } = await run(m, xs, dims);
    expectClose(out.data as Float32Array, relu(full.subarray(0, 6 * 9 * 2)));
    session.dispose();
  });

  it('FULLY_CONNECTED on a 4-D feature map (rows of K in TFLite\'s order), with bias and fused RELU', async () => {
    // [1, 3, 4, 5] as 12 rows of K = 5 -> [12, 3].
    const ws = randomFloats(15, 22), bs = randomFloats(3, 23);
    const want = Float32Array.from({ length: 36 }, (_, i) => { const r = Math.floor(i / 3), o = i % 3; let a = bs[o]!; for (let c = 0; c < 5; c++) a += xs[r * 5 + c]! * ws[o * 5 + c]!; return Math.max(0, a); });
    const got = await single(Op.FULLY_CONNECTED, dims, [12, 3], (m) => [m.f32('w', [3, 5], ws), m.f32('b', [3], bs)], (fbb) => [Opt.FullyConnectedOptions, tfl.FullyConnectedOptions.createFullyConnectedOptions(fbb, Act.RELU, tfl.FullyConnectedOptionsWeightsFormat.DEFAULT, false)], xs);
    expectClose(got, want);
    // keep_num_dims: [1, 3, 4, 3].
    const kept = await single(Op.FULLY_CONNECTED, dims, [1, 3, 4, 3], (m) => [m.f32('w', [3, 5], ws), m.f32('b', [3], bs)], (fbb) => [Opt.FullyConnectedOptions, tfl.FullyConnectedOptions.createFullyConnectedOptions(fbb, Act.RELU, tfl.FullyConnectedOptionsWeightsFormat.DEFAULT, true)], xs);
    expectClose(kept, want);
  });

  it('RESIZE_BILINEAR (align_corners, half_pixel_centers, neither) and RESIZE_NEAREST_NEIGHBOR', async () => {
    const [oh, ow] = [5, 7];
    const sample = (mode: 'align' | 'half' | 'asym', linear: boolean) => {
      const out = new Float32Array(oh * ow * 5);
      const src = (o: number, inSize: number, outSize: number) => {
        const scale = mode === 'align' && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
        return mode === 'half' ? (linear ? (o + 0.5) * scale - 0.5 : (o + 0.5) * scale) : o * scale;
      };
      for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) for (let c = 0; c < 5; c++) {
        const sy = src(y, 3, oh), sx = src(x, 4, ow);
        if (!linear) {
          const r = (v: number, n: number) => Math.max(0, Math.min(n - 1, mode === 'align' ? Math.round(v) : Math.floor(v)));
          out[(y * ow + x) * 5 + c] = at(r(sy, 3), r(sx, 4), c);
          continue;
        }
        const y0 = Math.max(Math.floor(sy), 0), y1 = Math.min(Math.ceil(sy), 2), x0 = Math.max(Math.floor(sx), 0), x1 = Math.min(Math.ceil(sx), 3);
        const dy = sy - Math.floor(sy), dx = sx - Math.floor(sx);
        const top = at(y0, x0, c) * (1 - dx) + at(y0, x1, c) * dx, bottom = at(y1, x0, c) * (1 - dx) + at(y1, x1, c) * dx;
        out[(y * ow + x) * 5 + c] = top * (1 - dy) + bottom * dy;
      }
      return out;
    };
    for (const mode of ['align', 'half', 'asym'] as const) {
      for (const linear of [true, false]) {
        const got = await single(linear ? Op.RESIZE_BILINEAR : Op.RESIZE_NEAREST_NEIGHBOR, dims, [1, oh, ow, 5], (m) => [m.i32('size', [2], [oh, ow])], (fbb) => [
          linear ? Opt.ResizeBilinearOptions : Opt.ResizeNearestNeighborOptions,
          (linear ? tfl.ResizeBilinearOptions.createResizeBilinearOptions : tfl.ResizeNearestNeighborOptions.createResizeNearestNeighborOptions)(fbb, mode === 'align', mode === 'half'),
        ], xs);
        expectClose(got, sample(mode, linear));
      }
    }
  });

  it('CONCATENATION on channels, RESHAPE to [1, 60], PAD', async () => {
    const other = randomFloats(24, 13);
    const got = await single(Op.CONCATENATION, dims, [1, 3, 4, 7], (m) => [m.f32('c', [1, 3, 4, 2], other)], (fbb) => [Opt.ConcatenationOptions, tfl.ConcatenationOptions.createConcatenationOptions(fbb, -1, Act.NONE)], xs);
    expectClose(got, Float32Array.from({ length: 84 }, (_, i) => { const p = Math.floor(i / 7), c = i % 7; return c < 5 ? xs[p * 5 + c]! : other[p * 2 + c - 5]!; }));
    expectClose(await single(Op.RESHAPE, dims, [1, 60], (m) => [m.i32('shape', [2], [1, 60])], undefined, xs), xs);
    const padded = await single(Op.PAD, dims, [1, 6, 5, 5], (m) => [m.i32('paddings', [4, 2], [0, 0, 1, 2, 0, 1, 0, 0])], undefined, xs);
    expectClose(padded, Float32Array.from({ length: 150 }, (_, i) => { const c = i % 5, x = Math.floor(i / 5) % 5, y = Math.floor(i / 25); return y >= 1 && y < 4 && x < 4 ? at(y - 1, x, c) : 0; }));
  });
});

describe('TFLite import: the model as a whole', () => {
  it('keeps the model\'s names and NHWC dims, and reports producer, description and metadata', async () => {
    const m = new TfliteBuilder();
    m.description = 'a relu';
    m.meta('min_runtime_version', new TextEncoder().encode('1.5.0\0\0\0'));
    m.meta('TFLITE_METADATA', Uint8Array.of(0x10, 0, 0, 0, 0xff, 0x01));
    const x = m.input('images', [1, 2, 2, 3]);
    const y = m.tensor('probabilities', [1, 2, 2, 3]);
    m.op(Op.RELU, [x], [y]);
    m.output(y);
    const session = await InferenceSession.create(m.bytes());
    expect(session.inputNames).toEqual(['images']);
    expect(session.outputNames).toEqual(['probabilities']);
    expect(session.inputMetadata).toEqual([{ name: 'images', isTensor: true, type: 'float32', dims: [1, 2, 2, 3], shape: [1, 2, 2, 3] }]);
    expect(session.metadata.producerName).toBe('tflite');
    expect(session.metadata.docString).toBe('a relu');
    expect(session.metadata.custom).toEqual({ min_runtime_version: '1.5.0', TFLITE_METADATA: '(6 bytes)' });
    session.dispose();
  });

  it('refuses an op atrous lacks with UNSUPPORTED_OP naming the op and its output', async () => {
    const m = new TfliteBuilder();
    const x = m.input('x', [1, 4]);
    const y = m.tensor('gelu_out', [1, 4]);
    m.op(Op.GELU, [x], [y]);
    m.output(y);
    const e = await rejection(InferenceSession.create(m.bytes()));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toContain('GELU');
    expect(e.message).toContain('gelu_out');
  });

  it('refuses an int8-quantised tensor with UNSUPPORTED_OP naming the op and the tensor', async () => {
    const m = new TfliteBuilder();
    const x = m.input('x', [1, 4]);
    const q = m.tensor('x_int8', [1, 4], tfl.TensorType.INT8, undefined, 0.05);
    m.op(Op.QUANTIZE, [x], [q]);
    const y = m.tensor('y', [1, 4], tfl.TensorType.INT8, undefined, 0.05);
    m.op(Op.RELU, [q], [y]);
    m.output(y);
    const e = await rejection(InferenceSession.create(m.bytes()));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/int8-quantised/);
    expect(e.message).toMatch(/"y"/);
  });

  it('refuses a damaged file with INVALID_MODEL', async () => {
    const m = new TfliteBuilder();
    const x = m.input('x', [1, 4]);
    const y = m.tensor('y', [1, 4]);
    m.op(Op.RELU, [x], [y]);
    m.output(y);
    const bytes = m.bytes();
    const cut = bytes.slice(0, 40);
    expect((await rejection(InferenceSession.create(cut))).code).toBe('INVALID_MODEL');
    const badRoot = bytes.slice();
    new DataView(badRoot.buffer).setUint32(0, 0x7fffffff, true);
    expect((await rejection(InferenceSession.create(badRoot))).code).toBe('INVALID_MODEL');
  });
});
