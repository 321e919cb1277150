//! The C ABI that the library exports (feature `override`): what a program
//! calls by name. Each file one family:
//!
//! - `forward_table.rs`, read by `forwards.rs` (and by build.rs, which
//!   makes each exported name the C++ function itself): the functions that
//!   are a jump into snmalloc (`malloc`, `free`, C++ `operator new`...);
//! - `standard`: the C and POSIX functions that check their arguments
//!   first (`posix_memalign`, `aligned_alloc`, `reallocarray`...);
//! - `glibc`: glibc's extras (`__libc_*`, hooks, `mallinfo`, `malloc_trim`);
//! - `jemalloc`: jemalloc's API, which FreeBSD's libc has;
//! - `own`: snmalloc-rs's own functions (`snmalloc_rs.h`);
//! - `exit`: `_exit`/`_Exit`, for the exit report.
//!
//! On Linux and FreeBSD exporting these names is the whole mechanism; on
//! macOS and Windows `crate::interpose` puts them in the allocator's place.

preload_platform! {
    pub mod forwards;
    pub mod standard;
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub mod glibc;

// FreeBSD's; also compiled for the unit tests on Linux, where its flag
// logic runs (no FreeBSD machine runs the library).
#[cfg(any(target_os = "freebsd", all(test, target_os = "linux")))]
pub mod jemalloc;

pub mod own;

#[cfg(target_os = "linux")]
mod exit;
