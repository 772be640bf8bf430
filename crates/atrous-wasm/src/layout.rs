//! Data movement: strided copies, pads, gathers and fills over buffers in linear memory.
//!
//! A strided copy names its regions by the address of element 0 and may step backwards, so the reach of
//! every descriptor is computed first and must lie inside linear memory: a bad descriptor is a status,
//! never an out-of-bounds trap.

use atrous_kernels::layout::{self, PadMode, MAX_RANK};
use atrous_kernels::Status;

use crate::abi_table::{pad_desc, pad_kind, strided_desc};

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

/// Byte address of element `offset` from `ptr`, and of the element past `offset + len`, if both lie in memory.
fn span(ptr: usize, offset: isize, len: usize) -> Option<usize> {
    let start = ptr as i64 + offset as i64 * 4;
    let end = start + len as i64 * 4;
    (start >= 0 && end as u64 <= memory_bytes()).then_some(start as usize)
}

/// `len` floats from element `offset` around `ptr`, or `error` if they leave linear memory.
unsafe fn floats<'a>(ptr: *const f32, offset: isize, len: usize, error: Status) -> Result<&'a [f32], Status> {
    if len == 0 {
        return Ok(&[]);
    }
    span(ptr as usize, offset, len).map(|at| std::slice::from_raw_parts(at as *const f32, len)).ok_or(error)
}

unsafe fn floats_mut<'a>(ptr: *mut f32, offset: isize, len: usize, error: Status) -> Result<&'a mut [f32], Status> {
    if len == 0 {
        return Ok(&mut []);
    }
    span(ptr as usize, offset, len).map(|at| std::slice::from_raw_parts_mut(at as *mut f32, len)).ok_or(error)
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
/// addresses of element 0 of each region (source strides may be negative or zero). The regions must not
/// overlap.
///
/// # Safety
/// `desc` valid for `strided_desc::LEN` u32s; nothing else aliases the destination region while it runs.
#[no_mangle]
pub unsafe extern "C" fn atrous_copy_strided(src: *const f32, dst: *mut f32, desc: *const u32) -> i32 {
    let d = std::slice::from_raw_parts(desc, strided_desc::LEN);
    Status::code((|| {
        let r = rank(d[strided_desc::RANK])?;
        let dims: Vec<usize> = d[strided_desc::DIMS..][..r].iter().map(|&x| x as usize).collect();
        let signed = |at: usize| -> Vec<isize> { d[at..][..r].iter().map(|&x| x as i32 as isize).collect() };
        let (ss, ds) = (signed(strided_desc::SRC_STRIDES), signed(strided_desc::DST_STRIDES));
        let (Some((slo, shi)), Some((dlo, dhi))) = (layout::extent(&dims, &ss)?, layout::extent(&dims, &ds)?) else {
            return Ok(());
        };
        let src = floats(src, slo, (shi - slo) as usize + 1, Status::InputLengthMismatch)?;
        let dst = floats_mut(dst, dlo, (dhi - dlo) as usize + 1, Status::OutputLengthMismatch)?;
        layout::copy_strided(src, slo.unsigned_abs(), dst, dlo.unsigned_abs(), &dims, &ss, &ds)
    })())
}

/// Pads `src` (contiguous, the descriptor's dims) into `dst` (contiguous, dims + begin + end) under a
/// `pad_desc` descriptor.
///
/// # Safety
/// `desc` valid for `pad_desc::LEN` u32s; `src` and `dst` do not overlap.
#[no_mangle]
pub unsafe extern "C" fn atrous_pad(src: *const f32, dst: *mut f32, desc: *const u32) -> i32 {
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
        let src = floats(src, 0, product(&dims)?, Status::InputLengthMismatch)?;
        let dst = floats_mut(dst, 0, product(&out)?, Status::OutputLengthMismatch)?;
        layout::pad(src, dst, &dims, &begin, &end, mode, f32::from_bits(d[pad_desc::VALUE]))
    })())
}

/// `dst[o][c][i] = src[o][indices[c]][i]`: `src` `[outer, axis_len, inner]`, `indices` `count` i32s,
/// `dst` `[outer, count, inner]`. An index outside `0..axis_len` is `InvalidTable`, with nothing written.
///
/// # Safety
/// `dst` overlaps neither input.
#[no_mangle]
pub unsafe extern "C" fn atrous_gather(src: *const f32, indices: *const i32, dst: *mut f32, outer: usize, axis_len: usize, inner: usize, count: usize) -> i32 {
    Status::code((|| {
        let src = floats(src, 0, product(&[outer, axis_len, inner])?, Status::InputLengthMismatch)?;
        let idx = floats(indices as *const f32, 0, count, Status::InvalidTable)?;
        let idx = std::slice::from_raw_parts(idx.as_ptr() as *const i32, count);
        let dst = floats_mut(dst, 0, product(&[outer, count, inner])?, Status::OutputLengthMismatch)?;
        layout::gather(src, idx, dst, outer, axis_len, inner)
    })())
}

/// `dst[..n] = value`.
///
/// # Safety
/// Nothing else aliases `dst` while it runs.
#[no_mangle]
pub unsafe extern "C" fn atrous_fill(dst: *mut f32, n: usize, value: f32) -> i32 {
    Status::code(floats_mut(dst, 0, n, Status::OutputLengthMismatch).map(|d| layout::fill(d, value)))
}
