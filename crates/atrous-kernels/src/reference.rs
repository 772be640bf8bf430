//! The naive convolution every fast path is tested against: ONNX Conv semantics, float64 sums.

use alloc::vec;
use alloc::vec::Vec;

use crate::activation::Activation;
use crate::geometry::Geometry;

pub fn conv(
    geom: &Geometry,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let g = geom;
    let (cin, mg) = (g.channels_per_group(), g.outputs_per_group());
    let mut out = vec![0.0f32; g.output_len()];
    for n in 0..g.batch {
        for m in 0..g.out_channels {
            let group = m / mg;
            for oy in 0..g.out_height {
                for ox in 0..g.out_width {
                    let mut sum = bias.map_or(0.0, |b| b[m] as f64);
                    for c in 0..cin {
                        for ky in 0..g.kernel[0] {
                            for kx in 0..g.kernel[1] {
                                let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize - g.pads[0] as isize;
                                let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize - g.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= g.height as isize || ix >= g.width as isize {
                                    continue;
                                }
                                let x = input[((n * g.in_channels + group * cin + c) * g.height + iy as usize) * g.width
                                    + ix as usize];
                                let w = weights[((m * cin + c) * g.kernel[0] + ky) * g.kernel[1] + kx];
                                sum += x as f64 * w as f64;
                            }
                        }
                    }
                    let at = ((n * g.out_channels + m) * g.out_height + oy) * g.out_width + ox;
                    if let Some(r) = residual {
                        sum += r[at] as f64;
                    }
                    out[at] = activation.apply_scalar(sum as f32);
                }
            }
        }
    }
    out
}
