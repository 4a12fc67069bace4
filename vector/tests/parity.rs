//! Parity: the VRL program of `vector.toml`, run by the vrl crate (the
//! engine inside Vector), against the core transform, over the whole corpus.
//!
//! Vector hands the remap program the line as `.message`, so the corpus's
//! five shapes collapse to three here: the raw line and the syslog line
//! (each as `{"message": line}`), and the journal record with its `MESSAGE`
//! as `.message` (what Vector's `journald` source makes), which also checks
//! that the record's other fields survive.
//!
//! Every record must come out the same as the core's answer, as JSON values
//! compared down to the text of each number, except for the differences
//! documented in docs/vector.md. Each differing record is classified into
//! one of those kinds; the test fails on any difference it cannot classify,
//! and on any kind expected in the corpus that does not occur.
//!
//! The vrl crate is the release Vector 0.57.0 was built with here (0.34.0);
//! `real_vector.rs` runs the same program in the real binary.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use twingate_analytics::{Options, Outcome as Core, Transformer};
use twingate_vector::{Outcome, Remap, event_time_text};

/// The documented differences (docs/vector.md, "Differences").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Objects come out with their keys sorted (Vector's event is a sorted
    /// map), not record keys first and then payload order.
    KeyOrder,
    /// An integer outside i64 becomes a float: written in float form, and
    /// rounded to 53 bits when larger than 2^53.
    BigInteger,
    /// `-0` is written `-0.0`.
    NegativeZero,
    /// Another float written in VRL's shortest form (`1E3` -> `1000.0`,
    /// `1.50` -> `1.5`); same value.
    FloatText,
    /// A number too large for a float (`1e400`): VRL's parser rejects the
    /// payload, so the event becomes an error record (the core writes the
    /// number as a string of its text).
    NumberOutOfRange,
    /// The payload's integer `timestamp` (epoch milliseconds, 0 to
    /// 9999-12-31T23:59:59.999Z) is the event's `timestamp` as a Vector
    /// timestamp (written in RFC 3339), not the integer.
    EventTime,
    /// Any other payload `timestamp` goes to `twingate.timestamp`, leaving
    /// Vector's own `timestamp` in place.
    EventTimeMoved,
    /// A container at the 17th level inside an array is a string of its
    /// compact JSON text on both sides, but VRL writes that text with its
    /// keys sorted and its numbers in VRL's form.
    DeepArrayText,
}

/// The kinds the shared corpus exercises (each must occur at least once).
const IN_CORPUS: [Kind; 4] = [
    Kind::KeyOrder,
    Kind::BigInteger,
    Kind::NegativeZero,
    Kind::EventTime,
];

/// Levels an array keeps, the array counted (TEAM.md decision 1): a
/// container that would be the 17th level inside an array is a string of
/// its JSON text. The core's constant; the program has 16 written in it.
use twingate_analytics::ARRAY_MAX_DEPTH;

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One side's answer for one record.
#[derive(Debug)]
enum Answer {
    Event(String),
    Dropped,
    Error(String),
}

fn repo_root() -> PathBuf {
    support::repo_root()
}

fn remap() -> Remap {
    let remap = Remap::from_config_file(&repo_root().join("vector.toml"), "twingate_analytics")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        remap.warnings().is_empty(),
        "the VRL compiles with warnings:\n{}",
        remap.warnings().join("\n")
    );
    remap
}

fn vrl_answer(remap: &Remap, event: &Map<String, Value>) -> Result<Answer, String> {
    match remap.run(event) {
        Outcome::Aborted => Ok(Answer::Dropped),
        Outcome::Failed(e) => Err(format!("VRL runtime error: {e}")),
        Outcome::Event(text) => {
            let map = support::parse_output(&text)?;
            if map.contains_key("twingate.parse_error") {
                Ok(Answer::Error(text))
            } else {
                Ok(Answer::Event(text))
            }
        }
    }
}

