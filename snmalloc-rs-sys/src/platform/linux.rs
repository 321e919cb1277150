//! Linux (glibc).

use core::ffi::{c_char, c_int, CStr};

/// Sets the calling thread's `errno`.
pub fn set_errno(err: c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = err };
}

extern "C" {
    static program_invocation_name: *const c_char;
}

/// The program's name as it was invoked.
pub fn program_name() -> &'static CStr {
    // SAFETY: glibc sets program_invocation_name before any initialiser runs
    // and never frees it.
    let name = unsafe { program_invocation_name };
    if name.is_null() {
        return c"?";
    }
    // SAFETY: a NUL-terminated string owned by the C runtime.
    unsafe { CStr::from_ptr(name) }
}

/// Whether the process runs in secure-execution mode (set-user-ID,
/// set-group-ID, file capabilities, or a security module's decision): the
/// kernel's `AT_SECURE`, which the loader also obeys.
pub fn secure_execution() -> bool {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}
