//! Every fast path against the naive reference, on random shapes and on the edge cases that break
//! convolution code: kernel larger than the input, pads larger than the kernel, an output of one pixel,
//! stride and dilation together, groups, 1xN and Nx1 kernels, batch > 1, every activation, residuals.

use alloc::vec::Vec;
use std::format;

use crate::activation::Activation;
use crate::geometry::{ConvShape, Padding};
use crate::plan::{ConvPlan, Method};
use crate::parallel::testing::Threads;
use crate::parallel::SERIAL;
use crate::reference;

use crate::test_rng::Rng;

const ACTIVATIONS: [Activation; 8] = [
    Activation::None,
    Activation::Relu,
    Activation::Clip { min: 0.0, max: 6.0 },
    Activation::Clip { min: -0.5, max: 0.25 },
    Activation::HardSigmoid { alpha: 0.2, beta: 0.5 },
    Activation::HardSwish,
    Activation::Sigmoid,
    Activation::LeakyRelu { alpha: 0.1 },
];

struct Case {
    shape: ConvShape,
    batch: usize,
    height: usize,
    width: usize,
    activation: Activation,
    bias: bool,
    residual: bool,
}

/// Runs `case` through every method that applies and compares with the reference (1e-4 of max |out|).
fn check(case: &Case, rng: &mut Rng) {
    let s = &case.shape;
    let Ok(geom) = s.geometry(case.batch, case.height, case.width) else { return };
    let input = rng.vec(geom.input_len());
    let weights = rng.vec(s.weight_len());
    let bias = case.bias.then(|| rng.vec(s.out_channels));
    let residual = case.residual.then(|| rng.vec(geom.output_len()));
    let want = reference::conv(&geom, &input, &weights, bias.as_deref(), case.activation, residual.as_deref());
    let scale = want.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
    let mut methods = Vec::from([Method::Gemm]);
    if s.channels_per_group() == 1 {
        methods.push(Method::Depthwise);
    }
    if crate::selection::winograd_tile(s).is_some() {
        methods.push(Method::Winograd);
    }
    for method in methods {
        let plan = ConvPlan::with_method(*s, &weights, bias.as_deref(), case.activation, method).unwrap();
        assert_eq!(plan.method(case.batch, case.height, case.width).unwrap(), method);
        let mut got = std::vec![f32::NAN; geom.output_len()];
        plan.run(&input, case.batch, case.height, case.width, &mut got, residual.as_deref(), &SERIAL).unwrap();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let err = (g - w).abs() / scale;
            assert!(
                err <= 1e-4,
                "{}",
                format!("{method:?} {:?} in {}x{}x{}: out[{i}] = {g}, want {w}", s, case.batch, case.height, case.width)
            );
        }
        // Split over threads, the outputs are the same bits.
        for threads in [2, 3] {
            let mut split = std::vec![f32::NAN; geom.output_len()];
            plan.run(&input, case.batch, case.height, case.width, &mut split, residual.as_deref(), &Threads(threads)).unwrap();
            assert!(
                split.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{}",
                format!("{method:?} {:?} on {threads} threads differs from one thread", s)
            );
        }
    }
}

fn random_case(rng: &mut Rng) -> Case {
    let groups = [1, 1, 1, 2, 3, 0][rng.below(6)]; // 0: depthwise
    let (groups, cin_g, mg) = if groups == 0 {
        let c = rng.range(1, 9);
        (c, 1, rng.range(1, 2))
    } else {
        (groups, rng.range(1, 9), rng.range(1, 11))
    };
    let kernel = [rng.range(1, 5), rng.range(1, 5)];
    let padding = match rng.below(5) {
        0 => Padding::SameUpper,
        1 => Padding::SameLower,
        2 => Padding::Valid,
        _ => Padding::Explicit([rng.below(8), rng.below(8), rng.below(8), rng.below(8)]),
    };
    Case {
        shape: ConvShape {
            in_channels: groups * cin_g,
            out_channels: groups * mg,
            kernel,
            strides: [rng.range(1, 3), rng.range(1, 3)],
            dilations: [rng.range(1, 6), rng.range(1, 6)],
            padding,
            groups,
        },
        batch: rng.range(1, 2),
        height: rng.range(1, 20),
        width: rng.range(1, 20),
        activation: ACTIVATIONS[rng.below(ACTIVATIONS.len())],
        bias: rng.below(4) != 0,
        residual: rng.below(4) == 0,
    }
}

