// An InferenceSession built and run inside a Node worker thread (what the worker pool does), equal to one
// on the main thread.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, init } from 'atrous';
import { ModelBuilder, randomFloats } from '../../packages/atrous/test-support/onnx-builder.js';

describe('InferenceSession in a worker thread', () => {
  it('loads from transferred bytes and gives the main thread the same result', async () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 2, 9, 9]);
    m.init('w', [3, 2, 3, 3], randomFloats(54, 21));
    m.node('Relu', [m.node('Conv', ['x', 'w'], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] })], ['y']);
    m.output('y');
    const model = Uint8Array.from(m.bytes());
    const x = randomFloats(162, 22);
    const worker = new Worker(new URL('./session-worker.mjs', import.meta.url), { workerData: { model, x, dims: [1, 2, 9, 9] } });
    const fromWorker = await new Promise<{ dims: number[]; data: Float32Array }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    await init({ build: 'simd128' });
    const session = await InferenceSession.create(model, { build: 'simd128' });
    const { y } = await session.run({ x: new Tensor('float32', x, [1, 2, 9, 9]) });
    expect(fromWorker.dims).toEqual([1, 3, 9, 9]);
    expect(Array.from(fromWorker.data)).toEqual(Array.from(y!.data as Float32Array));
    session.dispose();
  });
});
