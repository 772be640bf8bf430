// One worker seen from the pool: its Comlink proxy, the resources it holds, and its death. Every call to
// the worker races against its death, so a worker that crashes or is terminated leaves no call pending.
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { spawnWorker } from '#worker-host';
import { AtrousError } from '../errors.js';
import type { WasmBuild } from '../wasm/builds.js';
import { installErrorTransfer } from './error-transfer.js';
import type { Answer, SpawnOptions, WorkerApi, WorkerHandle } from './worker-protocol.js';

export type SlotState = 'starting' | 'idle' | 'busy' | 'dead';

export class WorkerSlot {
  readonly id: number;
  state: SlotState = 'starting';
  build: WasmBuild | undefined;
  /** Calls this worker completed (successfully or not). */
  jobs = 0;
  /** Size of the worker's wasm memory after its last call that succeeded. */
  wasmBytes = 0;
  /** Resource ids this worker holds (or is creating), with what the worker said about each. */
  readonly resources = new Map<number, Promise<unknown>>();
  private readonly handle: WorkerHandle;
  private readonly remote: WorkerApi;
  /** Rejecters of the calls in flight: a dying worker fails them all. */
  private readonly pending = new Set<(error: AtrousError) => void>();
  private readonly onDeath: (slot: WorkerSlot, error: AtrousError) => void;
  private deathError: AtrousError | undefined;

  /** `onDeath` hears once that the worker is gone, whatever the reason. */
  constructor(id: number, attempt: number, spawn: SpawnOptions, onDeath: (slot: WorkerSlot, error: AtrousError) => void) {
    this.id = id;
    this.attempt = attempt;
    this.onDeath = onDeath;
    installErrorTransfer();
    this.handle = spawnWorker(spawn);
    this.handle.onCrash((what) => {
      void this.end(new AtrousError('WORKER_CRASHED', `worker #${this.id} ${what}; it was replaced`));
    });
    this.remote = Comlink.wrap<WorkerApi>(this.handle.endpoint) as unknown as WorkerApi;
  }

  get dead(): boolean {
    return this.deathError !== undefined;
  }

  /** Whether the worker loaded its kernels. */
  started = false;
  /** 1 for a worker, n for the n-th try in a row to start a replacement in the same place. */
  readonly attempt: number;

  /** Loads the kernels in the worker; on failure the worker is ended. */
  async start(build: WasmBuild | undefined): Promise<void> {
    try {
      this.build = await this.call((r) => r.init(build));
    } catch (error) {
      const reason = error instanceof AtrousError ? error : new AtrousError('WASM_UNAVAILABLE', `worker #${this.id} could not start: ${String(error)}`);
      await this.end(reason);
      throw reason;
    }
    if (!this.dead) {
      this.state = 'idle';
      this.started = true;
    }
  }

  /**
   * Calls the worker and gives its answer's value. Rejects with the worker's error (as an AtrousError), or
   * with the reason of death if the worker dies first. A worker that reports itself broken (a wasm trap)
   * is ended.
   */
  async call<T>(fn: (remote: WorkerApi) => Promise<Answer<T>>): Promise<T> {
    if (this.deathError) throw this.deathError;
    // Not Promise.race with a long-lived "death" promise: every race would leave a reaction (holding its
    // result) on that promise until the worker dies.
    const answer = await new Promise<Answer<T>>((resolve, reject) => {
      let sent: Promise<Answer<T>>;
      try {
        sent = fn(this.remote);
      } catch (error) {
        // postMessage refused the message (a DataCloneError: a detached or unclonable value).
        reject(error);
        return;
      }
      this.pending.add(reject);
      sent.then(resolve, (error: unknown) => reject(this.workerFailure(error))).finally(() => this.pending.delete(reject));
    });
    this.wasmBytes = answer.wasmBytes;
    return answer.value;
  }

  /** What the caller sees of an error the worker threw; WORKER_CRASHED from the worker means "replace me". */
  private workerFailure(error: unknown): AtrousError {
    if (!(error instanceof AtrousError)) {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return new AtrousError('INTERNAL', `a worker threw ${what}`, { cause: error });
    }
    if (error.code !== 'WORKER_CRASHED') return error;
    if (this.deathError) return this.deathError;
    const crash = new AtrousError('WORKER_CRASHED', `worker #${this.id}: ${error.message}`, { cause: error.cause });
    void this.end(crash);
    return crash;
  }

  /** Makes sure the worker holds resource `id`, creating it from `payload` on first use. */
  ensure(id: number, kind: string, payload: unknown): Promise<unknown> {
    let ready = this.resources.get(id);
    if (!ready) {
      ready = this.call((r) => r.create(kind, id, payload)).then((created) => created.info);
      this.resources.set(id, ready);
      ready.catch(() => this.resources.delete(id));
    }
    return ready;
  }

  /** Frees resource `id` in the worker, if it holds it. Never throws. */
  async release(id: number): Promise<void> {
    const ready = this.resources.get(id);
    if (!ready) return;
    this.resources.delete(id);
    try {
      await ready;
      await this.call((r) => r.release(id));
    } catch {
      // Creation failed or the worker died: nothing is held any more.
    }
  }

  /** Ends the worker (if it is not gone already); every pending call rejects with `reason`. */
  async end(reason: AtrousError): Promise<void> {
    if (!this.deathError) {
      this.deathError = reason;
      this.state = 'dead';
      for (const reject of this.pending) reject(reason);
      this.pending.clear();
      this.onDeath(this, reason);
    }
    await this.handle.terminate();
  }
}
