//! The layout kernels against plain index loops: random permutations of rank 1-6, slices with negative
//! steps, broadcasts, copies into a slab of a larger tensor, empty and size-1 axes, every pad mode.

use alloc::vec::Vec;
use std::vec;

use super::*;
use crate::conversion::*;
use crate::pad::*;

use crate::test_rng::Rng;

fn contiguous(dims: &[usize]) -> Vec<isize> {
    let mut s = vec![1isize; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1] as isize;
    }
    s
}

/// Every multi-index of `dims` in row-major order.
fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let total: usize = dims.iter().product();
    (0..total)
        .map(|mut flat| {
            let mut idx = vec![0; dims.len()];
            for a in (0..dims.len()).rev() {
                idx[a] = flat % dims[a];
                flat /= dims[a];
            }
            idx
        })
        .collect()
}

fn offset(idx: &[usize], strides: &[isize], origin: usize) -> usize {
    (origin as isize + idx.iter().zip(strides).map(|(&i, &s)| i as isize * s).sum::<isize>()) as usize
}

/// Runs the kernel and the naive loop on the same buffers and compares the whole destination.
fn check_copy(src: &[f32], so: usize, dst_len: usize, d_o: usize, dims: &[usize], ss: &[isize], ds: &[isize]) {
    let mut want = vec![f32::NAN; dst_len];
    for idx in indices(dims) {
        want[offset(&idx, ds, d_o)] = src[offset(&idx, ss, so)];
    }
    let mut got = vec![f32::NAN; dst_len];
    copy_strided(src, so, &mut got, d_o, dims, ss, ds).unwrap();
    for i in 0..dst_len {
        assert!(got[i].to_bits() == want[i].to_bits(), "dims {dims:?} src {ss:?}@{so} dst {ds:?}@{d_o}: [{i}] = {}, want {}", got[i], want[i]);
    }
}

fn random_dims(rng: &mut Rng, rank: usize) -> Vec<usize> {
    // Total kept small for high ranks; rank 2-3 get planes large enough for several tiles and tails.
    let hi = match rank {
        1 => 70,
        2 => 45,
        3 => 13,
        4 => 7,
        _ => 4,
    };
    (0..rank).map(|_| if rng.below(8) == 0 { 1 } else { rng.range(1, hi) }).collect()
}

#[test]
fn transposes_of_every_rank_match_the_index_loop() {
    let mut rng = Rng(0x7a05_e0);
    for _ in 0..400 {
        let rank = rng.range(1, MAX_RANK);
        let dims = random_dims(&mut rng, rank);
        let src = rng.vec(dims.iter().product());
        let perm = rng.perm(rank);
        // Output [dims[perm[0]], ...], contiguous; the source read through permuted strides.
        let in_strides = contiguous(&dims);
        let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
        let ss: Vec<isize> = perm.iter().map(|&p| in_strides[p]).collect();
        check_copy(&src, 0, src.len(), 0, &out_dims, &ss, &contiguous(&out_dims));
        // The same transpose written as a scatter (destination permuted, source contiguous).
        let out_strides = contiguous(&out_dims);
        let mut ds = vec![0isize; rank];
        for (i, &p) in perm.iter().enumerate() {
            ds[p] = out_strides[i];
        }
        check_copy(&src, 0, src.len(), 0, &dims, &in_strides, &ds);
    }
}

#[test]
fn large_plane_transpose_uses_tiles_and_tails() {
    let mut rng = Rng(5);
    for (h, w) in [(64, 64), (67, 129), (4, 300), (300, 5), (33, 31)] {
        let src = rng.vec(h * w);
        check_copy(&src, 0, h * w, 0, &[w, h], &[1, w as isize], &[h as isize, 1]);
        // Inside a batch of channels: [N, C, H, W] -> [N, H, W, C] (NCHW to NHWC).
        let (n, c) = (2, 3);
        let src = rng.vec(n * c * h * w);
        let s = contiguous(&[n, c, h, w]);
        let od = [n, h, w, c];
        check_copy(&src, 0, src.len(), 0, &od, &[s[0], s[2], s[3], s[1]], &contiguous(&od));
    }
}

