//! The one fixture every door is tested against: the corpus in every shape,
//! the expected outcome of each record, and a checker that compares a door's
//! answer with it as JSON values.
//!
//! Used by the core's tests (`tests/`) and by the host's (`cli/tests/`), so
//! the core, the wasm module in the Fluent Bit twin host and the CLI are all
//! held to the same table.
#![allow(dead_code)] // each test crate uses part of it

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

pub fn repo_root() -> PathBuf {
    // The crate using the fixture may sit at any depth below the root.
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    while !dir.join("tests/corpus").is_dir() {
        assert!(
            dir.pop(),
            "no tests/corpus above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir
}

pub fn corpus_dir() -> PathBuf {
    repo_root().join("tests/corpus")
}

/// What the contract says must happen to one record.
#[derive(Clone, Debug)]
pub enum Expected {
    Event(Map<String, Value>),
    Drop,
    Error,
}

/// What a door did with one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Event(String),
    Dropped,
    Kept(String),
    Error(String),
    /// Fluent Bit would lose it (trap, invalid pointer, not a JSON object).
    Lost(String),
}

/// One record in one shape.
#[derive(Clone, Debug)]
pub struct Case {
    pub shape: &'static str,
    /// 1-based line number in the corpus file.
    pub line_no: usize,
    /// The record as JSON text, as Fluent Bit would render it.
    pub record: String,
    /// The raw line, for shapes where the record is `{"log": line}`.
    pub line: Option<String>,
    pub line_key: &'static str,
    pub expected: Expected,
}

fn read_lines(dir: &Path, name: &str) -> Vec<String> {
    let path = dir.join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    // Only `\n` ends a line; a `\r` before it is part of the line (CRLF case).
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    assert_eq!(
        lines.pop().as_deref(),
        Some(""),
        "{name} ends with a newline"
    );
    lines
}

fn expectations(dir: &Path, name: &str) -> Vec<Expected> {
    read_lines(dir, name)
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("expected line is JSON");
            match v["outcome"].as_str() {
                Some("event") => Expected::Event(v["fields"].as_object().expect("fields").clone()),
                Some("drop") => Expected::Drop,
                Some("error") => Expected::Error,
                other => panic!("unknown outcome {other:?}"),
            }
        })
        .collect()
}

fn line_record(line: &str) -> String {
    serde_json::to_string(&serde_json::json!({ "log": line })).expect("serialize")
}

/// Splits a CRI line `<time> <stream> <P|F> <content>` into Fluent Bit's
/// record (the `cri` multiline parser's keys, in its order).
pub fn cri_record(line: &str) -> String {
    let mut parts = line.splitn(4, ' ');
    let (time, stream, tag) = (parts.next(), parts.next(), parts.next());
    let content = parts.next().unwrap_or("");
    let mut map = Map::new();
    map.insert("time".into(), Value::from(time.expect("time")));
    map.insert("stream".into(), Value::from(stream.expect("stream")));
    map.insert("_p".into(), Value::from(tag.expect("P/F")));
    map.insert("log".into(), Value::from(content));
    serde_json::to_string(&map).expect("serialize")
}

/// Every record of the corpus, in every shape.
pub fn all_cases() -> Vec<Case> {
    let dir = corpus_dir();
    cases_in(&dir, &dir)
}

/// Every record of a corpus laid out like `tests/corpus` (one file a shape
/// in `dir`, the expected outcomes in `expected_dir`), in every shape.
pub fn cases_in(dir: &Path, expected_dir: &Path) -> Vec<Case> {
    let plain = expectations(expected_dir, "expected.ndjson");
    let syslog = expectations(expected_dir, "expected.syslog.ndjson");
    let mut cases = Vec::new();
    let mut add = |shape: &'static str,
                   file: &str,
                   expected: &[Expected],
                   line_key: &'static str,
                   to_record: &dyn Fn(&str) -> String,
                   raw: bool| {
        let lines = read_lines(dir, file);
        assert_eq!(
            lines.len(),
            expected.len(),
            "{file} has one expectation per line"
        );
        for (i, (line, exp)) in lines.iter().zip(expected).enumerate() {
            cases.push(Case {
                shape,
                line_no: i + 1,
                record: to_record(line),
                line: raw.then(|| line.clone()),
                line_key,
                expected: exp.clone(),
            });
        }
    };
    add("raw", "connector.log", &plain, "log", &line_record, true);
    add("syslog", "syslog.log", &syslog, "log", &line_record, true);
    add(
        "docker",
        "docker.log",
        &plain,
        "log",
        &|l| l.to_owned(),
        false,
    );
    add("cri", "cri.log", &plain, "log", &cri_record, false);
    add(
        "journal",
        "journal.ndjson",
        &plain,
        "MESSAGE",
        &|l| l.to_owned(),
        false,
    );
    cases
}

