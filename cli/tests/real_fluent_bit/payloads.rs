//! Payloads that tripped the real host (issue 14), through each entry
//! point of `examples/fluent-bit/docker.conf`:
//!
//! - duplicate keys: the last value replaces the whole earlier one, with
//!   everything under it (`{"a":{"b":1},"a":2}` gives `a` only);
//! - deep payloads: objects 64 levels deep (the payload is level 1), arrays
//!   nested 16 to 63 levels, mixed, in every profile: each is an event, no
//!   output record is nested deeper than `OUTPUT_MAX_DEPTH` (32; `flatten`
//!   output at most 17), and nothing is lost (each deep line is followed by
//!   an ordinary event in the same chunk, which Fluent Bit would lose with
//!   it); a 65-level payload is a broken event.
//!
//! The `flatten` events of duplicate keys are checked against fields written
//! here; every other event against the native core, and every record for
//! the depth bound.

use serde_json::{Map, Value, json};
use twingate_analytics::{
    ARRAY_MAX_DEPTH, OUTPUT_MAX_DEPTH, Options, Outcome, Profile, Transformer,
};

use crate::config::Config;
use crate::examples::{Shape, corpus};
use crate::run::DockerRun;
use crate::support::{Case, Expected, parse_output, repo_root};
use crate::{Suite, TestResult, Verdict};

/// `flatten` output: the record, then arrays of at most
/// [`ARRAY_MAX_DEPTH`] levels.
const FLATTEN_MAX_DEPTH: usize = 1 + ARRAY_MAX_DEPTH;

/// One test line: the analytics payload, the outcome the contract gives it,
/// the `flatten` fields when they are written here, and names that must not
/// survive anywhere in the output (stale values of a duplicate key).
struct Line {
    payload: String,
    event: bool,
    flatten: Option<Value>,
    stale: &'static [&'static str],
}

fn nested(levels: usize, open: &str, close: &str) -> String {
    format!("{}1{}", open.repeat(levels), close.repeat(levels))
}

