//! Softmax cross-entropy over the class axis of `[N, C, S]` logits (S the flattened spatial dims) with
//! integer labels `[N, S]`, PyTorch's `F.cross_entropy(logits, labels, weight, ignore_index)` with
//! `reduction='mean'`: `loss = sum_p w[t_p] * (logsumexp(x_p) - x_p[t_p]) / sum_p w[t_p]` over the pixels
//! whose label is not `ignore_index`, and in the same pass the gradient of that loss with respect to the
//! logits, `w[t_p] * (softmax(x_p) - onehot(t_p)) / sum_p w[t_p]` (0 at ignored pixels).
//!
//! Vectorized across pixels: in NCHW the classes of one pixel are `S` apart, and `LANES` neighbouring
//! pixels are contiguous in every class plane, so each vector carries `LANES` pixels through the max, the
//! exp-sum and the gradient over the classes.

use crate::isa::{self, active as v};
use crate::status::Status;
use crate::vmath;

/// What a cross-entropy pass sums, besides the gradient.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CrossEntropy {
    /// The mean loss (0 when every pixel is ignored or weighs 0: there is nothing to average).
    pub loss: f64,
    /// `sum_p w[t_p]` over the counted pixels (their count without class weights).
    pub weight_sum: f64,
    /// Counted pixels whose largest logit is at their label (first largest on ties).
    pub correct: u64,
    /// Pixels not ignored.
    pub counted: u64,
}

/// The dims of the pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossShape {
    pub batch: usize,
    pub classes: usize,
    pub spatial: usize,
}

