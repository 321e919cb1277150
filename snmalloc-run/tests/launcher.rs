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
    assert_eq!(out.status.code(), Some(125));
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
fn sanitizer_programs_are_refused_with_a_reason() {
    // An ASan program's runtime is its allocator and must load first:
    // with ours preloaded ASan refuses to start, or crashes when told not
    // to check the order.
    let src = tmp().join("asan.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\nint main(void) { free(malloc(8)); return 0; }\n",
    )
    .unwrap();
    let exe = tmp().join("asan");
    let st = Command::new("gcc")
        .args(["-fsanitize=address", "-g"])
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(st.success(), "gcc -fsanitize=address failed (libasan)");
    assert!(Command::new(&exe).status().unwrap().success());
    let out = launcher().arg(&exe).output().unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("is built with AddressSanitizer, whose runtime is its allocator"),
        "{}",
        text(&out.stderr)
    );
}

/// A program that makes 5000 allocations and says how many snmalloc served.
fn counted() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let src = tmp().join("counted.c");
        std::fs::write(
            &src,
            "#include <dlfcn.h>\n#include <stdio.h>\n#include <stdlib.h>\n\
             int main(void) {\n\
               int (*owns)(const void*) = (int (*)(const void*))dlsym(RTLD_DEFAULT, \"snmalloc_rs_owns\");\n\
               int ours = 0;\n\
               for (int i = 0; i < 5000; i++) { void* p = malloc(100 + i % 64); ours += owns && owns(p); free(p); }\n\
               printf(\"%d of 5000 served by snmalloc\\n\", ours);\n\
               return 0;\n\
             }\n",
        )
        .unwrap();
        let exe = tmp().join("counted");
        let st = Command::new("gcc")
            .args(["-O1", "-fno-builtin"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .arg("-ldl")
            .status()
            .unwrap();
        assert!(st.success());
        exe
    })
}

