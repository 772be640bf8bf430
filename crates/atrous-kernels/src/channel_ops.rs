//! The element-wise work of CNN graphs that is not a convolution, on whole feature maps: per-channel
//! scaling (squeeze-and-excitation), global average pooling, and same-shape add / multiply (residual
//! connections the conv epilogue could not absorb). Plain loops over `isa` vectors.

use crate::activation::Activation;
use crate::isa::active as v;

/// `dst = act(src)` element-wise: an activation that could not be fused into a convolution.
pub fn activate(src: &[f32], dst: &mut [f32], act: Activation) {
    let n = dst.len().min(src.len());
    // SAFETY: both slices hold n floats and cannot overlap.
    unsafe { act.apply_buffer(src.as_ptr(), dst.as_mut_ptr(), n) }
}

/// `dst[p][i] = src[p][i] * scale[p]` for `planes` planes of `len` floats.
pub fn scale_planes(src: &[f32], scale: &[f32], dst: &mut [f32], len: usize) {
    for ((s, d), &k) in src.chunks_exact(len).zip(dst.chunks_exact_mut(len)).zip(scale) {
        let kv = v::splat(k);
        let mut i = 0;
        // SAFETY: i + v::LANES <= len for both chunks.
        unsafe {
            while i + v::LANES <= len {
                v::store(d.as_mut_ptr().add(i), v::mul(v::load(s.as_ptr().add(i)), kv));
                i += v::LANES;
            }
        }
        while i < len {
            d[i] = s[i] * k;
            i += 1;
        }
    }
}

/// `dst[p] = mean(src[p])` for `planes` planes of `len` floats (summed in four lanes, then across them).
pub fn mean_planes(src: &[f32], dst: &mut [f32], len: usize) {
    for (s, d) in src.chunks_exact(len).zip(dst.iter_mut()) {
        let mut acc = v::zero();
        let mut i = 0;
        // SAFETY: i + v::LANES <= len.
        unsafe {
            while i + v::LANES <= len {
                acc = v::add(acc, v::load(s.as_ptr().add(i)));
                i += v::LANES;
            }
        }
        let l = v::lanes(acc);
        let mut sum = (l[0] + l[1]) + (l[2] + l[3]);
        while i < len {
            sum += s[i];
            i += 1;
        }
        *d = sum / len as f32;
    }
}

/// `dst = a + b` (or `a * b` when `multiply`), all of one length.
pub fn combine(a: &[f32], b: &[f32], dst: &mut [f32], multiply: bool) {
    let n = dst.len().min(a.len()).min(b.len());
    let mut i = 0;
    // SAFETY: i + v::LANES <= n for all three slices.
    unsafe {
        while i + v::LANES <= n {
            let (x, y) = (v::load(a.as_ptr().add(i)), v::load(b.as_ptr().add(i)));
            v::store(dst.as_mut_ptr().add(i), if multiply { v::mul(x, y) } else { v::add(x, y) });
            i += v::LANES;
        }
    }
    while i < n {
        dst[i] = if multiply { a[i] * b[i] } else { a[i] + b[i] };
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn activate_matches_the_scalar_form() {
        let src: Vec<f32> = (0..23).map(|i| i as f32 * 0.7 - 8.0).collect();
        for act in [Activation::Relu, Activation::Sigmoid, Activation::HardSwish, Activation::Clip { min: -1.0, max: 2.0 }] {
            let mut dst = vec![0.0; src.len()];
            activate(&src, &mut dst, act);
            for (d, s) in dst.iter().zip(&src) {
                assert!((d - act.apply_scalar(*s)).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn scale_mean_and_combine_match_loops() {
        let (planes, len) = (3, 11);
        let src: Vec<f32> = (0..planes * len).map(|i| i as f32 * 0.25 - 3.0).collect();
        let scale = [2.0, -1.0, 0.5];
        let mut dst = vec![0.0; planes * len];
        scale_planes(&src, &scale, &mut dst, len);
        for p in 0..planes {
            for i in 0..len {
                assert_eq!(dst[p * len + i], src[p * len + i] * scale[p]);
            }
        }
        let mut means = vec![0.0; planes];
        mean_planes(&src, &mut means, len);
        for p in 0..planes {
            let want: f32 = src[p * len..(p + 1) * len].iter().sum::<f32>() / len as f32;
            assert!((means[p] - want).abs() < 1e-5);
        }
        let mut sum = vec![0.0; planes * len];
        combine(&src, &dst, &mut sum, false);
        let mut prod = vec![0.0; planes * len];
        combine(&src, &dst, &mut prod, true);
        for i in 0..planes * len {
            assert_eq!(sum[i], src[i] + dst[i]);
            assert_eq!(prod[i], src[i] * dst[i]);
        }
    }
}
