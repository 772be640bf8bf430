//! `ConvPlan`: a convolution prepared once (weights checked and packed, kernel chosen) and run many times
//! on inputs of any spatial size.

use alloc::vec::Vec;

use crate::activation::Activation;
use crate::geometry::{ConvShape, Geometry};
use crate::parallel::Parallel;
use crate::status::Status;
use crate::weights::PackedWeights;
use crate::{depthwise, gemm_conv};

pub use crate::selection::Method;

enum Weights {
    Packed(PackedWeights),
    Direct(Vec<f32>),
}

pub struct ConvPlan {
    shape: ConvShape,
    activation: Activation,
    bias: Vec<f32>,
    weights: Weights,
}

impl ConvPlan {
    /// Prepares `weights` (`[M, C / groups, kH, kW]`, OIHW) and an optional `bias` (`[M]`), choosing
    /// the best method for the shape.
    pub fn new(shape: ConvShape, weights: &[f32], bias: Option<&[f32]>, activation: Activation) -> Result<Self, Status> {
        let method = crate::selection::conv_method(&shape);
        Self::with_method(shape, weights, bias, activation, method)
    }

    /// As `new`, with the method forced (tests run every method on the same shapes).
    pub fn with_method(
        shape: ConvShape,
        weights: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
        method: Method,
    ) -> Result<Self, Status> {
        shape.validate()?;
        if weights.len() != shape.weight_len() {
            return Err(Status::WeightLengthMismatch);
        }
        let mut bias_vec = Vec::new();
        bias_vec.try_reserve_exact(shape.out_channels).map_err(|_| Status::OutOfMemory)?;
        match bias {
            Some(b) if b.len() != shape.out_channels => return Err(Status::BiasLengthMismatch),
            Some(b) => bias_vec.extend_from_slice(b),
            None => bias_vec.resize(shape.out_channels, 0.0),
        }
        let weights = match method {
            Method::Depthwise if shape.channels_per_group() == 1 => {
                let mut copy = Vec::new();
                copy.try_reserve_exact(weights.len()).map_err(|_| Status::OutOfMemory)?;
                copy.extend_from_slice(weights);
                Weights::Direct(copy)
            }
            _ => Weights::Packed(PackedWeights::pack(&shape, weights)?),
        };
        Ok(ConvPlan { shape, activation, bias: bias_vec, weights })
    }

    pub fn shape(&self) -> &ConvShape {
        &self.shape
    }

    pub fn method(&self) -> Method {
        match self.weights {
            Weights::Packed(_) => Method::Gemm,
            Weights::Direct(_) => Method::Depthwise,
        }
    }

    /// Bytes held by the prepared weights and bias.
    pub fn prepared_bytes(&self) -> usize {
        let w = match &self.weights {
            Weights::Packed(p) => p.len(),
            Weights::Direct(d) => d.len(),
        };
        (w + self.bias.len()) * 4
    }

    /// Runs on `input` (`[N, C, H, W]`), writing `output` (`[N, M, OH, OW]`). With `residual` (same shape
    /// as the output) computes `activation(conv + bias + residual)`. `par` runs the pieces of the output
    /// (`parallel::SERIAL` for one thread); the result is the same bits for every runner.
    pub fn run(
        &self,
        input: &[f32],
        batch: usize,
        height: usize,
        width: usize,
        output: &mut [f32],
        residual: Option<&[f32]>,
        par: &dyn Parallel,
    ) -> Result<Geometry, Status> {
        let geom = self.shape.geometry(batch, height, width)?;
        self.run_geometry(&geom, input, output, residual, par)?;
        Ok(geom)
    }

    /// As `run`, with the pads and output size of `geom` instead of the plan's own padding: a caller that
    /// derives many convolutions from one layer (the phases of a transposed convolution) resolves their
    /// borders per input size. Everything but the pads and sizes must be the plan's.
    pub(crate) fn run_geometry(
        &self,
        geom: &Geometry,
        input: &[f32],
        output: &mut [f32],
        residual: Option<&[f32]>,
        par: &dyn Parallel,
    ) -> Result<(), Status> {
        let s = &self.shape;
        if (geom.in_channels, geom.out_channels, geom.kernel, geom.strides, geom.dilations, geom.groups)
            != (s.in_channels, s.out_channels, s.kernel, s.strides, s.dilations, s.groups)
        {
            return Err(Status::ShapeMismatch);
        }
        let geom = *geom;
        if input.len() != geom.input_len() {
            return Err(Status::InputLengthMismatch);
        }
        if output.len() != geom.output_len() {
            return Err(Status::OutputLengthMismatch);
        }
        if residual.is_some_and(|r| r.len() != geom.output_len()) {
            return Err(Status::ResidualLengthMismatch);
        }
        // SAFETY: every length the kernels rely on was checked above against `geom`.
        unsafe {
            match &self.weights {
                Weights::Packed(packed) => {
                    let epilogue = gemm_conv::Epilogue { bias: &self.bias, activation: self.activation };
                    gemm_conv::run(&geom, packed, &epilogue, input, output, residual, par)?
                }
                Weights::Direct(w) => depthwise::run(&geom, w, &self.bias, self.activation, input, output, residual, par)?,
            }
        }
        Ok(())
    }
}
