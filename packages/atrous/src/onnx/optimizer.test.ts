import { beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../test-support/run-env.js';
import type { RunEnv } from './value.js';
import { ModelBuilder, f, randomFloats } from '../../test-support/onnx-builder.js';
import { foldConstants } from './constant-folding.js';
import type { GraphIR } from './graph.js';
import { parseModel } from './model-parser.js';
import { optimizeGraph } from './optimizer.js';
import { fusedActivation } from './ops/conv.js';

function conv(m: ModelBuilder, name: string, x: string, c = 4, bias = true): string {
  m.init(`${name}_w`, [c, c, 3, 3], randomFloats(c * c * 9, name.length));
  if (bias) m.init(`${name}_b`, [c], randomFloats(c, 9));
  return m.node('Conv', [x, `${name}_w`, ...(bias ? [`${name}_b`] : [])], 1, { pads: [1, 1, 1, 1] }, name);
}

function bn(m: ModelBuilder, name: string, x: string, c = 4): string {
  m.init(`${name}_g`, [c], [1, 2, 0.5, -1]);
  m.init(`${name}_beta`, [c], [0.1, 0.2, 0.3, 0.4]);
  m.init(`${name}_mean`, [c], [1, -1, 0, 2]);
  m.init(`${name}_var`, [c], [4, 1, 0.25, 9]);
  return m.node('BatchNormalization', [x, `${name}_g`, `${name}_beta`, `${name}_mean`, `${name}_var`], 1, { epsilon: f(0) }, name);
}

function optimized(m: ModelBuilder): { graph: GraphIR; report: ReturnType<typeof optimizeGraph> } {
  const graph = parseModel(m.bytes());
  foldConstants(graph, env);
  return { graph, report: optimizeGraph(graph) };
}

let env: RunEnv;
beforeAll(async () => {
  env = await testEnv();
});

describe('optimizeGraph', () => {
  it('folds BatchNorm into the Conv weights and bias, per output channel', () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 4, 5, 5]);
    m.node('Relu', [bn(m, 'bn', conv(m, 'c', 'x'))], ['y']);
    m.output('y');
    const { graph, report } = optimized(m);
    expect(report).toEqual({ foldedBatchNorms: 1, fusedActivations: 1, fusedResiduals: 0, foldedBiasAdds: 0, fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0, foldedDecoderConvs: 0, convsMovedBeforeResize: 0 });
    expect(graph.nodes.map((n) => `${n.domain}.${n.opType}`)).toEqual(['atrous.FusedConv']);
    const node = graph.nodes[0]!;
    expect(node.outputs).toEqual(['y']);
    expect(fusedActivation(node)).toBe('relu');
    const w0 = randomFloats(144, 1);
    const b0 = randomFloats(4, 9);
    const w = graph.initializers.get(node.inputs[1]!)!.data;
    const b = graph.initializers.get(node.inputs[2]!)!.data;
    const scale = [1 / 2, 2 / 1, 0.5 / 0.5, -1 / 3];
    const shift = [0.1 - 1 * scale[0]!, 0.2 + 1 * scale[1]!, 0.3, 0.4 - 2 * scale[3]!];
    for (let o = 0; o < 4; o++) {
      expect(b[o]).toBeCloseTo(b0[o]! * scale[o]! + shift[o]!, 6);
      for (let i = 0; i < 36; i++) expect(w[o * 36 + i]).toBeCloseTo(w0[o * 36 + i]! * scale[o]!, 6);
    }
    // The original weights stay for anyone else reading them.
    expect(graph.initializers.get('c_w')!.data).toEqual(w0);
  });

  it('fuses a residual Add and the activation after it, and runs the conv where the Add was', () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 4, 5, 5]);
    const main = bn(m, 'bn', conv(m, 'c1', 'x', 4, false));
    const side = m.node('Sigmoid', [conv(m, 'c2', 'x')]); // computed after c1 in file order
    m.init('lo', [], [0]);
    m.init('hi', [], [6]);
    m.node('Clip', [m.node('Add', [side, main]), 'lo', 'hi'], ['y']);
    m.output('y');
    const { graph, report } = optimized(m);
    expect(report).toEqual({ foldedBatchNorms: 1, fusedActivations: 2, fusedResiduals: 1, foldedBiasAdds: 0, fusedLayerNorms: 0, fusedGelus: 0, fusedMatMulBiases: 0, foldedDecoderConvs: 0, convsMovedBeforeResize: 0 });
    const order = graph.nodes.map((n) => n.name);
    expect(order).toEqual(['c2', 'c1']);
    const c1 = graph.nodes[1]!;
    expect(c1.inputs[3]).toBe(graph.nodes[0]!.outputs[0]);
    expect(fusedActivation(c1)).toEqual({ type: 'clip', min: 0, max: 6 });
    expect(fusedActivation(graph.nodes[0]!)).toBe('sigmoid');
  });

  it('folds a per-channel constant Add into the bias, before and after a BatchNorm', () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 4, 5, 5]);
    m.init('b1', [1, 4, 1, 1], [1, 2, 3, 4]);
    m.init('b2', [4, 1, 1], [10, 20, 30, 40]);
    const c = conv(m, 'c', 'x', 4, false);
    const y = m.node('Add', [m.node('Add', ['b1', c]), 'b2']);
    m.init('whole', [1, 4, 5, 5], randomFloats(100, 3)); // not per channel: stays a residual-shaped constant Add
    m.node('Add', [y, 'whole'], ['out']);
    m.output('out');
    const { graph, report } = optimized(m);
    expect(report.foldedBiasAdds).toBe(2);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Add']);
    expect(Array.from(graph.initializers.get(graph.nodes[0]!.inputs[2]!)!.data)).toEqual([11, 22, 33, 44]);
  });

  it("recognizes PyTorch's x * HardSigmoid(x) as HardSwish", () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 4, 5, 5]);
    const c = conv(m, 'c', 'x');
    m.node('Mul', [c, m.node('HardSigmoid', [c], 1, { alpha: f(1 / 6), beta: f(0.5) })], ['y']);
    m.output('y');
    const { graph } = optimized(m);
    expect(graph.nodes.length).toBe(1);
    expect(fusedActivation(graph.nodes[0]!)).toBe('hardSwish');
    expect(graph.nodes[0]!.outputs).toEqual(['y']);
  });

  it('leaves a conv alone when its output is read twice or is a graph output', () => {
    const m = new ModelBuilder(13);
    m.input('x', [1, 4, 5, 5]);
    const c = conv(m, 'c', 'x');
    m.node('Relu', [c], ['a']);
    m.node('Sigmoid', [c], ['b']);
    m.node('Relu', [conv(m, 'd', 'x')], ['e']);
    m.output('a');
    m.output('b');
    m.output('e');
    const { graph, report } = optimized(m);
    expect(report.fusedActivations).toBe(1);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'Sigmoid', 'FusedConv']);
    const g2 = new ModelBuilder(13);
    g2.input('x', [1, 4, 5, 5]);
    const out = conv(g2, 'c', 'x');
    g2.node('Relu', [out], ['r']);
    g2.output(out);
    g2.output('r');
    expect(optimized(g2).report.fusedActivations).toBe(0);
  });

  describe('1x1 convs after an upsampling Resize', () => {
    /** x [1, c, 4, 4] -> Resize(scales) -> Conv 1x1 (c -> m, bias) -> Relu -> y. */
    function decoder(o: { c?: number; m?: number; scales?: number[]; sizes?: boolean; readTwice?: boolean; kernel?: number } = {}): ModelBuilder {
      const { c = 8, m: out = 4, scales = [1, 1, 2, 2], kernel = 1 } = o;
      const m = new ModelBuilder(13);
      m.input('x', [1, c, 4, 4]);
      if (o.sizes) m.init('sizes', [4], [1, c, 8, 8], 7);
      else m.init('scales', [4], scales);
      const up = m.node('Resize', ['x', '', o.sizes ? '' : 'scales', ...(o.sizes ? ['sizes'] : [])], 1, { mode: 'linear' }, 'up');
      m.init('w', [out, c, kernel, kernel], randomFloats(out * c * kernel * kernel, 3));
      m.init('b', [out], randomFloats(out, 4));
      m.node('Relu', [m.node('Conv', [up, 'w', 'b'], 1, {}, 'mix')], ['y']);
      m.output('y');
      if (o.readTwice) m.output(up);
      return m;
    }

    it('moves the conv before the Resize, keeping the activation after it', () => {
      const { graph, report } = optimized(decoder());
      expect(report.convsMovedBeforeResize).toBe(1);
      expect(report.fusedActivations).toBe(0);
      expect(graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Resize', 'Relu']);
      const [conv, resize, relu] = graph.nodes;
      expect(conv!.inputs[0]).toBe('x');
      expect(resize!.inputs[0]).toBe(conv!.outputs[0]);
      expect(relu!.inputs[0]).toBe(resize!.outputs[0]);
    });

    it('leaves it where it costs more or is not known to pay: more outputs, downsampling, sizes, a shared Resize, 3x3', () => {
      for (const [what, m] of [
        ['more output channels', decoder({ c: 4, m: 8 })],
        ['downsampling', decoder({ scales: [1, 1, 0.5, 2] })],
        ['sizes', decoder({ sizes: true })],
        ['Resize read twice', decoder({ readTwice: true })],
        ['3x3 conv', decoder({ kernel: 3 })],
      ] as const) {
        const { graph, report } = optimized(m);
        expect(report.convsMovedBeforeResize, what).toBe(0);
        expect(graph.nodes[0]!.opType, what).toBe('Resize');
      }
    });
  });
});
