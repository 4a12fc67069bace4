//! One error type for everything that turns a record into an error record.
//!
//! It is two words, cheap to return through every parsing step; the message
//! (what went wrong, where, and how to fix it when a fix is known) is only
//! rendered when an error record is written.

use alloc::vec::Vec;
use core::fmt;

/// The largest nesting accepted in a payload (the payload itself is level 1).
pub const MAX_DEPTH: usize = 64;

/// The deepest an output record may be (the record itself is level 1).
/// Fluent Bit (measured in 5.1.1) drops a returned record nested 64 levels
/// or more, together with every later record of its chunk, and says nothing
/// at `info`; half of that leaves room for filters after ours that nest.
/// [`ARRAY_MAX_DEPTH`] and [`PATH_MAX_SEGMENTS`] keep every profile under it.
pub const OUTPUT_MAX_DEPTH: usize = 32;

/// The deepest an array value is copied (the array itself is level 1): a
/// container that would be level 17 inside it is written as a string holding
/// its compact JSON text, so nothing is lost and the output stays shallow.
pub const ARRAY_MAX_DEPTH: usize = 16;

/// The most segments of a dotted path that the `ecs` and `ocsf` profiles
/// turn into nested objects: the rest of a longer path stays one dotted key
/// at that level.
pub const PATH_MAX_SEGMENTS: usize = 16;

// The deepest profile output: the record, 15 objects for the first 15
// segments, then an array at the 16th segment's value, 16 levels deep.
const _: () = assert!(1 + (PATH_MAX_SEGMENTS - 1) + ARRAY_MAX_DEPTH <= OUTPUT_MAX_DEPTH);

/// Docker's json-file driver and CRI runtimes split lines at 16 KiB.
pub const RUNTIME_SPLIT: usize = 16 * 1024;

/// What the parser wanted when it met something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    Value,
    Key,
    KeyOrEnd,
    Colon,
    CommaOrObjectEnd,
    CommaOrArrayEnd,
    StringEnd,
}

impl Expected {
    fn describe(self) -> &'static str {
        match self {
            Expected::Value => "a value",
            Expected::Key => "a key in double quotes",
            Expected::KeyOrEnd => "a key in double quotes or `}`",
            Expected::Colon => "`:` after the key",
            Expected::CommaOrObjectEnd => "`,` or `}`",
            Expected::CommaOrArrayEnd => "`,` or `]`",
            Expected::StringEnd => "the closing `\"` of a string",
        }
    }
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `ANALYTICS` with nothing after it.
    NoPayload,
    /// The payload starts with something other than `{`.
    NotAnObject(u8),
    /// The text ended inside the JSON value.
    Truncated(Expected),
    /// A byte that JSON does not allow here.
    Unexpected { found: u8, expected: Expected },
    /// A raw control character inside a string (JSON requires `\n`, `\t`, ...).
    ControlCharacter(u8),
    /// A backslash followed by something JSON does not define.
    InvalidEscape(u8),
    /// `\u` not followed by four hex digits.
    InvalidUnicodeEscape,
    /// A number that breaks JSON's number grammar (`01`, `1.`, `-`, ...).
    InvalidNumber,
    /// Deeper than [`MAX_DEPTH`] (payload) or the record limit.
    TooDeep(usize),
    /// The host could not copy a record of this many bytes into the module's
    /// heap (Fluent Bit's `record_ptr == 0`).
    HeapTooSmall(usize),
}

/// Broad classes of errors, for counting and routing (like serde_json's
/// `Category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The payload is missing or is not an object.
    NotAnObject,
    /// The payload ends before its JSON value does: usually a cut line.
    Truncated,
    /// The payload is not valid JSON.
    Syntax,
    /// Too deeply nested.
    Depth,
    /// The record never reached the module: the host's heap is too small.
    Heap,
}

