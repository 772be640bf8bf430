// Bad input to the trainer: each is an AtrousError whose code and message name the argument and the value
// (options at create, labels and feeds at step), and nothing is left allocated by a failed step.
import { beforeAll, describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { currentEngine, init } from '../wasm/loader.js';
import { ModelBuilder, randomFloats } from '../../test-support/onnx-builder.js';
import { createTrainer } from './trainer.js';
import type { TrainerOptions } from './options.js';

/** conv -> relu -> `middle` (an op the trainer differentiates or not) -> conv head, 3 classes. */
function model(middle: 'Relu' | 'Softmax' | 'Resize' = 'Relu', size = 4): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('x', [1, 2, size, size]);
  m.init('w1', [4, 2, 3, 3], randomFloats(72, 1));
  m.init('w2', [3, 4, 1, 1], randomFloats(12, 2));
  const a = m.node('Relu', [m.node('Conv', ['x', 'w1'], 1, { pads: [1, 1, 1, 1] }, 'conv1')], 1, {}, 'relu');
  let b: string;
  if (middle === 'Resize') {
    m.init('roi', [0], []);
    m.init('scales', [4], [1, 1, 1, 1]);
    b = m.node('Resize', [a, 'roi', 'scales'], 1, { mode: 'nearest' }, 'middle');
  } else {
    b = m.node(middle, [a], 1, middle === 'Softmax' ? { axis: 1 } : {}, 'middle');
  }
  m.node('Conv', [b, 'w2'], ['logits'], {}, 'head');
  m.output('logits');
  return m.bytes();
}

const base: TrainerOptions = { loss: { type: 'softmaxCrossEntropy' }, optimizer: { type: 'sgd', learningRate: 0.1 } };
const x = new Tensor('float32', randomFloats(32, 3), [1, 2, 4, 4]);

async function failure(p: Promise<unknown>): Promise<AtrousError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AtrousError) return e;
    throw e;
  }
  throw new Error('expected an AtrousError');
}

beforeAll(async () => {
  await init({ build: 'simd128' });
});

