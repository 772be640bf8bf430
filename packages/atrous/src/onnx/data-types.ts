import { AtrousError, show } from '../errors.js';

/**
 * Element types a graph value can have inside a session. Integers are held as float64 numbers (exact up
 * to 2^53, far beyond any shape or index a model computes), so one code path serves every shape
 * computation; they become BigInt64Array / Int32Array only when handed back to the caller. float16,
 * bfloat16 and float64 are computed as float32: 16-bit weights are widened (exactly) at load.
 */
export type ElemType = 'float32' | 'int64' | 'int32' | 'bool' | 'uint8';

export type HostData = Float32Array | Float64Array | Uint8Array;

/** A tensor the session holds on the JavaScript side (constants, shape values, non-float results). */
export interface HostTensor {
  type: ElemType;
  dims: number[];
  data: HostData;
}

/** ONNX TensorProto.DataType codes. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(OnnxDataType).map(([k, v]) => [v, k]));

export function dataTypeName(code: number): string {
  return NAMES[code] ?? `data type ${code}`;
}

/** The session element type an ONNX data type is computed as, or undefined if atrous cannot hold it. */
export function elemTypeOf(code: number): ElemType | undefined {
  switch (code) {
    case OnnxDataType.FLOAT:
    case OnnxDataType.FLOAT16:
    case OnnxDataType.BFLOAT16:
    case OnnxDataType.DOUBLE:
      return 'float32';
    case OnnxDataType.INT64:
    case OnnxDataType.UINT64:
    case OnnxDataType.UINT32:
      return 'int64';
    case OnnxDataType.INT32:
    case OnnxDataType.INT16:
    case OnnxDataType.INT8:
    case OnnxDataType.UINT16:
      return 'int32';
    case OnnxDataType.UINT8:
      return 'uint8';
    case OnnxDataType.BOOL:
      return 'bool';
    default:
      return undefined;
  }
}

export function allocData(type: ElemType, length: number): HostData {
  if (type === 'float32') return new Float32Array(length);
  if (type === 'bool' || type === 'uint8') return new Uint8Array(length);
  return new Float64Array(length);
}

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function hostTensor(type: ElemType, dims: number[], data?: HostData): HostTensor {
  return { type, dims, data: data ?? allocData(type, sizeOf(dims)) };
}

let halfTable: Float32Array | undefined;

/** All 65 536 halves as floats (256 KiB, built on first use): fp16 weights of a large model decode by lookup. */
export function halfTableF32(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** IEEE 754 half -> float (handles subnormals, infinities and NaN). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * The float16 value nearest `x` (ties to even), as a number: what a Cast to FLOAT16 yields. Beyond the
 * largest half (65504) values round to infinity from 65520 on; below 2^-14 they become subnormal halves.
 */
export function roundToHalf(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  // The spacing of halves around a: 2^(e - 10) for normals (e = floor(log2 a)), 2^-24 for subnormals.
  const e = Math.max(-14, Math.floor(Math.log2(a)));
  const ulp = 2 ** (e - 10);
  const q = a / ulp;
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 !== 0) r -= 1; // a tie: to even
  return Math.sign(x) * r * ulp;
}

/** bfloat16 bits -> float: they are the high half of a float32's bits. */
export function bfloat16ToFloat(b: number): number {
  BF16_BITS[0] = (b & 0xffff) << 16;
  return BF16_FLOAT[0]!;
}
const BF16_BITS = new Uint32Array(1);
const BF16_FLOAT = new Float32Array(BF16_BITS.buffer);

/** protobufjs gives int64 fields as numbers, or as Long objects when the `long` package is found. */
export function int64ToNumber(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high, unsigned } = v as { low: number; high: number; unsigned?: boolean };
    return (unsigned ? high >>> 0 : high | 0) * 4294967296 + (low >>> 0);
  }
  throw new AtrousError('INVALID_MODEL', `${what} must be an integer, got ${show(v)}`);
}

/** Reads a 0-d or 1-element tensor as a number. */
export function scalarOf(t: HostTensor, what: string): number {
  if (t.data.length !== 1) throw new AtrousError('INVALID_MODEL', `${what} must hold one value, got dims ${show(t.dims)}`);
  return t.data[0]!;
}

/** Reads a 1-D tensor as numbers. */
export function numbersOf(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number>);
}
