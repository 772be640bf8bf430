import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import onnxProto from 'onnx-proto';
import { AtrousError, InferenceSession, Tensor, createWorkerPool, init, type WorkerPool } from '../../dist/index.js';
import { ModelBuilder, randomFloats } from '../../test-support/onnx-builder.js';
import { FAULT_WORKER_URL, injectFault } from '../../test-support/worker-faults.js';

const INT64 = onnxProto.onnx.TensorProto.DataType.INT64;

/** A tiny segmentation head: dilated conv + relu (scores), and the per-pixel argmax as int64 (labels). */
function segmentationModel(): Uint8Array {
  const m = new ModelBuilder(13);
  m.input('image', ['batch', 3, 'h', 'w']);
  m.init('w1', [8, 3, 3, 3], randomFloats(8 * 27, 1));
  m.init('w2', [4, 8, 3, 3], randomFloats(4 * 72, 2));
  const a = m.node('Relu', [m.node('Conv', ['image', 'w1'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] })]);
  m.node('Conv', [a, 'w2'], ['scores'], { pads: [4, 4, 4, 4], dilations: [4, 4] });
  m.node('ArgMax', ['scores'], ['labels'], { axis: 1, keepdims: 0 });
  m.output('scores');
  m.output('labels', undefined, INT64);
  return m.bytes();
}

function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.type !== b.type || a.dims.join() !== b.dims.join()) return false;
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

async function rejection(p: Promise<unknown>): Promise<AtrousError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(AtrousError);
    return error as AtrousError;
  }
  throw new Error('expected a rejection');
}

describe('pool.loadModel', () => {
  let pool: WorkerPool;
  let local: InferenceSession;

  beforeAll(async () => {
    await init();
    pool = await createWorkerPool({ size: 2, maxQueue: 8, workerUrl: FAULT_WORKER_URL });
    local = await InferenceSession.create(segmentationModel());
  });

  afterAll(async () => {
    local?.dispose();
    await pool?.terminate();
  });

  it('loads a model in every worker and runs it there with the in-thread results, int64 outputs included', async () => {
    const session = await pool.loadModel(segmentationModel());
    expect(session.inputNames).toEqual(local.inputNames);
    expect(session.outputNames).toEqual(['scores', 'labels']);
    expect(session.inputMetadata).toEqual(local.inputMetadata);
    expect(session.weightBytes).toBeGreaterThan(0);
    expect(pool.stats().workers.every((w) => w.resources === 1)).toBe(true);
    const images = [[1, 3, 20, 17], [2, 3, 9, 31], [1, 3, 20, 17], [1, 3, 40, 40]].map(
      (dims, i) => new Tensor('float32', randomFloats(dims.reduce((a, b) => a * b), 10 + i), dims),
    );
    const results = await Promise.all(images.map((image) => session.run({ image })));
    for (const [i, image] of images.entries()) {
      const expected = await local.run({ image });
      expect(results[i]!.labels!.type).toBe('int64');
      expect(results[i]!.labels!.dims).toEqual([image.dims[0], image.dims[2], image.dims[3]]);
      for (const name of ['scores', 'labels']) expect(sameBits(results[i]![name]!, expected[name]!)).toBe(true);
    }
    await session.dispose();
    expect(pool.stats().resources).toBe(0);
    expect((await rejection(session.run({ image: images[0]! }))).code).toBe('DISPOSED');
  });

  it('keeps the codes of load and feed errors, and survives a crashed worker', async () => {
    const bad = await rejection(pool.loadModel(new Uint8Array([1, 2, 3, 4, 5])));
    expect(bad.code).toBe('INVALID_MODEL');
    expect(pool.stats().resources).toBe(0);
    const session = await pool.loadModel(segmentationModel());
    const feed = await rejection(session.run({ picture: new Tensor('float32', new Float32Array(3 * 4 * 4), [1, 3, 4, 4]) }));
    expect(feed.code).toBe('INVALID_FEED');
    expect(feed.message).toMatch(/picture/);
    await injectFault(pool, 'exit').catch(() => undefined);
    for (let i = 0; i < 2000 && !pool.stats().workers.every((w) => w.state === 'idle'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(pool.stats().workers.map((w) => w.resources).sort()).toEqual([0, 1]); // the replacement has not loaded it yet
    const image = new Tensor('float32', randomFloats(3 * 12 * 12, 5), [1, 3, 12, 12]);
    const expected = await local.run({ image });
    // Both workers (one of them a replacement that loads the model on first use) give the same answer.
    const [a, b] = await Promise.all([session.run({ image }), session.run({ image })]);
    expect(sameBits(a!.scores!, expected.scores!)).toBe(true);
    expect(sameBits(b!.scores!, expected.scores!)).toBe(true);
    expect(pool.stats().crashed).toBe(1);
    await session.dispose();
  });
});
