//! An x86-64 instruction-length decoder and relocator, just enough to move
//! the first instructions of a function into a trampoline.
//!
//! It knows the one-byte opcode map and the common two-byte (`0F`) opcodes
//! with their ModRM/SIB/displacement/immediate layout, and which of them are
//! relative to the instruction pointer. Anything else (VEX/EVEX, `loop`,
//! `jrcxz`, far forms, absolute `moffs`) is "unknown": the caller must then
//! leave the function alone rather than guess.

/// How an instruction's bytes depend on where it sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Position-independent: copied as is.
    Plain,
    /// A RIP-relative memory operand; `disp` is the offset of its 32-bit
    /// displacement within the instruction.
    RipRelative { disp: usize },
    /// `call rel32` (E8).
    Call32,
    /// `jmp rel32` (E9) or `jmp rel8` (EB).
    Jmp,
    /// `jcc rel8` (7x) or `jcc rel32` (0F 8x); `cc` is the condition nibble.
    Jcc { cc: u8 },
}

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Its length in bytes.
    pub len: usize,
    /// How it must be moved.
    pub kind: Kind,
    /// Control never falls through to the next instruction (ret, jmp, int3).
    pub ends_flow: bool,
    /// For Call32/Jmp/Jcc: the branch displacement.
    pub rel: i64,
}

/// Why code cannot be moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// An opcode this decoder does not know, at this offset.
    Unknown { offset: usize },
    /// The code ends (ret/jmp) before `min` bytes and what follows is not
    /// padding: patching would overwrite another function.
    TooShort { offset: usize },
    /// A relative target is beyond ±2 GiB of the trampoline.
    OutOfRange { offset: usize },
    /// The relocated code does not fit the trampoline's space.
    TooLong,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Unknown { offset } => {
                write!(f, "an instruction this decoder does not know at +{offset}")
            }
            Error::TooShort { offset } => {
                write!(f, "the function ends at +{offset}, before the 5-byte patch, and no padding follows")
            }
            Error::OutOfRange { offset } => write!(
                f,
                "a relative target at +{offset} out of reach of the trampoline"
            ),
            Error::TooLong => write!(f, "the moved instructions do not fit the trampoline"),
        }
    }
}

/// Immediate operand sizes.
#[derive(Clone, Copy)]
enum Imm {
    None,
    B1,
    B2,
    /// 16 bits with an operand-size prefix, else 32.
    Z,
    /// `enter`: 16 + 8 bits.
    B3,
}

