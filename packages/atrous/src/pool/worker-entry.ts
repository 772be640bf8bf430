// The script every pool worker runs (a module Worker in browsers, a worker_threads Worker in Node):
// it loads the kernels once and serves WorkerApi calls through Comlink.
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { exitWorker, workerEndpoint } from '#worker-host';
import { AtrousError, show } from '../errors.js';
import type { WasmBuild } from '../wasm/builds.js';
import type { Engine } from '../wasm/engine.js';
import { init } from '../wasm/loader.js';
import type { WorkerApi, WorkerFault } from './worker-protocol.js';
import { CONV_RESOURCES, OPS } from './worker-ops.js';
import { ResourceTable, type MethodResult } from './worker-resources.js';
import { toWireError, type Reply } from './wire.js';

let engine: Engine | undefined;
// Every kind of named resource a worker can hold. The ONNX session (parser, graph optimizer, ops: most of
// the code) is loaded on the first `pool.loadModel`, so a pool that only runs convolutions never fetches it.
const resources = new ResourceTable({
  ...CONV_RESOURCES,
  onnxSession: async () => (await import('./session-resource.js')).SESSION_RESOURCES.onnxSession!,
});

function wasmBytes(): number {
  return engine?.memoryBytes ?? 0;
}

/** Runs `work` and turns its outcome into a Reply; a wasm trap marks the worker as unusable. */
async function serve<T>(work: () => MethodResult | Promise<MethodResult>): Promise<Reply<T>> {
  try {
    const { value, transfer } = await work();
    return Comlink.transfer({ ok: true, value: value as T, wasmBytes: wasmBytes() }, transfer);
  } catch (error) {
    const trap = error instanceof WebAssembly.RuntimeError ? error : error instanceof Error && error.cause instanceof WebAssembly.RuntimeError ? error.cause : undefined;
    if (trap) {
      // After a trap the allocator and any plan may be half-updated: the pool replaces this worker.
      const wire = toWireError(new AtrousError('WORKER_CRASHED', `the wasm kernels trapped (${trap.message}); the worker was replaced`), true);
      return { ok: false, error: wire, wasmBytes: wasmBytes() };
    }
    return { ok: false, error: toWireError(error), wasmBytes: wasmBytes() };
  }
}

function requireEngine(what: string): Engine {
  if (!engine) throw new AtrousError('NOT_INITIALIZED', `worker: ${what} before init`);
  return engine;
}

const leaked: unknown[] = [];

const api: WorkerApi = {
  async init(build: WasmBuild | undefined) {
    try {
      engine = await init(build === undefined ? {} : { build });
      return { ok: true, value: engine.build, wasmBytes: wasmBytes() };
    } catch (error) {
      return { ok: false, error: toWireError(error), wasmBytes: 0 };
    }
  },

  async run(op, args) {
    return serve(() => {
      requireEngine(op);
      const fn = OPS[op];
      if (!fn) throw new AtrousError('INTERNAL', `worker: unknown op ${show(op)}`);
      return fn(args);
    });
  },

  async create(kind, id, payload) {
    return serve(async () => {
      requireEngine(kind);
      return { value: await resources.create(kind, id, payload), transfer: [] };
    });
  },

  async invoke(id, method, args) {
    return serve(() => resources.invoke(id, method, args));
  },

  async release(id) {
    return serve(() => {
      resources.release(id);
      return { value: undefined, transfer: [] };
    });
  },

  async fault(kind: WorkerFault) {
    switch (kind) {
      case 'exit':
        exitWorker(7);
        break;
      case 'uncaught':
        setTimeout(() => {
          throw new Error('fault injected: an error thrown at the top level of the worker');
        }, 0);
        break;
      case 'trap':
        return serve(() => {
          // A plan pointer far beyond the memory: the kernels read it and trap.
          requireEngine('fault').exports.atrous_conv_plan_bytes(0xfffffff0);
          throw new AtrousError('INTERNAL', 'fault: the out-of-bounds read did not trap');
        });
      case 'oom':
        for (;;) leaked.push(new Array(1 << 16).fill(leaked.length + 0.5));
      case 'hang':
        break;
    }
    return new Promise<never>(() => {});
  },
};

Comlink.expose(api, workerEndpoint() as Comlink.Endpoint);
