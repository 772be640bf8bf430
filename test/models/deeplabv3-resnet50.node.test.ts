// torchvision deeplabv3_resnet50 (random seeded weights, calibrated BatchNorm) against onnxruntime-node.
// Smaller inputs than the MobileNet models keep the suite's time sane (ResNet-50 at output stride 8 costs
// about 30x more per pixel); both sizes and both batch sizes are still covered.
import { segmentationCases } from './cases.js';
import { torchvisionModel } from './fixtures.js';
import { imagenet } from './images.js';
import { defineModelParity } from './parity-suite.js';

defineModelParity({
  title: 'deeplabv3_resnet50, opset 12, dynamic N, H, W',
  modelPath: () => torchvisionModel('deeplabv3_resnet50', { opset: 12 }),
  cases: segmentationCases([193, 289], [129, 129], imagenet, 31),
  relativeTolerance: 1e-4,
  minAgreement: 0.999,
});