#[test]
fn slices_with_negative_steps_and_broadcasts_match() {
    let mut rng = Rng(0xb0ad);
    for _ in 0..400 {
        let rank = rng.range(1, MAX_RANK);
        let full = random_dims(&mut rng, rank);
        let src = rng.vec(full.iter().product());
        let fs = contiguous(&full);
        let (mut dims, mut ss, mut origin) = (vec![0; rank], vec![0isize; rank], 0usize);
        for a in 0..rank {
            match rng.below(4) {
                0 => {
                    // Broadcast: one source element along the whole axis (Expand).
                    let at = rng.below(full[a]);
                    origin += at * fs[a] as usize;
                    dims[a] = rng.range(1, 6);
                    ss[a] = 0;
                }
                _ => {
                    let step = rng.range(1, 3) as isize * if rng.below(2) == 0 { -1 } else { 1 };
                    let start = rng.below(full[a]);
                    // Elements reachable from `start` with `step` inside [0, full).
                    let room = if step > 0 { (full[a] - 1 - start) / step as usize } else { start / (-step) as usize };
                    dims[a] = rng.range(0, room + 1).max(if rng.below(10) == 0 { 0 } else { 1 });
                    origin += start * fs[a] as usize;
                    ss[a] = step * fs[a];
                }
            }
        }
        let out_len: usize = dims.iter().product();
        if out_len == 0 {
            // Nothing is read or written, and nothing may be touched.
            let mut dst = vec![7.0f32; 3];
            copy_strided(&src, origin, &mut dst, 1, &dims, &ss, &contiguous(&dims)).unwrap();
            assert_eq!(dst, [7.0; 3]);
            continue;
        }
        check_copy(&src, origin, out_len, 0, &dims, &ss, &contiguous(&dims));
    }
}

#[test]
fn copies_into_a_slab_of_a_larger_tensor() {
    // Concat along axis `a`: each input writes its slab of the output, the output's strides throughout.
    let mut rng = Rng(77);
    for _ in 0..200 {
        let rank = rng.range(1, 5);
        let mut dims = random_dims(&mut rng, rank);
        let axis = rng.below(rank);
        let before = rng.range(0, 4);
        let after = rng.range(0, 4);
        let mut out_dims = dims.clone();
        out_dims[axis] += before + after;
        let ds = contiguous(&out_dims);
        let src = rng.vec(dims.iter().product());
        check_copy(&src, 0, out_dims.iter().product(), before * ds[axis] as usize, &dims, &contiguous(&dims), &ds);
        // Split: the reverse, reading a slab.
        let big = rng.vec(out_dims.iter().product());
        check_copy(&big, before * ds[axis] as usize, src.len(), 0, &dims, &ds, &contiguous(&dims));
        dims.clear();
    }
}

#[test]
fn copy_rejects_reaches_outside_the_slices_and_bad_ranks() {
    let src = [1.0f32; 12];
    let mut dst = [0.0f32; 12];
    assert_eq!(copy_strided(&src, 0, &mut dst, 0, &[3, 4], &[4, 1], &[4, 1]), Ok(()));
    assert_eq!(copy_strided(&src, 1, &mut dst, 0, &[3, 4], &[4, 1], &[4, 1]), Err(Status::InputLengthMismatch));
    assert_eq!(copy_strided(&src, 0, &mut dst, 0, &[3, 4], &[-4, 1], &[4, 1]), Err(Status::InputLengthMismatch));
    assert_eq!(copy_strided(&src, 8, &mut dst, 0, &[3, 4], &[-4, 1], &[4, 1]), Ok(()));
    assert_eq!(copy_strided(&src, 0, &mut dst, 1, &[3, 4], &[4, 1], &[4, 1]), Err(Status::OutputLengthMismatch));
    assert_eq!(copy_strided(&src, 0, &mut dst, 0, &[1; 7], &[0; 7], &[0; 7]), Err(Status::InvalidDescriptor));
    assert_eq!(copy_strided(&src, 0, &mut dst, 0, &[3, 4], &[4], &[4, 1]), Err(Status::InvalidDescriptor));
    assert_eq!(copy_strided(&src, 0, &mut dst, 0, &[usize::MAX, 2], &[isize::MAX, 1], &[1, 1]), Err(Status::SizeOverflow));
    // Rank 0 is one element.
    copy_strided(&[5.0], 0, &mut dst, 3, &[], &[], &[]).unwrap();
    assert_eq!(dst[3], 5.0);
}