/// Decodes the instruction at the start of `code` (which must hold at least
/// 15 bytes, or the rest of readable memory).
pub fn decode(code: &[u8]) -> Option<Insn> {
    let byte = |i: usize| code.get(i).copied();
    let mut i = 0;
    let mut opsize16 = false;
    // Legacy prefixes.
    loop {
        match byte(i)? {
            0x66 => opsize16 = true,
            0x67 | 0xF0 | 0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 => {}
            _ => break,
        }
        i += 1;
        if i > 4 {
            return None;
        }
    }
    let prefixed = i > 0;
    let mut rex_w = false;
    if let 0x40..=0x4F = byte(i)? {
        rex_w = byte(i)? & 8 != 0;
        i += 1;
    }
    let op = byte(i)?;
    i += 1;
    let mut ends_flow = false;
    let (modrm, imm) = match op {
        0x0F => return decode_0f(code, i, opsize16),
        // ALU ops: r/m forms, then AL/eAX with an immediate.
        0x00..=0x3F => match op & 7 {
            0..=3 => (true, Imm::None),
            4 => (false, Imm::B1),
            5 => (false, Imm::Z),
            _ => return None,
        },
        0x50..=0x5F => (false, Imm::None),
        0x63 => (true, Imm::None),
        0x68 => (false, Imm::Z),
        0x69 => (true, Imm::Z),
        0x6A => (false, Imm::B1),
        0x6B => (true, Imm::B1),
        0x70..=0x7F => {
            if prefixed {
                return None;
            }
            let rel = byte(i)? as i8 as i64;
            return Some(Insn {
                len: i + 1,
                kind: Kind::Jcc { cc: op & 0xF },
                ends_flow: false,
                rel,
            });
        }
        0x80 | 0x83 => (true, Imm::B1),
        0x81 => (true, Imm::Z),
        0x84..=0x8F => (true, Imm::None),
        0x90..=0x99 | 0x9B..=0x9F => (false, Imm::None),
        0xA8 => (false, Imm::B1),
        0xA9 => (false, Imm::Z),
        0xA4..=0xA7 | 0xAA..=0xAF => (false, Imm::None),
        0xB0..=0xB7 => (false, Imm::B1),
        0xB8..=0xBF => {
            let n = if rex_w {
                8
            } else if opsize16 {
                2
            } else {
                4
            };
            return code.get(i + n - 1).map(|_| Insn {
                len: i + n,
                kind: Kind::Plain,
                ends_flow: false,
                rel: 0,
            });
        }
        0xC0 | 0xC1 | 0xC6 => (true, Imm::B1),
        0xC7 => (true, Imm::Z),
        0xC2 => {
            ends_flow = true;
            (false, Imm::B2)
        }
        0xC3 | 0xCC => {
            ends_flow = true;
            (false, Imm::None)
        }
        0xC8 => (false, Imm::B3),
        0xC9 => (false, Imm::None),
        0xD0..=0xD3 | 0xD8..=0xDF => (true, Imm::None),
        0xE8 | 0xE9 => {
            if prefixed {
                return None;
            }
            let rel = i32::from_le_bytes(code.get(i..i + 4)?.try_into().ok()?) as i64;
            return Some(Insn {
                len: i + 4,
                kind: if op == 0xE8 { Kind::Call32 } else { Kind::Jmp },
                ends_flow: op == 0xE9,
                rel,
            });
        }
        0xEB => {
            if prefixed {
                return None;
            }
            let rel = byte(i)? as i8 as i64;
            return Some(Insn {
                len: i + 1,
                kind: Kind::Jmp,
                ends_flow: true,
                rel,
            });
        }
        0xF5 | 0xF8..=0xFD => (false, Imm::None),
        0xF6 => (
            true,
            if reg_field(byte(i)?) < 2 {
                Imm::B1
            } else {
                Imm::None
            },
        ),
        0xF7 => (
            true,
            if reg_field(byte(i)?) < 2 {
                Imm::Z
            } else {
                Imm::None
            },
        ),
        0xFE => (true, Imm::None),
        0xFF => {
            let reg = reg_field(byte(i)?);
            if reg == 3 || reg == 5 || reg == 7 {
                return None; // far call/jmp, invalid
            }
            // jmp r/m ends the flow.
            ends_flow = reg == 4;
            (true, Imm::None)
        }
        _ => return None,
    };
    operands(code, i, modrm, imm, opsize16, ends_flow)
}

/// The rest of an instruction whose opcode ends before `i`: its ModRM (with
/// SIB and displacement, maybe RIP-relative), then its immediate.
fn operands(
    code: &[u8],
    mut i: usize,
    modrm: bool,
    imm: Imm,
    opsize16: bool,
    ends_flow: bool,
) -> Option<Insn> {
    let mut kind = Kind::Plain;
    if modrm {
        let (after, disp) = modrm_len(code, i)?;
        if let Some(d) = disp {
            kind = Kind::RipRelative { disp: d };
        }
        i = after;
    }
    i += imm_len(imm, opsize16);
    if code.len() < i {
        return None;
    }
    Some(Insn {
        len: i,
        kind,
        ends_flow,
        rel: 0,
    })
}

fn reg_field(modrm: u8) -> u8 {
    (modrm >> 3) & 7
}

