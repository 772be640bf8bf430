//! The horizontal pass of a separable resize (see `resample`): one source row interpolated to the output
//! width through the column taps.
//!
//! Decoders upsample by 2 (or 4) with linear taps, and those taps repeat every `factor` outputs: output
//! `factor * k + q` reads source `k + d_q` and `k + d_q + 1` with weights that depend on the phase `q`
//! only. There the row is computed a vector of `k` at a time per phase, and the phases are interleaved
//! into the output, instead of one output at a time through the tap table (a gather wasm SIMD does not
//! have). The arithmetic per output is the table's, `line[i0] * w0 + line[i1] * w1`, so the bits are the
//! same; positions near the edges (clamped taps) and every other table go through the table.

use core::ops::Range;

use crate::isa::active as v;
use crate::resample::AxisTaps;

/// Largest upsampling factor with a vector path (the phases of one vector of `k` fill `factor` vectors).
const MAX_FACTOR: usize = v::LANES;

/// The repeating part of a linear column table, found once per resize (`RowTaps::new`).
pub(crate) struct RowTaps<'a> {
    taps: &'a AxisTaps,
    periodic: Option<Periodic>,
}

/// Output `factor * k + q`, for `k` in `ks`, reads `line[k + shift[q] - 1]` and `line[k + shift[q]]`
/// with weights `weights[q]` (`shift` is `d_q + 1`, so never negative).
struct Periodic {
    factor: usize,
    shift: [usize; MAX_FACTOR],
    weights: [[f32; 2]; MAX_FACTOR],
    ks: Range<usize>,
}

impl<'a> RowTaps<'a> {
    /// `taps` over a source row of `w` samples.
    pub(crate) fn new(taps: &'a AxisTaps, w: usize) -> Self {
        RowTaps { taps, periodic: Periodic::find(taps, w) }
    }

    /// Interpolates `line` (`w` samples) into `out` (the table's length).
    pub(crate) fn interpolate(&self, out: &mut [f32], line: &[f32]) {
        let Some(p) = &self.periodic else {
            self.through_table(out, line, 0..out.len());
            return;
        };
        // Whole vectors of k inside the repeating range; the rest through the table.
        let vectors = p.ks.len() / v::LANES;
        let (k0, k1) = (p.ks.start, p.ks.start + vectors * v::LANES);
        self.through_table(out, line, 0..k0 * p.factor);
        // SAFETY: for k in k0..k1 the table read k + shift - 1 and k + shift (checked by `find`), which are
        // in `line`; outputs factor * k .. factor * (k + LANES) are in `out` (factor * w == out.len()).
        unsafe {
            let (src, dst) = (line.as_ptr(), out.as_mut_ptr());
            let mut k = k0;
            while k < k1 {
                let mut phases = [v::zero(); MAX_FACTOR];
                for (q, phase) in phases.iter_mut().enumerate().take(p.factor) {
                    let at = src.add(k + p.shift[q] - 1);
                    let [w0, w1] = p.weights[q];
                    *phase = v::add(v::mul(v::load(at), v::splat(w0)), v::mul(v::load(at.add(1)), v::splat(w1)));
                }
                let d = dst.add(p.factor * k);
                if p.factor == 2 {
                    v::store(d, v::interleave_low(phases[0], phases[1]));
                    v::store(d.add(v::LANES), v::interleave_high(phases[0], phases[1]));
                } else {
                    for (j, row) in v::transpose(phases).iter().enumerate() {
                        v::store(d.add(j * v::LANES), *row);
                    }
                }
                k += v::LANES;
            }
        }
        self.through_table(out, line, k1 * p.factor..out.len());
    }

    /// Outputs `range` one at a time through the table.
    fn through_table(&self, out: &mut [f32], line: &[f32], range: Range<usize>) {
        let t = self.taps;
        if t.taps() == 2 {
            // Linear, the common case, without the general tap loop.
            for x in range {
                let (index, weight) = t.at(x);
                out[x] = line[index[0] as usize] * weight[0] + line[index[1] as usize] * weight[1];
            }
            return;
        }
        for x in range {
            let (index, weight) = t.at(x);
            out[x] = index.iter().zip(weight).map(|(&i, &wk)| line[i as usize] * wk).sum();
        }
    }
}

