//! Selection along an axis (TopK, ArgMax): see atrous_kernels::select.

use atrous_kernels::Status;

fn len3(a: usize, b: usize, c: usize) -> Result<usize, Status> {
    a.checked_mul(b).and_then(|n| n.checked_mul(c)).ok_or(Status::SizeOverflow)
}

/// `values` (f32) and `indices` (i32), both `[outer, k, inner]`, get the `k` largest (`largest` 1) or
/// smallest (0) values of every row of `src` `[outer, len, inner]` along the middle axis, sorted, and their
/// positions. `k > len` is `ShapeMismatch`.
///
/// # Safety
/// `src` valid for `outer * len * inner` floats, `values` and `indices` for `outer * k * inner` elements;
/// the outputs overlap nothing.
#[no_mangle]
pub unsafe extern "C" fn atrous_top_k(src: *const f32, outer: usize, len: usize, inner: usize, k: usize, largest: u32, values: *mut f32, indices: *mut i32) -> i32 {
    Status::code((|| {
        let (n, m) = (len3(outer, len, inner)?, len3(outer, k, inner)?);
        // A zero-length slice still needs an aligned, non-null pointer (address 0 is valid wasm memory).
        let src: &[f32] = if n == 0 { &[] } else { std::slice::from_raw_parts(src, n) };
        let values: &mut [f32] = if m == 0 { &mut [] } else { std::slice::from_raw_parts_mut(values, m) };
        let indices: &mut [i32] = if m == 0 { &mut [] } else { std::slice::from_raw_parts_mut(indices, m) };
        atrous_kernels::select::top_k(src, outer, len, inner, k, largest == 1, values, indices)
    })())
}
