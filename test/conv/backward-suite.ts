// The conv backward suite, one definition for every build: random configurations (the parity suite's draws,
// so every option it covers: strides, dilations up to 6, explicit / asymmetric / oversized pads, SAME_UPPER,
// SAME_LOWER, VALID, groups, depthwise with multipliers, 1-D and causal, batch 2, kernels larger than the
// input, and every fused activation, through which the gradient then goes) differentiated by atrous
// (conv2dBackward / conv1dBackward) and by PyTorch autograd in float64
// (tools/torch-conv-backward.py, one python process for all cases), compared per tensor within 1e-4 of
// max |reference|. 
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, conv1dBackward, conv2dBackward, init, loadedBuild, type Activation, type ConvGradients, type WasmBuild } from 'atrous';
import { repoRoot } from '../models/fixtures.js';
import { caseData, compare, describeCase, drawCases, expectedOutputDims, inputDims, rng, weightDims, type CaseActivation, type ConvCase } from './cases.js';

/** The suite's default seed (different from the parity suite's, so the two draw different cases); `ATROUS_BACKWARD_SEED` overrides it. */
export const BACKWARD_SEED = 20_260_412;

interface TorchGradients {
  gradInput: number[];
  gradWeight: number[];
  gradBias: number[];
}

interface BackwardData {
  input: Float32Array;
  weights: Float32Array;
  bias: Float32Array | undefined;
  gradOutput: Float32Array;
}

