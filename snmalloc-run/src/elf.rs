//! Whether LD_PRELOAD can work for a program: it must be dynamically linked
//! (have an ELF interpreter) and of our word size. Scripts (`#!`) are run by
//! an interpreter, which is checked by the kernel's exec, not here.

use std::io::Read;
use std::path::Path;

const PT_INTERP: u32 = 3;

pub fn check_preloadable(path: &Path) -> Result<(), String> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    if head.starts_with(b"#!") || !head.starts_with(b"\x7fELF") {
        return Ok(());
    }
    let class64 = head.get(4) == Some(&2);
    if class64 != cfg!(target_pointer_width = "64") {
        return Err(format!(
            "is a {}-bit program; this library is {}-bit, so the dynamic loader would ignore it",
            if class64 { 64 } else { 32 },
            usize::BITS
        ));
    }
    let little = head.get(5) == Some(&1);
    let rd = |off: usize, len: usize| -> Option<u64> {
        let b = head.get(off..off + len)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if little { b[len - 1 - i] } else { b[i] } as u64;
            v = (v << 8) | byte;
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if class64 {
        (rd(0x20, 8), rd(0x36, 2), rd(0x38, 2))
    } else {
        (rd(0x1c, 4), rd(0x2a, 2), rd(0x2c, 2))
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return Ok(()); // truncated header: let exec report it
    };
    for i in 0..phnum {
        let at = (phoff + i * phentsize) as usize;
        match rd(at, 4) {
            Some(t) if t as u32 == PT_INTERP => return Ok(()),
            Some(_) => {}
            None => return Ok(()), // headers beyond what we read: assume dynamic
        }
    }
    Err(
        "is statically linked: LD_PRELOAD cannot replace its allocator \
         (link snmalloc-rs into it, or use a dynamically linked build)"
            .into(),
    )
}
