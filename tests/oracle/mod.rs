//! The reliability oracle (issue 6): what any answer of any door must
//! satisfy, for any input, checked independently of the transform's code.
//!
//! Shared by the fuzz targets (`fuzz/src/lib.rs` includes this file), the
//! property and limit tests (`tests/properties.rs`, `tests/limits.rs`) and
//! the module tests in the twin host (`cli/tests/abi_fuzz.rs`, ...).
//!
//! The invariants:
//!
//! - exactly one outcome, consistent with the output (a drop writes
//!   nothing, everything else writes one JSON object);
//! - the output is one JSON object, with no raw NUL byte and no key twice;
//! - an error record is the record (as JSON values) plus
//!   `twingate.parse_error`; a kept record is the record;
//! - when the payload is readable JSON (`serde_json`), the outcome is the
//!   one the contract names (event when at most 64 levels deep, error
//!   deeper), and an event's fields are the naive [`reference_flatten`] of
//!   the payload over the record's other fields: a repeated key's last value
//!   replaces the earlier one whole, as a JSON parser keeps it ([`LastWins`]);
//!   a container deeper than 16 levels inside an array is the string of its
//!   JSON text; when no key contains a dot and none repeats, the fields also
//!   [`unflatten`] back to the payload;
//! - no field an event takes from its payload is nested deeper than
//!   `ARRAY_MAX_DEPTH` (so Fluent Bit never drops the record).
#![allow(dead_code)] // each test crate uses part of it

use std::collections::BTreeSet;

use twingate_analytics::ARRAY_MAX_DEPTH;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The contract's nesting limit (the payload is level 1, arrays count).
pub const MAX_DEPTH: usize = 64;
pub const PARSE_ERROR: &str = "twingate.parse_error";
const LINE_KEYS: [&str; 3] = ["log", "message", "MESSAGE"];

/// What a door did, whatever the door (core [`Outcome`], host verdict).
///
/// [`Outcome`]: twingate_analytics::Outcome
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Event,
    Dropped,
    Kept,
    Error,
}

impl From<&twingate_analytics::Outcome> for Kind {
    fn from(outcome: &twingate_analytics::Outcome) -> Self {
        use twingate_analytics::Outcome;
        match outcome {
            Outcome::Event => Kind::Event,
            Outcome::Dropped => Kind::Dropped,
            Outcome::Kept => Kind::Kept,
            Outcome::Error(_) => Kind::Error,
        }
    }
}

/// What the input was given as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// A bare line (`transform_line`): as if the record were `{"log": line}`.
    Line(&'a [u8]),
    /// A record's JSON text (`transform_record`, the module).
    Record(&'a [u8]),
}

/// A JSON value read strictly: duplicate keys anywhere are an error (so
/// "last wins" questions never reach the comparison).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
        serde_json::Number::from_f64(v)
            .map(|n| Strict(Value::Number(n)))
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut object = Map::new();
        while let Some((key, Strict(value))) = map.next_entry::<String, Strict>()? {
            if object.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate key"));
            }
        }
        Ok(Strict(Value::Object(object)))
    }
}

/// A JSON value as a JSON parser keeps it, in the order the transform
/// writes it: in each object a repeated key's last value replaces the
/// earlier one whole, at the place of its last occurrence. Arrays are
/// copied with their elements as they are, so they stay plain values.
#[derive(Clone, Debug)]
pub enum LastWins {
    Object(Vec<(String, LastWins)>),
    Other(Value),
}

impl LastWins {
    /// The value as `serde_json` holds it.
    pub fn to_value(&self) -> Value {
        match self {
            LastWins::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
            LastWins::Other(value) => value.clone(),
        }
    }

    /// A map's fields, in its (sorted) order.
    pub fn from_map(map: &Map<String, Value>) -> Vec<(String, LastWins)> {
        map.iter()
            .map(|(k, v)| (k.clone(), LastWins::from_value(v)))
            .collect()
    }

    fn from_value(value: &Value) -> LastWins {
        match value {
            Value::Object(map) => LastWins::Object(LastWins::from_map(map)),
            other => LastWins::Other(other.clone()),
        }
    }
}

impl<'de> Deserialize<'de> for LastWins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LastWinsVisitor)
    }
}

struct LastWinsVisitor;

