//! The backward kernels against a naive backward (every output gradient times every tap, added in float64
//! where the forward read it) on random shapes covering every option, and the naive backward itself against
//! finite differences of the crate's naive forward (`reference::conv`), so neither can share a mistake.

use alloc::vec::Vec;
use std::format;
use std::string::String;
use std::vec;

use super::*;
use crate::micro_kernel::NR;
use crate::geometry::Padding;
use crate::reference;
use crate::test_rng::Rng;

struct Naive {
    input: Vec<f64>,
    weights: Vec<f64>,
    bias: Vec<f64>,
}

fn naive_backward(g: &Geometry, x: &[f32], w: &[f32], dy: &[f32]) -> Naive {
    let (cg, mg) = (g.channels_per_group(), g.outputs_per_group());
    let [kh, kw] = g.kernel;
    let mut r = Naive { input: vec![0.0; x.len()], weights: vec![0.0; w.len()], bias: vec![0.0; g.out_channels] };
    for n in 0..g.batch {
        for m in 0..g.out_channels {
            let group = m / mg;
            for oy in 0..g.out_height {
                for ox in 0..g.out_width {
                    let d = dy[((n * g.out_channels + m) * g.out_height + oy) * g.out_width + ox] as f64;
                    r.bias[m] += d;
                    for c in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize - g.pads[0] as isize;
                                let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize - g.pads[1] as isize;
                                if iy < 0 || ix < 0 || iy >= g.height as isize || ix >= g.width as isize {
                                    continue;
                                }
                                let xi = ((n * g.in_channels + group * cg + c) * g.height + iy as usize) * g.width + ix as usize;
                                let wi = ((m * cg + c) * kh + ky) * kw + kx;
                                r.input[xi] += d * w[wi] as f64;
                                r.weights[wi] += d * x[xi] as f64;
                            }
                        }
                    }
                }
            }
        }
    }
    r
}

/// `got` within 1e-5 of max |want| everywhere (the sums are float32 in the kernels).
fn close(name: &str, got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{name} length, {what}");
    let scale = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(((*g as f64) - w).abs() / scale <= 1e-5, "{name}[{i}] = {g}, want {w} (scale {scale}), {what}");
    }
}

struct Case {
    shape: ConvShape,
    batch: usize,
    h: usize,
    w: usize,
}

fn describe(c: &Case) -> String {
    format!("{:?} on {}x{}x{}", c.shape, c.batch, c.h, c.w)
}

/// A random case; `None` when its output would be empty.
fn random_case(rng: &mut Rng, large: bool) -> Option<Case> {
    let one_d = rng.below(5) == 0;
    let (groups, cg, mg) = match rng.below(5) {
        0 => {
            let c = rng.range(1, 6);
            (c, 1, 1)
        }
        1 => {
            let c = rng.range(1, 4);
            (c, 1, rng.range(2, 3))
        }
        2 => (rng.range(2, 3), rng.range(1, 4), rng.range(1, 5)),
        _ => (1, rng.range(1, if large { 12 } else { 7 }), rng.range(1, if large { 11 } else { 9 })),
    };
    let k = |rng: &mut Rng| rng.range(1, 5);
    let kernel = if one_d { [1, k(rng)] } else { [k(rng), k(rng)] };
    let strides = if one_d { [1, rng.range(1, 3)] } else { [rng.range(1, 3), rng.range(1, 3)] };
    let dilations = if one_d { [1, rng.range(1, 3)] } else { [rng.range(1, 3), rng.range(1, 3)] };
    let causal = one_d && rng.below(3) == 0;
    let padding = if causal {
        Padding::Explicit([0, (kernel[1] - 1) * dilations[1], 0, 0])
    } else {
        match rng.below(6) {
            0 => Padding::SameUpper,
            1 => Padding::SameLower,
            2 => Padding::Valid,
            _ if one_d => Padding::Explicit([0, rng.below(6), 0, rng.below(6)]),
            _ => Padding::Explicit([rng.below(6), rng.below(6), rng.below(6), rng.below(6)]),
        }
    };
    let size = |rng: &mut Rng| if large { rng.range(12, 40) } else { rng.range(1, 11) };
    let h = if one_d { 1 } else { size(rng) };
    let w = size(rng);
    let shape = ConvShape { in_channels: groups * cg, out_channels: groups * mg, kernel, strides, dilations, padding, groups };
    let case = Case { shape, batch: rng.range(1, 2), h, w };
    case.shape.geometry(case.batch, h, w).ok().map(|_| case)
}

