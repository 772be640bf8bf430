import { attrInt, attrInts } from './attributes.js';
import type { HostTensor } from './data-types.js';
import type { GraphIR, NodeIR } from './graph.js';
import { INTERNAL_DOMAIN } from './ops/registry.js';

/** What the transformer passes did. */
export interface TransformerFusionReport {
  fusedLayerNorms: number;
  fusedGelus: number;
  fusedMatMulBiases: number;
}

/** Who produces and who reads each value, rebuilt after every rewrite (graphs are small next to their data). */
class Uses {
  readonly producer = new Map<string, NodeIR>();
  readonly readers = new Map<string, NodeIR[]>();
  constructor(graph: GraphIR, private readonly outputs: Set<string>) {
    for (const node of graph.nodes) {
      for (const o of node.outputs) this.producer.set(o, node);
      for (const i of node.inputs) if (i !== '') this.readers.set(i, [...(this.readers.get(i) ?? []), node]);
    }
  }
  /** The one node reading `name`, if exactly one does and it is not a graph output. */
  sole(name: string, opType: string): NodeIR | undefined {
    const r = this.readers.get(name);
    return !this.outputs.has(name) && r?.length === 1 && r[0]!.opType === opType && r[0]!.domain === '' ? r[0] : undefined;
  }
  /** Every reader of `name` (none may be a graph output), when there are exactly `count`. */
  all(name: string, count: number): NodeIR[] | undefined {
    const r = this.readers.get(name) ?? [];
    return !this.outputs.has(name) && r.length === count ? r : undefined;
  }
}

const other = (node: NodeIR, name: string) => (node.inputs[0] === name ? node.inputs[1]! : node.inputs[0]!);

function scalar(consts: Map<string, HostTensor>, name: string): number | undefined {
  const t = consts.get(name);
  return t && t.data.length === 1 && t.type === 'float32' ? t.data[0] : undefined;
}

/** ReduceMean over the last axis with keepdims (axes as an attribute, or an input from opset 18). */
function meanOverLast(node: NodeIR, consts: Map<string, HostTensor>): boolean {
  if (node.opType !== 'ReduceMean' || attrInt(node, 'keepdims', 1) !== 1) return false;
  const axes = node.inputs[1] ? Array.from(consts.get(node.inputs[1])?.data ?? []) : attrInts(node, 'axes');
  return axes !== undefined && axes.length === 1 && axes[0] === -1;
}

/** Replaces `old` nodes by `node`, placed where the last of them was (its inputs are all computed by then). */
function replace(graph: GraphIR, old: NodeIR[], node: NodeIR): void {
  const gone = new Set(old);
  const last = Math.max(...old.map((n) => graph.nodes.indexOf(n)));
  graph.nodes = graph.nodes.flatMap((n, i) => (i === last ? [node] : gone.has(n) ? [] : [n]));
}

/**
 * The LayerNorm that exporters write before opset 17, as one LayerNormalization:
 * `d = x - ReduceMean(x); y = d / Sqrt(ReduceMean(Pow(d, 2)) + eps) * gamma + beta` over the last axis.
 */
function fuseLayerNorm(graph: GraphIR, uses: Uses, mean: NodeIR): boolean {
  const consts = graph.initializers;
  if (!meanOverLast(mean, consts)) return false;
  const x = mean.inputs[0]!;
  const sub = uses.sole(mean.outputs[0]!, 'Sub');
  if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) return false;
  const d = sub.outputs[0]!;
  const readers = uses.all(d, 2);
  const pow = readers?.find((n) => n.opType === 'Pow' && n.inputs[0] === d && scalar(consts, n.inputs[1]!) === 2);
  const div = readers?.find((n) => n.opType === 'Div' && n.inputs[0] === d);
  if (!pow || !div) return false;
  const variance = uses.sole(pow.outputs[0]!, 'ReduceMean');
  if (!variance || !meanOverLast(variance, consts)) return false;
  const add = uses.sole(variance.outputs[0]!, 'Add');
  const epsilon = add && scalar(consts, other(add, variance.outputs[0]!));
  if (!add || epsilon === undefined) return false;
  const sqrt = uses.sole(add.outputs[0]!, 'Sqrt');
  if (!sqrt || div.inputs[1] !== sqrt.outputs[0] || uses.all(sqrt.outputs[0]!, 1) === undefined) return false;
  const scale = uses.sole(div.outputs[0]!, 'Mul');
  const gamma = scale && other(scale, div.outputs[0]!);
  if (!scale || !gamma || consts.get(gamma)?.dims.length !== 1) return false;
  const shift = uses.sole(scale.outputs[0]!, 'Add');
  const beta = shift && other(shift, scale.outputs[0]!);
  const withBeta = shift !== undefined && beta !== undefined && consts.get(beta)?.dims.length === 1;
  const last = withBeta ? shift : scale;
  const fused: NodeIR = {
    name: `${mean.name}#layernorm`,
    opType: 'LayerNormalization',
    domain: '',
    inputs: withBeta ? [x, gamma, beta!] : [x, gamma],
    outputs: [last.outputs[0]!],
    attributes: new Map([['axis', -1], ['epsilon', epsilon]]),
  };
  replace(graph, [mean, sub, pow, variance, add, sqrt, div, scale, ...(withBeta ? [shift] : [])], fused);
  return true;
}

