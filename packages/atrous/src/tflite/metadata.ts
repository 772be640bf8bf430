import type { ModelMetadata } from '../onnx/graph.js';
import type { Model } from './schema/tflite_generated.js';

/** A metadata buffer as text when it is printable UTF-8 (`min_runtime_version` is "1.5.0"), else its size. */
function describeBuffer(data: Uint8Array | null): string {
  if (!data || data.length === 0) return '';
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--; // C strings padded with NULs
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, end));
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000e-\u001f]/.test(text)) return text;
  } catch {
    // not text: a nested flatbuffer (TFLITE_METADATA) or binary data
  }
  return `(${data.length} bytes)`;
}

/** What `session.metadata` says of a TFLite model: producer "tflite", its description, its metadata entries. */
export function tfliteMetadata(model: Model, graphName: string): ModelMetadata {
  const custom: Record<string, string> = {};
  for (let i = 0; i < model.metadataLength(); i++) {
    const entry = model.metadata(i);
    const name = entry?.name();
    if (!entry || !name) continue;
    const b = entry.buffer();
    custom[name] = b < model.buffersLength() ? describeBuffer(model.buffers(b)?.dataArray() ?? null) : '';
  }
  return {
    producerName: 'tflite',
    producerVersion: `schema ${model.version()}`,
    domain: '',
    modelVersion: model.version(),
    docString: model.description() ?? '',
    graphName,
    custom,
  };
}
