import type { Tensor } from '../tensor.js';
import { AtrousError } from '../errors.js';
import type { HostTensor } from './data-types.js';
import type { GraphIR } from './graph.js';

/**
 * Shape feeds: small integer graph inputs whose values decide dims (a ConstantOfShape or Reshape fed its
 * shape at run time). A session normally specializes its graph on the input dims alone; when an op needs
 * the value of something computed only from such inputs, the session specializes on their values too
 * (they are metadata-sized, like the shape computations folded from dims), one program per distinct value.
 */

/** The most elements an integer input may have to be specialized on (a shape has one per axis). */
export const MAX_SHAPE_FEED_ELEMENTS = 64;

/**
 * An op's refusal because it needs the value of `valueName` when the session is prepared (shapes, axes,
 * sizes): what a shape feed can resolve. It is an UNSUPPORTED_OP refusal when it cannot.
 */
export class ValueNeededError extends AtrousError {
  constructor(
    readonly valueName: string,
    message: string,
  ) {
    super('UNSUPPORTED_OP', message);
  }
}

/**
 * The graph inputs to specialize on for `error`: when it is a `ValueNeededError` whose value depends on
 * graph inputs that are all integers of at most MAX_SHAPE_FEED_ELEMENTS (where the dims are known), those
 * inputs; otherwise undefined (the refusal stands).
 */
export function shapeFeedsFor(graph: GraphIR, error: unknown, dims?: ReadonlyMap<string, number[]>): string[] | undefined {
  if (!(error instanceof ValueNeededError)) return undefined;
  const producer = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const inputs = new Map(graph.inputs.map((v) => [v.name, v]));
  const found = new Set<string>();
  const seen = new Set<string>();
  const pending = [error.valueName];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name === '' || seen.has(name)) continue;
    seen.add(name);
    const input = inputs.get(name);
    if (input) {
      const d = dims?.get(name) ?? input.dims;
      const count = d?.every((x) => typeof x === 'number') ? (d as number[]).reduce((a, b) => a * b, 1) : undefined;
      const small = count === undefined || count <= MAX_SHAPE_FEED_ELEMENTS;
      if ((input.elemType !== 'int64' && input.elemType !== 'int32') || !small) return undefined;
      found.add(name);
      continue;
    }
    const node = producer.get(name);
    if (node) pending.push(...node.inputs);
  }
  return found.size > 0 ? [...found] : undefined;
}

/** The values of the shape feeds, as the session holds integers (float64 numbers). */
export function shapeFeedValues(graph: GraphIR, names: readonly string[], feeds: Record<string, Tensor>): Map<string, HostTensor> {
  const values = new Map<string, HostTensor>();
  for (const name of names) {
    const type = graph.inputs.find((v) => v.name === name)!.elemType!;
    const t = feeds[name]!;
    if (t.data.length > MAX_SHAPE_FEED_ELEMENTS) {
      throw new AtrousError('INVALID_FEED', `InferenceSession.run: feed ${JSON.stringify(name)} decides dims of the graph, so it may hold at most ${MAX_SHAPE_FEED_ELEMENTS} values, got ${t.data.length}`);
    }
    const data = Float64Array.from(t.data as ArrayLike<number | bigint>, Number);
    values.set(name, { type, dims: [...t.dims], data });
  }
  return values;
}
