//! Direct kernels for convolutions with one input channel per group (depthwise, with any channel
//! multiplier). Each input plane is copied once into a zero-bordered scratch plane, so the inner loops
//! read with no bounds checks at all; output pixels are computed in runs of vectors along a row, with
//! several independent accumulators so the adds do not wait on each other. 3x3 and 5x5 get their own
//! instantiations (taps unrolled, weights broadcast once per channel); other sizes share a generic loop.

use alloc::vec::Vec;
use core::ops::Range;

use crate::activation::Activation;
use crate::geometry::Geometry;
use crate::status::Status;
use crate::isa::active as v;
use crate::parallel::{piece_range, pieces, try_run, Parallel, SharedMut};
use crate::selection::{depthwise_kernel, DepthwiseKernel};

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
    bias: &[f32],
    activation: Activation,
    input: &[f32],
    output: &mut [f32],
    residual: Option<&[f32]>,
    par: &dyn Parallel,
) -> Result<(), Status> {
    let planes = geom.batch * geom.in_channels;
    let work = [geom.batch, geom.out_channels, geom.out_height, geom.out_width, geom.taps()].iter().fold(1usize, |a, &b| a.saturating_mul(b));
    let count = pieces(par, planes, work);
    let out = SharedMut(output.as_mut_ptr());
    try_run(par, count, &|piece| {
        let range = piece_range(planes, count, piece);
        // SAFETY: the caller's contract; planes write disjoint output channels.
        unsafe { run_planes(geom, weights, bias, activation, input, out, residual, range) }
    })
}

/// Input planes `range` (`n * in_channels + c`) of `run`.
unsafe fn run_planes(
    geom: &Geometry,
    weights: &[f32],
    bias: &[f32],
    activation: Activation,
    input: &[f32],
    out: SharedMut<f32>,
    residual: Option<&[f32]>,
    range: Range<usize>,
) -> Result<(), Status> {
    let [pt, pl, pb, pr] = geom.pads;
    let (ph, pw) = (geom.height + pt + pb, geom.width + pl + pr);
    // Slack after the plane: stride-2 vectors load one float past their last tap.
    let plane_len = ph * pw + 8;
    let mut padded = Vec::new();
    padded.try_reserve_exact(plane_len).map_err(|_| Status::OutOfMemory)?;
    padded.resize(plane_len, 0.0f32);
    let plane = geom.height * geom.width;
    let pixels = geom.out_height * geom.out_width;
    let multiplier = geom.out_channels / geom.in_channels;
    let taps = geom.taps();
    for unit in range {
        let (n, c) = (unit / geom.in_channels, unit % geom.in_channels);
        let src = input[(n * geom.in_channels + c) * plane..][..plane].as_ptr();
        for y in 0..geom.height {
            crate::isa::copy_floats(padded.as_mut_ptr().add((y + pt) * pw + pl), src.add(y * geom.width), geom.width);
        }
        for m in c * multiplier..(c + 1) * multiplier {
            let at = (n * geom.out_channels + m) * pixels;
            let channel = Channel {
                plane: padded.as_ptr(),
                plane_width: pw,
                weights: &weights[m * taps..][..taps],
                bias: bias[m],
                activation,
                out: out.get().add(at),
                residual: residual.map(|r| r.as_ptr().add(at)),
            };
            match depthwise_kernel(geom.kernel, geom.strides[1]) {
                DepthwiseKernel::ThreeByThree => channel.run_3x3(geom),
                DepthwiseKernel::FiveByFive => channel.run_5x5(geom),
                DepthwiseKernel::AnySize => channel.run_any_size(geom),
                DepthwiseKernel::StrideTwo => channel.run_stride_2(geom),
                DepthwiseKernel::Strided => channel.run_strided(geom),
            }
        }
    }
    Ok(())
}

/// One output channel's work: its zero-bordered input plane, its taps, its epilogue.
struct Channel<'a> {
    plane: *const f32,
    plane_width: usize,
    weights: &'a [f32],
    bias: f32,
    activation: Activation,
    out: *mut f32,
    residual: Option<*const f32>,
}

