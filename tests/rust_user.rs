//! A downstream crate using `SnMalloc` as its global allocator: by default
//! its C `malloc` stays the system's; with the `override` feature it is
//! snmalloc's too. Builds the fixture crate in its own target directory.

use std::path::Path;
use std::process::Command;

fn build_and_run(features: &[&str]) -> String {
    build_and_run_fixture("rust-user", features)
}

/// Builds and runs tests/fixtures/`name` in a target directory of its own.
fn build_and_run_fixture(name: &str, features: &[&str]) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(&fixture)
        .args(["run", "--quiet", "--release", "--target-dir"])
        .arg(&target)
        .args(features)
        .env_remove("LD_PRELOAD")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "fixture {features:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn library_users_keep_the_system_malloc_unless_they_opt_in() {
    assert_eq!(
        build_and_run(&[]).trim(),
        "rust: snmalloc, c malloc: system"
    );
    assert_eq!(
        build_and_run(&["--features", "override"]).trim(),
        "rust: snmalloc, c malloc: snmalloc"
    );
}

/// A program written for the 0.7 crate, with every 0.7 feature name it
/// could ask for, builds unchanged and runs on snmalloc.
#[test]
fn a_program_written_for_the_0_7_crate_builds_and_runs() {
    assert_eq!(
        build_and_run_fixture("v07-user", &[]).trim(),
        "0.7 API on snmalloc: 8388608 bytes in a vector"
    );
}

/// A Rust program under an address-space limit gets the compact pagemap
/// too (Linux glibc): it starts, uses most of the limit, and a request
/// beyond it fails as a `Result`, not an abort.
#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_rust_program_works_under_an_address_space_limit() {
    // Build first, unlimited (cargo and rustc need more than 1 GiB).
    build_and_run(&[]);
    let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-user/release/rust-user");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 1048576 && exec "$0" limited"#)
        .arg(&bin)
        .env_remove("LD_PRELOAD")
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "under ulimit -v 1 GiB: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "limited: 800 MiB"
    );
}
