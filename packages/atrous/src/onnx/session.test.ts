import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { init, loadedBuild } from '../wasm/loader.js';
import { ModelBuilder, randomFloats } from '../../test-support/onnx-builder.js';
import { InferenceSession } from './session.js';

async function rejection(p: Promise<unknown>): Promise<AtrousError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AtrousError) return e;
    throw e;
  }
  throw new Error('expected an AtrousError');
}

/** y = Relu(Conv3x3(x) + 1), symbolic batch and size: checked against a loop here. */
function convModel(): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('x', ['batch', 2, 'h', 'w']);
  m.init('w', [3, 2, 3, 3], randomFloats(54, 3));
  m.init('one', [], [1]);
  const c = m.node('Conv', ['x', 'w'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] });
  m.node('Relu', [m.node('Add', [c, 'one'])], ['y']);
  m.output('y');
  return m.bytes();
}

function reference(x: Float32Array, [n, c, h, w]: number[], weights: Float32Array): Float32Array {
  const out = new Float32Array(n! * 3 * h! * w!);
  for (let b = 0; b < n!; b++) for (let m = 0; m < 3; m++) for (let y = 0; y < h!; y++) for (let xx = 0; xx < w!; xx++) {
    let acc = 0;
    for (let ci = 0; ci < c!; ci++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
      const iy = y + 2 * ky - 2, ix = xx + 2 * kx - 2;
      if (iy >= 0 && iy < h! && ix >= 0 && ix < w!) acc += x[((b * c! + ci) * h! + iy) * w! + ix]! * weights[((m * c! + ci) * 3 + ky) * 3 + kx]!;
    }
    out[((b * 3 + m) * h! + y) * w! + xx] = Math.max(0, acc + 1);
  }
  return out;
}

