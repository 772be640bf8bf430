//! Direct kernel for convolutions with one input channel per group (depthwise, with any channel multiplier).
//! Each input plane is copied once into a zero-bordered scratch plane, so the inner loops read with no bounds
//! checks at all; the copy of the next plane is spread over the current one's rows. The scratch splits the
//! padded columns into `stride_w` phases (padded column `j` lands in phase `j % stride_w` at index `j /
//! stride_w`): at every tap, consecutive output pixels then read consecutive floats of one phase, so every
//! stride and dilation runs the same unit-stride vector loop (a stride-2 layer no longer gathers even lanes
//! from two loads per tap). Output pixels are computed in runs of vectors along a row, with several
//! independent accumulators so the adds do not wait on each other. 3x3 and 5x5 get their own instantiations
//! (constant tap counts); other sizes share a generic loop.

use alloc::vec::Vec;
use core::ops::Range;

use crate::activation::Activation;
use crate::conv_run::{ConvTensors, Epilogue, SharedTensors};
use crate::geometry::Geometry;
use crate::isa::active as v;
use crate::parallel::{piece_range, pieces, try_run, Parallel};
use crate::selection::{depthwise_kernel, DepthwiseKernel};
use crate::status::Status;

/// Vectors computed together along an output row: enough independent accumulators to hide add latency.
const RUN: usize = 8;

/// # Safety
/// Slice lengths must match `geom` (checked by `ConvPlan::run`); `weights` is `[M, 1, kH, kW]`.
///
/// Splits by input plane (one image, one input channel and its `multiplier` output channels): `par` runs
/// contiguous runs of planes, each with its own zero-bordered scratch plane.
pub unsafe fn run(
    geom: &Geometry,
    weights: &[f32],
    epilogue: &Epilogue,
    tensors: ConvTensors,
    par: &dyn Parallel,
) -> Result<(), Status> {
    let planes = geom.batch * geom.in_channels;
    let work = [geom.batch, geom.out_channels, geom.out_height, geom.out_width, geom.taps()].iter().fold(1usize, |a, &b| a.saturating_mul(b));
    let count = pieces(par, planes, work);
    let shared = tensors.share();
    try_run(par, count, &|piece| {
        let range = piece_range(planes, count, piece);
        // SAFETY: the caller's contract; planes write disjoint output channels.
        unsafe { run_planes(geom, weights, epilogue, shared, range) }
    })
}

/// Input planes `range` (`n * in_channels + c`) of `run`.
unsafe fn run_planes(
    geom: &Geometry,
    weights: &[f32],
    epilogue: &Epilogue,
    tensors: SharedTensors,
    range: Range<usize>,
) -> Result<(), Status> {
    let SharedTensors { input, out, residual } = tensors;
    let (bias, activation) = (epilogue.bias, epilogue.activation);
    // Two scratch planes: while one plane's outputs are computed, the next input plane is copied into the
    // other a few rows after each output row (`NextPlane`), so its reads from memory overlap the arithmetic
    // instead of stalling it. Copied all at once before its compute, a plane that missed the
    // cache held the core for half of a 144-channel 128x128 stride-2 layer's time.
    let mut scratch = Scratch::new(geom)?;
    let mut spare = if range.len() > 1 { Some(Scratch::new(geom)?) } else { None };
    let offsets = scratch.tap_offsets(geom)?;
    let plane = geom.height * geom.width;
    let pixels = geom.out_height * geom.out_width;
    let multiplier = geom.out_channels / geom.in_channels;
    let taps = geom.taps();
    let source = |unit: usize| input[unit * plane..][..plane].as_ptr();
    scratch.fill(geom, source(range.start), 0..geom.height);
    for unit in range.clone() {
        let (n, c) = (unit / geom.in_channels, unit % geom.in_channels);
        for m in c * multiplier..(c + 1) * multiplier {
            let at = (n * geom.out_channels + m) * pixels;
            let channel = Channel {
                plane: scratch.data.as_ptr(),
                row_step: geom.strides[0] * scratch.pitch,
                offsets: &offsets,
                weights: &weights[m * taps..][..taps],
                bias: bias[m],
                activation: (),
                out: out.get().add(at),
                residual: residual.map(|r| r.as_ptr().add(at)),
            };
            // The next plane is copied during this plane's last output channel. The copy is inlined into
            // the row loop: through a `dyn FnMut` call per row, a 33x33 map ran 6-9 % slower; copied in
            // bands of 8 rows, the stride-2 layer's loads no longer overlapped.
            let mut next = match spare.as_mut() {
                Some(spare) if m + 1 == (c + 1) * multiplier && unit + 1 < range.end => {
                    Some(NextPlane { scratch: spare, src: source(unit + 1), filled: 0 })
                }
                _ => None,
            };
            match Clamp::of(activation) {
                Some(clamp) => channel.with(clamp).run(geom, next.as_mut()),
                None => channel.with(activation).run(geom, next.as_mut()),
            }
        }
        if let Some(spare) = spare.as_mut() {
            core::mem::swap(&mut scratch, spare);
        }
    }
    Ok(())
}

