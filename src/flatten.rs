//! Parse the payload and flatten it to dotted keys in one pass, straight
//! into the output object.
//!
//! No recursion per nesting level: open objects live on a fixed stack of
//! prefix lengths (Fluent Bit's interpreter stack is 8 KiB by default and a
//! recursive parser overflows it near 16 levels). Arrays are not flattened;
//! they, and anything inside them, are copied compactly by
//! [`json::copy_value`].
//!
//! The rules (SPEC section 2): nested objects become `a.b.c` keys at any
//! depth; an empty object stays `{}`; numbers keep their text; strings are
//! re-encoded minimally; the top-level `location`, when it is a string
//! holding a JSON object, is parsed and flattened under `location.`.

use crate::error::{ARRAY_MAX_DEPTH, Error, ErrorKind, Expected, MAX_DEPTH};
use crate::json::{
    self, ESCAPED_QUOTE, Plain, Quoted, Strings, Text, at, copy_value, encode_text, literal,
    number, skip_ws, unexpected, word_at, write_number,
};
use crate::object::ObjectWriter;
use crate::scan::{digit_run, find_string_special};
use alloc::vec::Vec;

const LOCATION: &[u8] = b"location";

/// Buffers reused across records.
pub(crate) struct Flattener {
    /// The dotted path of the open objects, JSON-encoded, ending in `.`.
    prefix: Vec<u8>,
    /// A key that needed decoding (escapes or non-ASCII).
    key: Vec<u8>,
    /// The decoded text of a `location` string.
    location: Vec<u8>,
}

impl Flattener {
    pub(crate) const fn new() -> Self {
        Flattener {
            prefix: Vec::new(),
            key: Vec::new(),
            location: Vec::new(),
        }
    }

    /// Flattens the payload object starting at `start` of `text` (the
    /// decoded line) into `out`; returns the position after it.
    pub(crate) fn payload(
        &mut self,
        text: &[u8],
        start: usize,
        out: &mut ObjectWriter,
    ) -> Result<usize, Error> {
        match at(text, start) {
            Some(b'{') => {}
            Some(found) => return Err(Error::new(ErrorKind::NotAnObject(found), start)),
            None => return Err(Error::new(ErrorKind::NoPayload, start)),
        }
        self.prefix.clear();
        let location = Some(&mut self.location);
        object::<Plain>(text, start, &mut self.prefix, &mut self.key, out, location)
    }

    /// The fast path: the payload object at `start` flattened where it lies,
    /// still escaped inside its record's string ([`Quoted`]); returns the
    /// position after it. `None`, with nothing written, for anything
    /// unusual and for every error: the caller then decodes the line and
    /// takes [`Flattener::payload`], which gives the same fields or the
    /// exact error.
    pub(crate) fn payload_in_place(
        &mut self,
        record: &[u8],
        start: usize,
        out: &mut ObjectWriter,
    ) -> Option<usize> {
        if at(record, start) != Some(b'{') {
            return None;
        }
        self.prefix.clear();
        let mark = out.mark();
        let (prefix, key, location) = (&mut self.prefix, &mut self.key, &mut self.location);
        let end = quoted_object(record, start, prefix, key, out, location);
        if end.is_none() {
            out.rollback(mark);
        }
        end
    }
}

