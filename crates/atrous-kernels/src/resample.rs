//! Resizing feature maps over their last two axes by interpolation (ONNX Resize / Upsample, modes linear
//! and cubic, with TensorFlow's crop-and-resize extrapolation). The coordinate conventions (half_pixel,
//! align_corners, ...) are the caller's: it passes, per output row and per output column, the source
//! coordinate it samples. Here each coordinate becomes its taps (source indices and weights, ONNX's rules),
//! and the resize is separable: each source row is interpolated to the output width once, then every output
//! row sums a few of those rows, which vectorises (a load and a multiply-add per tap and output pixel).
//!
//! Over 400 lines only with its unit tests (the kernel itself is about 270): they check every tap rule
//! against a float64 reference here, beside the code they pin down.

use alloc::vec::Vec;

use crate::isa::active as v;
use crate::resample_rows::RowTaps;
use crate::parallel::{piece_range, pieces, try_run, Parallel, SharedMut, SERIAL};
use crate::status::Status;

/// How a coordinate between source samples is interpolated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Interpolation {
    /// Two taps, weights `1 - r`, `r`.
    Linear,
    /// Four taps of Keys' cubic convolution with parameter `a` (ONNX `cubic_coeff_a`, -0.75 by default).
    /// With `exclude_outside`, taps outside the source get weight 0 and the others are renormalised;
    /// otherwise they read the edge sample.
    Cubic { a: f32, exclude_outside: bool },
}

impl Interpolation {
    fn taps(self) -> usize {
        match self {
            Interpolation::Linear => 2,
            Interpolation::Cubic { .. } => 4,
        }
    }
}

/// Per output position along one axis: `taps` source indices and their weights, and whether it samples
/// inside the source (only false with extrapolation, where such positions take the extrapolation value).
#[derive(Debug)]
pub struct AxisTaps {
    taps: usize,
    index: Vec<u32>,
    weight: Vec<f32>,
    inside: Vec<bool>,
}

impl AxisTaps {
    /// The taps of `coords` (source coordinates, in samples) over an axis of `in_size` samples. A
    /// coordinate `x` reads the `taps` samples nearest it, ties toward the lower index (ONNX's rule): from
    /// `base = ceil(x) - 1` (linear) or `base - 1` (cubic), with `r = x - base` in (0, 1]; indices outside
    /// the axis read its edge sample. With `extrapolate`, a coordinate outside `[0, in_size - 1]` is marked
    /// outside. Fails with `InvalidTable` for an empty axis or a coordinate that is not finite, and
    /// `OutOfMemory` without room for the table.
    pub fn new(coords: &[f64], in_size: usize, interpolation: Interpolation, extrapolate: bool) -> Result<Self, Status> {
        if in_size == 0 || in_size > u32::MAX as usize || coords.iter().any(|c| !c.is_finite()) {
            return Err(Status::InvalidTable);
        }
        let taps = interpolation.taps();
        let n = coords.len().checked_mul(taps).ok_or(Status::SizeOverflow)?;
        let (mut index, mut weight, mut inside) = (Vec::new(), Vec::new(), Vec::new());
        if index.try_reserve_exact(n).is_err() || weight.try_reserve_exact(n).is_err() || inside.try_reserve_exact(coords.len()).is_err() {
            return Err(Status::OutOfMemory);
        }
        let last = (in_size - 1) as f64;
        for &x in coords {
            inside.push(!extrapolate || (0.0..=last).contains(&x));
            let base = ceil(x) - 1.0;
            let r = x - base;
            let first = match interpolation {
                Interpolation::Linear => base,
                Interpolation::Cubic { .. } => base - 1.0,
            };
            let mut w = [0.0f64; 4];
            match interpolation {
                Interpolation::Linear => w[..2].copy_from_slice(&[1.0 - r, r]),
                Interpolation::Cubic { a, exclude_outside } => {
                    w = cubic_weights(r, a as f64);
                    if exclude_outside {
                        for (k, wk) in w.iter_mut().enumerate() {
                            let i = first + k as f64;
                            if i < 0.0 || i > last {
                                *wk = 0.0;
                            }
                        }
                        let sum: f64 = w.iter().sum();
                        // Every tap outside (a coordinate far past the edge): no sample to renormalise over.
                        if sum != 0.0 {
                            w.iter_mut().for_each(|wk| *wk /= sum);
                        }
                    }
                }
            }
            for (k, &wk) in w[..taps].iter().enumerate() {
                index.push((first + k as f64).clamp(0.0, last) as u32);
                weight.push(wk as f32);
            }
        }
        Ok(AxisTaps { taps, index, weight, inside })
    }

