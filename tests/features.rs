//! Variants of the library built with other features, in their own target
//! directories: the hardened `check` build catches bad frees with a message;
//! `debug` (snmalloc's assertions on) and the legacy no-op features build
//! and pass the API program.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn run_with(lib: &Path, exe: &Path, args: &[&str]) -> std::process::Output {
    Command::new(exe)
        .args(args)
        .env("LD_PRELOAD", lib)
        .output()
        .unwrap()
}

#[test]
fn check_build_catches_bad_frees_with_a_message() {
    let lib = variant("check", "check");
    let exe = compile("bad_free.c");
    for case in ["double-free-large", "double-free-small", "interior"] {
        let out = run_with(&lib, &exe, &[case]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("not caught"),
            "{case} was not caught: {:?} {stderr}",
            out.status
        );
        // snmalloc's error(): a message on stderr, then abort().
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{case}: {stderr}");
        assert!(
            stderr.contains("detected"),
            "{case}: no message on stderr: {stderr}"
        );
    }
    // The hardened build still serves correct programs, and foreign blocks.
    for src in ["api.c", "foreign.c"] {
        let exe = compile(src);
        ok(
            &format!("{src} under the check build"),
            &run_with(&lib, &exe, &[]),
        );
    }
}

#[test]
fn debug_and_legacy_features_build_and_serve() {
    let lib = variant(
        "debug",
        "debug,1mib,cache-friendly,native-cpu,local_dynamic_tls",
    );
    for src in ["api.c", "foreign.c"] {
        let exe = compile(src);
        ok(
            &format!("{src} under the debug build"),
            &run_with(&lib, &exe, &[]),
        );
    }
}