impl Channel<'_> {
    #[inline(always)]
    unsafe fn finish(&self, index: usize, sum: f32) {
        let mut x = sum + self.bias;
        if let Some(r) = self.residual {
            x += *r.add(index);
        }
        *self.out.add(index) = self.activation.apply_scalar(x);
    }

    /// Stores the first `count` lanes of `sum` (plus bias and residual, activated) at `index`.
    #[inline(always)]
    unsafe fn finish_partial(&self, index: usize, sum: v::V, count: usize) {
        let lanes = v::lanes(v::add(sum, v::splat(self.bias)));
        for (l, x) in lanes.iter().enumerate().take(count) {
            let mut x = *x;
            if let Some(r) = self.residual {
                x += *r.add(index + l);
            }
            *self.out.add(index + l) = self.activation.apply_scalar(x);
        }
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
    unsafe fn run_3x3(&self, geom: &Geometry) {
        self.run_unit_stride(geom, 3, 3)
    }
    #[inline(never)]
    unsafe fn run_5x5(&self, geom: &Geometry) {
        self.run_unit_stride(geom, 5, 5)
    }
    #[inline(never)]
    unsafe fn run_any_size(&self, geom: &Geometry) {
        self.run_unit_stride(geom, geom.kernel[0], geom.kernel[1])
    }

    /// Stride 1 along the row: consecutive output pixels read consecutive input pixels at every tap.
    /// Inlined with constant `kh`/`kw` for the common sizes, so the tap loops can unroll.
    #[inline(always)]
    unsafe fn run_unit_stride(&self, geom: &Geometry, kh: usize, kw: usize) {
        let (dh, dw, sh) = (geom.dilations[0], geom.dilations[1], geom.strides[0]);
        let (ow, pw) = (geom.out_width, self.plane_width);
        for oy in 0..geom.out_height {
            let row0 = self.plane.add(oy * sh * pw);
            let out_row = oy * ow;
            let mut ox = 0;
            while ox + v::LANES * RUN <= ow {
                let acc = self.vectors::<RUN>(row0.add(ox), kh, kw, dh, dw);
                for (r, a) in acc.iter().enumerate() {
                    self.finish_vector(out_row + ox + v::LANES * r, *a);
                }
                ox += v::LANES * RUN;
            }
            while ox + v::LANES <= ow {
                let [a] = self.vectors::<1>(row0.add(ox), kh, kw, dh, dw);
                self.finish_vector(out_row + ox, a);
                ox += v::LANES;
            }
            if ox < ow {
                // The last 1-3 pixels of the row as one vector, reading past the row's end (into the next
                // row or the plane's slack; those lanes are dropped): cheaper than scalar taps per pixel.
                let [a] = self.vectors::<1>(row0.add(ox), kh, kw, dh, dw);
                self.finish_partial(out_row + ox, a, ow - ox);
            }
        }
    }

    /// `N` vectors of consecutive output pixels whose windows start at `origin`. The accumulators are
    /// indexed only by the unrolled `r` loop, so they live in registers.
    #[inline(always)]
    unsafe fn vectors<const N: usize>(&self, origin: *const f32, kh: usize, kw: usize, dh: usize, dw: usize) -> [v::V; N] {
        let mut acc = [v::zero(); N];
        let mut w = self.weights.as_ptr();
        for ky in 0..kh {
            let row = origin.add(ky * dh * self.plane_width);
            for kx in 0..kw {
                let weight = v::load_splat(w);
                w = w.add(1);
                let src = row.add(kx * dw);
                // Multiply then add, even in the relaxed build: here every tap extends each accumulator's
                // chain, and a fused multiply-add's longer latency (4 cycles against an add's 3 on Zen 4)
                // made the relaxed build 20 % slower than simd128 on a 3x3 depthwise layer.
                for (r, a) in acc.iter_mut().enumerate() {
                    *a = v::add(v::mul(weight, v::load(src.add(v::LANES * r))), *a);
                }
            }
        }
        acc
    }

    /// Stride 2 along the row (MobileNet's downsampling layers): each tap loads 8 consecutive input floats
    /// and keeps the even ones, so 4 output pixels still cost one multiply-add per tap.
    #[inline(never)]
    unsafe fn run_stride_2(&self, geom: &Geometry) {
        let (kh, kw) = (geom.kernel[0], geom.kernel[1]);
        let (dh, dw, sh) = (geom.dilations[0], geom.dilations[1], geom.strides[0]);
        let (ow, pw) = (geom.out_width, self.plane_width);
        for oy in 0..geom.out_height {
            let row0 = self.plane.add(oy * sh * pw);
            let out_row = oy * ow;
            let mut ox = 0;
            while ox + v::LANES <= ow {
                let mut acc = v::zero();
                let mut w = self.weights.as_ptr();
                for ky in 0..kh {
                    let row = row0.add(ky * dh * pw + 2 * ox);
                    for kx in 0..kw {
                        let src = row.add(kx * dw);
                        acc = v::madd(v::load_splat(w), v::even_lanes(v::load(src), v::load(src.add(4))), acc);
                        w = w.add(1);
                    }
                }
                self.finish_vector(out_row + ox, acc);
                ox += v::LANES;
            }
            while ox < ow {
                let mut sum = 0.0;
                let mut w = self.weights.as_ptr();
                for ky in 0..kh {
                    let row = row0.add(ky * dh * pw + 2 * ox);
                    for kx in 0..kw {
                        sum += *w * *row.add(kx * dw);
                        w = w.add(1);
                    }
                }
                self.finish(out_row + ox, sum);
                ox += 1;
            }
        }
    }

    /// Any stride: one pixel at a time.
    #[inline(never)]
    unsafe fn run_strided(&self, geom: &Geometry) {
        let (kh, kw) = (geom.kernel[0], geom.kernel[1]);
        let (dh, dw, sh, sw) = (geom.dilations[0], geom.dilations[1], geom.strides[0], geom.strides[1]);
        for oy in 0..geom.out_height {
            let row0 = self.plane.add(oy * sh * self.plane_width);
            for ox in 0..geom.out_width {
                let mut sum = 0.0;
                for ky in 0..kh {
                    let row = row0.add(ky * dh * self.plane_width + ox * sw);
                    for kx in 0..kw {
                        sum += self.weights[ky * kw + kx] * *row.add(kx * dw);
                    }
                }
                self.finish(oy * geom.out_width + ox, sum);
            }
        }
    }
}
