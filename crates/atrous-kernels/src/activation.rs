//! The element-wise unary functions: fused into the convolution's epilogue (applied while the tile is still
//! in registers) and, through `apply_buffer`, the unary kernel of every ONNX element-wise op. The math is in
//! `vmath`, so both paths compute the same bits.

use crate::isa::active as v;
use crate::vmath;
use v::V;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    None,
    Relu,
    /// `min(max(x, min), max)`; relu6 is `Clip { min: 0, max: 6 }`.
    Clip { min: f32, max: f32 },
    /// ONNX HardSigmoid: `max(0, min(1, alpha * x + beta))`.
    HardSigmoid { alpha: f32, beta: f32 },
    /// ONNX HardSwish: `x * max(0, min(1, x / 6 + 0.5))`.
    HardSwish,
    Sigmoid,
    /// `x` if `x > 0`, else `alpha * x`.
    LeakyRelu { alpha: f32 },
    Exp,
    Log,
    Sqrt,
    Tanh,
    Erf,
    /// Exact GELU: `x / 2 * (1 + erf(x / sqrt 2))`.
    Gelu,
    /// GELU's tanh form: `x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`.
    GeluTanh,
    Abs,
    Neg,
    Reciprocal,
    Floor,
    Ceil,
    /// Half to even, as ONNX Round.
    Round,
    Sin,
    Cos,
    /// `log(1 + e^x)`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `x` if `x > 0`, else `alpha * (e^x - 1)`.
    Elu { alpha: f32 },
    /// `gamma * (x if x > 0 else alpha * (e^x - 1))`.
    Selu { alpha: f32, gamma: f32 },
    /// `max(0, x) + min(0, alpha * (e^(x / alpha) - 1))`.
    Celu { alpha: f32 },
    /// `x` if `x > alpha`, else 0.
    ThresholdedRelu { alpha: f32 },
    /// -1, 0 or 1 (NaN stays NaN).
    Sign,
    /// `x^exponent` for a scalar exponent: repeated multiplication when it is an integer, else `e^(p log x)`.
    Pow { exponent: f32 },
    /// `x * tanh(softplus(x))`.
    Mish,
}

#[inline(always)]
fn c(x: f32) -> V {
    v::splat(x)
}

#[inline(always)]
fn unit_clamp(x: V) -> V {
    v::min(v::max(x, v::zero()), c(1.0))
}

#[inline(always)]
fn elu(x: V, alpha: f32) -> V {
    v::select(v::gt(x, v::zero()), x, v::mul(c(alpha), v::sub(vmath::exp(x), c(1.0))))
}

/// The exponent as an `i32` when it is an integer small enough for repeated squaring to be exact-ish.
fn integer_exponent(p: f32) -> Option<i32> {
    let r = vmath::one(p, v::round_even);
    (r == p && r.abs() <= 1_048_576.0).then_some(r as i32)
}

impl Activation {
    /// Applies the activation to one vector. The cheap ones are inlined into the caller's loop (conv
    /// epilogues); the transcendental ones are one call away, so that each conv micro-kernel does not carry
    /// a copy of every polynomial.
    #[inline(always)]
    pub fn apply(self, x: V) -> V {
        match self {
            Activation::None => x,
            Activation::Relu => v::max(x, v::zero()),
            Activation::Clip { min, max } => v::min(v::max(x, c(min)), c(max)),
            Activation::HardSigmoid { alpha, beta } => unit_clamp(v::madd(x, c(alpha), c(beta))),
            Activation::HardSwish => v::mul(x, unit_clamp(v::madd(x, c(1.0 / 6.0), c(0.5)))),
            Activation::LeakyRelu { alpha } => v::select_positive(x, v::mul(x, c(alpha))),
            Activation::Abs => v::abs(x),
            Activation::Neg => v::neg(x),
            _ => self.apply_out_of_line(x),
        }
    }

    #[inline(never)]
    fn apply_out_of_line(self, x: V) -> V {
        self.apply_inline(x)
    }

    /// Applies the activation to one value (tails and references): the vector form on a splat.
    pub fn apply_scalar(self, x: f32) -> f32 {
        v::lanes(self.apply(v::splat(x)))[0]
    }
}

