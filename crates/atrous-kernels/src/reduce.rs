//! Reductions over the middle axis of `[outer, len, inner]` (ONNX Reduce* and ArgMax/ArgMin, any axis set
//! that is contiguous after the caller's reshape). `inner == 1` reduces contiguous rows in vector lanes;
//! `inner > 1` reduces `LANES` columns at a time, one vector per step along `len`.
//!
//! Sums are pairwise over blocks (`BLOCK` floats accumulate in lanes, blocks add up as a binary tree), so
//! the rounding error grows with log(len), not len: rows of 10^5 and more stay at f32 accuracy.
//!
//! Over 400 lines only with its unit tests (the kernels themselves are about 310), kept beside them.

use crate::isa::{active as v, load_partial, store_upto, LANES};
use crate::vmath;
use v::V;

/// Floats summed in vector lanes before the pairwise tree takes over.
const BLOCK: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
    L1,
    L2,
    LogSum,
    LogSumExp,
    SumSquare,
}

#[inline(always)]
fn hsum(x: V) -> f32 {
    let l = v::lanes(x);
    let mut s = 0.0;
    for &x in &l {
        s += x;
    }
    s
}

/// `sum f(x)` over a contiguous row; `f` maps a vector (lanes past the end are dropped before summing).
///
/// # Safety
/// `p` valid for `n` floats.
#[inline(always)]
pub(crate) unsafe fn sum_row(p: *const f32, n: usize, f: impl Fn(V) -> V + Copy) -> f32 {
    if n > BLOCK {
        // Split on a vector boundary so every block but the last is whole vectors.
        let half = (n / 2).div_ceil(LANES) * LANES;
        return sum_row(p, half, f) + sum_row(p.add(half), n - half, f);
    }
    let (mut a0, mut a1) = (v::zero(), v::zero());
    let mut i = 0;
    while i + 2 * LANES <= n {
        a0 = v::add(a0, f(v::load(p.add(i))));
        a1 = v::add(a1, f(v::load(p.add(i + LANES))));
        i += 2 * LANES;
    }
    if i + LANES <= n {
        a0 = v::add(a0, f(v::load(p.add(i))));
        i += LANES;
    }
    let mut s = hsum(v::add(a0, a1));
    if i < n {
        let l = v::lanes(f(load_partial(p.add(i), n - i)));
        for &x in &l[..n - i] {
            s += x;
        }
    }
    s
}

/// Folds a contiguous row with `combine`, starting from `init` (max, min, prod).
///
/// # Safety
/// `p` valid for `n` floats.
#[inline(always)]
pub(crate) unsafe fn fold_row(p: *const f32, n: usize, init: f32, combine: impl Fn(V, V) -> V) -> f32 {
    let mut acc = v::splat(init);
    let mut i = 0;
    while i + LANES <= n {
        acc = combine(acc, v::load(p.add(i)));
        i += LANES;
    }
    let mut l = v::lanes(acc);
    let mut r = init;
    if i < n {
        let t = v::lanes(load_partial(p.add(i), n - i));
        // Lanes past the end keep `init`.
        for j in 0..LANES {
            if j < n - i {
                l[j] = v::lanes(combine(v::splat(l[j]), v::splat(t[j])))[0];
            }
        }
    }
    for &x in &l {
        r = v::lanes(combine(v::splat(r), v::splat(x)))[0];
    }
    r
}

/// `sum f(x)` down `len` rows of a column chunk at `p` (rows `stride` apart): blocks of `BLOCK` rows in
/// lanes, added together.
///
/// # Safety
/// `p + l * stride` valid for `w` floats for every `l < len`.
#[inline(always)]
pub(crate) unsafe fn sum_columns(p: *const f32, len: usize, stride: usize, w: usize, f: impl Fn(V) -> V) -> V {
    let load = |l: usize| if w == LANES { v::load(p.add(l * stride)) } else { load_partial(p.add(l * stride), w) };
    let mut total = v::zero();
    let mut l = 0;
    while l < len {
        let end = (l + BLOCK).min(len);
        let mut acc = v::zero();
        while l < end {
            acc = v::add(acc, f(load(l)));
            l += 1;
        }
        total = v::add(total, acc);
    }
    total
}

/// As `sum_columns` with `combine` from `init` (max, min, prod).
///
/// # Safety
/// As `sum_columns`.
#[inline(always)]
pub(crate) unsafe fn fold_columns(p: *const f32, len: usize, stride: usize, w: usize, init: f32, combine: impl Fn(V, V) -> V) -> V {
    let mut acc = v::splat(init);
    for l in 0..len {
        let x = if w == LANES { v::load(p.add(l * stride)) } else { load_partial(p.add(l * stride), w) };
        acc = combine(acc, x);
    }
    acc
}

