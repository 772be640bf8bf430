// Splitting a large image into tiles that a stack of convolutions can process independently, and putting
// the results back together. A tile's input is its share of the image plus a halo of real neighbour pixels;
// each layer then runs on the tile with explicit pads: the layer's true zero padding where the tile touches
// the image border, none where the halo already holds the neighbours. The stitched output then equals the
// untiled one (up to float summation order).
//
// Only operations with a bounded receptive field tile this way. A global operation (global average
// pooling, an ASPP image-pooling branch, attention over the whole image) sees the whole image in every
// output pixel: run per tile it sees only the tile, and the stitched result differs from the untiled one.
import { AtrousError, show } from '../errors.js';
import { Tensor } from '../tensor.js';
import { axisPads, layerGeometry, receptiveField, type ConvGeometry, type ConvLayer, type ReceptiveField } from '../analysis/receptive-field.js';

/** `[begin, end)` along H, then along W. */
export type Region = [y0: number, y1: number, x0: number, x1: number];

export interface Tile {
  /** Where the tile's result goes in the final output. */
  output: Region;
  /** The part of the input image the tile reads (its share plus the halo). */
  input: Region;
  /** `[top, left, bottom, right]` for each layer, for this tile. */
  pads: [number, number, number, number][];
}

export interface TilePlan {
  /** `[OH, OW]` of the whole output. */
  outputSize: [number, number];
  tiles: Tile[];
  /** The stack's receptive field, jump and halo at this input size. */
  receptiveField: ReceptiveField;
}

interface AxisLayer {
  kernel: number;
  stride: number;
  dilation: number;
  pads: [number, number];
}

function tileSize(tile: unknown): [number, number] {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (ok(tile)) return [tile, tile];
  if (Array.isArray(tile) && tile.length === 2 && ok(tile[0]) && ok(tile[1])) return [tile[0], tile[1]];
  throw new AtrousError('INVALID_ARGUMENT', `planTiles: tile (runTiled: options.tile) must be a positive integer or [h, w] (output pixels per tile), got ${show(tile)}`);
}

/**
 * For the output range `[a, b)` of the last layer, walks back through the layers: the input range each
 * layer needs, clipped to the image, and the pads that stand in for what the clipping removed.
 */
function backward(layers: AxisLayer[], sizes: number[], a: number, b: number, axisName: string): { range: [number, number]; pads: [number, number][] } {
  const pads: [number, number][] = new Array(layers.length);
  for (let l = layers.length - 1; l >= 0; l--) {
    const { kernel, stride, dilation, pads: [begin] } = layers[l]!;
    const start = a * stride - begin;
    const end = (b - 1) * stride - begin + (kernel - 1) * dilation + 1;
    const lo = Math.max(0, start);
    const hi = Math.min(sizes[l]!, end);
    if (hi <= lo) {
      throw new AtrousError(
        'INVALID_SHAPE',
        `planTiles: along the ${axisName}, outputs [${a}, ${b}) of layer ${l} read only padding (input rows [${start}, ${end}) of ${sizes[l]}); ` +
          'pads this large cannot be tiled, use a larger tile',
      );
    }
    pads[l] = [lo - start, end - hi];
    a = lo;
    b = hi;
  }
  return { range: [a, b], pads };
}

/**
 * Plans the tiles of a conv stack over an input of `[H, W]`: output tiles of `tile` pixels (the last row
 * and column of tiles may be smaller), each with the input region and per-layer pads it needs.
 */
