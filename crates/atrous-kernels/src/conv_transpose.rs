//! ConvTranspose (ONNX semantics) computed directly, without spreading the input with zeros.
//!
//! Along one axis with stride `s`, dilation `d` and begin pad `pb`, input `i` and tap `k` land on output
//! `o = i * s + k * d - pb`. So the outputs split into `s` phases by `(o + pb) mod s = r`, and phase `r`
//! receives exactly the taps with `k * d mod s = r`: consecutive ones are `s / gcd(s, d)` taps apart and
//! read inputs `d / gcd(s, d)` apart. Each phase is therefore an ordinary stride-1 convolution of the whole
//! input with a small sub-kernel of flipped taps at dilation `d / gcd(s, d)`, and runs as a `ConvPlan`
//! (packed once here, its pads resolved per input size). The `s_h * s_w` phases together do the
//! multiply-adds of the transposed convolution once each, where the spread-and-convolve form does
//! `s_h * s_w` times as many, mostly on zeros. A phase's output is a lattice of the final output; it is
//! computed into a scratch block and moved there by a strided copy (stride 1 writes straight through).
//!
//! When the kernel equals the stride (no dilation, no begin pad: the 2x2 stride-2 upsampling heads of
//! segmenters), every phase is a 1x1 convolution of the same input, so they run as one 1x1 convolution
//! with `M * kH * kW` outputs and one strided copy (a depth-to-space) puts its planes in place: the input
//! is packed once instead of once per phase, and a single output channel still fills the register tile.

use alloc::vec::Vec;

use crate::isa::active as v;
use crate::activation::Activation;
use crate::geometry::{ConvShape, Padding};
use crate::layout::copy_strided;
use crate::plan::ConvPlan;
use crate::parallel::Parallel;
use crate::status::Status;

/// A transposed convolution independent of the input size. Pads are the begin pads only: the caller
/// resolves `auto_pad`, `output_shape`, end pads and `output_padding` into the output size it passes to
/// `run`. 1-D is `H = 1` with `kernel[0] = strides[0] = 1` and `pads_begin[0] = 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTransposeShape {
    /// Input channels `C` (all groups together).
    pub in_channels: usize,
    /// Output channels `M` (all groups together).
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// `[top, left]`
    pub pads_begin: [usize; 2],
    pub groups: usize,
}

impl ConvTransposeShape {
    pub fn validate(&self) -> Result<(), Status> {
        crate::geometry::check_layer(self.in_channels, self.out_channels, self.kernel, self.strides, self.dilations, self.groups)
    }

    /// Floats of the weights, `[C, M / groups, kH, kW]`.
    pub fn weight_len(&self) -> Result<usize, Status> {
        (self.out_channels / self.groups)
            .checked_mul(self.in_channels)
            .and_then(|n| n.checked_mul(self.kernel[0]))
            .and_then(|n| n.checked_mul(self.kernel[1]))
            .ok_or(Status::SizeOverflow)
    }
}

