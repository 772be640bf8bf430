//! The wasm ABI: plain `extern "C"` functions over linear memory, one module per family of kernels.
//! Nothing but argument decoding lives here; all math is in atrous-kernels.
//!
//! Conventions, the same for every export:
//! - failure is a status code (`atrous_kernels::Status`, 0 ok), never a trap and never global state:
//!   allocations use `try_reserve`, arguments are checked before any memory is touched, and a function
//!   that makes something writes it through an out-pointer;
//! - descriptors are u32 arrays whose layouts, like every enum code, are declared once in `abi_table`,
//!   which `atrous_abi_table` hands to the TypeScript side for its agreement test.

mod abi_table;
mod conv;
mod backward;
mod conv_transpose;
mod elementwise;
mod feature_maps;
mod layout;
mod gemm;
mod memory;
mod normalization;
mod select;
mod team;
mod training;
