//! Data movement: strided N-D copies (Transpose, Slice, Expand, Concat, Split), Gather and Fill (Pad in
//! `pad`, type conversions in `conversion`).
//! Shapes and strides come from the caller, who keeps only metadata; every float moves here, and every
//! byte of a bool/uint8 tensor too: the copies, pads and gathers are generic over the element (`Elem`),
//! one implementation for both, with the vector paths where the element is a float.
//!
//! Strides are in elements. A copy names its region by the offset of element 0 inside a slice, so source
//! strides may be negative (a Slice with a negative step) or zero (a broadcast); the kernel checks that
//! every element it touches lies inside the slices before it moves anything.

use crate::isa::{self, active as v};
use crate::status::Status;

/// Highest rank these kernels take (ONNX models in scope stay well below it).
pub const MAX_RANK: usize = 6;

/// An element the layout kernels move: `f32` (feature maps) or `u8` (bool and uint8 tensors). The three
/// primitives are the only places the element matters; f32 takes the vector paths.
pub trait Elem: Copy + 'static {
    /// # Safety
    /// `dst` and `src` valid for `n` elements, not overlapping.
    unsafe fn copy_run(dst: *mut Self, src: *const Self, n: usize);
    /// # Safety
    /// `dst` valid for `n` elements.
    unsafe fn fill_run(dst: *mut Self, n: usize, value: Self);
    /// `dst[p * dp + q] = src[p + q * sq]` for `p < np`, `q < nq`.
    ///
    /// # Safety
    /// Every offset reached valid, the regions not overlapping.
    unsafe fn transpose_plane(src: *const Self, dst: *mut Self, np: usize, nq: usize, sq: isize, dp: isize);
    /// The pad value in this element type (a bool/uint8 pad value arrives as a float, as ONNX gives it).
    fn from_f32(x: f32) -> Self;
}

impl Elem for f32 {
    #[inline(always)]
    unsafe fn copy_run(dst: *mut f32, src: *const f32, n: usize) {
        isa::copy_floats(dst, src, n)
    }
    #[inline(always)]
    unsafe fn fill_run(dst: *mut f32, n: usize, value: f32) {
        fill_raw(dst, n, value)
    }
    #[inline(always)]
    unsafe fn transpose_plane(src: *const f32, dst: *mut f32, np: usize, nq: usize, sq: isize, dp: isize) {
        transpose_plane_f32(src, dst, np, nq, sq, dp)
    }
    fn from_f32(x: f32) -> f32 {
        x
    }
}

impl Elem for u8 {
    #[inline(always)]
    unsafe fn copy_run(dst: *mut u8, src: *const u8, n: usize) {
        core::ptr::copy_nonoverlapping(src, dst, n)
    }
    #[inline(always)]
    unsafe fn fill_run(dst: *mut u8, n: usize, value: u8) {
        core::ptr::write_bytes(dst, value, n)
    }
    #[inline(never)]
    unsafe fn transpose_plane(src: *const u8, dst: *mut u8, np: usize, nq: usize, sq: isize, dp: isize) {
        // Blocked like the float version so both streams stay in L1; no register tiles for bytes (bool
        // tensors are masks, small next to the feature maps).
        const BLOCK: usize = 32;
        for p0 in (0..np).step_by(BLOCK) {
            for q0 in (0..nq).step_by(BLOCK) {
                for p in p0..(p0 + BLOCK).min(np) {
                    for q in q0..(q0 + BLOCK).min(nq) {
                        *dst.offset(p as isize * dp + q as isize) = *src.offset(p as isize + q as isize * sq);
                    }
                }
            }
        }
    }
    fn from_f32(x: f32) -> u8 {
        // Saturating, NaN to 0: a pad value outside 0..=255 has no byte to be.
        x as u8
    }
}