fn core_answer(outcome: Core, output: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(output).into_owned();
    match outcome {
        Core::Event => Answer::Event(text),
        Core::Dropped | Core::Kept => Answer::Dropped,
        Core::Error(_) => Answer::Error(text),
    }
}

/// A JSON value that keeps each number's text and each object's key order.
#[derive(Clone, Debug, PartialEq)]
enum J {
    Number(String),
    Scalar(Value),
    Array(Vec<J>),
    Object(Vec<String>, BTreeMap<String, J>),
}

fn read(raw: &RawValue) -> Result<J, String> {
    let text = raw.get().trim_start();
    match text.as_bytes().first() {
        Some(b'{') => {
            let keys = support::top_level_keys(text)?;
            let map: BTreeMap<String, &RawValue> =
                serde_json::from_str(text).map_err(|e| e.to_string())?;
            let values = map
                .into_iter()
                .map(|(k, v)| Ok((k, read(v)?)))
                .collect::<Result<_, String>>()?;
            Ok(J::Object(keys, values))
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| e.to_string())?;
            Ok(J::Array(
                items.into_iter().map(read).collect::<Result<_, _>>()?,
            ))
        }
        Some(b'-' | b'0'..=b'9') => Ok(J::Number(text.trim_end().to_owned())),
        _ => Ok(J::Scalar(
            serde_json::from_str(text).map_err(|e| e.to_string())?,
        )),
    }
}

fn parse_j(text: &str) -> Result<J, String> {
    let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
    read(raw)
}

fn is_integer_text(t: &str) -> bool {
    !t.contains(['.', 'e', 'E'])
}

/// Classifies one number whose text differs.
fn number_kind(core: &str, vrl: &str) -> Option<Kind> {
    let same_value = match (core.parse::<f64>(), vrl.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b && a.is_sign_negative() == b.is_sign_negative(),
        _ => false,
    };
    if !same_value || is_integer_text(vrl) {
        return None;
    }
    if core == "-0" {
        Some(Kind::NegativeZero)
    } else if is_integer_text(core) {
        // Only integers that do not fit i64 may change form.
        core.parse::<i64>().is_err().then_some(Kind::BigInteger)
    } else {
        Some(Kind::FloatText)
    }
}

/// Walks both values; records each difference's kind, or a description of
/// an unclassified one. `level` is the level of the values inside the
/// outermost array around them (0: in no array).
fn compare(
    core: &J,
    vrl: &J,
    path: &str,
    level: usize,
    kinds: &mut BTreeSet<Kind>,
    other: &mut Vec<String>,
) {
    let inner = |c: &J| match c {
        J::Array(_) => level + 1,
        J::Object(..) if level > 0 => level + 1,
        _ => level,
    };
    match (core, vrl) {
        (J::Number(a), J::Number(b)) if a != b => match number_kind(a, b) {
            Some(kind) => {
                kinds.insert(kind);
            }
            None => other.push(format!("{path}: number {a} became {b}")),
        },
        (J::Array(a), J::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), inner(core), kinds, other);
            }
        }
        (J::Object(ka, a), J::Object(kb, b)) => {
            for (k, x) in a {
                match b.get(k) {
                    Some(y) => compare(x, y, &format!("{path}.{k:?}"), inner(core), kinds, other),
                    None => other.push(format!("{path}: key {k:?} missing")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                other.push(format!("{path}: extra key {k:?}"));
            }
            // Order only matters once the keys agree (else reported above).
            if ka != kb && a.len() == b.len() && a.keys().all(|k| b.contains_key(k)) {
                let mut sorted = ka.clone();
                sorted.sort();
                if *kb == sorted {
                    kinds.insert(Kind::KeyOrder);
                } else {
                    other.push(format!("{path}: keys in order {kb:?}, not sorted"));
                }
            }
        }
        (a, b) if a == b => {}
        (J::Scalar(Value::String(a)), J::Scalar(Value::String(b)))
            if level == ARRAY_MAX_DEPTH && same_json_text(a, b) =>
        {
            kinds.insert(Kind::DeepArrayText);
        }
        (a, b) => other.push(format!("{path}: {a:?} became {b:?}")),
    }
}