describe('trainer errors', () => {
  it('bad options name the option and its value', async () => {
    const cases: [Partial<TrainerOptions> | Record<string, unknown>, RegExp][] = [
      [{ trainable: ['conv9'] }, /options\.trainable names node "conv9", which the model does not have/],
      [{ trainable: ['relu'] }, /options\.trainable names Relu node "relu", which has no weights to train/],
      [{ trainable: { after: 'nope' } }, /options\.trainable\.after names node "nope"/],
      [{ trainable: { after: 'head' } }, /selects no Conv or BatchNormalization weights/],
      [{ trainable: [] }, /options\.trainable must name at least one node/],
      [{ trainable: 'some' }, /options\.trainable must be 'all', an array of node names or \{ after: nodeName \}, got "some"/],
      [{ optimizer: { type: 'sgd', learningRate: 0 } }, /options\.optimizer\.learningRate must be a finite number > 0, got 0/],
      [{ optimizer: { type: 'adam', learningRate: -1 } }, /learningRate must be a finite number > 0, got -1/],
      [{ optimizer: { type: 'sgd', learningRate: NaN } }, /learningRate must be a finite number > 0, got NaN/],
      [{ optimizer: { type: 'sgd', learningRate: 0.1, momentum: 1 } }, /options\.optimizer\.momentum must be in \[0, 1\), got 1/],
      [{ optimizer: { type: 'adam', learningRate: 0.1, momentum: 0.9 } }, /options\.optimizer\.momentum is SGD's; Adam takes betas, got 0\.9/],
      [{ optimizer: { type: 'rmsprop', learningRate: 0.1 } }, /options\.optimizer\.type must be 'adam' or 'sgd', got "rmsprop"/],
      [{ optimizer: { type: 'sgd', learningRate: 0.1, weightDecay: -1 } }, /options\.optimizer\.weightDecay must be a finite number >= 0, got -1/],
      [{ loss: { type: 'dice' } }, /options\.loss\.type must be 'softmaxCrossEntropy', got "dice"/],
      [{ loss: { type: 'softmaxCrossEntropy', ignoreIndex: 0.5 } }, /options\.loss\.ignoreIndex must be a 32-bit integer, got 0\.5/],
      [{ loss: { type: 'softmaxCrossEntropy', classWeights: [1, -2, 1] } }, /options\.loss\.classWeights\[1\] must be a finite number >= 0, got -2/],
      [{ output: 'probs' }, /options\.output "probs" is not an output of the model/],
    ];
    for (const [patch, message] of cases) {
      const e = await failure(createTrainer(model(), { ...base, ...patch } as TrainerOptions));
      expect(e.code, String(message)).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(message);
    }
  });

  it('an op without a backward in the trained part fails at create, naming the node; after it, training works', async () => {
    let e = await failure(createTrainer(model('Softmax'), base));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/Softmax node "middle" is in the trained part of the graph/);
    e = await failure(createTrainer(model('Resize'), base));
    expect(e.code).toBe('UNSUPPORTED_OP');
    expect(e.message).toMatch(/Resize node "middle": only linear and cubic Resize have a backward/);
    const t = await createTrainer(model('Softmax'), { ...base, trainable: { after: 'middle' } });
    expect(t.parameterNames).toEqual(['w2']);
    expect((await t.step({ x }, new Uint8Array(16))).loss).toBeGreaterThan(0);
    t.dispose();
  });

  it('bad labels and feeds at step name what is wrong; a failed step leaks no wasm memory', async () => {
    const t = await createTrainer(model(), { ...base, loss: { type: 'softmaxCrossEntropy', ignoreIndex: 255, classWeights: [1, 1] } });
    const good = new Uint8Array(16);
    const cases: [unknown, string, RegExp][] = [
      [new Uint8Array(15), 'INVALID_SHAPE', /trainer\.step: labels must hold 16 values \(dims \[1, 4, 4\]\), got 15/],
      [new Tensor('int32', new Int32Array(16), [1, 16]), 'INVALID_SHAPE', /labels must have dims \[1, 4, 4\] \(the logits \[1, 3, 4, 4\] without the class axis\), got \[1, 16\]/],
      [Uint8Array.from({ length: 16 }, (_, i) => (i === 9 ? 3 : 0)), 'INVALID_ARGUMENT', /label 3 at index 9 is not a class id in \[0, 3\) nor the ignoreIndex 255/],
      [Int32Array.from({ length: 16 }, (_, i) => (i === 2 ? -1 : 0)), 'INVALID_ARGUMENT', /label -1 at index 2/],
      [new Float32Array(16), 'INVALID_TENSOR', /labels must be an Int32Array, a Uint8Array or an int32\/uint8 Tensor/],
      [new Tensor('float32', new Float32Array(16), [1, 4, 4]), 'INVALID_TENSOR', /labels must be an int32 or uint8 tensor, got float32/],
    ];
    for (const [labels, code, message] of cases) {
      const e = await failure(t.step({ x }, labels as Uint8Array));
      expect(e.code, String(message)).toBe(code);
      expect(e.message).toMatch(message);
    }
    // Class weights are checked against the logits' classes when the first batch shows them.
    const e = await failure(t.step({ x }, good));
    expect(e.message).toMatch(/options\.loss\.classWeights has 2 values, the logits \[1, 3, 4, 4\] have 3 classes/);
    const wrongFeed = await failure(t.step({ x: new Tensor('float32', new Float32Array(16), [1, 1, 4, 4]) }, good));
    expect(wrongFeed.code).toBe('INVALID_FEED');
    expect(wrongFeed.message).toMatch(/^trainer\.step: feed "x"/);
    t.dispose();
    expect((await failure(t.step({ x }, good))).code).toBe('DISPOSED');

    // Memory: a step frees what it allocated (each keeps about 0.5 MB of activations and gradients at
    // 64 x 64: 20 leaking steps would grow the wasm memory by 10 MB), and so does a failed one.
    const engine = currentEngine('test');
    const u = await createTrainer(model('Relu', 64), base);
    const big = { x: new Tensor('float32', randomFloats(2 * 64 * 64, 4), [1, 2, 64, 64]) };
    const labels = Uint8Array.from({ length: 64 * 64 }, (_, i) => i % 3);
    await u.step(big, labels);
    const before = engine.memoryBytes;
    for (let i = 0; i < 20; i++) {
      await u.step(big, labels);
      await failure(u.step(big, new Uint8Array(64 * 64).fill(7)));
    }
    expect(engine.memoryBytes).toBe(before);
    u.dispose();
  });

  it('memory: only what the backward reads is kept, and a frozen prefix keeps nothing', async () => {
    const big = { x: new Tensor('float32', randomFloats(2 * 64 * 64, 4), [1, 2, 64, 64]) };
    const labels = Uint8Array.from({ length: 64 * 64 }, (_, i) => i % 3);
    const plane = 64 * 64 * 4;
    const all = await createTrainer(model('Relu', 64), base);
    await all.step(big, labels);
    // conv1 keeps its input x (2 planes), each Relu its output (4 planes each), the second one's being
    // also the head's input.
    expect(all.memory.keptActivationBytes).toBe((2 + 4 + 4) * plane);
    const head = await createTrainer(model('Relu', 64), { ...base, trainable: { after: 'middle' } });
    await head.step(big, labels);
    expect(head.memory.keptActivationBytes).toBe(4 * plane);
    // Peak: what is kept, the logits and their gradient (3 planes each), and two gradients in flight (a
    // node's dy and its dx, 4 planes each), plus small uploads (weights, labels: 1 plane of i32).
    expect(head.memory.peakStepBytes).toBeLessThan(all.memory.peakStepBytes);
    expect(all.memory.peakStepBytes).toBeLessThanOrEqual((10 + 3 + 3 + 4 + 4 + 1) * plane + 4096);
    expect(head.memory.peakStepBytes).toBeLessThanOrEqual((4 + 3 + 3 + 1) * plane + 4096);
    expect(all.memory.weightBytes).toBeGreaterThan(0);
    all.dispose();
    head.dispose();
  });
});