#[test]
fn gdb_runs_a_program_on_snmalloc() {
    // gdb itself runs on the library, and starts its program with the
    // environment it got: the program is served too.
    let out = launcher()
        .args(["gdb", "-q", "-batch", "-ex", "run", "--args"])
        .arg(counted())
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.contains("5000 of 5000 served by snmalloc") && stdout.contains("exited normally"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
}

#[test]
fn heaptrack_records_every_call_and_passes_it_to_snmalloc() {
    // `snmalloc-run heaptrack CMD`: heaptrack's library goes first in
    // CMD's LD_PRELOAD, records each call and passes it on to ours.
    // (`heaptrack snmalloc-run CMD` records the launcher alone: heaptrack
    // follows no exec.)
    let exe = counted();
    let data = tmp().join("heaptrack-counted");
    let _ = std::fs::remove_file(data.with_extension("zst"));
    let _ = std::fs::remove_file(data.with_extension("gz"));
    let out = launcher()
        .arg("heaptrack")
        .arg("-o")
        .arg(&data)
        .arg(exe)
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.contains("5000 of 5000 served by snmalloc"),
        "{stdout}"
    );
    let recorded = ["zst", "gz"]
        .iter()
        .map(|x| data.with_extension(x))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no heaptrack data: {}", text(&out.stderr)));
    let printed = ok(&Command::new("heaptrack_print")
        .arg(&recorded)
        .output()
        .unwrap());
    let calls: u64 = printed
        .lines()
        .find_map(|l| l.strip_prefix("calls to allocation functions: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{printed}"));
    assert!((5000..5100).contains(&calls), "heaptrack saw {calls} calls");
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

/// The library the launcher would preload (next to it, in Cargo's layout).
fn our_library() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_snmalloc-run"))
        .parent()
        .unwrap();
    [
        dir.join("libsnmalloc_rs.so"),
        dir.join("deps/libsnmalloc_rs.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .expect("libsnmalloc_rs.so next to the launcher")
}

/// Exit status and the one-line reason on stderr.
fn refused(out: &Output, code: i32, reason: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(reason), "expected {reason:?} in: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(
        text(&out.stdout).is_empty(),
        "CMD ran: {}",
        text(&out.stdout)
    );
}

#[test]
fn libraries_that_cannot_serve_are_refused_before_exec() {
    // Not ELF.
    refused(
        &launcher()
            .args(["--lib", "/etc/passwd", "true"])
            .output()
            .unwrap(),
        124,
        "is not an ELF shared object",
    );
    // A shared object without malloc (libm is one on every glibc system).
    let libm = [
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib64/libm.so.6",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
    .expect("libm.so.6");
    refused(
        &launcher().args(["--lib", libm, "true"]).output().unwrap(),
        124,
        "exports no malloc",
    );
    // An executable is not a library.
    refused(
        &launcher()
            .arg("--lib")
            .arg(known())
            .arg("true")
            .output()
            .unwrap(),
        124,
        "is a program, not a shared object",
    );
    refused(
        &launcher()
            .args(["--lib", "/nope/libx.so", "true"])
            .output()
            .unwrap(),
        125,
        "no such library",
    );
    // And every --with of --compare, before any run.
    refused(
        &launcher()
            .args([
                "--compare",
                "--with",
                "bogus=/etc/passwd",
                "--",
                "/usr/bin/true",
            ])
            .output()
            .unwrap(),
        124,
        "--with bogus=/etc/passwd: is not an ELF shared object",
    );
    refused(
        &launcher()
            .args([
                "--compare",
                "--with",
                "missing=/nope.so",
                "--",
                "/usr/bin/true",
            ])
            .output()
            .unwrap(),
        125,
        "--with missing=/nope.so: no such library",
    );
}

#[test]
fn the_command_line_follows_the_conventions() {
    let out = launcher().arg("--version").output().unwrap();
    assert_eq!(
        ok(&out).trim(),
        format!("snmalloc-run {}", env!("CARGO_PKG_VERSION"))
    );
    let help = ok(&launcher().arg("--help").output().unwrap());
    assert!(help.contains("exit status:"), "{help}");
    refused(
        &launcher().args(["--stat", "true"]).output().unwrap(),
        2,
        "did you mean --stats?",
    );
    refused(
        &launcher()
            .args(["-n", "zero", "--compare", "true"])
            .output()
            .unwrap(),
        2,
        "--runs needs a positive number",
    );
    refused(
        &launcher().arg("--stats").output().unwrap(),
        2,
        "no command to run",
    );
    // Values the library would only warn about are refused before CMD runs.
    refused(
        &launcher()
            .args(["--decay", "soon", "true"])
            .output()
            .unwrap(),
        2,
        "--decay takes a number of milliseconds, 0 or kernel, not \"soon\"",
    );
    refused(
        &launcher()
            .args(["--profile", "--check", "true"])
            .output()
            .unwrap(),
        2,
        "--profile and --check are two libraries",
    );
    refused(
        &launcher().arg("./no-such-program").output().unwrap(),
        127,
        "./no-such-program: command not found",
    );
    // --opt=value, -nN and -- : the report goes to the file named inline.
    let report = tmp().join("inline-report.txt");
    let _ = std::fs::remove_file(&report);
    let mut arg = std::ffi::OsString::from("--stats-file=");
    arg.push(&report);
    ok(&launcher().arg(arg).arg("--").arg(known()).output().unwrap());
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("memory in use"));
    let out = launcher()
        .args(["--compare", "-n1", "--ignore-output", "--", "true"])
        .output()
        .unwrap();
    assert!(ok(&out).contains("(1 runs each"), "{}", text(&out.stdout));
}

#[test]
fn stats_file_is_made_absolute_and_checked_before_exec() {
    refused(
        &launcher()
            .args(["--stats-file", "/nonexistent/dir/r.txt", "true"])
            .output()
            .unwrap(),
        123,
        "cannot be used: the file is in a directory that does not exist",
    );
    // Relative to where the launcher ran, although CMD changes directory.
    let dir = tmp().join("stats-rel");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    ok(&launcher()
        .current_dir(&dir)
        .args([
            "--stats-file",
            "r.txt",
            "sh",
            "-c",
            "cd elsewhere && exec \"$0\"",
        ])
        .arg(known())
        .output()
        .unwrap());
    assert!(std::fs::read_to_string(dir.join("r.txt"))
        .unwrap()
        .contains("memory in use"));
    assert!(!dir.join("elsewhere/r.txt").exists());
}

#[test]
fn reports_speak_for_the_named_program_unless_children_are_asked_for() {
    // A shim that runs a child, then execs the program: one process (the
    // shim, then the program) says once that it is served, the child does
    // not; one report, the program's, naming its pid.
    let script = format!("python3 -c pass; exec {}", known().display());
    let out = launcher()
        .args(["--stats", "--verbose", "sh", "-c", &script])
        .output()
        .unwrap();
    ok(&out);
    let err = text(&out.stderr);
    let served: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("serving allocations of pid"))
        .collect();
    assert_eq!(served.len(), 1, "{err}");
    assert!(served[0].ends_with("(sh)"), "{err}");
    fn pid(l: &str) -> Option<&str> {
        l.split("pid ").nth(1)?.split_whitespace().next()
    }
    assert_eq!(err.matches(" report for pid ").count(), 1, "{err}");
    let report = err
        .lines()
        .find(|l| l.contains(" report for pid "))
        .unwrap();
    assert_eq!(pid(served[0]), pid(report), "{err}");
    assert!(
        err.contains("known):\n"),
        "the report names the program: {err}"
    );
    let all = launcher()
        .args(["--stats", "--verbose", "--children", "sh", "-c", &script])
        .output()
        .unwrap();
    ok(&all);
    let err = text(&all.stderr);
    assert!(err.matches(" report for pid ").count() >= 2, "{err}");
}