/// The taps of one phase along one axis: `count` taps `first, first + step, ...`, the first reading
/// input `q - offset` for phase output `q`, the next ones `dilation` inputs further back.
#[derive(Clone, Copy, Debug)]
struct AxisPhase {
    first: usize,
    step: usize,
    count: usize,
    offset: usize,
    dilation: usize,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn axis_phase(kernel: usize, stride: usize, dilation: usize, r: usize) -> AxisPhase {
    let g = gcd(stride, dilation);
    let step = stride / g;
    let first = (0..kernel.min(step)).find(|k| k * dilation % stride == r);
    match first {
        Some(first) => AxisPhase {
            first,
            step,
            count: (kernel - first).div_ceil(step),
            offset: (first * dilation - r) / stride,
            dilation: dilation / g,
        },
        None => AxisPhase { first: 0, step, count: 0, offset: 0, dilation: 1 },
    }
}

/// Where one phase's convolution sits along one axis for a given input and output size.
struct AxisRun {
    /// Outputs of this phase inside the final output.
    outputs: usize,
    /// Pads of the phase convolution.
    begin: usize,
    end: usize,
    /// Leading outputs of the phase convolution that fall before the final output's first pixel.
    crop: usize,
}

impl AxisPhase {
    /// For the outputs `rho, rho + s, ...` below `out` (`rho < s`), whose first one is phase output `q0`.
    fn run(&self, input: usize, out: usize, rho: usize, stride: usize, q0: usize) -> AxisRun {
        let outputs = (out - rho).div_ceil(stride);
        // Phase output m reads input m - p + j * dilation at sub-tap j, where p may be negative: then the
        // convolution starts -p outputs early and those are cropped.
        let extent = (self.count - 1) * self.dilation;
        let p = (self.offset + extent) as isize - q0 as isize;
        let (begin, crop) = if p >= 0 { (p as usize, 0) } else { (0, p.unsigned_abs()) };
        // Enough end pad for crop + outputs results: (input + begin + end - extent - 1) + 1 of them.
        let end = (crop + outputs + extent).saturating_sub(input + begin);
        AxisRun { outputs, begin, end, crop }
    }
}

pub struct ConvTransposePlan {
    shape: ConvTransposeShape,
    /// Per axis, per phase residue `r`.
    axes: [Vec<AxisPhase>; 2],
    /// `r_h * strides[1] + r_w`; `None` where the phase has no taps (a kernel shorter than the stride).
    phases: Vec<Option<ConvPlan>>,
    /// All phases as one 1x1 convolution, output channel `(m * kH + ky) * kW + kx`, when the kernel
    /// tiles the output exactly (kernel = stride, dilation 1, no begin pad). The phases stay for outputs
    /// that are not exactly `stride x` the input (output_padding, output_shape).
    depth_to_space: Option<ConvPlan>,
    bias: Vec<f32>,
    activation: Activation,
}

impl ConvTransposePlan {
    /// Splits `weights` (`[C, M / groups, kH, kW]`, the ONNX layout) into one packed convolution per phase,
    /// with `bias` (`[M]`) and `activation` in each phase's epilogue.
    pub fn new(shape: ConvTransposeShape, weights: &[f32], bias: Option<&[f32]>, activation: Activation) -> Result<Self, Status> {
        shape.validate()?;
        if weights.len() != shape.weight_len()? {
            return Err(Status::WeightLengthMismatch);
        }
        let m = shape.out_channels;
        let mut bias_vec = Vec::new();
        bias_vec.try_reserve_exact(m).map_err(|_| Status::OutOfMemory)?;
        match bias {
            Some(b) if b.len() != m => return Err(Status::BiasLengthMismatch),
            Some(b) => bias_vec.extend_from_slice(b),
            None => bias_vec.resize(m, 0.0),
        }
        let (g, cg, mg) = (shape.groups, shape.in_channels / shape.groups, m / shape.groups);
        let (kh, kw) = (shape.kernel[0], shape.kernel[1]);
        let mut axes = [Vec::new(), Vec::new()];
        let mut depth_to_space = None;
        if shape.kernel == shape.strides && shape.dilations == [1, 1] && shape.pads_begin == [0, 0] && shape.kernel != [1, 1] {
            let taps = kh * kw;
            let mut merged = Vec::new();
            merged.try_reserve_exact(m * cg * taps).map_err(|_| Status::OutOfMemory)?;
            let mut merged_bias = Vec::new();
            merged_bias.try_reserve_exact(m * taps).map_err(|_| Status::OutOfMemory)?;
            // OIHW [(m, ky, kx), ci, 1, 1]: output m = group * mg + mo reads W[group * cg + ci, mo, ky, kx].
            for group in 0..g {
                for mo in 0..mg {
                    for t in 0..taps {
                        for ci in 0..cg {
                            merged.push(weights[((group * cg + ci) * mg + mo) * taps + t]);
                        }
                        merged_bias.push(bias_vec[group * mg + mo]);
                    }
                }
            }
            let conv = ConvShape {
                in_channels: shape.in_channels,
                out_channels: m * taps,
                kernel: [1, 1],
                strides: [1, 1],
                dilations: [1, 1],
                padding: Padding::Explicit([0; 4]),
                groups: g,
            };
            depth_to_space = Some(ConvPlan::new(conv, &merged, Some(&merged_bias), activation)?);
        }
        for (a, list) in axes.iter_mut().enumerate() {
            list.try_reserve_exact(shape.strides[a]).map_err(|_| Status::OutOfMemory)?;
            list.extend((0..shape.strides[a]).map(|r| axis_phase(shape.kernel[a], shape.strides[a], shape.dilations[a], r)));
        }
        let mut phases = Vec::new();
        phases.try_reserve_exact(axes[0].len() * axes[1].len()).map_err(|_| Status::OutOfMemory)?;
        let mut sub = Vec::new();
        for ph in &axes[0] {
            for pw in &axes[1] {
                if ph.count == 0 || pw.count == 0 {
                    phases.push(None);
                    continue;
                }
                let (jh, jw) = (ph.count, pw.count);
                sub.clear();
                sub.try_reserve_exact(m * cg * jh * jw).map_err(|_| Status::OutOfMemory)?;
                // OIHW for the phase: output channel m = group * mg + mo reads input channel
                // group * cg + ci through W[group * cg + ci, mo], its taps in reverse order.
                for group in 0..g {
                    for mo in 0..mg {
                        for ci in 0..cg {
                            let base = ((group * cg + ci) * mg + mo) * kh * kw;
                            for y in (0..jh).rev() {
                                for x in (0..jw).rev() {
                                    sub.push(weights[base + (ph.first + y * ph.step) * kw + pw.first + x * pw.step]);
                                }
                            }
                        }
                    }
                }
                let conv = ConvShape {
                    in_channels: shape.in_channels,
                    out_channels: m,
                    kernel: [jh, jw],
                    strides: [1, 1],
                    dilations: [ph.dilation, pw.dilation],
                    padding: Padding::Explicit([0; 4]),
                    groups: g,
                };
                phases.push(Some(ConvPlan::new(conv, &sub, Some(&bias_vec), activation)?));
            }
        }
        Ok(ConvTransposePlan { shape, axes, phases, depth_to_space, bias: bias_vec, activation })
    }

