//! Arbitrary bytes as a log file, read by the CLI's `RecordReader` in every
//! shape, with and without multiline joins: no panic, every byte and line
//! counted, every record it yields held to the oracle through the core.
#![no_main]

use std::cell::RefCell;
use std::io::{BufReader, Cursor};

use libfuzzer_sys::fuzz_target;
use twingate_analytics::Transformer;
use twingate_analytics_fuzz::input::{Record, RecordReader, Shape, detect_shape, parse_cri};
use twingate_analytics_fuzz::{Input, check_core};

thread_local! {
    static STATE: RefCell<(Transformer, Transformer, Vec<u8>)> =
        const { RefCell::new((Transformer::new(), Transformer::new(), Vec::new())) };
}

const SHAPES: [Shape; 6] = [
    Shape::Auto,
    Shape::Lines,
    Shape::Docker,
    Shape::Cri,
    Shape::Journal,
    Shape::Json,
];

fuzz_target!(|data: &[u8]| {
    let _ = detect_shape(data);
    if let Some(cri) = parse_cri(data) {
        assert!(!cri.time.is_empty() && matches!(cri.stream, "stdout" | "stderr"));
    }
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let lines = newlines + u64::from(data.last().is_some_and(|&b| b != b'\n'));
    let mut unique = std::collections::HashSet::new();
    STATE.with_borrow_mut(|(fast, reference, json)| {
        for shape in SHAPES {
            for multiline in [true, false] {
                // A small buffer: lines cross buffer boundaries.
                let source = BufReader::with_capacity(7, Cursor::new(data));
                let mut reader = RecordReader::new(source, shape, multiline).expect("in memory");
                let mut records = 0u64;
                while let Some(record) = reader.next_record().expect("in memory") {
                    records += 1;
                    record.write_json(json);
                    if let Record::Line(_) = record {
                        // A raw line becomes a valid `{"log": ...}` record.
                        let value: serde_json::Value =
                            serde_json::from_slice(json).expect("a line record is JSON");
                        assert!(value["log"].is_string(), "{value}");
                    }
                    unique.insert(json.clone());
                }
                let stats = reader.stats();
                assert_eq!(stats.bytes, data.len() as u64, "{shape} {multiline}");
                assert_eq!(stats.lines, lines, "{shape} {multiline}");
                if !multiline || matches!(shape, Shape::Lines | Shape::Journal | Shape::Json) {
                    assert_eq!(records, lines, "one record a line: {shape} {multiline}");
                } else {
                    assert!(records <= lines, "{shape} {multiline}");
                }
            }
        }
        // Every record any reading yields, once.
        for record in &unique {
            check_core(fast, reference, Input::Record(record));
        }
    });
});
