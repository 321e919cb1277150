//! The launcher runs programs with the library preloaded, passes their exit
//! status through and reports what it cannot do.

use std::process::Command;

fn launcher() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snmalloc-run"))
}

#[test]
fn program_runs_on_snmalloc() {
    let probe = "import ctypes; l = ctypes.CDLL(None); l.malloc.restype = ctypes.c_void_p; \
                 l.snmalloc_rs_owns.argtypes = [ctypes.c_void_p]; \
                 print(l.snmalloc_rs_owns(l.malloc(100)))";
    let out = launcher().args(["python3", "-c", probe]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

#[test]
fn exit_status_passes_through() {
    let out = launcher().args(["sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn missing_command_is_reported() {
    let out = launcher().arg("no-such-command-snmalloc").output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run no-such-command-snmalloc"));
}
