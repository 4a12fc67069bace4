//! The record around the line: its top-level fields, checked, and which one
//! holds the line.
//!
//! Fluent Bit hands the module the record body as JSON. The fields other
//! than the line are copied to the output verbatim, so they are checked here
//! once (strict JSON, UTF-8) and only re-encoded when they need repair.

use crate::error::{Error, ErrorKind, Expected};
use crate::json::{Plain, Strings, Validate, at, copy_value, skip_ws, string, unexpected};
use crate::scan::find_string_special;
use alloc::vec::Vec;

/// Nesting allowed inside a record's own fields (the record is level 1).
/// Records from Fluent Bit are shallow; this only bounds hostile input.
pub(crate) const RECORD_MAX_DEPTH: usize = 512;

/// The keys that may hold the line, in order of preference.
pub(crate) const LINE_KEYS: [&[u8]; 3] = [b"log", b"message", b"MESSAGE"];

/// How a Docker json-file record starts: its first key is `log` (the
/// preferred line key, [`LINE_KEYS`]`[0]`) and holds a string.
const DOCKER_START: &[u8] = b"{\"log\":\"";

#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    /// The key's content, between its quotes.
    pub key: (usize, usize),
    /// The key has no escapes and is ASCII: its bytes are its canonical form.
    pub plain_key: bool,
    /// The value's JSON text.
    pub value: (usize, usize),
    pub is_string: bool,
    /// The value (or the key) holds invalid UTF-8 or a lone surrogate
    /// escape: the field must be re-encoded rather than copied.
    pub needs_repair: bool,
}

/// How far [`scan`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The whole record was read and checked.
    Complete,
    /// Stopped at the first string under a line key, before reading it: the
    /// caller reads it (see [`string_field`]) and resumes after it. `rank`
    /// is the key's place in [`LINE_KEYS`] (0 is `log`, the preferred one).
    AtLine {
        key: (usize, usize),
        plain_key: bool,
        value: usize,
        rank: usize,
    },
}

/// Where a scan starts: the record's beginning, or just after a value that
/// the caller read itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum From {
    Start,
    AfterValue(usize),
}

/// Reads the record's top-level fields into `fields`, checking them.
/// With `stop_at_line`, stops at the first string under a line key: for a
/// Docker or CRI record that is often all a drop needs. `scratch` decodes
/// escaped keys. Errors are placed in the record.
pub(crate) fn scan(
    record: &[u8],
    from: From,
    fields: &mut Vec<Field>,
    stop_at_line: bool,
    scratch: &mut Vec<u8>,
) -> Result<Scan, Error> {
    scan_fields(record, from, fields, stop_at_line, scratch).map_err(Error::in_record)
}

fn scan_fields(
    record: &[u8],
    from: From,
    fields: &mut Vec<Field>,
    stop_at_line: bool,
    scratch: &mut Vec<u8>,
) -> Result<Scan, Error> {
    let mut pos = match from {
        From::AfterValue(end) => match next_field(record, end)? {
            Some(pos) => pos,
            None => return Ok(Scan::Complete),
        },
        // A Docker record from Fluent Bit starts this way: the line is its
        // first field, found without a scan.
        From::Start if stop_at_line && record.starts_with(DOCKER_START) => {
            return Ok(Scan::AtLine {
                key: (2, 5),
                plain_key: true,
                value: DOCKER_START.len() - 1,
                rank: 0,
            });
        }
        From::Start => {
            let pos = skip_ws(record, 0);
            if at(record, pos) != Some(b'{') {
                return Err(match at(record, pos) {
                    Some(found) => Error::new(ErrorKind::NotAnObject(found), pos),
                    None => Error::new(ErrorKind::Truncated(Expected::Value), pos),
                });
            }
            let pos = skip_ws(record, pos + 1);
            if at(record, pos) == Some(b'}') {
                return trailing(record, pos + 1);
            }
            if at(record, pos) != Some(b'"') {
                return Err(unexpected(record, pos, Expected::KeyOrEnd));
            }
            pos
        }
    };
    loop {
        if at(record, pos) != Some(b'"') {
            return Err(unexpected(record, pos, Expected::Key));
        }
        let key_start = pos + 1;
        let run = find_string_special(record.get(key_start..).unwrap_or_default());
        let plain_key = at(record, key_start + run) == Some(b'"');
        let mut key_check = Validate::default();
        let key_end = if plain_key {
            key_start + run
        } else {
            string(record, key_start, &mut key_check, Strings::Encode)? - 1
        };
        pos = skip_ws(record, key_end + 1);
        if at(record, pos) != Some(b':') {
            return Err(unexpected(record, pos, Expected::Colon));
        }
        pos = skip_ws(record, pos + 1);
        let key = (key_start, key_end);
        let is_string = at(record, pos) == Some(b'"');
        if stop_at_line && is_string {
            let canonical = canonical(record, key, plain_key, scratch);
            if let Some(rank) = line_key_rank(canonical) {
                return Ok(Scan::AtLine {
                    key,
                    plain_key,
                    value: pos,
                    rank,
                });
            }
        }
        let mut field = if is_string {
            string_field(record, key, plain_key, pos)?
        } else {
            let mut check = Validate::default();
            let end =
                copy_value::<_, Plain>(record, pos, &mut check, 0, RECORD_MAX_DEPTH, usize::MAX)?;
            Field {
                key,
                plain_key,
                value: (pos, end),
                is_string,
                needs_repair: check.repaired,
            }
        };
        // A key with invalid UTF-8 makes the record unfit to copy verbatim.
        field.needs_repair |= key_check.repaired;
        fields.push(field);
        match next_field(record, field.value.1)? {
            Some(next) => pos = next,
            None => return Ok(Scan::Complete),
        }
    }
}

