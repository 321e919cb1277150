//! fork() under the library, in the default and the hardened build, in the
//! shapes where an allocator that makes fork wait can deadlock and one that
//! does not can hand the child a held lock (shim/process/fork.h, docs/fork.md).
//! Every shape completes under glibc's malloc, so it must here; each runs
//! several times, since the races it looks for are not there on every run,
//! and a watchdog in each program ends a hung run (exit status 124).

mod common;
use common::*;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output};

const RUNS: usize = 3;

fn expect_ok(what: &str, out: &Output, expect: &str) -> String {
    let stdout = ok(what, out);
    assert!(
        stdout.contains(expect),
        "{what}: unexpected output {stdout}"
    );
    stdout
}

/// tests/programs/fork_shapes.c, linked with tests/programs/fork_lib.c (a
/// library whose constructor registers pthread_atfork handlers before the
/// preloaded allocator's constructor runs).
fn shapes() -> PathBuf {
    let lib = compile_shared("fork_lib.c"); // libfork_lib_c.so
    let dir = lib.parent().unwrap().display().to_string();
    let (search, rpath) = (format!("-L{dir}"), format!("-Wl,-rpath,{dir}"));
    compile_with(
        "fork_shapes.c",
        &[
            OsStr::new(&search),
            OsStr::new("-lfork_lib_c"),
            OsStr::new(&rpath),
        ],
    )
}

/// Runs SHAPE with FORKS forks RUNS times in each build.
fn shape(name: &str, forks: &str, env: &[(&str, &str)]) {
    let exe = shapes();
    for (build, lib) in builds() {
        for run in 0..RUNS {
            let mut cmd = Command::new(&exe);
            cmd.args([name, forks]).envs(env.iter().copied());
            let out = preloaded_with(&lib, cmd);
            expect_ok(
                &format!("{name}, {build} build, run {run}"),
                &out,
                &format!("fork_shapes {name} ok"),
            );
        }
    }
}

#[test]
fn a_library_mutex_held_around_stdio_by_a_worker() {
    // The library's prepare handler (registered before ours) takes its
    // mutex; its worker holds it around fopen/fclose and malloc. An
    // allocator that closed itself, or took stdio's lock, in an earlier
    // handler deadlocked here every time.
    shape("lib-handler", "2000", &[]);
}

#[test]
fn a_program_mutex_held_around_stdio_by_a_worker() {
    shape("main-handler", "2000", &[]);
}

#[test]
fn workers_inside_stdio_while_two_threads_fork() {
    shape("stdio", "100", &[]);
}

#[test]
fn atfork_handlers_that_allocate() {
    shape("prepare-allocates", "300", &[]);
}

#[test]
fn threads_allocate_while_main_forks() {
    // Upstream's shim, with no protection, sometimes hands such a child a
    // held lock and the child hangs.
    shape("threads", "300", &[]);
}

#[test]
fn a_sigchld_handler_reaps_only_the_children_fork_returned() {
    shape("sigchld", "300", &[]);
}

#[test]
fn daemon_posix_spawn_system_vfork_and_popen() {
    shape("spawn", "20", &[]);
}

#[test]
fn a_constructor_that_runs_before_ours_forks() {
    shape("ctor-fork", "1", &[("FORKLIB_FORK_IN_CTOR", "1")]);
}

#[test]
fn a_child_copied_inside_the_allocator_starts_its_shared_pool_again() {
    // A thread is held inside the allocator (in an mmap the shared pool
    // makes under its lock) while main forks: the parent does not wait for
    // it, and the child, which has a copy of that lock held, allocates all
    // the same. Its exit report says it started the pool again; the
    // parent's does not.
    let exe = shapes();
    let hold = compile_shared("hold_mmap.c");
    for (build, lib) in builds() {
        for run in 0..RUNS {
            let mut cmd = Command::new(&exe);
            cmd.arg("torn")
                .env(
                    "LD_PRELOAD",
                    format!("{} {}", hold.display(), lib.display()),
                )
                .env("SNMALLOC_STATS", "1");
            let out = cmd.output().unwrap();
            expect_ok(
                &format!("torn, {build} build, run {run}"),
                &out,
                "fork_shapes torn ok",
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            let reports = stderr.matches("report for pid").count();
            let restarted = stderr
                .matches("forked while another thread was changing the shared pool")
                .count();
            assert_eq!(
                (reports, restarted),
                (2, 1),
                "{build} build, run {run}: the child's report, and only it, \
                 says it restarted:\n{stderr}"
            );
        }
    }
}

#[test]
fn fork_with_stdio_and_getline_never_deadlocks() {
    // glibc's tst-malloc-fork-deadlock: forks, getline (allocating under its
    // FILE lock) and fflush(NULL) (holding the stdio list lock). Each run
    // lasts 2 s; the program's watchdog ends a hung one (exit 124).
    let exe = compile("fork_stdio.c");
    for (build, lib) in builds() {
        for run in 0..RUNS {
            let mut cmd = Command::new(&exe);
            cmd.args(["2", "30"]);
            let out = preloaded_with(&lib, cmd);
            expect_ok(&format!("{build} build, run {run}"), &out, "fork_stdio ok");
        }
    }
}

#[test]
fn fork_from_a_signal_handler_interrupting_malloc() {
    // glibc's tst-mallocfork2: a signal arrives during malloc/free and the
    // handler forks. Single-threaded (the child is a faithful copy), and
    // with other threads allocating (the child only _exits, as POSIX
    // requires).
    let exe = compile("fork_signal.c");
    for (build, lib) in builds() {
        for (shape, signals) in [("", "500"), ("threads", "150")] {
            for run in 0..2 {
                let mut cmd = Command::new(&exe);
                cmd.arg(signals);
                if !shape.is_empty() {
                    cmd.arg(shape);
                }
                let out = preloaded_with(&lib, cmd);
                expect_ok(
                    &format!("{build} build, {shape:?}, run {run}"),
                    &out,
                    "fork_signal ok",
                );
            }
        }
    }
}
