//! The report printed at exit when `SNMALLOC_STATS` is set: memory in use,
//! kept, given back and reserved, the process's peak RSS, page faults and
//! times, and in the profiling build (feature `profile`) allocations by
//! size class, cross-thread frees, peak live bytes and the largest block.
//! As text, or as one JSON object on one line (`SNMALLOC_STATS=json`; its
//! fields: docs/reports.md).
//!
//! Written once per process, at `exit` or at `_exit`/`_Exit` (a shell such
//! as dash ends that way). Formatted through `crate::process::writer`: the report
//! allocates nothing, so it cannot disturb what it measures, and it is
//! safe in an `_exit` called from a forked child or a signal handler.

use crate::process::config;
use crate::options::Stats;
use crate::process::writer::{Escaped, Json, Writer};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

/// What the process used, from getrusage and the clock.
struct Process {
    peak_rss_kib: u64,
    minor_faults: u64,
    major_faults: u64,
    wall_s: f64,
    user_s: f64,
    system_s: f64,
}

impl Process {
    fn now() -> Process {
        // SAFETY: an all-zero rusage is a valid out-buffer.
        let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
        // SAFETY: a valid out-pointer.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let loaded = config::get().loaded_ns;
        let wall_s = if loaded == 0 {
            0.0
        } else {
            crate::platform::now_ns().saturating_sub(loaded) as f64 / 1e9
        };
        // ru_maxrss is in KiB on Linux and FreeBSD, in bytes on macOS.
        let rss_unit = if cfg!(target_os = "macos") { 1024 } else { 1 };
        Process {
            peak_rss_kib: ru.ru_maxrss as u64 / rss_unit,
            minor_faults: ru.ru_minflt as u64,
            major_faults: ru.ru_majflt as u64,
            wall_s,
            user_s: secs(ru.ru_utime),
            system_s: secs(ru.ru_stime),
        }
    }
}

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
    let usage = crate::memory();
    let name = Escaped(crate::platform::program_name().to_bytes());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    writeln!(
        out,
        "snmalloc-rs {} report for pid {pid} ({name}):",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "  memory in use: peak {}", Bytes(usage.peak_in_use as u64))?;
    writeln!(
        out,
        "  memory in use at exit: {}",
        Bytes(usage.in_use as u64)
    )?;
    writeln!(
        out,
        "  freed memory kept for reuse at exit: {}",
        Bytes(usage.retained as u64)
    )?;
    writeln!(
        out,
        "  memory given back to the OS, in all: {}",
        Bytes(usage.given_back)
    )?;
    writeln!(
        out,
        "  address space reserved: {}",
        Bytes(usage.reserved as u64)
    )?;
    let p = Process::now();
    writeln!(
        out,
        "  process: peak RSS {}, page faults {} minor and {} major, {:.3} s wall, {:.3} s user, {:.3} s system",
        Bytes(p.peak_rss_kib * 1024),
        p.minor_faults,
        p.major_faults,
        p.wall_s,
        p.user_s,
        p.system_s
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

/// Writes the report as one JSON object on one line (docs/reports.md).
pub fn write_json(out: &mut impl Write) -> fmt::Result {
    let usage = crate::memory();
    let p = Process::now();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    write!(
        out,
        "{{\"snmalloc_rs\":\"{}\",\"pid\":{pid},\"program\":\"{}\",\
         \"in_use_peak_bytes\":{},\"in_use_at_exit_bytes\":{},\"kept_bytes\":{},\
         \"given_back_bytes\":{},\"reserved_bytes\":{},\"peak_rss_bytes\":{},\
         \"minor_faults\":{},\"major_faults\":{},\"wall_s\":{:.6},\"user_s\":{:.6},\
         \"system_s\":{:.6},\"fork_restarted\":{}",
        env!("CARGO_PKG_VERSION"),
        Json(crate::platform::program_name().to_bytes()),
        usage.peak_in_use,
        usage.in_use,
        usage.retained,
        usage.given_back,
        usage.reserved,
        p.peak_rss_kib * 1024,
        p.minor_faults,
        p.major_faults,
        p.wall_s,
        p.user_s,
        p.system_s,
        // SAFETY: reads a flag.
        unsafe { crate::ffi::snrs_fork_restarted() } != 0
    )?;
    #[cfg(feature = "profile")]
    write_profile_json(out)?;
    writeln!(out, "}}")
}

#[cfg(feature = "profile")]
fn write_profile_json(out: &mut impl Write) -> fmt::Result {
    use crate::ffi::profile::{self as ffi, ClassStat, ProfileTotals};
    let mut classes = [ClassStat::default(); 128];
    // SAFETY: the buffer holds `classes.len()` entries.
    let n = unsafe { ffi::snrs_profile_classes(classes.as_mut_ptr(), classes.len()) };
    let mut totals = ProfileTotals::default();
    // SAFETY: a valid out-pointer.
    unsafe { ffi::snrs_profile_totals(&mut totals) };
    write!(
        out,
        ",\"peak_live_bytes\":{},\"live_at_exit_bytes\":{},\"largest_bytes\":{},\"classes\":[",
        totals.peak_live, totals.live, totals.largest
    )?;
    for (i, c) in classes[..n].iter().enumerate() {
        write!(
            out,
            "{}{{\"size\":{},\"allocs\":{},\"bytes\":{},\"frees\":{},\"remote_frees\":{}}}",
            if i == 0 { "" } else { "," },
            c.size,
            c.allocs,
            c.bytes,
            c.frees,
            c.remote_frees
        )?;
    }
    write!(out, "]")
}

/// Whether this process has written its report.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// Prints the report if `SNMALLOC_STATS` asked for one, once per process:
/// appended to `SNMALLOC_STATS_FILE` if set and safe to write
/// (`crate::options::log_file`), else to stderr (the library's own duplicate of it,
/// taken at load), after one line saying why the file was refused. Nothing
/// is written to a descriptor that no longer is the stderr of the start.
pub fn report_at_exit() {
    let opts = config::get();
    if opts.stats == Stats::Off || !opts.reports_here() || REPORTED.swap(true, Ordering::Relaxed) {
        return;
    }
    let stderr = opts.stderr.and_then(|k| k.get());
    let (fd, opened) = match opts.stats_file().map(|p| (p, crate::options::log_file::open_append(p))) {
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
        let _ = if opts.stats == Stats::Json {
            write_json(&mut w)
        } else {
            write_report(&mut w)
        };
    }
    if opened {
        // SAFETY: we opened it.
        unsafe { libc::close(fd) };
    }
}
