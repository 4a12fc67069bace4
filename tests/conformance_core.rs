//! The core against the whole corpus, in every shape, both entry points.

mod support;

use support::{Answer, Case, all_cases, assert_conforms};
use twingate_analytics::{Options, Outcome, Profile, Transformer};

fn answer(t: &Transformer, outcome: Outcome) -> Answer {
    let text = String::from_utf8(t.output().to_vec()).expect("output is UTF-8");
    match outcome {
        Outcome::Event => Answer::Event(text),
        Outcome::Dropped => Answer::Dropped,
        Outcome::Kept => Answer::Kept(text),
        Outcome::Error(_) => Answer::Error(text),
    }
}

fn record_door(options: Options) -> impl FnMut(&Case) -> Answer {
    let mut t = Transformer::new();
    move |case| {
        let outcome = t.transform_record(case.record.as_bytes(), options);
        answer(&t, outcome)
    }
}

#[test]
fn every_record_of_every_shape_matches_the_contract() {
    let cases = all_cases();
    assert_eq!(cases.len(), 5 * 2000);
    assert_conforms(
        "core, records",
        false,
        &cases,
        record_door(Options::flatten()),
    );
}

#[test]
fn keep_passes_non_analytics_records_unchanged() {
    let cases = all_cases();
    assert_conforms(
        "core, records, keep",
        true,
        &cases,
        record_door(Options::flatten().keep()),
    );
}

#[test]
fn bare_lines_match_the_contract() {
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| c.line.is_some())
        .collect();
    assert_eq!(cases.len(), 2 * 2000);
    for (keep, options) in [
        (false, Options::flatten()),
        (true, Options::flatten().keep()),
    ] {
        let mut t = Transformer::new();
        assert_conforms("core, lines", keep, &cases, |case| {
            let line = case.line.as_deref().unwrap_or_default();
            let outcome = t.transform_line(line.as_bytes(), options);
            answer(&t, outcome)
        });
    }
}

/// The in-place fast path must give byte-for-byte what decoding the line
/// first gives, on every record and on every prefix of the analytics ones
/// (cut lines exercise every way the fast path can give up); for `ecs` and
/// `ocsf`, the layout walk what sorting and nesting every leaf gives.
#[test]
fn fast_path_agrees_with_the_reference_byte_for_byte() {
    let mut fast = Transformer::new();
    let mut reference = Transformer::new();
    let mut compare = |record: &[u8], options: Options| {
        let a = fast.transform_record(record, options);
        let b = reference.transform_record_reference(record, options);
        assert_eq!(a, b, "outcome for {}", String::from_utf8_lossy(record));
        assert_eq!(
            fast.output(),
            reference.output(),
            "output for {}",
            String::from_utf8_lossy(record)
        );
    };
    // Every profile takes the fast path for its payload.
    let every = [Profile::Flatten, Profile::Ecs, Profile::Ocsf]
        .into_iter()
        .flat_map(|p| [Options::profile(p), Options::profile(p).keep()]);
    let cases = all_cases();
    for case in &cases {
        for options in every.clone() {
            compare(case.record.as_bytes(), options);
        }
    }
    // Records built to reach every branch of the fast path.
    let crafted = [
        r#"{"MESSAGE":"ANALYTICS {\"a\":1}","log":"x"}"#,
        r#"{"MESSAGE":"ANALYTICS {\"a\":1}","log":5,"message":7}"#,
        r#"{"message":"ANALYTICS {\"a\":1}","MESSAGE":"ANALYTICS {\"b\":2}"}"#,
        r#"{"x":1,"log":"ANALYTICS {\"a\":\"\\u00e9\\\"x\\\\\\/\\n\",\"b\":[1,{\"c\":\"d\"}]} tail\r\n","y":{"z":[]}}"#,
        r#"{"log":"ANALYTICS {\"user\":{\"email\":\"zo\u00eb\ud83d\ude00\"}}\n"}"#,
        r#"{"log":"ANALYTICS {\"a\":\"\u0041\"}"}"#,
        r#"{"log":"ANALYTICS \t {\"a\" : { \"b\" : 1 } }\n"}"#,
        r#"{"log":"ANALYTICS {\"location\":\"{\\\"geoip\\\":{\\\"city\\\":\\\"K\\\\u00f6ln\\\"}}\"}"}"#,
        r#"{"l\u006fg":"ANALYTICS {\"a\":1}","log":"ANALYTICS {\"b\":2}"}"#,
        r#"{"log":"ANALYTICS {\"a\":1}","log":"ANALYTICS {\"b\":2}","stream":"s"}"#,
        r#"{"stream":"ANALYTICS {}","log":"ANALYTICS {\"stream\":1}"}"#,
    ];
    for record in crafted {
        for options in every.clone() {
            compare(record.as_bytes(), options);
        }
    }
    // Invalid UTF-8 inside the payload, and inside the trailing text.
    compare(
        b"{\"log\":\"ANALYTICS {\\\"a\\\":\\\"\xc3\xa9\xff\\\"} \xfe\"}",
        Options::flatten(),
    );
    // Every cut of a few analytics records, in the shapes that carry them.
    for case in cases
        .iter()
        .filter(|c| c.record.contains("ANALYTICS"))
        .step_by(97)
    {
        let record = case.record.as_bytes();
        for cut in 0..record.len() {
            compare(&record[..cut], Options::flatten());
            compare(&record[..cut], Options::profile(Profile::Ecs));
        }
    }
}
