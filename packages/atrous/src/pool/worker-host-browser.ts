// Browsers (and bundles): pool workers are module Workers. The literal
// `new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module' })` is the form Vite and
// webpack recognise, so the worker script is bundled without configuration.
// Chosen by the "#worker-host" import condition in package.json; worker-host-node.ts is the other side.
import { CrashReport, type MessageEndpoint, type SpawnOptions, type WorkerHandle } from './worker-protocol.js';

export function spawnWorker(options: SpawnOptions): WorkerHandle {
  // The literal stays whole on its own branch: a bundler only recognises (and emits) the worker in that form.
  const worker =
    options.workerUrl === undefined
      ? new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module' })
      : new Worker(options.workerUrl, { type: 'module' });
  const crash = new CrashReport();
  const report = (what: string) => crash.report(what);
  // A browser worker survives an uncaught error, but whatever it was doing is lost: treat it as a crash.
  worker.addEventListener('error', (event: ErrorEvent) => {
    event.preventDefault();
    report(event.message ? `threw an uncaught error at its top level: ${event.message}` : 'failed to load or threw at its top level');
  });
  worker.addEventListener('messageerror', () => report('received a message it could not deserialize'));
  return {
    endpoint: worker as unknown as MessageEndpoint,
    onCrash(l) {
      crash.listen(l);
    },
    async terminate() {
      crash.end();
      worker.terminate();
    },
  };
}

export function workerEndpoint(): MessageEndpoint {
  return globalThis as unknown as MessageEndpoint;
}

export function defaultPoolSize(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency || 4;
}
