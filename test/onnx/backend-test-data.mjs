// Reading ONNX backend test cases (Debian's libonnx-testdata: model.onnx + test_data_set_0/{input,output}_i.pb)
// with every tensor element type the files hold. Plain JavaScript: it runs inside the conformance worker
// (worker_threads cannot load TypeScript) and is imported by the test file too.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

export const TESTDATA_ROOT = '/usr/share/libonnx-testdata/data';
export const SUITES = ['node', 'pytorch-operator', 'pytorch-converted', 'simple'];

/** Every case directory, relative to the root (`node/test_abs`, ...), sorted. */
export function listCases(root = TESTDATA_ROOT) {
  return SUITES.flatMap((suite) =>
    readdirSync(join(root, suite))
      .filter((d) => existsSync(join(root, suite, d, 'model.onnx')))
      .sort()
      .map((d) => `${suite}/${d}`),
  );
}

/** Name of an ONNX element type code. */
export function typeName(code) {
  return T[code] ?? `type ${code}`;
}

/** 'float' | 'int' | 'bool' | 'string' | 'other': how an element type is compared. */
export function kindOf(code) {
  switch (code) {
    case T.FLOAT:
    case T.DOUBLE:
    case T.FLOAT16:
    case T.BFLOAT16:
      return 'float';
    case T.INT8:
    case T.UINT8:
    case T.INT16:
    case T.UINT16:
    case T.INT32:
    case T.UINT32:
    case T.INT64:
    case T.UINT64:
      return 'int';
    case T.BOOL:
      return 'bool';
    case T.STRING:
      return 'string';
    default:
      return 'other';
  }
}

/** The ONNX element type code of a name ('FLOAT' -> 1). */
export function onnxProtoType(name) {
  return T[name];
}

/** The float value of IEEE half-precision bits. */
export function halfBits(h) {
  return halfToFloat(h);
}

function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function bfloatToFloat(b) {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, b << 16, true);
  return view.getFloat32(0, true);
}

const big = (v) => BigInt(typeof v === 'object' && v !== null ? v.toString() : v);

/**
 * A TensorProto as `{ name, dataType, dims, values, bits? }`. `values`: Float64Array for float types and
 * integers of up to 32 bits, BigInt64Array (INT64) or BigUint64Array (UINT64), Uint8Array for BOOL, string[]
 * for STRING. FLOAT16 / BFLOAT16 keep their 16-bit patterns in `bits` (onnxruntime is fed those).
 */
export function decodeTensor(bytes) {
  const t = onnx.TensorProto.decode(bytes);
  const dims = t.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const code = t.dataType;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out = { name: t.name, dataType: code, dims, values: undefined, bits: undefined };
  const fromRaw = (size, read) => {
    if (raw.byteLength !== size * count) throw new Error(`raw_data has ${raw.byteLength} bytes, ${count} x ${size} expected`);
    return Array.from({ length: count }, (_, i) => read(i * size));
  };
  switch (code) {
    case T.FLOAT:
      out.values = Float64Array.from(raw ? fromRaw(4, (o) => view.getFloat32(o, true)) : t.floatData);
      break;
    case T.DOUBLE:
      out.values = Float64Array.from(raw ? fromRaw(8, (o) => view.getFloat64(o, true)) : t.doubleData);
      break;
    case T.FLOAT16:
    case T.BFLOAT16:
      out.bits = Uint16Array.from(raw ? fromRaw(2, (o) => view.getUint16(o, true)) : t.int32Data);
      out.values = Float64Array.from(out.bits, code === T.FLOAT16 ? halfToFloat : bfloatToFloat);
      break;
    case T.INT8:
      out.values = Float64Array.from(raw ? fromRaw(1, (o) => view.getInt8(o)) : t.int32Data);
      break;
    case T.UINT8:
      out.values = Float64Array.from(raw ? fromRaw(1, (o) => view.getUint8(o)) : t.int32Data);
      break;
    case T.INT16:
      out.values = Float64Array.from(raw ? fromRaw(2, (o) => view.getInt16(o, true)) : t.int32Data);
      break;
    case T.UINT16:
      out.values = Float64Array.from(raw ? fromRaw(2, (o) => view.getUint16(o, true)) : t.int32Data);
      break;
    case T.INT32:
      out.values = Float64Array.from(raw ? fromRaw(4, (o) => view.getInt32(o, true)) : t.int32Data);
      break;
    case T.UINT32:
      out.values = Float64Array.from(raw ? fromRaw(4, (o) => view.getUint32(o, true)) : t.uint64Data.map((v) => Number(big(v))));
      break;
    case T.INT64:
      out.values = BigInt64Array.from(raw ? fromRaw(8, (o) => view.getBigInt64(o, true)) : t.int64Data.map(big));
      break;
    case T.UINT64:
      out.values = BigUint64Array.from(raw ? fromRaw(8, (o) => view.getBigUint64(o, true)) : t.uint64Data.map(big));
      break;
    case T.BOOL:
      out.values = Uint8Array.from(raw ? fromRaw(1, (o) => (view.getUint8(o) ? 1 : 0)) : t.int32Data.map((v) => (v ? 1 : 0)));
      break;
    case T.STRING:
      out.values = t.stringData.map((s) => new TextDecoder().decode(s));
      break;
    default:
      throw new Error(`element type ${typeName(code)} is not read by this harness`);
  }
  if (out.values.length !== count) throw new Error(`${out.values.length} values for dims [${dims.join(', ')}]`);
  return out;
}

