// Node: pool workers are worker_threads Workers, spoken to through Comlink's node adapter.
// Chosen by the "#worker-host" import condition in package.json; worker-host-browser.ts is the other side.
import { availableParallelism } from 'node:os';
import { Worker, parentPort } from 'node:worker_threads';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { CrashReport, type MessageEndpoint, type SpawnOptions, type WorkerHandle } from './worker-protocol.js';

export function spawnWorker(options: SpawnOptions): WorkerHandle {
  const worker = new Worker(options.workerUrl ?? new URL('./worker-entry.js', import.meta.url), {
    resourceLimits: options.resourceLimits,
    // Not the parent's Node options: they are for the user's script (--input-type, --import of a TS loader...)
    // and can break a worker that only loads atrous. V8 flags (--experimental-wasm-relaxed-simd) are
    // process-wide and still apply.
    execArgv: [],
  });
  const crash = new CrashReport();
  const report = (what: string) => crash.report(what);
  worker.on('error', (error: Error & { code?: string }) => {
    report(
      error.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? `ran out of memory (${error.message})`
        : `threw an uncaught ${error.name ?? 'error'} at its top level: ${error.message}`,
    );
  });
  worker.on('exit', (code: number) => report(`exited with code ${code}`));
  worker.on('messageerror', (error: Error) => report(`received a message it could not deserialize (${error.message})`));
  return {
    endpoint: nodeEndpoint(worker) as MessageEndpoint,
    onCrash(l) {
      crash.listen(l);
    },
    async terminate() {
      crash.end();
      await worker.terminate();
    },
  };
}

/** Inside a worker: the endpoint to the pool. */
export function workerEndpoint(): MessageEndpoint {
  if (!parentPort) throw new Error('atrous pool worker: not running in a worker_threads Worker');
  return nodeEndpoint(parentPort) as MessageEndpoint;
}

export function defaultPoolSize(): number {
  return availableParallelism();
}
