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

/** The message endpoint a worker or its parent offers (comlink's Endpoint, without comlink's types). */
export interface MessageEndpoint {
  postMessage(message: any, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: {}): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: {}): void;
  start?: () => void;
}

/** Heap limits of a Node worker (worker_threads ResourceLimits); ignored in browsers. */
export interface WorkerResourceLimits {
  maxYoungGenerationSizeMb?: number;
  maxOldGenerationSizeMb?: number;
  codeRangeSizeMb?: number;
  stackSizeMb?: number;
}

export interface SpawnOptions {
  /** Node only: heap limits of each worker (a worker that exceeds them crashes and is replaced). */
  resourceLimits?: WorkerResourceLimits;
}

/** One worker as the pool sees it, the same in Node and in browsers. */
export interface WorkerHandle {
  readonly endpoint: MessageEndpoint;
  /** `listener` hears, once, that the worker died by itself, with a description of how. */
  onCrash(listener: (what: string) => void): void;
  /** Ends the worker; resolves once it is gone. */
  terminate(): Promise<void>;
}

// Every method answers with a promise, so comlink's Remote<WorkerApi> is WorkerApi itself.
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
