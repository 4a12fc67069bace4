//! Property tests (issue 6, item 2): generated Twingate-like payloads, in
//! every record shape and every way the connector and the hosts write them
//! (`\/`, `\uXXXX`, CRLF, blanks, fused lines), must come out as events
//! whose fields are the naive reference flatten (`oracle::reference_flatten`,
//! recursive over `serde_json::Value`) of the payload, compared as JSON
//! values; the fast path must equal the reference path byte for byte; and
//! without dotted keys the fields unflatten back to the payload. Any cut of
//! a line gets an answer that holds every invariant.

mod oracle;

use oracle::{Input, Kind};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use twingate_analytics::{Options, Transformer};

const KEYS: &[&str] = &[
    "connection",
    "client_ip",
    "id",
    "user",
    "email",
    "relays",
    "resource",
    "port",
    "rx",
    "tx",
    "event_type",
    "timestamp",
    "geoip",
    "city",
    "a",
    "b",
    "x y",
    "é",
    "東京",
    "k\"q",
    "k\\b",
    "k/s",
    "",
    "\u{1}",
    "\u{0}",
    "😀",
];

fn key(dots: bool) -> BoxedStrategy<String> {
    let known = prop::sample::select(KEYS).prop_map(str::to_owned);
    if dots {
        prop_oneof![4 => known, 1 => "[a-c]{1,2}\\.[a-c]{1,2}", 1 => Just("a.b".to_owned())].boxed()
    } else {
        prop_oneof![4 => known, 1 => "[^.]{0,12}"].boxed()
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(18446744073709551616.0)),
        "\\PC{0,20}".prop_map(Value::String),
        prop::sample::select(
            &[
                "relaybalancer+https://relays.twingate.com",
                "a\u{0}b",
                "\u{7f}\u{1f}\t\n",
                "\"\\/",
                "Büro München",
                "東京 DC"
            ][..]
        )
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn value(dots: bool) -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(dots), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A payload: an object, sometimes with a `location` string holding JSON.
fn payload(dots: bool) -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::collection::btree_map(key(dots), value(dots), 0..8),
        prop::option::of(prop::collection::btree_map(key(dots), value(dots), 0..4)),
        0..3usize,
    )
        .prop_map(|(fields, location, location_padding)| {
            let mut map: Map<String, Value> = fields.into_iter().collect();
            if let Some(location) = location {
                let inner = Value::Object(location.into_iter().collect()).to_string();
                let padded = format!(
                    "{}{inner}{}",
                    " ".repeat(location_padding),
                    "\n".repeat(location_padding)
                );
                map.insert("location".into(), Value::String(padded));
            }
            map
        })
}

/// How the connector (and the host) write the JSON text.
#[derive(Debug, Clone, Copy)]
struct Writing {
    escape_slash: bool,
    escape_non_ascii: bool,
    blanks: usize,
    ending: usize,
    shape: usize,
}

fn writing() -> impl Strategy<Value = Writing> {
    (
        any::<bool>(),
        any::<bool>(),
        0..3usize,
        0..5usize,
        0..5usize,
    )
        .prop_map(
            |(escape_slash, escape_non_ascii, blanks, ending, shape)| Writing {
                escape_slash,
                escape_non_ascii,
                blanks,
                ending,
                shape,
            },
        )
}

const ENDINGS: [&str; 5] = ["", "\n", "\r\n", " \t", " [INFO] fused line"];

fn write_json(payload: &Map<String, Value>, how: Writing) -> String {
    let mut text = Value::Object(payload.clone()).to_string();
    if how.escape_slash {
        // `/` only occurs inside strings.
        text = text.replace('/', "\\/");
    }
    if how.escape_non_ascii {
        // Non-ASCII only occurs inside strings.
        text = text
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    c.encode_utf16(&mut [0; 2])
                        .iter()
                        .map(|u| format!("\\u{u:04x}"))
                        .collect()
                }
            })
            .collect();
    }
    text
}