/// Flattens the object at `start` (its `{`) under the current `prefix`.
/// `location` is the buffer for the top-level `location` rule, or `None`
/// where the rule does not apply (inside `location` itself).
fn object<T: Text>(
    src: &[u8],
    start: usize,
    prefix: &mut Vec<u8>,
    key_buf: &mut Vec<u8>,
    out: &mut ObjectWriter,
    mut location: Option<&mut Vec<u8>>,
) -> Result<usize, Error> {
    // Per open object: the prefix length and the writer's object to restore
    // when it closes.
    let mut restore = [(0usize, 0u32); MAX_DEPTH];
    let base = prefix.len();
    let mut depth = 1;
    let mut pos = T::skip_ws(src, start + 1);
    if at(src, pos) == Some(b'}') {
        return Ok(pos + 1);
    }
    let mut expected = Expected::KeyOrEnd;
    loop {
        // A key: plain bytes when it has nothing to decode.
        let Some(key_start) = T::open_quote(src, pos) else {
            return Err(unexpected(src, pos, expected));
        };
        let run = find_string_special(src.get(key_start..).unwrap_or_default());
        let key: &[u8] = if let Some(after) = T::close_quote(src, key_start + run) {
            pos = after;
            src.get(key_start..key_start + run).unwrap_or_default()
        } else {
            key_buf.clear();
            pos = T::string(src, key_start, key_buf, Strings::Encode)?;
            key_buf
        };
        pos = T::skip_ws(src, pos);
        if at(src, pos) != Some(b':') {
            return Err(unexpected(src, pos, Expected::Colon));
        }
        pos = T::skip_ws(src, pos + 1);

        // Its value.
        if let Some(content) = T::open_quote(src, pos) {
            match location.as_deref_mut() {
                Some(buf) if depth == 1 && key == LOCATION => {
                    pos = location_field::<T>(src, content, prefix, key_buf, buf, out)?;
                }
                _ => {
                    let value = out.field(prefix, key);
                    value.push(b'"');
                    pos = T::string(src, content, value, Strings::Encode)?;
                    value.push(b'"');
                }
            }
        } else {
            match at(src, pos) {
                Some(b'{') => {
                    if depth >= MAX_DEPTH {
                        return Err(Error::new(ErrorKind::TooDeep(MAX_DEPTH), pos));
                    }
                    let inner = T::skip_ws(src, pos + 1);
                    if at(src, inner) == Some(b'}') {
                        out.field(prefix, key).extend_from_slice(b"{}");
                        pos = inner + 1;
                    } else {
                        let prefix_len = prefix.len();
                        prefix.extend_from_slice(key);
                        if let Some(slot) = restore.get_mut(depth) {
                            *slot = (prefix_len, out.open(prefix));
                        }
                        prefix.push(b'.');
                        depth += 1;
                        pos = inner;
                        expected = Expected::Key;
                        continue;
                    }
                }
                Some(b'[') => {
                    let value = out.field(prefix, key);
                    pos = copy_value::<_, T>(src, pos, value, depth, MAX_DEPTH, ARRAY_MAX_DEPTH)?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    let (end, exponent) = number(src, pos)?;
                    let text = src.get(pos..end).unwrap_or_default();
                    write_number(text, exponent - pos, out.field(prefix, key));
                    pos = end;
                }
                Some(b't' | b'f' | b'n') => {
                    let end = literal(src, pos)?;
                    out.field(prefix, key)
                        .extend_from_slice(src.get(pos..end).unwrap_or_default());
                    pos = end;
                }
                _ => return Err(unexpected(src, pos, Expected::Value)),
            }
        }

        // After a value: the next key, or close objects.
        loop {
            pos = T::skip_ws(src, pos);
            match at(src, pos) {
                Some(b',') => {
                    pos = T::skip_ws(src, pos + 1);
                    expected = Expected::Key;
                    break;
                }
                Some(b'}') => {
                    pos += 1;
                    depth -= 1;
                    if depth == 0 {
                        prefix.truncate(base);
                        return Ok(pos);
                    }
                    let (prefix_len, outer) = restore.get(depth).copied().unwrap_or((base, 0));
                    prefix.truncate(prefix_len);
                    out.close(outer);
                }
                _ => return Err(unexpected(src, pos, Expected::CommaOrObjectEnd)),
            }
        }
    }
}

