//! What the library does at the edges, each case in a process of its own:
//! errno after successful calls, a first call about memory it never gave
//! out, and misuse (double frees, bad pointers, overflows) in the default
//! and the hardened `check` build. Both builds' outcomes are
//! docs/misuse.md's table.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn successful_calls_leave_errno_alone() {
    let exe = compile("errno.c");
    for (build, lib) in builds() {
        let out = preloaded_with(&lib, Command::new(&exe));
        let stdout = ok(&format!("errno.c, {build} build"), &out);
        assert!(stdout.contains("errno ok"), "{build}: {stdout}");
    }
}

#[test]
fn the_first_call_may_be_about_a_block_we_never_gave_out() {
    let exe = compile("first_call.c");
    for (build, lib) in builds() {
        // Opened with dlopen: the first call into the library frees, sizes
        // or reallocates a glibc block; and the order where it allocated
        // first.
        for case in [
            "dlopen-free",
            "dlopen-usable",
            "dlopen-realloc",
            "dlopen-after-malloc",
        ] {
            let mut cmd = Command::new(&exe);
            cmd.arg(case).arg(&lib);
            let stdout = ok(&format!("{case}, {build} build"), &plain(cmd));
            assert!(stdout.contains("first call ok"), "{case}: {stdout}");
        }
    }
    // Preloaded: main's first allocator calls ask about a stack address
    // (the check build rightly refuses that) and a glibc block.
    let mut cmd = Command::new(&exe);
    cmd.arg("preload");
    let stdout = ok("preload", &preloaded(cmd));
    assert!(stdout.contains("first call ok"), "{stdout}");
}

/// Runs tests/programs/misuse.c under `lib` (None: glibc alone) and
/// returns case -> (outcome, first line of stderr).
fn misuse(lib: Option<&std::path::Path>) -> BTreeMap<String, (String, String)> {
    let exe = compile("misuse.c");
    let out = match lib {
        Some(lib) => preloaded_with(lib, Command::new(&exe)),
        None => plain(Command::new(&exe)),
    };
    let stdout = ok("misuse.c", &out);
    stdout
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let case = f.next().unwrap_or_default().to_string();
            let outcome = f.next().unwrap_or_default().to_string();
            let message = f.next().unwrap_or_default().to_string();
            (case, (outcome, message))
        })
        .collect()
}

#[test]
fn check_build_aborts_with_its_message_on_every_misuse() {
    let lib = variant("check", "check");
    let got = misuse(Some(&lib));
    let expected = [
        ("double-free-small", "double free"),
        ("double-free-large", "double free"),
        ("double-free-cross-thread", "double free"),
        ("double-free-cross-thread-gone", "double free"),
        ("double-free-aligned", "double free"),
        ("realloc-after-free", "of a freed block"),
        ("interior-pointer", "inside a block, not its start"),
        ("stack-pointer", "free of a stack address"),
        ("static-pointer", "free of static or global data"),
        ("overflow", "heap corruption detected"),
        ("write-after-free", "heap corruption detected"),
    ];
    assert_eq!(got.len(), expected.len(), "cases: {got:?}");
    for (case, words) in expected {
        let (outcome, message) = &got[case];
        assert_eq!(outcome, "abort", "{case}: {message}");
        assert!(
            message.starts_with("snmalloc-rs (check build): ") && message.contains(words),
            "{case}: message {message:?} does not say {words:?}"
        );
    }
}

#[test]
fn default_build_misuse_outcomes_are_the_documented_ones() {
    // The default build does not check (for speed): this pins what it does
    // instead, where snmalloc's own code decides, so that docs/misuse.md
    // stays true. `None`: the outcome is not the library's to decide, and
    // differs between runs and compilers: a pointer that is not snmalloc's
    // goes to glibc, which reads whatever lies in front of it (a stack or
    // static address), or a second free of memory already given back finds
    // a pagemap entry the backend has since reused.
    let got = misuse(Some(library()));
    let expected: [(&str, Option<&str>); 11] = [
        ("double-free-small", Some("continues")),
        ("double-free-large", None),
        ("double-free-cross-thread", Some("continues")),
        ("double-free-cross-thread-gone", None),
        ("double-free-aligned", Some("continues")),
        ("realloc-after-free", Some("continues")),
        ("interior-pointer", Some("continues")),
        ("stack-pointer", None),
        ("static-pointer", None),
        ("overflow", Some("continues")),
        ("write-after-free", Some("continues")),
    ];
    assert_eq!(got.len(), expected.len(), "cases: {got:?}");
    for (case, want) in expected {
        let (outcome, message) = &got[case];
        if let Some(want) = want {
            assert_eq!(outcome, want, "{case} ({message}): update docs/misuse.md");
        }
    }
    // The program itself tells a misuse from a clean run: under glibc, which
    // checks some of these, the outcomes differ.
    let glibc = misuse(None);
    assert_eq!(glibc["double-free-small"].0, "abort", "{glibc:?}");
}
