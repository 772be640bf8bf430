import { attrInt, attrInts } from './attributes.js';
import type { HostTensor } from './data-types.js';
import type { GraphIR, NodeIR } from './graph.js';
import { INTERNAL_DOMAIN } from './ops/registry.js';

/** What the transformer passes did. */
export interface TransformerFusionReport {
  fusedLayerNorms: number;
  fusedGelus: number;
  fusedMatMulBiases: number;
  /** 1x1 convs over a concat of projected stages folded into the projections (the all-MLP decoder). */
  foldedDecoderConvs: number;
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
  /**
   * Whether `next` reads `name` and every other reader only reads its dims (Shape), so that a rewrite which
   * keeps the value's dims but changes its data may go ahead.
   */
  dataReadOnlyBy(name: string, next: NodeIR): boolean {
    const r = this.readers.get(name) ?? [];
    return !this.outputs.has(name) && r.includes(next) && r.every((n) => n === next || (n.opType === 'Shape' && n.domain === ''));
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

/** Element `[r][c]` of a row-major float tensor with `cols` columns. */
const at = (t: HostTensor, r: number, c: number, cols: number) => t.data[r * cols + c]!;

function uniqueConst(consts: Map<string, HostTensor>, base: string): string {
  let name = base;
  for (let i = 1; consts.has(name); i++) name = `${base}_${i}`;
  return name;
}

/**
 * SegFormer's all-MLP decoder: each stage is projected to C channels (a Linear, here a FusedMatMul with its
 * bias), laid out as a map (Transpose [0, 2, 1], Reshape), upsampled (Resize), and the stages are
 * concatenated and mixed by a 1x1 conv. The conv and each Linear are channel maps and Resize is a spatial
 * map applied per channel, so they commute: conv(concat_j(resize(L_j x_j))) = sum_j resize((W_j L_j) x_j),
 * with W_j the conv's columns for stage j. Folding W_j into L_j moves the conv's work (8.6 GFLOP at
 * 512 x 512) to each stage's own, smaller resolution, and leaves a Sum of the maps. Only when every stage has
 * C = M channels, so that no shape in between changes. The conv's bias joins stage 0's (Resize keeps
 * constants). Float sums are reassociated, as BatchNorm folding does.
 */
function foldDecoderConv(graph: GraphIR, uses: Uses, conv: NodeIR): boolean {
  const consts = graph.initializers;
  if (conv.opType !== 'Conv' || conv.domain !== '') return false;
  const w = consts.get(conv.inputs[1] ?? '');
  const b = conv.inputs[2] ? consts.get(conv.inputs[2]) : undefined;
  if (!w || w.type !== 'float32' || w.dims.length !== 4 || w.dims[2] !== 1 || w.dims[3] !== 1 || (conv.inputs[2] && !b)) return false;
  const ones = (name: string) => (attrInts(conv, name) ?? []).every((v) => v === 1);
  const zeros = (attrInts(conv, 'pads') ?? []).every((v) => v === 0);
  if (attrInt(conv, 'group', 1) !== 1 || !ones('strides') || !zeros || !['NOTSET', 'VALID'].includes(String(conv.attributes.get('auto_pad') ?? 'NOTSET'))) return false;
  const [m, total] = [w.dims[0]!, w.dims[1]!];
  const concat = uses.producer.get(conv.inputs[0]!);
  if (!concat || concat.opType !== 'Concat' || ![1, -3].includes(attrInt(concat, 'axis', 0)) || uses.all(concat.outputs[0]!, 1) === undefined) return false;
  // Each stage: FusedMatMul (constant [K, C] weights and [C] bias) -> Transpose [0, 2, 1] -> Reshape -> (Resize).
  // Shape readers along the way (exporters compute the Resize sizes from them) see the same dims after.
  const stages: { matmul: NodeIR; weights: HostTensor; bias: HostTensor }[] = [];
  for (const input of concat.inputs) {
    let reader = concat;
    let node = uses.producer.get(input);
    if (node?.opType === 'Resize' && uses.dataReadOnlyBy(node.outputs[0]!, reader)) {
      reader = node;
      node = uses.producer.get(node.inputs[0]!);
    }
    if (node?.opType !== 'Reshape' || !uses.dataReadOnlyBy(node.outputs[0]!, reader)) return false;
    const t = uses.producer.get(node.inputs[0]!);
    if (t?.opType !== 'Transpose' || String(attrInts(t, 'perm')) !== '0,2,1' || !uses.dataReadOnlyBy(t.outputs[0]!, node)) return false;
    const matmul = uses.producer.get(t.inputs[0]!);
    if (matmul?.opType !== 'FusedMatMul' || matmul.domain !== INTERNAL_DOMAIN || matmul.attributes.size > 0 || !uses.dataReadOnlyBy(matmul.outputs[0]!, t)) return false;
    const weights = consts.get(matmul.inputs[1]!), bias = consts.get(matmul.inputs[2] ?? '');
    if (!weights || !bias || weights.dims.length !== 2 || weights.dims[1] !== m || bias.data.length !== m) return false;
    stages.push({ matmul, weights, bias });
  }
  if (stages.length * m !== total) return false;
  stages.forEach(({ matmul, weights, bias }, j) => {
    const k = weights.dims[0]!;
    // W'[r][o] = sum_c W[r][c] * Wconv[o][j m + c]; b'[o] = sum_c b[c] * Wconv[o][j m + c] (+ conv bias once).
    const folded = new Float32Array(k * m);
    const foldedBias = new Float32Array(m);
    for (let o = 0; o < m; o++) {
      let acc = j === 0 && b ? (b.data[o] as number) : 0;
      for (let c = 0; c < m; c++) acc += at(bias, 0, c, m) * at(w, o, j * m + c, total);
      foldedBias[o] = acc;
      for (let r = 0; r < k; r++) {
        let sum = 0;
        for (let c = 0; c < m; c++) sum += at(weights, r, c, m) * at(w, o, j * m + c, total);
        folded[r * m + o] = sum;
      }
    }
    const wName = uniqueConst(consts, `${matmul.inputs[1]}#decoder`);
    consts.set(wName, { type: 'float32', dims: [k, m], data: folded });
    const bName = uniqueConst(consts, `${matmul.inputs[2]}#decoder`);
    consts.set(bName, { type: 'float32', dims: [m], data: foldedBias });
    matmul.inputs = [matmul.inputs[0]!, wName, bName];
  });
  replace(graph, [concat, conv], { name: `${conv.name}#sum`, opType: 'Sum', domain: '', inputs: [...concat.inputs], outputs: [conv.outputs[0]!], attributes: new Map() });
  return true;
}

/**
 * The patterns transformer exports spell out op by op (LayerNorm before opset 17, GELU through Erf, Linear
 * as MatMul + Add), rewritten into the single ops the kernels run in one pass over the data.
 */
export function fuseTransformerPatterns(graph: GraphIR): TransformerFusionReport {
  const report: TransformerFusionReport = { fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0, foldedDecoderConvs: 0 };
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const passes: [string, (g: GraphIR, u: Uses, n: NodeIR) => boolean, keyof TransformerFusionReport][] = [
    ['ReduceMean', fuseLayerNorm, 'fusedLayerNorms'],
    ['Erf', fuseGelu, 'fusedGelus'],
    ['MatMul', fuseMatMulBias, 'fusedMatMulBiases'],
    ['Conv', foldDecoderConv, 'foldedDecoderConvs'],
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
