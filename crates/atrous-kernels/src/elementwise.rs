//! Binary element-wise ops and Where with numpy broadcasting. The caller gives the output dims and, per
//! operand, element strides over those dims (0 where the operand is broadcast); `Broadcast` coalesces
//! adjacent dims first (a `[N, C, H, W] + [1, C, 1, 1]` becomes `[N, C, H*W]` with the bias constant along
//! the innermost axis), so the work is long rows with one of a few stride patterns: both contiguous, one
//! side constant, or strided (a transposed view).
//!
//! Longer than 400 lines for a reason: the broadcast walker and the four op families that walk it (binary,
//! compare, logical on bytes, Where) share it, so its coalescing is written once; ~200 of the lines are the tests.

use crate::isa::{active as v, load_partial, store_partial, store_upto, LANES};
use crate::status::Status;
use crate::vmath;
use v::V;

pub const MAX_RANK: usize = 6;

/// The output dims and each of `K` operands' strides, coalesced; the output is contiguous, row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broadcast<const K: usize> {
    /// Coalesced dims, innermost LAST; `rank` of them are used.
    rank: usize,
    dims: [usize; MAX_RANK],
    strides: [[usize; MAX_RANK]; K],
    len: usize,
    extents: [usize; K],
}

impl<const K: usize> Broadcast<K> {
    /// `dims` the output's (rank <= 6; rank 0 is a scalar), `strides[k]` operand k's element strides.
    pub fn new(dims: &[usize], strides: [&[usize]; K]) -> Result<Self, Status> {
        if dims.len() > MAX_RANK || strides.iter().any(|s| s.len() != dims.len()) {
            return Err(Status::InvalidDescriptor);
        }
        let len = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or(Status::SizeOverflow)?;
        let mut extents = [0usize; K];
        for (k, s) in strides.iter().enumerate() {
            // The elements operand k spans: 1 + sum (d - 1) s, or none when the output is empty.
            let mut e = 1usize;
            for (&d, &st) in dims.iter().zip(s.iter()) {
                let step = (d.max(1) - 1).checked_mul(st).ok_or(Status::SizeOverflow)?;
                e = e.checked_add(step).ok_or(Status::SizeOverflow)?;
            }
            extents[k] = if len == 0 { 0 } else { e };
            // 32-bit wasm addresses: the byte extent must fit too.
            e.checked_mul(4).ok_or(Status::SizeOverflow)?;
        }
        let mut out = Broadcast { rank: 0, dims: [1; MAX_RANK], strides: [[0; MAX_RANK]; K], len, extents };
        // Collect innermost first, merging a dim into the one inside it when every operand steps over the
        // inner dim exactly (stride_outer == stride_inner * dim_inner, which broadcast zeros satisfy too).
        let mut rev_dims = [1usize; MAX_RANK];
        let mut rev_strides = [[0usize; MAX_RANK]; K];
        let mut r = 0;
        for i in (0..dims.len()).rev() {
            let d = dims[i];
            if d == 1 {
                continue;
            }
            if r > 0 && (0..K).all(|k| strides[k][i] == rev_strides[k][r - 1] * rev_dims[r - 1]) {
                rev_dims[r - 1] *= d;
                continue;
            }
            rev_dims[r] = d;
            for k in 0..K {
                rev_strides[k][r] = strides[k][i];
            }
            r += 1;
        }
        if r == 0 {
            // A scalar (or all-ones dims): one row of one element.
            r = 1;
            rev_dims[0] = 1;
        }
        out.rank = r;
        for j in 0..r {
            out.dims[j] = rev_dims[r - 1 - j];
            for k in 0..K {
                out.strides[k][j] = rev_strides[k][r - 1 - j];
            }
        }
        Ok(out)
    }

    /// Output elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements operand `k` spans (the length its buffer must have).
    pub fn extent(&self, k: usize) -> usize {
        self.extents[k]
    }

