//! The phase decomposition against a naive scatter (every input pixel times every tap, added where it
//! lands, in float64), on random shapes: strides 1-3, dilations 1-2, groups up to depthwise, pads,
//! output_padding and larger outputs, kernels smaller than the stride, 1x1 kernels, 1-D, batch > 1.

use alloc::vec::Vec;
use std::format;
use std::vec;

use super::*;

use crate::parallel::SERIAL;
use crate::test_rng::Rng;

const ACTIVATIONS: [Activation; 5] =
    [Activation::None, Activation::Relu, Activation::Clip { min: -0.5, max: 0.25 }, Activation::HardSwish, Activation::Sigmoid];

fn reference(s: &ConvTransposeShape, x: &[f32], w: &[f32], bias: Option<&[f32]>, act: Activation, n: usize, h: usize, wd: usize, oh: usize, ow: usize) -> Vec<f32> {
    let (m, cg, mg) = (s.out_channels, s.in_channels / s.groups, s.out_channels / s.groups);
    let [kh, kw] = s.kernel;
    let mut acc = vec![0.0f64; n * m * oh * ow];
    for b in 0..n {
        for c in 0..s.in_channels {
            let g = c / cg;
            for mo in 0..mg {
                let oc = g * mg + mo;
                for iy in 0..h {
                    for ix in 0..wd {
                        let v = x[((b * s.in_channels + c) * h + iy) * wd + ix] as f64;
                        for ky in 0..kh {
                            let oy = (iy * s.strides[0] + ky * s.dilations[0]) as isize - s.pads_begin[0] as isize;
                            if oy < 0 || oy >= oh as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ox = (ix * s.strides[1] + kx * s.dilations[1]) as isize - s.pads_begin[1] as isize;
                                if ox < 0 || ox >= ow as isize {
                                    continue;
                                }
                                let wt = w[((c * mg + mo) * kh + ky) * kw + kx] as f64;
                                acc[((b * m + oc) * oh + oy as usize) * ow + ox as usize] += v * wt;
                            }
                        }
                    }
                }
            }
        }
    }
    let plane = oh * ow;
    acc.iter().enumerate().map(|(i, &a)| act.apply_scalar((a + bias.map_or(0.0, |b| b[(i / plane) % m] as f64)) as f32)).collect()
}

struct Case {
    shape: ConvTransposeShape,
    batch: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    act: Activation,
    bias: bool,
}

fn check(c: &Case, rng: &mut Rng) {
    let s = &c.shape;
    let x = rng.vec(c.batch * s.in_channels * c.h * c.w);
    let wt = rng.vec(s.weight_len().unwrap());
    let bias = c.bias.then(|| rng.vec(s.out_channels));
    let want = reference(s, &x, &wt, bias.as_deref(), c.act, c.batch, c.h, c.w, c.oh, c.ow);
    let plan = ConvTransposePlan::new(*s, &wt, bias.as_deref(), c.act).unwrap();
    let mut got = vec![f32::NAN; want.len()];
    plan.run(&x, c.batch, c.h, c.w, &mut got, c.oh, c.ow, &SERIAL).unwrap();
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() / scale <= 1e-4,
            "{}",
            format!("{s:?} in {}x{}x{} out {}x{}: out[{i}] = {g}, want {w}", c.batch, c.h, c.w, c.oh, c.ow)
        );
    }
}

/// ONNX's output size: `s * (in - 1) + output_padding + (k - 1) * d + 1 - pad_begin - pad_end`.
fn onnx_out(input: usize, k: usize, s: usize, d: usize, pb: usize, pe: usize, op: usize) -> isize {
    (s * (input - 1) + op + (k - 1) * d + 1) as isize - (pb + pe) as isize
}

