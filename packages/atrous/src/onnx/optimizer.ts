import type { Activation } from '../ops/activation.js';
import { attrFloat, attrInt } from './attributes.js';
import type { HostTensor } from './data-types.js';
import type { GraphIR, NodeIR } from './graph.js';
import { batchNormAffine } from './ops/normalization.js';
import { clipBounds } from './ops/unary.js';
import { INTERNAL_DOMAIN } from './ops/registry.js';
import { moveChannelMapsBeforeResize } from './resize-commute.js';
import { fuseTransformerPatterns, type TransformerFusionReport } from './transformer-fusions.js';

/** What the optimizer did, for tests and the session's report. */
export interface OptimizerReport extends TransformerFusionReport {
  foldedBatchNorms: number;
  fusedActivations: number;
  fusedResiduals: number;
  foldedBiasAdds: number;
  /** 1x1 convs after an upsampling Resize run before it, on the smaller map (`resize-commute.ts`). */
  convsMovedBeforeResize: number;
}

/** Consumers of each value, graph outputs counted as one consumer each. */
function consumerMap(graph: GraphIR): Map<string, NodeIR[]> {
  const map = new Map<string, NodeIR[]>();
  for (const node of graph.nodes) {
    for (const name of node.inputs) {
      if (name === '') continue;
      const list = map.get(name) ?? [];
      if (!list.includes(node)) list.push(node);
      map.set(name, list);
    }
  }
  return map;
}

/**
 * Folds an inference BatchNormalization into the Conv before it: W' = W * s, b' = (b - mean) * s + beta
 * with s = gamma / sqrt(var + eps), per output channel.
 */
function foldBatchNorm(conv: NodeIR, bn: NodeIR, consts: Map<string, HostTensor>, opset: number): boolean {
  const params = bn.inputs.slice(1, 5).map((n) => consts.get(n));
  const w = consts.get(conv.inputs[1] ?? '');
  if (params.length !== 4 || params.some((p) => p === undefined) || !w || w.type !== 'float32') return false;
  if (bn.outputs.filter((o) => o !== '').length !== 1) return false;
  // Training mode normalises with the batch's statistics, not the constants.
  if (attrInt(bn, 'training_mode', 0) === 1) return false;
  if (opset < 9 && bn.attributes.has('spatial') && bn.attributes.get('spatial') === 0) return false;
  // Output channel of each weight: Conv weights are [M, C/g, ...]; ConvTranspose weights [C, M/g, ...].
  const transposed = conv.opType === 'ConvTranspose';
  const group = transposed ? attrInt(conv, 'group', 1) : 1;
  const m = transposed ? w.dims[1]! * group : w.dims[0]!;
  if (w.dims.length < 3 || m === 0 || params.some((p) => p!.data.length !== m)) return false;
  const { scale, shift } = batchNormAffine(bn, params as HostTensor[], m);
  const spatial = w.dims.slice(2).reduce((a, b) => a * b, 1);
  const weights = new Float32Array(w.data.length);
  const rows = w.data.length / spatial; // [M x C/g] or [C x M/g] rows of kernel taps
  const cPerGroup = transposed ? w.dims[0]! / group : 0;
  for (let r = 0; r < rows; r++) {
    const o = transposed ? Math.floor(r / w.dims[1]! / cPerGroup) * w.dims[1]! + (r % w.dims[1]!) : Math.floor(r / w.dims[1]!);
    for (let i = 0; i < spatial; i++) weights[r * spatial + i] = w.data[r * spatial + i]! * scale[o]!;
  }
  const oldBias = conv.inputs[2] ? consts.get(conv.inputs[2]) : undefined;
  if (conv.inputs[2] && !oldBias) return false;
  const bias = new Float32Array(m);
  for (let o = 0; o < m; o++) bias[o] = (oldBias ? oldBias.data[o]! : 0) * scale[o]! + shift[o]!;
  // Fresh names: an initializer may be shared by several convs.
  const wName = uniqueName(consts, `${conv.inputs[1]}_bn`);
  consts.set(wName, { type: 'float32', dims: [...w.dims], data: weights });
  const bName = uniqueName(consts, `${wName}_bias`);
  consts.set(bName, { type: 'float32', dims: [m], data: bias });
  conv.inputs[1] = wName;
  conv.inputs[2] = bName;
  return true;
}

