//! atrous-kernels: f32 convolution with ONNX `Conv` semantics (NCHW input, OIHW weights), with dilation
//! handled in the addressing, never through a materialised im2col.
//!
//! Build variants pick their vector instruction set at compile time (see `isa`): the same drivers and
//! micro-kernels compile to scalar code, wasm simd128, or simd128 + relaxed-simd fused multiply-add.
#![no_std]
#![allow(clippy::too_many_arguments)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod activation;
pub mod activation_backward;
pub mod channel_ops;
pub mod conv_backward;
mod conv_backward_weights;
mod conv_run;
pub mod conv_transpose;
pub mod elementwise;
mod depthwise;
pub mod gemm;
mod gemm_conv;
mod gemm_tiles;
#[cfg(test)]
mod gemm_tests;
pub mod geometry;
pub mod isa;
pub mod layout;
pub mod loss;
mod micro_kernel;
mod panel;
pub mod normalization;
pub mod normalization_backward;
pub mod plan;
pub mod pooling;
pub mod pooling_backward;
pub mod reduce;
pub mod conversion;
pub mod pad;
pub mod parallel;
pub mod resample;
mod resample_rows;
pub mod resample_backward;
pub mod selection;
pub mod select;
pub mod status;
mod subnormal;
pub mod vmath;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod test_rng;
#[cfg(test)]
mod conv_tests;
mod weights;
mod winograd;
mod winograd_tiles;
mod winograd_transforms;
mod winograd_weights;
#[cfg(test)]
mod winograd_tests;

pub use activation::Activation;
pub use geometry::{ConvShape, Geometry, Padding};
pub use status::Status;
pub use plan::ConvPlan;
pub use parallel::{Parallel, SERIAL};
