//! Selection along an axis: the `k` largest (or smallest) values of every row of `[outer, len, inner]`
//! with their indices, sorted (ONNX TopK; with k = 1 the ArgMax a Hardmax needs).
//!
//! The order is total, so results do not depend on the sort: NaN above every number (as onnxruntime
//! orders it), equal values by lower index first (ONNX's tie rule). Rows are read with stride `inner`;
//! one scratch list of `len` indices is reused for every row.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::status::Status;

/// Ascending order of values with NaN greatest.
fn value_order(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Moves the heap entry at `at` down until neither child ranks after it under `cmp` (Less: ranks first).
fn sift_down(heap: &mut [u32], mut at: usize, end: usize, cmp: &impl Fn(&u32, &u32) -> Ordering) {
    loop {
        let (l, r) = (2 * at + 1, 2 * at + 2);
        let mut worst = at;
        if l < end && cmp(&heap[l], &heap[worst]) == Ordering::Greater {
            worst = l;
        }
        if r < end && cmp(&heap[r], &heap[worst]) == Ordering::Greater {
            worst = r;
        }
        if worst == at {
            return;
        }
        heap.swap(at, worst);
        at = worst;
    }
}

/// `order` gets the first `k` of `0..len` under `cmp`, best first: a heap of the k best seen so far
/// (worst on top, O(len log k)), then heap-sorted. Hand-written rather than core's sorts, which would
/// add about 20 KB to every wasm build.
fn select_sorted(order: &mut Vec<u32>, len: usize, k: usize, cmp: &impl Fn(&u32, &u32) -> Ordering) {
    order.clear();
    if k == 0 {
        return;
    }
    order.extend(0..k as u32);
    for start in (0..k / 2).rev() {
        sift_down(order, start, k, cmp);
    }
    for j in k as u32..len as u32 {
        if cmp(&j, &order[0]) == Ordering::Less {
            order[0] = j;
            sift_down(order, 0, k, cmp);
        }
    }
    for end in (1..k).rev() {
        order.swap(0, end);
        sift_down(order, 0, end, cmp);
    }
}

/// `values` / `indices` `[outer, k, inner]` get, for every row `(o, i)` of `src` `[outer, len, inner]`, its
/// `k` largest (`largest`) or smallest values in that order and their positions along the axis.
pub fn top_k(
    src: &[f32],
    outer: usize,
    len: usize,
    inner: usize,
    k: usize,
    largest: bool,
    values: &mut [f32],
    indices: &mut [i32],
) -> Result<(), Status> {
    let size = |a: usize, b: usize, c: usize| a.checked_mul(b).and_then(|n| n.checked_mul(c)).ok_or(Status::SizeOverflow);
    if src.len() != size(outer, len, inner)? {
        return Err(Status::InputLengthMismatch);
    }
    let out = size(outer, k, inner)?;
    if values.len() != out || indices.len() != out {
        return Err(Status::OutputLengthMismatch);
    }
    if k > len || len > i32::MAX as usize {
        return Err(Status::ShapeMismatch);
    }
    if out == 0 {
        return Ok(());
    }
    let mut order: Vec<u32> = Vec::new();
    order.try_reserve_exact(k).map_err(|_| Status::OutOfMemory)?;
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let at = |j: u32| src[base + j as usize * inner];
            let cmp = |x: &u32, y: &u32| {
                let by_value = if largest { value_order(at(*y), at(*x)) } else { value_order(at(*x), at(*y)) };
                by_value.then(x.cmp(y))
            };
            select_sorted(&mut order, len, k, &cmp);
            let obase = o * k * inner + i;
            for (r, &j) in order[..k].iter().enumerate() {
                values[obase + r * inner] = at(j);
                indices[obase + r * inner] = j as i32;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    use crate::test_rng::Rng;

    /// The plain definition: every index of the row, stably sorted by value (NaN greatest), the first k.
    fn reference(src: &[f32], outer: usize, len: usize, inner: usize, k: usize, largest: bool) -> (Vec<f32>, Vec<i32>) {
        let (mut v, mut ix) = (vec![0.0; outer * k * inner], vec![0; outer * k * inner]);
        for o in 0..outer {
            for i in 0..inner {
                let row: Vec<f32> = (0..len).map(|j| src[(o * len + j) * inner + i]).collect();
                let mut idx: Vec<usize> = (0..len).collect();
                idx.sort_by(|&a, &b| if largest { value_order(row[b], row[a]) } else { value_order(row[a], row[b]) });
                for r in 0..k {
                    v[(o * k + r) * inner + i] = row[idx[r]];
                    ix[(o * k + r) * inner + i] = idx[r] as i32;
                }
            }
        }
        (v, ix)
    }

    #[test]
    fn matches_a_stable_sort_on_random_rows_with_ties_and_nans() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for case in 0..300 {
            let (outer, len, inner) = (1 + rng.below(3), rng.below(40), 1 + rng.below(4));
            let k = if len == 0 { 0 } else { rng.below(len + 1) };
            let largest = case % 2 == 0;
            // Few distinct values, so ties are common; some NaN and infinities.
            let src: Vec<f32> = (0..outer * len * inner)
                .map(|_| match rng.below(20) {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    n => (n % 7) as f32 - 3.0,
                })
                .collect();
            let (mut v, mut ix) = (vec![0.0f32; outer * k * inner], vec![0i32; outer * k * inner]);
            top_k(&src, outer, len, inner, k, largest, &mut v, &mut ix).unwrap();
            let (rv, rix) = reference(&src, outer, len, inner, k, largest);
            assert_eq!(ix, rix, "indices, case {case}: outer {outer} len {len} inner {inner} k {k} largest {largest}");
            for (a, b) in v.iter().zip(&rv) {
                assert!(a == b || (a.is_nan() && b.is_nan()), "values, case {case}");
            }
        }
    }

    #[test]
    fn a_long_row() {
        let len = 100_000;
        let src: Vec<f32> = (0..len).map(|j| ((j * 7919) % len) as f32 * 1e30).collect();
        let (mut v, mut ix) = (vec![0.0f32; 3], vec![0i32; 3]);
        top_k(&src, 1, len, 1, 3, true, &mut v, &mut ix).unwrap();
        let (rv, rix) = reference(&src, 1, len, 1, 3, true);
        assert_eq!((v, ix), (rv, rix));
    }

    #[test]
    fn refuses_bad_shapes() {
        let (mut v, mut ix) = (vec![0.0f32; 2], vec![0i32; 2]);
        assert_eq!(top_k(&[1.0; 3], 1, 3, 1, 2, true, &mut v, &mut ix), Ok(()));
        assert_eq!(top_k(&[1.0; 3], 1, 4, 1, 2, true, &mut v, &mut ix), Err(Status::InputLengthMismatch));
        assert_eq!(top_k(&[1.0; 3], 1, 3, 1, 1, true, &mut v, &mut ix), Err(Status::OutputLengthMismatch));
        let (mut v4, mut ix4) = (vec![0.0f32; 4], vec![0i32; 4]);
        assert_eq!(top_k(&[1.0; 3], 1, 3, 1, 4, true, &mut v4, &mut ix4), Err(Status::ShapeMismatch));
        assert_eq!(top_k(&[], 0, 3, 1, 2, true, &mut [], &mut []), Ok(()));
    }
}