fn random_case(rng: &mut Rng) -> Option<Case> {
    let one_d = rng.below(5) == 0;
    let groups = [1, 1, 2, 3, 0][rng.below(5)];
    let (groups, cg, mg) = if groups == 0 {
        let c = rng.range(1, 6);
        (c, 1, rng.range(1, 2))
    } else {
        (groups, rng.range(1, 7), rng.range(1, 9))
    };
    let axis = |rng: &mut Rng, flat: bool| {
        if flat {
            return (1, 1, 1, 0, 1, 1);
        }
        let (k, s, d) = (rng.range(1, 4), rng.range(1, 3), rng.range(1, 2));
        let (pb, pe) = (rng.below(4), rng.below(4));
        let input = rng.range(1, 9);
        // output_padding below the stride, or an output_shape larger than the windows reach.
        let op = rng.below(s.max(d));
        let extra = if rng.below(8) == 0 { rng.range(1, 3) } else { 0 };
        let out = onnx_out(input, k, s, d, pb, pe, op) + extra as isize;
        (k, s, d, pb, input, out.max(0) as usize)
    };
    let (kh, sh, dh, pbh, h, oh) = axis(rng, one_d);
    let (kw, sw, dw, pbw, w, ow) = axis(rng, false);
    if oh == 0 || ow == 0 {
        return None;
    }
    Some(Case {
        shape: ConvTransposeShape {
            in_channels: groups * cg,
            out_channels: groups * mg,
            kernel: [kh, kw],
            strides: [sh, sw],
            dilations: [dh, dw],
            pads_begin: [pbh, pbw],
            groups,
        },
        batch: rng.range(1, 2),
        h,
        w,
        oh,
        ow,
        act: ACTIVATIONS[rng.below(ACTIVATIONS.len())],
        bias: rng.below(4) != 0,
    })
}

#[test]
fn random_shapes_match_the_scatter_reference() {
    let mut rng = Rng(0xc0de_7a);
    let mut ran = 0;
    while ran < 500 {
        if let Some(case) = random_case(&mut rng) {
            check(&case, &mut rng);
            ran += 1;
        }
    }
}

fn shape(c: usize, m: usize, k: [usize; 2], s: [usize; 2], d: [usize; 2], p: [usize; 2], g: usize) -> ConvTransposeShape {
    ConvTransposeShape { in_channels: c, out_channels: m, kernel: k, strides: s, dilations: d, pads_begin: p, groups: g }
}

#[test]
fn common_decoder_layers() {
    let mut rng = Rng(3);
    // 4x4 stride 2 pad 1 (DCGAN / U-Net upsampling), 3x3 stride 2 pad 1 output_padding 1, 2x2 stride 2.
    for (s, h, w, oh, ow) in [
        (shape(16, 8, [4, 4], [2, 2], [1, 1], [1, 1], 1), 9, 13, 18, 26),
        (shape(16, 8, [3, 3], [2, 2], [1, 1], [1, 1], 1), 9, 13, 18, 26),
        (shape(12, 12, [2, 2], [2, 2], [1, 1], [0, 0], 1), 7, 5, 14, 10),
        // Bilinear-style depthwise upsampling by 4 with an 8x8 kernel.
        (shape(5, 5, [8, 8], [4, 4], [1, 1], [2, 2], 5), 6, 7, 24, 28),
        // Many input channels: the phase convolutions reduce in chunks.
        (shape(200, 6, [3, 3], [2, 2], [2, 2], [2, 2], 1), 5, 6, 9, 11),
    ] {
        for act in ACTIVATIONS {
            check(&Case { shape: s, batch: 2, h, w, oh, ow, act, bias: true }, &mut rng);
        }
    }
}

#[test]
fn kernels_smaller_than_the_stride_leave_bias_only_lattices() {
    let mut rng = Rng(11);
    for (k, s) in [([1, 1], [2, 2]), ([1, 2], [3, 3]), ([2, 1], [3, 2])] {
        let sh = shape(3, 4, k, s, [1, 1], [0, 0], 1);
        let (h, w) = (5, 6);
        let oh = onnx_out(h, k[0], s[0], 1, 0, 0, s[0] - 1) as usize;
        let ow = onnx_out(w, k[1], s[1], 1, 0, 0, s[1] - 1) as usize;
        check(&Case { shape: sh, batch: 1, h, w, oh, ow, act: Activation::Sigmoid, bias: true }, &mut rng);
    }
}

