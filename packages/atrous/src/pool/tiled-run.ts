// `pool.runTiled`: one large image as tiles with a halo, spread over the workers, each tile running a
// whole conv stack in one worker, stitched back into one output.
import { AtrousError, show } from '../errors.js';
import { Tensor, expectFloat32 } from '../tensor.js';
import type { ConvLayer } from '../analysis/receptive-field.js';
import { alreadyAborted, checkCallOptions } from './call-options.js';
import type { TiledRunOptions } from './pool-types.js';
import { PooledConvStack } from './pooled-conv.js';
import { cropTile, pasteTile, planTiles } from './tiling.js';

/**
 * Runs `stack` on `input` as tiles, at most `lanes` at a time (one per worker, so that a large image never
 * overflows the queue). Layers given as an array are prepared with `prepare` for this run only.
 */
export async function runTiled(
  input: Tensor<'float32'>,
  stack: PooledConvStack | readonly ConvLayer[],
  options: TiledRunOptions,
  lanes: number,
  prepare: (layers: readonly ConvLayer[]) => Promise<PooledConvStack>,
): Promise<Tensor<'float32'>> {
  const op = 'runTiled';
  const x = expectFloat32(input, `${op}: input`, 4, '[N, C, H, W]');
  if (options === null || typeof options !== 'object') {
    throw new AtrousError('INVALID_ARGUMENT', `${op}: options must be { tile, signal?, timeoutMs? }, got ${show(options)}`);
  }
  checkCallOptions(options, op);
  const signal = options.signal;
  if (signal?.aborted) throw alreadyAborted(signal, op);
  // timeoutMs bounds the whole run: each tile gets what is left.
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const owned = !(stack instanceof PooledConvStack);
  const s = stack instanceof PooledConvStack ? stack : await prepare(stack);
  try {
    const outDims = s.outputDims(x.dims);
    const plan = planTiles(s.geometry, [x.dims[2]!, x.dims[3]!], options.tile);
    const output = new Float32Array(outDims.reduce((a, b) => a * b, 1));
    let next = 0;
    let failed = false;
    // After a failure no new tile starts, but tiles already running finish (cancelling them would cost their workers).
    const lane = async () => {
      while (next < plan.tiles.length && !failed) {
        const tile = plan.tiles[next++]!;
        try {
          const left = deadline === undefined ? undefined : deadline - Date.now();
          if (left !== undefined && left <= 0) {
            throw new AtrousError('TIMEOUT', `${op}: did not finish within timeoutMs = ${options.timeoutMs} (${next - 1} of ${plan.tiles.length} tiles started)`);
          }
          const y = await s.runPadded(cropTile(x, tile.input), tile.pads, { signal, timeoutMs: left, transfer: true }, op);
          pasteTile(output, outDims, y, tile.output);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(lanes, plan.tiles.length) }, lane));
    const failure = settled.find((l): l is PromiseRejectedResult => l.status === 'rejected');
    if (failure) throw failure.reason;
    return new Tensor('float32', output, outDims);
  } finally {
    if (owned) await s.dispose();
  }
}
