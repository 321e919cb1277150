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

/// tests/programs/limits_runtime.c in `mode`, preloaded, under `ulimit -v`
/// `kib` if given.
fn limits_runtime(mode: &str, kib: Option<u64>) {
    let exe = compile("limits_runtime.c");
    let out = match kib {
        Some(kib) => limited("-v", kib, exe.to_str().unwrap(), &[mode], &[]),
        None => preloaded(command(&exe, &[mode])),
    };
    let what = format!("limits_runtime {mode}, limit {kib:?} KiB");
    assert!(
        ok(&what, &out).contains(&format!("limits_runtime {mode} ok")),
        "{what}"
    );
}

#[test]
fn a_limit_set_at_run_time_leaves_room_for_threads_and_memory_freed_under_it() {
    // glibc's tst-malloc-thread-fail: RLIMIT_AS of 1 GiB set by the
    // program; each new thread (its stack must fit) fills it with large,
    // then small blocks, frees them and ends. The flat pagemap's 256 GiB
    // reservation made every thread creation fail with EAGAIN.
    let _one_at_a_time = memory_hungry();
    limits_runtime("threads", None);
    // A child that limits itself to 200 MiB, fills it, and allocates again.
    limits_runtime("child", None);
}

#[test]
fn freed_small_blocks_serve_a_large_one_under_every_limit() {
    // 64-byte blocks until ENOMEM, all freed, then 16 MiB: the freed
    // memory must serve it (it was NULL at every limit).
    let _one_at_a_time = memory_hungry();
    for mib in [200u64, 1024, 4096] {
        limits_runtime("small", Some(mib << 10));
    }
}

#[test]
fn python_recovers_from_memory_error_under_a_limit_set_at_run_time() {
    let _one_at_a_time = memory_hungry();
    let script = "import resource, ctypes\n\
        resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20))\n\
        l = []\n\
        try:\n    while True: l.append(bytearray(1 << 20))\n\
        except MemoryError: pass\n\
        n = len(l); del l\n\
        again = [bytearray(1 << 20) for _ in range(n // 2)]\n\
        words = [str(i) * 10 for i in range(100000)]\n\
        c = ctypes.CDLL(None); c.malloc.restype = ctypes.c_void_p\n\
        c.snmalloc_rs_owns.argtypes = [ctypes.c_void_p]\n\
        print('recovered', n, len(again), c.snmalloc_rs_owns(c.malloc(100)))\n";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script]);
    let stdout = ok("python3 under a run-time RLIMIT_AS", &preloaded(cmd));
    let f: Vec<u64> = stdout
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(f.len(), 3, "{stdout}");
    assert!(
        f[0] >= 250,
        "only {} MiB before MemoryError: {stdout}",
        f[0]
    );
    assert_eq!((f[1], f[2]), (f[0] / 2, 1), "{stdout}");
}

#[test]
fn a_program_runs_under_valgrind() {
    // valgrind gives a program a limited address space: a reservation the
    // size of a flat pagemap failed at start ("Failed to initialise
    // snmalloc."). The real python3 binary (not a wrapper script), so that
    // valgrind runs it.
    let script = "import ctypes; x = [bytes(100) for _ in range(100000)]; \
                  y = bytearray(50 << 20); c = ctypes.CDLL(None); \
                  c.malloc.restype = ctypes.c_void_p; \
                  c.snmalloc_rs_owns.argtypes = [ctypes.c_void_p]; \
                  print('valgrind ok', c.snmalloc_rs_owns(c.malloc(100)))";
    let mut cmd = Command::new("valgrind");
    cmd.args(["-q", "--tool=none"])
        .arg(python3())
        .args(["-c", script]);
    let stdout = ok("python3 under valgrind --tool=none", &preloaded(cmd));
    assert_eq!(stdout.trim(), "valgrind ok 1");
}

#[test]
fn zero_filled_large_blocks_do_not_fault_their_pages_in_again() {
    // 5-25 MiB blocks replaced in a loop, each memset when made: the pages a
    // freed block used serve the next one, so that the pages faulted are
    // about those of the most blocks live at once (1.3 times here). Before,
    // pages dropped at each allocation were faulted again: 5 times; glibc
    // 3.6 times (scripts/bench.sh measures the time). Bound: twice.
    let _one_at_a_time = memory_hungry();
    let exe = compile("zerofill.c");
    let out = preloaded(command(&exe, &["1000"]));
    ok("zerofill 1000", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let f: Vec<f64> = stderr
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    assert_eq!(f.len(), 3, "{stderr}");
    let (faults, peak) = (f[0], f[2]);
    assert!(
        faults <= 2.0 * peak,
        "{:.1} times the most pages live were faulted: {stderr}",
        faults / peak
    );
}
