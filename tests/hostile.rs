//! Hostile conditions a security review reproduced, each answered as glibc
//! would or better, each in real processes (tests/programs/hostile.c under
//! the library, in the conditions set up here). The launcher's own cases
//! (paths it refuses, files it will not follow) are in
//! snmalloc-run/tests/launcher.rs, the packages' in tests/package.rs.
//! Needs root (setpriv, mount namespaces), as the other namespace tests.

mod common;
use common::*;
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn mlockall_locks_only_what_is_used() {
    // Row 1. mlockall(MCL_CURRENT) as root (which may lock any amount)
    // locks every mapping: the flat pagemap's 256 GiB reservation set the
    // machine's OOM killer off. Under a 2 GiB address-space limit, so that
    // a regression cannot do that here: it would fail to start instead.
    let exe = compile("hostile.c");
    let mut cmd = Command::new("bash");
    cmd.args(["-c", r#"ulimit -v 2097152 && exec "$0" mlock"#])
        .arg(&exe);
    let stdout = ok("mlockall as root", &preloaded(cmd));
    let kib: u64 = stdout
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(kib < 64 << 10, "{kib} KiB locked: {stdout}");
}

#[test]
fn bash_under_a_data_limit_runs_command_substitutions() {
    // Row 2 (the C programs that set RLIMIT_AS themselves are
    // tests/memory.rs's run-time limit tests).
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        r#"ulimit -d 4000000 && x=$(echo inner) && echo "outer $x""#,
    ]);
    let stdout = ok("bash, ulimit -d 4000000", &preloaded(cmd));
    assert_eq!(stdout.trim(), "outer inner");
}

#[test]
fn a_report_goes_only_to_the_stderr_of_the_start() {
    // Row 6: started with fd 2 closed, the program opens its data file,
    // which gets descriptor 2: the report must not land in it.
    let dir = scratch("stderr-closed");
    let data = dir.join("data");
    let exe = compile("hostile.c");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"exec "$0" data-file 2>&-"#])
        .arg(&exe)
        .env("DATA_FILE", &data)
        .env("SNMALLOC_STATS", "1");
    ok("data-file, stderr closed", &preloaded(cmd));
    let written = std::fs::read_to_string(&data).unwrap();
    assert_eq!(written, "the program's own data, on fd 2\n");
    // With stderr open, the report is there (on the library's duplicate of
    // it, even when the program closes descriptor 2 before it exits, as
    // coreutils do).
    let mut cmd = Command::new("ls");
    cmd.arg("/").env("SNMALLOC_STATS", "1");
    let out = preloaded(cmd);
    ok("ls /", &out);
    assert!(
        text(&out.stderr).contains("report for pid"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn no_system_randomness_is_no_reason_to_abort() {
    // Row 7: getrandom refused by a seccomp filter, with stdin closed (so
    // that /dev/urandom opens as descriptor 0, which upstream took for a
    // failure), and with /dev/urandom giving nothing (a bind mount of
    // /dev/null, as in a chroot without it).
    let wrapper = compile("no_getrandom.c");
    let exe = compile("hostile.c");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"exec "$0" "$1" mlock 0<&-"#])
        .arg(&wrapper)
        .arg(&exe);
    ok("getrandom refused, stdin closed", &preloaded(cmd));
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind /dev/null /dev/urandom && LD_PRELOAD="$2" exec "$0" "$1" mlock"#)
        .arg(&wrapper)
        .arg(&exe)
        .arg(library())
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    ok("getrandom refused, /dev/urandom empty", &out);
}

#[test]
fn a_new_threads_first_malloc_under_exhausted_memory_returns_null() {
    // Row 8: the thread's first allocation registers its teardown; glibc's
    // way allocated, failed and aborted the process ("failed to register
    // TLS destructor"). Under a 1 GiB limit, memory is used up before the
    // thread allocates.
    let _one_at_a_time = memory_hungry();
    let exe = compile("hostile.c");
    let mut cmd = Command::new("bash");
    cmd.args(["-c", r#"ulimit -v 1048576 && exec "$0" exhausted"#])
        .arg(&exe);
    let stdout = ok("a thread's first malloc, memory exhausted", &preloaded(cmd));
    assert!(stdout.contains("hostile exhausted ok"), "{stdout}");
}

#[test]
fn a_small_stack_starts_every_time_and_options_are_read_wherever_they_are() {
    // Row 9: a 16 KiB buffer on the stack at load crashed starts under
    // `ulimit -s 16`, and an option past the first 16 KiB of the
    // environment was not seen. The buffer is gone; what remains at 16 KiB
    // is the dynamic loader's own: with any library in LD_PRELOAD (one of a
    // single variable: 9 starts of 60) it sometimes runs out of that stack
    // before the library's code runs. At 20 KiB every start works.
    for run in 0..20 {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", "ulimit -s 20 && exec /usr/bin/true"]);
        ok(&format!("ulimit -s 20, start {run}"), &preloaded(cmd));
    }
    let mut cmd = Command::new("/usr/bin/true");
    cmd.env("A_PADDING", "x".repeat(20 << 10))
        .env("SNMALLOC_VERBOSE", "1");
    let out = preloaded(cmd);
    assert!(
        text(&out.stderr).contains("serving allocations"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_librarys_code_is_never_written() {
    // Row 10 (and the layout's rule): no page of the library's executable
    // mappings is ever private and dirty, with or without a limit (the
    // build for limits used to rewrite 24 KiB of them at load).
    let exe = compile("hostile.c");
    // Pages of a file just written are dirty in the page cache until they
    // are written back: smaps would count them.
    std::fs::File::open(library()).unwrap().sync_all().unwrap();
    for script in [
        r#"exec "$0" smaps"#,
        r#"ulimit -v 1048576 && exec "$0" smaps"#,
    ] {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", script]).arg(&exe);
        let stdout = ok(script, &preloaded(cmd));
        assert!(
            stdout.contains(", 0 KiB private dirty"),
            "{script}: {stdout}"
        );
    }
}
