import { AtrousError, show } from '../errors.js';
import { Tensor, type TensorType } from '../tensor.js';
import type { WasmBuild } from '../wasm/builds.js';
import { defaultThreads, type Engine } from '../wasm/engine.js';
import { currentEngine, init, loadedBuild } from '../wasm/loader.js';
import { allocData, dataTypeName, sizeOf, type HostData, type HostTensor } from './data-types.js';
import { checkFeeds, checkOutputs, toTensor, writeTensor } from './feeds.js';
import type { Dim, GraphIR, ModelMetadata, NodeIR } from './graph.js';
import { planMemory, storageOf, type MemoryPlan } from './memory-planner.js';
import { loadGraph, probeUnsupported, readModel, type LoadedGraph } from './model-loading.js';
import type { OptimizerReport } from './optimizer.js';
import type { NodeState } from './ops/op.js';
import { runStep } from './run-step.js';
import { shapeFeedValues, shapeFeedsFor } from './shape-feeds.js';
import { specialize, type Program } from './shape-inference.js';
import { elemBytes, residesInWasm, wasmValue, type RunEnv, type Value } from './value.js';

export type { ModelMetadata } from './graph.js';

export interface SessionOptions {
  /** Force one wasm build (as `init({ build })`); default: the build `init()` loaded, else the best this engine runs. */
  build?: WasmBuild;
  /** Time every step of each run (see `session.profile`). Off by default: it costs a clock read per step. */
  profile?: boolean;
  /**
   * Threads one run splits its work over (onnxruntime's option name): this thread and helpers over one
   * shared wasm memory. Default: the cores, up to 8 (`min(cores, 8)`). Where shared memory cannot be made
   * (a page that is not cross-origin isolated) the session runs on one thread: `intraOpNumThreads` then
   * reports 1 and `threadsUnavailable` why. Outputs are the same bits for every count.
   */
  intraOpNumThreads?: number;
}

/** Time spent per op type in the last run, in ms, largest first. */
export interface ProfileEntry {
  opType: string;
  count: number;
  ms: number;
}

/** Time of one step (one node of the optimized graph) in the last run, in ms. */
export interface NodeProfileEntry {
  /** The node's name (an optimizer fusion keeps the name of the node it rewrote). */
  name: string;
  opType: string;
  /** Dims of its first output. */
  outputDims: readonly number[];
  ms: number;
}

/** A graph input or output as the model declares it; symbolic dims are names (`"batch"`) or `"?"`. */
export interface ValueMetadata {
  name: string;
  isTensor: true;
  type: TensorType | string;
  dims: Dim[] | undefined;
  /** onnxruntime-web's name for `dims`. */
  shape: Dim[] | undefined;
}

export type InferenceFeeds = Record<string, Tensor>;
export type InferenceResults = Record<string, Tensor>;
/** onnxruntime-web's pre-allocated fetches: output name -> a tensor to write it into, or `null` to allocate it. */
export type InferenceFetches = Record<string, Tensor | null>;

export interface SessionRunOptions {
  /**
   * Output name -> a tensor of the output's type and dims (for these feeds) to write it into; that tensor
   * is then the result's entry, so a loop over frames allocates no output. Outputs not named (or `null`)
   * are allocated as usual. A feed may be given (it is read before any output is written).
   */
  outputs?: Record<string, Tensor | null | undefined>;
}

/** Memory of a session, in bytes. */
export interface SessionMemory {
  /** Packed convolution weights held in wasm memory. */
  weightBytes: number;
  /** The activation arena: live feature maps at their peak, with non-overlapping lifetimes sharing bytes. */
  arenaBytes: number;
  /** What the activations of the largest run would need without sharing. */
  unsharedActivationBytes: number;
  /** The whole wasm linear memory (kernels' scratch and other sessions on the same engine included). */
  wasmMemoryBytes: number;
}

/** Most distinct input shapes a session keeps prepared at once (each is a graph walk and a memory plan). */
const PROGRAM_CACHE = 4;

interface Prepared {
  program: Program;
  memory: MemoryPlan;
}

/**
 * An ONNX model ready to run, shaped like onnxruntime-web's:
 * `const s = await InferenceSession.create(bytes); const { out } = await s.run({ input: tensor });`.
 *
 * At create: parse, fold constants, fold BatchNorm into Conv, fuse activations and residual adds into the
 * conv epilogue, pack conv weights once. When every input dim is fixed, the graph is also specialized
 * (shape computations folded, memory planned) at create; otherwise per new input shape, at run.
 * Feature maps live in one wasm arena for the whole run: convolutions read and write it directly.
 */
