export { parseModelSpec, specForUnknownModel, chooseInputSize, defaultPalette, type UnknownModelInfo, ISNET_SPEC, type ModelSpec, type OutputKind, type Rgb } from './model-spec.js';
export { readOnnxMetadata } from './onnx-metadata.js';
export { imageToPlanes, imageToTensor, fitWithin, checkImage, type RgbaImage } from './image.js';
export { decodeMask, colorizeMask, overlayMask, maskFromColors, maskIoU, classShares, type ClassMask, type ScoreMap } from './mask.js';
