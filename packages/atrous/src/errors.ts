/**
 * Every failure atrous reports is an AtrousError: a stable `code` to branch on and a message that names
 * the argument and the value that caused it.
 */
export type AtrousErrorCode =
  | 'INVALID_ARGUMENT' // a value out of its range (stride 0, negative pad, unknown activation...)
  | 'INVALID_SHAPE' // ranks, channel counts, groups or sizes that do not fit together
  | 'INVALID_TENSOR' // wrong element type, or data length not matching dims
  | 'OUT_OF_MEMORY' // the wasm memory cannot hold what was asked
  | 'NOT_INITIALIZED' // an op called before `await init()`
  | 'DISPOSED' // a plan or session used after `dispose()`
  | 'WASM_UNAVAILABLE' // the engine cannot run any build, or the .wasm could not be loaded
  | 'INVALID_MODEL' // an ONNX file that is truncated, corrupted, not ONNX, or whose graph does not hold together
  | 'UNSUPPORTED_OP' // an ONNX op type (or an op's attribute value) atrous does not implement
  | 'UNSUPPORTED' // a valid model using a feature outside atrous' scope (3-D convolution, external data...)
  | 'INVALID_FEED' // session.run feeds: an unknown or missing input name, a wrong element type or rank
  | 'QUEUE_FULL' // a worker pool call beyond `maxQueue` waiting calls
  | 'ABORTED' // a worker pool call cancelled by its AbortSignal (queued, or running: the worker was replaced)
  | 'TIMEOUT' // a worker pool call that did not finish within its `timeoutMs`
  | 'WORKER_CRASHED' // the worker running a call died (exit, uncaught error, wasm trap, out of memory); it was replaced
  | 'TERMINATED' // a worker pool call made, queued or running when `pool.terminate()` ended the pool
  | 'INTERNAL'; // a kernel status atrous did not expect: a bug, please report it

export class AtrousError extends Error {
  readonly code: AtrousErrorCode;

  constructor(code: AtrousErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AtrousError';
    this.code = code;
  }
}

/** Formats a value for an error message: arrays as `[1, 2]`, strings quoted. */
export function show(value: unknown): string {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `[${Array.from(value as ArrayLike<unknown>).map(show).join(', ')}]`;
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
