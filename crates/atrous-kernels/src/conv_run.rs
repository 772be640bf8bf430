//! What every convolution kernel (`gemm_conv`, `winograd`, `depthwise`) is handed for one run: the tensors
//! it reads and writes, already checked against the run's geometry by `ConvPlan`, and the epilogue applied
//! before each output value is stored. One definition, so the three kernels take the same arguments.

use crate::activation::Activation;
use crate::parallel::SharedMut;

/// Applied to each output value before it is stored: `activation(sum + bias + residual)`.
pub struct Epilogue<'a> {
    pub bias: &'a [f32],
    pub activation: Activation,
}

/// The tensors of one run: `input` `[N, C, H, W]`, `output` `[N, M, OH, OW]`, and an output-shaped
/// `residual` added before the activation.
pub struct ConvTensors<'a> {
    pub input: &'a [f32],
    pub output: &'a mut [f32],
    pub residual: Option<&'a [f32]>,
}

/// `ConvTensors` as every piece of a split run sees them: the output as a pointer that each piece writes
/// its own disjoint part of (see `parallel`).
#[derive(Clone, Copy)]
pub struct SharedTensors<'a> {
    pub input: &'a [f32],
    pub out: SharedMut<f32>,
    pub residual: Option<&'a [f32]>,
}

impl<'a> ConvTensors<'a> {
    pub fn share(self) -> SharedTensors<'a> {
        SharedTensors { input: self.input, out: SharedMut(self.output.as_mut_ptr()), residual: self.residual }
    }
}
