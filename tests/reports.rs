//! What the library says, and when: the exit report (text and JSON), on
//! every way a process ends, wherever stderr went; the options' grammar
//! and the warnings for bad values and unknown names, once per process
//! however often it `exec`s; the verbose line. Real programs (dash, bash,
//! coreutils, python3) under the built library.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use std::process::{Command, Output};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `sh -c SCRIPT` under the library with `env` set, its other `SNMALLOC_*`
/// variables removed.
fn sh(script: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    for (k, _) in std::env::vars() {
        if k.starts_with("SNMALLOC_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    preloaded(cmd)
}

/// The report headers ("report for pid N (PROGRAM)") in `s`.
fn reports(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.starts_with("snmalloc-rs ") && l.contains(" report for pid "))
        .map(String::from)
        .collect()
}

#[test]
fn booleans_are_read_as_mimalloc_reads_them() {
    for off in ["off", "false", "no", "0", "OFF", ""] {
        let out = sh("true", &[("SNMALLOC_STATS", off)]);
        let err = text(&out.stderr);
        assert!(err.is_empty(), "SNMALLOC_STATS={off:?}: {err}");
    }
    // A file implies the report, unless the switch says off.
    let dir = scratch("stats-off-file");
    let file = dir.join("r.txt");
    sh(
        "true",
        &[
            ("SNMALLOC_STATS", "off"),
            ("SNMALLOC_STATS_FILE", file.to_str().unwrap()),
        ],
    );
    assert!(
        !file.exists(),
        "SNMALLOC_STATS=off with a file still reported"
    );
    for on in ["on", "true", "yes", "1", "Yes", " 1 "] {
        let out = sh("true", &[("SNMALLOC_STATS", on)]);
        let err = text(&out.stderr);
        assert_eq!(reports(&err).len(), 1, "SNMALLOC_STATS={on:?}: {err}");
        assert!(!err.contains("warning") && !err.contains("is not"), "{err}");
    }
    for on in ["on", "1"] {
        let err = text(&sh("true", &[("SNMALLOC_VERBOSE", on)]).stderr);
        assert!(err.contains("serving allocations of pid"), "{on}: {err}");
    }
}

#[test]
fn a_bad_value_is_named_once_with_the_value_used() {
    let out = sh("true", &[("SNMALLOC_STATS", "maybe")]);
    let err = text(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "snmalloc-rs: SNMALLOC_STATS=maybe is not on, off or json; using off",
        "{err}"
    );
    let err = text(&sh("true", &[("SNMALLOC_DECAY", "soon")]).stderr);
    assert!(
        err.contains("SNMALLOC_DECAY=soon is not a number of milliseconds")
            && err.contains("using the default"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_unknown_name_is_warned_about_once_per_process_not_per_exec() {
    // sh execs bash, which execs env, which execs true: one process, one
    // line. The child that sh forks (the subshell's `true`) is another
    // process: it says it again.
    let out = sh("exec bash -c 'exec env true'", &[("SNMALLOC_STAT", "1")]);
    let err = text(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "snmalloc-rs: SNMALLOC_STAT is not an option of snmalloc-rs (did you mean SNMALLOC_STATS?); ignored",
        "{err}"
    );
    let out = sh("/bin/true; exec env true", &[("SNMALLOC_STAT", "1")]);
    let err = text(&out.stderr);
    assert_eq!(err.matches("SNMALLOC_STAT is not").count(), 2, "{err}");
    // An option of 0.8.0 that is gone says why.
    let err = text(&sh("true", &[("SNMALLOC_PAGEMAP", "compact")]).stderr);
    assert!(
        err.starts_with("snmalloc-rs: SNMALLOC_PAGEMAP is no longer an option: there is one build"),
        "{err}"
    );
    // The library's own build-time variables are no options to warn about.
    let out = sh("true", &[("SNMALLOC_RS_FLAT_PAGEMAP", "1")]);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn one_verbose_line_per_process_however_many_execs() {
    let out = sh(
        "exec bash -c 'exec env sh -c \"exec true\"'",
        &[("SNMALLOC_VERBOSE", "1")],
    );
    let err = text(&out.stderr);
    assert_eq!(
        err.matches("serving allocations of pid").count(),
        1,
        "{err}"
    );
    // Two processes (sh and the `true` it forks), two lines, two pids.
    let out = sh("/bin/true; exec true", &[("SNMALLOC_VERBOSE", "1")]);
    let err = text(&out.stderr);
    let pids: std::collections::BTreeSet<&str> = err
        .lines()
        .filter_map(|l| l.split("of pid ").nth(1))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(pids.len(), 2, "{err}");
}

#[test]
fn the_report_survives_a_program_that_closes_stderr() {
    // ls (coreutils) closes stdout and stderr before it exits.
    let mut cmd = Command::new("ls");
    cmd.arg("/").env("SNMALLOC_STATS", "1");
    let err = text(&preloaded(cmd).stderr);
    let r = reports(&err);
    assert_eq!(r.len(), 1, "{err}");
    assert!(r[0].ends_with("(ls):"), "{err}");
}

#[test]
fn a_process_that_ends_with_exit_underscore_reports_too() {
    // dash ends with _exit, which runs no finaliser; so does Python's
    // os._exit. A forked child that _exits (it may be a vfork child,
    // sharing its parent's memory) does not report; its parent does.
    let dir = scratch("underscore-exit");
    let file = dir.join("report.txt");
    let out = sh(
        "cat /proc/self/comm >/dev/null; exit 3",
        &[("SNMALLOC_STATS_FILE", file.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(3));
    let all = std::fs::read_to_string(&file).unwrap_or_default();
    let r = reports(&all);
    assert!(
        r.iter().any(|l| l.ends_with("(sh):")),
        "no report from sh in {all:?}"
    );
    let out = preloaded({
        let mut c = Command::new(python3());
        c.args([
            "-c",
            "import os\nif os.fork() == 0: os._exit(0)\nos.wait()\nos._exit(4)",
        ])
        .env("SNMALLOC_STATS", "json");
        c
    });
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let python: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("python"))
        .collect();
    assert_eq!(python.len(), 1, "{err}");
}

#[test]
fn an_unwritable_stats_file_is_said_and_the_report_follows_on_stderr() {
    let out = sh("true", &[("SNMALLOC_STATS_FILE", "/nonexistent/x")]);
    let err = text(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "snmalloc-rs: the report is not written to SNMALLOC_STATS_FILE=/nonexistent/x: the file"
        ) && first.ends_with("it follows on stderr"),
        "{err}"
    );
    assert_eq!(reports(&err).len(), 1, "{err}");
}

/// The JSON report as a Python dict (python3 parses it, so the test does
/// not trust our own reading of our own format).
fn parse_json(line: &str) -> std::collections::BTreeMap<String, String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nd = json.loads(sys.stdin.read())\n\
             [print(k, type(v).__name__, json.dumps(v)) for k, v in d.items()]",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(line.as_bytes())?;
            c.wait_with_output()
        })
        .expect("python3");
    assert!(out.status.success(), "not JSON: {line}");
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            Some((
                f.next()?.to_string(),
                format!("{} {}", f.next()?, f.next()?),
            ))
        })
        .collect()
}