/// Two texts of the same JSON container (as values: keys in any order,
/// numbers by value), the second compact.
fn same_json_text(a: &str, b: &str) -> bool {
    let (Ok(x), Ok(y)) = (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) else {
        return false;
    };
    (x.is_array() || x.is_object()) && support::json_eq(&x, &y) && is_compact(b)
}

/// True when a JSON text has no blank outside its strings.
fn is_compact(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .is_ok_and(|v| serde_json::to_string(&v).is_ok_and(|t| t.len() == text.len()))
}

/// TEAM.md decision 3, checked at the top level of an event and undone in
/// VRL's value, so that the rest compares with the core's record: the
/// payload's `timestamp` (epoch milliseconds, in range) must be the event's
/// timestamp, any other payload `timestamp` must be under
/// `twingate.timestamp` (the input had no `timestamp` of its own).
fn event_time(core: &J, vrl: &mut J, kinds: &mut BTreeSet<Kind>, other: &mut Vec<String>) {
    let (J::Object(_, c), J::Object(vrl_keys, v)) = (core, vrl) else {
        return;
    };
    let Some(payload) = c.get("timestamp") else {
        return;
    };
    let time = match payload {
        J::Number(text) => text.parse::<i64>().ok().and_then(event_time_text),
        _ => None,
    };
    if let Some(time) = time {
        if v.get("timestamp") == Some(&J::Scalar(Value::String(time.clone()))) {
            kinds.insert(Kind::EventTime);
            v.insert("timestamp".to_owned(), payload.clone());
        } else {
            other.push(format!(
                "the payload's timestamp {payload:?} should be the event time {time}, not {:?}",
                v.get("timestamp")
            ));
        }
    } else if !v.contains_key("timestamp")
        && let Some(moved) = v.remove("twingate.timestamp")
    {
        kinds.insert(Kind::EventTimeMoved);
        v.insert("timestamp".to_owned(), moved);
        for key in vrl_keys.iter_mut().filter(|k| *k == "twingate.timestamp") {
            "timestamp".clone_into(key);
        }
        vrl_keys.sort();
    } else {
        other.push(format!(
            "the payload's timestamp {payload:?} should be under twingate.timestamp"
        ));
    }
}

/// The kinds of difference between the core's answer and VRL's for one
/// record (`input` is the event VRL was given), or why they are not
/// classifiable.
fn classify(
    core: &Answer,
    vrl: &Answer,
    input: &Map<String, Value>,
) -> Result<BTreeSet<Kind>, String> {
    let mut kinds = BTreeSet::new();
    let mut other = Vec::new();
    match (core, vrl) {
        (Answer::Dropped, Answer::Dropped) => {}
        (Answer::Event(c), Answer::Event(v)) => {
            let core = parse_j(c)?;
            let mut vrl = parse_j(v)?;
            event_time(&core, &mut vrl, &mut kinds, &mut other);
            compare(&core, &vrl, "", 0, &mut kinds, &mut other);
        }
        (Answer::Error(_), Answer::Error(v)) => {
            // VRL's own reason; the record around it must be the input, as is.
            let mut got = support::parse_output(v)?;
            match got.remove("twingate.parse_error") {
                Some(Value::String(m)) if m.contains("byte ") => {}
                m => other.push(format!("twingate.parse_error should say where: {m:?}")),
            }
            if got != *input {
                other.push(format!(
                    "the error record is not the input plus the reason: {v}"
                ));
            }
        }
        (Answer::Event(c), Answer::Error(v)) if out_of_range_number(c) => {
            kinds.insert(Kind::NumberOutOfRange);
            if !v.contains("number out of range") {
                other.push(format!("unexpected reason: {v}"));
            }
        }
        (c, v) => other.push(format!("core {c:?}, VRL {v:?}")),
    }
    if other.is_empty() {
        Ok(kinds)
    } else {
        Err(other.join("; "))
    }
}