/// Where an offset points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Byte offset in the line (after the record's string escapes are
    /// decoded), counting from the line's first byte.
    Line,
    /// Byte offset in the record's JSON text.
    Record,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    offset: usize,
    place: Place,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        Error {
            kind,
            offset,
            place: Place::Line,
        }
    }

    pub(crate) const fn heap_too_small(record_len: usize) -> Self {
        Error {
            kind: ErrorKind::HeapTooSmall(record_len),
            offset: 0,
            place: Place::Record,
        }
    }

    pub(crate) const fn in_record(self) -> Self {
        Error {
            place: Place::Record,
            ..self
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Byte offset of the problem (see [`Error::place`]).
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn place(&self) -> Place {
        self.place
    }

    pub fn category(&self) -> Category {
        match self.kind {
            ErrorKind::NoPayload | ErrorKind::NotAnObject(_) => Category::NotAnObject,
            ErrorKind::Truncated(_) => Category::Truncated,
            ErrorKind::TooDeep(_) => Category::Depth,
            ErrorKind::HeapTooSmall(_) => Category::Heap,
            _ => Category::Syntax,
        }
    }

    /// Appends the one-line, human message to `out`. `line_len` is the
    /// length of the line the offset refers to (it tells a line cut by the
    /// container runtime from other truncations).
    pub fn write_message(&self, line_len: usize, out: &mut Vec<u8>) {
        let place = match self.place {
            Place::Line => "of the line",
            Place::Record => "of the record",
        };
        let mut text = Text(out);
        match self.kind {
            ErrorKind::NoPayload => {
                text.push("no JSON object after the ANALYTICS word (byte ");
                text.num(self.offset);
                text.push(
                    " of the line); the connector writes `ANALYTICS {...}` on one line, so the line was probably cut: check the collector's line-length limits",
                );
            }
            ErrorKind::NotAnObject(found) => {
                text.push(match self.place {
                    Place::Line => "payload is not a JSON object: found ",
                    Place::Record => "record is not a JSON object: found ",
                });
                text.byte(found);
                text.push(" at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
                text.push(" where `{` should start it");
            }
            ErrorKind::HeapTooSmall(len) => {
                text.push("a record of ");
                text.num(len);
                text.push(" bytes did not fit in the wasm heap: raise `Wasm_Heap_Size`");
            }
            ErrorKind::Truncated(expected) => {
                text.push("JSON ends early at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
                text.push(" (expected ");
                text.push(expected.describe());
                text.push(")");
                if self.place == Place::Line {
                    if line_len >= RUNTIME_SPLIT && line_len.is_multiple_of(RUNTIME_SPLIT) {
                        text.push(
                            ": the line was split at 16 KiB by Docker or the CRI runtime; enable `multiline.parser docker, cri` on the tail input to re-join it",
                        );
                    } else {
                        text.push(
                            ": the line was cut short; if the collector splits long lines (Docker and CRI split at 16 KiB), enable `multiline.parser docker, cri` on the tail input",
                        );
                    }
                }
            }
            ErrorKind::Unexpected { found, expected } => {
                text.push("invalid JSON: unexpected ");
                text.byte(found);
                text.push(" at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
                text.push(" (expected ");
                text.push(expected.describe());
                text.push(")");
            }
            ErrorKind::ControlCharacter(b) => {
                text.push("invalid JSON: raw control character ");
                text.byte(b);
                text.push(" inside a string at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
                text.push(" (JSON requires it escaped, e.g. `\\n`, `\\t`, `\\u0000`)");
            }
            ErrorKind::InvalidEscape(b) => {
                text.push("invalid JSON: unknown escape `\\");
                if b.is_ascii_graphic() {
                    text.0.push(b);
                    text.push("`");
                } else {
                    text.push("` followed by ");
                    text.byte(b);
                }
                text.push(" at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
            }
            ErrorKind::InvalidUnicodeEscape => {
                text.push("invalid JSON: `\\u` without four hex digits at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
            }
            ErrorKind::InvalidNumber => {
                text.push("invalid JSON: malformed number at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
            }
            ErrorKind::TooDeep(limit) => {
                text.push("JSON nested deeper than ");
                text.num(limit);
                text.push(" levels at byte ");
                text.num(self.offset);
                text.push(" ");
                text.push(place);
                text.push(" (the transform keeps at most ");
                text.num(limit);
                text.push(" levels so that it never overflows Fluent Bit's small wasm stack)");
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write_message(0, &mut out);
        f.write_str(&alloc::string::String::from_utf8_lossy(&out))
    }
}

impl core::error::Error for Error {}

/// Message text without `core::fmt` (which would add kilobytes to the
/// module); everything it writes is ASCII or comes from a `&str`.
struct Text<'a>(&'a mut Vec<u8>);

// Messages are cold: out-of-line pieces keep the module small (each
// inlined copy of a Vec append costs code size, not speed that matters).
impl Text<'_> {
    #[inline(never)]
    fn push(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    #[inline(never)]
    fn num(&mut self, n: usize) {
        push_decimal(self.0, n as u64);
    }

    /// A byte as a reader wants to see it: `x` in backticks when printable,
    /// else its code (`0x00`, `U+0009`...).
    #[inline(never)]
    fn byte(&mut self, b: u8) {
        if b.is_ascii_graphic() {
            self.push("`");
            self.0.push(b);
            self.push("`");
        } else if b < 0x20 {
            self.push("U+00");
            self.0.push(HEX[(b >> 4) as usize]);
            self.0.push(HEX[(b & 15) as usize]);
        } else if b == b' ' {
            self.push("a space");
        } else {
            self.push("byte 0x");
            self.0.push(HEX[(b >> 4) as usize]);
            self.0.push(HEX[(b & 15) as usize]);
        }
    }
}

pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `n` in decimal.
// Out of line: one copy for the error texts and the profiles (module size).
#[inline(never)]
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    // Filled from the end; u64::MAX has 20 digits. No index that the
    // compiler cannot check: a bounds check's panic path would pull the
    // formatting of its message into the module.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: Error, line_len: usize) -> String {
        let mut out = Vec::new();
        e.write_message(line_len, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimal_formatting() {
        for n in [0u64, 7, 10, 16384, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_line_cut_at_16_kib_names_the_multiline_parser() {
        let e = Error::new(ErrorKind::Truncated(Expected::StringEnd), 16384);
        let m = message(e, 16384);
        assert!(m.contains("byte 16384"), "{m}");
        assert!(m.contains("split at 16 KiB"), "{m}");
        assert!(m.contains("multiline.parser docker, cri"), "{m}");
    }

    #[test]
    fn every_message_says_where() {
        let kinds = [
            ErrorKind::NoPayload,
            ErrorKind::NotAnObject(b'['),
            ErrorKind::Truncated(Expected::Value),
            ErrorKind::Unexpected {
                found: b'N',
                expected: Expected::Value,
            },
            ErrorKind::ControlCharacter(b'\t'),
            ErrorKind::InvalidEscape(b'x'),
            ErrorKind::InvalidUnicodeEscape,
            ErrorKind::InvalidNumber,
            ErrorKind::TooDeep(MAX_DEPTH),
        ];
        for kind in kinds {
            let m = message(Error::new(kind, 1234), 5000);
            assert!(m.contains("byte 1234"), "{m}");
            assert!(!m.contains('\n') && m.is_ascii(), "{m}");
        }
        assert!(message(Error::new(ErrorKind::ControlCharacter(9), 3), 9).contains("U+0009"));
    }
}