/** Folds `Add(conv, b)` into the conv's bias when `b` is a constant of one value per output channel. */
function foldBiasAdd(conv: NodeIR, add: NodeIR, consts: Map<string, HostTensor>): boolean {
  const b = consts.get(other(add, conv.outputs[0]!));
  const w = consts.get(conv.inputs[1] ?? '');
  if (!b || !w || b.type !== 'float32' || w.dims.length < 3) return false;
  const m = conv.opType === 'ConvTranspose' ? w.dims[1]! * attrInt(conv, 'group', 1) : w.dims[0]!;
  // [M, 1, 1] or [1, M, 1, 1] (for a 2-D conv; one 1 fewer for 1-D): channel axis 1 of the output, nothing broadcast up.
  const rank = w.dims.length;
  const dims = b.dims.length === rank ? b.dims.slice(1) : b.dims;
  if (b.dims.length === rank && b.dims[0] !== 1) return false;
  if (dims.length !== rank - 1 || dims[0] !== m || dims.slice(1).some((d) => d !== 1)) return false;
  const old = conv.inputs[2] ? consts.get(conv.inputs[2]) : undefined;
  if (conv.inputs[2] && !old) return false;
  const bias = new Float32Array(m);
  for (let o = 0; o < m; o++) bias[o] = (old ? old.data[o]! : 0) + b.data[o]!;
  const name = uniqueName(consts, `${conv.inputs[1]}_bias_add`);
  consts.set(name, { type: 'float32', dims: [m], data: bias });
  conv.inputs[2] = name;
  return true;
}

function uniqueName(consts: Map<string, HostTensor>, base: string): string {
  let name = base;
  for (let i = 1; consts.has(name); i++) name = `${base}_${i}`;
  return name;
}

/** The epilogue form of an activation node, if the kernels have it. */
function activationOf(node: NodeIR, consts: Map<string, HostTensor>, opset: number): Activation | undefined {
  switch (node.opType) {
    case 'Relu': return 'relu';
    case 'Sigmoid': return 'sigmoid';
    case 'HardSwish': return 'hardSwish';
    case 'HardSigmoid': return { type: 'hardSigmoid', alpha: attrFloat(node, 'alpha', 0.2), beta: attrFloat(node, 'beta', 0.5) };
    case 'LeakyRelu': return { type: 'leakyRelu', alpha: attrFloat(node, 'alpha', 0.01) };
    case 'Clip': {
      const inputs = node.inputs.map((n) => (n === '' ? undefined : { type: 'float32' as const, dims: [] }));
      const bounds = clipBounds({ node, opset, inputs, consts: node.inputs.map((n) => (n === '' ? undefined : consts.get(n))) });
      if (!bounds || !(bounds.min <= bounds.max)) return undefined;
      // The kernels clamp to finite bounds; float32's largest value stands in for an infinite one.
      const f32max = 3.4028234663852886e38;
      return { type: 'clip', min: Math.max(bounds.min, -f32max), max: Math.min(bounds.max, f32max) };
    }
  }
  return undefined;
}

/**
 * Rewrites the graph for the kernels, shape-independently: BatchNormalization folded into the Conv before
 * it; a residual Add fused into the Conv (the kernel adds it before the activation; whether the other
 * operand really is output-shaped is checked once dims are known, with an unfused fallback); and the
 * activation that follows fused into the epilogue, including PyTorch's `x * HardSigmoid(x)` form of HardSwish.
 * A value is only absorbed when nothing else reads it and it is not a graph output.
 */
