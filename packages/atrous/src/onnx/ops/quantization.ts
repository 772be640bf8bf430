import { show } from '../../errors.js';
import { attrInt } from '../attributes.js';
import { numbersOf, sizeOf } from '../data-types.js';
import { nodeLabel } from '../graph.js';
import { take, withTemps } from './data-movement.js';
import { constInput, input, normAxis, opError, unsupported, type OpContext, type OpPreparer, type PreparedOp } from './op.js';

/**
 * DequantizeLinear of 8-bit tensors (QDQ models): y = (x - zero_point) · scale. An 8-bit value has 256
 * possible results per channel, so the float math is a table of 256 entries per channel (made once, at
 * preparation, from the constant scale and zero point); each element then takes its entry through
 * `layout.gather`, its index being its integer value (plus 256 · its channel).
 */
function dequantizeLinear(ctx: OpContext): PreparedOp {
  const x = input(ctx, 0, 'x');
  const scale = constInput(ctx, 1, 'x_scale')!;
  const zero = ctx.inputs[2] ? constInput(ctx, 2, 'x_zero_point')! : undefined;
  // int8 is held as int32 and comes with an int32 zero point here; a genuine int32 input is computed alike
  // (same formula) as long as its values fit the table, and refused at run beyond.
  const signed = x.type === 'int32';
  if (x.type !== 'uint8' && !(signed && zero && zero.type === 'int32')) {
    throw unsupported(ctx.node, `DequantizeLinear of ${x.type} tensors is not supported (uint8 and int8 are)`);
  }
  const rank = x.dims.length;
  const channels = sizeOf(scale.dims);
  const perAxis = scale.dims.length === 1 && channels > 1;
  const axis = perAxis ? normAxis(ctx.node, attrInt(ctx.node, 'axis', 1), rank) : 0;
  if (perAxis && x.dims[axis] !== channels) throw opError(ctx.node, `x_scale dims ${show(scale.dims)} do not match axis ${axis} of x dims ${show(x.dims)}`);
  if (!perAxis && channels !== 1) throw opError(ctx.node, `x_scale must be a scalar or 1-D, got dims ${show(scale.dims)}`);
  const scales = numbersOf(scale);
  const zeros = zero ? numbersOf(zero) : new Array<number>(channels).fill(0);
  if (zeros.length !== channels) throw opError(ctx.node, `x_zero_point dims ${show(zero!.dims)} must match x_scale dims ${show(scale.dims)}`);
  const low = signed ? -128 : 0;
  const table = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) for (let v = 0; v < 256; v++) table[c * 256 + v] = (v + low - zeros[c]!) * scales[c]!;
  const n = sizeOf(x.dims);
  const inner = perAxis ? sizeOf(x.dims.slice(axis + 1)) : n;
  const label = nodeLabel(ctx.node);
  return {
    outputs: [{ type: 'float32', dims: [...x.dims] }],
    run([q], [out], env) {
      if (n === 0) return;
      const entries = new Int32Array(n);
      const src = q!.data;
      for (let i = 0; i < n; i++) {
        const v = src[i]! - low;
        // An int32 input (not int8) beyond int8's range: the same formula, but beyond the table.
        if (!(v >= 0 && v < 256)) throw unsupported(ctx.node, `value ${src[i]} is beyond the 8-bit range: DequantizeLinear of int32 tensors is not supported`);
        entries[i] = (perAxis ? Math.floor(i / inner) % channels : 0) * 256 + v;
      }
      const e = env.engine;
      withTemps(e, (temp) => {
        const t = temp(table.byteLength, `${label}: dequantization table`);
        e.f32(t, table.length).set(table);
        take(env, { type: 'float32', dims: [table.length], ptr: t, data: new Float32Array(0) }, out!, entries, label);
      });
    },
  };
}

export const quantizationOps: Record<string, OpPreparer> = {
  DequantizeLinear: dequantizeLinear,
};
