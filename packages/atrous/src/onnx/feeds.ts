import { AtrousError, show } from '../errors.js';
import { Tensor, type TensorType } from '../tensor.js';
import { dataTypeName, type ElemType, type HostTensor } from './data-types.js';
import type { GraphIR } from './graph.js';

/** The Tensor types a feed may have for each element type the model declares. */
const FEED_TYPES: Record<ElemType, TensorType[]> = {
  float32: ['float32'],
  int64: ['int64', 'int32'],
  int32: ['int32', 'int64'],
  bool: ['bool', 'uint8'],
  uint8: ['uint8'],
};

/** Checks names, element types and ranks of the feeds; returns their dims. */
export function checkFeeds(graph: GraphIR, feeds: unknown): Map<string, number[]> {
  const inputNames = graph.inputs.map((v) => v.name);
  if (feeds === null || typeof feeds !== 'object') {
    throw new AtrousError('INVALID_FEED', `InferenceSession.run: feeds must be an object of input name -> Tensor, got ${show(feeds)}`);
  }
  const given = feeds as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!inputNames.includes(name)) {
      throw new AtrousError('INVALID_FEED', `InferenceSession.run: feed ${show(name)} is not an input of the model (inputs: ${show(inputNames)})`);
    }
  }
  const dims = new Map<string, number[]>();
  const symbols = new Map<string, number>();
  for (const input of graph.inputs) {
    const t = given[input.name];
    if (t === undefined) throw new AtrousError('INVALID_FEED', `InferenceSession.run: input ${show(input.name)} is missing from the feeds`);
    if (!(t instanceof Tensor)) throw new AtrousError('INVALID_FEED', `InferenceSession.run: feed ${show(input.name)} must be a Tensor, got ${show(t)}`);
    const accepted = FEED_TYPES[input.elemType!];
    if (!accepted.includes(t.type)) {
      throw new AtrousError('INVALID_FEED', `InferenceSession.run: feed ${show(input.name)} must be a ${accepted[0]} tensor (model type ${dataTypeName(input.dataType)}), got ${t.type}`);
    }
    const want = input.dims;
    if (want) {
      if (t.dims.length !== want.length) {
        throw new AtrousError('INVALID_FEED', `InferenceSession.run: feed ${show(input.name)} must have rank ${want.length} (dims ${show(want)}), got dims ${show(t.dims)}`);
      }
      want.forEach((d, i) => {
        const got = t.dims[i]!;
        if (typeof d === 'number' && d !== got) {
          throw new AtrousError('INVALID_FEED', `InferenceSession.run: feed ${show(input.name)} dims[${i}] must be ${d} (dims ${show(want)}), got dims ${show(t.dims)}`);
        }
        if (typeof d === 'string' && d !== '?') {
          const seen = symbols.get(d);
          if (seen !== undefined && seen !== got) {
            throw new AtrousError('INVALID_FEED', `InferenceSession.run: dim ${show(d)} is ${seen} in one feed and ${got} in feed ${show(input.name)}`);
          }
          symbols.set(d, got);
        }
      });
    }
    dims.set(input.name, [...t.dims]);
  }
  return dims;
}


/** A result handed back to the caller, in the Tensor type of its declared element type. */
export function toTensor(t: HostTensor, declared: string): Tensor {
  const dims = [...t.dims];
  // Copies by typed-array constructor or slice: `TypedArray.from` goes through the iterator protocol, which
  // cost about a millisecond per 1M floats (a selfie mask's read-back was 1 % of its run).
  switch (t.type) {
    case 'float32': return new Tensor('float32', (t.data as Float32Array).slice(), dims);
    case 'int64': return new Tensor('int64', BigInt64Array.from(t.data as Float64Array, (v) => BigInt(Math.trunc(v))), dims);
    case 'int32': return new Tensor('int32', new Int32Array(t.data as Float64Array), dims);
    case 'bool': return new Tensor('bool', (t.data as Uint8Array).slice(), dims);
    case 'uint8': return new Tensor('uint8', (t.data as Uint8Array).slice(), dims);
  }
  throw new AtrousError('INTERNAL', `output ${declared} has type ${String(t.type)}`);
}


/** Views `a` and `b` share bytes. */
function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Checks caller-given output tensors (`where` is how the caller passed them: `options.outputs` or `fetches`)
 * against the outputs' types and dims for this run. `null` or `undefined` entries mean "allocate it".
 * Feeds may be given as outputs (feeds are copied in before the run, so a state tensor can be updated in
 * place); two outputs sharing memory are refused.
 */
export function checkOutputs(
  given: Record<string, unknown>,
  where: string,
  outputNames: readonly string[],
  metaOf: (name: string) => { type: string; dims: readonly number[] },
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, value] of Object.entries(given)) {
    if (value === null || value === undefined) continue;
    const label = `InferenceSession.run: ${where}[${show(name)}]`;
    if (!outputNames.includes(name)) {
      throw new AtrousError('INVALID_ARGUMENT', `${label} is not an output of the model (outputs: ${show(outputNames)})`);
    }
    if (!(value instanceof Tensor)) throw new AtrousError('INVALID_TENSOR', `${label} must be a Tensor, got ${show(value)}`);
    const meta = metaOf(name);
    if (value.type !== meta.type) {
      throw new AtrousError('INVALID_TENSOR', `${label} must be a ${meta.type} tensor, like the output it receives, got type ${show(value.type)}`);
    }
    if (value.dims.length !== meta.dims.length || value.dims.some((d, i) => d !== meta.dims[i])) {
      throw new AtrousError('INVALID_SHAPE', `${label} must have the output's dims ${show(meta.dims)} for these feeds, got ${show(value.dims)}`);
    }
    if (value.data.length !== sizeOfDims(meta.dims)) {
      throw new AtrousError('INVALID_TENSOR', `${label} has ${value.data.length} elements but dims ${show(value.dims)} need ${sizeOfDims(meta.dims)}`);
    }
    for (const [other, t] of out) {
      if (overlaps(t.data, value.data)) {
        throw new AtrousError('INVALID_ARGUMENT', `${label} shares memory with ${where}[${show(other)}]; give each output a tensor of its own`);
      }
    }
    out.set(name, value);
  }
  return out;
}

function sizeOfDims(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Copies a result into a caller's tensor `out` (checked by `checkOutputs`) and returns `out`. */
export function writeTensor(t: HostTensor, out: Tensor): Tensor {
  switch (t.type) {
    case 'int64': {
      const src = t.data as Float64Array;
      const dst = out.data as BigInt64Array;
      for (let i = 0; i < src.length; i++) dst[i] = BigInt(Math.trunc(src[i]!));
      break;
    }
    default:
      (out.data as Float32Array).set(t.data as Float32Array);
  }
  return out;
}