/** How a graph input or output is typed: `{ name, kind: 'tensor' | 'sequence' | 'optional' | ..., elemType, dims }`. */
function valueType(v) {
  const t = v.type ?? {};
  if (t.tensorType) {
    const dims = t.tensorType.shape?.dim?.map((d) => (d.dimValue !== undefined && d.dimValue !== null && !d.dimParam ? Number(String(d.dimValue)) : undefined));
    return { name: v.name, kind: 'tensor', elemType: t.tensorType.elemType, dims };
  }
  if (t.sequenceType) return { name: v.name, kind: 'sequence' };
  if (t.optionalType) return { name: v.name, kind: 'optional' };
  if (t.mapType) return { name: v.name, kind: 'map' };
  if (t.sparseTensorType) return { name: v.name, kind: 'sparse tensor' };
  return { name: v.name, kind: 'unknown' };
}

/**
 * ONNX 1.12 wrote its BFLOAT16 test tensors from numpy uint16 arrays, so the files say UINT16 and hold the
 * bfloat16 bit patterns: read as the BFLOAT16 the model declares for that value.
 */
function asDeclared(t, declared) {
  if (declared?.elemType !== T.BFLOAT16 || t.dataType !== T.UINT16) return t;
  const bits = Uint16Array.from(t.values);
  return { ...t, dataType: T.BFLOAT16, bits, values: Float64Array.from(bits, bfloatToFloat) };
}

/**
 * One case: model bytes, the graph's inputs (initializers excluded) and outputs with their types, its op
 * types and node names, and readers for the test data (decoded on demand: a sequence or optional value is
 * not a TensorProto, and it is only read when a runtime accepted the model).
 */
export function loadCase(dir, root = TESTDATA_ROOT) {
  const path = join(root, dir);
  const model = new Uint8Array(readFileSync(join(path, 'model.onnx')));
  const proto = onnx.ModelProto.decode(model);
  const graph = proto.graph;
  const initialized = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((v) => !initialized.has(v.name)).map(valueType);
  const outputs = graph.output.map(valueType);
  const opTypes = [...new Set(graph.node.map((n) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType)))].sort();
  const nodeNames = graph.node.map((n) => n.name).filter(Boolean);
  const set = join(path, 'test_data_set_0');
  const inputFile = (i) => join(set, `input_${i}.pb`);
  const outputFile = (i) => join(set, `output_${i}.pb`);
  return {
    dir,
    model,
    inputs,
    outputs,
    opTypes,
    nodeNames,
    domains: [...new Set(proto.opsetImport.map((o) => o.domain || 'ai.onnx'))],
    readInput: (i) => asDeclared(decodeTensor(readFileSync(inputFile(i))), inputs[i]),
    readOutput: (i) => asDeclared(decodeTensor(readFileSync(outputFile(i))), outputs[i]),
    hasInputFile: (i) => existsSync(inputFile(i)),
  };
}

