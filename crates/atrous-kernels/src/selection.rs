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

/// The depthwise kernels, by kernel size and horizontal stride.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepthwiseKernel {
    /// 3x3, stride 1: taps unrolled.
    ThreeByThree,
    /// 5x5, stride 1: taps unrolled.
    FiveByFive,
    /// Any size, stride 1.
    AnySize,
    /// Stride 2 along rows: even lanes gathered from two vectors.
    StrideTwo,
    /// Any other stride: scalar.
    Strided,
}

pub fn depthwise_kernel(kernel: [usize; 2], stride_w: usize) -> DepthwiseKernel {
    match (kernel, stride_w) {
        ([3, 3], 1) => DepthwiseKernel::ThreeByThree,
        ([5, 5], 1) => DepthwiseKernel::FiveByFive,
        (_, 1) => DepthwiseKernel::AnySize,
        (_, 2) => DepthwiseKernel::StrideTwo,
        _ => DepthwiseKernel::Strided,
    }
}
