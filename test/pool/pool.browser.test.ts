// The point of the pool in a page: a long convolution workload leaves the main thread free to draw.
// A requestAnimationFrame loop measures the gaps between frames while the same workload runs through the
// pool, then on the main thread. The test runs in the page itself (vitest browser mode), so the loop
// measures the page's main thread; the pool's module workers are bundled by Vite from
// `new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module' })` as an app's would be.
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, conv2d, createWorkerPool, init, loadedBuild, type WorkerPool } from 'atrous';
import { FAULT_WORKER_URL, injectFault } from '../../packages/atrous/test-support/worker-faults.js';

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

const frame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

/** Runs `work` while a rAF loop records the longest gap between frames (ms), the last one included. */
async function longestFrameGap(work: () => Promise<unknown>): Promise<{ gap: number; frames: number; ms: number }> {
  await frame();
  let last = performance.now();
  let gap = 0;
  let frames = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
    frames++;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  running = false;
  await frame(); // closes the gap the work may have opened
  await frame();
  return { gap, frames, ms };
}

// Two ASPP-like convolutions (256 <- 256 channels, 3x3, dilation 2, batch 8 at 65x65: about 80 GFLOP nominal;
// one call takes about 1 s on the main thread of this 2-core machine, twice the 500 ms the test asks for).
const x = [1, 2].map((seed) => new Tensor('float32', random(8 * 256 * 65 * 65, seed), [8, 256, 65, 65]));
const w = new Tensor('float32', random(256 * 256 * 9, 3).map((v) => v / 48), [256, 256, 3, 3]);
const options = { dilations: 2, pads: 'same-upper' as const, bias: random(256, 4) };

describe('the worker pool in chromium', () => {
  let pool: WorkerPool | undefined;
  let breakable: WorkerPool | undefined;

  afterAll(async () => {
    await Promise.all([pool?.terminate(), breakable?.terminate()]);
  });

  it('keeps frames coming while the workers compute; the main thread alone does not', async () => {
    await init();
    pool = await createWorkerPool({ size: 2 });
    expect(pool.stats().build).toBe(loadedBuild());
    const plan = await pool.prepareConv2d(w, options);
    const local: Tensor<'float32'>[] = [];
    const onMain = await longestFrameGap(async () => {
      for (const t of x) {
        local.push(conv2d(t, w, options));
        await frame();
      }
    });
    const pooled: Tensor<'float32'>[] = [];
    const withPool = await longestFrameGap(async () => {
      // transfer: the inputs move to the workers instead of being copied on this thread (they are not needed here after).
      pooled.push(...(await Promise.all(x.map((t) => plan.run(t, { transfer: true })))));
    });
    console.log(
      `longest frame gap: ${withPool.gap.toFixed(1)} ms with the pool (${withPool.frames} frames in ${withPool.ms.toFixed(0)} ms), ` +
        `${onMain.gap.toFixed(1)} ms on the main thread (${onMain.frames} frames in ${onMain.ms.toFixed(0)} ms)`,
    );
    // Same numbers either way (same build, same kernels).
    for (let i = 0; i < x.length; i++) {
      expect(pooled[i]!.dims).toEqual(local[i]!.dims);
      expect(pooled[i]!.data.every((v, j) => Object.is(v, local[i]!.data[j]))).toBe(true);
    }
    // Off the main thread, the page keeps drawing: compared with the same work on the main thread in the same
    // run (a ratio, not a bound in ms: absolute gaps follow this machine's speed of the moment; one CI run
    // saw 106 ms with the pool against 990 ms on the main thread).
    expect(onMain.gap).toBeGreaterThan(3 * withPool.gap);
    expect(withPool.frames / withPool.ms).toBeGreaterThan((3 * onMain.frames) / onMain.ms);
    await plan.dispose();
  }, 180_000);

  it('replaces module workers that crash or hang, with the error codes of Node', async () => {
    // Workers running the tests' worker module, which breaks on command (the package's own has no faults).
    const pool = (breakable = await createWorkerPool({ size: 2, workerUrl: FAULT_WORKER_URL }));
    const small = new Tensor('float32', random(2 * 9 * 9, 5), [1, 2, 9, 9]);
    const weights = new Tensor('float32', random(3 * 2 * 9, 6), [3, 2, 3, 3]);
    const before = pool.stats();
    const uncaught = await injectFault(pool, 'uncaught').catch((e: unknown) => e as { code: string; message: string });
    expect(uncaught.code).toBe('WORKER_CRASHED');
    expect(uncaught.message).toMatch(/uncaught error at its top level: .*fault injected/);
    const trap = await injectFault(pool, 'trap').catch((e: unknown) => e as { code: string; message: string });
    expect(trap.code).toBe('WORKER_CRASHED');
    expect(trap.message).toMatch(/trapped/);
    // Replacements load their kernels first; the hang must reach a worker for its timeout to end one.
    while (!pool.stats().workers.every((w) => w.state === 'idle')) await new Promise((r) => setTimeout(r, 10));
    const hang = await injectFault(pool, 'hang', { timeoutMs: 100 }).catch((e: unknown) => e as { code: string; message: string });
    expect(hang.code).toBe('TIMEOUT');
    expect(hang.message).toMatch(/while running in worker/);
    expect(pool.stats().replaced).toBe(before.replaced + 3);
    const y = await pool.conv2d(small, weights, { dilations: 2, pads: 'same-upper' });
    expect(y.data.every((v, i) => Object.is(v, conv2d(small, weights, { dilations: 2, pads: 'same-upper' }).data[i]))).toBe(true);
  });
});
