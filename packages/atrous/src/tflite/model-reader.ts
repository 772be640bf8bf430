import * as flatbuffers from 'flatbuffers';
import { AtrousError } from '../errors.js';
import { isTfliteModel } from './file-identifier.js';
import { Model } from './schema/tflite_generated.js';

/** The root table of a .tflite file, read in place by the reader flatc generated from schema/tflite.fbs. */
export function readTfliteModel(bytes: Uint8Array): Model {
  if (!isTfliteModel(bytes)) throw new AtrousError('INVALID_MODEL', 'model: not a TFLite flatbuffer (no "TFL3" file identifier at byte 4)');
  const bb = new flatbuffers.ByteBuffer(bytes);
  const root = bb.readUint32(0);
  if (root < 8 || root >= bytes.length) throw new AtrousError('INVALID_MODEL', `model: TFLite root table offset ${root} lies outside the ${bytes.length}-byte file`);
  return Model.getRootAsModel(bb);
}
