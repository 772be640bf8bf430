// The user's scribbles as class ids per image pixel, and those ids as the labels the trained head sees.
// No DOM here: the page paints into a ScribbleMap and draws it; the tests paint the same way.

/**
 * The id of a pixel no brush painted (and of an erased one). It is the loss's ignoreIndex: the head learns
 * only from painted pixels. 255 so the labels fit a Uint8Array with up to 255 classes.
 */
export const UNPAINTED = 255;

/** One class id per image pixel, row-major; UNPAINTED where nothing is painted. */
export class ScribbleMap {
  readonly ids: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
      throw new RangeError(`ScribbleMap: width and height must be positive integers, got ${width} x ${height}`);
    }
    this.ids = new Uint8Array(width * height).fill(UNPAINTED);
  }

  /**
   * Paints a round brush of `radius` pixels along the segment (x0, y0) -> (x1, y1) (image pixels, fractional
   * allowed) with `id` (a class, or UNPAINTED to erase). Returns the box of pixels touched, for redrawing
   * only that part, or undefined when the stroke misses the image.
   */
  stroke(x0: number, y0: number, x1: number, y1: number, radius: number, id: number): { x: number; y: number; width: number; height: number } | undefined {
    for (const [name, v] of [['x0', x0], ['y0', y0], ['x1', x1], ['y1', y1]] as const) {
      if (!Number.isFinite(v)) throw new RangeError(`ScribbleMap.stroke: ${name} must be a finite number, got ${v}`);
    }
    if (!(radius > 0) || !Number.isFinite(radius)) throw new RangeError(`ScribbleMap.stroke: radius must be a positive number of pixels, got ${radius}`);
    if (!Number.isInteger(id) || id < 0 || id > UNPAINTED) throw new RangeError(`ScribbleMap.stroke: id must be a class id in [0, ${UNPAINTED}], got ${id}`);
    const left = Math.max(0, Math.floor(Math.min(x0, x1) - radius));
    const right = Math.min(this.width - 1, Math.ceil(Math.max(x0, x1) + radius));
    const top = Math.max(0, Math.floor(Math.min(y0, y1) - radius));
    const bottom = Math.min(this.height - 1, Math.ceil(Math.max(y0, y1) + radius));
    if (left > right || top > bottom) return undefined;
    const dx = x1 - x0;
    const dy = y1 - y0;
    const length2 = dx * dx + dy * dy;
    const r2 = radius * radius;
    for (let y = top; y <= bottom; y++) {
      // Pixel centres: pixel (x, y) covers [x, x + 1) x [y, y + 1).
      const py = y + 0.5;
      for (let x = left; x <= right; x++) {
        const px = x + 0.5;
        // Distance from the pixel centre to the closest point of the segment.
        const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / length2));
        const ex = px - (x0 + t * dx);
        const ey = py - (y0 + t * dy);
        if (ex * ex + ey * ey <= r2) this.ids[y * this.width + x] = id;
      }
    }
    return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 };
  }

  clear(): void {
    this.ids.fill(UNPAINTED);
  }

  /** Painted pixels per class id, for classes 0 .. classes - 1. */
  counts(classes: number): number[] {
    const counts = new Array<number>(classes).fill(0);
    for (const id of this.ids) if (id < classes) counts[id]!++;
    return counts;
  }

  /** Sets a class's pixels to UNPAINTED and moves higher ids down by one (a class removed from the list). */
  removeClass(id: number): void {
    for (let i = 0; i < this.ids.length; i++) {
      const v = this.ids[i]!;
      if (v === id) this.ids[i] = UNPAINTED;
      else if (v !== UNPAINTED && v > id) this.ids[i] = v - 1;
    }
  }
}

/**
 * The scribbles as labels on the grid the head trains at (the feature map, `gridWidth x gridHeight` over the
 * whole image): each cell takes the class most of the painted pixels under it have. A cell with no painted
 * pixel, or a tie between classes (a cell on the border the user drew between two classes), is UNPAINTED.
 * Ids at or above `classes` count as unpainted. Cell (gx, gy) covers image columns
 * [floor(gx * W / gw), floor((gx + 1) * W / gw)) and likewise rows; a grid finer than the image gives each
 * cell at least the pixel under its centre.
 */
export function labelsOnGrid(map: ScribbleMap, gridWidth: number, gridHeight: number, classes: number): Uint8Array {
  if (!Number.isInteger(gridWidth) || gridWidth < 1 || !Number.isInteger(gridHeight) || gridHeight < 1) {
    throw new RangeError(`labelsOnGrid: the grid must be positive integers, got ${gridWidth} x ${gridHeight}`);
  }
  if (!Number.isInteger(classes) || classes < 1 || classes >= UNPAINTED) throw new RangeError(`labelsOnGrid: classes must be an integer in [1, ${UNPAINTED}), got ${classes}`);
  const { width, height, ids } = map;
  const labels = new Uint8Array(gridWidth * gridHeight).fill(UNPAINTED);
  const votes = new Int32Array(classes);
  const span = (cell: number, grid: number, size: number): [number, number] => {
    let start = Math.floor((cell * size) / grid);
    let end = Math.floor(((cell + 1) * size) / grid);
    if (end <= start) {
      start = Math.min(size - 1, Math.floor(((cell + 0.5) * size) / grid));
      end = start + 1;
    }
    return [start, end];
  };
  for (let gy = 0; gy < gridHeight; gy++) {
    const [y0, y1] = span(gy, gridHeight, height);
    for (let gx = 0; gx < gridWidth; gx++) {
      const [x0, x1] = span(gx, gridWidth, width);
      votes.fill(0);
      let painted = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const id = ids[y * width + x]!;
          if (id < classes) {
            votes[id]!++;
            painted++;
          }
        }
      }
      if (painted === 0) continue;
      let best = 0;
      let tie = false;
      for (let c = 1; c < classes; c++) {
        if (votes[c]! > votes[best]!) {
          best = c;
          tie = false;
        } else if (votes[c] === votes[best]) tie = true;
      }
      if (!tie) labels[gy * gridWidth + gx] = best;
    }
  }
  return labels;
}
