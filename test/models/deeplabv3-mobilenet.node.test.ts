// torchvision deeplabv3_mobilenet_v3_large (random seeded weights, calibrated BatchNorm) against onnxruntime-node.
import { segmentationCases } from './cases.js';
import { torchvisionModel } from './fixtures.js';
import { batchOf, imagenet, noise } from './images.js';
import { defineModelParity } from './parity-suite.js';

defineModelParity({
  title: 'deeplabv3_mobilenet_v3_large, opset 13, dynamic N, H, W',
  modelPath: () => torchvisionModel('deeplabv3_mobilenet_v3_large', { opset: 13 }),
  cases: segmentationCases([321, 481], [257, 257], imagenet, 11),
  relativeTolerance: 1e-4,
  minAgreement: 0.999,
});

defineModelParity({
  title: 'deeplabv3_mobilenet_v3_large, opset 17, fixed [2, 3, 257, 257]',
  modelPath: () => torchvisionModel('deeplabv3_mobilenet_v3_large', { opset: 17, size: [257, 257], batch: 2 }),
  cases: [{ name: 'noise', dims: [2, 3, 257, 257], input: () => batchOf([noise(3 * 257 * 257, 12), noise(3 * 257 * 257, 13)]) }],
  relativeTolerance: 1e-4,
  minAgreement: 0.999,
});
