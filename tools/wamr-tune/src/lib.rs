//! Rewrites a wasm module for WAMR's fast interpreter, the engine inside
//! Fluent Bit's `wasm` filter, without changing what it computes.
//!
//! WAMR's loader turns each function into three-address code over frame
//! slots: `local.get` disappears and a `local.set` right after an operation
//! becomes that operation's destination, but every `local.tee` stays a copy
//! of its own, one more dispatch. LLVM's wasm backend writes a `local.tee`
//! wherever a value is both kept and used at once, so they are about one
//! dispatch in seven of this project's module. Written as `local.set` +
//! `local.get` instead, the same value costs WAMR nothing more: the set
//! folds into the operation that made the value, the get into the one that
//! reads it. (`BENCHMARKS.md`, "Where WAMR's time goes", has the
//! measurements.) Each rewrite costs two bytes of the module's 96 KiB
//! budget, so only the tees that run often are rewritten: those inside a
//! `loop`, and every tee of a small function ([`SMALL_FUNCTION`]). Other
//! engines (wasmtime, WAMR's AOT compiler) see the same program.
//!
//! Only the code section changes; every other section is copied as it is.
//! The instruction set read is what rustc emits for wasm32 (MVP, sign
//! extension, saturating conversions, bulk memory, reference types,
//! multi-value block types); anything else is an error and nothing is
//! written.

use std::fmt;

/// Why a module could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset in the input.
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for Error {}

/// What [`untee`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub functions: usize,
    pub tees: usize,
}

/// A function whose body is at most this many bytes has every tee
/// rewritten, not only those in loops. In this project's module the small
/// functions are the helpers called per field (writing it, hashing its key,
/// reading a number), whose tees run as often as a loop's; a large
/// function's code outside its loops is mostly set-up and error paths.
/// Measured on this project's module (`wamr-meter`, WAMR dispatches per
/// record of `twingate_flatten`, and the tuned module's size): tees in loops
/// only, 8,379 and 97,051 B; this rule, 8,189 and 97,921 B; every tee,
/// 8,161 and 98,467 B (over 96 KiB).
pub const SMALL_FUNCTION: usize = 1_000;

/// Returns the module with every `local.tee N` inside a loop, and every one
/// in a function of at most [`SMALL_FUNCTION`] bytes, written as
/// `local.set N`, `local.get N`.
pub fn untee(module: &[u8]) -> Result<(Vec<u8>, Stats), Error> {
    untee_with(module, SMALL_FUNCTION)
}

/// [`untee`] with another bound for a small function (0: loops only).
pub fn untee_with(module: &[u8], small_function: usize) -> Result<(Vec<u8>, Stats), Error> {
    const HEADER: &[u8] = b"\0asm\x01\0\0\0";
    if !module.starts_with(HEADER) {
        return Err(Error {
            offset: 0,
            what: "not a wasm module (version 1)".into(),
        });
    }
    let mut out = HEADER.to_vec();
    let mut stats = Stats::default();
    let mut r = Reader {
        bytes: module,
        pos: HEADER.len(),
    };
    while r.pos < module.len() {
        let id = r.byte()?;
        let size = r.u32()? as usize;
        let start = r.pos;
        let payload = r.take(size)?;
        out.push(id);
        if id == CODE_SECTION {
            let code = code_section(payload, start, small_function, &mut stats)?;
            push_u32(&mut out, code.len() as u32);
            out.extend_from_slice(&code);
        } else {
            push_u32(&mut out, size as u32);
            out.extend_from_slice(payload);
        }
    }
    Ok((out, stats))
}

const CODE_SECTION: u8 = 10;
const BLOCK: u8 = 0x02;
const LOOP: u8 = 0x03;
const IF: u8 = 0x04;
const END: u8 = 0x0b;
const LOCAL_GET: u8 = 0x20;
const LOCAL_SET: u8 = 0x21;
const LOCAL_TEE: u8 = 0x22;

fn code_section(
    payload: &[u8],
    base: usize,
    small_function: usize,
    stats: &mut Stats,
) -> Result<Vec<u8>, Error> {
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    let count = r.u32()?;
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 16);
    push_u32(&mut out, count);
    for _ in 0..count {
        let size = r.u32()? as usize;
        let start = r.pos;
        let body = r.take(size)?;
        let every_tee = body.len() <= small_function;
        let body = function_body(body, base + start, every_tee, stats)?;
        push_u32(&mut out, body.len() as u32);
        out.extend_from_slice(&body);
        stats.functions += 1;
    }
    if r.pos != payload.len() {
        return Err(r.error("bytes after the last function body"));
    }
    Ok(out)
}

