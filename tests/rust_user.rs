//! A downstream crate using `SnMalloc` as its global allocator: by default
//! its C `malloc` stays the system's; with the `override` feature it is
//! snmalloc's too. Builds the fixture crate in its own target directory.

use std::path::Path;
use std::process::Command;

fn build_and_run(features: &[&str]) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rust-user");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-user");
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
