//! Per-platform hooks of the preloaded library, behind one interface:
//! run `init` when the library is loaded and `fini` when the process exits.

#[cfg(target_os = "linux")]
mod linux;

/// Reads the options; says hello if asked to.
fn init() {
    crate::config::load();
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
            "snmalloc-rs {}{kind}: serving allocations of pid {pid}",
            env!("CARGO_PKG_VERSION")
        );
    }
}

/// The exit report.
fn fini() {
    crate::stats::report_at_exit();
}
