//! Activations fused into the convolution's epilogue, applied while the tile is still in registers.

use crate::isa::active as v;

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
}

impl Activation {
    /// Applies the activation to four lanes.
    #[inline(always)]
    pub fn apply(self, x: v::V) -> v::V {
        match self {
            Activation::None => x,
            Activation::Relu => v::max(x, v::zero()),
            Activation::Clip { min, max } => v::min(v::max(x, v::splat(min)), v::splat(max)),
            Activation::HardSigmoid { alpha, beta } => unit_clamp(v::madd(x, v::splat(alpha), v::splat(beta))),
            Activation::HardSwish => v::mul(x, unit_clamp(v::madd(x, v::splat(1.0 / 6.0), v::splat(0.5)))),
            Activation::Sigmoid => v::apply_lanes(x, sigmoid),
            Activation::LeakyRelu { alpha } => v::select_positive(x, v::mul(x, v::splat(alpha))),
        }
    }

    /// Applies the activation to one value (reference and tails).
    pub fn apply_scalar(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clip { min, max } => x.max(min).min(max),
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Activation::Sigmoid => sigmoid(x),
            Activation::LeakyRelu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
        }
    }
}

#[inline(always)]
fn unit_clamp(x: v::V) -> v::V {
    v::min(v::max(x, v::zero()), v::splat(1.0))
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `e^x` to about 2e-7 relative error. `core` has no `exp` in a no_std build, so: x = n ln2 + r with
/// |r| <= ln2 / 2, e^r from its Taylor series to degree 7, and 2^n put straight into the exponent bits.
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.72 {
        return f32::INFINITY;
    }
    if x < -103.0 {
        return 0.0;
    }
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let t = x * core::f32::consts::LOG2_E;
    let n = if t >= 0.0 { (t + 0.5) as i32 } else { (t - 0.5) as i32 };
    let r = (x - n as f32 * LN2_HI) - n as f32 * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n may fall below the normal range (n < -126): scale in two steps.
    if n < -126 {
        p * f32::from_bits(((n + 126 + 127) as u32) << 23) * f32::from_bits(1 << 23)
    } else {
        p * f32::from_bits(((n + 127) as u32) << 23)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std() {
        let mut x = -100.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            // Below -87 the result is subnormal and has fewer bits to be exact with.
            let ok = if x > -87.0 { ((got - want) / want).abs() < 1e-6 } else { (got - want).abs() < 1e-39 };
            assert!(ok, "exp({x}) = {got}, want {want}");
            x += 0.173;
        }
        assert_eq!(exp(200.0), f32::INFINITY);
        assert_eq!(exp(-200.0), 0.0);
    }

    #[test]
    fn vector_and_scalar_forms_agree() {
        let acts = [
            Activation::None,
            Activation::Relu,
            Activation::Clip { min: 0.0, max: 6.0 },
            Activation::HardSigmoid { alpha: 0.2, beta: 0.5 },
            Activation::HardSwish,
            Activation::Sigmoid,
            Activation::LeakyRelu { alpha: 0.1 },
        ];
        for a in acts {
            for base in [-9.0f32, -2.5, -0.1, 0.0, 0.3, 2.9, 7.5] {
                let xs = [base, base + 0.5, base + 1.0, base + 4.0];
                let got = v::lanes(a.apply(v::from_lanes(xs)));
                for i in 0..4 {
                    let want = a.apply_scalar(xs[i]);
                    assert!((got[i] - want).abs() <= 1e-6 * want.abs().max(1.0), "{a:?}({})", xs[i]);
                }
            }
        }
    }
}