fn imm_len(imm: Imm, opsize16: bool) -> usize {
    match imm {
        Imm::None => 0,
        Imm::B1 => 1,
        Imm::B2 => 2,
        Imm::B3 => 3,
        Imm::Z if opsize16 => 2,
        Imm::Z => 4,
    }
}

/// Skips the ModRM byte at `i` and its SIB and displacement; returns the
/// offset after them and, for a RIP-relative operand, the displacement's
/// offset.
fn modrm_len(code: &[u8], mut i: usize) -> Option<(usize, Option<usize>)> {
    let m = *code.get(i)?;
    i += 1;
    let (md, rm) = (m >> 6, m & 7);
    if md == 3 {
        return Some((i, None));
    }
    let mut disp = match md {
        1 => 1,
        2 => 4,
        _ => 0,
    };
    let mut rip = None;
    if rm == 4 {
        let sib = *code.get(i)?;
        i += 1;
        if md == 0 && sib & 7 == 5 {
            disp = 4;
        }
    } else if md == 0 && rm == 5 {
        rip = Some(i);
        disp = 4;
    }
    Some((i + disp, rip))
}

/// The two-byte opcodes (after `0F` at `i - 1`).
fn decode_0f(code: &[u8], mut i: usize, opsize16: bool) -> Option<Insn> {
    let op = *code.get(i)?;
    i += 1;
    let (modrm, imm) = match op {
        0x80..=0x8F => {
            let rel = i32::from_le_bytes(code.get(i..i + 4)?.try_into().ok()?) as i64;
            return Some(Insn {
                len: i + 4,
                kind: Kind::Jcc { cc: op & 0xF },
                ends_flow: false,
                rel,
            });
        }
        0x0B => {
            return Some(Insn {
                len: i,
                kind: Kind::Plain,
                ends_flow: true,
                rel: 0,
            })
        }
        0x05 | 0x31 | 0xA2 | 0x77 | 0xC8..=0xCF => (false, Imm::None),
        0x10..=0x17 | 0x18..=0x1F | 0x28..=0x2F | 0x40..=0x4F | 0x50..=0x6F | 0x74..=0x76 => {
            (true, Imm::None)
        }
        0x70..=0x73 | 0xA4 | 0xAC | 0xBA | 0xC2 | 0xC4..=0xC6 => (true, Imm::B1),
        0x7E | 0x7F | 0x90..=0x9F | 0xA3 | 0xA5 | 0xAB | 0xAD | 0xAF => (true, Imm::None),
        0xB0..=0xB1 | 0xB3 | 0xB6..=0xB7 | 0xBB..=0xBF | 0xC0 | 0xC1 | 0xC3 | 0xC7 => {
            (true, Imm::None)
        }
        0xD0..=0xFE => (true, Imm::None),
        _ => return None,
    };
    operands(code, i, modrm, imm, opsize16, false)
}

/// The instructions at `src` (which runs at address `src_at`) that cover at
/// least `min` bytes, rewritten into `out` to run at `dst_at`.
#[derive(Clone, Copy)]
pub struct Moved {
    /// Bytes of the original consumed (at least `min`, or fewer when the
    /// code ends and padding follows).
    pub consumed: usize,
    /// Bytes written to `out`.
    pub written: usize,
    /// The moved code ends the flow itself: no jump back is needed.
    pub ends_flow: bool,
    /// Where each moved instruction starts: (offset in `src`, offset in
    /// `out`), for threads stopped on one of them.
    pub starts: [(u8, u8); MAX_MOVED],
    /// How many of `starts` are used.
    pub count: usize,
}

/// The most instructions moved for one function.
pub const MAX_MOVED: usize = 8;

