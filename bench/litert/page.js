// The page of bench/litert-bench.mjs (issue 11, Speed): atrous's InferenceSession and LiteRT.js (@litertjs/core,
// wasm/XNNPACK, plain single-thread build) on the two MediaPipe selfie segmenters, both on this page's main
// thread, interleaved frame by frame. A frame = RGBA pixels (ImageData) -> NHWC float input tensor in [0, 1]
// -> run -> output read into a Float32Array; the pixel conversion is the same code for both runtimes.
import { InferenceSession, Tensor, init, loadedBuild } from 'atrous';
import { Tensor as LiteRtTensor, loadAndCompile, loadLiteRt } from '@litertjs/core';
import liteRtJs from '@litertjs/core/wasm/litert_wasm_internal.js?url';
import liteRtThreadedJs from '@litertjs/core/wasm/litert_wasm_threaded_internal.js?url';
import generalUrl from '@mediapipe/selfie_segmentation/selfie_segmentation.tflite?url';
import landscapeUrl from '@mediapipe/selfie_segmentation/selfie_segmentation_landscape.tflite?url';

const MODELS = [
  { id: 'selfie_segmentation', url: generalUrl, height: 256, width: 256 },
  { id: 'selfie_segmentation_landscape', url: landscapeUrl, height: 144, width: 256 },
];

/** A photo drawn by the browser's canvas at H x W: the frame's RGBA pixels. */
async function photoPixels(url, height, width) {
  const bitmap = await createImageBitmap(await (await fetch(url)).blob());
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d');
  g.drawImage(bitmap, 0, 0, width, height);
  return g.getImageData(0, 0, width, height);
}

/** RGBA bytes -> NHWC RGB float in [0, 1] (timed: part of every frame for both runtimes). */
function toNhwc(image) {
  const rgba = image.data, n = image.width * image.height;
  const out = new Float32Array(n * 3);
  for (let p = 0, i = 0, o = 0; p < n; p++, i += 4, o += 3) {
    out[o] = rgba[i] / 255;
    out[o + 1] = rgba[i + 1] / 255;
    out[o + 2] = rgba[i + 2] / 255;
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

window.runBench = async ({ photoUrl, warmup, minRounds, minSeconds, tolerance, threads }) => {
  await init();
  // Threads: LiteRT.js's threaded build (pthreads over SharedArrayBuffer) with `threads` XNNPACK threads,
  // atrous with `intraOpNumThreads: threads`; both need the cross-origin-isolated page the bench serves then.
  await loadLiteRt(threads > 1 ? liteRtThreadedJs : liteRtJs);
  const env = {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    atrousBuild: loadedBuild(),
    timerResolutionMs: (() => { let a = performance.now(), b; do b = performance.now(); while (b === a); return b - a; })(),
  };
  const results = [];
  for (const m of MODELS) {
    const bytes = new Uint8Array(await (await fetch(m.url)).arrayBuffer());
    const reference = await loadAndCompile(bytes.slice(), { accelerator: 'wasm', cpuOptions: { numThreads: threads } });
    const session = await InferenceSession.create(bytes.slice(), { intraOpNumThreads: threads });
    if (session.intraOpNumThreads !== threads) throw new Error(`atrous runs ${session.intraOpNumThreads} threads, not ${threads}: ${session.threadsUnavailable}`);
    const inputName = session.inputNames[0], outputName = session.outputNames[0];
    const shape = [1, m.height, m.width, 3];
    const pixels = await photoPixels(photoUrl, m.height, m.width);

    const frame = {
      atrous: async () => {
        const out = await session.run({ [inputName]: new Tensor('float32', toNhwc(pixels), shape) });
        return out[outputName].data;
      },
      litert: async () => {
        const input = new LiteRtTensor(toNhwc(pixels), shape);
        const outs = await reference.run([input]);
        const y = outs[0].toTypedArray().slice(); // a copy the caller owns, as atrous's output
        input.delete();
        for (const t of outs) t.delete();
        return y;
      },
    };

    // Agreement first: the same frame through both.
    const got = await frame.atrous(), want = await frame.litert();
    let worst = 0, scale = 0;
    if (got.length !== want.length) throw new Error(`${m.id}: output lengths ${got.length} vs ${want.length}`);
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    const relative = worst / scale;
    const check = { id: m.id, height: m.height, width: m.width, outputLength: want.length, maxAbsDiff: worst, maxAbsRef: scale, relative };
    if (!(relative <= tolerance)) {
      results.push({ ...check, failed: true }); // not timed: the outputs disagree
      session.dispose();
      reference.delete();
      continue;
    }

    for (let i = 0; i < warmup; i++) { await frame.atrous(); await frame.litert(); }
    const times = { atrous: [], litert: [] };
    const start = performance.now();
    for (let r = 0; r < minRounds || performance.now() - start < minSeconds * 1000; r++) {
      // Alternate who goes first so neither always runs right after the other.
      for (const k of r % 2 ? ['litert', 'atrous'] : ['atrous', 'litert']) {
        const t0 = performance.now();
        await frame[k]();
        times[k].push(performance.now() - t0);
      }
    }
    const stats = (xs) => ({ n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
    results.push({
      ...check,
      seconds: (performance.now() - start) / 1000,
      atrous: stats(times.atrous), litert: stats(times.litert),
    });
    session.dispose();
    reference.delete();
  }
  return { env, results };
};
window.benchReady = true;
