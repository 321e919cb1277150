//! The command line: options, usage, and the exit statuses, each written
//! once. Parsed with lexopt (`--opt value`, `--opt=value`, `-n3`, `--`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::exit;

/// Every exit status of the launcher besides CMD's own.
pub mod status {
    /// `--compare`: an allocator's runs ended differently or printed
    /// something else; `--add-needed`/`--add-import`: the copy could not be
    /// written.
    pub const FAILED: i32 = 1;
    /// The command line is wrong.
    pub const USAGE: i32 = 2;
    /// `--stats-file` cannot be written.
    pub const STATS_FILE: i32 = 123;
    /// The library to preload is not one: not an ELF shared object for the
    /// program's machine, or without `malloc`.
    #[cfg_attr(target_os = "macos", allow(dead_code))] // no ELF to check there
    pub const BAD_LIBRARY: i32 = 124;
    /// The library to preload was not found.
    pub const NO_LIBRARY: i32 = 125;
    /// CMD cannot take the library: statically linked, another machine,
    /// linked against musl, or not executable.
    pub const CANNOT_PRELOAD: i32 = 126;
    /// CMD was not found.
    pub const NOT_FOUND: i32 = 127;
}

pub const USAGE: &str = "\
usage: snmalloc-run [OPTIONS] [--] CMD [ARGS...]
       snmalloc-run --compare [COMPARE OPTIONS] [--] CMD [ARGS...]
       snmalloc-run --add-needed APP OUT
       snmalloc-run --add-import APP.exe OUT.exe

Runs CMD with snmalloc-rs preloaded as its allocator (same pid, exit status
and signals as CMD itself).

options:
  --stats               print a report to stderr when the program exits
  --stats-file FILE     append the report to FILE instead
  --profile             use the profiling library: the report adds
                        allocations by size class, cross-thread frees, peak
                        live bytes and the largest allocation
  --check               use the hardened library (snmalloc's checks of
                        frees and bounds: a misuse ends the program with a
                        message naming it)
  --verbose             say on stderr when the library takes over
  --children            --stats/--verbose for every process CMD starts, not
                        only CMD (and what it execs into)
  --decay MS            keep freed memory for reuse at most MS milliseconds
                        (0: give it back at once; kernel: MADV_FREE)
  --lib PATH            preload this library instead of the one installed
compare options:
  --compare             run CMD under glibc, snmalloc-rs and every other
                        allocator installed, interleaved; print time and
                        peak memory as ratios to glibc's
  -n, --runs N          runs per allocator (default 5)
  --with NAME=LIB       also compare the allocator preloaded from LIB
  --alt NAME=PROGRAM    also compare another build of the program
  --ignore-output       do not compare what the runs print
  --ignore-lines TEXT   compare the output without the lines containing
                        TEXT (repeatable)
  --csv FILE            append one row per allocator to FILE
  --runs-csv FILE       append one row per run to FILE (round, allocator,
                        seconds, peak RSS: for ratios paired by round)
  --label NAME          the workload's name in the CSV (default: CMD)
other:
  --add-needed APP OUT  write OUT, a copy of the ELF program APP that loads
                        libsnmalloc_rs.so by itself (no launcher needed)
  --add-import EXE OUT  the same for a Windows program and snmalloc_rs.dll
  -V, --version         the version
  -h, --help            this text

exit status: CMD's own; 1 --compare saw runs end or print differently, or
--add-needed/--add-import failed; 2 bad command line; 123 --stats-file not
writable; 124 the library is not a usable one; 125 no library found;
126 CMD cannot take the library (static, other machine, musl); 127 CMD not
found.
";

/// Every long option, for \"did you mean\".
const LONG: &[&str] = &[
    "stats",
    "stats-file",
    "profile",
    "check",
    "verbose",
    "children",
    "decay",
    "lib",
    "compare",
    "runs",
    "with",
    "alt",
    "ignore-output",
    "ignore-lines",
    "csv",
    "runs-csv",
    "label",
    "add-needed",
    "add-import",
    "version",
    "help",
];

/// What the command line asked for.
#[derive(Default)]
pub struct Args {
    pub stats: bool,
    pub stats_file: Option<PathBuf>,
    pub profile: bool,
    pub check: bool,
    pub verbose: bool,
    pub children: bool,
    pub decay: Option<OsString>,
    pub lib: Option<PathBuf>,
    pub compare: bool,
    pub runs: usize,
    pub with: Vec<(String, PathBuf)>,
    pub alt: Vec<(String, PathBuf)>,
    pub ignore_output: bool,
    pub ignore_lines: Vec<String>,
    pub csv: Option<PathBuf>,
    pub runs_csv: Option<PathBuf>,
    pub label: Option<String>,
    pub add_needed: Option<(PathBuf, PathBuf)>,
    pub add_import: Option<(PathBuf, PathBuf)>,
    pub cmd: Vec<OsString>,
}

/// Prints `msg` as the launcher's one-line reason and exits with `code`.
pub fn fail(code: i32, msg: impl std::fmt::Display) -> ! {
    eprintln!("snmalloc-run: {msg}");
    exit(code)
}

fn usage_error(msg: impl std::fmt::Display) -> ! {
    fail(status::USAGE, format!("{msg} (see snmalloc-run --help)"))
}

/// The closest long option to a mistyped one, if any is close.
fn suggestion(typed: &str) -> Option<&'static str> {
    LONG.iter()
        .map(|o| (strsim::damerau_levenshtein(typed, o), *o))
        .filter(|&(d, o)| d <= 2 || o.starts_with(typed))
        .min_by_key(|&(d, _)| d)
        .map(|(_, o)| o)
}

