import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto');

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function valueInfo(name, dims) {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  };
}

function ints(name, values) {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values };
}

function initializer(name, dims, data) {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * One ONNX Conv node, opset 13: input `X` [1, C, H, W] (the only graph input), weights `W` and bias `B` as
 * initializers (so runtimes may prepack them at session creation), output `Y`.
 */
export function convModel(k, data, outDims) {
  const model = onnx.ModelProto.fromObject({
    irVersion: 7,
    producerName: 'atrous-bench',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: `conv_${k.id}`,
      node: [
        {
          opType: 'Conv',
          input: ['X', 'W', 'B'],
          output: ['Y'],
          attribute: [
            ints('kernel_shape', k.kernel),
            ints('dilations', k.dilations),
            ints('strides', k.strides),
            ints('pads', [k.pads[0], k.pads[1], k.pads[2], k.pads[3]]),
            { name: 'group', type: onnx.AttributeProto.AttributeType.INT, i: k.groups },
          ],
        },
      ],
      initializer: [
        initializer('W', [k.m, k.c / k.groups, k.kernel[0], k.kernel[1]], data.weights),
        initializer('B', [k.m], data.bias),
      ],
      input: [valueInfo('X', [1, k.c, k.hw[0], k.hw[1]])],
      output: [valueInfo('Y', outDims)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