export function optimizeGraph(graph: GraphIR): OptimizerReport {
  const transformer = fuseTransformerPatterns(graph);
  const convsMovedBeforeResize = moveChannelMapsBeforeResize(graph);
  const report: OptimizerReport = { foldedBatchNorms: 0, fusedActivations: 0, fusedResiduals: 0, foldedBiasAdds: 0, convsMovedBeforeResize, ...transformer };
  const consts = graph.initializers;
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const removed = new Set<NodeIR>();
  // A fused conv runs where the last node it absorbed ran: a residual may be computed after the conv.
  const placeAt = new Map<NodeIR, NodeIR>();
  let consumers = consumerMap(graph);
  /** The single node reading `name`, when there is exactly one and the value is not a graph output. */
  const soleConsumer = (name: string): NodeIR | undefined => {
    if (outputs.has(name)) return undefined;
    const list = consumers.get(name);
    return list && list.length === 1 && !removed.has(list[0]!) ? list[0] : undefined;
  };
  const fusions = new Map<NodeIR, { activation: Activation; absorbed: string[] }>();
  const absorb = (conv: NodeIR, next: NodeIR, what: string) => {
    removed.add(next);
    placeAt.set(next, conv);
    conv.outputs = [next.outputs[0]!];
    fusions.get(conv)!.absorbed.push(`${next.opType} ${JSON.stringify(next.name)}${what}`);
    consumers = consumerMap({ ...graph, nodes: graph.nodes.filter((n) => !removed.has(n)) });
  };
  for (const conv of graph.nodes) {
    if ((conv.opType !== 'Conv' && conv.opType !== 'ConvTranspose') || removed.has(conv) || !consts.has(conv.inputs[1] ?? '')) continue;
    const fusion = { activation: 'none' as Activation, absorbed: [] as string[] };
    fusions.set(conv, fusion);
    let next = soleConsumer(conv.outputs[0]!);
    if (next?.opType === 'Add' && next.inputs.length === 2 && foldBiasAdd(conv, next, consts)) {
      absorb(conv, next, ' (bias)');
      report.foldedBiasAdds++;
      next = soleConsumer(conv.outputs[0]!);
    }
    if (next?.opType === 'BatchNormalization' && next.inputs[0] === conv.outputs[0] && foldBatchNorm(conv, next, consts, graph.opset)) {
      absorb(conv, next, '');
      report.foldedBatchNorms++;
      next = soleConsumer(conv.outputs[0]!);
    }
    // A per-channel constant added after the conv (converted models often keep the bias apart) joins the bias.
    if (next?.opType === 'Add' && next.inputs.length === 2 && foldBiasAdd(conv, next, consts)) {
      absorb(conv, next, ' (bias)');
      report.foldedBiasAdds++;
      next = soleConsumer(conv.outputs[0]!);
    }
    if (next?.opType === 'Add' && conv.opType === 'Conv' && next.inputs.length === 2 && next.inputs[0] !== next.inputs[1] && !consts.has(other(next, conv.outputs[0]!))) {
      conv.inputs[2] ??= '';
      conv.inputs[3] = other(next, conv.outputs[0]!);
      absorb(conv, next, ` (residual ${JSON.stringify(conv.inputs[3])})`);
      report.fusedResiduals++;
      next = soleConsumer(conv.outputs[0]!);
    }
    if (next) {
      const act = activationOf(next, consts, graph.opset);
      if (act !== undefined && next.inputs[0] === conv.outputs[0]) {
        fusion.activation = act;
        absorb(conv, next, '');
        report.fusedActivations++;
        continue;
      }
    }
    // x * HardSigmoid(x) with alpha 1/6, beta 1/2 is HardSwish (how PyTorch exports it before opset 14).
    const readers = outputs.has(conv.outputs[0]!) ? [] : (consumers.get(conv.outputs[0]!) ?? []);
    if (readers.length === 2) {
      const hs = readers.find((n) => n.opType === 'HardSigmoid');
      const mul = readers.find((n) => n.opType === 'Mul');
      if (hs && mul && soleConsumer(hs.outputs[0]!) === mul && mul.inputs.includes(hs.outputs[0]!) &&
        Math.abs(attrFloat(hs, 'alpha', 0.2) - 1 / 6) < 1e-6 && Math.abs(attrFloat(hs, 'beta', 0.5) - 0.5) < 1e-6) {
        fusion.activation = 'hardSwish';
        removed.add(hs);
        absorb(conv, mul, ' (with HardSigmoid, as HardSwish)');
        report.fusedActivations++;
      }
    }
  }
  // Absorption goes downstream, so the last node a conv absorbed is where it now runs.
  const moved = new Map<NodeIR, NodeIR>();
  for (const [place, conv] of placeAt) moved.set(conv, place);
  const at = new Map<NodeIR, NodeIR>();
  for (const [conv, place] of moved) at.set(place, conv);
  const order: NodeIR[] = [];
  for (const node of graph.nodes) {
    if (at.has(node)) order.push(at.get(node)!);
    else if (!removed.has(node) && !moved.has(node)) order.push(node);
  }
  graph.nodes = order;
  // A conv that absorbed anything becomes the explicit fused op: its epilogue in an attribute, the
  // residual (if any) its fourth input.
  for (const [conv, fusion] of fusions) {
    // Folded biases and BatchNorms changed the weights only: the conv stays a plain Conv.
    if (fusion.activation === 'none' && !conv.inputs[3]) continue;
    conv.opType = conv.opType === 'Conv' ? 'FusedConv' : 'FusedConvTranspose';
    conv.domain = INTERNAL_DOMAIN;
    conv.attributes.set('activation', JSON.stringify(fusion.activation));
    conv.attributes.set('absorbed', fusion.absorbed);
  }
  return report;
}

function other(add: NodeIR, name: string): string {
  return add.inputs[0] === name ? add.inputs[1]! : add.inputs[0]!;
}
