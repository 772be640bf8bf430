//! Every number the TypeScript side must agree on, defined once: descriptor layouts, enum codes, ISA ids
//! and statuses. `atrous_abi_table` writes them all as `table.NAME=value` lines, and the package's
//! `abi.test.ts` checks its own constants against that text, so the two sides cannot drift apart.

use atrous_kernels::Status;

/// Declares a table: a module of `usize` constants plus `ENTRIES` (name, value) listing them.
macro_rules! abi_table {
    ($(#[$meta:meta])* $table:ident { $($(#[$m:meta])* $name:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[allow(dead_code)]
        pub mod $table {
            $($(#[$m])* pub const $name: usize = $value;)*
            pub const ENTRIES: &[(&str, i64)] = &[$((stringify!($name), $value as i64),)*];
        }
    };
}
#[allow(unused_imports)]
pub(crate) use abi_table;

abi_table! {
    /// The u32 descriptor `atrous_conv_plan_create` reads (f32 values as their bits).
    conv_desc {
        IN_CHANNELS = 0,
        OUT_CHANNELS = 1,
        KERNEL_H = 2,
        KERNEL_W = 3,
        STRIDE_H = 4,
        STRIDE_W = 5,
        DILATION_H = 6,
        DILATION_W = 7,
        /// A `pad_mode` code.
        PAD_MODE = 8,
        /// 4 values: top, left, bottom, right.
        PADS = 9,
        GROUPS = 13,
        /// An `activation` code, then its two parameters.
        ACTIVATION = 14,
        ACTIVATION_P0 = 15,
        ACTIVATION_P1 = 16,
        /// A `conv_method` code: which kernel family the plan packs for (AUTO: the cost model decides).
        METHOD = 17,
        LEN = 18,
    }
}

abi_table! {
    /// The kernel family `atrous_conv_plan_method` reports for a plan at one input size.
    conv_method {
        GEMM = 0,
        DEPTHWISE = 1,
        WINOGRAD = 2,
        /// Requests only (`conv_desc::METHOD`): the cost model's choice, or the direct method for the shape.
        AUTO = 3,
        DIRECT = 4,
    }
}

abi_table! {
    pad_mode {
        EXPLICIT = 0,
        SAME_UPPER = 1,
        SAME_LOWER = 2,
        VALID = 3,
    }
}

abi_table! {
    /// Activation codes (conv epilogues and `atrous_activate`), with parameters p0, p1 where they take them.
    activation {
        NONE = 0,
        RELU = 1,
        /// p0 min, p1 max
        CLIP = 2,
        /// p0 alpha, p1 beta
        HARD_SIGMOID = 3,
        HARD_SWISH = 4,
        SIGMOID = 5,
        /// p0 alpha
        LEAKY_RELU = 6,
        EXP = 7,
        LOG = 8,
        SQRT = 9,
        TANH = 10,
        ERF = 11,
        /// exact: x/2 (1 + erf(x / sqrt 2))
        GELU = 12,
        GELU_TANH = 13,
        ABS = 14,
        NEG = 15,
        RECIPROCAL = 16,
        FLOOR = 17,
        CEIL = 18,
        /// half to even
        ROUND = 19,
        SIN = 20,
        COS = 21,
        SOFTPLUS = 22,
        SOFTSIGN = 23,
        /// p0 alpha
        ELU = 24,
        /// p0 alpha, p1 gamma
        SELU = 25,
        /// p0 alpha
        CELU = 26,
        /// p0 alpha
        THRESHOLDED_RELU = 27,
        SIGN = 28,
        /// p0 exponent
        POW = 29,
        MISH = 30,
    }
}

abi_table! {
    /// Binary op codes of `atrous_binary`: arithmetic writes f32, comparisons write u8 (0 or 1).
    binary_op {
        ADD = 0,
        SUB = 1,
        MUL = 2,
        DIV = 3,
        POW = 4,
        MAX = 5,
        MIN = 6,
        /// Python-style: the result takes the divisor's sign
        MOD = 7,
        /// C-style: the result takes the dividend's sign
        FMOD = 8,
        /// a if a >= 0 else a * b
        PRELU = 9,
        EQUAL = 10,
        LESS = 11,
        LESS_OR_EQUAL = 12,
        GREATER = 13,
        GREATER_OR_EQUAL = 14,
        /// bool bytes in and out (nonzero true)
        AND = 15,
        OR = 16,
        XOR = 17,
    }
}

abi_table! {
    /// The u32 descriptor of `atrous_binary` and `atrous_where`: the output's rank and dims, then for each
    /// operand (a, b; or cond, x, y) `MAX_RANK` element strides, 0 where it is broadcast. Slots past `RANK`
    /// are ignored.
    broadcast_desc {
        MAX_RANK = 6,
        RANK = 0,
        DIMS = 1,
        /// operand k's strides start at STRIDES + k * MAX_RANK
        STRIDES = 7,
        LEN = 25,
    }
}

abi_table! {
    /// Reduction codes of `atrous_reduce` (over the middle axis of [outer, len, inner]); ArgMax/ArgMin write i32.
    reduce_op {
        SUM = 0,
        MEAN = 1,
        MAX = 2,
        MIN = 3,
        PROD = 4,
        L1 = 5,
        L2 = 6,
        LOG_SUM = 7,
        LOG_SUM_EXP = 8,
        SUM_SQUARE = 9,
        ARG_MAX = 10,
        ARG_MIN = 11,
    }
}

abi_table! {
    /// The u32 descriptor `atrous_max_pool2d` reads.
    pool_desc {
        PLANES = 0,
        IN_H = 1,
        IN_W = 2,
        OUT_H = 3,
        OUT_W = 4,
        KERNEL_H = 5,
        KERNEL_W = 6,
        STRIDE_H = 7,
        STRIDE_W = 8,
        DILATION_H = 9,
        DILATION_W = 10,
        PAD_TOP = 11,
        PAD_LEFT = 12,
        LEN = 13,
    }
}

abi_table! {
    /// The u32 descriptor `atrous_copy_strided` reads: rank, then `MAX_RANK` slots each of dims, source
    /// strides and destination strides (in elements, as i32 bits), outermost first, then the element size
    /// in bytes (4: float32, 1: bool/uint8).
    strided_desc {
        RANK = 0,
        DIMS = 1,
        SRC_STRIDES = 7,
        DST_STRIDES = 13,
        ELEM_BYTES = 19,
        LEN = 20,
    }
}

abi_table! {
    /// What the border of `atrous_pad` holds.
    pad_kind {
        CONSTANT = 0,
        REFLECT = 1,
        EDGE = 2,
    }
}

abi_table! {
    /// The u32 descriptor `atrous_pad` reads: rank, a `pad_kind` code, the constant (f32 bits), then
    /// `MAX_RANK` slots each of dims, begin pads and end pads, then the element size in bytes (4 or 1; a
    /// byte element's constant is the float converted, saturating).
    pad_desc {
        RANK = 0,
        MODE = 1,
        VALUE = 2,
        DIMS = 3,
        BEGIN = 9,
        END = 15,
        ELEM_BYTES = 21,
        LEN = 22,
    }
}

abi_table! {
    /// The conversions `atrous_convert` makes (Cast between the types in wasm memory; bool is a byte 0/1).
    convert_kind {
        F32_TO_U8 = 0,
        F32_TO_BOOL = 1,
        U8_TO_F32 = 2,
        U8_TO_BOOL = 3,
        /// float32 rounded to the nearest float16 value, kept as float32 (Cast to FLOAT16)
        F32_TO_HALF = 4,
        /// float32 rounded to the nearest bfloat16 value, kept as float32 (Cast to BFLOAT16)
        F32_TO_BFLOAT16 = 5,
    }
}

abi_table! {
    /// The u32 descriptor `atrous_conv_transpose_plan_create` reads (f32 values as their bits).
    conv_transpose_desc {
        IN_CHANNELS = 0,
        OUT_CHANNELS = 1,
        KERNEL_H = 2,
        KERNEL_W = 3,
        STRIDE_H = 4,
        STRIDE_W = 5,
        DILATION_H = 6,
        DILATION_W = 7,
        PAD_TOP = 8,
        PAD_LEFT = 9,
        GROUPS = 10,
        /// An `activation` code, then its two parameters.
        ACTIVATION = 11,
        ACTIVATION_P0 = 12,
        ACTIVATION_P1 = 13,
        LEN = 14,
    }
}

abi_table! {
    /// What `atrous_activation_backward` is given besides the gradient: the activation's input or its output.
    activation_saved {
        PRE_ACTIVATION = 0,
        OUTPUT = 1,
    }
}

abi_table! {
    isa {
        SCALAR = atrous_kernels::isa::IsaId::Scalar as usize,
        SIMD128 = atrous_kernels::isa::IsaId::Simd128 as usize,
        RELAXED = atrous_kernels::isa::IsaId::Relaxed as usize,
    }
}

/// Every table, by name. A new table is listed here, and in the TypeScript side's `ABI_TABLES`.
const TABLES: &[(&str, &[(&str, i64)])] = &[
    ("conv_desc", conv_desc::ENTRIES),
    ("conv_method", conv_method::ENTRIES),
    ("pad_mode", pad_mode::ENTRIES),
    ("activation", activation::ENTRIES),
    ("pool_desc", pool_desc::ENTRIES),
    ("strided_desc", strided_desc::ENTRIES),
    ("pad_kind", pad_kind::ENTRIES),
    ("pad_desc", pad_desc::ENTRIES),
    ("convert_kind", convert_kind::ENTRIES),
    ("conv_transpose_desc", conv_transpose_desc::ENTRIES),
    ("binary_op", binary_op::ENTRIES),
    ("broadcast_desc", broadcast_desc::ENTRIES),
    ("reduce_op", reduce_op::ENTRIES),
    ("isa", isa::ENTRIES),
    ("gemm_desc", crate::gemm::gemm_desc::ENTRIES),
    ("resize_desc", crate::feature_maps::resize_desc::ENTRIES),
    ("resize_mode", crate::feature_maps::resize_mode::ENTRIES),
    ("activation_saved", activation_saved::ENTRIES),
];

fn push(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn push_number(out: &mut Vec<u8>, mut v: i64) {
    if v < 0 {
        out.push(b'-');
        v = -v;
    }
    let start = out.len();
    loop {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out[start..].reverse();
}

/// The whole table as text, one `table.NAME=value` line per entry (statuses as `status.Name=code`).
pub fn text() -> Vec<u8> {
    let mut out = Vec::new();
    let line = |out: &mut Vec<u8>, table: &str, name: &str, value: i64| {
        push(out, table);
        push(out, ".");
        push(out, name);
        push(out, "=");
        push_number(out, value);
        push(out, "\n");
    };
    for (table, entries) in TABLES {
        for (name, value) in *entries {
            line(&mut out, table, name, *value);
        }
    }
    for (name, code) in Status::ALL {
        line(&mut out, "status", name, *code as i64);
    }
    out
}

/// Copies the table's text into `buf` (up to `capacity` bytes) and returns its full length, so a caller
/// with too small a buffer learns the size it needs.
///
/// # Safety
/// `buf` valid for writing `capacity` bytes.
#[no_mangle]
pub unsafe extern "C" fn atrous_abi_table(buf: *mut u8, capacity: usize) -> usize {
    let t = text();
    let n = t.len().min(capacity);
    std::ptr::copy_nonoverlapping(t.as_ptr(), buf, n);
    t.len()
}
