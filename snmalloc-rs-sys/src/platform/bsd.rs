//! What FreeBSD and macOS share: `errno` through `__error()` and the
//! program's name through `getprogname()`, secure execution through
//! `issetugid()`.

use core::ffi::{c_int, CStr};

/// Sets the calling thread's `errno`.
pub fn set_errno(err: c_int) {
    // SAFETY: __error returns this thread's errno slot.
    unsafe { *libc::__error() = err };
}

/// The program's name (`getprogname`).
pub fn program_name() -> &'static CStr {
    // SAFETY: getprogname returns a string owned by the C runtime, or NULL.
    let name = unsafe { libc::getprogname() };
    if name.is_null() {
        return c"?";
    }
    // SAFETY: NUL-terminated, lives for the process.
    unsafe { CStr::from_ptr(name) }
}

/// Whether the process runs in secure-execution mode: it was made
/// set-user-ID or set-group-ID, or changed its ids (`issetugid`).
pub fn secure_execution() -> bool {
    // SAFETY: issetugid has no preconditions.
    unsafe { libc::issetugid() != 0 }
}
