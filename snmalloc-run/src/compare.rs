//! `--compare`: the same command under each allocator, interleaved, with
//! wall time and peak RSS as ratios to glibc's.

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::platform::{LIB_DIRS, MAXRSS_UNIT, PEERS, PRELOAD_VAR};

/// An allocator to try: a name and the library to preload (none: glibc),
/// or another build of the program to run in CMD's place.
pub struct Contender {
    pub name: String,
    pub lib: Option<PathBuf>,
    pub program: Option<PathBuf>,
}

/// Where and how to record results beyond the table.
pub struct Output<'a> {
    /// Append one CSV row per contender to this file.
    pub csv: Option<&'a Path>,
    /// Append one CSV row per run to this file.
    pub runs_csv: Option<&'a Path>,
    /// The workload's name in the CSV.
    pub label: &'a str,
    /// Do not compare what the runs print.
    pub ignore_output: bool,
    /// Compare the output without the lines containing any of these.
    pub ignore_lines: &'a [String],
}

/// glibc, ours, every peer installed, those given with `--with`
/// (preloaded libraries) and `--alt` (other builds of the program).
pub fn contenders(
    ours: &Path,
    with: &[(String, PathBuf)],
    alt: &[(String, PathBuf)],
) -> Vec<Contender> {
    let preload = |name: &str, lib: PathBuf| Contender {
        name: name.into(),
        lib: Some(lib),
        program: None,
    };
    let mut v = vec![
        Contender {
            name: "glibc".into(),
            lib: None,
            program: None,
        },
        preload("snmalloc-rs", ours.to_path_buf()),
    ];
    for (name, file) in PEERS {
        match LIB_DIRS
            .iter()
            .map(|d| Path::new(d).join(file))
            .find(|p| p.is_file())
        {
            Some(lib) => v.push(preload(name, lib)),
            None => eprintln!("snmalloc-run: {name} ({file}) not installed, left out"),
        }
    }
    v.extend(with.iter().map(|(name, lib)| preload(name, lib.clone())));
    v.extend(alt.iter().map(|(name, program)| Contender {
        name: name.clone(),
        lib: None,
        program: Some(program.clone()),
    }));
    v
}

/// One run's outcome.
struct Run {
    seconds: f64,
    max_rss_kib: u64,
    status: String,
    /// A hash of the output as compared (ignored lines left out).
    output: u64,
    /// That output, kept for the first run of each contender whose output
    /// differs from the reference (to show where).
    text: Option<String>,
}

/// The most output kept to show a difference.
const KEPT_OUTPUT: usize = 16 << 20;

/// The output as compared: without the lines that contain an ignored text.
fn compared(raw: &[u8], ignore: &[String]) -> String {
    String::from_utf8_lossy(raw)
        .split_inclusive('\n')
        .filter(|l| !ignore.iter().any(|i| l.contains(i.as_str())))
        .collect()
}

fn hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

fn run_once(c: &Contender, cmd: &[OsString], out: &Output) -> (Run, String) {
    let mut command = Command::new(c.program.as_deref().unwrap_or(Path::new(&cmd[0])));
    command
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    match &c.lib {
        Some(lib) => command.env(PRELOAD_VAR, crate::preload_value(lib)),
        None => command.env_remove(PRELOAD_VAR),
    };
    let start = Instant::now();
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => crate::fail(126, format!("cannot run {}: {e}", cmd[0].to_string_lossy())),
    };
    let mut raw = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        let mut buf = [0u8; 65536];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !out.ignore_output && raw.len() < KEPT_OUTPUT {
                raw.extend_from_slice(&buf[..n]);
            }
        }
    }
    let text = compared(&raw, out.ignore_lines);
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaps our own child, writing into valid out-pointers. std's
    // Child is not waited on afterwards (it does not wait on drop).
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    let status = if r < 0 {
        "wait failed".to_string()
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status).to_string()
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        "?".to_string()
    };
    (
        Run {
            seconds,
            max_rss_kib: usage.ru_maxrss as u64 * MAXRSS_UNIT / 1024,
            status,
            output: hash(&text),
            text: None,
        },
        text,
    )
}

