//! Correctness in the same run: the three implementations answer the
//! corpus as the generator's expected outcomes say, checked with the
//! project's shared fixture (`tests/support`, the same checker every door's
//! tests use).

use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};
use twingate_analytics::{Options, Outcome, Transformer};
use twingate_naive::Naive;
use twingate_vector::Remap;

use crate::corpus::{self, Corpus, Kind, Records};
use crate::support::{self, Answer, Case, Expected};

/// Ours, natively: the outcome's kind and the output.
pub fn ours(transformer: &mut Transformer, record: &[u8]) -> Kind {
    match transformer.transform_record(record, Options::flatten()) {
        Outcome::Event => Kind::Event,
        Outcome::Dropped | Outcome::Kept => Kind::Drop,
        Outcome::Error(_) => Kind::Error,
    }
}

pub fn naive_kind(answer: &Naive) -> Kind {
    match answer {
        Naive::Event(_) => Kind::Event,
        Naive::Dropped => Kind::Drop,
        Naive::Error(_) => Kind::Error,
    }
}

/// The event Vector's `docker_logs` source hands the remap program for a
/// Docker record: the line under `message`, the other fields as they are.
pub fn vrl_event(record: &[u8]) -> Result<Map<String, Value>, String> {
    let map: Map<String, Value> =
        serde_json::from_slice(record).map_err(|e| format!("record is not a JSON object: {e}"))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| {
            if k == "log" {
                ("message".to_owned(), v)
            } else {
                (k, v)
            }
        })
        .collect())
}

/// VRL: record text → event → remap program → JSON text.
pub fn vrl(remap: &Remap, record: &[u8]) -> Result<Answer, String> {
    match remap.run(&vrl_event(record)?) {
        twingate_vector::Outcome::Aborted => Ok(Answer::Dropped),
        twingate_vector::Outcome::Failed(e) => Err(format!("VRL runtime error: {e}")),
        twingate_vector::Outcome::Event(text) if text.contains("\"twingate.parse_error\"") => {
            Ok(Answer::Error(text))
        }
        twingate_vector::Outcome::Event(text) => Ok(Answer::Event(text)),
    }
}

/// VRL's event in the contract's form, for the checker: the event time
/// the program makes of the payload's `timestamp` (a Vector timestamp)
/// back to epoch milliseconds.
fn contract_form(answer: Answer) -> Result<Answer, String> {
    let Answer::Event(text) = answer else {
        return Ok(answer);
    };
    let mut event: Map<String, Value> = serde_json::from_str(&text)
        .map_err(|e| format!("VRL's event is not a JSON object: {e}"))?;
    twingate_vector::contract_form(&mut event);
    Ok(Answer::Event(Value::Object(event).to_string()))
}

pub fn answer_kind(answer: &Answer) -> Kind {
    match answer {
        Answer::Event(_) => Kind::Event,
        Answer::Error(_) | Answer::Lost(_) | Answer::Kept(_) => Kind::Error,
        Answer::Dropped => Kind::Drop,
    }
}

fn expected(line: &str) -> Result<Expected, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("expected line: {e}"))?;
    match value["outcome"].as_str() {
        Some("event") => Ok(Expected::Event(
            value["fields"]
                .as_object()
                .ok_or("expected event without fields")?
                .clone(),
        )),
        Some("drop") => Ok(Expected::Drop),
        Some("error") => Ok(Expected::Error),
        other => Err(format!("unknown outcome {other:?}")),
    }
}

/// What the correctness pass covered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checked {
    /// Records whose kind was checked, for ours and the naive baseline.
    pub records: u64,
    pub events: u64,
    pub drops: u64,
    pub errors: u64,
    /// Records whose full output was checked against the expected fields
    /// (ours) and against ours as JSON values (naive).
    pub full_checks: u64,
    /// VRL records checked against the expected fields.
    pub vrl_records: u64,
    pub seconds: f64,
}

/// Ours and naive over every record (full output checks on every
/// `every`-th), VRL over the first `vrl_records`.
pub fn run(
    corpus: &Corpus,
    every: usize,
    remap: &Remap,
    vrl_records: usize,
) -> Result<Checked, String> {
    let start = Instant::now();
    let mut checked = Checked::default();
    let mut transformer = Transformer::new();
    let mut lines = corpus::expected_lines(&corpus.dir)?;
    for index in 0..corpus.count() {
        let record = corpus.record(index);
        let line = lines.next().ok_or("expected.ndjson ended early")??;
        let want = corpus.kinds[index];
        let where_ = || format!("record {} of {}", index + 1, corpus.docker_log().display());
        let got = ours(&mut transformer, record);
        if got != want {
            return Err(format!("ours: {}: {got:?}, expected {want:?}", where_()));
        }
        let naive = twingate_naive::transform(record);
        if naive_kind(&naive) != want {
            return Err(format!(
                "naive: {}: {:?}, expected {want:?}",
                where_(),
                naive_kind(&naive)
            ));
        }
        checked.records += 1;
        match want {
            Kind::Event => checked.events += 1,
            Kind::Drop => checked.drops += 1,
            Kind::Error => checked.errors += 1,
        }
        let full = index % every.max(1) == 0;
        let with_vrl = index < vrl_records;
        if !full && !with_vrl {
            continue;
        }
        let case = Case {
            shape: "docker",
            line_no: index + 1,
            record: String::from_utf8_lossy(record).into_owned(),
            line: None,
            line_key: "log",
            expected: expected(&line)?,
        };
        if full {
            let output = String::from_utf8_lossy(transformer.output()).into_owned();
            let answer = match got {
                Kind::Event => Answer::Event(output.clone()),
                Kind::Drop => Answer::Dropped,
                Kind::Error => Answer::Error(output.clone()),
            };
            support::check(&case, false, &answer)
                .map_err(|e| format!("ours: {}: {e}", where_()))?;
            if let Naive::Event(text) = &naive {
                let a: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                let b: Value = serde_json::from_str(&output).map_err(|e| e.to_string())?;
                if !support::json_eq(&a, &b) {
                    return Err(format!(
                        "naive and ours disagree on {}:\n naive {text}\n ours  {output}",
                        where_()
                    ));
                }
            }
            checked.full_checks += 1;
        }
        if with_vrl {
            let answer = contract_form(vrl(remap, record)?)?;
            support::check(&case, false, &answer).map_err(|e| format!("VRL: {}: {e}", where_()))?;
            checked.vrl_records += 1;
        }
    }
    checked.seconds = start.elapsed().as_secs_f64();
    Ok(checked)
}