/// The line and the record holding it (`None`: a bare line), and the key.
fn shaped(line: &str, shape: usize) -> (Option<String>, &'static str) {
    let record = match shape {
        0 => return (None, "log"),
        1 => {
            json!({"log": format!("{line}\n"), "stream": "stdout", "time": "2026-11-24T12:00:00Z"})
        }
        2 => json!({"time": "2026-11-24T12:00:00Z", "stream": "stdout", "_p": "F", "log": line}),
        3 => {
            json!({"MESSAGE": line, "_SYSTEMD_UNIT": "twingate-connector.service", "PRIORITY": "6"})
        }
        _ => json!({"message": line, "host": "edge-01"}),
    };
    let key = match shape {
        3 => "MESSAGE",
        4 => "message",
        _ => "log",
    };
    (Some(record.to_string()), key)
}

type Fields = Map<String, Value>;

/// Runs the line (bare or in its record), checks the invariants and fast ==
/// reference, and returns the event's fields.
fn event_fields(line: &str, shape: usize) -> Result<(Fields, Fields), TestCaseError> {
    let (record, key) = shaped(line, shape);
    let mut fast = Transformer::new();
    let mut reference = Transformer::new();
    let (outcome, input) = match &record {
        None => (
            fast.transform_line(line.as_bytes(), Options::flatten()),
            Input::Line(line.as_bytes()),
        ),
        Some(record) => {
            let slow = reference.transform_record_reference(record.as_bytes(), Options::flatten());
            let outcome = fast.transform_record(record.as_bytes(), Options::flatten());
            prop_assert_eq!(&outcome, &slow);
            prop_assert_eq!(fast.output(), reference.output(), "fast path vs reference");
            (outcome, Input::Record(record.as_bytes()))
        }
    };
    let kind = Kind::from(&outcome);
    prop_assert_eq!(
        kind,
        Kind::Event,
        "{:?}",
        String::from_utf8_lossy(fast.output())
    );
    if let Err(why) = oracle::check(input, false, kind, fast.output())
        .and_then(|()| oracle::check_c_str(kind, fast.output(), fast.output_c_str()))
    {
        return Err(TestCaseError::fail(why));
    }
    let fields: Map<String, Value> = serde_json::from_slice(fast.output()).expect("JSON object");
    let mut others: Map<String, Value> = match &record {
        Some(record) => serde_json::from_str(record).unwrap(),
        None => Map::new(),
    };
    others.remove(key);
    Ok((fields, others))
}

/// The payload as `serde_json` reads its own text back (its float parsing
/// is not exact; the transform copies number text, so compare like with
/// like).
fn as_parsed(payload: &Map<String, Value>) -> Map<String, Value> {
    serde_json::from_str(&Value::Object(payload.clone()).to_string()).unwrap()
}

/// Numbers beyond 10^308 travel as strings of their text: both sides
/// compared as one marker (`oracle::mark_beyond_double`).
fn marked(map: &Map<String, Value>) -> Map<String, Value> {
    let mut value = Value::Object(map.clone());
    oracle::mark_beyond_double(&mut value);
    match value {
        Value::Object(map) => map,
        _ => unreachable!("an object stays an object"),
    }
}

