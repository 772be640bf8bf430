import { AtrousError, show } from '../../errors.js';
import type { ElemType, HostTensor } from '../data-types.js';
import type { Engine } from '../../wasm/engine.js';
import type { GradientInfo } from './gradient-info.js';
import { nodeLabel, type NodeIR } from '../graph.js';
import type { RunEnv, Value } from '../value.js';
import { ValueNeededError } from '../shape-feeds.js';

/** Type and dims of a value, all dims known (a session specializes its graph to the fed input dims). */
export interface ValueMeta {
  type: ElemType;
  dims: number[];
}

/** What an op sees when it is prepared for known input dims. */
export interface OpContext {
  node: NodeIR;
  opset: number;
  /** One per node input; undefined for an omitted optional input. */
  inputs: (ValueMeta | undefined)[];
  /** The values of inputs that are constant (initializers, folded shape computations). */
  consts: (HostTensor | undefined)[];
  /** What the op's `load` hook made for this node (packed weights), if it has one. */
  state?: NodeState;
}

/** An op ready to run on inputs of the dims it was prepared for. */
export interface PreparedOp {
  outputs: ValueMeta[];
  /**
   * Writes every output (preallocated, of the dims in `outputs`). Float feature maps are only touched
   * through `env.kernels`, by address (`value.ptr`); `value.data` is for the integer metadata that lives on
   * the JavaScript side (shapes, indices).
   */
  run(inputs: (Value | undefined)[], outputs: Value[], env: RunEnv): void;
  /** Output 0 is input 0 reinterpreted with new dims (Reshape, Flatten, ...): nothing to run, no copy. */
  view?: boolean;
  /** For a trainer's backward: the geometry the forward kernel call was given (see gradient-info.ts). */
  gradient?: GradientInfo;
}

/** Per-node state an op prepares once at load (packed weights in wasm memory). */
export interface NodeState {
  /** Bytes of wasm memory it holds. */
  readonly bytes: number;
  /** Inputs whose constant values it took (packed), so runs do not read them; else the definition's `consumes`. */
  readonly consumed?: readonly number[];
  dispose(): void;
}

/** The inputs of `node` that its load-time state took over. */
export function consumedInputs(definition: OpDefinition, state: NodeState | undefined): readonly number[] {
  if (!definition.load || !state) return [];
  return state.consumed ?? definition.consumes ?? [];
}

/** What an op's `load` hook sees: the node and the constants (initializers) of the graph. */
export interface LoadContext {
  node: NodeIR;
  opset: number;
  engine: Engine;
  consts: ReadonlyMap<string, HostTensor>;
}

/** An op: `prepare` for known input dims, and optionally `load`, run once per node when the model loads. */
export interface OpDefinition {
  prepare: OpPreparer;
  load?(ctx: LoadContext): NodeState;
  /** Names of inputs whose constant values `load` consumed (their parsed copies may be released). */
  consumes?: readonly number[];
}

export type OpPreparer = (ctx: OpContext) => PreparedOp;

/** Largest tensor a session will make: what 32-bit wasm memory could hold as float32. */
export const MAX_ELEMENTS = 2 ** 30;

/** Checks dims an op computed (from possibly corrupted constants) before anything is allocated. */
export function checkOutputDims(node: NodeIR, metas: readonly ValueMeta[]): void {
  for (const m of metas) {
    let size = 1;
    for (const d of m.dims) {
      if (!Number.isSafeInteger(d) || d < 0) throw opError(node, `computed output dims ${show(m.dims)} are not valid`);
      size *= d;
    }
    if (size > MAX_ELEMENTS) {
      throw new AtrousError('OUT_OF_MEMORY', `${nodeLabel(node)}: output dims ${show(m.dims)} (${size} elements) exceed what wasm memory can hold`);
    }
  }
}

export function opError(node: NodeIR, message: string): AtrousError {
  return new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: ${message}`);
}

export function unsupported(node: NodeIR, message: string): AtrousError {
  return new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: ${message}`);
}

/** The meta of a required input, with an error naming the node when it is missing. */
export function input(ctx: OpContext, index: number, what = `input ${index}`): ValueMeta {
  const m = ctx.inputs[index];
  if (m === undefined) throw opError(ctx.node, `${what} is required`);
  return m;
}

/** The constant value of an input the op needs at preparation time (shapes, axes, sizes). */
export function constInput(ctx: OpContext, index: number, what: string): HostTensor | undefined {
  if (ctx.inputs[index] === undefined) return undefined;
  const c = ctx.consts[index];
  if (c === undefined) {
    // A shape feed (a small integer graph input) can resolve this: the session then specializes on its value.
    throw new ValueNeededError(ctx.node.inputs[index]!, `${nodeLabel(ctx.node)}: ${what} (input ${index}, ${show(ctx.node.inputs[index])}) must be computable when the session is prepared; a value computed from the data is not supported`);
  }
  return c;
}

export function expectFloat(ctx: OpContext, index: number): ValueMeta {
  const m = input(ctx, index);
  if (m.type !== 'float32') throw opError(ctx.node, `input ${index} ${show(ctx.node.inputs[index])} must be a float tensor, got ${m.type}`);
  return m;
}

/** Normalizes an axis in [-rank, rank) to [0, rank). */
export function normAxis(node: NodeIR, axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw opError(node, `${what} ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}
