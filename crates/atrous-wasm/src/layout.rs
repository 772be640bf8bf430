//! Data movement: strided copies, pads, gathers and fills over buffers in linear memory.
//!
//! A strided copy names its regions by the address of element 0 and may step backwards, so the reach of
//! every descriptor is computed first and must lie inside linear memory: a bad descriptor is a status,
//! never an out-of-bounds trap.

use atrous_kernels::conversion;
use atrous_kernels::layout::{self, MAX_RANK};
use atrous_kernels::pad::{self, PadMode};
use atrous_kernels::Status;

use crate::abi_table::{convert_kind, pad_desc, pad_kind, strided_desc};

fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        u64::MAX
    }
}

/// Byte address of element `offset` from `ptr`, if it and the `len` elements after it (of `size` bytes)
/// lie in memory.
fn span(ptr: usize, offset: isize, len: usize, size: usize) -> Option<usize> {
    let start = ptr as i64 + offset as i64 * size as i64;
    let end = start + len as i64 * size as i64;
    (start >= 0 && end as u64 <= memory_bytes()).then_some(start as usize)
}

/// `len` elements from element `offset` around `ptr`, or `error` if they leave linear memory.
unsafe fn elems<'a, T>(ptr: *const T, offset: isize, len: usize, error: Status) -> Result<&'a [T], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    span(ptr as usize, offset, len, core::mem::size_of::<T>()).map(|at| std::slice::from_raw_parts(at as *const T, len)).ok_or(error)
}

unsafe fn elems_mut<'a, T>(ptr: *mut T, offset: isize, len: usize, error: Status) -> Result<&'a mut [T], Status> {
    if len == 0 {
        return Ok(&mut []);
    }
    span(ptr as usize, offset, len, core::mem::size_of::<T>()).map(|at| std::slice::from_raw_parts_mut(at as *mut T, len)).ok_or(error)
}

/// The element a descriptor's size slot names: 4 (float32) or 1 (bool/uint8).
#[derive(Clone, Copy)]
enum Width {
    F32,
    U8,
}

fn width(bytes: u32) -> Result<Width, Status> {
    match bytes {
        4 => Ok(Width::F32),
        1 => Ok(Width::U8),
        _ => Err(Status::InvalidDescriptor),
    }
}

fn rank(value: u32) -> Result<usize, Status> {
    let r = value as usize;
    if r > MAX_RANK {
        return Err(Status::InvalidDescriptor);
    }
    Ok(r)
}

fn product(dims: &[usize]) -> Result<usize, Status> {
    dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d).ok_or(Status::SizeOverflow))
}

/// `dst[i * dst_strides] = src[i * src_strides]` over a `strided_desc` descriptor; `src` and `dst` are the
/// addresses of element 0 of each region (source strides may be negative or zero), elements of the
/// descriptor's size. The regions must not overlap.
///
/// # Safety
/// `desc` valid for `strided_desc::LEN` u32s; nothing else aliases the destination region while it runs.
#[no_mangle]
pub unsafe extern "C" fn atrous_copy_strided(src: *const u8, dst: *mut u8, desc: *const u32) -> i32 {
    let d = std::slice::from_raw_parts(desc, strided_desc::LEN);
    Status::code((|| {
        let r = rank(d[strided_desc::RANK])?;
        let dims: Vec<usize> = d[strided_desc::DIMS..][..r].iter().map(|&x| x as usize).collect();
        let signed = |at: usize| -> Vec<isize> { d[at..][..r].iter().map(|&x| x as i32 as isize).collect() };
        let (ss, ds) = (signed(strided_desc::SRC_STRIDES), signed(strided_desc::DST_STRIDES));
        match width(d[strided_desc::ELEM_BYTES])? {
            Width::F32 => copy::<f32>(src as *const f32, dst as *mut f32, &dims, &ss, &ds),
            Width::U8 => copy::<u8>(src, dst, &dims, &ss, &ds),
        }
    })())
}

unsafe fn copy<T: layout::Elem>(src: *const T, dst: *mut T, dims: &[usize], ss: &[isize], ds: &[isize]) -> Result<(), Status> {
    let (Some((slo, shi)), Some((dlo, dhi))) = (layout::extent(dims, ss)?, layout::extent(dims, ds)?) else {
        return Ok(());
    };
    let src = elems(src, slo, (shi - slo) as usize + 1, Status::InputLengthMismatch)?;
    let dst = elems_mut(dst, dlo, (dhi - dlo) as usize + 1, Status::OutputLengthMismatch)?;
    layout::copy_strided(src, slo.unsigned_abs(), dst, dlo.unsigned_abs(), dims, ss, ds)
}

