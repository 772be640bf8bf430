// The API every pool worker exposes through Comlink. Two kinds of work:
// - ops: stateless calls (conv2d, conv1d): everything they need crosses with the call;
// - resources: named objects created once in every worker (a prepared conv plan, a conv stack, later an
//   ONNX session) and then invoked by id, so that their weights cross once per worker, not per call.
import type { WasmBuild } from '../wasm/builds.js';
import type { Reply } from './wire.js';
import type { ResourceCreated } from './worker-resources.js';

/** Ways to break a worker on purpose, to prove the pool survives them (tests and demos). */
export type WorkerFault =
  | 'exit' // the worker ends itself (process.exit(7) in Node; close() in a browser)
  | 'uncaught' // an error thrown outside any call, at the worker's top level
  | 'trap' // the wasm kernels trap (an out-of-bounds memory access)
  | 'oom' // the worker's JavaScript heap runs out (Node: with `resourceLimits`)
  | 'hang'; // the worker never answers: only an abort or a timeout ends the call

export interface WorkerApi {
  /** Loads the kernels (the given build, or the best this engine validates); answers with the build loaded. */
  init(build: WasmBuild | undefined): Promise<Reply<WasmBuild>>;
  run(op: string, args: unknown[]): Promise<Reply<unknown>>;
  /** Creates resource `id`; answers with what the kind says about it (an ONNX session: its inputs and outputs). */
  create(kind: string, id: number, payload: unknown): Promise<Reply<ResourceCreated>>;
  invoke(id: number, method: string, args: unknown[]): Promise<Reply<unknown>>;
  release(id: number): Promise<Reply<void>>;
  fault(kind: WorkerFault): Promise<Reply<void>>;
}
