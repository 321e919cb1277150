//! Variants of the library built with other features, in their own target
//! directories: the hardened `check` build (whose catches are in
//! tests/hardening.rs), `debug` (snmalloc's assertions on) and the legacy
//! no-op features build and pass the API and foreign-block programs.

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
fn check_build_serves_correct_programs() {
    // (What it catches: tests/hardening.rs.)
    let lib = variant("check", "check");
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
