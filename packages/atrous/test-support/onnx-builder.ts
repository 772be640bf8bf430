// Builds small ONNX models in tests, through the same protobuf types the parser reads (onnx-proto).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Marks a number (or list) as a FLOAT attribute; plain integers are written as INT. */
export class Floats {
  constructor(readonly values: number | number[]) {}
}
export const f = (v: number | number[]) => new Floats(v);

export interface RawTensor {
  dims: number[];
  dataType?: number; // default FLOAT
  values?: ArrayLike<number>;
  rawData?: Uint8Array;
}

export type AttrInput = number | number[] | string | Floats | RawTensor;

export function tensorProto(name: string, t: RawTensor): onnxProto.onnx.ITensorProto {
  const dataType = t.dataType ?? onnx.TensorProto.DataType.FLOAT;
  const proto: onnxProto.onnx.ITensorProto = { name, dims: t.dims, dataType };
  if (t.rawData) proto.rawData = t.rawData;
  else if (t.values) {
    const v = Array.from(t.values);
    if (dataType === onnx.TensorProto.DataType.FLOAT) proto.floatData = v;
    else if (dataType === onnx.TensorProto.DataType.INT64) proto.int64Data = v;
    else if (dataType === onnx.TensorProto.DataType.DOUBLE) proto.doubleData = v;
    else proto.int32Data = v;
  }
  return proto;
}

function attribute(name: string, v: AttrInput): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof Floats) {
    return Array.isArray(v.values) ? { name, type: T.FLOATS, floats: v.values } : { name, type: T.FLOAT, f: v.values };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.TENSOR, t: tensorProto('', v) };
}

export class ModelBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private counter = 0;

  /** ModelProto fields other than the graph (producer, doc string, metadata_props...). */
  model: Partial<onnxProto.onnx.IModelProto> = {};

  constructor(readonly opset = 13) {}

  input(name: string, dims: (number | string)[] | undefined, elemType: number = onnx.TensorProto.DataType.FLOAT): this {
    this.inputs.push(valueInfo(name, dims, elemType));
    return this;
  }

  output(name: string, dims?: (number | string)[], elemType: number = onnx.TensorProto.DataType.FLOAT): this {
    this.outputs.push(valueInfo(name, dims, elemType));
    return this;
  }

  init(name: string, dims: number[], values: ArrayLike<number>, dataType?: number): this {
    this.inits.push(tensorProto(name, { dims, values, dataType }));
    return this;
  }

  initRaw(name: string, t: RawTensor): this {
    this.inits.push(tensorProto(name, t));
    return this;
  }

  /** Adds a node; returns its first output name. */
  node(opType: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, AttrInput> = {}, name?: string): string {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => `t${this.counter++}`) : outputs;
    this.nodes.push({
      name: name ?? `${opType.toLowerCase()}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs[0]!;
  }

  bytes(): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: 'atrous-tests',
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
      ...this.model,
    }).finish();
  }
}

function valueInfo(name: string, dims: (number | string)[] | undefined, elemType: number): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomFloats(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