    /// The coalesced dims (innermost last), for tests.
    pub fn coalesced_dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    /// Calls `row(offsets, inner_strides, out_offset, n)` for every innermost row.
    #[inline(always)]
    fn for_each_row(&self, mut row: impl FnMut([usize; K], [usize; K], usize, usize)) {
        if self.len == 0 {
            return;
        }
        let r = self.rank;
        let n = self.dims[r - 1];
        let inner: [usize; K] = core::array::from_fn(|k| self.strides[k][r - 1]);
        let mut index = [0usize; MAX_RANK];
        let mut offsets = [0usize; K];
        let mut out = 0;
        loop {
            row(offsets, inner, out, n);
            out += n;
            // Odometer over the outer dims, innermost outer dim fastest.
            let mut d = r - 1;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                for k in 0..K {
                    offsets[k] += self.strides[k][d];
                }
                if index[d] < self.dims[d] {
                    break;
                }
                for k in 0..K {
                    offsets[k] -= self.strides[k][d] * self.dims[d];
                }
                index[d] = 0;
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    /// Python's `%`: the result has the divisor's sign (ONNX Mod, fmod = 0).
    Mod,
    /// C's `fmod`: the result has the dividend's sign (ONNX Mod, fmod = 1). Computed as
    /// `a - trunc(a / b) b`, exact while the quotient stays below 2^24.
    Fmod,
    /// `a` if `a >= 0`, else `a * b`.
    PRelu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[inline(always)]
fn fmod(a: V, b: V) -> V {
    v::sub(a, v::mul(v::trunc(v::div(a, b)), b))
}

/// `out = a op b` over `shape` (operand 0 `a`, operand 1 `b`).
///
/// # Safety
/// `a` and `b` valid for `shape.extent(0)` / `extent(1)` floats, `out` for `shape.len()`; `out` overlaps
/// neither input, or is exactly an input whose strides are the output's own (in-place).
pub unsafe fn binary(op: BinaryOp, a: *const f32, b: *const f32, out: *mut f32, shape: &Broadcast<2>) {
    match op {
        BinaryOp::Add => binary_with(a, b, out, shape, v::add),
        BinaryOp::Sub => binary_with(a, b, out, shape, v::sub),
        BinaryOp::Mul => binary_with(a, b, out, shape, v::mul),
        BinaryOp::Div => binary_with(a, b, out, shape, v::div),
        BinaryOp::Pow => binary_with(a, b, out, shape, vmath::pow),
        BinaryOp::Max => binary_with(a, b, out, shape, v::max),
        BinaryOp::Min => binary_with(a, b, out, shape, v::min),
        BinaryOp::Fmod => binary_with(a, b, out, shape, fmod),
        BinaryOp::Mod => binary_with(a, b, out, shape, |x, y| {
            let r = fmod(x, y);
            v::select(v::lt(v::mul(r, y), v::zero()), v::add(r, y), r)
        }),
        BinaryOp::PRelu => binary_with(a, b, out, shape, |x, y| v::select(v::ge(x, v::zero()), x, v::mul(x, y))),
    }
}

#[inline(never)]
unsafe fn binary_with(a: *const f32, b: *const f32, out: *mut f32, shape: &Broadcast<2>, f: impl Fn(V, V) -> V + Copy) {
    shape.for_each_row(|[oa, ob], [sa, sb], o, n| binary_row(a.add(oa), sa, b.add(ob), sb, out.add(o), n, f));
}

#[inline(always)]
unsafe fn binary_row(a: *const f32, sa: usize, b: *const f32, sb: usize, out: *mut f32, n: usize, f: impl Fn(V, V) -> V) {
    let mut i = 0;
    let rest = |i: usize| n - i;
    match (sa, sb) {
        (1, 1) => {
            while i + LANES <= n {
                v::store(out.add(i), f(v::load(a.add(i)), v::load(b.add(i))));
                i += LANES;
            }
            if i < n {
                store_partial(out.add(i), f(load_partial(a.add(i), rest(i)), load_partial(b.add(i), rest(i))), rest(i));
            }
        }
        (1, 0) => {
            let y = v::splat(*b);
            while i + LANES <= n {
                v::store(out.add(i), f(v::load(a.add(i)), y));
                i += LANES;
            }
            if i < n {
                store_partial(out.add(i), f(load_partial(a.add(i), rest(i)), y), rest(i));
            }
        }
        (0, 1) => {
            let x = v::splat(*a);
            while i + LANES <= n {
                v::store(out.add(i), f(x, v::load(b.add(i))));
                i += LANES;
            }
            if i < n {
                store_partial(out.add(i), f(x, load_partial(b.add(i), rest(i))), rest(i));
            }
        }
        _ => {
            while i < n {
                let m = rest(i).min(LANES);
                let mut xa = [0.0f32; LANES];
                let mut xb = [0.0f32; LANES];
                for l in 0..m {
                    xa[l] = *a.add((i + l) * sa);
                    xb[l] = *b.add((i + l) * sb);
                }
                store_upto(out.add(i), f(v::from_lanes(xa), v::from_lanes(xb)), m);
                i += m;
            }
        }
    }
}

/// `out = (a op b) as u8` (0 or 1) over `shape`.
///
/// # Safety
/// As `binary`, with `out` valid for `shape.len()` bytes.
pub unsafe fn compare(op: CompareOp, a: *const f32, b: *const f32, out: *mut u8, shape: &Broadcast<2>) {
    match op {
        CompareOp::Equal => compare_with(a, b, out, shape, |x, y| x == y),
        CompareOp::Less => compare_with(a, b, out, shape, |x, y| x < y),
        CompareOp::LessOrEqual => compare_with(a, b, out, shape, |x, y| x <= y),
        CompareOp::Greater => compare_with(a, b, out, shape, |x, y| x > y),
        CompareOp::GreaterOrEqual => compare_with(a, b, out, shape, |x, y| x >= y),
    }
}

#[inline(never)]
unsafe fn compare_with(a: *const f32, b: *const f32, out: *mut u8, shape: &Broadcast<2>, f: impl Fn(f32, f32) -> bool + Copy) {
    shape.for_each_row(|[oa, ob], [sa, sb], o, n| {
        let (a, b, out) = (a.add(oa), b.add(ob), out.add(o));
        for i in 0..n {
            *out.add(i) = f(*a.add(i * sa), *b.add(i * sb)) as u8;
        }
    });
}

/// ONNX's logical ops on bool bytes (any nonzero byte is true); Not is `Xor` with a broadcast 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogicalOp {
    And,
    Or,
    Xor,
}

/// `out = (a != 0) op (b != 0)` as u8 (0 or 1) over `shape`.
///
/// # Safety
/// `a`, `b` valid for `shape.extent(0)` / `extent(1)` bytes, `out` for `shape.len()` bytes; `out` overlaps
/// neither input, or is exactly an input whose strides are the output's own (in-place).
pub unsafe fn logical(op: LogicalOp, a: *const u8, b: *const u8, out: *mut u8, shape: &Broadcast<2>) {
    match op {
        LogicalOp::And => logical_with(a, b, out, shape, |x, y| x & y),
        LogicalOp::Or => logical_with(a, b, out, shape, |x, y| x | y),
        LogicalOp::Xor => logical_with(a, b, out, shape, |x, y| x ^ y),
    }
}

#[inline(never)]
unsafe fn logical_with(a: *const u8, b: *const u8, out: *mut u8, shape: &Broadcast<2>, f: impl Fn(u8, u8) -> u8 + Copy) {
    shape.for_each_row(|[oa, ob], [sa, sb], o, n| {
        let (a, b, out) = (a.add(oa), b.add(ob), out.add(o));
        // Normalised to 0 / 1 first so the bitwise forms are the logical ones.
        for i in 0..n {
            *out.add(i) = f((*a.add(i * sa) != 0) as u8, (*b.add(i * sb) != 0) as u8);
        }
    });
}

/// `out = cond ? x : y` over `shape` (operands: cond, x, y); `cond` bytes, nonzero true.
///
/// # Safety
/// `cond` valid for `shape.extent(0)` bytes, `x`, `y` for `extent(1)`, `extent(2)` floats, `out` for
/// `shape.len()` floats, overlapping no input (or exactly one with the output's layout).
#[inline(never)]
pub unsafe fn where_select(cond: *const u8, x: *const f32, y: *const f32, out: *mut f32, shape: &Broadcast<3>) {
    shape.for_each_row(|[oc, ox, oy], [sc, sx, sy], o, n| {
        let (cond, x, y, out) = (cond.add(oc), x.add(ox), y.add(oy), out.add(o));
        if sc == 0 {
            // One condition for the whole row: a copy of one side.
            let (src, s) = if *cond != 0 { (x, sx) } else { (y, sy) };
            for i in 0..n {
                *out.add(i) = *src.add(i * s);
            }
        } else {
            for i in 0..n {
                *out.add(i) = if *cond.add(i * sc) != 0 { *x.add(i * sx) } else { *y.add(i * sy) };
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    use crate::test_rng::Rng;

    /// Row-major strides of `shape`, 0 on its size-1 dims: numpy broadcasting of a contiguous tensor.
    fn broadcast_strides(shape: &[usize]) -> Vec<usize> {
        let mut s = vec![0; shape.len()];
        let mut acc = 1;
        for i in (0..shape.len()).rev() {
            s[i] = if shape[i] == 1 { 0 } else { acc };
            acc *= shape[i];
        }
        s
    }

    fn reference_index(i: usize, dims: &[usize], strides: &[usize]) -> usize {
        let (mut rem, mut at) = (i, 0);
        for d in (0..dims.len()).rev() {
            at += (rem % dims[d]) * strides[d];
            rem /= dims[d];
        }
        at
    }

    fn op_ref(op: BinaryOp, a: f64, b: f64) -> f64 {
        match op {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
            BinaryOp::Fmod => a % b,
            BinaryOp::Mod => {
                let r = a % b;
                if r != 0.0 && (r < 0.0) != (b < 0.0) { r + b } else { r }
            }
            BinaryOp::PRelu => if a >= 0.0 { a } else { a * b },
        }
    }

    const OPS: [BinaryOp; 10] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Mod,
        BinaryOp::Fmod,
        BinaryOp::PRelu,
    ];

    /// A random output shape and, for each operand, either its full shape, a broadcast (1s on random axes,
    /// maybe fewer leading axes), or a transposed view.
    fn random_case(rng: &mut Rng) -> (Vec<usize>, Vec<Vec<usize>>, Vec<usize>) {
        let rank = rng.below(MAX_RANK + 1);
        let dims: Vec<usize> = (0..rank).map(|_| if rng.below(12) == 0 { 0 } else { 1 + rng.below(7) }).collect();
        let mut strides = Vec::new();
        let mut lens = Vec::new();
        for _ in 0..2 {
            let shape: Vec<usize> = dims.iter().map(|&d| if rng.below(3) == 0 { 1 } else { d }).collect();
            let mut s = broadcast_strides(&shape);
            if rng.below(4) == 0 && rank >= 2 {
                // A transposed view of the operand: its two innermost axes stored the other way round.
                let (i, j) = (rank - 2, rank - 1);
                let (di, dj) = (shape[i], shape[j]);
                if di > 1 && dj > 1 {
                    // Stored as [.., dj, di]: element (i, j) at j * di + i.
                    let unit = s[j];
                    s[i] = unit;
                    s[j] = unit * di;
                }
            }
            let n = 1 + dims.iter().zip(&s).map(|(&d, &st)| d.max(1).saturating_sub(1) * st).sum::<usize>();
            strides.push(s);
            lens.push(n);
        }
        (dims, strides, lens)
    }

    #[test]
    fn coalesces_broadcast_dims() {
        let dims = [2, 3, 4, 5];
        let a = broadcast_strides(&dims);
        let b = broadcast_strides(&[1, 3, 1, 1]);
        let s = Broadcast::new(&dims, [&a[..], &b[..]]).unwrap();
        assert_eq!(s.coalesced_dims(), &[2, 3, 20]);
        let s = Broadcast::new(&dims, [&a[..], &a[..]]).unwrap();
        assert_eq!(s.coalesced_dims(), &[120]);
        let s = Broadcast::<2>::new(&[], [&[], &[]]).unwrap();
        assert_eq!((s.coalesced_dims(), s.len()), (&[1][..], 1));
        assert_eq!(Broadcast::<2>::new(&[1; 7], [&[0; 7], &[0; 7]]), Err(Status::InvalidDescriptor));
        assert_eq!(Broadcast::<2>::new(&[2, 2], [&[2, 1], &[1]]), Err(Status::InvalidDescriptor));
        assert_eq!(Broadcast::<2>::new(&[usize::MAX, 2], [&[1, 0], &[0, 0]]), Err(Status::SizeOverflow));
    }

    #[test]
    fn binary_and_compare_match_the_reference_on_random_shapes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let (dims, strides, lens) = random_case(&mut rng);
            let shape = Broadcast::new(&dims, [&strides[0][..], &strides[1][..]]).unwrap();
            let a: Vec<f32> = (0..lens[0]).map(|_| rng.grid()).collect();
            let mut b: Vec<f32> = (0..lens[1]).map(|_| rng.grid()).collect();
            let n = shape.len();
            for op in OPS {
                if matches!(op, BinaryOp::Div | BinaryOp::Mod | BinaryOp::Fmod) {
                    b.iter_mut().for_each(|x| if x.abs() < 0.1 { *x = 0.5 });
                }
                let mut out = vec![f32::NAN; n];
                unsafe { binary(op, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), &shape) };
                for i in 0..n {
                    let (x, y) = (a[reference_index(i, &dims, &strides[0])], b[reference_index(i, &dims, &strides[1])]);
                    let want = op_ref(op, x as f64, y as f64);
                    let got = out[i] as f64;
                    let ok = if want.is_nan() { got.is_nan() } else if want.is_infinite() { got == want } else { (got - want).abs() <= 2e-6 * want.abs().max(1.0) };
                    assert!(ok, "case {case} {op:?} dims {dims:?} strides {strides:?} at {i}: {x} op {y} = {got}, want {want}");
                }
            }
            for (op, f) in [
                (CompareOp::Equal, (|x, y| x == y) as fn(f32, f32) -> bool),
                (CompareOp::Less, |x, y| x < y),
                (CompareOp::LessOrEqual, |x, y| x <= y),
                (CompareOp::Greater, |x, y| x > y),
                (CompareOp::GreaterOrEqual, |x, y| x >= y),
            ] {
                let mut out = vec![7u8; n];
                unsafe { compare(op, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), &shape) };
                for i in 0..n {
                    let (x, y) = (a[reference_index(i, &dims, &strides[0])], b[reference_index(i, &dims, &strides[1])]);
                    assert_eq!(out[i], f(x, y) as u8, "{op:?} {dims:?}");
                }
            }
        }
    }

    #[test]
    fn where_matches_the_reference() {
        let mut rng = Rng(12345);
        for _ in 0..300 {
            let (dims, strides, lens) = random_case(&mut rng);
            let cshape: Vec<usize> = dims.iter().map(|&d| if rng.below(2) == 0 { 1 } else { d }).collect();
            let cs = broadcast_strides(&cshape);
            let clen = 1 + dims.iter().zip(&cs).map(|(&d, &s)| d.max(1).saturating_sub(1) * s).sum::<usize>();
            let shape = Broadcast::new(&dims, [&cs[..], &strides[0][..], &strides[1][..]]).unwrap();
            let cond: Vec<u8> = (0..clen).map(|_| (rng.below(3) == 0) as u8 * 3).collect();
            let x: Vec<f32> = (0..lens[0]).map(|_| rng.grid()).collect();
            let y: Vec<f32> = (0..lens[1]).map(|_| rng.grid()).collect();
            let mut out = vec![f32::NAN; shape.len()];
            unsafe { where_select(cond.as_ptr(), x.as_ptr(), y.as_ptr(), out.as_mut_ptr(), &shape) };
            for i in 0..shape.len() {
                let c = cond[reference_index(i, &dims, &cs)];
                let want = if c != 0 { x[reference_index(i, &dims, &strides[0])] } else { y[reference_index(i, &dims, &strides[1])] };
                assert_eq!(out[i], want);
            }
        }
    }

    #[test]
    fn logical_matches_the_reference_on_random_shapes() {
        let mut rng = Rng(0x51ed_2701_aa55_0f0f);
        for case in 0..300 {
            let (dims, strides, lens) = random_case(&mut rng);
            let shape = Broadcast::new(&dims, [&strides[0][..], &strides[1][..]]).unwrap();
            // Bytes other than 0 and 1 too: every nonzero byte is true.
            let a: Vec<u8> = (0..lens[0]).map(|_| [0u8, 1, 1, 2, 255][rng.below(5)]).collect();
            let b: Vec<u8> = (0..lens[1]).map(|_| [0u8, 0, 1, 7][rng.below(4)]).collect();
            let n = shape.len();
            for (op, f) in [
                (LogicalOp::And, (|x, y| x && y) as fn(bool, bool) -> bool),
                (LogicalOp::Or, |x, y| x || y),
                (LogicalOp::Xor, |x, y| x != y),
            ] {
                let mut out = vec![9u8; n];
                unsafe { logical(op, a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), &shape) };
                for i in 0..n {
                    let (x, y) = (a[reference_index(i, &dims, &strides[0])] != 0, b[reference_index(i, &dims, &strides[1])] != 0);
                    assert_eq!(out[i], f(x, y) as u8, "case {case} {op:?} dims {dims:?} strides {strides:?} at {i}");
                }
            }
        }
        // Not as Xor with a broadcast 1, in place.
        let mut x: Vec<u8> = (0..37).map(|i| (i % 3) as u8).collect();
        let one = [1u8];
        let shape = Broadcast::new(&[37], [&[1], &[0]]).unwrap();
        let p = x.as_mut_ptr();
        unsafe { logical(LogicalOp::Xor, p, one.as_ptr(), p, &shape) };
        assert!(x.iter().enumerate().all(|(i, &v)| v == (i % 3 == 0) as u8));
    }

    #[test]
    fn in_place_binary() {
        let mut a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        let b = [2.0f32];
        let shape = Broadcast::new(&[37], [&[1], &[0]]).unwrap();
        let p = a.as_mut_ptr();
        unsafe { binary(BinaryOp::Mul, p, b.as_ptr(), p, &shape) };
        assert!(a.iter().enumerate().all(|(i, &x)| x == 2.0 * i as f32));
    }
}