impl Periodic {
    /// The repeating range of a linear table upsampling `w` samples by 2 or `MAX_FACTOR`, if it has one
    /// at least a vector long: the longest run of `k` around the middle whose taps are the middle's
    /// pattern shifted by `k`, with the same weights bit for bit.
    fn find(t: &AxisTaps, w: usize) -> Option<Periodic> {
        let out = t.len();
        if t.taps() != 2 || w < 2 * v::LANES || out % w != 0 || !(0..out).all(|o| t.inside(o)) {
            return None;
        }
        let factor = out / w;
        if factor != 2 && factor != MAX_FACTOR {
            return None;
        }
        let middle = w / 2;
        let mut shift = [0usize; MAX_FACTOR];
        let mut weights = [[0.0f32; 2]; MAX_FACTOR];
        for q in 0..factor {
            let (index, weight) = t.at(factor * middle + q);
            let (i0, i1) = (index[0] as usize, index[1] as usize);
            if i1 != i0 + 1 || i1 < middle {
                return None;
            }
            shift[q] = i1 - middle;
            weights[q] = [weight[0], weight[1]];
        }
        let matches = |k: usize| {
            (0..factor).all(|q| {
                let (index, weight) = t.at(factor * k + q);
                let i1 = k + shift[q];
                i1 >= 1 && i1 < w && index[0] as usize == i1 - 1 && index[1] as usize == i1
                    && weight[0].to_bits() == weights[q][0].to_bits() && weight[1].to_bits() == weights[q][1].to_bits()
            })
        };
        let mut start = middle;
        while start > 0 && matches(start - 1) {
            start -= 1;
        }
        let mut end = middle;
        while end < w && matches(end) {
            end += 1;
        }
        (end - start >= v::LANES).then_some(Periodic { factor, shift, weights, ks: start..end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::Interpolation;
    use crate::test_rng::Rng;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Every output through the table: what `interpolate` must give, bit for bit.
    fn table_row(t: &AxisTaps, line: &[f32]) -> Vec<f32> {
        let rows = RowTaps { taps: t, periodic: None };
        let mut out = vec![0.0; t.len()];
        rows.through_table(&mut out, line, 0..t.len());
        out
    }

    #[test]
    fn upsampling_by_two_and_four_matches_the_table_bit_for_bit() {
        let mut rng = Rng(7);
        for factor in [2usize, 4] {
            for w in [8usize, 9, 13, 16, 31, 64] {
                let out = factor * w;
                // half_pixel, align_corners and asymmetric source coordinates.
                let conventions: [&dyn Fn(usize) -> f64; 3] = [
                    &|x| (x as f64 + 0.5) / factor as f64 - 0.5,
                    &|x| x as f64 * (w - 1) as f64 / (out - 1) as f64,
                    &|x| x as f64 / factor as f64,
                ];
                for coord in conventions {
                    let coords: Vec<f64> = (0..out).map(coord).collect();
                    let t = AxisTaps::new(&coords, w, Interpolation::Linear, false).unwrap();
                    let line: Vec<f32> = (0..w).map(|_| rng.unit() * 5e2).collect();
                    let rows = RowTaps::new(&t, w);
                    let mut got = vec![f32::NAN; out];
                    rows.interpolate(&mut got, &line);
                    let want = table_row(&t, &line);
                    assert_eq!(got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "factor {factor} w {w}");
                }
            }
        }
    }

    #[test]
    fn half_pixel_doubling_repeats_over_the_interior() {
        let w = 64;
        let coords: Vec<f64> = (0..2 * w).map(|x| (x as f64 + 0.5) / 2.0 - 0.5).collect();
        let t = AxisTaps::new(&coords, w, Interpolation::Linear, false).unwrap();
        let p = Periodic::find(&t, w).expect("a 2x half-pixel table repeats");
        // Output 0 reads a clamped tap; from k = 1 to the last but one the pattern holds.
        assert_eq!((p.factor, p.ks.clone()), (2, 1..w - 1));
    }

    #[test]
    fn other_tables_go_through_the_table() {
        let w = 32;
        let odd: Vec<f64> = (0..3 * w).map(|x| (x as f64 + 0.5) / 3.0 - 0.5).collect();
        assert!(Periodic::find(&AxisTaps::new(&odd, w, Interpolation::Linear, false).unwrap(), w).is_none());
        let cubic: Vec<f64> = (0..2 * w).map(|x| (x as f64 + 0.5) / 2.0 - 0.5).collect();
        let c = Interpolation::Cubic { a: -0.75, exclude_outside: false };
        assert!(Periodic::find(&AxisTaps::new(&cubic, w, c, false).unwrap(), w).is_none());
    }
}
