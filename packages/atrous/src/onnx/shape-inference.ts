import { AtrousError, show } from '../errors.js';
import type { Activation } from '../ops/activation.js';
import { hostTensor, type HostTensor } from './data-types.js';
import { nodeLabel, type GraphIR, type NodeIR } from './graph.js';
import { applyActivation, type ConvKernel } from './ops/conv.js';
import type { ConvTransposeKernel } from './ops/conv-transpose.js';
import { checkOutputDims, type PreparedOp, type ValueMeta } from './ops/op.js';
import { OPS } from './ops/registry.js';

/** One thing a run does, in order. */
export interface Step {
  node: NodeIR;
  /** Value names read ('' for an omitted optional input). */
  inputs: string[];
  outputs: string[];
  /** A JavaScript op on host views of its inputs and outputs. */
  run?: PreparedOp['run'];
  /** Its wasm form, used when input 0 and output 0 are in the arena. */
  wasm?: PreparedOp['wasm'];
  /** A convolution on wasm pointers. */
  conv?: { kernel: ConvKernel; withActivation: boolean; inputDims: number[]; residual?: string };
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

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Ops whose output depends on the input's dims only, never on its data. */
const DIMS_ONLY = new Set(['Shape', 'Size']);

/**
 * Walks the graph with known input dims: infers every value's type and dims, evaluates what depends
 * on dims only (the Shape -> Gather -> Concat -> Reshape chains exporters write), and lists the steps
 * left for run time. Cheap: no data is touched but constants.
 */
export function specialize(graph: GraphIR, kernels: Map<NodeIR, ConvKernel | ConvTransposeKernel>, inputDims: Map<string, number[]>): Program {
  const metas = new Map<string, ValueMeta>();
  const consts = new Map(graph.initializers);
  const steps: Step[] = [];
  const viewOf = new Map<string, string>();
  for (const [name, t] of consts) metas.set(name, { type: t.type, dims: t.dims });
  for (const input of graph.inputs) {
    metas.set(input.name, { type: input.elemType!, dims: inputDims.get(input.name)! });
  }
  const metaOf = (name: string) => (name === '' ? undefined : metas.get(name));

  for (const node of graph.nodes) {
    if (node.opType === 'Conv') {
      // Its weights are packed in the kernel (and their parsed copies released).
      steps.push(...convSteps(node, kernels.get(node) as ConvKernel, metas, consts));
      continue;
    }
    if (node.opType === 'ConvTranspose') {
      steps.push(...convTransposeSteps(node, kernels.get(node) as ConvTransposeKernel, metas, consts));
      continue;
    }
    const inputs = node.inputs.map(metaOf);
    node.inputs.forEach((name, i) => {
      if (name !== '' && inputs[i] === undefined) throw new AtrousError('INTERNAL', `${nodeLabel(node)}: input ${show(name)} has no type`);
    });
    const prepare = OPS.get(node.opType)!;
    const nodeConsts = node.inputs.map((name) => (name === '' ? undefined : consts.get(name)));
    const prepared = prepare({ node, opset: graph.opset, inputs, consts: nodeConsts });
    checkOutputDims(node, prepared.outputs);
    node.outputs.forEach((name, i) => {
      if (name === '') return;
      const meta = prepared.outputs[i];
      if (!meta) throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: output ${i} (${show(name)}) is not supported`);
      metas.set(name, meta);
    });
    const foldable = DIMS_ONLY.has(node.opType) || node.inputs.every((name, i) => name === '' || nodeConsts[i] !== undefined);
    if (foldable) {
      const outs = prepared.view ? [{ ...nodeConsts[0]!, dims: prepared.outputs[0]!.dims }] : prepared.outputs.map((m) => hostTensor(m.type, m.dims));
      if (!prepared.view) prepared.run(nodeConsts, outs);
      node.outputs.forEach((name, i) => name !== '' && consts.set(name, outs[i]!));
    } else if (prepared.view) {
      viewOf.set(node.outputs[0]!, node.inputs[0]!);
    } else {
      steps.push({ node, inputs: node.inputs, outputs: node.outputs, run: prepared.run, wasm: prepared.wasm });
    }
  }
  return { inputDims, metas, consts, steps, viewOf };
}

/** The steps of one (possibly fused) Conv: one kernel call, or the unfused fallback when the residual's dims differ. */
function convSteps(node: NodeIR, kernel: ConvKernel, metas: Map<string, ValueMeta>, consts: Map<string, HostTensor>): Step[] {
  const [x, , , residual] = node.inputs;
  const out = node.outputs[0]!;
  const xMeta = metas.get(x!)!;
  if (xMeta.type !== 'float32') throw new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: input X must be float, got ${xMeta.type}`);
  if (consts.has(x!)) {
    throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: a Conv whose input ${show(x)} is a constant is not supported`);
  }
  const outDims = kernel.outputDims(xMeta.dims);
  checkOutputDims(node, [{ type: 'float32', dims: outDims }]);
  const activation = node.fusion?.activation ?? 'none';
  const r = residual ? metas.get(residual) : undefined;
  if (!residual || (r && r.type === 'float32' && sameDims(r.dims, outDims) && !consts.has(residual))) {
    metas.set(out, { type: 'float32', dims: outDims });
    return [{ node, inputs: [x!], outputs: [out], conv: { kernel, withActivation: true, inputDims: xMeta.dims, residual } }];
  }
  // The Add the optimizer fused broadcasts here: run conv, Add and activation as separate steps.
  const convOut = `${out}#conv`;
  metas.set(convOut, { type: 'float32', dims: outDims });
  const steps: Step[] = [{ node, inputs: [x!], outputs: [convOut], conv: { kernel, withActivation: false, inputDims: xMeta.dims } }];
  const sumOut = activation === 'none' ? out : `${out}#sum`;
  const addNode: NodeIR = { name: `${node.name}#residual`, opType: 'Add', domain: '', inputs: [convOut, residual], outputs: [sumOut], attributes: new Map() };
  const add = OPS.get('Add')!({ node: addNode, opset: 14, inputs: [metas.get(convOut), r], consts: [undefined, consts.get(residual)] });
  metas.set(sumOut, add.outputs[0]!);
  steps.push({ node: addNode, inputs: addNode.inputs, outputs: [sumOut], run: add.run });
  if (activation !== 'none') {
    metas.set(out, add.outputs[0]!);
    steps.push({ node: { ...addNode, name: `${node.name}#activation`, opType: 'Activation' }, inputs: [sumOut], outputs: [out], run: activationRun(activation) });
  }
  return steps;
}

/** A transposed convolution: spread (and pad) the input in JavaScript, then one kernel call. */
function convTransposeSteps(node: NodeIR, kernel: ConvTransposeKernel, metas: Map<string, ValueMeta>, consts: Map<string, HostTensor>): Step[] {
  const x = node.inputs[0]!;
  const out = node.outputs[0]!;
  const xMeta = metas.get(x)!;
  if (xMeta.type !== 'float32') throw new AtrousError('INVALID_MODEL', `${nodeLabel(node)}: input X must be float, got ${xMeta.type}`);
  if (consts.has(x)) throw new AtrousError('UNSUPPORTED_OP', `${nodeLabel(node)}: a ConvTranspose whose input ${show(x)} is a constant is not supported`);
  const spread = kernel.spreadStep(xMeta.dims);
  checkOutputDims(node, spread.outputs);
  const spreadName = `${out}#spread`;
  const spreadDims = spread.outputs[0]!.dims;
  metas.set(spreadName, spread.outputs[0]!);
  const outDims = kernel.conv.outputDims(spreadDims);
  checkOutputDims(node, [{ type: 'float32', dims: outDims }]);
  metas.set(out, { type: 'float32', dims: outDims });
  return [
    { node, inputs: [x], outputs: [spreadName], run: spread.run },
    { node, inputs: [spreadName], outputs: [out], conv: { kernel: kernel.conv, withActivation: true, inputDims: spreadDims } },
  ];
}

function activationRun(activation: Activation): PreparedOp['run'] {
  return ([a], [out]) => {
    out!.data.set(a!.data);
    applyActivation(out!.data as Float32Array, activation);
  };
}
