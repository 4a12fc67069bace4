//! The JSON pieces every step shares: whitespace, strings, numbers,
//! literals, and a non-recursive copier for whole values.
//!
//! Every function takes the text and a position and returns the position
//! after what it read, so callers never slice the input and nothing here can
//! index out of bounds. Output goes to a [`Sink`]: a `Vec<u8>` when writing,
//! or [`Validate`] when only checking.

use crate::error::{Error, ErrorKind, Expected, HEX};
use crate::scan::{find_string_delimiter, find_string_special};
use alloc::vec::Vec;

/// U+FFFD REPLACEMENT CHARACTER, for invalid UTF-8 and lone surrogates.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

pub(crate) trait Sink {
    fn bytes(&mut self, b: &[u8]);
    fn byte(&mut self, b: u8);
    /// Invalid UTF-8 or a lone surrogate was replaced by U+FFFD.
    fn repaired(&mut self) {}
    /// Where the next byte goes (see [`Sink::quote_since`]).
    fn mark(&self) -> usize {
        0
    }
    /// Turns the compact JSON written since `mark` into a JSON string
    /// holding that text (see [`copy_value`]'s depth bound).
    fn quote_since(&mut self, _mark: usize) {}
    /// A number's text, its exponent at `exponent` (see [`write_number`]).
    fn number(&mut self, text: &[u8], _exponent: usize) {
        self.bytes(text);
    }
}

impl Sink for Vec<u8> {
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
    fn mark(&self) -> usize {
        self.len()
    }
    fn quote_since(&mut self, mark: usize) {
        quote_in_place(self, mark);
    }
    fn number(&mut self, text: &[u8], exponent: usize) {
        write_number(text, exponent, self);
    }
}

/// Rewrites `out[mark..]`, compact JSON text, as a JSON string holding it.
/// Only deep, hostile values come here, so the copy it makes is no cost
/// that matters.
#[cold]
#[inline(never)]
fn quote_in_place(out: &mut Vec<u8>, mark: usize) {
    let Some(text) = out.get(mark..).map(<[u8]>::to_vec) else {
        return;
    };
    out.truncate(mark);
    out.push(b'"');
    encode_text(&text, out);
    out.push(b'"');
}

/// Checks without writing; remembers whether anything would be repaired,
/// which tells whether the text can be copied verbatim.
#[derive(Default)]
pub(crate) struct Validate {
    pub repaired: bool,
}

impl Sink for Validate {
    #[inline(always)]
    fn bytes(&mut self, _: &[u8]) {}
    #[inline(always)]
    fn byte(&mut self, _: u8) {}
    fn repaired(&mut self) {
        self.repaired = true;
    }
}

#[inline(always)]
pub(crate) fn at(src: &[u8], pos: usize) -> Option<u8> {
    src.get(pos).copied()
}

#[inline(always)]
fn rest(src: &[u8], pos: usize) -> &[u8] {
    src.get(pos..).unwrap_or_default()
}

/// Skips JSON whitespace.
#[inline(always)]
pub(crate) fn skip_ws(src: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = at(src, pos) {
        pos += 1;
    }
    pos
}

/// How string content is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strings {
    /// Minimal JSON escaping (`"`, `\` and control characters only), the
    /// content of a JSON string literal without its quotes.
    Encode,
    /// The decoded text itself.
    Decode,
}

/// How the JSON text being parsed is stored.
///
/// [`Plain`]: the bytes are the JSON text. [`Quoted`]: the bytes are the
/// content of a JSON string whose decoded value is the JSON text, which is
/// how a payload sits inside a Fluent Bit record (`"log":"ANALYTICS
/// {\"a\":1}\n"`). Parsing it in place saves decoding the line into a
/// buffer and reading it twice. `Quoted` handles what hosts write (`\"`,
/// `\\`, `\/`, non-ASCII `\uXXXX`, whitespace escapes) and fails on
/// anything else, after which the caller decodes and parses [`Plain`]ly.
pub(crate) trait Text {
    fn skip_ws(src: &[u8], pos: usize) -> usize;
    /// If a string opens at `pos`, where its content starts.
    fn open_quote(src: &[u8], pos: usize) -> Option<usize>;
    /// If a string closes at `pos`, the position after its closing quote.
    fn close_quote(src: &[u8], pos: usize) -> Option<usize>;
    /// Reads a string's content from `pos` to its closing quote (see
    /// [`string`]); returns the position after the quote.
    fn string<S: Sink>(src: &[u8], pos: usize, out: &mut S, mode: Strings) -> Result<usize, Error>;
}

