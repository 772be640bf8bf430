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

impl PoolShape {
    /// Input and output lengths, after the checks every pooling makes (no zero kernel, stride or dilation:
    /// `InvalidDescriptor`; lengths past `usize`: `SizeOverflow`).
    pub(crate) fn lengths(&self) -> Result<(usize, usize), Status> {
        if self.kernel.contains(&0) || self.strides.contains(&0) || self.dilations.contains(&0) {
            return Err(Status::InvalidDescriptor);
        }
        let ([h, w], [oh, ow]) = (self.in_hw, self.out_hw);
        match (h.checked_mul(w).and_then(|n| n.checked_mul(self.planes)), oh.checked_mul(ow).and_then(|n| n.checked_mul(self.planes))) {
            (Some(i), Some(o)) => Ok((i, o)),
            _ => Err(Status::SizeOverflow),
        }
    }

    /// `lengths`, with buffers of `src` and `dst` floats long enough for them (else `InvalidDescriptor`).
    fn fits(&self, src: usize, dst: usize) -> Result<(usize, usize), Status> {
        let (in_len, out_len) = self.lengths()?;
        if src < in_len || dst < out_len {
            return Err(Status::InvalidDescriptor);
        }
        Ok((in_len, out_len))
    }
}

/// Taps `[first, end)` of the window at output `o` that land inside an axis of `size`.
pub(crate) fn taps(o: usize, stride: usize, pad: usize, dilation: usize, kernel: usize, size: usize) -> (usize, usize, isize) {
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
    s.fits(src.len(), dst.len())?;
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

/// Max pooling that also gives, per output, the flat index of the input element it took (ONNX MaxPool's
/// Indices output): over the whole input of `planes` maps, row-major (`(p * h + y) * w + x`) or, with
/// `column_major` (ONNX `storage_order` 1), `(p * w + x) * h + y`. The first maximum in row-major scan
/// order wins ties; a window entirely in the padding gives -inf and index -1. Fails as `max_pool2d`, and
/// with `SizeOverflow` when an index would not fit an i32.
///
/// Not separable (each output must know where its maximum came from): one pass over every window's taps.
pub fn max_pool2d_with_indices(src: &[f32], dst: &mut [f32], indices: &mut [i32], s: &PoolShape, column_major: bool) -> Result<(), Status> {
    let [h, w] = s.in_hw;
    let [oh, ow] = s.out_hw;
    let (in_len, _) = s.fits(src.len(), dst.len().min(indices.len()))?;
    if in_len > i32::MAX as usize {
        return Err(Status::SizeOverflow);
    }
    let [dy, dx] = s.dilations;
    for p in 0..s.planes {
        let plane = &src[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            let (ky0, ky1, y0) = taps(oy, s.strides[0], s.pads[0], dy, s.kernel[0], h);
            for ox in 0..ow {
                let (kx0, kx1, x0) = taps(ox, s.strides[1], s.pads[1], dx, s.kernel[1], w);
                let (mut best, mut at) = (f32::NEG_INFINITY, None);
                for ky in ky0..ky1 {
                    let y = (y0 + (ky * dy) as isize) as usize;
                    for kx in kx0..kx1 {
                        let x = (x0 + (kx * dx) as isize) as usize;
                        let v = plane[y * w + x];
                        // `at.is_none()`: a window of -inf (or NaN) still points at its first tap.
                        if v > best || at.is_none() {
                            best = v;
                            at = Some((y, x));
                        }
                    }
                }
                let o = (p * oh + oy) * ow + ox;
                dst[o] = best;
                indices[o] = match at {
                    Some((y, x)) if column_major => ((p * w + x) * h + y) as i32,
                    Some((y, x)) => ((p * h + y) * w + x) as i32,
                    None => -1,
                };
            }
        }
    }
    Ok(())
}

/// Average pooling of `planes` maps (ONNX AveragePool). `pad_end` are the trailing pads (bottom, right):
/// with `count_include_pad` a window's divisor counts its taps over the declared padding (not those past
/// it, which ceil_mode can add), else only its taps inside the input. A window with no taps gives 0.
/// Fails as `max_pool2d` does.
///
/// Separable as `max_pool2d`: the rows a window spans are summed to one row (vector adds over the width),
/// then each output sums its taps along that row.
pub fn avg_pool2d(src: &[f32], dst: &mut [f32], s: &PoolShape, pad_end: [usize; 2], count_include_pad: bool) -> Result<(), Status> {
    let [h, w] = s.in_hw;
    let [oh, ow] = s.out_hw;
    s.fits(src.len(), dst.len())?;
    let padded_taps = |start: isize, axis: usize, size: usize| padded_taps(s, pad_end, start, axis, size);
    let mut columns: Vec<(usize, usize, isize, usize)> = Vec::new();
    let mut row: Vec<f32> = Vec::new();
    if columns.try_reserve_exact(ow).is_err() || row.try_reserve_exact(w).is_err() {
        return Err(Status::OutOfMemory);
    }
    columns.extend((0..ow).map(|ox| {
        let (k0, k1, x0) = taps(ox, s.strides[1], s.pads[1], s.dilations[1], s.kernel[1], w);
        (k0, k1, x0, if count_include_pad { padded_taps(x0, 1, w) } else { k1.saturating_sub(k0) })
    }));
    row.resize(w, 0.0);
    let dx = s.dilations[1];
    for p in 0..s.planes {
        let plane = &src[p * h * w..(p + 1) * h * w];
        let out = &mut dst[p * oh * ow..(p + 1) * oh * ow];
        for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
            let (ky0, ky1, y0) = taps(oy, s.strides[0], s.pads[0], s.dilations[0], s.kernel[0], h);
            if ky0 >= ky1 {
                out_row.fill(0.0);
                continue;
            }
            let rows_counted = if count_include_pad { padded_taps(y0, 0, h) } else { ky1 - ky0 };
            let line = |ky: usize| &plane[(y0 + (ky * s.dilations[0]) as isize) as usize * w..][..w];
            row.copy_from_slice(line(ky0));
            for ky in ky0 + 1..ky1 {
                add_into(&mut row, line(ky));
            }
            for (o, &(kx0, kx1, x0, cols_counted)) in out_row.iter_mut().zip(&columns) {
                let mut acc = 0.0f32;
                for kx in kx0..kx1 {
                    acc += row[(x0 + (kx * dx) as isize) as usize];
                }
                let count = rows_counted * cols_counted;
                *o = if kx0 >= kx1 || count == 0 { 0.0 } else { acc / count as f32 };
            }
        }
    }
    Ok(())
}