#[test]
fn random_shapes_match_the_reference() {
    let mut rng = Rng(0x5eed_a7a0);
    let mut ran = 0;
    while ran < 600 {
        let case = random_case(&mut rng);
        if case.shape.geometry(case.batch, case.height, case.width).is_ok() {
            check(&case, &mut rng);
            ran += 1;
        }
    }
}

fn shape(c: usize, m: usize, k: [usize; 2], s: [usize; 2], d: [usize; 2], p: Padding, g: usize) -> ConvShape {
    ConvShape { in_channels: c, out_channels: m, kernel: k, strides: s, dilations: d, padding: p, groups: g }
}

fn check_shape(shape: ConvShape, batch: usize, h: usize, w: usize) {
    let mut rng = Rng(h as u64 * 131 + w as u64 * 7 + 1);
    for activation in ACTIVATIONS {
        for residual in [false, true] {
            check(&Case { shape, batch, height: h, width: w, activation, bias: true, residual }, &mut rng);
        }
    }
}

#[test]
fn stride_two_stem_convs() {
    // Panels inside one output row read every other input value (packed as vector even lanes), up to the
    // plane's last values; rows of 17 and 20 outputs make panels that wrap rows too.
    check_shape(shape(3, 16, [3, 3], [2, 2], [1, 1], Padding::SameUpper, 1), 1, 32, 32);
    check_shape(shape(3, 8, [3, 3], [2, 2], [1, 1], Padding::SameUpper, 1), 2, 34, 40);
    check_shape(shape(4, 5, [2, 2], [1, 2], [1, 1], Padding::Valid, 1), 1, 6, 33);
}

#[test]
fn kernel_larger_than_input() {
    check_shape(shape(3, 5, [3, 3], [1, 1], [4, 4], Padding::SameUpper, 1), 1, 5, 6);
    check_shape(shape(3, 5, [7, 7], [1, 1], [1, 1], Padding::Explicit([3, 3, 3, 3]), 1), 1, 4, 4);
}

#[test]
fn pads_larger_than_kernel() {
    // Whole rows and columns of output read only padding: they must be bias + activation exactly.
    check_shape(shape(4, 6, [3, 3], [1, 1], [1, 1], Padding::Explicit([9, 2, 5, 11]), 1), 2, 6, 7);
    check_shape(shape(4, 4, [3, 3], [1, 1], [2, 2], Padding::Explicit([9, 2, 5, 11]), 4), 1, 6, 7);
}

#[test]
fn output_of_one_pixel() {
    check_shape(shape(5, 9, [3, 3], [1, 1], [3, 3], Padding::Valid, 1), 1, 7, 7);
    check_shape(shape(5, 9, [3, 3], [4, 4], [1, 1], Padding::Valid, 1), 1, 3, 6);
}

#[test]
fn stride_and_dilation_together() {
    check_shape(shape(6, 7, [3, 3], [2, 2], [2, 2], Padding::Explicit([2, 2, 2, 2]), 1), 1, 17, 19);
    check_shape(shape(6, 6, [3, 3], [2, 3], [3, 2], Padding::SameLower, 6), 1, 17, 19);
}

#[test]
fn groups_between_one_and_depthwise() {
    check_shape(shape(12, 18, [3, 3], [1, 1], [2, 2], Padding::SameUpper, 3), 1, 9, 11);
    check_shape(shape(8, 16, [3, 3], [1, 1], [2, 2], Padding::SameUpper, 8), 1, 9, 11); // multiplier 2
}

#[test]
fn one_by_n_and_n_by_one() {
    check_shape(shape(4, 5, [1, 3], [1, 1], [1, 8], Padding::Explicit([0, 16, 0, 0]), 1), 1, 1, 40); // causal 1-D
    check_shape(shape(4, 5, [5, 1], [1, 1], [3, 1], Padding::SameUpper, 1), 2, 13, 3);
}

#[test]
fn depthwise_common_sizes_with_long_rows() {
    // Rows long enough to use the vector runs, plus tails.
    check_shape(shape(3, 3, [3, 3], [1, 1], [2, 2], Padding::Explicit([2, 2, 2, 2]), 3), 1, 5, 33);
    check_shape(shape(3, 3, [5, 5], [1, 1], [2, 2], Padding::Explicit([4, 4, 4, 4]), 3), 1, 4, 65);
    check_shape(shape(2, 2, [7, 2], [1, 1], [1, 3], Padding::SameUpper, 2), 1, 4, 30);
    // Stride 2 (MobileNet downsampling), with and without dilation, odd and even widths.
    check_shape(shape(3, 3, [3, 3], [2, 2], [1, 1], Padding::Explicit([1, 1, 1, 1]), 3), 1, 9, 65);
    check_shape(shape(2, 2, [5, 5], [2, 2], [2, 2], Padding::SameUpper, 2), 1, 8, 40);
}

