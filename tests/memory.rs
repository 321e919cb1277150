//! Memory behaviour (docs/memory.md), each case a real process: programs
//! start and work under address-space and data limits, impossible requests
//! are refused at once by every entry point, freed memory leaves the
//! resident set, the SNMALLOC_DECAY settings do what they say, and mallinfo2
//! counts what the program holds.

mod common;
use common::*;
use std::process::{Command, Output};

/// Runs `prog ARGS` under `ulimit FLAG KIB` (bash's), preloaded, with `env`.
fn limited(flag: &str, kib: u64, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("ulimit {flag} {kib} && exec \"$0\" \"$@\""))
        .arg(prog)
        .args(args)
        .env("LD_PRELOAD", library());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn bash")
}

/// The share of the limit a `limits.c` run obtained, from its output.
fn share(stdout: &str) -> f64 {
    stdout
        .split("limits ok: ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no share in {stdout:?}"))
}

#[test]
fn programs_fill_an_address_space_limit_then_get_enomem_and_recover() {
    let _one_at_a_time = memory_hungry();
    let exe = compile("limits.c");
    let exe = exe.to_str().unwrap();
    for mib in [200u64, 1024, 4096] {
        // A power of two, a small size, and a size whose power-of-two chunk
        // would waste 40% (mapped on its own under a limit).
        for block in ["1048576", "64", "600000"] {
            let out = limited("-v", mib << 10, exe, &[block], &[]);
            let stdout = ok(&format!("ulimit -v {mib} MiB, {block}-byte blocks"), &out);
            let got = share(&stdout);
            assert!(
                got >= 70.0,
                "{mib} MiB, {block}-byte blocks: only {got}% of the limit"
            );
        }
    }
}

#[test]
fn programs_fill_a_data_limit_then_get_enomem_and_recover() {
    let _one_at_a_time = memory_hungry();
    let exe = compile("limits.c");
    let out = limited("-d", 512 << 10, exe.to_str().unwrap(), &["1048576"], &[]);
    let stdout = ok("ulimit -d 512 MiB", &out);
    assert!(share(&stdout) >= 70.0, "{stdout}");
}

#[test]
fn large_blocks_of_any_size_work_with_and_without_a_limit() {
    let _one_at_a_time = memory_hungry();
    let exe = compile("large_blocks.c");
    let exe = exe.to_str().unwrap();
    for (name, lib) in builds() {
        // The check build's metadata layout (guard ranges 64 times the
        // metadata) needs more address space than 200 MiB leaves here.
        let limits: &[u64] = if name == "check" {
            &[1024, 4096]
        } else {
            &[200, 1024, 4096]
        };
        for &mib in limits {
            let mut cmd = Command::new("bash");
            cmd.arg("-c")
                .arg(format!("ulimit -v {} && exec \"$0\"", mib << 10))
                .arg(exe);
            let out = preloaded_with(&lib, cmd);
            let what = format!("large_blocks.c, {name} build, ulimit -v {mib} MiB");
            assert!(ok(&what, &out).contains("large_blocks ok"));
        }
        let out = preloaded_with(&lib, Command::new(exe));
        let what = format!("large_blocks.c, {name} build, no limit");
        assert!(ok(&what, &out).contains("large_blocks ok"));
    }
}

#[test]
fn python3_runs_under_an_address_space_limit() {
    let _one_at_a_time = memory_hungry();
    for mib in [200u64, 1024] {
        let out = limited(
            "-v",
            mib << 10,
            "python3",
            &[
                "-c",
                "x = [bytes(1000) for _ in range(50000)]; del x; print('python ok')",
            ],
            &[("SNMALLOC_VERBOSE", "1")],
        );
        let stdout = ok(&format!("python3 under {mib} MiB"), &out);
        assert!(stdout.contains("python ok"), "{stdout}");
        // Served by the library.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("serving allocations"),
            "python3 was not served by the library:\n{stderr}"
        );
    }
}