/// The copy of the next input plane into the spare scratch, spread over the output rows of the current one.
struct NextPlane<'a> {
    scratch: &'a mut Scratch,
    src: *const f32,
    /// Input rows copied so far.
    filled: usize,
}

impl NextPlane<'_> {
    /// After output row `oy` of `out_height`, the share `(oy + 1) / out_height` of the input rows is copied
    /// (all of them after the last row).
    #[inline(always)]
    unsafe fn fill_for_row(&mut self, geom: &Geometry, oy: usize) {
        let target = ((oy + 1) * geom.height).div_ceil(geom.out_height).min(geom.height);
        if target > self.filled {
            self.scratch.fill(geom, self.src, self.filled..target);
            self.filled = target;
        }
    }
}

/// The activation as the epilogue applies it to a vector. The kernels are compiled once per
/// implementation: with `Clamp` (no activation, Relu, Clip: most depthwise layers) the epilogue of a run of
/// vectors is two instructions each and LLVM keeps the accumulators in registers; with `Activation`'s
/// match per vector it kept them in a stack array and looped over it.
trait VectorActivation: Copy {
    fn apply(self, x: v::V) -> v::V;
}

impl VectorActivation for Activation {
    #[inline(always)]
    fn apply(self, x: v::V) -> v::V {
        Activation::apply(self, x)
    }
}

/// `min(max(x, lo), hi)` with wasm's pmin/pmax, which return `x` itself for infinite bounds (NaN and
/// -0.0 included): the same bits as `Activation::apply` for None, Relu and Clip.
#[derive(Clone, Copy)]
struct Clamp {
    lo: v::V,
    hi: v::V,
}

impl Clamp {
    fn of(activation: Activation) -> Option<Clamp> {
        let (lo, hi) = match activation {
            Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
            Activation::Relu => (0.0, f32::INFINITY),
            Activation::Clip { min, max } => (min, max),
            _ => return None,
        };
        Some(Clamp { lo: v::splat(lo), hi: v::splat(hi) })
    }
}

impl VectorActivation for Clamp {
    #[inline(always)]
    fn apply(self, x: v::V) -> v::V {
        v::min(v::max(x, self.lo), self.hi)
    }
}

/// One input plane, zero-bordered, its columns split into `stride_w` phases of `rows x pitch` floats.
/// Only the interior is written per plane, so the borders stay the zeros of the first fill.
struct Scratch {
    data: Vec<f32>,
    /// Floats per row of one phase: the padded width divided by the stride, rounded up.
    pitch: usize,
    /// Floats per phase.
    phase_len: usize,
}

impl Scratch {
    fn new(geom: &Geometry) -> Result<Self, Status> {
        let [pt, pl, pb, pr] = geom.pads;
        let sw = geom.strides[1];
        let pitch = (geom.width + pl + pr).div_ceil(sw);
        let phase_len = (geom.height + pt + pb) * pitch;
        // Slack after the last phase: a row's last, partial vector reads up to LANES - 1 floats past the
        // row (into the next row, the next phase or this slack; those lanes are dropped).
        let len = sw * phase_len + v::LANES;
        let mut data = Vec::new();
        data.try_reserve_exact(len).map_err(|_| Status::OutOfMemory)?;
        data.resize(len, 0.0f32);
        Ok(Scratch { data, pitch, phase_len })
    }

    /// Where tap `ky * kW + kx` of output pixel (0, 0) reads: padded row `ky * dh`, padded column
    /// `kx * dw`, i.e. phase `kx * dw % sw` at index `kx * dw / sw`. Output pixel (oy, ox) adds
    /// `oy * sh * pitch + ox`.
    fn tap_offsets(&self, geom: &Geometry) -> Result<Vec<usize>, Status> {
        let [kh, kw] = geom.kernel;
        let [dh, dw] = geom.dilations;
        let sw = geom.strides[1];
        let mut offsets = Vec::new();
        offsets.try_reserve_exact(kh * kw).map_err(|_| Status::OutOfMemory)?;
        for ky in 0..kh {
            for kx in 0..kw {
                offsets.push(kx * dw % sw * self.phase_len + ky * dh * self.pitch + kx * dw / sw);
            }
        }
        Ok(offsets)
    }

