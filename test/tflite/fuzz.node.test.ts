// 1 000 mutated .tflite models (bit flips, truncations, byte insertions, deletions and overwrites of a small
// valid model built with the generated flatbuffers builder): each must load and run, or fail with an
// AtrousError; never another exception, a crash or a hang (the test's timeout bounds the whole run).
import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError, InferenceSession, Tensor, init } from 'atrous';
import { randomFloats } from '../../packages/atrous/test-support/onnx-builder.js';
import { mutateBytes } from '../../packages/atrous/test-support/seeded-random.js';
import { TfliteBuilder, tfl } from '../../packages/atrous/test-support/tflite-builder.js';

const MUTANTS = 1000;
const { BuiltinOperator: Op, BuiltinOptions: Opt, Padding, ActivationFunctionType: Act } = tfl;

/** conv (dilated, SAME, fp16 weights) -> hard-swish -> depthwise -> SE (mean, conv, logistic, mul) -> add -> resize -> transpose conv. */
function baseModel(): Uint8Array {
  const m = new TfliteBuilder();
  const x = m.input('x', [1, 8, 8, 3]);
  const w16 = m.f16('w1_fp16', [4, 3, 3, 3], randomFloats(108, 1));
  const w1 = m.tensor('w1', [4, 3, 3, 3]);
  m.op(Op.DEQUANTIZE, [w16], [w1]);
  const c1 = m.tensor('c1', [1, 8, 8, 4]);
  m.op(Op.CONV_2D, [x, w1, m.f32('b1', [4], randomFloats(4, 2))], [c1], (fbb) => [Opt.Conv2DOptions, tfl.Conv2DOptions.createConv2DOptions(fbb, Padding.SAME, 1, 1, Act.NONE, 2, 2)]);
  const h = m.tensor('h', [1, 8, 8, 4]);
  m.op(Op.HARD_SWISH, [c1], [h]);
  const d = m.tensor('d', [1, 8, 8, 4]);
  m.op(Op.DEPTHWISE_CONV_2D, [h, m.f32('w2', [1, 3, 3, 4], randomFloats(36, 3)), m.f32('b2', [4], randomFloats(4, 4))], [d], (fbb) => [Opt.DepthwiseConv2DOptions, tfl.DepthwiseConv2DOptions.createDepthwiseConv2DOptions(fbb, Padding.SAME, 1, 1, 1, Act.RELU, 1, 1)]);
  const g = m.tensor('g', [1, 1, 1, 4]);
  m.op(Op.MEAN, [d, m.i32('axes', [2], [1, 2])], [g], (fbb) => [Opt.ReducerOptions, tfl.ReducerOptions.createReducerOptions(fbb, true)]);
  const s = m.tensor('s', [1, 1, 1, 4]);
  m.op(Op.LOGISTIC, [g], [s]);
  const e = m.tensor('e', [1, 8, 8, 4]);
  m.op(Op.MUL, [d, s], [e], (fbb) => [Opt.MulOptions, tfl.MulOptions.createMulOptions(fbb, Act.NONE)]);
  const a = m.tensor('a', [1, 8, 8, 4]);
  m.op(Op.ADD, [e, h], [a], (fbb) => [Opt.AddOptions, tfl.AddOptions.createAddOptions(fbb, Act.RELU6, true)]);
  const r = m.tensor('r', [1, 16, 16, 4]);
  m.op(Op.RESIZE_BILINEAR, [a, m.i32('size', [2], [16, 16])], [r], (fbb) => [Opt.ResizeBilinearOptions, tfl.ResizeBilinearOptions.createResizeBilinearOptions(fbb, false, true)]);
  const y = m.tensor('y', [1, 32, 32, 1]);
  m.custom('Convolution2DTransposeBias', [r, m.f32('wt', [1, 2, 2, 4], randomFloats(16, 5)), m.f32('bt', [1], [0.1])], [y], new Uint8Array(Int32Array.of(1, 2, 2).buffer));
  m.output(y);
  return m.bytes();
}



describe('fuzz: mutated TFLite models', () => {
  beforeAll(async () => {
    await init();
  });

  it('the base model loads and runs', async () => {
    const session = await InferenceSession.create(baseModel());
    const { y } = await session.run({ x: new Tensor('float32', randomFloats(192, 6), [1, 8, 8, 3]) });
    expect(y!.dims).toEqual([1, 32, 32, 1]);
    session.dispose();
  });

  it(`${MUTANTS} mutants each succeed or fail with an AtrousError`, { timeout: 240_000 }, async () => {
    const base = baseModel();
    const feed = new Tensor('float32', randomFloats(192, 6), [1, 8, 8, 3]);
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    for (let i = 0; i < MUTANTS; i++) {
      const { bytes, how } = mutateBytes(base, i, 0x85ebca6b);
      let session: InferenceSession | undefined;
      try {
        session = await InferenceSession.create(bytes);
        const name = session.inputNames[0] ?? 'x';
        const dims = session.inputMetadata[0]?.dims as number[] | undefined;
        // A mutant may change the input's dims: feed what it declares when that is small.
        const size = dims ? dims.reduce((p, q) => p * q, 1) : 0;
        const input = dims && size > 0 && size <= 1 << 16 ? new Tensor('float32', randomFloats(size, 6), dims) : feed;
        await session.run({ [name]: input });
        count('ran');
      } catch (e) {
        if (!(e instanceof AtrousError)) {
          throw new Error(`mutant ${i} (${how}) threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        }
        expect(e.message.length, `mutant ${i} (${how}): empty message`).toBeGreaterThan(0);
        count(`${session ? 'run' : 'create'}:${e.code}`);
        if (process.env.FUZZ_VERBOSE) console.log(i, how, e.message.slice(0, 200));
      } finally {
        session?.dispose();
      }
    }
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(MUTANTS);
    expect(outcomes.get('ran') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('create:INVALID_MODEL') ?? 0).toBeGreaterThan(0);
    console.log('fuzz outcomes', Object.fromEntries(outcomes));
  });
});
