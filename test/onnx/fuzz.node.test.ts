// 1 000 mutated models (bit flips, truncations, byte insertions, deletions and overwrites of a small valid
// model): each must load and run, or fail with an AtrousError; never another exception, a crash or a hang
// (the test's timeout bounds the whole run).
import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError, InferenceSession, Tensor, init } from 'atrous';
import { ModelBuilder, f, randomFloats } from '../../packages/atrous/test-support/onnx-builder.js';
import { mutateBytes } from '../../packages/atrous/test-support/seeded-random.js';

const MUTANTS = 1000;

function baseModel(): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('x', [1, 3, 8, 8]);
  m.init('w1', [4, 3, 3, 3], randomFloats(108, 1));
  m.init('b1', [4], randomFloats(4, 2));
  const c1 = m.node('Conv', ['x', 'w1', 'b1'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] });
  m.init('g', [4], [1, 1.5, 0.5, 2]);
  m.init('be', [4], [0, 0.1, 0.2, 0.3]);
  m.init('mu', [4], [0, 0, 0.5, -0.5]);
  m.init('va', [4], [1, 2, 1, 0.5]);
  const bn = m.node('BatchNormalization', [c1, 'g', 'be', 'mu', 'va'], 1, { epsilon: f(1e-5) });
  const r = m.node('Relu', [bn]);
  m.init('w2', [4, 1, 3, 3], randomFloats(36, 3));
  const c2 = m.node('Conv', [r, 'w2'], 1, { pads: [1, 1, 1, 1], group: 4 });
  const sum = m.node('Add', [c2, r]);
  const pooled = m.node('MaxPool', [sum], 1, { kernel_shape: [2, 2], strides: [2, 2] });
  const shape = m.node('Shape', [sum]);
  m.init('start', [1], [2], 7);
  m.init('end', [1], [4], 7);
  m.init('nc', [2], [1, 4], 7);
  const sizes = m.node('Concat', ['nc', m.node('Slice', [shape, 'start', 'end'])], 1, { axis: 0 });
  const up = m.node('Resize', [pooled, '', '', sizes], 1, { mode: 'linear', coordinate_transformation_mode: 'half_pixel' });
  const gap = m.node('GlobalAveragePool', [up]);
  const se = m.node('HardSigmoid', [gap], 1, { alpha: f(0.2), beta: f(0.5) });
  const cat = m.node('Concat', [m.node('Mul', [up, se]), sum], 1, { axis: 1 });
  m.init('shape2', [3], [1, 8, -1], 7);
  m.node('Softmax', [m.node('Reshape', [cat, 'shape2'])], ['y'], { axis: -1 });
  m.node('ArgMax', [cat], ['label'], { axis: 1, keepdims: 0 });
  m.output('y');
  m.output('label', undefined, 7);
  return m.bytes();
}

/**
 * The transformer-era ops of issue 9 (decomposed LayerNorm and Erf GELU for the fusions, MatMul + bias,
 * attention with Transpose and Softmax, Where, Pad, Gemm, ConvTranspose), so mutants reach their code too.
 */
