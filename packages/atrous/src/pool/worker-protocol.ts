// The API every pool worker exposes through Comlink. Two kinds of work:
// - ops: stateless calls (conv2d, conv1d): everything they need crosses with the call;
// - resources: named objects created once in every worker (a prepared conv plan, a conv stack, an ONNX
//   session) and then invoked by id, so that their weights cross once per worker, not per call.
// A method that fails throws; the error crosses with its code and causes (error-transfer.ts).
import type { WasmBuild } from '../wasm/builds.js';
import type { WorkerResourceLimits } from './pool-types.js';
import type { ResourceCreated } from './worker-resources.js';

/**
 * What a worker method resolves to: its value, and the size of the worker's wasm memory after the call,
 * which `pool.stats()` reports without a round trip of its own.
 */
export interface Answer<T> {
  value: T;
  wasmBytes: number;
}

/** The message endpoint a worker or its parent offers (comlink's Endpoint, without comlink's types). */
export interface MessageEndpoint {
  postMessage(message: any, transfer?: Transferable[]): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: {}): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: {}): void;
  start?: () => void;
}

export interface SpawnOptions {
  /** Node only: heap limits of each worker (a worker that exceeds them crashes and is replaced). */
  resourceLimits?: WorkerResourceLimits;
  /** The module the worker runs; the package's worker entry when undefined. */
  workerUrl?: URL | string;
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
  init(build: WasmBuild | undefined): Promise<Answer<WasmBuild>>;
  run(op: string, args: unknown[]): Promise<Answer<unknown>>;
  /** Creates resource `id`; answers with what the kind says about it (an ONNX session: its inputs and outputs). */
  create(kind: string, id: number, payload: unknown): Promise<Answer<ResourceCreated>>;
  invoke(id: number, method: string, args: unknown[]): Promise<Answer<unknown>>;
  release(id: number): Promise<Answer<void>>;
}

/**
 * The crash report of one worker handle, said at most once and never after the pool itself ended the
 * worker: a worker that dies several ways at once (an error, then its exit) is one crash. Both hosts use it.
 */
export class CrashReport {
  private listener: ((what: string) => void) | undefined;
  private over = false;

  listen(listener: (what: string) => void): void {
    this.listener = listener;
  }

  report(what: string): void {
    if (this.over) return;
    this.over = true;
    this.listener?.(what);
  }

  /** The pool ends the worker itself: nothing after this is a crash. */
  end(): void {
    this.over = true;
  }
}
