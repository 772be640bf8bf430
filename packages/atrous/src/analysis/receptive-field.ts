import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { AutoPad, Conv2dOptions } from '../ops/conv-options.js';

/**
 * The geometry of one convolution layer, in the option shapes `conv2d` accepts: numbers or `[h, w]` pairs,
 * pads `[top, left, bottom, right]` or automatic.
 */
export interface ConvGeometry {
  kernel: number | readonly [number, number];
  strides?: number | readonly [number, number];
  dilations?: number | readonly [number, number];
  pads?: readonly [number, number, number, number] | AutoPad;
}

/** A layer as `conv2d` takes it: weights `[M, C/groups, kH, kW]` and options. */
export interface ConvLayer {
  weights: Tensor<'float32'>;
  options?: Conv2dOptions;
}

export interface ReceptiveFieldOptions {
  /**
   * `[H, W]` of the stack's input. Only needed to resolve automatic ("same-*") pads of strided layers
   * exactly; without it such pads are computed as if every size were a multiple of the stride.
   */
  inputSize?: readonly [number, number];
}

export interface GriddingWarning {
  /** `[h, w]`: the greatest common divisor of the layers' dilations (in input pixels); above 1 means a regular lattice of holes. */
  commonFactor: [number, number];
  /** `[h, w]`: the fraction of the receptive field's pixels (per axis) that reach the output at all. */
  coverage: [number, number];
  message: string;
}

