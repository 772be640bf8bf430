//! Transcendental functions on `v::V`, the one implementation behind the conv epilogues, the unary kernel,
//! softmax, the norms and the reductions. `core` has none of them without std, so each is a range reduction
//! plus a polynomial whose coefficients were fitted (near-minimax, Chebyshev nodes, in f64) for this crate.
//!
//! Maximum errors measured by the tests below against f64, on dense grids (scalar build, run printed with
//! `cargo test vmath -- --nocapture`):
//! - `exp`: 1.18e-7 relative for x in [-87, 88] (the polynomial alone is 6e-9; the rest is f32 rounding);
//!   subnormal results to 1.5e-45 absolute; +inf above 88.73, 0 below -103.98; NaN stays NaN.
//! - `log`: 8.3e-8 relative (absolute where |log x| < 1) over every 997th float, subnormals included;
//!   log(0) = -inf, log(<0) = NaN, log(inf) = inf.
//! - `erf`: 1.19e-7 absolute; `tanh`: 1.6e-7 relative; `sin`/`cos`: 7.9e-8 absolute for |x| <= 1e4
//!   (a three-part Cody-Waite reduction by pi/2, so the error grows with |x| beyond that).
//!
//! Scalar callers splat (`one(x, exp)`): one implementation, no scalar twin to drift apart.

// The constants are written as fitted (and LN2_HI exactly, 355/512); f32 rounds them as intended.
#![allow(clippy::excessive_precision)]

use crate::isa::active as v;
use v::V;

#[inline(always)]
fn c(x: f32) -> V {
    v::splat(x)
}

/// Horner's rule, highest coefficient last.
#[inline(always)]
fn poly<const N: usize>(x: V, k: &[f32; N]) -> V {
    let mut acc = c(k[N - 1]);
    let mut i = N - 1;
    while i > 0 {
        i -= 1;
        acc = v::madd(acc, x, c(k[i]));
    }
    acc
}

/// `|a|` with the sign of `s`.
#[inline(always)]
fn with_sign_of(a: V, s: V) -> V {
    v::or(v::abs(a), v::and(s, c(-0.0)))
}

