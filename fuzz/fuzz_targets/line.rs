//! Arbitrary bytes as a bare line (`transform_line`), and the same line as
//! the record `{"log": line}`: both must hold every invariant and agree.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use twingate_analytics::Transformer;
use twingate_analytics_fuzz::{Input, Kind, OPTIONS, check_core};

thread_local! {
    static STATE: RefCell<(Transformer, Transformer, Transformer)> =
        const { RefCell::new((Transformer::new(), Transformer::new(), Transformer::new())) };
}

fuzz_target!(|line: &[u8]| {
    STATE.with_borrow_mut(|(fast, reference, as_record)| {
        check_core(fast, reference, Input::Line(line));
        // A UTF-8 line means the same as the record holding it.
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let record = serde_json::json!({ "log": text }).to_string();
        for (options, _) in OPTIONS {
            let from_line = Kind::from(&fast.transform_line(line, options));
            let from_record = Kind::from(&as_record.transform_record(record.as_bytes(), options));
            assert_eq!(from_line, from_record, "line {text:?} vs record {record}");
            let a: serde_json::Value = serde_json::from_slice(fast.output()).unwrap_or_default();
            let b: serde_json::Value =
                serde_json::from_slice(as_record.output()).unwrap_or_default();
            assert_eq!(a, b, "line {text:?} vs record {record}");
        }
        check_core(as_record, reference, Input::Record(record.as_bytes()));
    });
});
