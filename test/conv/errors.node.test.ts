// Bad input: every case throws an AtrousError with the right code and a message naming the argument and the
// value, never a wasm trap or a wrong result; and after each error the module still computes a correct conv.
import { describe, expect, it } from 'vitest';
import { AtrousError, Tensor, conv1d, conv2d, init, prepareConv2d, type AtrousErrorCode, type Conv2dOptions } from 'atrous';
import { caseData, compare, type ConvCase } from './cases.js';
import { oracleConv } from './oracle.js';

const f32 = (dims: number[], fill = 0.5): Tensor<'float32'> =>
  new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Asserts `run` throws an AtrousError with `code` whose message contains every one of `mentions`. */
function expectAtrousError(run: () => unknown, code: AtrousErrorCode, mentions: string[]): AtrousError {
  const error = thrown(run);
  expect(error, `expected an AtrousError ${code}, got ${String(error)}`).toBeInstanceOf(AtrousError);
  const e = error as AtrousError;
  expect(e.code, e.message).toBe(code);
  for (const m of mentions) expect(e.message, `the message should name ${JSON.stringify(m)}`).toContain(m);
  return e;
}

// A dilated, grouped, padded conv with bias, residual and activation: after any error it must still agree
// with onnxruntime.
const healthy: ConvCase = {
  index: 0,
  seed: 4242,
  op: 'conv2d',
  causal: false,
  batch: 2,
  inChannels: 6,
  outChannels: 8,
  groups: 2,
  height: 11,
  width: 9,
  kernel: [3, 3],
  strides: [1, 2],
  dilations: [2, 3],
  pads: { kind: 'explicit', pads: [2, 3, 1, 0] },
  bias: true,
  residual: true,
  activation: { kind: 'hardSwish' },
  tags: [],
};

async function expectStillComputesCorrectly(): Promise<void> {
  const d = caseData(healthy);
  const want = await oracleConv(healthy, d);
  const y = conv2d(new Tensor('float32', d.input, [2, 6, 11, 9]), new Tensor('float32', d.weights, [8, 3, 3, 3]), {
    bias: d.bias,
    strides: healthy.strides,
    dilations: healthy.dilations,
    pads: [2, 3, 1, 0],
    groups: 2,
    activation: 'hardSwish',
    residual: new Tensor('float32', d.residual!, want.dims),
  });
  expect([...y.dims]).toEqual(want.dims);
  const r = compare(y.data, want.data);
  expect(r.ok, `after an error: max error ${r.maxError} > ${r.tolerance}`).toBe(true);
}

interface BadInput {
  name: string;
  code: AtrousErrorCode;
  mentions: string[];
  run: () => unknown;
}

const x = (): Tensor<'float32'> => f32([1, 3, 8, 8]);
const w = (): Tensor<'float32'> => f32([4, 3, 3, 3]);
const conv = (options: Conv2dOptions): (() => unknown) => () => conv2d(x(), w(), options);