/// True when the core's event holds a number that overflows a float.
/// Whether the core's event holds a number beyond a double, which the core
/// writes as a string of its text (`"1e400"`).
fn out_of_range_number(core_event: &str) -> bool {
    fn walk(j: &J) -> bool {
        match j {
            J::Scalar(Value::String(t)) => t.parse::<f64>().is_ok_and(f64::is_infinite),
            J::Array(items) => items.iter().any(walk),
            J::Object(_, map) => map.values().any(walk),
            J::Number(_) | J::Scalar(_) => false,
        }
    }
    parse_j(core_event).is_ok_and(|j| walk(&j))
}

/// The event Vector's remap sees for a case, and the core's answer for it.
fn inputs(case: &support::Case, core: &mut Transformer) -> Option<(Map<String, Value>, Answer)> {
    let options = Options::flatten();
    match (case.shape, &case.line) {
        ("raw" | "syslog", Some(line)) => {
            let mut event = Map::new();
            event.insert("message".into(), Value::from(line.as_str()));
            let outcome = core.transform_line(line.as_bytes(), options);
            Some((event, core_answer(outcome, core.output())))
        }
        ("journal", _) => {
            // Vector's journald source: MESSAGE becomes `.message`.
            let record: Map<String, Value> =
                serde_json::from_str(&case.record).expect("journal record");
            let event = record
                .into_iter()
                .map(|(k, v)| {
                    if k == "MESSAGE" {
                        ("message".to_owned(), v)
                    } else {
                        (k, v)
                    }
                })
                .collect();
            let outcome = core.transform_record(case.record.as_bytes(), options);
            Some((event, core_answer(outcome, core.output())))
        }
        _ => None,
    }
}

