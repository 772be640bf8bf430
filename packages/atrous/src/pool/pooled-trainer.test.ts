// pool.createTrainer: a trainer in one worker. Its steps give exactly the in-thread trainer's losses and
// weights (same build), with other pool work running meanwhile (its calls are pinned to its worker, so
// no other worker sees a stale copy); train() reports progress per step and stops between steps on abort,
// keeping what it learned; options are checked on the calling thread, model-dependent ones in the worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtrousError, Tensor, createTrainer, createWorkerPool, init, type WorkerPool } from '../../dist/index.js';
import { ModelBuilder, randomFloats } from '../../test-support/onnx-builder.js';
import { FAULT_WORKER_URL, injectFault } from '../../test-support/worker-faults.js';

function model(): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('x', [2, 3, 8, 8]);
  m.init('w1', [6, 3, 3, 3], randomFloats(6 * 27, 1));
  m.init('b1', [6], randomFloats(6, 2));
  m.init('w2', [3, 6, 1, 1], randomFloats(18, 3));
  const a = m.node('Relu', [m.node('Conv', ['x', 'w1', 'b1'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] }, 'conv')], 1, {}, 'relu');
  m.node('Conv', [a, 'w2'], ['logits'], {}, 'head');
  m.output('logits');
  return m.bytes();
}

const options = { loss: { type: 'softmaxCrossEntropy' as const, classWeights: new Float32Array([1, 2, 1]) }, optimizer: { type: 'adam' as const, learningRate: 0.01 } };
const feeds = { x: new Tensor('float32', randomFloats(2 * 3 * 64, 4), [2, 3, 8, 8]) };
const labels = Uint8Array.from({ length: 2 * 64 }, (_, i) => (i * 7) % 3);

async function rejection(p: Promise<unknown>): Promise<AtrousError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(AtrousError);
    return error as AtrousError;
  }
  throw new Error('expected a rejection');
}

let pool: WorkerPool;
beforeAll(async () => {
  await init({ build: 'simd128' });
  pool = await createWorkerPool({ size: 2, build: 'simd128' });
});
afterAll(() => pool.terminate());

describe('pool.createTrainer', () => {
  it('steps in its worker match the in-thread trainer bit for bit, with other work in the pool meanwhile', async () => {
    const local = await createTrainer(model(), options);
    const pooled = await pool.createTrainer(model(), options);
    expect(pooled.parameterNames).toEqual(['w1', 'b1', 'w2']);
    const w = new Tensor('float32', randomFloats(6 * 27, 9), [6, 3, 3, 3]);
    for (let i = 0; i < 4; i++) {
      const other = pool.conv2d(feeds.x, w, { pads: 'same-upper' });
      const [mine, theirs] = await Promise.all([pooled.step(feeds, labels), local.step(feeds, labels), other]);
      expect(mine.loss).toBe(theirs.loss);
    }
    const exported = await pooled.exportModel();
    expect(Buffer.from(exported).equals(Buffer.from(local.exportModel()))).toBe(true);
    const [a, b] = [await pooled.forward(feeds), await local.forward(feeds)];
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const ev = await pooled.evaluate(feeds, new Tensor('uint8', labels, [2, 8, 8]));
    expect(ev.loss).toBe((await local.evaluate(feeds, labels)).loss);
    expect((await pooled.memory()).keptActivationBytes).toBeGreaterThan(0);
    await pooled.dispose();
    local.dispose();
    expect((await rejection(pooled.step(feeds, labels))).code).toBe('DISPOSED');
  });

  it('train: progress after each step; an abort stops between steps and the trainer keeps its steps', async () => {
    const local = await createTrainer(model(), options);
    const pooled = await pool.createTrainer(model(), options);
    const seen: number[] = [];
    // The batch crosses once, when train is called: changing the caller's arrays after the first step does
    // not change the later steps (they must match the in-thread steps on the original batch).
    const mine = { x: new Tensor('float32', (feeds.x.data as Float32Array).slice(), [...feeds.x.dims]) };
    const full = await pooled.train(mine, labels, {
      steps: 3,
      onProgress: (p) => {
        seen.push(p.step * 10 + p.steps);
        (mine.x.data as Float32Array).fill(0);
      },
    });
    expect(seen).toEqual([13, 23, 33]);
    const want: number[] = [];
    for (let i = 0; i < 3; i++) want.push((await local.step(feeds, labels)).loss);
    expect(full.losses).toEqual(want);
    const stop = new AbortController();
    const e = await rejection(pooled.train(feeds, labels, { steps: 10, signal: stop.signal, onProgress: (p) => p.step === 2 && stop.abort(new Error('user cancel')) }));
    expect(e.code).toBe('ABORTED');
    expect(e.message).toMatch(/trainer\.train: aborted after 2 of 10 steps \(user cancel\); the trainer keeps the steps done/);
    // Two more steps were taken; the next one continues from there, as in-thread.
    for (let i = 0; i < 2; i++) await local.step(feeds, labels);
    expect((await pooled.step(feeds, labels)).loss).toBe((await local.step(feeds, labels)).loss);
    const aborted = new AbortController();
    aborted.abort();
    expect((await rejection(pooled.step(feeds, labels, { signal: aborted.signal }))).code).toBe('ABORTED');
    await pooled.dispose();
    local.dispose();
  });

  it('bad options: checked here when they need no model, in the worker when they do', async () => {
    let e = await rejection(pool.createTrainer(model(), { ...options, optimizer: { type: 'sgd', learningRate: 0 } }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/options\.optimizer\.learningRate must be a finite number > 0, got 0/);
    e = await rejection(pool.createTrainer(model(), { ...options, trainable: { after: 'nope' } }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/options\.trainable\.after names node "nope"/);
    e = await rejection(pool.createTrainer(model(), { ...options, build: 'scalar' }));
    expect(e.message).toMatch(/options\.build is the pool's/);
    const t = await pool.createTrainer(model(), options);
    e = await rejection(t.step(feeds, new Uint8Array(5)));
    expect(e.code).toBe('INVALID_SHAPE');
    expect(e.message).toMatch(/labels must hold 128 values/);
    e = await rejection(t.train(feeds, labels, { steps: 0 }));
    expect(e.message).toMatch(/options\.steps must be a positive integer, got 0/);
    await t.dispose();
  });

  it('a crash of its worker loses the trainer: waiting and later calls say so; the pool goes on', async () => {
    const lone = await createWorkerPool({ size: 1, build: 'simd128', workerUrl: FAULT_WORKER_URL });
    try {
      const t = await lone.createTrainer(model(), options);
      await t.step(feeds, labels);
      const crash = injectFault(lone, 'exit');
      const waiting = t.step(feeds, labels); // queued behind the fault, pinned to the dying worker
      expect((await rejection(crash)).code).toBe('WORKER_CRASHED');
      const e = await rejection(waiting);
      expect(e.code).toBe('WORKER_CRASHED');
      expect(e.message).toMatch(/trainer\.step: the worker holding this resource died/);
      expect((await rejection(t.step(feeds, labels))).message).toMatch(/its state is lost/);
      // A new trainer lives in the replacement worker.
      const again = await lone.createTrainer(model(), options);
      expect((await again.step(feeds, labels)).loss).toBeGreaterThan(0);
    } finally {
      await lone.terminate();
    }
  });
});
