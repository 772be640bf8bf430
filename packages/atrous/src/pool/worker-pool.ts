// The pool as users see it: `createWorkerPool` and `WorkerPool`, whose ops are thin wrappers that check
// their arguments on the calling thread, pack them for the crossing and hand them to the scheduler (stateless
// ops) or to the resource registry (prepared plans, conv stacks, models).
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { defaultPoolSize } from '#worker-host';
import { hardwareThreads } from '#thread-host';
import { MAX_THREADS } from '../wasm/engine.js';
import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { BUILDS } from '../wasm/builds.js';
import { convOutputDims, resolveConvSpec, type Conv2dOptions } from '../ops/conv-options.js';
import type { ConvRunOptions } from '../ops/conv-plan.js';
import type { Conv1dOptions } from '../ops/conv1d.js';
import type { ConvLayer } from '../analysis/receptive-field.js';
import type { PoolCallOptions, TiledRunOptions, WorkerPoolOptions, WorkerPoolStats } from './pool-types.js';
import { PooledConvPlan, PooledConvStack, layerPayload } from './pooled-conv.js';
import { PooledSession } from './pooled-session.js';
import { PooledTrainer } from './pooled-trainer.js';
import type { TrainerPayload } from './trainer-resource.js';
import { resolveOptions, type TrainerOptions } from '../training/options.js';
import { ResourceRegistry, type PooledResource } from './resource-registry.js';
import { Scheduler } from './scheduler.js';
import type { SessionPayload } from './session-resource.js';
import { runTiled } from './tiled-run.js';
import { biasData, toTensor, Transfers, type WireTensor } from './wire.js';

/**
 * Workers that run atrous ops off the calling thread: module Workers in browsers, worker_threads in Node,
 * driven through Comlink. Create it with `createWorkerPool`.
 */
export class WorkerPool {
  readonly size: number;
  readonly maxQueue: number;
  private readonly scheduler: Scheduler;
  private readonly resources: ResourceRegistry;
  private terminated: Promise<void> | undefined;

