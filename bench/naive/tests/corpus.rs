//! The naive baseline against the shared corpus (all five shapes), with the
//! one fixture every door is checked against.
//!
//! Ordinary records (every line the generator writes without `--hostile`:
//! its service lines and its generated v1/v2 events) must match the
//! contract exactly. Hostile lines may differ; each difference must fall in
//! one of the documented kinds below, and the test prints how many.

#[path = "../../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::{Answer, Case, Expected};
use twingate_naive::{Naive, transform};

/// The generator's service lines (`SERVICE` in gen_corpus.py).
const SERVICE: [&str; 12] = [
    "[INFO] [connector] State: Online",
    "[INFO] [connector] State: Offline",
    "[INFO] [connector] processing \"health\" request",
    "[WARN] [libsdwan] [controller] operator(): failed to get SD: Gone, code 410",
    "[ERROR] [connector] Failed to submit analytics events: Unexpected error: error sending request",
    "[DEBUG] [libsdwan] resetting configuration",
    "Response was: {\"error\":true,\"status\":403,\"service\":\"Access Manager\",\"message\":\"Token is expired.\"}",
    "[2026-03-18 19:40:55] [metrics] {\"ts\":\"2026-03-18T19:40:55Z\",\"event\":\"metrics\"}",
    "analytics {\"not\":\"the prefix\"}",
    "ANALYTICSX {\"a\":1}",
    " ANALYTICS {\"leading\":\"space\"}",
    "",
];

/// Whether a connector line is one the generator writes without
/// `--hostile`: a service line, or `ANALYTICS ` + one generated payload
/// (an object with the keys every generated payload has, nothing after it).
fn ordinary(line: &str) -> bool {
    if SERVICE.contains(&line) {
        return true;
    }
    let Some(body) = line.strip_prefix("ANALYTICS ") else {
        return false;
    };
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(payload)) => ["connection", "connector", "device", "user", "timestamp"]
            .iter()
            .all(|key| payload.contains_key(*key)),
        Err(_) | Ok(_) => false,
    }
}

/// Why the naive baseline differs on a hostile line (documented kinds).
fn hostile_kind(line: &str, expected: &Expected) -> &'static str {
    let body = line.strip_prefix("ANALYTICS").unwrap_or(line).trim_start();
    match expected {
        Expected::Error if body.starts_with("{\"a\":{\"a\":") => {
            "deeper than 64 levels: no nesting limit, an event"
        }
        Expected::Event(fields) if fields.contains_key("twingate.trailing") => {
            "text fused after the payload: an error record, not twingate.trailing"
        }
        Expected::Event(_) if line.contains("\\ud800") => {
            "lone surrogate escape: serde_json rejects it, an error record"
        }
        Expected::Error => "broken payload: an error record without the contract's wording",
        _ => "other",
    }
}

fn answer(case: &Case) -> Answer {
    match transform(case.record.as_bytes()) {
        Naive::Event(text) => Answer::Event(text),
        Naive::Dropped => Answer::Dropped,
        Naive::Error(text) => Answer::Error(text),
    }
}

#[test]
fn naive_matches_the_contract_on_ordinary_records() {
    let connector = std::fs::read_to_string(support::corpus_dir().join("connector.log"))
        .expect("read connector.log");
    let lines: Vec<&str> = connector.split('\n').collect();
    let cases = support::all_cases();
    let mut ordinary_cases = 0;
    let mut ordinary_events = 0;
    let mut failures = Vec::new();
    let mut hostile: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        let line = lines[case.line_no - 1];
        let result = support::check(case, false, &answer(case));
        if ordinary(line) {
            ordinary_cases += 1;
            ordinary_events += usize::from(matches!(case.expected, Expected::Event(_)));
            if let Err(why) = result {
                failures.push(format!("{} line {}: {why}", case.shape, case.line_no));
            }
        } else if result.is_err() {
            *hostile
                .entry(hostile_kind(line, &case.expected))
                .or_default() += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} ordinary records differ:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    // The corpus is 2,000 lines in five shapes, about 95% of them ordinary.
    assert!(
        ordinary_cases > 9_000,
        "only {ordinary_cases} ordinary records"
    );
    assert!(
        ordinary_events > 6_000,
        "only {ordinary_events} ordinary events"
    );
    eprintln!(
        "naive: {ordinary_cases} ordinary records ({ordinary_events} events) match; hostile records that differ: {hostile:?}"
    );
    assert!(
        !hostile.contains_key("other"),
        "an undocumented difference: {hostile:?}"
    );
}
