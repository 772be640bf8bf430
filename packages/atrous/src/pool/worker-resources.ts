// The worker side of "a named resource in every worker": a kind says how to build the resource from its
// payload, which methods can be invoked on it, and how to free it. Conv plans and conv stacks are kinds
// (worker-ops.ts); an ONNX session is one more kind with a `run` method, listed in worker-entry.ts.
import { AtrousError, show } from '../errors.js';

/** What a method answers: a value and the buffers in it to transfer back. */
export interface MethodResult {
  value: unknown;
  transfer: ArrayBuffer[];
}

export interface ResourceKind<R = any> {
  /** Builds the resource in this worker (an ONNX session, say, is created asynchronously). */
  create(payload: any): R | Promise<R>;
  /** Bytes of wasm memory the resource holds, for `pool.stats()`. */
  bytes(resource: R): number;
  methods: Record<string, (resource: R, args: any) => MethodResult | Promise<MethodResult>>;
  dispose(resource: R): void;
  /** What the pool learns about a new resource (plain data), e.g. a session's input and output names. */
  describe?(resource: R): unknown;
}

export interface ResourceCreated {
  bytes: number;
  info: unknown;
}

/** A kind, or a loader of one: code a worker only fetches when the first resource of that kind is made. */
export type KindEntry = ResourceKind | (() => Promise<ResourceKind>);

/** The resources this worker holds, by the id the pool gave them. */
export class ResourceTable {
  private readonly entries = new Map<number, { kind: ResourceKind; resource: unknown }>();

  constructor(private readonly kinds: Record<string, KindEntry>) {}

  async create(kindName: string, id: number, payload: unknown): Promise<ResourceCreated> {
    const entry = this.kinds[kindName];
    if (!entry) throw new AtrousError('INTERNAL', `worker: unknown resource kind ${show(kindName)} (known: ${show(Object.keys(this.kinds))})`);
    const kind = typeof entry === 'function' ? await entry() : entry;
    this.release(id);
    const resource = await kind.create(payload);
    this.entries.set(id, { kind, resource });
    return { bytes: kind.bytes(resource), info: kind.describe?.(resource) };
  }

  invoke(id: number, method: string, args: unknown[]): MethodResult | Promise<MethodResult> {
    const entry = this.entries.get(id);
    if (!entry) throw new AtrousError('DISPOSED', `worker: resource #${id} does not exist here (disposed, or never created)`);
    const fn = entry.kind.methods[method];
    if (!fn) throw new AtrousError('INTERNAL', `worker: resource #${id} has no method ${show(method)}`);
    return fn(entry.resource, args);
  }

  release(id: number): void {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      entry.kind.dispose(entry.resource);
    }
  }
}
