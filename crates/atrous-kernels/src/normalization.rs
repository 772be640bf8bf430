//! Softmax / LogSoftmax over the middle axis of `[outer, len, inner]`, LayerNormalization over rows, and
//! Group / Instance normalization over `[N, groups, channels_per_group * spatial]`.
//!
//! Softmax subtracts the row's max before `exp`, so any magnitude is safe. The norms take the mean in two
//! passes without f64: a first pairwise mean `m0`, then the sums of `x - m0` and `(x - m0)^2`, which
//! correct the mean and give the variance from values already centred (rows with mean 1e4 and unit spread
//! lose nothing to cancellation).

use crate::isa::{active as v, load_partial, load_upto, store_partial, store_upto, LANES};
use crate::reduce::{fold_columns, fold_row, sum_columns, sum_row};
use crate::status::Status;
use crate::vmath;
use v::V;

/// `dst = f(src)` over a contiguous row.
#[inline(always)]
unsafe fn map_row(src: *const f32, dst: *mut f32, n: usize, f: impl Fn(V) -> V) {
    let mut i = 0;
    while i + LANES <= n {
        v::store(dst.add(i), f(v::load(src.add(i))));
        i += LANES;
    }
    if i < n {
        store_partial(dst.add(i), f(load_partial(src.add(i), n - i)), n - i);
    }
}

/// Softmax (or LogSoftmax when `log`) along `len` of `[outer, len, inner]`.
///
/// # Safety
/// `src` and `dst` valid for `outer * len * inner` floats; the same buffer or not overlapping.
#[inline(never)]
pub unsafe fn softmax(src: *const f32, dst: *mut f32, outer: usize, len: usize, inner: usize, log: bool) {
    if len == 0 {
        return;
    }
    if inner == 1 {
        for o in 0..outer {
            let (s, d) = (src.add(o * len), dst.add(o * len));
            let m = v::splat(fold_row(s, len, f32::NEG_INFINITY, v::max));
            if log {
                let total = sum_row(s, len, |x| vmath::exp(v::sub(x, m)));
                let shift = v::add(m, vmath::log(v::splat(total)));
                map_row(s, d, len, |x| v::sub(x, shift));
            } else {
                map_row(s, d, len, |x| vmath::exp(v::sub(x, m)));
                let scale = v::splat(1.0 / sum_row(d, len, |x| x));
                map_row(d, d, len, |x| v::mul(x, scale));
            }
        }
        return;
    }
    // Columns: LANES of them at a time, each lane its own softmax down `len` rows `inner` apart.
    for o in 0..outer {
        let mut c = 0;
        while c < inner {
            let w = (inner - c).min(LANES);
            let (s, d) = (src.add(o * len * inner + c), dst.add(o * len * inner + c));
            let m = fold_columns(s, len, inner, w, f32::NEG_INFINITY, v::max);
            if log {
                let total = sum_columns(s, len, inner, w, |x| vmath::exp(v::sub(x, m)));
                let shift = v::add(m, vmath::log(total));
                for l in 0..len {
                    store_upto(d.add(l * inner), v::sub(load_upto(s.add(l * inner), w), shift), w);
                }
            } else {
                for l in 0..len {
                    store_upto(d.add(l * inner), vmath::exp(v::sub(load_upto(s.add(l * inner), w), m)), w);
                }
                let scale = v::div(v::splat(1.0), sum_columns(d, len, inner, w, |x| x));
                for l in 0..len {
                    store_upto(d.add(l * inner), v::mul(load_upto(d.add(l * inner), w), scale), w);
                }
            }
            c += w;
        }
    }
}

/// The mean as `m0 + d` (kept in two parts: `(x - m0) - d` centres a value without the rounding of the
/// mean near 1e4 landing in the result) and `1 / sqrt(var + epsilon)`, of a contiguous row (`n > 0`).
#[inline(always)]
unsafe fn mean_rstd(p: *const f32, n: usize, epsilon: f32) -> (f32, f32, f32) {
    let inv_n = 1.0 / n as f32;
    let m0 = sum_row(p, n, |x| x) * inv_n;
    let m0v = v::splat(m0);
    let d = sum_row(p, n, |x| v::sub(x, m0v)) * inv_n;
    let q = sum_row(p, n, |x| {
        let c = v::sub(x, m0v);
        v::mul(c, c)
    }) * inv_n;
    let var = (q - d * d).max(0.0);
    (m0, d, 1.0 / vmath::one(var + epsilon, v::sqrt))
}