    /// Copies rows `rows` of input plane `src` (`height x width`) into the interior: input pixel (y, x) is
    /// padded pixel (y + pt, x + pl).
    #[inline(always)]
    unsafe fn fill(&mut self, geom: &Geometry, src: *const f32, rows: Range<usize>) {
        let [pt, pl, _, _] = geom.pads;
        let (w, sw) = (geom.width, geom.strides[1]);
        let data = self.data.as_mut_ptr();
        for y in rows {
            let src = src.add(y * w);
            let row = data.add((y + pt) * self.pitch);
            match sw {
                1 => crate::isa::copy_floats(row.add(pl), src, w),
                2 => {
                    // Input column 2i is padded column 2i + pl, 2i + 1 the next: one phase each.
                    let even = row.add(pl % 2 * self.phase_len + pl / 2);
                    let odd = row.add((pl + 1) % 2 * self.phase_len + pl.div_ceil(2));
                    let mut i = 0;
                    while 2 * (i + v::LANES) <= w {
                        let (a, b) = (v::load(src.add(2 * i)), v::load(src.add(2 * i + v::LANES)));
                        v::store(even.add(i), v::even_lanes(a, b));
                        v::store(odd.add(i), v::odd_lanes(a, b));
                        i += v::LANES;
                    }
                    for x in 2 * i..w {
                        *(if x % 2 == 0 { even } else { odd }).add(x / 2) = *src.add(x);
                    }
                }
                _ => {
                    for x in 0..w {
                        let j = x + pl;
                        *row.add(j % sw * self.phase_len + j / sw) = *src.add(x);
                    }
                }
            }
        }
    }
}

/// One output channel's work: its scratch plane and tap offsets, its taps, its epilogue.
struct Channel<'a, E> {
    plane: *const f32,
    /// Floats between the windows of consecutive output rows.
    row_step: usize,
    offsets: &'a [usize],
    weights: &'a [f32],
    bias: f32,
    activation: E,
    out: *mut f32,
    residual: Option<*const f32>,
}

impl<'a> Channel<'a, ()> {
    fn with<E: VectorActivation>(self, activation: E) -> Channel<'a, E> {
        let Channel { plane, row_step, offsets, weights, bias, out, residual, .. } = self;
        Channel { plane, row_step, offsets, weights, bias, activation, out, residual }
    }
}

