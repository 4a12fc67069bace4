//! Inputs laid out as the real sources lay them out, under a test's root
//! directory (the configs' absolute paths are moved there, see
//! `config::adapt`):
//!
//! - Docker's json-file driver: `/var/lib/docker/containers/<id>/<id>-json.log`,
//!   one JSON entry a line, `attrs.tag` on the connector's entries (its
//!   `--log-opt tag=twingate-connector`), lines over 16 KiB split into
//!   partial entries as the daemon splits them, and another container's log
//!   beside it (no tag) whose lines must not come out;
//! - the kubelet: `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`,
//!   a symlink to `/var/log/pods/<namespace>_<pod>_<uid>/<container>/0.log`,
//!   CRI lines (`<time> <stream> <P|F> <content>`, long lines split into `P`
//!   parts as containerd splits them), and another pod's log beside it;
//! - journald: journal files in `/var/log/journal/<machine-id>/`, written
//!   from the export format by `systemd-journal-remote`: some history before
//!   Fluent Bit starts (which `read_from_tail` must skip), then the corpus
//!   with another unit's entries between the connector's.
//!
//! Every layout returns the connector's records as Fluent Bit will read them
//! (the [`Case`]s the checks compare with) and what to write once Fluent Bit
//! runs: the files are created empty before it starts and filled after, as
//! a container's log grows while Fluent Bit tails it.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

use crate::support::Case;

/// Docker's and containerd's split size: a line's content goes out in
/// pieces of at most this many bytes.
pub const SPLIT_AT: usize = 16 * 1024;
/// The connector's json-file log tag, as the examples' `grep` expects it.
pub const DOCKER_TAG: &str = "twingate-connector";
pub const CONNECTOR_CONTAINER: &str =
    "7f3c2a9e1b4d5c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f";
const OTHER_CONTAINER: &str = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
const CONNECTOR_POD: &str = "twingate-connector-6d8f9b7c5-x2x9q";
const CONNECTOR_NAMESPACE: &str = "twingate";
const CONNECTOR_CONTAINER_NAME: &str = "connector";
const MACHINE_ID: &str = "5a1c7d3e9f2b4a6c8e0d1f3a5b7c9e2d";
const BOOT_ID: &str = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
pub const CONNECTOR_UNIT: &str = "twingate-connector.service";
/// How many of the corpus lines the neighbours (another container, pod or
/// unit) print: analytics lines among them, so a leak would show.
const NEIGHBOUR_LINES: usize = 60;

/// A source laid out under a root: the connector's records as Fluent Bit
/// will read them, and what to write once it runs.
pub struct Source {
    pub cases: Vec<Case>,
    /// Records of other containers that the input reads and a filter must
    /// drop (the Docker layout's other container); 0 when the input never
    /// reads them (a path glob or a journal match keeps them out).
    pub neighbour_records: u64,
    /// Files the `tail` input must have opened before the feed starts.
    pub files: u64,
    feed: Vec<Feed>,
}

enum Feed {
    Append(PathBuf, Vec<u8>),
    Journal(PathBuf, Vec<u8>),
}

impl Source {
    /// Writes the input, as the container runtime or journald would while
    /// Fluent Bit runs.
    pub fn feed(&self) {
        for feed in &self.feed {
            match feed {
                Feed::Append(path, bytes) => fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(bytes))
                    .unwrap_or_else(|e| panic!("append to {}: {e}", path.display())),
                Feed::Journal(path, export) => write_journal(path, export),
            }
        }
    }
}

fn create_dir(path: &Path) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
}

fn create_empty(path: &Path) {
    create_dir(path.parent().expect("a file in a directory"));
    fs::write(path, b"").unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
}

/// The corpus record of a case as a JSON object.
fn record_of(case: &Case) -> Map<String, Value> {
    serde_json::from_str(&case.record).expect("corpus records are JSON objects")
}

fn with_record(case: &Case, record: &Map<String, Value>) -> Case {
    Case {
        record: Value::Object(record.clone()).to_string(),
        ..case.clone()
    }
}

