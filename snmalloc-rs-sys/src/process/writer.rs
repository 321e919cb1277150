//! Formatting without allocating, for everything the library prints (the
//! exit report, the verbose line, the Windows messages): a fixed stack
//! buffer written out to a file descriptor (Unix) or to stderr's handle
//! (Windows). Nothing here can call into an allocator that is not ready,
//! or disturb the figures it prints.

use core::fmt::{self, Write};

/// Where a [`Writer`] writes: a file descriptor on Unix.
#[cfg(unix)]
pub type Sink = core::ffi::c_int;

/// Where a [`Writer`] writes: stderr on Windows (the only sink there).
#[cfg(windows)]
pub type Sink = Stderr;

/// The process's stderr (Windows).
#[cfg(windows)]
#[derive(Clone, Copy)]
pub struct Stderr;

/// The stack buffer of a [`Writer`]: small, since the library writes from
/// its initialiser, on whatever stack the program starts with.
const BUF: usize = 256;

/// Writes through a fixed stack buffer; what is buffered goes out when the
/// buffer fills and when the writer is dropped.
pub struct Writer {
    sink: Sink,
    buf: [u8; BUF],
    len: usize,
}

impl Writer {
    /// A writer to `sink`.
    pub fn new(sink: Sink) -> Self {
        Writer {
            sink,
            buf: [0; BUF],
            len: 0,
        }
    }

    /// A writer to the process's stderr.
    pub fn stderr() -> Self {
        #[cfg(unix)]
        return Writer::new(2);
        #[cfg(windows)]
        return Writer::new(Stderr);
    }

    /// Ends the line (CRLF on Windows) and writes everything out.
    pub fn end_line(mut self) {
        let _ = self.write_str(if cfg!(windows) { "\r\n" } else { "\n" });
    }

    /// Writes out what is buffered (as much as the sink takes).
    pub fn flush(&mut self) {
        let mut done = 0;
        while done < self.len {
            match crate::platform::write_out(self.sink, &self.buf[done..self.len]) {
                Some(n) if n > 0 => done += n,
                _ => break,
            }
        }
        self.len = 0;
    }
}

impl Write for Writer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Bytes the process's caller controls (a program name, a path), shown
/// without letting them forge lines: printable characters as they are,
/// control characters (C0, DEL, C1) and bytes that are not UTF-8 escaped as
/// `\n`, `\t`, `\r`, `\xNN` or `\u{NN}`, and `\` doubled.
#[cfg(unix)]
pub struct Escaped<'a>(pub &'a [u8]);

#[cfg(unix)]
impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    '\t' => f.write_str("\\t")?,
                    '\r' => f.write_str("\\r")?,
                    c if (c as u32) < 0x80 && c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                    c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                    c => f.write_char(c)?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// Bytes the caller controls, as the inside of a JSON string: `"` and `\`
/// escaped, control characters as `\uXXXX`, bytes that are not UTF-8 as
/// U+FFFD (JSON text is UTF-8).
#[cfg(unix)]
pub struct Json<'a>(pub &'a [u8]);

#[cfg(unix)]
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => f.write_str("\\\"")?,
                    '\\' => f.write_str("\\\\")?,
                    c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
                    c => f.write_char(c)?,
                }
            }
            if !chunk.invalid().is_empty() {
                f.write_char('\u{fffd}')?;
            }
        }
        Ok(())
    }
}

/// A fixed, NUL-terminated buffer to format into without allocating (for
/// text handed to C, such as `malloc_info`'s XML).
#[cfg(target_os = "linux")]
pub struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

#[cfg(target_os = "linux")]
impl<const N: usize> StackBuf<N> {
    /// An empty buffer.
    pub fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }

    /// What was written, as a C string (the buffer always keeps a NUL).
    pub fn as_c_str(&self) -> &core::ffi::CStr {
        core::ffi::CStr::from_bytes_until_nul(&self.buf).unwrap_or_default()
    }
}

#[cfg(target_os = "linux")]
impl<const N: usize> Write for StackBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end >= N {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::{Escaped, Json};

    #[test]
    fn json_strings_are_valid_whatever_the_bytes() {
        let j = |b: &[u8]| format!("\"{}\"", Json(b));
        assert_eq!(j(b"python3"), "\"python3\"");
        assert_eq!(j(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(j(b"x\n\x1b"), r#""x\u000a\u001b""#);
        assert_eq!(j(b"\xff/bin"), "\"\u{fffd}/bin\"");
        assert_eq!(j("caf\u{e9}".as_bytes()), "\"caf\u{e9}\"");
    }

    fn esc(b: &[u8]) -> String {
        format!("{}", Escaped(b))
    }

    #[test]
    fn caller_controlled_bytes_cannot_forge_lines() {
        assert_eq!(esc(b"python3"), "python3");
        assert_eq!(esc("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(
            esc(b"x\n* * * * * root echo pwned"),
            "x\\n* * * * * root echo pwned"
        );
        assert_eq!(esc(b"a\rb\tc\x1b[2J\x7f"), "a\\rb\\tc\\x1b[2J\\x7f");
        assert_eq!(esc("\u{85}\u{9b}".as_bytes()), "\\u{85}\\u{9b}");
        assert_eq!(esc(b"\xff\xfe/bin"), "\\xff\\xfe/bin");
        assert_eq!(esc(b"back\\slash"), "back\\\\slash");
        assert!(!esc(&(0u8..=255).collect::<Vec<_>>()).contains(['\n', '\r']));
    }
}
