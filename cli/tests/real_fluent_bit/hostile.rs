//! The hostile corpus in the real host: the committed corpus plus one made
//! with another seed, as a Docker connector container's json-file log, run
//! through `examples/fluent-bit/docker.conf` with each of the six entry
//! points, at Fluent Bit's default `wasm_heap_size` (8 KiB) and at 4M.
//! Nothing may be lost: every record comes out as the corpus says, except
//! those that do not fit in the heap, which must come out as the heap error
//! record. And the exact heap boundary: the largest record that fits is
//! handed over, one byte more is not.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::examples::{Shape, corpus};
use crate::expect::{DEFAULT_HEAP, Want, fits, fluent_bit_json};
use crate::layout;
use crate::run::DockerRun;
use crate::support::{Case, Expected, cases_in, repo_root};
use crate::{Suite, TestResult, Verdict};

/// The heap sizes of the runs: Fluent Bit's default, and the examples' 4M.
pub const HEAPS: [u64; 2] = [DEFAULT_HEAP, 4 << 20];
/// The seed of the second hostile corpus (the committed one is seed 7).
const SEED: u32 = 11;
const LINES: u32 = 2000;

pub fn heap_name(heap: u64) -> String {
    if heap == DEFAULT_HEAP {
        "default_heap".into()
    } else {
        format!("heap_{}m", heap >> 20)
    }
}

/// docker.conf with `function_name` set and `wasm_heap_size` set or, for
/// the default, removed.
fn docker_conf(function: &str, heap: u64) -> Config {
    let mut config = Config::load(&repo_root().join("examples/fluent-bit/docker.conf"));
    let wasm = config.filter_mut("wasm");
    wasm.set("function_name", function);
    if heap == DEFAULT_HEAP {
        wasm.remove("wasm_heap_size");
    } else {
        wasm.set("wasm_heap_size", format!("{}M", heap >> 20));
    }
    config
}

/// The committed corpus and one generated with [`SEED`], Docker records.
fn hostile_cases(suite: &Suite) -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let dir = suite.work.join(format!("corpus-seed-{SEED}"));
        let generator = repo_root().join("tests/tools/gen_corpus.py");
        let status = Command::new("python3")
            .arg(&generator)
            .arg(&dir)
            .args([
                "--seed",
                &SEED.to_string(),
                "--lines",
                &LINES.to_string(),
                "--hostile",
            ])
            .status()
            .unwrap_or_else(|e| panic!("run python3 {}: {e}", generator.display()));
        assert!(status.success(), "{} failed", generator.display());
        let mut cases = corpus(Shape::Docker);
        cases.extend(
            cases_in(&dir, &dir)
                .into_iter()
                .filter(|c| c.shape == "docker"),
        );
        cases
    })
}

pub fn test(suite: &Suite, function: &'static str, heap: u64) -> TestResult {
    let cases = hostile_cases(suite);
    let name = format!("hostile.{function}.{}", heap_name(heap));
    run_docker(
        suite,
        &name,
        docker_conf(function, heap),
        |_| cases.to_vec(),
        |wants| {
            let heap_errors = wants
                .iter()
                .filter(|w| matches!(w, Want::HeapError { .. }))
                .count();
            match heap {
                DEFAULT_HEAP if heap_errors == 0 => {
                    Err("the hostile corpora hold records over 8 KiB: expected heap errors".into())
                }
                DEFAULT_HEAP => Ok(()),
                _ if heap_errors > 0 => Err(format!("{heap_errors} records do not fit in 4M")),
                _ => Ok(()),
            }
        },
    )
}

/// Runs docker.conf (as given) on the cases `make_cases` gives for the
/// connector's tag and checks every record and counter; `sanity` checks the
/// wanted records (that the run tests what it means to).
fn run_docker(
    suite: &Suite,
    name: &str,
    config: Config,
    make_cases: impl FnOnce(&str) -> Vec<Case>,
    sanity: impl Fn(&[Want]) -> Result<(), String>,
) -> TestResult {
    let run = DockerRun::go(suite, name, config, make_cases).map_err(Verdict::fail)?;
    sanity(&run.wants).map_err(|e| Verdict::fail(format!("{name}: {e}")))?;
    run.done.verdict(suite, name, &run.checks(name))
}

/// Records at the default heap's exact boundary for the connector's tag:
/// a service line and an analytics event of the largest size that fits,
/// and of one byte more. `twingate_flatten_keep` keeps the first, turns the
/// second into an event, and the two larger ones into heap error records.
pub fn heap_boundary(suite: &Suite) -> TestResult {
    let config = docker_conf("twingate_flatten_keep", DEFAULT_HEAP);
    let cases = |tag: &str| {
        let largest = (0..DEFAULT_HEAP as usize)
            .rev()
            .find(|&len| fits(DEFAULT_HEAP, tag.len(), len))
            .expect("some record fits");
        let event =
            json!({"event_type": "established_connection", "timestamp": 1_700_000_000_000u64});
        let mut cases = Vec::new();
        for (n, size) in [largest, largest + 1].into_iter().enumerate() {
            cases.push(sized_case(n * 2 + 1, size, None));
            cases.push(sized_case(n * 2 + 2, size, Some(event.clone())));
        }
        cases
    };
    run_docker(suite, "hostile.heap_boundary", config, cases, |wants| {
        let heap_errors = wants
            .iter()
            .filter(|w| matches!(w, Want::HeapError { .. }))
            .count();
        if wants.len() == 4 && heap_errors == 2 {
            Ok(())
        } else {
            Err(format!(
                "expected 4 records, 2 of them heap errors: {wants:?}"
            ))
        }
    })
}

/// A Docker record whose JSON, as Fluent Bit renders it with the connector's
/// attrs, is exactly `size` bytes: a service line, or an analytics line
/// with `payload` plus a padding field.
fn sized_case(line_no: usize, size: usize, payload: Option<Value>) -> Case {
    let record = |log: &str| -> Map<String, Value> {
        let mut record = Map::new();
        record.insert("log".into(), log.into());
        record.insert("stream".into(), "stdout".into());
        record.insert("attrs".into(), json!({ "tag": layout::DOCKER_TAG }));
        record.insert("time".into(), "2026-11-24T12:00:00.000000000Z".into());
        record
    };
    let line = |pad: usize| match &payload {
        None => format!("[INFO] [connector] {}\n", "x".repeat(pad)),
        Some(payload) => {
            let mut payload = payload.clone();
            payload["pad"] = "x".repeat(pad).into();
            format!("ANALYTICS {payload}\n")
        }
    };
    let base = fluent_bit_json(&Value::Object(record(&line(0)))).len();
    assert!(base <= size, "a {size}-byte record cannot be made");
    let log = line(size - base);
    let record = record(&log);
    assert_eq!(fluent_bit_json(&Value::Object(record.clone())).len(), size);
    let expected = match &payload {
        None => Expected::Drop,
        Some(payload) => {
            let mut fields = payload.as_object().expect("an object").clone();
            fields.insert("pad".into(), "x".repeat(size - base).into());
            Expected::Event(fields)
        }
    };
    Case {
        shape: "docker",
        line_no,
        record: Value::Object(record).to_string(),
        line: None,
        line_key: "log",
        expected,
    }
}
