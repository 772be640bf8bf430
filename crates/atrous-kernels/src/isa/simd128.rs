//! wasm simd128: four f32 lanes in a v128. Multiply-add is two instructions here; `relaxed` fuses them.
#![allow(dead_code)]

use core::arch::wasm32::*;

pub const NAME: &str = "simd128";
/// f32 lanes in one vector `V`: drivers step by this, never by a literal.
pub const LANES: usize = 4;

pub type V = v128;

#[inline(always)]
pub fn splat(x: f32) -> V {
    f32x4_splat(x)
}
#[inline(always)]
pub fn zero() -> V {
    f32x4_splat(0.0)
}
/// # Safety
/// `p` must be valid for reading 4 floats (any alignment).
#[inline(always)]
pub unsafe fn load(p: *const f32) -> V {
    v128_load(p as *const v128)
}
/// # Safety
/// `p` must be valid for reading 1 float.
#[inline(always)]
pub unsafe fn load_splat(p: *const f32) -> V {
    v128_load32_splat(p as *const u32)
}
/// # Safety
/// `p` must be valid for writing 4 floats (any alignment).
#[inline(always)]
pub unsafe fn store(p: *mut f32, v: V) {
    v128_store(p as *mut v128, v)
}
#[inline(always)]
pub fn add(a: V, b: V) -> V {
    f32x4_add(a, b)
}
#[inline(always)]
pub fn mul(a: V, b: V) -> V {
    f32x4_mul(a, b)
}
/// `a * b + c`
#[inline(always)]
pub fn madd(a: V, b: V, c: V) -> V {
    f32x4_add(f32x4_mul(a, b), c)
}
#[inline(always)]
pub fn max(a: V, b: V) -> V {
    f32x4_pmax(a, b)
}
#[inline(always)]
pub fn min(a: V, b: V) -> V {
    f32x4_pmin(a, b)
}
/// Lanes of `a` where `a > 0`, else lanes of `b`.
#[inline(always)]
pub fn select_positive(a: V, b: V) -> V {
    v128_bitselect(a, b, f32x4_gt(a, zero()))
}
#[inline(always)]
pub fn lanes(a: V) -> [f32; 4] {
    [f32x4_extract_lane::<0>(a), f32x4_extract_lane::<1>(a), f32x4_extract_lane::<2>(a), f32x4_extract_lane::<3>(a)]
}
#[inline(always)]
pub fn from_lanes(l: [f32; 4]) -> V {
    f32x4(l[0], l[1], l[2], l[3])
}
#[inline(always)]
pub fn apply_lanes(a: V, f: impl Fn(f32) -> f32) -> V {
    let l = lanes(a);
    f32x4(f(l[0]), f(l[1]), f(l[2]), f(l[3]))
}

/// `[a0, a2, b0, b2]`: every other lane of the 8 floats `a ++ b` (stride-2 gathers).
#[inline(always)]
pub fn even_lanes(a: V, b: V) -> V {
    i32x4_shuffle::<0, 2, 4, 6>(a, b)
}

/// `[a1, a3, b1, b3]`: the lanes `even_lanes` leaves out (splitting a row into its two stride-2 phases).
#[inline(always)]
pub fn odd_lanes(a: V, b: V) -> V {
    i32x4_shuffle::<1, 3, 5, 7>(a, b)
}

/// `[a0, b0, a1, b1]`: the first two lanes of `a` and `b`, alternating (merging two stride-2 phases).
#[inline(always)]
pub fn interleave_low(a: V, b: V) -> V {
    i32x4_shuffle::<0, 4, 1, 5>(a, b)
}

/// `[a2, b2, a3, b3]`: the last two lanes of `a` and `b`, alternating.
#[inline(always)]
pub fn interleave_high(a: V, b: V) -> V {
    i32x4_shuffle::<2, 6, 3, 7>(a, b)
}

/// `[a0, a1, b0, b1]`: the low halves of `a` and `b` (Winograd's stores of lane pairs).
#[inline(always)]
pub fn low_halves(a: V, b: V) -> V {
    i64x2_shuffle::<0, 2>(a, b)
}

/// `[a2, a3, b2, b3]`: the high halves of `a` and `b`.
#[inline(always)]
pub fn high_halves(a: V, b: V) -> V {
    i64x2_shuffle::<1, 3>(a, b)
}

/// Transposes a `LANES x LANES` tile held as rows: lane `j` of output `i` is lane `i` of input `j` (blocked
/// Transpose copies, packing GEMM strips).
#[inline(always)]
pub fn transpose(r: [V; LANES]) -> [V; LANES] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(r[0], r[1]);
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(r[0], r[1]);
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(r[2], r[3]);
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(r[2], r[3]);
    [i64x2_shuffle::<0, 2>(t0, t2), i64x2_shuffle::<1, 3>(t0, t2), i64x2_shuffle::<0, 2>(t1, t3), i64x2_shuffle::<1, 3>(t1, t3)]
}

// Element-wise math for the transcendental kernels (vmath).

#[inline(always)]
pub fn sub(a: V, b: V) -> V {
    f32x4_sub(a, b)
}
#[inline(always)]
pub fn div(a: V, b: V) -> V {
    f32x4_div(a, b)
}
#[inline(always)]
pub fn abs(a: V) -> V {
    f32x4_abs(a)
}
#[inline(always)]
pub fn neg(a: V) -> V {
    f32x4_neg(a)
}
#[inline(always)]
pub fn sqrt(a: V) -> V {
    f32x4_sqrt(a)
}
#[inline(always)]
pub fn floor(a: V) -> V {
    f32x4_floor(a)
}
#[inline(always)]
pub fn ceil(a: V) -> V {
    f32x4_ceil(a)
}
#[inline(always)]
pub fn trunc(a: V) -> V {
    f32x4_trunc(a)
}
/// Round to nearest, ties to even.
#[inline(always)]
pub fn round_even(a: V) -> V {
    f32x4_nearest(a)
}
/// Lane masks (all bits set where true).
#[inline(always)]
pub fn gt(a: V, b: V) -> V {
    f32x4_gt(a, b)
}
#[inline(always)]
pub fn ge(a: V, b: V) -> V {
    f32x4_ge(a, b)
}
#[inline(always)]
pub fn lt(a: V, b: V) -> V {
    f32x4_lt(a, b)
}
#[inline(always)]
pub fn le(a: V, b: V) -> V {
    f32x4_le(a, b)
}
#[inline(always)]
pub fn eq(a: V, b: V) -> V {
    f32x4_eq(a, b)
}
#[inline(always)]
pub fn and(a: V, b: V) -> V {
    v128_and(a, b)
}
#[inline(always)]
pub fn or(a: V, b: V) -> V {
    v128_or(a, b)
}
/// Lanes of `a` where `m` is set, else lanes of `b`.
#[inline(always)]
pub fn select(m: V, a: V, b: V) -> V {
    v128_bitselect(a, b, m)
}
/// `2^n` for integral lanes `n` in [-126, 127].
#[inline(always)]
pub fn pow2i(n: V) -> V {
    i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(n), i32x4_splat(127)), 23)
}
/// For positive normal lanes `x = m 2^e`: (`m` in [1, 2), `e` as a float).
#[inline(always)]
pub fn split_exponent(a: V) -> (V, V) {
    let m = v128_or(v128_and(a, i32x4_splat(0x007f_ffff)), i32x4_splat(0x3f80_0000));
    let e = f32x4_convert_i32x4(i32x4_sub(u32x4_shr(a, 23), i32x4_splat(127)));
    (m, e)
}