#[test]
fn compare_shows_the_first_difference_and_can_ignore_output() {
    // Each run prints an address: different under every allocator.
    let probe = "import ctypes; print('same'); print(hex(ctypes.CDLL(None).malloc(24)))";
    let out = launcher()
        .args(["--compare", "-n", "1", "--", "python3", "-c", probe])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let table = text(&out.stdout);
    assert!(
        table.contains("first difference at line 2: glibc: \""),
        "{table}"
    );
    let out = launcher()
        .args([
            "--compare",
            "-n",
            "1",
            "--ignore-lines",
            "0x",
            "--",
            "python3",
            "-c",
            probe,
        ])
        .output()
        .unwrap();
    assert!(!ok(&out).contains("note:"), "{}", text(&out.stdout));
    let out = launcher()
        .args([
            "--compare",
            "-n",
            "1",
            "--ignore-output",
            "--",
            "python3",
            "-c",
            probe,
        ])
        .output()
        .unwrap();
    assert!(!ok(&out).contains("note:"), "{}", text(&out.stdout));
}

#[test]
fn secure_execution_programs_are_warned_about() {
    // A set-user-ID copy of `true` owned by another user: the kernel runs
    // it with AT_SECURE, and the loader ignores LD_PRELOAD.
    // SAFETY: no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CI runs as root) to make a set-user-ID file"
    );
    let exe = tmp().join("setuid-true");
    std::fs::copy("/bin/true", &exe).unwrap();
    let st = Command::new("chown")
        .arg("65534")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(st.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let out = launcher().arg(&exe).output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("is set-user-ID") && err.contains("secure-execution mode"),
        "{err}"
    );
    let plain = launcher().arg("true").output().unwrap();
    assert!(text(&plain.stderr).is_empty());
}

