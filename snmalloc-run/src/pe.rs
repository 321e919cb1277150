//! Make snmalloc-rs the allocator of a Windows program for good, without
//! rebuilding it. Like mimalloc's `minject`, this adds an import of
//! `snmalloc_rs.dll` to the executable's import table, so the Windows loader
//! loads the DLL (and with it the load-time allocator override) at process
//! start, before the program's own code runs.
//!
//! Pure byte manipulation: it builds and is tested on any host. Limits: only
//! x86-64 PE32+ images; an Authenticode-signed binary loses its signature
//! (the patch would invalidate it) and must be re-signed if that matters;
//! tools that find appended overlay data at "the end of the last section"
//! (some self-extractors) may be confused by the new section.

const SECTION_NAME: &[u8; 8] = b".snrs\0\0\0";
/// INITIALIZED_DATA | MEM_READ | MEM_WRITE: the loader writes our IAT.
const SECTION_FLAGS: u32 = 0xC000_0040;
const DIR_IMPORT: usize = 1;
const DIR_SECURITY: usize = 4;
const DIR_BOUND_IMPORT: usize = 11;
const DESC_SIZE: usize = 20;
const SHDR_SIZE: usize = 40;
/// DllCharacteristics bit: the loader refuses the image unless it is signed.
const FORCE_INTEGRITY: u16 = 0x80;

/// What `add_import` did, for the launcher to report.
#[derive(Debug)]
pub struct Patched {
    /// The patched image, to be written in place of the original.
    pub image: Vec<u8>,
    /// The input was Authenticode-signed; its now-invalid signature was removed.
    pub stripped_signature: bool,
}