fn function_body(
    body: &[u8],
    base: usize,
    every_tee: bool,
    stats: &mut Stats,
) -> Result<Vec<u8>, Error> {
    let mut r = Reader {
        bytes: body,
        pos: 0,
    };
    let groups = r.u32()?;
    for _ in 0..groups {
        r.u32()?; // how many locals
        r.byte()?; // of which type
    }
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    out.extend_from_slice(&body[..r.pos]);
    // The open blocks, loops and ifs, innermost last.
    let mut open: Vec<u8> = Vec::new();
    while r.pos < body.len() {
        let start = r.pos;
        let opcode = r.byte()?;
        match opcode {
            BLOCK | LOOP | IF => open.push(opcode),
            END => {
                open.pop();
            }
            _ => {}
        }
        if opcode == LOCAL_TEE && (every_tee || open.contains(&LOOP)) {
            let local = r.u32()?;
            out.push(LOCAL_SET);
            push_u32(&mut out, local);
            out.push(LOCAL_GET);
            push_u32(&mut out, local);
            stats.tees += 1;
            continue;
        }
        skip_immediates(&mut r, opcode).map_err(|mut e| {
            e.offset += base;
            e
        })?;
        out.extend_from_slice(&body[start..r.pos]);
    }
    Ok(out)
}

/// Moves past the immediates of the instruction `opcode`.
fn skip_immediates(r: &mut Reader<'_>, opcode: u8) -> Result<(), Error> {
    match opcode {
        // unreachable, nop, else, end, return, drop, select, and every
        // numeric instruction without immediates (comparisons, arithmetic,
        // conversions, sign extension)
        0x00 | 0x01 | 0x05 | 0x0b | 0x0f | 0x1a | 0x1b | 0x45..=0xc4 => {}
        // block, loop, if: a block type (empty, a value type, or a type
        // index as a signed LEB)
        0x02..=0x04 => match r.peek()? {
            0x40 | 0x6f | 0x70 | 0x7b..=0x7f => {
                r.byte()?;
            }
            _ => {
                r.s64()?;
            }
        },
        // br, br_if, call, local.get/set/tee, global.get/set, table.get/set,
        // ref.func
        0x0c | 0x0d | 0x10 | 0x20..=0x26 | 0xd2 => {
            r.u32()?;
        }
        // br_table: the targets and the default
        0x0e => {
            let targets = r.u32()?;
            for _ in 0..=targets {
                r.u32()?;
            }
        }
        // call_indirect: type and table
        0x11 => {
            r.u32()?;
            r.u32()?;
        }
        // select with types
        0x1c => {
            let types = r.u32()?;
            r.take(types as usize)?;
        }
        // loads and stores: alignment and offset
        0x28..=0x3e => {
            r.u32()?;
            r.u32()?;
        }
        // memory.size, memory.grow: the memory index
        0x3f | 0x40 => {
            r.u32()?;
        }
        0x41 => {
            r.s64()?;
        }
        0x42 => {
            r.s64()?;
        }
        0x43 => {
            r.take(4)?;
        }
        0x44 => {
            r.take(8)?;
        }
        // ref.null: a heap type; ref.is_null
        0xd0 => {
            r.byte()?;
        }
        0xd1 => {}
        0xfc => match r.u32()? {
            // saturating float-to-int conversions
            0..=7 => {}
            // memory.init: data segment, memory
            8 => {
                r.u32()?;
                r.u32()?;
            }
            // data.drop
            9 => {
                r.u32()?;
            }
            // memory.copy: two memories; memory.fill: one
            10 => {
                r.u32()?;
                r.u32()?;
            }
            11 => {
                r.u32()?;
            }
            // table.init, table.copy
            12 | 14 => {
                r.u32()?;
                r.u32()?;
            }
            // elem.drop, table.grow, table.size, table.fill
            13 | 15..=17 => {
                r.u32()?;
            }
            other => return Err(r.error(&format!("unknown instruction 0xfc {other}"))),
        },
        other => {
            return Err(r.error(&format!(
                "instruction {other:#04x} is not one this tool reads (SIMD, threads, exceptions, GC are not expected from rustc here)"
            )));
        }
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> Error {
        Error {
            offset: self.pos,
            what: what.to_owned(),
        }
    }

    fn peek(&self) -> Result<u8, Error> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error("unexpected end of the module"))
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.error("a section or body runs past the end"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value)
                    .map_err(|_| self.error("an unsigned LEB128 over 32 bits"));
            }
        }
        Err(self.error("an unsigned LEB128 longer than 5 bytes"))
    }

    fn s64(&mut self) -> Result<(), Error> {
        for _ in 0..10 {
            if self.byte()? & 0x80 == 0 {
                return Ok(());
            }
        }
        Err(self.error("a signed LEB128 longer than 10 bytes"))
    }
}

fn push_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}