/// The fields after the line in their usual form: `,"key":"value"` with
/// plain keys and plain string values (ASCII, no escapes), no whitespace,
/// and the record's `}` as its last byte. Pushes each field as [`scan`]
/// would; `None` as soon as anything differs (some fields may have been
/// pushed): the caller truncates them and scans the general way.
pub(crate) fn plain_string_fields(
    record: &[u8],
    mut pos: usize,
    fields: &mut Vec<Field>,
) -> Option<()> {
    loop {
        match (record.get(pos)?, record.get(pos + 1)) {
            (b'}', None) => return Some(()),
            (b',', Some(b'"')) => {}
            _ => return None,
        }
        let key_start = pos + 2;
        let key_end = key_start + find_string_special(record.get(key_start..)?);
        if record.get(key_end..key_end + 3)? != b"\":\"" {
            return None;
        }
        let value = key_end + 2;
        let value_end = value + 1 + find_string_special(record.get(value + 1..)?);
        if record.get(value_end) != Some(&b'"') {
            return None;
        }
        pos = value_end + 1;
        fields.push(Field {
            key: (key_start, key_end),
            plain_key: true,
            value: (value, pos),
            is_string: true,
            needs_repair: false,
        });
    }
}

/// Reads the string value at `value` (its opening quote) of the field with
/// key `key`.
pub(crate) fn string_field(
    record: &[u8],
    key: (usize, usize),
    plain_key: bool,
    value: usize,
) -> Result<Field, Error> {
    let mut check = Validate::default();
    let end = string(record, value + 1, &mut check, Strings::Encode)?;
    Ok(Field {
        key,
        plain_key,
        value: (value, end),
        is_string: true,
        needs_repair: check.repaired,
    })
}

/// After a value: the position of the next key, or `None` at the record's
/// end (only whitespace may follow it).
fn next_field(record: &[u8], end: usize) -> Result<Option<usize>, Error> {
    let pos = skip_ws(record, end);
    match at(record, pos) {
        Some(b',') => Ok(Some(skip_ws(record, pos + 1))),
        Some(b'}') => trailing(record, pos + 1).map(|_| None),
        _ => Err(unexpected(record, pos, Expected::CommaOrObjectEnd)),
    }
}

/// Only whitespace may follow the record's object.
fn trailing(record: &[u8], pos: usize) -> Result<Scan, Error> {
    let pos = skip_ws(record, pos);
    match at(record, pos) {
        None => Ok(Scan::Complete),
        Some(found) => Err(Error::new(
            ErrorKind::Unexpected {
                found,
                expected: Expected::Value,
            },
            pos,
        )),
    }
}

