//! Backward of the poolings (`pooling::max_pool2d`, `avg_pool2d`, and the global average `mean_planes`),
//! on the forward's `PoolShape` and window rules.
//!
//! Max pooling recomputes each window's argmax from the saved input (the first largest in row-major order,
//! as `max_pool2d_with_indices` and PyTorch pick it) instead of keeping an index per output: a trainer
//! keeps the input anyway when the layer before it is trainable, and the indices would cost as much again.

use crate::isa::active as v;
use crate::pooling::{padded_taps, taps, PoolShape};
use crate::status::Status;

/// `s`'s input and output lengths, with `grad_input` and `grad_output` of exactly those lengths.
fn gradient_lengths(s: &PoolShape, grad_output: &[f32], grad_input: &[f32]) -> Result<(usize, usize), Status> {
    let (in_len, out_len) = s.lengths()?;
    if grad_input.len() != in_len {
        return Err(Status::InputLengthMismatch);
    }
    if grad_output.len() != out_len {
        return Err(Status::OutputLengthMismatch);
    }
    Ok((in_len, out_len))
}

/// `grad_input` (every element written) of max pooling `src` under `s`, given `grad_output`: each output's
/// gradient goes to the input element its window took; windows entirely in the padding pass nothing.
pub fn max_pool2d_backward(src: &[f32], grad_output: &[f32], grad_input: &mut [f32], s: &PoolShape) -> Result<(), Status> {
    let (in_len, _) = gradient_lengths(s, grad_output, grad_input)?;
    if src.len() != in_len {
        return Err(Status::InputLengthMismatch);
    }
    let ([h, w], [oh, ow], [dy, dx]) = (s.in_hw, s.out_hw, s.dilations);
    grad_input.fill(0.0);
    for p in 0..s.planes {
        let plane = &src[p * h * w..][..h * w];
        let gi = &mut grad_input[p * h * w..][..h * w];
        for oy in 0..oh {
            let (ky0, ky1, y0) = taps(oy, s.strides[0], s.pads[0], dy, s.kernel[0], h);
            for ox in 0..ow {
                let (kx0, kx1, x0) = taps(ox, s.strides[1], s.pads[1], dx, s.kernel[1], w);
                let mut best: Option<(f32, usize)> = None;
                for ky in ky0..ky1 {
                    let y = (y0 + (ky * dy) as isize) as usize;
                    for kx in kx0..kx1 {
                        let at = y * w + (x0 + (kx * dx) as isize) as usize;
                        if best.is_none_or(|(b, _)| plane[at] > b) {
                            best = Some((plane[at], at));
                        }
                    }
                }
                if let Some((_, at)) = best {
                    gi[at] += grad_output[(p * oh + oy) * ow + ox];
                }
            }
        }
    }
    Ok(())
}