fn pad_reference(src: &[f32], dims: &[usize], begin: &[usize], end: &[usize], mode: PadMode, value: f32) -> Vec<f32> {
    let out_dims: Vec<usize> = (0..dims.len()).map(|a| dims[a] + begin[a] + end[a]).collect();
    let ss = contiguous(dims);
    indices(&out_dims)
        .into_iter()
        .map(|idx| {
            let mut at = 0isize;
            for a in 0..dims.len() {
                let i = idx[a] as isize - begin[a] as isize;
                let n = dims[a] as isize;
                let j = if (0..n).contains(&i) {
                    i
                } else {
                    match mode {
                        PadMode::Constant => return value,
                        PadMode::Edge => i.clamp(0, n - 1),
                        PadMode::Reflect => {
                            if i < 0 {
                                -i
                            } else {
                                2 * (n - 1) - i
                            }
                        }
                    }
                };
                at += j * ss[a];
            }
            src[at as usize]
        })
        .collect()
}

#[test]
fn pads_of_every_mode_match_the_index_loop() {
    let mut rng = Rng(0x9add);
    for trial in 0..600 {
        let rank = rng.range(1, MAX_RANK);
        let mode = [PadMode::Constant, PadMode::Reflect, PadMode::Edge][trial % 3];
        let mut dims = random_dims(&mut rng, rank);
        if rank > 4 {
            dims.iter_mut().for_each(|d| *d = (*d).min(3));
        }
        if mode == PadMode::Constant && rng.below(10) == 0 {
            dims[rng.below(rank)] = 0;
        }
        let pick = |rng: &mut Rng, n: usize| {
            if rng.below(3) == 0 {
                0
            } else {
                match mode {
                    PadMode::Reflect => rng.below(n.max(1)),
                    _ => rng.range(0, 5),
                }
            }
        };
        let begin: Vec<usize> = dims.iter().map(|&n| pick(&mut rng, n)).collect();
        let end: Vec<usize> = dims.iter().map(|&n| pick(&mut rng, n)).collect();
        let src = rng.vec(dims.iter().product());
        let value = rng.vec(1)[0];
        let want = pad_reference(&src, &dims, &begin, &end, mode, value);
        let mut got = vec![f32::NAN; want.len()];
        pad(&src, &mut got, &dims, &begin, &end, mode, value).unwrap();
        for i in 0..want.len() {
            assert!(got[i].to_bits() == want[i].to_bits(), "{mode:?} dims {dims:?} begin {begin:?} end {end:?}: [{i}] = {}, want {}", got[i], want[i]);
        }
    }
}

