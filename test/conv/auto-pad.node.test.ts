// Why the parity suite may compare atrous's 'same-upper' / 'same-lower' against onnxruntime with explicit pads:
// onnxruntime refuses auto_pad SAME_* with a dilation above 1, and where it accepts auto_pad (dilation 1)
// its pads are exactly the ones `samePads` computes from the ONNX formula.
import { describe, expect, it, beforeAll } from 'vitest';
import { Tensor, conv2d, init } from 'atrous';
import { caseData, compare, describeCase, explicitPads, samePads, type ConvCase } from './cases.js';
import { oracleConv } from './oracle.js';

function sameCase(index: number, mode: 'same-upper' | 'same-lower', op: 'conv2d' | 'conv1d', dilations: [number, number]): ConvCase {
  const r = (n: number): number => 1 + ((index * 7919 + n * 104_729) % 5);
  return {
    index,
    seed: 7_000 + index,
    op,
    causal: false,
    batch: 1,
    inChannels: 2,
    outChannels: 3,
    groups: 1,
    height: op === 'conv1d' ? 1 : 1 + ((index * 5) % 12),
    width: 1 + ((index * 7) % 13),
    kernel: op === 'conv1d' ? [1, r(1)] : [r(1), r(2)],
    strides: op === 'conv1d' ? [1, 1 + (index % 3)] : [1 + (index % 3), 1 + ((index >> 1) % 3)],
    dilations: op === 'conv1d' ? [1, dilations[1]] : dilations,
    pads: { kind: mode },
    bias: true,
    residual: false,
    activation: { kind: 'none' },
    tags: [],
  };
}

describe('auto_pad SAME: the ONNX convention and onnxruntime', () => {
  beforeAll(async () => {
    await init({ build: 'simd128' });
  });

  it('samePads puts the odd pixel at the end for SAME_UPPER and at the beginning for SAME_LOWER', () => {
    // size 5, kernel 2, stride 1: one pixel of padding in total.
    expect(samePads(5, 2, 1, 1, 'same-upper')).toEqual([0, 1]);
    expect(samePads(5, 2, 1, 1, 'same-lower')).toEqual([1, 0]);
    // size 7, kernel 3, dilation 2 (effective 5), stride 1: 4 in total, split evenly.
    expect(samePads(7, 3, 1, 2, 'same-upper')).toEqual([2, 2]);
    // size 6, kernel 3, stride 2: out 3, total (3 - 1) * 2 + 3 - 6 = 1.
    expect(samePads(6, 3, 2, 1, 'same-lower')).toEqual([1, 0]);
    // A stride wider than the kernel needs no padding at all.
    expect(samePads(9, 1, 3, 1, 'same-upper')).toEqual([0, 0]);
  });

  it('onnxruntime rejects auto_pad SAME_UPPER and SAME_LOWER with a dilation above 1', async () => {
    for (const mode of ['same-upper', 'same-lower'] as const) {
      const c = sameCase(1, mode, 'conv2d', [2, 1]);
      await expect(oracleConv(c, caseData(c), { autoPad: 'attribute' })).rejects.toThrow(/Dilation not supported for AutoPadType::SAME/);
    }
  });

  it('with dilation 1, onnxruntime auto_pad equals explicit pads from the ONNX formula, and atrous matches both (60 cases)', async () => {
    let checked = 0;
    for (let i = 0; i < 30; i++) {
      for (const mode of ['same-upper', 'same-lower'] as const) {
        const c = sameCase(i, mode, i % 4 === 3 ? 'conv1d' : 'conv2d', [1, 1]);
        const d = caseData(c);
        const byAttribute = await oracleConv(c, d, { autoPad: 'attribute' });
        const byFormula = await oracleConv(c, d, { autoPad: 'explicit' });
        const what = `${describeCase(c)}, explicit pads ${JSON.stringify(explicitPads(c))}`;
        expect(byFormula.dims, what).toEqual(byAttribute.dims);
        expect(Array.from(byFormula.data), what).toEqual(Array.from(byAttribute.data));
        if (c.op === 'conv2d') {
          const y = conv2d(new Tensor('float32', d.input, [1, 2, c.height, c.width]), new Tensor('float32', d.weights, [3, 2, ...c.kernel]), {
            bias: d.bias,
            strides: c.strides,
            pads: mode,
          });
          expect([...y.dims], what).toEqual(byAttribute.dims);
          const r = compare(y.data, byAttribute.data);
          expect(r.ok, `${what}: max error ${r.maxError} > ${r.tolerance}`).toBe(true);
        }
        checked++;
      }
    }
    expect(checked).toBe(60);
  });

  it('an odd total padding makes SAME_UPPER and SAME_LOWER differ, so the comparison can tell them apart', async () => {
    // size 6, kernel 2, stride 1: total padding 1, at the end (upper) or at the beginning (lower).
    const c: ConvCase = { ...sameCase(2, 'same-upper', 'conv2d', [1, 1]), height: 6, width: 6, kernel: [2, 2], strides: [1, 1] };
    const d = caseData(c);
    const upper = await oracleConv(c, d, { autoPad: 'attribute' });
    const lower = await oracleConv({ ...c, pads: { kind: 'same-lower' } }, d, { autoPad: 'attribute' });
    expect(compare(upper.data, lower.data).ok).toBe(false);
    const x = new Tensor('float32', d.input, [1, 2, 6, 6]);
    const w = new Tensor('float32', d.weights, [3, 2, 2, 2]);
    expect(compare(conv2d(x, w, { bias: d.bias, pads: 'same-upper' }).data, upper.data).ok).toBe(true);
    expect(compare(conv2d(x, w, { bias: d.bias, pads: 'same-lower' }).data, lower.data).ok).toBe(true);
  });
});
