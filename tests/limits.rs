//! The limits of issue 6, each a test, through the core: every answer is
//! held to the oracle (`tests/oracle`), the fast path to the reference path
//! byte for byte, and each case to the outcome the contract names. The
//! heavy cases run through the module too (`cli/tests/limits_module.rs`).

mod oracle;

use oracle::{Input, Kind};
use serde_json::{Map, Value, json};
use twingate_analytics::{Options, Outcome, Transformer};

/// A record's answer under both entry points, checked; the `flatten` one is
/// returned (kind, output text).
fn record(text: &[u8]) -> (Kind, String) {
    let mut fast = Transformer::new();
    let mut reference = Transformer::new();
    let mut answer = None;
    for (options, keep) in [
        (Options::flatten(), false),
        (Options::flatten().keep(), true),
    ] {
        let outcome = fast.transform_record(text, options);
        let kind = Kind::from(&outcome);
        let checked = oracle::check(Input::Record(text), keep, kind, fast.output())
            .and_then(|()| oracle::check_c_str(kind, fast.output(), fast.output_c_str()));
        if let Err(why) = checked {
            panic!("{why}\n  record: {}", preview(text));
        }
        let slow = reference.transform_record_reference(text, options);
        assert_eq!(
            kind,
            Kind::from(&slow),
            "fast vs reference: {}",
            preview(text)
        );
        assert!(
            fast.output() == reference.output(),
            "fast path output differs from the reference: {}",
            preview(text)
        );
        answer.get_or_insert((kind, String::from_utf8(fast.output().to_vec()).unwrap()));
    }
    answer.unwrap()
}

/// A bare line's answer under both entry points, checked.
fn line(text: &[u8]) -> (Kind, String) {
    let mut transformer = Transformer::new();
    let mut answer = None;
    for (options, keep) in [
        (Options::flatten(), false),
        (Options::flatten().keep(), true),
    ] {
        let outcome = transformer.transform_line(text, options);
        let kind = Kind::from(&outcome);
        let checked =
            oracle::check(Input::Line(text), keep, kind, transformer.output()).and_then(|()| {
                oracle::check_c_str(kind, transformer.output(), transformer.output_c_str())
            });
        if let Err(why) = checked {
            panic!("{why}\n  line: {}", preview(text));
        }
        answer.get_or_insert((
            kind,
            String::from_utf8(transformer.output().to_vec()).unwrap(),
        ));
    }
    answer.unwrap()
}

/// The line as Docker, CRI and journald records, and bare: all four must
/// give `want`. Returns the Docker answer.
fn every_shape(line_text: &str, want: Kind) -> (Kind, String) {
    let docker = json!({"log": format!("{line_text}\n"), "stream": "stdout", "time": "2026-11-24T12:00:00Z"});
    let cri =
        json!({"time": "2026-11-24T12:00:00Z", "stream": "stdout", "_p": "F", "log": line_text});
    let journal = json!({"MESSAGE": line_text, "_SYSTEMD_UNIT": "twingate-connector.service"});
    let mut first = None;
    for shaped in [docker, cri, journal] {
        let answer = record(shaped.to_string().as_bytes());
        assert_eq!(answer.0, want, "{}", preview(shaped.to_string().as_bytes()));
        first.get_or_insert(answer);
    }
    assert_eq!(line(line_text.as_bytes()).0, want);
    first.unwrap()
}

fn fields(output: &str) -> Map<String, Value> {
    match serde_json::from_str(output) {
        Ok(Value::Object(map)) => map,
        other => panic!("not an object: {other:?}"),
    }
}

fn parse_error(output: &str) -> String {
    fields(output)["twingate.parse_error"]
        .as_str()
        .expect("an error record has twingate.parse_error")
        .to_owned()
}

fn preview(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    if text.len() > 300 {
        let cut = (0..=300).rev().find(|&i| text.is_char_boundary(i)).unwrap();
        format!("{}... ({} bytes)", &text[..cut], text.len())
    } else {
        text.into_owned()
    }
}

fn nested(levels: usize) -> String {
    // `levels` objects, innermost holding a number: {"a":{"a":...1...}}
    format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels))
}

fn nested_arrays(levels: usize) -> String {
    // An object holding `levels - 1` arrays: arrays count as levels.
    format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(levels - 1),
        "]".repeat(levels - 1)
    )
}

