//! Per-platform parts of the preloaded library, one module per platform
//! behind one interface:
//!
//! - `set_errno(err)`: the calling thread's `errno`.
//! - `program_name()`: the running program's name, for the exit report.
//! - `secure_execution()`: whether the process runs set-user-ID (or the
//!   like), when its caller's environment is not to be trusted.
//! - `now_ns()`: the monotonic clock (the report's wall time).
//! - `write_out(sink, bytes)`: one `write` to a file descriptor (Unix) or
//!   to stderr (Windows), for `crate::process::writer`.
//! - the platform's way to run `crate::process::lifecycle::on_load` when the
//!   library is loaded and `on_exit` when the process exits, with no
//!   allocation needed to register them.
//! - on Windows, only the Win32 declarations (`windows_sys.rs`) and
//!   `write_out`: loading is the CRT redirection's (`crate::interpose::windows`).

#[cfg(any(target_os = "freebsd", target_os = "macos"))]
mod bsd;
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
mod elf;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;

#[cfg(windows)]
pub mod windows_sys;

// FreeBSD needs nothing beyond `bsd` and `elf`; its allocator extras are
// jemalloc's API (`crate::c_api::jemalloc`).
#[cfg(any(target_os = "freebsd", target_os = "macos"))]
pub use bsd::{program_name, secure_execution, set_errno};
#[cfg(target_os = "linux")]
pub use linux::{program_name, secure_execution, set_errno};

/// The monotonic clock, in nanoseconds.
#[cfg(unix)]
pub fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock and out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Writes some of `bytes` to the file descriptor `fd`; how many, or `None`
/// on an error.
#[cfg(unix)]
pub fn write_out(fd: core::ffi::c_int, bytes: &[u8]) -> Option<usize> {
    // SAFETY: writes initialised bytes of a live slice.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    usize::try_from(n).ok()
}

/// Writes some of `bytes` to the process's stderr (`crate::process::writer`'s
/// sink on Windows); how many, or `None` when there is no stderr.
#[cfg(windows)]
pub fn write_out(_stderr: crate::process::writer::Stderr, bytes: &[u8]) -> Option<usize> {
    use windows_sys as sys;
    let mut written = 0u32;
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    // SAFETY: writes our own buffer to the process's stderr handle.
    let ok = unsafe {
        let h = sys::GetStdHandle(sys::STD_ERROR_HANDLE);
        if h.is_null() || h as isize == -1 {
            return None;
        }
        sys::WriteFile(h, bytes.as_ptr(), len, &mut written, core::ptr::null_mut())
    };
    (ok != 0).then_some(written as usize)
}