/**
 * The model with graph inputs `from`.. turned into initializers holding the test's values (what exporters
 * write for weights, scales, shapes); only the inputs before `from` stay inputs.
 */
export function withConstantInputs(c, from = 1) {
  const proto = onnx.ModelProto.decode(c.model);
  const graph = proto.graph;
  const moved = new Set(c.inputs.slice(from).map((v) => v.name));
  graph.input = graph.input.filter((v) => !moved.has(v.name));
  c.inputs.slice(from).forEach((v, k) => {
    const t = onnx.TensorProto.decode(readFileSync(join(TESTDATA_ROOT, c.dir, 'test_data_set_0', `input_${from + k}.pb`)));
    t.name = v.name;
    graph.initializer.push(t);
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** Float outputs: max |actual - expected| <= FLOAT_TOLERANCE * max |expected| (finite values), NaN and inf exact. */
export const FLOAT_TOLERANCE = 1e-4;
/** Floor of the float tolerance for outputs whose expected values are all 0. */
const ZERO_SCALE_TOLERANCE = 1e-6;

// atrous's element types, and onnxruntime's (compared the same way in ortCrossCheck).
const ATROUS_KINDS = { float32: 'float', int32: 'int', int64: 'int', uint8: 'int', bool: 'bool', int8: 'int', int16: 'int', uint16: 'int', uint32: 'int', uint64: 'int', string: 'string' };

/** Why an output differs from the expected one, or undefined when it matches. */
export function compareOutput(got, want) {
  const where = `[${want.dims.join(', ')}]`;
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    return `dims [${got.dims.join(', ')}], expected ${where}`;
  }
  const kind = kindOf(want.dataType);
  const gotKind = ATROUS_KINDS[got.type] ?? 'other';
  // uint8 is its own atrous type: an int output of another width must not come back as uint8, nor uint8 as int32.
  const uint8Mismatch = kind === 'int' && (got.type === 'uint8') !== (typeName(want.dataType) === 'UINT8');
  if (gotKind !== kind || uint8Mismatch) return `type ${got.type}, expected ${typeName(want.dataType)}`;
  const a = got.data;
  const e = want.values;
  if (kind === 'float') {
    let scale = 0;
    for (let i = 0; i < e.length; i++) if (Number.isFinite(e[i])) scale = Math.max(scale, Math.abs(e[i]));
    const tol = scale > 0 ? FLOAT_TOLERANCE * scale : ZERO_SCALE_TOLERANCE;
    let worst = 0;
    let at = -1;
    for (let i = 0; i < e.length; i++) {
      const x = a[i];
      const y = e[i];
      if (Number.isNaN(y)) {
        if (!Number.isNaN(x)) return `element ${i} is ${x}, expected NaN`;
      } else if (!Number.isFinite(y)) {
        if (x !== y) return `element ${i} is ${x}, expected ${y}`;
      } else {
        const d = Math.abs(x - y);
        if (!(d <= worst)) {
          worst = Number.isNaN(d) ? Infinity : d;
          at = i;
        }
      }
    }
    if (worst > tol) return `max |diff| ${worst.toExponential(2)} at element ${at} (${a[at]} vs ${e[at]}) > ${tol.toExponential(2)} (${FLOAT_TOLERANCE} x max |expected| ${scale.toExponential(2)})`;
    return undefined;
  }
  for (let i = 0; i < e.length; i++) {
    const x = kind === 'bool' ? (a[i] ? 1n : 0n) : BigInt(a[i]);
    const y = kind === 'bool' ? (e[i] ? 1n : 0n) : BigInt(e[i]);
    if (x !== y) return `element ${i} is ${x}, expected ${y} (exact)`;
  }
  return undefined;
}