fn lines() -> Vec<Line> {
    let objects = |levels| nested(levels, "{\"d\":", "}");
    let arrays = |levels| nested(levels, "[", "]");
    let mixed = |levels: usize| {
        let (open, close) = ("[{\"d\":", "}]");
        // Two levels per step; one more array when odd.
        let inner = nested(levels / 2, open, close);
        if levels % 2 == 1 {
            format!("[{inner}]")
        } else {
            inner
        }
    };
    let event = |extra: &str| {
        format!("{{\"event_type\":\"established_connection\",\"timestamp\":1700000000000,{extra}}}")
    };
    let mut lines = vec![
        Line {
            payload: r#"{"location":"{\"geoip\":{\"lat\":1}}","location":"plain"}"#.into(),
            event: true,
            flatten: Some(json!({"location": "plain"})),
            stale: &["geoip", "lat"],
        },
        Line {
            payload: r#"{"a":{"b":1},"a":2}"#.into(),
            event: true,
            flatten: Some(json!({"a": 2})),
            stale: &["b"],
        },
        Line {
            payload: r#"{"a":2,"a":{"b":1}}"#.into(),
            event: true,
            flatten: Some(json!({"a.b": 1})),
            stale: &[],
        },
        Line {
            payload: event(r#""user":{"email":"old@example.com","id":"1"},"user":{"id":"2"}"#),
            event: true,
            flatten: Some(json!({
                "event_type": "established_connection",
                "timestamp": 1_700_000_000_000u64,
                "user.id": "2"
            })),
            stale: &["email"],
        },
    ];
    // The payload is level 1: a value holding `n` levels sits in a
    // payload n + 1 deep.
    let deep = [
        (event(&format!("\"deep\":{}", objects(63))), true),
        (
            event(&format!(
                "\"connection\":{{\"client_geo\":{}}}",
                objects(62)
            )),
            true,
        ),
        (event(&format!("\"relays\":{}", arrays(16))), true),
        (event(&format!("\"relays\":{}", arrays(17))), true),
        (event(&format!("\"deep\":{}", arrays(32))), true),
        (event(&format!("\"deep\":{}", arrays(62))), true),
        (event(&format!("\"deep\":{}", arrays(63))), true),
        (event(&format!("\"deep\":{}", mixed(63))), true),
        (event(&format!("\"deep\":{}", objects(64))), false),
        (event(&format!("\"deep\":{}", arrays(64))), false),
    ];
    lines.extend(deep.into_iter().map(|(payload, event)| Line {
        payload,
        event,
        flatten: None,
        stale: &[],
    }));
    lines
}

/// The Docker record of an analytics line.
fn docker_record(payload: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("log".into(), format!("ANALYTICS {payload}\n").into());
    record.insert("stream".into(), "stdout".into());
    record.insert("time".into(), "2026-11-24T12:00:00.000000000Z".into());
    record
}

/// Each test line, then an ordinary event of the corpus (lost with it if
/// the host dropped the line's record).
fn cases() -> Result<Vec<Case>, String> {
    let ordinary = corpus(Shape::Docker)
        .into_iter()
        .find(|c| matches!(c.expected, Expected::Event(_)))
        .expect("the corpus has events");
    let mut core = Transformer::new();
    let mut cases = Vec::new();
    for (i, line) in lines().iter().enumerate() {
        let record = docker_record(&line.payload);
        let text = Value::Object(record.clone()).to_string();
        let expected = match core.transform_record(text.as_bytes(), Options::flatten()) {
            Outcome::Event if line.event => {
                let mut fields: Map<String, Value> =
                    serde_json::from_slice(core.output()).map_err(|e| e.to_string())?;
                fields.remove("stream");
                fields.remove("time");
                match &line.flatten {
                    Some(Value::Object(written)) => Expected::Event(written.clone()),
                    _ => Expected::Event(fields),
                }
            }
            Outcome::Error(_) if !line.event => Expected::Error,
            other => {
                return Err(format!(
                    "the native core gives {other:?} for payload {i} ({} bytes), the contract {}",
                    line.payload.len(),
                    if line.event {
                        "an event"
                    } else {
                        "a broken event"
                    }
                ));
            }
        };
        cases.push(Case {
            shape: "docker",
            line_no: i + 1,
            record: text,
            line: None,
            line_key: "log",
            expected,
        });
        cases.push(ordinary.clone());
    }
    Ok(cases)
}

/// How deep a value is nested (a scalar is 0, `{}` or `[]` 1) and, for an
/// array, how deep counting from it.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, level)) = stack.pop() {
        let children: Vec<&Value> = match value {
            Value::Object(map) => map.values().collect(),
            Value::Array(items) => items.iter().collect(),
            _ => continue,
        };
        deepest = deepest.max(level);
        stack.extend(children.into_iter().map(|c| (c, level + 1)));
    }
    deepest
}

/// Every key path of a value, dot-joined (array items add no segment).
fn key_paths(value: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    let mut stack = vec![(value, String::new())];
    while let Some((value, path)) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    paths.push(path.clone());
                    stack.push((v, path));
                }
            }
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, path.clone()))),
            _ => {}
        }
    }
    paths
}

