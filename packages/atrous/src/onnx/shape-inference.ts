import { AtrousError, show } from '../errors.js';
import type { HostTensor } from './data-types.js';
import { nodeLabel, type GraphIR, type NodeIR } from './graph.js';
import { checkOutputDims, consumedInputs, type NodeState, type PreparedOp, type ValueMeta } from './ops/op.js';
import { opFor } from './ops/registry.js';
import { evaluateOnce, type RunEnv } from './value.js';

/** One thing a run does, in order. */
export interface Step {
  node: NodeIR;
  /** Value names read ('' for an omitted optional input). */
  inputs: string[];
  outputs: string[];
  run: PreparedOp['run'];
  /** What the op told a trainer about its geometry, if anything. */
  gradient?: PreparedOp['gradient'];
}

/** The graph specialized to one set of input dims: every dim known, every dims-only value computed. */
export interface Program {
  inputDims: Map<string, number[]>;
  metas: Map<string, ValueMeta>;
  /** Values known without the data: initializers and what folded from them and from the input dims. */
  consts: Map<string, HostTensor>;
  steps: Step[];
  /** A value that shares the storage of another (Reshape, Flatten, Squeeze, Unsqueeze, Identity): name -> name. */
  viewOf: Map<string, string>;
}

/** Ops whose output depends on the input's dims only, never on its data. */
const DIMS_ONLY = new Set(['Shape', 'Size']);

/**
 * Walks the graph with known input dims (and the values of its shape feeds, if any): infers every value's type and dims, evaluates what depends
 * on dims only (the Shape -> Gather -> Concat -> Reshape chains exporters write) on the kernels, and lists
 * the steps left for run time. Cheap: no data is touched but constants.
 */
export function specialize(
  graph: GraphIR,
  states: ReadonlyMap<NodeIR, NodeState>,
  inputDims: Map<string, number[]>,
  env: RunEnv,
  shapeFeeds?: ReadonlyMap<string, HostTensor>,
): Program {
  const metas = new Map<string, ValueMeta>();
  const consts = new Map(graph.initializers);
  // Shape feeds (shape-feeds.ts) are known like constants: what they decide folds.
  for (const [name, t] of shapeFeeds ?? []) consts.set(name, t);
  const steps: Step[] = [];
  const viewOf = new Map<string, string>();
  for (const [name, t] of consts) metas.set(name, { type: t.type, dims: t.dims });
  for (const input of graph.inputs) {
    metas.set(input.name, { type: input.elemType!, dims: inputDims.get(input.name)! });
  }
  const metaOf = (name: string) => (name === '' ? undefined : metas.get(name));

  for (const node of graph.nodes) {
    const definition = opFor(node);
    if (!definition) throw new AtrousError('UNSUPPORTED_OP', `op type ${show(node.opType)} (node ${show(node.name)}) is not supported by atrous`);
    const inputs = node.inputs.map(metaOf);
    node.inputs.forEach((name, i) => {
      // Weights a load hook packed may have been released: the op reads them from its state.
      const released = consumedInputs(definition, states.get(node)).includes(i);
      if (name !== '' && inputs[i] === undefined && !released) throw new AtrousError('INTERNAL', `${nodeLabel(node)}: input ${show(name)} has no type`);
    });
    const nodeConsts = node.inputs.map((name) => (name === '' ? undefined : consts.get(name)));
    const prepared = definition.prepare({ node, opset: graph.opset, inputs, consts: nodeConsts, state: states.get(node) });
    checkOutputDims(node, prepared.outputs);
    node.outputs.forEach((name, i) => {
      if (name === '') return;
      const meta = prepared.outputs[i];
      if (!meta) throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: output ${i} (${show(name)}) is not supported`);
      metas.set(name, meta);
    });
    const foldable = !definition.load && (DIMS_ONLY.has(node.opType) || node.inputs.every((name, i) => name === '' || nodeConsts[i] !== undefined));
    if (foldable) {
      const outs = prepared.view ? [{ ...nodeConsts[0]!, dims: prepared.outputs[0]!.dims }] : evaluateOnce(env, prepared.run, nodeConsts, prepared.outputs);
      node.outputs.forEach((name, i) => name !== '' && consts.set(name, outs[i]!));
    } else if (prepared.view) {
      viewOf.set(node.outputs[0]!, node.inputs[0]!);
    } else {
      // Inputs a load hook consumed (packed weights) are not read at run time.
      const consumed = consumedInputs(definition, states.get(node));
      const read = node.inputs.map((name, i) => (consumed.includes(i) ? '' : name));
      steps.push({ node, inputs: read, outputs: node.outputs, run: prepared.run, gradient: prepared.gradient });
    }
  }
  return { inputDims, metas, consts, steps, viewOf };
}
