import { AtrousError, show } from '../errors.js';
import { nodeLabel, type GraphIR, type NodeIR } from '../onnx/graph.js';

/** Inputs that hold a node's trainable tensors, by op type: weights and bias, BatchNorm's scale and bias. */
const PARAMETER_INPUTS: Record<string, readonly number[]> = { Conv: [1, 2], BatchNormalization: [1, 2] };

/** Op types whose backward the trainer has (gradient-rules.ts); views pass the gradient as it is. */
export const DIFFERENTIABLE = new Set([
  'Conv', 'BatchNormalization', 'Relu', 'Clip', 'LeakyRelu', 'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Elu',
  'Softplus', 'Gelu', 'Add', 'Concat', 'Resize', 'Upsample', 'MaxPool', 'AveragePool', 'GlobalAveragePool',
  'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout',
]);

/** Ops whose output depends on the input's dims only: no gradient flows through them. */
const DIMS_ONLY = new Set(['Shape', 'Size']);

/** What training changes in a graph, decided once at create. */
export interface TrainablePart {
  /** Initializer names trained, in graph order. */
  parameters: string[];
  /** Nodes whose outputs carry a gradient (their backward runs), with the parameter inputs they train. */
  differentiated: Map<NodeIR, Set<number>>;
}

function trainableNodes(graph: GraphIR, spec: 'all' | string[] | { after: string }): Set<NodeIR> {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const known = () => show(graph.nodes.filter((n) => PARAMETER_INPUTS[n.opType]).map((n) => n.name).slice(0, 20));
  if (spec === 'all') return new Set(graph.nodes);
  if (Array.isArray(spec)) {
    return new Set(spec.map((name) => {
      const node = byName.get(name);
      if (!node) throw new AtrousError('INVALID_ARGUMENT', `createTrainer: options.trainable names node ${show(name)}, which the model does not have (nodes with weights: ${known()})`);
      if (!PARAMETER_INPUTS[node.opType]) throw new AtrousError('INVALID_ARGUMENT', `createTrainer: options.trainable names ${nodeLabel(node)}, which has no weights to train (Conv and BatchNormalization have)`);
      return node;
    }));
  }
  const at = graph.nodes.findIndex((n) => n.name === spec.after);
  if (at < 0) throw new AtrousError('INVALID_ARGUMENT', `createTrainer: options.trainable.after names node ${show(spec.after)}, which the model does not have (nodes with weights: ${known()})`);
  return new Set(graph.nodes.slice(at + 1));
}

/**
 * The parameters of the trainable nodes (float initializers at their weight inputs) and the nodes a
 * gradient flows through: those fed, along data edges, by a trained node. Refuses a differentiated node
 * whose backward atrous lacks (UNSUPPORTED_OP naming it) and a choice that trains nothing.
 */
export function trainablePart(graph: GraphIR, spec: 'all' | string[] | { after: string }): TrainablePart {
  const nodes = trainableNodes(graph, spec);
  const parameters: string[] = [];
  const differentiated = new Map<NodeIR, Set<number>>();
  const carriesGrad = new Set<string>();
  for (const node of graph.nodes) {
    const trained = new Set<number>();
    if (nodes.has(node)) {
      for (const i of PARAMETER_INPUTS[node.opType] ?? []) {
        const name = node.inputs[i] ?? '';
        const t = graph.initializers.get(name);
        if (name === '' || !t || t.type !== 'float32') continue;
        trained.add(i);
        if (!parameters.includes(name)) parameters.push(name);
      }
    }
    const fed = !DIMS_ONLY.has(node.opType) && node.inputs.some((name) => carriesGrad.has(name));
    if (!fed && trained.size === 0) continue;
    if (!DIFFERENTIABLE.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) {
      throw new AtrousError('UNSUPPORTED_OP', `createTrainer: ${nodeLabel(node)} is in the trained part of the graph, and atrous has no backward for ${show(node.opType)} (it has for ${[...DIFFERENTIABLE].join(', ')}); train only the layers after it with { after }`);
    }
    differentiated.set(node, trained);
    for (const o of node.outputs) if (o !== '') carriesGrad.add(o);
  }
  if (parameters.length === 0) {
    throw new AtrousError('INVALID_ARGUMENT', `createTrainer: options.trainable ${show(spec)} selects no Conv or BatchNormalization weights to train`);
  }
  return { parameters, differentiated };
}
