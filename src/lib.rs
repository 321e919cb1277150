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
//! * With the `override` feature the crate also exports the C allocation API
//!   (`malloc`, `free`, ..., C++ `operator new`/`delete`) and so replaces the
//!   allocator of the whole process. The preloadable `libsnmalloc_rs.so`
//!   (the repository's `preload` package) is this crate with `override`.
//!
//! The crate is `no_std`; the native build is the `snmalloc-rs-sys` crate's.
//!
//! [snmalloc]: https://github.com/microsoft/snmalloc
#![cfg_attr(not(test), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use snmalloc_rs_sys as ffi;
mod global;

/// The platforms where the library replaces the process's allocator.
macro_rules! preload_platform {
    ($($item:item)*) => {$(
        #[cfg(all(feature = "override", any(target_os = "linux", target_os = "freebsd", target_os = "macos")))]
        $item
    )*};
}

#[cfg(feature = "override")]
pub mod options;

preload_platform! {
    pub mod forwards;
    pub mod libc_api;
    mod config;
    mod lifecycle;
    mod log_file;
    mod platform;
    mod stats;
}

#[cfg(all(feature = "override", windows))]
mod platform;

#[cfg(all(feature = "override", any(target_os = "macos", windows)))]
mod export;

// The x86-64 decoder behind the Windows hooks is plain code: its unit tests
// run everywhere.
#[cfg(all(test, not(windows)))]
#[path = "export/windows/x64.rs"]
#[allow(dead_code)]
mod x64;

#[cfg(all(feature = "override", target_os = "linux", target_env = "gnu"))]
pub mod glibc_api;

// FreeBSD's; also compiled for the unit tests on Linux, where its flag
// logic runs (no FreeBSD machine runs the library).
#[cfg(any(
    all(feature = "override", target_os = "freebsd"),
    all(test, target_os = "linux")
))]
pub mod jemalloc_api;

pub use global::{AllocStats, MemoryUsage, SnMalloc};

/// Every platform where the library takes over the process's allocator:
/// by its exported C API (Unix) or by redirecting the C runtime (Windows).
macro_rules! override_platform {
    ($($item:item)*) => {$(
        #[cfg(all(feature = "override", any(target_os = "linux", target_os = "freebsd", target_os = "macos", windows)))]
        $item
    )*};
}

override_platform! {
    pub mod c_ext;
    mod writer;

}

/// Whether this build of the crate carries the profiling counters (feature
/// `profile`); the library packages check it at compile time.
#[doc(hidden)]
pub const PROFILE_BUILD: bool = cfg!(feature = "profile");
