// Errors across the worker boundary, as a Comlink transfer handler installed on both sides.
//
// Comlink's own handler for thrown values keeps only name, message and stack (comlink issue #594): an
// AtrousError would arrive without its `code`, and every `cause` would be lost. A handler under a new name
// would never see a thrown error: Comlink wraps what a method throws in an object that its 'throw' entry
// recognises, and that entry is tried first. So this replaces the 'throw' entry itself, keeping its test for
// "a thrown value" and giving back to it whatever this module does not recognise (a thrown non-Error, or a
// value from a Comlink peer that has not installed this handler), so other Comlink users in the same app
// see no change besides errors that keep their causes.
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { AtrousError, show, type AtrousErrorCode } from '../errors.js';

/** An Error as plain data, which the structured clone carries whole; its causes nest. */
export interface WireError {
  /** Marks this format, so that deserialize can tell it from the built-in handler's. */
  wireError: 1;
  name: string;
  message: string;
  /** Set for an AtrousError: the other side rebuilds one. */
  code?: AtrousErrorCode;
  stack?: string;
  /** A cause that is an Error crosses as a WireError; any other value as text. */
  cause?: WireError | string;
}

/** Deeper causes cross as text only, so that a chain that loops back on itself cannot recurse for ever. */
const MAX_CAUSE_DEPTH = 8;

export function toWireError(error: Error, depth = 0): WireError {
  const wire: WireError = { wireError: 1, name: error.name, message: error.message, stack: error.stack };
  if (error instanceof AtrousError) wire.code = error.code;
  const cause: unknown = error.cause;
  if (cause instanceof Error && depth < MAX_CAUSE_DEPTH) wire.cause = toWireError(cause, depth + 1);
  else if (cause instanceof Error) wire.cause = `${cause.name}: ${cause.message}`;
  else if (cause !== undefined) wire.cause = show(cause);
  return wire;
}

/** An AtrousError where the original was one (same code, message and cause chain), otherwise an Error of the same name. */
export function fromWireError(wire: WireError): Error {
  const cause = wire.cause === undefined ? undefined : typeof wire.cause === 'string' ? wire.cause : fromWireError(wire.cause);
  const options = cause === undefined ? undefined : { cause };
  const error = wire.code !== undefined ? new AtrousError(wire.code, wire.message, options) : new Error(wire.message, options);
  if (wire.code === undefined) error.name = wire.name;
  // The stack of the worker, where the error was thrown, says more than the one of the message handler here.
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

function isWireError(value: unknown): value is WireError {
  return typeof value === 'object' && value !== null && (value as WireError).wireError === 1;
}

/** What Comlink hands the 'throw' entry: the thrown value, wrapped with a marker only the built-in entry knows. */
interface Thrown {
  value: unknown;
}

let installed = false;

/** Installs the handler (once per thread; the pool and every worker call it before the first message). */
export function installErrorTransfer(): void {
  if (installed) return;
  const builtIn = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<Thrown, unknown> | undefined;
  if (!builtIn) throw new AtrousError('INTERNAL', "comlink has no 'throw' transfer handler to extend: an unexpected comlink version");
  installed = true;
  const handler: Comlink.TransferHandler<Thrown, unknown> = {
    canHandle: (value: unknown): value is Thrown => builtIn.canHandle(value),
    serialize: (thrown) => (thrown.value instanceof Error ? [toWireError(thrown.value), []] : builtIn.serialize(thrown)),
    deserialize: (data) => {
      // Comlink rejects the call with what deserialize throws.
      if (isWireError(data)) throw fromWireError(data);
      return builtIn.deserialize(data);
    },
  };
  // Setting an existing key keeps its place in the Map, which is the order Comlink tries the entries in.
  Comlink.transferHandlers.set('throw', handler as Comlink.TransferHandler<unknown, unknown>);
}