fn run(c: &Case, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let s = &c.shape;
    let mut gx = vec![f32::NAN; x.len()];
    let mut gw = vec![f32::NAN; w.len()];
    let mut gb = vec![f32::NAN; s.out_channels];
    let grads = ConvGradients { input: Some(&mut gx), weights: Some(&mut gw), bias: Some(&mut gb) };
    conv_backward(s, c.batch, c.h, c.w, x, w, dy, grads).unwrap();
    (gx, gw, gb)
}

fn check_against_naive(c: &Case, rng: &mut Rng) {
    let s = &c.shape;
    let g = s.geometry(c.batch, c.h, c.w).unwrap();
    let x = rng.vec(g.input_len());
    let w = rng.vec(s.weight_len());
    let dy = rng.vec(g.output_len());
    let want = naive_backward(&g, &x, &w, &dy);
    let (gx, gw, gb) = run(c, &x, &w, &dy);
    let what = describe(c);
    close("gradInput", &gx, &want.input, &what);
    close("gradWeight", &gw, &want.weights, &what);
    close("gradBias", &gb, &want.bias, &what);
}

#[test]
fn small_random_shapes_match_the_naive_backward() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut done = 0;
    while done < 600 {
        if let Some(c) = random_case(&mut rng, false) {
            check_against_naive(&c, &mut rng);
            done += 1;
        }
    }
}

/// Outputs past one chunk of pixels (`KC`), several column panels and channel tiles.
#[test]
fn larger_shapes_match_the_naive_backward() {
    let mut rng = Rng(0x51_7cc1_b727_220a);
    let mut done = 0;
    while done < 40 {
        if let Some(c) = random_case(&mut rng, true) {
            check_against_naive(&c, &mut rng);
            done += 1;
        }
    }
}

/// Channel counts per group that are multiples of `NR` at horizontal stride 1: gradWeight packs those panels
/// with vector loads and transposes (a panel is `NR` channels at one tap), tails and pads element by element.
#[test]
fn channel_multiples_of_nr_match_the_naive_backward() {
    let mut rng = Rng(0x3c6e_f372_fe94_f82b);
    for i in 0..24 {
        let groups = if i % 4 == 3 { 2 } else { 1 };
        let (cg, mg) = (NR * rng.range(1, 3), rng.range(1, 9));
        let kernel = [rng.range(1, 4), rng.range(1, 4)];
        let dilations = [rng.range(1, 4), rng.range(1, 4)];
        let padding = match i % 3 {
            0 => Padding::SameUpper,
            1 => Padding::Valid,
            _ => Padding::Explicit([rng.below(5), rng.below(5), rng.below(5), rng.below(5)]),
        };
        let shape = ConvShape { in_channels: groups * cg, out_channels: groups * mg, kernel, strides: [rng.range(1, 3), 1], dilations, padding, groups };
        let c = Case { shape, batch: rng.range(1, 2), h: rng.range(3, 14), w: rng.range(5, 30) };
        if c.shape.geometry(c.batch, c.h, c.w).is_ok() {
            check_against_naive(&c, &mut rng);
        }
    }
}

