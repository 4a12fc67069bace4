//! The naive baseline of the benchmark (issue 8): what most people would
//! write for the job, kept deliberately plain.
//!
//! * parse the record with `serde_json::from_str::<Value>`;
//! * take the line from the first of `log`, `message`, `MESSAGE` that holds a
//!   string; find the `ANALYTICS ` word at its start (or after a syslog
//!   header and `: `);
//! * parse the payload with `serde_json::from_str::<Value>` again;
//! * flatten it recursively into a `serde_json::Map` (dotted keys, the
//!   `location` string parsed as JSON when it holds an object);
//! * `serde_json::to_string` the result.
//!
//! It gives the contract's answer on ordinary records (every line the
//! corpus generator writes without `--hostile`). On hostile lines it differs
//! (see `tests/corpus.rs`): no nesting limit, lone surrogate escapes and
//! text fused after the payload become error records, integers beyond u64
//! lose their text, and so on. None of that matters for the benchmark,
//! which runs ordinary records only.
//!
//! The same code runs natively (rlib) and as a Fluent Bit wasm filter
//! (cdylib, `wasm32-unknown-unknown`, see `abi.rs`, the only `unsafe`).

use serde_json::{Map, Value};

#[cfg(target_arch = "wasm32")]
mod abi;

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naive {
    /// An analytics event: the record without its line, plus the payload's
    /// fields, as JSON text.
    Event(String),
    /// Not an analytics line.
    Dropped,
    /// A broken analytics line (or an unreadable record): the record plus
    /// `twingate.parse_error`, as JSON text.
    Error(String),
}

/// The keys a collector puts the line under, in order of preference.
const LINE_KEYS: [&str; 3] = ["log", "message", "MESSAGE"];

/// Transforms one record given as JSON text (Fluent Bit's `Event_Format
/// json`).
pub fn transform(record: &[u8]) -> Naive {
    let text = String::from_utf8_lossy(record);
    let mut record: Map<String, Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return error_record(Map::new(), "the record is not a JSON object at byte 0"),
        Err(e) => {
            return error_record(
                Map::new(),
                &format!("the record is not JSON: {e} (byte {})", e.column()),
            );
        }
    };
    let Some((key, line)) = LINE_KEYS.iter().find_map(|key| match record.get(*key) {
        Some(Value::String(line)) => Some((*key, line.clone())),
        _ => None,
    }) else {
        return Naive::Dropped;
    };
    let line = line.trim_end_matches(['\r', '\n']);
    let (prefix, rest) = if let Some(rest) = line.strip_prefix("ANALYTICS") {
        (None, rest)
    } else if let Some(at) = line.find(": ANALYTICS") {
        (Some(&line[..at]), &line[at + ": ANALYTICS".len()..])
    } else {
        return Naive::Dropped;
    };
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Naive::Dropped;
    }
    let payload = match serde_json::from_str::<Value>(rest.trim_start_matches([' ', '\t'])) {
        Ok(Value::Object(payload)) => payload,
        Ok(_) => return error_record(record, "the payload is not a JSON object at byte 0"),
        Err(e) => {
            return error_record(
                record,
                &format!("invalid JSON payload: {e} (byte {})", e.column()),
            );
        }
    };
    let prefix = prefix.map(str::to_owned);
    record.remove(key);
    flatten(payload, "", &mut record);
    if let Some(prefix) = prefix {
        record.insert("twingate.line_prefix".to_owned(), Value::String(prefix));
    }
    match serde_json::to_string(&record) {
        Ok(text) => Naive::Event(text),
        Err(e) => Naive::Error(format!("{{\"twingate.parse_error\":\"{e} at byte 0\"}}")),
    }
}

/// Flattens `object` into `out` under dotted keys: non-empty objects are
/// walked, everything else (arrays included) is a value; a later key wins.
fn flatten(object: Map<String, Value>, prefix: &str, out: &mut Map<String, Value>) {
    for (key, value) in object {
        let key = format!("{prefix}{key}");
        let value = match value {
            Value::String(text) if key == "location" => match serde_json::from_str(&text) {
                Ok(Value::Object(inner)) => Value::Object(inner),
                _ => Value::String(text),
            },
            other => other,
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten(inner, &format!("{key}."), out),
            other => {
                out.remove(&key);
                out.insert(key, other);
            }
        }
    }
}

fn error_record(mut record: Map<String, Value>, message: &str) -> Naive {
    record.insert(
        "twingate.parse_error".to_owned(),
        Value::String(message.to_owned()),
    );
    match serde_json::to_string(&record) {
        Ok(text) => Naive::Error(text),
        Err(_) => Naive::Error("{\"twingate.parse_error\":\"at byte 0\"}".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_a_docker_event() {
        let record = br#"{"log":"ANALYTICS {\"a\":{\"b\":1,\"c\":{}},\"location\":\"{\\\"x\\\":{\\\"y\\\":2}}\",\"r\":[{\"z\":1}]}\n","stream":"stdout"}"#;
        let Naive::Event(text) = transform(record) else {
            panic!("not an event");
        };
        let got: Value = serde_json::from_str(&text).expect("JSON");
        let want: Value = serde_json::json!({
            "stream": "stdout", "a.b": 1, "a.c": {}, "location.x.y": 2, "r": [{"z": 1}]
        });
        assert_eq!(got, want);
    }

    #[test]
    fn drops_service_lines_and_near_misses() {
        for line in [
            "[INFO] [connector] State: Online\n",
            "ANALYTICSX {}",
            " ANALYTICS {}",
            "analytics {}",
            "",
        ] {
            let record = serde_json::json!({ "log": line }).to_string();
            assert_eq!(transform(record.as_bytes()), Naive::Dropped, "{line:?}");
        }
        assert_eq!(transform(br#"{"stream":"stdout"}"#), Naive::Dropped);
    }

    #[test]
    fn syslog_prefix_and_errors() {
        let record = serde_json::json!({ "log": "Nov 24 h c[1]: ANALYTICS {\"a\":1}" }).to_string();
        let Naive::Event(text) = transform(record.as_bytes()) else {
            panic!("not an event");
        };
        let got: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            got,
            serde_json::json!({"a": 1, "twingate.line_prefix": "Nov 24 h c[1]"})
        );
        let broken = serde_json::json!({ "log": "ANALYTICS {\"a\":" }).to_string();
        assert!(matches!(transform(broken.as_bytes()), Naive::Error(t) if t.contains("byte ")));
        assert!(matches!(transform(b"[1]"), Naive::Error(_)));
        assert!(matches!(transform(b"{"), Naive::Error(_)));
    }
}