/// Numbers compare by value (`-0` equals `0`; integers beyond u64 compare
/// as floats on both sides), everything else structurally.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(p), Some(q), _, _) => p == q,
                (_, _, Some(p), Some(q)) => p == q,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The top-level keys of a JSON object text, in order, duplicates included.
pub fn top_level_keys(text: &str) -> Result<Vec<String>, String> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, _)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let keys = serde::Deserializer::deserialize_map(&mut de, Keys).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(keys)
}

/// Parses an output object, insisting on JSON, an object, no repeated key
/// and no raw NUL.
pub fn parse_output(text: &str) -> Result<Map<String, Value>, String> {
    if text.contains('\0') {
        return Err("output holds a raw NUL".into());
    }
    let keys = top_level_keys(text)?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = keys.iter().find(|k| !seen.insert(k.as_str())) {
        return Err(format!("key {dup:?} appears twice"));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not an object".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks one answer against the contract; `keep` is the `_keep` entry
/// point. Returns a description of the difference, if any.
pub fn check(case: &Case, keep: bool, answer: &Answer) -> Result<(), String> {
    let record: Map<String, Value> =
        serde_json::from_str(&case.record).map_err(|e| format!("fixture: {e}"))?;
    match (&case.expected, answer) {
        (Expected::Event(fields), Answer::Event(text)) => {
            let got = parse_output(text)?;
            let mut want = record.clone();
            want.remove(case.line_key);
            for (k, v) in fields {
                want.insert(k.clone(), v.clone());
            }
            if !json_eq(&Value::Object(got.clone()), &Value::Object(want.clone())) {
                return Err(diff(&want, &got));
            }
            Ok(())
        }
        (Expected::Drop, Answer::Dropped) if !keep => Ok(()),
        (Expected::Drop, Answer::Kept(text)) if keep => {
            let got = parse_output(text)?;
            if !json_eq(&Value::Object(got), &Value::Object(record)) {
                return Err(format!("kept record changed: {text}"));
            }
            Ok(())
        }
        (Expected::Error, Answer::Error(text)) => {
            let mut got = parse_output(text)?;
            let message = got.remove("twingate.parse_error");
            match message {
                Some(Value::String(m)) if m.contains("byte ") => {}
                other => return Err(format!("twingate.parse_error should say where: {other:?}")),
            }
            if !json_eq(&Value::Object(got), &Value::Object(record)) {
                return Err(format!(
                    "error record is not the original record plus the reason: {text}"
                ));
            }
            Ok(())
        }
        (expected, answer) => Err(format!("expected {}, got {answer:?}", name(expected))),
    }
}

/// The answer the contract asks for (an error record's reason is a
/// placeholder: only its presence is checked).
pub fn contract_answer(case: &Case, keep: bool) -> Answer {
    let mut record: Map<String, Value> = serde_json::from_str(&case.record).expect("fixture");
    match &case.expected {
        Expected::Event(fields) => {
            record.remove(case.line_key);
            record.extend(fields.clone());
            Answer::Event(Value::Object(record).to_string())
        }
        Expected::Drop if keep => Answer::Kept(case.record.clone()),
        Expected::Drop => Answer::Dropped,
        Expected::Error => {
            record.insert("twingate.parse_error".into(), "reason at byte 0".into());
            Answer::Error(Value::Object(record).to_string())
        }
    }
}

fn name(e: &Expected) -> &'static str {
    match e {
        Expected::Event(_) => "an event",
        Expected::Drop => "a drop",
        Expected::Error => "an error record",
    }
}

fn diff(want: &Map<String, Value>, got: &Map<String, Value>) -> String {
    let mut s = String::new();
    for (k, v) in want {
        match got.get(k) {
            None => {
                let _ = write!(s, " missing {k}={v};");
            }
            Some(g) if !json_eq(g, v) => {
                let _ = write!(s, " {k}: want {v} got {g};");
            }
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        let _ = write!(s, " extra {k}={};", got[k]);
    }
    s
}

/// Runs `door` over every case and panics with the first few differences.
pub fn assert_conforms(
    door_name: &str,
    keep: bool,
    cases: &[Case],
    mut door: impl FnMut(&Case) -> Answer,
) {
    let mut failures = Vec::new();
    for case in cases {
        let answer = door(case);
        if let Err(why) = check(case, keep, &answer) {
            let mut why = format!("{} line {}: {why}", case.shape, case.line_no);
            if why.len() > 600 {
                let cut = (0..=600)
                    .rev()
                    .find(|&i| why.is_char_boundary(i))
                    .unwrap_or(0);
                why.truncate(cut);
                why.push_str(" [...]");
            }
            failures.push(why);
        }
    }
    assert!(
        failures.is_empty(),
        "{door_name}: {} of {} records differ from the contract:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