/// `L = sum(dy * conv(x, w, b))` is linear in each argument, so a central difference with a large step is
/// exact up to float32 rounding of the forward: it checks the naive backward (and so the kernels) against
/// the forward's definition, independently of the scatter above.
#[test]
fn gradients_match_finite_differences_of_the_forward() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut done = 0;
    while done < 60 {
        let Some(c) = random_case(&mut rng, false) else { continue };
        let s = c.shape;
        let g = s.geometry(c.batch, c.h, c.w).unwrap();
        let x = rng.vec(g.input_len());
        let w = rng.vec(s.weight_len());
        let b = rng.vec(s.out_channels);
        let dy = rng.vec(g.output_len());
        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            let y = reference::conv(&g, x, w, Some(b), Activation::None, None);
            y.iter().zip(&dy).map(|(a, d)| *a as f64 * *d as f64).sum()
        };
        let (gx, gw, gb) = run(&c, &x, &w, &dy);
        let step = 0.5f32;
        let scale = |grad: &[f32]| grad.iter().fold(1e-3f32, |m, v| m.max(v.abs())) as f64;
        let what = describe(&c);
        for _ in 0..4 {
            let i = rng.below(x.len());
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += step;
            down[i] -= step;
            let fd = (loss(&up, &w, &b) - loss(&down, &w, &b)) / (2.0 * step as f64);
            assert!((fd - gx[i] as f64).abs() / scale(&gx) <= 1e-4, "gradInput[{i}] = {}, difference {fd}, {what}", gx[i]);
            let i = rng.below(w.len());
            let (mut up, mut down) = (w.clone(), w.clone());
            up[i] += step;
            down[i] -= step;
            let fd = (loss(&x, &up, &b) - loss(&x, &down, &b)) / (2.0 * step as f64);
            assert!((fd - gw[i] as f64).abs() / scale(&gw) <= 1e-4, "gradWeight[{i}] = {}, difference {fd}, {what}", gw[i]);
            let i = rng.below(b.len());
            let (mut up, mut down) = (b.clone(), b.clone());
            up[i] += step;
            down[i] -= step;
            let fd = (loss(&x, &w, &up) - loss(&x, &w, &down)) / (2.0 * step as f64);
            assert!((fd - gb[i] as f64).abs() / scale(&gb) <= 1e-4, "gradBias[{i}] = {}, difference {fd}, {what}", gb[i]);
        }
        done += 1;
    }
}

#[test]
fn a_skipped_gradient_is_not_computed_and_the_others_still_are() {
    let c = Case {
        shape: ConvShape { in_channels: 2, out_channels: 3, kernel: [3, 3], strides: [2, 1], dilations: [1, 2], padding: Padding::SameUpper, groups: 1 },
        batch: 1,
        h: 6,
        w: 5,
    };
    let mut rng = Rng(7);
    let g = c.shape.geometry(1, 6, 5).unwrap();
    let (x, w, dy) = (rng.vec(g.input_len()), rng.vec(c.shape.weight_len()), rng.vec(g.output_len()));
    let mut gw = vec![f32::NAN; w.len()];
    conv_backward(&c.shape, 1, 6, 5, &x, &w, &dy, ConvGradients { input: None, weights: Some(&mut gw), bias: None }).unwrap();
    close("gradWeight", &gw, &naive_backward(&g, &x, &w, &dy).weights, "weights only");
}

#[test]
fn wrong_lengths_are_errors_and_nothing_is_written() {
    let shape = ConvShape { in_channels: 2, out_channels: 4, kernel: [3, 3], strides: [1, 1], dilations: [2, 2], padding: Padding::Valid, groups: 2 };
    let g = shape.geometry(1, 7, 7).unwrap();
    let (x, w, dy) = (vec![0.5; g.input_len()], vec![0.5; shape.weight_len()], vec![0.5; g.output_len()]);
    let mut gx = vec![9.0; g.input_len()];
    let mut short = vec![9.0; 3];
    let run = |x: &[f32], w: &[f32], dy: &[f32], gx: &mut [f32], gb: &mut [f32]| {
        conv_backward(&shape, 1, 7, 7, x, w, dy, ConvGradients { input: Some(gx), weights: None, bias: Some(gb) })
    };
    assert_eq!(run(&x, &w, &dy, &mut gx, &mut short).unwrap_err(), Status::BiasLengthMismatch);
    assert!(gx.iter().all(|&v| v == 9.0));
    let mut gb = vec![0.0; 4];
    assert_eq!(run(&x[1..], &w, &dy, &mut gx, &mut gb).unwrap_err(), Status::InputLengthMismatch);
    assert_eq!(run(&x, &w[1..], &dy, &mut gx, &mut gb).unwrap_err(), Status::WeightLengthMismatch);
    assert_eq!(run(&x, &w, &dy[1..], &mut gx, &mut gb).unwrap_err(), Status::OutputLengthMismatch);
    assert_eq!(run(&x, &w, &dy, &mut gx[1..], &mut gb).unwrap_err(), Status::InputLengthMismatch);
    assert!(gx.iter().all(|&v| v == 9.0));
    // A kernel wider than the padded input has no output, as in the forward.
    assert_eq!(conv_backward(&shape, 1, 4, 4, &x, &w, &dy, ConvGradients { input: None, weights: None, bias: None }).unwrap_err(), Status::OutputBelowOne);
}