#[test]
fn depthwise_every_stride_dilation_and_pad() {
    // Each combination of stride and dilation per axis, padding (none, symmetric, asymmetric, larger than
    // the kernel), the unrolled and the generic kernel sizes, one and two outputs per input channel, and
    // output widths that leave every remainder of a vector and of a run (1 to 41 pixels).
    let mut rng = Rng(0xd3e9);
    let mut ran = 0;
    for kernel in [[3, 3], [5, 5], [2, 3]] {
        for strides in [[1, 1], [2, 2], [1, 2], [2, 1], [3, 3]] {
            for dilations in [[1, 1], [2, 2], [1, 3], [3, 1]] {
                for pads in [[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 1, 3], [6, 5, 7, 4]] {
                    for (i, width) in [1, 6, 13, 37, 41].into_iter().enumerate() {
                        let multiplier = 1 + (ran % 2);
                        let case = Case {
                            shape: shape(2, 2 * multiplier, kernel, strides, dilations, Padding::Explicit(pads), 2),
                            batch: 1,
                            height: 3 + (i * 5 + ran) % 9,
                            width,
                            activation: ACTIVATIONS[ran % ACTIVATIONS.len()],
                            bias: true,
                            residual: ran % 3 == 0,
                        };
                        if case.shape.geometry(1, case.height, width).is_ok() {
                            check(&case, &mut rng);
                            ran += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(ran > 800, "only {ran} cases had an output");
}

#[test]
fn depthwise_tall_planes_and_many_channels() {
    // More than 8 rows with row ends left over (the row-end vectors run 8 rows at a time, then one by one),
    // and channel counts that split unevenly over threads.
    let mut rng = Rng(0x7a11);
    for (shape, h, w) in [
        (shape(19, 19, [3, 3], [1, 1], [2, 2], Padding::Explicit([2, 2, 2, 2]), 19), 33, 33),
        (shape(7, 7, [3, 3], [2, 2], [1, 1], Padding::Explicit([0, 0, 1, 1]), 7), 64, 64),
        (shape(5, 10, [5, 5], [1, 1], [1, 1], Padding::SameUpper, 5), 29, 35),
    ] {
        for (activation, residual) in [(Activation::None, false), (Activation::Clip { min: 0.0, max: 6.0 }, true), (Activation::HardSwish, true)] {
            check(&Case { shape, batch: 2, height: h, width: w, activation, bias: true, residual }, &mut rng);
        }
    }
}

#[test]
fn large_channel_counts_cover_full_tiles_and_blocks() {
    let mut rng = Rng(99);
    let case = Case {
        shape: shape(40, 21, [3, 3], [1, 1], [6, 6], Padding::Explicit([6, 6, 6, 6]), 1),
        batch: 1,
        height: 19,
        width: 23,
        activation: Activation::Relu,
        bias: true,
        residual: false,
    };
    check(&case, &mut rng);
}

#[test]
fn many_input_channels_reduce_in_chunks() {
    // More than 512 multiply-add steps per output: the reduction runs in channel chunks (uneven last chunk),
    // with partial sums carried between them; residual and activation only at the end.
    let mut rng = Rng(7);
    for (shape, h, w) in [
        (shape(150, 10, [3, 3], [1, 1], [4, 4], Padding::Explicit([4, 4, 4, 4]), 1), 19, 23),
        (shape(1100, 6, [1, 1], [1, 1], [1, 1], Padding::Valid, 1), 9, 13),
        (shape(600, 8, [3, 3], [2, 1], [3, 5], Padding::SameUpper, 2), 11, 17),
    ] {
        for (activation, residual) in [(Activation::None, false), (Activation::Relu, true), (Activation::HardSwish, true)] {
            let case = Case { shape, batch: 2, height: h, width: w, activation, bias: true, residual };
            check(&case, &mut rng);
        }
    }
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    use crate::status::Status;
    let s = shape(4, 4, [3, 3], [1, 1], [1, 1], Padding::Valid, 1);
    let w = std::vec![0.0; s.weight_len()];
    assert_eq!(ConvPlan::new(s, &w[1..], None, Activation::None).err(), Some(Status::WeightLengthMismatch));
    assert_eq!(ConvPlan::new(s, &w, Some(&[0.0; 3]), Activation::None).err(), Some(Status::BiasLengthMismatch));
    let bad_groups = shape(4, 4, [3, 3], [1, 1], [1, 1], Padding::Valid, 3);
    assert_eq!(ConvPlan::new(bad_groups, &w, None, Activation::None).err(), Some(Status::GroupsDoNotDivideChannels));
    let plan = ConvPlan::new(s, &w, None, Activation::None).unwrap();
    let mut out = std::vec![0.0; 4];
    assert_eq!(plan.run(&[0.0; 16], 1, 2, 2, &mut out, None, &SERIAL).err(), Some(Status::OutputBelowOne));
    assert_eq!(plan.run(&[0.0; 15], 1, 3, 3, &mut out, None, &SERIAL).err(), Some(Status::InputLengthMismatch));
}

/// Subnormal weights are zero in every method's packed form: with an input of 1e30 a weight of 1e-39 would
/// otherwise add 1e-9, far above the rounding of the other outputs (exactly zero here).
#[test]
fn subnormal_weights_are_flushed_in_every_method() {
    for (groups, methods) in [(1, &[Method::Gemm, Method::Winograd][..]), (4, &[Method::Depthwise][..])] {
        let s = shape(4, 4, [3, 3], [1, 1], [1, 1], Padding::Valid, groups);
        let mut w = std::vec![0.0f32; s.weight_len()];
        for (i, x) in w.iter_mut().enumerate() {
            *x = if i % 2 == 0 { 1e-39 } else { -3e-40 };
        }
        let input = std::vec![1e30f32; 4 * 6 * 6];
        for &method in methods {
            let plan = ConvPlan::with_method(s, &w, None, Activation::None, method).unwrap();
            let mut out = std::vec![1.0f32; 4 * 4 * 4];
            plan.run(&input, 1, 6, 6, &mut out, None, &SERIAL).unwrap();
            assert!(out.iter().all(|&y| y == 0.0), "{method:?}: {:?}", &out[..4]);
        }
    }
}

#[test]
fn adaptive_plans_run_winograd_only_where_it_pays() {
    // A rate-24 3x3 conv: the direct method at the typical 32x32 and 64x64 maps, Winograd on a 129x129 map
    // (each sub-lattice five pixels across instead of one or two).
    let s = shape(64, 64, [3, 3], [1, 1], [24, 24], Padding::Explicit([24; 4]), 1);
    let mut rng = Rng(24);
    let (w, b) = (rng.vec(s.weight_len()), rng.vec(64));
    let mut plan = ConvPlan::new(s, &w, Some(&b), Activation::Relu).unwrap();
    let direct = ConvPlan::with_method(s, &w, Some(&b), Activation::Relu, Method::Gemm).unwrap();
    let winograd = ConvPlan::with_method(s, &w, Some(&b), Activation::Relu, Method::Winograd).unwrap();
    assert_eq!(plan.method(1, 33, 33).unwrap(), Method::Gemm);
    assert_eq!(plan.method(1, 129, 129).unwrap(), Method::Winograd);
    let bytes = plan.prepared_bytes();
    for side in [129, 33, 129] {
        let input = rng.vec(64 * side * side);
        let geom = s.geometry(1, side, side).unwrap();
        plan.fit(&geom).unwrap();
        let expected = if side == 129 { &winograd } else { &direct };
        let mut want = std::vec![0.0f32; geom.output_len()];
        expected.run(&input, 1, side, side, &mut want, None, &SERIAL).unwrap();
        let mut got = std::vec![0.0f32; geom.output_len()];
        plan.run(&input, 1, side, side, &mut got, None, &SERIAL).unwrap();
        assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{side}x{side}: not the bits of the method it names");
    }
    // Winograd's weights were added once, beside the direct packing.
    assert_eq!(plan.prepared_bytes(), bytes + winograd.prepared_bytes() - 64 * 4);
    // A forced method never adapts.
    let mut forced = ConvPlan::with_method(s, &w, Some(&b), Activation::Relu, Method::Gemm).unwrap();
    forced.fit(&s.geometry(1, 129, 129).unwrap()).unwrap();
    assert_eq!(forced.method(1, 129, 129).unwrap(), Method::Gemm);
}
