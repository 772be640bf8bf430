import onnxProto from 'onnx-proto';
import { AtrousError, show } from '../errors.js';
import {
  OnnxDataType,
  allocData,
  dataTypeName,
  elemTypeOf,
  bfloat16ToFloat,
  halfTableF32,
  halfToFloat,
  int64ToNumber,
  type HostTensor,
} from './data-types.js';
import type { AttrValue, Dim, GraphIR, ModelMetadata, NodeIR, ValueInfoIR } from './graph.js';

const { onnx } = onnxProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** Newest IR version this parser knows the layout of (ONNX 1.17 writes 10, 1.18 writes 11). */
const MAX_IR_VERSION = 11;

function firstBytes(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function invalid(message: string): AtrousError {
  return new AtrousError('INVALID_MODEL', message);
}

/** Decodes a TensorProto (an initializer, a Constant's value) into a host tensor. `what` names it in errors. */
export function decodeTensor(t: TensorProto, what: string): HostTensor {
  const name = t.name ? `${what} ${show(t.name)}` : what;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData && t.externalData.length > 0)) {
    throw new AtrousError(
      'UNSUPPORTED',
      `${name} keeps its data in an external file; atrous loads single-file models only ` +
        '(save it with onnx.save_model(model, path, save_as_external_data=False))',
    );
  }
  if (t.segment) throw new AtrousError('UNSUPPORTED', `${name} is segmented; atrous does not read segmented tensors`);
  const code = t.dataType ?? 0;
  const type = elemTypeOf(code);
  if (type === undefined) {
    throw new AtrousError('UNSUPPORTED', `${name} has element type ${dataTypeName(code)}, which atrous does not support`);
  }
  const dims = (t.dims ?? []).map((d, i) => {
    const n = int64ToNumber(d, `${name} dims[${i}]`);
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${name}: dims[${i}] must be a non-negative integer, got ${n}`);
    return n;
  });
  let size = 1;
  for (const d of dims) size *= d;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const width = code === OnnxDataType.FLOAT16 || code === OnnxDataType.BFLOAT16 || code === OnnxDataType.INT16 || code === OnnxDataType.UINT16 ? 2
    : code === OnnxDataType.DOUBLE || code === OnnxDataType.INT64 || code === OnnxDataType.UINT64 ? 8
    : code === OnnxDataType.FLOAT || code === OnnxDataType.INT32 || code === OnnxDataType.UINT32 ? 4 : 1;
  let available: number;
  if (raw) available = raw.length / width;
  else if (code === OnnxDataType.FLOAT) available = t.floatData?.length ?? 0;
  else if (code === OnnxDataType.DOUBLE) available = t.doubleData?.length ?? 0;
  else if (code === OnnxDataType.INT64) available = t.int64Data?.length ?? 0;
  else if (code === OnnxDataType.UINT64 || code === OnnxDataType.UINT32) available = t.uint64Data?.length ?? 0;
  else available = t.int32Data?.length ?? 0;
  if (available !== size) {
    throw invalid(`${name} (${dataTypeName(code)}, dims ${show(dims)}) needs ${size} values but holds ${available} (truncated or corrupted?)`);
  }
  const data = allocData(type, size);
  if (raw && code === OnnxDataType.FLOAT) {
    // The common case, copied as bytes: raw_data is little-endian (as is every engine atrous runs on) and may
    // sit at any byte offset inside the file, so it is copied to an aligned buffer first (new Uint8Array(x)
    // copies; a Node Buffer's slice() would not).
    data.set(new Float32Array(new Uint8Array(raw).buffer, 0, size));
  } else if (raw && code === OnnxDataType.FLOAT16) {
    const table = halfTableF32();
    const halves = new Uint16Array(new Uint8Array(raw).buffer, 0, size);
    for (let i = 0; i < size; i++) data[i] = table[halves[i]!]!;
  } else if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < size; i++) {
      switch (code) {
        case OnnxDataType.FLOAT: data[i] = view.getFloat32(i * 4, true); break;
        case OnnxDataType.FLOAT16: data[i] = halfToFloat(view.getUint16(i * 2, true)); break;
        case OnnxDataType.BFLOAT16: data[i] = bfloat16ToFloat(view.getUint16(i * 2, true)); break;
        case OnnxDataType.DOUBLE: data[i] = view.getFloat64(i * 8, true); break;
        case OnnxDataType.INT64: data[i] = Number(view.getBigInt64(i * 8, true)); break;
        case OnnxDataType.UINT64: data[i] = Number(view.getBigUint64(i * 8, true)); break;
        case OnnxDataType.INT32: data[i] = view.getInt32(i * 4, true); break;
        case OnnxDataType.UINT32: data[i] = view.getUint32(i * 4, true); break;
        case OnnxDataType.INT16: data[i] = view.getInt16(i * 2, true); break;
        case OnnxDataType.UINT16: data[i] = view.getUint16(i * 2, true); break;
        case OnnxDataType.INT8: data[i] = view.getInt8(i); break;
        default: data[i] = view.getUint8(i); break;
      }
    }
  } else if (code === OnnxDataType.FLOAT) {
    data.set(t.floatData!);
  } else if (code === OnnxDataType.DOUBLE) {
    data.set(t.doubleData!);
  } else if (code === OnnxDataType.INT64) {
    t.int64Data!.forEach((v, i) => (data[i] = int64ToNumber(v, `${name} value`)));
  } else if (code === OnnxDataType.UINT64 || code === OnnxDataType.UINT32) {
    t.uint64Data!.forEach((v, i) => (data[i] = int64ToNumber(v, `${name} value`)));
  } else if (code === OnnxDataType.FLOAT16) {
    // int32_data holds the 16 bits of each half.
    t.int32Data!.forEach((v, i) => (data[i] = halfToFloat(v & 0xffff)));
  } else if (code === OnnxDataType.BFLOAT16) {
    t.int32Data!.forEach((v, i) => (data[i] = bfloat16ToFloat(v)));
  } else {
    data.set(t.int32Data!);
  }
  if (code === OnnxDataType.DOUBLE) checkFloat32Range(data as Float32Array, t, name);
  return { type, dims, data };
}

/**
 * A DOUBLE constant is computed as float32: refused when that changes one of its values beyond rounding
 * (a finite value that overflows to Infinity, or a non-zero one that underflows to 0), so no DOUBLE model
 * gets an answer its constants cannot give.
 */
function checkFloat32Range(narrowed: Float32Array, t: TensorProto, name: string): void {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  for (let i = 0; i < narrowed.length; i++) {
    const v = view ? view.getFloat64(i * 8, true) : t.doubleData![i]!;
    const f = narrowed[i]!;
    if ((Number.isFinite(v) && !Number.isFinite(f)) || (v !== 0 && f === 0)) {
      throw new AtrousError(
        'UNSUPPORTED',
        `${name} (DOUBLE) holds ${v}, which float32 cannot hold; atrous computes DOUBLE models in float32 (convert the model to FLOAT)`,
      );
    }
  }
}

function decodeAttribute(a: AttributeProto, where: string): AttrValue {
  const what = `${where} attribute ${show(a.name ?? '')}`;
  const T = onnx.AttributeProto.AttributeType;
  // IR version 1 files may leave `type` unset: go by the field that is filled.
  const type = a.type || (a.floats?.length ? T.FLOATS : a.ints?.length ? T.INTS : a.strings?.length ? T.STRINGS : a.t ? T.TENSOR
    : a.g ? T.GRAPH : a.s?.length ? T.STRING : a.f !== undefined && a.f !== 0 ? T.FLOAT : T.INT);
  const text = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());
  switch (type) {
    case T.FLOAT: return a.f ?? 0;
    case T.INT: return int64ToNumber(a.i ?? 0, what);
    case T.STRING: return text(a.s);
    case T.TENSOR:
      if (!a.t) throw invalid(`${what} is a TENSOR attribute without a tensor`);
      return decodeTensor(a.t, what);
    case T.FLOATS: return Array.from(a.floats ?? []);
    case T.INTS: return (a.ints ?? []).map((v) => int64ToNumber(v, what));
    case T.STRINGS: return (a.strings ?? []).map(text);
    case T.GRAPH:
    case T.GRAPHS: return { graph: true };
    default:
      throw new AtrousError('UNSUPPORTED', `${what} has attribute type ${type}, which atrous does not read`);
  }
}

function decodeValueInfo(v: ValueInfoProto, what: string): ValueInfoIR {
  const name = v.name ?? '';
  if (name === '') throw invalid(`${what} has no name`);
  const tensorType = v.type?.tensorType;
  if (v.type && !tensorType) {
    throw new AtrousError('UNSUPPORTED', `${what} ${show(name)} is not a tensor (sequence, map or optional values are not supported)`);
  }
  const dataType = tensorType?.elemType ?? OnnxDataType.FLOAT;
  let dims: Dim[] | undefined;
  if (tensorType?.shape) {
    dims = (tensorType.shape.dim ?? []).map((d) => {
      if (d.dimParam) return d.dimParam;
      if (d.dimValue !== undefined && d.dimValue !== null) {
        const n = int64ToNumber(d.dimValue, `${what} ${show(name)} dim`);
        return Number.isSafeInteger(n) && n >= 0 ? n : '?';
      }
      return '?';
    });
  }
  return { name, dataType, elemType: elemTypeOf(dataType), dims };
}

/**
 * Orders nodes so that each comes after the producers of its inputs, checking that every input is
 * defined somewhere: an ONNX file must already be sorted, but a check costs little and names what is missing.
 */
function sortNodes(nodes: NodeIR[], defined: Set<string>): NodeIR[] {
  const producer = new Map<string, number>();
  nodes.forEach((node, i) => {
    for (const out of node.outputs) {
      if (out === '') continue;
      if (defined.has(out) || producer.has(out)) throw invalid(`value ${show(out)} is produced twice (again by ${node.opType} node ${show(node.name)})`);
      producer.set(out, i);
    }
  });
  for (const node of nodes) {
    for (const input of node.inputs) {
      if (input !== '' && !defined.has(input) && !producer.has(input)) {
        throw invalid(
          `${node.opType} node ${show(node.name)} reads ${show(input)}, which is neither a graph input, an initializer nor a node output ` +
            '(missing initializer?)',
        );
      }
    }
  }
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 placed
  const order: NodeIR[] = [];
  for (let start = 0; start < nodes.length; start++) {
    if (state[start] !== 0) continue;
    // Iterative depth-first search: models have thousands of nodes in a chain.
    const stack: [number, number][] = [[start, 0]];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const node = nodes[top[0]]!;
      if (top[1] < node.inputs.length) {
        const p = producer.get(node.inputs[top[1]++]!);
        if (p === undefined || state[p] === 2) continue;
        if (state[p] === 1) throw invalid(`the graph has a cycle through ${node.opType} node ${show(node.name)}`);
        state[p] = 1;
        stack.push([p, 0]);
      } else {
        state[top[0]] = 2;
        order.push(node);
        stack.pop();
      }
    }
  }
  return order;
}

/** Parses ONNX model bytes into the graph IR, or throws an AtrousError saying what is wrong and where. */
export function parseModel(input: Uint8Array | ArrayBuffer): GraphIR {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length === 0) throw invalid('model: the bytes are empty');
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw invalid(
      `model: the ${bytes.length} bytes (starting ${firstBytes(bytes)}) cannot be decoded as an ONNX protobuf, ` +
        `the file is truncated, corrupted or not ONNX (${(cause as Error)?.message ?? String(cause)})`,
    );
  }
  const irVersion = int64ToNumber(model.irVersion ?? 0, 'model ir_version');
  if (!model.graph || irVersion < 1 || irVersion > 100) {
    throw invalid(
      `model: not an ONNX model (ir_version ${irVersion}, ${model.graph ? 'a' : 'no'} graph; first bytes ${firstBytes(bytes)})`,
    );
  }
  if (irVersion > MAX_IR_VERSION) {
    throw new AtrousError('UNSUPPORTED', `model: ir_version ${irVersion} is newer than atrous reads (up to ${MAX_IR_VERSION})`);
  }
  let opset: number | undefined;
  for (const o of model.opsetImport ?? []) {
    if (!o.domain || o.domain === 'ai.onnx') opset = int64ToNumber(o.version ?? 0, 'model opset_import version');
  }
  // A model may import only other domains (ai.onnx.preview.training, say): then its nodes are refused by
  // domain when the session checks its ops, and only a default-domain node without the import is invalid.
  const defaultDomainUsed = (model.graph.node ?? []).some((n) => !n.domain || n.domain === 'ai.onnx');
  if (opset === undefined) {
    if (irVersion >= 3 && defaultDomainUsed) throw invalid('model: opset_import has no entry for the default ONNX domain');
    opset = 1;
  }
  if (!Number.isInteger(opset) || opset < 1 || opset > 1000) throw invalid(`model: opset version ${opset} is not valid`);

  const g = model.graph;
  if ((g.sparseInitializer ?? []).length > 0) {
    throw new AtrousError('UNSUPPORTED', `model: sparse initializers (${show(g.sparseInitializer![0]!.values?.name ?? '')}) are not supported`);
  }
  const initializers = new Map<string, HostTensor>();
  (g.initializer ?? []).forEach((t, i) => {
    const name = t.name ?? '';
    if (name === '') throw invalid(`model: initializer #${i} has no name`);
    initializers.set(name, decodeTensor(t, 'initializer'));
  });
  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map((v) => decodeValueInfo(v, 'graph input'));
  const outputs = (g.output ?? []).map((v) => decodeValueInfo(v, 'graph output'));
  if (outputs.length === 0) throw invalid('model: the graph has no outputs');
  const nodes: NodeIR[] = (g.node ?? []).map((n, i) => {
    const name = n.name ?? '';
    const opType = n.opType ?? '';
    const where = `${opType || 'node'} node ${show(name || `#${i}`)}`;
    if (opType === '') throw invalid(`model: node #${i} ${show(name)} has no op_type`);
    const attributes = new Map<string, AttrValue>();
    for (const a of n.attribute ?? []) {
      if (a.refAttrName) throw new AtrousError('UNSUPPORTED', `${where}: attribute references (functions) are not supported`);
      attributes.set(a.name ?? '', decodeAttribute(a, where));
    }
    return { name, opType, domain: n.domain ?? '', inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attributes };
  });
  const defined = new Set<string>([...initializers.keys(), ...inputs.map((v) => v.name)]);
  const sorted = sortNodes(nodes, defined);
  const produced = new Set<string>([...defined, ...nodes.flatMap((n) => n.outputs)]);
  for (const out of outputs) {
    if (!produced.has(out.name)) throw invalid(`model: graph output ${show(out.name)} is produced by no node, input or initializer`);
  }
  for (const v of inputs) {
    if (v.elemType === undefined) {
      throw new AtrousError('UNSUPPORTED', `model: graph input ${show(v.name)} has element type ${dataTypeName(v.dataType)}, which atrous does not support`);
    }
    if (v.dataType === OnnxDataType.DOUBLE) {
      // A DOUBLE input would be fed as float32 (the Tensor types atrous takes): beyond 3.4e38 a value
      // becomes Infinity, below 1.2e-38 it loses its digits, silently. float16 inputs widen losslessly and
      // stay accepted; DOUBLE outputs stay accepted too (float32 results, as documented for DOUBLE models).
      throw new AtrousError(
        'UNSUPPORTED',
        `model: graph input ${show(v.name)} has element type DOUBLE; atrous computes DOUBLE models in float32 and takes float32 feeds, ` +
          'which would change values beyond float32 range or precision silently (convert the model to FLOAT)',
      );
    }
  }
  const metadata: ModelMetadata = {
    producerName: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    domain: model.domain ?? '',
    modelVersion: int64ToNumber(model.modelVersion ?? 0, 'model model_version'),
    docString: model.docString ?? '',
    graphName: g.name ?? '',
    custom: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
  };
  return { irVersion, opset, nodes: sorted, inputs, outputs, initializers, metadata };
}
