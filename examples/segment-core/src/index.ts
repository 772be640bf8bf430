export { parseModelSpec, specForUnknownModel, chooseInputSize, defaultPalette, type UnknownModelInfo, ISNET_SPEC, SELFIE_SPEC, SELFIE_LANDSCAPE_SPEC, type ModelSpec, type OutputKind, type Rgb } from './model-spec.js';
export { readOnnxMetadata } from './onnx-metadata.js';
export { imageToPlanes, imageToTensor, planesToNhwc, fitWithin, checkImage, type RgbaImage } from './image.js';
export { decodeMask, nhwcToNchw, probabilityAlpha, cutout, colorizeMask, overlayMask, maskFromColors, maskIoU, classShares, type ClassMask, type ScoreMap } from './mask.js';
export { ScribbleMap, labelsOnGrid, UNPAINTED } from './teach/scribbles.js';
export { buildFeatureExtractor, buildHead, spliceTaughtModel, FEATURES, HEAD_PARAMETERS, type ExtractorOptions, type HeadOptions, type TaughtModelInfo } from './teach/teach-models.js';
export { TEACH_RECIPE, TEACH_COLORS, TEACH_FEATURES, type TeachFeatureSource, type TeachFeatures } from './teach/teach-recipe.js';
export { seededRandom } from './seeded-random.js';