impl<E: VectorActivation> Channel<'_, E> {
    /// Computes every output, copying a share of the next plane, if any, after each output row.
    fn run(&self, geom: &Geometry, next: Option<&mut NextPlane>) {
        // SAFETY: the plane, output and residual pointers were sized from `geom` by `run_planes`.
        unsafe {
            match depthwise_kernel(geom.kernel) {
                DepthwiseKernel::ThreeByThree => self.run_3x3(geom, next),
                DepthwiseKernel::FiveByFive => self.run_5x5(geom, next),
                DepthwiseKernel::AnySize => self.run_any_size(geom, next),
            }
        }
    }


    /// Stores the first `count` lanes of `sum` (plus bias and residual, activated) at `index`.
    #[inline(always)]
    unsafe fn finish_partial(&self, index: usize, sum: v::V, count: usize) {
        let mut x = v::add(sum, v::splat(self.bias));
        if let Some(r) = self.residual {
            x = v::add(x, crate::isa::load_partial(r.add(index), count));
        }
        crate::isa::store_partial(self.out.add(index), self.activation.apply(x), count);
    }

    #[inline(always)]
    unsafe fn finish_vector(&self, index: usize, sum: v::V) {
        let mut x = v::add(sum, v::splat(self.bias));
        if let Some(r) = self.residual {
            x = v::add(x, v::load(r.add(index)));
        }
        v::store(self.out.add(index), self.activation.apply(x));
    }

    // Separate functions, not inlined into the channel loop: V8 allocates registers per function, and
    // each of these loops wants every vector register.
    #[inline(never)]
    unsafe fn run_3x3(&self, geom: &Geometry, next: Option<&mut NextPlane>) {
        self.run_rows(geom, 9, next)
    }
    #[inline(never)]
    unsafe fn run_5x5(&self, geom: &Geometry, next: Option<&mut NextPlane>) {
        self.run_rows(geom, 25, next)
    }
    #[inline(never)]
    unsafe fn run_any_size(&self, geom: &Geometry, next: Option<&mut NextPlane>) {
        self.run_rows(geom, geom.taps(), next)
    }

    /// Every output row. Inlined with a constant `taps` for the common sizes (LLVM unrolls the tap loop
    /// by two; unrolled fully by hand it ran 2.5x slower on 5x5, V8 spilling the accumulators).
    ///
    /// Runs of `RUN` vectors along each row first; then the vectors left at the end of the rows (1-3 pixels,
    /// or a few whole vectors), one column of them at a time across `RUN` rows: on its own, such a vector
    /// is one chain of dependent adds, and with 33-pixel rows (DeepLab's small maps) its wait was a third
    /// of the row's time. After each row's runs, a share of the next plane, if any, is copied (all of it
    /// after the last row).
    #[inline(always)]
    unsafe fn run_rows(&self, geom: &Geometry, taps: usize, mut next: Option<&mut NextPlane>) {
        let (oh, ow) = (geom.out_height, geom.out_width);
        let runs_end = ow - ow % (v::LANES * RUN);
        for oy in 0..oh {
            let origin = self.plane.add(oy * self.row_step);
            let out_row = oy * ow;
            let mut ox = 0;
            while ox < runs_end {
                let acc = self.vectors::<RUN>(origin.add(ox), v::LANES, taps);
                for (r, a) in acc.iter().enumerate() {
                    self.finish_vector(out_row + ox + v::LANES * r, *a);
                }
                ox += v::LANES * RUN;
            }
            if let Some(next) = next.as_mut() {
                next.fill_for_row(geom, oy);
            }
        }
        // A row's last, partial vector is computed as the whole vector ending at the row's end instead: its
        // first lanes recompute outputs already stored, with the same arithmetic, so they are stored again
        // with the same bits, and no lane is stored one at a time. Not when the output is narrower than a
        // vector, nor when the residual may be the output itself (a lane stored again would then have read
        // a residual already overwritten).
        let overlap = ow >= v::LANES && self.residual.is_none_or(|r| self.apart(r, oh * ow));
        let mut ox = runs_end;
        while ox < ow {
            let (at, count) = match (ow - ox).min(v::LANES) {
                count if count < v::LANES && overlap => (ow - v::LANES, v::LANES),
                // A vector at the end of a row reads past the row's end (the scratch's slack covers the
                // last row); the lanes past `ow` are dropped.
                count => (ox, count),
            };
            let mut oy = 0;
            while oy + RUN <= oh {
                let acc = self.vectors::<RUN>(self.plane.add(oy * self.row_step + at), self.row_step, taps);
                for (r, a) in acc.iter().enumerate() {
                    self.finish_upto((oy + r) * ow + at, *a, count);
                }
                oy += RUN;
            }
            while oy < oh {
                let [a] = self.vectors::<1>(self.plane.add(oy * self.row_step + at), 0, taps);
                self.finish_upto(oy * ow + at, a, count);
                oy += 1;
            }
            ox += v::LANES;
        }
    }

    /// Whether `len` floats from `residual` and from this channel's output share no float.
    fn apart(&self, residual: *const f32, len: usize) -> bool {
        let (r, o) = (residual as usize, self.out as usize);
        let bytes = len * core::mem::size_of::<f32>();
        r + bytes <= o || o + bytes <= r
    }

    #[inline(always)]
    unsafe fn finish_upto(&self, index: usize, sum: v::V, count: usize) {
        if count == v::LANES {
            self.finish_vector(index, sum);
        } else {
            self.finish_partial(index, sum, count);
        }
    }

    /// `N` output vectors whose windows start at `origin`, `origin + step`, ...: consecutive vectors along
    /// a row (`step` = LANES) or one column of vectors down the rows (`step` = the row step). The
    /// accumulators are indexed only by the unrolled `r` loop, so they live in registers.
    #[inline(always)]
    unsafe fn vectors<const N: usize>(&self, origin: *const f32, step: usize, taps: usize) -> [v::V; N] {
        let mut acc = [v::zero(); N];
        for t in 0..taps {
            let weight = v::load_splat(self.weights.as_ptr().add(t));
            let src = origin.add(*self.offsets.get_unchecked(t));
            // Multiply then add, even in the relaxed build: here every tap extends each accumulator's
            // chain, and a fused multiply-add's longer latency (4 cycles against an add's 3 on Zen 4)
            // made the relaxed build 20 % slower than simd128 on a 3x3 depthwise layer.
            for (r, a) in acc.iter_mut().enumerate() {
                *a = v::add(v::mul(weight, v::load(src.add(step * r))), *a);
            }
        }
        acc
    }
}