/// A payload's JSON text in which keys repeat, in one object and across
/// levels: the same few keys (dotted ones and `location` among them) hold
/// objects, scalars, arrays and `location` strings of JSON with repeats of
/// their own.
fn repeated_keys_payload() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        scalar().prop_map(|v| v.to_string()),
        Just("{}".to_owned()),
        Just(r#"[1,{"a":2,"a":3}]"#.to_owned()),
        Just(r#""{\"g\":{\"x\":1},\"g\":2}""#.to_owned()),
        Just(r#""{\"g\":1,\"g\":{\"y\":[2]}}""#.to_owned()),
    ];
    let object = |inner: BoxedStrategy<String>| {
        prop::collection::vec(
            (
                prop::sample::select(&["a", "b", "a.b", "location"][..]),
                inner,
            ),
            1..6,
        )
        .prop_map(|fields| {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", fields.join(","))
        })
    };
    let value = leaf.prop_recursive(4, 32, 5, move |inner| object(inner.boxed()));
    object(value.boxed())
}

fn line_of(payload: &Map<String, Value>, how: Writing) -> String {
    format!(
        "ANALYTICS{}{}{}",
        [" ", "  ", " \t"][how.blanks],
        write_json(payload, how),
        ENDINGS[how.ending]
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        // A failure prints its minimal input; no regression files in tests/.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The fast path agrees with the naive reference flatten, as JSON
    /// values, and the fields unflatten back to the payload.
    #[test]
    fn events_are_the_reference_flatten_and_unflatten_back(payload in payload(false), how in writing()) {
        let line = line_of(&payload, how);
        let payload = as_parsed(&payload);
        let (mut fields, others) = event_fields(&line, how.shape)?;
        let trailing = fields.remove("twingate.trailing");
        prop_assert_eq!(trailing.is_some(), how.ending == 4);
        let mut want = others.clone();
        want.extend(oracle::reference_flatten(&payload).expect("generated location is plain JSON"));
        let mut fields = marked(&fields);
        prop_assert_eq!(&fields, &marked(&want));
        // Without the record's own keys, the payload comes back.
        for key in others.keys() {
            fields.remove(key);
        }
        let mut expected_payload = payload.clone();
        if let Some(Value::String(location)) = payload.get("location")
            && let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(location)
        {
            expected_payload.insert("location".into(), Value::Object(inner));
        }
        prop_assert_eq!(oracle::unflatten(&fields), Some(marked(&expected_payload)));
    }

    /// Dotted keys and colliding flattened keys: the last value wins, as in
    /// the reference.
    #[test]
    fn dotted_keys_agree_with_the_reference(payload in payload(true), how in writing()) {
        let line = line_of(&payload, how);
        let payload = as_parsed(&payload);
        let (mut fields, others) = event_fields(&line, how.shape)?;
        fields.remove("twingate.trailing");
        let mut want = others;
        want.extend(oracle::reference_flatten(&payload).expect("generated location is plain JSON"));
        prop_assert_eq!(marked(&fields), marked(&want));
    }

    /// Repeated keys: each object keeps the last value of a key, whole, as a
    /// JSON parser does (the oracle reads the payload so, independently of
    /// the transform); the fast path agrees with the reference.
    #[test]
    fn repeated_keys_keep_what_a_json_parser_keeps(payload in repeated_keys_payload(), how in writing()) {
        let line = format!("ANALYTICS {payload}{}", ENDINGS[how.ending]);
        event_fields(&line, how.shape)?;
    }

    /// Any cut of an analytics line, in any shape: an answer that holds
    /// every invariant (events for the cuts that still hold a whole object,
    /// error records naming a byte offset otherwise).
    #[test]
    fn every_cut_holds_the_invariants(payload in payload(false), how in writing(), cut in any::<prop::sample::Index>()) {
        let line = line_of(&payload, how);
        let mut at = cut.index(line.len() + 1);
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let line = &line[..at];
        let (record, _) = shaped(line, how.shape);
        let mut fast = Transformer::new();
        let mut reference = Transformer::new();
        for (options, keep) in [(Options::flatten(), false), (Options::flatten().keep(), true)] {
            let (outcome, input) = match &record {
                None => (fast.transform_line(line.as_bytes(), options), Input::Line(line.as_bytes())),
                Some(record) => {
                    let slow = reference.transform_record_reference(record.as_bytes(), options);
                    let outcome = fast.transform_record(record.as_bytes(), options);
                    prop_assert_eq!(fast.output(), reference.output(), "fast path vs reference");
                    prop_assert_eq!(Kind::from(&outcome), Kind::from(&slow));
                    (outcome, Input::Record(record.as_bytes()))
                }
            };
            let kind = Kind::from(&outcome);
            if let Err(why) = oracle::check(input, keep, kind, fast.output()) {
                return Err(TestCaseError::fail(why));
            }
            if kind == Kind::Error {
                let fields: Map<String, Value> = serde_json::from_slice(fast.output()).unwrap();
                let message = fields["twingate.parse_error"].as_str().unwrap();
                prop_assert!(message.contains("byte "), "{}", message);
            }
        }
    }
}