const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x`. x = n ln2 + r (|r| <= ln2/2, n exact in a few bits so n*LN2_HI is exact), e^r = 1 + r + r^2 Q(r),
/// and 2^n applied as two exponent-only factors so that subnormal results and overflow come out right.
#[inline(always)]
pub fn exp(x: V) -> V {
    const Q: [f32; 5] = [0.5, 0.166_665_26, 0.041_667_09, 0.008_368_23, 0.001_388_764];
    // pmax/pmin keep a NaN first operand, so NaN flows through the clamp.
    let x = v::min(v::max(x, c(-104.0)), c(89.0));
    let n = v::round_even(v::mul(x, c(core::f32::consts::LOG2_E)));
    let r = v::sub(v::sub(x, v::mul(n, c(LN2_HI))), v::mul(n, c(LN2_LO)));
    let p = v::add(v::add(c(1.0), r), v::mul(v::mul(r, r), poly(r, &Q)));
    let n1 = v::round_even(v::mul(n, c(0.5)));
    let n2 = v::sub(n, n1);
    v::mul(v::mul(p, v::pow2i(n1)), v::pow2i(n2))
}

/// Natural log. x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(1 + f) = f - f^2/2 + f^3 P(f) for f = m - 1
/// (exact), plus e ln2 in two parts.
#[inline(always)]
pub fn log(x: V) -> V {
    const P: [f32; 8] = [0.333_333_05, -0.250_007_42, 0.200_031_52, -0.166_272_99, 0.141_649_71, -0.130_879_7, 0.129_718_72, -0.080_725_014];
    let tiny = v::lt(x, c(f32::MIN_POSITIVE));
    let xs = v::select(tiny, v::mul(x, c(8_388_608.0)), x);
    let (m, e) = v::split_exponent(xs);
    let e = v::select(tiny, v::sub(e, c(23.0)), e);
    let big = v::gt(m, c(core::f32::consts::SQRT_2));
    let m = v::select(big, v::mul(m, c(0.5)), m);
    let e = v::select(big, v::add(e, c(1.0)), e);
    let f = v::sub(m, c(1.0));
    let f2 = v::mul(f, f);
    let tail = v::madd(v::mul(f2, f), poly(f, &P), v::madd(e, c(LN2_LO), v::mul(f2, c(-0.5))));
    let y = v::madd(e, c(LN2_HI), v::add(f, tail));
    let y = v::select(v::gt(x, c(0.0)), y, c(f32::NAN));
    let y = v::select(v::eq(x, c(0.0)), c(f32::NEG_INFINITY), y);
    v::select(v::eq(x, c(f32::INFINITY)), c(f32::INFINITY), y)
}

/// erf. |x| < 1: x P(x^2); 1 <= |x| (clamped to 4, where erf is 1 in f32): 1 - e^(-x^2) Q(1/|x|).
#[inline(always)]
pub fn erf(x: V) -> V {
    const P: [f32; 6] = [1.128_378_7, -0.376_117_62, 0.112_772_26, -0.026_646_618, 0.004_854_792_7, -0.000_540_836_8];
    const Q: [f32; 8] = [0.000_151_920_31, 0.559_587_4, 0.043_942_54, -0.491_685_75, 0.559_692_9, -0.344_254_6, 0.117_746_09, -0.017_596_936];
    let a = v::abs(x);
    let small = v::mul(x, poly(v::mul(x, x), &P));
    let ac = v::max(v::min(a, c(4.0)), c(1.0));
    let big = v::sub(c(1.0), v::mul(exp(v::neg(v::mul(ac, ac))), poly(v::div(c(1.0), ac), &Q)));
    v::select(v::lt(a, c(1.0)), small, with_sign_of(big, x))
}

/// tanh. |x| < 0.55: x + x^3 P(x^2); else 1 - 2 / (e^(2|x|) + 1), which saturates to 1 by itself.
#[inline(always)]
pub fn tanh(x: V) -> V {
    const P: [f32; 4] = [-0.333_329_26, 0.133_203_91, -0.052_654_985, 0.016_411_176];
    let a = v::abs(x);
    let z = v::mul(x, x);
    let small = v::madd(v::mul(x, z), poly(z, &P), x);
    let t = v::sub(c(1.0), v::div(c(2.0), v::add(exp(v::add(a, a)), c(1.0))));
    v::select(v::lt(a, c(0.55)), small, with_sign_of(t, x))
}

/// `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: V) -> V {
    v::div(c(1.0), v::add(c(1.0), exp(v::neg(x))))
}

/// log(1 + e^x) without overflow, and without losing e^x to the rounding of 1 + e^x when x is very negative
/// (log1p(t) = log(u) t / (u - 1) with u = 1 + t).
#[inline(always)]
pub fn softplus(x: V) -> V {
    let t = exp(v::neg(v::abs(x)));
    let u = v::add(c(1.0), t);
    let l = v::select(v::eq(u, c(1.0)), t, v::mul(log(u), v::div(t, v::sub(u, c(1.0)))));
    v::add(v::max(x, c(0.0)), l)
}

/// sin and cos from one reduction: x = q pi/2 + r, |r| <= pi/4, Taylor polynomials of r (exact
/// coefficients; the truncation error is below 3e-9 there), then the quadrant picks and signs them.
#[inline(always)]
fn sin_cos_parts(x: V) -> (V, V, V) {
    const PIO2_1: f32 = 1.570_312_5;
    const PIO2_2: f32 = 4.837_513e-4;
    const PIO2_3: f32 = 7.549_79e-8;
    let q = v::round_even(v::mul(x, c(core::f32::consts::FRAC_2_PI)));
    let r = v::sub(v::sub(v::sub(x, v::mul(q, c(PIO2_1))), v::mul(q, c(PIO2_2))), v::mul(q, c(PIO2_3)));
    let z = v::mul(r, r);
    let s = v::madd(v::mul(r, z), poly(z, &[-1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362_880.0]), r);
    let co = v::madd(z, poly(z, &[-0.5, 1.0 / 24.0, -1.0 / 720.0, 1.0 / 40_320.0, -1.0 / 3_628_800.0]), c(1.0));
    // Quadrant q mod 4, in floats (exact for the |q| this reduction is accurate for).
    let k = v::sub(q, v::mul(v::floor(v::mul(q, c(0.25))), c(4.0)));
    (s, co, k)
}

#[inline(always)]
pub fn sin(x: V) -> V {
    let (s, co, k) = sin_cos_parts(x);
    let odd = v::or(v::eq(k, c(1.0)), v::eq(k, c(3.0)));
    let y = v::select(odd, co, s);
    v::select(v::ge(k, c(2.0)), v::neg(y), y)
}

