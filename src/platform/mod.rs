//! Per-platform parts of the preloaded library, one module per platform
//! behind one interface:
//!
//! - `set_errno(err)`: the calling thread's `errno`.
//! - `program_name()`: the running program's name, for the exit report.
//! - the platform's way to run [`init`] when the library is loaded and
//!   [`fini`] when the process exits, with no allocation needed to register
//!   them.
//! - on macOS, the interposition of the system allocator (`macos.rs`).
//! - on Windows, the redirection of the C runtime's allocator
//!   (`windows/`), which replaces all of the above.

#[cfg(any(target_os = "freebsd", target_os = "macos"))]
mod bsd;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod elf;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;

#[cfg(windows)]
mod windows;

// FreeBSD needs nothing beyond `bsd` and `elf`; its allocator extras are
// jemalloc's API (`crate::jemalloc_api`).
#[cfg(any(target_os = "freebsd", target_os = "macos"))]
pub use bsd::{program_name, set_errno};
#[cfg(target_os = "linux")]
pub use linux::{program_name, set_errno};

#[cfg(unix)]
/// Reads the options, finds the allocator that owns foreign blocks (so that
/// no thread ever meets that one-time lookup half done), and says hello if
/// asked to.
fn init() {
    crate::config::load();
    // SAFETY: a dlsym lookup; it allocates nothing through a foreign path.
    unsafe { crate::ffi::snrs_resolve_foreign() };
    if crate::config::get().verbose {
        use core::fmt::Write;
        let mut w = crate::stats::FdWriter::new(2);
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let kind = if cfg!(feature = "profile") {
            " (profiling build)"
        } else {
            ""
        };
        let _ = writeln!(
            w,
            "snmalloc-rs {}{kind}: serving allocations of pid {pid}{}",
            env!("CARGO_PKG_VERSION"),
            pagemap()
        );
    }
}

/// Which pagemap serves the process, where the library has two.
#[cfg(unix)]
fn pagemap() -> &'static str {
    #[cfg(all(
        target_os = "linux",
        target_env = "gnu",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    // SAFETY: reads a value decided at load.
    if unsafe { crate::ffi::snrs_flavour() } == 2 {
        return " (compact pagemap: the process has a memory limit)";
    }
    ""
}

/// The exit report.
#[cfg(unix)]
fn fini() {
    crate::stats::report_at_exit();
}