#[test]
fn vrl_matches_the_core_on_the_whole_corpus_but_for_documented_differences() {
    let remap = remap();
    let mut core = Transformer::new();
    let mut seen: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut per_shape: BTreeMap<&str, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unclassified = Vec::new();
    let mut failures = Vec::new();
    let mut deep_path = 0;
    for case in support::all_cases() {
        let Some((event, core_says)) = inputs(&case, &mut core) else {
            continue;
        };
        *per_shape.entry(case.shape).or_default() += 1;
        if let (Answer::Event(_), Some(Value::String(message))) = (&core_says, event.get("message"))
        {
            deep_path += usize::from(may_hold_deep_arrays(message));
        }
        *outcomes
            .entry(match core_says {
                Answer::Event(_) => "event",
                Answer::Dropped => "drop",
                Answer::Error(_) => "error",
            })
            .or_default() += 1;
        let where_ = format!("{} line {}", case.shape, case.line_no);
        let vrl_says = match vrl_answer(&remap, &event) {
            Ok(answer) => answer,
            Err(e) => {
                failures.push(format!("{where_}: {e}"));
                continue;
            }
        };
        match classify(&core_says, &vrl_says, &event) {
            Ok(kinds) => {
                for kind in kinds {
                    assert!(
                        IN_CORPUS.contains(&kind),
                        "{where_}: {kind} is documented as outside the corpus"
                    );
                    *seen.entry(kind).or_default() += 1;
                }
            }
            Err(why) => {
                let mut why = format!("{where_}: {why}");
                if why.len() > 700 {
                    why.truncate(why.floor_char_boundary(700));
                    why.push_str(" [...]");
                }
                unclassified.push(why);
            }
        }
    }
    eprintln!("records per shape: {per_shape:?}; core outcomes: {outcomes:?}");
    eprintln!("documented differences (records): {seen:?}");
    // The array bound's re-parse stays off the common path.
    let events = outcomes.get("event").copied().unwrap_or_default();
    eprintln!("events whose arrays are re-parsed for the bound: {deep_path} of {events}");
    assert!(
        deep_path * 100 < events,
        "the array bound re-parses {deep_path} of {events} events"
    );
    assert_eq!(
        per_shape.values().sum::<usize>(),
        6000,
        "three shapes of 2000 records"
    );
    for kind in ["event", "drop", "error"] {
        assert!(
            outcomes.get(kind).is_some_and(|n| *n > 0),
            "no {kind} in the corpus"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        unclassified.is_empty(),
        "{} records differ in undocumented ways:\n{}",
        unclassified.len(),
        unclassified
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let missing: Vec<Kind> = IN_CORPUS
        .iter()
        .copied()
        .filter(|k| !seen.contains_key(k))
        .collect();
    assert!(
        missing.is_empty(),
        "documented but never seen in the corpus: {missing:?}"
    );
}

/// Lines outside the corpus, one per documented kind the corpus does not
/// exercise, and a few the VRL handles that one might expect to differ.
#[test]
fn documented_differences_outside_the_corpus() {
    let remap = remap();
    let mut core = Transformer::new();
    let header_512 = format!("{}: ANALYTICS {{}}", "h".repeat(512));
    let header_513 = format!("{}: ANALYTICS {{}}", "h".repeat(513));
    let lines: [(&str, &[Kind]); 13] = [
        (r#"ANALYTICS {"a":1E3,"b":1.50}"#, &[Kind::FloatText]),
        (r#"ANALYTICS {"a":1e400}"#, &[Kind::NumberOutOfRange]),
        (
            r#"ANALYTICS {"z":9223372036854775808}"#,
            &[Kind::BigInteger],
        ),
        (
            r#"ANALYTICS {"z":1,"a":-0}"#,
            &[Kind::KeyOrder, Kind::NegativeZero],
        ),
        // Handled by the VRL: no difference.
        (
            r#"ANALYTICS {"a":"\udc00 \\ud800 \ud83d\ude00","b":{}}"#,
            &[],
        ),
        (
            r#"h: ANALYTICS {"a":{"b":[{}]}}   {"fused":true} "#,
            &[Kind::KeyOrder],
        ),
        (
            r#"ANALYTICS {"a":{"a":1},"location":"{\"geo\":{\"x\":{}}}"}"#,
            &[],
        ),
        (r#"ANALYTICS  {"a":[1,2]"#, &[]),
        // The syslog header rules: at most 512 bytes, no `{`, first match.
        (&header_512, &[]),
        (&header_513, &[]),
        (r#"x {y}: ANALYTICS {"a":1}"#, &[]),
        (r#"h: ANALYTICSX b: ANALYTICS {"a":1}"#, &[]),
        ("ANALYTICS\t{}\r\n", &[]),
    ];
    for (line, want) in lines {
        let mut event = Map::new();
        event.insert("message".into(), Value::from(line));
        let outcome = core.transform_line(line.as_bytes(), Options::flatten());
        let core_says = core_answer(outcome, core.output());
        let vrl_says = vrl_answer(&remap, &event).unwrap_or_else(|e| panic!("{line}: {e}"));
        let got = classify(&core_says, &vrl_says, &event)
            .unwrap_or_else(|e| panic!("{line}: {e}\ncore {core_says:?}\nVRL {vrl_says:?}"));
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            want,
            "{line}\ncore {core_says:?}\nVRL {vrl_says:?}"
        );
    }
}

/// The classifier itself: a real difference must not pass as a documented
/// one.
#[test]
fn the_classifier_rejects_real_differences() {
    let input = Map::new();
    let event = |t: &str| Answer::Event(t.to_owned());
    let ok = |c: &str, v: &str| classify(&event(c), &event(v), &input);
    assert_eq!(ok(r#"{"a":1}"#, r#"{"a":1}"#), Ok(BTreeSet::new()));
    assert!(ok(r#"{"a":1}"#, r#"{"a":2}"#).is_err());
    assert!(
        ok(r#"{"a":1}"#, r#"{"a":1.0}"#).is_err(),
        "an i64 must stay an integer"
    );
    assert!(ok(r#"{"a":"x"}"#, r#"{"a":"y"}"#).is_err());
    assert!(ok(r#"{"a":1}"#, r#"{"a":1,"b":2}"#).is_err());
    assert!(ok(r#"{"a":{}}"#, r#"{}"#).is_err());
    assert!(ok(r#"{"a":[1]}"#, r#"{"a":[1,1]}"#).is_err());
    assert!(ok(r#"{"b":1,"a":2}"#, r#"{"b":1,"a":2}"#).is_ok());
    assert!(
        ok(r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#).is_err(),
        "unsorted is not VRL's order"
    );
    assert_eq!(
        ok(
            r#"{"a":18446744073709551616}"#,
            r#"{"a":1.8446744073709552e19}"#
        ),
        Ok([Kind::BigInteger].into())
    );
    assert!(ok(r#"{"a":18446744073709551617}"#, r#"{"a":1.9e19}"#).is_err());
    assert!(classify(&Answer::Dropped, &event("{}"), &input).is_err());
    assert!(classify(&event("{}"), &Answer::Dropped, &input).is_err());
    let error = |reason: &str| {
        Answer::Error(serde_json::json!({ "twingate.parse_error": reason }).to_string())
    };
    assert!(classify(&error("x at byte 3"), &error("y at byte 4"), &input).is_ok());
    assert!(classify(&error("x at byte 3"), &error("no position"), &input).is_err());
}

/// The program's guard for the array bound, on the line's text from the
/// payload on: 16 brackets after some `[` (those after the first `[` are
/// the most), a condition every payload with a container at the 17th level
/// of an array meets.
fn may_hold_deep_arrays(line: &str) -> bool {
    let payload = line.find("ANALYTICS").map_or("", |at| &line[at..]);
    payload.find('[').is_some_and(|at| {
        payload[at + 1..]
            .bytes()
            .filter(|b| matches!(b, b'[' | b'{'))
            .count()
            >= ARRAY_MAX_DEPTH
    })
}

/// `n` nested arrays around `inner`.
fn nested(n: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[".repeat(n), "]".repeat(n))
}

/// Checks `got` (VRL's value of a field) against `source` (the payload's
/// value there) under the array bound: containers down to level 16 of the
/// outermost array as they were, a container at level 17 a string of its
/// compact JSON text. `level` is the level `source` sits at (0: in no
/// array).
fn check_bound(source: &Value, got: &Value, level: usize, path: &str) -> Result<(), String> {
    let here = match source {
        Value::Array(_) => level + 1,
        Value::Object(_) if level > 0 => level + 1,
        _ => level,
    };
    match (source, got) {
        (Value::Array(_) | Value::Object(_), Value::String(text)) if here > ARRAY_MAX_DEPTH => {
            let parsed: Value = serde_json::from_str(text)
                .map_err(|e| format!("{path}: not JSON text ({e}): {text}"))?;
            if !support::json_eq(source, &parsed) || !is_compact(text) {
                return Err(format!(
                    "{path}: {text} is not the compact text of {source}"
                ));
            }
            Ok(())
        }
        (Value::Array(_) | Value::Object(_), _) if here > ARRAY_MAX_DEPTH => Err(format!(
            "{path}: level {here} inside an array should be a string, got {got}"
        )),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                check_bound(x, y, here, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Object(a), Value::Object(b)) if a.len() == b.len() => {
            for (k, x) in a {
                let y = b
                    .get(k)
                    .ok_or_else(|| format!("{path}: key {k:?} missing"))?;
                check_bound(x, y, here, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (a, b) if support::json_eq(a, b) => Ok(()),
        (a, b) => Err(format!("{path}: {a} became {b}")),
    }
}

/// TEAM.md decision 1 in VRL: `parse_json(encode_json(v), max_depth: 16)`
/// on each array value keeps 16 levels and writes deeper containers as
/// their compact JSON text (keys sorted, VRL's number form).
#[test]
fn arrays_keep_16_levels_and_deeper_containers_become_json_text() {
    let remap = remap();
    let mut core = Transformer::new();
    let deep_object = format!(r#"{{"z" : 1.50, "a" : {}}}"#, nested(3, "1"));
    // (flattened field, its value, how the payload holds it, deeper than
    // 16 levels inside an array)
    let cases: Vec<(&str, String, &str, bool)> = vec![
        ("a", nested(16, "1"), "a", false),
        ("a", nested(15, "{}"), "a", false),
        ("a", nested(16, "{}"), "a", true),
        ("a", nested(17, "1"), "a", true),
        (
            "a",
            nested(15, &format!("[1, {deep_object}], 2")),
            "a",
            true,
        ),
        ("a", nested(20, "1, 2"), "a", true),
        // An object at level 1 of an array, and arrays inside it.
        ("r", format!("[{{\"x\": {}}}]", nested(14, "1")), "r", false),
        ("r", format!("[{{\"x\": {}}}]", nested(15, "1")), "r", true),
        // Objects outside arrays are flattened, whatever their depth.
        ("o.o.o", nested(17, "1"), "o\": {\"o\": {\"o", true),
        // Many brackets, shallow: the slow path, output unchanged.
        (
            "many",
            format!("[{}]", vec!["{\"k\":[1]}"; 20].join(",")),
            "many",
            false,
        ),
    ];
    for (field, value, holder, deep) in cases {
        let closing = "}".repeat(holder.matches('{').count());
        let line = format!(r#"ANALYTICS {{"{holder}": {value}{closing}, "event_type": "x"}}"#);
        let mut event = Map::new();
        event.insert("message".into(), Value::from(line.as_str()));
        let vrl_says = vrl_answer(&remap, &event).unwrap_or_else(|e| panic!("{line}: {e}"));
        let Answer::Event(text) = &vrl_says else {
            panic!("{line}: VRL gave {vrl_says:?}, not an event");
        };
        let got = support::parse_output(text).unwrap_or_else(|e| panic!("{line}: {e}"));
        let source: Value = serde_json::from_str(&value).expect("test value");
        let field_value = got
            .get(field)
            .unwrap_or_else(|| panic!("{line}: no {field} in {text}"));
        check_bound(&source, field_value, 0, field).unwrap_or_else(|e| panic!("{line}:\n{e}"));
        let as_text = field_value.to_string();
        assert_eq!(
            deep,
            as_text.contains("\"[") || as_text.contains("\"{"),
            "{line}: {as_text}"
        );
        let outcome = core.transform_line(line.as_bytes(), Options::flatten());
        let core_says = core_answer(outcome, core.output());
        // The core keeps the same bound: the same answer, but for the
        // documented differences (in the deep text too).
        let kinds =
            classify(&core_says, &vrl_says, &event).unwrap_or_else(|e| panic!("{line}: {e}"));
        let allowed = [Kind::KeyOrder, Kind::FloatText, Kind::DeepArrayText];
        assert!(
            kinds.iter().all(|k| allowed.contains(k)),
            "{line}: {kinds:?}"
        );
        assert_eq!(
            kinds.contains(&Kind::DeepArrayText),
            value.contains(&deep_object),
            "{line}: the deep text differs only where the payload's keys are unsorted (and its number is 1.50)"
        );
    }
}

/// TEAM.md decision 3: the payload's `timestamp` and Vector's own, with the
/// input carrying a Vector timestamp as the sources set it; the other
/// fields of the source stay unless the payload has the same key.
#[test]
fn the_payload_timestamp_becomes_the_event_time_or_moves_aside() {
    let remap = remap();
    let vector_time_ms = 1_764_000_000_000;
    let vector_time = event_time_text(vector_time_ms).expect("in range");
    let cases: [(&str, Option<&str>, Option<Value>); 12] = [
        ("1623288585643", Some("2021-06-10T01:29:45.643Z"), None),
        ("1623288585000", Some("2021-06-10T01:29:45Z"), None),
        ("0", Some("1970-01-01T00:00:00Z"), None),
        ("253402300799999", Some("9999-12-31T23:59:59.999Z"), None),
        (
            "253402300800000",
            None,
            Some(253_402_300_800_000_i64.into()),
        ),
        ("-1", None, Some((-1).into())),
        ("\"1623288585643\"", None, Some("1623288585643".into())),
        ("1623288585643.0", None, Some(1_623_288_585_643.0.into())),
        ("null", None, Some(Value::Null)),
        ("true", None, Some(true.into())),
        (
            "[1623288585643]",
            None,
            Some(serde_json::json!([1_623_288_585_643_i64])),
        ),
        (
            "18446744073709551616",
            None,
            Some(18_446_744_073_709_551_616.0.into()),
        ),
    ];
    let source_event = |message: &str| {
        let mut event = Map::new();
        for (k, v) in [
            ("message", message),
            ("host", "node-1"),
            ("source_type", "journald"),
            ("_SYSTEMD_UNIT", "twingate-connector.service"),
        ] {
            event.insert(k.into(), Value::from(v));
        }
        event
    };
    let run = |message: &str| match remap.run_at(&source_event(message), vector_time_ms) {
        Outcome::Event(text) => support::parse_output(&text).unwrap_or_else(|e| panic!("{e}")),
        other => panic!("{message}: {other:?}"),
    };
    for (payload_time, event_time, moved) in cases {
        let line = format!(r#"ANALYTICS {{"event_type":"x","timestamp":{payload_time}}}"#);
        let got = run(&line);
        let want_time = event_time.map_or(vector_time.clone(), str::to_owned);
        assert_eq!(
            got.get("timestamp"),
            Some(&Value::from(want_time)),
            "{line}"
        );
        match (&moved, got.get("twingate.timestamp")) {
            (Some(want), Some(value)) if support::json_eq(want, value) => {}
            (None, None) => {}
            (want, value) => panic!("{line}: twingate.timestamp {value:?}, want {want:?}"),
        }
        for (k, v) in [("host", "node-1"), ("source_type", "journald")] {
            assert_eq!(got.get(k), Some(&Value::from(v)), "{line}: {k}");
        }
        assert_eq!(
            got.get("message"),
            None,
            "{line}: the line stays in the event"
        );
    }
    // No payload timestamp, or one nested under it: Vector's stays.
    for line in [
        r#"ANALYTICS {"event_type":"x"}"#,
        r#"ANALYTICS {"timestamp":{"ms":5}}"#,
    ] {
        let got = run(line);
        assert_eq!(
            got.get("timestamp"),
            Some(&Value::from(vector_time.as_str()))
        );
        assert_eq!(got.get("twingate.timestamp"), None, "{line}");
    }
    assert_eq!(
        run(r#"ANALYTICS {"timestamp":{"ms":5}}"#).get("timestamp.ms"),
        Some(&Value::from(5))
    );
    // A broken line: the event as it came, Vector's time included.
    let got = run(r#"ANALYTICS {"timestamp":1623288585643"#);
    assert_eq!(
        got.get("timestamp"),
        Some(&Value::from(vector_time.as_str()))
    );
    assert!(got.contains_key("twingate.parse_error"));
    // Other payload keys replace the source's fields of the same name (the
    // contract's rule); `message` is the line and leaves.
    let got = run(r#"ANALYTICS {"host":"payload","source_type":"p","message":"m"}"#);
    for (k, v) in [("host", "payload"), ("source_type", "p"), ("message", "m")] {
        assert_eq!(got.get(k), Some(&Value::from(v)), "{k}");
    }
    assert_eq!(
        got.get("_SYSTEMD_UNIT"),
        Some(&Value::from("twingate-connector.service"))
    );
}
