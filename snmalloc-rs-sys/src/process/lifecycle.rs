//! What the library does when it is loaded and when the process exits
//! (Unix; the platform modules call these from their initialiser and
//! finaliser entries): read the options, settle where foreign blocks go,
//! say hello if asked to, and print the exit report.

/// Reads the options, finds the allocator that owns foreign blocks (so that
/// no thread ever meets that one-time lookup half done), and says hello if
/// asked to: once per process, however many times it `exec`s.
pub fn on_load() {
    crate::process::config::load();
    // SAFETY: a dlsym lookup; it allocates nothing through a foreign path.
    unsafe { crate::ffi::snrs_resolve_foreign() };
    let options = crate::process::config::get();
    let verbose = options.verbose && options.reports_here() && !options.said;
    if verbose {
        use core::fmt::Write;
        let mut w = crate::process::writer::Writer::stderr();
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let kind = if cfg!(feature = "profile") {
            " (profiling build)"
        } else if cfg!(feature = "check") {
            " (hardened check build)"
        } else {
            ""
        };
        let program = crate::process::writer::Escaped(crate::platform::program_name().to_bytes());
        let _ = write!(
            w,
            "snmalloc-rs {}{kind}: serving allocations of pid {pid} ({program})",
            env!("CARGO_PKG_VERSION"),
        );
        w.end_line();
    }
    crate::process::config::mark_said(verbose);
}

/// The exit report.
pub fn on_exit() {
    crate::process::stats::report_at_exit();
}

/// The exit report, from `_exit`/`_Exit` (`crate::platform`), which run
/// no finaliser: only in the process that loaded the library, never in a
/// forked child, which may be a `vfork` child sharing its parent's memory
/// (its report would be the parent's, and would stop the parent's).
#[cfg(target_os = "linux")]
pub fn before_exit() {
    let options = crate::process::config::get();
    // SAFETY: getpid has no preconditions.
    if options.stats != crate::options::Stats::Off && options.loaded_pid == unsafe { libc::getpid() } {
        crate::process::stats::report_at_exit();
    }
}
