import { AtrousError } from '../errors.js';
import { hostTensor, type HostTensor } from './data-types.js';
import { nodeLabel, type GraphIR } from './graph.js';
import { checkOutputDims } from './ops/op.js';
import { OPS } from './ops/registry.js';

/**
 * Evaluates, once at load, every node whose inputs are all constant (Constant nodes, casts of fp16
 * weights, reshapes of initializers...), whatever the input dims: its outputs become initializers and
 * the node leaves the graph. What depends on input dims is folded later, per input shape.
 */
export function foldConstants(graph: GraphIR): void {
  const consts = graph.initializers;
  const kept = [];
  for (const node of graph.nodes) {
    const prepare = OPS.get(node.opType);
    const inputs = node.inputs.map((name) => (name === '' ? undefined : consts.get(name)));
    const allConst = node.inputs.every((name, i) => name === '' || inputs[i] !== undefined);
    if (!prepare || !allConst || node.opType === 'Conv' || (node.domain !== '' && node.domain !== 'ai.onnx')) {
      kept.push(node);
      continue;
    }
    const prepared = prepare({ node, opset: graph.opset, inputs: inputs.map((t) => t && { type: t.type, dims: t.dims }), consts: inputs });
    checkOutputDims(node, prepared.outputs);
    if (prepared.outputs.length < node.outputs.filter((o) => o !== '').length) {
      throw new AtrousError('INTERNAL', `${nodeLabel(node)}: the op gave ${prepared.outputs.length} outputs for ${node.outputs.length} names`);
    }
    let outs: HostTensor[];
    if (prepared.view) {
      outs = [{ ...inputs[0]!, dims: prepared.outputs[0]!.dims }];
    } else {
      outs = prepared.outputs.map((m) => hostTensor(m.type, m.dims));
      prepared.run(inputs, outs);
    }
    node.outputs.forEach((name, i) => {
      if (name !== '') consts.set(name, outs[i]!);
    });
  }
  graph.nodes = kept;
}
