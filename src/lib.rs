//! snmalloc-rs: Microsoft's [snmalloc] for Rust programs and, preloaded, for
//! any program.
//!
//! * As Rust's global allocator:
//!
//!   ```
//!   #[global_allocator]
//!   static ALLOC: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc;
//!   ```
//!
//!   Only Rust's allocations move to snmalloc; C code in the same process
//!   keeps the system `malloc`.
//! * With the `override` feature the process's C allocation API (`malloc`,
//!   `free`, ..., C++ `operator new`/`delete`) is exported too, from
//!   `snmalloc-rs-sys` (its `override`), and so replaces the allocator of
//!   the whole process. The preloadable `libsnmalloc_rs.so` (the
//!   repository's `preload` package) is this crate with `override`.
//!
//! The crate is `no_std`: [`SnMalloc`] and its figures. The native build
//! and the C ABI are the `snmalloc-rs-sys` crate's.
//!
//! [snmalloc]: https://github.com/microsoft/snmalloc
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use snmalloc_rs_sys as ffi;
mod global;

pub use global::{AllocStats, MemoryUsage, SnMalloc};
