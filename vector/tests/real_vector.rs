//! Every Vector config of the repository in the real Vector binary.
//!
//! Found through `VECTOR` (or `vector` on PATH, see tests/support/
//! real_host.rs): without it this suite prints one line saying it skipped,
//! and with `TWINGATE_REQUIRE_REAL_HOSTS=1` (CI) a missing binary fails it.
//! A `harness = false` test binary, so that the skip line is seen.
//!
//! * `vector validate` on every config: vector.toml, the examples, the Helm
//!   values' `customConfig`; kubernetes_logs.toml only where the build has
//!   the `kubernetes_logs` source.
//! * Each config runs for real, with its source fed the corpus (and a few
//!   lines of its own, [`extra_lines`]) in the shape that source delivers:
//!   - vector.toml keeps its real `journald` source: `journalctl_path`
//!     points at a stand-in that prints the records `journalctl -o json`
//!     would (the corpus's journal records, and its syslog lines as journal
//!     MESSAGEs), so Vector itself makes the events;
//!   - docker_logs.toml, kubernetes_logs.toml and the Helm values get a
//!     `stdin` source and a remap that restores the types JSON cannot carry,
//!     fed the events `docker_logs` and `kubernetes_logs` make (their fields
//!     as Vector 0.57.0's src/sources/docker_logs/mod.rs and
//!     src/sources/kubernetes_logs/ set them, legacy namespace);
//!   - exec.toml as written, its `journalctl` and `twingate` found on PATH:
//!     the stand-in, and the CLI of this workspace (target/release/twingate,
//!     which `cargo test --release --workspace` builds).
//!
//!   Sinks write to files of the run's directory (console sinks become file
//!   sinks, same inputs and encoding); the remap reroutes what it drops to
//!   one more file sink, so drops are counted and checked too; one more
//!   sink writes the events with timestamps as epoch milliseconds into a
//!   file per day of the event time, to show what a sink sees as the time.
//! * Each output record is checked against the corpus's expected outcome
//!   with the shared checker (tests/support): events in every events sink,
//!   error records in every errors sink only, service lines dropped, and
//!   the event time of TEAM.md decision 3.

#[path = "../../tests/support/real_host.rs"]
mod real_host;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use support::{Answer, Case, Expected};
use twingate_vector::event_time_text;

/// A check: its name, and what it does (a one-line summary, or why it
/// failed).
type Check = fn(&Suite) -> Result<String, String>;

const CHECKS: [(&str, Check); 6] = [
    ("validate_every_config", validate_every_config),
    ("vector_toml_with_journald", vector_toml_with_journald),
    ("docker_logs_toml", docker_logs_toml),
    ("kubernetes_logs_toml_program", kubernetes_logs_toml_program),
    ("helm_values_config", helm_values_config),
    ("exec_toml_runs_the_cli", exec_toml_runs_the_cli),
];

/// How long a run may take before it counts as stuck.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in CHECKS {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let vector = match real_host::VECTOR.find() {
        Ok(path) => path,
        Err(skipped) => {
            println!("{skipped}");
            return ExitCode::SUCCESS;
        }
    };
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let suite = Suite::new(vector);
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in CHECKS {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let t = Instant::now();
        match check(&suite) {
            Ok(summary) => {
                passed += 1;
                println!(
                    "test real_vector::{name} ... ok ({:.1} s): {summary}",
                    t.elapsed().as_secs_f64()
                );
            }
            Err(why) => {
                failed += 1;
                println!("test real_vector::{name} ... FAILED\n{why}\n");
            }
        }
    }
    println!(
        "real Vector ({}): {passed} passed, {failed} failed in {:.1} s",
        suite.vector.display(),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        // Keep the directory of a failed run for a look; drop it otherwise.
        let _ = std::fs::remove_dir_all(&suite.work);
        ExitCode::SUCCESS
    } else {
        println!("the runs' files are in {}", suite.work.display());
        ExitCode::FAILURE
    }
}

/// What every check shares.
struct Suite {
    vector: PathBuf,
    root: PathBuf,
    /// A directory of this process's own, under the system's temp dir.
    work: PathBuf,
}

impl Suite {
    fn new(vector: PathBuf) -> Self {
        let work =
            std::env::temp_dir().join(format!("twingate-real-vector-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", work.display()));
        Suite {
            vector,
            root: support::repo_root(),
            work,
        }
    }

    fn read(&self, relative: &str) -> Result<String, String> {
        let path = self.root.join(relative);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A fresh directory for one run.
    fn run_dir(&self, name: &str) -> Result<PathBuf, String> {
        let dir = self.work.join(name);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// `vector validate --no-environment FILE`: its output, or why it failed.
    fn validate(&self, config: &Path) -> Result<String, String> {
        let out = Command::new(&self.vector)
            .args(["validate", "--no-environment"])
            .arg(config)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.vector.display()))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(text)
        }
    }
}

// ---------------------------------------------------------------------------
// The configs.

const VECTOR_TOML: &str = "vector.toml";
const DOCKER_TOML: &str = "examples/vector/docker_logs.toml";
const KUBERNETES_TOML: &str = "examples/vector/kubernetes_logs.toml";
const EXEC_TOML: &str = "examples/vector/exec.toml";
const HELM_VALUES: &str = "examples/kubernetes/vector-values.yaml";

/// The Helm values' `customConfig`: the config the chart writes for Vector
/// (as YAML, the chart's format).
fn helm_config(suite: &Suite) -> Result<toml::Table, String> {
    let values: toml::Value = serde_yaml_ng::from_str(&suite.read(HELM_VALUES)?)
        .map_err(|e| format!("{HELM_VALUES}: {e}"))?;
    match values.get("customConfig") {
        Some(toml::Value::Table(config)) => Ok(config.clone()),
        _ => Err(format!("{HELM_VALUES}: no customConfig table")),
    }
}

fn toml_config(suite: &Suite, relative: &str) -> Result<toml::Table, String> {
    suite
        .read(relative)?
        .parse()
        .map_err(|e| format!("{relative}: {e}"))
}

