//! Backward of the fused activations: `dL/dx = dL/dy * f'(x)`, from what the forward kept, either its
//! pre-activation `x` (always enough) or its output `y = f(x)` (enough where `f'` is a function of `y`:
//! relu, clip, hard sigmoid, sigmoid, tanh, leaky relu and elu with a positive alpha, which is what lets a
//! trainer keep only the fused conv's output).
//!
//! At the kinks the derivative is PyTorch's: relu and clip pass the gradient strictly inside (0 at the
//! knee), hard sigmoid strictly inside its ramp, leaky relu and elu take the negative side at 0, hard swish
//! takes `x / 3 + 1/2` on `[-3, 3]`.

use crate::activation::Activation;
use crate::isa::active as v;
use crate::status::Status;
use crate::vmath;
use v::V;

/// What the forward kept for the backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// The activation's input `x`.
    PreActivation,
    /// The activation's output `y = f(x)`.
    Output,
}

#[inline(always)]
fn c(x: f32) -> V {
    v::splat(x)
}

/// 1 where `lo < x < hi`, else 0.
#[inline(always)]
fn inside(x: V, lo: f32, hi: f32) -> V {
    v::select(v::and(v::gt(x, c(lo)), v::lt(x, c(hi))), c(1.0), v::zero())
}

/// Whether `f'` can be had from `saved` for this activation.
pub fn supported(a: Activation, saved: Saved) -> bool {
    match a {
        Activation::None | Activation::Relu | Activation::Clip { .. } | Activation::HardSigmoid { .. } | Activation::Sigmoid | Activation::Tanh => true,
        // From the output the sign of x is the sign of y only when alpha > 0.
        Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => saved == Saved::PreActivation || alpha > 0.0,
        Activation::HardSwish | Activation::Gelu | Activation::Softplus => saved == Saved::PreActivation,
        _ => false,
    }
}

/// `f'` at each lane, from the pre-activation `x`.
#[inline(always)]
fn from_input(a: Activation, x: V) -> V {
    match a {
        Activation::Relu => v::select(v::gt(x, v::zero()), c(1.0), v::zero()),
        Activation::Clip { min, max } => inside(x, min, max),
        Activation::HardSigmoid { alpha, beta } => v::mul(inside(v::madd(x, c(alpha), c(beta)), 0.0, 1.0), c(alpha)),
        Activation::HardSwish => {
            let ramp = v::madd(x, c(1.0 / 3.0), c(0.5));
            v::select(v::lt(x, c(-3.0)), v::zero(), v::select(v::le(x, c(3.0)), ramp, c(1.0)))
        }
        Activation::Sigmoid => {
            let s = vmath::sigmoid(x);
            v::mul(s, v::sub(c(1.0), s))
        }
        Activation::LeakyRelu { alpha } => v::select(v::gt(x, v::zero()), c(1.0), c(alpha)),
        Activation::Tanh => {
            let t = vmath::tanh(x);
            v::sub(c(1.0), v::mul(t, t))
        }
        Activation::Elu { alpha } => v::select(v::gt(x, v::zero()), c(1.0), v::mul(c(alpha), vmath::exp(x))),
        Activation::Gelu => {
            // Phi(x) + x phi(x)
            const INV_SQRT_2PI: f32 = 0.398_942_3;
            let cdf = v::mul(c(0.5), v::add(c(1.0), vmath::erf(v::mul(x, c(core::f32::consts::FRAC_1_SQRT_2)))));
            let pdf = v::mul(c(INV_SQRT_2PI), vmath::exp(v::mul(v::mul(x, x), c(-0.5))));
            v::madd(x, pdf, cdf)
        }
        Activation::Softplus => vmath::sigmoid(x),
        _ => c(1.0),
    }
}

/// `f'` at each lane, from the output `y` (only for activations `supported` with `Saved::Output`).
#[inline(always)]
fn from_output(a: Activation, y: V) -> V {
    match a {
        Activation::Relu => v::select(v::gt(y, v::zero()), c(1.0), v::zero()),
        Activation::Clip { min, max } => inside(y, min, max),
        Activation::HardSigmoid { alpha, .. } => v::mul(inside(y, 0.0, 1.0), c(alpha)),
        Activation::Sigmoid => v::mul(y, v::sub(c(1.0), y)),
        Activation::LeakyRelu { alpha } => v::select(v::gt(y, v::zero()), c(1.0), c(alpha)),
        Activation::Tanh => v::sub(c(1.0), v::mul(y, y)),
        // y = alpha (e^x - 1) for x <= 0, so alpha e^x = y + alpha.
        Activation::Elu { alpha } => v::select(v::gt(y, v::zero()), c(1.0), v::add(y, c(alpha))),
        _ => c(1.0),
    }
}

/// `grad_input[i] = grad_output[i] * f'(...)` from `saved` values (`x` or `y`), `n` floats each.
///
/// # Safety
/// `saved` and `grad_output` valid for reading `n` floats, `grad_input` for writing `n`; `grad_input` may be
/// the same buffer as either input, else overlapping neither.
pub unsafe fn activation_backward_buffer(a: Activation, kind: Saved, saved: *const f32, grad_output: *const f32, grad_input: *mut f32, n: usize) -> Result<(), Status> {
    if !supported(a, kind) {
        return Err(Status::InvalidDescriptor);
    }
    match kind {
        Saved::PreActivation => map2(saved, grad_output, grad_input, n, |x, dy| v::mul(dy, from_input(a, x))),
        Saved::Output => map2(saved, grad_output, grad_input, n, |y, dy| v::mul(dy, from_output(a, y))),
    }
    Ok(())
}

