//! `Status`: the one error type of every kernel, and the status code every ABI export returns.
//! The TypeScript layer checks the same conditions first and names the argument; these codes are the last
//! line of defence, so a bad call never traps. The numbers are part of the ABI (see atrous-wasm's
//! `abi_table`, which lists them for the TypeScript side's agreement test).

/// Declares `Status` and, from the same list, `Status::ALL` (name, code) for the ABI table.
macro_rules! statuses {
    ($($(#[$meta:meta])* $name:ident = $code:expr,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(i32)]
        pub enum Status {
            $($(#[$meta])* $name = $code,)*
        }
        impl Status {
            /// Every status by name, as the ABI table lists them.
            pub const ALL: &'static [(&'static str, i32)] = &[$((stringify!($name), $code),)*];
            /// The status with code `code`, if there is one.
            pub fn from_code(code: i32) -> Option<Status> {
                match code {
                    $($code => Some(Status::$name),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    Ok = 0,
    ZeroDimension = 1,
    GroupsDoNotDivideChannels = 2,
    NonPositiveStride = 3,
    NonPositiveDilation = 4,
    OutputBelowOne = 5,
    WeightLengthMismatch = 6,
    BiasLengthMismatch = 7,
    InputLengthMismatch = 8,
    OutputLengthMismatch = 9,
    ResidualLengthMismatch = 10,
    OutOfMemory = 11,
    SizeOverflow = 12,
    ChannelMismatch = 13,
    /// A lookup table (resize coordinates, gather indices) points outside its source.
    InvalidTable = 14,
    /// A descriptor field out of its range: an unknown op or activation code, a rank above the maximum.
    InvalidDescriptor = 15,
    /// Operand shapes that do not fit together (matmul inner dims, broadcasting, axis lengths).
    ShapeMismatch = 16,
    /// A helper thread of a shared-memory build died during the call; its outputs are unspecified.
    WorkerCrashed = 17,
    /// The build lacks what the call needs (threads in a build without shared memory).
    Unsupported = 18,
}

impl Status {
    /// The code an export returns for `r`.
    pub fn code<T>(r: Result<T, Status>) -> i32 {
        match r {
            Ok(_) => 0,
            Err(e) => e as i32,
        }
    }
}
