// A .tflite model through the worker pool: loaded in a worker, it gives the in-thread session's bits.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, createWorkerPool, init } from 'atrous';
import { photoDir, photoNhwc, selfieModels } from './selfie-models.js';

describe('selfie segmentation (.tflite) in the worker pool', () => {
  it('runs in a worker with the in-thread results, bit for bit', async () => {
    await init();
    const model = selfieModels.general;
    const bytes = new Uint8Array(readFileSync(model.path));
    const pool = await createWorkerPool({ size: 1, maxQueue: 4 });
    try {
      const pooled = await pool.loadModel(bytes.slice());
      const local = await InferenceSession.create(bytes.slice());
      expect(pooled.inputNames).toEqual(['input_1']);
      expect(pooled.inputMetadata).toEqual(local.inputMetadata);
      const image = new Tensor('float32', photoNhwc(`${photoDir}/astronaut.png`, model.height, model.width), [1, model.height, model.width, 3]);
      const got = (await pooled.run({ input_1: image }))[pooled.outputNames[0]!]!;
      const want = (await local.run({ input_1: image }))[local.outputNames[0]!]!;
      expect(got.dims).toEqual([1, 256, 256, 1]);
      expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength).equals(Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength))).toBe(true);
      await pooled.dispose();
      local.dispose();
    } finally {
      await pool.terminate();
    }
  });
});