function transformerModel(): Uint8Array {
  const m = new ModelBuilder(14);
  m.input('x', [1, 6, 8]);
  const axes = { axes: [-1] };
  const mean = m.node('ReduceMean', ['x'], 1, axes);
  const d = m.node('Sub', ['x', mean]);
  m.init('two', [], [2]);
  m.init('eps', [], [1e-5]);
  const v = m.node('ReduceMean', [m.node('Pow', [d, 'two'])], 1, axes);
  const n = m.node('Div', [d, m.node('Sqrt', [m.node('Add', [v, 'eps'])])]);
  m.init('gamma', [8], randomFloats(8, 11));
  m.init('beta', [8], randomFloats(8, 12));
  const ln = m.node('Add', [m.node('Mul', [n, 'gamma']), 'beta']);
  m.init('wq', [8, 8], randomFloats(64, 13));
  m.init('bq', [8], randomFloats(8, 14));
  const q = m.node('Add', [m.node('MatMul', [ln, 'wq']), 'bq']);
  const kt = m.node('Transpose', [q], 1, { perm: [0, 2, 1] });
  const att = m.node('Softmax', [m.node('MatMul', [q, kt])], 1, { axis: -1 });
  const ctx = m.node('MatMul', [att, ln]);
  m.init('sqrt2', [], [Math.SQRT2]);
  m.init('one', [], [1]);
  m.init('half', [], [0.5]);
  const gelu = m.node('Mul', [m.node('Mul', [ctx, m.node('Add', [m.node('Erf', [m.node('Div', [ctx, 'sqrt2'])]), 'one'])]), 'half']);
  m.init('zero', [], [0]);
  const masked = m.node('Where', [m.node('Greater', [gelu, 'zero']), gelu, m.node('Neg', [gelu])]);
  m.init('pads', [6], [0, 1, 0, 0, 1, 0], 7);
  const padded = m.node('Pad', [masked, 'pads'], 1, { mode: 'reflect' });
  m.init('flat', [2], [8, 8], 7);
  m.init('wg', [8, 4], randomFloats(32, 15));
  m.init('bg', [4], randomFloats(4, 16));
  const g = m.node('Gemm', [m.node('Reshape', [padded, 'flat']), 'wg', 'bg'], 1, { alpha: f(0.5) });
  m.init('img', [4], [1, 4, 2, 4], 7);
  m.init('wt', [4, 2, 3, 3], randomFloats(72, 17));
  m.node('ConvTranspose', [m.node('Reshape', [g, 'img']), 'wt'], ['y'], { strides: [2, 2], pads: [1, 1, 1, 1] });
  m.output('y');
  return m.bytes();
}

const BASES: { name: string; bytes: () => Uint8Array; input: number[] }[] = [
  { name: 'dilated CNN', bytes: baseModel, input: [1, 3, 8, 8] },
  { name: 'transformer ops', bytes: transformerModel, input: [1, 6, 8] },
];



describe('fuzz: mutated ONNX models', () => {
  beforeAll(async () => {
    await init();
  });

  it('the base models load and run', async () => {
    const session = await InferenceSession.create(baseModel());
    const { y, label } = await session.run({ x: new Tensor('float32', randomFloats(192, 5), [1, 3, 8, 8]) });
    expect(y!.dims).toEqual([1, 8, 64]);
    expect(label!.type).toBe('int64');
    session.dispose();
    const t = await InferenceSession.create(transformerModel());
    expect(t.optimizations.fusedLayerNorms).toBe(1);
    expect(t.optimizations.fusedGelus).toBe(1);
    expect(t.optimizations.fusedMatMulBiases).toBe(1);
    const out = await t.run({ x: new Tensor('float32', randomFloats(48, 6), [1, 6, 8]) });
    expect(out.y!.dims).toEqual([1, 2, 3, 7]);
    t.dispose();
  });

  for (const base of BASES) it(`${MUTANTS} mutants of the ${base.name} model each succeed or fail with an AtrousError`, { timeout: 240_000 }, async () => {
    const size = base.input.reduce((a, b) => a * b, 1);
    const feed = new Tensor('float32', randomFloats(size, 5), base.input);
    const original = base.bytes;
    const baseBytes = Uint8Array.from(original()); // a copy: encode() gives a Buffer, whose slice() is a view
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    for (let i = 0; i < MUTANTS; i++) {
      const { bytes, how } = mutateBytes(baseBytes, i, 0x9e3779b9);
      let session: InferenceSession | undefined;
      try {
        session = await InferenceSession.create(bytes);
        await session.run({ [session.inputNames[0] ?? 'x']: feed });
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
    // Mutants must exercise both paths: some still load (flipped weight bits), most are refused.
    expect(outcomes.get('ran') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('create:INVALID_MODEL') ?? 0).toBeGreaterThan(0);
    console.log(`fuzz outcomes (${base.name})`, Object.fromEntries(outcomes));
  });
});
