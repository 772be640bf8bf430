// `pool.loadModel(bytes)`: an ONNX model loaded in every worker of a pool, shaped like InferenceSession
// (inputNames, outputNames, metadata, run(feeds)), each run going to whichever worker is free.
import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { InferenceFeeds, InferenceResults, ValueMetadata } from '../onnx/session.js';
import type { PoolCallOptions } from './pool-types.js';
import type { PooledResource } from './resource-registry.js';
import type { SessionInfo } from './session-resource.js';
import { toAnyTensor, Transfers, type WireAnyTensor } from './wire.js';

export class PooledSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /** Packed convolution weights each worker holds, in bytes. */
  readonly weightBytes: number;
  /** Threads each worker's session runs on. */
  readonly intraOpNumThreads: number;
  /** Why that is 1 though more were asked for, if it is. */
  readonly threadsUnavailable?: string;

  constructor(private readonly resource: PooledResource) {
    const info = resource.info as SessionInfo;
    this.intraOpNumThreads = info.intraOpNumThreads;
    this.threadsUnavailable = info.threadsUnavailable;
    this.inputNames = info.inputNames;
    this.outputNames = info.outputNames;
    this.inputMetadata = info.inputMetadata;
    this.outputMetadata = info.outputMetadata;
    this.weightBytes = info.weightBytes;
  }

  /**
   * Runs the model in a free worker. Feeds are checked there (names, types, ranks) and errors come back
   * with their code; the results' buffers are moved here, not copied.
   */
  async run(feeds: InferenceFeeds, options: PoolCallOptions = {}): Promise<InferenceResults> {
    if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds)) {
      throw new AtrousError('INVALID_FEED', `InferenceSession.run: feeds must be an object { [inputName]: Tensor }, got ${show(feeds)}`);
    }
    const t = new Transfers(options?.transfer === true);
    const wire: Record<string, WireAnyTensor> = {};
    for (const [name, value] of Object.entries(feeds)) {
      if (!(value instanceof Tensor)) {
        throw new AtrousError('INVALID_FEED', `InferenceSession.run: feeds[${show(name)}] must be a Tensor, got ${show(value)}`);
      }
      wire[name] = t.anyTensor(value);
    }
    const results = await this.resource.invoke<Record<string, WireAnyTensor>>('run', [wire], t.list, options);
    const out: InferenceResults = {};
    for (const [name, value] of Object.entries(results)) out[name] = toAnyTensor(value);
    return out;
  }

  /** Frees the model in every worker. */
  dispose(): Promise<void> {
    return this.resource.dispose();
  }
}