/// The common shape of a [`Quoted`] payload (the payload of a Docker or
/// JSON record, every quote a `\"`) in as few wasm instructions as
/// possible: no whitespace between tokens, keys without escapes. Fluent
/// Bit's interpreter pays for every instruction, so each token is decided
/// from its first bytes and each string is found with one word-at-a-time
/// scan. `None` on anything else, including every error: the caller rolls
/// back, decodes the line and takes the general path ([`object`] over
/// [`Plain`] text), which gives the same fields or the exact error. Its
/// fields are written without what resolving a repeated key needs
/// ([`ObjectWriter::put_field`]): the caller gives up on the record when a
/// key may repeat.
fn quoted_object(
    src: &[u8],
    start: usize,
    prefix: &mut Vec<u8>,
    key_buf: &mut Vec<u8>,
    out: &mut ObjectWriter,
    location: &mut Vec<u8>,
) -> Option<usize> {
    // Per open object: the prefix length to restore when it closes.
    let mut restore = [0usize; MAX_DEPTH];
    let base = prefix.len();
    let mut depth = 1;
    let mut pos = start + 1;
    if at(src, pos) == Some(b'}') {
        return Some(pos + 1);
    }
    // Every way into the loop has checked that a key's `\"` is at `pos`.
    if word_at(src, pos) & 0xFFFF != ESCAPED_QUOTE {
        return None;
    }
    loop {
        // `\"key\":`, and the value's first two bytes: each boundary is
        // checked with one 8-byte load.
        let (key, value, after_key) = quoted_key(src, pos)?;
        pos = value;

        // Its value, told by its first byte.
        match (after_key >> 24) as u8 {
            b'\\' if (after_key >> 32) as u8 == b'"' => {
                let content = pos + 2;
                if depth == 1 && key == LOCATION {
                    pos = location_field::<Quoted>(src, content, prefix, key_buf, location, out)
                        .ok()?;
                } else {
                    let run_end = content + find_string_special(src.get(content..)?);
                    let end = word_at(src, run_end);
                    if end & 0xFFFF == ESCAPED_QUOTE {
                        // Nothing to decode: the opening `"` and the content
                        // are copied as they are.
                        out.put_field(prefix, key, src.get(content - 1..run_end)?, true);
                        pos = run_end + 2;
                        // Usually the next key follows at once.
                        if end >> 16 & 0xFF_FFFF == NEXT_KEY {
                            pos += 1;
                            continue;
                        }
                    } else {
                        let value = out.field(prefix, key);
                        value.push(b'"');
                        pos = Quoted::string(src, content, value, Strings::Encode).ok()?;
                        value.push(b'"');
                    }
                }
            }
            b'1'..=b'9' => {
                let digits_end = pos + 1 + digit_run(src.get(pos + 1..)?);
                let after = word_at(src, digits_end);
                if let b'.' | b'e' | b'E' = after as u8 {
                    let (end, exponent) = number(src, pos).ok()?;
                    let text = double_text(src.get(pos..end)?, exponent - pos)?;
                    out.put_field(prefix, key, text, false);
                    pos = end;
                } else {
                    let digits = double_text(src.get(pos..digits_end)?, digits_end - pos)?;
                    out.put_field(prefix, key, digits, false);
                    pos = digits_end;
                    if after & 0xFF_FFFF == NEXT_KEY {
                        pos += 1;
                        continue;
                    }
                }
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                if at(src, pos + 1) == Some(b'}') {
                    out.put_field(prefix, key, b"{}", false);
                    pos += 2;
                } else if word_at(src, pos + 1) & 0xFFFF == ESCAPED_QUOTE {
                    let prefix_len = prefix.len();
                    prefix.extend_from_slice(key);
                    *restore.get_mut(depth)? = prefix_len;
                    out.note_path(prefix);
                    prefix.push(b'.');
                    depth += 1;
                    pos += 1;
                    continue;
                } else {
                    return None;
                }
            }
            b'-' | b'0' => {
                let (end, exponent) = number(src, pos).ok()?;
                let text = double_text(src.get(pos..end)?, exponent - pos)?;
                out.put_field(prefix, key, text, false);
                pos = end;
            }
            b'[' => {
                let value = out.field(prefix, key);
                let mark = value.len();
                pos = match quoted_array(src, pos, value, depth) {
                    Some(end) => end,
                    None => {
                        value.truncate(mark);
                        copy_value::<_, Quoted>(src, pos, value, depth, MAX_DEPTH, ARRAY_MAX_DEPTH)
                            .ok()?
                    }
                };
            }
            b't' | b'f' | b'n' => {
                let end = literal(src, pos).ok()?;
                out.put_field(prefix, key, src.get(pos..end)?, false);
                pos = end;
            }
            _ => return None,
        }

        // After a value: the next key, or close objects.
        loop {
            match at(src, pos)? {
                b',' if word_at(src, pos + 1) & 0xFFFF == ESCAPED_QUOTE => {
                    pos += 1;
                    break;
                }
                b'}' => {
                    pos += 1;
                    depth -= 1;
                    if depth == 0 {
                        prefix.truncate(base);
                        return Some(pos);
                    }
                    prefix.truncate(*restore.get(depth)?);
                }
                _ => return None,
            }
        }
    }
}

/// An array in its common shape, at `pos` (its `[`) inside `depth` open
/// objects: compact, each element a scalar or a flat object of scalars
/// with plain keys (`relays`: `[{"ip":..,"name":..,"port":..}]`). Written
/// to `out` as [`copy_value`] writes it, with fewer checks per token; `None`
/// on anything else (the caller then truncates `out` and calls
/// `copy_value`, which gives the same text or the error).
fn quoted_array(src: &[u8], mut pos: usize, out: &mut Vec<u8>, depth: usize) -> Option<usize> {
    // The array and an object in it: two levels more.
    if depth + 2 >= MAX_DEPTH {
        return None;
    }
    out.push(b'[');
    pos += 1;
    if at(src, pos)? == b']' {
        out.push(b']');
        return Some(pos + 1);
    }
    loop {
        if at(src, pos)? == b'{' {
            out.push(b'{');
            pos += 1;
            loop {
                // `\"key\":` becomes `"key":`.
                if word_at(src, pos) & 0xFFFF != ESCAPED_QUOTE {
                    return None;
                }
                let (key, value, _) = quoted_key(src, pos)?;
                out.push(b'"');
                out.extend_from_slice(key);
                out.extend_from_slice(b"\":");
                pos = quoted_scalar(src, value, out)?;
                match at(src, pos)? {
                    b',' => out.push(b','),
                    b'}' => {
                        out.push(b'}');
                        pos += 1;
                        break;
                    }
                    _ => return None,
                }
                pos += 1;
            }
        } else {
            pos = quoted_scalar(src, pos, out)?;
        }
        match at(src, pos)? {
            b',' => out.push(b','),
            b']' => {
                out.push(b']');
                return Some(pos + 1);
            }
            _ => return None,
        }
        pos += 1;
    }
}

