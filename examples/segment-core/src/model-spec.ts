import { AtrousError } from 'atrous';

export type Rgb = readonly [number, number, number];

/** How the app reads a model's output. */
export type OutputKind =
  | 'logits' // [1, C, h, w], C >= 2: a score per class, the mask is the argmax
  | 'probability'; // [1, 1, h, w] in [0, 1]: foreground where > 0.5 (class 1), else background (class 0)

/** Everything the apps need to know about a segmentation model beyond its ONNX graph. */
export interface ModelSpec {
  name: string;
  classes: string[];
  colors: Rgb[];
  /** Per-channel mean and std on the 0..1 scale: x = (pixel / 255 - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Input [height, width] the model was made (or trained) for. */
  inputSize?: [number, number];
  /** True if the model takes only `inputSize`; false if it is fully convolutional and takes any H x W. */
  fixedSize: boolean;
  /** Graph input and output to use; undefined means the session's first. */
  inputName?: string;
  outputName?: string;
  /** Index of the class that is left uncoloured in overlays, or -1. */
  background: number;
  output: OutputKind;
  /**
   * Tensor layout of the model's input and output: 'nchw' ([1, 3, H, W] in, [1, C, H, W] out, ONNX's usual)
   * or 'nhwc' ([1, H, W, 3] in, [1, H, W, C] out, as TFLite models are). Undefined means 'nchw'.
   */
  layout?: 'nchw' | 'nhwc';
  /**
   * How the apps show the mask: 'classes' (class colours over the photo, the default) or 'cutout' (a
   * person/foreground model: the background dimmed, blurred or replaced, the foreground left as it is).
   */
  view?: 'classes' | 'cutout';
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

function fail(what: string, value: unknown): never {
  throw new AtrousError('INVALID_ARGUMENT', `${what}, got ${JSON.stringify(value)}`);
}

/** A palette for models that bring no colours: black background, then well-separated hues. */
export function defaultPalette(count: number): Rgb[] {
  const fixed: Rgb[] = [
    [0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128],
    [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0], [170, 255, 195], [128, 128, 0],
    [255, 215, 180], [0, 0, 128], [128, 128, 128],
  ];
  const colors: Rgb[] = [];
  for (let i = 0; i < count; i++) {
    if (i < fixed.length) colors.push(fixed[i]);
    else colors.push(hsv((i * 0.618034) % 1, 0.65, 0.95));
  }
  return colors;
}

function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const [p, q, t] = [v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)];
  const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

function parseColor(value: unknown, where: string): Rgb {
  if (typeof value === 'string' && /^#?[0-9a-f]{6}$/i.test(value)) {
    const hex = value.replace('#', '');
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as unknown as Rgb;
  }
  if (Array.isArray(value) && value.length >= 3 && value.slice(0, 3).every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) {
    return [value[0], value[1], value[2]];
  }
  return fail(`${where} must be "#rrggbb" or [r, g, b] with 0..255 integers`, value);
}

function parseTriple(value: unknown, where: string): [number, number, number] {
  const triple = typeof value === 'number' ? [value, value, value] : value;
  if (!Array.isArray(triple) || triple.length !== 3 || !triple.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return fail(`${where} must be a number or 3 numbers`, value);
  }
  // Accept 0..255-scale statistics too (as torchvision-style and Caffe-style configs write them).
  const scale = triple.some((x: number) => Math.abs(x) > 1.5) ? 1 / 255 : 1;
  return triple.map((x: number) => x * scale) as [number, number, number];
}

function parseSize(value: unknown, where: string): [number, number] | undefined {
  if (value === undefined || value === null) return undefined;
  let hw: unknown[] | undefined;
  if (typeof value === 'number') hw = [value, value];
  else if (Array.isArray(value)) hw = value.length === 4 ? value.slice(2) : value.length === 3 ? value.slice(1) : value;
  if (!hw || hw.length !== 2 || !hw.every((x) => Number.isInteger(x) && (x as number) > 0)) {
    return fail(`${where} must be N, [H, W] or [1, 3, H, W] with positive integers`, value);
  }
  return [hw[0] as number, hw[1] as number];
}

/**
 * Reads a model description (models/default/model.json, or a `<model>.json` next to a user's .onnx).
 * Fields: classes (names, or {name, color}), colors | colours | palette, mean, std (top level or in `input`),
 * input: {name, dims (["N", 3, "H", "W"] when any size works), native_size}, output: {name} or
 * "probability", background (class index or name).
 */