/// Taps of a window starting at `start` on `axis`, counted with the padding (AveragePool's
/// count_include_pad divisor): those below `size + pad_end` (the start is never before `-pad_begin`),
/// every `dilation`.
pub(crate) fn padded_taps(s: &PoolShape, pad_end: [usize; 2], start: isize, axis: usize, size: usize) -> usize {
    let (k, d) = (s.kernel[axis] as isize, s.dilations[axis] as isize);
    let end = (start + (k - 1) * d + 1).min((size + pad_end[axis]) as isize);
    if end <= start { 0 } else { ((end - start + d - 1) / d) as usize }
}

/// `acc = f(acc, x)` element-wise: `vf` on whole vectors, `sf` on the tail (the same operation).
#[inline(always)]
fn fold_into(acc: &mut [f32], x: &[f32], vf: impl Fn(v::V, v::V) -> v::V, sf: impl Fn(f32, f32) -> f32) {
    let n = acc.len().min(x.len());
    let mut i = 0;
    // SAFETY: i + v::LANES <= n for both slices.
    unsafe {
        while i + v::LANES <= n {
            let p = acc.as_mut_ptr().add(i);
            v::store(p, vf(v::load(p), v::load(x.as_ptr().add(i))));
            i += v::LANES;
        }
    }
    while i < n {
        acc[i] = sf(acc[i], x[i]);
        i += 1;
    }
}