function backwardData(c: ConvCase): BackwardData {
  const d = caseData(c);
  const r = rng(c.seed ^ 0x9a7d);
  const gradOutput = Float32Array.from({ length: expectedOutputDims(c).reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
  return { input: d.input, weights: d.weights, bias: d.bias, gradOutput };
}

/** Every case's gradients from PyTorch in one process. */
function torchGradients(cases: ConvCase[], data: BackwardData[]): TorchGradients[] {
  const request = cases.map((c, i) => {
    const oneD = c.op === 'conv1d';
    const axes = (pair: readonly number[]) => (oneD ? [pair[1]!] : [...pair]);
    let pads: unknown;
    if (c.causal) pads = { kind: 'causal' };
    else if (c.pads.kind === 'explicit') {
      const [t, l, b, r] = c.pads.pads;
      pads = { kind: 'explicit', begin: axes([t, l]), end: axes([b, r]) };
    } else pads = { kind: c.pads.kind };
    return {
      op: oneD ? 'conv1d' : 'conv2d',
      input: Array.from(data[i]!.input),
      inputDims: inputDims(c),
      weights: Array.from(data[i]!.weights),
      weightDims: weightDims(c),
      gradOutput: Array.from(data[i]!.gradOutput),
      gradOutputDims: expectedOutputDims(c),
      strides: axes(c.strides),
      dilations: axes(c.dilations),
      groups: c.groups,
      pads,
      bias: data[i]!.bias ? Array.from(data[i]!.bias!) : null,
      activation: c.activation,
    };
  });
  const out = execFileSync('/usr/bin/python3', [resolve(repoRoot, 'tools/torch-conv-backward.py')], {
    input: JSON.stringify(request),
    maxBuffer: 2 ** 30,
    encoding: 'utf8',
  });
  return JSON.parse(out) as TorchGradients[];
}

function toActivation(a: CaseActivation): Activation {
  switch (a.kind) {
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

function runAtrous(c: ConvCase, d: BackwardData): ConvGradients {
  const x = new Tensor('float32', d.input, inputDims(c));
  const w = new Tensor('float32', d.weights, weightDims(c));
  const gy = new Tensor('float32', d.gradOutput, expectedOutputDims(c));
  if (c.op === 'conv1d') {
    const pads = c.pads.kind === 'explicit' ? ([c.pads.pads[1], c.pads.pads[3]] as const) : c.pads.kind;
    return conv1dBackward(x, w, gy, { bias: d.bias, stride: c.strides[1], dilation: c.dilations[1], ...(c.causal ? { causal: true } : { pads }), groups: c.groups, activation: toActivation(c.activation) });
  }
  return conv2dBackward(x, w, gy, {
    bias: d.bias,
    strides: c.strides,
    dilations: c.dilations,
    pads: c.pads.kind === 'explicit' ? c.pads.pads : c.pads.kind,
    groups: c.groups,
    activation: toActivation(c.activation),
  });
}

export function defineBackwardSuite(options: { build: WasmBuild; count: number; seed: number }): void {
  const { build, count, seed } = options;
  // The backward takes no residual, and a prepared plan is a conv2d here.
  const cases = drawCases(count, seed).map((c): ConvCase => ({ ...c, op: c.op === 'plan' ? 'conv2d' : c.op, residual: false, tags: c.tags.filter((t) => t !== 'residual') }));
  const data = cases.map(backwardData);
  let reference: TorchGradients[] = [];
  // Worst error / max |reference| per tensor over the suite, reported at the end.
  const worst = { gradInput: 0, gradWeight: 0, gradBias: 0 };

  describe(`conv backward against PyTorch autograd (float64): ${count} random cases on the ${build} build (seed ${seed})`, () => {
    beforeAll(async () => {
      await init({ build });
      expect(loadedBuild()).toBe(build);
      reference = torchGradients(cases, data);
      expect(reference.length).toBe(cases.length);
    });

    it('draws cases covering every option', () => {
      const has = (p: (c: ConvCase) => boolean): number => cases.filter(p).length;
      const pixels = (c: ConvCase) => expectedOutputDims(c).slice(2).reduce((a, b) => a * b, 1);
      const coverage = {
        conv2d: has((c) => c.op !== 'conv1d'),
        conv1d: has((c) => c.op === 'conv1d' && !c.causal),
        causal: has((c) => c.causal),
        batch2: has((c) => c.batch === 2),
        groups1: has((c) => c.groups === 1),
        grouped: has((c) => c.groups > 1 && c.groups < c.inChannels),
        depthwise: has((c) => c.groups > 1 && c.groups === c.inChannels && c.outChannels === c.groups),
        depthwiseMultiplier: has((c) => c.groups > 1 && c.groups === c.inChannels && c.outChannels > c.groups),
        stride2: has((c) => c.strides.includes(2)),
        stride3: has((c) => c.strides.includes(3)),
        dilation: has((c) => c.dilations.some((d) => d > 1)),
        strideAndDilation: has((c) => c.strides.some((s) => s > 1) && c.dilations.some((d) => d > 1)),
        explicitAsymmetric: has((c) => c.pads.kind === 'explicit' && (c.pads.pads[0] !== c.pads.pads[2] || c.pads.pads[1] !== c.pads.pads[3])),
        padsLargerThanKernel: has((c) => c.tags.includes('pads > kernel')),
        sameUpper: has((c) => c.pads.kind === 'same-upper'),
        sameLower: has((c) => c.pads.kind === 'same-lower'),
        sameWithDilation: has((c) => c.tags.includes('auto_pad with dilation')),
        valid: has((c) => c.pads.kind === 'valid'),
        kernelLargerThanInput: has((c) => c.tags.some((t) => t.endsWith('kernel > input'))),
        kernel1x1: has((c) => c.kernel[0] === 1 && c.kernel[1] === 1),
        bias: has((c) => c.bias),
        noBias: has((c) => !c.bias),
        // Past one 256-pixel chunk of the weight gradient's reduction.
        manyPixels: has((c) => pixels(c) > 256),
        wideChannels: has((c) => c.groups === 1 && c.inChannels > 16),
        ...Object.fromEntries(
          ['none', 'relu', 'relu6', 'clip', 'hardSigmoid', 'hardSwish', 'sigmoid', 'leakyRelu'].map((k) => [`activation ${k}`, has((c) => c.activation.kind === k)]),
        ),
        activationWithBias: has((c) => c.activation.kind !== 'none' && c.bias),
      };
      console.log(`backward coverage (${count} cases, seed ${seed}):`, JSON.stringify(coverage));
      const missing = Object.entries(coverage).filter(([, n]) => n < 2);
      expect(missing, `fewer than 2 cases draw ${missing.map(([k]) => k).join(', ')}`).toEqual([]);
    });

    for (const [i, c] of cases.entries()) {
      it(describeCase(c), () => {
        const got = runAtrous(c, data[i]!);
        const want = reference[i]!;
        const where = `${describeCase(c)} on ${loadedBuild()}; case seed ${c.seed}, suite seed ${seed}`;
        expect([...got.gradInput.dims]).toEqual(inputDims(c));
        expect([...got.gradWeight.dims]).toEqual(weightDims(c));
        expect([...got.gradBias.dims]).toEqual([c.outChannels]);
        for (const name of ['gradInput', 'gradWeight', 'gradBias'] as const) {
          const r = compare(got[name].data, want[name]);
          if (r.maxAbs > 0) worst[name] = Math.max(worst[name], r.maxError / r.maxAbs);
          const detail = r.worstIndex >= 0 ? ` at ${r.worstIndex} (atrous ${got[name].data[r.worstIndex]}, torch ${want[name][r.worstIndex]})` : '';
          expect(r.ok, `${name}: max error ${r.maxError} > ${r.tolerance} (1e-4 x max |ref| ${r.maxAbs})${detail}: ${where}`).toBe(true);
        }
      });
    }

    it('reports the worst error per tensor', () => {
      console.log(`conv backward on ${build}: worst max error / max |torch| over ${count} cases:`, JSON.stringify(worst));
      for (const v of Object.values(worst)) expect(v).toBeLessThanOrEqual(1e-4);
    });
  });
}