    pub(crate) fn len(&self) -> usize {
        self.inside.len()
    }

    /// Taps per position.
    pub(crate) fn taps(&self) -> usize {
        self.taps
    }

    /// Whether position `o` samples inside the source (always, without extrapolation).
    pub(crate) fn inside(&self, o: usize) -> bool {
        self.inside[o]
    }

    /// Source indices and weights of position `o`.
    pub(crate) fn at(&self, o: usize) -> (&[u32], &[f32]) {
        (&self.index[o * self.taps..][..self.taps], &self.weight[o * self.taps..][..self.taps])
    }
}

/// The least integer >= `x` (no_std has no `f64::ceil`); past 2^63 (far outside any axis, clamped later)
/// it saturates.
fn ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// Keys' cubic convolution weights of the four taps around a point at `r` in (0, 1] past the second.
fn cubic_weights(r: f64, a: f64) -> [f64; 4] {
    // The kernel: (a+2)|t|^3 - (a+3)|t|^2 + 1 for |t| <= 1, a|t|^3 - 5a|t|^2 + 8a|t| - 4a for 1 < |t| < 2.
    let near = |t: f64| ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    let far = |t: f64| ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    [far(r + 1.0), near(r), near(1.0 - r), far(2.0 - r)]
}

/// `src` holds `planes` maps of `h x w`, `dst` `planes` maps of `oh x ow` (row-major, contiguous); `ty`
/// has `oh` positions over `h`, `tx` `ow` over `w`. An output whose row or column samples outside takes
/// `extrapolation`. Fails with `InvalidTable` when the tables do not fit the sizes, `InputLengthMismatch`
/// or `OutputLengthMismatch` for short buffers, `OutOfMemory` without scratch.
pub fn resize(src: &[f32], dst: &mut [f32], planes: usize, (h, w): (usize, usize), (oh, ow): (usize, usize), ty: &AxisTaps, tx: &AxisTaps, extrapolation: f32) -> Result<(), Status> {
    resize_on(&SERIAL, src, dst, planes, (h, w), (oh, ow), ty, tx, extrapolation)
}

/// `resize` with its planes split over `par` (each piece a run of whole planes: the same bits).
pub fn resize_on(par: &dyn Parallel, src: &[f32], dst: &mut [f32], planes: usize, (h, w): (usize, usize), (oh, ow): (usize, usize), ty: &AxisTaps, tx: &AxisTaps, extrapolation: f32) -> Result<(), Status> {
    let (Some(in_len), Some(out_len)) = (h.checked_mul(w).and_then(|n| n.checked_mul(planes)), oh.checked_mul(ow).and_then(|n| n.checked_mul(planes))) else {
        return Err(Status::SizeOverflow);
    };
    let fits = |t: &AxisTaps, out: usize, size: usize| t.len() == out && t.index.iter().all(|&i| (i as usize) < size);
    if !fits(ty, oh, h) || !fits(tx, ow, w) {
        return Err(Status::InvalidTable);
    }
    if src.len() < in_len {
        return Err(Status::InputLengthMismatch);
    }
    if dst.len() < out_len {
        return Err(Status::OutputLengthMismatch);
    }
    let work = out_len.saturating_mul(ty.taps + tx.taps);
    let count = pieces(par, planes, work);
    let out = SharedMut(dst.as_mut_ptr());
    try_run(par, count, &|piece| {
        let range = piece_range(planes, count, piece);
        // SAFETY: pieces write disjoint planes of `dst`, which holds `out_len` floats.
        let dst = unsafe { core::slice::from_raw_parts_mut(out.get().add(range.start * oh * ow), range.len() * oh * ow) };
        resize_planes(&src[range.start * h * w..range.end * h * w], dst, (h, w), (oh, ow), ty, tx, extrapolation)
    })
}