/// ONNX LayerNormalization: each of `rows` rows of `len` floats normalised, times `scale[len]`, plus
/// `bias[len]` when given.
///
/// # Safety
/// `src`, `dst` valid for `rows * len` floats (the same buffer or not overlapping); `scale` for `len`,
/// `bias` for `len` or null.
#[inline(never)]
pub unsafe fn layer_norm(src: *const f32, dst: *mut f32, rows: usize, len: usize, scale: *const f32, bias: *const f32, epsilon: f32) {
    if len == 0 {
        return;
    }
    for r in 0..rows {
        let (s, d) = (src.add(r * len), dst.add(r * len));
        let (m0, d0, rstd) = mean_rstd(s, len, epsilon);
        let (mv, dv, rv) = (v::splat(m0), v::splat(d0), v::splat(rstd));
        let mut i = 0;
        while i < len {
            let w = (len - i).min(LANES);
            let y = v::mul(v::mul(v::sub(v::sub(load_upto(s.add(i), w), mv), dv), rv), load_upto(scale.add(i), w));
            let y = if bias.is_null() { y } else { v::add(y, load_upto(bias.add(i), w)) };
            store_upto(d.add(i), y, w);
            i += w;
        }
    }
}

/// The shape of a GroupNormalization (InstanceNormalization: `groups == channels`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupNormShape {
    pub batch: usize,
    pub groups: usize,
    pub channels: usize,
    pub spatial: usize,
}

impl GroupNormShape {
    /// Floats in the input (and output); checks that `groups` divides `channels`.
    pub fn elements(&self) -> Result<usize, Status> {
        if self.groups == 0 || !self.channels.is_multiple_of(self.groups) {
            return Err(Status::GroupsDoNotDivideChannels);
        }
        self.batch
            .checked_mul(self.channels)
            .and_then(|n| n.checked_mul(self.spatial))
            .and_then(|n| n.checked_mul(4).map(|_| n))
            .ok_or(Status::SizeOverflow)
    }
}

