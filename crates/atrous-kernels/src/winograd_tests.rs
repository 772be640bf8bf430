//! The Winograd convolution against the naive float64 reference and against the direct method: every tile
//! remainder of every tile size, dilations 1 to 24 (sub-lattices of every size, down to none), any padding,
//! large channel counts, inputs of large and small magnitude, every epilogue, and the same bits on any team.

use alloc::vec::Vec;
use std::format;

use crate::activation::Activation;
use crate::conv_run::{ConvTensors, Epilogue};
use crate::geometry::{ConvShape, Geometry, Padding};
use crate::parallel::testing::Threads;
use crate::parallel::{Parallel, SERIAL};
use crate::plan::{ConvPlan, Method};
use crate::reference;
use crate::selection::WinogradTile;
use crate::test_rng::Rng;
use crate::winograd;
use crate::winograd_weights::WinogradWeights;

const TILES: [WinogradTile; 3] = [WinogradTile::F2, WinogradTile::F3, WinogradTile::F4];

fn shape(c: usize, m: usize, d: [usize; 2], padding: Padding) -> ConvShape {
    ConvShape { in_channels: c, out_channels: m, kernel: [3, 3], strides: [1, 1], dilations: d, padding, groups: 1 }
}

struct Data {
    geom: Geometry,
    input: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
    residual: Option<Vec<f32>>,
}

fn data(s: &ConvShape, batch: usize, h: usize, w: usize, scale: f32, residual: bool, rng: &mut Rng) -> Data {
    let geom = s.geometry(batch, h, w).unwrap();
    Data {
        input: rng.vec(geom.input_len()).into_iter().map(|x| x * scale).collect(),
        weights: rng.vec(s.weight_len()),
        bias: rng.vec(s.out_channels).into_iter().map(|x| x * scale).collect(),
        residual: residual.then(|| rng.vec(geom.output_len()).into_iter().map(|x| x * scale).collect()),
        geom,
    }
}

fn run_winograd(s: &ConvShape, d: &Data, tile: WinogradTile, activation: Activation, par: &dyn Parallel) -> Vec<f32> {
    let w = WinogradWeights::pack(s, &d.weights, tile).unwrap();
    let mut out = std::vec![f32::NAN; d.geom.output_len()];
    let epilogue = Epilogue { bias: &d.bias, activation };
    // SAFETY: every buffer has the length `geom` asks for.
    unsafe { winograd::run(&d.geom, &w, &epilogue, ConvTensors { input: &d.input, output: &mut out, residual: d.residual.as_deref() }, par).unwrap() };
    out
}

/// Largest error of `got` against `want`, relative to max |want|.
fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(f32::MIN_POSITIVE, |m, x| m.max(x.abs()));
    got.iter().zip(want).map(|(g, w)| (g - w).abs() / scale).fold(0.0, f32::max)
}

/// Winograd with `tile` against the reference, within 1e-4 of max |y|; returns Winograd's output.
fn check(s: &ConvShape, d: &Data, tile: WinogradTile, activation: Activation) -> Vec<f32> {
    let want = reference::conv(&d.geom, &d.input, &d.weights, Some(&d.bias), activation, d.residual.as_deref());
    let got = run_winograd(s, d, tile, activation, &SERIAL);
    let err = relative_error(&got, &want);
    let g = &d.geom;
    assert!(
        err <= 1e-4,
        "{}",
        format!("{tile:?} {s:?} on {}x{}x{}: error {err:e} of max |y|", g.batch, g.height, g.width)
    );
    got
}

#[test]
fn every_tile_remainder_of_every_tile_size() {
    // Output sizes 1 to 2m + 1 along each axis, at dilations 1 and 2 (each sub-lattice its own remainder).
    let mut rng = Rng(0x3a3a_0001);
    for tile in TILES {
        let m = tile.outputs();
        for dil in [[1, 1], [2, 2], [1, 3]] {
            for oh in 1..=2 * m + 1 {
                for ow in [1, m, m + 1, 2 * m + 1] {
                    let s = shape(3, 5, dil, Padding::SameUpper);
                    let d = data(&s, 1, oh * dil[0], ow * dil[1], 1.0, false, &mut rng);
                    check(&s, &d, tile, Activation::None);
                }
            }
        }
    }
}

#[test]
fn dilations_1_to_24_with_any_padding() {
    let mut rng = Rng(0x3a3a_0002);
    for rate in 1..=24 {
        for (padding, h, w) in [
            (Padding::Explicit([rate, rate, rate, rate]), 33, 29),
            (Padding::Explicit([0, rate + 3, 2 * rate, 1]), 2 * rate + 9, rate + 17),
            (Padding::Valid, 2 * rate + 5, 2 * rate + 7),
            (Padding::SameLower, 13, 40),
        ] {
            let s = shape(4, 6, [rate, rate], padding);
            let d = data(&s, 1, h, w, 1.0, false, &mut rng);
            for tile in TILES {
                check(&s, &d, tile, Activation::None);
            }
        }
    }
    // Different dilations along the two axes, pads larger than the kernel's reach.
    let s = shape(5, 7, [2, 5], Padding::Explicit([9, 2, 5, 11]));
    let d = data(&s, 2, 11, 13, 1.0, true, &mut rng);
    for tile in TILES {
        check(&s, &d, tile, Activation::Relu);
    }
}

