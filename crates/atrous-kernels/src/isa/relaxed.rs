//! wasm simd128 + relaxed-simd: as `simd128`, with multiply-add fused (`f32x4.relaxed_madd`). Engines may
//! round once (FMA) or twice; both are within the tolerance atrous promises.
#![allow(dead_code)]

use core::arch::wasm32::*;

pub use super::simd128::{
    add, apply_lanes, even_lanes, from_lanes, high_halves, interleave_high, interleave_low, lanes, low_halves, odd_lanes, load, load_splat, max, min, mul, select_positive, splat, store, transpose, zero, V,
};
pub use super::simd128::{abs, and, ceil, div, eq, floor, ge, gt, le, lt, neg, or, pow2i, round_even, select, split_exponent, sqrt, sub, trunc};

pub const NAME: &str = "relaxed";
/// f32 lanes in one vector `V`: drivers step by this, never by a literal.
pub const LANES: usize = 4;

/// `a * b + c`, fused where the engine supports it.
#[inline(always)]
pub fn madd(a: V, b: V, c: V) -> V {
    f32x4_relaxed_madd(a, b, c)
}
