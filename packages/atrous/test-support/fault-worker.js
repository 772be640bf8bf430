// @ts-check
// A pool worker that breaks on command, for the tests only: it serves what the package's worker serves,
// plus a `fault` op and an op that throws an error with causes. It lives outside src/, so it is neither
// compiled into dist/ nor shipped (package.json "files"); tests reach it with
// `createWorkerPool({ workerUrl: FAULT_WORKER_URL })` (worker-faults.ts). Plain JavaScript, because Node
// runs a worker's module as it is, without the tests' TypeScript transform.
import { AtrousError } from '../dist/errors.js';
import { currentEngine } from '../dist/wasm/loader.js';
import { serveWorker } from '../dist/pool/worker-service.js';

/** @type {unknown[]} */
const leaked = [];

/** What a call that never answers returns (the pool ends it through its signal or timeout). */
const never = () => new Promise(() => {});

/** @type {Record<import('./worker-faults.js').WorkerFault, () => Promise<never>>} */
const FAULTS = {
  // Node reports the exit code to the pool. A browser worker that closes itself says nothing: only the
  // call's timeoutMs or signal ends it.
  exit() {
    const proc = /** @type {{ process?: { exit(code: number): never } }} */ (globalThis).process;
    if (proc) proc.exit(7);
    else /** @type {{ close(): void }} */ (/** @type {unknown} */ (globalThis)).close();
    return never();
  },
  uncaught() {
    setTimeout(() => {
      throw new Error('fault injected: an error thrown at the top level of the worker');
    }, 0);
    return never();
  },
  async trap() {
    // A plan pointer far beyond the memory: the kernels read it and trap.
    currentEngine('fault').exports.atrous_conv_plan_bytes(0xfffffff0);
    throw new AtrousError('INTERNAL', 'fault: the out-of-bounds read did not trap');
  },
  oom() {
    for (;;) leaked.push(new Array(1 << 16).fill(leaked.length + 0.5));
  },
  hang: never,
};

serveWorker({
  fault([kind]) {
    const fault = FAULTS[/** @type {keyof typeof FAULTS} */ (kind)];
    if (!fault) throw new AtrousError('INVALID_ARGUMENT', `fault: kind must be one of ${Object.keys(FAULTS).join(', ')}, got ${String(kind)}`);
    return fault();
  },
  /** Throws an AtrousError whose cause is an AtrousError whose cause is a plain error. */
  throwWithCause([code, message, causeCode, causeMessage, rootMessage]) {
    throw new AtrousError(code, message, { cause: new AtrousError(causeCode, causeMessage, { cause: new RangeError(rootMessage) }) });
  },
});
