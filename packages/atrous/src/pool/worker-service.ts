// What a pool worker serves through Comlink: it loads the kernels once, runs ops and holds named resources.
// worker-entry.ts, the package's worker, serves it as it is; a worker module of one's own (the pool's
// `workerUrl` option) serves it with ops of its own, e.g. the tests' worker that breaks on command.
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { workerEndpoint } from '#worker-host';
import { AtrousError, show } from '../errors.js';
import type { Engine } from '../wasm/engine.js';
import { init } from '../wasm/loader.js';
import { installErrorTransfer } from './error-transfer.js';
import type { Answer, WorkerApi } from './worker-protocol.js';
import { CONV_OPS, CONV_RESOURCES } from './worker-ops.js';
import { ResourceTable, type MethodResult } from './worker-resources.js';

/** A stateless op: its arguments as they crossed; its result and the buffers in it to transfer back. */
export type WorkerOp = (args: any) => MethodResult | Promise<MethodResult>;

let engine: Engine | undefined;

function requireEngine(what: string): Engine {
  if (!engine) throw new AtrousError('NOT_INITIALIZED', `worker: ${what} before init`);
  return engine;
}

/** The first wasm trap in `error` or its causes (an ONNX session wraps the trap of one of its steps). */
function findTrap(error: unknown): WebAssembly.RuntimeError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof WebAssembly.RuntimeError) return e;
  }
  return undefined;
}

/** Runs `work` and answers with its result; a wasm trap is rethrown as WORKER_CRASHED. */
async function answer<T>(work: () => MethodResult | Promise<MethodResult>): Promise<Answer<T>> {
  try {
    const { value, transfer } = await work();
    return Comlink.transfer({ value: value as T, wasmBytes: engine?.memoryBytes ?? 0 }, transfer);
  } catch (error) {
    const trap = findTrap(error);
    // After a trap the allocator and any plan may be half-updated: this code tells the pool to replace the worker.
    if (trap) throw new AtrousError('WORKER_CRASHED', `the wasm kernels trapped (${trap.message}); the worker was replaced`, { cause: trap });
    throw error;
  }
}

function workerApi(ops: Record<string, WorkerOp>): WorkerApi {
  // The ONNX session (parser, graph optimizer, ops: most of the code) is loaded on the first
  // `pool.loadModel`, so a pool that only runs convolutions never fetches it.
  const resources = new ResourceTable({
    ...CONV_RESOURCES,
    onnxSession: async () => (await import('./session-resource.js')).SESSION_RESOURCES.onnxSession!,
    trainer: async () => (await import('./trainer-resource.js')).TRAINER_RESOURCES.trainer!,
  });
  return {
    init: (build) =>
      answer(async () => {
        engine = await init(build === undefined ? {} : { build });
        return { value: engine.build, transfer: [] };
      }),
    run: (op, args) =>
      answer(() => {
        requireEngine(op);
        const fn = Object.hasOwn(ops, op) ? ops[op] : undefined;
        if (!fn) throw new AtrousError('INVALID_ARGUMENT', `worker: unknown op ${show(op)} (this worker has ${show(Object.keys(ops))})`);
        return fn(args);
      }),
    create: (kind, id, payload) =>
      answer(async () => {
        requireEngine(kind);
        return { value: await resources.create(kind, id, payload), transfer: [] };
      }),
    invoke: (id, method, args) => answer(() => resources.invoke(id, method, args)),
    release: (id) =>
      answer(() => {
        resources.release(id);
        return { value: undefined, transfer: [] };
      }),
  };
}

/** Serves the pool from this worker: the conv ops, plus `extraOps` (by name, reached with `pool.runOp`). */
export function serveWorker(extraOps: Record<string, WorkerOp> = {}): void {
  installErrorTransfer();
  Comlink.expose(workerApi({ ...CONV_OPS, ...extraOps }), workerEndpoint() as Comlink.Endpoint);
}
