//! `_exit` and `_Exit` (Linux), which run no finaliser: the exit report
//! if one is due (`crate::process::lifecycle::before_exit`), then the end
//! of the process, as libc's.

/// `_exit`: the exit report if one is due (`crate::process::lifecycle::before_exit`),
/// then the end of the process, as libc's: `exit_group`. (libc's own
/// calls, posix_spawn's child and `exit`, go to libc's. A static link
/// against libc.a takes this one or libc's, never both: each defines
/// nothing else that could pull the other in.)
#[no_mangle]
pub extern "C" fn _exit(status: libc::c_int) -> ! {
    crate::process::lifecycle::before_exit();
    loop {
        // SAFETY: exit_group takes the status and does not return.
        unsafe { libc::syscall(libc::SYS_exit_group, status) };
    }
}

/// `_Exit` (C99): `_exit`.
#[no_mangle]
pub extern "C" fn _Exit(status: libc::c_int) -> ! {
    _exit(status)
}