/// Visits `[outer, inner]` in column chunks of up to `LANES`: `f(src_chunk, dst_offset, width)`.
#[inline(always)]
fn for_each_chunk(outer: usize, len: usize, inner: usize, mut f: impl FnMut(usize, usize, usize)) {
    for o in 0..outer {
        let mut c = 0;
        while c < inner {
            let w = (inner - c).min(LANES);
            f(o * len * inner + c, o * inner + c, w);
            c += w;
        }
    }
}

/// The max with +-inf replaced by 0, so that `x - m` stays finite-or-inf, never NaN, in log-sum-exp.
#[inline(always)]
fn finite_shift(m: V) -> V {
    v::select(v::eq(v::abs(m), v::splat(f32::INFINITY)), v::zero(), m)
}

/// `dst[o][i] = reduce over l of src[o][l][i]`; an empty `len` gives the op's identity (sum 0, prod 1,
/// max -inf, min +inf, log-sum and log-sum-exp -inf, mean NaN).
///
/// # Safety
/// `src` valid for `outer * len * inner` floats, `dst` for `outer * inner`, not overlapping.
pub unsafe fn reduce(op: ReduceOp, src: *const f32, dst: *mut f32, outer: usize, len: usize, inner: usize) {
    let id = |x: V| x;
    let square = |x: V| v::mul(x, x);
    let mean = 1.0 / len as f32;
    match op {
        ReduceOp::Sum => reduce_sum(src, dst, outer, len, inner, id, id),
        ReduceOp::Mean => reduce_sum(src, dst, outer, len, inner, id, |s| v::mul(s, v::splat(mean))),
        ReduceOp::L1 => reduce_sum(src, dst, outer, len, inner, v::abs, id),
        ReduceOp::L2 => reduce_sum(src, dst, outer, len, inner, square, v::sqrt),
        ReduceOp::SumSquare => reduce_sum(src, dst, outer, len, inner, square, id),
        ReduceOp::LogSum => reduce_sum(src, dst, outer, len, inner, id, vmath::log),
        ReduceOp::Max => reduce_fold(src, dst, outer, len, inner, f32::NEG_INFINITY, v::max),
        ReduceOp::Min => reduce_fold(src, dst, outer, len, inner, f32::INFINITY, v::min),
        ReduceOp::Prod => reduce_fold(src, dst, outer, len, inner, 1.0, v::mul),
        ReduceOp::LogSumExp => reduce_log_sum_exp(src, dst, outer, len, inner),
    }
}

#[inline(never)]
unsafe fn reduce_sum(src: *const f32, dst: *mut f32, outer: usize, len: usize, inner: usize, map: impl Fn(V) -> V + Copy, finish: impl Fn(V) -> V) {
    if inner == 1 {
        for o in 0..outer {
            *dst.add(o) = vmath::one(sum_row(src.add(o * len), len, map), &finish);
        }
    } else {
        for_each_chunk(outer, len, inner, |s, d, w| store_upto(dst.add(d), finish(sum_columns(src.add(s), len, inner, w, map)), w));
    }
}

#[inline(never)]
unsafe fn reduce_fold(src: *const f32, dst: *mut f32, outer: usize, len: usize, inner: usize, init: f32, combine: impl Fn(V, V) -> V + Copy) {
    if inner == 1 {
        for o in 0..outer {
            *dst.add(o) = fold_row(src.add(o * len), len, init, combine);
        }
    } else {
        for_each_chunk(outer, len, inner, |s, d, w| store_upto(dst.add(d), fold_columns(src.add(s), len, inner, w, init, combine), w));
    }
}

#[inline(never)]
unsafe fn reduce_log_sum_exp(src: *const f32, dst: *mut f32, outer: usize, len: usize, inner: usize) {
    if inner == 1 {
        for o in 0..outer {
            let p = src.add(o * len);
            let m = finite_shift(v::splat(fold_row(p, len, f32::NEG_INFINITY, v::max)));
            let s = sum_row(p, len, |x| vmath::exp(v::sub(x, m)));
            *dst.add(o) = v::lanes(v::add(m, vmath::log(v::splat(s))))[0];
        }
    } else {
        for_each_chunk(outer, len, inner, |s, d, w| {
            let p = src.add(s);
            let m = finite_shift(fold_columns(p, len, inner, w, f32::NEG_INFINITY, v::max));
            let sum = sum_columns(p, len, inner, w, |x| vmath::exp(v::sub(x, m)));
            store_upto(dst.add(d), v::add(m, vmath::log(sum)), w);
        });
    }
}

