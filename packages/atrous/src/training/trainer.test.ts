// The trainer's backward through the ops the PyTorch test (test/training) does not cover: a dilated conv
// with LeakyRelu (derivative from the output), GlobalAveragePool added back with broadcasting (the Add
// gradient summed over the broadcast axes, and a value with two readers: gradients accumulate), Clip with
// bound inputs, AveragePool counting its padding, Reshape views, a 1x1 conv, Sigmoid and a cubic Resize.
// One SGD step with learning rate 1 moves every weight by minus its gradient; that move is held to central
// differences of `evaluate`'s loss on models with the weight nudged, for every weight.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../tensor.js';
import { init } from '../wasm/loader.js';
import { ModelBuilder, f, randomFloats } from '../../test-support/onnx-builder.js';
import { createTrainer } from './trainer.js';

const SHAPES: Record<string, number[]> = { w1: [4, 2, 3, 3], b1: [4], w2: [3, 4, 1, 1], b2: [3] };

function model(weights: Record<string, Float32Array>): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('x', [2, 2, 6, 6]);
  for (const [name, dims] of Object.entries(SHAPES)) m.init(name, dims, weights[name]!);
  m.init('lo', [], [-0.3]);
  m.init('hi', [], [0.5]);
  m.init('flat', [3], [2, 4, 9]);
  m.init('back', [4], [2, 4, 3, 3]);
  m.init('roi', [0], []);
  m.init('scales', [4], [1, 1, 2, 2]);
  const c1 = m.node('Conv', ['x', 'w1', 'b1'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] }, 'conv1');
  const a1 = m.node('LeakyRelu', [c1], 1, { alpha: f(0.1) }, 'leaky');
  const g = m.node('GlobalAveragePool', [a1], 1, {}, 'gap');
  const s = m.node('Add', [a1, g], 1, {}, 'add');
  const cl = m.node('Clip', [s, 'lo', 'hi'], 1, {}, 'clip');
  const p = m.node('AveragePool', [cl], 1, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }, 'pool');
  const v = m.node('Reshape', [m.node('Reshape', [p, 'flat'], 1, {}, 'flatten'), 'back'], 1, {}, 'unflatten');
  const c2 = m.node('Conv', [v, 'w2', 'b2'], 1, {}, 'conv2');
  const sg = m.node('Sigmoid', [c2], 1, {}, 'sigmoid');
  m.node('Resize', [sg, 'roi', 'scales'], ['logits'], { mode: 'cubic' }, 'resize');
  m.output('logits');
  return m.bytes();
}

const initial = (): Record<string, Float32Array> =>
  Object.fromEntries(Object.entries(SHAPES).map(([name, dims], i) => [name, Float32Array.from(randomFloats(dims.reduce((a, b) => a * b, 1), 11 + i), (x) => x * 1.5)]));

const x = new Tensor('float32', randomFloats(2 * 2 * 36, 5), [2, 2, 6, 6]);
const labels = Int32Array.from({ length: 2 * 36 }, (_, i) => (i % 7 === 3 ? -1 : (i * 5) % 3));
const options = (learningRate: number) => ({
  loss: { type: 'softmaxCrossEntropy' as const, ignoreIndex: -1, classWeights: [1, 0.5, 2] },
  optimizer: { type: 'sgd' as const, learningRate },
});

beforeAll(async () => {
  await init({ build: 'simd128' });
});

describe('trainer backward', () => {
  it('one SGD step moves each weight by minus the slope of the loss', async () => {
    const w0 = initial();
    const trainer = await createTrainer(model(w0), options(1));
    const { loss } = await trainer.step({ x }, labels);
    const moved = Object.fromEntries(Object.keys(SHAPES).map((n) => [n, trainer.parameter(n)]));
    trainer.dispose();
    const lossAt = async (weights: Record<string, Float32Array>) => {
      const t = await createTrainer(model(weights), options(1));
      const r = await t.evaluate({ x }, labels);
      t.dispose();
      return r.loss;
    };
    expect(await lossAt(w0)).toBeCloseTo(loss, 6);
    // A small step, so that few pre-activations cross a kink of LeakyRelu or Clip between the two nudges
    // (at 1e-2 some do, and the bias slopes are off by 1%); the float32 loss then limits the slope to about
    // 1e-7 / 2h, hence the absolute floor.
    const h = 2e-3;
    const NOISE = 2e-5;
    for (const name of Object.keys(SHAPES)) {
      let scale = 0;
      const pairs: [number, number][] = [];
      for (let i = 0; i < w0[name]!.length; i++) {
        const nudged = (d: number) => ({ ...w0, [name]: Float32Array.from(w0[name]!, (v, j) => (j === i ? v + d : v)) });
        const slope = ((await lossAt(nudged(h))) - (await lossAt(nudged(-h)))) / (2 * h);
        const grad = w0[name]![i]! - moved[name]![i]!;
        pairs.push([grad, slope]);
        scale = Math.max(scale, Math.abs(slope));
      }
      expect(scale, `${name} has a gradient`).toBeGreaterThan(1e-3);
      for (const [i, [grad, slope]] of pairs.entries()) expect(Math.abs(grad - slope), `${name}[${i}]: step ${grad}, slope ${slope}`).toBeLessThan(NOISE + 1e-3 * scale);
    }
  });

  it('{ after } trains only what follows: the earlier conv stays bit-identical, the later one moves', async () => {
    const w0 = initial();
    const trainer = await createTrainer(model(w0), { ...options(0.5), trainable: { after: 'pool' } });
    expect(trainer.parameterNames).toEqual(['w2', 'b2']);
    const first = await trainer.step({ x }, labels);
    const second = await trainer.step({ x }, labels);
    expect(second.loss).toBeLessThan(first.loss);
    const t2 = await createTrainer(trainer.exportModel(), options(1));
    expect(Buffer.from(t2.parameter('w1').buffer).equals(Buffer.from(w0.w1!.buffer))).toBe(true);
    expect(Buffer.from(t2.parameter('b1').buffer).equals(Buffer.from(w0.b1!.buffer))).toBe(true);
    expect(Array.from(t2.parameter('w2'))).toEqual(Array.from(trainer.parameter('w2')));
    expect(Array.from(t2.parameter('w2'))).not.toEqual(Array.from(w0.w2!));
    t2.dispose();
    trainer.dispose();
  });
});
