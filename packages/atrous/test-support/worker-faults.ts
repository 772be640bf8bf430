// Breaking pool workers on purpose, to prove the pool survives it. The faults live in a worker module of
// the tests (fault-worker.js), not in the package's worker entry, so production workers carry none.
import type { PoolCallOptions, WorkerPool } from '../dist/index.js';

export type WorkerFault =
  | 'exit' // the worker ends itself (process.exit(7) in Node; close() in a browser)
  | 'uncaught' // an error thrown outside any call, at the worker's top level
  | 'trap' // the wasm kernels trap (an out-of-bounds memory access)
  | 'oom' // the worker's JavaScript heap runs out (Node: with `resourceLimits`)
  | 'hang'; // the worker never answers: only an abort or a timeout ends the call

/** The worker module to pass as `createWorkerPool({ workerUrl })` for pools whose workers can be broken. */
export const FAULT_WORKER_URL = new URL('./fault-worker.js', import.meta.url);

/**
 * Breaks one worker, as a queued call. The call fails with WORKER_CRASHED (or hangs until its signal or
 * timeout, for 'hang'); the worker is replaced.
 */
export function injectFault(pool: WorkerPool, kind: WorkerFault, call: PoolCallOptions = {}): Promise<void> {
  return pool.runOp('fault', [kind], call);
}
