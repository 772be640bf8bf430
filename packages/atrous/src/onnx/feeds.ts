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
  switch (t.type) {
    case 'float32': return new Tensor('float32', Float32Array.from(t.data as Float32Array), dims);
    case 'int64': return new Tensor('int64', BigInt64Array.from(t.data as Float64Array, (v) => BigInt(Math.trunc(v))), dims);
    case 'int32': return new Tensor('int32', Int32Array.from(t.data as Float64Array), dims);
    case 'bool': return new Tensor('bool', Uint8Array.from(t.data as Uint8Array), dims);
    case 'uint8': return new Tensor('uint8', Uint8Array.from(t.data as Uint8Array), dims);
  }
  throw new AtrousError('INTERNAL', `output ${declared} has type ${String(t.type)}`);
}

