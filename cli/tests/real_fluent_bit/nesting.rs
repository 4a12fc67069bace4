//! Fluent Bit's nesting limit, measured: a probe module returns a constant
//! JSON record nested N levels deep (the record itself is level 1), as
//! objects or as arrays, for N from 1 to [`MAX_PROBED`]. Each N has its own
//! file, so its own chunks: a batch of lines `flat, deep, flat, flat`
//! appended at once, then a second batch `flat, flat` once the first is
//! out. The smallest N whose deep record is dropped is the limit (64
//! expected); at and beyond it the records after the deep one in its chunk
//! are lost too, the one before survives, and the next chunk passes. Our
//! output bound must sit safely below it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use serde_json::Value;
use twingate_analytics::OUTPUT_MAX_DEPTH;

use crate::config::{Config, Format, Section, Value as ConfigValue};
use crate::fluent_bit::{self, warnings};
use crate::wasm_encoder::{Wasm, i32_const, local_get};
use crate::{Suite, TestResult, Verdict};

/// The deepest record probed.
const MAX_PROBED: usize = 72;
/// The limit measured in Fluent Bit 5.1.1 (TEAM.md, decision 1).
const EXPECTED_LIMIT: usize = 64;

const DEEP_AT: i32 = 1024;
const FLAT_AT: i32 = 512;
/// `i32.load8_u` with alignment 1, then its offset: byte 8 of the record
/// `{"log":"deep"}` is the value's first letter.
const LOAD8_U_AT_8: [u8; 3] = [0x2D, 0x00, 0x08];
const I32_EQ: u8 = 0x46;
const SELECT: u8 = 0x1B;
/// `record_ptr`, the filter function's fifth parameter.
const RECORD_PTR: u8 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Nest {
    Objects,
    Arrays,
}

impl Nest {
    fn name(self) -> &'static str {
        match self {
            Nest::Objects => "objects",
            Nest::Arrays => "arrays",
        }
    }
}

/// A record `depth` levels deep, the record counted: `{"probe":"deep",
/// "nest":...,"depth":N,"d":...}` with `d` holding `depth - 1` nested levels.
fn deep_record(nest: Nest, depth: usize) -> String {
    let levels = depth - 1;
    let (open, close) = match nest {
        Nest::Objects => ("{\"d\":", "}"),
        Nest::Arrays => ("[", "]"),
    };
    format!(
        "{{\"probe\":\"deep\",\"nest\":\"{}\",\"depth\":{depth},\"d\":{}1{}}}",
        nest.name(),
        open.repeat(levels),
        close.repeat(levels)
    )
}

/// A module whose `probe` export returns the deep record for the line
/// `deep` and `{"probe":"flat",...}` for any other.
fn probe_module(nest: Nest, depth: usize) -> Vec<u8> {
    let mut deep = deep_record(nest, depth).into_bytes();
    deep.push(0);
    let mut flat = format!(
        "{{\"probe\":\"flat\",\"nest\":\"{}\",\"depth\":{depth}}}",
        nest.name()
    )
    .into_bytes();
    flat.push(0);
    assert!(FLAT_AT as usize + flat.len() <= DEEP_AT as usize);
    let mut body = Vec::new();
    body.extend(i32_const(DEEP_AT));
    body.extend(i32_const(FLAT_AT));
    body.extend(local_get(RECORD_PTR));
    body.extend(LOAD8_U_AT_8);
    body.extend(i32_const(i32::from(b'd')));
    body.push(I32_EQ);
    body.push(SELECT);
    Wasm::new()
        .memory(1)
        .filter("probe", &body)
        .data(FLAT_AT, &flat)
        .data(DEEP_AT, &deep)
        .build()
}

fn section(entries: &[(&str, String)]) -> Section {
    Section {
        entries: entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), ConfigValue::One(v.clone())))
            .collect(),
    }
}