pub fn test(suite: &Suite, function: &'static str) -> TestResult {
    let mut config = Config::load(&repo_root().join("examples/fluent-bit/docker.conf"));
    config.filter_mut("wasm").set("function_name", function);
    let name = format!("payloads.{function}");
    let cases = cases().map_err(Verdict::fail)?;
    let run = DockerRun::go(suite, &name, config, |_| cases).map_err(Verdict::fail)?;
    let mut failures = run.checks(&name);
    let written = run.written();
    let bound = match run.filter.profile {
        Profile::Flatten => FLATTEN_MAX_DEPTH,
        _ => OUTPUT_MAX_DEPTH,
    };
    let test_lines = lines();
    for (i, text) in written.iter().enumerate() {
        let Ok(record) = parse_output(text) else {
            continue;
        };
        let record = Value::Object(record);
        let levels = depth(&record);
        if levels > bound {
            failures.push(format!(
                "{name} record {}: nested {levels} levels, bound {bound}",
                i + 1
            ));
        }
        // Records alternate: a test line's, then the ordinary event.
        if i % 2 == 0
            && let Some(line) = test_lines.get(i / 2)
        {
            let paths = key_paths(&record);
            for stale in line.stale {
                if let Some(path) = paths.iter().find(|p| p.split('.').any(|s| s == *stale)) {
                    failures.push(format!(
                        "{name} record {}: {path} is a stale value of a duplicate key (payload {})",
                        i + 1,
                        line.payload
                    ));
                }
            }
        }
    }
    run.done.verdict(suite, &name, &failures)
}

/// What Fluent Bit's JSON → MessagePack → JSON round trip does to the
/// numbers the module copies with their original text (`flatten`): the
/// payload value, and the text Fluent Bit writes for it.
const NUMBERS: [(&str, &str); 15] = [
    // Integers that fit 64 bits stay.
    ("9223372036854775808", "9223372036854775808"),
    ("18446744073709551615", "18446744073709551615"),
    // Beyond 64 bits: a double, 16 significant digits.
    ("18446744073709551616", "1.844674407370955e+19"),
    ("-9223372036854775809", "-9223372036854775808.0"),
    // -0 is the integer 0; -0.0 a double.
    ("-0", "0"),
    ("-0.0", "-0.0"),
    // Doubles: 16 significant digits (%.16g), integral ones with ".0".
    ("0.30000000000000004", "0.3"),
    ("1.0", "1.0"),
    ("1e2", "100.0"),
    ("1.5e300", "1.5e+300"),
    ("0.1", "0.1"),
    // Below the smallest double: 0.
    ("1e-400", "0.0"),
    // From 10^308 up the module writes a string of the text (beyond the
    // largest double Fluent Bit fails the chunk, or crashes): it stays so.
    ("1e400", "\"1e400\""),
    ("-1.8e308", "\"-1.8e308\""),
    ("1e308", "\"1e308\""),
];

/// The host's number conversions, measured: each payload number of
/// [`NUMBERS`] comes out of `twingate_flatten` in Fluent Bit as the table
/// says. The module writes each one unchanged (but for those from 10^308
/// up, which it writes as strings), and so do the twin host and the CLI:
/// they do not convert.
pub fn numbers(suite: &Suite) -> TestResult {
    let config = Config::load(&repo_root().join("examples/fluent-bit/docker.conf"));
    let cases: Vec<Case> = NUMBERS
        .iter()
        .enumerate()
        .map(|(i, (number, _))| {
            let payload = format!("{{\"v\":{number},\"s\":\"{number}\"}}");
            let mut fields = Map::new();
            fields.insert("s".into(), Value::from(*number));
            Case {
                shape: "docker",
                line_no: i + 1,
                record: Value::Object(docker_record(&payload)).to_string(),
                line: None,
                line_key: "log",
                expected: Expected::Event(fields),
            }
        })
        .collect();
    let name = "payloads.numbers";
    let run = DockerRun::go(suite, name, config, |_| cases).map_err(Verdict::fail)?;
    let mut failures = run.counter_checks(name);
    let written = run.written();
    for ((number, want), line) in NUMBERS.iter().zip(written) {
        let got = line
            .split_once("\"v\":")
            .and_then(|(_, rest)| rest.split_once(",\"s\":"))
            .map(|(value, _)| value);
        if got != Some(*want) {
            failures.push(format!(
                "{number} came out as {got:?}, expected {want}: {line}"
            ));
        }
    }
    run.done.verdict(suite, name, &failures)
}
