//! Which kernel runs which convolution, decided in one table apart from the drivers (as XNNPACK's
//! `configs/` keeps its micro-kernel choice apart from its operators): a new kernel is one more row here.

use crate::geometry::{ConvShape, Geometry};
use crate::winograd::tiles_along;

/// Which kernel family runs a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Packed weights x packed input panels, register-tiled (`gemm_conv`).
    Gemm,
    /// Direct kernel for one input channel per group (`depthwise`).
    Depthwise,
    /// Winograd minimal filtering for 3x3, stride 1, one group (`winograd`), dilated through sub-lattices.
    Winograd,
}

/// Winograd tile sizes: F(m x m, 3x3) computes `m x m` outputs from `(m + 2) x (m + 2)` frequencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WinogradTile {
    F2,
    F3,
    F4,
}

impl WinogradTile {
    /// Outputs per tile along an axis.
    pub fn outputs(self) -> usize {
        match self {
            WinogradTile::F2 => 2,
            WinogradTile::F3 => 3,
            WinogradTile::F4 => 4,
        }
    }
    /// Frequencies along an axis (`outputs + 2`).
    pub fn alpha(self) -> usize {
        self.outputs() + 2
    }
}

/// One input channel per group is a depthwise convolution; anything else reduces over channels in a GEMM.
pub fn conv_method(shape: &ConvShape) -> Method {
    if shape.channels_per_group() == 1 {
        Method::Depthwise
    } else {
        Method::Gemm
    }
}

/// The depthwise kernels, by kernel size (every stride and dilation runs the same unit-stride loop over
/// the stride's column phases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthwiseKernel {
    /// 3x3: taps unrolled.
    ThreeByThree,
    /// 5x5: taps unrolled.
    FiveByFive,
    /// Any other size: a loop over the taps.
    AnySize,
}

pub fn depthwise_kernel(kernel: [usize; 2]) -> DepthwiseKernel {
    match kernel {
        [3, 3] => DepthwiseKernel::ThreeByThree,
        [5, 5] => DepthwiseKernel::FiveByFive,
        _ => DepthwiseKernel::AnySize,
    }
}

/// Whether Winograd can run `shape` at all, and with which tile: 3x3, stride 1, one group. The tile is
/// fixed per plan (the weights are transformed for it), so it is chosen from the dilation: ASPP-style rates
/// (6 and up) meet small maps, where each sub-lattice is a few pixels across and F(3x3) wastes less of its
/// tiles than F(4x4) (a 3-pixel sub-lattice is one F(3x3) tile, 25 products, against 36); backbone
/// dilations (1 to 5) meet large maps, where F(4x4)'s 2.25 products per output beat F(3x3)'s 2.78.
pub fn winograd_tile(shape: &ConvShape) -> Option<WinogradTile> {
    let eligible = shape.kernel == [3, 3] && shape.strides == [1, 1] && shape.groups == 1;
    if !eligible {
        return None;
    }
    Some(if shape.dilations[0].max(shape.dilations[1]) >= 6 { WinogradTile::F3 } else { WinogradTile::F4 })
}

/// Products the direct method computes per (output channel, input channel): output pixels times the taps
/// that read inside the input (the panels skip taps that read only padding; counted per pixel here).
fn direct_products(geom: &Geometry) -> f64 {
    let valid = |out: usize, size: usize, k: usize, d: usize, pad: usize| -> usize {
        (0..k)
            .map(|t| (0..out).filter(|&o| (o + t * d).checked_sub(pad).is_some_and(|i| i < size)).count())
            .sum()
    };
    let vy = valid(geom.out_height, geom.height, geom.kernel[0], geom.dilations[0], geom.pads[0]);
    let vx = valid(geom.out_width, geom.width, geom.kernel[1], geom.dilations[1], geom.pads[1]);
    (vy * vx) as f64
}

/// The cost model: Winograd for `geom` (a shape `winograd_tile` accepted, with weights for `tile`) when
/// its estimated time is below the direct method's. Times in units of one multiply-add of the register tile;
/// the constants were fitted to measurements (see `WINOGRAD_*` below).
pub fn prefers_winograd(geom: &Geometry, tile: WinogradTile) -> bool {
    if !crate::winograd::fits_offsets(geom) {
        return false;
    }
    let (m, a) = (tile.outputs(), tile.alpha());
    let (c, k) = (geom.in_channels as f64, geom.out_channels as f64);
    let tiles = (geom.batch * tiles_along(geom.out_height, geom.dilations[0], m) * tiles_along(geom.out_width, geom.dilations[1], m)) as f64;
    let freqs = (a * a) as f64;
    let direct = geom.batch as f64 * direct_products(geom) * c * (k + DIRECT_PACK_PER_CHANNEL);
    let winograd = tiles * freqs * (c * k * WINOGRAD_GEMM + c * WINOGRAD_INPUT_PER_FREQUENCY + k * WINOGRAD_OUTPUT_PER_FREQUENCY);
    winograd < direct * WINOGRAD_MARGIN
}

// The cost model's constants, in units of one multiply-add of the register tile, fitted (non-negative least
// squares on relative error) to 77 interleaved timings of Winograd against the direct method on the relaxed
// build, single thread, Node 20 on an AMD EPYC (Zen 1) shared with other jobs (timings within ~20 %):
// channels 16 to 256 in and out, maps 8x8 to 33x33, dilations 1, 2, 6, 12. Fitted, in ns: direct 0.0625 per
// multiply-add plus 1.26 per (pixel, valid tap, input channel) packed; Winograd 0.0595 per multiply-add,
// 1.82 per (tile, frequency, input channel) for the input transform and 2.13 per (tile, frequency, output
// channel) for the output transform and epilogue. Measured ratios (direct time / Winograd time) then: 2.0 to
// 2.8 at 64 to 256 channels on 16x16 to 128x128 maps at dilation 1 and 2; 1.4 to 1.9 for rate 6 and 12 on
// 33x33 with 64+ channels; 0.2 to 0.3 where most taps read padding (rate 12 on 16x16, rate 6 on 8x8). All the
// cases the fit got wrong were Winograd slightly faster (1.04x to 1.6x) and predicted slower, and Winograd must
// be predicted `WINOGRAD_MARGIN` cheaper, so the model errs toward the direct method.

/// Packing one input value into a direct panel (per pixel, valid tap and input channel).
const DIRECT_PACK_PER_CHANNEL: f64 = 20.0;
/// Winograd's per-frequency products, relative to the direct method's multiply-adds.
const WINOGRAD_GEMM: f64 = 0.95;
/// Loading and transforming one input value (per tile, frequency and input channel).
const WINOGRAD_INPUT_PER_FREQUENCY: f64 = 29.0;
/// Transforming one product back with the epilogue (per tile, frequency and output channel).
const WINOGRAD_OUTPUT_PER_FREQUENCY: f64 = 34.0;
/// How much cheaper than the direct method Winograd must be predicted to be picked.
const WINOGRAD_MARGIN: f64 = 0.9;
