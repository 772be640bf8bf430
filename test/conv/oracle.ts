// The oracle: the case as an ONNX graph (built here with onnx-proto) run by onnxruntime-node, the native
// CPU backend. Node only; browser tests reach it through a vitest browser command (see vitest.config.ts).
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expectedOutputDims, explicitPads, type CaseActivation, type ConvCase } from './cases.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const OPSET = 14; // HardSwish needs 14; Clip takes min/max as inputs since 11

/** The arrays an oracle run needs. Plain arrays are accepted because browser commands send JSON. */
export interface OracleFeeds {
  input: Float32Array | number[];
  weights: Float32Array | number[];
  bias?: Float32Array | number[] | undefined;
  residual?: Float32Array | number[] | undefined;
}

export interface OracleResult {
  data: Float32Array;
  dims: number[];
}

export interface ModelOptions {
  /**
   * How automatic padding reaches onnxruntime: 'attribute' writes `auto_pad` (onnxruntime rejects SAME_*
   * with a dilation above 1), 'explicit' writes the pads the ONNX formula gives. Default: the attribute
   * where onnxruntime accepts it, explicit pads elsewhere.
   */
  autoPad?: 'attribute' | 'explicit';
}

function tensor(name: string, dims: number[], values: Float32Array | number[]): OnnxTypes.ITensorProto {
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength) };
}

function valueInfo(name: string, dims: number[]): OnnxTypes.IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

