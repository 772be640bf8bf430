import { AtrousError } from 'atrous';

/**
 * Reads `metadata_props` (ModelProto field 14: key/value strings) from an ONNX file without decoding the
 * graph: every other top-level field is skipped by its length, so this stays cheap for an 88 MB model.
 * This is where exporters put class names (`model.metadata_props` in onnx, `metadata` in torch.onnx).
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const metadata: Record<string, string> = {};
  const decoder = new TextDecoder();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= bytes.length) throw new AtrousError('INVALID_ARGUMENT', `readOnnxMetadata: truncated varint at byte ${pos} of ${bytes.length}`);
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new AtrousError('INVALID_ARGUMENT', `readOnnxMetadata: varint too long at byte ${pos}`);
    }
  };
  const end = bytes.length;
  while (pos < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      const start = pos;
      pos += length;
      if (pos > end) throw new AtrousError('INVALID_ARGUMENT', `readOnnxMetadata: field ${field} runs past the end of the file (${end} bytes): not an ONNX model, or truncated`);
      if (field === 14) {
        const entry = readEntry(bytes.subarray(start, pos), decoder);
        if (entry) metadata[entry[0]] = entry[1];
      }
    } else {
      throw new AtrousError('INVALID_ARGUMENT', `readOnnxMetadata: wire type ${wire} at byte ${pos}: not an ONNX model`);
    }
  }
  return metadata;
}

function readEntry(bytes: Uint8Array, decoder: TextDecoder): [string, string] | undefined {
  let pos = 0;
  let key: string | undefined;
  let value = '';
  while (pos < bytes.length) {
    const tag = bytes[pos++];
    if ((tag & 7) !== 2) return undefined;
    let length = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      length += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80 || pos >= bytes.length) break;
    }
    const text = decoder.decode(bytes.subarray(pos, pos + length));
    pos += length;
    if (tag >> 3 === 1) key = text;
    else if (tag >> 3 === 2) value = text;
  }
  return key === undefined ? undefined : [key, value];
}
