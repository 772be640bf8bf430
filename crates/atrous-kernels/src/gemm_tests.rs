//! The GEMM against a naive float64 reference on random shapes: size-1 and tail dims, K = 0, K over
//! several chunks, transposed and padded strides, broadcast batch dims, every kind of C broadcast,
//! alpha/beta, bias, activations, packed and unpacked B; and bit-identity of any split of the output.

use alloc::vec::Vec;
use std::format;
use std::string::String;

use crate::activation::Activation;
use crate::gemm::{BOperand, Gemm, Operand, PackedB, MAX_BATCH_DIMS};

use crate::parallel::testing::Threads;
use crate::parallel::SERIAL;
use crate::test_rng::Rng;

const ACTIVATIONS: [Activation; 5] = [
    Activation::None,
    Activation::Relu,
    Activation::Clip { min: -0.5, max: 0.25 },
    Activation::Sigmoid,
    Activation::LeakyRelu { alpha: 0.1 },
];

/// A strided operand over its own storage: `rows x cols` per batch, batch dims broadcast where `shared`.
struct Stored {
    data: Vec<f32>,
    op: Operand,
}

impl Stored {
    /// `kind`: 0 row-major, 1 transposed (column-major), 2 row-major with padded rows.
    fn new(rng: &mut Rng, batch: &[usize], shared: &[bool], rows: usize, cols: usize, kind: usize) -> Stored {
        let (rs, cs, len) = match kind {
            0 => (cols, 1, rows * cols),
            1 => (1, rows, rows * cols),
            _ => (cols + 3, 1, rows * (cols + 3)),
        };
        let mut strides = [0usize; MAX_BATCH_DIMS];
        let mut size = len.max(1);
        for d in (0..batch.len()).rev() {
            if !shared[d] {
                strides[d] = size;
                size *= batch[d];
            }
        }
        let data = rng.vec(size);
        let op = Operand::new(data.as_ptr(), rs, cs).with_batch_strides(&strides[..batch.len()]);
        Stored { data, op }
    }

    fn at(&self, batch_offset: usize, i: usize, j: usize) -> f64 {
        self.data[batch_offset + i * self.op.row_stride + j * self.op.col_stride] as f64
    }
}

fn batch_offset(op: &Operand, batch: &[usize], mut index: usize) -> usize {
    let mut off = 0;
    for d in (0..batch.len()).rev() {
        off += (index % batch[d]) * op.batch_strides[d];
        index /= batch[d];
    }
    off
}

#[derive(Clone, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    batch: Vec<usize>,
    a_kind: usize,
    b_kind: usize,
    /// 0 none, 1 [m, n], 2 [n], 3 [1], 4 [m, 1]
    c_kind: usize,
    packed: bool,
    bias: bool,
    alpha: f32,
    beta: f32,
    activation: Activation,
}

