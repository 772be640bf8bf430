// TFLite's shape_signature: -1 marks a dim left to run time (a dynamic batch; `shape` then holds 1 there).
// A model built here with the flatbuffers builder, conv -> resize -> reshape -> fully connected, with a
// dynamic batch: any batch runs, each sample gives what the same model with a fixed batch of 1 gives it,
// and inputMetadata / outputMetadata report the dim as symbolic.
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { InferenceSession } from '../onnx/session.js';
import { Tensor } from '../tensor.js';
import { randomFloats } from '../../test-support/onnx-builder.js';
import { TfliteBuilder, tfl } from '../../test-support/tflite-builder.js';

const { BuiltinOperator: Op, BuiltinOptions: Opt, Padding, ActivationFunctionType: Act } = tfl;
const [H, W, C, F, RH, RW, N] = [5, 4, 2, 3, 7, 6, 4];

/** The model; `dynamic` gives every tensor with a batch dim a shape_signature with -1 there. */
function model(dynamic: boolean, inputSignature?: number[]): Uint8Array {
  const m = new TfliteBuilder();
  const batched = (name: string, shape: number[]) => {
    const i = m.tensor(name, shape);
    if (dynamic) m.signature(i, [-1, ...shape.slice(1)]);
    return i;
  };
  const x = m.input('x', [1, H, W, C], dynamic ? inputSignature ?? [-1, H, W, C] : undefined);
  const filter = m.f32('filter', [F, 3, 3, C], randomFloats(F * 9 * C, 1));
  const bias = m.f32('bias', [F], randomFloats(F, 2));
  const conv = batched('conv', [1, H, W, F]);
  m.op(Op.CONV_2D, [x, filter, bias], [conv], (fbb) => [Opt.Conv2DOptions, tfl.Conv2DOptions.createConv2DOptions(fbb, Padding.SAME, 1, 1, Act.RELU, 1, 1)]);
  const resized = batched('resized', [1, RH, RW, F]);
  m.op(Op.RESIZE_BILINEAR, [conv, m.i32('size', [2], [RH, RW])], [resized], (fbb) => [Opt.ResizeBilinearOptions, tfl.ResizeBilinearOptions.createResizeBilinearOptions(fbb, false, true)]);
  const flat = batched('flat', [1, RH * RW * F]);
  m.op(Op.RESHAPE, [resized, m.i32('flat_shape', [2], [-1, RH * RW * F])], [flat]);
  const y = batched('scores', [1, N]);
  m.op(Op.FULLY_CONNECTED, [flat, m.f32('weights', [N, RH * RW * F], randomFloats(N * RH * RW * F, 3)), m.f32('fc_bias', [N], randomFloats(N, 4))], [y]);
  m.output(y);
  return m.bytes();
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

describe('TFLite shape_signature: dims left to run time', () => {
  it('a -1 batch takes any batch at run, each sample as the fixed-batch model gives it, and the metadata says "?"', async () => {
    const dynamic = await InferenceSession.create(model(true));
    const fixed = await InferenceSession.create(model(false));
    expect(dynamic.inputMetadata).toEqual([{ name: 'x', isTensor: true, type: 'float32', dims: ['?', H, W, C], shape: ['?', H, W, C] }]);
    expect(dynamic.outputMetadata[0]!.dims).toEqual(['?', N]);
    expect(fixed.inputMetadata[0]!.dims).toEqual([1, H, W, C]);
    const sample = H * W * C;
    // Batches 3, 1 and 2 in turn: each a graph specialized to its own dims, the earlier ones still right.
    for (const batch of [3, 1, 2, 3]) {
      const xs = randomFloats(batch * sample, 10 + batch);
      const out = (await dynamic.run({ x: new Tensor('float32', xs, [batch, H, W, C]) })).scores!;
      expect(out.dims).toEqual([batch, N]);
      const got = out.data as Float32Array;
      for (let b = 0; b < batch; b++) {
        const one = (await fixed.run({ x: new Tensor('float32', xs.slice(b * sample, (b + 1) * sample), [1, H, W, C]) })).scores!.data as Float32Array;
        const mine = got.subarray(b * N, (b + 1) * N);
        for (let i = 0; i < N; i++) expect(Math.abs(mine[i]! - one[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(one[i]!)));
      }
    }
    // The fixed dims stay fixed.
    const wrong = await rejection(dynamic.run({ x: new Tensor('float32', new Float32Array(2 * H * W * 3), [2, H, W, 3]) }));
    expect(wrong.code).toBe('INVALID_FEED');
    expect(wrong.message).toMatch(/dims\[3\] must be 2/);
    // The fixed-batch model still refuses another batch.
    const fixedWrong = await rejection(fixed.run({ x: new Tensor('float32', new Float32Array(2 * sample), [2, H, W, C]) }));
    expect(fixedWrong.code).toBe('INVALID_FEED');
    expect(fixedWrong.message).toMatch(/dims\[0\] must be 1/);
    dynamic.dispose();
    fixed.dispose();
  });

  it('refuses a shape_signature that does not fit the shape with INVALID_MODEL naming the tensor', async () => {
    const e = await rejection(InferenceSession.create(model(true, [-1, H, W])));
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toMatch(/tensor "x" \(#0\): shape_signature \[-1, 5, 4\] does not fit shape \[1, 5, 4, 2\]/);
    const other = await rejection(InferenceSession.create(model(true, [-1, H + 1, W, C])));
    expect(other.code).toBe('INVALID_MODEL');
  });

  it('refuses a dim an op needs at import (a conv\'s input channels) left to run time, with UNSUPPORTED_OP naming op and tensor', async () => {
    const e = await rejection(InferenceSession.create(model(true, [-1, H, W, -1])));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/TFLite CONV_2D \(operator 0, output "conv"\): the input channel count \(dim 3 of tensor "x", dims \[-1, 5, 4, -1\]\) must be fixed/);
  });
});