impl<'de> Visitor<'de> for LastWinsVisitor {
    type Value = LastWins;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<LastWins, E> {
        Ok(LastWins::Other(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<LastWins, E> {
        Ok(LastWins::Other(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<LastWins, E> {
        Ok(LastWins::Other(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<LastWins, E> {
        serde_json::Number::from_f64(v)
            .map(|n| LastWins::Other(Value::Number(n)))
            .ok_or_else(|| de::Error::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<LastWins, E> {
        Ok(LastWins::Other(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<LastWins, E> {
        Ok(LastWins::Other(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<LastWins, E> {
        Ok(LastWins::Other(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LastWins, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(LastWins::Other(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LastWins, A::Error> {
        let mut fields: Vec<(String, LastWins)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, LastWins>()? {
            fields.retain(|(k, _)| *k != key);
            fields.push((key, value));
        }
        Ok(LastWins::Object(fields))
    }
}

/// One JSON value at the start of `text`, as a JSON parser keeps it, and
/// where it ends.
pub fn last_wins_prefix(text: &[u8]) -> Option<(LastWins, usize)> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<LastWins>();
    let value = stream.next()?.ok()?;
    Some((value, stream.byte_offset()))
}

/// One JSON value at the start of `text` (duplicate keys rejected), and
/// where it ends.
pub fn strict_prefix(text: &[u8]) -> Option<(Value, usize)> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<Strict>();
    let value = stream.next()?.ok()?.0;
    Some((value, stream.byte_offset()))
}

/// The whole of `text` as one JSON value (duplicate keys rejected).
pub fn strict(text: &[u8]) -> Option<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let Strict(value) = Strict::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(value)
}

/// Nesting: a scalar is 0, an object or array one more than its deepest
/// element.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Depth of the JSON text starting at `text` by brackets outside strings,
/// without parsing (serde_json stops at 128 levels).
pub fn bracket_depth(text: &[u8]) -> usize {
    let (mut level, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                level += 1;
                deepest = deepest.max(level);
            }
            b'}' | b']' => {
                level = level.saturating_sub(1);
                if level == 0 {
                    return deepest;
                }
            }
            _ => {}
        }
    }
    deepest
}

/// The naive reference flatten (SPEC §2) of a payload without repeated
/// keys: see [`reference_flatten_ordered`].
pub fn reference_flatten(payload: &Map<String, Value>) -> Option<Map<String, Value>> {
    reference_flatten_ordered(&LastWins::from_map(payload))
}

/// The naive reference flatten (SPEC §2), recursive: nested non-empty
/// objects become dotted keys, everything else is kept as it is; of two
/// dotted keys that collide, the later wins; a top-level `location` string
/// holding one JSON object (at most 64 levels) is flattened too. `None`
/// when the `location` string is one the transform may read differently
/// from `serde_json` (lone surrogates).
pub fn reference_flatten_ordered(payload: &[(String, LastWins)]) -> Option<Map<String, Value>> {
    let mut out = Vec::new();
    for (key, value) in payload {
        if key == "location"
            && let LastWins::Other(Value::String(text)) = value
        {
            match location_object(text) {
                Location::Object(inner) => {
                    flatten_value(key.clone(), &LastWins::Object(inner), &mut out);
                    continue;
                }
                Location::Unsure => return None,
                Location::Text => {}
            }
        }
        flatten_value(key.clone(), value, &mut out);
    }
    Some(out.into_iter().collect())
}

enum Location {
    Object(Vec<(String, LastWins)>),
    Text,
    Unsure,
}

fn location_object(text: &str) -> Location {
    let trimmed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    if !trimmed.starts_with('{') {
        return Location::Text;
    }
    if bracket_depth(trimmed.as_bytes()) > MAX_DEPTH {
        return Location::Text;
    }
    let mut deserializer = serde_json::Deserializer::from_str(trimmed);
    match LastWins::deserialize(&mut deserializer).and_then(|v| deserializer.end().map(|()| v)) {
        Ok(LastWins::Object(fields)) => Location::Object(fields),
        Ok(_) => Location::Text,
        Err(e) if e.is_syntax() && !text.contains("\\u") => Location::Text,
        Err(_) => Location::Unsure,
    }
}

/// Appends the fields of `value` under `key` to `out`; a key already there
/// is replaced, and the later one stands at the end (the transform's order).
fn flatten_value(key: String, value: &LastWins, out: &mut Vec<(String, Value)>) {
    match value {
        LastWins::Object(inner) if !inner.is_empty() => {
            for (inner_key, inner_value) in inner {
                flatten_value(format!("{key}.{inner_key}"), inner_value, out);
            }
        }
        _ => {
            out.retain(|(k, _)| *k != key);
            out.push((key, value.to_value()));
        }
    }
}

/// Where a container nested deeper than [`ARRAY_MAX_DEPTH`] inside an array
/// stands in an event's field, the transform writes a string of its JSON
/// text: such strings are read back into their values (in the answer and in
/// the reference alike, so a payload string that merely looks like JSON
/// compares the same), after checking that nothing is deeper than the bound.
fn inflate_deep_text(field: &str, value: &mut Value) -> Result<(), String> {
    let levels = depth(value);
    if levels > ARRAY_MAX_DEPTH {
        return Err(format!(
            "field {field:?} is nested {levels} levels deep, more than {ARRAY_MAX_DEPTH}"
        ));
    }
    inflate_at(value, 1);
    Ok(())
}

/// A number of magnitude 10^308 or more is written as a string of its text
/// (Fluent Bit cannot hold numbers beyond a double): such numbers, and
/// strings holding such a number's text, become one marker with the
/// number's value, in the answer and the reference alike.
pub fn mark_beyond_double(value: &mut Value) {
    let beyond = |n: &serde_json::Number| n.as_f64().filter(|f| f.abs() >= 1e308);
    match value {
        Value::Number(n) => {
            if let Some(f) = beyond(n) {
                *value = Value::String(format!("beyond a double: {f:e}"));
            }
        }
        Value::String(text) => {
            if let Some(f) = serde_json::from_str::<serde_json::Number>(text)
                .ok()
                .as_ref()
                .and_then(beyond)
            {
                *value = Value::String(format!("beyond a double: {f:e}"));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mark_beyond_double),
        Value::Object(map) => map.values_mut().for_each(mark_beyond_double),
        _ => {}
    }
}

fn inflate_at(value: &mut Value, level: usize) {
    let children: Vec<&mut Value> = match value {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(map) => map.values_mut().collect(),
        _ => return,
    };
    for child in children {
        if level == ARRAY_MAX_DEPTH {
            if let Value::String(text) = child
                && let Ok(inner @ (Value::Array(_) | Value::Object(_))) =
                    serde_json::from_str::<Value>(text)
            {
                *child = inner;
            }
        } else {
            inflate_at(child, level + 1);
        }
    }
}

/// Dotted keys back to nested objects. `None` when two keys disagree (a
/// value where another key needs an object).
pub fn unflatten(flat: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut root = Map::new();
    for (key, value) in flat {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop()?;
        let mut node = &mut root;
        for part in parts {
            let slot = node
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            node = slot.as_object_mut()?;
        }
        if node.insert(last.to_owned(), value.clone()).is_some() {
            return None;
        }
    }
    Some(root)
}

/// Whether any key at any depth holds a dot.
pub fn has_dotted_key(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('.') || has_dotted_key(v)),
        Value::Array(items) => items.iter().any(has_dotted_key),
        _ => false,
    }
}

/// The output is one JSON object: no raw NUL, no key twice, valid JSON
/// (numbers of any size). Returns its value when `serde_json` can hold it
/// (`None` for e.g. `1e400`).
pub fn valid_object(output: &[u8]) -> Result<Option<Map<String, Value>>, String> {
    if output.contains(&0) {
        return Err("the output holds a raw NUL byte".into());
    }
    top_level_keys(output)?;
    Ok(match serde_json::from_slice::<Value>(output) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    })
}

/// The top-level keys of one JSON object text, decoded, checking the whole
/// text against RFC 8259's grammar without recursion (record fields may be
/// nested 512 levels, beyond `serde_json`'s limit). Lone surrogate escapes
/// are grammatical (and appear when the host wrote them in a record field).
pub fn top_level_keys(text: &[u8]) -> Result<Vec<String>, String> {
    let err = |at: usize, what: &str| {
        Err(format!(
            "the output is not one JSON object: {what} at byte {at}"
        ))
    };
    let ws = |mut i: usize| {
        while matches!(text.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    // Containers open: true for an object.
    let mut stack: Vec<bool> = Vec::new();
    let mut keys = Vec::new();
    let mut i = ws(0);
    if text.get(i) != Some(&b'{') {
        return err(i, "no `{`");
    }
    // States: expecting a value (after `:` or `,` in an array or `[`),
    // after a value, expecting a key.
    #[derive(PartialEq)]
    enum Want {
        Value,
        KeyOrEnd,
        ValueOrEnd,
        Key,
        After,
    }
    let mut want = Want::Value;
    loop {
        i = ws(i);
        let Some(&byte) = text.get(i) else {
            return if stack.is_empty() && want == Want::After {
                Ok(keys)
            } else {
                err(i, "the end")
            };
        };
        if stack.is_empty() && want == Want::After {
            return err(i, "text after the object");
        }
        match want {
            Want::Key | Want::KeyOrEnd => {
                if byte == b'}' && want == Want::KeyOrEnd {
                    stack.pop();
                    i += 1;
                    want = Want::After;
                    continue;
                }
                if byte != b'"' {
                    return err(i, "no key");
                }
                let (key, next) =
                    json_string(text, i + 1).ok_or_else(|| format!("bad key at byte {i}"))?;
                if stack.len() == 1 {
                    keys.push(key);
                }
                i = ws(next);
                if text.get(i) != Some(&b':') {
                    return err(i, "no `:`");
                }
                i += 1;
                want = Want::Value;
            }
            Want::Value | Want::ValueOrEnd => {
                if byte == b']' && want == Want::ValueOrEnd {
                    stack.pop();
                    i += 1;
                    want = Want::After;
                    continue;
                }
                match byte {
                    b'{' => {
                        stack.push(true);
                        i += 1;
                        want = Want::KeyOrEnd;
                        continue;
                    }
                    b'[' => {
                        stack.push(false);
                        i += 1;
                        want = Want::ValueOrEnd;
                        continue;
                    }
                    b'"' => {
                        i = json_string(text, i + 1)
                            .ok_or_else(|| format!("bad string at byte {i}"))?
                            .1
                    }
                    b't' if text[i..].starts_with(b"true") => i += 4,
                    b'f' if text[i..].starts_with(b"false") => i += 5,
                    b'n' if text[i..].starts_with(b"null") => i += 4,
                    b'-' | b'0'..=b'9' => {
                        i = json_number(text, i).ok_or_else(|| format!("bad number at byte {i}"))?
                    }
                    _ => return err(i, "no value"),
                }
                want = Want::After;
            }
            Want::After => match (byte, stack.last()) {
                (b',', Some(true)) => {
                    i += 1;
                    want = Want::Key;
                }
                (b',', Some(false)) => {
                    i += 1;
                    want = Want::Value;
                }
                (b'}', Some(true)) | (b']', Some(false)) => {
                    stack.pop();
                    i += 1;
                }
                _ => return err(i, "no `,` or end"),
            },
        }
    }
}

/// A string's content from `start` (after the quote): its decoded text and
/// the index after the closing quote. Raw bytes must be UTF-8 and not
/// control characters.
fn json_string(text: &[u8], start: usize) -> Option<(String, usize)> {
    let mut units: Vec<u16> = Vec::new();
    let mut out = String::new();
    let flush = |units: &mut Vec<u16>, out: &mut String| {
        out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('\u{FFFD}')));
    };
    let mut i = start;
    loop {
        let byte = *text.get(i)?;
        match byte {
            b'"' => {
                flush(&mut units, &mut out);
                return Some((out, i + 1));
            }
            b'\\' => {
                let escape = *text.get(i + 1)?;
                let simple = match escape {
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    b'/' => Some('/'),
                    b'b' => Some('\u{8}'),
                    b'f' => Some('\u{c}'),
                    b'n' => Some('\n'),
                    b'r' => Some('\r'),
                    b't' => Some('\t'),
                    b'u' => None,
                    _ => return None,
                };
                if let Some(c) = simple {
                    flush(&mut units, &mut out);
                    out.push(c);
                    i += 2;
                } else {
                    let hex = std::str::from_utf8(text.get(i + 2..i + 6)?).ok()?;
                    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    units.push(u16::from_str_radix(hex, 16).ok()?);
                    i += 6;
                }
            }
            0..=0x1F => return None,
            _ => {
                flush(&mut units, &mut out);
                let len = match byte {
                    0x00..=0x7F => 1,
                    0xC0..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    _ => 4,
                };
                out.push_str(std::str::from_utf8(text.get(i..i + len)?).ok()?);
                i += len;
            }
        }
    }
}

/// The index after a JSON number starting at `start`.
fn json_number(text: &[u8], start: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        let from = i;
        while text.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let mut i = start;
    if text.get(i) == Some(&b'-') {
        i += 1;
    }
    i = if text.get(i) == Some(&b'0') {
        i + 1
    } else {
        digits(i)?
    };
    if text.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    Some(i)
}

/// What the contract says of a line, when it can be told without the
/// transform: `Some(Ok(payload))` an event with this payload, `Some(Err(()))`
/// an error record, `None` unknown (syslog headers, JSON `serde_json` cannot
/// hold, ...). Only bare `ANALYTICS` lines are judged.
pub fn judge_line(line: &str) -> Option<Result<Vec<(String, LastWins)>, ()>> {
    let content = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    let rest = content.strip_prefix("ANALYTICS")?;
    match rest.as_bytes().first() {
        None => return Some(Err(())),
        Some(b' ' | b'\t') => {}
        Some(_) => return None,
    }
    let body = rest.trim_start_matches([' ', '\t']);
    if !body.starts_with('{') {
        return Some(Err(()));
    }
    let deep = bracket_depth(body.as_bytes());
    if deep > MAX_DEPTH {
        // Deeper than the limit: an error, whatever follows (the parser
        // stops at level 65).
        return Some(Err(()));
    }
    let mut stream = serde_json::Deserializer::from_str(body).into_iter::<IgnoredAny>();
    match stream.next() {
        Some(Ok(_)) => {}
        Some(Err(e)) if e.is_syntax() || e.is_eof() => {
            // serde_json refuses lone surrogates, which the transform
            // repairs: unknown then.
            return if body.contains("\\u") {
                None
            } else {
                Some(Err(()))
            };
        }
        _ => return None,
    }
    match last_wins_prefix(body.as_bytes()) {
        Some((LastWins::Object(payload), _)) => Some(Ok(payload)),
        _ => None,
    }
}

/// Checks one answer against every invariant; `Err` says what broke.
pub fn check(input: Input<'_>, keep: bool, kind: Kind, output: &[u8]) -> Result<(), String> {
    // Exactly one outcome, and the output agrees with it.
    match (kind, keep) {
        (Kind::Dropped, false) => {
            return if output.is_empty() {
                Ok(())
            } else {
                Err("a dropped record has output".into())
            };
        }
        (Kind::Dropped, true) => return Err("the keep entry point dropped a record".into()),
        (Kind::Kept, false) => return Err("the drop entry point kept a record".into()),
        _ => {}
    }
    let fields = valid_object(output)?;
    // No key twice, unless the record itself held it twice and is passed
    // on (kept, or as an error record: "the record unchanged").
    let record_keys = match input {
        Input::Record(text) if kind != Kind::Event => top_level_keys(text).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for key in top_level_keys(output)? {
        if !seen.insert(key.clone()) && record_keys.iter().filter(|k| **k == key).count() < 2 {
            return Err(format!("key {key:?} appears twice in the output"));
        }
    }
    // What the record is, as JSON values (when serde_json can read it).
    let record: Option<Value> = match input {
        Input::Line(line) => Some(serde_json::json!({ "log": String::from_utf8_lossy(line) })),
        Input::Record(text) => strict(text),
    };
    let record_object = record.as_ref().and_then(Value::as_object);
    let line = match (input, record_object) {
        (Input::Line(line), _) => std::str::from_utf8(line).ok().map(str::to_owned),
        (Input::Record(_), Some(object)) => LINE_KEYS
            .iter()
            .find_map(|key| object.get(*key)?.as_str())
            .map(str::to_owned),
        (Input::Record(_), None) => None,
    };
    let judged = line.as_deref().and_then(judge_line);
    match (&judged, kind) {
        (Some(Ok(_)), Kind::Event) | (Some(Err(())), Kind::Error) | (None, _) => {}
        (Some(Ok(_)), other) => {
            return Err(format!(
                "a valid payload at most {MAX_DEPTH} levels deep must be an event, not {other:?}"
            ));
        }
        (Some(Err(())), other) => {
            return Err(format!(
                "a broken payload must be an error record, not {other:?}"
            ));
        }
    }
    let not_an_object = record.as_ref().is_some_and(|value| !value.is_object());
    if matches!(input, Input::Record(_)) && not_an_object && kind != Kind::Error {
        return Err(format!(
            "a record that is not an object must be an error record, not {kind:?}"
        ));
    }
    let Some(mut fields) = fields else {
        return Ok(());
    };
    match kind {
        Kind::Dropped => unreachable!("returned above"),
        Kind::Kept => {
            if let Some(record) = &record
                && Value::Object(fields) != *record
            {
                return Err("a kept record is not the record".into());
            }
        }
        Kind::Error => {
            match fields.remove(PARSE_ERROR) {
                Some(Value::String(message)) if !message.is_empty() && !message.contains('\n') => {}
                other => {
                    return Err(format!(
                        "an error record needs a one-line {PARSE_ERROR}: {other:?}"
                    ));
                }
            }
            match &record {
                // (A record that already held the key gets it replaced.)
                Some(Value::Object(record))
                    if record
                        .iter()
                        .any(|(k, v)| k != PARSE_ERROR && fields.get(k) != Some(v))
                        || fields.keys().any(|k| !record.contains_key(k)) =>
                {
                    return Err("an error record is not the record plus the reason".into());
                }
                Some(Value::Object(_)) | None => {}
                // Not an object: its text travels in `twingate.record`.
                Some(_) => {
                    if !fields.contains_key("twingate.record") {
                        return Err("a non-object record must travel in twingate.record".into());
                    }
                }
            }
        }
        Kind::Event => {
            let (Some(Ok(payload)), Some(record)) = (&judged, record_object) else {
                return Ok(());
            };
            let Some(mut flat) = reference_flatten_ordered(payload) else {
                return Ok(());
            };
            for (key, value) in flat.iter_mut() {
                inflate_at(value, 1);
                mark_beyond_double(value);
                if let Some(answer) = fields.get_mut(key) {
                    inflate_deep_text(key, answer)?;
                    mark_beyond_double(answer);
                }
            }
            let mut want = record.clone();
            let line_key = match input {
                Input::Line(_) => "log",
                Input::Record(_) => LINE_KEYS
                    .iter()
                    .find(|key| record.get(**key).is_some_and(Value::is_string))
                    .copied()
                    .unwrap_or("log"),
            };
            want.remove(line_key);
            want.extend(flat);
            // Trailing text (the fused-line case) is extra, when present.
            // (A payload key of that name is compared without it.)
            want.remove("twingate.trailing");
            fields.remove("twingate.trailing");
            if fields != want {
                return Err(format!(
                    "event differs from the reference flatten:\n  want {}\n  got  {}",
                    Value::Object(want),
                    Value::Object(fields)
                ));
            }
            let mut payload_value = LastWins::Object(payload.clone()).to_value();
            mark_beyond_double(&mut payload_value);
            let location_string = payload_value.get("location").is_some_and(Value::is_string);
            let repeated_key = line.as_deref().is_some_and(|l| {
                let body = l
                    .trim_start_matches("ANALYTICS")
                    .trim_start_matches([' ', '\t']);
                strict_prefix(body.as_bytes()).is_none()
            });
            if !has_dotted_key(&payload_value)
                && !location_string
                && !repeated_key
                && matches!(input, Input::Line(_))
            {
                let mut only_payload = fields.clone();
                only_payload.remove("twingate.trailing");
                if unflatten(&only_payload).as_ref() != payload_value.as_object() {
                    return Err("the event's fields do not unflatten to the payload".into());
                }
            }
        }
    }
    Ok(())
}

/// The NUL-terminated form (what Fluent Bit's host reads) is the output and
/// one NUL, and only after something was written.
pub fn check_c_str(kind: Kind, output: &[u8], c_str: Option<&[u8]>) -> Result<(), String> {
    match (kind, c_str) {
        (Kind::Dropped, None) => Ok(()),
        (Kind::Dropped, Some(_)) => Err("a drop has a C string".into()),
        (_, None) => Err(format!("{kind:?} without a C string")),
        (_, Some(text)) => match text.split_last() {
            Some((0, body)) if body == output => Ok(()),
            _ => Err("output_c_str is not the output and one NUL".into()),
        },
    }
}
