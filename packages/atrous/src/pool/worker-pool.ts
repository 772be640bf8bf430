import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { defaultPoolSize } from '#worker-host';
import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import { BUILDS, type WasmBuild } from '../wasm/builds.js';
import { convOutputDims, resolveConvSpec, type Conv2dOptions } from '../ops/conv-options.js';
import type { ConvRunOptions } from '../ops/conv-plan.js';
import type { Conv1dOptions } from '../ops/conv1d.js';
import type { ConvLayer } from '../analysis/receptive-field.js';
import { JobQueue } from './job-queue.js';
import { WorkerSlot } from './worker-slot.js';
import type { SpawnOptions, WorkerFault, WorkerResourceLimits } from './worker-protocol.js';
import { biasData, toTensor, Transfers, type WireTensor } from './wire.js';
import { PooledConvPlan, PooledConvStack, layerPayload } from './pooled-conv.js';
import { PooledSession } from './pooled-session.js';
import type { SessionPayload } from './session-resource.js';
import { cropTile, pasteTile, planTiles } from './tiling.js';

export interface WorkerPoolOptions {
  /** Number of workers. Default: the machine's cores (`os.availableParallelism()`, `navigator.hardwareConcurrency`). */
  size?: number;
  /** Calls that may wait for a free worker; one more rejects at once with QUEUE_FULL. Default 64. */
  maxQueue?: number;
  /** The wasm build every worker loads. Default: the best the engine validates. */
  build?: WasmBuild;
  /** Node only: heap limits per worker (`worker_threads` resourceLimits). A worker exceeding them is replaced. */
  resourceLimits?: WorkerResourceLimits;
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
  /** Size of the worker's wasm memory at its last answer. */
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

interface Job {
  label: string;
  work: (slot: WorkerSlot) => Promise<unknown>;
  resolve: (value: any) => void;
  reject: (error: AtrousError) => void;
  state: 'queued' | 'running' | 'settled';
  slot: WorkerSlot | undefined;
  cleanup: () => void;
}

interface ResourceRecord {
  id: number;
  kind: string;
  payload: unknown;
  disposed: boolean;
}

/** Tries to start a replacement before a place in the pool is given up. */
const MAX_START_ATTEMPTS = 3;

/**
 * A named object created once in every worker (a prepared plan, a conv stack, an ONNX session) and
 * invoked by id: its payload crosses once per worker, and a worker started later (a replacement) creates
 * it on its first call.
 */
export class PooledResource {
  constructor(
    private readonly pool: WorkerPool,
    private readonly record: ResourceRecord,
    readonly label: string,
    /** What the first worker to create it said about it (see ResourceKind.describe). */
    readonly info: unknown,
  ) {}

  get disposed(): boolean {
    return this.record.disposed;
  }

  /** Calls `method` on the resource in whichever worker is free. */
  invoke<T>(method: string, args: unknown[], transfers: ArrayBuffer[], options: PoolCallOptions = {}): Promise<T> {
    return this.pool.invokeResource(this.record, method, args, transfers, `${this.label}.${method}`, options);
  }

  /** Frees the resource in every worker. Calls already waiting for it fail with DISPOSED. */
  dispose(): Promise<void> {
    return this.pool.disposeResource(this.record);
  }
}

function checkCallOptions(options: PoolCallOptions, label: string): void {
  if (options === null || typeof options !== 'object') {
    throw new AtrousError('INVALID_ARGUMENT', `${label}: call options must be an object { signal?, timeoutMs?, transfer? }, got ${show(options)}`);
  }
  const { signal, timeoutMs } = options;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.addEventListener !== 'function' || !('aborted' in signal))) {
    throw new AtrousError('INVALID_ARGUMENT', `${label}: options.signal must be an AbortSignal, got ${show(signal)}`);
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))) {
    throw new AtrousError('INVALID_ARGUMENT', `${label}: options.timeoutMs must be a positive number of ms, got ${show(timeoutMs)}`);
  }
}

