// The per-call options every pool call takes ({ signal, timeoutMs, transfer }), checked on the calling
// thread so that a wrong one fails at once instead of after a trip through the queue.
import { AtrousError, show } from '../errors.js';
import type { PoolCallOptions } from './pool-types.js';

export function checkCallOptions(options: PoolCallOptions, label: string): void {
  if (options === null || typeof options !== 'object') {
    throw new AtrousError('INVALID_ARGUMENT', `${label}: call options must be an object { signal?, timeoutMs?, transfer? }, got ${show(options)}`);
  }
  const { signal, timeoutMs } = options;
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.addEventListener !== 'function' || !('aborted' in signal))) {
    throw new AtrousError('INVALID_ARGUMENT', `${label}: options.signal must be an AbortSignal, got ${show(signal)}`);
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs))) {
    throw new AtrousError('INVALID_ARGUMENT', `${label}: options.timeoutMs must be a positive number of ms, got ${show(timeoutMs)}`);
  }
}

/** The error for a call whose signal was aborted before it was made. */
export function alreadyAborted(signal: AbortSignal, label: string): AtrousError {
  return new AtrousError('ABORTED', `${label}: the signal was already aborted (${abortReason(signal)})`);
}

/** The signal's reason as the messages of ABORTED errors show it. */
export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return `${r.name}: ${r.message}`;
  return r === undefined ? 'no reason given' : show(r);
}