/// Lowest and highest element offsets (inclusive) that `dims` x `strides` reach from element 0; `None`
/// when some dim is 0, so nothing is touched.
pub fn extent(dims: &[usize], strides: &[isize]) -> Result<Option<(isize, isize)>, Status> {
    if dims.len() != strides.len() {
        return Err(Status::InvalidDescriptor);
    }
    if dims.contains(&0) {
        return Ok(None);
    }
    let (mut lo, mut hi) = (0isize, 0isize);
    for (&d, &s) in dims.iter().zip(strides) {
        let span = isize::try_from(d - 1).ok().and_then(|n| n.checked_mul(s)).ok_or(Status::SizeOverflow)?;
        if span < 0 {
            lo = lo.checked_add(span).ok_or(Status::SizeOverflow)?;
        } else {
            hi = hi.checked_add(span).ok_or(Status::SizeOverflow)?;
        }
    }
    Ok(Some((lo, hi)))
}

/// Axes of a copy after size-1 axes are dropped and mergeable neighbours coalesced (outermost first).
#[derive(Clone, Copy)]
struct Axes {
    rank: usize,
    dims: [usize; MAX_RANK],
    src: [isize; MAX_RANK],
    dst: [isize; MAX_RANK],
}

impl Axes {
    const EMPTY: Axes = Axes { rank: 0, dims: [0; MAX_RANK], src: [0; MAX_RANK], dst: [0; MAX_RANK] };

    fn push(&mut self, dim: usize, src: isize, dst: isize) {
        self.dims[self.rank] = dim;
        self.src[self.rank] = src;
        self.dst[self.rank] = dst;
        self.rank += 1;
    }

    fn without(&self, skip: [usize; 2]) -> Axes {
        let mut out = Axes::EMPTY;
        for i in (0..self.rank).filter(|i| !skip.contains(i)) {
            out.push(self.dims[i], self.src[i], self.dst[i]);
        }
        out
    }

    /// Size-1 axes carry no motion; the rest go in order of falling |dst stride| so that the innermost loop
    /// writes as sequentially as it can, then neighbours that address as one axis merge into one.
    fn normalised(dims: &[usize], src: &[isize], dst: &[isize]) -> Axes {
        let mut a = Axes::EMPTY;
        for i in 0..dims.len() {
            if dims[i] != 1 {
                a.push(dims[i], src[i], dst[i]);
            }
        }
        for i in 1..a.rank {
            let mut j = i;
            while j > 0 && a.dst[j - 1].unsigned_abs() < a.dst[j].unsigned_abs() {
                a.dims.swap(j - 1, j);
                a.src.swap(j - 1, j);
                a.dst.swap(j - 1, j);
                j -= 1;
            }
        }
        let mut out = Axes::EMPTY;
        for i in 0..a.rank {
            if out.rank > 0 {
                let k = out.rank - 1;
                let n = a.dims[i] as isize;
                if a.src[i].checked_mul(n) == Some(out.src[k]) && a.dst[i].checked_mul(n) == Some(out.dst[k]) {
                    out.dims[k] *= a.dims[i];
                    out.src[k] = a.src[i];
                    out.dst[k] = a.dst[i];
                    continue;
                }
            }
            out.push(a.dims[i], a.src[i], a.dst[i]);
        }
        out
    }
}

/// Calls `f(src_offset, dst_offset)` for every index of `outer` (once when it has rank 0).
#[inline(always)]
fn for_each_offset(outer: &Axes, mut f: impl FnMut(isize, isize)) {
    let mut index = [0usize; MAX_RANK];
    let (mut s, mut d) = (0isize, 0isize);
    loop {
        f(s, d);
        let mut k = outer.rank;
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            index[k] += 1;
            s += outer.src[k];
            d += outer.dst[k];
            if index[k] < outer.dims[k] {
                break;
            }
            s -= outer.src[k] * outer.dims[k] as isize;
            d -= outer.dst[k] * outer.dims[k] as isize;
            index[k] = 0;
        }
    }
}