pub fn test(suite: &Suite) -> TestResult {
    let root = suite.fresh_dir("nesting");
    let port = fluent_bit::free_port();
    let probes: Vec<(Nest, usize)> = [Nest::Objects, Nest::Arrays]
        .into_iter()
        .flat_map(|nest| (1..=MAX_PROBED).map(move |depth| (nest, depth)))
        .collect();
    // The probes' logs apart from Fluent Bit's own (which `*.log` would tail).
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Verdict::fail(e.to_string()))?;
    let mut filters = Vec::new();
    for &(nest, depth) in &probes {
        let name = format!("{}-{depth}", nest.name());
        let module = root.join(format!("{name}.wasm"));
        std::fs::write(&module, probe_module(nest, depth))
            .map_err(|e| Verdict::fail(e.to_string()))?;
        std::fs::write(logs.join(format!("{name}.log")), b"")
            .map_err(|e| Verdict::fail(e.to_string()))?;
        filters.push(section(&[
            ("name", "wasm".into()),
            // The tag ends in the file's name (`match_regex` would have to
            // match from the tag's start: Fluent Bit anchors it there).
            ("match", format!("*.{name}.log")),
            ("wasm_path", module.display().to_string()),
            ("function_name", "probe".into()),
        ]));
    }
    let out = root.join("out");
    let config = Config {
        format: Format::Classic,
        service: section(&[
            ("flush", crate::config::FLUSH.into()),
            ("http_server", "on".into()),
            ("http_port", port.to_string()),
        ]),
        inputs: vec![section(&[
            ("name", "tail".into()),
            ("tag", "probe.*".into()),
            ("path", logs.join("*.log").display().to_string()),
        ])],
        filters,
        outputs: vec![section(&[
            ("name", "file".into()),
            ("match", "probe.*".into()),
            ("path", out.display().to_string()),
            ("file", "records.ndjson".into()),
            ("format", "plain".into()),
            ("mkdir", "on".into()),
        ])],
    };
    let path = root.join("fluent-bit.conf");
    std::fs::write(&path, config.render()).map_err(|e| Verdict::fail(e.to_string()))?;
    let mut running =
        fluent_bit::start(&suite.fluent_bit, &path, port, &root.join("fluent-bit.log"))
            .map_err(Verdict::fail)?;
    let files = probes.len() as u64;
    running.wait_for(
        |m| m.total("input", "files_opened") >= files,
        Duration::from_secs(10),
    );
    let append = |lines: &str| {
        for &(nest, depth) in &probes {
            let file = logs.join(format!("{}-{depth}.log", nest.name()));
            std::fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .and_then(|mut f| f.write_all(lines.as_bytes()))
                .unwrap_or_else(|e| panic!("append to {}: {e}", file.display()));
        }
    };
    append("flat\ndeep\nflat\nflat\n");
    // Every filter sees its 4 records; then the outputs settle (lost
    // records never arrive, so this ends by quiet).
    let first = running.settle(
        |m| {
            m.total("filter", "records") >= 4 * files
                && m.total("output", "proc_records") >= 4 * files
        },
        Duration::from_secs(2),
    );
    if first.total("filter", "records") < 4 * files {
        let stopped = running.stop();
        return Err(Verdict::fail(format!(
            "the probes did not all run: {first}\n{}",
            fluent_bit::tail(&stopped.log)
        )));
    }
    let after_first = std::fs::read_to_string(out.join("records.ndjson")).unwrap_or_default();
    append("flat\nflat\n");
    let before = first.total("output", "proc_records");
    running.settle(
        |m| m.total("output", "proc_records") >= before + 2 * files,
        Duration::from_secs(3),
    );
    let stopped = running.stop();
    let all = std::fs::read_to_string(out.join("records.ndjson")).unwrap_or_default();

    let tally = |text: &str| -> Result<BTreeMap<(String, usize), Vec<String>>, String> {
        let mut seen: BTreeMap<(String, usize), Vec<String>> = BTreeMap::new();
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
            let field = |k: &str| {
                record[k]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or(format!("no {k}: {line}"))
            };
            let depth = record["depth"]
                .as_u64()
                .ok_or(format!("no depth: {line}"))? as usize;
            seen.entry((field("nest")?, depth))
                .or_default()
                .push(field("probe")?);
        }
        Ok(seen)
    };
    let first_batch = tally(&after_first).map_err(Verdict::fail)?;
    let everything = tally(&all).map_err(Verdict::fail)?;
    let mut report = String::new();
    let mut failures = Vec::new();
    let mut measured = Vec::new();
    for nest in [Nest::Objects, Nest::Arrays] {
        let key = |depth| (nest.name().to_owned(), depth);
        let dropped_from = (1..=MAX_PROBED).find(|&depth| {
            !first_batch
                .get(&key(depth))
                .is_some_and(|kinds| kinds.iter().any(|k| k == "deep"))
        });
        let _ = write!(
            report,
            "{}: smallest depth dropped {dropped_from:?}; ",
            nest.name()
        );
        measured.extend(dropped_from);
        if dropped_from != Some(EXPECTED_LIMIT) {
            failures.push(format!(
                "{}: the smallest depth Fluent Bit drops is {dropped_from:?}, expected {EXPECTED_LIMIT}",
                nest.name()
            ));
        }
        for depth in 1..=MAX_PROBED {
            // Below the limit the whole chunk passes; at and beyond it, the
            // record before the deep one only. The next chunk always passes.
            let (want_first, want_all): (&[&str], &[&str]) = if depth < EXPECTED_LIMIT {
                (
                    &["flat", "deep", "flat", "flat"],
                    &["flat", "deep", "flat", "flat", "flat", "flat"],
                )
            } else {
                (&["flat"], &["flat", "flat", "flat"])
            };
            let got_first = first_batch.get(&key(depth)).cloned().unwrap_or_default();
            let got_all = everything.get(&key(depth)).cloned().unwrap_or_default();
            if got_first != want_first || got_all != want_all {
                failures.push(format!(
                    "{} depth {depth}: first chunk gave {got_first:?}, all {got_all:?}; expected {want_first:?}, {want_all:?}",
                    nest.name()
                ));
            }
        }
    }
    // Safely below: half the measured limit at most.
    if let Some(&limit) = measured.iter().min()
        && OUTPUT_MAX_DEPTH * 2 > limit
    {
        failures.push(format!(
            "OUTPUT_MAX_DEPTH {OUTPUT_MAX_DEPTH} is not safely below the measured limit {limit}"
        ));
    }
    let logged: Vec<&str> = warnings(&stopped.log);
    let _ = write!(
        report,
        "Fluent Bit logged {} warnings or errors",
        logged.len()
    );
    if !failures.is_empty() {
        return Err(Verdict::fail(format!(
            "{report}\n{}\n(work files in {})\nlog: {}",
            failures.join("\n"),
            root.display(),
            logged.join("\n")
        )));
    }
    println!("nesting: {report}");
    suite.clean(&root);
    Ok(())
}