/// GroupNormalization over `[N, C, spatial]`: statistics per (n, group) of `C / groups` channels, then
/// per channel `y = (x - mean) rstd scale[c] + bias[c]`.
///
/// # Safety
/// `src`, `dst` valid for `shape.elements()` floats (the same buffer or not overlapping); `scale` for
/// `channels` floats, `bias` for `channels` or null. `shape.elements()` must have returned Ok.
#[inline(never)]
pub unsafe fn group_norm(src: *const f32, dst: *mut f32, shape: &GroupNormShape, scale: *const f32, bias: *const f32, epsilon: f32) {
    let GroupNormShape { batch, groups, channels, spatial } = *shape;
    let per_group = channels / groups;
    let block = per_group * spatial;
    if block == 0 {
        return;
    }
    for n in 0..batch {
        for g in 0..groups {
            let at = (n * groups + g) * block;
            let (m0, d0, rstd) = mean_rstd(src.add(at), block, epsilon);
            let (mv, dv) = (v::splat(m0), v::splat(d0));
            for k in 0..per_group {
                let ch = g * per_group + k;
                let a = rstd * *scale.add(ch);
                let b = if bias.is_null() { 0.0 } else { *bias.add(ch) };
                let (av, bv) = (v::splat(a), v::splat(b));
                let off = at + k * spatial;
                map_row(src.add(off), dst.add(off), spatial, |x| v::madd(v::sub(v::sub(x, mv), dv), av, bv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn rng(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 1_000_001) as f64 / 1_000_000.0
    }

    fn check(got: &[f32], want: &[f64], tol: f64, what: &str) {
        let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-30);
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(((g as f64) - w).abs() <= tol * scale, "{what} at {i}: {g} want {w}");
        }
    }

    fn softmax_ref(src: &[f32], outer: usize, len: usize, inner: usize, log: bool) -> Vec<f64> {
        let mut out = vec![0.0; src.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |l: usize| (o * len + l) * inner + i;
                let m = (0..len).map(|l| src[at(l)] as f64).fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = (0..len).map(|l| (src[at(l)] as f64 - m).exp()).sum();
                for l in 0..len {
                    let x = src[at(l)] as f64 - m;
                    out[at(l)] = if log { x - s.ln() } else { x.exp() / s };
                }
            }
        }
        out
    }

    #[test]
    fn softmax_matches_the_reference() {
        let mut seed = 42u64;
        for &(outer, len, inner) in &[(1, 1, 1), (2, 3, 1), (3, 17, 1), (2, 0, 3), (0, 5, 1), (2, 9, 5), (1, 33, 4), (3, 4, 13), (2, 1, 7)] {
            let src: Vec<f32> = (0..outer * len * inner).map(|_| (rng(&mut seed) * 20.0 - 10.0) as f32).collect();
            for log in [false, true] {
                let mut dst = vec![f32::NAN; src.len()];
                unsafe { softmax(src.as_ptr(), dst.as_mut_ptr(), outer, len, inner, log) };
                check(&dst, &softmax_ref(&src, outer, len, inner, log), 1e-6, "softmax");
                // In place gives the same bits.
                let mut inplace = src.clone();
                let p = inplace.as_mut_ptr();
                unsafe { softmax(p, p, outer, len, inner, log) };
                assert_eq!(inplace.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), dst.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn softmax_is_stable_on_long_rows_of_large_values() {
        let mut seed = 7u64;
        for &(len, inner) in &[(100_000, 1), (20_000, 3)] {
            let src: Vec<f32> = (0..len * inner).map(|_| (rng(&mut seed) * 2e4 - 1e4) as f32 + 3e4).collect();
            for log in [false, true] {
                let mut dst = vec![0.0f32; src.len()];
                unsafe { softmax(src.as_ptr(), dst.as_mut_ptr(), 1, len, inner, log) };
                assert!(dst.iter().all(|x| x.is_finite()));
                check(&dst, &softmax_ref(&src, 1, len, inner, log), 2e-6, "long softmax");
                if !log {
                    for i in 0..inner {
                        let s: f64 = (0..len).map(|l| dst[l * inner + i] as f64).sum();
                        assert!((s - 1.0).abs() < 1e-5, "sums to {s}");
                    }
                }
            }
        }
    }

    fn norm_ref(x: &[f32], eps: f64) -> (f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean, 1.0 / (var + eps).sqrt())
    }

    #[test]
    fn layer_norm_matches_the_reference_and_survives_large_means() {
        let mut seed = 3u64;
        for &(rows, len, offset, with_bias) in &[(1, 1, 0.0, true), (3, 7, 0.0, true), (4, 64, 5.0, false), (2, 100_000, 1e4, true), (0, 5, 0.0, true), (3, 0, 0.0, true), (5, 33, -3.0, true)] {
            let src: Vec<f32> = (0..rows * len).map(|_| (rng(&mut seed) * 4.0 - 2.0 + offset) as f32).collect();
            let scale: Vec<f32> = (0..len).map(|_| (rng(&mut seed) + 0.5) as f32).collect();
            let bias: Vec<f32> = (0..len).map(|_| (rng(&mut seed) - 0.5) as f32).collect();
            let eps = 1e-5f32;
            let mut dst = vec![f32::NAN; rows * len];
            let bp = if with_bias { bias.as_ptr() } else { core::ptr::null() };
            unsafe { layer_norm(src.as_ptr(), dst.as_mut_ptr(), rows, len, scale.as_ptr(), bp, eps) };
            let mut want = vec![0.0; rows * len];
            for r in 0..rows {
                let row = &src[r * len..(r + 1) * len];
                let (mean, rstd) = norm_ref(row, eps as f64);
                for i in 0..len {
                    want[r * len + i] = (row[i] as f64 - mean) * rstd * scale[i] as f64 + if with_bias { bias[i] as f64 } else { 0.0 };
                }
            }
            check(&dst, &want, 2e-6, "layer_norm");
        }
    }

    #[test]
    fn group_and_instance_norm_match_the_reference() {
        let mut seed = 11u64;
        for &(batch, groups, channels, spatial) in &[(1, 1, 1, 1), (2, 2, 4, 9), (1, 3, 6, 1), (2, 5, 5, 17), (1, 1, 3, 0), (1, 2, 8, 1000)] {
            let shape = GroupNormShape { batch, groups, channels, spatial };
            let n = shape.elements().unwrap();
            let src: Vec<f32> = (0..n).map(|_| (rng(&mut seed) * 6.0 - 1.0) as f32).collect();
            let scale: Vec<f32> = (0..channels).map(|_| (rng(&mut seed) + 0.5) as f32).collect();
            let bias: Vec<f32> = (0..channels).map(|_| rng(&mut seed) as f32).collect();
            let mut dst = vec![f32::NAN; n];
            unsafe { group_norm(src.as_ptr(), dst.as_mut_ptr(), &shape, scale.as_ptr(), bias.as_ptr(), 1e-5) };
            let per = channels / groups;
            let mut want = vec![0.0; n];
            for b in 0..batch {
                for g in 0..groups {
                    let at = (b * groups + g) * per * spatial;
                    let (mean, rstd) = if per * spatial > 0 { norm_ref(&src[at..at + per * spatial], 1e-5) } else { (0.0, 0.0) };
                    for k in 0..per {
                        for s in 0..spatial {
                            let i = at + k * spatial + s;
                            want[i] = (src[i] as f64 - mean) * rstd * scale[g * per + k] as f64 + bias[g * per + k] as f64;
                        }
                    }
                }
            }
            check(&dst, &want, 3e-6, "group_norm");
        }
        assert_eq!(GroupNormShape { batch: 1, groups: 3, channels: 4, spatial: 2 }.elements(), Err(Status::GroupsDoNotDivideChannels));
        assert_eq!(GroupNormShape { batch: 1, groups: 0, channels: 4, spatial: 2 }.elements(), Err(Status::GroupsDoNotDivideChannels));
    }
}