/// `dst[i * dst_strides] = src[i * src_strides]` over every index `i` of `dims` (rank <= `MAX_RANK`),
/// with element 0 at `src[src_origin]` and `dst[dst_origin]`. Source strides may be negative or zero.
/// The destination must not address one element twice through different indices unless the values
/// written there are equal (as a zero destination stride over a broadcast source is).
pub fn copy_strided<T: Elem>(
    src: &[T],
    src_origin: usize,
    dst: &mut [T],
    dst_origin: usize,
    dims: &[usize],
    src_strides: &[isize],
    dst_strides: &[isize],
) -> Result<(), Status> {
    if dims.len() > MAX_RANK || src_strides.len() != dims.len() || dst_strides.len() != dims.len() {
        return Err(Status::InvalidDescriptor);
    }
    let inside = |origin: usize, len: usize, reach: Option<(isize, isize)>| match reach {
        None => true,
        Some((lo, hi)) => isize::try_from(origin).is_ok_and(|o| o + lo >= 0 && o.checked_add(hi).is_some_and(|h| h < len as isize)),
    };
    let (src_reach, dst_reach) = (extent(dims, src_strides)?, extent(dims, dst_strides)?);
    if !inside(src_origin, src.len(), src_reach) {
        return Err(Status::InputLengthMismatch);
    }
    if !inside(dst_origin, dst.len(), dst_reach) {
        return Err(Status::OutputLengthMismatch);
    }
    if src_reach.is_none() {
        return Ok(());
    }
    // SAFETY: every offset the copy forms lies within the extents checked above.
    unsafe {
        copy_raw(
            src.as_ptr().add(src_origin),
            dst.as_mut_ptr().add(dst_origin),
            &Axes::normalised(dims, src_strides, dst_strides),
        );
    }
    Ok(())
}

/// # Safety
/// Every offset `axes` reaches from `src` and `dst` valid; no axis of size 0.
unsafe fn copy_raw<T: Elem>(src: *const T, dst: *mut T, axes: &Axes) {
    if axes.rank == 0 {
        *dst = *src;
        return;
    }
    let last = axes.rank - 1;
    // A transpose: reads are contiguous along some axis `p`, writes along the innermost one. Element by
    // element, one of the two streams jumps by a whole stride per float; square tiles move both in runs.
    if axes.dst[last] == 1 && axes.src[last] != 1 && axes.dims[last] >= v::LANES {
        if let Some(p) = (0..last).rev().find(|&p| axes.src[p] == 1 && axes.dims[p] >= v::LANES) {
            let outer = axes.without([p, last]);
            let (np, nq, dp, sq) = (axes.dims[p], axes.dims[last], axes.dst[p], axes.src[last]);
            for_each_offset(&outer, |s, d| T::transpose_plane(src.offset(s), dst.offset(d), np, nq, sq, dp));
            return;
        }
    }
    let outer = axes.without([last, last]);
    let (n, ss, ds) = (axes.dims[last], axes.src[last], axes.dst[last]);
    match (ss, ds) {
        (1, 1) => for_each_offset(&outer, |s, d| T::copy_run(dst.offset(d), src.offset(s), n)),
        (0, 1) => for_each_offset(&outer, |s, d| T::fill_run(dst.offset(d), n, *src.offset(s))),
        _ => for_each_offset(&outer, |s, d| copy_row_strided(src.offset(s), dst.offset(d), n, ss, ds)),
    }
}

#[inline(never)]
unsafe fn copy_row_strided<T: Elem>(src: *const T, dst: *mut T, n: usize, ss: isize, ds: isize) {
    for i in 0..n as isize {
        *dst.offset(i * ds) = *src.offset(i * ss);
    }
}