/// `grad_input` (every element written) of `avg_pool2d` under the same `s`, `pad_end` and
/// `count_include_pad`: each output's gradient, over its divisor, goes to every tap of its window inside
/// the input.
pub fn avg_pool2d_backward(grad_output: &[f32], grad_input: &mut [f32], s: &PoolShape, pad_end: [usize; 2], count_include_pad: bool) -> Result<(), Status> {
    gradient_lengths(s, grad_output, grad_input)?;
    let ([h, w], [oh, ow], [dy, dx]) = (s.in_hw, s.out_hw, s.dilations);
    grad_input.fill(0.0);
    for p in 0..s.planes {
        let gi = &mut grad_input[p * h * w..][..h * w];
        for oy in 0..oh {
            let (ky0, ky1, y0) = taps(oy, s.strides[0], s.pads[0], dy, s.kernel[0], h);
            let rows = if count_include_pad { padded_taps(s, pad_end, y0, 0, h) } else { ky1.saturating_sub(ky0) };
            for ox in 0..ow {
                let (kx0, kx1, x0) = taps(ox, s.strides[1], s.pads[1], dx, s.kernel[1], w);
                let cols = if count_include_pad { padded_taps(s, pad_end, x0, 1, w) } else { kx1.saturating_sub(kx0) };
                if ky0 >= ky1 || kx0 >= kx1 || rows * cols == 0 {
                    continue; // the forward wrote 0, a constant
                }
                let g = grad_output[(p * oh + oy) * ow + ox] / (rows * cols) as f32;
                for ky in ky0..ky1 {
                    let row = (y0 + (ky * dy) as isize) as usize * w;
                    for kx in kx0..kx1 {
                        gi[row + (x0 + (kx * dx) as isize) as usize] += g;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Backward of the mean of each of `planes` planes of `len` (GlobalAveragePool): every element of plane
/// `p` gets `grad_output[p] / len`.
pub fn mean_planes_backward(grad_output: &[f32], grad_input: &mut [f32], len: usize) -> Result<(), Status> {
    if len == 0 || grad_input.len() != grad_output.len().checked_mul(len).ok_or(Status::SizeOverflow)? {
        return Err(Status::InputLengthMismatch);
    }
    for (plane, &g) in grad_input.chunks_exact_mut(len).zip(grad_output) {
        let gv = v::splat(g / len as f32);
        let mut i = 0;
        // SAFETY: i + LANES <= len, the plane's length.
        unsafe {
            while i + v::LANES <= len {
                v::store(plane.as_mut_ptr().add(i), gv);
                i += v::LANES;
            }
        }
        plane[i..].fill(g / len as f32);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pooling::{avg_pool2d, max_pool2d};
    use crate::test_rng::Rng;
    use alloc::vec;
    use alloc::vec::Vec;

    fn random_shape(rng: &mut Rng) -> (PoolShape, [usize; 2]) {
        let kernel = [rng.range(1, 3), rng.range(1, 3)];
        let strides = [rng.range(1, 3), rng.range(1, 3)];
        let dilations = [rng.range(1, 2), rng.range(1, 2)];
        let pads = [rng.below(kernel[0]), rng.below(kernel[1])];
        let pad_end = [rng.below(kernel[0]), rng.below(kernel[1])];
        let in_hw = [rng.range(5, 9), rng.range(5, 9)];
        let out = |a: usize| (in_hw[a] + pads[a] + pad_end[a] - ((kernel[a] - 1) * dilations[a] + 1)) / strides[a] + 1;
        (PoolShape { planes: rng.range(1, 3), in_hw, out_hw: [out(0), out(1)], kernel, strides, dilations, pads }, pad_end)
    }

    /// Max pooling is piecewise linear: away from ties its gradient is exact, so `<dy, pool(x + e)> -
    /// <dy, pool(x)> = <backward(dy), e>` for a perturbation `e` too small to change any argmax. Average
    /// pooling is linear in x: `<dy, pool(x)> = <backward(dy), x>`.
    #[test]
    fn gradients_are_the_forwards_slopes() {
        let mut rng = Rng(0x9001);
        for trial in 0..120 {
            let (s, pad_end) = random_shape(&mut rng);
            let n_in = s.planes * s.in_hw[0] * s.in_hw[1];
            let n_out = s.planes * s.out_hw[0] * s.out_hw[1];
            // Distinct values a step of 1e-3 apart at least: no ties, and a 1e-5 nudge moves no argmax.
            let order = rng.perm(n_in);
            let x: Vec<f32> = order.iter().map(|&i| i as f32 * 1e-2 - 1.0).collect();
            let e: Vec<f32> = (0..n_in).map(|_| rng.unit() * 1e-3).collect();
            let dy = rng.vec(n_out);
            let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| *p as f64 * *q as f64).sum::<f64>();
            let what = alloc::format!("trial {trial}: {s:?} pad_end {pad_end:?}");
            let mut gx = vec![f32::NAN; n_in];
            max_pool2d_backward(&x, &dy, &mut gx, &s).unwrap();
            let (mut y0, mut y1) = (vec![0.0; n_out], vec![0.0; n_out]);
            let xe: Vec<f32> = x.iter().zip(&e).map(|(a, b)| a + b).collect();
            max_pool2d(&x, &mut y0, &s).unwrap();
            max_pool2d(&xe, &mut y1, &s).unwrap();
            let (lhs, rhs) = (dot(&dy, &y1) - dot(&dy, &y0), dot(&gx, &e));
            assert!((lhs - rhs).abs() < 1e-5, "max {what}: {lhs} vs {rhs}");
            for include in [false, true] {
                avg_pool2d_backward(&dy, &mut gx, &s, pad_end, include).unwrap();
                avg_pool2d(&x, &mut y0, &s, pad_end, include).unwrap();
                let (lhs, rhs) = (dot(&dy, &y0), dot(&gx, &x));
                assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0), "avg include_pad {include} {what}: {lhs} vs {rhs}");
            }
        }
    }

    #[test]
    fn ties_go_to_the_first_and_global_mean_spreads() {
        let s = PoolShape { planes: 1, in_hw: [2, 2], out_hw: [1, 1], kernel: [2, 2], strides: [1, 1], dilations: [1, 1], pads: [0, 0] };
        let mut g = [9.0f32; 4];
        max_pool2d_backward(&[1.0, 3.0, 3.0, 0.0], &[2.0], &mut g, &s).unwrap();
        assert_eq!(g, [0.0, 2.0, 0.0, 0.0]);
        let mut g = [0.0f32; 10];
        mean_planes_backward(&[5.0, -1.0], &mut g, 5).unwrap();
        assert_eq!(g, [1.0, 1.0, 1.0, 1.0, 1.0, -0.2, -0.2, -0.2, -0.2, -0.2]);
        assert_eq!(mean_planes_backward(&[5.0], &mut g, 5), Err(Status::InputLengthMismatch));
        assert_eq!(max_pool2d_backward(&[0.0; 3], &[2.0], &mut [0.0; 4], &s), Err(Status::InputLengthMismatch));
        assert_eq!(avg_pool2d_backward(&[2.0, 1.0], &mut [0.0; 4], &s, [0, 0], false), Err(Status::OutputLengthMismatch));
    }
}