#[inline(always)]
pub fn cos(x: V) -> V {
    let (s, co, k) = sin_cos_parts(x);
    let odd = v::or(v::eq(k, c(1.0)), v::eq(k, c(3.0)));
    let y = v::select(odd, s, co);
    v::select(v::or(v::eq(k, c(1.0)), v::eq(k, c(2.0))), v::neg(y), y)
}

/// `x^n` for an integer `n` by repeated squaring: exact for small results, a few ulp otherwise.
#[inline(always)]
pub fn powi(x: V, n: i32) -> V {
    let mut e = n.unsigned_abs();
    let mut base = x;
    let mut acc = c(1.0);
    while e > 0 {
        if e & 1 == 1 {
            acc = v::mul(acc, base);
        }
        e >>= 1;
        if e > 0 {
            base = v::mul(base, base);
        }
    }
    if n < 0 {
        v::div(c(1.0), acc)
    } else {
        acc
    }
}

/// `a^b` lane by lane (ONNX Pow with a tensor exponent). Integral |b| <= 64: repeated squaring, so integer
/// powers are exact where f32 can hold them and negative bases work; otherwise e^(b log|a|), negated for a
/// negative base with an odd integral exponent, NaN for a negative base with a fractional one.
#[inline(always)]
pub fn pow(a: V, b: V) -> V {
    let integral = v::eq(b, v::round_even(b));
    let odd = v::and(integral, v::eq(v::sub(b, v::mul(v::floor(v::mul(b, c(0.5))), c(2.0))), c(1.0)));
    let small = v::and(integral, v::le(v::abs(b), c(64.0)));
    // Seven bits of |b|, lowest first.
    let mut e = v::abs(b);
    let mut base = a;
    let mut acc = c(1.0);
    for _ in 0..7 {
        let half = v::floor(v::mul(e, c(0.5)));
        let bit = v::eq(v::sub(e, v::add(half, half)), c(1.0));
        acc = v::select(bit, v::mul(acc, base), acc);
        base = v::mul(base, base);
        e = half;
    }
    let by_squaring = v::select(v::lt(b, c(0.0)), v::div(c(1.0), acc), acc);
    let general = exp(v::mul(b, log(v::abs(a))));
    let negative = v::lt(a, c(0.0));
    let signed = v::select(odd, v::neg(general), general);
    let general = v::select(negative, v::select(integral, signed, c(f32::NAN)), general);
    v::select(small, by_squaring, general)
}