#[test]
fn pad_rejects_what_its_mode_cannot_fill() {
    let src = [1.0f32, 2.0, 3.0];
    let mut dst = [0.0f32; 8];
    assert_eq!(pad(&src, &mut dst[..6], &[3], &[2], &[1], PadMode::Reflect, 0.0), Ok(()));
    assert_eq!(dst[..6], [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
    assert_eq!(pad(&src, &mut dst[..7], &[3], &[3], &[1], PadMode::Reflect, 0.0), Err(Status::ShapeMismatch));
    assert_eq!(pad(&[], &mut dst[..2], &[0], &[1], &[1], PadMode::Edge, 0.0), Err(Status::ShapeMismatch));
    assert_eq!(pad(&[], &mut dst[..2], &[0], &[1], &[1], PadMode::Constant, 4.0), Ok(()));
    assert_eq!(dst[..2], [4.0, 4.0]);
    assert_eq!(pad(&src, &mut dst[..5], &[3], &[2], &[1], PadMode::Edge, 0.0), Err(Status::OutputLengthMismatch));
    assert_eq!(pad(&src[..2], &mut dst[..6], &[3], &[2], &[1], PadMode::Edge, 0.0), Err(Status::InputLengthMismatch));
    assert_eq!(pad(&src, &mut dst[..6], &[3], &[2, 0], &[1], PadMode::Edge, 0.0), Err(Status::InvalidDescriptor));
}

#[test]
fn gather_matches_the_index_loop_and_checks_indices() {
    let mut rng = Rng(0x6a7);
    for _ in 0..300 {
        let (outer, axis, inner, count) = (rng.range(0, 5), rng.range(1, 9), rng.range(1, 11), rng.range(0, 12));
        let src = rng.vec(outer * axis * inner);
        let idx: Vec<i32> = (0..count).map(|_| rng.below(axis) as i32).collect();
        let mut want = Vec::new();
        for o in 0..outer {
            for &c in &idx {
                want.extend_from_slice(&src[(o * axis + c as usize) * inner..][..inner]);
            }
        }
        let mut got = vec![f32::NAN; want.len()];
        gather(&src, &idx, &mut got, outer, axis, inner).unwrap();
        assert_eq!(got, want);
    }
    let mut dst = [0.0f32; 4];
    assert_eq!(gather(&[1.0; 6], &[0, 3], &mut dst, 2, 3, 1), Err(Status::InvalidTable));
    assert_eq!(gather(&[1.0; 6], &[0, -1], &mut dst, 2, 3, 1), Err(Status::InvalidTable));
    assert_eq!(dst, [0.0; 4], "nothing is written before the indices are checked");
    assert_eq!(gather(&[1.0; 5], &[0, 1], &mut dst, 2, 3, 1), Err(Status::InputLengthMismatch));
}

#[test]
fn fill_writes_every_element() {
    for n in [0, 1, 3, 4, 5, 17, 1000] {
        let mut d = vec![0.0f32; n + 1];
        fill(&mut d[..n], -2.5);
        assert!(d[..n].iter().all(|&x| x == -2.5) && d[n] == 0.0);
    }
}

/// The byte element (bool/uint8 tensors) through the same kernels: transposes, negative-step slices,
/// broadcasts and slabs, every pad mode and gathers, against index loops on bytes.
#[test]
fn byte_elements_take_the_same_copies_pads_and_gathers() {
    let mut rng = Rng(0x5eed_0b17);
    for case in 0..300 {
        let rank = rng.range(1, MAX_RANK);
        let dims = random_dims(&mut rng, rank);
        let total: usize = dims.iter().product();
        let src: Vec<u8> = (0..total).map(|_| rng.below(256) as u8).collect();
        let inner = contiguous(&dims);
        // A random permutation of the source axes, read in reverse along one of them.
        let perm = rng.perm(rank);
        let out_dims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
        let mut ss: Vec<isize> = perm.iter().map(|&p| inner[p]).collect();
        let flip = rng.below(rank);
        let mut so = 0usize;
        if out_dims[flip] > 0 && case % 2 == 0 {
            so = (out_dims[flip] - 1) * ss[flip] as usize;
            ss[flip] = -ss[flip];
        }
        if case % 5 == 0 {
            ss[rng.below(rank)] = 0; // a broadcast along one axis
        }
        let ds = contiguous(&out_dims);
        let n: usize = out_dims.iter().product();
        let mut want = vec![0xAAu8; n];
        for idx in indices(&out_dims) {
            want[offset(&idx, &ds, 0)] = src[offset(&idx, &ss, so)];
        }
        let mut got = vec![0xAAu8; n];
        if total > 0 {
            copy_strided(&src, so, &mut got, 0, &out_dims, &ss, &ds).unwrap();
        }
        assert_eq!(got, want, "dims {out_dims:?} src strides {ss:?}@{so}");
    }
    let big = [67usize, 45];
    let src: Vec<u8> = (0..big[0] * big[1]).map(|i| (i * 7) as u8).collect();
    let mut got = vec![0u8; src.len()];
    copy_strided(&src, 0, &mut got, 0, &[big[1], big[0]], &[1, big[1] as isize], &[big[0] as isize, 1]).unwrap();
    for y in 0..big[1] {
        for x in 0..big[0] {
            assert_eq!(got[y * big[0] + x], src[x * big[1] + y]);
        }
    }
    for mode in [PadMode::Constant, PadMode::Reflect, PadMode::Edge] {
        for _ in 0..100 {
            let rank = rng.range(1, 4);
            let dims: Vec<usize> = (0..rank).map(|_| rng.range(1, 6)).collect();
            let pads = |rng: &mut Rng| -> Vec<usize> { dims.iter().map(|&d| if mode == PadMode::Reflect { rng.below(d) } else { rng.below(4) }).collect() };
            let (begin, end) = (pads(&mut rng), pads(&mut rng));
            let src: Vec<u8> = (0..dims.iter().product::<usize>()).map(|_| rng.below(256) as u8).collect();
            let as_f32: Vec<f32> = src.iter().map(|&x| x as f32).collect();
            let want: Vec<u8> = pad_reference(&as_f32, &dims, &begin, &end, mode, 7.0).into_iter().map(|x| x as u8).collect();
            let mut got = vec![0u8; want.len()];
            pad(&src, &mut got, &dims, &begin, &end, mode, 7.0).unwrap();
            assert_eq!(got, want, "{mode:?} dims {dims:?} begin {begin:?} end {end:?}");
        }
    }
    let (outer, axis_len, inner) = (3usize, 5usize, 4usize);
    let src: Vec<u8> = (0..outer * axis_len * inner).map(|i| i as u8).collect();
    let idx = [4i32, 0, 0, 2];
    let mut got = vec![0u8; outer * idx.len() * inner];
    gather(&src, &idx, &mut got, outer, axis_len, inner).unwrap();
    for o in 0..outer {
        for (c, &k) in idx.iter().enumerate() {
            for i in 0..inner {
                assert_eq!(got[(o * idx.len() + c) * inner + i], src[(o * axis_len + k as usize) * inner + i]);
            }
        }
    }
}

#[test]
fn conversions_follow_cast() {
    let src = [0.0f32, -0.0, 1.0, 2.9, -1.5, 255.0, 256.0, 300.7, f32::NAN, -3.0e9];
    let mut bytes = [0u8; 10];
    convert_from_f32(&src, &mut bytes, false).unwrap();
    assert_eq!(bytes, [0, 0, 1, 2, 255, 255, 0, 44, 0, 0]);
    convert_from_f32(&src, &mut bytes, true).unwrap();
    assert_eq!(bytes, [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    let mut floats = [0f32; 4];
    convert_u8_to_f32(&[0, 1, 200, 255], &mut floats).unwrap();
    assert_eq!(floats, [0.0, 1.0, 200.0, 255.0]);
    let mut b = [9u8; 3];
    convert_u8_to_bool(&[0, 1, 200], &mut b).unwrap();
    assert_eq!(b, [0, 1, 1]);
    assert_eq!(convert_u8_to_bool(&[0, 1], &mut b), Err(Status::OutputLengthMismatch));
}

/// Every f32 pattern on a coarse sweep against an exact decimal-free reference: the nearest of the two
/// neighbouring halves, computed in f64 from the half grid.
#[test]
fn round_to_half_is_nearest_even() {
    fn reference(x: f64) -> f64 {
        let a = x.abs();
        if a >= 65520.0 {
            return f64::INFINITY.copysign(x);
        }
        let e = if a == 0.0 { -14 } else { (a.log2().floor() as i32).max(-14) };
        let ulp = 2f64.powi(e - 10);
        let q = a / ulp;
        let mut r = q.round();
        if (r - q).abs() == 0.5 && r % 2.0 != 0.0 {
            r -= (r - q).signum();
        }
        (r * ulp).copysign(x)
    }
    let mut bits = 0u32;
    while bits < 0x7f80_0000 {
        for sign in [0u32, 0x8000_0000] {
            let x = f32::from_bits(bits | sign);
            let want = reference(x as f64);
            let got = round_to_half(x) as f64;
            assert!(got == want, "round_to_half({x:e}) = {got:e}, want {want:e}");
        }
        bits += 0x1f3; // ~1/500 of all patterns, every exponent, ties included on the way
    }
    for (x, want) in [(65504.0f32, 65504.0f32), (65519.0, 65504.0), (65520.0, f32::INFINITY), (1.0 + 1.0 / 2048.0, 1.0), (1.0 + 3.0 / 2048.0, 1.0 + 2.0 / 1024.0)] {
        assert_eq!(round_to_half(x), want, "{x}");
    }
    assert!(round_to_half(f32::NAN).is_nan());
}
