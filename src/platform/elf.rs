//! ELF initialiser and finaliser entries (Linux, FreeBSD): the dynamic
//! loader runs them after libc is initialised (so `getenv` works) and at
//! `exit`, after the program's own `atexit` handlers. On Linux `_exit` and
//! `_Exit`, which run no finaliser, are ours too, for the exit report.

extern "C" fn on_load() {
    crate::lifecycle::on_load();
}

extern "C" fn on_exit() {
    crate::lifecycle::on_exit();
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = on_load;

#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = on_exit;

/// `_exit`: the exit report if one is due (`crate::lifecycle::before_exit`),
/// then the end of the process, as libc's: `exit_group`. (libc's own
/// calls, posix_spawn's child and `exit`, go to libc's. A static link
/// against libc.a takes this one or libc's, never both: each defines
/// nothing else that could pull the other in.)
#[cfg(target_os = "linux")]
#[no_mangle]
pub extern "C" fn _exit(status: libc::c_int) -> ! {
    crate::lifecycle::before_exit();
    loop {
        // SAFETY: exit_group takes the status and does not return.
        unsafe { libc::syscall(libc::SYS_exit_group, status) };
    }
}

/// `_Exit` (C99): `_exit`.
#[cfg(target_os = "linux")]
#[no_mangle]
pub extern "C" fn _Exit(status: libc::c_int) -> ! {
    _exit(status)
}