// Out of line: V8 allocates registers per function, and each row loop wants them to itself.
#[inline(never)]
fn add_into(acc: &mut [f32], x: &[f32]) {
    fold_into(acc, x, v::add, |a, b| a + b);
}

#[inline(never)]
fn max_into(acc: &mut [f32], x: &[f32]) {
    // As the vector max (pmax): `a` unless `b` is greater.
    fold_into(acc, x, v::max, |a, b| if b > a { b } else { a });
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

    #[test]
    fn max_pool_indices_point_at_the_maximum_in_either_storage_order() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for case in 0..300 {
            let kernel = [1 + rng.below(3), 1 + rng.below(3)];
            let dilations = [1 + rng.below(2), 1 + rng.below(2)];
            let strides = [1 + rng.below(2), 1 + rng.below(3)];
            let pads = [rng.below(kernel[0]), rng.below(kernel[1])];
            let in_hw = [1 + rng.below(6), 1 + rng.below(7)];
            let planes = 1 + rng.below(3);
            let out = |a: usize| (in_hw[a] + 2 * pads[a]).checked_sub((kernel[a] - 1) * dilations[a] + 1).map(|span| span / strides[a] + 1);
            let (Some(o0), Some(o1)) = (out(0), out(1)) else { continue };
            let s = PoolShape { planes, in_hw, out_hw: [o0, o1], kernel, strides, dilations, pads };
            // Few distinct values, so ties are common.
            let src: Vec<f32> = (0..planes * in_hw[0] * in_hw[1]).map(|_| rng.below(5) as f32).collect();
            let mut plain = vec![0.0; planes * o0 * o1];
            max_pool2d(&src, &mut plain, &s).unwrap();
            for column_major in [false, true] {
                let (mut dst, mut idx) = (vec![f32::NAN; plain.len()], vec![7i32; plain.len()]);
                max_pool2d_with_indices(&src, &mut dst, &mut idx, &s, column_major).unwrap();
                assert_eq!(dst, plain, "case {case}: the values are max_pool2d's");
                let [h, w] = in_hw;
                for p in 0..planes {
                    for oy in 0..o0 {
                        for ox in 0..o1 {
                            // The first maximum, scanning the window's taps row by row.
                            let mut want: Option<(usize, usize)> = None;
                            for ky in 0..kernel[0] {
                                for kx in 0..kernel[1] {
                                    let y = (oy * strides[0] + ky * dilations[0]) as isize - pads[0] as isize;
                                    let x = (ox * strides[1] + kx * dilations[1]) as isize - pads[1] as isize;
                                    if y < 0 || x < 0 || y as usize >= h || x as usize >= w {
                                        continue;
                                    }
                                    let (y, x) = (y as usize, x as usize);
                                    if want.map_or(true, |(by, bx)| src[(p * h + y) * w + x] > src[(p * h + by) * w + bx]) {
                                        want = Some((y, x));
                                    }
                                }
                            }
                            let got = idx[(p * o0 + oy) * o1 + ox];
                            let want = want.map_or(-1, |(y, x)| if column_major { ((p * w + x) * h + y) as i32 } else { ((p * h + y) * w + x) as i32 });
                            assert_eq!(got, want, "case {case} {s:?} column_major {column_major} at ({p}, {oy}, {ox})");
                        }
                    }
                }
            }
        }
        let s = PoolShape { planes: 1, in_hw: [2, 2], out_hw: [1, 1], kernel: [2, 2], strides: [1, 1], dilations: [1, 1], pads: [0, 0] };
        assert_eq!(max_pool2d_with_indices(&[0.0; 4], &mut [0.0], &mut [], &s, false), Err(Status::InvalidDescriptor));
    }

    use crate::test_rng::Rng;

    /// ONNX AveragePool written plainly: every tap of the window, in float64.
    fn avg_reference(src: &[f32], s: &PoolShape, pad_end: [usize; 2], include_pad: bool) -> Vec<f32> {
        let [h, w] = s.in_hw;
        let [oh, ow] = s.out_hw;
        let mut out = vec![0.0f32; s.planes * oh * ow];
        for p in 0..s.planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut sum, mut inside, mut padded) = (0.0f64, 0usize, 0usize);
                    for ky in 0..s.kernel[0] {
                        for kx in 0..s.kernel[1] {
                            let y = (oy * s.strides[0] + ky * s.dilations[0]) as isize - s.pads[0] as isize;
                            let x = (ox * s.strides[1] + kx * s.dilations[1]) as isize - s.pads[1] as isize;
                            if y < (h + pad_end[0]) as isize && x < (w + pad_end[1]) as isize {
                                padded += 1;
                            }
                            if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
                                sum += src[p * h * w + y as usize * w + x as usize] as f64;
                                inside += 1;
                            }
                        }
                    }
                    let count = if include_pad { padded } else { inside };
                    out[(p * oh + oy) * ow + ox] = if inside == 0 || count == 0 { 0.0 } else { (sum / count as f64) as f32 };
                }
            }
        }
        out
    }

    #[test]
    fn average_pooling_matches_the_reference_on_random_shapes() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for case in 0..400 {
            let kernel = [1 + rng.below(4), 1 + rng.below(4)];
            let dilations = [1 + rng.below(2), 1 + rng.below(3)];
            let strides = [1 + rng.below(3), 1 + rng.below(3)];
            let pads = [rng.below(kernel[0]), rng.below(kernel[1])];
            let pad_end = [rng.below(kernel[0]), rng.below(kernel[1])];
            let in_hw = [1 + rng.below(9), 1 + rng.below(13)];
            let planes = 1 + rng.below(3);
            let mut out_hw = [0; 2];
            let mut ok = true;
            for a in 0..2 {
                let eff = (kernel[a] - 1) * dilations[a] + 1;
                let total = in_hw[a] + pads[a] + pad_end[a];
                if total < eff {
                    ok = false;
                    break;
                }
                let span = total - eff;
                // ceil_mode half the time; a last window starting in the end padding is dropped.
                let mut o = if rng.below(2) == 0 { span / strides[a] + 1 } else { span.div_ceil(strides[a]) + 1 };
                if (o - 1) * strides[a] >= in_hw[a] + pads[a] {
                    o -= 1;
                }
                out_hw[a] = o;
            }
            if !ok {
                continue;
            }
            let s = PoolShape { planes, in_hw, out_hw, kernel, strides, dilations, pads };
            let src: Vec<f32> = (0..planes * in_hw[0] * in_hw[1]).map(|_| (rng.below(2001) as f32 - 1000.0) / 100.0).collect();
            for include_pad in [false, true] {
                let mut dst = vec![f32::NAN; planes * out_hw[0] * out_hw[1]];
                assert_eq!(avg_pool2d(&src, &mut dst, &s, pad_end, include_pad), Ok(()));
                let want = avg_reference(&src, &s, pad_end, include_pad);
                for (i, (&g, &r)) in dst.iter().zip(&want).enumerate() {
                    assert!((g - r).abs() <= 1e-5 * r.abs().max(1.0), "case {case} {s:?} pad_end {pad_end:?} include {include_pad} at {i}: {g} vs {r}");
                }
            }
        }
        let s = PoolShape { planes: 1, in_hw: [2, 2], out_hw: [1, 1], kernel: [0, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0] };
        assert_eq!(avg_pool2d(&[0.0; 4], &mut [0.0], &s, [0, 0], false), Err(Status::InvalidDescriptor));
        let s = PoolShape { planes: 2, in_hw: [2, 2], out_hw: [1, 1], kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0] };
        assert_eq!(avg_pool2d(&[0.0; 4], &mut [0.0; 2], &s, [0, 0], false), Err(Status::InvalidDescriptor));
    }
}
