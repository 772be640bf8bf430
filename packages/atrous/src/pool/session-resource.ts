// The worker side of `pool.loadModel`: an ONNX InferenceSession as a named resource, created once per
// worker from the model's bytes and run by id. Feeds and results cross as transferred typed arrays.
import { InferenceSession } from '../onnx/session.js';
import type { Tensor } from '../tensor.js';
import { loadedBuild } from '../wasm/loader.js';
import type { ResourceKind } from './worker-resources.js';
import { toAnyTensor, type WireAnyTensor } from './wire.js';

export interface SessionPayload {
  bytes: Uint8Array;
  /** Threads each worker's session runs on (see `SessionOptions.intraOpNumThreads`). */
  intraOpNumThreads: number;
}

/** What the pool learns about a loaded model. */
export interface SessionInfo {
  inputNames: string[];
  outputNames: string[];
  inputMetadata: InferenceSession['inputMetadata'];
  outputMetadata: InferenceSession['outputMetadata'];
  weightBytes: number;
  intraOpNumThreads: number;
  threadsUnavailable?: string;
}

const onnxSessionKind: ResourceKind<InferenceSession> = {
  // The worker's kernels are already loaded: the session uses the same build (not the engine's best).
  create: ({ bytes, intraOpNumThreads }: SessionPayload) => InferenceSession.create(bytes, { build: loadedBuild(), intraOpNumThreads }),
  bytes: (session) => session.memory.weightBytes + session.memory.arenaBytes,
  describe: (session): SessionInfo => ({
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    weightBytes: session.memory.weightBytes,
    intraOpNumThreads: session.intraOpNumThreads,
    threadsUnavailable: session.threadsUnavailable,
  }),
  methods: {
    async run(session, [feeds]: [Record<string, WireAnyTensor>]) {
      const inputs: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = toAnyTensor(t);
      const results = await session.run(inputs);
      const value: Record<string, WireAnyTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(results)) {
        // Results may share a buffer (or view wasm memory): give each its own before moving it.
        const data = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && !transfer.includes(t.data.buffer as ArrayBuffer) ? t.data : t.data.slice();
        value[name] = { type: t.type, data, dims: [...t.dims] };
        transfer.push(data.buffer as ArrayBuffer);
      }
      return { value, transfer };
    },
  },
  dispose: (session) => session.dispose(),
};

export const SESSION_RESOURCES: Record<string, ResourceKind> = { onnxSession: onnxSessionKind };