pub(crate) struct Plain;

impl Text for Plain {
    #[inline(always)]
    fn skip_ws(src: &[u8], pos: usize) -> usize {
        skip_ws(src, pos)
    }
    #[inline(always)]
    fn open_quote(src: &[u8], pos: usize) -> Option<usize> {
        (at(src, pos) == Some(b'"')).then_some(pos + 1)
    }
    #[inline(always)]
    fn close_quote(src: &[u8], pos: usize) -> Option<usize> {
        Self::open_quote(src, pos)
    }
    #[inline(always)]
    fn string<S: Sink>(src: &[u8], pos: usize, out: &mut S, mode: Strings) -> Result<usize, Error> {
        string(src, pos, out, mode)
    }
}

/// `\"` as the low bytes of a [`word_at`]: a quote in [`Quoted`] text.
pub(crate) const ESCAPED_QUOTE: u64 = u16::from_le_bytes(*b"\\\"") as u64;

/// The eight bytes at `pos` as a little-endian word (zeros past the end):
/// several token bytes checked with one load, which costs Fluent Bit's
/// interpreter less than one bounds-checked read per byte.
#[inline(always)]
pub(crate) fn word_at(src: &[u8], pos: usize) -> u64 {
    match src.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
        Some(word) => u64::from_le_bytes(*word),
        None => word_at_end(src, pos),
    }
}

#[cold]
#[inline(never)]
fn word_at_end(src: &[u8], pos: usize) -> u64 {
    let tail = src.get(pos..).unwrap_or_default();
    tail.iter()
        .rev()
        .fold(0, |word, &b| word << 8 | u64::from(b))
}

pub(crate) struct Quoted;

impl Text for Quoted {
    #[inline(always)]
    fn skip_ws(src: &[u8], mut pos: usize) -> usize {
        // Usually nothing to skip: one load decides.
        loop {
            match at(src, pos) {
                Some(b' ') => pos += 1,
                Some(b'\\') if matches!(at(src, pos + 1), Some(b'n' | b't' | b'r')) => pos += 2,
                _ => return pos,
            }
        }
    }
    #[inline(always)]
    fn open_quote(src: &[u8], pos: usize) -> Option<usize> {
        (at(src, pos) == Some(b'\\') && at(src, pos + 1) == Some(b'"')).then_some(pos + 2)
    }
    #[inline(always)]
    fn close_quote(src: &[u8], pos: usize) -> Option<usize> {
        Self::open_quote(src, pos)
    }
    fn string<S: Sink>(
        src: &[u8],
        mut pos: usize,
        out: &mut S,
        mode: Strings,
    ) -> Result<usize, Error> {
        loop {
            pos = copy_plain_run(src, pos, out);
            match (at(src, pos), at(src, pos + 1)) {
                (Some(b'\\'), Some(b'"')) => return Ok(pos + 2),
                (Some(b'\\'), Some(b'\\')) => pos = quoted_escape(src, pos + 2, out, mode)?,
                (Some(b'\\'), Some(b'/')) => {
                    out.byte(b'/');
                    pos += 2;
                }
                (Some(b'\\'), Some(b'u')) => pos = quoted_character(src, pos, out)?,
                // A decoded control character, or the end of the line: not
                // a valid payload string.
                (Some(b'\\' | b'"'), _) | (None, _) => {
                    return Err(Error::new(ErrorKind::Truncated(Expected::StringEnd), pos));
                }
                (Some(b), _) if b < 0x20 => {
                    return Err(Error::new(ErrorKind::ControlCharacter(b), pos));
                }
                (Some(_), _) => pos = utf8_run(src, pos, out),
            }
        }
    }
}