/// `dst[o][i] = index along len of the max (or min) of src[o][.][i]`: the first such index, or the last
/// when `select_last` (ONNX ArgMax/ArgMin). `len` must be positive.
///
/// # Safety
/// `src` valid for `outer * len * inner` floats, `dst` for `outer * inner` i32s.
#[inline(never)]
pub unsafe fn arg_reduce(max: bool, select_last: bool, src: *const f32, dst: *mut i32, outer: usize, len: usize, inner: usize) {
    // `better(x, best)`: strictly better keeps the first index, better-or-equal moves to the last.
    let better = |x: V, b: V| match (max, select_last) {
        (true, false) => v::gt(x, b),
        (true, true) => v::ge(x, b),
        (false, false) => v::lt(x, b),
        (false, true) => v::le(x, b),
    };
    let better1 = |x: f32, b: f32| v::lanes(better(v::splat(x), v::splat(b)))[0].to_bits() != 0;
    // Indices ride in f32 lanes, exact below 2^24; longer axes take the scalar scan.
    if inner == 1 {
        for o in 0..outer {
            let p = src.add(o * len);
            let (mut best, mut at) = (*p, 0usize);
            let mut i = 1;
            if (2 * LANES..=1 << 24).contains(&len) {
                let mut bv = v::load(p);
                let mut bi = v::from_lanes(core::array::from_fn(|l| l as f32));
                let mut idx = v::add(bi, v::splat(LANES as f32));
                i = LANES;
                while i + LANES <= len {
                    let x = v::load(p.add(i));
                    let m = better(x, bv);
                    bv = v::select(m, x, bv);
                    bi = v::select(m, idx, bi);
                    idx = v::add(idx, v::splat(LANES as f32));
                    i += LANES;
                }
                let (vals, idxs) = (v::lanes(bv), v::lanes(bi));
                best = vals[0];
                at = idxs[0] as usize;
                for l in 1..LANES {
                    let (x, j) = (vals[l], idxs[l] as usize);
                    let strictly = if max { x > best } else { x < best };
                    if strictly || (x == best && (if select_last { j > at } else { j < at })) {
                        best = x;
                        at = j;
                    }
                }
            }
            while i < len {
                let x = *p.add(i);
                if better1(x, best) {
                    best = x;
                    at = i;
                }
                i += 1;
            }
            *dst.add(o) = at as i32;
        }
    } else {
        for_each_chunk(outer, len, inner, |s, d, w| {
            let p = src.add(s);
            let load = |l: usize| if w == LANES { v::load(p.add(l * inner)) } else { load_partial(p.add(l * inner), w) };
            if len <= 1 << 24 {
                let mut bv = load(0);
                let mut bi = v::zero();
                for l in 1..len {
                    let x = load(l);
                    let m = better(x, bv);
                    bv = v::select(m, x, bv);
                    bi = v::select(m, v::splat(l as f32), bi);
                }
                let idx = v::lanes(bi);
                for j in 0..w {
                    *dst.add(d + j) = idx[j] as i32;
                }
            } else {
                for j in 0..w {
                    let (mut best, mut at) = (*p.add(j), 0);
                    for l in 1..len {
                        let x = *p.add(l * inner + j);
                        if better1(x, best) {
                            best = x;
                            at = l;
                        }
                    }
                    *dst.add(d + j) = at as i32;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn rng(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 2001) as f32 / 100.0 - 10.0
    }

    fn reference(op: ReduceOp, xs: &[f64]) -> f64 {
        let sum = |f: &dyn Fn(f64) -> f64| xs.iter().map(|&x| f(x)).sum::<f64>();
        match op {
            ReduceOp::Sum => sum(&|x| x),
            ReduceOp::Mean => sum(&|x| x) / xs.len() as f64,
            ReduceOp::Max => xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            ReduceOp::Min => xs.iter().cloned().fold(f64::INFINITY, f64::min),
            ReduceOp::Prod => xs.iter().product(),
            ReduceOp::L1 => sum(&|x| x.abs()),
            ReduceOp::L2 => sum(&|x| x * x).sqrt(),
            ReduceOp::LogSum => sum(&|x| x).ln(),
            ReduceOp::LogSumExp => {
                let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                if m.is_infinite() { m } else { m + xs.iter().map(|&x| (x - m).exp()).sum::<f64>().ln() }
            }
            ReduceOp::SumSquare => sum(&|x| x * x),
        }
    }

    const OPS: [ReduceOp; 10] = [
        ReduceOp::Sum,
        ReduceOp::Mean,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::Prod,
        ReduceOp::L1,
        ReduceOp::L2,
        ReduceOp::LogSum,
        ReduceOp::LogSumExp,
        ReduceOp::SumSquare,
    ];

    #[test]
    fn reductions_match_the_reference() {
        let mut seed = 0x1234_5678u64;
        let shapes = [(1, 1, 1), (3, 7, 1), (2, 0, 1), (2, 0, 5), (0, 4, 3), (2, 33, 1), (3, 17, 5), (1, 9, 4), (2, 5, 13), (1, 1000, 1), (1, 300, 7), (4, 1, 6)];
        for &(outer, len, inner) in &shapes {
            let mut src: Vec<f32> = (0..outer * len * inner).map(|_| rng(&mut seed)).collect();
            for op in OPS {
                if matches!(op, ReduceOp::Prod) {
                    // Keep products in range: factors near 1.
                    src.iter_mut().for_each(|x| *x = 1.0 + *x / 100.0);
                }
                if matches!(op, ReduceOp::LogSum) {
                    src.iter_mut().for_each(|x| *x = x.abs() + 0.1);
                }
                let mut dst = vec![f32::NAN; outer * inner];
                unsafe { reduce(op, src.as_ptr(), dst.as_mut_ptr(), outer, len, inner) };
                for o in 0..outer {
                    for i in 0..inner {
                        let xs: Vec<f64> = (0..len).map(|l| src[(o * len + l) * inner + i] as f64).collect();
                        let want = reference(op, &xs);
                        let got = dst[o * inner + i] as f64;
                        let ok = if want.is_nan() { got.is_nan() } else if want.is_infinite() { got == want } else { (got - want).abs() <= 2e-6 * want.abs().max(1.0) };
                        assert!(ok, "{op:?} [{outer}, {len}, {inner}] at {o},{i}: {got} want {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_sums_stay_accurate() {
        // 10^6 values around 1e4: a sequential f32 sum would be off by ~1e-3 relative.
        let n = 1_000_000;
        let mut seed = 99u64;
        let src: Vec<f32> = (0..n).map(|_| 1e4 + rng(&mut seed)).collect();
        let want: f64 = src.iter().map(|&x| x as f64).sum();
        let mut got = [0.0f32];
        unsafe { reduce(ReduceOp::Sum, src.as_ptr(), got.as_mut_ptr(), 1, n, 1) };
        assert!(((got[0] as f64 - want) / want).abs() < 3e-7, "{} vs {want}", got[0]);
        let mut lse = [0.0f32];
        let big: Vec<f32> = src.iter().map(|x| x * 1e3).collect();
        unsafe { reduce(ReduceOp::LogSumExp, big.as_ptr(), lse.as_mut_ptr(), 1, n, 1) };
        let m = big.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let want = m + big.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
        assert!(((lse[0] as f64 - want) / want).abs() < 1e-6);
    }

    #[test]
    fn arg_max_and_min_with_ties() {
        let mut seed = 7u64;
        for &(outer, len, inner) in &[(1, 1, 1), (2, 9, 1), (3, 40, 1), (2, 5, 3), (1, 33, 6), (2, 3, 4)] {
            // Few distinct values, so that ties are common.
            let src: Vec<f32> = (0..outer * len * inner).map(|_| (rng(&mut seed) / 4.0).round()).collect();
            for (max, last) in [(true, false), (true, true), (false, false), (false, true)] {
                let mut dst = vec![-1i32; outer * inner];
                unsafe { arg_reduce(max, last, src.as_ptr(), dst.as_mut_ptr(), outer, len, inner) };
                for o in 0..outer {
                    for i in 0..inner {
                        let col: Vec<f32> = (0..len).map(|l| src[(o * len + l) * inner + i]).collect();
                        let best = col.iter().cloned().fold(if max { f32::NEG_INFINITY } else { f32::INFINITY }, |a, b| if max { a.max(b) } else { a.min(b) });
                        let want = if last { col.iter().rposition(|&x| x == best) } else { col.iter().position(|&x| x == best) }.unwrap();
                        assert_eq!(dst[o * inner + i], want as i32, "max {max} last {last} [{outer}, {len}, {inner}] col {col:?}");
                    }
                }
            }
        }
    }
}