fn get<const N: usize>(b: &[u8], off: usize) -> Result<[u8; N], String> {
    off.checked_add(N)
        .and_then(|end| b.get(off..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("truncated image ({N} bytes needed at offset {off:#x})"))
}
fn rd16(b: &[u8], off: usize) -> Result<u16, String> {
    get(b, off).map(u16::from_le_bytes)
}
fn rd32(b: &[u8], off: usize) -> Result<u32, String> {
    get(b, off).map(u32::from_le_bytes)
}
fn put(b: &mut [u8], off: usize, v: &[u8]) -> Result<(), String> {
    off.checked_add(v.len())
        .and_then(|end| b.get_mut(off..end))
        .ok_or_else(|| format!("truncated image (cannot write at offset {off:#x})"))?
        .copy_from_slice(v);
    Ok(())
}
/// `a` is validated nonzero.
fn align(v: u64, a: u32) -> u64 {
    v.div_ceil(u64::from(a)) * u64::from(a)
}

struct Section {
    va: u32,
    vsize: u32,
    raw_size: u32,
    raw_ptr: u32,
}

impl Section {
    fn raw_end(&self) -> u64 {
        u64::from(self.raw_ptr) + u64::from(self.raw_size)
    }
    /// The loader maps max(VirtualSize, SizeOfRawData).
    fn virt_end(&self) -> u64 {
        u64::from(self.va) + u64::from(self.vsize.max(self.raw_size))
    }
}

/// The parsed headers we need; offsets are into the file.
struct Pe {
    opt: usize,
    nsec_at: usize,
    shdrs: usize,
    ndirs: usize,
    sect_align: u32,
    file_align: u32,
    headers_size: u32,
    sections: Vec<Section>,
}

impl Pe {
    fn parse(b: &[u8]) -> Result<Pe, String> {
        if b.get(..2) != Some(b"MZ") {
            return Err("not a Windows executable (no MZ header)".into());
        }
        let pe = rd32(b, 0x3c)? as usize;
        if get::<4>(b, pe)? != *b"PE\0\0" {
            return Err("not a PE image (no PE signature)".into());
        }
        // Offsets below cannot overflow: `pe + 4` is within `b`.
        let (coff, opt) = (pe + 4, pe + 24);
        // Checked before the machine so a 32-bit program gets the clear message.
        match rd16(b, opt)? {
            0x20b => {}
            0x10b => return Err("32-bit executables are not supported".into()),
            m => return Err(format!("unknown optional header magic {m:#x}")),
        }
        let machine = rd16(b, coff)?;
        if machine != 0x8664 {
            return Err(format!(
                "unsupported machine {machine:#x} (only x86-64 is supported)"
            ));
        }
        let opt_size = rd16(b, coff + 16)? as usize;
        // The loader ignores directories past the 16 defined ones.
        let ndirs = (rd32(b, opt + 108)? as usize).min(16);
        if ndirs <= DIR_IMPORT || 112 + 8 * ndirs > opt_size {
            return Err("optional header has no import directory".into());
        }
        let (sect_align, file_align) = (rd32(b, opt + 32)?, rd32(b, opt + 36)?);
        // Bounded so padding to FileAlignment cannot blow up memory.
        if !file_align.is_power_of_two() || file_align > 0x10000 || sect_align < file_align {
            return Err("invalid section or file alignment".into());
        }
        let shdrs = opt + opt_size;
        let nsec = rd16(b, coff + 2)? as usize;
        let sections = (0..nsec)
            .map(|i| {
                let at = shdrs + i * SHDR_SIZE;
                Ok(Section {
                    vsize: rd32(b, at + 8)?,
                    va: rd32(b, at + 12)?,
                    raw_size: rd32(b, at + 16)?,
                    raw_ptr: rd32(b, at + 20)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let (nsec_at, headers_size) = (coff + 2, rd32(b, opt + 60)?);
        Ok(Pe {
            opt,
            nsec_at,
            shdrs,
            ndirs,
            sect_align,
            file_align,
            headers_size,
            sections,
        })
    }

    /// File offset of data directory `i`, if the image has it.
    fn dir_at(&self, i: usize) -> Option<usize> {
        (i < self.ndirs).then_some(self.opt + 112 + 8 * i)
    }

    fn dir(&self, b: &[u8], i: usize) -> Result<(u32, u32), String> {
        match self.dir_at(i) {
            Some(at) => Ok((rd32(b, at)?, rd32(b, at + 4)?)),
            None => Ok((0, 0)),
        }
    }

    fn offset(&self, rva: u32) -> Result<usize, String> {
        for s in &self.sections {
            if rva >= s.va && rva - s.va < s.raw_size {
                if let Some(off) = (s.raw_ptr as usize).checked_add((rva - s.va) as usize) {
                    return Ok(off);
                }
            }
        }
        if rva < self.headers_size {
            return Ok(rva as usize);
        }
        Err(format!("RVA {rva:#x} is not backed by file data"))
    }
}

/// Each import descriptor's raw bytes and DLL name, up to the terminator.
fn descriptors(b: &[u8], pe: &Pe) -> Result<Vec<([u8; DESC_SIZE], String)>, String> {
    let mut out = Vec::new();
    let (rva, _) = pe.dir(b, DIR_IMPORT)?;
    if rva == 0 {
        return Ok(out);
    }
    let mut at = pe.offset(rva)?;
    loop {
        let d: [u8; DESC_SIZE] = get(b, at)?;
        // The loader stops at a descriptor without Name or FirstThunk.
        let (name, first_thunk) = (rd32(&d, 12)?, rd32(&d, 16)?);
        if name == 0 || first_thunk == 0 {
            return Ok(out);
        }
        let s = b.get(pe.offset(name)?..).unwrap_or_default();
        if !s.contains(&0) {
            return Err(format!("unterminated DLL name at RVA {name:#x}"));
        }
        let name = s.split(|&c| c == 0).next().unwrap_or_default();
        out.push((d, String::from_utf8_lossy(name).into_owned()));
        at += DESC_SIZE; // cannot overflow: `at + DESC_SIZE` is within `b`
    }
}

/// The DLL names the image imports, in import-descriptor order (for reports and tests).
pub fn imports(image: &[u8]) -> Result<Vec<String>, String> {
    let pe = Pe::parse(image)?;
    let descs = descriptors(image, &pe)?;
    Ok(descs.into_iter().map(|(_, n)| n).collect())
}

/// Returns a copy of `image` (a PE32+ x86-64 .exe or .dll) whose import
/// table lists `dll` first, importing `symbol` by name. Errors (never panics)
/// on malformed or unsupported images, or if `dll` is already imported.
pub fn add_import(image: &[u8], dll: &str, symbol: &str) -> Result<Patched, String> {
    if dll.is_empty() || symbol.is_empty() || dll.contains('\0') || symbol.contains('\0') {
        return Err("DLL and symbol names must be non-empty and contain no NUL".into());
    }
    let pe = Pe::parse(image)?;
    let descs = descriptors(image, &pe)?;
    if descs.iter().any(|(_, n)| n.eq_ignore_ascii_case(dll)) {
        return Err(format!("already imports {dll}"));
    }
    let raw: Vec<&Section> = pe.sections.iter().filter(|s| s.raw_size != 0).collect();
    if raw.iter().any(|s| s.raw_end() > image.len() as u64) {
        return Err("section data extends past the end of the file".into());
    }
    let raw_end = raw
        .iter()
        .map(|s| s.raw_end())
        .fold(pe.headers_size.into(), u64::max);
    let first_raw = raw
        .iter()
        .map(|s| s.raw_ptr)
        .fold(pe.headers_size, u32::min);
    let shdr_at = pe.shdrs + pe.sections.len() * SHDR_SIZE;
    if shdr_at + SHDR_SIZE > first_raw as usize {
        return Err("no room for another section header".into());
    }

    let mut out = image.to_vec();
    let mut stripped_signature = false;
    if let Some(at) = pe.dir_at(DIR_SECURITY) {
        // This directory's "RVA" is a file offset; the certificate is not mapped.
        let (off, size) = (rd32(&out, at)?, rd32(&out, at + 4)?);
        if off != 0 || size != 0 {
            stripped_signature = true;
            put(&mut out, at, &[0; 8])?;
            let at_end = u64::from(off) + u64::from(size) >= out.len() as u64;
            if at_end && u64::from(off) >= raw_end && (off as usize) < out.len() {
                out.truncate(off as usize);
            }
            // An unsigned FORCE_INTEGRITY image would not load at all.
            let dllch = rd16(&out, pe.opt + 70)? & !FORCE_INTEGRITY;
            put(&mut out, pe.opt + 70, &dllch.to_le_bytes())?;
        }
    }

    // Section layout: descriptors, ILT, IAT, hint/name, DLL name.
    let desc_len = (descs.len() + 2) * DESC_SIZE;
    let ilt = desc_len.next_multiple_of(8);
    let (iat, hint) = (ilt + 16, ilt + 32);
    let name = (hint + 2 + symbol.len() + 1).next_multiple_of(2);
    let vsize = name + dll.len() + 1;
    let vend = pe.sections.iter().map(Section::virt_end);
    let va = align(vend.fold(pe.headers_size.into(), u64::max), pe.sect_align);
    let image_size = u32::try_from(align(va + vsize as u64, pe.sect_align))
        .map_err(|_| "patched image would exceed 4 GiB".to_string())?;
    let rva = |off: usize| (va + off as u64) as u32; // fits: below image_size
    let (va, vsize32) = (rva(0), vsize as u32);

    let mut sec = Vec::with_capacity(vsize);
    for v in [rva(ilt), 0, 0, rva(name), rva(iat)] {
        sec.extend_from_slice(&v.to_le_bytes());
    }
    descs.iter().for_each(|(d, _)| sec.extend_from_slice(d));
    sec.resize(ilt, 0); // zero terminator descriptor, then padding
    for _ in 0..2 {
        // ILT and IAT: import by name (bit 63 clear), then a null entry.
        sec.extend_from_slice(&u64::from(rva(hint)).to_le_bytes());
        sec.extend_from_slice(&[0; 8]);
    }
    sec.extend_from_slice(&[0, 0]); // hint
    sec.extend_from_slice(symbol.as_bytes());
    sec.resize(name, 0);
    sec.extend_from_slice(dll.as_bytes());
    sec.push(0);

    // After all section data and any overlay, which stays where it was.
    let raw_ptr = align(out.len() as u64, pe.file_align);
    let raw_size = align(vsize as u64, pe.file_align);
    let end = usize::try_from(raw_ptr + raw_size)
        .ok()
        .filter(|&e| u32::try_from(e).is_ok())
        .ok_or("patched file would exceed 4 GiB")?;
    out.resize(raw_ptr as usize, 0);
    out.extend_from_slice(&sec);
    out.resize(end, 0);

    let (rsize, rptr) = (raw_size as u32, raw_ptr as u32); // fit: `end` does
    let mut shdr = SECTION_NAME.to_vec();
    for v in [vsize32, va, rsize, rptr, 0, 0, 0, SECTION_FLAGS] {
        shdr.extend_from_slice(&v.to_le_bytes());
    }
    put(&mut out, shdr_at, &shdr)?;
    let nsec = u16::try_from(pe.sections.len() + 1).map_err(|_| "too many sections")?;
    put(&mut out, pe.nsec_at, &nsec.to_le_bytes())?;
    put(&mut out, pe.opt + 56, &image_size.to_le_bytes())?;
    put(&mut out, pe.opt + 64, &[0; 4])?; // CheckSum: stale, and 0 is accepted for .exe
    if let Some(at) = pe.dir_at(DIR_IMPORT) {
        put(&mut out, at, &va.to_le_bytes())?;
        put(&mut out, at + 4, &(desc_len as u32).to_le_bytes())?;
    }
    if let Some(at) = pe.dir_at(DIR_BOUND_IMPORT) {
        put(&mut out, at, &[0; 8])?; // bindings would be stale
    }
    Ok(Patched {
        image: out,
        stripped_signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DLL: &str = "snmalloc_rs.dll";
    const SYM: &str = "snrs_malloc";
    const O: usize = 0x58; // optional header

    fn w(b: &mut [u8], off: usize, v: &[u8]) {
        put(b, off, v).unwrap();
    }

    fn w32s(b: &mut [u8], off: usize, vs: &[u32]) {
        for (i, v) in vs.iter().enumerate() {
            w(b, off + 4 * i, &v.to_le_bytes());
        }
    }

    /// A minimal valid PE32+ image: `.text` and `.idata` importing
    /// KERNEL32.dll!ExitProcess and msvcrt.dll!malloc.
    fn sample() -> Vec<u8> {
        let mut b = vec![0u8; 0x600];
        w(&mut b, 0, b"MZ");
        w32s(&mut b, 0x3c, &[0x40]);
        // Signature; COFF: x86-64, 2 sections, 240-byte optional header, flags.
        w(&mut b, 0x40, b"PE\0\0\x64\x86\x02\0");
        w(&mut b, 0x54, &[240, 0, 0x22, 0]);
        w(&mut b, O, &[0x0b, 0x02]);
        w32s(&mut b, O + 16, &[0x1000]); // entry point
        w(&mut b, O + 24, &0x1_4000_0000u64.to_le_bytes());
        w32s(&mut b, O + 32, &[0x1000, 0x200]); // section, file alignment
        w(&mut b, O + 48, &[6, 0]); // subsystem version
        w32s(&mut b, O + 56, &[0x3000, 0x200]); // SizeOfImage, SizeOfHeaders
        w(&mut b, O + 68, &[3, 0]); // console subsystem
        w32s(&mut b, O + 108, &[16]);
        w32s(&mut b, O + 120, &[0x2000, 60]); // IMPORT
        w32s(&mut b, O + 208, &[0x2060, 0x20]); // IAT
                                                // Section headers: name, VirtualSize, VirtualAddress, SizeOfRawData,
                                                // PointerToRawData, ..., Characteristics.
        w(&mut b, 0x148, b".text");
        w32s(&mut b, 0x150, &[0x10, 0x1000, 0x200, 0x200]);
        w32s(&mut b, 0x16c, &[0x6000_0020]);
        w(&mut b, 0x170, b".idata");
        w32s(&mut b, 0x178, &[0xe0, 0x2000, 0x200, 0x400]);
        w32s(&mut b, 0x194, &[SECTION_FLAGS]);
        w(&mut b, 0x200, &[0xc3]);
        // Descriptors (ILT, time, chain, name, IAT); ILTs and IATs; names.
        w32s(&mut b, 0x400, &[0x2040, 0, 0, 0x20c0, 0x2060]);
        w32s(&mut b, 0x414, &[0x2050, 0, 0, 0x20d0, 0x2070]);
        for (off, hint_name) in [
            (0x440, 0x2080),
            (0x450, 0x20a0),
            (0x460, 0x2080),
            (0x470, 0x20a0),
        ] {
            w32s(&mut b, off, &[hint_name]);
        }
        w(&mut b, 0x482, b"ExitProcess");
        w(&mut b, 0x4a2, b"malloc");
        w(&mut b, 0x4c0, b"KERNEL32.dll");
        w(&mut b, 0x4d0, b"msvcrt.dll");
        b
    }

    fn rd64(b: &[u8], off: usize) -> u64 {
        u64::from_le_bytes(get(b, off).unwrap())
    }

    #[test]
    fn adds_import_first_with_consistent_headers() {
        let img = sample();
        assert_eq!(imports(&img).unwrap(), ["KERNEL32.dll", "msvcrt.dll"]);
        let p = add_import(&img, DLL, SYM).unwrap();
        let out = &p.image;
        assert!(!p.stripped_signature);
        assert_eq!(imports(out).unwrap(), [DLL, "KERNEL32.dll", "msvcrt.dll"]);

        let pe = Pe::parse(out).unwrap();
        assert_eq!(pe.sections.len(), 3);
        let s = &pe.sections[2];
        assert_eq!(&out[0x198..0x1a0], SECTION_NAME);
        assert_eq!(rd32(out, 0x198 + 36).unwrap(), SECTION_FLAGS);
        assert_eq!((s.va, s.raw_ptr, s.raw_size), (0x3000, 0x600, 0x200));
        assert_eq!(s.raw_ptr as usize + s.raw_size as usize, out.len());
        let size_of_image = rd32(out, O + 56).unwrap();
        assert_eq!(
            u64::from(size_of_image),
            align(u64::from(s.va + s.vsize), 0x1000)
        );
        let (irva, isize) = pe.dir(out, DIR_IMPORT).unwrap();
        assert_eq!((irva, isize), (s.va, 4 * 20));
        assert!(irva + isize <= s.va + s.vsize);
        assert_eq!(pe.dir(out, DIR_BOUND_IMPORT).unwrap(), (0, 0));
        assert_eq!(rd32(out, O + 64).unwrap(), 0);

        // Existing descriptors copied unchanged, then a zero terminator.
        let d = pe.offset(irva).unwrap();
        assert_eq!(out[d + 20..d + 60], img[0x400..0x428]);
        assert!(out[d + 60..d + 80].iter().all(|&c| c == 0));
        // Our ILT and IAT both name the symbol; the section data is untouched.
        let (ilt, iat) = (rd32(out, d).unwrap(), rd32(out, d + 16).unwrap());
        let hn = rd64(out, pe.offset(ilt).unwrap());
        assert_eq!(rd64(out, pe.offset(iat).unwrap()), hn);
        assert_eq!(rd64(out, pe.offset(ilt).unwrap() + 8), 0);
        let at = pe.offset(hn as u32).unwrap();
        assert_eq!(&out[at..at + SYM.len() + 3], b"\0\0snrs_malloc\0");
        assert_eq!(out[0x200..0x600], img[0x200..0x600]);

        assert!(add_import(out, DLL, SYM)
            .unwrap_err()
            .contains("already imports"));
        let again = add_import(&img, "kernel32.DLL", SYM).unwrap_err();
        assert_eq!(again, "already imports kernel32.DLL");
    }

    #[test]
    fn malformed_inputs_error_without_panicking() {
        let img = sample();
        for len in 0..img.len() {
            assert!(add_import(&img[..len], DLL, SYM).is_err(), "len {len:#x}");
            let _ = imports(&img[..len]);
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..img.len() * 4 + 3000 {
            let mut m = img.clone();
            if let Some(b) = m.get_mut(i / 4) {
                *b = [0, 0xff, 0x7f, 0x80][i % 4]; // every byte, a few values
            } else {
                for _ in 0..4 {
                    let at = next() as usize % m.len();
                    m[at] = next() as u8;
                }
            }
            let _ = (add_import(&m, DLL, SYM), imports(&m));
        }
        let garbage: Vec<u8> = (0..4096).map(|_| next() as u8).collect();
        assert!(add_import(&garbage, DLL, SYM).is_err());
        assert!(imports(b"MZ").is_err());
    }

    #[test]
    fn rejects_pe32_other_machines_and_full_headers() {
        let mut img = sample();
        w(&mut img, O, &0x10bu16.to_le_bytes());
        assert_eq!(
            add_import(&img, DLL, SYM).unwrap_err(),
            "32-bit executables are not supported"
        );
        let mut img = sample();
        w(&mut img, 0x44, &0x14cu16.to_le_bytes());
        assert!(add_import(&img, DLL, SYM).unwrap_err().contains("machine"));
        let mut img = sample();
        w(&mut img, O + 60, &0x1a0u32.to_le_bytes());
        assert_eq!(
            add_import(&img, DLL, SYM).unwrap_err(),
            "no room for another section header"
        );
    }

    #[test]
    fn only_touches_existing_data_directories() {
        let mut img = sample();
        w32s(&mut img, O + 108, &[2]);
        w32s(&mut img, O + 112 + 32, &[0x600, 16]); // not a directory now
        let p = add_import(&img, DLL, SYM).unwrap();
        assert!(!p.stripped_signature);
        assert_eq!(p.image[O + 128..O + 240], img[O + 128..O + 240]);
        assert_eq!(imports(&p.image).unwrap()[0], DLL);
        w32s(&mut img, O + 108, &[1]);
        assert!(add_import(&img, DLL, SYM).is_err());
    }

    #[test]
    fn strips_signature_and_keeps_overlay() {
        let mut img = sample();
        img.extend_from_slice(b"\x10\0\0\0\0\x02\x02\0FAKECERT");
        w(&mut img, O + 112 + 32, &[0, 6, 0, 0, 16, 0, 0, 0]);
        w(&mut img, O + 70, &0x0160u16.to_le_bytes());
        let p = add_import(&img, DLL, SYM).unwrap();
        assert!(p.stripped_signature);
        let pe = Pe::parse(&p.image).unwrap();
        assert_eq!(pe.dir(&p.image, DIR_SECURITY).unwrap(), (0, 0));
        assert_eq!((pe.sections[2].raw_ptr, p.image.len()), (0x600, 0x800));
        assert!(!p.image.windows(8).any(|x| x == b"FAKECERT"));
        assert_eq!(rd16(&p.image, O + 70).unwrap(), 0x0160 & !FORCE_INTEGRITY);

        let mut img = sample();
        img.extend_from_slice(b"overlay!");
        let p = add_import(&img, DLL, SYM).unwrap();
        assert!(!p.stripped_signature);
        assert_eq!(&p.image[0x600..0x608], b"overlay!");
        let pe = Pe::parse(&p.image).unwrap();
        assert_eq!((pe.sections[2].raw_ptr, p.image.len()), (0x800, 0xa00));
        assert_eq!(imports(&p.image).unwrap()[0], DLL);
    }
}
