//! What the snmalloc-rs library and its launcher agree on: the library's
//! environment options, named once, with the grammar of their values (read
//! by the library, set by the launcher, which checks each value it passes
//! on with the same parsers; the README's table says what each does), and
//! how the report's file is opened ([`log_file`], Unix). Its own crate so
//! that the launcher shares it without linking the allocator.
//!
//! In secure-execution mode (a set-user-ID program, say) the library
//! ignores every one of them and removes them from the environment that
//! the process passes on: `ALL` lists them.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use core::ffi::CStr;

#[cfg(unix)]
pub mod log_file;

/// `SNMALLOC_STATS`: print a report at exit (a boolean, or `json`).
pub const STATS: &CStr = c"SNMALLOC_STATS";
/// `SNMALLOC_STATS_FILE`: append the report to this file instead of stderr.
pub const STATS_FILE: &CStr = c"SNMALLOC_STATS_FILE";
/// `SNMALLOC_VERBOSE`: say on stderr when the library takes over (a
/// boolean).
pub const VERBOSE: &CStr = c"SNMALLOC_VERBOSE";
/// `SNMALLOC_DECAY`: how long freed memory may be kept before it goes back
/// to the OS (milliseconds, `0` for at once, `kernel` for MADV_FREE).
pub const DECAY: &CStr = c"SNMALLOC_DECAY";
/// `SNMALLOC_REPORT_PID`: only the process with this pid prints the verbose
/// line and the exit report (the launcher sets its own pid, which the
/// program it `exec`s keeps; its children stay quiet unless `--children`).
pub const REPORT_PID: &CStr = c"SNMALLOC_REPORT_PID";

/// Every option, for what applies to all of them.
pub const ALL: [&CStr; 5] = [STATS, STATS_FILE, VERBOSE, DECAY, REPORT_PID];

/// Names under `SNMALLOC_` that are not options of the library and draw no
/// warning: the build's (`SNMALLOC_RS_*`, `SNMALLOC_SYS_SRC`).
pub const NOT_OPTIONS: [&[u8]; 2] = [b"SNMALLOC_RS_", b"SNMALLOC_SYS_"];

/// Options of earlier versions, and why they are gone: the warning for
/// one says so rather than "not an option".
pub const RETIRED: [(&[u8], &str); 1] = [(
    b"SNMALLOC_PAGEMAP",
    "there is one build, whose two-level pagemap serves every process, limits or not",
)];

/// A boolean value, as mimalloc reads them: `1`, `on`, `true`, `yes` or
/// `0`, `off`, `false`, `no` (any case, spaces around allowed); the empty
/// value is off. `None` for anything else.
pub fn parse_bool(v: &[u8]) -> Option<bool> {
    let v = v.trim_ascii();
    const ON: [&[u8]; 4] = [b"1", b"on", b"true", b"yes"];
    const OFF: [&[u8]; 5] = [b"", b"0", b"off", b"false", b"no"];
    if ON.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(true)
    } else if OFF.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        Some(false)
    } else {
        None
    }
}

/// What `SNMALLOC_STATS` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stats {
    /// No report.
    Off,
    /// The text report.
    Text,
    /// One JSON object per report (docs/reports.md).
    Json,
}

/// `SNMALLOC_STATS`'s value; `None` if it is not one.
pub fn parse_stats(v: &[u8]) -> Option<Stats> {
    if v.trim_ascii().eq_ignore_ascii_case(b"json") {
        return Some(Stats::Json);
    }
    parse_bool(v).map(|on| if on { Stats::Text } else { Stats::Off })
}

/// What `SNMALLOC_DECAY` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decay {
    /// Keep freed memory for reuse up to this many milliseconds.
    Keep(u64),
    /// Give it back at once (`0`).
    AtOnce,
    /// Mark it MADV_FREE and let the kernel take it (`kernel`).
    Kernel,
}

/// `SNMALLOC_DECAY`'s value; `None` if it is not one.
pub fn parse_decay(v: &[u8]) -> Option<Decay> {
    let v = v.trim_ascii();
    if v.eq_ignore_ascii_case(b"kernel") {
        return Some(Decay::Kernel);
    }
    let ms: u64 = core::str::from_utf8(v).ok()?.parse().ok()?;
    Some(if ms == 0 {
        Decay::AtOnce
    } else {
        Decay::Keep(ms)
    })
}

/// `SNMALLOC_REPORT_PID`'s value; `None` if it is not a process id.
pub fn parse_pid(v: &[u8]) -> Option<i32> {
    core::str::from_utf8(v.trim_ascii())
        .ok()?
        .parse()
        .ok()
        .filter(|&p: &i32| p > 0)
}

/// The option closest to `name` (a mistyped one), if one is close.
pub fn closest(name: &[u8]) -> Option<&'static CStr> {
    ALL.iter()
        .map(|o| (distance(name, o.to_bytes()), *o))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, o)| o)
}

/// Levenshtein distance of two short names (at most 40 bytes each count).
fn distance(a: &[u8], b: &[u8]) -> usize {
    const N: usize = 41;
    let (a, b) = (&a[..a.len().min(N - 1)], &b[..b.len().min(N - 1)]);
    let mut prev = [0usize; N];
    let mut cur = [0usize; N];
    for (j, p) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *p = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(!a[i - 1].eq_ignore_ascii_case(&b[j - 1]));
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_read_as_mimalloc_reads_them() {
        for on in ["1", "on", "ON", "true", "Yes", " yes "] {
            assert_eq!(parse_bool(on.as_bytes()), Some(true), "{on}");
        }
        for off in ["", "0", "off", "Off", "false", "no"] {
            assert_eq!(parse_bool(off.as_bytes()), Some(false), "{off}");
        }
        for bad in ["2", "maybe", "enable"] {
            assert_eq!(parse_bool(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(parse_stats(b"json"), Some(Stats::Json));
        assert_eq!(parse_stats(b"off"), Some(Stats::Off));
    }

    #[test]
    fn decay_values() {
        assert_eq!(parse_decay(b"kernel"), Some(Decay::Kernel));
        assert_eq!(parse_decay(b"KERNEL"), Some(Decay::Kernel));
        assert_eq!(parse_decay(b"0"), Some(Decay::AtOnce));
        assert_eq!(parse_decay(b"250"), Some(Decay::Keep(250)));
        assert_eq!(parse_decay(b" 10 "), Some(Decay::Keep(10)));
        assert_eq!(parse_decay(b"-1"), None);
        assert_eq!(parse_decay(b"1s"), None);
        assert_eq!(parse_decay(b"soon"), None);
        assert_eq!(parse_decay(b""), None);
    }

    #[test]
    fn a_mistyped_name_finds_the_option() {
        assert_eq!(closest(b"SNMALLOC_STAT"), Some(STATS));
        assert_eq!(closest(b"SNMALLOC_VERBSE"), Some(VERBOSE));
        assert_eq!(closest(b"SNMALLOC_SOMETHING_ELSE"), None);
        assert_eq!(parse_pid(b"42"), Some(42));
        assert_eq!(parse_pid(b"x"), None);
    }
}
