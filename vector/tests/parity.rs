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
//! documented in docs-draft/vector.md. Each differing record is classified
//! into one of those kinds; the test fails on any difference it cannot
//! classify, and on any kind expected in the corpus that does not occur.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use twingate_analytics::{Options, Outcome as Core, Transformer};
use twingate_vector::{Outcome, Remap};

/// The documented differences (docs-draft/vector.md, "Differences").
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
    /// payload, so the event becomes an error record.
    NumberOutOfRange,
}

/// The kinds the shared corpus exercises (each must occur at least once).
const IN_CORPUS: [Kind; 3] = [Kind::KeyOrder, Kind::BigInteger, Kind::NegativeZero];

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
#[derive(Debug, PartialEq)]
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
/// an unclassified one.
fn compare(core: &J, vrl: &J, path: &str, kinds: &mut BTreeSet<Kind>, other: &mut Vec<String>) {
    match (core, vrl) {
        (J::Number(a), J::Number(b)) if a != b => match number_kind(a, b) {
            Some(kind) => {
                kinds.insert(kind);
            }
            None => other.push(format!("{path}: number {a} became {b}")),
        },
        (J::Array(a), J::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"), kinds, other);
            }
        }
        (J::Object(ka, a), J::Object(kb, b)) => {
            for (k, x) in a {
                match b.get(k) {
                    Some(y) => compare(x, y, &format!("{path}.{k:?}"), kinds, other),
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
        (a, b) => other.push(format!("{path}: {a:?} became {b:?}")),
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
            compare(&parse_j(c)?, &parse_j(v)?, "", &mut kinds, &mut other);
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
fn out_of_range_number(core_event: &str) -> bool {
    fn walk(j: &J) -> bool {
        match j {
            J::Number(t) => t.parse::<f64>().is_ok_and(f64::is_infinite),
            J::Array(items) => items.iter().any(walk),
            J::Object(_, map) => map.values().any(walk),
            J::Scalar(_) => false,
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
    for case in support::all_cases() {
        let Some((event, core_says)) = inputs(&case, &mut core) else {
            continue;
        };
        *per_shape.entry(case.shape).or_default() += 1;
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
                    let cut = (0..=700)
                        .rev()
                        .find(|&i| why.is_char_boundary(i))
                        .unwrap_or(0);
                    why.truncate(cut);
                    why.push_str(" [...]");
                }
                unclassified.push(why);
            }
        }
    }
    eprintln!("records per shape: {per_shape:?}; core outcomes: {outcomes:?}");
    eprintln!("documented differences (records): {seen:?}");
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