/// The field's key in canonical (minimally escaped) form, decoded into
/// `scratch` when it is not plain.
pub(crate) fn canonical_key<'a>(
    record: &'a [u8],
    field: &Field,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    canonical(record, field.key, field.plain_key, scratch)
}

fn canonical<'a>(
    record: &'a [u8],
    key: (usize, usize),
    plain: bool,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    if plain {
        return record.get(key.0..key.1).unwrap_or_default();
    }
    scratch.clear();
    // Already checked while scanning; an error cannot happen here.
    let _ = string(record, key.0, scratch, Strings::Encode);
    scratch
}

/// The rank of the line key `key` is (0 for `log`), if it is one.
pub(crate) fn line_key_rank(key: &[u8]) -> Option<usize> {
    LINE_KEYS.iter().position(|k| *k == key)
}

/// The field holding the line, and its key: the first of `log`, `message`,
/// `MESSAGE` present with a string value. When a key repeats, its first
/// string occurrence is the line (as Fluent Bit's record accessor finds it),
/// which lets a drop stop reading at the first `log`.
pub(crate) fn line_field(
    record: &[u8],
    fields: &[Field],
    scratch: &mut Vec<u8>,
) -> Option<(usize, &'static [u8])> {
    let mut found: [Option<usize>; 3] = [None; 3];
    for (i, field) in fields.iter().enumerate().filter(|(_, f)| f.is_string) {
        let key = canonical_key(record, field, scratch);
        if let Some(slot @ None) = line_key_rank(key).and_then(|rank| found.get_mut(rank)) {
            *slot = Some(i);
        }
    }
    found
        .into_iter()
        .zip(LINE_KEYS)
        .find_map(|(index, key)| Some((index?, key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(record: &str) -> Result<Vec<Field>, Error> {
        let mut out = Vec::new();
        assert_eq!(
            scan(
                record.as_bytes(),
                From::Start,
                &mut out,
                false,
                &mut Vec::new()
            )?,
            Scan::Complete
        );
        Ok(out)
    }

    fn line_key(record: &str) -> Option<String> {
        let fs = fields(record).unwrap();
        let mut scratch = Vec::new();
        let (i, key) = line_field(record.as_bytes(), &fs, &mut scratch)?;
        let canonical = canonical_key(record.as_bytes(), &fs[i], &mut scratch);
        assert_eq!(canonical, key);
        Some(String::from_utf8(key.to_vec()).unwrap())
    }

    /// The short scan of the fields after the line reads what the general
    /// scan reads, or gives up.
    #[test]
    fn plain_string_fields_read_like_the_scan_or_give_up() {
        for (rest, plain) in [
            (r#","stream":"stdout","time":"2026-11-24T12:00:00Z"}"#, true),
            ("}", true),
            (r#","a":"x","a":"y"}"#, true),
            (r#","":""}"#, true),
            (r#","n":1}"#, false),
            (r#","s":"t\"q"}"#, false),
            (r#","s":"ü"}"#, false),
            (r#","k\u00e9":"x"}"#, false),
            (r#", "s":"x"}"#, false),
            (r#","s" :"x"}"#, false),
            (r#","s":"x"} "#, false),
            (r#","s":"x""#, false),
            ("", false),
        ] {
            let record = format!(r#"{{"log":"x"{rest}"#);
            let after_line = 10;
            let mut short = Vec::new();
            let read = plain_string_fields(record.as_bytes(), after_line, &mut short);
            assert_eq!(read.is_some(), plain, "{record}");
            if plain {
                let mut general = Vec::new();
                let from = From::AfterValue(after_line);
                let scanned = scan(
                    record.as_bytes(),
                    from,
                    &mut general,
                    false,
                    &mut Vec::new(),
                );
                assert_eq!(scanned, Ok(Scan::Complete), "{record}");
                assert_eq!(format!("{short:?}"), format!("{general:?}"), "{record}");
            }
        }
    }

    #[test]
    fn a_scan_can_stop_at_the_first_log_and_resume() {
        let r = br#"{"time":"t","log":"x","stream":"s","bad":}"#;
        let mut out = Vec::new();
        let stopped = scan(r, From::Start, &mut out, true, &mut Vec::new()).unwrap();
        let at_log = Scan::AtLine {
            key: (13, 16),
            plain_key: true,
            value: 18,
            rank: 0,
        };
        assert_eq!(stopped, at_log);
        assert_eq!(out.len(), 1);
        let log = string_field(r, (13, 16), true, 18).unwrap();
        assert_eq!(log.value, (18, 21));
        // The rest is only checked when it is read.
        assert!(
            scan(
                r,
                From::AfterValue(log.value.1),
                &mut out,
                true,
                &mut Vec::new()
            )
            .is_err()
        );
        let mut out = Vec::new();
        let r = br#"{"log":"x"}"#;
        let mut scratch = Vec::new();
        let at_log = Scan::AtLine {
            key: (2, 5),
            plain_key: true,
            value: 7,
            rank: 0,
        };
        assert_eq!(
            scan(r, From::Start, &mut out, true, &mut scratch).unwrap(),
            at_log
        );
        let rest = scan(r, From::AfterValue(10), &mut out, true, &mut scratch);
        assert_eq!(rest.unwrap(), Scan::Complete);
        let escaped = br#"{"n":1,"MESS\u0041GE":"m"}"#;
        let stopped = scan(escaped, From::Start, &mut out, true, &mut scratch).unwrap();
        assert!(matches!(
            stopped,
            Scan::AtLine {
                plain_key: false,
                rank: 2,
                ..
            }
        ));
        assert_eq!(
            scan(
                br#"{"log":5}"#,
                From::Start,
                &mut out,
                true,
                &mut Vec::new()
            )
            .unwrap(),
            Scan::Complete
        );
    }

    #[test]
    fn top_level_fields_with_their_spans() {
        let r = r#" {"log":"x\n", "stream" : "stdout","n":[1,{"a":2}]} "#;
        let fs = fields(r).unwrap();
        let texts: Vec<&str> = fs.iter().map(|f| &r[f.value.0..f.value.1]).collect();
        assert_eq!(texts, [r#""x\n""#, r#""stdout""#, r#"[1,{"a":2}]"#]);
        assert!(fs[0].is_string && !fs[2].is_string);
    }

    #[test]
    fn preference_log_then_message_then_upper_message() {
        assert_eq!(
            line_key(r#"{"MESSAGE":"a","message":"b","log":"c"}"#).as_deref(),
            Some("log")
        );
        assert_eq!(
            line_key(r#"{"MESSAGE":"a","message":"b"}"#).as_deref(),
            Some("message")
        );
        assert_eq!(
            line_key(r#"{"MESSAGE":"a","_PID":"1"}"#).as_deref(),
            Some("MESSAGE")
        );
        assert_eq!(line_key(r#"{"msg":"a"}"#), None);
    }

    #[test]
    fn a_line_key_must_hold_a_string() {
        assert_eq!(
            line_key(r#"{"log":5,"message":"b"}"#).as_deref(),
            Some("message")
        );
        assert_eq!(line_key(r#"{"log":null}"#), None);
        assert_eq!(line_key(r#"{"log":{"a":"b"}}"#), None);
        // The first string under a repeated key is the line.
        assert_eq!(
            line_key(r#"{"log":7,"log":"a","MESSAGE":"m"}"#).as_deref(),
            Some("log")
        );
        assert_eq!(
            line_key(r#"{"message":"m","log":"a","log":"b"}"#).as_deref(),
            Some("log")
        );
    }

    #[test]
    fn escaped_keys_are_compared_decoded() {
        assert_eq!(line_key(r#"{"l\u006fg":"a"}"#).as_deref(), Some("log"));
    }

    #[test]
    fn invalid_records_are_errors_in_the_record() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a":1"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            "{\"a\":\"\x01\"}",
        ] {
            let e = fields(bad).unwrap_err();
            assert_eq!(e.place(), crate::error::Place::Record, "{bad}");
        }
    }

    #[test]
    fn invalid_utf8_marks_the_value_for_repair() {
        let fs = fields("{\"a\":\"\u{e9}\",\"b\":\"\\ud800\"}").unwrap();
        assert!(!fs[0].needs_repair && fs[1].needs_repair);
        let mut out = Vec::new();
        scan(
            b"{\"a\":[\"\xff\"]}",
            From::Start,
            &mut out,
            false,
            &mut Vec::new(),
        )
        .unwrap();
        assert!(out[0].needs_repair);
    }
}
