//! What the launcher checks before `exec`, read from the ELF files with the
//! `object` crate: can CMD take a preloaded library at all (dynamically
//! linked, which libc, which machine), and is the library one (a shared
//! object for that machine that exports `malloc`). Also whether the kernel
//! will run CMD in secure-execution mode, where the loader ignores
//! `LD_PRELOAD`.

use object::read::elf::{ElfFile, FileHeader, ProgramHeader};
use object::{Architecture, Endianness, FileKind, Object, ObjectKind, ObjectSymbol, ReadRef};
use std::path::Path;

/// What matters about an ELF file here.
pub struct Facts {
    pub arch: Architecture,
    pub kind: ObjectKind,
    /// The program interpreter (PT_INTERP): absent for static programs.
    pub interpreter: Option<String>,
    /// Whether it exports a definition of `malloc` (asked for libraries).
    pub exports_malloc: bool,
    /// The sanitizer it is built with, whose runtime is its allocator.
    pub sanitizer: Option<&'static str>,
}

/// The entry points of the sanitizers that bring their own allocator: an
/// instrumented program imports one (GCC, shared runtime) or exports it
/// (Clang, static runtime).
const SANITIZERS: [(&str, &str); 4] = [
    ("__asan_init", "AddressSanitizer"),
    ("__hwasan_init", "HWAddressSanitizer"),
    ("__tsan_init", "ThreadSanitizer"),
    ("__msan_init", "MemorySanitizer"),
];

impl Facts {
    /// Whether the program is linked against musl (Alpine).
    pub fn is_musl(&self) -> bool {
        self.interpreter
            .as_deref()
            .is_some_and(|i| i.contains("ld-musl"))
    }
}

fn facts_of<'d, Elf, R>(f: &ElfFile<'d, Elf, R>, want_malloc: bool) -> Facts
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'d>,
{
    let endian = f.endian();
    let interpreter = f
        .elf_program_headers()
        .iter()
        .find_map(|ph| ph.interpreter(endian, f.data()).ok().flatten())
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let exports_malloc = want_malloc
        && f.dynamic_symbols()
            .any(|s| s.name() == Ok("malloc") && s.is_definition() && s.is_global());
    let sanitizer = f.dynamic_symbols().find_map(|s| {
        let name = s.name().ok()?;
        SANITIZERS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, what)| *what)
    });
    Facts {
        arch: f.architecture(),
        kind: f.kind(),
        interpreter,
        exports_malloc,
        sanitizer,
    }
}

/// Reads the facts of `path`; `Ok(None)` when it is not ELF (a script, for
/// which the kernel runs an interpreter that exec then checks).
pub fn read(path: &Path, want_malloc: bool) -> Result<Option<Facts>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let data = object::ReadCache::new(file);
    let not_elf = |e: object::Error| format!("is not a valid ELF file ({e})");
    Ok(match FileKind::parse(&data) {
        Ok(FileKind::Elf32) => Some(facts_of(
            &ElfFile::<object::elf::FileHeader32<Endianness>, _>::parse(&data).map_err(not_elf)?,
            want_malloc,
        )),
        Ok(FileKind::Elf64) => Some(facts_of(
            &ElfFile::<object::elf::FileHeader64<Endianness>, _>::parse(&data).map_err(not_elf)?,
            want_malloc,
        )),
        _ => None,
    })
}

/// Whether LD_PRELOAD can work for the program: it must be dynamically
/// linked and built for a machine our library is built for. Returns its
/// facts (none for scripts).
pub fn check_program(path: &Path) -> Result<Option<Facts>, String> {
    let Some(f) = read(path, false)? else {
        return Ok(None);
    };
    if f.interpreter.is_none() {
        return Err(
            "is statically linked: LD_PRELOAD cannot replace its allocator \
                    (link it with libsnmalloc_rs.a, or use a dynamically linked build)"
                .into(),
        );
    }
    if let Some(what) = f.sanitizer {
        // Its runtime must be the first library and serves malloc itself;
        // a preloaded allocator breaks it (ASan refuses to start, or
        // crashes when told not to check).
        return Err(format!(
            "is built with {what}, whose runtime is its allocator: run it without snmalloc-rs"
        ));
    }
    Ok(Some(f))
}

/// Whether `lib` is a library the loader will take for a program of
/// `arch`: a shared object for that machine exporting `malloc`.
pub fn check_library(lib: &Path, arch: Architecture) -> Result<(), String> {
    // The loader splits LD_PRELOAD at spaces, tabs, newlines and colons:
    // such a path would load other files, relative to where CMD runs.
    if lib
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .any(|&b| b.is_ascii_whitespace() || b == b':')
    {
        return Err(
            "has a space or a colon in its path, where LD_PRELOAD splits it: \
             the loader would load other files (install or copy it elsewhere)"
                .into(),
        );
    }
    let f = read(lib, true)?.ok_or("is not an ELF shared object")?;
    // A position-independent program is ET_DYN too, but has an interpreter.
    if f.kind != ObjectKind::Dynamic || f.interpreter.is_some() {
        return Err("is a program, not a shared object".into());
    }
    if f.arch != arch {
        return Err(format!(
            "is built for {:?}, the program for {:?}: the loader would ignore it",
            f.arch, arch
        ));
    }
    if !f.exports_malloc {
        return Err("exports no malloc: it would serve no allocation \
                    (libsnmalloc_rs.so is built by the preload package: cargo build --release)"
            .into());
    }
    Ok(())
}

/// The machine the launcher itself runs on, for scripts and checks of
/// libraries without a program.
pub fn host_arch() -> Architecture {
    std::env::current_exe()
        .ok()
        .and_then(|exe| read(&exe, false).ok().flatten())
        .map(|f| f.arch)
        .unwrap_or(Architecture::Unknown)
}

/// Why the kernel will run `path` in secure-execution mode (`AT_SECURE`),
/// where the loader ignores `LD_PRELOAD`: set-user-ID or set-group-ID bits
/// that change our IDs, or file capabilities.
pub fn secure_execution(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    // SAFETY: no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if m.mode() & 0o4000 != 0 && m.uid() != uid {
        return Some(format!("is set-user-ID (owner uid {})", m.uid()));
    }
    if m.mode() & 0o2000 != 0 && m.gid() != gid {
        return Some(format!("is set-group-ID (group {})", m.gid()));
    }
    file_capabilities(path, uid)
}

/// File capabilities (Linux: the `security.capability` attribute) make
/// the kernel run the program in secure-execution mode for users but root.
#[cfg(target_os = "linux")]
fn file_capabilities(path: &Path, uid: libc::uid_t) -> Option<String> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: NUL-terminated strings; a null buffer asks for the size only.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    (n > 0 && uid != 0).then(|| "has file capabilities".to_string())
}

#[cfg(not(target_os = "linux"))]
fn file_capabilities(_path: &Path, _uid: libc::uid_t) -> Option<String> {
    None
}
