//! Secure execution and the report's file: no environment variable lets a
//! user make a privileged process write where the user cannot.
//!
//! The privileged case is the deployment docs/deployment.md describes:
//! the library in `/etc/ld.so.preload`, which the loader honours for
//! set-user-ID programs. It runs in a private mount namespace over a copy
//! of `/etc` (the machine's own is never touched), with a set-user-ID-root
//! program run by `nobody`. Needs root (as the other namespace tests).

mod common;
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CRON_LINE: &str = "* * * * * root echo pwned";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A directory every user can enter (the scratch directories may sit under
/// a home only root can enter), with our library and a set-user-ID-root
/// copy of the probe in it, and a copy of /etc whose ld.so.preload names
/// the library.
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        assert_eq!(
            // SAFETY: geteuid has no preconditions.
            unsafe { libc::geteuid() },
            0,
            "tests/secure.rs needs root (set-user-ID files, mount namespaces)"
        );
        let dir =
            std::env::temp_dir().join(format!("snmalloc-rs-secure-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(library(), dir.join("libsnmalloc_rs.so")).unwrap();
        let probe = dir.join("probe");
        std::fs::copy(compile("secure_probe.c"), &probe).unwrap();
        std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let etc = dir.join("etc");
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
            format!("{}\n", dir.join("libsnmalloc_rs.so").display()),
        )
        .unwrap();
        Sandbox { dir }
    }

    /// Runs the shell `script` (with `$D` the sandbox) in a mount namespace
    /// where /etc is the copy.
    fn run(&self, script: &str) -> Output {
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(r#"mount --bind "$D/etc" /etc && {script}"#))
            .env("D", &self.dir)
            .env_remove("LD_PRELOAD")
            .env_remove("SNMALLOC_STATS")
            .env_remove("SNMALLOC_VERBOSE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// A root-owned 0600 file with known content.
    fn victim(&self) -> PathBuf {
        let f = self.dir.join("victim");
        std::fs::write(&f, "root's data\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        f
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_set_user_id_program_ignores_the_callers_options() {
    let sb = Sandbox::new("suid");
    let victim = sb.victim();
    // The attack of the issue: nobody runs the set-user-ID-root probe with
    // the report aimed at a root-owned file, a cron line in argv[0], and
    // every other option set. A second target that does not exist yet
    // checks that nothing is created either.
    let out = sb.run(&format!(
        r#"exec setpriv --reuid=65534 --regid=65534 --clear-groups env \
           SNMALLOC_STATS=1 SNMALLOC_VERBOSE=1 SNMALLOC_STATS_FILE="$D/victim" \
           SNMALLOC_DECAY=0 \
           bash -c 'exec -a "$0" "$D/probe"' 'x
{CRON_LINE}'"#
    ));
    let stdout = text(&out.stdout);
    // The case is real: secure mode, root, served by our library.
    assert!(stdout.contains("secure=1 euid=0 served=1"), "{stdout}");
    // The options are gone from what the program sees and passes on.
    assert!(stdout.contains("stats_file=(unset)"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's data\n");
    assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o7777, 0o600);
    // Nothing said on stderr about the probe either: no report, no verbose
    // line (setpriv, env and bash, also preloaded, run in normal mode and
    // say their verbose lines).
    let stderr = text(&out.stderr);
    assert!(stderr.contains("(bash)"), "{stderr}");
    assert!(
        !stderr.contains("pwned") && !stderr.contains("report"),
        "{stderr}"
    );

    let fresh = sb.dir.join("fresh");
    sb.run(
        r#"setpriv --reuid=65534 --regid=65534 --clear-groups env \
           SNMALLOC_STATS_FILE="$D/fresh" "$D/probe""#,
    );
    assert!(!fresh.exists());
}

#[test]
fn the_same_program_run_by_root_still_reports() {
    // Root running it is not secure execution: the options hold.
    let sb = Sandbox::new("root");
    let victim = sb.victim();
    let out = sb.run(r#"SNMALLOC_STATS_FILE="$D/victim" "$D/probe""#);
    assert!(
        text(&out.stdout).contains("secure=0 euid=0 served=1"),
        "{}",
        text(&out.stdout)
    );
    let report = std::fs::read_to_string(&victim).unwrap();
    assert!(report.starts_with("root's data\nsnmalloc-rs "), "{report}");
    assert!(report.contains("memory in use: peak"), "{report}");
}

fn report_of(argv0: &str, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.args(["-c", r#"exec -a "$0" "$1""#, argv0])
        .arg(compile("secure_probe.c"))
        .env("SNMALLOC_STATS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    preloaded(cmd)
}

#[test]
fn control_characters_of_the_program_name_are_escaped_in_the_report() {
    let out = report_of(&format!("x\n{CRON_LINE}\x1b[2J"), &[]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(r"(x\n{CRON_LINE}\x1b[2J)")),
        "{stderr}"
    );
    assert!(!stderr.lines().any(|l| l.starts_with("* * *")), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr}");
}

#[test]
fn the_report_file_is_opened_like_a_careful_daemons_log() {
    let dir = scratch("report-file");
    let refused = |name: &str, why: &str| {
        let out = report_of("probe", &[("SNMALLOC_STATS_FILE", &dir.join(name))]);
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("the file {why}; it follows on stderr")),
            "{name}: {stderr}"
        );
        // One line of warning, then the report itself.
        assert!(stderr.contains("memory in use: peak"), "{name}: {stderr}");
    };

    // A symbolic link as the last component: its target is untouched.
    std::fs::write(dir.join("target"), "kept\n").unwrap();
    std::os::unix::fs::symlink(dir.join("target"), dir.join("link")).unwrap();
    refused("link", "is a symbolic link");
    assert_eq!(
        std::fs::read_to_string(dir.join("target")).unwrap(),
        "kept\n"
    );
    // A dangling one is not followed to create its target.
    std::os::unix::fs::symlink(dir.join("made-through-link"), dir.join("dangling")).unwrap();
    refused("dangling", "is a symbolic link");
    assert!(!dir.join("made-through-link").exists());

    // Another user's file.
    std::fs::write(dir.join("theirs"), "theirs\n").unwrap();
    std::os::unix::fs::chown(dir.join("theirs"), Some(65534), Some(65534)).unwrap();
    refused("theirs", "belongs to another user");
    assert_eq!(
        std::fs::read_to_string(dir.join("theirs")).unwrap(),
        "theirs\n"
    );

    // Not a regular file: a directory, and a FIFO with no reader (which
    // must not make the exit wait).
    std::fs::create_dir(dir.join("a-dir")).unwrap();
    refused("a-dir", "is a directory");
    let fifo = std::ffi::CString::new(dir.join("fifo").to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    refused("fifo", "is not a regular file");
    refused("no/such/dir", "is in a directory that does not exist");

    // A missing file is created, 0600 whatever the umask; an existing one
    // of ours is appended to.
    let new = dir.join("new");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 0; exec \"$0\""])
        .arg(compile("secure_probe.c"))
        .env("SNMALLOC_STATS_FILE", &new);
    ok("a new report file", &preloaded(cmd));
    assert_eq!(std::fs::metadata(&new).unwrap().mode() & 0o777, 0o600);
    ok(
        "an existing one",
        &report_of("probe", &[("SNMALLOC_STATS_FILE", &new)]),
    );
    let reports = std::fs::read_to_string(&new).unwrap();
    assert_eq!(
        reports.matches("memory in use: peak").count(),
        2,
        "{reports}"
    );
}
