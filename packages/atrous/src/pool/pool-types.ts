// The pool's public option and statistics types. A leaf: it imports nothing from the other pool modules,
// so the scheduler, the resource registry and the op wrappers can all name these types without importing
// one another.
import type { WasmBuild } from '../wasm/builds.js';

/** Heap limits of a Node worker (worker_threads ResourceLimits); ignored in browsers. */
export interface WorkerResourceLimits {
  maxYoungGenerationSizeMb?: number;
  maxOldGenerationSizeMb?: number;
  codeRangeSizeMb?: number;
  stackSizeMb?: number;
}

export interface WorkerPoolOptions {
  /** Number of workers. Default: the machine's cores (`os.availableParallelism()`, `navigator.hardwareConcurrency`). */
  size?: number;
  /** Calls that may wait for a free worker; one more rejects at once with QUEUE_FULL. Default 64. */
  maxQueue?: number;
  /** The wasm build every worker loads. Default: the best the engine validates. */
  build?: WasmBuild;
  /** Node only: heap limits per worker (`worker_threads` resourceLimits). A worker exceeding them is replaced. */
  resourceLimits?: WorkerResourceLimits;
  /**
   * The module each worker runs instead of the package's own worker entry: a script that calls `serveWorker`
   * with ops of its own, reached through `pool.runOp` (the tests use one that breaks workers on command).
   * Default: the package's worker entry, which bundlers find and emit by themselves.
   */
  workerUrl?: URL | string;
}

export interface PoolCallOptions {
  /** Cancels the call: a waiting call leaves the queue; a running one ends its worker, which is replaced. */
  signal?: AbortSignal;
  /** Fails the call with TIMEOUT after this many ms, counted from the call (waiting included). */
  timeoutMs?: number;
  /**
   * Move the caller's buffers (input, weights, bias, residual) to the worker instead of copying them.
   * Saves a copy per call; the caller's typed arrays are detached (length 0) afterwards. Default false:
   * the pool copies each input once into a fresh buffer and transfers that copy.
   */
  transfer?: boolean;
}

export interface TiledRunOptions extends PoolCallOptions {
  /** Output pixels per tile: `n` or `[h, w]`. */
  tile: number | readonly [number, number];
  // `signal` cancels every tile; `timeoutMs` bounds the whole run; the tiles' inputs are always fresh copies,
  // so `transfer` has no effect here.
}

export interface WorkerStats {
  id: number;
  state: 'starting' | 'idle' | 'busy' | 'dead';
  jobs: number;
  /** Size of the worker's wasm memory after its last call that succeeded (a failed call answers with its error only). */
  wasmBytes: number;
  resources: number;
}

export interface WorkerPoolStats {
  size: number;
  build: WasmBuild | undefined;
  maxQueue: number;
  queued: number;
  running: number;
  /** Calls that finished with a result. */
  completed: number;
  /** Calls that finished with an error (cancelled, timed out and crashed calls included). */
  failed: number;
  aborted: number;
  timedOut: number;
  /** Workers that died by themselves (exit, uncaught error, trap, out of memory). */
  crashed: number;
  /** Workers started to replace a crashed, cancelled or timed-out one (or a replacement that failed to start). */
  replaced: number;
  /** Replacement workers that died while loading the kernels (tried again, up to 3 times in a row). */
  startFailed: number;
  /** Named resources (prepared plans, stacks) held in the workers. */
  resources: number;
  workers: WorkerStats[];
}
