// torchvision lraspp_mobilenet_v3_large (random seeded weights, calibrated BatchNorm) against onnxruntime-node.
import { segmentationCases } from './cases.js';
import { torchvisionModel } from './fixtures.js';
import { imagenet, noise } from './images.js';
import { defineModelParity } from './parity-suite.js';

defineModelParity({
  title: 'lraspp_mobilenet_v3_large, opset 11, dynamic N, H, W',
  modelPath: () => torchvisionModel('lraspp_mobilenet_v3_large', { opset: 11 }),
  cases: segmentationCases([321, 481], [257, 257], imagenet, 21),
  relativeTolerance: 1e-4,
  minAgreement: 0.999,
});

defineModelParity({
  title: 'lraspp_mobilenet_v3_large, opset 16, fixed [1, 3, 481, 321]',
  modelPath: () => torchvisionModel('lraspp_mobilenet_v3_large', { opset: 16, size: [481, 321], batch: 1 }),
  cases: [{ name: 'noise', dims: [1, 3, 481, 321], input: () => noise(3 * 481 * 321, 22) }],
  relativeTolerance: 1e-4,
  minAgreement: 0.999,
});
