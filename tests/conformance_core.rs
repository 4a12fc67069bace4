//! The core against the whole corpus, in every shape, both entry points.

mod support;

use support::{Answer, Case, all_cases, assert_conforms};
use twingate_analytics::{Options, Outcome, Transformer};

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