#[test]
fn large_channel_counts_and_magnitudes_stay_within_1e4_of_max() {
    let mut rng = Rng(0x3a3a_0003);
    for (c, m, h, w, rate) in [(1024, 8, 9, 11, 1), (1024, 6, 14, 13, 2), (24, 1024, 7, 9, 1), (256, 256, 12, 12, 12)] {
        let s = shape(c, m, [rate, rate], Padding::Explicit([rate, rate, rate, rate]));
        for scale in [1.0, 1e3, 1e-3] {
            let d = data(&s, 1, h, w, scale, scale == 1.0, &mut rng);
            for tile in TILES {
                check(&s, &d, tile, Activation::None);
            }
        }
    }
}

#[test]
fn every_epilogue_and_batches() {
    let mut rng = Rng(0x3a3a_0004);
    let activations = [
        Activation::None,
        Activation::Relu,
        Activation::Clip { min: 0.0, max: 6.0 },
        Activation::HardSwish,
        Activation::Sigmoid,
        Activation::LeakyRelu { alpha: 0.1 },
    ];
    for tile in TILES {
        for activation in activations {
            for residual in [false, true] {
                let s = shape(6, 9, [2, 2], Padding::SameUpper);
                let d = data(&s, 3, 10, 13, 1.0, residual, &mut rng);
                check(&s, &d, tile, activation);
            }
        }
    }
}

#[test]
fn the_same_bits_on_any_team() {
    let mut rng = Rng(0x3a3a_0005);
    // Many blocks (split by tiles), few blocks with many channel tiles (split by channels too), a
    // reduction in several chunks, and weights past the cache (over 4 MB transformed: the large blocks)
    // in three chunks, in blocks of 12 panels and a short last one (F4).
    for (c, m, h, w, rate) in [(8, 12, 40, 37, 1), (16, 64, 9, 9, 4), (150, 20, 11, 13, 2), (520, 64, 30, 29, 3)] {
        let s = shape(c, m, [rate, rate], Padding::SameUpper);
        let d = data(&s, 2, h, w, 1.0, true, &mut rng);
        for tile in TILES {
            let one = check(&s, &d, tile, Activation::Relu);
            for threads in [2, 3] {
                let split = run_winograd(&s, &d, tile, Activation::Relu, &Threads(threads));
                assert!(
                    split.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{}",
                    format!("{tile:?} {s:?} on {threads} threads differs from one thread")
                );
            }
        }
    }
}

#[test]
fn plans_pick_winograd_where_the_model_says_and_agree_with_the_direct_method() {
    let mut rng = Rng(0x3a3a_0006);
    let s = shape(64, 64, [2, 2], Padding::Explicit([2, 2, 2, 2]));
    let d = data(&s, 1, 48, 48, 1.0, true, &mut rng);
    let auto = ConvPlan::new(s, &d.weights, Some(&d.bias), Activation::Relu).unwrap();
    assert_eq!(auto.method(1, 48, 48).unwrap(), Method::Winograd);
    let direct = ConvPlan::with_method(s, &d.weights, Some(&d.bias), Activation::Relu, Method::Gemm).unwrap();
    assert_eq!(direct.method(1, 48, 48).unwrap(), Method::Gemm);
    let forced = ConvPlan::with_method(s, &d.weights, Some(&d.bias), Activation::Relu, Method::Winograd).unwrap();
    let mut a = std::vec![0.0; d.geom.output_len()];
    let mut b = a.clone();
    let mut f = a.clone();
    auto.run(&d.input, 1, 48, 48, &mut a, d.residual.as_deref(), &SERIAL).unwrap();
    direct.run(&d.input, 1, 48, 48, &mut b, d.residual.as_deref(), &SERIAL).unwrap();
    forced.run(&d.input, 1, 48, 48, &mut f, d.residual.as_deref(), &SERIAL).unwrap();
    assert!(relative_error(&a, &b) <= 1e-5, "Winograd against direct: {:e}", relative_error(&a, &b));
    assert!(a.iter().zip(&f).all(|(x, y)| x.to_bits() == y.to_bits()));
    // One method's weights per plan: the same plan runs a one-pixel output with Winograd too.
    assert_eq!(auto.method(1, 1, 1).unwrap(), Method::Winograd);
    assert!(auto.prepared_bytes() < forced.prepared_bytes() + direct.prepared_bytes());
    // At ASPP rates on small maps the direct method (which skips padding taps) is chosen, and only it packed.
    let aspp = shape(64, 64, [24, 24], Padding::Explicit([24, 24, 24, 24]));
    let w = std::vec![0.5; aspp.weight_len()];
    let plan = ConvPlan::new(aspp, &w, None, Activation::None).unwrap();
    assert_eq!(plan.method(1, 33, 33).unwrap(), Method::Gemm);
    assert_eq!(plan.winograd_tile(), None);
    // Shapes Winograd cannot run never get its weights, and forcing it is an error.
    for bad in [
        ConvShape { strides: [2, 2], ..s },
        ConvShape { kernel: [3, 5], ..s },
        ConvShape { groups: 2, ..s },
    ] {
        let w = std::vec![0.0; bad.weight_len()];
        assert_eq!(ConvPlan::new(bad, &w, None, Activation::None).unwrap().winograd_tile(), None);
        assert_eq!(
            ConvPlan::with_method(bad, &w, None, Activation::None, Method::Winograd).err(),
            Some(crate::status::Status::Unsupported)
        );
    }
}
