// Model-level parity: atrous's InferenceSession against onnxruntime-node (native CPU, the oracle) on the
// same ONNX file and the same input. Per output: same dims, no NaN/Infinity, max |difference| within a
// tolerance relative to max |reference|, and per-pixel agreement of the decision a user would take
// (argmax over classes; for one-channel maps, the mask at 0.5 for probabilities, at 0 for logits).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { InferenceSession, Tensor, init } from 'atrous';
import { compareOutput } from './output-parity.js';

export interface ParityCase {
  /** What the input is, for the test name: 'noise', 'astronaut', ... */
  name: string;
  dims: [number, number, number, number];
  input: () => Float32Array;
}

export interface ModelSuite {
  title: string;
  /** Path of the .onnx file; called once, in beforeAll (exports or fetches on first use). */
  modelPath: () => string;
  /** The file onnxruntime runs, when it is not the same (ISNet widened to float32); same inputs and outputs. */
  referencePath?: () => string;
  cases: ParityCase[];
  /** max |atrous - onnxruntime| / max |onnxruntime|, for every output. */
  relativeTolerance: number;
  /** Fraction of pixels whose decision (argmax or mask) must agree. */
  minAgreement: number;
  /** Outputs whose decisions are checked (default: all) and the threshold of one-channel maps (default 0). */
  decision?: { outputs?: string[]; threshold?: number };
}

/** Peak wasm memory and its parts, as the session reports them. */
function memoryReport(session: InferenceSession): string {
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const m = session.memory;
  return (
    `peak wasm memory ${mib(session.peakMemoryBytes)} (packed weights ${mib(m.weightBytes)}, activation arena ` +
    `${mib(m.arenaBytes)}, activations unshared ${mib(m.unsharedActivationBytes)})`
  );
}

/** Declares one describe block: load the model in both runtimes, then one test per case. */
export function defineModelParity(suite: ModelSuite): void {
  describe(suite.title, () => {
    let path = '';
    let atrous: InferenceSession;
    let reference: ort.InferenceSession;

    beforeAll(async () => {
      path = suite.modelPath();
      const referencePath = suite.referencePath?.() ?? path;
      await init();
      const bytes = readFileSync(path);
      reference = await ort.InferenceSession.create(referencePath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
      atrous = await InferenceSession.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    }, 600_000);

    afterAll(async () => {
      if (atrous) {
        console.log(`[models] ${suite.title} (${basename(path)}): ${memoryReport(atrous)}`);
        atrous.dispose();
      }
      await reference?.release();
    });

    it('has the same input and output names as onnxruntime', () => {
      expect([...atrous.inputNames]).toEqual([...reference.inputNames]);
      expect([...atrous.outputNames].sort()).toEqual([...reference.outputNames].sort());
    });

    for (const c of suite.cases) {
      const [n, , h, w] = c.dims;
      it(`${c.name}, batch ${n}, ${h}x${w}`, async () => {
        const data = c.input();
        const inputName = reference.inputNames[0];
        const expected = await reference.run({ [inputName]: new ort.Tensor('float32', data, c.dims) });
        const actual = await atrous.run({ [inputName]: new Tensor('float32', data.slice(), c.dims) });
        for (const name of reference.outputNames) {
          const e = expected[name];
          const a = actual[name];
          expect(a, `atrous returned no output ${name}`).toBeDefined();
          expect([...a.dims], `dims of output ${name}`).toEqual([...e.dims]);
          const stats = compareOutput(name, a.data as Float32Array, e.data as Float32Array, e.dims, suite.decision?.threshold);
          const decides = suite.decision?.outputs?.includes(name) ?? true;
          console.log(
            `[models] ${suite.title} | ${c.name} ${n}x3x${h}x${w} | ${name} [${e.dims.join(', ')}]: ` +
              `max|diff| ${stats.maxAbsDiff.toExponential(2)} / max|ref| ${stats.maxAbsRef.toExponential(2)} = ` +
              `${stats.relative.toExponential(2)}, agreement ${(stats.agreement * 100).toFixed(3)} %${decides ? '' : ' (not checked)'}`,
          );
          expect(stats.nonFinite, `non-finite values in output ${name}`).toBe(0);
          expect(stats.relative, `max |diff| relative to max |output| of ${name}`).toBeLessThanOrEqual(suite.relativeTolerance);
          if (decides) expect(stats.agreement, `per-pixel decision agreement of ${name}`).toBeGreaterThanOrEqual(suite.minAgreement);
        }
      }, 600_000);
    }
  });
}
