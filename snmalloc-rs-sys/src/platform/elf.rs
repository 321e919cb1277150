//! ELF initialiser and finaliser entries (Linux, FreeBSD): the dynamic
//! loader runs them after libc is initialised (so `getenv` works) and at
//! `exit`, after the program's own `atexit` handlers.

extern "C" fn on_load() {
    crate::process::lifecycle::on_load();
}

extern "C" fn on_exit() {
    crate::process::lifecycle::on_exit();
}

#[used]
#[link_section = ".init_array"]
static INIT: extern "C" fn() = on_load;

#[used]
#[link_section = ".fini_array"]
static FINI: extern "C" fn() = on_exit;

