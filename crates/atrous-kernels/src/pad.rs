//! Pad (ONNX Pad: constant, reflect, edge) over the same element types and dims walk as the strided copies.

use crate::layout::{product, Elem, MAX_RANK};
use crate::status::Status;

/// What the border of a `pad` holds (ONNX Pad modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadMode {
    /// A constant value.
    Constant,
    /// The mirror image without repeating the edge: `[3, 2 | 1, 2, 3 | 2, 1]`.
    Reflect,
    /// The edge repeated: `[1, 1 | 1, 2, 3 | 3, 3]`.
    Edge,
}

/// Axes of a pad after mergeable neighbours are merged, with the floats under one index of each axis.
struct PadAxes {
    rank: usize,
    dims: [usize; MAX_RANK],
    begin: [usize; MAX_RANK],
    end: [usize; MAX_RANK],
    in_inner: [usize; MAX_RANK],
    out_inner: [usize; MAX_RANK],
}


/// Pads `src` (contiguous, `dims`) into `dst` (contiguous, `dims[i] + begin[i] + end[i]`), rank <=
/// `MAX_RANK`. Pads are non-negative (a negative ONNX pad is a slice, taken by the caller). Reflect needs
/// pads below the dim; edge needs a non-empty dim wherever it pads.
pub fn pad<T: Elem>(src: &[T], dst: &mut [T], dims: &[usize], begin: &[usize], end: &[usize], mode: PadMode, value: f32) -> Result<(), Status> {
    let value = T::from_f32(value);
    let rank = dims.len();
    if rank > MAX_RANK || begin.len() != rank || end.len() != rank {
        return Err(Status::InvalidDescriptor);
    }
    let mut out_dims = [0usize; MAX_RANK];
    for i in 0..rank {
        out_dims[i] = dims[i].checked_add(begin[i]).and_then(|x| x.checked_add(end[i])).ok_or(Status::SizeOverflow)?;
        let padded = begin[i] > 0 || end[i] > 0;
        let fits = match mode {
            PadMode::Constant => true,
            PadMode::Edge => !padded || dims[i] > 0,
            PadMode::Reflect => begin[i] < dims[i].max(1) && end[i] < dims[i].max(1),
        };
        if !fits {
            return Err(Status::ShapeMismatch);
        }
    }
    if src.len() != product(dims.iter().copied())? {
        return Err(Status::InputLengthMismatch);
    }
    if dst.len() != product(out_dims[..rank].iter().copied())? {
        return Err(Status::OutputLengthMismatch);
    }
    if dst.is_empty() {
        return Ok(());
    }
    if src.is_empty() {
        // Only a constant pad gets here (edge and reflect were refused above): all border.
        // SAFETY: the slice holds `dst.len()` elements.
        unsafe { T::fill_run(dst.as_mut_ptr(), dst.len(), value) };
        return Ok(());
    }
    let mut a = PadAxes { rank: 0, dims: [0; MAX_RANK], begin: [0; MAX_RANK], end: [0; MAX_RANK], in_inner: [1; MAX_RANK], out_inner: [1; MAX_RANK] };
    for i in 0..rank {
        let (n, b, e) = (dims[i], begin[i], end[i]);
        // An unpadded axis folds into the one outside it where the two address as one: always when
        // that one is unpadded too, and under a constant pad whatever it is (its border is then whole
        // rows of the merged axis). Edge and reflect borders copy sub-blocks, which merging would change.
        if a.rank > 0 && b == 0 && e == 0 {
            let k = a.rank - 1;
            if mode == PadMode::Constant || (a.begin[k] == 0 && a.end[k] == 0) {
                a.dims[k] *= n;
                a.begin[k] *= n;
                a.end[k] *= n;
                continue;
            }
        }
        a.dims[a.rank] = n;
        a.begin[a.rank] = b;
        a.end[a.rank] = e;
        a.rank += 1;
    }
    for k in (0..a.rank.saturating_sub(1)).rev() {
        a.in_inner[k] = a.in_inner[k + 1] * a.dims[k + 1];
        a.out_inner[k] = a.out_inner[k + 1] * (a.dims[k + 1] + a.begin[k + 1] + a.end[k + 1]);
    }
    // SAFETY: both lengths were checked against the dims, which the merged axes multiply out to.
    unsafe {
        if a.rank == 0 {
            *dst.as_mut_ptr() = src[0];
        } else {
            pad_axis(&a, 0, mode, value, src.as_ptr(), dst.as_mut_ptr());
        }
    }
    Ok(())
}

/// Pads axis `k` and everything inside it: the interior first, then each border block as a fill or as
/// a copy of an interior block already written (edge, reflect).
unsafe fn pad_axis<T: Elem>(a: &PadAxes, k: usize, mode: PadMode, value: T, src: *const T, dst: *mut T) {
    let (n, b, e) = (a.dims[k], a.begin[k], a.end[k]);
    if k + 1 == a.rank {
        pad_row(src, dst, n, b, e, mode, value);
        return;
    }
    let (si, so) = (a.in_inner[k], a.out_inner[k]);
    for i in 0..n {
        pad_axis(a, k + 1, mode, value, src.add(i * si), dst.add((b + i) * so));
    }
    let border = |at: usize, from: usize| match mode {
        PadMode::Constant => T::fill_run(dst.add(at * so), so, value),
        _ => T::copy_run(dst.add(at * so), dst.add(from * so), so),
    };
    for i in 0..b {
        border(i, match mode {
            PadMode::Constant => 0,
            PadMode::Edge => b,
            PadMode::Reflect => 2 * b - i,
        });
    }
    for j in 0..e {
        border(b + n + j, match mode {
            PadMode::Constant => 0,
            PadMode::Edge => b + n - 1,
            PadMode::Reflect => b + n - 2 - j,
        });
    }
}

#[inline(never)]
unsafe fn pad_row<T: Elem>(src: *const T, dst: *mut T, n: usize, b: usize, e: usize, mode: PadMode, value: T) {
    T::copy_run(dst.add(b), src, n);
    match mode {
        PadMode::Constant => {
            T::fill_run(dst, b, value);
            T::fill_run(dst.add(b + n), e, value);
        }
        PadMode::Edge => {
            T::fill_run(dst, b, *src);
            T::fill_run(dst.add(b + n), e, *src.add(n - 1));
        }
        PadMode::Reflect => {
            for i in 0..b {
                *dst.add(i) = *src.add(b - i);
            }
            for j in 0..e {
                *dst.add(b + n + j) = *src.add(n - 2 - j);
            }
        }
    }
}
