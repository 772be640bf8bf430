// Runs ONNX backend test cases through atrous's InferenceSession, one message per case, in a worker thread:
// a case that hangs (atrous runs synchronously) can then be stopped by terminating the worker, and a case
// that kills its thread does not take the test run with it. The classification is documented in
// conformance.node.test.ts.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { AtrousError, InferenceSession, Tensor, init } from 'atrous';
import { halfBits, kindOf, loadCase, onnxProtoType, typeName, withConstantInputs } from './backend-test-data.mjs';

/** Float outputs: max |actual - expected| <= FLOAT_TOLERANCE * max |expected| (finite values), NaN and inf exact. */
export const FLOAT_TOLERANCE = 1e-4;
/** Floor of the float tolerance for outputs whose expected values are all 0. */
const ZERO_SCALE_TOLERANCE = 1e-6;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Does a refusal name what it refuses: one of the model's op types (as a word), one of its node names, or a
 * graph input or output (quoted: `graph input "x" has element type STRING`)?
 */
function namesSubject(message, c) {
  const ops = c.opTypes.map((o) => o.split('.').at(-1));
  if (ops.some((op) => new RegExp(`(^|[^A-Za-z0-9_])${escape(op)}($|[^A-Za-z0-9_])`).test(message))) return true;
  if (c.nodeNames.some((n) => message.includes(n))) return true;
  return [...c.inputs, ...c.outputs].some((v) => message.includes(JSON.stringify(v.name)));
}

function errorText(e) {
  if (e instanceof Error) return `${e.name}${e.code ? ` ${e.code}` : ''}: ${e.message}`;
  return String(e);
}

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
async function ortCrossCheck(c, bytes, inputCount, atrousResults) {
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
async function ortVerdict(c, bytes, inputCount) {
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

/** The category of an error atrous threw (see conformance.node.test.ts). */
async function fromError(e, c, stage, bytes, inputCount) {
  if (!(e instanceof AtrousError)) return { category: 'crash', stage, detail: errorText(e) };
  if (e.code === 'INTERNAL') return { category: 'crash', stage, code: e.code, detail: e.message };
  if (e.code === 'UNSUPPORTED_OP' || e.code === 'UNSUPPORTED') {
    if (namesSubject(e.message, c)) return { category: 'refused', stage, code: e.code, detail: e.message };
    return { category: 'invalid', stage, code: e.code, detail: `refusal names no op type, node or graph value: ${e.message}`, ort: await ortVerdict(c, bytes, inputCount) };
  }
  return { category: 'invalid', stage, code: e.code, detail: e.message, ort: await ortVerdict(c, bytes, inputCount) };
}

/** An atrous Tensor of the element type the session declares for the input, from the test's values. */
function feedFor(t, type) {
  const n = (v) => Number(v);
  switch (type) {
    case 'float32':
      return new Tensor('float32', Float32Array.from(t.values, n), t.dims);
    case 'int64':
      return new Tensor('int64', BigInt64Array.from(t.values, (v) => (typeof v === 'bigint' ? BigInt.asIntN(64, v) : BigInt(v))), t.dims);
    case 'int32':
      return new Tensor('int32', Int32Array.from(t.values, n), t.dims);
    case 'uint8':
    case 'bool':
      return new Tensor(type, Uint8Array.from(t.values, n), t.dims);
    default:
      return undefined;
  }
}

// atrous's element types, and onnxruntime's (compared the same way in ortCrossCheck).
const ATROUS_KINDS = { float32: 'float', int32: 'int', int64: 'int', uint8: 'int', bool: 'bool', int8: 'int', int16: 'int', uint16: 'int', uint32: 'int', uint64: 'int', string: 'string' };

/** Why an output differs from the expected one, or undefined when it matches. */
function compareOutput(got, want) {
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

/** Loads `bytes` in atrous, feeds the first `inputCount` inputs, compares every output. */
async function attempt(c, bytes, inputCount) {
  let session;
  try {
    session = await InferenceSession.create(bytes);
  } catch (e) {
    return fromError(e, c, 'create', bytes, inputCount);
  }
  try {
    const feeds = {};
    for (let i = 0; i < inputCount; i++) {
      const v = c.inputs[i];
      if (!c.hasInputFile(i)) continue; // an optional input the test leaves out
      if (v.kind !== 'tensor') return { category: 'wrong', stage: 'feed', detail: `atrous loaded a model whose input ${JSON.stringify(v.name)} is a ${v.kind} (no Tensor can be fed)` };
      const t = c.readInput(i);
      const meta = session.inputMetadata.find((m) => m.name === v.name);
      const feed = meta ? feedFor(t, meta.type) : undefined;
      if (!feed) {
        return { category: 'wrong', stage: 'feed', detail: `input ${JSON.stringify(v.name)} of type ${typeName(t.dataType)}: the session declares it ${JSON.stringify(meta?.type)}, which no Tensor holds` };
      }
      feeds[v.name] = feed;
    }
    let results;
    try {
      results = await session.run(feeds);
    } catch (e) {
      return fromError(e, c, 'run', bytes, inputCount);
    }
    const problems = [];
    for (let i = 0; i < c.outputs.length; i++) {
      const v = c.outputs[i];
      const got = results[v.name];
      if (!got) {
        problems.push(`no output ${JSON.stringify(v.name)}`);
        continue;
      }
      if (v.kind !== 'tensor') {
        problems.push(`output ${JSON.stringify(v.name)} is a ${v.kind} in the model, atrous returned a tensor`);
        continue;
      }
      const why = compareOutput(got, c.readOutput(i));
      if (why) problems.push(`output ${JSON.stringify(v.name)}: ${why}`);
    }
    if (problems.length === 0) return { category: 'match' };
    return { category: 'wrong', stage: 'compare', detail: problems.join('; '), ...(await ortCrossCheck(c, bytes, inputCount, results)) };
  } finally {
    session.dispose();
  }
}

/**
 * A case's category. Refused as given, with more than one tensor input, it is tried again with inputs 1..
 * as initializers (node tests feed conv weights, Resize scales and Reshape shapes as graph inputs, which
 * exporters write as constants); the second answer is kept unless it is a refusal too.
 */
async function classify(dir) {
  const c = loadCase(dir);
  const base = { dir, opTypes: c.opTypes, domains: c.domains };
  const first = await attempt(c, c.model, c.inputs.length);
  if (first.category === 'refused' && c.inputs.length > 1 && c.inputs.every((v) => v.kind === 'tensor')) {
    const second = await attempt(c, withConstantInputs(c, 1), 1);
    if (second.category !== 'refused') return { ...base, ...second, constantInputs: true, refusedAsGiven: first.detail };
  }
  return { ...base, ...first };
}

await init();
parentPort.on('message', async ({ dir }) => {
  let result;
  try {
    result = await classify(dir);
  } catch (e) {
    // The harness itself failed (reading the case...): its own category, which the test requires to be empty.
    result = { dir, opTypes: [], category: 'harness', stage: 'harness', detail: errorText(e) };
  }
  parentPort.postMessage(result);
});
parentPort.postMessage({ ready: true });
