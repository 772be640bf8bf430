//! Which kernel runs which convolution, decided in one table apart from the drivers (as XNNPACK's
//! `configs/` keeps its micro-kernel choice apart from its operators): a new kernel is one more row here.

use crate::geometry::ConvShape;

/// Which kernel family runs a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Packed weights x packed input panels, register-tiled (`gemm_conv`).
    Gemm,
    /// Direct kernel for one input channel per group (`depthwise`).
    Depthwise,
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