/// Loss, counts and (when `grad` is given, `logits`-sized) the gradient of the mean loss. `weights`, when
/// given, holds one weight per class. A label outside `[0, C)` that is not `ignore_index` is
/// `InvalidTable`; wrong lengths are `InputLengthMismatch` / `OutputLengthMismatch`.
pub fn softmax_cross_entropy(s: LossShape, logits: &[f32], labels: &[i32], weights: Option<&[f32]>, ignore_index: i32, grad: Option<&mut [f32]>) -> Result<CrossEntropy, Status> {
    let LossShape { batch, classes, spatial } = s;
    if classes == 0 {
        return Err(Status::ZeroDimension);
    }
    let pixels = batch.checked_mul(spatial).ok_or(Status::SizeOverflow)?;
    let len = pixels.checked_mul(classes).ok_or(Status::SizeOverflow)?;
    if logits.len() != len || labels.len() != pixels || weights.is_some_and(|w| w.len() != classes) {
        return Err(Status::InputLengthMismatch);
    }
    if grad.as_ref().is_some_and(|g| g.len() != len) {
        return Err(Status::OutputLengthMismatch);
    }
    let weight_of = |t: i32| weights.map_or(1.0, |w| w[t as usize]);
    // First the labels alone: their check, and the divisor every gradient needs.
    let mut out = CrossEntropy::default();
    for &t in labels {
        if t == ignore_index {
            continue;
        }
        if t < 0 || t as usize >= classes {
            return Err(Status::InvalidTable);
        }
        out.weight_sum += weight_of(t) as f64;
        out.counted += 1;
    }
    let inv_total = if out.weight_sum > 0.0 { (1.0 / out.weight_sum) as f32 } else { 0.0 };
    let mut loss_sum = 0.0f64;
    let mut grad = grad;
    for n in 0..batch {
        let x = &logits[n * classes * spatial..][..classes * spatial];
        let t = &labels[n * spatial..][..spatial];
        let mut p = 0;
        while p < spatial {
            let lanes = (spatial - p).min(v::LANES);
            // SAFETY: every class plane of `x` holds `spatial` floats from `p`, of which `lanes` are read.
            let load = |c: usize| unsafe { isa::load_upto(x.as_ptr().add(c * spatial + p), lanes) };
            let mut max = load(0);
            let mut argmax = [0usize; 16];
            for c in 1..classes {
                let xc = load(c);
                // The first largest wins (as argmax): a strictly greater lane moves.
                for (l, (&a, &b)) in v::lanes(xc).iter().zip(&v::lanes(max)).enumerate() {
                    if a > b {
                        argmax[l] = c;
                    }
                }
                max = v::max(max, xc);
            }
            let mut sum = v::zero();
            for c in 0..classes {
                sum = v::add(sum, vmath::exp(v::sub(load(c), max)));
            }
            // no_std has no f64 logarithm: the log-sum is the vector log's (f32, about 1 ulp).
            let (ml, sl) = (v::lanes(max), v::lanes(vmath::log(sum)));
            // Per lane: its share of the mean (0 at ignored pixels) and, from it, the loss term.
            let mut share = [0.0f32; 16];
            for l in 0..lanes {
                let label = t[p + l];
                if label == ignore_index {
                    continue;
                }
                let w = weight_of(label);
                share[l] = w * inv_total;
                let xt = x[label as usize * spatial + p + l];
                loss_sum += w as f64 * (sl[l] as f64 + ml[l] as f64 - xt as f64);
                out.correct += (argmax[l] == label as usize) as u64;
            }
            if let Some(g) = grad.as_deref_mut() {
                let g = &mut g[n * classes * spatial..][..classes * spatial];
                let scale = v::div(v::from_lanes(core::array::from_fn(|l| share[l])), sum);
                for c in 0..classes {
                    let gc = v::mul(vmath::exp(v::sub(load(c), max)), scale);
                    // SAFETY: as `load`, for writing.
                    unsafe { isa::store_upto(g.as_mut_ptr().add(c * spatial + p), gc, lanes) };
                }
                for l in 0..lanes {
                    let label = t[p + l];
                    if label != ignore_index {
                        g[label as usize * spatial + p + l] -= share[l];
                    }
                }
            }
            p += lanes;
        }
    }
    out.loss = if out.weight_sum > 0.0 { loss_sum / out.weight_sum } else { 0.0 };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use alloc::vec;
    use alloc::vec::Vec;

    /// The definition, in f64, one pixel at a time.
    fn naive(s: LossShape, x: &[f32], t: &[i32], w: Option<&[f32]>, ignore: i32) -> (f64, Vec<f64>, u64) {
        let LossShape { batch, classes, spatial } = s;
        let mut total = 0.0;
        for &l in t {
            if l != ignore {
                total += w.map_or(1.0, |w| w[l as usize] as f64);
            }
        }
        let (mut loss, mut grad, mut correct) = (0.0, vec![0.0; x.len()], 0);
        for n in 0..batch {
            for p in 0..spatial {
                let label = t[n * spatial + p];
                if label == ignore {
                    continue;
                }
                let at = |c: usize| x[(n * classes + c) * spatial + p] as f64;
                let m = (0..classes).map(at).fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = (0..classes).map(|c| (at(c) - m).exp()).sum();
                let wt = w.map_or(1.0, |w| w[label as usize] as f64);
                loss += wt * (z.ln() + m - at(label as usize)) / total;
                let best = (0..classes).fold(0, |b, c| if at(c) > at(b) { c } else { b });
                correct += (best == label as usize) as u64;
                for c in 0..classes {
                    let onehot = (c == label as usize) as u8 as f64;
                    grad[(n * classes + c) * spatial + p] = wt * ((at(c) - m).exp() / z - onehot) / total;
                }
            }
        }
        (loss, grad, correct)
    }

    #[test]
    fn matches_the_definition_with_ignored_pixels_and_class_weights() {
        let mut rng = Rng(0x10_55);
        for trial in 0..80 {
            let s = LossShape { batch: rng.range(1, 3), classes: rng.range(1, 7), spatial: rng.range(1, 23) };
            let x: Vec<f32> = (0..s.batch * s.classes * s.spatial).map(|_| rng.unit() * 8.0).collect();
            let ignore = if trial % 3 == 0 { 255 } else { -100 };
            let t: Vec<i32> = (0..s.batch * s.spatial).map(|_| if rng.below(5) == 0 { ignore } else { rng.below(s.classes) as i32 }).collect();
            let w: Option<Vec<f32>> = (trial % 2 == 1).then(|| (0..s.classes).map(|_| rng.unit() + 1.5).collect());
            let mut g = vec![f32::NAN; x.len()];
            let got = softmax_cross_entropy(s, &x, &t, w.as_deref(), ignore, Some(&mut g)).unwrap();
            let (loss, grad, correct) = naive(s, &x, &t, w.as_deref(), ignore);
            let counted = t.iter().filter(|&&l| l != ignore).count() as u64;
            assert_eq!((got.counted, got.correct), (counted, correct), "{s:?}");
            if counted == 0 {
                assert_eq!(got.loss, 0.0);
                assert!(g.iter().all(|&v| v == 0.0));
                continue;
            }
            assert!((got.loss - loss).abs() <= 1e-5 * loss.abs().max(1.0), "{s:?}: loss {} want {loss}", got.loss);
            for (i, (a, b)) in g.iter().zip(&grad).enumerate() {
                assert!((*a as f64 - b).abs() <= 1e-6, "{s:?}: grad[{i}] {a} want {b}");
            }
            // Without a gradient buffer the sums are the same.
            assert_eq!(softmax_cross_entropy(s, &x, &t, w.as_deref(), ignore, None), Ok(got));
        }
    }

    #[test]
    fn the_gradient_is_the_slope_of_the_loss() {
        let s = LossShape { batch: 2, classes: 3, spatial: 5 };
        let mut rng = Rng(7);
        let x = rng.vec(30);
        let t: Vec<i32> = (0..10).map(|i| if i == 3 { -1 } else { (i % 3) as i32 }).collect();
        let w = [0.5f32, 2.0, 1.0];
        let mut g = vec![0.0; 30];
        softmax_cross_entropy(s, &x, &t, Some(&w), -1, Some(&mut g)).unwrap();
        for i in 0..30 {
            let at = |d: f32| {
                let mut y = x.clone();
                y[i] += d;
                softmax_cross_entropy(s, &y, &t, Some(&w), -1, None).unwrap().loss
            };
            let slope = (at(1e-2) - at(-1e-2)) / 2e-2;
            assert!((slope - g[i] as f64).abs() < 1e-4, "{i}: slope {slope} grad {}", g[i]);
        }
    }

    #[test]
    fn bad_labels_and_lengths_are_errors() {
        let s = LossShape { batch: 1, classes: 2, spatial: 2 };
        let x = [0.0f32; 4];
        assert_eq!(softmax_cross_entropy(s, &x, &[0, 2], None, -100, None), Err(Status::InvalidTable));
        assert_eq!(softmax_cross_entropy(s, &x, &[0, -1], None, -100, None), Err(Status::InvalidTable));
        assert_eq!(softmax_cross_entropy(s, &x, &[0], None, -100, None), Err(Status::InputLengthMismatch));
        assert_eq!(softmax_cross_entropy(s, &x, &[0, 1], Some(&[1.0]), -100, None), Err(Status::InputLengthMismatch));
        assert_eq!(softmax_cross_entropy(s, &x, &[0, 1], None, -100, Some(&mut [0.0; 3])), Err(Status::OutputLengthMismatch));
        let r = softmax_cross_entropy(s, &x, &[0, 1], None, -100, None).unwrap();
        assert!((r.loss - core::f64::consts::LN_2).abs() < 1e-6);
    }
}