    pub fn shape(&self) -> &ConvTransposeShape {
        &self.shape
    }

    /// Bytes held by the packed phase weights and the bias.
    pub fn prepared_bytes(&self) -> usize {
        self.phases.iter().chain(core::iter::once(&self.depth_to_space)).flatten().map(|p| p.prepared_bytes()).sum::<usize>() + self.bias.len() * 4
    }

    /// Runs on `input` (`[N, C, H, W]`), writing every pixel of `output` (`[N, M, OH, OW]`); the output
    /// size comes from the caller (output_padding and output_shape resolved there).
    pub fn run(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        output: &mut [f32],
        out_height: usize,
        out_width: usize,
        par: &dyn Parallel,
    ) -> Result<(), Status> {
        let s = &self.shape;
        if batch == 0 || height == 0 || width == 0 || out_height == 0 || out_width == 0 {
            return Err(Status::ZeroDimension);
        }
        let len = |c: usize, h: usize, w: usize| {
            batch.checked_mul(c).and_then(|n| n.checked_mul(h)).and_then(|n| n.checked_mul(w)).filter(|n| n.checked_mul(4).is_some())
        };
        let m = s.out_channels;
        if input.len() != len(s.in_channels, height, width).ok_or(Status::SizeOverflow)? {
            return Err(Status::InputLengthMismatch);
        }
        if output.len() != len(m, out_height, out_width).ok_or(Status::SizeOverflow)? {
            return Err(Status::OutputLengthMismatch);
        }
        let [sh, sw] = s.strides;
        let (oh, ow) = (out_height as isize, out_width as isize);
        let mut scratch: Vec<f32> = Vec::new();
        if let Some(plan) = &self.depth_to_space {
            if out_height == height * sh && out_width == width * sw {
                return self.run_depth_to_space(plan, input, batch, height, width, output, &mut scratch, par);
            }
        }
        for rho_h in 0..sh.min(out_height) {
            let (r_h, q0_h) = ((rho_h + s.pads_begin[0]) % sh, (rho_h + s.pads_begin[0]) / sh);
            for rho_w in 0..sw.min(out_width) {
                let (r_w, q0_w) = ((rho_w + s.pads_begin[1]) % sw, (rho_w + s.pads_begin[1]) / sw);
                let rows = (out_height - rho_h).div_ceil(sh);
                let cols = (out_width - rho_w).div_ceil(sw);
                let dst_origin = rho_h * out_width + rho_w;
                let dst_strides = [oh * ow, sh as isize * ow, sw as isize];
                let Some(plan) = &self.phases[r_h * sw + r_w] else {
                    // No tap lands on this lattice: bias and activation alone.
                    for n in 0..batch {
                        for c in 0..m {
                            let value = [self.activation.apply_scalar(self.bias[c])];
                            let at = dst_origin + (n * m + c) * out_height * out_width;
                            copy_strided(&value, 0, output, at, &[rows, cols], &[0, 0], &dst_strides[1..])?;
                        }
                    }
                    continue;
                };
                let y = self.axes[0][r_h].run(height, out_height, rho_h, sh, q0_h);
                let x = self.axes[1][r_w].run(width, out_width, rho_w, sw, q0_w);
                let mut conv = *plan.shape();
                conv.padding = Padding::Explicit([y.begin, x.begin, y.end, x.end]);
                let geom = conv.geometry(batch, height, width)?;
                if sh == 1 && sw == 1 && y.crop == 0 && x.crop == 0 && geom.out_height == rows && geom.out_width == cols {
                    return plan.run_geometry(&geom, input, output, None, par);
                }
                let need = geom.output_len();
                if scratch.len() < need {
                    scratch.try_reserve_exact(need - scratch.len()).map_err(|_| Status::OutOfMemory)?;
                    scratch.resize(need, 0.0);
                }
                plan.run_geometry(&geom, input, &mut scratch[..need], None, par)?;
                let (ph, pw) = (geom.out_height, geom.out_width);
                copy_strided(
                    &scratch[..need],
                    y.crop * pw + x.crop,
                    output,
                    dst_origin,
                    &[batch * m, y.outputs, x.outputs],
                    &[(ph * pw) as isize, pw as isize, 1],
                    &dst_strides,
                )?;
            }
        }
        Ok(())
    }