/// Applies a vector function to one value: how scalar callers share the one implementation.
#[inline(always)]
pub fn one(x: f32, f: impl Fn(V) -> V) -> f32 {
    v::lanes(f(v::splat(x)))[0]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// f64 erf by its Taylor series (|x| <= 4; its alternating terms lose about 6 of f64's 16 digits there).
    pub fn erf64(x: f64) -> f64 {
        if x.abs() > 4.0 {
            return x.signum();
        }
        let (mut term, mut sum, mut k) = (x, x, 0.0f64);
        loop {
            k += 1.0;
            term *= -x * x / k;
            let t = term / (2.0 * k + 1.0);
            sum += t;
            if t.abs() < 1e-17 {
                break;
            }
        }
        sum * 2.0 / core::f64::consts::PI.sqrt()
    }

    fn grid(lo: f32, hi: f32, step: f32) -> impl Iterator<Item = f32> {
        let n = ((hi - lo) / step) as usize;
        (0..=n).map(move |i| lo + i as f32 * step)
    }

    #[test]
    fn exp_error() {
        let mut worst = 0.0f64;
        for x in grid(-87.0, 88.0, 0.000_731) {
            let (got, want) = (one(x, exp) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
        }
        std::println!("exp: max rel err {worst:e}");
        assert!(worst < 2e-7, "exp max rel err {worst:e}");
        for x in grid(-103.9, -87.0, 0.0137) {
            let (got, want) = (one(x, exp) as f64, (x as f64).exp());
            assert!((got - want).abs() <= 1.5e-45 + want * 2e-7, "exp({x}) = {got:e}, want {want:e}");
        }
        assert_eq!(one(88.8, exp), f32::INFINITY);
        assert_eq!(one(-104.5, exp), 0.0);
        assert_eq!(one(0.0, exp), 1.0);
        assert!(one(f32::NAN, exp).is_nan());
        assert_eq!(one(f32::NEG_INFINITY, exp), 0.0);
        assert_eq!(one(f32::INFINITY, exp), f32::INFINITY);
    }

    #[test]
    fn log_error() {
        let mut worst = 0.0f64;
        // Every 997th float from the smallest subnormal up to the largest finite.
        for bits in (1u32..0x7f7f_ffff).step_by(997) {
            let x = f32::from_bits(bits);
            let (got, want) = (one(x, log) as f64, (x as f64).ln());
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
        }
        std::println!("log: max err {worst:e}");
        assert!(worst < 2e-7, "log max err {worst:e}");
        assert_eq!(one(0.0, log), f32::NEG_INFINITY);
        assert_eq!(one(1.0, log), 0.0);
        assert!(one(-1.0, log).is_nan());
        assert!(one(f32::NAN, log).is_nan());
        assert_eq!(one(f32::INFINITY, log), f32::INFINITY);
    }

    #[test]
    fn erf_tanh_sin_cos_errors() {
        let (mut e_erf, mut e_tanh, mut e_sin, mut e_cos) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for x in grid(-6.0, 6.0, 0.000_37) {
            let xd = x as f64;
            e_erf = e_erf.max((one(x, erf) as f64 - erf64(xd)).abs());
            let t = xd.tanh();
            if t != 0.0 {
                e_tanh = e_tanh.max(((one(x, tanh) as f64 - t) / t).abs());
            }
        }
        for x in grid(-10_000.0, 10_000.0, 0.173) {
            let xd = x as f64;
            e_sin = e_sin.max((one(x, sin) as f64 - xd.sin()).abs());
            e_cos = e_cos.max((one(x, cos) as f64 - xd.cos()).abs());
        }
        std::println!("erf abs {e_erf:e}, tanh rel {e_tanh:e}, sin abs {e_sin:e}, cos abs {e_cos:e}");
        assert!(e_erf < 1.5e-7, "erf abs err {e_erf:e}");
        assert!(e_tanh < 3e-7, "tanh rel err {e_tanh:e}");
        assert!(e_sin < 2e-7 && e_cos < 2e-7, "sin {e_sin:e} cos {e_cos:e}");
        assert_eq!(one(20.0, tanh), 1.0);
        assert_eq!(one(-100.0, tanh), -1.0);
        assert_eq!(one(9.0, erf), 1.0);
        assert!(one(f32::NAN, erf).is_nan() && one(f32::NAN, tanh).is_nan());
    }

    #[test]
    fn powers() {
        for &(a, b) in &[(2.0f32, 10.0f32), (-3.0, 3.0), (-3.0, 4.0), (3.0, -2.0), (0.0, 0.0), (0.0, -1.0), (5.0, 0.5), (-2.0, 0.5), (1.7, 2.3), (-2.0, 65.0), (-1.1, 333.0), (10.0, 0.0)] {
            let got = v::lanes(pow(v::splat(a), v::splat(b)))[0] as f64;
            let want = (a as f64).powf(b as f64);
            if want.is_nan() {
                assert!(got.is_nan(), "{a}^{b}");
            } else if want.is_infinite() {
                assert_eq!(got, want, "{a}^{b}");
            } else {
                // e^(b log|a|) carries log's rounding times |b log a| (so 1e-5 for results near f32's range).
                let scale = ((b as f64) * (a as f64).abs().ln()).abs().max(1.0);
                assert!((got - want).abs() <= 2e-7 * scale * want.abs(), "{a}^{b} = {got}, want {want}");
            }
        }
        assert_eq!(v::lanes(pow(v::splat(3.0), v::splat(6.0)))[0], 729.0);
        for n in -5..=9 {
            let got = one(1.5, |x| powi(x, n)) as f64;
            assert!((got - 1.5f64.powi(n)).abs() <= 2e-7 * 1.5f64.powi(n));
        }
        let sp = |x: f32| one(x, softplus) as f64;
        for x in [-80.0f32, -20.0, -1.0, 0.0, 1.0, 20.0, 90.0] {
            let want = (x as f64).exp().ln_1p().max(if x > 30.0 { x as f64 } else { 0.0 });
            assert!((sp(x) - want).abs() <= 2e-7 * want.abs().max(1e-38), "softplus({x}) = {}, want {want}", sp(x));
        }
    }
}
