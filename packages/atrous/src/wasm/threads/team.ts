// A team of threads for one engine: `helpers` more instances of the engine's module over its shared
// memory, in workers, run by a supervisor worker (team-worker.ts). Kernels that split work take the
// team's handle (`ptr`); `setWidth` chooses how many threads the next calls use.
import { spawnThread } from '#thread-host';
import type { ThreadHandle } from './thread-host.js';
import { AtrousError } from '../../errors.js';
import type { KernelExports } from '../abi.js';
import type { SupervisorCommand, SupervisorStart, TeamEvent } from './team-protocol.js';

/** Each helper's stack: the size the linker gives the first instance's (Rust's wasm default). */
const STACK_BYTES = 1 << 20;
/** How long helpers may take to start before the team is given up on. */
const START_TIMEOUT_MS = 30_000;

export interface TeamHost {
  readonly exports: KernelExports;
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  alloc(bytes: number, what: string): number;
  free(ptr: number, bytes: number): void;
}

export class ThreadTeam {
  /** The team's handle for kernel calls. */
  readonly ptr: number;
  readonly helpers: number;
  private readonly host: TeamHost;
  private readonly supervisor: ThreadHandle;
  private readonly stacks: number[];
  private readonly crashedWord: number;
  private width: number;
  private stopped?: Promise<void>;
  /** Why the team is unusable (a helper died), if it is. */
  brokenBecause?: string;

  private constructor(host: TeamHost, ptr: number, helpers: number, supervisor: ThreadHandle, stacks: number[]) {
    this.host = host;
    this.ptr = ptr;
    this.helpers = helpers;
    this.supervisor = supervisor;
    this.stacks = stacks;
    this.crashedWord = host.exports.atrous_team_crashed_word(ptr);
    this.width = helpers + 1;
  }

  /** Starts `helpers` helper threads; resolves once every one serves. */
  static async start(host: TeamHost, helpers: number): Promise<ThreadTeam> {
    const out = host.alloc(4, 'team handle');
    let ptr: number;
    try {
      const status = host.exports.atrous_team_create(helpers, out);
      if (status !== 0) throw new AtrousError('WASM_UNAVAILABLE', `intraOpNumThreads: this build cannot make a team of ${helpers} helpers (status ${status})`);
      ptr = new Uint32Array(host.memory.buffer, out, 1)[0]!;
    } finally {
      host.free(out, 4);
    }
    const stacks: number[] = [];
    for (let i = 0; i < helpers; i++) stacks.push(host.alloc(STACK_BYTES, `helper ${i}'s stack`));
    const supervisor = spawnThread();
    const team = new ThreadTeam(host, ptr, helpers, supervisor, stacks);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new AtrousError('WORKER_CRASHED', `intraOpNumThreads: ${helpers} helper threads did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      supervisor.onMessage((event: TeamEvent) => {
        if (event.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (event.type === 'crashed') {
          team.brokenBecause = `helper thread ${event.index} ${event.what}`;
          clearTimeout(timer);
          reject(new AtrousError('WORKER_CRASHED', `intraOpNumThreads: ${team.brokenBecause}`));
        }
      });
      supervisor.onExit((what) => {
        team.brokenBecause = `the team's supervisor thread ${what}`;
        clearTimeout(timer);
        reject(new AtrousError('WORKER_CRASHED', `intraOpNumThreads: ${team.brokenBecause}`));
      });
      const start: SupervisorStart = {
        role: 'supervisor',
        module: host.module,
        memory: host.memory,
        team: ptr,
        crashedWord: team.crashedWord,
        stackTops: stacks.map((s) => s + STACK_BYTES),
      };
      supervisor.post(start);
      // After the listeners: adding a message listener refs a Node worker again.
      supervisor.unref();
    }).catch(async (error: unknown) => {
      await team.stop();
      throw error;
    });
    return team;
  }

  /** Threads (this one included) the next kernel calls use: 1..helpers + 1. */
  setWidth(width: number): void {
    if (width === this.width) return;
    const status = this.host.exports.atrous_team_set_width(this.ptr, width);
    if (status !== 0) throw new AtrousError('INVALID_ARGUMENT', `intraOpNumThreads: ${width} is not between 1 and ${this.helpers + 1}`);
    this.width = width;
  }

  /** Whether a helper has died (the team then fails every split call and must be replaced). */
  get crashed(): boolean {
    return this.brokenBecause !== undefined || new Int32Array(this.host.memory.buffer, this.crashedWord, 1)[0] !== 0;
  }

  /** Fault tests: the supervisor ends helper `index`, `afterMs` from now, as if it had crashed. */
  killHelperForTest(index: number, afterMs: number): void {
    this.supervisor.post({ role: 'command', type: 'kill', index, afterMs } satisfies SupervisorCommand);
  }

  /** Ends the helpers and the supervisor and frees the team. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.host.exports.atrous_team_shutdown(this.ptr);
      // Helpers leave `atrous_team_serve` and end; a dead one already has. Whatever is left is ended
      // with the supervisor (a terminated worker ends the workers it started).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        this.supervisor.onMessage((event: TeamEvent) => {
          if (event.type === 'stopped') {
            clearTimeout(timer);
            resolve();
          }
        });
        this.supervisor.post({ role: 'command', type: 'stop' } satisfies SupervisorCommand);
      });
      await this.supervisor.terminate();
      for (const s of this.stacks) this.host.free(s, STACK_BYTES);
      this.host.exports.atrous_team_free(this.ptr);
    })();
    return this.stopped;
  }
}
