/** A flatbuffer names its schema in bytes 4..8; TFLite's is "TFL3" (every schema version since 3). */
export function isTfliteModel(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && bytes[4] === 0x54 && bytes[5] === 0x46 && bytes[6] === 0x4c && bytes[7] === 0x33;
}
