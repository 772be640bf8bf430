import type { ElemType, HostTensor } from './data-types.js';

/** An attribute value as the ops read it (ints as numbers; TENSOR attributes already decoded). */
export type AttrValue = number | string | number[] | string[] | HostTensor | { graph: true };

/** One ONNX node. An empty string in `inputs` is an omitted optional input. */
export interface NodeIR {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttrValue>;
}

/** A dimension: a number when fixed, a name (`"batch"`) or `"?"` when symbolic. */
export type Dim = number | string;

export interface ValueInfoIR {
  name: string;
  /** The ONNX data type code as declared in the model. */
  dataType: number;
  /** How atrous computes it; undefined for types it cannot hold. */
  elemType: ElemType | undefined;
  /** Undefined when the model gives no shape. */
  dims: Dim[] | undefined;
}

/**
 * The graph a session works on: nodes in topological order, graph inputs without the initializers,
 * constant tensors by name. The optimizer rewrites it in place of the parsed one.
 */
export interface GraphIR {
  irVersion: number;
  /** Version of the default ("" / "ai.onnx") op set. */
  opset: number;
  nodes: NodeIR[];
  inputs: ValueInfoIR[];
  outputs: ValueInfoIR[];
  initializers: Map<string, HostTensor>;
  /** What the file says about itself. */
  metadata: ModelMetadata;
}

/** ModelProto's description fields, and its `metadata_props` as a string record (class names, ...). */
export interface ModelMetadata {
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graphName: string;
  custom: Record<string, string>;
}

/** How errors name a node: `Conv node "conv1"` (or its first output when the node has no name). */
export function nodeLabel(node: NodeIR): string {
  // Ops pass their label to every kernel call (for its errors), so a run asks for each one once per step:
  // kept per node, and made again only if the optimizer changed its op type (or name) since.
  const kept = labels.get(node);
  if (kept && kept.opType === node.opType && kept.name === node.name && kept.output === node.outputs[0]) return kept.label;
  const name = node.name !== '' ? node.name : `(unnamed, output ${JSON.stringify(node.outputs[0] ?? '')})`;
  const label = `${node.opType} node ${name.startsWith('(') ? name : JSON.stringify(name)}`;
  labels.set(node, { opType: node.opType, name: node.name, output: node.outputs[0], label });
  return label;
}

const labels = new WeakMap<NodeIR, { opType: string; name: string; output: string | undefined; label: string }>();
