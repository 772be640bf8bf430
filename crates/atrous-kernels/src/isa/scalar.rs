//! Scalar stand-in for a 4-lane vector: the same API as `simd128`, lane by lane.
#![allow(dead_code)]

pub const NAME: &str = "scalar";
/// f32 lanes in one vector `V`: drivers step by this, never by a literal.
pub const LANES: usize = 4;

#[derive(Clone, Copy, Debug)]
pub struct V(pub [f32; 4]);

#[inline(always)]
fn map(a: V, f: impl Fn(f32) -> f32) -> V {
    V([f(a.0[0]), f(a.0[1]), f(a.0[2]), f(a.0[3])])
}
#[inline(always)]
fn zip(a: V, b: V, f: impl Fn(f32, f32) -> f32) -> V {
    V([f(a.0[0], b.0[0]), f(a.0[1], b.0[1]), f(a.0[2], b.0[2]), f(a.0[3], b.0[3])])
}

#[inline(always)]
pub fn splat(x: f32) -> V {
    V([x; 4])
}
#[inline(always)]
pub fn zero() -> V {
    splat(0.0)
}
/// # Safety
/// `p` must be valid for reading 4 floats.
#[inline(always)]
pub unsafe fn load(p: *const f32) -> V {
    V([*p, *p.add(1), *p.add(2), *p.add(3)])
}
/// # Safety
/// `p` must be valid for reading 1 float.
#[inline(always)]
pub unsafe fn load_splat(p: *const f32) -> V {
    splat(*p)
}
/// # Safety
/// `p` must be valid for writing 4 floats.
#[inline(always)]
pub unsafe fn store(p: *mut f32, v: V) {
    *p = v.0[0];
    *p.add(1) = v.0[1];
    *p.add(2) = v.0[2];
    *p.add(3) = v.0[3];
}
#[inline(always)]
pub fn add(a: V, b: V) -> V {
    zip(a, b, |x, y| x + y)
}
#[inline(always)]
pub fn mul(a: V, b: V) -> V {
    zip(a, b, |x, y| x * y)
}
/// `a * b + c`
#[inline(always)]
pub fn madd(a: V, b: V, c: V) -> V {
    zip(zip(a, b, |x, y| x * y), c, |x, y| x + y)
}
/// As wasm's `f32x4.pmax` (`a < b ? b : a`), so every build treats NaN and signed zeros alike.
#[inline(always)]
pub fn max(a: V, b: V) -> V {
    zip(a, b, |x, y| if x < y { y } else { x })
}
/// As wasm's `f32x4.pmin` (`b < a ? b : a`).
#[inline(always)]
pub fn min(a: V, b: V) -> V {
    zip(a, b, |x, y| if y < x { y } else { x })
}
/// Lanes of `a` where `a > 0`, else lanes of `b`.
#[inline(always)]
pub fn select_positive(a: V, b: V) -> V {
    zip(a, b, |x, y| if x > 0.0 { x } else { y })
}
#[inline(always)]
pub fn lanes(a: V) -> [f32; 4] {
    a.0
}
#[inline(always)]
pub fn from_lanes(l: [f32; 4]) -> V {
    V(l)
}
#[inline(always)]
pub fn apply_lanes(a: V, f: impl Fn(f32) -> f32) -> V {
    map(a, f)
}

/// `[a0, a2, b0, b2]`: every other lane of the 8 floats `a ++ b` (stride-2 gathers).
#[inline(always)]
pub fn even_lanes(a: V, b: V) -> V {
    V([a.0[0], a.0[2], b.0[0], b.0[2]])
}

/// `[a1, a3, b1, b3]`: the lanes `even_lanes` leaves out (splitting a row into its two stride-2 phases).
#[inline(always)]
pub fn odd_lanes(a: V, b: V) -> V {
    V([a.0[1], a.0[3], b.0[1], b.0[3]])
}

/// `[a0, b0, a1, b1]`: the first two lanes of `a` and `b`, alternating (merging two stride-2 phases).
#[inline(always)]
pub fn interleave_low(a: V, b: V) -> V {
    V([a.0[0], b.0[0], a.0[1], b.0[1]])
}

/// `[a2, b2, a3, b3]`: the last two lanes of `a` and `b`, alternating.
#[inline(always)]
pub fn interleave_high(a: V, b: V) -> V {
    V([a.0[2], b.0[2], a.0[3], b.0[3]])
}

/// `[a0, a1, b0, b1]`: the low halves of `a` and `b` (Winograd's stores of lane pairs).
#[inline(always)]
pub fn low_halves(a: V, b: V) -> V {
    V([a.0[0], a.0[1], b.0[0], b.0[1]])
}

/// `[a2, a3, b2, b3]`: the high halves of `a` and `b`.
#[inline(always)]
pub fn high_halves(a: V, b: V) -> V {
    V([a.0[2], a.0[3], b.0[2], b.0[3]])
}

/// Transposes a `LANES x LANES` tile held as rows: lane `j` of output `i` is lane `i` of input `j` (blocked
/// Transpose copies, packing GEMM strips).
#[inline(always)]
pub fn transpose(r: [V; LANES]) -> [V; LANES] {
    let mut out = [zero(); LANES];
    for (i, o) in out.iter_mut().enumerate() {
        for (j, row) in r.iter().enumerate() {
            o.0[j] = row.0[i];
        }
    }
    out
}

