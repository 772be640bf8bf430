import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { AtrousError } from '../errors.js';
import { ModelBuilder, f } from '../../test-support/onnx-builder.js';
import { halfToFloat } from './data-types.js';
import { parseModel } from './model-parser.js';

const { onnx } = onnxProto;

function failure(run: () => unknown): AtrousError {
  try {
    run();
  } catch (e) {
    if (e instanceof AtrousError) return e;
    throw e;
  }
  throw new Error('expected an AtrousError');
}

function halves(values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, true));
  return bytes;
}

describe('parseModel', () => {
  it('reads opset, inputs (without initializers), attributes of every kind and initializers', () => {
    const m = new ModelBuilder(17);
    m.input('x', [1, 'channels', 4, 4]);
    m.init('w', [2, 3], [1, 2, 3, 4, 5, 6]);
    m.init('shape', [2], [-1, 9007199254740991], onnx.TensorProto.DataType.INT64);
    m.node('Conv', ['x', 'w'], ['y'], { strides: [2, 2], group: 1, alpha: f(0.25), mode: 'linear', betas: f([1, 2]) }, 'conv1');
    m.output('y');
    const g = parseModel(m.bytes());
    expect(g.opset).toBe(17);
    expect(g.inputs.map((v) => [v.name, v.elemType, v.dims])).toEqual([['x', 'float32', [1, 'channels', 4, 4]]]);
    expect(Array.from(g.initializers.get('w')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(g.initializers.get('shape')!.data)).toEqual([-1, 9007199254740991]);
    const node = g.nodes[0]!;
    expect(node.name).toBe('conv1');
    expect(node.attributes.get('strides')).toEqual([2, 2]);
    expect(node.attributes.get('group')).toBe(1);
    expect(node.attributes.get('alpha')).toBeCloseTo(0.25);
    expect(node.attributes.get('mode')).toBe('linear');
    expect(node.attributes.get('betas')).toEqual([1, 2]);
  });

  it('decodes float16 initializers from raw_data and from int32_data (normals, subnormals, extremes)', () => {
    const bits = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00];
    const want = [1, -2, 0.5, 65504, 2 ** -24, -0, Infinity];
    const m = new ModelBuilder(13);
    m.input('x', [7]);
    m.initRaw('raw', { dims: [7], dataType: onnx.TensorProto.DataType.FLOAT16, rawData: halves(bits) });
    m.initRaw('ints', { dims: [7], dataType: onnx.TensorProto.DataType.FLOAT16, values: bits });
    m.node('Add', ['x', 'raw'], ['y']);
    m.node('Add', ['y', 'ints'], ['z']);
    m.output('z');
    const g = parseModel(m.bytes());
    for (const name of ['raw', 'ints']) {
      const t = g.initializers.get(name)!;
      expect(t.type).toBe('float32');
      expect(Array.from(t.data)).toEqual(want);
    }
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it('reads raw_data that sits at an odd byte offset', () => {
    const values = new Float32Array([1.5, -2.25, 3e-3]);
    const m = new ModelBuilder(13);
    m.input('x', [3]);
    m.initRaw('w', { dims: [3], rawData: new Uint8Array(values.buffer) });
    m.initRaw('pad', { dims: [1], dataType: onnx.TensorProto.DataType.UINT8, rawData: new Uint8Array([7]) });
    m.node('Add', ['x', 'w'], ['y']);
    m.output('y');
    const bytes = m.bytes();
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(Array.from(parseModel(shifted.subarray(1)).initializers.get('w')!.data)).toEqual(Array.from(values));
  });

  it('rejects external data with a clear UNSUPPORTED error naming the tensor', () => {
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ version: 13 }],
      graph: {
        node: [{ opType: 'Relu', input: ['w'], output: ['y'] }],
        initializer: [{ name: 'w', dims: [4], dataType: 1, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: 'w.bin' }] }],
        output: [{ name: 'y' }],
      },
    }).finish();
    const e = failure(() => parseModel(model));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/initializer "w" keeps its data in an external file/);
  });

  it('refuses DOUBLE graph inputs and DOUBLE constants float32 cannot hold, and keeps DOUBLE outputs', () => {
    const T = onnx.TensorProto.DataType;
    const model = (inputType: number, init?: { doubleData?: number[]; rawData?: Uint8Array }) => onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ version: 13 }],
      graph: {
        node: [{ opType: 'Add', input: ['x', 'c'], output: ['y'] }],
        input: [{ name: 'x', type: { tensorType: { elemType: inputType, shape: { dim: [{ dimValue: 2 }] } } } }],
        initializer: [{ name: 'c', dims: [2], dataType: T.DOUBLE, ...(init ?? { doubleData: [1.5, -2] }) }],
        output: [{ name: 'y', type: { tensorType: { elemType: T.DOUBLE, shape: { dim: [{ dimValue: 2 }] } } } }],
      },
    }).finish();
    const e = failure(() => parseModel(model(T.DOUBLE)));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toMatch(/graph input "x" has element type DOUBLE/);
    expect(Array.from(parseModel(model(T.FLOAT)).initializers.get('c')!.data)).toEqual([1.5, -2]);
    for (const bad of [1e300, -1e39, 1e-300]) {
      const raw = new Uint8Array(16);
      new DataView(raw.buffer).setFloat64(8, bad, true);
      for (const init of [{ doubleData: [0, bad] }, { rawData: raw }]) {
        const e2 = failure(() => parseModel(model(T.FLOAT, init)));
        expect(e2.code).toBe('UNSUPPORTED');
        expect(e2.message).toMatch(/initializer "c" \(DOUBLE\) holds .*float32 cannot hold/);
      }
    }
    const inf = parseModel(model(T.FLOAT, { doubleData: [Infinity, 1e-40] })).initializers.get('c')!.data;
    expect(inf[0]).toBe(Infinity);
  });

  it('rejects empty, truncated, non-ONNX and inconsistent models with INVALID_MODEL', () => {
    const m = new ModelBuilder(13);
    m.input('x', [4]);
    m.init('w', [4], [1, 2, 3, 4]);
    m.node('Add', ['x', 'w'], ['y']);
    m.output('y');
    const bytes = m.bytes();
    expect(failure(() => parseModel(new Uint8Array())).code).toBe('INVALID_MODEL');
    expect(failure(() => parseModel(bytes.subarray(0, bytes.length - 5))).code).toBe('INVALID_MODEL');
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const notOnnx = failure(() => parseModel(png));
    expect(notOnnx.code).toBe('INVALID_MODEL');
    expect(notOnnx.message).toMatch(/89 50 4e 47/);
    // A weight the file lost: the error names the value and the node reading it.
    const lost = new ModelBuilder(13);
    lost.input('x', [4]);
    lost.node('Add', ['x', 'bias'], ['y'], {}, 'add_bias');
    lost.output('y');
    const e = failure(() => parseModel(lost.bytes()));
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toMatch(/Add node "add_bias" reads "bias".*missing initializer/);
  });

  it('sorts nodes given out of order and rejects cycles', () => {
    const m = new ModelBuilder(13);
    m.input('x', [4]);
    m.node('Relu', ['a'], ['b'], {}, 'second');
    m.node('Relu', ['x'], ['a'], {}, 'first');
    m.output('b');
    expect(parseModel(m.bytes()).nodes.map((n) => n.name)).toEqual(['first', 'second']);
    const c = new ModelBuilder(13);
    c.input('x', [4]);
    c.node('Add', ['x', 'b'], ['a'], {}, 'one');
    c.node('Relu', ['a'], ['b'], {}, 'two');
    c.output('b');
    const e = failure(() => parseModel(c.bytes()));
    expect(e.code).toBe('INVALID_MODEL');
    expect(e.message).toMatch(/cycle/);
  });
});