#[test]
fn musl_programs_are_refused_without_a_musl_build() {
    let src = tmp().join("musl.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\nint main(void) { free(malloc(1)); return 0; }\n",
    )
    .unwrap();
    let exe = tmp().join("musl-prog");
    let st = Command::new("musl-gcc")
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("musl-gcc (scripts/install-test-deps.sh installs musl-tools)");
    assert!(st.success());
    // A launcher and glibc library of their own, with no musl build next
    // to them (tests/musl.rs runs musl programs on the musl build).
    let dir = tmp().join("no-musl-build");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_snmalloc-run"), dir.join("snmalloc-run")).unwrap();
    std::fs::copy(our_library(), dir.join("libsnmalloc_rs.so")).unwrap();
    refused(
        &Command::new(dir.join("snmalloc-run"))
            .arg(&exe)
            .output()
            .unwrap(),
        126,
        "is linked against musl",
    );
}

#[test]
fn add_needed_writes_a_copy_that_runs_on_snmalloc_by_itself() {
    let src = tmp().join("owned.c");
    std::fs::write(
        &src,
        "#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stdio.h>\n#include <stdlib.h>\n\
         int main(void) { void* p = malloc(100); int (*owns)(const void*) = \
         (int (*)(const void*))dlsym(RTLD_DEFAULT, \"snmalloc_rs_owns\"); \
         printf(\"%d\\n\", owns ? owns(p) : 0); free(p); return 0; }\n",
    )
    .unwrap();
    let app = tmp().join("owned");
    assert!(Command::new("gcc")
        .args(["-O1", "-fno-builtin"])
        .arg(&src)
        .arg("-o")
        .arg(&app)
        .arg("-ldl")
        .status()
        .unwrap()
        .success());
    let before = std::fs::read(&app).unwrap();
    let out_exe = tmp().join("owned-sn");
    let _ = std::fs::remove_file(&out_exe);
    ok(&launcher()
        .arg("--add-needed")
        .arg(&app)
        .arg(&out_exe)
        .output()
        .unwrap());
    // The copy runs on snmalloc without the launcher; the original is
    // unchanged and runs on glibc.
    let run = |exe: &Path| ok(&Command::new(exe).env_remove("LD_PRELOAD").output().unwrap());
    assert_eq!(run(&out_exe).trim(), "1");
    assert_eq!(run(&app).trim(), "0");
    assert_eq!(std::fs::read(&app).unwrap(), before);
    let needed = text(
        &Command::new("patchelf")
            .arg("--print-needed")
            .arg(&out_exe)
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(
        needed.lines().next(),
        our_library().canonicalize().unwrap().to_str()
    );
    // Refusals: already patched, static, not ELF.
    refused(
        &launcher()
            .arg("--add-needed")
            .arg(&out_exe)
            .arg(tmp().join("twice"))
            .output()
            .unwrap(),
        1,
        "already loads",
    );
    refused(
        &launcher()
            .args(["--add-needed", "/etc/passwd"])
            .arg(tmp().join("x"))
            .output()
            .unwrap(),
        1,
        "is not an ELF program",
    );
}

#[test]
fn ld_so_preload_recipe_works_in_a_private_mount_namespace() {
    // docs/deployment.md's whole-machine recipe, on a private copy of /etc
    // bind-mounted in a mount namespace of this test only.
    let had_preload = Path::new("/etc/ld.so.preload").exists();
    let etc = tmp().join("etc-copy");
    let _ = std::fs::remove_dir_all(&etc);
    let st = Command::new("cp")
        .args(["-a", "/etc"])
        .arg(&etc)
        .status()
        .unwrap();
    assert!(
        st.success() || etc.join("ld.so.cache").exists(),
        "copying /etc failed"
    );
    std::fs::write(
        etc.join("ld.so.preload"),
        format!("{}\n", our_library().canonicalize().unwrap().display()),
    )
    .unwrap();
    let probe = "import ctypes; l = ctypes.CDLL(None); l.malloc.restype = ctypes.c_void_p; \
                 l.snmalloc_rs_owns.argtypes = [ctypes.c_void_p]; \
                 print(l.snmalloc_rs_owns(l.malloc(100)))";
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc && exec python3 -c "$1""#)
        .arg(&etc)
        .arg(probe)
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), "1", "{}", text(&out.stderr));
    // The machine's own /etc is untouched.
    assert_eq!(Path::new("/etc/ld.so.preload").exists(), had_preload);
}

