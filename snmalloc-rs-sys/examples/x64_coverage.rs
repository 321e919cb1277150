//! How much real compiler output the Windows hooks' instruction decoder can
//! move: reads `DLL NAME 0xRVA HEX16` lines (scripts/decoder-coverage.sh)
//! and tries, for each function, what the hook does to its entry.
//!
//! ```text
//! cargo run --release -p snmalloc-rs-sys --example x64_coverage < functions.txt
//! ```

#[path = "../src/interpose/windows/x64.rs"]
#[allow(dead_code)]
mod x64;

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

fn main() {
    let (mut movable, mut total) = (0, 0);
    let mut refused: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut seen = HashSet::new();
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let f: Vec<&str> = line.split(' ').collect();
        let [dll, name, rva, code] = f[..] else {
            continue;
        };
        let Ok(rva) = u64::from_str_radix(rva.trim_start_matches("0x"), 16) else {
            continue;
        };
        // Aliases share their code: count each entry once.
        if !seen.insert((dll.to_string(), rva)) {
            continue;
        }
        let bytes: Vec<u8> = (0..code.len() / 2)
            .filter_map(|i| u8::from_str_radix(&code[2 * i..2 * i + 2], 16).ok())
            .collect();
        total += 1;
        let at = 0x1_8000_0000 + rva;
        let mut out = [0u8; 80];
        match x64::relocate(&bytes, at, 5, &mut out, at - 0x10000) {
            Ok(_) => movable += 1,
            Err(e) => {
                let why = match e {
                    x64::Error::Unknown { offset } => {
                        format!(
                            "unknown instruction {:02x?}",
                            &bytes[offset..bytes.len().min(offset + 3)]
                        )
                    }
                    other => format!("{other:?}"),
                };
                let entry = refused.entry(why).or_default();
                entry.0 += 1;
                if entry.1.is_empty() {
                    entry.1 = format!("{dll} {name} {code}");
                }
            }
        }
    }
    println!("{movable} of {total} function entries movable");
    let mut by_count: Vec<_> = refused.into_iter().collect();
    by_count.sort_by_key(|e| std::cmp::Reverse(e.1 .0));
    for (why, (n, example)) in by_count {
        println!("{n:6} refused: {why}  (e.g. {example})");
    }
}