/// Docker's json-file layout, from the corpus's `docker` cases.
pub fn docker(root: &Path, cases: &[Case]) -> Source {
    let containers = root.join("var/lib/docker/containers");
    let log = |id: &str| containers.join(id).join(format!("{id}-json.log"));
    let (connector, other) = (log(CONNECTOR_CONTAINER), log(OTHER_CONTAINER));
    create_empty(&connector);
    create_empty(&other);
    let mut connector_lines = Vec::new();
    let mut read = Vec::new();
    for case in cases {
        let record = record_of(case);
        let text = record["log"].as_str().expect("docker records have a log");
        let attrs = serde_json::json!({ "tag": DOCKER_TAG });
        for part in split(text) {
            connector_lines.extend(json_file_entry(part, &record, Some(&attrs)));
        }
        // Fluent Bit's docker parser re-joins the parts: the first entry's
        // keys with the whole `log`.
        let mut joined = Map::new();
        joined.insert("log".into(), text.into());
        joined.insert("stream".into(), record["stream"].clone());
        joined.insert("attrs".into(), attrs);
        joined.insert("time".into(), record["time"].clone());
        read.push(with_record(case, &joined));
    }
    let mut other_lines = Vec::new();
    for case in cases.iter().take(NEIGHBOUR_LINES) {
        let record = record_of(case);
        let text = record["log"].as_str().expect("docker records have a log");
        for part in split(text) {
            other_lines.extend(json_file_entry(part, &record, None));
        }
    }
    let neighbour_records = cases.iter().take(NEIGHBOUR_LINES).count() as u64;
    Source {
        cases: read,
        neighbour_records,
        files: 2,
        feed: vec![
            Feed::Append(connector, connector_lines),
            Feed::Append(other, other_lines),
        ],
    }
}

/// One json-file entry, as dockerd writes it: `log`, `stream`, `attrs` when
/// the container has log attributes, `time`; Go's JSON string escaping.
fn json_file_entry(part: &str, record: &Map<String, Value>, attrs: Option<&Value>) -> Vec<u8> {
    let mut line = String::from("{\"log\":");
    go_json_string(part, &mut line);
    line.push_str(",\"stream\":");
    go_json_string(record["stream"].as_str().expect("stream"), &mut line);
    if let Some(attrs) = attrs {
        line.push_str(",\"attrs\":{\"tag\":");
        go_json_string(attrs["tag"].as_str().expect("tag"), &mut line);
        line.push('}');
    }
    line.push_str(",\"time\":");
    go_json_string(record["time"].as_str().expect("time"), &mut line);
    line.push_str("}\n");
    line.into_bytes()
}

