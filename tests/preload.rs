//! C and C++ programs, built by the test, run under LD_PRELOAD of the
//! library: each proves the library serves it and checks its answers.

mod common;
use common::*;
use std::process::Command;

fn run_program(src: &str, expect: &str) {
    let exe = compile(src);
    let out = preloaded(Command::new(&exe));
    let stdout = ok(src, &out);
    assert!(stdout.contains(expect), "{src}: unexpected output {stdout}");
}

#[test]
fn exported_api_and_edge_cases() {
    run_program("api.c", "api ok");
}

#[test]
fn api_program_detects_a_process_without_us() {
    // The same program must fail when our library is not there: the proof
    // that it checks who serves it.
    let exe = compile("api.c");
    let out = plain(Command::new(&exe));
    assert!(!out.status.success(), "api.c passed without the library");
}

#[test]
fn foreign_pointers_go_back_to_glibc() {
    run_program("foreign.c", "foreign ok");
}

#[test]
fn cross_thread_frees_and_thread_churn() {
    run_program("threads.c", "threads ok 800000");
}

#[test]
fn fork_while_threads_allocate() {
    run_program("fork.c", "fork ok");
}

#[test]
fn cxx_new_delete_and_bad_alloc() {
    run_program("cxx.cpp", "cxx ok");
}

#[test]
fn operator_new_without_a_cxx_runtime_aborts_cleanly() {
    let exe = compile("new_from_c.c");
    let out = preloaded(std::process::Command::new(&exe));
    let stdout = ok("new_from_c.c", &out);
    assert!(stdout.contains("new from c ok"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no C++ runtime"),
        "no message on stderr: {stderr}"
    );
}

#[test]
fn deepbind_plugin_blocks_go_back_to_glibc() {
    let plugin = compile_shared("plugin.c");
    let exe = compile("deepbind.c");
    let mut cmd = Command::new(&exe);
    cmd.arg(&plugin);
    let stdout = ok("deepbind.c", &preloaded(cmd));
    // glibc 2.34+ binds the plugin to its own malloc (all 100000 foreign);
    // older glibc calls our __malloc_hook (none foreign). Both must work,
    // and each glibc must do what it does.
    let expected = if glibc_at_least(2, 34) { 100000 } else { 0 };
    assert!(
        stdout.contains(&format!("deepbind ok, {expected} of")),
        "{stdout}"
    );
}

#[test]
fn dlopen_instead_of_preload_does_not_crash() {
    let exe = compile("dlopen.c");
    let mut cmd = Command::new(&exe);
    cmd.arg(library());
    let out = plain(cmd);
    let stdout = ok("dlopen.c", &out);
    // glibc's static-TLS surplus takes the library's initial-exec TLS.
    assert!(stdout.contains("dlopen loaded ok"), "unexpected: {stdout}");
}

#[test]
fn does_not_load_the_cxx_runtime() {
    // Loading libstdc++ into every preloaded process would cost start-up
    // time; references to it must be weak (shim/api/new_failure.cc).
    let dynamic = Command::new("readelf")
        .arg("-dW")
        .arg(library())
        .output()
        .unwrap();
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        !dynamic.contains("libstdc++"),
        "libstdc++ is NEEDED:\n{dynamic}"
    );
    let nm = Command::new("nm")
        .args(["-D", "--undefined-only"])
        .arg(library())
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        let mut f = line.split_whitespace();
        let (kind, sym) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        let cxx = !sym.contains("@GLIBC_")
            && (sym.starts_with("_ZSt")
                || sym.starts_with("_ZT")
                || sym.starts_with("__cxa_")
                || sym.starts_with("__gxx_"));
        assert!(
            !cxx || kind == "w",
            "strong reference to the C++ runtime: {line}"
        );
    }
}

#[test]
fn hot_path_exports_are_snmalloc_itself() {
    // build.rs aliases the pure forwards to the C++ functions (--defsym), so
    // that no stub sits between a program and snmalloc's fast path.
    let nm = Command::new("nm").arg(library()).output().unwrap();
    let syms = String::from_utf8_lossy(&nm.stdout);
    let addr = |name: &str| {
        syms.lines()
            .find(|l| l.split_whitespace().nth(2) == Some(name))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name} not in the symbol table"))
            .to_string()
    };
    for (export, target) in [
        ("malloc", "snrs_malloc"),
        ("free", "snrs_free"),
        ("calloc", "snrs_calloc"),
        ("realloc", "snrs_realloc"),
        ("__libc_free", "snrs_free"),
        ("_Znwm", "snrs_new"),
        ("_ZdlPv", "snrs_free"),
        ("_ZdlPvm", "snrs_free_sized"),
    ] {
        assert_eq!(addr(export), addr(target), "{export} is not {target}");
    }
}

#[test]
fn exports_the_whole_family() {
    let nm = Command::new("nm")
        .arg("-D")
        .arg("--defined-only")
        .arg(library())
        .output()
        .unwrap();
    let syms = String::from_utf8_lossy(&nm.stdout);
    let exported: std::collections::BTreeSet<&str> = syms
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    for s in [
        "malloc",
        "free",
        "calloc",
        "realloc",
        "reallocarray",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "pvalloc",
        "malloc_usable_size",
        "cfree",
        "free_sized",
        "free_aligned_sized",
        "__libc_malloc",
        "__libc_free",
        "__libc_calloc",
        "__libc_realloc",
        "__libc_memalign",
        "__libc_valloc",
        "__libc_pvalloc",
        "__libc_cfree",
        "__posix_memalign",
        "__malloc_hook",
        "__free_hook",
        "__realloc_hook",
        "__memalign_hook",
        "malloc_trim",
        "mallinfo",
        "mallinfo2",
        "mallopt",
        "malloc_stats",
        "malloc_info",
        "_exit",
        "_Exit",
    ] {
        assert!(exported.contains(s), "{s} is not exported");
    }
    let operators = exported
        .iter()
        .filter(|s| s.starts_with("_Zn") || s.starts_with("_Zd"))
        .count();
    assert_eq!(operators, 20, "C++ operators exported: {exported:?}");
    // fork stays libc's: the library needs no wrapper (shim/process/fork.h).
    assert!(!exported.contains("fork"), "fork is exported");
    // Nothing of snmalloc's C++ leaks out: every other export is ours.
    for s in &exported {
        assert!(!s.starts_with("_ZN"), "internal C++ symbol exported: {s}");
    }
}

/// Whether this machine's glibc is at least `major.minor`.
fn glibc_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: returns a static, NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(libc::gnu_get_libc_version()) };
    let mut parts = v
        .to_str()
        .unwrap()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}
