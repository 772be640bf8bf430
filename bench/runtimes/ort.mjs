import { createRequire } from 'node:module';
import { convModel } from '../onnx-model.mjs';

const require = createRequire(import.meta.url);

export const TIMING_WEB =
  'ortweb: `await session.run({ X })` with `executionProviders: [\'wasm\']`, `env.wasm.numThreads = 1`; the ' +
  'ort.Tensor is made once (session creation excluded); run copies the input into the wasm heap and the output out';
export const TIMING_NODE =
  'ortnode: `await session.run({ X })`, CPU provider, `intraOpNumThreads = 1`, `interOpNumThreads = 1` (native code, ' +
  'the ceiling, not a peer); it is also the reference output for the disagreement column';

let web;
let node;

/** onnxruntime-web's wasm backend, one thread. It shares onnxruntime-common's backend registry with -node. */
export async function loadOrtWeb() {
  if (web) return web;
  web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  web.env.wasm.proxy = false;
  return web;
}

export function loadOrtNode() {
  node ??= require('onnxruntime-node');
  return node;
}

const SESSION = { graphOptimizationLevel: 'all', executionMode: 'sequential' };

async function prepare(ort, options, k, data, outDims) {
  const session = await ort.InferenceSession.create(convModel(k, data, outDims), { ...SESSION, ...options });
  const feeds = { X: new ort.Tensor('float32', data.input, [1, k.c, k.hw[0], k.hw[1]]) };
  let last;
  return {
    session,
    async run() {
      const result = await session.run(feeds);
      last = result.Y;
    },
    output() {
      return last.data;
    },
    async dispose() {
      await session.release();
    },
  };
}

export async function prepareOrtWeb(k, data, outDims) {
  const ort = await loadOrtWeb();
  // Without an explicit provider a process that loaded onnxruntime-node runs this on the native CPU backend.
  return prepare(ort, { executionProviders: ['wasm'] }, k, data, outDims);
}

export async function prepareOrtNode(k, data, outDims) {
  return prepare(loadOrtNode(), { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 }, k, data, outDims);
}