#[test]
fn a_16_mib_line_is_an_event() {
    let pad = "x".repeat(16 << 20);
    let text = format!(
        r#"ANALYTICS {{"event_type":"closed_connection","pad":"{pad}","user":{{"email":"a@b.c"}}}}"#
    );
    let (kind, output) = every_shape(&text, Kind::Event);
    assert_eq!(kind, Kind::Event);
    let fields = fields(&output);
    assert_eq!(fields["pad"].as_str().map(str::len), Some(16 << 20));
    assert_eq!(fields["user.email"], "a@b.c");
    // And a 16 MiB service line is dropped.
    let service = format!("[INFO] [connector] {pad}");
    every_shape(&service, Kind::Dropped);
}

#[test]
fn a_hundred_thousand_relays_stay_one_array() {
    let relays: Vec<Value> = (0..100_000)
        .map(|i| json!({"ip": format!("10.0.{}.{}", i / 256 % 256, i % 256), "name": "relaybalancer+https://relays.twingate.com", "port": 30000 + i % 20}))
        .collect();
    let payload = json!({"event_type": "established_connection", "relays": relays, "timestamp": 1694779427692u64});
    let (_, output) = every_shape(&format!("ANALYTICS {payload}"), Kind::Event);
    let fields = fields(&output);
    assert_eq!(fields["relays"].as_array().map(Vec::len), Some(100_000));
    assert_eq!(fields["relays"][99_999]["port"], 30019);
}

#[test]
fn ten_thousand_keys_are_ten_thousand_fields() {
    let mut payload = Map::new();
    for i in 0..10_000 {
        payload.insert(format!("key{i:05}"), json!(i));
    }
    // And 10,000 nested ones.
    let inner: Map<String, Value> = (0..10_000)
        .map(|i| (format!("k{i}"), json!(format!("v{i}"))))
        .collect();
    payload.insert("connection".into(), Value::Object(inner));
    let (_, output) = every_shape(
        &format!("ANALYTICS {}", Value::Object(payload)),
        Kind::Event,
    );
    let fields = fields(&output);
    assert_eq!(fields["key09999"], 9999);
    assert_eq!(fields["connection.k9999"], "v9999");
    assert_eq!(
        fields.keys().filter(|k| k.starts_with("key")).count(),
        10_000
    );
    assert_eq!(
        fields
            .keys()
            .filter(|k| k.starts_with("connection."))
            .count(),
        10_000
    );
}

#[test]
fn nesting_64_is_an_event_and_65_an_error() {
    let (_, output) = every_shape(&format!("ANALYTICS {}", nested(64)), Kind::Event);
    assert_eq!(fields(&output)[&vec!["a"; 64].join(".")], 1);
    let (_, output) = every_shape(&format!("ANALYTICS {}", nested_arrays(64)), Kind::Event);
    assert!(fields(&output)["a"].is_array());

    for deep in [
        nested(65),
        nested_arrays(65),
        nested(3000),
        "[".repeat(100_000),
    ] {
        let (_, output) = every_shape(&format!("ANALYTICS {deep}"), Kind::Error);
        let message = parse_error(&output);
        if deep.starts_with('{') {
            assert!(message.contains("deeper than 64 levels"), "{message}");
        }
    }
    // `location` has its own limit: 64 levels inside the string are
    // flattened, 65 stay the string (the event is still an event).
    let location = json!({"location": nested(64), "event_type": "x"});
    let (_, output) = every_shape(&format!("ANALYTICS {location}"), Kind::Event);
    assert!(fields(&output).contains_key(&format!("location.{}", vec!["a"; 64].join("."))));
    let location = json!({"location": nested(65), "event_type": "x"});
    let (_, output) = every_shape(&format!("ANALYTICS {location}"), Kind::Event);
    assert_eq!(fields(&output)["location"], nested(65));
}

