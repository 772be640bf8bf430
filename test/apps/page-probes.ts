// What the app tests watch on a page while work runs: the frames it draws, and what its main thread runs.
// The claim the apps make is that segmentation, the camera pipeline and training run in workers, so the
// page keeps drawing. That is proved by the main thread's own CPU profile (Chrome DevTools Protocol: a
// page's Profiler samples its main thread only; workers are targets of their own): no sample may be in
// wasm code. The frame gaps are logged, not asserted: they depend on how fast this machine is at the moment.
import type { CDPSession, Page } from 'playwright-core';

/** Starts counting animation frames and the longest gap between two of them. */
export async function startFrameProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    const probe = { max: 0, frames: 0, last: performance.now(), running: true };
    (window as unknown as { __frameProbe: typeof probe }).__frameProbe = probe;
    const tick = (now: number) => {
      if (!probe.running) return;
      probe.max = Math.max(probe.max, now - probe.last);
      probe.last = now;
      probe.frames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

/** Stops the probe: frames drawn and the longest gap in ms (the time since the last frame counts too). */
export async function stopFrameProbe(page: Page): Promise<{ max: number; frames: number }> {
  return page.evaluate(() => {
    const probe = (window as unknown as { __frameProbe: { max: number; frames: number; last: number; running: boolean } }).__frameProbe;
    probe.running = false;
    return { max: Math.max(probe.max, performance.now() - probe.last), frames: probe.frames };
  });
}

/** What the page's main thread ran between `startMainThreadProfile` and `stop`. */
export interface MainThreadProfile {
  /** Samples taken (one every 200 us of main-thread time). */
  samples: number;
  /** Samples whose function is wasm code (atrous's kernels are the only wasm the apps load). */
  wasmSamples: number;
  /** The wasm functions seen, for the failure message. */
  wasmFunctions: string[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Starts sampling the page's main thread; `stop()` returns what it ran. */
export async function startMainThreadProfile(page: Page): Promise<{ stop(): Promise<MainThreadProfile> }> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  return {
    async stop() {
      const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples?: number[] } };
      await cdp.detach();
      const wasm = new Set(profile.nodes.filter((n) => isWasm(n.callFrame)).map((n) => n.id));
      const samples = profile.samples ?? [];
      const names = new Set(profile.nodes.filter((n) => wasm.has(n.id)).map((n) => n.callFrame.functionName || n.callFrame.url));
      return { samples: samples.length, wasmSamples: samples.filter((id) => wasm.has(id)).length, wasmFunctions: [...names].slice(0, 10) };
    },
  };
}

function isWasm(frame: { functionName: string; url: string }): boolean {
  return frame.url.startsWith('wasm://') || /^wasm-function\[/.test(frame.functionName) || /^\$?atrous_/.test(frame.functionName);
}
