//! macOS: the library's load and exit entries (the interposition of the
//! system allocator is `crate::interpose::macos`).
//!
//! Compiled and type-checked on Linux by scripts/check-targets.sh; it has
//! not been run on a Mac (see README).

// ---------------------------------------------------------------------------
// Load and exit.

extern "C" fn on_load() {
    crate::process::lifecycle::on_load();
    crate::interpose::macos::register_zone();
    // SAFETY: registers a plain function; atexit's own storage is libSystem's.
    unsafe { libc::atexit(on_exit) };
}

extern "C" fn on_exit() {
    crate::process::lifecycle::on_exit();
}

#[used]
#[link_section = "__DATA,__mod_init_func"]
static INIT: extern "C" fn() = on_load;