/** PyTorch's exact GELU, `x * 0.5 * (1 + Erf(x / sqrt 2))` in either multiplication order, as one op. */
function fuseGelu(graph: GraphIR, uses: Uses, erf: NodeIR): boolean {
  const consts = graph.initializers;
  const scaled = uses.producer.get(erf.inputs[0]!);
  if (!scaled || uses.all(scaled.outputs[0]!, 1) === undefined) return false;
  const c = scaled.opType === 'Div' ? scalar(consts, scaled.inputs[1]!) : scaled.opType === 'Mul' ? scalar(consts, other(scaled, scaled.inputs[0]!)) : undefined;
  const x = scaled.opType === 'Div' ? scaled.inputs[0]! : consts.has(scaled.inputs[0]!) ? scaled.inputs[1]! : scaled.inputs[0]!;
  const ok = c !== undefined && (scaled.opType === 'Div' ? Math.abs(c - Math.SQRT2) < 1e-4 : Math.abs(c - Math.SQRT1_2) < 1e-4);
  if (!ok) return false;
  const plus = uses.sole(erf.outputs[0]!, 'Add');
  if (!plus || scalar(consts, other(plus, erf.outputs[0]!)) !== 1) return false;
  const times = uses.sole(plus.outputs[0]!, 'Mul');
  if (!times) return false;
  const factor = other(times, plus.outputs[0]!);
  let nodes: NodeIR[];
  let out: string;
  if (factor === x) {
    // (x * (1 + erf)) * 0.5
    const half = uses.sole(times.outputs[0]!, 'Mul');
    if (!half || scalar(consts, other(half, times.outputs[0]!)) !== 0.5) return false;
    nodes = [scaled, erf, plus, times, half];
    out = half.outputs[0]!;
  } else {
    // (x * 0.5) * (1 + erf)
    const half = uses.producer.get(factor);
    if (!half || half.opType !== 'Mul' || !half.inputs.includes(x) || scalar(consts, other(half, x)) !== 0.5 || uses.all(factor, 1) === undefined) return false;
    nodes = [scaled, erf, plus, half, times];
    out = times.outputs[0]!;
  }
  replace(graph, nodes, { name: `${erf.name}#gelu`, opType: 'Gelu', domain: INTERNAL_DOMAIN, inputs: [x], outputs: [out], attributes: new Map() });
  return true;
}

/** `MatMul(a, B) + bias` with constant B [K, N] and bias [N] (a Linear layer) as one GEMM with a bias epilogue. */
function fuseMatMulBias(graph: GraphIR, uses: Uses, matmul: NodeIR): boolean {
  const consts = graph.initializers;
  const b = consts.get(matmul.inputs[1]!);
  if (!b || b.dims.length !== 2 || consts.has(matmul.inputs[0]!)) return false;
  const add = uses.sole(matmul.outputs[0]!, 'Add');
  const biasName = add && other(add, matmul.outputs[0]!);
  const bias = biasName ? consts.get(biasName) : undefined;
  if (!add || !bias || bias.type !== 'float32' || bias.data.length !== b.dims[1] || bias.dims.some((d, i) => i < bias.dims.length - 1 && d !== 1)) return false;
  replace(graph, [matmul, add], {
    name: matmul.name,
    opType: 'FusedMatMul',
    domain: INTERNAL_DOMAIN,
    inputs: [matmul.inputs[0]!, matmul.inputs[1]!, biasName!],
    outputs: [add.outputs[0]!],
    attributes: new Map(),
  });
  return true;
}

/**
 * The patterns transformer exports spell out op by op (LayerNorm before opset 17, GELU through Erf, Linear
 * as MatMul + Add), rewritten into the single ops the kernels run in one pass over the data.
 */
export function fuseTransformerPatterns(graph: GraphIR): TransformerFusionReport {
  const report: TransformerFusionReport = { fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0 };
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const passes: [string, (g: GraphIR, u: Uses, n: NodeIR) => boolean, keyof TransformerFusionReport][] = [
    ['ReduceMean', fuseLayerNorm, 'fusedLayerNorms'],
    ['Erf', fuseGelu, 'fusedGelus'],
    ['MatMul', fuseMatMulBias, 'fusedMatMulBiases'],
  ];
  for (const [opType, fuse, counter] of passes) {
    let uses = new Uses(graph, outputs);
    for (const node of [...graph.nodes]) {
      if (node.opType !== opType || node.domain !== '' || !graph.nodes.includes(node)) continue;
      if (fuse(graph, uses, node)) {
        report[counter]++;
        uses = new Uses(graph, outputs);
      }
    }
  }
  return report;
}