/// Each activation's vector body, written once: `apply_inline` (a match per call) and `apply_buffer` (a
/// match per buffer, then a loop with the activation compiled in) are both generated from this list.
macro_rules! activation_bodies {
    ($x:ident; $($variant:pat => $body:expr,)*) => {
        impl Activation {
            #[inline(always)]
            fn apply_inline(self, $x: V) -> V {
                match self {
                    $($variant => $body,)*
                }
            }

            /// `dst[i] = act(src[i])` for `n` floats.
            ///
            /// # Safety
            /// `src` valid for reading and `dst` for writing `n` floats; the same buffer or not overlapping.
            pub unsafe fn apply_buffer(self, src: *const f32, dst: *mut f32, n: usize) {
                match self {
                    $($variant => map_buffer(src, dst, n, move |$x: V| $body),)*
                }
            }
        }
    };
}

activation_bodies! { x;
    Activation::None => x,
    Activation::Relu => v::max(x, v::zero()),
    Activation::Clip { min, max } => v::min(v::max(x, c(min)), c(max)),
    Activation::HardSigmoid { alpha, beta } => unit_clamp(v::madd(x, c(alpha), c(beta))),
    Activation::HardSwish => v::mul(x, unit_clamp(v::madd(x, c(1.0 / 6.0), c(0.5)))),
    Activation::Sigmoid => vmath::sigmoid(x),
    Activation::LeakyRelu { alpha } => v::select_positive(x, v::mul(x, c(alpha))),
    Activation::Exp => vmath::exp(x),
    Activation::Log => vmath::log(x),
    Activation::Sqrt => v::sqrt(x),
    Activation::Tanh => vmath::tanh(x),
    Activation::Erf => vmath::erf(x),
    Activation::Gelu => v::mul(v::mul(x, c(0.5)), v::add(c(1.0), vmath::erf(v::mul(x, c(core::f32::consts::FRAC_1_SQRT_2))))),
    Activation::GeluTanh => {
        const K: f32 = 0.797_884_6; // sqrt(2 / pi)
        let inner = v::mul(c(K), v::madd(v::mul(v::mul(x, x), x), c(0.044_715), x));
        v::mul(v::mul(x, c(0.5)), v::add(c(1.0), vmath::tanh(inner)))
    },
    Activation::Abs => v::abs(x),
    Activation::Neg => v::neg(x),
    Activation::Reciprocal => v::div(c(1.0), x),
    Activation::Floor => v::floor(x),
    Activation::Ceil => v::ceil(x),
    Activation::Round => v::round_even(x),
    Activation::Sin => vmath::sin(x),
    Activation::Cos => vmath::cos(x),
    Activation::Softplus => vmath::softplus(x),
    Activation::Softsign => v::div(x, v::add(c(1.0), v::abs(x))),
    Activation::Elu { alpha } => elu(x, alpha),
    Activation::Selu { alpha, gamma } => v::mul(c(gamma), elu(x, alpha)),
    Activation::Celu { alpha } => {
        let neg = v::mul(c(alpha), v::sub(vmath::exp(v::mul(x, c(1.0 / alpha))), c(1.0)));
        v::add(v::max(x, v::zero()), v::min(neg, v::zero()))
    },
    Activation::ThresholdedRelu { alpha } => v::select(v::gt(x, c(alpha)), x, v::zero()),
    Activation::Sign => v::select(v::gt(x, v::zero()), c(1.0), v::select(v::lt(x, v::zero()), c(-1.0), x)),
    Activation::Pow { exponent } => pow_scalar_exponent(x, exponent),
    Activation::Mish => v::mul(x, vmath::tanh(vmath::softplus(x))),
}

#[inline(always)]
fn pow_scalar_exponent(x: V, exponent: f32) -> V {
    match integer_exponent(exponent) {
        Some(n) => vmath::powi(x, n),
        None if exponent == 0.5 => v::sqrt(x),
        None => vmath::pow(x, c(exponent)),
    }
}

