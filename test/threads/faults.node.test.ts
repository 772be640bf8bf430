// Faults of threaded runs: a helper thread killed mid-run, abort and timeout of a threaded pool run, release
// and terminate during a run, 200 runs without growth, and a Node process that exits by itself.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AtrousError, InferenceSession, Tensor, createWorkerPool, init } from 'atrous';
import { noise } from '../models/images.js';
import { sameBits } from './bit-identity.js';

const builtIn = fileURLToPath(new URL('../../models/default/model.onnx', import.meta.url));

function feeds(session: { inputNames: readonly string[] }, size: number): Record<string, Tensor> {
  return { [session.inputNames[0]!]: new Tensor('float32', noise(3 * size * size, 5), [1, 3, size, size]) };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof AtrousError ? e.code : `not an AtrousError: ${String(e)}`;
  }
}

describe('threaded runs under faults', () => {
  it('a helper killed mid-run fails that run with WORKER_CRASHED; the session then replaces its threads', async () => {
    const engine = await init({ build: 'simd128' });
    expect(engine.shared).toBeDefined();
    const session = await InferenceSession.create(builtIn, { intraOpNumThreads: 3 });
    expect(session.intraOpNumThreads).toBe(3);
    const input = feeds(session, 512);
    const name = session.outputNames[0]!;
    const before = (await session.run(input))[name]!.data as Float32Array;
    // The supervisor ends helper 1 while the engine's thread is inside the run's kernels.
    engine.killHelperForTest(1, 40);
    expect(await codeOf(session.run(input))).toBe('WORKER_CRASHED');
    const after = (await session.run(input))[name]!.data as Float32Array;
    expect(engine.teamCrashed).toBe(false);
    expect(engine.threads).toBe(3);
    expect(sameBits(after, before)).toBe(true);
    await session.release();
    await engine.stopThreads();
  });

  it('abort and timeout cancel threaded pool runs; release and terminate during runs leave no worker', async () => {
    const workers = () => process.getActiveResourcesInfo().filter((r) => r === 'Worker').length;
    const workersBefore = workers();
    const pool = await createWorkerPool({ size: 1, build: 'simd128' });
    try {
      const session = await pool.loadModel(readFileSync(builtIn), { intraOpNumThreads: 2 });
      expect(session.intraOpNumThreads).toBe(2);
      const input = feeds(session, 512);
      const reference = (await session.run(input))[session.outputNames[0]!]!.data as Float32Array;
      const controller = new AbortController();
      const aborted = session.run(input, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('test abort')), 30);
      expect(await codeOf(aborted)).toBe('ABORTED');
      expect(await codeOf(session.run(input, { timeoutMs: 20 }))).toBe('TIMEOUT');
      const again = (await session.run(input))[session.outputNames[0]!]!.data as Float32Array;
      expect(sameBits(again, reference)).toBe(true);
      // Released while a run is under way: the run settles (either way), nothing hangs.
      const running = session.run(input);
      await session.dispose();
      expect(['resolved', 'DISPOSED']).toContain(await codeOf(running));
      const second = await pool.loadModel(readFileSync(builtIn), { intraOpNumThreads: 2 });
      const last = codeOf(second.run(input));
      await new Promise((r) => setTimeout(r, 30));
      await pool.terminate();
      expect(['resolved', 'TERMINATED']).toContain(await last);
    } finally {
      await pool.terminate();
    }
    expect(workers()).toBe(workersBefore);
  });

  it('200 threaded runs grow neither wasm memory nor handles', async () => {
    const engine = await init({ build: 'simd128' });
    const session = await InferenceSession.create(builtIn, { intraOpNumThreads: 2 });
    const input = feeds(session, 96);
    for (let i = 0; i < 10; i++) await session.run(input);
    const memory = engine.memoryBytes;
    const handles = process.getActiveResourcesInfo().length;
    for (let i = 0; i < 200; i++) await session.run(input);
    expect(engine.memoryBytes).toBe(memory);
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(handles);
    await session.release();
    await engine.stopThreads();
  });

  it('a Node script with a threaded session that never releases it exits by itself', () => {
    const script = `
      import { InferenceSession, Tensor } from 'atrous';
      const s = await InferenceSession.create(${JSON.stringify(builtIn)}, { intraOpNumThreads: 2 });
      const r = await s.run({ [s.inputNames[0]]: new Tensor('float32', new Float32Array(3 * 64 * 64), [1, 3, 64, 64]) });
      console.log('threads', s.intraOpNumThreads, 'out', r[s.outputNames[0]].dims.join('x'));
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)), encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout).toMatch(/^threads 2 out 1x\d+x64x64/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