/// Every plane of `src` into `dst` (lengths checked by `resize_on`).
fn resize_planes(src: &[f32], dst: &mut [f32], (h, w): (usize, usize), (oh, ow): (usize, usize), ty: &AxisTaps, tx: &AxisTaps, extrapolation: f32) -> Result<(), Status> {
    let planes = src.len() / (h * w);
    let mut rows: Vec<f32> = Vec::new();
    if rows.try_reserve_exact(h * ow).is_err() {
        return Err(Status::OutOfMemory);
    }
    rows.resize(h * ow, 0.0);
    // Decided once, not per pixel: most resizes sample inside on every column.
    let cols_outside = tx.inside.iter().any(|&inside| !inside);
    let columns = RowTaps::new(tx, w);
    for p in 0..planes {
        let plane = &src[p * h * w..(p + 1) * h * w];
        for (r, row) in rows.chunks_exact_mut(ow).enumerate() {
            columns.interpolate(row, &plane[r * w..(r + 1) * w]);
        }
        let out_plane = &mut dst[p * oh * ow..(p + 1) * oh * ow];
        for (y, out) in out_plane.chunks_exact_mut(ow).enumerate() {
            if !ty.inside[y] {
                out.fill(extrapolation);
                continue;
            }
            let (index, weight) = ty.at(y);
            let row = |i: u32| &rows[i as usize * ow..][..ow];
            if let ([i0, i1], [w0, w1]) = (index, weight) {
                blend_rows(out, row(*i0), *w0, row(*i1), *w1);
            } else {
                scale_row(out, row(index[0]), weight[0]);
                for (&i, &wk) in index.iter().zip(weight).skip(1) {
                    add_scaled_row(out, row(i), wk);
                }
            }
            if cols_outside {
                for (o, _) in out.iter_mut().zip(&tx.inside).filter(|(_, &inside)| !inside) {
                    *o = extrapolation;
                }
            }
        }
    }
    Ok(())
}

/// `out = row * w`.
#[inline(never)]
fn scale_row(out: &mut [f32], row: &[f32], w: f32) {
    let n = out.len().min(row.len());
    let wv = v::splat(w);
    let mut x = 0;
    // SAFETY: x + v::LANES <= n for both slices.
    unsafe {
        while x + v::LANES <= n {
            v::store(out.as_mut_ptr().add(x), v::mul(v::load(row.as_ptr().add(x)), wv));
            x += v::LANES;
        }
    }
    while x < n {
        out[x] = row[x] * w;
        x += 1;
    }
}

/// `out = a * wa + b * wb` in one pass: `scale_row` then `add_scaled_row`, with the same arithmetic.
#[inline(never)]
fn blend_rows(out: &mut [f32], a: &[f32], wa: f32, b: &[f32], wb: f32) {
    let n = out.len().min(a.len()).min(b.len());
    let (va, vb) = (v::splat(wa), v::splat(wb));
    let mut x = 0;
    // SAFETY: x + v::LANES <= n for the three slices.
    unsafe {
        while x + v::LANES <= n {
            let scaled = v::mul(v::load(a.as_ptr().add(x)), va);
            v::store(out.as_mut_ptr().add(x), v::madd(v::load(b.as_ptr().add(x)), vb, scaled));
            x += v::LANES;
        }
    }
    while x < n {
        out[x] = a[x] * wa;
        out[x] += b[x] * wb;
        x += 1;
    }
}

