//! Input shapes: detection, and the records Fluent Bit's `tail` (with
//! `multiline.parser docker, cri`) builds from each.

use std::io::Cursor;

use twingate_cli::input::{CriLine, Record, RecordReader, Shape, detect_shape, parse_cri};

/// Every record of `input`, as JSON text (raw lines as `{"log": line}`),
/// and the shape used.
fn records(input: &str, shape: Shape, multiline: bool) -> (Vec<String>, Shape) {
    let mut reader = RecordReader::new(Cursor::new(input.as_bytes()), shape, multiline)
        .expect("reading from memory cannot fail");
    let mut out = Vec::new();
    let mut json = Vec::new();
    while let Some(record) = reader
        .next_record()
        .expect("reading from memory cannot fail")
    {
        record.write_json(&mut json);
        out.push(String::from_utf8(json.clone()).expect("records are UTF-8"));
    }
    (out, reader.shape())
}

fn auto(input: &str) -> Vec<String> {
    records(input, Shape::Auto, true).0
}

#[test]
fn detects_each_shape_from_the_first_line() {
    let cases: [(&str, Shape); 9] = [
        (
            r#"{"log":"ANALYTICS {}\n","stream":"stdout","time":"2026-11-24T12:00:00Z"}"#,
            Shape::Docker,
        ),
        (
            r#"{"MESSAGE":"ANALYTICS {}","_SYSTEMD_UNIT":"twingate-connector.service"}"#,
            Shape::Journal,
        ),
        (
            r#"{"__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":[65]}"#,
            Shape::Journal,
        ),
        (r#"{"message":"ANALYTICS {}"}"#, Shape::Json),
        (r#"{"log":"x","stream":1}"#, Shape::Json),
        (r#"{"log": broken"#, Shape::Json),
        (
            "2026-11-24T12:00:00.000000000Z stdout F ANALYTICS {}",
            Shape::Cri,
        ),
        (
            "Nov 24 12:00:05 edge-01 twingate-connector[812]: ANALYTICS {}",
            Shape::Lines,
        ),
        ("ANALYTICS {\"a\":1}", Shape::Lines),
    ];
    for (line, expected) in cases {
        assert_eq!(detect_shape(line.as_bytes()), expected, "{line}");
    }
}

#[test]
fn a_cri_line_needs_a_timestamp_a_stream_and_p_or_f() {
    assert_eq!(
        detect_shape(b"now stdout F x"),
        Shape::Lines,
        "time must start with a digit"
    );
    assert_eq!(
        detect_shape(b"2026-11-24T12:00:00Z stdin F x"),
        Shape::Lines
    );
    assert_eq!(
        detect_shape(b"2026-11-24T12:00:00Z stdout X x"),
        Shape::Lines
    );
    assert_eq!(
        detect_shape(b"2026-11-24T12:00:00Z stdout F"),
        Shape::Lines,
        "no space before the content"
    );
    assert_eq!(detect_shape(b"2026-11-24T12:00:00Z stderr P "), Shape::Cri);
}

#[test]
fn parse_cri_splits_like_fluent_bits_regex() {
    let line = parse_cri(b"2026-11-24T12:00:00Z stderr P part one").expect("a CRI line");
    assert_eq!(
        line,
        CriLine {
            time: b"2026-11-24T12:00:00Z",
            stream: "stderr",
            partial: true,
            content: b"part one"
        }
    );
    // The time is the shortest prefix that lets the rest match.
    let line = parse_cri(b"2026 11 24 stdout F stdout F x").expect("a CRI line");
    assert_eq!(line.time, b"2026 11 24");
    assert_eq!(line.content, b"stdout F x");
    assert_eq!(parse_cri(b" stdout F x"), None, "the time is not empty");
}

#[test]
fn raw_lines_become_log_records_and_keep_their_cr() {
    let (out, shape) = records(
        "ANALYTICS {\"a\":1}\r\n[INFO] \"quoted\" \\ text\n",
        Shape::Auto,
        true,
    );
    assert_eq!(shape, Shape::Lines);
    assert_eq!(
        out,
        [
            r#"{"log":"ANALYTICS {\"a\":1}\r"}"#,
            r#"{"log":"[INFO] \"quoted\" \\ text"}"#
        ]
    );
}

#[test]
fn a_last_line_without_newline_is_a_record() {
    assert_eq!(auto("one\ntwo"), [r#"{"log":"one"}"#, r#"{"log":"two"}"#]);
}

#[test]
fn empty_lines_are_records_like_fluent_bits_tail() {
    assert_eq!(
        auto("\n\nANALYTICS x\n\n"),
        [
            r#"{"log":""}"#,
            r#"{"log":""}"#,
            r#"{"log":"ANALYTICS x"}"#,
            r#"{"log":""}"#
        ]
    );
    let docker = "\n{\"log\":\"a\\n\",\"stream\":\"stdout\"}\n";
    let (out, shape) = records(docker, Shape::Auto, true);
    assert_eq!(
        shape,
        Shape::Docker,
        "detected from the first non-empty line"
    );
    assert_eq!(out, [r#"{"log":""}"#, r#"{"log":"a\n","stream":"stdout"}"#]);
}

#[test]
fn invalid_utf8_in_a_raw_line_becomes_replacement_characters() {
    let mut reader = RecordReader::new(Cursor::new(&b"bad \xff byte\n"[..]), Shape::Lines, true)
        .expect("in memory");
    let record = reader
        .next_record()
        .expect("in memory")
        .expect("one record");
    assert_eq!(record, Record::Line(b"bad \xff byte"));
    let mut json = Vec::new();
    record.write_json(&mut json);
    assert_eq!(json, "{\"log\":\"bad \u{FFFD} byte\"}".as_bytes());
}

#[test]
fn json_lines_are_passed_as_they_are_even_when_invalid() {
    let input = "{\"MESSAGE\":\"ANALYTICS {}\"}\n{\"MESSAGE\": not json\n{\"MESSAGE\":\"x\"}\n";
    let (out, shape) = records(input, Shape::Auto, true);
    assert_eq!(shape, Shape::Journal);
    assert_eq!(
        out,
        [
            r#"{"MESSAGE":"ANALYTICS {}"}"#,
            r#"{"MESSAGE": not json"#,
            r#"{"MESSAGE":"x"}"#
        ]
    );
}

#[test]
fn complete_docker_entries_are_passed_untouched() {
    let line = r#"{"log":"ANALYTICS {\"a\":\"\u00e9\/\"}\n","stream":"stdout","time":"t1"}"#;
    assert_eq!(auto(&format!("{line}\n")), [line]);
}

#[test]
fn docker_partial_entries_are_joined_keeping_the_first_entrys_fields() {
    let input = concat!(
        r#"{"log":"ANALYTICS {\"a\":","stream":"stdout","time":"t1","attrs":{"z":1,"a":2}}"#,
        "\n",
        r#"{"log":"1,\"b\"","stream":"stdout","time":"t2","attrs":{"z":1,"a":2}}"#,
        "\n",
        r#"{"log":":2}\n","stream":"stdout","time":"t3","attrs":{"z":1,"a":2}}"#,
        "\n",
        r#"{"log":"next\n","stream":"stdout","time":"t4"}"#,
        "\n",
    );
    assert_eq!(
        auto(input),
        [
            r#"{"log":"ANALYTICS {\"a\":1,\"b\":2}\n","stream":"stdout","time":"t1","attrs":{"z":1,"a":2}}"#,
            r#"{"log":"next\n","stream":"stdout","time":"t4"}"#,
        ]
    );
}

#[test]
fn docker_parts_are_grouped_by_stream() {
    let input = concat!(
        r#"{"log":"out-1 ","stream":"stdout","time":"t1"}"#,
        "\n",
        r#"{"log":"err whole\n","stream":"stderr","time":"t2"}"#,
        "\n",
        r#"{"log":"err-1 ","stream":"stderr","time":"t3"}"#,
        "\n",
        r#"{"log":"out-2\n","stream":"stdout","time":"t4"}"#,
        "\n",
        r#"{"log":"err-2\n","stream":"stderr","time":"t5"}"#,
        "\n",
    );
    assert_eq!(
        auto(input),
        [
            r#"{"log":"err whole\n","stream":"stderr","time":"t2"}"#,
            r#"{"log":"out-1 out-2\n","stream":"stdout","time":"t1"}"#,
            r#"{"log":"err-1 err-2\n","stream":"stderr","time":"t3"}"#,
        ]
    );
}

#[test]
fn a_pending_docker_part_is_flushed_at_the_end() {
    let input = concat!(
        r#"{"log":"ANALYTICS {\"cut","stream":"stdout","time":"t1"}"#,
        "\n",
        r#"{"log":" here","stream":"stdout","time":"t2"}"#,
        "\n",
    );
    assert_eq!(
        auto(input),
        [r#"{"log":"ANALYTICS {\"cut here","stream":"stdout","time":"t1"}"#]
    );
}

#[test]
fn no_multiline_passes_docker_parts_one_by_one() {
    let first = r#"{"log":"ANALYTICS {\"a\":","stream":"stdout","time":"t1"}"#;
    let second = r#"{"log":"1}\n","stream":"stdout","time":"t2"}"#;
    let (out, shape) = records(&format!("{first}\n{second}\n"), Shape::Auto, false);
    assert_eq!(shape, Shape::Docker);
    assert_eq!(out, [first, second]);
}

#[test]
fn a_non_docker_line_in_docker_input_goes_through_without_breaking_a_group() {
    let input = concat!(
        r#"{"log":"a ","stream":"stdout"}"#,
        "\n",
        "not json\n",
        r#"{"log":"b\n","stream":"stdout"}"#,
        "\n",
    );
    assert_eq!(
        records(input, Shape::Docker, true).0,
        ["not json", r#"{"log":"a b\n","stream":"stdout"}"#]
    );
}

#[test]
fn cri_lines_become_records_in_fluent_bits_key_order() {
    let (out, shape) = records(
        "2026-11-24T12:00:00Z stdout F ANALYTICS {\"a\":1}\n",
        Shape::Auto,
        true,
    );
    assert_eq!(shape, Shape::Cri);
    assert_eq!(
        out,
        [
            r#"{"time":"2026-11-24T12:00:00Z","stream":"stdout","_p":"F","log":"ANALYTICS {\"a\":1}"}"#
        ]
    );
}

#[test]
fn cri_p_parts_are_joined_until_the_f_line_per_stream() {
    let input = concat!(
        "2026-11-24T12:00:00Z stdout P ANALYTICS {\"a\":\n",
        "2026-11-24T12:00:01Z stderr F [ERROR] whole\n",
        "2026-11-24T12:00:02Z stdout P 1,\"b\":\n",
        "2026-11-24T12:00:03Z stdout F 2}\n",
        "2026-11-24T12:00:04Z stdout F next\n",
    );
    assert_eq!(
        auto(input),
        [
            r#"{"time":"2026-11-24T12:00:01Z","stream":"stderr","_p":"F","log":"[ERROR] whole"}"#,
            // Like Fluent Bit: the first part's fields, the joined content.
            r#"{"time":"2026-11-24T12:00:00Z","stream":"stdout","_p":"P","log":"ANALYTICS {\"a\":1,\"b\":2}"}"#,
            r#"{"time":"2026-11-24T12:00:04Z","stream":"stdout","_p":"F","log":"next"}"#,
        ]
    );
}

#[test]
fn a_pending_cri_part_is_flushed_at_the_end() {
    assert_eq!(
        auto("2026-11-24T12:00:00Z stdout P ANALYTICS {\"cut\n"),
        [r#"{"time":"2026-11-24T12:00:00Z","stream":"stdout","_p":"P","log":"ANALYTICS {\"cut"}"#]
    );
}

#[test]
fn no_multiline_passes_cri_parts_one_by_one() {
    let input = "2026-11-24T12:00:00Z stdout P one \n2026-11-24T12:00:01Z stdout F two\n";
    assert_eq!(
        records(input, Shape::Cri, false).0,
        [
            r#"{"time":"2026-11-24T12:00:00Z","stream":"stdout","_p":"P","log":"one "}"#,
            r#"{"time":"2026-11-24T12:00:01Z","stream":"stdout","_p":"F","log":"two"}"#,
        ]
    );
}

#[test]
fn a_line_that_is_not_cri_in_cri_input_becomes_a_log_record() {
    assert_eq!(
        records("garbage line\n", Shape::Cri, true).0,
        [r#"{"log":"garbage line"}"#]
    );
}

#[test]
fn stats_count_lines_and_bytes() {
    let input = "a\n\nb\r\nc";
    let mut reader =
        RecordReader::new(Cursor::new(input.as_bytes()), Shape::Auto, true).expect("in memory");
    let mut count = 0;
    while reader.next_record().expect("in memory").is_some() {
        count += 1;
    }
    assert_eq!(count, 4);
    assert_eq!(reader.stats().lines, 4);
    assert_eq!(reader.stats().bytes, input.len() as u64);
}

#[test]
fn an_empty_input_has_no_records() {
    let (out, shape) = records("", Shape::Auto, true);
    assert!(out.is_empty());
    assert_eq!(shape, Shape::Lines);
}

#[test]
fn format_names_round_trip() {
    for shape in [
        Shape::Auto,
        Shape::Lines,
        Shape::Docker,
        Shape::Cri,
        Shape::Journal,
        Shape::Json,
    ] {
        assert_eq!(Shape::from_name(shape.name()), Some(shape));
    }
    assert_eq!(Shape::from_name("syslog"), None);
}