/// A string as Go's `encoding/json` writes it (dockerd's json-file): HTML
/// characters and U+2028/U+2029 escaped, other text raw UTF-8.
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A line's content in pieces of at most [`SPLIT_AT`] bytes, cut at
/// character boundaries.
fn split(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > SPLIT_AT {
        let cut = (0..=SPLIT_AT)
            .rev()
            .find(|&i| rest.is_char_boundary(i))
            .expect("0 is a boundary");
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    parts.push(rest);
    parts
}

/// The kubelet's layout for CRI runtimes, from the corpus's `cri` cases.
pub fn kubelet(root: &Path, cases: &[Case]) -> Source {
    let container_id = |seed: &str| {
        let mut id = String::new();
        while id.len() < 64 {
            id.push_str(seed);
        }
        id.truncate(64);
        id
    };
    let pod_log = |namespace: &str, pod: &str, container: &str, id: &str| {
        let uid = "3f6e1c2a-8b4d-4e7f-9a1b-2c3d4e5f6a7b";
        let target = root
            .join("var/log/pods")
            .join(format!("{namespace}_{pod}_{uid}"))
            .join(container)
            .join("0.log");
        let link = root
            .join("var/log/containers")
            .join(format!("{pod}_{namespace}_{container}-{id}.log"));
        create_empty(&target);
        create_dir(link.parent().expect("dir"));
        std::os::unix::fs::symlink(&target, &link)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
        target
    };
    let connector = pod_log(
        CONNECTOR_NAMESPACE,
        CONNECTOR_POD,
        CONNECTOR_CONTAINER_NAME,
        &container_id("9c8b7a6f"),
    );
    let other = pod_log(
        "kube-system",
        "coredns-5d78c9869d-8xk2p",
        "coredns",
        &container_id("41d2e3f4"),
    );
    let mut connector_lines = Vec::new();
    let mut read = Vec::new();
    for case in cases {
        let record = record_of(case);
        let field = |k: &str| record[k].as_str().expect("cri record field").to_owned();
        let (time, stream, content) = (field("time"), field("stream"), field("log"));
        let parts = split(&content);
        for (i, part) in parts.iter().enumerate() {
            let tag = if i + 1 == parts.len() { 'F' } else { 'P' };
            connector_lines.extend(format!("{time} {stream} {tag} {part}\n").into_bytes());
        }
        // Fluent Bit's cri parser re-joins `P` parts into one record that
        // keeps the first part's keys, `_p` included.
        let mut joined = Map::new();
        joined.insert("time".into(), time.into());
        joined.insert("stream".into(), stream.into());
        joined.insert("_p".into(), if parts.len() > 1 { "P" } else { "F" }.into());
        joined.insert("log".into(), content.into());
        read.push(with_record(case, &joined));
    }
    let other_lines: Vec<u8> = cases
        .iter()
        .take(NEIGHBOUR_LINES)
        .flat_map(|case| {
            let record = record_of(case);
            let content = record["log"].as_str().unwrap_or_default();
            format!(
                "{} stdout F {}\n",
                record["time"].as_str().unwrap_or_default(),
                content
            )
            .into_bytes()
        })
        .collect();
    Source {
        cases: read,
        neighbour_records: 0,
        files: 1,
        feed: vec![
            Feed::Append(connector, connector_lines),
            Feed::Append(other, other_lines),
        ],
    }
}

/// journald's layout, from the corpus's `journal` cases. `strip_underscores`
/// is the systemd input's key of that name: the records Fluent Bit reads
/// lose the leading `_` of journal fields.
pub fn journal(root: &Path, cases: &[Case], strip_underscores: bool) -> Source {
    let dir = root.join("var/log/journal").join(MACHINE_ID);
    create_dir(&dir);
    // History from before Fluent Bit started: read_from_tail skips it.
    let mut history = Vec::new();
    for i in 0..5u64 {
        let fields = [
            ("_SYSTEMD_UNIT", CONNECTOR_UNIT.to_owned()),
            (
                "MESSAGE",
                format!("[INFO] [connector] old history line {i}"),
            ),
        ];
        export_entry(&mut history, 1_700_000_000_000_000 + i, i + 1, &fields);
    }
    write_journal(&dir.join("system.journal"), &history);

    let mut export = Vec::new();
    let mut read = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut record = record_of(case);
        let realtime = record
            .remove("__REALTIME_TIMESTAMP")
            .and_then(|t| t.as_str().and_then(|t| t.parse().ok()))
            .unwrap_or(1_764_000_000_000_000 + i as u64);
        record.insert("_BOOT_ID".into(), BOOT_ID.into());
        let fields: Vec<(&str, String)> = record
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("journal fields").to_owned()))
            .collect();
        let monotonic = 1_000_000 + 2 * i as u64;
        export_entry(&mut export, realtime, monotonic, &fields);
        if i % 25 == 0 && i / 25 < NEIGHBOUR_LINES {
            // Another unit logging the same text: the journal match keeps it out.
            let neighbour: Vec<(&str, String)> = fields
                .iter()
                .map(|(k, v)| match *k {
                    "_SYSTEMD_UNIT" => (*k, "cron.service".to_owned()),
                    "SYSLOG_IDENTIFIER" => (*k, "cron".to_owned()),
                    _ => (*k, v.clone()),
                })
                .collect();
            export_entry(&mut export, realtime, monotonic + 1, &neighbour);
        }
        let record: Map<String, Value> = record
            .into_iter()
            .map(|(k, v)| match k.strip_prefix('_') {
                Some(stripped) if strip_underscores => (stripped.to_owned(), v),
                _ => (k, v),
            })
            .collect();
        read.push(with_record(case, &record));
    }
    Source {
        cases: read,
        neighbour_records: 0,
        files: 0,
        feed: vec![Feed::Journal(dir.join("system@corpus.journal"), export)],
    }
}

/// One entry in journald's export format: `FIELD=value` lines, or the
/// binary form (name, little-endian length, bytes) for values holding a
/// newline or other control characters; a blank line ends the entry.
fn export_entry(out: &mut Vec<u8>, realtime: u64, monotonic: u64, fields: &[(&str, String)]) {
    let _ = writeln!(out, "__REALTIME_TIMESTAMP={realtime}");
    let _ = writeln!(out, "__MONOTONIC_TIMESTAMP={monotonic}");
    for (name, value) in fields {
        // `__` fields are the entry's address, written above.
        if !name.starts_with("__") {
            if value.bytes().any(|b| b < 0x20 && b != b'\t') {
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(&(value.len() as u64).to_le_bytes());
                out.extend_from_slice(value.as_bytes());
                out.push(b'\n');
            } else {
                let _ = writeln!(out, "{name}={value}");
            }
        }
    }
    out.push(b'\n');
}

/// Debian's systemd-journal-remote: writes journal files from the export
/// format (package systemd-journal-remote).
pub const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

fn write_journal(path: &Path, export: &[u8]) {
    let mut child = Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", path.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("run {JOURNAL_REMOTE}: {e} (Debian: apt-get install systemd-journal-remote)")
        });
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(export)
        .unwrap_or_else(|e| panic!("write to {JOURNAL_REMOTE}: {e}"));
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{JOURNAL_REMOTE} failed writing {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