export function parseModelSpec(json: unknown, name = 'model'): ModelSpec {
  if (json === null || typeof json !== 'object') fail(`${name}: the model description must be a JSON object`, json);
  const o = json as Record<string, unknown>;
  const rawClasses = o.classes ?? o.labels ?? o.class_names;
  if (!Array.isArray(rawClasses) || rawClasses.length === 0) fail(`${name}: "classes" must be a non-empty array`, rawClasses);
  const classes: string[] = [];
  const inlineColors: (Rgb | undefined)[] = [];
  for (const [i, c] of (rawClasses as unknown[]).entries()) {
    if (typeof c === 'string') {
      classes.push(c);
      inlineColors.push(undefined);
    } else if (c && typeof c === 'object' && typeof (c as { name?: unknown }).name === 'string') {
      const entry = c as { name: string; color?: unknown; colour?: unknown };
      classes.push(entry.name);
      const color = entry.color ?? entry.colour;
      inlineColors.push(color === undefined ? undefined : parseColor(color, `${name}: classes[${i}].color`));
    } else {
      fail(`${name}: classes[${i}] must be a name or {name, color}`, c);
    }
  }
  const rawColors = o.colors ?? o.colours ?? o.palette ?? undefined;
  const palette = defaultPalette(classes.length);
  let colors: Rgb[];
  if (rawColors !== undefined && rawColors !== null) {
    if (!Array.isArray(rawColors) || rawColors.length < classes.length) {
      fail(`${name}: "colors" must have one colour per class (${classes.length})`, rawColors);
    }
    colors = classes.map((_, i) => parseColor((rawColors as unknown[])[i], `${name}: colors[${i}]`));
  } else {
    colors = classes.map((_, i) => inlineColors[i] ?? palette[i]);
  }
  const input = (o.input && typeof o.input === 'object' ? o.input : {}) as Record<string, unknown>;
  const norm = (o.normalization && typeof o.normalization === 'object' ? o.normalization : {}) as Record<string, unknown>;
  const mean = o.mean ?? norm.mean ?? input.mean;
  const std = o.std ?? norm.std ?? input.std;
  const dims = input.dims ?? input.shape;
  const symbolic = Array.isArray(dims) && dims.length === 4 && (typeof dims[2] !== 'number' || typeof dims[3] !== 'number');
  const inputSize = parseSize(
    o.inputSize ?? o.input_size ?? input.size ?? input.native_size ?? input.trained_size ?? (symbolic ? undefined : dims),
    `${name}: input size`,
  );
  const outputInfo = (o.output && typeof o.output === 'object' ? o.output : {}) as Record<string, unknown>;
  let background = classes.findIndex((c) => /^(background|bg|_background_)$/i.test(c));
  if (typeof o.background === 'number') background = o.background;
  else if (typeof o.background === 'string') background = classes.indexOf(o.background);
  const output: OutputKind = o.output === 'probability' || outputInfo.kind === 'probability' ? 'probability' : 'logits';
  return {
    name: typeof o.name === 'string' ? o.name : name,
    classes,
    colors,
    mean: mean === undefined ? IMAGENET_MEAN : parseTriple(mean, `${name}: mean`),
    std: std === undefined ? IMAGENET_STD : parseTriple(std, `${name}: std`),
    inputSize,
    fixedSize: typeof o.fixedSize === 'boolean' ? o.fixedSize : !symbolic && inputSize !== undefined && !input.native_size,
    inputName: typeof input.name === 'string' ? input.name : undefined,
    outputName: typeof outputInfo.name === 'string' ? outputInfo.name : undefined,
    background,
    output,
  };
}

/**
 * ISNet (dis_isnet, as packaged by @imgly/background-removal): 1x3x1024x1024 in, pixels scaled to
 * [-0.5, 0.5] (mean 0.5, std 1), one channel out, foreground probability.
 */
export const ISNET_SPEC: ModelSpec = {
  name: 'ISNet (salient object, fp16)',
  classes: ['background', 'foreground'],
  colors: [[0, 0, 0], [255, 64, 160]],
  mean: [0.5, 0.5, 0.5],
  std: [1, 1, 1],
  inputSize: [1024, 1024],
  fixedSize: true,
  background: 0,
  output: 'probability',
};

/**
 * MediaPipe's selfie segmenter (selfie_segmentation.tflite from npm @mediapipe/selfie_segmentation,
 * Apache-2.0): NHWC [1, 256, 256, 3] RGB in [0, 1] in, [1, 256, 256, 1] person probability out.
 */
