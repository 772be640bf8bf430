// InferenceSession against onnxruntime-node on small graphs built for each feature: the same model bytes,
// random feeds, max |difference| <= 1e-4 relative to max |output|.
import { beforeAll, describe, expect, it } from 'vitest';
import { InferenceSession, Tensor, init, loadedBuild } from 'atrous';
import { ModelBuilder, f, randomFloats } from '../../packages/atrous/test-support/onnx-builder.js';
import { ortRun, relativeError } from './ort-oracle.js';

const TOLERANCE = 1e-4;
let seed = 100;
const rand = (n: number, scale = 1) => randomFloats(n, seed++).map((v) => v * scale);

function feed(dims: number[]): Tensor<'float32'> {
  return new Tensor('float32', rand(dims.reduce((a, b) => a * b, 1)), dims);
}

async function parity(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<InferenceSession> {
  const session = await InferenceSession.create(bytes);
  const ours = await session.run(feeds);
  const theirs = await ortRun(bytes, feeds);
  for (const name of session.outputNames) {
    expect(ours[name]!.dims, name).toEqual([...theirs[name]!.dims]);
    const a = Array.from(ours[name]!.data as ArrayLike<number | bigint>, Number);
    const b = Array.from(theirs[name]!.data, Number);
    expect(relativeError(a, b), `output ${name}`).toBeLessThanOrEqual(TOLERANCE);
  }
  return session;
}

/** Conv weights [M, C/g, kh, kw] and a bias, as initializers. */
function convWeights(m: ModelBuilder, name: string, dims: [number, number, number, number]): string[] {
  m.init(`${name}_w`, dims, rand(dims.reduce((a, b) => a * b, 1), 1 / Math.sqrt(dims[1] * dims[2] * dims[3])));
  m.init(`${name}_b`, [dims[0]], rand(dims[0], 0.1));
  return [`${name}_w`, `${name}_b`];
}

function batchNorm(m: ModelBuilder, name: string, x: string, c: number): string {
  m.init(`${name}_g`, [c], rand(c).map((v) => 1 + 0.5 * v));
  m.init(`${name}_beta`, [c], rand(c, 0.2));
  m.init(`${name}_mean`, [c], rand(c, 0.2));
  m.init(`${name}_var`, [c], rand(c).map((v) => 1 + 0.5 * Math.abs(v)));
  return m.node('BatchNormalization', [x, `${name}_g`, `${name}_beta`, `${name}_mean`, `${name}_var`], 1, { epsilon: f(1e-5) });
}

/** The suite, on the build `init()` picks (simd128 in plain Node, relaxed-simd with the flag). */
export function defineSessionParity(expectBuild: string): void {
  describe(`InferenceSession parity with onnxruntime-node (${expectBuild} build)`, () => {
    beforeAll(async () => {
      await init();
      expect(loadedBuild()).toBe(expectBuild);
    });

    it('runs a dilated Conv + BN + Relu block, a residual Add and a fused HardSwish', async () => {
      const m = new ModelBuilder(14);
      m.input('x', [1, 8, 17, 19]);
      const c1 = m.node('Conv', ['x', ...convWeights(m, 'c1', [8, 8, 3, 3])], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] });
      const r1 = m.node('Relu', [batchNorm(m, 'bn1', c1, 8)]);
      const c2 = m.node('Conv', [r1, ...convWeights(m, 'c2', [8, 8, 3, 3])], 1, { pads: [1, 1, 1, 1] });
      const sum = m.node('Add', [batchNorm(m, 'bn2', c2, 8), 'x']);
      const r2 = m.node('Relu', [sum]);
      const c3 = m.node('Conv', [r2, ...convWeights(m, 'c3', [8, 1, 3, 3])], 1, { pads: [1, 1, 1, 1], group: 8 });
      m.node('HardSwish', [c3], ['y']);
      m.output('y');
      const session = await parity(m.bytes(), { x: feed([1, 8, 17, 19]) });
      expect(session.optimizations).toEqual({ foldedBatchNorms: 2, fusedActivations: 3, fusedResiduals: 1, foldedBiasAdds: 0, fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0, foldedDecoderConvs: 0, convsMovedBeforeResize: 0 });
    });

    it('runs an ASPP-like head: GlobalAveragePool, Resize to a shape, Concat, Sigmoid, Mul (SE), bilinear upsample', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 4, 9, 11]);
      const a = m.node('Conv', ['x', ...convWeights(m, 'a', [4, 4, 3, 3])], 1, { pads: [6, 6, 6, 6], dilations: [6, 6] });
      const gap = m.node('GlobalAveragePool', ['x']);
      const g = m.node('Conv', [gap, ...convWeights(m, 'g', [4, 4, 1, 1])]);
      const shape = m.node('Shape', ['x']);
      m.init('s0', [1], [2], 7);
      m.init('s1', [1], [4], 7);
      const hw = m.node('Slice', [shape, 's0', 's1']);
      m.init('nc', [2], [2, 4], 7);
      const sizes = m.node('Concat', ['nc', hw], 1, { axis: 0 });
      m.init('empty', [0], []);
      const up = m.node('Resize', [g, '', '', sizes], 1, { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
      const cat = m.node('Concat', [a, up], 1, { axis: 1 });
      const se = m.node('Sigmoid', [m.node('Conv', [m.node('GlobalAveragePool', [cat]), ...convWeights(m, 'se', [8, 8, 1, 1])])]);
      const scaled = m.node('Mul', [cat, se]);
      m.init('scales', [4], [1, 1, 2, 2]);
      for (const mode of ['half_pixel', 'pytorch_half_pixel', 'asymmetric', 'align_corners']) {
        m.node('Resize', [scaled, '', 'scales'], [`up_${mode}`], { mode: 'linear', coordinate_transformation_mode: mode });
        m.output(`up_${mode}`);
      }
      for (const mode of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
        m.node('Resize', [scaled, '', 'scales'], [`near_${mode}`], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: mode });
        m.output(`near_${mode}`);
      }
      await parity(m.bytes(), { x: feed([2, 4, 9, 11]) });
    });

    it('runs pooling with pads, strides, dilations and ceil_mode', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [1, 3, 13, 14]);
      m.node('MaxPool', ['x'], ['p1'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
      m.node('MaxPool', ['x'], ['p2'], { kernel_shape: [3, 2], strides: [2, 3], pads: [1, 0, 1, 1], dilations: [2, 1], ceil_mode: 1 });
      m.node('AveragePool', ['x'], ['p3'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 });
      m.node('AveragePool', ['x'], ['p4'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1, ceil_mode: 1 });
      m.node('AveragePool', ['x'], ['p5'], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 });
      for (const o of ['p1', 'p2', 'p3', 'p4', 'p5']) m.output(o);
      await parity(m.bytes(), { x: feed([1, 3, 13, 14]) });
    });

    it('runs shape ops, Transpose, Pad, ReduceMean, Softmax, ArgMax, Gather, Squeeze/Unsqueeze, Flatten', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 5, 6, 7]);
      m.init('pads', [8], [0, 0, 1, 2, 0, 0, 2, 1], 7);
      m.init('cv', [], [0.5]);
      const padded = m.node('Pad', ['x', 'pads', 'cv']);
      m.node('Softmax', [padded], ['sm'], { axis: 1 });
      m.node('ArgMax', [padded], ['am'], { axis: 1, keepdims: 0 });
      m.node('ReduceMean', ['x'], ['rm'], { axes: [2, 3], keepdims: 1 });
      m.node('Transpose', ['x'], ['tr'], { perm: [0, 2, 3, 1] });
      m.init('idx', [2], [3, -1], 7);
      m.node('Gather', ['x', 'idx'], ['ga'], { axis: 2 });
      m.init('ax', [1], [0], 7);
      const sq = m.node('Squeeze', [m.node('Unsqueeze', ['x', 'ax']), 'ax']);
      m.node('Flatten', [sq], ['fl'], { axis: 2 });
      m.init('st', [2], [1, 6], 7);
      m.init('en', [2], [100, -8], 7);
      m.init('axs', [2], [1, 3], 7);
      m.init('steps', [2], [2, -2], 7);
      m.node('Slice', ['x', 'st', 'en', 'axs', 'steps'], ['sl']);
      m.init('c1', [], [1.5]);
      m.init('c2', [1, 5, 1, 1], rand(5));
      m.node('Div', [m.node('Sub', [m.node('Mul', ['x', 'c1']), 'c2']), 'c1'], ['ar']);
      m.node('Clip', ['x', '', 'c1'], ['cl']);
      m.node('LeakyRelu', ['x'], ['lr'], { alpha: f(0.1) });
      m.node('HardSigmoid', ['x'], ['hs'], { alpha: f(0.3), beta: f(0.4) });
      for (const o of ['sm', 'rm', 'tr', 'ga', 'fl', 'sl', 'ar', 'cl', 'lr', 'hs']) m.output(o);
      m.output('am', undefined, 7);
      await parity(m.bytes(), { x: feed([2, 5, 6, 7]) });
    });

    it('falls back to a separate broadcast Add when a fused residual turns out not to be output-shaped', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [1, 4, 6, 6]);
      const c = m.node('Conv', ['x', ...convWeights(m, 'c', [4, 4, 3, 3])], 1, { pads: [1, 1, 1, 1] });
      const pooled = m.node('GlobalAveragePool', ['x']); // [1, 4, 1, 1]: broadcast, not a residual
      m.node('Relu', [m.node('Add', [c, pooled])], ['y']);
      // And the other way round: the conv output is the one that broadcasts.
      const p = m.node('Conv', [pooled, ...convWeights(m, 'p', [4, 4, 1, 1])]);
      m.node('Add', [p, 'x'], ['z']);
      m.output('y');
      m.output('z');
      const session = await parity(m.bytes(), { x: feed([1, 4, 6, 6]) });
      expect(session.optimizations.fusedResiduals).toBe(2);
    });

    it('runs opset-9 graphs: Upsample, Clip with attributes (Relu6, fused), 1-D dilated conv', async () => {
      const m = new ModelBuilder(9);
      m.input('x', [1, 3, 5, 7]);
      const c = m.node('Conv', ['x', ...convWeights(m, 'c', [4, 3, 3, 3])], 1, { pads: [2, 2, 2, 2], dilations: [2, 2] });
      const r6 = m.node('Clip', [c], 1, { min: f(0), max: f(6) });
      m.init('sc', [4], [1, 1, 2, 3]);
      m.node('Upsample', [r6, 'sc'], ['up'], { mode: 'nearest' });
      m.node('Upsample', [r6, 'sc'], ['lin'], { mode: 'linear' });
      m.input('s', [2, 3, 20]);
      m.init('w1', [5, 3, 3], rand(45, 0.3));
      m.node('Conv', ['s', 'w1'], ['seq'], { dilations: [4], pads: [4, 4] });
      for (const o of ['up', 'lin', 'seq']) m.output(o);
      const session = await parity(m.bytes(), { x: feed([1, 3, 5, 7]), s: feed([2, 3, 20]) });
      expect(session.optimizations.fusedActivations).toBe(1);
    });

    it('runs opset-10 Resize (asymmetric; nearest rounds down when enlarging, up when shrinking)', async () => {
      const m = new ModelBuilder(10);
      m.input('x', [1, 2, 7, 9]);
      m.init('up', [4], [1, 1, 2.5, 1.5]);
      m.init('down', [4], [1, 1, 0.6, 0.5]);
      m.node('Resize', ['x', 'up'], ['a'], { mode: 'nearest' });
      m.node('Resize', ['x', 'down'], ['b'], { mode: 'nearest' });
      m.node('Resize', ['x', 'up'], ['c'], { mode: 'linear' });
      for (const o of ['a', 'b', 'c']) m.output(o);
      await parity(m.bytes(), { x: feed([1, 2, 7, 9]) });
    });

    it('runs unfusable same-shape Add and Mul of feature maps, and a map scaled per channel', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 3, 7, 5]);
      const a = m.node('Relu', [m.node('Conv', ['x', ...convWeights(m, 'a', [3, 3, 3, 3])], 1, { pads: [1, 1, 1, 1] })]);
      m.node('Add', [a, 'x'], ['sum']); // the activation comes first: not a residual the epilogue can take
      m.node('Mul', ['x', a], ['prod']);
      const s = m.node('GlobalAveragePool', [a]);
      m.node('Mul', [s, a], ['scaled']);
      for (const o of ['sum', 'prod', 'scaled']) m.output(o);
      await parity(m.bytes(), { x: feed([2, 3, 7, 5]) });
    });

    it('writes channel concatenations in place, nested ones and inputs read again later included', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [1, 3, 6, 7]);
      const a = m.node('Conv', ['x', ...convWeights(m, 'a', [4, 3, 3, 3])], 1, { pads: [1, 1, 1, 1] });
      const b = m.node('Sigmoid', [a]);
      const c = m.node('Conv', [b, ...convWeights(m, 'c', [2, 4, 1, 1])]);
      const inner = m.node('Concat', [a, c], 1, { axis: 1 });
      const outer = m.node('Concat', [m.node('Relu', [inner]), b], 1, { axis: -3 });
      m.node('Add', [outer, m.node('Concat', [inner, b], 1, { axis: 1 })], ['y']); // inner and b read again
      m.output('y');
      m.output(c);
      await parity(m.bytes(), { x: feed([1, 3, 6, 7]) });
    });

    it('runs MatMul (batch broadcast, 1-D operands) and Gemm (transposes, alpha, beta, broadcast C)', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 3, 4, 5]);
      m.init('w', [5, 6], rand(30));
      m.init('v', [5], rand(5));
      m.init('wb', [3, 5, 2], rand(30));
      m.node('MatMul', ['x', 'w'], ['mm']);
      m.node('MatMul', ['x', 'v'], ['mv']);
      m.node('MatMul', ['x', 'wb'], ['mb']);
      const flat = m.node('Flatten', ['x'], 1, { axis: 1 });
      m.init('fc', [7, 60], rand(420, 0.2));
      m.init('fcb', [7], rand(7));
      m.node('Gemm', [flat, 'fc', 'fcb'], ['g1'], { transB: 1, alpha: f(0.5), beta: f(2) });
      m.init('fct', [60, 7], rand(420, 0.2));
      m.init('c2', [2, 1], rand(2));
      m.node('Gemm', [m.node('Transpose', [flat], 1, { perm: [1, 0] }), 'fct', 'c2'], ['g2'], { transA: 1 });
      for (const o of ['mm', 'mv', 'mb', 'g1', 'g2']) m.output(o);
      await parity(m.bytes(), { x: feed([2, 3, 4, 5]) });
    });

    it('runs ConvTranspose (strides, pads, output_padding, dilations, groups, output_shape, 1-D)', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 4, 5, 6]);
      m.init('w1', [4, 3, 3, 3], rand(108, 0.3));
      m.init('b1', [3], rand(3));
      m.node('ConvTranspose', ['x', 'w1', 'b1'], ['t1'], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] });
      m.init('w2', [4, 2, 2, 3], rand(48, 0.3));
      m.node('ConvTranspose', ['x', 'w2'], ['t2'], { strides: [3, 2], dilations: [2, 1], group: 2, pads: [0, 2, 1, 0] });
      m.init('w3', [4, 1, 4, 4], rand(64, 0.3));
      m.node('ConvTranspose', ['x', 'w3'], ['t3'], { strides: [2, 2], output_shape: [9, 15] }); // odd total pads; wider than the windows reach
      m.node('ConvTranspose', ['x', 'w3'], ['t4'], { strides: [2, 2], pads: [3, 3, 3, 3] }); // pads larger than k - 1: crops
      m.input('s', [1, 3, 11]);
      m.init('w5', [3, 2, 3], rand(18, 0.3));
      m.node('ConvTranspose', ['s', 'w5'], ['t5'], { strides: [2], dilations: [3], pads: [1, 2] });
      for (const o of ['t1', 't2', 't3', 't4', 't5']) m.output(o);
      await parity(m.bytes(), { x: feed([2, 4, 5, 6]), s: feed([1, 3, 11]) });
    });

    it('runs PRelu, InstanceNormalization, DepthToSpace (DCR, CRD) and SpaceToDepth', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 8, 6, 4]);
      m.init('slope', [8, 1, 1], rand(8));
      m.node('PRelu', ['x', 'slope'], ['pr']);
      m.init('sc', [8], rand(8));
      m.init('bi', [8], rand(8));
      m.node('InstanceNormalization', ['x', 'sc', 'bi'], ['in'], { epsilon: f(1e-4) });
      m.node('DepthToSpace', ['x'], ['d2s'], { blocksize: 2, mode: 'DCR' });
      m.node('DepthToSpace', ['x'], ['d2c'], { blocksize: 2, mode: 'CRD' });
      m.node('SpaceToDepth', ['x'], ['s2d'], { blocksize: 2 });
      for (const o of ['pr', 'in', 'd2s', 'd2c', 's2d']) m.output(o);
      await parity(m.bytes(), { x: feed([2, 8, 6, 4]) });
    });

    it('folds BatchNorm and fuses the activation into a grouped ConvTranspose', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [1, 4, 5, 6]);
      m.init('w', [4, 3, 3, 3], rand(108, 0.3));
      m.init('b', [6], rand(6));
      const t = m.node('ConvTranspose', ['x', 'w', 'b'], 1, { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1], group: 2 });
      m.node('Relu', [batchNorm(m, 'bnt', t, 6)], ['y']);
      m.output('y');
      const session = await parity(m.bytes(), { x: feed([1, 4, 5, 6]) });
      expect(session.optimizations).toEqual({ foldedBatchNorms: 1, fusedActivations: 1, fusedResiduals: 0, foldedBiasAdds: 0, fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0, foldedDecoderConvs: 0, convsMovedBeforeResize: 0 });
    });

    it('folds per-channel constant Adds into conv biases', async () => {
      const m = new ModelBuilder(13);
      m.input('x', [2, 3, 6, 5]);
      m.init('w', [4, 3, 3, 3], rand(108, 0.3));
      m.init('b1', [1, 4, 1, 1], rand(4));
      m.init('b2', [4, 1, 1], rand(4));
      const c = m.node('Conv', ['x', 'w'], 1, { pads: [1, 1, 1, 1] });
      m.node('Relu', [m.node('Add', [batchNorm(m, 'bnb', m.node('Add', ['b1', c]), 4), 'b2'])], ['y']);
      m.output('y');
      const session = await parity(m.bytes(), { x: feed([2, 3, 6, 5]) });
      expect(session.optimizations).toEqual({ foldedBatchNorms: 1, fusedActivations: 1, fusedResiduals: 0, foldedBiasAdds: 2, fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0, foldedDecoderConvs: 0, convsMovedBeforeResize: 0 });
    });
  });
}