/// Tiles of a plane that is read along `p` (source stride 1) and written along `q` (destination stride
/// 1): `dst[p * dp + q] = src[p + q * sq]`. Blocks of `BLOCK` x `BLOCK` keep both the rows read and the rows
/// written in L1; inside a block, `LANES x LANES` tiles are loaded as vectors and transposed in registers.
#[inline(never)]
unsafe fn transpose_plane_f32(src: *const f32, dst: *mut f32, np: usize, nq: usize, sq: isize, dp: isize) {
    const BLOCK: usize = 32;
    const L: usize = v::LANES;
    let element = |p: usize, q: usize| *dst.offset(p as isize * dp + q as isize) = *src.offset(p as isize + q as isize * sq);
    for p0 in (0..np).step_by(BLOCK) {
        let pe = (p0 + BLOCK).min(np);
        for q0 in (0..nq).step_by(BLOCK) {
            let qe = (q0 + BLOCK).min(nq);
            let mut p = p0;
            while p + L <= pe {
                let mut q = q0;
                while q + L <= qe {
                    let mut rows = [v::zero(); L];
                    for (i, r) in rows.iter_mut().enumerate() {
                        *r = v::load(src.offset(p as isize + (q + i) as isize * sq));
                    }
                    for (j, c) in v::transpose(rows).into_iter().enumerate() {
                        v::store(dst.offset((p + j) as isize * dp + q as isize), c);
                    }
                    q += L;
                }
                for pp in p..p + L {
                    for qq in q..qe {
                        element(pp, qq);
                    }
                }
                p += L;
            }
            for pp in p..pe {
                for qq in q0..qe {
                    element(pp, qq);
                }
            }
        }
    }
}

/// # Safety
/// `dst` valid for `n` floats.
#[inline(always)]
unsafe fn fill_raw(dst: *mut f32, n: usize, value: f32) {
    let x = v::splat(value);
    let mut i = 0;
    while i + v::LANES <= n {
        v::store(dst.add(i), x);
        i += v::LANES;
    }
    while i < n {
        *dst.add(i) = value;
        i += 1;
    }
}

/// `dst[..] = value`.
pub fn fill(dst: &mut [f32], value: f32) {
    // SAFETY: the slice holds `dst.len()` floats.
    unsafe { fill_raw(dst.as_mut_ptr(), dst.len(), value) }
}

/// The product of `dims`, or `SizeOverflow`.
pub(crate) fn product(mut dims: impl Iterator<Item = usize>) -> Result<usize, Status> {
    dims.try_fold(1usize, |a, d| a.checked_mul(d).ok_or(Status::SizeOverflow))
}

/// Gather along the middle axis: `src` `[outer, axis_len, inner]`, `dst` `[outer, indices.len(), inner]`,
/// `dst[o][c][i] = src[o][indices[c]][i]`. Indices are already non-negative (the caller folds negative
/// ones); any outside `0..axis_len` is an `InvalidTable`, found before anything is written.
pub fn gather<T: Elem>(src: &[T], indices: &[i32], dst: &mut [T], outer: usize, axis_len: usize, inner: usize) -> Result<(), Status> {
    let count = indices.len();
    if src.len() != product([outer, axis_len, inner].into_iter())? {
        return Err(Status::InputLengthMismatch);
    }
    if dst.len() != product([outer, count, inner].into_iter())? {
        return Err(Status::OutputLengthMismatch);
    }
    if indices.iter().any(|&i| i < 0 || i as usize >= axis_len) {
        return Err(Status::InvalidTable);
    }
    if dst.is_empty() {
        return Ok(());
    }
    // SAFETY: every index is below `axis_len` and the lengths match the shapes.
    unsafe {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for o in 0..outer {
            let (so, d_o) = (s.add(o * axis_len * inner), d.add(o * count * inner));
            if inner == 1 {
                for (c, &i) in indices.iter().enumerate() {
                    *d_o.add(c) = *so.add(i as usize);
                }
            } else {
                for (c, &i) in indices.iter().enumerate() {
                    T::copy_run(d_o.add(c * inner), so.add(i as usize * inner), inner);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
