// Bit-identity of threaded runs: the conv parity suite's cases (and the same cases widened, so that the
// kernels actually split them) and every model in test/models, run on 1, 2 and 3 threads of a shared-memory
// build, must give the same bits as each other and as the single-thread build. One definition, called by
// the simd128 (Node) and relaxed test files.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, init, type WasmBuild } from 'atrous';
import { caseData, drawCases, type ConvCase } from '../conv/cases.js';
import { DEFAULT_SEED, runAtrous } from '../conv/parity-suite.js';
import { isnetModel, segformerModel, torchvisionModel } from '../models/fixtures.js';
import { noise } from '../models/images.js';

export const THREAD_COUNTS = [1, 2, 3];

/** Same bits: NaN payloads and signed zeros included. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** `c` with 8x the channels (grouping kept) and twice the spatial size: enough work to be split. */
function widened(c: ConvCase): ConvCase {
  const depthwise = c.groups === c.inChannels;
  return {
    ...c,
    inChannels: c.inChannels * 8,
    outChannels: c.outChannels * 8,
    groups: depthwise ? c.groups * 8 : c.groups,
    height: c.op === 'conv1d' ? 1 : c.height * 2,
    width: c.width * 2,
    tags: [...c.tags, 'widened'],
  };
}

function runCases(cases: ConvCase[]): Float32Array[][] {
  return cases.map((c) => runAtrous(c, caseData(c)).map((t) => t.data));
}

/** The models of test/models, each with one input. */
const MODELS: { name: string; path: () => string; dims: number[] }[] = [
  { name: 'deeplabv3_mobilenet_v3_large', path: () => torchvisionModel('deeplabv3_mobilenet_v3_large', { opset: 13 }), dims: [1, 3, 321, 481] },
  { name: 'lraspp_mobilenet_v3_large', path: () => torchvisionModel('lraspp_mobilenet_v3_large', { opset: 11 }), dims: [1, 3, 257, 257] },
  { name: 'deeplabv3_resnet50', path: () => torchvisionModel('deeplabv3_resnet50', { opset: 12 }), dims: [2, 3, 129, 129] },
  { name: 'fcn_resnet50', path: () => torchvisionModel('fcn_resnet50', { opset: 14 }), dims: [1, 3, 193, 289] },
  { name: 'segformer (opset 17)', path: () => segformerModel(17), dims: [1, 3, 256, 320] },
  { name: 'isnet', path: isnetModel, dims: [1, 3, 1024, 1024] },
  { name: 'built-in model', path: () => fileURLToPath(new URL('../../models/default/model.onnx', import.meta.url)), dims: [1, 3, 256, 256] },
];

async function runModel(path: string, dims: number[], threads: number): Promise<Float32Array[]> {
  const session = await InferenceSession.create(path, { intraOpNumThreads: threads });
  try {
    expect(session.intraOpNumThreads).toBe(threads);
    const input = session.inputNames[0]!;
    const size = dims.reduce((a, b) => a * b, 1);
    const results = await session.run({ [input]: new Tensor('float32', noise(size, 7).map((v) => v * 0.5), dims) });
    return session.outputNames.map((n) => results[n]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

export function defineBitIdentity(build: Exclude<WasmBuild, 'scalar'>, options: { models: boolean }): void {
  describe(`threads on the ${build} build: the same bits for 1, 2 and 3 threads`, () => {
    afterAll(async () => {
      (await init({ build, shared: true })).stopThreads();
    });

    const base = drawCases(300, DEFAULT_SEED);
    const cases = [...base, ...base.map(widened)];

    it(`conv parity cases (300 drawn, 300 widened) as conv2d, conv1d and plans`, async () => {
      const single = await init({ build, shared: false });
      expect(single.shared).toBeUndefined();
      const reference = runCases(cases);
      for (const threads of THREAD_COUNTS) {
        const engine = await init({ build, shared: true, intraOpNumThreads: threads });
        expect(engine.shared, 'a shared-memory build').toBeDefined();
        expect(engine.threads).toBe(threads);
        const got = runCases(cases);
        const differing = cases.filter((_, i) => !got[i]!.every((out, j) => sameBits(out, reference[i]![j]!)));
        expect(differing.map((c) => `#${c.index} ${c.tags.join(',')}`), `${threads} threads`).toEqual([]);
      }
    });

    if (!options.models) return;
    for (const model of MODELS) {
      it(`${model.name} ${model.dims.join('x')}`, async () => {
        const path = model.path();
        await init({ build, shared: false });
        const reference = await runModel(path, model.dims, 1);
        await init({ build, shared: true });
        for (const threads of THREAD_COUNTS) {
          const got = await runModel(path, model.dims, threads);
          expect(got.length).toBe(reference.length);
          got.forEach((out, i) => expect(sameBits(out, reference[i]!), `${threads} threads, output ${i}`).toBe(true));
        }
      }, 600_000);
    }
  });
}