/// A payload escape inside a [`Quoted`] string: its backslash was `\\`,
/// and its letter, itself escaped where JSON requires it, is at `pos`.
fn quoted_escape<S: Sink>(
    src: &[u8],
    pos: usize,
    out: &mut S,
    mode: Strings,
) -> Result<usize, Error> {
    match (at(src, pos), at(src, pos + 1)) {
        (Some(b'\\'), Some(c @ (b'\\' | b'"'))) => {
            if mode == Strings::Encode {
                out.bytes(&[b'\\', c]);
            } else {
                out.byte(c);
            }
            Ok(pos + 2)
        }
        (Some(b'/'), _) => {
            out.byte(b'/');
            Ok(pos + 1)
        }
        (Some(c @ (b'b' | b'f' | b'n' | b'r' | b't')), _) => {
            if mode == Strings::Encode {
                out.bytes(&[b'\\', c]);
            } else {
                out.byte(control_for(c));
            }
            Ok(pos + 1)
        }
        (Some(b'u'), _) => {
            let (code, end) = unicode_unit(src, pos + 1, b"\\\\u", out)?;
            write_code_point(code, out, mode);
            Ok(end)
        }
        (Some(c), _) => Err(Error::new(ErrorKind::InvalidEscape(c), pos)),
        (None, _) => Err(Error::new(ErrorKind::Truncated(Expected::StringEnd), pos)),
    }
}

/// A `\uXXXX` of the outer string inside a [`Quoted`] payload string: one
/// non-ASCII character of the payload (an escaped ASCII character could be
/// structure, so it is left to the plain path).
fn quoted_character<S: Sink>(src: &[u8], pos: usize, out: &mut S) -> Result<usize, Error> {
    let (code, end) = unicode_unit(src, pos + 2, b"\\u", out)?;
    if code < 0x80 {
        return Err(Error::new(ErrorKind::InvalidUnicodeEscape, pos));
    }
    write_code_point(code, out, Strings::Decode);
    Ok(end)
}

fn control_for(letter: u8) -> u8 {
    match letter {
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        _ => b'\t',
    }
}

/// Reads a JSON string whose opening quote is just before `pos`; writes its
/// content to `out` and returns the position after the closing quote.
/// `\/` becomes `/`; invalid UTF-8 and lone surrogates become U+FFFD.
pub(crate) fn string<S: Sink>(
    src: &[u8],
    mut pos: usize,
    out: &mut S,
    mode: Strings,
) -> Result<usize, Error> {
    loop {
        pos = copy_plain_run(src, pos, out);
        match at(src, pos) {
            None => return Err(Error::new(ErrorKind::Truncated(Expected::StringEnd), pos)),
            Some(b'"') => return Ok(pos + 1),
            Some(b'\\') => pos = escape(src, pos, out, mode)?,
            Some(b) if b < 0x20 => return Err(Error::new(ErrorKind::ControlCharacter(b), pos)),
            Some(_) => pos = utf8_run(src, pos, out),
        }
    }
}

/// Copies the run of plain string bytes at `pos` (no quote, backslash,
/// control or non-ASCII byte); returns where it stops.
#[inline(always)]
fn copy_plain_run<S: Sink>(src: &[u8], pos: usize, out: &mut S) -> usize {
    let tail = rest(src, pos);
    let run = find_string_special(tail);
    out.bytes(tail.get(..run).unwrap_or_default());
    pos + run
}

/// Copies the non-ASCII run starting at `pos` (up to the next `"`, `\` or
/// control character), replacing invalid UTF-8 with U+FFFD.
fn utf8_run<S: Sink>(src: &[u8], pos: usize, out: &mut S) -> usize {
    let tail = rest(src, pos);
    let text = tail.get(..find_string_delimiter(tail)).unwrap_or_default();
    write_lossy(text, out);
    pos + text.len()
}

fn write_lossy<S: Sink>(text: &[u8], out: &mut S) {
    if core::str::from_utf8(text).is_ok() {
        out.bytes(text);
        return;
    }
    for chunk in text.utf8_chunks() {
        out.bytes(chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.bytes(REPLACEMENT);
            out.repaired();
        }
    }
}