/// A request no allocator could satisfy on this machine, and a large one
/// that it can, from the kernel's overcommit rules.
fn request_sizes() -> (u64, u64) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let field = |name: &str| -> u64 {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let ram = field("MemTotal:");
    let swap = field("SwapTotal:");
    let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
    // Heuristic mode refuses one mapping larger than RAM + swap; otherwise
    // ask for more than the 47-bit user address space.
    let impossible = if mode.trim() == "0" {
        (ram + swap) * 2
    } else {
        1 << 47
    };
    (impossible, (8u64 << 30).min(ram / 2))
}

#[test]
fn impossible_requests_are_refused_at_once_by_every_entry_point() {
    let (huge, possible) = request_sizes();
    let exe = compile("impossible.c");
    let mut cmd = Command::new(&exe);
    cmd.arg(huge.to_string()).arg(possible.to_string());
    let stdout = ok("impossible.c", &preloaded(cmd));
    assert!(stdout.contains("impossible ok"), "{stdout}");
    // Under an address-space limit: larger than what is left.
    let out = limited(
        "-v",
        4 << 20,
        exe.to_str().unwrap(),
        &[&(8u64 << 30).to_string(), &(1u64 << 30).to_string()],
        &[],
    );
    assert!(ok("impossible.c under 4 GiB", &out).contains("impossible ok"));
}

#[test]
fn cxx_new_of_an_impossible_size_throws_and_nothrow_returns_null() {
    let (huge, _) = request_sizes();
    let exe = compile("impossible_new.cpp");
    let mut cmd = Command::new(&exe);
    cmd.arg(huge.to_string());
    let stdout = ok("impossible_new.cpp", &preloaded(cmd));
    assert!(stdout.contains("impossible new ok"), "{stdout}");
}

fn give_back(mode: &str, env: &[(&str, &str)]) -> String {
    let exe = compile("give_back.c");
    let mut cmd = Command::new(&exe);
    cmd.arg(mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let stdout = ok(&format!("give_back {mode}"), &preloaded(cmd));
    assert!(stdout.contains("give_back ok"), "{stdout}");
    stdout
}

#[test]
fn freed_large_blocks_leave_the_resident_set() {
    let _one_at_a_time = memory_hungry();
    give_back("large", &[]);
}

#[test]
fn malloc_trim_gives_back_freed_small_blocks() {
    let _one_at_a_time = memory_hungry();
    give_back("small", &[]);
}

#[test]
fn decay_zero_keeps_nothing_and_kernel_leaves_pages_to_the_kernel() {
    let _one_at_a_time = memory_hungry();
    give_back("at-once", &[("SNMALLOC_DECAY", "0")]);
    give_back("kernel", &[("SNMALLOC_DECAY", "kernel")]);
}

#[test]
fn a_bad_decay_value_is_reported_and_the_default_kept() {
    let exe = compile("give_back.c");
    let mut cmd = Command::new(&exe);
    cmd.arg("large").env("SNMALLOC_DECAY", "soon");
    let out = preloaded(cmd);
    ok("give_back with SNMALLOC_DECAY=soon", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SNMALLOC_DECAY=soon is not"),
        "no message: {stderr}"
    );
}

#[test]
fn mallinfo2_counts_what_the_program_holds() {
    let _one_at_a_time = memory_hungry();
    give_back("mallinfo", &[]);
}

#[test]
fn threads_and_fork_while_memory_goes_back_at_once() {
    let _one_at_a_time = memory_hungry();
    // The most eager setting: every range freed to the shared pool goes
    // back to the OS at once, while threads free each other's blocks, end,
    // and fork.
    for src in ["threads.c", "fork.c"] {
        let exe = compile(src);
        let mut cmd = Command::new(&exe);
        cmd.env("SNMALLOC_DECAY", "0");
        ok(&format!("{src} with SNMALLOC_DECAY=0"), &preloaded(cmd));
    }
}