function reasonText(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return `${r.name}: ${r.message}`;
  return r === undefined ? 'no reason given' : show(r);
}

/**
 * Workers that run atrous ops off the calling thread: module Workers in browsers, worker_threads in Node,
 * driven through Comlink. Create it with `createWorkerPool`.
 */
export class WorkerPool {
  readonly size: number;
  readonly maxQueue: number;
  private readonly build: WasmBuild | undefined;
  private readonly spawn: SpawnOptions;
  private slots: WorkerSlot[] = [];
  private readonly queue: JobQueue<Job>;
  private readonly resources = new Map<number, ResourceRecord>();
  private readonly running = new Set<Job>();
  private nextSlotId = 1;
  private nextResourceId = 1;
  private terminated: Promise<void> | undefined;
  private readonly counts = { completed: 0, failed: 0, aborted: 0, timedOut: 0, crashed: 0, replaced: 0, startFailed: 0 };

  /** Use `createWorkerPool`, which also waits for every worker to load the kernels. */
  constructor(options: WorkerPoolOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options must be an object, got ${show(options)}`);
    }
    const { size = defaultPoolSize(), maxQueue = 64, build, resourceLimits } = options;
    if (!Number.isInteger(size) || size < 1) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.size must be a positive integer, got ${show(size)}`);
    }
    if (!(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.maxQueue must be a non-negative integer or Infinity, got ${show(maxQueue)}`);
    }
    if (build !== undefined && !BUILDS.includes(build)) {
      throw new AtrousError('INVALID_ARGUMENT', `createWorkerPool: options.build must be one of ${BUILDS.map(show).join(', ')}, got ${show(build)}`);
    }
    this.size = size;
    this.maxQueue = maxQueue;
    this.build = build;
    this.spawn = { resourceLimits };
    this.queue = new JobQueue(maxQueue);
  }

  /** Starts the workers; rejects (and ends them all) if one cannot load the kernels. */
  async start(): Promise<this> {
    const slots = Array.from({ length: this.size }, () => this.newSlot());
    this.slots = slots;
    try {
      await Promise.all(slots.map((s) => s.start(this.build)));
    } catch (error) {
      await this.terminate();
      throw error;
    }
    return this;
  }

  private newSlot(attempt = 1): WorkerSlot {
    return new WorkerSlot(this.nextSlotId++, attempt, this.spawn, (slot, error) => this.onDeath(slot, error));
  }

  private onDeath(slot: WorkerSlot, error: AtrousError): void {
    const i = this.slots.indexOf(slot);
    if (!slot.started) this.counts.startFailed++;
    else if (error.code === 'WORKER_CRASHED') this.counts.crashed++;
    if (i < 0 || this.terminated) return;
    // A replacement that dies while loading the kernels is tried again a few times (the cause may pass);
    // then the pool gives up on that place and shrinks.
    const attempt = slot.started ? 1 : slot.attempt + 1;
    if (attempt > MAX_START_ATTEMPTS) {
      this.slots.splice(i, 1);
      if (this.slots.length === 0) {
        for (const job of this.queue.drain()) {
          this.settle(job, new AtrousError('WORKER_CRASHED', `${job.label}: no worker left in the pool (the last one failed to start: ${error.message})`));
        }
      }
      return;
    }
    const fresh = this.newSlot(attempt);
    this.slots[i] = fresh;
    this.counts.replaced++;
    // A failed start ends `fresh`, which brings it back here.
    fresh.start(this.build).then(
      () => this.pump(),
      () => undefined,
    );
  }

  /**
   * Queues `work` for the next free worker. `work` gets the worker and makes the Comlink call(s).
   * This is the one way in for every call of the pool.
   */
  submit<T>(label: string, work: (slot: WorkerSlot) => Promise<T>, options: PoolCallOptions = {}): Promise<T> {
    try {
      checkCallOptions(options, label);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.terminated) return Promise.reject(new AtrousError('TERMINATED', `${label}: the pool was terminated`));
    if (this.slots.length === 0) return Promise.reject(new AtrousError('WORKER_CRASHED', `${label}: no worker left in the pool`));
    const { signal, timeoutMs } = options;
    if (signal?.aborted) {
      this.counts.failed++;
      this.counts.aborted++;
      return Promise.reject(new AtrousError('ABORTED', `${label}: the signal was already aborted (${reasonText(signal)})`));
    }
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        this.counts.aborted++;
        this.cancel(job, (where) => new AtrousError('ABORTED', `${label}: aborted ${where} (${reasonText(signal!)})`));
      };
      const job: Job = {
        label,
        work,
        resolve,
        reject,
        state: 'queued',
        slot: undefined,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const idle = this.queue.length === 0 ? this.slots.find((s) => s.state === 'idle') : undefined;
      if (idle) {
        this.run(job, idle);
      } else {
        try {
          this.queue.push(job, label);
        } catch (error) {
          this.counts.failed++;
          reject(error as AtrousError);
          return;
        }
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.counts.timedOut++;
          this.cancel(job, (where) => new AtrousError('TIMEOUT', `${label}: did not finish within timeoutMs = ${timeoutMs} (${where})`));
        }, timeoutMs);
      }
    });
  }

  private run(job: Job, slot: WorkerSlot): void {
    job.state = 'running';
    job.slot = slot;
    slot.state = 'busy';
    this.running.add(job);
    const done = () => {
      this.running.delete(job);
      slot.jobs++;
      if (!slot.dead) slot.state = 'idle';
      this.pump();
    };
    job.work(slot).then(
      (value) => {
        this.settle(job, undefined, value);
        done();
      },
      (error: unknown) => {
        const e = error instanceof AtrousError ? error : new AtrousError('INTERNAL', `${job.label}: ${String(error)}`);
        this.settle(job, e);
        done();
      },
    );
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.state === 'idle') this.run(this.queue.shift()!, slot);
    }
  }

  private settle(job: Job, error: AtrousError | undefined, value?: unknown): void {
    if (job.state === 'settled') return;
    job.state = 'settled';
    job.cleanup();
    if (error) {
      this.counts.failed++;
      job.reject(error);
    } else {
      this.counts.completed++;
      job.resolve(value);
    }
  }

  /** Cancels a waiting or running call; a running call's worker is ended and replaced. */
  private cancel(job: Job, error: (where: string) => AtrousError): void {
    if (job.state === 'queued') {
      this.queue.remove(job);
      this.settle(job, error('while waiting in the queue'));
    } else if (job.state === 'running') {
      const slot = job.slot!;
      const e = error(`while running in worker #${slot.id}, which was terminated and replaced`);
      this.settle(job, e);
      void slot.end(e);
    }
  }

  /** Creates a named resource in every worker (see PooledResource). */
  async createResource(kind: string, payload: unknown, label: string): Promise<PooledResource> {
    if (this.terminated) throw new AtrousError('TERMINATED', `${label}: the pool was terminated`);
    const record: ResourceRecord = { id: this.nextResourceId++, kind, payload, disposed: false };
    this.resources.set(record.id, record);
    const live = this.slots.filter((s) => s.state === 'idle' || s.state === 'busy');
    const outcomes = await Promise.allSettled(live.map((s) => s.ensure(record.id, kind, payload)));
    // A worker that died meanwhile is not a failure of the resource: its replacement creates it when used.
    const failure = outcomes.find((o, i): o is PromiseRejectedResult => o.status === 'rejected' && !live[i]!.dead);
    let created = outcomes.find((o): o is PromiseFulfilledResult<unknown> => o.status === 'fulfilled');
    if (!failure && !created) {
      // No worker could take it now (all starting or dying): let the next free one create it.
      try {
        created = { status: 'fulfilled', value: await this.submit(label, (slot) => slot.ensure(record.id, kind, payload)) };
      } catch (error) {
        await this.disposeResource(record);
        throw error;
      }
    }
    if (failure) {
      await this.disposeResource(record);
      throw failure.reason;
    }
    return new PooledResource(this, record, label, created!.value);
  }

  /** @internal used by PooledResource */
  invokeResource<T>(record: ResourceRecord, method: string, args: unknown[], transfers: ArrayBuffer[], label: string, options: PoolCallOptions): Promise<T> {
    if (record.disposed && !this.terminated) {
      return Promise.reject(new AtrousError('DISPOSED', `${label}: this ${record.kind} was disposed`));
    }
    return this.submit(
      label,
      async (slot) => {
        if (record.disposed) throw new AtrousError('DISPOSED', `${label}: this ${record.kind} was disposed`);
        await slot.ensure(record.id, record.kind, record.payload);
        return slot.call((r) => r.invoke(record.id, method, Comlink.transfer(args, transfers)) as Promise<any>);
      },
      options,
    );
  }

  /** @internal used by PooledResource */
  async disposeResource(record: ResourceRecord): Promise<void> {
    if (record.disposed) return;
    record.disposed = true;
    this.resources.delete(record.id);
    await Promise.all(this.slots.map((s) => s.release(record.id)));
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
    const y = await this.submit(op, (slot) => slot.call((r) => r.run(op, Comlink.transfer(args, t.list))), call);
    return toTensor(y as WireTensor);
  }

  /**
   * Prepares a convolution in every worker: the weights cross once per worker and are packed there once;
   * `plan.run(x)` then sends only the input. Dispose the plan when done.
   */
  async prepareConv2d(weights: Tensor<'float32'>, options: Conv2dOptions = {}): Promise<PooledConvPlan> {
    const op = 'prepareConv2d';
    const w = expectFloat32(weights, `${op}: weights`, 4, '[M, C/groups, kH, kW]');
    const spec = resolveConvSpec(w, options, op);
    const resource = await this.createResource('convPlan', layerPayload(w, options), op);
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
    const resource = await this.createResource('convStack', payload, op);
    return new PooledConvStack(resource, specs);
  }

  /**
   * Loads an ONNX model in every worker (the bytes cross once per worker; the pool keeps a copy to load it
   * in replacement workers). `session.run(feeds, { signal, timeoutMs })` then runs in whichever worker is free.
   */
  async loadModel(model: Uint8Array | ArrayBuffer): Promise<PooledSession> {
    const op = 'loadModel';
    if (!(model instanceof Uint8Array) && !(model instanceof ArrayBuffer)) {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: model must be the .onnx bytes as a Uint8Array or an ArrayBuffer, got ${show(model)}`);
    }
    const bytes = model instanceof Uint8Array ? model.slice() : new Uint8Array(model.slice(0));
    const payload: SessionPayload = { bytes };
    return new PooledSession(await this.createResource('onnxSession', payload, 'InferenceSession'));
  }

  /**
   * Runs a conv stack on a large `[N, C, H, W]` image as tiles spread over the workers: each tile reads
   * its share of the image plus the halo the stack's receptive field needs (see `receptiveField`), runs
   * the whole stack in one worker, and lands in its place in the output. For convolutions (any stride,
   * dilation and padding) the result equals the untiled run. Global operations (global pooling, image-level
   * features) do not tile: each tile would only see itself.
   */
  async runTiled(input: Tensor<'float32'>, stack: PooledConvStack | readonly ConvLayer[], options: TiledRunOptions): Promise<Tensor<'float32'>> {
    const op = 'runTiled';
    const x = expectFloat32(input, `${op}: input`, 4, '[N, C, H, W]');
    if (options === null || typeof options !== 'object') {
      throw new AtrousError('INVALID_ARGUMENT', `${op}: options must be { tile, signal?, timeoutMs? }, got ${show(options)}`);
    }
    checkCallOptions(options, op);
    const signal = options.signal;
    if (signal?.aborted) throw new AtrousError('ABORTED', `${op}: the signal was already aborted (${reasonText(signal)})`);
    // timeoutMs bounds the whole run: each tile gets what is left.
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const owned = !(stack instanceof PooledConvStack);
    const s = stack instanceof PooledConvStack ? stack : await this.prepareConvStack(stack);
    try {
      const outDims = s.outputDims(x.dims);
      const plan = planTiles(s.geometry, [x.dims[2]!, x.dims[3]!], options.tile);
      const output = new Float32Array(outDims.reduce((a, b) => a * b, 1));
      let next = 0;
      let failed = false;
      // At most one tile per worker in flight, so a large image never overflows the queue. After a failure no
      // new tile starts, but tiles already running finish (cancelling them would cost their workers).
      const lane = async () => {
        while (next < plan.tiles.length && !failed) {
          const tile = plan.tiles[next++]!;
          try {
            const left = deadline === undefined ? undefined : deadline - Date.now();
            if (left !== undefined && left <= 0) {
              throw new AtrousError('TIMEOUT', `${op}: did not finish within timeoutMs = ${options.timeoutMs} (${next - 1} of ${plan.tiles.length} tiles started)`);
            }
            const y = await s.runPadded(cropTile(x, tile.input), tile.pads, { signal, timeoutMs: left, transfer: true }, op);
            pasteTile(output, outDims, y, tile.output);
          } catch (error) {
            failed = true;
            throw error;
          }
        }
      };
      const lanes = await Promise.allSettled(Array.from({ length: Math.min(this.size, plan.tiles.length) }, lane));
      const failure = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
      if (failure) throw failure.reason;
      return new Tensor('float32', output, outDims);
    } finally {
      if (owned) await s.dispose();
    }
  }

  /**
   * Breaks one worker on purpose (see WorkerFault), as a queued call: to see how an application copes
   * with a crashed worker. The call fails with WORKER_CRASHED (or hangs until its signal or timeout, for
   * 'hang'); the worker is replaced.
   */
  injectFault(kind: WorkerFault, call: PoolCallOptions = {}): Promise<void> {
    const kinds: WorkerFault[] = ['exit', 'uncaught', 'trap', 'oom', 'hang'];
    if (!kinds.includes(kind)) {
      return Promise.reject(new AtrousError('INVALID_ARGUMENT', `injectFault: kind must be one of ${kinds.map(show).join(', ')}, got ${show(kind)}`));
    }
    return this.submit(`injectFault(${show(kind)})`, (slot) => slot.call((r) => r.fault(kind)), call);
  }

  stats(): WorkerPoolStats {
    const running = this.slots.filter((s) => s.state === 'busy').length;
    return {
      size: this.size,
      build: this.slots.find((s) => s.build)?.build,
      maxQueue: this.maxQueue,
      queued: this.queue.length,
      running,
      ...this.counts,
      resources: this.resources.size,
      workers: this.slots.map((s) => ({ id: s.id, state: s.state, jobs: s.jobs, wasmBytes: s.wasmBytes, resources: s.resources.size })),
    };
  }

  /**
   * Ends the pool: calls still waiting or running fail with TERMINATED, every worker ends. In Node no handle
   * stays open, so a script exits by itself. Calling it again returns the same promise.
   */
  terminate(): Promise<void> {
    if (!this.terminated) {
      const error = new AtrousError('TERMINATED', 'the pool was terminated');
      const named = (job: Job) => new AtrousError('TERMINATED', `${job.label}: the pool was terminated`);
      for (const job of this.queue.drain()) this.settle(job, named(job));
      for (const job of this.running) this.settle(job, named(job));
      const slots = this.slots;
      this.slots = [];
      this.terminated = (async () => {
        await Promise.all(slots.map((s) => s.end(error)));
        for (const record of this.resources.values()) record.disposed = true;
        this.resources.clear();
      })();
    }
    return this.terminated;
  }
}

/** Starts a pool of `size` workers, each with the wasm kernels loaded. */
export async function createWorkerPool(options: WorkerPoolOptions = {}): Promise<WorkerPool> {
  return new WorkerPool(options).start();
}