const badInputs: BadInput[] = [
  // wrong rank
  { name: 'conv2d input of rank 3', code: 'INVALID_SHAPE', mentions: ['conv2d: input', 'rank 4', '[1, 3, 8]'], run: () => conv2d(f32([1, 3, 8]), w()) },
  { name: 'conv2d weights of rank 5', code: 'INVALID_SHAPE', mentions: ['conv2d: weights', 'rank 4', '[4, 3, 3, 3, 1]'], run: () => conv2d(x(), f32([4, 3, 3, 3, 1])) },
  { name: 'conv1d input of rank 4', code: 'INVALID_SHAPE', mentions: ['conv1d: input', 'rank 3', '[1, 3, 8, 8]'], run: () => conv1d(x(), f32([4, 3, 3])) },
  { name: 'conv1d weights of rank 4', code: 'INVALID_SHAPE', mentions: ['conv1d: weights', 'rank 3', '[4, 3, 3, 3]'], run: () => conv1d(f32([1, 3, 8]), w()) },
  {
    name: 'residual of the wrong rank',
    code: 'INVALID_SHAPE',
    mentions: ['options.residual', '[1, 4, 36]'],
    run: () => conv2d(x(), w(), { residual: f32([1, 4, 36]) }),
  },
  // channel mismatch
  { name: 'input channels not matching the weights', code: 'INVALID_SHAPE', mentions: ['C = 5', '[1, 5, 8, 8]', '3'], run: () => conv2d(f32([1, 5, 8, 8]), w()) },
  {
    name: 'grouped input channels not matching groups x weights channels',
    code: 'INVALID_SHAPE',
    mentions: ['C = 6', '4', 'groups'],
    run: () => conv2d(f32([1, 6, 8, 8]), f32([4, 2, 3, 3]), { groups: 2 }),
  },
  { name: 'conv1d channel mismatch', code: 'INVALID_SHAPE', mentions: ['C = 2', '3'], run: () => conv1d(f32([1, 2, 8]), f32([4, 3, 3])) },
  // groups
  { name: 'groups not dividing the output channels', code: 'INVALID_SHAPE', mentions: ['options.groups', '(4)', 'M = 6'], run: () => conv2d(f32([1, 4, 8, 8]), f32([6, 1, 3, 3]), { groups: 4 }) },
  { name: 'groups 0', code: 'INVALID_ARGUMENT', mentions: ['options.groups', 'got 0'], run: conv({ groups: 0 }) },
  { name: 'groups 1.5', code: 'INVALID_ARGUMENT', mentions: ['options.groups', 'got 1.5'], run: conv({ groups: 1.5 }) },
  // non-positive stride or dilation
  { name: 'stride 0', code: 'INVALID_ARGUMENT', mentions: ['options.strides[0]', 'got 0'], run: conv({ strides: [0, 1] }) },
  { name: 'stride -2 given as one number', code: 'INVALID_ARGUMENT', mentions: ['options.strides', 'got -2'], run: conv({ strides: -2 }) },
  { name: 'stride 1.5', code: 'INVALID_ARGUMENT', mentions: ['options.strides[1]', 'got 1.5'], run: conv({ strides: [1, 1.5] }) },
  { name: 'dilation 0', code: 'INVALID_ARGUMENT', mentions: ['options.dilations[1]', 'got 0'], run: conv({ dilations: [1, 0] }) },
  { name: 'dilation -1', code: 'INVALID_ARGUMENT', mentions: ['options.dilations[0]', 'got -1'], run: conv({ dilations: [-1, 2] }) },
  { name: 'dilations of three values', code: 'INVALID_ARGUMENT', mentions: ['options.dilations', '[2, 2, 2]'], run: conv({ dilations: [2, 2, 2] as unknown as [number, number] }) },
  { name: 'conv1d stride 0', code: 'INVALID_ARGUMENT', mentions: ['stride', 'got 0'], run: () => conv1d(f32([1, 3, 8]), f32([4, 3, 3]), { stride: 0 }) },
  { name: 'conv1d dilation -3', code: 'INVALID_ARGUMENT', mentions: ['dilation', 'got -3'], run: () => conv1d(f32([1, 3, 8]), f32([4, 3, 3]), { dilation: -3 }) },
  {
    name: 'causal conv1d with dilation 0',
    code: 'INVALID_ARGUMENT',
    mentions: ['options.dilation', 'got 0'],
    run: () => conv1d(f32([1, 3, 8]), f32([4, 3, 3]), { dilation: 0, causal: true }),
  },
  // negative pads, and pads that are not pads
  { name: 'negative pad', code: 'INVALID_ARGUMENT', mentions: ['options.pads[2]', 'got -1', '[1, 1, -1, 1]'], run: conv({ pads: [1, 1, -1, 1] }) },
  { name: 'fractional pad', code: 'INVALID_ARGUMENT', mentions: ['options.pads[0]', 'got 0.5'], run: conv({ pads: [0.5, 0, 0, 0] }) },
  { name: 'pads of two values in conv2d', code: 'INVALID_ARGUMENT', mentions: ['options.pads', '[1, 1]'], run: conv({ pads: [1, 1] as unknown as [number, number, number, number] }) },
  { name: 'unknown auto pad', code: 'INVALID_ARGUMENT', mentions: ['options.pads', '"same"'], run: conv({ pads: 'same' as 'same-upper' }) },
  { name: 'conv1d negative pad', code: 'INVALID_ARGUMENT', mentions: ['pads', 'got -2'], run: () => conv1d(f32([1, 3, 8]), f32([4, 3, 3]), { pads: [-2, 0] }) },
  {
    name: 'causal conv1d given pads too',
    code: 'INVALID_ARGUMENT',
    mentions: ['options.causal', 'options.pads', '[1, 1]'],
    run: () => conv1d(f32([1, 3, 8]), f32([4, 3, 3]), { causal: true, pads: [1, 1] }),
  },
  // output size below 1
  {
    name: 'dilated kernel taller than the padded input',
    code: 'INVALID_SHAPE',
    mentions: ['output height', 'input height 4', '(3 - 1) * 3 + 1 = 7'],
    run: () => conv2d(f32([1, 3, 4, 9]), w(), { dilations: [3, 1], pads: 'valid' }),
  },
  {
    name: 'kernel wider than the explicitly padded input',
    code: 'INVALID_SHAPE',
    mentions: ['output width', 'input width 2', '+ pads 1 + 1 = 4', '= 5'],
    run: () => conv2d(f32([1, 3, 8, 2]), w(), { dilations: [1, 2], pads: [0, 1, 0, 1] }),
  },
  { name: 'conv1d output below 1', code: 'INVALID_SHAPE', mentions: ['output width', 'input width 3'], run: () => conv1d(f32([1, 3, 3]), f32([4, 3, 3]), { dilation: 2 }) },
  { name: 'an input dim of 0', code: 'INVALID_SHAPE', mentions: ['input dims[2]', '[1, 3, 0, 8]'], run: () => conv2d(f32([1, 3, 0, 8]), w()) },
  { name: 'a weight dim of 0', code: 'INVALID_SHAPE', mentions: ['weights dims[0]', '[0, 3, 3, 3]'], run: () => conv2d(x(), f32([0, 3, 3, 3])) },
  // non-float32 tensors
  {
    name: 'int32 input',
    code: 'INVALID_TENSOR',
    mentions: ['conv2d: input', 'float32', '"int32"'],
    run: () => conv2d(new Tensor('int32', new Int32Array(192), [1, 3, 8, 8]) as unknown as Tensor<'float32'>, w()),
  },
  {
    name: 'uint8 weights',
    code: 'INVALID_TENSOR',
    mentions: ['prepareConv2d: weights', 'float32', '"uint8"'],
    run: () => prepareConv2d(new Tensor('uint8', new Uint8Array(108), [4, 3, 3, 3]) as unknown as Tensor<'float32'>),
  },
  {
    name: 'int64 bias tensor',
    code: 'INVALID_TENSOR',
    mentions: ['options.bias', '"int64"'],
    run: conv({ bias: new Tensor('int64', new BigInt64Array(4), [4]) as unknown as Tensor<'float32'> }),
  },
  { name: 'bias as a plain array', code: 'INVALID_TENSOR', mentions: ['options.bias', '[1, 2, 3, 4]'], run: conv({ bias: [1, 2, 3, 4] as unknown as Float32Array }) },
  {
    name: 'int32 residual',
    code: 'INVALID_TENSOR',
    mentions: ['options.residual', '"int32"'],
    run: () => conv2d(x(), w(), { residual: new Tensor('int32', new Int32Array(144), [1, 4, 6, 6]) as unknown as Tensor<'float32'> }),
  },
  { name: 'a plain object as input', code: 'INVALID_TENSOR', mentions: ['conv2d: input', 'must be a Tensor'], run: () => conv2d({ dims: [1, 3, 8, 8] } as unknown as Tensor<'float32'>, w()) },
  { name: 'Float64Array data for a float32 tensor', code: 'INVALID_TENSOR', mentions: ['Float32Array', 'Float64Array'], run: () => new Tensor('float32', new Float64Array(4) as unknown as Float32Array, [4]) },
  // data length not matching dims
  { name: 'tensor data shorter than its dims', code: 'INVALID_TENSOR', mentions: ['5 elements', '[1, 1, 2, 3]', 'need 6'], run: () => new Tensor('float32', new Float32Array(5), [1, 1, 2, 3]) },
  {
    name: 'the brief\'s [1, 64, 16384, 16384] input over 4 values',
    code: 'INVALID_TENSOR',
    mentions: ['4 elements', '[1, 64, 16384, 16384]', 'need 17179869184'],
    run: () => new Tensor('float32', new Float32Array(4), [1, 64, 16384, 16384]),
  },
  { name: 'negative dim', code: 'INVALID_TENSOR', mentions: ['dims[1]', 'got -3'], run: () => new Tensor('float32', new Float32Array(3), [1, -3]) },
  { name: 'bias of the wrong length', code: 'INVALID_SHAPE', mentions: ['options.bias', 'M = 4', 'got 3'], run: conv({ bias: new Float32Array(3) }) },
  {
    name: 'residual of the wrong dims',
    code: 'INVALID_SHAPE',
    mentions: ['options.residual', '[1, 4, 6, 6]', '[1, 4, 6, 7]'],
    run: () => conv2d(x(), w(), { residual: f32([1, 4, 6, 7]) }),
  },
  // activations
  { name: 'unknown activation', code: 'INVALID_ARGUMENT', mentions: ['options.activation', '"gelu"'], run: conv({ activation: 'gelu' as 'relu' }) },
  { name: 'clip with min above max', code: 'INVALID_ARGUMENT', mentions: ['options.activation', 'min 2', 'max 1'], run: conv({ activation: { type: 'clip', min: 2, max: 1 } }) },
  { name: 'leakyRelu alpha NaN', code: 'INVALID_ARGUMENT', mentions: ['options.activation.alpha', 'NaN'], run: conv({ activation: { type: 'leakyRelu', alpha: NaN } }) },
  // dims the wasm memory cannot hold (a 4 GiB Float32Array is only reserved, never touched, by the test)
  {
    name: 'an output of [1, 64, 16384, 16384] (64 GiB) from a 1-pixel input padded out',
    code: 'OUT_OF_MEMORY',
    mentions: ['output', '[1, 64, 16384, 16384]', '68719476736 bytes'],
    run: () => conv2d(f32([1, 1, 1, 1]), f32([64, 1, 1, 1]), { pads: [0, 0, 16383, 16383] }),
  },
  {
    name: 'a 4 GiB input [1, 16, 8192, 8192]',
    code: 'OUT_OF_MEMORY',
    mentions: ['input', '[1, 16, 8192, 8192]', '4294967296 bytes'],
    run: () => conv2d(new Tensor('float32', new Float32Array(2 ** 30), [1, 16, 8192, 8192]), f32([4, 16, 1, 1])),
  },
  {
    name: '4 GiB of weights [16384, 16384, 2, 2]',
    code: 'OUT_OF_MEMORY',
    mentions: ['weights', '[16384, 16384, 2, 2]', '4294967296 bytes'],
    run: () => prepareConv2d(new Tensor('float32', new Float32Array(2 ** 30), [16384, 16384, 2, 2])),
  },
  {
    name: 'a prepared plan run to a [1, 4, 524289, 524289] output (4 TiB)',
    code: 'OUT_OF_MEMORY',
    mentions: ['output', '[1, 4, 524289, 524289]'],
    run: () => {
      const plan = prepareConv2d(w(), { pads: [0, 0, 524290, 524290] });
      try {
        return plan.run(f32([1, 3, 1, 1]));
      } finally {
        plan.dispose();
      }
    },
  },
];

