//! The exported functions that only forward to snmalloc (feature
//! `override`): `malloc`, `free`, `calloc`, `realloc`,
//! `malloc_usable_size`, glibc's `__libc_*` names and the C++ operators,
//! defined from the one table in `forward_table.rs`.
//!
//! On ELF x86_64 and AArch64 each is naked: one direct `jmp`/`b` into the
//! C++ side, where a Rust call through an `extern` declaration would load
//! the target from the GOT first. In the preloadable libraries build.rs
//! (`link_args.rs`) goes further and makes the exported symbol the C++
//! function itself (`--defsym`), reading the same table. On macOS they are
//! not exported under the C name: the interpose table points at them.

use crate::ffi::*;
// c_int: `__posix_memalign`'s result (glibc).
#[allow(unused_imports)]
use core::ffi::{c_int, c_void};

/// Reads the table: one group of entries at a time, each group under its
/// platforms' `cfg`.
macro_rules! forward_table {
    () => {};
    (c { $($t:tt)* } $($rest:tt)*) => {
        forward_table!(@items (any(target_os = "linux", target_os = "freebsd", target_os = "macos")) $($t)*);
        forward_table!($($rest)*);
    };
    (glibc { $($t:tt)* } $($rest:tt)*) => {
        forward_table!(@items (all(target_os = "linux", target_env = "gnu")) $($t)*);
        forward_table!($($rest)*);
    };
    (cxx { $($t:tt)* } $($rest:tt)*) => {
        forward_table!(@items (all(target_os = "linux", target_pointer_width = "64")) $($t)*);
        forward_table!($($rest)*);
    };
    (@items $cfg:tt $($(#[doc = $doc:literal])* $($sym:literal)? $name:ident => $($target:ident)::+ ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        forward_table!(@def $cfg [$($sym)?] $(#[doc = $doc])* $name => $($target)::+ ($($arg: $ty),*) $(-> $ret)?);
    )*};
    (@def $cfg:tt [] $($rest:tt)*) => { forward_table!(@fn $cfg (no_mangle) $($rest)*); };
    (@def $cfg:tt [$sym:literal] $($rest:tt)*) => { forward_table!(@fn $cfg (export_name = $sym) $($rest)*); };
    (@fn $cfg:tt ($($export:tt)*) $(#[doc = $doc:literal])* $name:ident => $($target:ident)::+ ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[doc = $doc])*
        ///
        /// # Safety
        /// The C (or C++) contract of the function it implements.
        #[cfg $cfg]
        #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(target_os = "macos")))]
        #[unsafe(naked)]
        #[$($export)*]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            core::arch::naked_asm!("jmp {0}", sym $($target)::+);
            #[cfg(target_arch = "aarch64")]
            core::arch::naked_asm!("b {0}", sym $($target)::+);
        }

        $(#[doc = $doc])*
        ///
        /// # Safety
        /// The C (or C++) contract of the function it implements.
        #[cfg $cfg]
        #[cfg(not(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(target_os = "macos"))))]
        #[cfg_attr(not(target_os = "macos"), $($export)*)]
        pub unsafe extern "C-unwind" fn $name($($arg: $ty),*) $(-> $ret)? {
            // SAFETY: same contract as the target.
            unsafe { $($target)::+($($arg),*) }
        }
    };
}

include!("forward_table.rs");
