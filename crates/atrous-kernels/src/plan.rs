//! `ConvPlan`: a convolution prepared once (weights checked and packed, kernel chosen) and run many times
//! on inputs of any spatial size.

use alloc::vec::Vec;

use crate::activation::Activation;
use crate::conv_run::{ConvTensors, Epilogue};
use crate::geometry::{ConvShape, Geometry};
use crate::parallel::Parallel;
use crate::status::Status;
use crate::weights::PackedWeights;
use crate::winograd_weights::WinogradWeights;
use crate::subnormal::without_subnormals;
use crate::{depthwise, gemm_conv, selection, winograd};

pub use crate::selection::{Method, WinogradTile};

/// The feature-map sides at which `ConvPlan::new` asks the cost model whether Winograd pays: the dilated
/// stages of segmentation networks at their usual inputs (33 to 65 at 513, 32 to 128 at 512). Winograd is
/// chosen only where it pays at every one of them. The two wrong choices do not cost the same: at a rate
/// near the map's size each sub-lattice is a pixel or two across and a Winograd tile is mostly padding, so
/// DeepLabV3's rate-24 ASPP branch (960 -> 256 on 33x33), chosen at 64x64 alone, ran 5.5x the direct
/// method's products (358 ms of a 550 ms run, measured); the direct method where Winograd would have paid
/// costs at most about 2x (rate 24 on a 129x129 map).
const TYPICAL_MAPS: [usize; 2] = [32, 64];

enum Weights {
    Packed(PackedWeights),
    Direct(Vec<f32>),
    /// Winograd only (its weights are in `winograd`).
    None,
}

pub struct ConvPlan {
    shape: ConvShape,
    activation: Activation,
    bias: Vec<f32>,
    weights: Weights,
    /// Winograd's transformed weights: the only weights of a plan made for Winograd (then `weights` is
    /// `Weights::None`), or derived by `fit` beside the direct packing of an adaptive plan.
    winograd: Option<WinogradWeights>,
    /// The Winograd tile a run where the cost model prefers it may add weights for (`fit`): set on plans
    /// `new` packed for the direct method on a shape Winograd can run; never on a plan whose method was forced.
    adapts_to: Option<WinogradTile>,
}

impl ConvPlan {
    /// Prepares `weights` (`[M, C / groups, kH, kW]`, OIHW) and an optional `bias` (`[M]`), choosing
    /// the best method for the shape. Keeping the direct packing and Winograd's transformed weights (2.8x to
    /// 4x the weights) side by side from the start measured 5x the weight memory (the backward's memory
    /// bound failed), so where Winograd applies the cost model decides at the `TYPICAL_MAPS` sizes which
    /// weights to pack now. A plan packed for the direct method stays adaptive: the first run on a map where
    /// the cost model prefers Winograd (a rate-24 ASPP branch on 65x65 rather than 33x33) derives Winograd's
    /// weights from the packed ones (`fit`) and keeps both, so that runs at every size use the method that
    /// pays there. Both methods are exact at any size; only speed differs.
    pub fn new(shape: ConvShape, weights: &[f32], bias: Option<&[f32]>, activation: Activation) -> Result<Self, Status> {
        let tile = selection::winograd_tile(&shape);
        let method = match tile {
            Some(tile) if TYPICAL_MAPS.iter().all(|&side| shape.geometry(1, side, side).is_ok_and(|g| selection::prefers_winograd(&g, tile))) => {
                Method::Winograd
            }
            _ => selection::conv_method(&shape),
        };
        let mut plan = Self::with_method(shape, weights, bias, activation, method)?;
        plan.adapts_to = tile.filter(|_| method == Method::Gemm);
        Ok(plan)
    }

