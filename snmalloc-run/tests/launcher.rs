//! The launcher: runs programs on the library, passes exit status and
//! signals through, reports what it cannot do, writes the exit reports and
//! compares allocators.
#![cfg(unix)] // The Windows launcher is tested under Wine by scripts/windows.sh.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn launcher() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snmalloc-run"))
}

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// tests/programs/known.c, compiled once.
fn known() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let out = tmp().join("known");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/known.c");
        let st = Command::new("gcc")
            .args(["-O1", "-fno-builtin", "-pthread"])
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success());
        out
    })
}

/// The number in "(N bytes)" on the report line starting with `label`.
fn figure(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' in:\n{report}"));
    let inner = line.rsplit('(').next().unwrap();
    inner
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no figure in {line}"))
}

#[test]
fn program_runs_on_snmalloc() {
    let probe = "import ctypes; l = ctypes.CDLL(None); l.malloc.restype = ctypes.c_void_p; \
                 l.snmalloc_rs_owns.argtypes = [ctypes.c_void_p]; \
                 print(l.snmalloc_rs_owns(l.malloc(100)))";
    let out = launcher().args(["python3", "-c", probe]).output().unwrap();
    assert_eq!(ok(&out).trim(), "1");
}

#[test]
fn exit_status_and_signals_pass_through() {
    let out = launcher().args(["sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    let out = launcher()
        .args(["sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(15));
}

#[test]
fn missing_command_is_reported() {
    let out = launcher().arg("no-such-command-snmalloc").output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("no-such-command-snmalloc: command not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_library_is_reported() {
    let lonely = tmp().join("lonely");
    std::fs::create_dir_all(&lonely).unwrap();
    let exe = lonely.join("snmalloc-run");
    std::fs::copy(env!("CARGO_BIN_EXE_snmalloc-run"), &exe).unwrap();
    let out = Command::new(&exe).arg("true").output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("libsnmalloc_rs.so not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn static_binary_is_refused_with_a_reason() {
    let src = tmp().join("static.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    let exe = tmp().join("static");
    let st = Command::new("gcc")
        .arg("-static")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "gcc -static failed (libc6-dev provides libc.a)"
    );
    let out = launcher().arg(&exe).output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    assert!(
        text(&out.stderr).contains("statically linked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn stats_report_has_plausible_figures() {
    let out = launcher().arg("--stats").arg(known()).output().unwrap();
    assert!(ok(&out).contains("known done"));
    let report = text(&out.stderr);
    let peak = figure(&report, "memory in use: peak");
    assert!(
        peak >= 64 << 20,
        "peak {peak} below the 64 MiB block:\n{report}"
    );
    assert!(peak < 1 << 30, "implausible peak {peak}");

    let file = tmp().join("stats.txt");
    let _ = std::fs::remove_file(&file);
    let out = launcher()
        .arg("--stats-file")
        .arg(&file)
        .arg(known())
        .output()
        .unwrap();
    ok(&out);
    assert!(
        !text(&out.stderr).contains("report"),
        "report went to stderr too"
    );
    let report = std::fs::read_to_string(&file).unwrap();
    assert!(
        figure(&report, "memory in use: peak") >= 64 << 20,
        "{report}"
    );
}

#[test]
fn profile_counts_known_allocations_and_cross_thread_frees_exactly() {
    // Build the profiling library (its own package, in a target directory
    // of its own: this `cargo test` holds the lock of ours) and put it next
    // to the launcher, as an installation does.
    let dir = Path::new(env!("CARGO_BIN_EXE_snmalloc-run"))
        .parent()
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/profile");
    let st = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "snmalloc-rs-profile"])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(&root)
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(st.success(), "cargo build -p snmalloc-rs-profile failed");
    std::fs::copy(
        target.join("release/libsnmalloc_rs_profile.so"),
        dir.join("libsnmalloc_rs_profile.so"),
    )
    .unwrap();
    let out = launcher().arg("--profile").arg(known()).output().unwrap();
    ok(&out);
    let report = text(&out.stderr);
    // size class, allocs, bytes, frees, remote frees
    let row = report
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"262144"))
        .unwrap_or_else(|| panic!("no 262144 class in:\n{report}"));
    assert_eq!(
        row,
        ["262144", "1000", "200000000", "1000", "600"],
        "{report}"
    );
    assert!(
        figure(&report, "largest single allocation") == 64 << 20,
        "{report}"
    );
    assert!(figure(&report, "peak live") >= 1000 * 200000, "{report}");
}

#[test]
fn compare_prints_a_row_per_allocator() {
    let out = launcher()
        .args(["--compare", "-n", "2", "--"])
        .arg(known())
        .output()
        .unwrap();
    let table = ok(&out);
    // Every peer is either in the table or named on stderr as left out.
    let stderr = text(&out.stderr);
    let mut expected = vec!["glibc", "snmalloc-rs"];
    for name in ["jemalloc", "mimalloc", "tcmalloc"] {
        if !stderr.contains(&format!("snmalloc-run: {name} (")) {
            expected.push(name);
        }
    }
    for name in &expected {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        assert!(
            row.trim_end().ends_with(" 0"),
            "{name} did not exit 0: {row}"
        );
    }
    // glibc's own ratios are 1.00 by definition.
    let glibc = table.lines().find(|l| l.starts_with("glibc")).unwrap();
    assert_eq!(glibc.matches("1.00").count(), 2, "{glibc}");
    assert!(
        text(&out.stderr).contains(&format!(
            "run {}/{}",
            expected.len() * 2,
            expected.len() * 2
        )),
        "no progress on stderr"
    );
}

#[test]
fn verbose_says_when_the_library_takes_over() {
    let out = launcher().args(["--verbose", "true"]).output().unwrap();
    ok(&out);
    assert!(
        text(&out.stderr).contains("serving allocations of pid"),
        "{}",
        text(&out.stderr)
    );
    let quiet = launcher().arg("true").output().unwrap();
    assert!(text(&quiet.stderr).is_empty(), "{}", text(&quiet.stderr));
}
