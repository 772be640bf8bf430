// Node: team threads are worker_threads Workers. See thread-host.ts.
import { Worker, parentPort } from 'node:worker_threads';
import type { ParentPort, ThreadHandle } from './thread-host.js';

/** Starts a thread running team-worker.js (which sits beside this file in dist/). */
export function spawnThread(): ThreadHandle {
  // No parent Node options (they belong to the user's script); V8 flags are process-wide and still apply.
  const worker = new Worker(new URL('./team-worker.js', import.meta.url), { execArgv: [] });
  let over = false;
  let exitListener: ((what: string) => void) | undefined;
  const report = (what: string) => {
    if (over) return;
    over = true;
    exitListener?.(what);
  };
  worker.on('error', (error: Error) => report(`threw ${error.name}: ${error.message}`));
  worker.on('exit', (code: number) => report(`exited with code ${code}`));
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.on('message', listener),
    onExit(listener) {
      exitListener = listener;
    },
    async terminate() {
      over = true;
      await worker.terminate();
    },
    unref: () => worker.unref(),
  };
}

export function parentThread(): ParentPort {
  const port = parentPort;
  if (!port) throw new Error('atrous team thread: not running in a worker_threads Worker');
  return {
    post: (message) => port.postMessage(message),
    onMessage: (listener) => port.on('message', listener),
    close: () => process.exit(0),
  };
}

/** Whether this thread may block on an atomic (every Node thread may). */
export function canBlock(): boolean {
  return true;
}

export { availableParallelism as hardwareThreads } from 'node:os';

/** Why shared memory cannot be made here, or undefined when it can (Node always can). */
export function sharedMemoryUnavailable(): string | undefined {
  return typeof SharedArrayBuffer === 'undefined' ? 'SharedArrayBuffer is not available' : undefined;
}