export class InferenceSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** What the load-time optimizer did. */
  readonly optimizations: Readonly<OptimizerReport>;
  /** The model's producer, version, domain, doc string and custom `metadata_props` (class names, ...). */
  readonly metadata: Readonly<ModelMetadata>;
  /** Threads each run uses (1 where the build has no shared memory; see `threadsUnavailable`). */
  intraOpNumThreads = 1;
  /** Why this session runs on one thread though more were asked for, if it does. */
  threadsUnavailable?: string;
  private readonly engine: Engine;
  private readonly env: RunEnv;
  private readonly graph: GraphIR;
  /** What each op's load hook prepared (packed conv weights), by node. */
  private readonly states: Map<NodeIR, NodeState>;
  /** Constants the steps read, copied once into wasm memory. */
  private readonly uploaded = new Map<HostTensor, { ptr: number; bytes: number }>();
  private readonly programs = new Map<string, Prepared>();
  /** Integer inputs whose values the programs are specialized on (shape-feeds.ts); found on first need. */
  private shapeFeeds: string[] | undefined;
  private arenaPtr = 0;
  private arenaBytes = 0;
  private peakWasm = 0;
  private unshared = 0;
  private disposed = false;
  private profiling = false;
  private lastProfile: ProfileEntry[] = [];
  private lastNodeProfile: NodeProfileEntry[] = [];

  private constructor(env: RunEnv, graph: GraphIR, states: Map<NodeIR, NodeState>, report: OptimizerReport) {
    this.engine = env.engine;
    this.env = env;
    this.graph = graph;
    this.states = states;
    this.optimizations = report;
    this.metadata = graph.metadata;
    const meta = (v: GraphIR['inputs'][number]): ValueMetadata => ({
      name: v.name,
      isTensor: true,
      type: v.elemType ?? dataTypeName(v.dataType).toLowerCase(),
      dims: v.dims && [...v.dims],
      shape: v.dims && [...v.dims],
    });
    this.inputNames = graph.inputs.map((v) => v.name);
    this.outputNames = graph.outputs.map((v) => v.name);
    this.inputMetadata = graph.inputs.map(meta);
    this.outputMetadata = graph.outputs.map(meta);
  }

  /** Loads a model: bytes (Uint8Array or ArrayBuffer), or in Node a file path. */
  static async create(model: Uint8Array | ArrayBuffer | string, options: SessionOptions = {}): Promise<InferenceSession> {
    const bytes = await readModel(model);
    // Without a build asked for, the one `init()` already loaded (if any) is kept.
    const engine = options.build === undefined && loadedBuild() !== undefined ? currentEngine('InferenceSession.create') : await init({ build: options.build });
    const env: RunEnv = { engine, kernels: engine.kernels };
    const threads = options.intraOpNumThreads ?? defaultThreads();
    const inEffect = await engine.useThreads(threads, 'InferenceSession.create');
    let loaded: LoadedGraph | undefined;
    let session: InferenceSession | undefined;
    try {
      loaded = loadGraph(bytes, env);
      const { graph, states, report } = loaded;
      session = new InferenceSession(env, graph, states, report);
      session.profiling = options.profile === true;
      session.intraOpNumThreads = inEffect;
      if (inEffect < threads) session.threadsUnavailable = engine.threadsUnavailable;
      const fixed = graph.inputs.every((v) => v.dims?.every((d) => typeof d === 'number'));
      if (fixed) {
        // Without shape feeds the whole program is known now; with them, at the first run.
        const prepared = session.prepare(new Map(graph.inputs.map((v) => [v.name, v.dims as number[]])));
        if (prepared) session.ensureArena(prepared.memory.arenaBytes);
      } else {
        probeUnsupported(graph, states, env);
      }
      session.notePeak();
      return session;
    } catch (e) {
      if (session) session.dispose();
      else if (loaded) for (const k of loaded.states.values()) k.dispose();
      if (e instanceof AtrousError) throw e;
      // Anything else is a model the checks above let through in a state they did not foresee.
      throw new AtrousError('INVALID_MODEL', `InferenceSession.create: the model could not be loaded: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** With `profile: true`: time per op type in the last run. */
  get profile(): readonly ProfileEntry[] {
    return this.lastProfile;
  }

  /** With `profile: true`: time per step (node of the optimized graph) in the last run, in run order. */
  get nodeProfile(): readonly NodeProfileEntry[] {
    return this.lastNodeProfile;
  }

  /** Peak size of the wasm memory seen by this session's create and runs, in bytes. */
  get peakMemoryBytes(): number {
    return this.peakWasm;
  }

  /** Where the bytes go. */
  get memory(): SessionMemory {
    let weightBytes = 0;
    for (const k of this.states.values()) weightBytes += k.bytes;
    for (const c of this.uploaded.values()) weightBytes += c.bytes;
    return { weightBytes, arenaBytes: this.arenaBytes, unsharedActivationBytes: this.unshared, wasmMemoryBytes: this.engine.memoryBytes };
  }

  /**
   * Runs the model. Pre-allocated outputs can be given as `run(feeds, { outputs: { name: tensor } })`, or
   * in onnxruntime-web's form `run(feeds, { name: tensor })` (fetches: an object whose values are Tensors, or
   * `null` for output names). Either way every output is returned, the given ones as the caller's tensors.
   */
  async run(feeds: InferenceFeeds, options?: SessionRunOptions): Promise<InferenceResults>;
  async run(feeds: InferenceFeeds, fetches: InferenceFetches, options?: SessionRunOptions): Promise<InferenceResults>;
  async run(feeds: InferenceFeeds, arg1?: SessionRunOptions | InferenceFetches, arg2?: SessionRunOptions): Promise<InferenceResults> {
    try {
      // Another session on this engine may use another count, and a team that lost a helper is replaced here.
      if (!this.disposed && (this.engine.threads !== this.intraOpNumThreads || this.engine.teamCrashed)) {
        await this.engine.useThreads(this.intraOpNumThreads, 'InferenceSession.run');
      }
      return this.runSync(feeds, arg1, arg2);
    } catch (e) {
      if (e instanceof AtrousError) throw e;
      // The cause is kept: a worker pool must see a wasm trap to replace the worker it broke.
      throw new AtrousError('INTERNAL', `InferenceSession.run: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }

  private runSync(feeds: InferenceFeeds, arg1: unknown, arg2: unknown): InferenceResults {
    if (this.disposed) throw new AtrousError('DISPOSED', 'InferenceSession.run: this session was disposed');
    const dims = checkFeeds(this.graph, feeds);
    const [where, requested] = this.requestedOutputs(arg1, arg2);
    const { program, memory } = this.prepare(dims, feeds)!;
    const given = requested ? checkOutputs(requested, where, this.outputNames, (n) => program.metas.get(n)!) : undefined;
    this.ensureArena(memory.arenaBytes);
    const e = this.engine;
    const host = new Map<string, HostData>();
    const base = this.arenaPtr;
    // Views are made per step: a kernel may grow the memory, which detaches earlier views.
    const valueOf = (name: string): Value => {
      const c = program.consts.get(name);
      if (c) return residesInWasm(c.type) ? wasmValue(e, c.type, c.dims, this.constPtr(c)) : { ...c, ptr: 0 };
      const meta = program.metas.get(name)!;
      const offset = memory.offsets.get(name);
      if (offset !== undefined) return wasmValue(e, meta.type, meta.dims, base + offset);
      const store = storageOf(program, name);
      let data = host.get(store);
      if (!data) {
        data = allocData(meta.type, sizeOf(meta.dims));
        host.set(store, data);
      }
      return { type: meta.type, dims: meta.dims, data, ptr: 0 };
    };
    for (const name of this.inputNames) {
      if (program.consts.has(name)) continue; // a shape feed: the program was specialized on its value
      const feed = feeds[name]!;
      const t = valueOf(name);
      if (feed.type === 'int64') (t.data as Float64Array).set(Float64Array.from(feed.data as BigInt64Array, Number));
      else t.data.set(feed.data as ArrayLike<number>);
    }
    const env = this.env;
    const execute = (step: Program['steps'][number]) => runStep(step, valueOf, env);
    const times = this.profiling ? new Map<string, ProfileEntry>() : undefined;
    const nodeTimes: NodeProfileEntry[] = [];
    for (const step of program.steps) {
      if (memory.inPlace.has(step)) continue; // its inputs were written into its output
      if (!times) {
        execute(step);
        continue;
      }
      const t0 = performance.now();
      execute(step);
      const ms = performance.now() - t0;
      const key = step.node.opType;
      const entry = times.get(key) ?? { opType: key, count: 0, ms: 0 };
      entry.count++;
      entry.ms += ms;
      times.set(key, entry);
      nodeTimes.push({ name: step.node.name, opType: key, outputDims: program.metas.get(step.outputs[0]!)?.dims ?? [], ms });
    }
    if (times) {
      this.lastProfile = [...times.values()].sort((a, b) => b.ms - a.ms);
      this.lastNodeProfile = nodeTimes;
    }
    const results: InferenceResults = {};
    for (const name of this.outputNames) {
      const out = given?.get(name);
      results[name] = out ? writeTensor(valueOf(name), out) : toTensor(valueOf(name), name);
    }
    this.notePeak();
    return results;
  }

  /** The caller's pre-allocated outputs, from `run(feeds, options)` or `run(feeds, fetches, options)`. */
  private requestedOutputs(arg1: unknown, arg2: unknown): [string, Record<string, unknown> | undefined] {
    if (arg1 === undefined || arg1 === null) return ['options.outputs', undefined];
    if (typeof arg1 !== 'object' || Array.isArray(arg1)) {
      throw new AtrousError(
        'INVALID_ARGUMENT',
        `InferenceSession.run: the second argument must be options ({ outputs }) or fetches (output name -> Tensor or null), got ${show(arg1)}` +
          (Array.isArray(arg1) ? ' (a list of output names is not supported: every output is returned)' : ''),
      );
    }
    const o = arg1 as Record<string, unknown>;
    // onnxruntime-web's rule for telling fetches from options, made stricter: any Tensor value makes it fetches.
    const isFetches = Object.entries(o).some(([k, v]) => v instanceof Tensor || (v === null && this.outputNames.includes(k)));
    const options = (isFetches ? arg2 : arg1) as SessionRunOptions | undefined | null;
    if (options !== undefined && options !== null && typeof options !== 'object') {
      throw new AtrousError('INVALID_ARGUMENT', `InferenceSession.run: options must be an object, got ${show(options)}`);
    }
    if (isFetches) {
      if (options?.outputs !== undefined) {
        throw new AtrousError('INVALID_ARGUMENT', 'InferenceSession.run: give pre-allocated outputs either as fetches or as options.outputs, not both');
      }
      return ['fetches', o];
    }
    const outputs = options?.outputs;
    if (outputs === undefined || outputs === null) return ['options.outputs', undefined];
    if (typeof outputs !== 'object' || Array.isArray(outputs)) {
      throw new AtrousError('INVALID_ARGUMENT', `InferenceSession.run: options.outputs must be an object of output name -> Tensor, got ${show(outputs)}`);
    }
    return ['options.outputs', outputs as Record<string, unknown>];
  }

  /**
   * The program and memory plan for these input dims (and the values of the shape feeds, if the graph
   * has any), prepared on first use. Undefined only without feeds, when the graph turns out to need them.
   */
  private prepare(dims: Map<string, number[]>, feeds?: InferenceFeeds): Prepared | undefined {
    const values = this.shapeFeeds && feeds ? shapeFeedValues(this.graph, this.shapeFeeds, feeds) : undefined;
    const key = [...dims.values()].map((d) => d.join('x')).join(',') + (values ? `;${[...values.values()].map((t) => t.data.join('x')).join(',')}` : '');
    const known = this.programs.get(key);
    if (known) {
      this.programs.delete(key);
      this.programs.set(key, known); // most recently used last
      return known;
    }
    let program: Program;
    try {
      program = specialize(this.graph, this.states, dims, this.env, values);
    } catch (e) {
      const needed = this.shapeFeeds === undefined ? shapeFeedsFor(this.graph, e, dims) : undefined;
      if (!needed) throw e;
      this.shapeFeeds = needed;
      return feeds ? this.prepare(dims, feeds) : undefined;
    }
    const memory = planMemory(program, this.inputNames, this.outputNames);
    if (this.programs.size >= PROGRAM_CACHE) this.programs.delete(this.programs.keys().next().value!);
    this.programs.set(key, { program, memory });
    this.unshared = Math.max(this.unshared, memory.unsharedBytes);
    return { program, memory };
  }

  /** The wasm address of a constant a step reads, uploaded on first use and kept for the session's life. */
  private constPtr(t: HostTensor): number {
    const known = this.uploaded.get(t);
    if (known) return known.ptr;
    const bytes = Math.max(16, sizeOf(t.dims) * elemBytes(t.type));
    const ptr = this.engine.alloc(bytes, 'InferenceSession: constant');
    this.uploaded.set(t, { ptr, bytes });
    const view = wasmValue(this.engine, t.type, t.dims, ptr).data;
    view.set(t.data as ArrayLike<number> & Float32Array);
    return ptr;
  }

  private ensureArena(bytes: number): void {
    if (bytes <= this.arenaBytes && this.arenaPtr !== 0) return;
    this.engine.free(this.arenaPtr, this.arenaBytes);
    this.arenaPtr = 0;
    this.arenaPtr = this.engine.alloc(Math.max(bytes, 16), `InferenceSession: activation arena of ${bytes} bytes`);
    this.arenaBytes = Math.max(bytes, 16);
  }

  private notePeak(): void {
    this.peakWasm = Math.max(this.peakWasm, this.engine.memoryBytes);
  }

  /** onnxruntime-web's name for `dispose()`. */
  async release(): Promise<void> {
    this.dispose();
  }

  /** Frees the packed weights and the arena. The session cannot run afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const k of this.states.values()) k.dispose();
    for (const c of this.uploaded.values()) this.engine.free(c.ptr, c.bytes);
    this.uploaded.clear();
    this.engine.free(this.arenaPtr, this.arenaBytes);
    this.arenaPtr = 0;
    this.programs.clear();
  }
}