describe('bad input throws AtrousError naming the argument and the value; the module keeps working', () => {
  it('an op before init() throws NOT_INITIALIZED', () => {
    expectAtrousError(() => conv2d(x(), w()), 'NOT_INITIALIZED', ['conv2d', 'init()']);
    expectAtrousError(() => prepareConv2d(w()), 'NOT_INITIALIZED', ['prepareConv2d', 'init()']);
  });

  it('init() with an unknown build throws INVALID_ARGUMENT naming it', async () => {
    const error = await init({ build: 'avx512' as 'scalar' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtrousError);
    expect((error as AtrousError).code).toBe('INVALID_ARGUMENT');
    expect((error as AtrousError).message).toContain('options.build');
    expect((error as AtrousError).message).toContain('"avx512"');
  });

  it('loads, and computes a correct conv before any error', async () => {
    await init({ build: 'simd128' });
    await expectStillComputesCorrectly();
  });

  for (const bad of badInputs) {
    it(`${bad.name}: ${bad.code}`, async () => {
      expectAtrousError(bad.run, bad.code, bad.mentions);
      await expectStillComputesCorrectly();
    });
  }

  it('a disposed plan throws DISPOSED on run and preparedBytes; dispose twice is harmless', async () => {
    const plan = prepareConv2d(w(), { dilations: 2, pads: 'same-upper' });
    expect(plan.preparedBytes).toBeGreaterThanOrEqual(4 * 3 * 3 * 3 * 4);
    expect([...plan.run(x()).dims]).toEqual([1, 4, 8, 8]);
    plan.dispose();
    expectAtrousError(() => plan.run(x()), 'DISPOSED', ['prepareConv2d', 'disposed']);
    expectAtrousError(() => plan.preparedBytes, 'DISPOSED', ['disposed']);
    plan.dispose();
    await expectStillComputesCorrectly();
  });

  it('a plan keeps working after its own run failed', async () => {
    const d = caseData(healthy);
    const plan = prepareConv2d(new Tensor('float32', d.weights, [8, 3, 3, 3]), {
      bias: d.bias,
      strides: healthy.strides,
      dilations: healthy.dilations,
      pads: [2, 3, 1, 0],
      groups: 2,
      activation: 'hardSwish',
    });
    try {
      expectAtrousError(() => plan.run(f32([2, 5, 11, 9])), 'INVALID_SHAPE', ['C = 5']);
      expectAtrousError(() => plan.run(f32([2, 6, 1, 2])), 'INVALID_SHAPE', ['output height', 'input height 1']);
      const want = await oracleConv(healthy, d);
      const y = plan.run(new Tensor('float32', d.input, [2, 6, 11, 9]), { residual: new Tensor('float32', d.residual!, want.dims) });
      expect(compare(y.data, want.data).ok).toBe(true);
    } finally {
      plan.dispose();
    }
  });
});
