// The parity suite, one definition for every build and runtime: random cases run through atrous and through
// the oracle (onnxruntime-node), compared within 1e-4 of max |output|. The per-build test files call
// `defineParitySuite` with the build to force (or none, for the loader's choice) and an oracle function.
import { describe, expect, it, beforeAll } from 'vitest';
import { Tensor, conv1d, conv2d, init, loadedBuild, prepareConv2d, type Activation, type Conv2dOptions, type WasmBuild } from 'atrous';
import { caseData, compare, describeCase, drawCases, expectedOutputDims, inputDims, weightDims, type CaseActivation, type ConvCase } from './cases.js';

export interface OracleOutput {
  data: ArrayLike<number>;
  dims: readonly number[];
}

/** Runs one case's graph on onnxruntime-node (directly in Node, through a server command in a browser). */
export type Oracle = (
  c: ConvCase,
  feeds: { input: Float32Array; weights: Float32Array; bias: Float32Array | undefined; residual: Float32Array | undefined },
) => Promise<OracleOutput>;

export interface ParitySuiteOptions {
  /** The build to force with `init({ build })`; undefined lets the loader choose. */
  build: WasmBuild | undefined;
  /** The build that must end up loaded. */
  expectBuild: WasmBuild;
  count: number;
  seed: number;
  oracle: Oracle;
}

/** The suite's default seed; `ATROUS_PARITY_SEED` overrides it in Node. */
export const DEFAULT_SEED = 20_261_129;

function toActivation(a: CaseActivation, index: number): Activation | undefined {
  switch (a.kind) {
    case 'none':
      return index % 2 === 0 ? undefined : 'none';
    case 'clip':
      return { type: 'clip', min: a.min, max: a.max };
    case 'hardSigmoid':
      return a.alpha === undefined ? 'hardSigmoid' : { type: 'hardSigmoid', alpha: a.alpha, beta: a.beta };
    case 'leakyRelu':
      return a.alpha === undefined ? 'leakyRelu' : { type: 'leakyRelu', alpha: a.alpha };
    default:
      return a.kind;
  }
}

function conv2dOptions(c: ConvCase, bias: Float32Array | undefined): Conv2dOptions {
  return {
    bias: bias && (c.index % 3 === 0 ? bias : new Tensor('float32', bias, [c.outChannels])),
    strides: c.strides,
    dilations: c.dilations,
    pads: c.pads.kind === 'explicit' ? c.pads.pads : c.pads.kind,
    groups: c.groups,
    activation: toActivation(c.activation, c.index),
  };
}

/** atrous's output(s) for a case: one for conv2d / conv1d, two for a plan run on two inputs. */
export function runAtrous(c: ConvCase, d: ReturnType<typeof caseData>): Tensor<'float32'>[] {
  const outDims = expectedOutputDims(c);
  const x = new Tensor('float32', d.input, inputDims(c));
  const w = new Tensor('float32', d.weights, weightDims(c));
  const residual = d.residual && new Tensor('float32', d.residual, outDims);
  if (c.op === 'conv1d') {
    const pads = c.pads.kind === 'explicit' ? ([c.pads.pads[1], c.pads.pads[3]] as const) : c.pads.kind;
    return [
      conv1d(x, w, {
        bias: d.bias,
        stride: c.strides[1],
        dilation: c.dilations[1],
        ...(c.causal ? { causal: true } : { pads }),
        groups: c.groups,
        activation: toActivation(c.activation, c.index),
        residual,
      }),
    ];
  }
  if (c.op === 'conv2d') return [conv2d(x, w, { ...conv2dOptions(c, d.bias), residual })];
  const plan = prepareConv2d(w, conv2dOptions(c, d.bias));
  try {
    expect(plan.outputDims(x.dims)).toEqual(outDims);
    const first = plan.run(x, { residual });
    const second = plan.run(new Tensor('float32', d.input2!, x.dims), { residual: d.residual2 && new Tensor('float32', d.residual2, outDims) });
    return [first, second];
  } finally {
    plan.dispose();
  }
}

