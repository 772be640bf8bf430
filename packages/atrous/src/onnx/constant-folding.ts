import { AtrousError } from '../errors.js';
import type { HostTensor } from './data-types.js';
import { nodeLabel, type GraphIR } from './graph.js';
import { checkOutputDims } from './ops/op.js';
import { opFor } from './ops/registry.js';
import { evaluateOnce, type RunEnv } from './value.js';

/**
 * Evaluates, once at load, every node whose inputs are all constant (Constant nodes, casts of fp16
 * weights, reshapes of initializers...), whatever the input dims, on the same kernels a run uses: its
 * outputs become initializers and the node leaves the graph. What depends on input dims is folded later,
 * per input shape.
 */
export function foldConstants(graph: GraphIR, env: RunEnv): void {
  const consts = graph.initializers;
  const kept = [];
  for (const node of graph.nodes) {
    const definition = opFor(node);
    const inputs = node.inputs.map((name) => (name === '' ? undefined : consts.get(name)));
    const allConst = node.inputs.every((name, i) => name === '' || inputs[i] !== undefined);
    if (!definition || !allConst || definition.load) {
      kept.push(node);
      continue;
    }
    const prepared = definition.prepare({ node, opset: graph.opset, inputs: inputs.map((t) => t && { type: t.type, dims: t.dims }), consts: inputs });
    checkOutputDims(node, prepared.outputs);
    if (prepared.outputs.length < node.outputs.filter((o) => o !== '').length) {
      throw new AtrousError('INTERNAL', `${nodeLabel(node)}: the op gave ${prepared.outputs.length} outputs for ${node.outputs.length} names`);
    }
    const outs: HostTensor[] = prepared.view ? [{ ...inputs[0]!, dims: prepared.outputs[0]!.dims }] : evaluateOnce(env, prepared.run, inputs, prepared.outputs);
    node.outputs.forEach((name, i) => {
      if (name !== '') consts.set(name, outs[i]!);
    });
  }
  graph.nodes = kept;
}