fn check(case: &Case, rng: &mut Rng) -> String {
    let (m, n, k, batch) = (case.m, case.n, case.k, &case.batch[..]);
    let count: usize = batch.iter().product();
    let shared = |rng: &mut Rng| (0..batch.len()).map(|_| rng.below(3) == 0).collect::<Vec<_>>();
    let a_shared = shared(rng);
    let a = Stored::new(rng, batch, &a_shared, m, k, case.a_kind);
    // A packed B is one matrix for every batch.
    let b_shared = if case.packed { std::vec![true; batch.len()] } else { shared(rng) };
    let b = Stored::new(rng, batch, &b_shared, k, n, case.b_kind);
    let c_shared = shared(rng);
    let c = match case.c_kind {
        0 => None,
        1 => Some(Stored::new(rng, batch, &c_shared, m, n, 0)),
        kind => {
            let mut s = Stored::new(rng, batch, &c_shared, m.max(1), n.max(1), 0);
            (s.op.row_stride, s.op.col_stride) = match kind {
                2 => (0, 1),
                3 => (0, 0),
                _ => (s.op.row_stride, 0),
            };
            Some(s)
        }
    };
    let bias = case.bias.then(|| rng.vec(n));
    let packed = case.packed.then(|| unsafe { PackedB::pack(&b.op, k, n).unwrap() });
    let call = Gemm {
        m,
        n,
        k,
        batch,
        a: a.op,
        b: match &packed {
            Some(p) => BOperand::Packed(p),
            None => BOperand::Strided(b.op),
        },
        c: c.as_ref().map(|c| c.op),
        alpha: case.alpha,
        beta: case.beta,
        bias: bias.as_ref().map(|b| b.as_ptr()),
        activation: case.activation,
    };
    let len = call.output_len().unwrap();
    assert_eq!(len, count * m * n);
    let mut got = std::vec![f32::NAN; len];
    unsafe { call.run(got.as_mut_ptr(), &SERIAL).unwrap() };
    // Split over threads (by batch matrix, column block and row group), the outputs are the same bits.
    for threads in [2, 3] {
        let mut split = std::vec![f32::NAN; len];
        unsafe { call.run(split.as_mut_ptr(), &Threads(threads)).unwrap() };
        assert!(split.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads differ from one: {case:?}");
    }

    let mut want = std::vec![0.0f32; len];
    // Errors are relative to the largest value before the activation, which may squash it.
    let mut scale = 1e-3f64;
    for index in 0..count {
        let (oa, ob) = (batch_offset(&a.op, batch, index), batch_offset(&b.op, batch, index));
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0f64;
                for t in 0..k {
                    sum += a.at(oa, i, t) * b.at(ob, t, j);
                }
                let mut x = case.alpha as f64 * sum;
                if let Some(c) = &c {
                    x += case.beta as f64 * c.at(batch_offset(&c.op, batch, index), i, j);
                }
                if let Some(b) = &bias {
                    x += b[j] as f64;
                }
                scale = scale.max(x.abs());
                want[(index * m + i) * n + j] = case.activation.apply_scalar(x as f32);
            }
        }
    }
    let scale = scale as f32;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() / scale <= 2e-5, "element {i}: got {g}, want {w} (scale {scale})");
    }
    format!("{m}x{n}x{k} batch {batch:?}")
}

#[test]
fn random_shapes_match_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for trial in 0..400 {
        let big = trial % 10 == 0;
        let dim = |rng: &mut Rng, hi| if rng.below(5) == 0 { 1 } else { rng.range(1, hi) };
        let (m, n) = (dim(&mut rng, if big { 40 } else { 19 }), dim(&mut rng, if big { 40 } else { 27 }));
        // K over several chunks now and then, and K = 0.
        let k = match rng.below(12) {
            0 => 0,
            1 => rng.range(257, 1100),
            _ => dim(&mut rng, 70),
        };
        let rank = rng.below(MAX_BATCH_DIMS + 1);
        let batch = (0..rank).map(|_| rng.range(1, 3)).collect();
        let case = Case {
            m,
            n,
            k,
            batch,
            a_kind: rng.below(3),
            b_kind: rng.below(3),
            c_kind: rng.below(5),
            packed: rng.coin(),
            bias: rng.coin(),
            alpha: if rng.coin() { 1.0 } else { rng.unit() * 2.0 },
            beta: if rng.coin() { 1.0 } else { rng.unit() * 2.0 },
            activation: ACTIVATIONS[rng.below(ACTIVATIONS.len())],
        };
        check(&case, &mut rng);
    }
}

#[test]
fn edge_cases() {
    let mut rng = Rng(7);
    let base = Case {
        m: 1,
        n: 1,
        k: 1,
        batch: Vec::new(),
        a_kind: 0,
        b_kind: 0,
        c_kind: 0,
        packed: false,
        bias: false,
        alpha: 1.0,
        beta: 1.0,
        activation: Activation::None,
    };
    // K = 0: the output is beta * C + bias, activated.
    for packed in [false, true] {
        for c_kind in 0..5 {
            check(&Case { m: 5, n: 9, k: 0, c_kind, packed, bias: true, beta: 0.5, activation: Activation::Relu, ..base.clone() }, &mut rng);
        }
    }
    // Single rows, columns, steps; exact tile multiples; long K (several chunks) with tails.
    for (m, n, k) in [(1, 1, 1), (1, 64, 33), (64, 1, 33), (4, 8, 256), (8, 16, 512), (5, 9, 513), (3, 7, 1000), (2, 9, 1500), (33, 65, 1)] {
        for packed in [false, true] {
            check(&Case { m, n, k, packed, c_kind: 1, bias: true, alpha: 0.75, beta: -1.5, ..base.clone() }, &mut rng);
            check(&Case { m, n, k, packed, a_kind: 1, b_kind: 1, ..base.clone() }, &mut rng);
        }
    }
    // Attention-shaped: a batch of Q K^T (B transposed), then broadcast B across a batch (packed once).
    check(&Case { m: 37, n: 29, k: 16, batch: std::vec![2, 3], b_kind: 1, ..base.clone() }, &mut rng);
    check(&Case { m: 17, n: 21, k: 300, batch: std::vec![3], packed: true, ..base.clone() }, &mut rng);
}