fn name_and_path(flag: &str, v: OsString) -> (String, PathBuf) {
    let v = v.to_string_lossy().into_owned();
    match v.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            (name.to_string(), PathBuf::from(path))
        }
        _ => usage_error(format!("--{flag} takes NAME=PATH, not {v:?}")),
    }
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Args {
    use lexopt::prelude::*;
    let mut a = Args {
        runs: 5,
        ..Args::default()
    };
    let mut p = lexopt::Parser::from_args(args);
    let or_usage = |r: Result<OsString, lexopt::Error>| r.unwrap_or_else(|e| usage_error(e));
    loop {
        let arg = match p.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => usage_error(e),
        };
        match arg {
            Long("stats") => a.stats = true,
            Long("stats-file") => a.stats_file = Some(or_usage(p.value()).into()),
            Long("profile") => a.profile = true,
            Long("verbose") => a.verbose = true,
            Long("children") => a.children = true,
            Long("check") => a.check = true,
            Long("decay") => {
                // Refused here rather than warned about by every process.
                let v = or_usage(p.value());
                if crate::options::parse_decay(v.as_encoded_bytes()).is_none() {
                    usage_error(format!(
                        "--decay takes a number of milliseconds, 0 or kernel, not {v:?}"
                    ));
                }
                a.decay = Some(v);
            }
            Long("lib") => a.lib = Some(or_usage(p.value()).into()),
            Long("compare") => a.compare = true,
            Short('n') | Long("runs") => {
                let v = or_usage(p.value());
                a.runs = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .unwrap_or_else(|| {
                        usage_error(format!("--runs needs a positive number, not {v:?}"))
                    });
            }
            Long("with") => a.with.push(name_and_path("with", or_usage(p.value()))),
            Long("alt") => a.alt.push(name_and_path("alt", or_usage(p.value()))),
            Long("ignore-output") => a.ignore_output = true,
            Long("ignore-lines") => a
                .ignore_lines
                .push(or_usage(p.value()).to_string_lossy().into_owned()),
            Long("csv") => a.csv = Some(or_usage(p.value()).into()),
            Long("runs-csv") => a.runs_csv = Some(or_usage(p.value()).into()),
            Long("label") => a.label = Some(or_usage(p.value()).to_string_lossy().into_owned()),
            Long(flag @ ("add-needed" | "add-import")) => {
                let flag = flag.to_string();
                let mut two = p
                    .values()
                    .unwrap_or_else(|_| usage_error(format!("--{flag} takes APP and OUT")));
                let (Some(app), Some(out), None) = (two.next(), two.next(), two.next()) else {
                    usage_error(format!("--{flag} takes APP and OUT"))
                };
                let pair = Some((app.into(), out.into()));
                if flag == "add-needed" {
                    a.add_needed = pair;
                } else {
                    a.add_import = pair;
                }
            }
            Short('V') | Long("version") => {
                println!("snmalloc-run {}", env!("CARGO_PKG_VERSION"));
                exit(0);
            }
            Short('h') | Long("help") => {
                print!("{USAGE}");
                exit(0);
            }
            Value(cmd) => {
                a.cmd.push(cmd);
                a.cmd.extend(p.raw_args().into_iter().flatten());
                break;
            }
            Long(other) => match suggestion(other) {
                Some(s) => usage_error(format!("unknown option --{other}; did you mean --{s}?")),
                None => usage_error(format!("unknown option --{other}")),
            },
            Short(c) => usage_error(format!("unknown option -{c}")),
        }
    }
    if a.profile && a.check {
        usage_error("--profile and --check are two libraries: choose one");
    }
    if a.cmd.is_empty() && a.add_needed.is_none() && a.add_import.is_none() {
        usage_error("no command to run");
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        parse(v.iter().map(OsString::from))
    }

    #[test]
    fn values_inline_attached_or_separate() {
        let a = args(&["--stats-file=r.txt", "-n3", "--decay", "0", "ls", "-l"]);
        assert_eq!(a.stats_file.as_deref(), Some(std::path::Path::new("r.txt")));
        assert_eq!(a.runs, 3);
        assert_eq!(a.decay.as_deref(), Some(std::ffi::OsStr::new("0")));
        assert_eq!(a.cmd, ["ls", "-l"]);
    }

    #[test]
    fn options_after_the_command_are_the_commands() {
        let a = args(&["--verbose", "--", "--stats", "x"]);
        assert!(a.verbose && !a.stats);
        assert_eq!(a.cmd, ["--stats", "x"]);
        let a = args(&["python3", "--stats"]);
        assert!(!a.stats);
        assert_eq!(a.cmd, ["python3", "--stats"]);
    }

    #[test]
    fn decay_values_are_the_librarys() {
        for ok in ["0", "250", "kernel"] {
            assert_eq!(
                args(&["--decay", ok, "true"]).decay.as_deref(),
                Some(std::ffi::OsStr::new(ok))
            );
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggestion("stat"), Some("stats"));
        assert_eq!(suggestion("verbos"), Some("verbose"));
        assert_eq!(suggestion("ignore-line"), Some("ignore-lines"));
        assert_eq!(suggestion("xyzzy"), None);
    }

    #[test]
    fn add_needed_takes_two_paths() {
        let a = args(&["--add-needed", "app", "out"]);
        assert_eq!(
            a.add_needed,
            Some((PathBuf::from("app"), PathBuf::from("out")))
        );
    }
}