/// # Safety
/// As `apply_buffer`.
#[inline(never)]
unsafe fn map_buffer(src: *const f32, dst: *mut f32, n: usize, f: impl Fn(V) -> V) {
    let mut i = 0;
    while i + v::LANES <= n {
        v::store(dst.add(i), f(v::load(src.add(i))));
        i += v::LANES;
    }
    if i < n {
        crate::isa::store_partial(dst.add(i), f(crate::isa::load_partial(src.add(i), n - i)), n - i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn erf64(x: f64) -> f64 {
        crate::vmath::tests::erf64(x)
    }

    /// The ONNX definitions, in f64.
    fn reference(a: Activation, x: f64) -> f64 {
        let e = |x: f64| x.exp();
        match a {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clip { min, max } => x.max(min as f64).min(max as f64),
            Activation::HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Activation::Sigmoid => 1.0 / (1.0 + e(-x)),
            Activation::LeakyRelu { alpha } => if x > 0.0 { x } else { alpha as f64 * x },
            Activation::Exp => e(x),
            Activation::Log => x.ln(),
            Activation::Sqrt => x.sqrt(),
            Activation::Tanh => x.tanh(),
            Activation::Erf => erf64(x),
            Activation::Gelu => x / 2.0 * (1.0 + erf64(x / 2f64.sqrt())),
            Activation::GeluTanh => x / 2.0 * (1.0 + ((2.0 / core::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh()),
            Activation::Abs => x.abs(),
            Activation::Neg => -x,
            Activation::Reciprocal => 1.0 / x,
            Activation::Floor => x.floor(),
            Activation::Ceil => x.ceil(),
            Activation::Round => x.round_ties_even(),
            Activation::Sin => x.sin(),
            Activation::Cos => x.cos(),
            Activation::Softplus => e(x).ln_1p(),
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Elu { alpha } => if x > 0.0 { x } else { alpha as f64 * (e(x) - 1.0) },
            Activation::Selu { alpha, gamma } => gamma as f64 * if x > 0.0 { x } else { alpha as f64 * (e(x) - 1.0) },
            Activation::Celu { alpha } => x.max(0.0) + (alpha as f64 * (e(x / alpha as f64) - 1.0)).min(0.0),
            Activation::ThresholdedRelu { alpha } => if x > alpha as f64 { x } else { 0.0 },
            Activation::Sign => if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { x },
            Activation::Pow { exponent } => x.powf(exponent as f64),
            Activation::Mish => x * e(x).ln_1p().tanh(),
        }
    }

    pub const ALL: &[Activation] = &[
        Activation::None,
        Activation::Relu,
        Activation::Clip { min: 0.0, max: 6.0 },
        Activation::HardSigmoid { alpha: 0.2, beta: 0.5 },
        Activation::HardSwish,
        Activation::Sigmoid,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Exp,
        Activation::Log,
        Activation::Sqrt,
        Activation::Tanh,
        Activation::Erf,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Abs,
        Activation::Neg,
        Activation::Reciprocal,
        Activation::Floor,
        Activation::Ceil,
        Activation::Round,
        Activation::Sin,
        Activation::Cos,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Elu { alpha: 1.5 },
        Activation::Selu { alpha: 1.673_263_2, gamma: 1.050_701 },
        Activation::Celu { alpha: 0.7 },
        Activation::ThresholdedRelu { alpha: 0.3 },
        Activation::Sign,
        Activation::Pow { exponent: 3.0 },
        Activation::Pow { exponent: -2.0 },
        Activation::Pow { exponent: 0.5 },
        Activation::Pow { exponent: 1.7 },
        Activation::Mish,
    ];

    #[test]
    fn every_activation_matches_its_definition() {
        // Odd length: the partial-vector tail is covered; values straddle 0, the rounding halves and large |x|.
        let mut xs: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.0213).collect();
        xs.extend_from_slice(&[0.5, 1.5, 2.5, -0.5, -2.5, 0.0, -0.0, 30.0, -30.0, 1e-30]);
        for &a in ALL {
            let mut out = alloc::vec![0.0f32; xs.len()];
            unsafe { a.apply_buffer(xs.as_ptr(), out.as_mut_ptr(), xs.len()) };
            for (i, &x) in xs.iter().enumerate() {
                let want = reference(a, x as f64) as f32 as f64;
                let got = out[i] as f64;
                assert_eq!(out[i].to_bits(), a.apply_scalar(x).to_bits(), "{a:?}: buffer and scalar forms differ at {x}");
                if want.is_nan() {
                    assert!(got.is_nan(), "{a:?}({x}) = {got}, want NaN");
                } else if want.is_infinite() {
                    assert_eq!(got, want, "{a:?}({x})");
                } else {
                    assert!((got - want).abs() <= 4e-7 * want.abs().max(1.0), "{a:?}({x}) = {got}, want {want}");
                }
            }
        }
    }

    #[test]
    fn in_place_and_empty() {
        let mut xs: Vec<f32> = (0..7).map(|i| i as f32 - 3.0).collect();
        let p = xs.as_mut_ptr();
        unsafe {
            Activation::Relu.apply_buffer(p, p, 7);
            Activation::Exp.apply_buffer(p, p, 0);
        }
        assert_eq!(xs, [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
    }
}
