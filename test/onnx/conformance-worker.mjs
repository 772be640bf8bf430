// Runs ONNX backend test cases through atrous's InferenceSession, one message per case, in a worker thread:
// a case that hangs (atrous runs synchronously) can then be stopped by terminating the worker, and a case
// that kills its thread does not take the test run with it. The classification is documented in
// conformance.node.test.ts. onnxruntime-node is never loaded here: terminating a worker that loaded it
// aborts the whole process (measured: "terminate called after throwing an instance of 'Napi::Error'"), so
// the main thread asks it about the invalid and wrong cases (conformance-oracle.mjs).
import { parentPort } from 'node:worker_threads';
import { AtrousError, InferenceSession, Tensor, init } from 'atrous';
import { compareOutput, loadCase, typeName, withConstantInputs } from './backend-test-data.mjs';


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

/** The category of an error atrous threw (see conformance.node.test.ts). */
async function fromError(e, c, stage, bytes, inputCount) {
  if (!(e instanceof AtrousError)) return { category: 'crash', stage, detail: errorText(e) };
  if (e.code === 'INTERNAL') return { category: 'crash', stage, code: e.code, detail: e.message };
  if (e.code === 'UNSUPPORTED_OP' || e.code === 'UNSUPPORTED') {
    if (namesSubject(e.message, c)) return { category: 'refused', stage, code: e.code, detail: e.message };
    return { category: 'invalid', stage, code: e.code, detail: `refusal names no op type, node or graph value: ${e.message}`, inputCount };
  }
  return { category: 'invalid', stage, code: e.code, detail: e.message, inputCount };
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
    // atrous's outputs go back with the verdict: the main thread asks onnxruntime-node about them.
    const outputs = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, { dims: [...t.dims], type: t.type, data: t.data }]));
    return { category: 'wrong', stage: 'compare', detail: problems.join('; '), inputCount, outputs };
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