    /// The kernel-equals-stride case (see `depth_to_space`) for an output of exactly `stride x` the input:
    /// one 1x1 convolution into `scratch`, then `out[m, sh * y + ky, sw * x + kx] = conv[(m, ky, kx), y, x]`.
    #[allow(clippy::too_many_arguments)]
    fn run_depth_to_space(
        &self,
        plan: &ConvPlan,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        output: &mut [f32],
        scratch: &mut Vec<f32>,
        par: &dyn Parallel,
    ) -> Result<(), Status> {
        let [sh, sw] = self.shape.strides;
        let geom = plan.shape().geometry(batch, height, width)?;
        let need = geom.output_len();
        scratch.try_reserve_exact(need).map_err(|_| Status::OutOfMemory)?;
        scratch.resize(need, 0.0);
        plan.run_geometry(&geom, input, scratch, None, par)?;
        // Each output row interleaves `sw` rows of the conv's planes: a direct loop (the general strided
        // copy works out every element's address from its index).
        let plane = height * width;
        let out_w = width * sw;
        for nm in 0..batch * self.shape.out_channels {
            let src = &scratch[nm * sh * sw * plane..(nm + 1) * sh * sw * plane];
            let dst = &mut output[nm * sh * sw * plane..(nm + 1) * sh * sw * plane];
            for y in 0..height {
                for ky in 0..sh {
                    let row = &mut dst[(y * sh + ky) * out_w..(y * sh + ky + 1) * out_w];
                    let from = |kx: usize| &src[(ky * sw + kx) * plane + y * width..][..width];
                    if sw == 2 {
                        interleave_pair(row, from(0), from(1));
                        continue;
                    }
                    for kx in 0..sw {
                        for (x, &value) in from(kx).iter().enumerate() {
                            row[x * sw + kx] = value;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `row[2 * x] = even[x]`, `row[2 * x + 1] = odd[x]` (stride-2 depth-to-space, the common case), a vector
/// of each at a time.
fn interleave_pair(row: &mut [f32], even: &[f32], odd: &[f32]) {
    let n = even.len().min(odd.len()).min(row.len() / 2);
    let mut x = 0;
    // SAFETY: x + LANES <= n, so even/odd hold x + LANES values and row 2 * (x + LANES).
    unsafe {
        while x + v::LANES <= n {
            let (a, b) = (v::load(even.as_ptr().add(x)), v::load(odd.as_ptr().add(x)));
            v::store(row.as_mut_ptr().add(2 * x), v::interleave_low(a, b));
            v::store(row.as_mut_ptr().add(2 * x + v::LANES), v::interleave_high(a, b));
            x += v::LANES;
        }
    }
    for x in x..n {
        row[2 * x] = even[x];
        row[2 * x + 1] = odd[x];
    }
}

#[cfg(test)]
#[path = "conv_transpose_tests.rs"]
mod tests;