describe('InferenceSession', () => {
  beforeAll(async () => {
    await init();
  });

  it('reports the model\'s metadata: producer, version, domain, doc string and metadata_props', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 2]);
    m.node('Relu', ['x'], ['y']);
    m.output('y');
    m.model = {
      producerName: 'pytorch',
      producerVersion: '2.6.0',
      domain: 'org.example',
      modelVersion: 7,
      docString: 'a doc',
      metadataProps: [{ key: 'classes', value: 'background,person' }, { key: 'mean', value: '0.5' }],
    };
    const s = await InferenceSession.create(m.bytes());
    expect(s.metadata).toEqual({
      producerName: 'pytorch',
      producerVersion: '2.6.0',
      domain: 'org.example',
      modelVersion: 7,
      docString: 'a doc',
      graphName: 'g',
      custom: { classes: 'background,person', mean: '0.5' },
    });
    s.dispose();
  });

  it('refuses a model that imports only another domain by its op, not as an invalid model', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 2]);
    m.node('Relu', ['x'], ['y']);
    m.output('y');
    const bytes = m.bytes();
    const { onnx } = (await import('onnx-proto')).default;
    const model = onnx.ModelProto.decode(bytes);
    model.opsetImport = [{ domain: 'ai.onnx.preview.training', version: 1 }];
    model.graph!.node![0]!.domain = 'ai.onnx.preview.training';
    const e = await rejection(InferenceSession.create(onnx.ModelProto.encode(model).finish()));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toContain('ai.onnx.preview.training');
  });

  it('folds the all-MLP decoder 1x1 conv into the stage projections, with the same results', async () => {
    // Two stages projected to C = 4 channels, laid out as maps, one upsampled, concatenated, mixed by a 1x1 conv.
    const build = (exposeConcat: boolean) => {
      const m = new ModelBuilder(13);
      m.input('a', [1, 16, 3]);
      m.input('b', [1, 64, 5]);
      const stage = (x: string, k: number, side: number, resize: boolean, seed: number) => {
        m.init(`w${seed}`, [k, 4], randomFloats(k * 4, seed));
        m.init(`b${seed}`, [4], randomFloats(4, seed + 1));
        const t = m.node('Transpose', [m.node('Add', [m.node('MatMul', [x, `w${seed}`]), `b${seed}`])], 1, { perm: [0, 2, 1] });
        m.init(`s${seed}`, [4], [1, 4, side, side], 7);
        const map = m.node('Reshape', [t, `s${seed}`]);
        if (!resize) return map;
        m.init(`z${seed}`, [4], [1, 4, 8, 8], 7);
        return m.node('Resize', [map, '', '', `z${seed}`], 1, { mode: 'linear' });
      };
      const cat = m.node('Concat', [stage('a', 3, 4, true, 10), stage('b', 5, 8, false, 20)], exposeConcat ? ['cat'] : 1, { axis: 1 });
      m.init('wc', [4, 8, 1, 1], randomFloats(32, 30));
      m.init('bc', [4], randomFloats(4, 31));
      m.node('Relu', [m.node('Conv', [cat, 'wc', 'bc'], 1, { kernel_shape: [1, 1] })], ['y']);
      m.output('y');
      if (exposeConcat) m.output('cat');
      return m.bytes();
    };
    const feeds = { a: new Tensor('float32', randomFloats(48, 40), [1, 16, 3]), b: new Tensor('float32', randomFloats(320, 41), [1, 64, 5]) };
    const folded = await InferenceSession.create(build(false));
    const plain = await InferenceSession.create(build(true)); // the concat is an output: nothing may be folded
    expect(folded.optimizations.foldedDecoderConvs).toBe(1);
    expect(plain.optimizations.foldedDecoderConvs).toBe(0);
    const y1 = (await folded.run(feeds)).y!.data as Float32Array;
    const y2 = (await plain.run(feeds)).y!.data as Float32Array;
    let worst = 0, scale = 0;
    for (let i = 0; i < y2.length; i++) { worst = Math.max(worst, Math.abs(y1[i]! - y2[i]!)); scale = Math.max(scale, Math.abs(y2[i]!)); }
    expect(y1.length).toBe(4 * 8 * 8);
    expect(scale).toBeGreaterThan(0);
    expect(worst / scale).toBeLessThan(1e-5);
    folded.dispose();
    plain.dispose();
  });

  it('describes its inputs and outputs, symbolic dims by name', async () => {
    const s = await InferenceSession.create(convModel());
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['y']);
    expect(s.inputMetadata[0]).toMatchObject({ name: 'x', type: 'float32', dims: ['batch', 2, 'h', 'w'] });
    s.dispose();
  });

  it('runs any input size with symbolic dims, matching a plain loop, and reports its memory', async () => {
    const s = await InferenceSession.create(convModel());
    const weights = randomFloats(54, 3);
    for (const dims of [[1, 2, 5, 6], [2, 2, 9, 4], [1, 2, 5, 6]]) {
      const x = randomFloats(dims.reduce((a, b) => a * b), 7);
      const { y } = await s.run({ x: new Tensor('float32', x, dims) });
      expect(y!.dims).toEqual([dims[0], 3, dims[2], dims[3]]);
      const want = reference(x, dims, weights);
      const got = y!.data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 4);
    }
    expect(s.peakMemoryBytes).toBeGreaterThan(0);
    expect(s.memory.arenaBytes).toBeGreaterThanOrEqual(2 * 2 * 9 * 4 * 4 + 2 * 3 * 9 * 4 * 4);
    expect(s.memory.weightBytes).toBeGreaterThan(0);
    s.dispose();
    expect((await rejection(s.run({ x: new Tensor('float32', new Float32Array(60), [1, 2, 5, 6]) }))).code).toBe('DISPOSED');
  });

  it('rejects feeds with a wrong name, type, rank, fixed dim or a missing input with INVALID_FEED', async () => {
    const m = new ModelBuilder(13);
    m.input('image', [1, 3, 4, 4]);
    m.node('Relu', ['image'], ['y']);
    m.output('y');
    const s = await InferenceSession.create(m.bytes());
    const good = new Tensor('float32', new Float32Array(48), [1, 3, 4, 4]);
    const cases: [unknown, RegExp][] = [
      [{ img: good }, /feed "img" is not an input/],
      [{}, /input "image" is missing/],
      [{ image: new Tensor('int32', new Int32Array(48), [1, 3, 4, 4]) }, /must be a float32 tensor.*got int32/],
      [{ image: new Tensor('float32', new Float32Array(48), [3, 4, 4]) }, /must have rank 4/],
      [{ image: new Tensor('float32', new Float32Array(48), [1, 3, 2, 8]) }, /dims\[2\] must be 4/],
      [{ image: new Float32Array(48) }, /must be a Tensor/],
    ];
    for (const [feeds, message] of cases) {
      const e = await rejection(s.run(feeds as Record<string, Tensor>));
      expect(e.code).toBe('INVALID_FEED');
      expect(e.message).toMatch(message);
    }
    s.dispose();
  });

  it('fails at create with UNSUPPORTED_OP naming the op type and node', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [4]);
    m.node('NonMaxSuppression', ['x'], ['y'], {}, 'nms_1');
    m.output('y');
    const e = await rejection(InferenceSession.create(m.bytes()));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/"NonMaxSuppression".*"nms_1"/);
  });

  it('gives the same results on the scalar build as on simd128 (conv, resize, pooling, element-wise kernels)', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 2, 9, 10]);
    m.init('w', [4, 2, 3, 3], randomFloats(72, 5));
    const c = m.node('Relu', [m.node('Conv', ['x', 'w'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] })]);
    const p = m.node('MaxPool', [c], 1, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    m.init('sizes', [4], [1, 4, 9, 10], 7);
    const up = m.node('Resize', [p, '', '', 'sizes'], 1, { mode: 'linear' });
    const se = m.node('Mul', [up, m.node('GlobalAveragePool', [c])]);
    m.node('Add', [se, c], ['y']);
    m.output('y');
    const x = new Tensor('float32', randomFloats(180, 6), [1, 2, 9, 10]);
    const results: Float32Array[] = [];
    for (const build of ['simd128', 'scalar'] as const) {
      const s = await InferenceSession.create(m.bytes(), { build });
      results.push((await s.run({ x })).y!.data as Float32Array);
      s.dispose();
    }
    for (let i = 0; i < results[0]!.length; i++) expect(results[1]![i]).toBeCloseTo(results[0]![i]!, 5);
  });

  it('keeps the build init() loaded unless options.build asks for another', async () => {
    await init({ build: 'scalar' });
    const s = await InferenceSession.create(convModel());
    expect(loadedBuild()).toBe('scalar');
    s.dispose();
    await init();
  });

  it('refuses an unsupported attribute value at create, also when the input dims are symbolic', async () => {
    for (const dims of [[1, 2, 4, 4], ['n', 2, 'h', 'w']]) {
      const m = new ModelBuilder(18);
      m.input('x', dims);
      m.init('scales', [4], [1, 1, 2, 2]);
      m.node('Resize', ['x', '', 'scales'], ['y'], { mode: 'linear', antialias: 1 }, 'up_antialiased');
      m.output('y');
      const e = await rejection(InferenceSession.create(m.bytes()));
      expect(e.code).toBe('UNSUPPORTED_OP');
      expect(e.message).toMatch(/Resize node "up_antialiased": antialias is not supported/);
    }
  });

  it('reads a model from a path in Node', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'atrous-'));
    const path = join(dir, 'conv.onnx');
    await writeFile(path, convModel());
    const s = await InferenceSession.create(path);
    expect(s.outputNames).toEqual(['y']);
    s.dispose();
    expect((await rejection(InferenceSession.create(join(dir, 'missing.onnx')))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('InferenceSession.run with pre-allocated outputs', () => {
  beforeAll(async () => {
    await init();
  });

  /** y = Relu(Conv(x) + 1) and s = Shape(x) (int64), symbolic batch and size. */
  async function twoOutputs(): Promise<InferenceSession> {
    const m = new ModelBuilder(13);
    m.input('x', ['batch', 2, 'h', 'w']);
    m.init('w', [3, 2, 3, 3], randomFloats(54, 3));
    m.init('one', [], [1]);
    const c = m.node('Conv', ['x', 'w'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] });
    m.node('Relu', [m.node('Add', [c, 'one'])], ['y']);
    m.node('Shape', ['x'], ['s']);
    m.output('y');
    m.output('s', undefined, 7);
    return InferenceSession.create(m.bytes());
  }

  const bits = (t: Tensor) => Array.from(new Uint32Array((t.data as Float32Array).buffer));

  it('writes into the given tensors, returns them, and matches the allocating run bit for bit', async () => {
    const s = await twoOutputs();
    const x = new Tensor('float32', randomFloats(2 * 2 * 7 * 9, 21), [2, 2, 7, 9]);
    const expected = await s.run({ x });
    const y = new Tensor('float32', new Float32Array(2 * 3 * 7 * 9).fill(Number.NaN), [2, 3, 7, 9]);
    const shape = new Tensor('int64', new BigInt64Array(4), [4]);
    const got = await s.run({ x }, { outputs: { y, s: shape } });
    expect(got.y).toBe(y);
    expect(got.s).toBe(shape);
    expect(bits(y)).toEqual(bits(expected.y!));
    expect(Array.from(shape.data as BigInt64Array)).toEqual([2n, 2n, 7n, 9n]);
    // Only some outputs given: the rest are allocated.
    const part = await s.run({ x }, { outputs: { y, s: null } });
    expect(part.y).toBe(y);
    expect(Array.from(part.s!.data as BigInt64Array)).toEqual([2n, 2n, 7n, 9n]);
    // onnxruntime-web's form: fetches as the second argument.
    const y2 = new Tensor('float32', new Float32Array(y.size), y.dims);
    const ort = await s.run({ x }, { y: y2, s: null });
    expect(ort.y).toBe(y2);
    expect(bits(y2)).toEqual(bits(expected.y!));
    s.dispose();
  });

  it('refuses output tensors of the wrong type, dims or name, naming the output', async () => {
    const s = await twoOutputs();
    const x = new Tensor('float32', randomFloats(2 * 5 * 5, 22), [1, 2, 5, 5]);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ y: new Tensor('float32', new Float32Array(75), [1, 3, 5, 5]), s: new Tensor('int32', new Int32Array(4), [4]) }, 'INVALID_TENSOR',
        'InferenceSession.run: options.outputs["s"] must be a int64 tensor, like the output it receives, got type "int32"'],
      [{ y: new Tensor('float32', new Float32Array(75), [1, 3, 25]) }, 'INVALID_SHAPE',
        'InferenceSession.run: options.outputs["y"] must have the output\'s dims [1, 3, 5, 5] for these feeds, got [1, 3, 25]'],
      [{ y: new Float32Array(75) }, 'INVALID_TENSOR', 'InferenceSession.run: options.outputs["y"] must be a Tensor, got [0, 0'],
      [{ z: new Tensor('float32', new Float32Array(75), [1, 3, 5, 5]) }, 'INVALID_ARGUMENT',
        'InferenceSession.run: options.outputs["z"] is not an output of the model (outputs: ["y", "s"])'],
    ];
    for (const [outputs, code, message] of cases) {
      const e = await rejection(s.run({ x }, { outputs: outputs as never }));
      expect(e.code).toBe(code);
      expect(e.message.startsWith(message), e.message).toBe(true);
    }
    const wrong = await rejection(s.run({ x }, { y: new Tensor('float32', new Float32Array(48), [1, 3, 4, 4]) }));
    expect(wrong.code).toBe('INVALID_SHAPE');
    expect(wrong.message).toContain('fetches["y"] must have the output\'s dims [1, 3, 5, 5]');
    expect((await rejection(s.run({ x }, ['y'] as never))).code).toBe('INVALID_ARGUMENT');
    s.dispose();
  });

  it('a loop of 100 runs into one output does not grow the JS heap', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'run with --expose-gc').toBeTypeOf('function');
    const s = await InferenceSession.create(convModel());
    const x = new Tensor('float32', randomFloats(2 * 48 * 48, 23), [1, 2, 48, 48]);
    const y = new Tensor('float32', new Float32Array(3 * 48 * 48), [1, 3, 48, 48]); // 27 KB: 100 leaked would be 2.7 MB
    const loop = async () => {
      for (let i = 0; i < 100; i++) await s.run({ x }, { outputs: { y } });
    };
    const settle = () => {
      for (let i = 0; i < 4; i++) gc!();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    await loop();
    const start = settle();
    await loop();
    const grew = settle() - start;
    console.log(`100 session runs with options.outputs: heap + array buffers grew ${grew} bytes`);
    expect(grew).toBeLessThan(256 * 1024);
    expect(bits(y)).toEqual(bits((await s.run({ x })).y!));
    s.dispose();
  });

  it('profile: true times each step, by op type and by node in run order; off, nothing is recorded', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 2, 6, 6]);
    m.init('w', [3, 2, 1, 1], randomFloats(6, 5));
    m.node('Relu', [m.node('Conv', ['x', 'w'], 1, {}, 'mix')], ['r'], {}, 'act');
    m.node('Sigmoid', ['x'], ['s'], {}, 'gate');
    m.node('Mul', ['r', 'r'], ['y'], {}, 'square');
    m.output('y');
    m.output('s');
    const x = new Tensor('float32', randomFloats(72, 6), [1, 2, 6, 6]);
    const plain = await InferenceSession.create(m.bytes());
    await plain.run({ x });
    expect(plain.profile).toEqual([]);
    expect(plain.nodeProfile).toEqual([]);
    const s = await InferenceSession.create(m.bytes(), { profile: true });
    await s.run({ x });
    // Conv + Relu fused into one step, named after the conv.
    expect(s.nodeProfile.map((n) => [n.name, n.opType, n.outputDims])).toEqual([
      ['mix', 'FusedConv', [1, 3, 6, 6]],
      ['gate', 'Sigmoid', [1, 2, 6, 6]],
      ['square', 'Mul', [1, 3, 6, 6]],
    ]);
    for (const n of s.nodeProfile) expect(n.ms).toBeGreaterThanOrEqual(0);
    expect(s.profile.map((e) => [e.opType, e.count]).sort()).toEqual([['FusedConv', 1], ['Mul', 1], ['Sigmoid', 1]]);
    const sum = (xs: readonly { ms: number }[]) => xs.reduce((a, e) => a + e.ms, 0);
    expect(sum(s.profile)).toBeCloseTo(sum(s.nodeProfile), 9);
    plain.dispose();
    s.dispose();
  });
});