/// A string, number or literal at `pos`, written as [`copy_value`] writes
/// it; `None` for anything else or any error.
fn quoted_scalar(src: &[u8], pos: usize, out: &mut Vec<u8>) -> Option<usize> {
    let end = match at(src, pos)? {
        b'\\' => {
            let content = Quoted::open_quote(src, pos)?;
            return json::quoted_string::<_, Quoted>(src, content, out).ok();
        }
        b'-' | b'0'..=b'9' => {
            let (end, exponent) = number(src, pos).ok()?;
            double_text(src.get(pos..end)?, exponent - pos)?;
            end
        }
        b't' | b'f' | b'n' => literal(src, pos).ok()?,
        _ => return None,
    };
    out.extend_from_slice(src.get(pos..end)?);
    Some(end)
}

/// A number's text, unless it is beyond a double: that rare number is left
/// to the general path, which writes it as a string ([`json::write_number`]).
#[inline(always)]
fn double_text(text: &[u8], exponent: usize) -> Option<&[u8]> {
    (!json::beyond_double(text, exponent)).then_some(text)
}

/// The plain key whose `\"` is at `pos` (checked by the caller), where its
/// value starts, and the word at its closing `\"`, which must be followed
/// by `:` (the word's bytes 3 and 4 are the value's first two). `None` for
/// a key with escapes or non-ASCII bytes, or no `:`.
#[inline(always)]
fn quoted_key(src: &[u8], pos: usize) -> Option<(&[u8], usize, u64)> {
    let key_start = pos + 2;
    let key_end = key_start + find_string_special(src.get(key_start..)?);
    let after_key = word_at(src, key_end);
    if after_key & 0xFF_FFFF != KEY_END {
        return None;
    }
    Some((src.get(key_start..key_end)?, key_end + 3, after_key))
}

/// `\":`: a key's end in [`Quoted`] text.
const KEY_END: u64 = ESCAPED_QUOTE | (b':' as u64) << 16;
/// `,\"`: a value's end followed by the next key's opening quote.
const NEXT_KEY: u64 = b',' as u64 | ESCAPED_QUOTE << 8;

/// The top-level `location` (its string content starts at `content`): a
/// string that holds a JSON object is flattened under `location.`; anything
/// else stays the string it was.
fn location_field<T: Text>(
    src: &[u8],
    content: usize,
    prefix: &mut Vec<u8>,
    key_buf: &mut Vec<u8>,
    text: &mut Vec<u8>,
    out: &mut ObjectWriter,
) -> Result<usize, Error> {
    text.clear();
    let end = T::string(src, content, text, Strings::Decode)?;
    let mark = out.mark();
    if flatten_embedded(text, prefix, key_buf, out).is_err() {
        out.rollback(mark);
        let value = out.field(prefix, LOCATION);
        value.push(b'"');
        encode_text(text, value);
        value.push(b'"');
    }
    Ok(end)
}