export function defineParitySuite(options: ParitySuiteOptions): void {
  const { build, expectBuild, count, seed, oracle } = options;
  const cases = drawCases(count, seed);

  describe(`conv parity with onnxruntime-node: ${count} random cases on the ${expectBuild} build (seed ${seed})`, () => {
    beforeAll(async () => {
      await init(build === undefined ? {} : { build });
      expect(loadedBuild()).toBe(expectBuild);
    });

    it('draws cases covering every feature the issue lists', () => {
      const has = (p: (c: ConvCase) => boolean): number => cases.filter(p).length;
      const coverage = {
        batch2: has((c) => c.batch === 2),
        groups1: has((c) => c.groups === 1),
        depthwise: has((c) => c.groups > 1 && c.groups === c.inChannels && c.outChannels === c.groups),
        depthwiseMultiplier: has((c) => c.groups > 1 && c.groups === c.inChannels && c.outChannels > c.groups),
        groupsBetween: has((c) => c.groups > 1 && c.groups < c.inChannels),
        kernel1xN: has((c) => c.op !== 'conv1d' && c.kernel[0] === 1 && c.kernel[1] > 1),
        kernelNx1: has((c) => c.kernel[0] > 1 && c.kernel[1] === 1),
        kernel1x1: has((c) => c.kernel[0] === 1 && c.kernel[1] === 1 && c.op !== 'conv1d'),
        kernel1x1Plain: has((c) => c.tags.includes('1x1 plain')),
        largeOutput: has((c) => expectedOutputDims(c).slice(2).reduce((a, b) => a * b, 1) > 512),
        kernel5: has((c) => c.kernel[0] === 5 || c.kernel[1] === 5),
        stride3: has((c) => c.strides.includes(3)),
        dilation6: has((c) => c.dilations.includes(6)),
        strideAndDilation: has((c) => c.strides.some((s) => s > 1) && c.dilations.some((d) => d > 1)),
        asymmetricPads: has((c) => c.pads.kind === 'explicit' && (c.pads.pads[0] !== c.pads.pads[2] || c.pads.pads[1] !== c.pads.pads[3])),
        padsLargerThanKernel: has((c) => c.tags.includes('pads > kernel')),
        kernelLargerThanInput: has((c) => c.kernel[0] > c.height || c.kernel[1] > c.width),
        dilatedKernelLargerThanInput: has((c) => c.tags.some((t) => t.endsWith('kernel > input'))),
        outputSize1: has((c) => c.tags.some((t) => t.startsWith('output'))),
        sameUpperDilated: has((c) => c.pads.kind === 'same-upper' && c.dilations.some((d) => d > 1)),
        sameLowerDilated: has((c) => c.pads.kind === 'same-lower' && c.dilations.some((d) => d > 1)),
        sameDilation1: has((c) => c.pads.kind.startsWith('same') && c.dilations.every((d) => d === 1)),
        valid: has((c) => c.pads.kind === 'valid'),
        bias: has((c) => c.bias),
        noBias: has((c) => !c.bias),
        residual: has((c) => c.residual),
        conv1d: has((c) => c.op === 'conv1d'),
        causal: has((c) => c.causal),
        plan: has((c) => c.op === 'plan'),
        ...Object.fromEntries(
          ['none', 'relu', 'relu6', 'clip', 'hardSigmoid', 'hardSwish', 'sigmoid', 'leakyRelu'].map((k) => [
            `activation ${k}`,
            has((c) => c.activation.kind === k),
          ]),
        ),
        residualWithActivation: has((c) => c.residual && c.activation.kind !== 'none'),
      };
      console.log(`parity coverage (${count} cases, seed ${seed}):`, JSON.stringify(coverage));
      const missing = Object.entries(coverage).filter(([, n]) => n === 0);
      expect(missing, `no case draws ${missing.map(([k]) => k).join(', ')}`).toEqual([]);
    });

    for (const c of cases) {
      it(describeCase(c), async () => {
        const data = caseData(c);
        const outputs = runAtrous(c, data);
        const runs = [{ input: data.input, residual: data.residual }];
        if (c.op === 'plan') runs.push({ input: data.input2!, residual: data.residual2 });
        for (const [i, run] of runs.entries()) {
          const expected = await oracle(c, { input: run.input, weights: data.weights, bias: data.bias, residual: run.residual });
          const actual = outputs[i]!;
          const where = `${describeCase(c)} on ${loadedBuild()}${runs.length > 1 ? ` (plan run ${i + 1})` : ''}; case seed ${c.seed}, suite seed ${seed}; case ${JSON.stringify(c)}`;
          expect([...actual.dims], `output dims vs onnxruntime: ${where}`).toEqual([...expected.dims]);
          expect([...actual.dims], `output dims vs the ONNX formula: ${where}`).toEqual(expectedOutputDims(c));
          const r = compare(actual.data, expected.data);
          const detail =
            r.worstIndex >= 0 ? ` at flat index ${r.worstIndex} (atrous ${actual.data[r.worstIndex]}, onnxruntime ${expected.data[r.worstIndex]})` : '';
          expect(r.ok, `max error ${r.maxError} > tolerance ${r.tolerance} (1e-4 x max |output| ${r.maxAbs})${detail}: ${where}`).toBe(true);
        }
      });
    }
  });
}