/// Pads `src` (contiguous, the descriptor's dims) into `dst` (contiguous, dims + begin + end) under a
/// `pad_desc` descriptor.
///
/// # Safety
/// `desc` valid for `pad_desc::LEN` u32s; `src` and `dst` do not overlap.
#[no_mangle]
pub unsafe extern "C" fn atrous_pad(src: *const u8, dst: *mut u8, desc: *const u32) -> i32 {
    let d = std::slice::from_raw_parts(desc, pad_desc::LEN);
    Status::code((|| {
        let r = rank(d[pad_desc::RANK])?;
        let mode = match d[pad_desc::MODE] as usize {
            pad_kind::CONSTANT => PadMode::Constant,
            pad_kind::REFLECT => PadMode::Reflect,
            pad_kind::EDGE => PadMode::Edge,
            _ => return Err(Status::InvalidDescriptor),
        };
        let list = |at: usize| -> Vec<usize> { d[at..][..r].iter().map(|&x| x as usize).collect() };
        let (dims, begin, end) = (list(pad_desc::DIMS), list(pad_desc::BEGIN), list(pad_desc::END));
        let mut out = Vec::with_capacity(r);
        for i in 0..r {
            out.push(dims[i].checked_add(begin[i]).and_then(|x| x.checked_add(end[i])).ok_or(Status::SizeOverflow)?);
        }
        let value = f32::from_bits(d[pad_desc::VALUE]);
        let (n_in, n_out) = (product(&dims)?, product(&out)?);
        match width(d[pad_desc::ELEM_BYTES])? {
            Width::F32 => pad::pad(
                elems(src as *const f32, 0, n_in, Status::InputLengthMismatch)?,
                elems_mut(dst as *mut f32, 0, n_out, Status::OutputLengthMismatch)?,
                &dims, &begin, &end, mode, value,
            ),
            Width::U8 => pad::pad(
                elems(src, 0, n_in, Status::InputLengthMismatch)?,
                elems_mut(dst, 0, n_out, Status::OutputLengthMismatch)?,
                &dims, &begin, &end, mode, value,
            ),
        }
    })())
}

/// `dst[o][c][i] = src[o][indices[c]][i]`: `src` `[outer, axis_len, inner]`, `indices` `count` i32s,
/// `dst` `[outer, count, inner]`, elements of `elem_bytes` (4 or 1). An index outside `0..axis_len` is
/// `InvalidTable`, with nothing written.
///
/// # Safety
/// `dst` overlaps neither input.
#[no_mangle]
pub unsafe extern "C" fn atrous_gather(src: *const u8, indices: *const i32, dst: *mut u8, outer: usize, axis_len: usize, inner: usize, count: usize, elem_bytes: u32) -> i32 {
    Status::code((|| {
        let idx = elems(indices, 0, count, Status::InvalidTable)?;
        let (n_in, n_out) = (product(&[outer, axis_len, inner])?, product(&[outer, count, inner])?);
        match width(elem_bytes)? {
            Width::F32 => layout::gather(
                elems(src as *const f32, 0, n_in, Status::InputLengthMismatch)?,
                idx,
                elems_mut(dst as *mut f32, 0, n_out, Status::OutputLengthMismatch)?,
                outer, axis_len, inner,
            ),
            Width::U8 => layout::gather(elems(src, 0, n_in, Status::InputLengthMismatch)?, idx, elems_mut(dst, 0, n_out, Status::OutputLengthMismatch)?, outer, axis_len, inner),
        }
    })())
}

/// Converts `n` elements of `src` into `dst` as the `convert_kind` code says (Cast between float32 and
/// bool/uint8 in wasm memory).
///
/// # Safety
/// `src` and `dst` do not overlap.
#[no_mangle]
pub unsafe extern "C" fn atrous_convert(src: *const u8, dst: *mut u8, n: usize, kind: u32) -> i32 {
    Status::code((|| match kind as usize {
        convert_kind::F32_TO_U8 | convert_kind::F32_TO_BOOL => conversion::convert_from_f32(
            elems(src as *const f32, 0, n, Status::InputLengthMismatch)?,
            elems_mut(dst, 0, n, Status::OutputLengthMismatch)?,
            kind as usize == convert_kind::F32_TO_BOOL,
        ),
        convert_kind::U8_TO_F32 => conversion::convert_u8_to_f32(elems(src, 0, n, Status::InputLengthMismatch)?, elems_mut(dst as *mut f32, 0, n, Status::OutputLengthMismatch)?),
        convert_kind::F32_TO_HALF => conversion::convert_f32_to_half(elems(src as *const f32, 0, n, Status::InputLengthMismatch)?, elems_mut(dst as *mut f32, 0, n, Status::OutputLengthMismatch)?),
        convert_kind::F32_TO_BFLOAT16 => conversion::convert_f32_to_bfloat16(elems(src as *const f32, 0, n, Status::InputLengthMismatch)?, elems_mut(dst as *mut f32, 0, n, Status::OutputLengthMismatch)?),
        convert_kind::U8_TO_BOOL => conversion::convert_u8_to_bool(elems(src, 0, n, Status::InputLengthMismatch)?, elems_mut(dst, 0, n, Status::OutputLengthMismatch)?),
        _ => Err(Status::InvalidDescriptor),
    })())
}

/// `dst[..n] = value`.
///
/// # Safety
/// Nothing else aliases `dst` while it runs.
#[no_mangle]
pub unsafe extern "C" fn atrous_fill(dst: *mut f32, n: usize, value: f32) -> i32 {
    Status::code(elems_mut(dst, 0, n, Status::OutputLengthMismatch).map(|d| layout::fill(d, value)))
}