#[test]
fn the_json_report_is_one_object_with_the_documented_fields() {
    let mut cmd = Command::new(python3());
    cmd.args(["-c", "b = bytearray(64 << 20)"])
        .env("SNMALLOC_STATS", "json");
    let out = preloaded(cmd);
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "{err}");
    let d = parse_json(lines[0]);
    // The schema of docs/reports.md: every field, with its type.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reports.md"))
        .expect("docs/reports.md");
    let table = doc
        .split("<!-- json-fields:start -->")
        .nth(1)
        .and_then(|t| t.split("<!-- json-fields:end -->").next())
        .expect("the field table's markers in docs/reports.md");
    let fields: Vec<(&str, &str)> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (name, rest) = l.split_once("` | ")?;
            Some((name, rest.split(" |").next()?.trim()))
        })
        .collect();
    assert!(fields.len() >= 15, "no field table in docs/reports.md");
    for (name, kind) in &fields {
        let got = d
            .get(*name)
            .unwrap_or_else(|| panic!("{name} missing from {}", lines[0]));
        let want = match *kind {
            "integer" => "int",
            "number" => "float",
            "string" => "str",
            "boolean" => "bool",
            other => panic!("docs/reports.md: unknown type {other}"),
        };
        assert!(got.starts_with(want), "{name}: {got}, documented {kind}");
    }
    assert_eq!(d.len(), fields.len(), "undocumented fields in {}", lines[0]);
    let number = |k: &str| -> f64 { d[k].split(' ').nth(1).unwrap().parse().unwrap() };
    assert!(number("peak_rss_bytes") >= number("in_use_peak_bytes") / 2.0);
    assert!(
        number("in_use_peak_bytes") >= (64 << 20) as f64,
        "{}",
        lines[0]
    );
    assert!(number("minor_faults") > 0.0);
    assert!(d["program"].contains("python"), "{}", lines[0]);
}