export const SELFIE_SPEC: ModelSpec = {
  name: 'Person (MediaPipe selfie segmentation)',
  classes: ['background', 'person'],
  colors: [[0, 0, 0], [255, 255, 255]],
  mean: [0, 0, 0],
  std: [1, 1, 1],
  inputSize: [256, 256],
  fixedSize: true,
  background: 0,
  output: 'probability',
  layout: 'nhwc',
  view: 'cutout',
};

/**
 * The landscape variant (selfie_segmentation_landscape.tflite, same package and licence): NHWC
 * [1, 144, 256, 3] in, [1, 144, 256, 1] out, for 16:9 video; fewer pixels, so faster per frame.
 */
export const SELFIE_LANDSCAPE_SPEC: ModelSpec = {
  ...SELFIE_SPEC,
  name: 'Person, landscape (MediaPipe selfie segmentation)',
  inputSize: [144, 256],
};

export interface UnknownModelInfo {
  name: string;
  /** Channels of the output (C of [N, C, H, W]). */
  outputChannels: number;
  /** ONNX metadata_props (see readOnnxMetadata). */
  metadata?: Record<string, string>;
  /** Names the user typed; they win over the metadata. */
  classNames?: string[];
  /** The graph input's dims, numbers where fixed and names where symbolic. */
  inputDims?: readonly (number | string | undefined)[];
}

/**
 * A spec for a model the user brings with no description: class names, palette, mean and std from the
 * ONNX metadata when the exporter put them there (`classes` / `labels` / `names`, `palette`, `mean`, `std`),
 * class names typed by the user, else "class 0", "class 1"...; ImageNet statistics by default.
 */
export function specForUnknownModel(info: UnknownModelInfo): ModelSpec {
  const metadata = info.metadata ?? {};
  const fromMetadata = namesFromMetadata(metadata);
  const count = Math.max(info.outputChannels, 2);
  const typed = info.classNames?.filter((c) => c.trim() !== '').map((c) => c.trim());
  let classes = typed?.length ? typed : fromMetadata ?? [];
  if (info.outputChannels === 1 && classes.length === 0) classes = ['background', 'foreground'];
  if (classes.length < count) classes = [...classes, ...Array.from({ length: count - classes.length }, (_, i) => `class ${classes.length + i}`)];
  const json = (key: string): unknown => {
    try {
      return metadata[key] === undefined ? undefined : JSON.parse(metadata[key]);
    } catch {
      return undefined;
    }
  };
  const dims = info.inputDims;
  const h = dims?.[2];
  const w = dims?.[3];
  const fixed = typeof h === 'number' && typeof w === 'number' && h > 0 && w > 0;
  const spec = parseModelSpec(
    {
      name: info.name,
      classes: classes.slice(0, count),
      palette: json('palette') ?? json('colors'),
      mean: json('mean'),
      std: json('std'),
      fixedSize: fixed,
      ...(fixed ? { inputSize: [h, w] } : {}),
    },
    info.name,
  );
  if (info.outputChannels === 1) spec.output = 'probability';
  if (spec.background < 0) spec.background = 0;
  return spec;
}

/**
 * The [height, width] to run an image at. Fixed-size models get their size (or `requested` x `requested`).
 * Fully convolutional ones keep the image's aspect ratio with the long side at `requested`, else at the
 * model's native size, else 512; both sides rounded to multiples of 8 so output-stride-8 grids stay aligned.
 */
export function chooseInputSize(spec: ModelSpec, imageWidth: number, imageHeight: number, requested?: number): [number, number] {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 8 || requested > 4096)) {
    throw new AtrousError('INVALID_ARGUMENT', `chooseInputSize: size must be an integer in 8..4096, got ${requested}`);
  }
  if (spec.fixedSize && spec.inputSize) return requested ? [requested, requested] : spec.inputSize;
  const long = requested ?? (spec.inputSize ? Math.max(...spec.inputSize) : 512);
  const scale = long / Math.max(imageWidth, imageHeight);
  const round8 = (x: number) => Math.max(8, Math.round(x / 8) * 8);
  return [round8(imageHeight * scale), round8(imageWidth * scale)];
}

function namesFromMetadata(metadata: Record<string, string>): string[] | undefined {
  for (const key of ['classes', 'labels', 'names', 'class_names']) {
    const value = metadata[key];
    if (value === undefined) continue;
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed.map(String);
      if (parsed && typeof parsed === 'object') {
        // {"0": "background", "1": "person"} as some exporters write it
        const entries = Object.entries(parsed as Record<string, unknown>).sort((a, b) => Number(a[0]) - Number(b[0]));
        return entries.map(([, v]) => String(v));
      }
    } catch {
      return value.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
    }
  }
  return undefined;
}
