//! Element-type conversions of Cast that stay in wasm memory: float32 <-> uint8 / bool, and float32 rounded
//! to float16's or bfloat16's precision.

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

/// `x` rounded to the nearest bfloat16 value (ties to even), kept as f32: a Cast to BFLOAT16. A bfloat16
/// is the high 16 bits of a float32, so rounding adds half of the dropped 16 bits' range (less one when
/// the kept part is even, so a tie goes to it) and clears them; a carry moves into the exponent, and
/// values past the largest bfloat16 become infinite. NaN stays NaN (the carry could turn a NaN whose
/// payload is only in the low bits into infinity, so it is kept quiet instead).
pub fn round_to_bfloat16(x: f32) -> f32 {
    if x.is_nan() {
        return f32::from_bits(x.to_bits() | 0x0040_0000);
    }
    let bits = x.to_bits();
    let bias = 0x7fff + ((bits >> 16) & 1);
    f32::from_bits(bits.wrapping_add(bias) & 0xffff_0000)
}

/// `dst[i] = round_to_bfloat16(src[i])`.
pub fn convert_f32_to_bfloat16(src: &[f32], dst: &mut [f32]) -> Result<(), Status> {
    if src.len() != dst.len() {
        return Err(Status::OutputLengthMismatch);
    }
    for (d, &x) in dst.iter_mut().zip(src) {
        *d = round_to_bfloat16(x);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// The nearest bfloat16 by search, in f64: the two bfloat16 values around `x` (truncated and the next
    /// one up in magnitude) and the nearer wins, a tie the one with an even last bit.
    fn nearest_bfloat16(x: f32) -> f32 {
        let low = f32::from_bits(x.to_bits() & 0xffff_0000);
        let high = f32::from_bits((x.to_bits() & 0xffff_0000) + 0x1_0000);
        // Past the largest finite bfloat16 the next one up is infinity, at 2^128 for the rounding distance.
        let high_value = if high.is_infinite() { 2f64.powi(128).copysign(x as f64) } else { high as f64 };
        let (dl, dh) = ((x as f64 - low as f64).abs(), (high_value - x as f64).abs());
        if dl < dh || (dl == dh && (low.to_bits() >> 16) & 1 == 0) { low } else { high }
    }

    #[test]
    fn bfloat16_rounds_to_nearest_even() {
        let mut rng = Rng(0x0bf1_6bf1_6bf1_6bf1);
        for _ in 0..100_000 {
            let x = f32::from_bits(rng.next() as u32);
            if x.is_nan() {
                assert!(round_to_bfloat16(x).is_nan());
                continue;
            }
            let want = nearest_bfloat16(x);
            let got = round_to_bfloat16(x);
            assert_eq!(got.to_bits(), want.to_bits(), "round_to_bfloat16({x:e} = {:#010x})", x.to_bits());
            assert_eq!(got.to_bits() & 0xffff, 0);
        }
        // Ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 (even: down); 1 + 3 * 2^-8 between odd and even (up).
        assert_eq!(round_to_bfloat16(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round_to_bfloat16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
        assert_eq!(round_to_bfloat16(f32::MAX), f32::INFINITY);
        assert_eq!(round_to_bfloat16(f32::NEG_INFINITY), f32::NEG_INFINITY);
        assert!(round_to_bfloat16(f32::from_bits(0x7f80_0001)).is_nan());
        assert_eq!(round_to_bfloat16(-0.0).to_bits(), (-0.0f32).to_bits());
        let mut dst = [0.0; 2];
        assert_eq!(convert_f32_to_bfloat16(&[0.48033667, 3.0], &mut dst), Ok(()));
        assert_eq!(dst[0].to_bits(), 0x3ef6_0000);
        assert_eq!(convert_f32_to_bfloat16(&[1.0], &mut dst), Err(Status::OutputLengthMismatch));
    }
}
