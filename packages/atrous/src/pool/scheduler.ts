// The pool's scheduler: the workers, the bounded queue of calls waiting for one, cancellation (AbortSignal,
// timeoutMs) and replacement. A worker that dies, whatever the reason, fails only the call it was running
// and is replaced by a fresh one; every other call goes on. It knows nothing of ops or resources: a call
// is a label and a function of the worker it is given.
import { AtrousError } from '../errors.js';
import type { WasmBuild } from '../wasm/builds.js';
import { abortReason, alreadyAborted, checkCallOptions } from './call-options.js';
import { JobQueue } from './job-queue.js';
import type { PoolCallOptions, WorkerPoolStats } from './pool-types.js';
import type { SpawnOptions } from './worker-protocol.js';
import { WorkerSlot } from './worker-slot.js';

interface Job {
  label: string;
  work: (slot: WorkerSlot) => Promise<unknown>;
  resolve: (value: any) => void;
  reject: (error: AtrousError) => void;
  state: 'queued' | 'running' | 'settled';
  slot: WorkerSlot | undefined;
  /** The one worker this call may run on (a stateful resource that lives there), if any. */
  pinned: WorkerSlot | undefined;
  cleanup: () => void;
}

/** Tries to start a replacement before a place in the pool is given up. */
const MAX_START_ATTEMPTS = 3;

export type SchedulerStats = Omit<WorkerPoolStats, 'size' | 'maxQueue' | 'resources'>;

export class Scheduler {
  private slots: WorkerSlot[] = [];
  private readonly queue: JobQueue<Job>;
  private readonly running = new Set<Job>();
  private nextSlotId = 1;
  private terminated: Promise<void> | undefined;
  private readonly counts = { completed: 0, failed: 0, aborted: 0, timedOut: 0, crashed: 0, replaced: 0, startFailed: 0 };

  constructor(
    private readonly size: number,
    maxQueue: number,
    private readonly build: WasmBuild | undefined,
    private readonly spawn: SpawnOptions,
  ) {
    this.queue = new JobQueue(maxQueue);
  }

  get isTerminated(): boolean {
    return this.terminated !== undefined;
  }

  /** The workers now in the pool, in their places (starting ones included). */
  get workers(): readonly WorkerSlot[] {
    return this.slots;
  }

  /** Workers that loaded their kernels and are still alive. */
  liveWorkers(): WorkerSlot[] {
    return this.slots.filter((s) => s.state === 'idle' || s.state === 'busy');
  }

  /** Starts the workers; rejects (and ends them all) if one cannot load the kernels. */
  async start(): Promise<void> {
    const slots = Array.from({ length: this.size }, () => this.newSlot());
    this.slots = slots;
    try {
      await Promise.all(slots.map((s) => s.start(this.build)));
    } catch (error) {
      await this.terminate();
      throw error;
    }
  }

  private newSlot(attempt = 1): WorkerSlot {
    return new WorkerSlot(this.nextSlotId++, attempt, this.spawn, (slot, error) => this.onDeath(slot, error));
  }

  private onDeath(slot: WorkerSlot, error: AtrousError): void {
    const i = this.slots.indexOf(slot);
    if (!slot.started) this.counts.startFailed++;
    else if (error.code === 'WORKER_CRASHED') this.counts.crashed++;
    if (i < 0 || this.terminated) return;
    // Calls waiting for this very worker (pinned to a resource only it held) cannot run anywhere else.
    for (let job = this.queue.take((j) => j.pinned === slot); job; job = this.queue.take((j) => j.pinned === slot)) {
      this.settle(job, new AtrousError('WORKER_CRASHED', `${job.label}: the worker holding this resource died (${error.message}); its state is lost`));
    }
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
   * Queues `work` for the next free worker (or for `pinned`, when given: a call on a resource that lives in
   * that worker only). `work` gets the worker and makes the Comlink call(s). This is the one way in for
   * every call of the pool.
   */
  submit<T>(label: string, work: (slot: WorkerSlot) => Promise<T>, options: PoolCallOptions = {}, pinned?: WorkerSlot): Promise<T> {
    try {
      checkCallOptions(options, label);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.terminated) return Promise.reject(new AtrousError('TERMINATED', `${label}: the pool was terminated`));
    if (this.slots.length === 0) return Promise.reject(new AtrousError('WORKER_CRASHED', `${label}: no worker left in the pool`));
    if (pinned?.dead) return Promise.reject(new AtrousError('WORKER_CRASHED', `${label}: the worker holding this resource died; its state is lost`));
    const { signal, timeoutMs } = options;
    if (signal?.aborted) {
      this.counts.failed++;
      this.counts.aborted++;
      return Promise.reject(alreadyAborted(signal, label));
    }
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        this.counts.aborted++;
        this.cancel(job, (where) => new AtrousError('ABORTED', `${label}: aborted ${where} (${abortReason(signal!)})`));
      };
      const job: Job = {
        label,
        work,
        resolve,
        reject,
        state: 'queued',
        slot: undefined,
        pinned,
        cleanup: () => {
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const free = (s: WorkerSlot) => s.state === 'idle' && (pinned === undefined || s === pinned);
      const idle = this.queue.length === 0 ? this.slots.find(free) : undefined;
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
      if (slot.state !== 'idle') continue;
      const job = this.queue.take((j) => j.pinned === undefined || j.pinned === slot);
      if (job) this.run(job, slot);
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

  stats(): SchedulerStats {
    return {
      build: this.slots.find((s) => s.build)?.build,
      queued: this.queue.length,
      running: this.slots.filter((s) => s.state === 'busy').length,
      ...this.counts,
      workers: this.slots.map((s) => ({ id: s.id, state: s.state, jobs: s.jobs, wasmBytes: s.wasmBytes, resources: s.resources.size })),
    };
  }

  /** Fails every waiting and running call with TERMINATED and ends every worker. Calling it again returns the same promise. */
  terminate(): Promise<void> {
    if (!this.terminated) {
      const error = new AtrousError('TERMINATED', 'the pool was terminated');
      const named = (job: Job) => new AtrousError('TERMINATED', `${job.label}: the pool was terminated`);
      for (const job of this.queue.drain()) this.settle(job, named(job));
      for (const job of this.running) this.settle(job, named(job));
      const slots = this.slots;
      this.slots = [];
      this.terminated = Promise.all(slots.map((s) => s.end(error))).then(() => undefined);
    }
    return this.terminated;
  }
}
