// onnxruntime-node's word on the conformance cases atrous gets wrong or calls invalid (main thread only:
// see conformance-worker.mjs for why it is not loaded in the worker).
import * as ort from 'onnxruntime-node';
import { compareOutput, halfBits, onnxProtoType, typeName } from './backend-test-data.mjs';

const ORT_TYPES = {
  FLOAT: ['float32', (t) => Float32Array.from(t.values)],
  DOUBLE: ['float64', (t) => Float64Array.from(t.values)],
  FLOAT16: ['float16', (t) => t.bits],
  INT8: ['int8', (t) => Int8Array.from(t.values)],
  UINT8: ['uint8', (t) => Uint8Array.from(t.values)],
  INT16: ['int16', (t) => Int16Array.from(t.values)],
  UINT16: ['uint16', (t) => Uint16Array.from(t.values)],
  INT32: ['int32', (t) => Int32Array.from(t.values)],
  UINT32: ['uint32', (t) => Uint32Array.from(t.values)],
  INT64: ['int64', (t) => t.values],
  UINT64: ['uint64', (t) => t.values],
  BOOL: ['bool', (t) => Uint8Array.from(t.values)],
  STRING: ['string', (t) => t.values],
};

/** onnxruntime-node's feeds for the first `inputCount` inputs; a string says why they cannot be made. */
function ortFeeds(c, inputCount) {
  const feeds = {};
  for (let i = 0; i < inputCount; i++) {
    if (!c.hasInputFile(i)) continue;
    if (c.inputs[i].kind !== 'tensor') return `its ${c.inputs[i].kind} input is not fed here`;
    const t = c.readInput(i);
    const entry = ORT_TYPES[typeName(t.dataType)];
    if (!entry) return `input type ${typeName(t.dataType)} is not fed here`;
    feeds[c.inputs[i].name] = new ort.Tensor(entry[0], entry[1](t), t.dims);
  }
  return feeds;
}

const ORT_TO_ONNX = { float32: 'FLOAT', float64: 'DOUBLE', float16: 'FLOAT16', int8: 'INT8', uint8: 'UINT8', int16: 'INT16', uint16: 'UINT16', int32: 'INT32', uint32: 'UINT32', int64: 'INT64', uint64: 'UINT64', bool: 'BOOL', string: 'STRING' };

/**
 * For a wrong answer: does onnxruntime-node give the expected outputs, and does atrous give onnxruntime's?
 * (A test whose expected file onnxruntime disagrees with too is a candidate erratum of the reference.)
 */
export async function ortCrossCheck(c, bytes, inputCount, atrousResults) {
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const feeds = ortFeeds(c, inputCount);
    if (typeof feeds === 'string') return { ort: `onnxruntime-node not run: ${feeds}` };
    const theirs = await session.run(feeds);
    const vsFile = [];
    const vsAtrous = [];
    for (let i = 0; i < c.outputs.length; i++) {
      const name = c.outputs[i].name;
      const t = theirs[name];
      if (!t || c.outputs[i].kind !== 'tensor') return { ort: `onnxruntime-node gives no tensor ${JSON.stringify(name)}` };
      const asGot = { dims: t.dims, type: t.type === 'float64' || t.type === 'float16' ? 'float32' : t.type, data: t.type === 'float16' ? Float32Array.from(t.data, (b) => (t.data instanceof Uint16Array ? halfBits(b) : Number(b))) : t.data };
      const f = compareOutput(asGot, c.readOutput(i));
      if (f) vsFile.push(`${name}: ${f}`);
      const a = atrousResults[name];
      if (a) {
        const asWant = { dims: [...t.dims], dataType: onnxProtoType(ORT_TO_ONNX[t.type]), values: asGot.type === 'float32' ? Float64Array.from(asGot.data) : t.data };
        const g = compareOutput(a, asWant);
        if (g) vsAtrous.push(`${name}: ${g}`);
      }
    }
    return {
      ortMatchesFile: vsFile.length === 0,
      atrousMatchesOrt: vsAtrous.length === 0,
      ort: vsFile.length === 0 ? 'onnxruntime-node gives the expected outputs' : `onnxruntime-node differs from the expected outputs too (${vsFile.join('; ').slice(0, 160)}); atrous ${vsAtrous.length === 0 ? 'gives' : 'does not give'} onnxruntime's`,
    };
  } catch (e) {
    return { ort: `onnxruntime-node fails on it (${(e?.message ?? String(e)).split('\n')[0].slice(0, 160)})` };
  } finally {
    await session?.release();
  }
}

/** Whether onnxruntime-node loads and runs the model on the test's inputs: the oracle's word on validity. */
export async function ortVerdict(c, bytes, inputCount) {
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (e) {
    return `onnxruntime-node refuses it too (${(e?.message ?? String(e)).split('\n')[0].slice(0, 160)})`;
  }
  try {
    const feeds = ortFeeds(c, inputCount);
    if (typeof feeds === 'string') return `onnxruntime-node loads it; ${feeds}`;
    await session.run(feeds);
    return 'onnxruntime-node loads and runs it';
  } catch (e) {
    return `onnxruntime-node loads it but fails to run it (${(e?.message ?? String(e)).split('\n')[0].slice(0, 160)})`;
  } finally {
    await session.release();
  }
}