export function planTiles(
  layers: readonly (ConvGeometry | ConvLayer)[],
  inputSize: readonly [number, number],
  tile: number | readonly [number, number],
): TilePlan {
  const [th, tw] = tileSize(tile);
  const rf = receptiveField(layers, { inputSize });
  const perAxis: AxisLayer[][] = [[], []];
  const sizes: number[][] = [[inputSize[0]], [inputSize[1]]];
  layers.forEach((layer, l) => {
    const g = layerGeometry(layer, `planTiles: layers[${l}]`);
    for (const axis of [0, 1] as const) {
      const size = sizes[axis]!.at(-1)!;
      const p = axisPads(g.pads, axis, g.kernel[axis], g.strides[axis], g.dilations[axis], size);
      const al: AxisLayer = { kernel: g.kernel[axis], stride: g.strides[axis], dilation: g.dilations[axis], pads: p };
      perAxis[axis]!.push(al);
      const out = Math.floor((size + p[0] + p[1] - ((al.kernel - 1) * al.dilation + 1)) / al.stride) + 1;
      if (out < 1) {
        throw new AtrousError('INVALID_SHAPE', `planTiles: the ${axis === 0 ? 'height' : 'width'} shrinks below 1 pixel at layers[${l}] (input size ${show(inputSize)})`);
      }
      sizes[axis]!.push(out);
    }
  });
  const outputSize: [number, number] = [sizes[0]!.at(-1)!, sizes[1]!.at(-1)!];
  const rows: ReturnType<typeof backward>[] = [];
  const rowRanges: [number, number][] = [];
  for (let y = 0; y < outputSize[0]; y += th) {
    const r: [number, number] = [y, Math.min(y + th, outputSize[0])];
    rowRanges.push(r);
    rows.push(backward(perAxis[0]!, sizes[0]!, r[0], r[1], 'height'));
  }
  const cols: ReturnType<typeof backward>[] = [];
  const colRanges: [number, number][] = [];
  for (let x = 0; x < outputSize[1]; x += tw) {
    const c: [number, number] = [x, Math.min(x + tw, outputSize[1])];
    colRanges.push(c);
    cols.push(backward(perAxis[1]!, sizes[1]!, c[0], c[1], 'width'));
  }
  const tiles: Tile[] = [];
  rows.forEach((row, i) => {
    cols.forEach((col, j) => {
      tiles.push({
        output: [rowRanges[i]![0], rowRanges[i]![1], colRanges[j]![0], colRanges[j]![1]],
        input: [row.range[0], row.range[1], col.range[0], col.range[1]],
        pads: row.pads.map((rp, l) => [rp[0], col.pads[l]![0], rp[1], col.pads[l]![1]]),
      });
    });
  });
  return { outputSize, tiles, receptiveField: rf };
}

/** Copies `region` of an `[N, C, H, W]` tensor into a new tensor `[N, C, y1 - y0, x1 - x0]`. */
export function cropTile(x: Tensor<'float32'>, [y0, y1, x0, x1]: Region): Tensor<'float32'> {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const th = y1 - y0;
  const tw = x1 - x0;
  const out = new Float32Array(n * c * th * tw);
  let o = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = y0; y < y1; y++) {
      const from = (plane * h + y) * w + x0;
      out.set(x.data.subarray(from, from + tw), o);
      o += tw;
    }
  }
  return new Tensor('float32', out, [n, c, th, tw]);
}

/** Writes a tile's result `[N, M, y1 - y0, x1 - x0]` into `output` `[N, M, OH, OW]` at `region`. */
export function pasteTile(output: Float32Array, outputDims: readonly number[], tile: Tensor<'float32'>, [y0, y1, x0, x1]: Region): void {
  const [n, m, oh, ow] = outputDims as [number, number, number, number];
  const th = y1 - y0;
  const tw = x1 - x0;
  if (tile.dims[0] !== n || tile.dims[1] !== m || tile.dims[2] !== th || tile.dims[3] !== tw) {
    throw new AtrousError('INTERNAL', `runTiled: a tile came back with dims ${show(tile.dims)}, expected ${show([n, m, th, tw])}`);
  }
  let i = 0;
  for (let plane = 0; plane < n * m; plane++) {
    for (let y = y0; y < y1; y++) {
      output.set(tile.data.subarray(i, i + tw), (plane * oh + y) * ow + x0);
      i += tw;
    }
  }
}