function ints(name: string, values: number[]): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function int(name: string, value: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function float(name: string, value: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

function string(name: string, value: string): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
}

/** The ONNX node(s) for an activation reading `from` and writing `to`, plus any constants they need. */
function activationNodes(a: CaseActivation, from: string, to: string): { nodes: OnnxTypes.INodeProto[]; initializers: OnnxTypes.ITensorProto[] } {
  switch (a.kind) {
    case 'none':
      return { nodes: [{ opType: 'Identity', input: [from], output: [to] }], initializers: [] };
    case 'relu':
      return { nodes: [{ opType: 'Relu', input: [from], output: [to] }], initializers: [] };
    case 'relu6':
    case 'clip': {
      const [min, max] = a.kind === 'relu6' ? [0, 6] : [a.min, a.max];
      return {
        nodes: [{ opType: 'Clip', input: [from, 'clip_min', 'clip_max'], output: [to] }],
        initializers: [tensor('clip_min', [], [min]), tensor('clip_max', [], [max])],
      };
    }
    case 'hardSigmoid': {
      const attribute = [];
      if (a.alpha !== undefined) attribute.push(float('alpha', a.alpha));
      if (a.beta !== undefined) attribute.push(float('beta', a.beta));
      return { nodes: [{ opType: 'HardSigmoid', input: [from], output: [to], attribute }], initializers: [] };
    }
    case 'hardSwish':
      return { nodes: [{ opType: 'HardSwish', input: [from], output: [to] }], initializers: [] };
    case 'sigmoid':
      return { nodes: [{ opType: 'Sigmoid', input: [from], output: [to] }], initializers: [] };
    case 'leakyRelu':
      return {
        nodes: [{ opType: 'LeakyRelu', input: [from], output: [to], attribute: a.alpha === undefined ? [] : [float('alpha', a.alpha)] }],
        initializers: [],
      };
  }
}

const AUTO_PAD = { 'same-upper': 'SAME_UPPER', 'same-lower': 'SAME_LOWER', valid: 'VALID' } as const;

/**
 * The case as an ONNX model: X (and R when residual) as inputs, W and B as initializers,
 * Conv -> [Add(R)] -> activation -> Y. conv1d cases are a 1-D Conv on [N, C, L].
 */
export function convModel(c: ConvCase, feeds: Pick<OracleFeeds, 'weights' | 'bias'>, options: ModelOptions = {}): Uint8Array {
  const oneD = c.op === 'conv1d';
  const cpg = c.inChannels / c.groups;
  const xDims = oneD ? [c.batch, c.inChannels, c.width] : [c.batch, c.inChannels, c.height, c.width];
  const wDims = oneD ? [c.outChannels, cpg, c.kernel[1]] : [c.outChannels, cpg, c.kernel[0], c.kernel[1]];
  const axes = (pair: [number, number]): number[] => (oneD ? [pair[1]] : pair);

  const attribute: OnnxTypes.IAttributeProto[] = [
    ints('kernel_shape', axes(c.kernel)),
    ints('strides', axes(c.strides)),
    ints('dilations', axes(c.dilations)),
    int('group', c.groups),
  ];
  const dilated = c.dilations[0] > 1 || c.dilations[1] > 1;
  const mode = options.autoPad ?? (c.pads.kind.startsWith('same') && dilated ? 'explicit' : 'attribute');
  if (c.pads.kind !== 'explicit' && mode === 'attribute') {
    attribute.push(string('auto_pad', AUTO_PAD[c.pads.kind]));
  } else {
    const [t, l, b, r] = explicitPads(c);
    attribute.push(ints('pads', oneD ? [l, r] : [t, l, b, r]));
  }

  const initializers: OnnxTypes.ITensorProto[] = [tensor('W', wDims, feeds.weights)];
  const convInputs = ['X', 'W'];
  if (feeds.bias !== undefined) {
    initializers.push(tensor('B', [c.outChannels], feeds.bias));
    convInputs.push('B');
  }
  const inputs = [valueInfo('X', xDims)];
  const nodes: OnnxTypes.INodeProto[] = [{ opType: 'Conv', input: convInputs, output: ['conv'], attribute }];
  let last = 'conv';
  if (c.residual) {
    inputs.push({ name: 'R', type: { tensorType: { elemType: FLOAT } } });
    nodes.push({ opType: 'Add', input: [last, 'R'], output: ['sum'] });
    last = 'sum';
  }
  const act = activationNodes(c.activation, last, 'Y');
  nodes.push(...act.nodes);
  initializers.push(...act.initializers);

  const model: OnnxTypes.IModelProto = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'atrous-tests',
    graph: {
      name: 'conv_case',
      node: nodes,
      initializer: initializers,
      input: inputs,
      output: [{ name: 'Y', type: { tensorType: { elemType: FLOAT } } }],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

const sessionOptions: ort.InferenceSession.SessionOptions = {
  // Node by node as the graph says: the oracle should not depend on onnxruntime's own fusions.
  graphOptimizationLevel: 'disabled',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  // Failures reach the caller as exceptions; the native log would only repeat them on stderr.
  logSeverityLevel: 4,
};

const f32 = (values: Float32Array | number[]): Float32Array => (values instanceof Float32Array ? values : Float32Array.from(values));

/** Runs the case's graph on onnxruntime-node and returns Y. */
export async function oracleConv(c: ConvCase, feeds: OracleFeeds, options: ModelOptions = {}): Promise<OracleResult> {
  const session = await ort.InferenceSession.create(convModel(c, feeds, options), sessionOptions);
  try {
    const oneD = c.op === 'conv1d';
    const xDims = oneD ? [c.batch, c.inChannels, c.width] : [c.batch, c.inChannels, c.height, c.width];
    const ortFeeds: Record<string, ort.Tensor> = { X: new ort.Tensor('float32', f32(feeds.input), xDims) };
    if (c.residual) {
      if (feeds.residual === undefined) throw new Error(`oracleConv: case #${c.index} has a residual but none was given`);
      // Dims by the ONNX formula: if they were wrong, onnxruntime's Add would refuse to broadcast.
      ortFeeds.R = new ort.Tensor('float32', f32(feeds.residual), expectedOutputDims(c));
    }
    const { Y } = await session.run(ortFeeds);
    return { data: Y!.data as Float32Array, dims: [...Y!.dims] };
  } finally {
    await session.release();
  }
}
