//! The report printed at exit when `SNMALLOC_STATS` is set: memory reserved
//! from the OS, and in the profiling build (feature `profile`) allocations
//! by size class, cross-thread frees, peak live bytes and the largest block.
//!
//! Formatted through `crate::writer`: the report allocates nothing, so it
//! cannot disturb what it measures.

use crate::config;
use crate::writer::{Escaped, Writer};
use core::fmt::{self, Write};

/// Bytes, with a binary unit for people and the exact figure for scripts.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut v = self.0 as f64;
        let mut u = 0;
        while v >= 1024.0 && u + 1 < UNITS.len() {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 {
            write!(f, "{} B", self.0)
        } else {
            write!(f, "{v:.1} {} ({} bytes)", UNITS[u], self.0)
        }
    }
}

/// Writes the report to `out`.
pub fn write_report(out: &mut impl Write) -> fmt::Result {
    let usage = crate::SnMalloc::memory_usage();
    let name = Escaped(crate::platform::program_name().to_bytes());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    writeln!(
        out,
        "snmalloc-rs {} report for pid {pid} ({name}):",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "  memory in use: peak {}", Bytes(usage.peak as u64))?;
    writeln!(
        out,
        "  memory in use at exit: {}",
        Bytes(usage.current as u64)
    )?;
    writeln!(
        out,
        "  freed memory kept for reuse at exit: {}",
        Bytes(usage.retained as u64)
    )?;
    writeln!(
        out,
        "  memory given back to the OS, in all: {}",
        Bytes(usage.returned)
    )?;
    writeln!(
        out,
        "  address space reserved: {}",
        Bytes(usage.reserved as u64)
    )?;
    // SAFETY: reads a flag.
    if unsafe { crate::ffi::snrs_fork_restarted() } != 0 {
        writeln!(
            out,
            "  forked while another thread was changing the shared pool: this process started it again empty"
        )?;
    }
    #[cfg(feature = "profile")]
    write_profile(out)?;
    #[cfg(not(feature = "profile"))]
    writeln!(
        out,
        "  (counts by size class: run with `snmalloc-run --profile`)"
    )?;
    Ok(())
}

#[cfg(feature = "profile")]
fn write_profile(out: &mut impl Write) -> fmt::Result {
    use crate::ffi::profile::{self as ffi, ClassStat, ProfileTotals};
    let mut classes = [ClassStat::default(); 128];
    // SAFETY: the buffer holds `classes.len()` entries.
    let n = unsafe { ffi::snrs_profile_classes(classes.as_mut_ptr(), classes.len()) };
    let mut totals = ProfileTotals::default();
    // SAFETY: a valid out-pointer.
    unsafe { ffi::snrs_profile_totals(&mut totals) };
    let classes = &classes[..n];
    let (allocs, bytes, frees, remote) = classes.iter().fold((0, 0, 0, 0), |t, c| {
        (
            t.0 + c.allocs,
            t.1 + c.bytes,
            t.2 + c.frees,
            t.3 + c.remote_frees,
        )
    });
    let share = if frees == 0 {
        0.0
    } else {
        100.0 * remote as f64 / frees as f64
    };
    writeln!(
        out,
        "  allocations: {allocs}; requested (the sizes asked for): {}",
        Bytes(bytes)
    )?;
    writeln!(out, "  frees: {frees}, of which by another thread than the allocating one: {remote} ({share:.1}%)")?;
    writeln!(
        out,
        "  peak live (usable sizes: requests rounded up to their size class): {}",
        Bytes(totals.peak_live)
    )?;
    writeln!(out, "  live at exit (usable sizes): {}", Bytes(totals.live))?;
    writeln!(
        out,
        "  largest single allocation: {}",
        Bytes(totals.largest)
    )?;
    writeln!(
        out,
        "  {:>12} {:>12} {:>16} {:>12} {:>12}",
        "size class", "allocs", "bytes", "frees", "remote frees"
    )?;
    for c in classes {
        writeln!(
            out,
            "  {:>12} {:>12} {:>16} {:>12} {:>12}",
            c.size, c.allocs, c.bytes, c.frees, c.remote_frees
        )?;
    }
    Ok(())
}

/// Prints the report if `SNMALLOC_STATS` asked for one: appended to
/// `SNMALLOC_STATS_FILE` if set and safe to write (`crate::log_file`),
/// else to stderr (the library's own duplicate of it, taken at load),
/// after one line saying why the file was refused. Nothing is written to a
/// descriptor that no longer is the stderr of the start.
pub fn report_at_exit() {
    let opts = config::get();
    if !opts.stats || !opts.reports_here() {
        return;
    }
    let stderr = opts.stderr.and_then(|k| k.get());
    let (fd, opened) = match opts.stats_file().map(|p| (p, crate::log_file::open_append(p))) {
        None => (stderr, false),
        Some((_, Ok(fd))) => (Some(fd), true),
        Some((path, Err(why))) => {
            if let Some(e) = stderr {
                let mut w = Writer::new(e);
                let _ = write!(
                    w,
                    "snmalloc-rs: the report is not written to {}={}: the file {why}; it follows on stderr",
                    crate::options::STATS_FILE.to_str().unwrap_or_default(),
                    Escaped(path.to_bytes())
                );
                w.end_line();
            }
            (stderr, false)
        }
    };
    let Some(fd) = fd else { return };
    {
        let mut w = Writer::new(fd);
        let _ = write_report(&mut w);
    }
    if opened {
        // SAFETY: we opened it.
        unsafe { libc::close(fd) };
    }
}