/// Moves the first instructions of `src` into `out`, fixing up every
/// relative operand. Short branches become their 32-bit forms.
pub fn relocate(
    src: &[u8],
    src_at: u64,
    min: usize,
    out: &mut [u8],
    dst_at: u64,
) -> Result<Moved, Error> {
    let mut consumed = 0;
    let mut written = 0;
    let mut starts = [(0u8, 0u8); MAX_MOVED];
    let mut count = 0;
    while consumed < min {
        if count == MAX_MOVED {
            return Err(Error::TooLong);
        }
        starts[count] = (consumed as u8, written as u8);
        count += 1;
        let rest = src.get(consumed..).unwrap_or(&[]);
        let insn = decode(rest).ok_or(Error::Unknown { offset: consumed })?;
        let here_src = src_at + consumed as u64;
        let here_dst = dst_at + written as u64;
        let range = |target: i64, end: u64| -> Result<[u8; 4], Error> {
            let rel = target - end as i64;
            i32::try_from(rel)
                .map(i32::to_le_bytes)
                .map_err(|_| Error::OutOfRange { offset: consumed })
        };
        let mut buf = [0u8; 16];
        let n = match insn.kind {
            Kind::Plain => {
                buf[..insn.len].copy_from_slice(&rest[..insn.len]);
                insn.len
            }
            Kind::RipRelative { disp } => {
                buf[..insn.len].copy_from_slice(&rest[..insn.len]);
                let d = i32::from_le_bytes(rest[disp..disp + 4].try_into().unwrap_or_default());
                let target = (here_src + insn.len as u64) as i64 + d as i64;
                buf[disp..disp + 4].copy_from_slice(&range(target, here_dst + insn.len as u64)?);
                insn.len
            }
            Kind::Call32 | Kind::Jmp => {
                let target = (here_src + insn.len as u64) as i64 + insn.rel;
                buf[0] = if insn.kind == Kind::Call32 {
                    0xE8
                } else {
                    0xE9
                };
                buf[1..5].copy_from_slice(&range(target, here_dst + 5)?);
                5
            }
            Kind::Jcc { cc } => {
                let target = (here_src + insn.len as u64) as i64 + insn.rel;
                buf[0] = 0x0F;
                buf[1] = 0x80 | cc;
                buf[2..6].copy_from_slice(&range(target, here_dst + 6)?);
                6
            }
        };
        let dst = out.get_mut(written..written + n).ok_or(Error::TooLong)?;
        dst.copy_from_slice(&buf[..n]);
        written += n;
        consumed += insn.len;
        if insn.ends_flow {
            if consumed < min {
                // Only padding may be overwritten by the patch.
                let pad = src
                    .get(consumed..min)
                    .ok_or(Error::TooShort { offset: consumed })?;
                if !pad.iter().all(|&b| b == 0xCC || b == 0x90) {
                    return Err(Error::TooShort { offset: consumed });
                }
            }
            return Ok(Moved {
                consumed,
                written,
                ends_flow: true,
                starts,
                count,
            });
        }
    }
    Ok(Moved {
        consumed,
        written,
        ends_flow: false,
        starts,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(bytes: &[u8]) -> Option<usize> {
        let mut b = bytes.to_vec();
        b.resize(16, 0xCC);
        decode(&b).map(|i| i.len)
    }

    #[test]
    fn lengths_of_common_prologue_instructions() {
        let cases: &[(&[u8], usize)] = &[
            (&[0x56], 1),                                        // push rsi
            (&[0x41, 0x57], 2),                                  // push r15
            (&[0x48, 0x83, 0xEC, 0x28], 4),                      // sub rsp, 0x28
            (&[0x48, 0x81, 0xEC, 0, 1, 0, 0], 7),                // sub rsp, 0x100
            (&[0x48, 0x8D, 0xA4, 0x24, 0, 0, 0, 0], 8),          // lea rsp, [rsp+0]
            (&[0x48, 0x89, 0xCE], 3),                            // mov rsi, rcx
            (&[0x31, 0xD2], 2),                                  // xor edx, edx
            (&[0x48, 0x89, 0x5C, 0x24, 0x08], 5),                // mov [rsp+8], rbx
            (&[0x48, 0x8B, 0x0D, 1, 2, 3, 4], 7),                // mov rcx, [rip+x]
            (&[0xF6, 0x05, 1, 2, 3, 4, 8], 7),                   // test byte [rip+x], 8
            (&[0x0F, 0x1F, 0x80, 0, 0, 0, 0], 7),                // nop dword [rax+0]
            (&[0x66, 0x0F, 0x1F, 0x44, 0, 0], 6),                // nop word [rax+rax+0]
            (&[0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8], 10),         // mov rax, imm64
            (&[0xB9, 0x10, 0, 0, 0], 5),                         // mov ecx, 16
            (&[0x40, 0x53], 2),                                  // push rbx (REX)
            (&[0x48, 0x85, 0xC9], 3),                            // test rcx, rcx
            (&[0x4C, 0x8B, 0xDC], 3),                            // mov r11, rsp
            (&[0x48, 0xF7, 0xE2], 3),                            // mul rdx
            (&[0xF7, 0xC1, 1, 0, 0, 0], 6),                      // test ecx, 1
            (&[0x65, 0x48, 0x8B, 0x04, 0x25, 0x30, 0, 0, 0], 9), // mov rax, gs:[0x30]
            (&[0xC3], 1),
            (&[0xE9, 1, 2, 3, 4], 5),
        ];
        for (bytes, want) in cases {
            assert_eq!(len(bytes), Some(*want), "{bytes:02x?}");
        }
    }

    #[test]
    fn unknown_forms_are_refused() {
        for bytes in [
            &[0xC5u8, 0xF8, 0x77][..],
            &[0xE2, 0x10],
            &[0xE3, 0x10],
            &[0xA1, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x0F, 0x0D, 0x00],
        ] {
            assert_eq!(len(bytes), None, "{bytes:02x?}");
        }
    }

    #[test]
    fn relocation_fixes_rip_relative_and_branches() {
        // push rbx; sub rsp,0x20; mov rcx,[rip+0x100]; jz +5 ; ...
        let src = [
            0x53, 0x48, 0x83, 0xEC, 0x20, 0x48, 0x8B, 0x0D, 0x00, 0x01, 0, 0, 0x74, 0x05, 0xCC,
            0xCC,
        ];
        let src_at = 0x1000_0000u64;
        let dst_at = 0x1000_0000u64 - 0x10000;
        let mut out = [0u8; 64];
        let m = relocate(&src, src_at, 14, &mut out, dst_at).unwrap();
        assert_eq!(m.consumed, 14);
        assert_eq!(m.written, 5 + 7 + 6);
        assert_eq!(&m.starts[..m.count], &[(0, 0), (1, 1), (5, 5), (12, 12)]);
        // The mov still reaches src_at + 12 + 0x100.
        let d = i32::from_le_bytes(out[8..12].try_into().unwrap()) as i64;
        assert_eq!(dst_at as i64 + 12 + d, src_at as i64 + 12 + 0x100);
        // jz rel8 became jz rel32 to src_at + 14 + 5.
        assert_eq!(&out[12..14], &[0x0F, 0x84]);
        let r = i32::from_le_bytes(out[14..18].try_into().unwrap()) as i64;
        assert_eq!(dst_at as i64 + 18 + r, src_at as i64 + 19);
    }

    #[test]
    fn a_leading_jump_is_moved_and_ends_the_flow() {
        let src = [0xE9, 0x10, 0, 0, 0, 0xCC, 0xCC];
        let mut out = [0u8; 32];
        let m = relocate(&src, 0x5000, 5, &mut out, 0x9000).unwrap();
        assert!(m.ends_flow);
        let r = i32::from_le_bytes(out[1..5].try_into().unwrap()) as i64;
        assert_eq!(0x9000 + 5 + r, 0x5000 + 5 + 0x10);
    }

    #[test]
    fn short_functions_followed_by_code_are_refused() {
        // ret; then another function's push rbx: a 5-byte patch would clobber it.
        let src = [0x31, 0xC0, 0xC3, 0x53, 0x48, 0x83];
        let mut out = [0u8; 32];
        assert!(matches!(
            relocate(&src, 0, 5, &mut out, 0),
            Err(Error::TooShort { .. })
        ));
        // ...but padding after it may be overwritten.
        let src = [0x31, 0xC0, 0xC3, 0xCC, 0xCC, 0xCC];
        assert!(relocate(&src, 0, 5, &mut out, 0).unwrap().ends_flow);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// The most common entry sequences among the 1,831 exported functions of
    /// Microsoft's Visual C++ 14.44 runtime DLLs (msvcp140, vcruntime140,
    /// concrt140, ...; the `msvc-runtime` wheel on PyPI), MSVC's own code
    /// generation: the decoder moved 1,822 of them, and refused 9 that end
    /// within 5 bytes with code after them (`scripts/decoder-coverage.sh`).
    #[test]
    fn msvc_generated_entries_are_movable() {
        for entry in [
            "40534883ec204533c033d2488bd9e8f5", // push rbx; sub rsp; xor r8d; xor edx; mov; call
            "48895c2408574883ec20488bf9488bda", // mov [rsp+8],rbx; push rdi; sub rsp
            "488bc448895810488968184889702048", // mov rax,rsp; mov [rax+10h],rbx ...
            "48895c241048896c241848894c240857",
            "48894c2408534883ec20488bd9488d05",
            "4883ec28488d053d770200488901488b", // sub rsp; lea rax,[rip+x]
            "4c8bdc534881ec90000000488b05ceb5", // mov r11,rsp; push rbx; sub rsp,90h
            "4c8bdc498953104d8943184d894b2053",
            "488b01488b401848ff2592a90400cccc", // mov; mov; rex.W jmp [rip+x]
            "4055535657415441564157488bec4883", // rex push rbp; push ... r15
            "4883ec38488b01488b4018ff15ff8e04", // call [rip+x]
            "4883ec28e877f10000488bd0488b0848", // sub rsp; call rel32
            "405356574881ecb0000000488b057eec",
            "488b4138488b00c3cccccccccccccccc", // two movs, ret, padding
            "48895c2420555657488dac2470fbffff",
            "488d05e9e80400488901c3cccccccccc",
            "4883ec28b917000000ff15e9e6030085",
            "4883ec480f297424300f28f0f30f5835", // movaps [rsp+30h],xmm6
            "4533c9e908000000cccccccccccccccc", // xor r9d; jmp rel32
            "b801000000f00fc10543c30200ffc0c3", // mov eax,1; lock xadd [rip+x],eax
            "4883ec28f7055a7d0300000000807410", // test dword [rip+x], imm32
        ] {
            let code = hex(entry);
            let mut out = [0u8; 80];
            let at = 0x1_8000_1000u64;
            let r = relocate(&code, at, 5, &mut out, at - 0x10000);
            assert!(r.is_ok(), "{entry}: {:?}", r.err());
        }
        // `ret 0` / `xor eax,eax; ret`, then the next function after one int3.
        for entry in [
            "c20000cc4883ec38488d4127483bc176",
            "33c0c3cc48895c2410574883ec20498b",
        ] {
            let mut out = [0u8; 80];
            let r = relocate(&hex(entry), 0x1000, 5, &mut out, 0x2000);
            assert!(matches!(r, Err(Error::TooShort { .. })), "{entry}");
        }
    }

    #[test]
    fn far_targets_are_refused() {
        let src = [0x48, 0x8B, 0x0D, 0, 0, 0, 0];
        let mut out = [0u8; 32];
        let far = 0x7FFF_0000_0000u64;
        assert!(matches!(
            relocate(&src, 0x1000, 5, &mut out, far),
            Err(Error::OutOfRange { .. })
        ));
    }
}