// Element-wise math for the transcendental kernels (vmath). Without std, core has no sqrt, floor or
// rounding for f32, so the scalar build computes them here; the wasm builds use their instructions.

const MASK_TRUE: u32 = !0;

#[inline(always)]
fn mask(c: bool) -> f32 {
    f32::from_bits(if c { MASK_TRUE } else { 0 })
}
#[inline(always)]
pub fn sub(a: V, b: V) -> V {
    zip(a, b, |x, y| x - y)
}
#[inline(always)]
pub fn div(a: V, b: V) -> V {
    zip(a, b, |x, y| x / y)
}
#[inline(always)]
pub fn abs(a: V) -> V {
    map(a, |x| f32::from_bits(x.to_bits() & 0x7fff_ffff))
}
#[inline(always)]
pub fn neg(a: V) -> V {
    map(a, |x| f32::from_bits(x.to_bits() ^ 0x8000_0000))
}
#[inline(always)]
pub fn sqrt(a: V) -> V {
    map(a, sqrt_f32)
}
#[inline(always)]
pub fn floor(a: V) -> V {
    map(a, floor_f32)
}
#[inline(always)]
pub fn ceil(a: V) -> V {
    map(a, |x| -floor_f32(-x))
}
#[inline(always)]
pub fn trunc(a: V) -> V {
    map(a, |x| if x < 0.0 { -floor_f32(-x) } else { floor_f32(x) })
}
/// Round to nearest, ties to even.
#[inline(always)]
pub fn round_even(a: V) -> V {
    map(a, round_even_f32)
}
/// Lane masks (all bits set where true), as the simd128 comparisons return.
#[inline(always)]
pub fn gt(a: V, b: V) -> V {
    zip(a, b, |x, y| mask(x > y))
}
#[inline(always)]
pub fn ge(a: V, b: V) -> V {
    zip(a, b, |x, y| mask(x >= y))
}
#[inline(always)]
pub fn lt(a: V, b: V) -> V {
    zip(a, b, |x, y| mask(x < y))
}
#[inline(always)]
pub fn le(a: V, b: V) -> V {
    zip(a, b, |x, y| mask(x <= y))
}
#[inline(always)]
pub fn eq(a: V, b: V) -> V {
    zip(a, b, |x, y| mask(x == y))
}
#[inline(always)]
pub fn and(a: V, b: V) -> V {
    zip(a, b, |x, y| f32::from_bits(x.to_bits() & y.to_bits()))
}
#[inline(always)]
pub fn or(a: V, b: V) -> V {
    zip(a, b, |x, y| f32::from_bits(x.to_bits() | y.to_bits()))
}
/// Lanes of `a` where `m` is set, else lanes of `b`.
#[inline(always)]
pub fn select(m: V, a: V, b: V) -> V {
    V([0, 1, 2, 3].map(|i| if m.0[i].to_bits() != 0 { a.0[i] } else { b.0[i] }))
}
/// `2^n` for integral lanes `n` in [-126, 127].
#[inline(always)]
pub fn pow2i(n: V) -> V {
    map(n, |x| f32::from_bits(((x as i32 + 127) as u32) << 23))
}
/// For positive normal lanes `x = m 2^e`: (`m` in [1, 2), `e` as a float).
#[inline(always)]
pub fn split_exponent(a: V) -> (V, V) {
    (
        map(a, |x| f32::from_bits((x.to_bits() & 0x007f_ffff) | 0x3f80_0000)),
        map(a, |x| ((x.to_bits() >> 23) as i32 - 127) as f32),
    )
}

/// Correctly rounded but for rare near-ties: Newton's iteration in f64 from a halved exponent.
// `!(x < y)` on purpose: true for NaN too.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn sqrt_f32(x: f32) -> f32 {
    if !(x > 0.0) || x == f32::INFINITY {
        // 0 and -0 and inf are their own roots; negatives and NaN give NaN.
        return if x == 0.0 || x == f32::INFINITY { x } else { f32::NAN };
    }
    let d = x as f64;
    let mut y = f64::from_bits((d.to_bits() >> 1) + 0x1ff8_0000_0000_0000);
    for _ in 0..4 {
        y = 0.5 * (y + d / y);
    }
    y as f32
}

// `!(x < y)` on purpose: true for NaN too.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn floor_f32(x: f32) -> f32 {
    // 2^23 and above (and inf, NaN) are integers already.
    if !(f32::from_bits(x.to_bits() & 0x7fff_ffff) < 8_388_608.0) {
        return x;
    }
    let t = x as i32 as f32;
    let f = if t > x { t - 1.0 } else { t };
    f32::from_bits(f.to_bits() | (x.to_bits() & 0x8000_0000))
}

// `!(x < y)` on purpose: true for NaN too.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub fn round_even_f32(x: f32) -> f32 {
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    if !(a < 8_388_608.0) {
        return x;
    }
    // Adding 2^23 leaves no fraction bits, so the default rounding (to nearest, ties to even) does the work.
    let r = (a + 8_388_608.0) - 8_388_608.0;
    f32::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000))
}
