//! Element-type conversions of Cast that stay in wasm memory: float32 <-> uint8 / bool, and float32 rounded
//! to float16's precision.

use crate::status::Status;

/// Cast from float32 to uint8 (`to_bool` false: truncated toward zero, then the low byte, as a store into
/// a JavaScript Uint8Array keeps it; NaN becomes 0; ONNX leaves values outside 0..=255 undefined) or to
/// bool (`x != 0`, NaN true as in C). The integer types of Cast stay on the JavaScript side.
pub fn convert_from_f32(src: &[f32], dst: &mut [u8], to_bool: bool) -> Result<(), Status> {
    if src.len() != dst.len() {
        return Err(Status::OutputLengthMismatch);
    }
    if to_bool {
        for (d, &x) in dst.iter_mut().zip(src) {
            *d = (x != 0.0) as u8;
        }
    } else {
        for (d, &x) in dst.iter_mut().zip(src) {
            // `as i64` truncates and saturates (NaN to 0); the low byte is the modular wrap.
            *d = x as i64 as u8;
        }
    }
    Ok(())
}

/// `x` rounded to the nearest float16 value (ties to even), kept as f32: a Cast to FLOAT16 (atrous holds
/// half-precision values as float32, so the cast must still lose what float16 cannot represent). Beyond
/// the largest half (65504, rounding boundary 65520) the result is infinite; NaN stays NaN.
pub fn round_to_half(x: f32) -> f32 {
    let a = x.abs();
    if !(a < 65520.0) {
        return if a.is_nan() { x } else { f32::INFINITY.copysign(x) };
    }
    let bits = a.to_bits();
    let e = (bits >> 23) as i32 - 127;
    if e < -24 {
        // Below the smallest half (2^-24): it or 0, ties (2^-25 exactly) to 0.
        return if a > f32::from_bits(0x3300_0000) { f32::from_bits(0x3380_0000).copysign(x) } else { 0.0f32.copysign(x) };
    }
    // A half keeps 10 of f32's 23 fraction bits, fewer below 2^-14 where its spacing stays 2^-24: drop the
    // rest of the bit pattern, rounding to nearest with ties to even (a carry moves into the exponent).
    let drop = 13 + (-14 - e).max(0) as u32;
    let mask = (1u32 << drop) - 1;
    let half = 1u32 << (drop - 1);
    let rest = bits & mask;
    let mut kept = bits & !mask;
    if rest > half || (rest == half && (kept >> drop) & 1 == 1) {
        kept += 1 << drop;
    }
    f32::from_bits(kept).copysign(x)
}

/// `dst[i] = round_to_half(src[i])`.
pub fn convert_f32_to_half(src: &[f32], dst: &mut [f32]) -> Result<(), Status> {
    if src.len() != dst.len() {
        return Err(Status::OutputLengthMismatch);
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = round_to_half(x);
    }
    Ok(())
}

pub fn convert_u8_to_f32(src: &[u8], dst: &mut [f32]) -> Result<(), Status> {
    if src.len() != dst.len() {
        return Err(Status::OutputLengthMismatch);
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = x as f32;
    }
    Ok(())
}

pub fn convert_u8_to_bool(src: &[u8], dst: &mut [u8]) -> Result<(), Status> {
    if src.len() != dst.len() {
        return Err(Status::OutputLengthMismatch);
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = (x != 0) as u8;
    }
    Ok(())
}
