// Parity with LiteRT.js (@litertjs/core 2.5.3, XNNPACK in wasm, single thread), the reference runtime for
// .tflite, in Debian chromium: both selfie models (models/selfie/, placed by scripts/setup.sh) on real
// photos, the same input tensor to both. And the same input through atrous in Node (the selfieInNode
// command, on the same wasm build) gives the browser's outputs.
import { describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { InferenceSession, Tensor, init } from 'atrous';
import { Tensor as LiteRtTensor, loadAndCompile, loadLiteRt } from '@litertjs/core';
import liteRtJs from '@litertjs/core/wasm/litert_wasm_internal.js?url';
import type { SelfieKind } from './selfie-node-command.js';

const photoDir = '/usr/lib/python3/dist-packages/skimage/data';

// LiteRT.js loads once per page. The .js is given as is (no feature probing: the plain, single-thread
// build); it fetches its .wasm from beside itself, served by the test's Vite server: nothing is downloaded.
let liteRt: Promise<unknown> | undefined;
const loadReference = () => (liteRt ??= loadLiteRt(liteRtJs));

/** A photo resized by the browser's canvas to H x W, as NHWC RGB in [0, 1]. */
async function photoNhwc(name: string, height: number, width: number): Promise<Float32Array> {
  const base64 = await commands.readFile(`${photoDir}/${name}`, 'base64');
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
  const canvas = new OffscreenCanvas(width, height);
  const g = canvas.getContext('2d')!;
  g.drawImage(bitmap, 0, 0, width, height);
  const rgba = g.getImageData(0, 0, width, height).data;
  const out = new Float32Array(height * width * 3);
  for (let p = 0; p < height * width; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = rgba[p * 4 + c]! / 255;
  return out;
}

/** Read through the server (paths are relative to test/, the project root): a missing file says what to run. */
async function serverBytes(path: string): Promise<Uint8Array> {
  let base64: string;
  try {
    base64 = await commands.readFile(path, 'base64');
  } catch (cause) {
    throw new Error(`${path}: ${String(cause)}; run \`bash scripts/setup.sh\` (or \`node tools/fetch-selfie-models.mjs\`) to fetch the selfie models`);
  }
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function base64Of(x: Float32Array): string {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function floatsOf(base64: string): Float32Array {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

const models: { kind: SelfieKind; path: string; height: number; width: number }[] = [
  { kind: 'general', path: '../models/selfie/selfie_segmentation.tflite', height: 256, width: 256 },
  { kind: 'landscape', path: '../models/selfie/selfie_segmentation_landscape.tflite', height: 144, width: 256 },
];

describe('selfie segmentation: atrous against LiteRT.js in chromium', () => {
  for (const m of models) {
    it(`${m.kind}: astronaut.png and camera.png`, async () => {
      await init();
      await loadReference();
      const bytes = await serverBytes(m.path);
      const reference = await loadAndCompile(bytes.slice(), { accelerator: 'wasm' });
      const session = await InferenceSession.create(bytes.slice());
      for (const photo of ['astronaut.png', 'camera.png']) {
        const x = await photoNhwc(photo, m.height, m.width);
        const input = new LiteRtTensor(x.slice(), [1, m.height, m.width, 3]);
        const results = await reference.run([input]);
        const want = results[0]!.toTypedArray() as Float32Array;
        input.delete();
        for (const r of results) r.delete();
        const got = (await session.run({ [session.inputNames[0]!]: new Tensor('float32', x, [1, m.height, m.width, 3]) }))[session.outputNames[0]!]!.data as Float32Array;
        expect(got.length).toBe(want.length);
        let worst = 0, scale = 0, agree = 0;
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
          scale = Math.max(scale, Math.abs(want[i]!));
          if (got[i]! > 0.5 === want[i]! > 0.5) agree++;
        }
        const relative = worst / scale;
        console.log(`${m.kind} ${photo}: max |atrous - LiteRT.js| = ${worst.toExponential(2)} (${relative.toExponential(2)} of max |ref| ${scale.toFixed(4)}), mask agreement ${((100 * agree) / want.length).toFixed(3)} %`);
        expect(relative).toBeLessThanOrEqual(1e-4);
        expect(agree / want.length).toBeGreaterThanOrEqual(0.999);
      }
      session.dispose();
      reference.delete();
    });

    it(`${m.kind}: atrous in Node gives the browser's outputs on astronaut.png and camera.png`, async () => {
      const bytes = await serverBytes(m.path);
      for (const photo of ['astronaut.png', 'camera.png']) {
        const x = await photoNhwc(photo, m.height, m.width);
        const node = await commands.selfieInNode(m.kind, base64Of(x));
        // The same kernels: the browser runs the build Node ran (chromium may pick relaxed-simd by default).
        await init({ build: node.build });
        const session = await InferenceSession.create(bytes.slice());
        const out = (await session.run({ [session.inputNames[0]!]: new Tensor('float32', x, [1, m.height, m.width, 3]) }))[session.outputNames[0]!]!;
        session.dispose();
        const got = out.data as Float32Array;
        const want = floatsOf(node.output);
        expect(out.dims).toEqual(node.dims);
        expect(got.length).toBe(want.length);
        let worst = 0, scale = 0, same = 0;
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
          scale = Math.max(scale, Math.abs(want[i]!));
          if (got[i] === want[i]) same++;
        }
        console.log(`${m.kind} ${photo}, ${node.build}: max |browser - Node| = ${worst.toExponential(2)} of max ${scale.toFixed(4)}, ${((100 * same) / want.length).toFixed(3)} % of values bit-identical`);
        expect(scale).toBeGreaterThan(0.5);
        expect(worst / scale).toBeLessThanOrEqual(1e-6);
      }
      await init();
    });
  }
});
