// Browsers: team threads are module Workers (nested ones when the engine itself runs in a worker).
// See thread-host.ts.
import type { ParentPort, ThreadHandle } from './thread-host.js';

/** Starts a thread running team-worker.js (which sits beside this file in dist/). */
export function spawnThread(): ThreadHandle {
  // The literal form is what bundlers (Vite, webpack) recognise and emit as a worker chunk.
  const worker = new Worker(new URL('./team-worker.js', import.meta.url), { type: 'module' });
  let over = false;
  let exitListener: ((what: string) => void) | undefined;
  // A browser worker has no exit event; an uncaught error at its top level is where one dies by itself.
  worker.addEventListener('error', (event: ErrorEvent) => {
    event.preventDefault();
    if (over) return;
    over = true;
    exitListener?.(event.message ? `threw: ${event.message}` : 'failed to load or threw at its top level');
  });
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.addEventListener('message', (event: MessageEvent) => listener(event.data)),
    onExit(listener) {
      exitListener = listener;
    },
    async terminate() {
      over = true;
      worker.terminate();
    },
    unref() {},
  };
}

export function parentThread(): ParentPort {
  // A dedicated worker's global scope (the DOM lib's `self` types do not include its postMessage).
  const scope = globalThis as unknown as {
    postMessage(message: unknown): void;
    addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
    close(): void;
  };
  return {
    post: (message) => scope.postMessage(message),
    onMessage: (listener) => scope.addEventListener('message', (event: MessageEvent) => listener(event.data)),
    close: () => scope.close(),
  };
}

/** Whether this thread may block on an atomic: a page's main thread may not, workers may. */
export function canBlock(): boolean {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
}

export function hardwareThreads(): number {
  return globalThis.navigator?.hardwareConcurrency ?? 1;
}

/** Why shared memory cannot be made here, or undefined when it can. */
export function sharedMemoryUnavailable(): string | undefined {
  // Browsers hide SharedArrayBuffer itself from pages that are not isolated: name the cause, not the symptom.
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available';
  return undefined;
}