/// Handles the escape whose backslash is at `pos`.
fn escape<S: Sink>(src: &[u8], pos: usize, out: &mut S, mode: Strings) -> Result<usize, Error> {
    let Some(c) = at(src, pos + 1) else {
        return Err(Error::new(
            ErrorKind::Truncated(Expected::StringEnd),
            pos + 1,
        ));
    };
    match c {
        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' if mode == Strings::Encode => {
            out.bytes(&[b'\\', c])
        }
        b'"' | b'\\' => out.byte(c),
        b'b' | b'f' | b'n' | b'r' | b't' => out.byte(control_for(c)),
        b'/' => out.byte(b'/'),
        b'u' => {
            let (code, end) = unicode_unit(src, pos + 2, b"\\u", out)?;
            write_code_point(code, out, mode);
            return Ok(end);
        }
        _ => return Err(Error::new(ErrorKind::InvalidEscape(c), pos)),
    }
    Ok(pos + 2)
}

fn hex4(src: &[u8], pos: usize) -> Result<u32, Error> {
    let mut value = 0u32;
    for i in 0..4 {
        let Some(c) = at(src, pos + i) else {
            return Err(Error::new(
                ErrorKind::Truncated(Expected::StringEnd),
                pos + i,
            ));
        };
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(Error::new(ErrorKind::InvalidUnicodeEscape, pos + i)),
        };
        value = value << 4 | digit as u32;
    }
    Ok(value)
}

/// The code point of a `\uXXXX` escape whose hex digits start at `hex`,
/// and the position after it. A high surrogate pairs with a following low
/// one introduced by `prefix` (`\u`, or `\\u` inside a [`Quoted`] text); a
/// lone surrogate becomes U+FFFD.
fn unicode_unit<S: Sink>(
    src: &[u8],
    hex: usize,
    prefix: &[u8],
    out: &mut S,
) -> Result<(u32, usize), Error> {
    let unit = hex4(src, hex)?;
    let end = hex + 4;
    match unit {
        0xD800..=0xDBFF => {
            let low_hex = end + prefix.len();
            if rest(src, end).starts_with(prefix) {
                let low = hex4(src, low_hex)?;
                if (0xDC00..=0xDFFF).contains(&low) {
                    return Ok((
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00),
                        low_hex + 4,
                    ));
                }
            }
            out.repaired();
            Ok((0xFFFD, end))
        }
        0xDC00..=0xDFFF => {
            out.repaired();
            Ok((0xFFFD, end))
        }
        _ => Ok((unit, end)),
    }
}

fn write_code_point<S: Sink>(code: u32, out: &mut S, mode: Strings) {
    if mode == Strings::Encode && code < 0x20 {
        write_control_escape(code as u8, out);
        return;
    }
    if mode == Strings::Encode && (code == u32::from(b'"') || code == u32::from(b'\\')) {
        out.bytes(&[b'\\', code as u8]);
        return;
    }
    let ch = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    out.bytes(ch.encode_utf8(&mut buf).as_bytes());
}

/// The shortest JSON escape of a control character.
fn write_control_escape<S: Sink>(b: u8, out: &mut S) {
    let short = match b {
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => 0,
    };
    if short != 0 {
        out.bytes(&[b'\\', short]);
    } else {
        out.bytes(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[(b >> 4) as usize],
            HEX[(b & 15) as usize],
        ]);
    }
}

/// Writes arbitrary text as the content of a JSON string: minimal escaping,
/// invalid UTF-8 replaced by U+FFFD.
pub(crate) fn encode_text(text: &[u8], out: &mut Vec<u8>) {
    let mut pos = 0;
    loop {
        pos = copy_plain_run(text, pos, out);
        match at(text, pos) {
            None => return,
            Some(b @ (b'"' | b'\\')) => {
                out.extend_from_slice(&[b'\\', b]);
                pos += 1;
            }
            Some(b) if b < 0x20 => {
                write_control_escape(b, out);
                pos += 1;
            }
            Some(_) => {
                // Non-ASCII: up to the next byte that needs escaping.
                let tail = rest(text, pos);
                let end = tail
                    .iter()
                    .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                    .unwrap_or(tail.len());
                write_lossy(tail.get(..end).unwrap_or_default(), out);
                pos += end;
            }
        }
    }
}