#[test]
fn the_record_itself_nests_512_levels_and_no_more() {
    let deep = |levels: usize| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let line = r#"ANALYTICS {\"a\":1}"#;
    // A field's value may nest 512 levels (the record itself not counted).
    let ok = format!(r#"{{"log":"{line}","deep":{}}}"#, deep(512));
    assert_eq!(record(ok.as_bytes()).0, Kind::Event);
    let over = format!(r#"{{"log":"{line}","deep":{}}}"#, deep(513));
    let (kind, output) = record(over.as_bytes());
    assert_eq!(kind, Kind::Error);
    assert!(parse_error(&output).contains("512"), "{output}");
    // Invalid UTF-8 deep inside forces the field to be re-encoded.
    let repaired = format!(
        r#"{{"log":"{line}","deep":{}"x\xff"{}}}"#,
        "[".repeat(512),
        "]".repeat(512)
    );
    let mut bytes = repaired.into_bytes();
    let at = bytes.windows(2).position(|w| w == b"\\x").unwrap();
    bytes.splice(at..at + 4, [0xFF]);
    let (kind, output) = record(&bytes);
    assert_eq!(kind, Kind::Event);
    assert!(
        output.contains("x\u{FFFD}"),
        "{}",
        preview(output.as_bytes())
    );
    let too_deep = format!(r#"{{"log":"{line}","deep":{}}}"#, deep(100_000));
    assert_eq!(record(too_deep.as_bytes()).0, Kind::Error);
}

#[test]
fn very_long_keys_are_kept_whole() {
    let long = "k".repeat(1 << 20);
    let payload = json!({ long.clone(): { long.clone(): 1 }, "event_type": "x" });
    let (_, output) = every_shape(&format!("ANALYTICS {payload}"), Kind::Event);
    assert_eq!(fields(&output)[&format!("{long}.{long}")], 1);
    // A long record key, too.
    let text = json!({ long.clone(): "v", "log": "ANALYTICS {\"a\":1}" }).to_string();
    let (kind, output) = record(text.as_bytes());
    assert_eq!(kind, Kind::Event);
    assert_eq!(fields(&output)[&long], "v");
}

#[test]
fn every_control_character_raw_is_an_error_and_escaped_is_an_event() {
    for c in (0u8..0x20).chain([0x7F]) {
        let ch = char::from(c);
        // Escaped: an event whose string holds the character.
        let payload = json!({ "k": format!("a{ch}b"), format!("key{ch}"): 1 });
        let (_, output) = every_shape(&format!("ANALYTICS {payload}"), Kind::Event);
        let got = fields(&output);
        assert_eq!(got["k"], format!("a{ch}b"), "U+{c:04X}");
        assert_eq!(got[&format!("key{ch}")], 1, "U+{c:04X}");
        if c < 0x20 {
            assert!(!output.as_bytes().contains(&c), "U+{c:04X} written raw");
        }
        // Raw inside a payload string: JSON forbids it (DEL is allowed).
        let mut raw = b"ANALYTICS {\"k\":\"a".to_vec();
        raw.extend([c]);
        raw.extend(b"b\"}");
        let (kind, output) = line(&raw);
        if c < 0x20 {
            assert_eq!(kind, Kind::Error, "raw U+{c:04X}");
            let message = parse_error(&output);
            if c != b'\n' && c != b'\r' {
                assert!(
                    message.to_ascii_uppercase().contains(&format!("U+{c:04X}")),
                    "{message}"
                );
            }
        } else {
            assert_eq!(kind, Kind::Event);
        }
    }
}

#[test]
fn invalid_utf8_and_lone_surrogates_become_u_fffd() {
    // Invalid UTF-8 in a value, a key, the line of a record and a record
    // field: events, never rejected.
    for bad in [
        &b"\xFF"[..],
        b"\xC3",
        b"\xED\xA0\x80",
        b"\xF4\x90\x80\x80",
        b"\xC0\xAF",
    ] {
        let mut text = b"ANALYTICS {\"k\":\"a".to_vec();
        text.extend(bad);
        text.extend(b"b\",\"ke");
        text.extend(bad);
        text.extend(b"y\":1}");
        let (kind, output) = line(&text);
        assert_eq!(kind, Kind::Event, "{bad:?}");
        let got = fields(&output);
        assert!(got["k"].as_str().unwrap().contains('\u{FFFD}'), "{output}");
        let mut as_record = b"{\"log\":\"".to_vec();
        as_record.extend(text.iter().flat_map(|&b| {
            if b == b'"' {
                vec![b'\\', b'"']
            } else {
                vec![b]
            }
        }));
        as_record.extend(b"\",\"other\":\"x");
        as_record.extend(bad);
        as_record.extend(b"\"}");
        let (kind, output) = record(&as_record);
        assert_eq!(kind, Kind::Event, "{}", preview(&as_record));
        assert!(
            fields(&output)["other"]
                .as_str()
                .unwrap()
                .contains('\u{FFFD}')
        );
    }
    for lone in [
        r"\ud800",
        r"\udfff",
        r"\ud800\ud800",
        r"\udc00\ud800",
        r"\ud83d",
    ] {
        let text =
            format!(r#"ANALYTICS {{"k":"a{lone}b","{lone}":1,"location":"{{\"c\":\"{lone}\"}}"}}"#);
        let (_, output) = every_shape(&text, Kind::Event);
        let got = fields(&output);
        assert!(got["k"].as_str().unwrap().contains('\u{FFFD}'), "{output}");
        assert!(
            got["location.c"].as_str().unwrap().contains('\u{FFFD}'),
            "{output}"
        );
    }
    // A pair is a character.
    let (_, output) = line(br#"ANALYTICS {"k":"\ud83d\ude00"}"#);
    assert_eq!(fields(&output)["k"], "\u{1F600}");
}

#[test]
fn nul_inside_strings_is_escaped_never_raw() {
    let text = r#"ANALYTICS {"k\u0000":"a\u0000b","location":"{\"c\":\"\\u0000\"}"}"#;
    let (_, output) = every_shape(text, Kind::Event);
    assert!(!output.contains('\0'));
    assert!(output.contains(r"\u0000"), "{output}");
    let got = fields(&output);
    assert_eq!(got["k\0"], "a\0b");
    assert_eq!(got["location.c"], "\0");
    // In a record field, and in a service line that is kept.
    let kept = r#"{"log":"[INFO] a\u0000b","x":"\u0000"}"#;
    let mut transformer = Transformer::new();
    assert_eq!(
        transformer.transform_record(kept.as_bytes(), Options::flatten().keep()),
        Outcome::Kept
    );
    assert_eq!(
        transformer
            .output_c_str()
            .unwrap()
            .iter()
            .filter(|&&b| b == 0)
            .count(),
        1
    );
    record(kept.as_bytes());
}

#[test]
fn a_repeated_line_key_removes_every_copy() {
    let text = r#"{"log":"ANALYTICS {\"a\":1}","stream":"stdout","log":"second"}"#;
    let (kind, output) = record(text.as_bytes());
    assert_eq!(kind, Kind::Event);
    assert_eq!(fields(&output), fields(r#"{"stream":"stdout","a":1}"#));
    // The first string is the line, even when the second is analytics.
    let text = r#"{"log":"[INFO] x","log":"ANALYTICS {\"a\":1}"}"#;
    assert_eq!(record(text.as_bytes()).0, Kind::Dropped);
    // A non-string first, then the string.
    let text = r#"{"log":5,"log":"ANALYTICS {\"a\":1}"}"#;
    let (kind, output) = record(text.as_bytes());
    assert_eq!(kind, Kind::Event);
    assert_eq!(fields(&output)["a"], 1);
}

#[test]
fn a_line_key_holding_a_number_null_or_object_is_not_the_line() {
    for value in [
        "5",
        "null",
        "true",
        r#"{"x":"ANALYTICS {}"}"#,
        r#"["ANALYTICS {}"]"#,
    ] {
        let text = format!(r#"{{"log":{value},"stream":"stdout"}}"#);
        assert_eq!(record(text.as_bytes()).0, Kind::Dropped, "{text}");
        // The next key in the preference order is the line then.
        let text = format!(r#"{{"log":{value},"message":"ANALYTICS {{\"a\":1}}"}}"#);
        let (kind, output) = record(text.as_bytes());
        assert_eq!(kind, Kind::Event, "{text}");
        let got = fields(&output);
        assert_eq!(got["a"], 1);
        assert_eq!(got["log"], serde_json::from_str::<Value>(value).unwrap());
    }
}

#[test]
fn a_record_that_is_not_an_object_is_an_error_record_holding_its_text() {
    for text in [
        &b"[]"[..],
        b"[\"ANALYTICS {}\"]",
        b"\"ANALYTICS {}\"",
        b"42",
        b"null",
        b"",
        b" ",
        b"{",
        b"{\"log\":\"ANALYTICS {}\"",
        b"{\"log\":}",
        b"not json",
        b"\xFF\xFE",
    ] {
        let (kind, output) = record(text);
        assert_eq!(kind, Kind::Error, "{}", preview(text));
        let got = fields(&output);
        assert!(got.contains_key("twingate.parse_error"), "{output}");
        assert_eq!(
            got["twingate.record"],
            String::from_utf8_lossy(text).as_ref(),
            "{output}"
        );
    }
}

#[test]
fn a_docker_line_cut_at_16_kib_names_the_multiline_fix() {
    let payload = json!({"event_type": "closed_connection", "pad": "y".repeat(40_000)});
    let whole = format!("ANALYTICS {payload}\n");
    // Docker's json-file driver: 16 KiB parts, only the last ends in \n.
    let parts: Vec<&str> = whole
        .as_bytes()
        .chunks(16 << 10)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let first = json!({"log": parts[0], "stream": "stdout", "time": "2026-11-24T12:00:00Z"});
    let (kind, output) = record(first.to_string().as_bytes());
    assert_eq!(kind, Kind::Error);
    let message = parse_error(&output);
    assert!(message.contains("16 KiB"), "{message}");
    assert!(
        message.contains("multiline.parser docker, cri"),
        "{message}"
    );
    // The other parts are not analytics lines: dropped (kept by _keep).
    for part in &parts[1..] {
        let entry = json!({"log": part, "stream": "stdout", "time": "2026-11-24T12:00:00Z"});
        assert_eq!(record(entry.to_string().as_bytes()).0, Kind::Dropped);
    }
    // Re-joined, it is an event.
    every_shape(whole.trim_end(), Kind::Event);
}

#[test]
fn crlf_endings_are_ignored() {
    for ending in ["\r\n", "\n", "\r", " \r\n", "\t\r\n"] {
        let text = format!(r#"ANALYTICS {{"event_type":"x"}}{ending}"#);
        let (kind, output) = record(json!({ "log": text }).to_string().as_bytes());
        assert_eq!(kind, Kind::Event);
        assert_eq!(
            fields(&output),
            fields(r#"{"event_type":"x"}"#),
            "{ending:?}"
        );
        assert_eq!(line(text.as_bytes()).0, Kind::Event);
    }
    // A CRLF service line is dropped, a CRLF broken line an error.
    assert_eq!(line(b"[INFO] x\r\n").0, Kind::Dropped);
    assert_eq!(line(b"ANALYTICS {\r\n").0, Kind::Error);
}

#[test]
fn whitespace_only_lines_are_not_analytics() {
    for text in [
        "", " ", "\t", "\n", "\r\n", "\r", "   \t  ", "\u{b}", "\u{c}", "\u{a0}", "\u{3000}",
    ] {
        assert_eq!(line(text.as_bytes()).0, Kind::Dropped, "{text:?}");
        assert_eq!(
            record(json!({ "log": text }).to_string().as_bytes()).0,
            Kind::Dropped
        );
        let mut keep = Transformer::new();
        let record_text = json!({ "log": text }).to_string();
        assert_eq!(
            keep.transform_record(record_text.as_bytes(), Options::flatten().keep()),
            Outcome::Kept
        );
        assert_eq!(keep.output(), record_text.as_bytes(), "kept byte for byte");
    }
    // `ANALYTICS` alone, or followed by blanks only, is a broken event.
    for text in ["ANALYTICS", "ANALYTICS ", "ANALYTICS \t ", "ANALYTICS\r\n"] {
        assert_eq!(line(text.as_bytes()).0, Kind::Error, "{text:?}");
    }
}

/// Found by fuzzing (`record`, `abi`, `input`), fixed in 3cd001d: `_keep`
/// passed a record with invalid UTF-8 in a *key* on byte for byte, which is
/// not JSON.
#[test]
fn keep_repairs_invalid_utf8_in_a_record_key() {
    let text = b"{\"log\":\"hello\",\"k\xFFy\":1}";
    let mut transformer = Transformer::new();
    let outcome = transformer.transform_record(text, Options::flatten().keep());
    assert_eq!(outcome, Outcome::Kept);
    let output = std::str::from_utf8(transformer.output()).expect("UTF-8");
    assert_eq!(fields(output)["k\u{FFFD}y"], 1);
    record(text);
}

/// Numbers beyond what a double holds: Fluent Bit fails the chunk that
/// holds one (and crashes as a service), so from 10^308 up the number is
/// kept as a string of its text, in every shape; the event and every field
/// around it stay. Smaller ones, and underflows, keep their text as numbers.
#[test]
fn numbers_from_1e308_up_travel_as_strings() {
    for (number, as_string) in [
        ("1e400", true),
        ("-1.8e308", true),
        ("1e308", true),
        ("9.9e307", false),
        ("1e-400", false),
        ("18446744073709551616", false),
    ] {
        let line_text =
            format!(r#"ANALYTICS {{"v":{number},"a":[{number}],"event_type":"x","timestamp":1}}"#);
        let (_, output) = every_shape(&line_text, Kind::Event);
        let text = if as_string {
            format!("\"{number}\"")
        } else {
            number.to_owned()
        };
        assert!(
            output.contains(&format!(r#""v":{text},"a":[{text}],"event_type":"x""#)),
            "{number}: {output}"
        );
    }
}