    /// As `new`, with the method forced for every input size (tests run every method on the same shapes).
    /// `Method::Winograd` is an error (`Unsupported`) on a shape it cannot run.
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
        let weights = &*without_subnormals(weights)?;
        let mut bias_vec = Vec::new();
        bias_vec.try_reserve_exact(shape.out_channels).map_err(|_| Status::OutOfMemory)?;
        match bias {
            Some(b) if b.len() != shape.out_channels => return Err(Status::BiasLengthMismatch),
            Some(b) => bias_vec.extend_from_slice(b),
            None => bias_vec.resize(shape.out_channels, 0.0),
        }
        let tile = selection::winograd_tile(&shape);
        let winograd = match (method, tile) {
            (Method::Winograd, None) => return Err(Status::Unsupported),
            (Method::Winograd, Some(t)) => Some(WinogradWeights::pack(&shape, weights, t)?),
            _ => None,
        };
        let weights = match method {
            Method::Winograd => Weights::None,
            Method::Depthwise if shape.channels_per_group() == 1 => {
                let mut copy = Vec::new();
                copy.try_reserve_exact(weights.len()).map_err(|_| Status::OutOfMemory)?;
                copy.extend_from_slice(weights);
                Weights::Direct(copy)
            }
            _ => Weights::Packed(PackedWeights::pack(&shape, weights)?),
        };
        Ok(ConvPlan { shape, activation, bias: bias_vec, weights, winograd, adapts_to: None })
    }

    pub fn shape(&self) -> &ConvShape {
        &self.shape
    }

    /// The method a run on `geom` uses (after `fit`, for an adaptive plan).
    pub fn method_for(&self, geom: &Geometry) -> Method {
        match (&self.weights, &self.winograd) {
            (Weights::None, _) => Method::Winograd,
            (Weights::Packed(_), Some(w)) if selection::prefers_winograd(geom, w.tile()) => Method::Winograd,
            (Weights::Packed(_), None) if self.adapts_to.is_some_and(|t| selection::prefers_winograd(geom, t)) => Method::Winograd,
            (Weights::Packed(_), _) => Method::Gemm,
            (Weights::Direct(_), _) => Method::Depthwise,
        }
    }

    /// Makes the plan ready to run on `geom` with the method `method_for` names: an adaptive plan without
    /// Winograd's weights, on a map where they pay, derives them from its direct packing (the same bits as
    /// transforming the original weights: the packing is a permutation of them). Once per plan; a no-op
    /// otherwise. Runs call it themselves when given `&mut`; `run` (on `&self`) uses what is there.
    pub fn fit(&mut self, geom: &Geometry) -> Result<(), Status> {
        let (Weights::Packed(packed), Some(tile), None) = (&self.weights, self.adapts_to, &self.winograd) else {
            return Ok(());
        };
        if !selection::prefers_winograd(geom, tile) {
            return Ok(());
        }
        let weights = packed.unpack(&self.shape)?;
        self.winograd = Some(WinogradWeights::pack(&self.shape, &weights, tile)?);
        Ok(())
    }

    /// The method a run on an input of `[batch, C, height, width]` uses.
    pub fn method(&self, batch: usize, height: usize, width: usize) -> Result<Method, Status> {
        Ok(self.method_for(&self.shape.geometry(batch, height, width)?))
    }

    /// The Winograd tile this plan's transformed weights are for, if it has them.
    pub fn winograd_tile(&self) -> Option<WinogradTile> {
        self.winograd.as_ref().map(WinogradWeights::tile)
    }

    /// Bytes held by the prepared weights and bias.
    pub fn prepared_bytes(&self) -> usize {
        let w = match &self.weights {
            Weights::Packed(p) => p.len(),
            Weights::Direct(d) => d.len(),
            Weights::None => 0,
        };
        (w + self.winograd.as_ref().map_or(0, WinogradWeights::len) + self.bias.len()) * 4
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
        let epilogue = Epilogue { bias: &self.bias, activation: self.activation };
        let tensors = ConvTensors { input, output, residual };
        unsafe {
            match (self.method_for(&geom), &self.weights, &self.winograd) {
                (Method::Winograd, _, Some(w)) => winograd::run(&geom, w, &epilogue, tensors, par)?,
                (_, Weights::Packed(packed), _) => gemm_conv::run(&geom, packed, &epilogue, tensors, par)?,
                (_, Weights::Direct(w), _) => depthwise::run(&geom, w, &epilogue, tensors, par)?,
                (_, Weights::None, _) => unreachable!("a plan without packed weights has Winograd's and always picks it"),
            }
        }
        Ok(())
    }
}