/// Reads a JSON number starting at `pos`; returns the position after it,
/// and where its exponent starts (the end when it has none), which tells
/// [`beyond_double`] at no cost that most numbers are within a double.
/// The caller copies the text verbatim.
pub(crate) fn number(src: &[u8], start: usize) -> Result<(usize, usize), Error> {
    let mut pos = start;
    if at(src, pos) == Some(b'-') {
        pos += 1;
    }
    match at(src, pos) {
        Some(b'0') => pos += 1,
        Some(b'1'..=b'9') => pos = digits(src, pos + 1),
        Some(_) => return Err(Error::new(ErrorKind::InvalidNumber, pos)),
        None => return Err(Error::new(ErrorKind::Truncated(Expected::Value), pos)),
    }
    if at(src, pos) == Some(b'.') {
        pos = required_digits(src, pos + 1)?;
    }
    let exponent = pos;
    if let Some(b'e' | b'E') = at(src, pos) {
        pos += 1;
        if let Some(b'+' | b'-') = at(src, pos) {
            pos += 1;
        }
        pos = required_digits(src, pos)?;
    }
    Ok((pos, exponent))
}

/// Whether a JSON number's text (checked by [`number`]) has a magnitude of
/// 10^308 or more. Fluent Bit (5.1.1) turns the numbers of a returned
/// record into doubles, and one beyond the largest (1.797...e308) makes it
/// fail the whole chunk, or crash when it runs as a service (measured).
/// Such numbers are written as strings of their text ([`write_number`]);
/// the line is drawn at the power of ten below the limit, which no real
/// value comes near, so that the rule is easy to state and to check.
/// `exponent` is where the exponent starts in `text` (its length if none):
/// without one, fewer than 309 characters are always below 10^308.
#[inline(always)]
pub(crate) fn beyond_double(text: &[u8], exponent: usize) -> bool {
    (exponent < text.len() || text.len() > 308) && magnitude_beyond_double(text)
}

// Out of line, one plain loop, for the rare number that needs it.
#[cold]
#[inline(never)]
fn magnitude_beyond_double(text: &[u8]) -> bool {
    // value = 0.D... x 10^(point + exponent), D the first significant digit.
    let (mut point, mut significant, mut fraction) = (0i64, false, false);
    let (mut exponent, mut in_exponent, mut negative_exponent) = (0i64, false, false);
    for &b in text {
        match b {
            b'.' => fraction = true,
            b'e' | b'E' => in_exponent = true,
            b'-' => negative_exponent = in_exponent,
            b'0'..=b'9' if in_exponent => {
                exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 40);
            }
            b'0' if !significant => point -= i64::from(fraction),
            b'0'..=b'9' => {
                significant = true;
                point += i64::from(!fraction);
            }
            _ => {}
        }
    }
    let exponent = if negative_exponent {
        -exponent
    } else {
        exponent
    };
    significant && point + exponent > 308
}

/// Writes a JSON number's text (checked by [`number`]): as it is, or as a
/// string of that text when it is beyond a double ([`beyond_double`]).
// Out of line: one copy for every parser (module size).
#[inline(never)]
pub(crate) fn write_number(text: &[u8], exponent: usize, out: &mut Vec<u8>) {
    let mark = out.len();
    out.extend_from_slice(text);
    if beyond_double(text, exponent) {
        quote_in_place(out, mark);
    }
}

#[inline(always)]
fn digits(src: &[u8], mut pos: usize) -> usize {
    while let Some(b'0'..=b'9') = at(src, pos) {
        pos += 1;
    }
    pos
}

fn required_digits(src: &[u8], pos: usize) -> Result<usize, Error> {
    match at(src, pos) {
        Some(b'0'..=b'9') => Ok(digits(src, pos + 1)),
        Some(_) => Err(Error::new(ErrorKind::InvalidNumber, pos)),
        None => Err(Error::new(ErrorKind::Truncated(Expected::Value), pos)),
    }
}

/// Reads `true`, `false` or `null` at `pos`; returns the position after it.
pub(crate) fn literal(src: &[u8], pos: usize) -> Result<usize, Error> {
    let word: &[u8] = match at(src, pos) {
        Some(b't') => b"true",
        Some(b'f') => b"false",
        _ => b"null",
    };
    let tail = rest(src, pos);
    if tail.starts_with(word) {
        return Ok(pos + word.len());
    }
    // Where the text stops matching the word: at its end, the line was cut.
    let matched = tail.iter().zip(word).take_while(|(a, b)| a == b).count();
    match at(src, pos + matched) {
        None => Err(Error::new(
            ErrorKind::Truncated(Expected::Value),
            pos + matched,
        )),
        Some(found) if matched == 0 => Err(Error::new(
            ErrorKind::Unexpected {
                found,
                expected: Expected::Value,
            },
            pos,
        )),
        Some(found) => Err(Error::new(
            ErrorKind::Unexpected {
                found,
                expected: Expected::Value,
            },
            pos + matched,
        )),
    }
}