#[test]
fn library_paths_that_ld_preload_would_split_are_refused() {
    // LD_PRELOAD splits at whitespace and colons: "/dir with space/lib.so"
    // made the loader load "lib.so"'s tail relative to the current
    // directory (a planted library ran).
    for dir in ["dir with space", "dir:colon", "dir\ttab"] {
        let d = tmp().join(dir);
        std::fs::create_dir_all(&d).unwrap();
        let lib = d.join("libsnmalloc_rs.so");
        std::fs::copy(our_library(), &lib).unwrap();
        refused(
            &launcher()
                .arg("--lib")
                .arg(&lib)
                .arg("true")
                .output()
                .unwrap(),
            124,
            "has a space or a colon in its path",
        );
        refused(
            &launcher()
                .args(["--compare", "-n1", "--with"])
                .arg(format!("spaced={}", lib.display()))
                .arg("true")
                .output()
                .unwrap(),
            124,
            "has a space or a colon in its path",
        );
    }
}

#[test]
fn output_files_are_never_followed() {
    // --stats-file, --csv, --runs-csv and --add-needed OUT naming a symbolic
    // link (planted in a shared directory): refused with one line, the
    // link's target untouched.
    let dir = tmp().join("no-follow");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("target");
    std::fs::write(&target, "precious\n").unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    refused(
        &launcher()
            .arg("--stats-file")
            .arg(&link)
            .arg("true")
            .output()
            .unwrap(),
        123,
        "the file is a symbolic link",
    );
    for flag in ["--csv", "--runs-csv"] {
        let out = launcher()
            .args(["--compare", "-n1", flag])
            .arg(&link)
            .arg("true")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("the file is a symbolic link"),
            "{flag}: {}",
            text(&out.stderr)
        );
    }
    let out = launcher()
        .arg("--add-needed")
        .arg(known())
        .arg(&link)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is a symbolic link"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    // A CSV row with a comma and quotes in its label is quoted.
    let csv = dir.join("rows.csv");
    ok(&launcher()
        .args(["--compare", "-n1", "--ignore-output", "--csv"])
        .arg(&csv)
        .args(["--label", "a, \"b\"", "true"])
        .output()
        .unwrap());
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert!(
        rows.lines()
            .nth(1)
            .unwrap()
            .starts_with("\"a, \"\"b\"\"\",glibc,"),
        "{rows}"
    );
}

#[test]
fn tools_already_in_ld_preload_keep_their_place() {
    // heaptrack (and the like) records each call and passes it on to the
    // next definition: ours must come after it, not before.
    let tool = tmp().join("libtool-first.so");
    let src = tmp().join("tool-first.c");
    std::fs::write(&src, "int tool_first_marker;\n").unwrap();
    let st = Command::new("gcc")
        .args(["-shared", "-fPIC"])
        .arg(&src)
        .arg("-o")
        .arg(&tool)
        .status()
        .unwrap();
    assert!(st.success());
    let out = launcher()
        .args(["sh", "-c", "echo \"$LD_PRELOAD\""])
        .env("LD_PRELOAD", &tool)
        .output()
        .unwrap();
    let value = ok(&out);
    let parts: Vec<&str> = value.split_whitespace().collect();
    assert_eq!(parts.len(), 2, "{value}");
    assert_eq!(Path::new(parts[0]), tool.as_path(), "{value}");
    assert!(parts[1].ends_with("libsnmalloc_rs.so"), "{value}");
}