export interface ReceptiveField {
  /** `[h, w]`: the input pixels (per axis) one output pixel depends on, from its first to its last. */
  field: [number, number];
  /** `[h, w]`: the effective stride ("jump"): input pixels between neighbouring output pixels. */
  jump: [number, number];
  /**
   * `[top, left, bottom, right]`: the input pixels a tile of outputs needs beyond its own span
   * `[o0 * jump, (o1) * jump)` — the halo a tiled run must read from neighbouring tiles (or, at the image
   * border, from the zero padding).
   */
  halo: [number, number, number, number];
  /** Receptive field and jump after each layer. */
  layers: { field: [number, number]; jump: [number, number] }[];
  /** Set when some pixels inside the receptive field never reach the output. */
  gridding: GriddingWarning | undefined;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function positivePair(value: unknown, name: string, fallback: number): [number, number] {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (value === undefined) return [fallback, fallback];
  if (ok(value)) return [value, value];
  if (Array.isArray(value) && value.length === 2 && ok(value[0]) && ok(value[1])) return [value[0], value[1]];
  throw new AtrousError('INVALID_ARGUMENT', `${name} must be a positive integer or a pair [h, w] of them, got ${show(value)}`);
}

/** One layer's geometry, from either form. */
export interface ResolvedGeometry {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: readonly [number, number, number, number] | AutoPad;
}

export function layerGeometry(layer: ConvGeometry | ConvLayer, name: string): ResolvedGeometry {
  if (layer === null || typeof layer !== 'object') {
    throw new AtrousError('INVALID_ARGUMENT', `${name} must be { kernel, strides?, dilations?, pads? } or { weights, options? }, got ${show(layer)}`);
  }
  let kernel: [number, number];
  let options: ConvGeometry | Conv2dOptions;
  if ('weights' in layer) {
    if (!(layer.weights instanceof Tensor) || layer.weights.dims.length !== 4) {
      throw new AtrousError('INVALID_SHAPE', `${name}.weights must be a Tensor [M, C/groups, kH, kW], got ${show(layer.weights instanceof Tensor ? layer.weights.dims : layer.weights)}`);
    }
    kernel = [layer.weights.dims[2]!, layer.weights.dims[3]!];
    options = layer.options ?? {};
  } else {
    kernel = positivePair(layer.kernel, `${name}.kernel`, 1);
    options = layer;
  }
  const pads = options.pads ?? [0, 0, 0, 0];
  if (
    !(pads === 'same-upper' || pads === 'same-lower' || pads === 'valid') &&
    !(Array.isArray(pads) && pads.length === 4 && pads.every((p) => Number.isInteger(p) && p >= 0))
  ) {
    throw new AtrousError('INVALID_ARGUMENT', `${name}.pads must be [top, left, bottom, right] or "same-upper", "same-lower", "valid", got ${show(pads)}`);
  }
  return {
    kernel,
    strides: positivePair(options.strides, `${name}.strides`, 1),
    dilations: positivePair(options.dilations, `${name}.dilations`, 1),
    pads,
  };
}

/**
 * Padding `[begin, end]` along one axis for an input of `size` (or, with `size` undefined, for a size that
 * is a multiple of the stride). ONNX SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
 */
export function axisPads(
  pads: readonly [number, number, number, number] | AutoPad,
  axis: 0 | 1,
  kernel: number,
  stride: number,
  dilation: number,
  size: number | undefined,
): [number, number] {
  if (pads === 'valid') return [0, 0];
  if (pads === 'same-upper' || pads === 'same-lower') {
    const effective = (kernel - 1) * dilation + 1;
    const total = size === undefined ? Math.max(effective - stride, 0) : Math.max((Math.ceil(size / stride) - 1) * stride + effective - size, 0);
    const small = Math.floor(total / 2);
    return pads === 'same-upper' ? [small, total - small] : [total - small, small];
  }
  return [pads[axis], pads[axis + 2]];
}

/**
 * Explains a stack of (dilated) convolutions, layer 1 first: how many input pixels one output pixel sees
 * (the receptive field), how far apart neighbouring outputs sit in the input (the jump, the product of the
 * strides), and the halo a tile of outputs needs around its own input pixels.
 *
 * With `r` the receptive field and `j` the jump before a layer of kernel `k`, dilation `d`, stride `s`:
 * `r' = r + (k - 1) * d * j` and `j' = j * s`. Three 3x3 layers with dilations 1, 2, 4 see 15x15 pixels,
 * the same as seven undilated 3x3 layers.
 *
 * Gridding: a dilated layer only mixes pixels `d` apart. When every layer's dilation (measured in input
 * pixels: `d * j`) shares a factor `g > 1` — rates 2, 4, 8 share 2 — each output depends on one pixel in
 * `g` per axis and the neighbours in between never meet: the output shows a checkerboard of independent
 * sub-grids. Hybrid rates without a common factor, like 1, 2, 5 (Wang et al., "Understanding Convolution
 * for Semantic Segmentation", 2018), cover the whole field. Even without a common factor a rate that jumps
 * past what the earlier layers cover (1, 2, 9 with 3x3 kernels) leaves gaps; the warning reports both
 * cases, with the fraction of the field that is actually covered.
 */
export function receptiveField(layers: readonly (ConvGeometry | ConvLayer)[], options: ReceptiveFieldOptions = {}): ReceptiveField {
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new AtrousError('INVALID_ARGUMENT', `receptiveField: layers must be a non-empty array of conv layers, got ${show(layers)}`);
  }
  const inputSize = options.inputSize;
  if (inputSize !== undefined) positivePair(inputSize, 'receptiveField: options.inputSize', 1);
  const field: [number, number] = [1, 1];
  const jump: [number, number] = [1, 1];
  const haloBegin: [number, number] = [0, 0];
  const size: [number | undefined, number | undefined] = [inputSize?.[0], inputSize?.[1]];
  // Offsets (in input pixels, from the field's first pixel) that some path of taps reaches.
  const reached: [Uint8Array, Uint8Array] = [new Uint8Array([1]), new Uint8Array([1])];
  const factor: [number, number] = [0, 0];
  const perLayer: ReceptiveField['layers'] = [];
  layers.forEach((layer, i) => {
    const g = layerGeometry(layer, `receptiveField: layers[${i}]`);
    for (const axis of [0, 1] as const) {
      const k = g.kernel[axis];
      const d = g.dilations[axis];
      const s = g.strides[axis];
      const [begin] = axisPads(g.pads, axis, k, s, d, size[axis]);
      const step = d * jump[axis];
      haloBegin[axis] += begin * jump[axis];
      const grown = field[axis] + (k - 1) * step;
      if (k > 1) {
        factor[axis] = gcd(factor[axis], step);
        const next = new Uint8Array(grown);
        const prev = reached[axis];
        for (let t = 0; t < k; t++) {
          for (let p = 0; p < prev.length; p++) if (prev[p]) next[p + t * step] = 1;
        }
        reached[axis] = next;
      }
      field[axis] = grown;
      jump[axis] *= s;
      const sz = size[axis];
      if (sz !== undefined) {
        const [b, e] = axisPads(g.pads, axis, k, s, d, sz);
        size[axis] = Math.floor((sz + b + e - ((k - 1) * d + 1)) / s) + 1;
      }
    }
    perLayer.push({ field: [field[0], field[1]], jump: [jump[0], jump[1]] });
  });
  const halo: [number, number, number, number] = [
    haloBegin[0],
    haloBegin[1],
    Math.max(field[0] - jump[0] - haloBegin[0], 0),
    Math.max(field[1] - jump[1] - haloBegin[1], 0),
  ];
  const coverage = reached.map((r) => r.reduce((a, b) => a + b, 0) / r.length) as [number, number];
  let gridding: GriddingWarning | undefined;
  if (coverage[0] < 1 || coverage[1] < 1) {
    const dilations = layers.map((l, i) => layerGeometry(l, `receptiveField: layers[${i}]`).dilations);
    const axes = (['height', 'width'] as const).filter((_, a) => coverage[a]! < 1);
    const parts = axes.map((name) => {
      const a = name === 'height' ? 0 : 1;
      const rates = dilations.map((d) => d[a]).join(', ');
      const pct = (coverage[a]! * 100).toFixed(1);
      return factor[a]! > 1
        ? `along the ${name}, dilations ${rates} share the factor ${factor[a]}: each output sees one input pixel in ${factor[a]} (${pct} % of its ${field[a]}-pixel field)`
        : `along the ${name}, dilations ${rates} leave gaps: each output sees ${pct} % of its ${field[a]}-pixel field`;
    });
    gridding = {
      commonFactor: [factor[0] || 1, factor[1] || 1],
      coverage,
      message: `receptiveField: gridding ${parts.join('; ')}. Use rates without a common factor that grow no faster than the field they extend, such as 1, 2, 5 (hybrid dilated convolution).`,
    };
  }
  return { field, jump, halo, layers: perLayer, gridding };
}