/// The error for a byte (or the end) where `expected` should be.
// Cold and out of line: called from every parse step that can fail.
#[cold]
#[inline(never)]
pub(crate) fn unexpected(src: &[u8], pos: usize, expected: Expected) -> Error {
    match at(src, pos) {
        None => Error::new(ErrorKind::Truncated(expected), pos),
        Some(found) => Error::new(ErrorKind::Unexpected { found, expected }, pos),
    }
}

/// A stack of open containers (object or array), one bit each, in a fixed
/// array: deep input costs bits, never native stack or heap.
pub(crate) struct Nesting {
    bits: [u64; 8],
    depth: usize,
}

/// The deepest nesting [`Nesting`] can hold.
pub(crate) const NESTING_CAPACITY: usize = 8 * 64;

impl Nesting {
    pub(crate) const fn new() -> Self {
        Nesting {
            bits: [0; 8],
            depth: 0,
        }
    }

    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Opens a container; false when already at capacity.
    fn push(&mut self, is_object: bool) -> bool {
        let Some(word) = self.bits.get_mut(self.depth / 64) else {
            return false;
        };
        let bit = 1u64 << (self.depth % 64);
        if is_object {
            *word |= bit;
        } else {
            *word &= !bit;
        }
        self.depth += 1;
        true
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Whether the innermost open container is an object.
    fn in_object(&self) -> bool {
        let top = self.depth.wrapping_sub(1);
        self.bits
            .get(top / 64)
            .is_some_and(|word| word & (1u64 << (top % 64)) != 0)
    }
}

/// Copies the JSON value at `pos` (no leading whitespace) to `out` compactly
/// and minimally escaped, checking it on the way. The value sits inside
/// `outer` levels already; nesting past `limit` levels in all is an error.
/// A container nested deeper than `text_below` levels inside the value (the
/// value itself is level 1) is written as a string holding its compact JSON
/// text ([`crate::ARRAY_MAX_DEPTH`]: the output stays shallow enough for
/// Fluent Bit). Returns the position after the value.
pub(crate) fn copy_value<S: Sink, T: Text>(
    src: &[u8],
    mut pos: usize,
    out: &mut S,
    outer: usize,
    limit: usize,
    text_below: usize,
) -> Result<usize, Error> {
    let max_depth = limit.saturating_sub(outer).min(NESTING_CAPACITY);
    let mut open = Nesting::new();
    // The container being written as text: where it starts in `out`, and
    // the depth it closes back to.
    let mut as_text: Option<(usize, usize)> = None;
    loop {
        // One value at `pos`.
        if let Some(content) = T::open_quote(src, pos) {
            pos = quoted_string::<S, T>(src, content, out)?;
        } else {
            match at(src, pos) {
                Some(c @ (b'{' | b'[')) => {
                    if as_text.is_none() && open.depth() == text_below {
                        as_text = Some((out.mark(), open.depth()));
                    }
                    if open.depth() >= max_depth || !open.push(c == b'{') {
                        return Err(Error::new(ErrorKind::TooDeep(limit), pos));
                    }
                    out.byte(c);
                    pos = T::skip_ws(src, pos + 1);
                    let close = if c == b'{' { b'}' } else { b']' };
                    if at(src, pos) == Some(close) {
                        out.byte(close);
                        open.pop();
                        quote_if_closed(&mut as_text, &open, out);
                        pos += 1;
                    } else if c == b'{' {
                        pos = object_key::<S, T>(src, pos, out, Expected::KeyOrEnd)?;
                        continue;
                    } else {
                        continue;
                    }
                }
                Some(b'-' | b'0'..=b'9') => {
                    let (end, exponent) = number(src, pos)?;
                    out.number(src.get(pos..end).unwrap_or_default(), exponent - pos);
                    pos = end;
                }
                Some(b't' | b'f' | b'n') => {
                    let end = literal(src, pos)?;
                    out.bytes(src.get(pos..end).unwrap_or_default());
                    pos = end;
                }
                _ => return Err(unexpected(src, pos, Expected::Value)),
            }
        }
        // After a complete value: close containers, or move to the next one.
        loop {
            if open.depth() == 0 {
                return Ok(pos);
            }
            pos = T::skip_ws(src, pos);
            let in_object = open.in_object();
            match at(src, pos) {
                Some(b',') => {
                    out.byte(b',');
                    pos = T::skip_ws(src, pos + 1);
                    if in_object {
                        pos = object_key::<S, T>(src, pos, out, Expected::Key)?;
                    }
                    break;
                }
                Some(b'}') if in_object => {
                    out.byte(b'}');
                    open.pop();
                    quote_if_closed(&mut as_text, &open, out);
                    pos += 1;
                }
                Some(b']') if !in_object => {
                    out.byte(b']');
                    open.pop();
                    quote_if_closed(&mut as_text, &open, out);
                    pos += 1;
                }
                _ => {
                    let expected = if in_object {
                        Expected::CommaOrObjectEnd
                    } else {
                        Expected::CommaOrArrayEnd
                    };
                    return Err(unexpected(src, pos, expected));
                }
            }
        }
    }
}

/// After a container closed: if it was the one [`copy_value`] writes as
/// text, its compact JSON becomes a string.
#[inline(always)]
fn quote_if_closed<S: Sink>(as_text: &mut Option<(usize, usize)>, open: &Nesting, out: &mut S) {
    if let Some((mark, depth)) = *as_text
        && open.depth() == depth
    {
        out.quote_since(mark);
        *as_text = None;
    }
}

/// A key, its colon and the whitespace up to the value; writes `"key":`.
fn object_key<S: Sink, T: Text>(
    src: &[u8],
    pos: usize,
    out: &mut S,
    expected: Expected,
) -> Result<usize, Error> {
    let Some(content) = T::open_quote(src, pos) else {
        return Err(unexpected(src, pos, expected));
    };
    let pos = T::skip_ws(src, quoted_string::<S, T>(src, content, out)?);
    if at(src, pos) != Some(b':') {
        return Err(unexpected(src, pos, Expected::Colon));
    }
    out.byte(b':');
    Ok(T::skip_ws(src, pos + 1))
}

/// A string whose content starts at `content`, written with its quotes
/// (minimally escaped); returns the position after its closing quote. The
/// opening `"` (the byte before `content`, in both texts) and the plain run
/// after it are copied in one piece.
#[inline(always)]
pub(crate) fn quoted_string<S: Sink, T: Text>(
    src: &[u8],
    content: usize,
    out: &mut S,
) -> Result<usize, Error> {
    let run_end = content + find_string_special(rest(src, content));
    out.bytes(
        src.get(content.saturating_sub(1)..run_end)
            .unwrap_or_default(),
    );
    let end = match T::close_quote(src, run_end) {
        Some(end) => end,
        None => T::string(src, run_end, out, Strings::Encode)?,
    };
    out.byte(b'"');
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(s: &str) -> Result<String, Error> {
        let mut out = Vec::new();
        string(s.as_bytes(), 1, &mut out, Strings::Encode)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn decode(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        string(s, 1, &mut out, Strings::Decode).unwrap();
        out
    }

    fn copy(s: &str) -> Result<String, Error> {
        let mut out = Vec::new();
        let end = copy_value::<_, Plain>(s.as_bytes(), 0, &mut out, 0, 64, usize::MAX)?;
        assert_eq!(end, s.len());
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn slash_escape_becomes_a_plain_slash() {
        assert_eq!(
            encode(r#""https:\/\/relays.twingate.com""#).unwrap(),
            "https://relays.twingate.com"
        );
    }

    #[test]
    fn quotes_backslashes_and_controls_stay_escaped_minimally() {
        assert_eq!(
            encode(r#""a\"b\\c\n\t\u0001\u001f""#).unwrap(),
            r#"a\"b\\c\n\t\u0001\u001f"#
        );
        assert_eq!(encode(r#""\u0022\u005c""#).unwrap(), r#"\"\\"#);
    }

    #[test]
    fn nul_escape_stays_escaped_so_fluent_bit_never_sees_a_raw_nul() {
        assert_eq!(encode(r#""a\u0000b""#).unwrap(), r"a\u0000b");
        assert_eq!(decode(br#""a\u0000b""#), b"a\0b");
    }

    #[test]
    fn non_ascii_escapes_become_utf8() {
        assert_eq!(encode(r#""zo\u00eb \ud83d\ude00""#).unwrap(), "zoë 😀");
        assert_eq!(encode("\"zoë@exämple.de\"").unwrap(), "zoë@exämple.de");
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(encode(r#""bad\ud800x""#).unwrap(), "bad\u{FFFD}x");
        assert_eq!(encode(r#""\udc00""#).unwrap(), "\u{FFFD}");
        assert_eq!(encode(r#""\ud800\u0041""#).unwrap(), "\u{FFFD}A");
        let mut v = Validate::default();
        string(br#""\ud800""#, 1, &mut v, Strings::Encode).unwrap();
        assert!(v.repaired);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let mut out = Vec::new();
        string(b"\"a\xffb\xe2\x82\"", 1, &mut out, Strings::Encode).unwrap();
        assert_eq!(out, "a\u{FFFD}b\u{FFFD}".as_bytes());
    }

    #[test]
    fn string_errors_say_what_and_where() {
        let e = encode("\"tab\there\"").unwrap_err();
        assert_eq!(
            (e.kind(), e.offset()),
            (ErrorKind::ControlCharacter(b'\t'), 4)
        );
        let e = encode(r#""\x""#).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::InvalidEscape(b'x'), 1));
        let e = encode(r#""\u12g4""#).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::InvalidUnicodeEscape, 5));
        let e = encode(r#""open"#).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Truncated(Expected::StringEnd));
        assert_eq!(
            encode(r#""\"#).unwrap_err().kind(),
            ErrorKind::Truncated(Expected::StringEnd)
        );
    }

    #[test]
    fn numbers_follow_the_json_grammar() {
        for ok in [
            "0",
            "-0",
            "1.5e-7",
            "18446744073709551616",
            "-12.25E+3",
            "7",
        ] {
            assert_eq!(
                number(ok.as_bytes(), 0).map(|(end, _)| end),
                Ok(ok.len()),
                "{ok}"
            );
        }
        assert_eq!(number(b"01", 0), Ok((1, 1))); // the `1` is the caller's error
        for bad in ["-", "1.", "1e", "1.e5", "-a", "+1", ".5"] {
            assert!(number(bad.as_bytes(), 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn literals_and_not_literals() {
        assert_eq!(literal(b"true,", 0), Ok(4));
        assert_eq!(literal(b"null", 0), Ok(4));
        assert_eq!(
            literal(b"fals", 0).unwrap_err().kind(),
            ErrorKind::Truncated(Expected::Value)
        );
        assert_eq!(
            literal(b"nope", 0).unwrap_err().kind(),
            ErrorKind::Unexpected {
                found: b'o',
                expected: Expected::Value
            }
        );
    }

    #[test]
    fn copy_is_compact_and_canonical() {
        assert_eq!(
            copy(r#"[ {"ip" : "1.2.3.4", "name":"a\/b"} , [ ], {}, 1.50, true, null ]"#).unwrap(),
            r#"[{"ip":"1.2.3.4","name":"a/b"},[],{},1.50,true,null]"#
        );
    }

    #[test]
    fn copy_rejects_what_json_rejects() {
        for bad in [
            "[1,]",
            "[1 2]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{1:2}",
            "[",
            "{\"a\":",
            "[NaN]",
            "{'a':1}",
        ] {
            assert!(copy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn copy_depth_limit_counts_the_value_itself() {
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(copy(&ok).is_ok());
        let deep = "[".repeat(65) + &"]".repeat(65);
        assert_eq!(copy(&deep).unwrap_err().kind(), ErrorKind::TooDeep(64));
        let very_deep = "[".repeat(100_000);
        assert_eq!(copy(&very_deep).unwrap_err().kind(), ErrorKind::TooDeep(64));
    }

    #[test]
    fn text_encoding_escapes_only_what_json_requires() {
        let mut out = Vec::new();
        encode_text(b"Nov 24 \"x\" \\ \x01\t\xc3\xa9\xff/", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Nov 24 \\\"x\\\" \\\\ \\u0001\\té\u{FFFD}/"
        );
    }
}
