//! 2-D max pooling with ONNX MaxPool semantics (pads, strides, dilations; the caller resolves auto_pad
//! and ceil_mode into the output size). Windows are clipped to the input once per output row and column,
//! so the inner loops carry no bounds tests.

use alloc::vec::Vec;

use crate::isa::active as v;
use crate::status::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    pub planes: usize,
    pub in_hw: [usize; 2],
    pub out_hw: [usize; 2],
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Leading pads (top, left); trailing pads only matter for the output size.
    pub pads: [usize; 2],
}

/// Taps `[first, end)` of the window at output `o` that land inside an axis of `size`.
fn taps(o: usize, stride: usize, pad: usize, dilation: usize, kernel: usize, size: usize) -> (usize, usize, isize) {
    let start = (o * stride) as isize - pad as isize;
    let mut first = 0;
    while first < kernel && start + ((first * dilation) as isize) < 0 {
        first += 1;
    }
    let mut end = kernel;
    while end > first && start + (((end - 1) * dilation) as isize) >= size as isize {
        end -= 1;
    }
    (first, end, start)
}

/// Max pooling of `planes` maps; a window entirely in the padding gives -inf (as onnxruntime).
/// Fails with `InvalidDescriptor` when the buffers are too short for the shape, `OutOfMemory` without scratch.
///
/// Separable: the rows a window spans are first reduced to one row by a vector max over the full
/// width, then each output takes the max of its taps along that row.
pub fn max_pool2d(src: &[f32], dst: &mut [f32], s: &PoolShape) -> Result<(), Status> {
    let [h, w] = s.in_hw;
    let [oh, ow] = s.out_hw;
    if s.kernel.contains(&0) || s.strides.contains(&0) || s.dilations.contains(&0) {
        return Err(Status::InvalidDescriptor);
    }
    let (Some(in_len), Some(out_len)) = (h.checked_mul(w).and_then(|n| n.checked_mul(s.planes)), oh.checked_mul(ow).and_then(|n| n.checked_mul(s.planes))) else {
        return Err(Status::InvalidDescriptor);
    };
    if src.len() < in_len || dst.len() < out_len {
        return Err(Status::InvalidDescriptor);
    }
    let mut columns: Vec<(usize, usize, isize)> = Vec::new();
    let mut row: Vec<f32> = Vec::new();
    if columns.try_reserve_exact(ow).is_err() || row.try_reserve_exact(w).is_err() {
        return Err(Status::OutOfMemory);
    }
    columns.extend((0..ow).map(|ox| taps(ox, s.strides[1], s.pads[1], s.dilations[1], s.kernel[1], w)));
    row.resize(w, f32::NEG_INFINITY);
    let dx = s.dilations[1];
    for p in 0..s.planes {
        let plane = &src[p * h * w..(p + 1) * h * w];
        let out = &mut dst[p * oh * ow..(p + 1) * oh * ow];
        for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
            let (ky0, ky1, y0) = taps(oy, s.strides[0], s.pads[0], s.dilations[0], s.kernel[0], h);
            if ky0 >= ky1 {
                out_row.fill(f32::NEG_INFINITY);
                continue;
            }
            let line = |ky: usize| &plane[(y0 + (ky * s.dilations[0]) as isize) as usize * w..][..w];
            row.copy_from_slice(line(ky0));
            for ky in ky0 + 1..ky1 {
                max_into(&mut row, line(ky));
            }
            for (o, &(kx0, kx1, x0)) in out_row.iter_mut().zip(&columns) {
                let mut acc = f32::NEG_INFINITY;
                for kx in kx0..kx1 {
                    let v = row[(x0 + (kx * dx) as isize) as usize];
                    if v > acc {
                        acc = v;
                    }
                }
                *o = acc;
            }
        }
    }
    Ok(())
}

/// `acc = max(acc, x)` element-wise.
#[inline(never)]
fn max_into(acc: &mut [f32], x: &[f32]) {
    let n = acc.len().min(x.len());
    let mut i = 0;
    // SAFETY: i + v::LANES <= n for both slices.
    unsafe {
        while i + v::LANES <= n {
            let p = acc.as_mut_ptr().add(i);
            v::store(p, v::max(v::load(p), v::load(x.as_ptr().add(i))));
            i += v::LANES;
        }
    }
    while i < n {
        if x[i] > acc[i] {
            acc[i] = x[i];
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn pools_with_pads_strides_and_dilations() {
        // 1 plane 3x4, kernel 2x2, stride 2, pad 1 at the start, dilation 1.
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let shape = PoolShape { planes: 1, in_hw: [3, 4], out_hw: [2, 3], kernel: [2, 2], strides: [2, 2], dilations: [1, 1], pads: [1, 1] };
        let mut dst = vec![0.0; 6];
        assert_eq!(max_pool2d(&src, &mut dst, &shape), Ok(()));
        assert_eq!(dst, [1.0, 3.0, 4.0, 9.0, 11.0, 12.0]);
        // Dilation 2 in x: taps 0 and 2.
        let shape = PoolShape { planes: 1, in_hw: [1, 4], out_hw: [1, 2], kernel: [1, 2], strides: [1, 1], dilations: [1, 2], pads: [0, 0] };
        let mut dst = vec![0.0; 2];
        assert_eq!(max_pool2d(&[4.0, 1.0, 2.0, 9.0], &mut dst, &shape), Ok(()));
        assert_eq!(dst, [4.0, 9.0]);
    }
}