/// The first line where `b` differs from `a`, as a note.
fn first_difference(a: &str, b: &str) -> String {
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 1;
    loop {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (x, y) => {
                let show =
                    |l: Option<&str>| l.map_or("(end of output)".to_string(), |l| format!("{l:?}"));
                return format!("line {n}: glibc: {}, this: {}", show(x), show(y));
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn time(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.3} s")
    }
}

/// Runs the comparison and prints the table; returns the exit code.
pub fn run(contenders: &[Contender], cmd: &[OsString], runs: usize, out: &Output) -> i32 {
    let total = runs * contenders.len();
    let mut results: Vec<Vec<Run>> = contenders.iter().map(|_| Vec::new()).collect();
    let mut reference: Option<(u64, String)> = None;
    for r in 0..runs {
        for (i, c) in contenders.iter().enumerate() {
            eprintln!(
                "snmalloc-run: run {}/{total}: {} (round {}/{runs})",
                r * contenders.len() + i + 1,
                c.name,
                r + 1
            );
            let (mut run, text) = run_once(c, cmd, out);
            match &reference {
                None => reference = Some((run.output, text)),
                Some((h, _)) if *h != run.output && results[i].iter().all(|r| r.text.is_none()) => {
                    run.text = Some(text)
                }
                _ => {}
            }
            results[i].push(run);
        }
    }
    let reference = reference.expect("at least one run");
    let base_time = median(results[0].iter().map(|r| r.seconds).collect());
    let base_rss = median(results[0].iter().map(|r| r.max_rss_kib as f64).collect());
    let w = contenders
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0)
        .max(9);
    println!(
        "{:<w$} {:>11} {:>11} {:>11} {:>10} {:>13} {:>9}  exit",
        "allocator", "median", "min", "max", "time/glibc", "peak RSS", "RSS/glibc"
    );
    let mut notes = Vec::new();
    let reference_output = reference.0;
    for (c, rs) in contenders.iter().zip(&results) {
        let t = median(rs.iter().map(|r| r.seconds).collect());
        let min = rs.iter().map(|r| r.seconds).fold(f64::INFINITY, f64::min);
        let max = rs.iter().map(|r| r.seconds).fold(0.0, f64::max);
        let rss = median(rs.iter().map(|r| r.max_rss_kib as f64).collect());
        let mut statuses: Vec<&str> = rs.iter().map(|r| r.status.as_str()).collect();
        statuses.dedup();
        println!(
            "{:<w$} {:>11} {:>11} {:>11} {:>10.2} {:>10.1} MiB {:>9.2}  {}",
            c.name,
            time(t),
            time(min),
            time(max),
            t / base_time,
            rss / 1024.0,
            rss / base_rss,
            statuses.join(",")
        );
        if let Some(csv) = out.csv {
            let same_output = rs.iter().all(|r| r.output == reference_output);
            let row = [
                out.label.to_string(),
                c.name.clone(),
                rs.len().to_string(),
                format!("{t:.6}"),
                format!("{min:.6}"),
                format!("{max:.6}"),
                format!("{rss:.0}"),
                statuses.join("|"),
                same_output.to_string(),
            ];
            append_rows(csv, &CSV_HEADER, [row]);
        }
        if let Some(csv) = out.runs_csv {
            let rows = rs.iter().enumerate().map(|(round, r)| {
                [
                    out.label.to_string(),
                    c.name.clone(),
                    (round + 1).to_string(),
                    format!("{:.6}", r.seconds),
                    r.max_rss_kib.to_string(),
                    r.status.clone(),
                ]
            });
            append_rows(csv, &RUNS_CSV_HEADER, rows);
        }
        if statuses.len() > 1 {
            notes.push(format!(
                "{}: runs ended differently ({})",
                c.name,
                statuses.join(", ")
            ));
        }
        if !out.ignore_output && rs.iter().any(|r| r.output != reference_output) {
            let differing = rs.iter().filter(|r| r.output != reference_output).count();
            let where_ = rs
                .iter()
                .find_map(|r| r.text.as_deref())
                .map(|t| {
                    format!(
                        "; first difference at {}",
                        first_difference(&reference.1, t)
                    )
                })
                .unwrap_or_default();
            notes.push(format!(
                "{}: output of {differing} of {} runs differed from glibc's first run{where_} \
                 (--ignore-lines TEXT or --ignore-output when that is expected)",
                c.name,
                rs.len()
            ));
        }
    }
    let all_statuses: Vec<&str> = results
        .iter()
        .flatten()
        .map(|r| r.status.as_str())
        .collect();
    if all_statuses.iter().any(|s| *s != all_statuses[0]) {
        notes.push("exit statuses differ between allocators".into());
    }
    println!(
        "({runs} runs each, interleaved; peak RSS is the median of the runs' maximum resident set)"
    );
    for n in &notes {
        println!("note: {n}");
    }
    if notes.is_empty() {
        0
    } else {
        1
    }
}

const CSV_HEADER: [&str; 9] = [
    "workload",
    "allocator",
    "runs",
    "median_s",
    "min_s",
    "max_s",
    "peak_rss_kib",
    "exit",
    "same_output",
];

const RUNS_CSV_HEADER: [&str; 6] = [
    "workload",
    "allocator",
    "round",
    "seconds",
    "max_rss_kib",
    "exit",
];

/// The CSV file at `path`, opened for appending as the library opens its
/// report's file (no symbolic link, a regular file of the user's, created
/// 0600 if missing: `snmalloc_rs_options::log_file`).
#[cfg(unix)]
fn open_csv(path: &Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    match crate::log_file::open_append(&c) {
        // SAFETY: a descriptor just opened for us, owned by the File.
        Ok(fd) => Ok(unsafe { std::fs::File::from_raw_fd(fd) }),
        Err(why) => Err(format!("the file {why}").into()),
    }
}

#[cfg(not(unix))]
fn open_csv(path: &Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?)
}

/// Appends `rows` to the CSV file at `path` (quoted as CSV needs: a label
/// may hold commas or quotes), writing `header` first if the file is new;
/// a failure ends the launcher with one line.
fn append_rows<const N: usize>(
    path: &Path,
    header: &[&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) {
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let file = open_csv(path)?;
        let fresh = file.metadata()?.len() == 0;
        let mut w = csv::Writer::from_writer(file);
        if fresh {
            w.write_record(header)?;
        }
        for row in rows {
            w.write_record(&row)?;
        }
        w.flush()?;
        Ok(())
    })();
    if let Err(e) = result {
        crate::fail(1, format!("cannot write {}: {e}", path.display()));
    }
}