#[test]
fn stride_one_writes_straight_through_and_pads_crop() {
    let mut rng = Rng(12);
    for (p, oh, ow) in [([0, 0], 9, 10), ([2, 1], 5, 8), ([4, 4], 1, 2)] {
        check(&Case { shape: shape(4, 3, [3, 3], [1, 1], [1, 1], p, 1), batch: 2, h: 7, w: 8, oh, ow, act: Activation::None, bias: true }, &mut rng);
    }
}

#[test]
fn bad_arguments_are_errors() {
    let s = shape(4, 6, [3, 3], [2, 2], [1, 1], [1, 1], 2);
    let w = vec![0.0; s.weight_len().unwrap()];
    assert_eq!(s.weight_len(), Ok(4 * 3 * 9));
    assert_eq!(ConvTransposePlan::new(s, &w[1..], None, Activation::None).err(), Some(Status::WeightLengthMismatch));
    assert_eq!(ConvTransposePlan::new(s, &w, Some(&[0.0; 5]), Activation::None).err(), Some(Status::BiasLengthMismatch));
    assert_eq!(ConvTransposePlan::new(shape(4, 6, [3, 3], [2, 2], [1, 1], [1, 1], 3), &w, None, Activation::None).err(), Some(Status::GroupsDoNotDivideChannels));
    assert_eq!(ConvTransposePlan::new(shape(4, 6, [3, 3], [0, 2], [1, 1], [1, 1], 2), &w, None, Activation::None).err(), Some(Status::NonPositiveStride));
    let plan = ConvTransposePlan::new(s, &w, None, Activation::None).unwrap();
    assert!(plan.prepared_bytes() >= 4 * 6 * 9);
    let mut out = vec![0.0; 6 * 4 * 4];
    assert_eq!(plan.run(&[0.0; 16], 1, 2, 2, &mut out, 4, 4, &SERIAL), Ok(()));
    assert_eq!(plan.run(&[0.0; 15], 1, 2, 2, &mut out, 4, 4, &SERIAL), Err(Status::InputLengthMismatch));
    assert_eq!(plan.run(&[0.0; 16], 1, 2, 2, &mut out, 4, 5, &SERIAL), Err(Status::OutputLengthMismatch));
    assert_eq!(plan.run(&[0.0; 16], 1, 2, 2, &mut out, 0, 4, &SERIAL), Err(Status::ZeroDimension));
}

#[test]
fn kernel_equal_to_stride_runs_as_one_conv_and_a_depth_to_space() {
    let mut rng = Rng(13);
    // Exact `stride x` outputs take the merged path; an output_padding row/column falls back to the phases.
    for (s, h, w, oh, ow) in [
        (shape(16, 1, [2, 2], [2, 2], [1, 1], [0, 0], 1), 9, 13, 18, 26),
        (shape(6, 4, [3, 2], [3, 2], [1, 1], [0, 0], 2), 4, 5, 12, 10),
        (shape(5, 5, [2, 2], [2, 2], [1, 1], [0, 0], 5), 6, 7, 12, 14),
        (shape(16, 1, [2, 2], [2, 2], [1, 1], [0, 0], 1), 9, 13, 19, 27),
    ] {
        let plan = ConvTransposePlan::new(s, &vec![0.0; s.weight_len().unwrap()], None, Activation::None).unwrap();
        assert!(plan.depth_to_space.is_some(), "{s:?} takes the merged path");
        for act in ACTIVATIONS {
            check(&Case { shape: s, batch: 2, h, w, oh, ow, act, bias: true }, &mut rng);
        }
    }
}
