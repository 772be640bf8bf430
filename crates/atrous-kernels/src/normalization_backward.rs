//! Backward of an inference-mode BatchNormalization over `[N, C, S]`: with the running statistics fixed,
//! `y = gamma * (x - mean) * inv_std + beta` is a per-channel affine map (the folded `scale = gamma *
//! inv_std`, `inv_std = 1 / sqrt(var + eps)`), so
//! `dx = dy * scale`, `dgamma = inv_std * sum dy * (x - mean)`, `dbeta = sum dy` (sums over N and S).

use crate::isa::{self, active as v};
use crate::status::Status;

/// The per-channel constants of the map, `C` values each.
pub struct BatchNormFold<'a> {
    /// `gamma * inv_std`.
    pub scale: &'a [f32],
    pub inv_std: &'a [f32],
    pub mean: &'a [f32],
}

/// Where the gradients go; a `None` is skipped (`x` is read only for `gamma`).
pub struct BatchNormGradients<'a> {
    pub input: Option<&'a mut [f32]>,
    pub gamma: Option<&'a mut [f32]>,
    pub beta: Option<&'a mut [f32]>,
}

pub fn batch_norm_backward(batch: usize, channels: usize, spatial: usize, fold: &BatchNormFold, x: &[f32], grad_output: &[f32], grads: BatchNormGradients) -> Result<(), Status> {
    let len = batch.checked_mul(channels).and_then(|n| n.checked_mul(spatial)).ok_or(Status::SizeOverflow)?;
    let per_channel = [fold.scale.len(), fold.inv_std.len(), fold.mean.len()];
    if grad_output.len() != len || per_channel.iter().any(|&n| n != channels) || (grads.gamma.is_some() && x.len() != len) {
        return Err(Status::InputLengthMismatch);
    }
    let BatchNormGradients { mut input, mut gamma, mut beta } = grads;
    if input.as_ref().is_some_and(|g| g.len() != len) || gamma.as_ref().is_some_and(|g| g.len() != channels) || beta.as_ref().is_some_and(|g| g.len() != channels) {
        return Err(Status::OutputLengthMismatch);
    }
    for c in 0..channels {
        let (mut sum_dy, mut sum_dy_xc) = (0.0f64, 0.0f64);
        for n in 0..batch {
            let at = (n * channels + c) * spatial;
            let dy = &grad_output[at..][..spatial];
            if let Some(gi) = input.as_deref_mut() {
                scale_into(&mut gi[at..][..spatial], dy, fold.scale[c]);
            }
            if beta.is_some() {
                sum_dy += dy.iter().map(|&g| g as f64).sum::<f64>();
            }
            if gamma.is_some() {
                let m = fold.mean[c];
                sum_dy_xc += dy.iter().zip(&x[at..][..spatial]).map(|(&g, &xv)| g as f64 * (xv - m) as f64).sum::<f64>();
            }
        }
        if let Some(g) = gamma.as_deref_mut() {
            g[c] = (sum_dy_xc * fold.inv_std[c] as f64) as f32;
        }
        if let Some(b) = beta.as_deref_mut() {
            b[c] = sum_dy as f32;
        }
    }
    Ok(())
}

/// `dst = src * s`.
#[inline(never)]
fn scale_into(dst: &mut [f32], src: &[f32], s: f32) {
    let n = dst.len().min(src.len());
    let sv = v::splat(s);
    let mut i = 0;
    // SAFETY: i + LANES <= n for both slices, and the tail reads and writes `n - i` floats.
    unsafe {
        while i + v::LANES <= n {
            v::store(dst.as_mut_ptr().add(i), v::mul(v::load(src.as_ptr().add(i)), sv));
            i += v::LANES;
        }
        if i < n {
            isa::store_partial(dst.as_mut_ptr().add(i), v::mul(isa::load_partial(src.as_ptr().add(i), n - i), sv), n - i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Against central differences of the forward (in f64), for every parameter and input element.
    #[test]
    fn matches_finite_differences_of_the_forward() {
        let mut rng = Rng(0xb4);
        for _ in 0..20 {
            let (b, c, s) = (rng.range(1, 3), rng.range(1, 4), rng.range(1, 11));
            let len = b * c * s;
            let x = rng.vec(len);
            let dy = rng.vec(len);
            let gamma: Vec<f32> = rng.vec(c);
            let var: Vec<f32> = (0..c).map(|_| rng.unit() + 1.2).collect();
            let mean = rng.vec(c);
            let eps = 1e-5f32;
            let inv_std: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
            let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, i)| g * i).collect();
            let (mut gx, mut gg, mut gb) = (vec![f32::NAN; len], vec![f32::NAN; c], vec![f32::NAN; c]);
            let fold = BatchNormFold { scale: &scale, inv_std: &inv_std, mean: &mean };
            batch_norm_backward(b, c, s, &fold, &x, &dy, BatchNormGradients { input: Some(&mut gx), gamma: Some(&mut gg), beta: Some(&mut gb) }).unwrap();
            // L = <dy, y(x, gamma, beta)>, linear in each of them.
            let loss = |x: &[f32], gamma: &[f32], beta: &[f64]| -> f64 {
                (0..len).map(|i| {
                    let ch = i / s % c;
                    let y = gamma[ch] as f64 * (x[i] - mean[ch]) as f64 * inv_std[ch] as f64 + beta[ch];
                    dy[i] as f64 * y
                }).sum()
            };
            let zero = vec![0.0f64; c];
            let h = 1e-2f32;
            for i in 0..len {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                let slope = (loss(&up, &gamma, &zero) - loss(&down, &gamma, &zero)) / (2.0 * h as f64);
                assert!((gx[i] as f64 - slope).abs() < 1e-4, "dx[{i}] {} vs {slope}", gx[i]);
            }
            for ch in 0..c {
                let (mut up, mut down) = (gamma.clone(), gamma.clone());
                up[ch] += h;
                down[ch] -= h;
                let slope = (loss(&x, &up, &zero) - loss(&x, &down, &zero)) / (2.0 * h as f64);
                assert!((gg[ch] as f64 - slope).abs() < 1e-4, "dgamma[{ch}] {} vs {slope}", gg[ch]);
                let mut beta = zero.clone();
                beta[ch] = 1.0;
                let slope = loss(&x, &gamma, &beta) - loss(&x, &gamma, &zero);
                assert!((gb[ch] as f64 - slope).abs() < 1e-4, "dbeta[{ch}] {} vs {slope}", gb[ch]);
            }
        }
    }

    #[test]
    fn lengths_are_checked() {
        let one = [1.0f32];
        let fold = BatchNormFold { scale: &one, inv_std: &one, mean: &one };
        let none = || BatchNormGradients { input: None, gamma: None, beta: None };
        assert_eq!(batch_norm_backward(1, 1, 2, &fold, &[], &[0.0; 2], none()), Ok(()));
        assert_eq!(batch_norm_backward(1, 1, 2, &fold, &[], &[0.0; 3], none()), Err(Status::InputLengthMismatch));
        assert_eq!(batch_norm_backward(1, 1, 2, &fold, &[], &[0.0; 2], BatchNormGradients { gamma: Some(&mut [0.0]), input: None, beta: None }), Err(Status::InputLengthMismatch));
        assert_eq!(batch_norm_backward(1, 1, 2, &fold, &[0.0; 2], &[0.0; 2], BatchNormGradients { gamma: Some(&mut [0.0; 2]), input: None, beta: None }), Err(Status::OutputLengthMismatch));
    }
}