/// Flattens `text` under `location.` if it is exactly one JSON object
/// (whitespace around it allowed).
fn flatten_embedded(
    text: &[u8],
    prefix: &mut Vec<u8>,
    key_buf: &mut Vec<u8>,
    out: &mut ObjectWriter,
) -> Result<(), Error> {
    let start = skip_ws(text, 0);
    if at(text, start) != Some(b'{') {
        return Err(json::unexpected(text, start, Expected::Value));
    }
    let base = prefix.len();
    let inner = skip_ws(text, start + 1);
    let result = if at(text, inner) == Some(b'}') {
        // `"{}"`: an empty object, kept as `location: {}`.
        out.field(prefix, LOCATION).extend_from_slice(b"{}");
        Ok(inner + 1)
    } else {
        prefix.extend_from_slice(LOCATION);
        let outer = out.open(prefix);
        prefix.push(b'.');
        let end = object::<Plain>(text, start, prefix, key_buf, out, None);
        out.close(outer);
        end
    };
    prefix.truncate(base);
    let end = skip_ws(text, result?);
    match at(text, end) {
        None => Ok(()),
        Some(_) => Err(unexpected(text, end, Expected::Value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(payload: &str) -> Result<String, Error> {
        let mut f = Flattener::new();
        let mut w = ObjectWriter::new();
        w.begin();
        let end = f.payload(payload.as_bytes(), 0, &mut w)?;
        assert_eq!(end, payload.len(), "consumed all of {payload}");
        w.finish();
        Ok(String::from_utf8(w.text().to_vec()).unwrap())
    }

    fn err(payload: &str) -> ErrorKind {
        flat(payload).unwrap_err().kind()
    }

    #[test]
    fn nested_objects_become_dotted_keys() {
        assert_eq!(
            flat(r#"{"connection":{"client_ip":"1.2.3.4","resource_port":80},"user":{"email":"a@b"}}"#).unwrap(),
            r#"{"connection.client_ip":"1.2.3.4","connection.resource_port":80,"user.email":"a@b"}"#
        );
    }

    #[test]
    fn client_geo_flattens_at_any_depth() {
        assert_eq!(
            flat(r#"{"connection":{"client_geo":{"country":{"iso_code":"GB"},"location":{"latitude":51.5}}}}"#).unwrap(),
            r#"{"connection.client_geo.country.iso_code":"GB","connection.client_geo.location.latitude":51.5}"#
        );
    }

    #[test]
    fn empty_objects_stay_empty_objects() {
        assert_eq!(
            flat(r#"{"a":{},"b":{"c":{ }}}"#).unwrap(),
            r#"{"a":{},"b.c":{}}"#
        );
        assert_eq!(flat("{}").unwrap(), "{}");
    }

    #[test]
    fn arrays_stay_arrays_with_elements_unchanged() {
        assert_eq!(
            flat(r#"{"relays":[{"ip":"1.1.1.1","name":"relaybalancer+https:\/\/relays.twingate.com","port":30000}],"e":[]}"#)
                .unwrap(),
            r#"{"relays":[{"ip":"1.1.1.1","name":"relaybalancer+https://relays.twingate.com","port":30000}],"e":[]}"#
        );
    }

    #[test]
    fn numbers_are_copied_verbatim() {
        assert_eq!(
            flat(r#"{"rx":18446744073709551616,"tx":-0,"ratio":1.5e-7,"lat":47.60620}"#).unwrap(),
            r#"{"rx":18446744073709551616,"tx":-0,"ratio":1.5e-7,"lat":47.60620}"#
        );
    }

    /// Fluent Bit turns numbers into doubles and fails on one beyond the
    /// largest (losing the chunk): from 10^308 up, the number's text is
    /// written as a string. Everything below keeps its text, whatever its
    /// length or exponent.
    #[test]
    fn numbers_from_1e308_up_become_strings_of_their_text() {
        let big_integer = "1".to_owned() + &"0".repeat(308);
        let below = "9".repeat(308);
        for (number, kept) in [
            ("1e400", false),
            ("-1e400", false),
            ("1.8e308", false),
            ("1e308", false),
            ("0.1e309", false),
            ("10e307", false),
            ("1E+0000308", false),
            ("123e999999999999999999999", false),
            (big_integer.as_str(), false),
            (below.as_str(), true),
            ("9.99e307", true),
            ("1e-400", true),
            ("0.0000001e308", true),
            ("0e999", true),
            ("-0", true),
            ("18446744073709551616", true),
            ("1.7976931348623157e308", false),
        ] {
            let payload = format!(r#"{{"v":{number},"w":[{number}]}}"#);
            let text = if kept {
                number.to_owned()
            } else {
                format!("\"{number}\"")
            };
            let expected = format!(r#"{{"v":{text},"w":[{text}]}}"#);
            assert_eq!(flat(&payload).unwrap(), expected, "{number}");
            // The fast path leaves such a number to the general one.
            assert_eq!(flat_quoted(&payload), kept.then_some(expected), "{number}");
        }
    }

    #[test]
    fn literals_keep_their_type() {
        assert_eq!(
            flat(r#"{"ok":true,"no":false,"note":null}"#).unwrap(),
            r#"{"ok":true,"no":false,"note":null}"#
        );
    }

    #[test]
    fn location_holding_an_object_is_flattened() {
        assert_eq!(
            flat(r#"{"location":"{\"geoip\":{\"city\":\"K\u00f6ln\",\"lat\":47.6}}"}"#).unwrap(),
            r#"{"location.geoip.city":"Köln","location.geoip.lat":47.6}"#
        );
        assert_eq!(
            flat(r#"{"location":" {} "}"#).unwrap(),
            r#"{"location":{}}"#
        );
    }

    #[test]
    fn location_holding_anything_else_stays_a_string() {
        for (payload, expected) in [
            (r#"{"location":"not json"}"#, r#"{"location":"not json"}"#),
            (r#"{"location":"[1,2]"}"#, r#"{"location":"[1,2]"}"#),
            (
                r#"{"location":"{\"a\":1} x"}"#,
                r#"{"location":"{\"a\":1} x"}"#,
            ),
            (r#"{"location":"{\"a\":"}"#, r#"{"location":"{\"a\":"}"#),
            (r#"{"location":"\u0001"}"#, r#"{"location":"\u0001"}"#),
        ] {
            assert_eq!(flat(payload).unwrap(), expected);
        }
    }

    #[test]
    fn location_rule_is_top_level_only() {
        assert_eq!(
            flat(r#"{"a":{"location":"{\"b\":1}"}}"#).unwrap(),
            r#"{"a.location":"{\"b\":1}"}"#
        );
        assert_eq!(
            flat(r#"{"location":"{\"location\":\"{}\"}"}"#).unwrap(),
            r#"{"location.location":"{}"}"#
        );
    }

    #[test]
    fn duplicate_keys_last_wins_without_repeats() {
        assert_eq!(
            flat(r#"{"event_type":"a","event_type":"b","timestamp":1}"#).unwrap(),
            r#"{"event_type":"b","timestamp":1}"#
        );
        assert_eq!(flat(r#"{"a.b":1,"a":{"b":2}}"#).unwrap(), r#"{"a.b":2}"#);
    }

    /// "The last value wins" as a JSON parser means it: the later value of a
    /// key replaces the earlier one with everything under it; the winner
    /// stands where its last occurrence stands. Dotted keys that collide
    /// after flattening: the last wins. The in-place path leaves every such
    /// payload to the general one.
    #[test]
    fn a_repeated_key_replaces_the_whole_earlier_value() {
        for (payload, expected) in [
            (r#"{"a":{"b":1},"a":2}"#, r#"{"a":2}"#),
            (r#"{"a":2,"a":{"b":1}}"#, r#"{"a.b":1}"#),
            (r#"{"a":{"b":1,"c":2},"a":{"c":3}}"#, r#"{"a.c":3}"#),
            (r#"{"a":{"b":1},"x":0,"a":2}"#, r#"{"x":0,"a":2}"#),
            (r#"{"k":1,"k":2,"k":3}"#, r#"{"k":3}"#),
            (r#"{"a":{},"a":{"b":1}}"#, r#"{"a.b":1}"#),
            (r#"{"a":{"b":1},"a":{}}"#, r#"{"a":{}}"#),
            (r#"{"a":[1],"a":{"b":1}}"#, r#"{"a.b":1}"#),
            (r#"{"a":{"b":{"c":1}},"a":{"b":2}}"#, r#"{"a.b":2}"#),
            (
                r#"{"x":{"a":{"b":1},"a":{"c":2}},"y":1}"#,
                r#"{"x.a.c":2,"y":1}"#,
            ),
            (
                r#"{"a":{"b":{"c":1,"c":{"d":2}},"e":1}}"#,
                r#"{"a.b.c.d":2,"a.e":1}"#,
            ),
            // `location` holding JSON, then not, and the other way round.
            (
                r#"{"location":"{\"geoip\":{\"lat\":1}}","location":"plain"}"#,
                r#"{"location":"plain"}"#,
            ),
            (
                r#"{"location":"plain","location":"{\"geoip\":{\"lat\":1}}"}"#,
                r#"{"location.geoip.lat":1}"#,
            ),
            (
                r#"{"location":"{\"a\":{\"b\":1},\"a\":2}"}"#,
                r#"{"location.a":2}"#,
            ),
            // Dotted keys that collide: the last wins.
            (r#"{"a.b":1,"a":{"b":2}}"#, r#"{"a.b":2}"#),
            (r#"{"a":{"b":2},"a.b":1}"#, r#"{"a.b":1}"#),
            // Only a key repeated in one object replaces a value: `a.b` is
            // not under `a`, so it stays when `a` is replaced...
            (r#"{"a.b":1,"a":{"b":2},"a":3}"#, r#"{"a.b":1,"a":3}"#),
            // ...and objects of the same dotted name in two places are two
            // objects.
            (
                r#"{"x.y":{"b":1},"x":{"y":{"c":2}}}"#,
                r#"{"x.y.b":1,"x.y.c":2}"#,
            ),
            (r#"{"a.b":1,"a":{"b":{"c":2}}}"#, r#"{"a.b":1,"a.b.c":2}"#),
        ] {
            assert_eq!(flat(payload).unwrap(), expected, "{payload}");
            // The fast path keeps no record of where fields lie: a key that
            // repeats (or whose hash looks so) sends the record to the
            // general path.
            assert_eq!(flat_quoted(payload), None, "{payload}");
        }
    }

    #[test]
    fn arrays_keep_sixteen_levels_and_deeper_containers_become_text() {
        let nested = |open: &str, close: &str, levels: usize, inner: &str| {
            open.repeat(levels) + inner + &close.repeat(levels)
        };
        // 16 levels: as they are.
        let sixteen = nested("[", "]", ARRAY_MAX_DEPTH, "1");
        let payload = format!(r#"{{"a":{sixteen}}}"#);
        assert_eq!(flat(&payload).unwrap(), payload);
        // The 17th level and everything in it: a string of its JSON text.
        for (inner, text) in [
            ("[]", r#""[]""#),
            ("[[1,2],{}]", r#""[[1,2],{}]""#),
            (
                r#"{"k":"v\"q\\\/","n":[1.50,{"x":null}]}"#,
                r#""{\"k\":\"v\\\"q\\\\/\",\"n\":[1.50,{\"x\":null}]}""#,
            ),
        ] {
            let payload = format!(
                r#"{{"a":{},"b":1}}"#,
                nested("[", "]", ARRAY_MAX_DEPTH, &format!("0,{inner},2"))
            );
            let expected = format!(
                r#"{{"a":{},"b":1}}"#,
                nested("[", "]", ARRAY_MAX_DEPTH, &format!("0,{text},2"))
            );
            assert_eq!(flat(&payload).unwrap(), expected, "{inner}");
            assert_eq!(flat_quoted(&payload), Some(expected), "{inner}");
            let back: serde_json::Value =
                serde_json::from_str(&serde_json::from_str::<String>(text).unwrap()).unwrap();
            assert_eq!(
                back,
                serde_json::from_str::<serde_json::Value>(inner).unwrap()
            );
        }
        // Objects inside arrays count, and the bound holds wherever the
        // array sits (under objects, in `location`).
        let deep = nested(r#"[{"o":"#, "}]", 9, "1");
        let payload = format!(r#"{{"x":{{"y":{deep}}}}}"#);
        let got = flat(&payload).unwrap();
        let value: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(depth(&value), 1 + ARRAY_MAX_DEPTH, "{got}");
        assert_eq!(flat_quoted(&payload), Some(got));
        let location = format!(
            r#"{{"location":{}}}"#,
            serde_json::to_string(&format!(r#"{{"g":{}}}"#, nested("[", "]", 40, ""))).unwrap()
        );
        let got = flat(&location).unwrap();
        assert!(got.starts_with(r#"{"location.g":[[[["#), "{got}");
        let value: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(depth(&value), 1 + ARRAY_MAX_DEPTH, "{got}");
    }

    /// Nesting of a JSON value: a scalar 0, a container one more than its
    /// deepest element.
    fn depth(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    #[test]
    fn keys_are_decoded_and_reencoded() {
        assert_eq!(
            flat(r#"{"a\/b":{"\u00e9":1},"q\"":2}"#).unwrap(),
            r#"{"a/b.é":1,"q\"":2}"#
        );
    }

    #[test]
    fn nesting_64_is_an_event_65_is_an_error() {
        let nested = |depth: usize| "{\"a\":".repeat(depth - 1) + "{}" + &"}".repeat(depth - 1);
        let ok = flat(&nested(64)).unwrap();
        assert!(ok.starts_with(r#"{"a.a.a"#) && ok.ends_with(r#"":{}}"#));
        assert_eq!(err(&nested(65)), ErrorKind::TooDeep(64));
        let arrays = "{\"a\":".to_string() + &"[".repeat(63) + &"]".repeat(63) + "}";
        assert!(flat(&arrays).is_ok());
        let arrays = "{\"a\":".to_string() + &"[".repeat(64) + &"]".repeat(64) + "}";
        assert_eq!(err(&arrays), ErrorKind::TooDeep(64));
        assert_eq!(
            err(&("{\"a\":".repeat(3000) + "1" + &"}".repeat(3000))),
            ErrorKind::TooDeep(64)
        );
    }

    #[test]
    fn broken_payloads_say_what_and_where() {
        assert_eq!(err(""), ErrorKind::NoPayload);
        assert_eq!(err("[]"), ErrorKind::NotAnObject(b'['));
        assert_eq!(err("42"), ErrorKind::NotAnObject(b'4'));
        assert_eq!(err("{"), ErrorKind::Truncated(Expected::KeyOrEnd));
        assert_eq!(err(r#"{"a":"#), ErrorKind::Truncated(Expected::Value));
        assert_eq!(
            err(r#"{"a":1"#),
            ErrorKind::Truncated(Expected::CommaOrObjectEnd)
        );
        assert_eq!(
            err(r#"{"a":1,}"#),
            ErrorKind::Unexpected {
                found: b'}',
                expected: Expected::Key
            }
        );
        assert_eq!(
            err(r#"{'a':1}"#),
            ErrorKind::Unexpected {
                found: b'\'',
                expected: Expected::KeyOrEnd
            }
        );
        assert_eq!(
            err(r#"{"a":NaN}"#),
            ErrorKind::Unexpected {
                found: b'N',
                expected: Expected::Value
            }
        );
        assert_eq!(
            err("{\"a\":\"tab\there\"}"),
            ErrorKind::ControlCharacter(b'\t')
        );
        let e = flat(r#"{"a":{"b":1}x"#).unwrap_err();
        assert_eq!(
            (e.kind(), e.offset()),
            (
                ErrorKind::Unexpected {
                    found: b'x',
                    expected: Expected::CommaOrObjectEnd
                },
                12
            )
        );
    }

    /// The payload as it sits escaped inside a record's string, flattened
    /// in place; `None` where the fast path leaves it to the general one.
    fn flat_quoted(payload: &str) -> Option<String> {
        let escaped = serde_json::to_string(payload).unwrap();
        let inner = &escaped[1..escaped.len() - 1];
        let mut f = Flattener::new();
        let mut w = ObjectWriter::new();
        w.begin();
        let end = f.payload_in_place(inner.as_bytes(), 0, &mut w);
        let Some(end) = end else {
            assert!(w.text().is_empty(), "nothing written: {:?}", w.text());
            return None;
        };
        if w.maybe_repeated() {
            return None;
        }
        assert_eq!(end, inner.len(), "consumed all of {inner}");
        w.finish();
        Some(String::from_utf8(w.text().to_vec()).unwrap())
    }

    #[test]
    fn in_place_payloads_flatten_like_decoded_ones() {
        for payload in [
            r#"{"connection":{"client_ip":"1.2.3.4","resource_port":443,"rx":0,"tx":-5},"event_type":"x"}"#,
            r#"{"a":{},"b":{"c":{}},"n":1.5e3,"z":0,"t":true,"f":false,"u":null}"#,
            r#"{"relays":[{"ip":"1.1.1.1","name":"https:\/\/r","port":30000}],"e":[]}"#,
            r#"{"name":"B\u00fcro \"core\" \/x","tz":"Europe/London"}"#,
            r#"{"location":"{\"geoip\":{\"city\":\"K\u00f6ln\",\"lat\":47.6}}","x":1}"#,
            r#"{"big":123456789012345678901234567890,"neg":-0.5,"exp":1E+2}"#,
            // Arrays: the common shapes (quoted_array) and the others
            // (copy_value) give the same text.
            r#"{"s":[1,"a\/b",true,null,-2.5e1,"\u00fc\"q\""],"t":["x"]}"#,
            r#"{"r":[{"ip":"1.2.3.4","name":"a\\b","port":1},{"ip":"::1","up":false}]}"#,
            r#"{"n":[[1,[2]],[]],"o":[{}],"p":[{"a":{"b":[1]}}],"q":[{"a":[]}]}"#,
        ] {
            assert_eq!(
                flat_quoted(payload),
                Some(flat(payload).unwrap()),
                "{payload}"
            );
        }
        // Arrays of objects near the nesting limit, fast path or not.
        for depth in 60..=64 {
            let payload =
                "{\"a\":".repeat(depth - 1) + r#"{"r":[{"x":1}],"s":[1]}"# + &"}".repeat(depth - 1);
            match flat(&payload) {
                Ok(fields) => assert_eq!(flat_quoted(&payload), Some(fields), "{depth}"),
                Err(_) => assert_eq!(flat_quoted(&payload), None, "{depth}"),
            }
        }
        let deep = |depth: usize| "{\"a\":".repeat(depth - 1) + "{}" + &"}".repeat(depth - 1);
        assert_eq!(flat_quoted(&deep(64)), Some(flat(&deep(64)).unwrap()));
        // Unusual shapes are left to the general path, with nothing written
        // (or, for a repeated key, with the record given up by the caller).
        for payload in [
            r#"{"event_type":"a","event_type":"b","a.b":1,"a":{"b":2}}"#,
            "{ \"spaced\" : { \"out\" :1 } ,\"n\": 12 }",
            r#"{"k\u00e9y":1}"#,
            &deep(65),
        ] {
            assert_eq!(flat_quoted(payload), None, "{payload}");
        }
    }

    #[test]
    fn common_arrays_take_the_short_path_and_copy_like_copy_value() {
        let quoted = |json: &str| {
            let escaped = serde_json::to_string(json).unwrap();
            escaped[1..escaped.len() - 1].to_owned()
        };
        let copied = |src: &str| {
            let mut out = Vec::new();
            copy_value::<_, Quoted>(src.as_bytes(), 0, &mut out, 1, MAX_DEPTH, ARRAY_MAX_DEPTH)
                .unwrap();
            out
        };
        for (json, short) in [
            (
                r#"[{"ip":"1.2.3.4","name":"https:\/\/r","port":30000},{"ip":"::1"}]"#,
                true,
            ),
            (r#"[]"#, true),
            (r#"[1,-2.5,"x\u00fcy",true,null]"#, true),
            (r#"[[1]]"#, false),
            (r#"[{}]"#, false),
            (r#"[{"a":{"b":1}}]"#, false),
        ] {
            let src = quoted(json);
            let mut out = Vec::new();
            let end = quoted_array(src.as_bytes(), 0, &mut out, 1);
            assert_eq!(end.is_some(), short, "{json}");
            if end.is_some() {
                assert_eq!(end, Some(src.len()), "{json}");
                assert_eq!(out, copied(&src), "{json}");
            }
        }
    }

    /// A broken payload is left to the general path too; the transformer
    /// then decodes the line and reads it plainly for the exact error.
    #[test]
    fn in_place_payloads_fail_where_decoded_ones_fail() {
        for payload in [
            r#"{"a":01}"#,
            r#"{"a":1,}"#,
            r#"{"a":"x"#,
            r#"{"a":1"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[{"b":1,}]}"#,
            r#"{"a":[{"b"}]}"#,
            r#"{"a":[{"b":1}}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":[01]}"#,
            r#"{"a" 1}"#,
            "{\"a\":\"tab\there\"}",
        ] {
            assert!(flat(payload).is_err(), "{payload}");
            assert_eq!(flat_quoted(payload), None, "{payload}");
        }
    }

    #[test]
    fn trailing_text_is_left_to_the_caller() {
        let mut f = Flattener::new();
        let mut w = ObjectWriter::new();
        w.begin();
        assert_eq!(f.payload(br#"{"a":1} {"b":2}"#, 0, &mut w), Ok(7));
    }
}
