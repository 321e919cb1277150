//! The native side of [snmalloc-rs]: Microsoft's snmalloc, compiled from the
//! source of the pinned `snmalloc-sys` registry package with snmalloc-rs's
//! configuration and C++ glue (`shim/`), its raw FFI (`ffi`), and with the
//! feature `override` the C ABI that replaces a process's allocator, as
//! `libmimalloc-sys`'s `override` does.
//!
//! Use the `snmalloc-rs` crate; these raw functions are its building
//! blocks. All of them are hidden in the final library, so calls to them are
//! direct jumps, never PLT indirections.
//!
//! The modules of the C ABI, each one concern:
//!
//! - `c_api`: the exported C functions (the forward table, the C and
//!   POSIX functions, glibc's and jemalloc's extras, snmalloc-rs's own);
//! - `interpose`: how the library takes the allocator's place where
//!   exported names are not enough (macOS's interpose table and zone,
//!   Windows' CRT redirection);
//! - `process`: the library's life in the process (start-up, options,
//!   the exit report, the writer they print with);
//! - `platform`: the primitives those stand on, one file per platform.
//!
//! [snmalloc-rs]: https://crates.io/crates/snmalloc-rs
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(missing_docs)]

mod ffi;
pub use ffi::*;

/// Whether this build carries the profiling counters (feature `profile`);
/// the library packages check it at compile time.
#[doc(hidden)]
pub const PROFILE_BUILD: bool = cfg!(feature = "profile");

/// The platforms where the library replaces the process's allocator by its
/// exported C API.
#[allow(unused_macros)] // without `override`
macro_rules! preload_platform {
    ($($item:item)*) => {$(
        #[cfg(all(feature = "override", any(target_os = "linux", target_os = "freebsd", target_os = "macos")))]
        $item
    )*};
}

/// Every platform where the library takes over the process's allocator:
/// by its exported C API (Unix) or by redirecting the C runtime (Windows).
#[allow(unused_macros)] // without `override`
macro_rules! override_platform {
    ($($item:item)*) => {$(
        #[cfg(all(feature = "override", any(target_os = "linux", target_os = "freebsd", target_os = "macos", windows)))]
        $item
    )*};
}

override_platform! {
    // The environment options' names and grammar, and how the report's
    // file is opened: shared with the launcher.
    use snmalloc_rs_options as options;
    pub mod c_api;
    mod platform;
    mod process;
}

#[cfg(all(feature = "override", any(target_os = "macos", windows)))]
mod interpose;

override_platform! {
    use core::ffi::c_void;

    /// Whether snmalloc owns the block at `p` (a lookup; `p` is not read).
    fn owns(p: *const c_void) -> bool {
        // SAFETY: a pagemap and table lookup; it never dereferences `p`.
        unsafe { snrs_is_owned(p) != 0 }
    }

    /// Where the memory is now.
    fn memory() -> Memory {
        let mut m = Memory::default();
        // SAFETY: a valid out-pointer.
        unsafe { snrs_memory(&mut m) };
        m
    }

    /// Gives back every freed range kept for reuse; returns the bytes.
    fn trim() -> usize {
        // SAFETY: no preconditions; takes the shared pool's lock.
        unsafe { snrs_trim() }
    }
}

// The x86-64 decoder behind the Windows hooks is plain code: its unit tests
// run everywhere.
#[cfg(all(test, not(windows)))]
#[path = "interpose/windows/x64.rs"]
#[allow(dead_code)]
mod x64;