#[test]
fn empty_outputs_and_bad_calls() {
    let data = [1.0f32; 16];
    let op = Operand::new(data.as_ptr(), 4, 1);
    let packed = unsafe { PackedB::pack(&op, 4, 4).unwrap() };
    let call = |m, n, k, batch: &'static [usize], b| Gemm {
        m,
        n,
        k,
        batch,
        a: op,
        b,
        c: None,
        alpha: 1.0,
        beta: 1.0,
        bias: None,
        activation: Activation::None,
    };
    let mut out = [f32::NAN; 16];
    for (m, n, batch) in [(0, 4, &[][..]), (4, 0, &[][..]), (4, 4, &[2, 0][..])] {
        unsafe { call(m, n, 4, batch, BOperand::Strided(op)).run(out.as_mut_ptr(), &SERIAL).unwrap() };
    }
    assert!(out.iter().all(|x| x.is_nan()), "an empty product writes nothing");
    let err = unsafe { call(4, 4, 3, &[], BOperand::Packed(&packed)).run(out.as_mut_ptr(), &SERIAL) };
    assert_eq!(err, Err(crate::Status::ShapeMismatch));
    let err = unsafe { call(4, 4, 4, &[1, 1, 1, 1, 1], BOperand::Strided(op)).run(out.as_mut_ptr(), &SERIAL) };
    assert_eq!(err, Err(crate::Status::InvalidDescriptor));
    assert_eq!(call(usize::MAX / 2, 3, 4, &[], BOperand::Strided(op)).output_len(), Err(crate::Status::SizeOverflow));
}

/// Any block of rows or columns computed on its own gives exactly the bits of the whole product: the
/// reduction order of an element does not depend on where tiles, blocks or a thread split fall.
#[test]
fn splits_are_bit_identical() {
    let mut rng = Rng(99);
    let (m, n, k) = (23, 45, 1300);
    let a = rng.vec(m * k);
    let b = rng.vec(k * n);
    let c = rng.vec(m * n);
    let bias = rng.vec(n);
    let run = |rows: core::ops::Range<usize>, cols: core::ops::Range<usize>, packed: bool, plain: bool| {
        let (mm, nn) = (rows.len(), cols.len());
        let bop = Operand::new(b[cols.start..].as_ptr(), n, 1);
        let p = unsafe { PackedB::pack(&bop, k, nn).unwrap() };
        let call = Gemm {
            m: mm,
            n: nn,
            k,
            batch: &[],
            a: Operand::new(a[rows.start * k..].as_ptr(), k, 1),
            b: if packed { BOperand::Packed(&p) } else { BOperand::Strided(bop) },
            // Plain products take the tiles-from-zero path for full tiles, the epilogue path for edges.
            c: (!plain).then(|| Operand::new(c[rows.start * n + cols.start..].as_ptr(), n, 1)),
            alpha: if plain { 1.0 } else { 0.5 },
            beta: 2.0,
            bias: (!plain).then(|| bias[cols.start..].as_ptr()),
            activation: if plain { Activation::None } else { Activation::Sigmoid },
        };
        let mut out = std::vec![0.0f32; mm * nn];
        unsafe { call.run(out.as_mut_ptr(), &SERIAL).unwrap() };
        out
    };
    for plain in [false, true] {
        let whole = run(0..m, 0..n, false, plain);
        assert_eq!(whole, run(0..m, 0..n, true, plain));
        for (rows, cols) in [(3..17, 0..n), (0..m, 5..38), (1..2, 13..14), (10..23, 7..45)] {
            for packed in [false, true] {
                let part = run(rows.clone(), cols.clone(), packed, plain);
                for (i, r) in rows.clone().enumerate() {
                    for (j, col) in cols.clone().enumerate() {
                        assert_eq!(part[i * cols.len() + j].to_bits(), whole[r * n + col].to_bits(), "({r}, {col})");
                    }
                }
            }
        }
    }
}