fn validate_every_config(suite: &Suite) -> Result<String, String> {
    let dir = suite.run_dir("validate")?;
    let helm = dir.join("helm-custom-config.yaml");
    let yaml = serde_yaml_ng::to_string(&helm_config(suite)?).map_err(|e| e.to_string())?;
    std::fs::write(&helm, yaml).map_err(|e| e.to_string())?;
    let mut checked = Vec::new();
    let mut replaced = Vec::new();
    for (name, path) in [
        (VECTOR_TOML, suite.root.join(VECTOR_TOML)),
        (DOCKER_TOML, suite.root.join(DOCKER_TOML)),
        (EXEC_TOML, suite.root.join(EXEC_TOML)),
        (KUBERNETES_TOML, suite.root.join(KUBERNETES_TOML)),
        (HELM_VALUES, helm),
    ] {
        let out = match suite.validate(&path) {
            // kubernetes_logs is not compiled into every build (not into
            // the one CI uses): there, the rest of the config is validated
            // with a stdin source in its place, and its program runs in
            // kubernetes_logs_toml_program and helm_values_config.
            Err(out) if out.contains("unknown variant `kubernetes_logs`") => {
                let mut config = if name == HELM_VALUES {
                    helm_config(suite)?
                } else {
                    toml_config(suite, name)?
                };
                let source = config
                    .get("sources")
                    .and_then(toml::Value::as_table)
                    .and_then(|s| s.keys().next().cloned())
                    .ok_or_else(|| format!("{name}: no source"))?;
                replace_source_with_stdin(&mut config, &source)?;
                let stand_in = dir.join(format!("{}.toml", replaced.len()));
                std::fs::write(
                    &stand_in,
                    toml::to_string(&config).map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?;
                replaced.push(name);
                suite.validate(&stand_in)
            }
            other => other,
        }
        .map_err(|out| format!("{name} does not validate:\n{out}"))?;
        if !out.contains("Validated") || out.contains("warning") {
            return Err(format!(
                "{name}: validated with warnings, or not at all:\n{out}"
            ));
        }
        checked.push(name);
    }
    let kubernetes = if replaced.is_empty() {
        String::new()
    } else {
        format!(
            " ({}: this build has no kubernetes_logs source, validated with a stdin source in its place)",
            replaced.join(", ")
        )
    };
    Ok(format!(
        "{} validate without warnings{kubernetes}",
        checked.join(", ")
    ))
}

// ---------------------------------------------------------------------------
// The inputs: records as each source delivers them, with the outcome the
// corpus (or this file, for extra_lines) expects.

/// One record fed to a run.
struct Input {
    /// Where it comes from, for messages (`journal line 12`).
    label: String,
    /// The key that finds it in every output (the test's own field).
    seq: String,
    /// The event the source hands the remap program (timestamps as the
    /// `json` codec writes them), or, for the exec door, the record the CLI
    /// reads.
    event: Map<String, Value>,
    /// The key of `event` holding the line.
    line_key: &'static str,
    /// The outcome, with a payload's fields in the contract's form
    /// (`timestamp` as the payload has it).
    expected: Expected,
}

/// The corpus's line of a case: the MESSAGE of a journal record, the
/// record's `log` (Docker), the line itself (raw, syslog) or the CRI line's
/// content.
fn case_line(case: &Case) -> Result<String, String> {
    let record: Map<String, Value> =
        serde_json::from_str(&case.record).map_err(|e| format!("fixture: {e}"))?;
    record
        .get(case.line_key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{} line {}: no {}", case.shape, case.line_no, case.line_key))
}

/// Lines of this suite beyond the corpus, with the outcome both doors (the
/// VRL program, the CLI) must give: a payload's fields in the contract's
/// form, arrays already cut as both write them (the deep objects here have
/// their keys sorted and plain numbers, so VRL's text and the core's are
/// the same). They cover the event time (TEAM.md decision 3), the array
/// bound (decision 1), and payload keys that meet the sources' own fields.
fn extra_lines() -> Vec<(String, Expected)> {
    let event = |fields: Value| match fields {
        Value::Object(map) => Expected::Event(map),
        _ => unreachable!("fields are an object"),
    };
    let mut lines = Vec::new();
    for payload_time in [
        json!(1_623_288_585_643_i64),
        json!(0),
        json!(253_402_300_799_999_i64),
        json!(253_402_300_800_000_i64),
        json!(-1),
        json!("1623288585643"),
        json!(1_623_288_585_643.5),
        Value::Null,
    ] {
        lines.push((
            format!(r#"ANALYTICS {{"event_type":"x","timestamp":{payload_time}}}"#),
            event(json!({ "event_type": "x", "timestamp": payload_time })),
        ));
    }
    lines.push((
        r#"ANALYTICS {"event_type":"no timestamp"}"#.to_owned(),
        event(json!({ "event_type": "no timestamp" })),
    ));
    lines.push((
        r#"ANALYTICS {"timestamp":{"ms":1}}"#.to_owned(),
        event(json!({ "timestamp.ms": 1 })),
    ));
    // The sources' fields: a payload key of the same name replaces them.
    let collide = json!({
        "host": "payload", "source_type": "payload", "message": "payload",
        "stream": "payload", "file": "payload", "container_name": "payload",
        "_SYSTEMD_UNIT": "payload", "timestamp": 1_623_288_585_643_i64
    });
    lines.push((format!("ANALYTICS {collide}"), event(collide)));
    // Arrays keep 16 levels, the array counted; a container at level 17
    // is the string of its compact JSON text.
    let nested = |n: usize, inner: &str| format!("{}{inner}{}", "[".repeat(n), "]".repeat(n));
    let cut = |n: usize, text: &str| {
        let mut value = Value::String(text.to_owned());
        for _ in 0..n {
            value = Value::Array(vec![value]);
        }
        value
    };
    lines.push((
        format!(r#"ANALYTICS {{"a":{}}}"#, nested(16, "1")),
        event(json!({ "a": serde_json::from_str::<Value>(&nested(16, "1")).expect("json") })),
    ));
    lines.push((
        format!(r#"ANALYTICS {{"a":{}}}"#, nested(17, "1")),
        event(json!({ "a": cut(16, "[1]") })),
    ));
    lines.push((
        format!(
            r#"ANALYTICS {{"r":[{{"x":{}}}]}}"#,
            nested(14, r#"{ "a" : 1, "b" : [ 2 ] }"#)
        ),
        event(json!({ "r": [{ "x": cut(14, r#"{"a":1,"b":[2]}"#) }] })),
    ));
    lines
}

/// The journal records of the journald and exec runs: the corpus's journal
/// records, its syslog lines as journal MESSAGEs (with a `_HOSTNAME`), and
/// [`extra_lines`]; each with `TWINGATE_TEST_SEQ`, a journal field of the
/// test's own.
fn journal_inputs() -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    let mut push = |label: String, mut record: Map<String, Value>, expected: Expected| {
        let seq = inputs.len().to_string();
        record.insert("TWINGATE_TEST_SEQ".into(), Value::from(seq.as_str()));
        inputs.push(Input {
            label,
            seq,
            event: record,
            line_key: "MESSAGE",
            expected,
        });
    };
    let journal_record = |line: &str, micros: u64, host: Option<&str>| {
        let mut record = Map::new();
        record.insert("MESSAGE".into(), line.into());
        record.insert("PRIORITY".into(), "6".into());
        record.insert("SYSLOG_IDENTIFIER".into(), "twingate-connector".into());
        record.insert("_SYSTEMD_UNIT".into(), "twingate-connector.service".into());
        record.insert("__REALTIME_TIMESTAMP".into(), micros.to_string().into());
        if let Some(host) = host {
            record.insert("_HOSTNAME".into(), host.into());
        }
        record
    };
    for case in support::all_cases() {
        let label = format!("{} line {}", case.shape, case.line_no);
        match case.shape {
            "journal" => {
                let record = serde_json::from_str(&case.record).map_err(|e| e.to_string())?;
                push(label, record, case.expected.clone());
            }
            "syslog" => {
                let micros = 1_764_100_000_000_000 + 1_000 * case.line_no as u64;
                let record = journal_record(&case_line(&case)?, micros, Some("edge-01"));
                push(label, record, case.expected.clone());
            }
            _ => {}
        }
    }
    for (i, (line, expected)) in extra_lines().into_iter().enumerate() {
        let micros = 1_764_200_000_000_123 + 1_000 * i as u64;
        let record = journal_record(&line, micros, Some("edge-02"));
        push(format!("extra line {}", i + 1), record, expected);
    }
    Ok(inputs)
}

/// The event Vector's `journald` source makes of a journal record (legacy
/// namespace): every field as it is, but MESSAGE as `message`, _HOSTNAME as
/// `host`, no __CURSOR; `timestamp` from _SOURCE_REALTIME_TIMESTAMP or
/// __REALTIME_TIMESTAMP (microseconds); `source_type` "journald".
fn journald_event(record: &Map<String, Value>) -> Map<String, Value> {
    let mut event = Map::new();
    for (key, value) in record {
        let key = match key.as_str() {
            "MESSAGE" => "message",
            "_HOSTNAME" => "host",
            "__CURSOR" => continue,
            other => other,
        };
        event.insert(key.to_owned(), value.clone());
    }
    let micros = ["_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"]
        .iter()
        .find_map(|k| record.get(*k)?.as_str()?.parse::<i64>().ok());
    if let Some(time) = micros.and_then(DateTime::<Utc>::from_timestamp_micros) {
        event.insert("timestamp".into(), vector_time(time).into());
    }
    event.insert("source_type".into(), "journald".into());
    event
}

/// How the `json` codec writes a Vector timestamp.
fn vector_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A container runtime's RFC 3339 time as Vector writes it once parsed.
fn runtime_time(text: &str) -> Result<String, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| vector_time(t.with_timezone(&Utc)))
        .map_err(|e| format!("time {text:?}: {e}"))
}

/// Where the docker and kubernetes runs keep the test's key.
const SEQ_LABEL: &str = "twingate.test.seq";

/// A record of the corpus (or an extra line in its shape) on its way to
/// becoming a source's event.
struct SourceRecord {
    label: String,
    fields: Map<String, Value>,
    /// The test's key for it.
    seq: String,
}

impl SourceRecord {
    fn field(&self, key: &str) -> Result<&str, String> {
        self.fields
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{}: no {key}", self.label))
    }
}

/// The inputs of a run whose source is replaced: the corpus's records of
/// `shape` and the [`extra_lines`] in that shape (`extra(i, line)`), each
/// made into the event the source delivers by `event`.
fn source_inputs(
    shape: &str,
    extra: impl Fn(usize, &str) -> String,
    event: impl Fn(&SourceRecord) -> Result<Value, String>,
) -> Result<Vec<Input>, String> {
    let mut records = Vec::new();
    for case in support::all_cases()
        .into_iter()
        .filter(|c| c.shape == shape)
    {
        records.push((
            format!("{shape} line {}", case.line_no),
            case.record,
            case.expected,
        ));
    }
    for (i, (line, expected)) in extra_lines().into_iter().enumerate() {
        records.push((format!("extra line {}", i + 1), extra(i, &line), expected));
    }
    let mut inputs = Vec::new();
    for (label, text, expected) in records {
        let record = SourceRecord {
            fields: serde_json::from_str(&text).map_err(|e| format!("{label}: {e}"))?,
            label,
            seq: inputs.len().to_string(),
        };
        let event = into_map(event(&record)?);
        inputs.push(Input {
            label: record.label,
            seq: record.seq,
            event,
            line_key: "message",
            expected,
        });
    }
    Ok(inputs)
}

/// The events of the docker_logs source (legacy namespace, partial lines
/// merged) for the corpus's Docker entries and [`extra_lines`]: the line
/// without its `\n` (and a `\r` before it) as `message`; `container_id`,
/// `container_name` (without Docker's leading `/`), `image`,
/// `container_created_at`, the labels under `label`, `stream`,
/// `source_type`, `timestamp` (Docker's time), `host` (Vector's host).
fn docker_inputs() -> Result<Vec<Input>, String> {
    let extra = |i: usize, line: &str| {
        json!({ "log": format!("{line}\n"), "stream": "stdout", "time": format!("2026-11-25T08:00:{i:02}.5Z") })
            .to_string()
    };
    source_inputs("docker", extra, |entry| {
        // Every corpus entry is a whole line: the source would merge a
        // partial one with the next.
        let line = entry
            .field("log")?
            .strip_suffix('\n')
            .ok_or_else(|| format!("{}: a partial Docker entry", entry.label))?;
        Ok(json!({
            "message": line.strip_suffix('\r').unwrap_or(line),
            "container_id": "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
            "container_name": "twingate-connector",
            "image": "twingate/connector:1",
            "container_created_at": "2026-11-24T11:59:00.123456789Z",
            "label": { "com.docker.compose.service": "connector", SEQ_LABEL: entry.seq },
            "stream": entry.field("stream")?,
            "source_type": "docker_logs",
            "timestamp": runtime_time(entry.field("time")?)?,
            "host": "docker-host-1",
        }))
    })
}

/// The events of the kubernetes_logs source (legacy namespace, partial
/// lines merged) for the corpus's CRI lines and [`extra_lines`]: the CRI
/// line's content as `message`, `file` (the pod log's path), `stream`,
/// `timestamp` (the CRI time), `source_type`, and the pod's metadata under
/// `kubernetes` (the fields pod_metadata_annotator.rs sets).
fn kubernetes_inputs() -> Result<Vec<Input>, String> {
    let extra = |i: usize, line: &str| {
        support::cri_record(&format!("2026-11-25T08:00:{i:02}.25Z stdout F {line}"))
    };
    source_inputs("cri", extra, |cri| {
        if cri.field("_p")? != "F" {
            return Err(format!("{}: a partial CRI line", cri.label));
        }
        Ok(json!({
            "message": cri.field("log")?,
            "file": "/var/log/pods/twingate_connector-7d9f8c6b5-x2x4q_0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/connector/0.log",
            "stream": cri.field("stream")?,
            "timestamp": runtime_time(cri.field("time")?)?,
            "source_type": "kubernetes_logs",
            "kubernetes": {
                "container_id": "containerd://9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
                "container_image": "twingate/connector:1",
                "container_image_id": "docker.io/twingate/connector@sha256:0f1e2d3c4b5a69788a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5",
                "container_name": "connector",
                "namespace_labels": { "kubernetes.io/metadata.name": "twingate" },
                "node_labels": { "kubernetes.io/hostname": "node-1" },
                "pod_annotations": { "kubectl.kubernetes.io/default-container": "connector" },
                "pod_ip": "10.42.0.17",
                "pod_ips": ["10.42.0.17"],
                "pod_labels": { "app.kubernetes.io/name": "connector", SEQ_LABEL: cri.seq },
                "pod_name": "connector-7d9f8c6b5-x2x4q",
                "pod_namespace": "twingate",
                "pod_node_name": "node-1",
                "pod_owner": "ReplicaSet/connector-7d9f8c6b5",
                "pod_uid": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            },
        }))
    })
}

fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

// ---------------------------------------------------------------------------
// A run: the config with its sinks redirected into the run's directory.

/// The remap of every VRL config, and the route after it.
const REMAP: &str = "twingate_analytics";
const ROUTE: &str = "twingate_split";
/// Sinks this suite adds.
const DROPPED_SINK: &str = "test_dropped";
const EVENT_TIME_SINK: &str = "test_event_time";

fn table(value: Value) -> toml::Table {
    serde_json::from_value(value).unwrap_or_default()
}

fn section<'a>(config: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    let entry = config
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    match entry {
        toml::Value::Table(t) => t,
        _ => unreachable!("made a table above"),
    }
}

/// Points the config at the run's directory: `data_dir`; every sink writes
/// `<dir>/<sink>.ndjson` (a console sink becomes a file sink with the same
/// inputs and encoding); the remap (if any) reroutes its drops to one more
/// sink; one more sink writes the events with epoch-millisecond timestamps
/// into `<dir>/by-day/<day of the event time>.ndjson`.
fn redirect(config: &mut toml::Table, dir: &Path) {
    config.insert(
        "data_dir".into(),
        dir.join("data").display().to_string().into(),
    );
    let sinks = section(config, "sinks");
    for (name, sink) in sinks.iter_mut() {
        if let Some(sink) = sink.as_table_mut() {
            sink.insert("type".into(), "file".into());
            sink.remove("target");
            let path = dir.join(format!("{name}.ndjson"));
            sink.insert("path".into(), path.display().to_string().into());
        }
    }
    sinks.insert(
        EVENT_TIME_SINK.into(),
        toml::Value::Table(table(json!({
            "type": "file",
            "inputs": [format!("{ROUTE}.events")],
            "path": dir.join("by-day/%Y-%m-%d.ndjson").display().to_string(),
            "encoding": { "codec": "json", "timestamp_format": "unix_ms" },
        }))),
    );
    let has_remap = config
        .get("transforms")
        .and_then(|t| t.get(REMAP))
        .is_some();
    if has_remap {
        section(section(config, "transforms"), REMAP).insert("reroute_dropped".into(), true.into());
        section(config, "sinks").insert(
            DROPPED_SINK.into(),
            toml::Value::Table(table(json!({
                "type": "file",
                "inputs": [format!("{REMAP}.dropped")],
                "path": dir.join(format!("{DROPPED_SINK}.ndjson")).display().to_string(),
                "encoding": { "codec": "json" },
            }))),
        );
    }
}

/// Replaces the source `name` by a `stdin` source and a remap of the same
/// name that turns each line (a source's event as JSON) back into that
/// event: the fields as written, the timestamps as timestamps.
fn replace_source_with_stdin(config: &mut toml::Table, name: &str) -> Result<(), String> {
    let sources = section(config, "sources");
    if sources.remove(name).is_none() {
        return Err(format!("no source {name}"));
    }
    let stdin = format!("{name}_stdin");
    sources.insert(
        stdin.clone(),
        toml::Value::Table(table(json!({ "type": "stdin", "max_length": 1_048_576 }))),
    );
    let shape = "\
. = object!(parse_json!(string!(.message)))
.timestamp = parse_timestamp!(string!(.timestamp), \"%+\")
if exists(.container_created_at) {
  .container_created_at = parse_timestamp!(string!(.container_created_at), \"%+\")
}
";
    section(config, "transforms").insert(
        name.to_owned(),
        toml::Value::Table(table(json!({
            "type": "remap",
            "inputs": [stdin],
            "source": shape,
        }))),
    );
    Ok(())
}

/// Which sinks hold what, from the config's `inputs`.
fn sinks_reading(config: &toml::Table, input: &str) -> Vec<String> {
    let Some(sinks) = config.get("sinks").and_then(toml::Value::as_table) else {
        return Vec::new();
    };
    sinks
        .iter()
        .filter(|(name, _)| name.as_str() != EVENT_TIME_SINK)
        .filter(|(_, sink)| {
            sink.get("inputs")
                .and_then(toml::Value::as_array)
                .is_some_and(|i| i.iter().any(|v| v.as_str() == Some(input)))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// How a run is fed and when it ends.
enum Feed {
    /// The bytes on Vector's standard input: the run ends at its end.
    Stdin(Vec<u8>),
    /// The source reads on its own and never ends: the run stops (SIGTERM)
    /// once the sinks hold this many records.
    Until(usize),
}

/// What a run left.
struct Outputs {
    /// Records of each sink file (by the sink's name), parsed.
    sinks: BTreeMap<String, Vec<Map<String, Value>>>,
    /// The event-time sink's records, with the day of their file.
    by_day: Vec<(String, Map<String, Value>)>,
    /// When the run started and ended (the bounds of any read time).
    window: (DateTime<Utc>, DateTime<Utc>),
}

fn run_vector(
    suite: &Suite,
    dir: &Path,
    config: &toml::Table,
    yaml: bool,
    feed: Feed,
    path_first: Option<&Path>,
) -> Result<Outputs, String> {
    let file = dir.join(if yaml { "config.yaml" } else { "config.toml" });
    let text = if yaml {
        serde_yaml_ng::to_string(config).map_err(|e| e.to_string())?
    } else {
        toml::to_string(config).map_err(|e| e.to_string())?
    };
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    let log = dir.join("vector.log");
    let mut command = Command::new(&suite.vector);
    command
        .arg("--config")
        .arg(&file)
        .env("VECTOR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?);
    if let Some(bin) = path_first {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        command.env(
            "PATH",
            std::env::join_paths(dirs).map_err(|e| e.to_string())?,
        );
    }
    let start = Utc::now();
    let limit = Instant::now() + RUN_TIMEOUT;
    let stuck = |what: &str| {
        format!(
            "Vector {what} within {} s; its log: {}",
            RUN_TIMEOUT.as_secs(),
            log.display()
        )
    };
    match feed {
        Feed::Stdin(bytes) => {
            let input = dir.join("stdin.ndjson");
            std::fs::write(&input, bytes).map_err(|e| e.to_string())?;
            command.stdin(std::fs::File::open(&input).map_err(|e| e.to_string())?);
            let mut child = spawn(&mut command)?;
            let status = wait_until(&mut child, limit).ok_or_else(|| stuck("did not end"))?;
            if !status.success() {
                return Err(format!(
                    "Vector failed ({status}); its log: {}",
                    log.display()
                ));
            }
        }
        Feed::Until(records) => {
            command.stdin(Stdio::null());
            let mut child = spawn(&mut command)?;
            while count_records(dir) < records {
                if Instant::now() > limit || child.try_wait().ok().flatten().is_some() {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(stuck(&format!(
                        "gave {} of {records} records",
                        count_records(dir)
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // A graceful stop, as a service manager would (the shell's own
            // `kill`: no procps needed).
            Command::new("sh")
                .args(["-c", &format!("kill -TERM {}", child.id())])
                .status()
                .map_err(|e| format!("cannot run sh -c kill: {e}"))?;
            wait_until(&mut child, limit).ok_or_else(|| stuck("did not stop on SIGTERM"))?;
        }
    }
    let end = Utc::now();
    let mut sinks = BTreeMap::new();
    let mut by_day = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let sink = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ndjson"));
        if let Some(sink) = sink.filter(|s| *s != "stdin") {
            sinks.insert(sink.to_owned(), read_records(&path)?);
        }
    }
    let days = dir.join("by-day");
    if days.is_dir() {
        for entry in std::fs::read_dir(&days).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let day = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            by_day.extend(read_records(&path)?.into_iter().map(|r| (day.clone(), r)));
        }
    }
    Ok(Outputs {
        sinks,
        by_day,
        window: (start, end),
    })
}

fn spawn(command: &mut Command) -> Result<Child, String> {
    command
        .spawn()
        .map_err(|e| format!("cannot start Vector: {e}"))
}

fn wait_until(child: &mut Child, limit: Instant) -> Option<std::process::ExitStatus> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Complete lines in the run's sink files (not the event-time sink's: it
/// holds the events a second time).
fn count_records(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .filter(|p| !p.ends_with("stdin.ndjson"))
        .filter_map(|p| std::fs::read(p).ok())
        .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
        .sum()
}

fn read_records(path: &Path) -> Result<Vec<Map<String, Value>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .map(|line| {
            support::parse_output(line).map_err(|e| format!("{}: {e}: {line}", path.display()))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Checking a run's outputs against the inputs.

/// How a run's events get Vector's own time.
#[derive(Clone, Copy)]
enum VectorTime {
    /// The source's, in the input event (`timestamp`).
    FromSource,
    /// The time the exec source read the line: any instant of the run.
    ReadTime,
}

/// The payload fields Vector's event must carry, TEAM.md decision 3
/// applied: an integer `timestamp` from 0 to 9999-12-31T23:59:59.999Z is
/// the event time (written in RFC 3339); any other goes to
/// `twingate.timestamp`.
fn with_event_time(fields: &Map<String, Value>) -> Map<String, Value> {
    let mut out = fields.clone();
    if let Some(payload) = out.remove("timestamp") {
        match payload.as_i64().and_then(event_time_text) {
            Some(time) => out.insert("timestamp".into(), time.into()),
            None => out.insert("twingate.timestamp".into(), payload),
        };
    }
    out
}

/// Epoch milliseconds of a Vector time text.
fn millis(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

struct Checker<'a> {
    inputs: &'a [Input],
    /// Finds the test's key in an output record.
    seq_of: fn(&Map<String, Value>) -> Option<&str>,
    vector_time: VectorTime,
    /// Fields the source adds that the input does not carry (the exec
    /// source's), checked apart: (name, exact value if known).
    added: Vec<(&'static str, Option<Value>)>,
}

/// What a run gave, counted.
#[derive(Default)]
struct Tally {
    events: usize,
    errors: usize,
    dropped: usize,
}

impl Checker<'_> {
    fn index(&self) -> BTreeMap<&str, &Input> {
        self.inputs.iter().map(|i| (i.seq.as_str(), i)).collect()
    }

    /// Checks every sink of a run; the tally of outcomes, or every problem
    /// found (the first few).
    fn check(&self, config: &toml::Table, out: &Outputs) -> Result<Tally, String> {
        let mut problems = Vec::new();
        let events_sinks = sinks_reading(config, &format!("{ROUTE}.events"));
        let errors_sinks = sinks_reading(config, &format!("{ROUTE}.errors"));
        if events_sinks.is_empty() || errors_sinks.is_empty() {
            return Err(format!(
                "the config needs a sink for events and one for errors: {events_sinks:?} {errors_sinks:?}"
            ));
        }
        let mut tally = Tally::default();
        for (sinks, kind) in [(&events_sinks, "event"), (&errors_sinks, "error")] {
            for sink in sinks {
                let records = out.sinks.get(sink).map(Vec::as_slice).unwrap_or_default();
                let n = self.check_sink(sink, kind, records, out.window, &mut problems);
                if kind == "event" {
                    tally.events = n;
                } else {
                    tally.errors = n;
                }
            }
        }
        if let Some(dropped) = out.sinks.get(DROPPED_SINK) {
            tally.dropped =
                self.check_sink(DROPPED_SINK, "drop", dropped, out.window, &mut problems);
        }
        self.check_event_time(out, &mut problems);
        if problems.is_empty() {
            Ok(tally)
        } else {
            let n = problems.len();
            problems.truncate(12);
            Err(format!("{n} problems:\n{}", problems.join("\n")))
        }
    }

    /// One sink holds exactly the inputs of one outcome, each once, each as
    /// the contract says. Returns how many it holds.
    fn check_sink(
        &self,
        sink: &str,
        kind: &str,
        records: &[Map<String, Value>],
        window: (DateTime<Utc>, DateTime<Utc>),
        problems: &mut Vec<String>,
    ) -> usize {
        let index = self.index();
        let mut seen = BTreeSet::new();
        for record in records {
            let Some(input) = (self.seq_of)(record).and_then(|s| index.get(s)) else {
                problems.push(format!(
                    "{sink}: a record the test did not send: {}",
                    short(record)
                ));
                continue;
            };
            if !seen.insert(input.seq.as_str()) {
                problems.push(format!("{sink}: {} came out twice", input.label));
                continue;
            }
            if let Err(why) = self.check_record(input, kind, record.clone(), window) {
                problems.push(format!("{sink}: {}: {why}", input.label));
            }
        }
        for input in self.inputs {
            if outcome_name(&input.expected) == kind && !seen.contains(input.seq.as_str()) {
                problems.push(format!("{sink}: {} ({kind}) is missing", input.label));
            }
        }
        records.len()
    }

    fn check_record(
        &self,
        input: &Input,
        kind: &str,
        mut got: Map<String, Value>,
        window: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(), String> {
        let want = outcome_name(&input.expected);
        if kind != want {
            return Err(format!("expected {want}, came out as {kind}"));
        }
        let mut record = input.event.clone();
        let payload_has =
            |name: &str| matches!(&input.expected, Expected::Event(f) if f.contains_key(name));
        // A payload key replaces the source's field (checked with the
        // payload below).
        for (name, value) in self.added.iter().filter(|(name, _)| !payload_has(name)) {
            let found = got
                .get(*name)
                .ok_or_else(|| format!("the source's {name} is missing"))?;
            if value.as_ref().is_some_and(|v| v != found) {
                return Err(format!("{name} is {found}, not {value:?}"));
            }
            record.insert((*name).to_owned(), found.clone());
        }
        let expected = match &input.expected {
            Expected::Event(fields) => Expected::Event(with_event_time(fields)),
            other => other.clone(),
        };
        let payload_time = matches!(&expected, Expected::Event(f) if f.get("timestamp").is_some());
        if matches!(self.vector_time, VectorTime::ReadTime) && !payload_time {
            // Vector's own time: when the exec source read the line.
            let time = got.remove("timestamp").unwrap_or_default();
            let at = time.as_str().and_then(millis);
            let (from, to) = (window.0.timestamp_millis(), window.1.timestamp_millis());
            if !at.is_some_and(|t| (from..=to).contains(&t)) {
                return Err(format!("timestamp {time} is not a time of the run"));
            }
        }
        if kind == "drop" {
            let dropped = got.remove("metadata");
            let reason = dropped
                .as_ref()
                .and_then(|m| m.pointer("/dropped/reason"))
                .and_then(Value::as_str);
            if reason != Some("abort") {
                return Err(format!("dropped without `abort`: {dropped:?}"));
            }
            if !support::json_eq(&Value::Object(got.clone()), &Value::Object(record)) {
                return Err(format!(
                    "the dropped event is not the input: {}",
                    short(&got)
                ));
            }
            return Ok(());
        }
        let case = Case {
            shape: "real Vector",
            line_no: 0,
            record: Value::Object(record).to_string(),
            line: None,
            line_key: input.line_key,
            expected,
        };
        let text = Value::Object(got).to_string();
        let answer = if kind == "event" {
            Answer::Event(text)
        } else {
            Answer::Error(text)
        };
        support::check(&case, false, &answer)
    }

    /// The event-time sink: each event once, its `timestamp` written as
    /// epoch milliseconds (so the sink saw a timestamp, not a number or a
    /// string), equal to the payload's or Vector's time, in the file of its
    /// day (the file name is the sink's template rendered with the event
    /// time).
    fn check_event_time(&self, out: &Outputs, problems: &mut Vec<String>) {
        let index = self.index();
        let mut seen = BTreeSet::new();
        for (day, record) in &out.by_day {
            let Some(input) = (self.seq_of)(record).and_then(|s| index.get(s)) else {
                problems.push(format!(
                    "{EVENT_TIME_SINK}: unknown record {}",
                    short(record)
                ));
                continue;
            };
            seen.insert(input.seq.as_str());
            let Expected::Event(fields) = &input.expected else {
                problems.push(format!(
                    "{EVENT_TIME_SINK}: {} is not an event",
                    input.label
                ));
                continue;
            };
            let Some(ms) = record.get("timestamp").and_then(Value::as_i64) else {
                problems.push(format!(
                    "{EVENT_TIME_SINK}: {}: timestamp {:?} is not a timestamp",
                    input.label,
                    record.get("timestamp")
                ));
                continue;
            };
            let want = match with_event_time(fields).get("timestamp") {
                Some(text) => text.as_str().and_then(millis),
                None => match self.vector_time {
                    VectorTime::FromSource => input
                        .event
                        .get("timestamp")
                        .and_then(Value::as_str)
                        .and_then(millis),
                    VectorTime::ReadTime => {
                        let window =
                            out.window.0.timestamp_millis()..=out.window.1.timestamp_millis();
                        window.contains(&ms).then_some(ms)
                    }
                },
            };
            let file_day = DateTime::<Utc>::from_timestamp_millis(ms)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            if want != Some(ms) || *day != file_day {
                problems.push(format!(
                    "{EVENT_TIME_SINK}: {}: time {ms} in file {day}, want {want:?} in {file_day}",
                    input.label
                ));
            }
        }
        let events = self
            .inputs
            .iter()
            .filter(|i| matches!(i.expected, Expected::Event(_)))
            .count();
        if seen.len() != events || out.by_day.len() != events {
            problems.push(format!(
                "{EVENT_TIME_SINK}: {} records for {} events",
                out.by_day.len(),
                events
            ));
        }
    }
}

fn outcome_name(expected: &Expected) -> &'static str {
    match expected {
        Expected::Event(_) => "event",
        Expected::Drop => "drop",
        Expected::Error => "error",
    }
}

fn short(record: &Map<String, Value>) -> String {
    let mut text = Value::Object(record.clone()).to_string();
    if text.len() > 300 {
        text.truncate(text.floor_char_boundary(300));
        text.push_str(" [...]");
    }
    text
}

fn summary(tally: &Tally, inputs: usize) -> String {
    format!(
        "{inputs} records: {} events, {} error records in their own sink, {} service lines dropped, each as the corpus says",
        tally.events, tally.errors, tally.dropped
    )
}

fn journal_seq(record: &Map<String, Value>) -> Option<&str> {
    record.get("TWINGATE_TEST_SEQ")?.as_str()
}

fn docker_seq(record: &Map<String, Value>) -> Option<&str> {
    record.get("label")?.get(SEQ_LABEL)?.as_str()
}

fn kubernetes_seq(record: &Map<String, Value>) -> Option<&str> {
    record
        .get("kubernetes")?
        .get("pod_labels")?
        .get(SEQ_LABEL)?
        .as_str()
}

// ---------------------------------------------------------------------------
// The runs.

/// A stand-in for `journalctl`: `--version` answers as systemd 252; the
/// first other call prints `records` (one JSON record a line, as
/// `journalctl -o json`) and exits; later calls (the journald source and
/// the exec source restart it when it exits) print nothing.
fn journalctl_stand_in(bin: &Path, records: &[Input]) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin).map_err(|e| e.to_string())?;
    let served = bin.join("journal.ndjson");
    let mut text = String::new();
    for input in records {
        text.push_str(&Value::Object(input.event.clone()).to_string());
        text.push('\n');
    }
    std::fs::write(&served, text).map_err(|e| e.to_string())?;
    let script = bin.join("journalctl");
    let once = bin.join("served");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then echo 'systemd 252 (252.33-1~deb12u1)'; exit 0; fi\n\
             [ -e '{once}' ] && exit 0\n\
             : > '{once}'\n\
             exec cat '{served}'\n",
            once = once.display(),
            served = served.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(script)
}

fn vector_toml_with_journald(suite: &Suite) -> Result<String, String> {
    let dir = suite.run_dir("vector_toml")?;
    let records = journal_inputs()?;
    let journalctl = journalctl_stand_in(&dir.join("bin"), &records)?;
    let mut config = toml_config(suite, VECTOR_TOML)?;
    let sources = section(&mut config, "sources");
    let journald = sources
        .iter_mut()
        .filter_map(|(_, source)| source.as_table_mut())
        .find(|s| s.get("type").and_then(toml::Value::as_str) == Some("journald"))
        .ok_or("vector.toml has no journald source")?;
    journald.insert(
        "journalctl_path".into(),
        journalctl.display().to_string().into(),
    );
    redirect(&mut config, &dir);
    // Every record comes out of one events sink, the errors sink or the
    // dropped sink; vector.toml's events go to two sinks.
    let inputs: Vec<Input> = records
        .iter()
        .map(|r| Input {
            label: r.label.clone(),
            seq: r.seq.clone(),
            event: journald_event(&r.event),
            line_key: "message",
            expected: r.expected.clone(),
        })
        .collect();
    let events = inputs
        .iter()
        .filter(|i| matches!(i.expected, Expected::Event(_)))
        .count();
    let total =
        inputs.len() + events * (sinks_reading(&config, &format!("{ROUTE}.events")).len() - 1);
    let out = run_vector(suite, &dir, &config, false, Feed::Until(total), None)?;
    let checker = Checker {
        inputs: &inputs,
        seq_of: journal_seq,
        vector_time: VectorTime::FromSource,
        added: Vec::new(),
    };
    let tally = checker.check(&config, &out)?;
    Ok(summary(&tally, inputs.len()))
}

/// Lines for a `stdin` source standing in for another: each input's event
/// as JSON.
fn stdin_lines(inputs: &[Input]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for input in inputs {
        bytes.extend_from_slice(Value::Object(input.event.clone()).to_string().as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

/// A VRL config run with its source replaced by a stdin stand-in.
fn run_with_stand_in(
    suite: &Suite,
    name: &str,
    mut config: toml::Table,
    yaml: bool,
    inputs: &[Input],
    seq_of: fn(&Map<String, Value>) -> Option<&str>,
) -> Result<String, String> {
    let dir = suite.run_dir(name)?;
    let source = config
        .get("sources")
        .and_then(toml::Value::as_table)
        .and_then(|s| s.keys().next().cloned())
        .ok_or("the config has no source")?;
    replace_source_with_stdin(&mut config, &source)?;
    redirect(&mut config, &dir);
    let out = run_vector(
        suite,
        &dir,
        &config,
        yaml,
        Feed::Stdin(stdin_lines(inputs)),
        None,
    )?;
    let checker = Checker {
        inputs,
        seq_of,
        vector_time: VectorTime::FromSource,
        added: Vec::new(),
    };
    let tally = checker.check(&config, &out)?;
    Ok(summary(&tally, inputs.len()))
}

fn docker_logs_toml(suite: &Suite) -> Result<String, String> {
    let config = toml_config(suite, DOCKER_TOML)?;
    let run = run_with_stand_in(
        suite,
        "docker_logs",
        config,
        false,
        &docker_inputs()?,
        docker_seq,
    );
    run.map(|s| format!("docker_logs source replaced by stdin; {s}"))
}

fn kubernetes_logs_toml_program(suite: &Suite) -> Result<String, String> {
    let config = toml_config(suite, KUBERNETES_TOML)?;
    let inputs = kubernetes_inputs()?;
    let run = run_with_stand_in(
        suite,
        "kubernetes_logs",
        config,
        false,
        &inputs,
        kubernetes_seq,
    );
    run.map(|s| format!("kubernetes_logs source (not in this build) replaced by stdin; {s}"))
}

fn helm_values_config(suite: &Suite) -> Result<String, String> {
    let config = helm_config(suite)?;
    let inputs = kubernetes_inputs()?;
    let run = run_with_stand_in(suite, "helm", config, true, &inputs, kubernetes_seq);
    run.map(|s| format!("the chart's config as YAML, kubernetes_logs replaced by stdin; {s}"))
}

/// The CLI of this build: `twingate` beside the test binary's directory
/// (target/<profile>/twingate for target/<profile>/deps/real_vector-*).
fn twingate_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the test binary has no target directory")?;
    let cli = profile_dir.join("twingate");
    if cli.is_file() {
        Ok(cli)
    } else {
        Err(format!(
            "{} is missing: build the CLI with the same profile (`cargo build --release -p twingate-cli`, or run `cargo test --release --workspace`)",
            cli.display()
        ))
    }
}

fn exec_toml_runs_the_cli(suite: &Suite) -> Result<String, String> {
    let dir = suite.run_dir("exec")?;
    let bin = dir.join("bin");
    let records = journal_inputs()?;
    journalctl_stand_in(&bin, &records)?;
    std::os::unix::fs::symlink(twingate_binary()?, bin.join("twingate"))
        .map_err(|e| format!("cannot link the CLI: {e}"))?;
    let mut config = toml_config(suite, EXEC_TOML)?;
    let command = config
        .get("sources")
        .and_then(|s| s.get("twingate_exec"))
        .and_then(|s| s.get("command"))
        .and_then(|c| serde_json::to_value(c).ok())
        .ok_or("exec.toml has no twingate_exec.command")?;
    redirect(&mut config, &dir);
    let inputs = records;
    let kept = inputs
        .iter()
        .filter(|i| !matches!(i.expected, Expected::Drop))
        .count();
    let events = inputs
        .iter()
        .filter(|i| matches!(i.expected, Expected::Event(_)))
        .count();
    let total = kept + events * (sinks_reading(&config, &format!("{ROUTE}.events")).len() - 1);
    let out = run_vector(suite, &dir, &config, false, Feed::Until(total), Some(&bin))?;
    let checker = Checker {
        inputs: &inputs,
        seq_of: journal_seq,
        vector_time: VectorTime::ReadTime,
        added: vec![
            ("source_type", Some("exec".into())),
            ("command", Some(command)),
            ("stream", Some("stdout".into())),
            ("host", None),
            ("pid", None),
        ],
    };
    let tally = checker.check(&config, &out)?;
    Ok(format!(
        "journalctl stand-in | target/release/twingate; {} records: {} events, {} error records in their own sink, {} service lines dropped by the CLI (none reached Vector), each as the corpus says",
        inputs.len(),
        tally.events,
        tally.errors,
        inputs.len() - kept
    ))
}