  /** Use `createWorkerPool`, which also waits for every worker to load the kernels. */
  constructor(options: WorkerPoolOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options must be an object, got ${show(options)}`);
    }
    const { size = defaultPoolSize(), maxQueue = 64, build, resourceLimits, workerUrl } = options;
    if (!Number.isInteger(size) || size < 1) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.size must be a positive integer, got ${show(size)}`);
    }
    if (!(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.maxQueue must be a non-negative integer or Infinity, got ${show(maxQueue)}`);
    }
    if (build !== undefined && !BUILDS.includes(build)) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.build must be one of ${BUILDS.map(show).join(', ')}, got ${show(build)}`);
    }
    if (workerUrl !== undefined && !(workerUrl instanceof URL) && (typeof workerUrl !== 'string' || workerUrl === '')) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.workerUrl must be a URL or a non-empty string, got ${show(workerUrl)}`);
    }
    this.size = size;
    this.maxQueue = maxQueue;
    this.scheduler = new Scheduler(size, maxQueue, build, { resourceLimits, workerUrl });
    this.resources = new ResourceRegistry(this.scheduler);
  }

  /** Starts the workers; rejects (and ends them all) if one cannot load the kernels. */
  async start(): Promise<this> {
    await this.scheduler.start();
    return this;
  }

  /** `conv2d` in a worker: same arguments, same result (bit for bit) as the in-thread op. */
  async conv2d(
    input: Tensor<'float32'>,
    weights: Tensor<'float32'>,
    options: Conv2dOptions & ConvRunOptions = {},
    call: PoolCallOptions = {},
  ): Promise<Tensor<'float32'>> {
    const op = 'conv2d';
    const x = expectFloat32(input, `${op}: input`, 4, '[N, C, H, W]');
    const w = expectFloat32(weights, `${op}: weights`, 4, '[M, C/groups, kH, kW]');
    // Checked here too, so that a wrong argument fails at once rather than after a trip through the queue.
    convOutputDims(resolveConvSpec(w, options, op), x.dims, op);
    return this.runConv(op, x, w, options, [4, '[N, M, OH, OW]'], call);
  }

  /** `conv1d` in a worker. */
  async conv1d(input: Tensor<'float32'>, weights: Tensor<'float32'>, options: Conv1dOptions = {}, call: PoolCallOptions = {}): Promise<Tensor<'float32'>> {
    const op = 'conv1d';
    const x = expectFloat32(input, `${op}: input`, 3, '[N, C, L]');
    const w = expectFloat32(weights, `${op}: weights`, 3, '[M, C/groups, K]');
    if (options === null || typeof options !== 'object') {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options must be an object, got ${show(options)}`);
    }
    return this.runConv(op, x, w, options, [3, '[N, M, L_out]'], call);
  }

  /** Sends a one-shot conv (2-D or 1-D) to a worker: tensors, bias and residual transferred, the rest cloned. */
  private async runConv(
    op: 'conv2d' | 'conv1d',
    x: Tensor<'float32'>,
    w: Tensor<'float32'>,
    options: (Conv2dOptions & ConvRunOptions) | Conv1dOptions,
    [residualRank, residualLayout]: [number, string],
    call: PoolCallOptions,
  ): Promise<Tensor<'float32'>> {
    const t = new Transfers(call?.transfer === true);
    const { residual, bias, ...rest } = options;
    const args = [
      t.tensor(x),
      t.tensor(w),
      {
        ...rest,
        bias: bias === undefined ? undefined : t.floats(biasData(bias)!),
        residual: residual === undefined ? undefined : t.tensor(expectFloat32(residual, `${op}: options.residual`, residualRank, residualLayout)),
      },
    ];
    return toTensor(await this.runOp<WireTensor>(op, args, call, t.list));
  }

  /**
   * Prepares a convolution in every worker: the weights cross once per worker and are packed there once;
   * `plan.run(x)` then sends only the input. Dispose the plan when done.
   */
  async prepareConv2d(weights: Tensor<'float32'>, options: Conv2dOptions = {}): Promise<PooledConvPlan> {
    const op = 'prepareConv2d';
    const w = expectFloat32(weights, `${op}: weights`, 4, '[M, C/groups, kH, kW]');
    const spec = resolveConvSpec(w, options, op);
    const resource = await this.resources.create('convPlan', layerPayload(w, options), op);
    return new PooledConvPlan(resource, spec, w.dims);
  }

  /**
   * Prepares a stack of convolutions run one after the other inside one worker (intermediate results
   * never leave it), in every worker. The unit `runTiled` distributes.
   */
  async prepareConvStack(layers: readonly ConvLayer[]): Promise<PooledConvStack> {
    const op = 'prepareConvStack';
    const specs = PooledConvStack.check(layers, op);
    const payload = layers.map((l, i) => layerPayload(expectFloat32(l.weights, `${op}: layers[${i}].weights`, 4, '[M, C/groups, kH, kW]'), l.options ?? {}));
    const resource = await this.resources.create('convStack', payload, op);
    return new PooledConvStack(resource, specs);
  }

  /**
   * Loads an ONNX model in every worker (the bytes cross once per worker; the pool keeps a copy to load it
   * in replacement workers). `session.run(feeds, { signal, timeoutMs })` then runs in whichever worker is free.
   */
  /**
   * Loads a model into every worker. `intraOpNumThreads`: threads each worker's runs split over; default
   * the cores shared out among the workers (`max(1, floor(cores / size))`), so that a full pool does not
   * oversubscribe the machine. A lone request on an idle pool is fastest with fewer workers and more threads.
   */
  async loadModel(model: Uint8Array | ArrayBuffer, options: { intraOpNumThreads?: number } = {}): Promise<PooledSession> {
    const op = 'loadModel';
    if (!(model instanceof Uint8Array) && !(model instanceof ArrayBuffer)) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: model must be the .onnx bytes as a Uint8Array or an ArrayBuffer, got ${show(model)}`);
    }
    const threads = options.intraOpNumThreads ?? Math.max(1, Math.floor(hardwareThreads() / this.size));
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options.intraOpNumThreads must be an integer from 1 to ${MAX_THREADS}, got ${show(threads)}`);
    }
    const bytes = model instanceof Uint8Array ? model.slice() : new Uint8Array(model.slice(0));
    const payload: SessionPayload = { bytes, intraOpNumThreads: threads };
    return new PooledSession(await this.resources.create('onnxSession', payload, 'InferenceSession'));
  }

  /**
   * A trainer (see `createTrainer`) in one worker of the pool, with the same methods, async, and `train`
   * for many steps with progress and cancellation between steps. Options are checked here first; the
   * worker's build is used (`options.build` is refused). If that worker dies, the trainer is lost
   * (export the model to keep progress).
   */
  async createTrainer(model: Uint8Array | ArrayBuffer, options: TrainerOptions): Promise<PooledTrainer> {
    const op = 'createTrainer';
    if (!(model instanceof Uint8Array) && !(model instanceof ArrayBuffer)) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: model must be the .onnx bytes as a Uint8Array or an ArrayBuffer, got ${show(model)}`);
    }
    resolveOptions(options);
    if (options.build !== undefined) throw new AtrousError('INVALID_ARGUMENT', `${op}: options.build is the pool's (createWorkerPool({ build })), got ${show(options.build)}`);
    const bytes = model instanceof Uint8Array ? model.slice() : new Uint8Array(model.slice(0));
    const { build: _build, ...rest } = options;
    const payload: TrainerPayload = { bytes, options: rest };
    return new PooledTrainer(await this.resources.createPinned('trainer', payload, 'trainer'));
  }

  /**
   * Runs op `op` of the worker module in a free worker, with the pool's queue, cancellation and
   * replacement: the built-in ops (`conv2d`, `conv1d`), or one that a worker module of your own adds
   * (`createWorkerPool({ workerUrl })`). `args` are structured-cloned; the buffers in `transfers` are moved.
   */
  runOp<T = unknown>(op: string, args: unknown[], call: PoolCallOptions = {}, transfers: ArrayBuffer[] = []): Promise<T> {
    if (typeof op !== 'string' || !Array.isArray(args) || !Array.isArray(transfers)) {
      return Promise.reject(new AtrousError('INVALID_ARGUMENT', `runOp: takes (op: string, args: unknown[], call?, transfers?: ArrayBuffer[]), got op ${show(op)}`));
    }
    return this.scheduler.submit(op, (slot) => slot.call((r) => r.run(op, Comlink.transfer(args, transfers))) as Promise<T>, call);
  }

  /** Creates a named resource of `kind` in every worker (see PooledResource); the kind must be one the workers know. */
  createResource(kind: string, payload: unknown, label: string): Promise<PooledResource> {
    return this.resources.create(kind, payload, label);
  }

  /**
   * Runs a conv stack on a large `[N, C, H, W]` image as tiles spread over the workers: each tile reads
   * its share of the image plus the halo the stack's receptive field needs (see `receptiveField`), runs
   * the whole stack in one worker, and lands in its place in the output. For convolutions (any stride,
   * dilation and padding) the result equals the untiled run. Global operations (global pooling, image-level
   * features) do not tile: each tile would only see itself.
   */
  runTiled(input: Tensor<'float32'>, stack: PooledConvStack | readonly ConvLayer[], options: TiledRunOptions): Promise<Tensor<'float32'>> {
    return runTiled(input, stack, options, this.size, (layers) => this.prepareConvStack(layers));
  }

  stats(): WorkerPoolStats {
    return { size: this.size, maxQueue: this.maxQueue, ...this.scheduler.stats(), resources: this.resources.size };
  }

  /**
   * Ends the pool: calls still waiting or running fail with TERMINATED, every worker ends. In Node no handle
   * stays open, so a script exits by itself. Calling it again returns the same promise.
   */
  terminate(): Promise<void> {
    this.terminated ??= this.scheduler.terminate().then(() => this.resources.forgetAll());
    return this.terminated;
  }
}

/** Starts a pool of `size` workers, each with the wasm kernels loaded. */
export async function createWorkerPool(options: WorkerPoolOptions = {}): Promise<WorkerPool> {
  return new WorkerPool(options).start();
}
