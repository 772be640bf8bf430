// torchvision fcn_resnet50 (random seeded weights, calibrated BatchNorm) against onnxruntime-node, at the
// same reduced sizes as deeplabv3_resnet50.
import { segmentationCases } from './cases.js';
import { torchvisionModel } from './fixtures.js';
import { imagenet } from './images.js';
import { defineModelParity } from './parity-suite.js';

defineModelParity({
  title: 'fcn_resnet50, opset 14, dynamic N, H, W',
  modelPath: () => torchvisionModel('fcn_resnet50', { opset: 14 }),
  cases: segmentationCases([193, 289], [129, 129], imagenet, 41),
  relativeTolerance: 1e-4,
  minAgreement: 0.999,
});