/// The slice form of `activation_backward_buffer`.
pub fn activation_backward(a: Activation, kind: Saved, saved: &[f32], grad_output: &[f32], grad_input: &mut [f32]) -> Result<(), Status> {
    if saved.len() != grad_output.len() || grad_input.len() != grad_output.len() {
        return Err(Status::ShapeMismatch);
    }
    // SAFETY: the three slices hold the same number of floats and `grad_input` is exclusive.
    unsafe { activation_backward_buffer(a, kind, saved.as_ptr(), grad_output.as_ptr(), grad_input.as_mut_ptr(), grad_output.len()) }
}

/// # Safety
/// As `activation_backward_buffer`.
#[inline(never)]
unsafe fn map2(a: *const f32, b: *const f32, dst: *mut f32, n: usize, f: impl Fn(V, V) -> V) {
    let mut i = 0;
    while i + v::LANES <= n {
        v::store(dst.add(i), f(v::load(a.add(i)), v::load(b.add(i))));
        i += v::LANES;
    }
    if i < n {
        let rest = n - i;
        let out = f(crate::isa::load_partial(a.add(i), rest), crate::isa::load_partial(b.add(i), rest));
        crate::isa::store_partial(dst.add(i), out, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use std::format;

    const SUPPORTED: &[Activation] = &[
        Activation::None,
        Activation::Relu,
        Activation::Clip { min: 0.0, max: 6.0 },
        Activation::Clip { min: -0.5, max: 0.25 },
        Activation::HardSigmoid { alpha: 0.2, beta: 0.5 },
        Activation::HardSwish,
        Activation::Sigmoid,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::LeakyRelu { alpha: -0.3 },
        Activation::Tanh,
        Activation::Elu { alpha: 1.5 },
        Activation::Gelu,
        Activation::Softplus,
    ];

    /// Inputs away from the kinks (a central difference across a kink measures neither side).
    fn inputs() -> Vec<f32> {
        let kinks = [0.0f32, 6.0, -0.5, 0.25, -2.5, 2.5, -3.0, 3.0];
        (0..2003).map(|i| (i as f32 - 1001.0) * 0.00731).filter(|x| kinks.iter().all(|k| (x - k).abs() > 2e-3)).collect()
    }

    #[test]
    fn derivatives_match_central_differences_of_the_forward() {
        let xs = inputs();
        let dy: Vec<f32> = xs.iter().enumerate().map(|(i, _)| ((i * 7919 % 201) as f32 - 100.0) / 50.0).collect();
        for &a in SUPPORTED {
            let mut got = alloc::vec![f32::NAN; xs.len()];
            activation_backward(a, Saved::PreActivation, &xs, &dy, &mut got).unwrap();
            let ys: Vec<f32> = xs.iter().map(|&x| a.apply_scalar(x)).collect();
            let mut from_y = alloc::vec![f32::NAN; xs.len()];
            let output_ok = supported(a, Saved::Output);
            if output_ok {
                activation_backward(a, Saved::Output, &ys, &dy, &mut from_y).unwrap();
            } else {
                assert_eq!(activation_backward(a, Saved::Output, &ys, &dy, &mut from_y), Err(Status::InvalidDescriptor));
            }
            for (i, &x) in xs.iter().enumerate() {
                let h = 1e-3f64;
                let f = |t: f64| a.apply_scalar(t as f32) as f64;
                // The forward in f32: a step of 1e-3 gives about 1e-4 of rounding noise on the slope.
                let slope = (f(x as f64 + h) - f(x as f64 - h)) / (2.0 * h);
                let want = dy[i] as f64 * slope;
                let what = format!("{a:?} at x = {x}");
                assert!((got[i] as f64 - want).abs() <= 2e-3 * dy[i].abs().max(1.0) as f64, "{what}: from x {} want {want}", got[i]);
                if output_ok {
                    assert!((from_y[i] - got[i]).abs() <= 1e-5 * dy[i].abs().max(1.0), "{what}: from y {} but from x {}", from_y[i], got[i]);
                }
            }
        }
    }

    #[test]
    fn kinks_follow_pytorch_and_in_place_works() {
        let xs = [0.0f32, -3.0, 3.0, 6.0];
        let dy = [1.0f32; 4];
        let mut g = [0.0f32; 4];
        activation_backward(Activation::Relu, Saved::PreActivation, &xs, &dy, &mut g).unwrap();
        assert_eq!(g, [0.0, 0.0, 1.0, 1.0]);
        activation_backward(Activation::Clip { min: 0.0, max: 6.0 }, Saved::PreActivation, &xs, &dy, &mut g).unwrap();
        assert_eq!(g, [0.0, 0.0, 1.0, 0.0]);
        activation_backward(Activation::HardSwish, Saved::PreActivation, &xs, &dy, &mut g).unwrap();
        assert_eq!(g, [0.5, -0.5, 1.5, 1.0]);
        // In place over the gradient.
        let mut buf = [2.0f32, -1.0, 0.5];
        let x = [1.0f32, -1.0, 2.0];
        unsafe { activation_backward_buffer(Activation::LeakyRelu { alpha: 0.25 }, Saved::PreActivation, x.as_ptr(), buf.as_ptr(), buf.as_mut_ptr(), 3).unwrap() };
        assert_eq!(buf, [2.0, -0.25, 0.5]);
        assert_eq!(activation_backward(Activation::Exp, Saved::PreActivation, &x, &dy[..3], &mut g[..3]), Err(Status::InvalidDescriptor));
        assert_eq!(activation_backward(Activation::Relu, Saved::PreActivation, &x, &dy, &mut g), Err(Status::ShapeMismatch));
    }
}
