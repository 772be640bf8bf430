// Named resources of the pool: objects present in every worker (a prepared plan, a conv stack, a loaded
// ONNX model), created from a payload that crosses once per worker and then invoked by id. The registry
// keeps each payload, so that a worker started later (a replacement) is sent it on its first call.
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { AtrousError } from '../errors.js';
import type { PoolCallOptions } from './pool-types.js';
import type { Scheduler } from './scheduler.js';
import type { WorkerSlot } from './worker-slot.js';

interface ResourceRecord {
  id: number;
  kind: string;
  payload: unknown;
  disposed: boolean;
}

export class ResourceRegistry {
  private readonly records = new Map<number, ResourceRecord>();
  private nextId = 1;

  constructor(private readonly scheduler: Scheduler) {}

  get size(): number {
    return this.records.size;
  }

  /** Creates a resource of `kind` in every live worker at once, so that a bad payload fails here. */
  async create(kind: string, payload: unknown, label: string): Promise<PooledResource> {
    if (this.scheduler.isTerminated) throw new AtrousError('TERMINATED', `${label}: the pool was terminated`);
    const record: ResourceRecord = { id: this.nextId++, kind, payload, disposed: false };
    this.records.set(record.id, record);
    const live = this.scheduler.liveWorkers();
    const outcomes = await Promise.allSettled(live.map((s) => s.ensure(record.id, kind, payload)));
    // A worker that died meanwhile is not a failure of the resource: its replacement creates it when used.
    const failure = outcomes.find((o, i): o is PromiseRejectedResult => o.status === 'rejected' && !live[i]!.dead);
    let created = outcomes.find((o): o is PromiseFulfilledResult<unknown> => o.status === 'fulfilled');
    if (!failure && !created) {
      // No worker could take it now (all starting or dying): let the next free one create it.
      try {
        created = { status: 'fulfilled', value: await this.scheduler.submit(label, (slot) => slot.ensure(record.id, kind, payload)) };
      } catch (error) {
        await this.dispose(record);
        throw error;
      }
    }
    if (failure) {
      await this.dispose(record);
      throw failure.reason;
    }
    return new PooledResource(this, record, label, created!.value);
  }

  /**
   * Creates a resource of `kind` in one worker only (whichever is free first), for state that must not be
   * copied: a trainer's weights change with every call. Its calls all go to that worker.
   */
  async createPinned(kind: string, payload: unknown, label: string): Promise<PinnedResource> {
    if (this.scheduler.isTerminated) throw new AtrousError('TERMINATED', `${label}: the pool was terminated`);
    const id = this.nextId++;
    let home: WorkerSlot | undefined;
    const info = await this.scheduler.submit(label, (slot) => {
      home = slot;
      return slot.ensure(id, kind, payload);
    });
    return new PinnedResource(this.scheduler, home!, id, kind, label, info);
  }

  /** @internal used by PooledResource: calls `method` in whichever worker is free, creating the resource there first if needed. */
  invoke<T>(record: ResourceRecord, method: string, args: unknown[], transfers: ArrayBuffer[], label: string, options: PoolCallOptions): Promise<T> {
    // On a terminated pool every resource is disposed, but the call says TERMINATED, the more telling reason.
    if (record.disposed && !this.scheduler.isTerminated) {
      return Promise.reject(new AtrousError('DISPOSED', `${label}: this ${record.kind} was disposed`));
    }
    return this.scheduler.submit(
      label,
      async (slot) => {
        if (record.disposed) throw new AtrousError('DISPOSED', `${label}: this ${record.kind} was disposed`);
        await slot.ensure(record.id, record.kind, record.payload);
        return slot.call((r) => r.invoke(record.id, method, Comlink.transfer(args, transfers)) as Promise<any>);
      },
      options,
    );
  }

  /** @internal used by PooledResource: frees the resource in every worker. */
  async dispose(record: ResourceRecord): Promise<void> {
    if (record.disposed) return;
    record.disposed = true;
    this.records.delete(record.id);
    await Promise.all(this.scheduler.workers.map((s) => s.release(record.id)));
  }

  /** Marks every resource disposed without a word to the workers: for a pool whose workers are gone. */
  forgetAll(): void {
    for (const record of this.records.values()) record.disposed = true;
    this.records.clear();
  }
}

/**
 * A named object created once in every worker (a prepared plan, a conv stack, an ONNX session) and
 * invoked by id: its payload crosses once per worker, and a worker started later (a replacement) creates
 * it on its first call.
 */
export class PooledResource {
  constructor(
    private readonly registry: ResourceRegistry,
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
    return this.registry.invoke(this.record, method, args, transfers, `${this.label}.${method}`, options);
  }

  /** Frees the resource in every worker. Calls already waiting for it fail with DISPOSED. */
  dispose(): Promise<void> {
    return this.registry.dispose(this.record);
  }
}

/**
 * A resource living in one worker (see `ResourceRegistry.createPinned`): every call waits for that worker.
 * If the worker dies (a crash, `pool.terminate()`), the resource and its state are gone and calls fail.
 */
export class PinnedResource {
  private disposed = false;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly home: WorkerSlot,
    private readonly id: number,
    private readonly kind: string,
    readonly label: string,
    /** What the worker said about it (see ResourceKind.describe). */
    readonly info: unknown,
  ) {}

  /** Calls `method` on the resource in its worker. */
  invoke<T>(method: string, args: unknown[], transfers: ArrayBuffer[], options: PoolCallOptions = {}): Promise<T> {
    const label = `${this.label}.${method}`;
    if (this.disposed && !this.scheduler.isTerminated) return Promise.reject(new AtrousError('DISPOSED', `${label}: this ${this.kind} was disposed`));
    return this.scheduler.submit(
      label,
      (slot) => {
        if (this.disposed) throw new AtrousError('DISPOSED', `${label}: this ${this.kind} was disposed`);
        return slot.call((r) => r.invoke(this.id, method, Comlink.transfer(args, transfers)) as Promise<any>);
      },
      options,
      this.home,
    );
  }

  /** Frees the resource in its worker. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.home.release(this.id);
  }
}
