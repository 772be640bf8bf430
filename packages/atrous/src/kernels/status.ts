import { AtrousError, type AtrousErrorCode } from '../errors.js';
import { StatusCode } from '../wasm/abi.js';

type StatusName = keyof typeof StatusCode;

/** What each status means to a user, for the message. */
const MEANING: Record<StatusName, string> = {
  Ok: 'no error',
  ZeroDimension: 'a dimension is zero',
  GroupsDoNotDivideChannels: 'groups do not divide the channels',
  NonPositiveStride: 'a stride is not positive',
  NonPositiveDilation: 'a dilation is not positive',
  OutputBelowOne: 'the output would be smaller than 1 pixel',
  WeightLengthMismatch: 'the weight length does not match the shape',
  BiasLengthMismatch: 'the bias length does not match the output channels',
  InputLengthMismatch: 'the input length does not match its dims',
  OutputLengthMismatch: 'the output length does not match',
  ResidualLengthMismatch: 'the residual length does not match the output',
  OutOfMemory: 'the wasm memory cannot hold the scratch buffers',
  SizeOverflow: 'a size overflows 32-bit wasm addressing',
  ChannelMismatch: 'the channel counts do not match',
  InvalidTable: 'an index table points outside its source',
  InvalidDescriptor: 'a descriptor field is out of range',
  ShapeMismatch: 'the operand shapes do not fit together',
  WorkerCrashed: 'a helper thread died during the call',
  Unsupported: 'this wasm build cannot do that',
};

const NAMES = new Map<number, StatusName>(Object.entries(StatusCode).map(([k, v]) => [v, k as StatusName]));

/** Maps a kernel status to an AtrousError naming the operation and what it was given. */
export function kernelError(status: number, op: string, context: string): AtrousError {
  const name = NAMES.get(status);
  const what = name ? MEANING[name] : `kernel status ${status}`;
  const code: AtrousErrorCode =
    name === 'OutOfMemory' || name === 'SizeOverflow' ? 'OUT_OF_MEMORY'
    : name === 'WorkerCrashed' ? 'WORKER_CRASHED'
    : name === 'Unsupported' ? 'WASM_UNAVAILABLE'
    : status === 0 || !name ? 'INTERNAL'
    : 'INVALID_SHAPE';
  return new AtrousError(code, `${op}: ${what} (${context})`);
}

/** Throws unless `status` is Ok. `context` is a function so that messages are only built on failure. */
export function check(status: number, op: string, context: () => string): void {
  if (status !== StatusCode.Ok) throw kernelError(status, op, context());
}