/// `out += row * w`.
#[inline(never)]
fn add_scaled_row(out: &mut [f32], row: &[f32], w: f32) {
    let n = out.len().min(row.len());
    let wv = v::splat(w);
    let mut x = 0;
    // SAFETY: x + v::LANES <= n for both slices.
    unsafe {
        while x + v::LANES <= n {
            let p = out.as_mut_ptr().add(x);
            v::store(p, v::madd(v::load(row.as_ptr().add(x)), wv, v::load(p)));
            x += v::LANES;
        }
    }
    while x < n {
        out[x] += row[x] * w;
        x += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use alloc::vec;

    /// ONNX's reference 1-D interpolation, written from the spec: the `n` samples nearest `x` (ties to the
    /// lower index) of the edge-padded axis, weighted; with extrapolation, `None` outside the axis.
    fn reference_1d(line: &[f64], x: f64, interpolation: Interpolation, extrapolate: bool) -> Option<f64> {
        let size = line.len() as isize;
        if extrapolate && (x < 0.0 || x > (size - 1) as f64) {
            return None;
        }
        let n = interpolation.taps() as isize;
        let pad = n;
        // Indices of the padded axis (-pad .. size + pad) by distance to x, ties to the lower index.
        let mut near: Vec<isize> = (-pad..size + pad).collect();
        near.sort_by(|&a, &b| (x - a as f64).abs().partial_cmp(&(x - b as f64).abs()).unwrap().then(a.cmp(&b)));
        let mut idx: Vec<isize> = near[..n as usize].to_vec();
        idx.sort();
        let ratio = if x == x.floor() { 1.0 } else { x - x.floor() };
        let mut w: Vec<f64> = match interpolation {
            Interpolation::Linear => vec![1.0 - ratio, ratio],
            Interpolation::Cubic { a, .. } => {
                let a = a as f64;
                let r = ratio;
                vec![
                    ((a * (r + 1.0) - 5.0 * a) * (r + 1.0) + 8.0 * a) * (r + 1.0) - 4.0 * a,
                    ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0,
                    ((a + 2.0) * (1.0 - r) - (a + 3.0)) * (1.0 - r) * (1.0 - r) + 1.0,
                    ((a * (2.0 - r) - 5.0 * a) * (2.0 - r) + 8.0 * a) * (2.0 - r) - 4.0 * a,
                ]
            }
        };
        if let Interpolation::Cubic { exclude_outside: true, .. } = interpolation {
            for (k, &i) in idx.iter().enumerate() {
                if i < 0 || i >= size {
                    w[k] = 0.0;
                }
            }
            let s: f64 = w.iter().sum();
            w.iter_mut().for_each(|x| *x /= s);
        }
        Some(idx.iter().zip(&w).map(|(&i, &wk)| line[i.clamp(0, size - 1) as usize] * wk).sum())
    }

    /// 2-D by applying the 1-D reference over columns, then over rows (ONNX's recursive nd interpolation).
    fn reference_2d(plane: &[f32], (h, w): (usize, usize), ys: &[f64], xs: &[f64], interpolation: Interpolation, extrapolate: Option<f32>) -> Vec<f32> {
        let mut out = vec![];
        for &y in ys {
            for &x in xs {
                let column: Option<Vec<f64>> = (0..h)
                    .map(|r| reference_1d(&plane[r * w..(r + 1) * w].iter().map(|&v| v as f64).collect::<Vec<_>>(), x, interpolation, extrapolate.is_some()))
                    .collect();
                let v = column.and_then(|c| reference_1d(&c, y, interpolation, extrapolate.is_some()));
                out.push(v.map_or(extrapolate.unwrap_or(0.0), |v| v as f32));
            }
        }
        out
    }

    fn random_coords(rng: &mut Rng, n: usize, size: usize, spill: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                // Integers half the time (the tie rule), else anywhere in [-spill, size - 1 + spill].
                if rng.below(4) == 0 {
                    (i % size) as f64
                } else {
                    -spill + (rng.below(1 << 20) as f64 / (1 << 20) as f64) * ((size - 1) as f64 + 2.0 * spill)
                }
            })
            .collect()
    }

    #[test]
    fn matches_the_reference_on_random_shapes_and_coordinates() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..300 {
            let (planes, h, w) = (1 + rng.below(3), 1 + rng.below(7), 1 + rng.below(9));
            let (oh, ow) = (1 + rng.below(9), 1 + rng.below(11));
            let interpolation = match rng.below(3) {
                0 => Interpolation::Linear,
                1 => Interpolation::Cubic { a: -0.75, exclude_outside: false },
                _ => Interpolation::Cubic { a: -0.5, exclude_outside: true },
            };
            let extrapolate = rng.below(3) == 0;
            let ys = random_coords(&mut rng, oh, h, 1.5);
            let xs = random_coords(&mut rng, ow, w, 1.5);
            let src: Vec<f32> = (0..planes * h * w).map(|_| rng.below(2001) as f32 / 1000.0 - 1.0).collect();
            let ty = AxisTaps::new(&ys, h, interpolation, extrapolate).unwrap();
            let tx = AxisTaps::new(&xs, w, interpolation, extrapolate).unwrap();
            let mut dst = vec![f32::NAN; planes * oh * ow];
            resize(&src, &mut dst, planes, (h, w), (oh, ow), &ty, &tx, 7.5).unwrap();
            let mut split = std::vec![f32::NAN; dst.len()];
            resize_on(&crate::parallel::testing::Threads(3), &src, &mut split, planes, (h, w), (oh, ow), &ty, &tx, 7.5).unwrap();
            assert!(split.iter().zip(&dst).all(|(a, b)| a.to_bits() == b.to_bits()), "3 threads differ from one");
            for p in 0..planes {
                let want = reference_2d(&src[p * h * w..][..h * w], (h, w), &ys, &xs, interpolation, extrapolate.then_some(7.5));
                for (i, (&got, &want)) in dst[p * oh * ow..][..oh * ow].iter().zip(&want).enumerate() {
                    assert!((got - want).abs() < 1e-5, "case {case} {interpolation:?} plane {p} element {i}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn cubic_weights_sum_to_one_and_hit_samples_exactly() {
        for &a in &[-0.75f64, -0.5] {
            for k in 1..=16 {
                let w = cubic_weights(k as f64 / 16.0, a);
                assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
            assert_eq!(cubic_weights(1.0, a), [0.0, 0.0, 1.0, 0.0]);
        }
        // On a sample, cubic returns it.
        let t = AxisTaps::new(&[2.0], 5, Interpolation::Cubic { a: -0.75, exclude_outside: false }, false).unwrap();
        let (index, weight) = t.at(0);
        assert_eq!(index, [0, 1, 2, 3]);
        assert_eq!(weight, [0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn rejects_bad_coordinates_and_mismatched_tables() {
        assert_eq!(AxisTaps::new(&[f64::NAN], 4, Interpolation::Linear, false).unwrap_err(), Status::InvalidTable);
        assert_eq!(AxisTaps::new(&[0.0], 0, Interpolation::Linear, false).unwrap_err(), Status::InvalidTable);
        let t2 = AxisTaps::new(&[0.0, 1.0], 2, Interpolation::Linear, false).unwrap();
        let t4 = AxisTaps::new(&[0.0, 3.0], 4, Interpolation::Linear, false).unwrap();
        let (src, mut dst) = (vec![0.0; 8], vec![0.0; 4]);
        assert_eq!(resize(&src, &mut dst, 1, (2, 2), (2, 2), &t2, &t4, 0.0), Err(Status::InvalidTable));
        assert_eq!(resize(&src, &mut dst, 1, (2, 4), (2, 2), &t2, &t4, 0.0), Ok(()));
        assert_eq!(resize(&src[..7], &mut dst, 1, (2, 4), (2, 2), &t2, &t4, 0.0), Err(Status::InputLengthMismatch));
        assert_eq!(resize(&src, &mut dst[..3], 1, (2, 4), (2, 2), &t2, &t4, 0.0), Err(Status::OutputLengthMismatch));
    }
}
