// onnxruntime-node as the oracle for ONNX sessions: the same model bytes, the same feeds.
import * as ort from 'onnxruntime-node';
import { Tensor } from 'atrous';

export async function ortRun(bytes: Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, { data: ArrayLike<number | bigint>; dims: readonly number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, [...t.dims]);
  const out = await session.run(ortFeeds);
  const result: Record<string, { data: ArrayLike<number | bigint>; dims: readonly number[] }> = {};
  for (const [name, t] of Object.entries(out)) result[name] = { data: t.data as ArrayLike<number>, dims: t.dims };
  await session.release();
  return result;
}

/** max |a - b| / max |b|: the parity measure (tolerance 1e-4). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}
