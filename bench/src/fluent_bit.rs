//! Issue 15: the modules inside the real Fluent Bit, against what a user of
//! Fluent Bit would run instead, in one run on one machine.
//!
//! Every pipeline reads the same Docker json-file lines with `tail` +
//! `multiline.parser docker` (as the examples do), runs one filter set and
//! writes what comes out to a `file` output in MessagePack (Fluent Bit's
//! chunks as they are: no per-record conversion). The figure is the CPU time
//! of the `fluent-bit` process (user + system, all threads, from the
//! kernel's accounting of a waited-for child) per 100,000 input records;
//! each pipeline runs once per round, rounds in turn, and the median is
//! reported. Every run's output is counted, and the first round's output is
//! checked record by record.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value, json};
use twingate_analytics::{Options, Outcome, Profile, Transformer};

use crate::corpus::{self, Corpus, Kind, Records};
use crate::measure::median;
use crate::msgpack;
use crate::real_host;
use crate::report::{Machine, thousands};
use crate::support::{self, Answer, Case, Expected};

pub const BEGIN: &str = "<!-- twingate-bench:fluent-bit:begin -->";
pub const END: &str = "<!-- twingate-bench:fluent-bit:end -->";

/// The host's floor: a module whose one function, `copy`, returns the
/// record it was given (the host copies it back out and packs it), so a
/// pipeline with it pays for everything the wasm filter costs except the
/// module's own work. The text form:
/// `(module (memory (export "memory") 1)
///   (func (export "copy") (param i32 i32 i32 i32 i32 i32) (result i32) local.get 4))`
pub const COPY_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    0x01, 0x0b, 0x01, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x01,
    0x7f, // type 0: (i32 × 6) -> i32
    0x03, 0x02, 0x01, 0x00, // function 0 has type 0
    0x05, 0x03, 0x01, 0x00, 0x01, // one memory, 1 page
    0x07, 0x11, 0x02, // two exports:
    0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00, // "memory": memory 0
    0x04, b'c', b'o', b'p', b'y', 0x00, 0x00, // "copy": function 0
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x20, 0x04, 0x0b, // code: local.get 4, end
];

const LUA_SCRIPT: &str = include_str!("../fluent-bit/twingate.lua");
const PARSERS: &str = include_str!("../fluent-bit/parsers.conf");

/// The groups the native chain lifts into dotted keys, outermost first (a
/// `nest` filter lifts one map by one level). Every nested object the
/// generator writes is here, so the chain's output is as flat as ours.
const CHAIN_GROUPS: &[&str] = &[
    "connection",
    "connector",
    "device",
    "remote_network",
    "resource",
    "user",
    "session",
    "connection.client_geo",
    "session.posture",
    "connection.client_geo.as",
    "connection.client_geo.city",
    "connection.client_geo.continent",
    "connection.client_geo.country",
    "connection.client_geo.location",
];
/// How many of [`CHAIN_GROUPS`] the lighter chain lifts (the top level).
const CHAIN_TOP_GROUPS: usize = 7;

/// Settings of the real-host section.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Records of the corpus (from its start) for every pipeline but naive.
    pub records: usize,
    /// Records for the naive module (slow: about 6× ours interpreted).
    pub naive_records: usize,
    /// Service records (repeated) for the drop rows: a dropped line costs
    /// little, so more of them make a steadier figure.
    pub service_records: usize,
    pub rounds: usize,
}

/// The binaries: Fluent Bit and its AOT compiler.
pub struct Tools {
    pub fluent_bit: PathBuf,
    pub wamrc: PathBuf,
    pub version: String,
}

/// Fluent Bit and flb-wamrc, or the one line saying why the section is
/// skipped.
pub fn tools() -> Result<Tools, String> {
    let fluent_bit = real_host::FLUENT_BIT.find()?;
    let wamrc = real_host::FLB_WAMRC.find_beside(&fluent_bit)?;
    let output = Command::new(&fluent_bit)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", fluent_bit.display()))?;
    let version = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or("Fluent Bit (unknown version)")
        .trim()
        .to_owned();
    Ok(Tools {
        fluent_bit,
        wamrc,
        version,
    })
}

/// Which records a pipeline reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Input {
    /// The first `records` records of the corpus, in order.
    Corpus,
    /// The first `naive_records` records of the corpus.
    NaivePrefix,
    /// The corpus's service records only, repeated up to `records`.
    Service,
}

/// The filters of a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    None,
    Copy,
    Chain { lifts: usize },
    Lua,
    Naive,
    Ours { profile: Profile, aot: bool },
}

/// What a pipeline's output must be, checked on the first round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Every record, unchanged.
    Everything,
    /// As many records as there are events (a chain that flattens part of
    /// the job: counted only).
    EventCount,
    /// The events only, with the contract's fields (ours and naive: exactly;
    /// the chain and Lua: every expected non-null, non-empty field).
    Events,
    /// Nothing (every record dropped).
    Nothing,
}

struct Pipeline {
    key: &'static str,
    label: String,
    input: Input,
    filter: Filter,
    expect: Expect,
}

fn pipelines(ours_name: &str) -> Vec<Pipeline> {
    let ours = |key, profile, aot, input, expect| Pipeline {
        key,
        label: format!(
            "{ours_name} `twingate_{}`{}",
            match profile {
                Profile::Flatten => "flatten",
                Profile::Ecs => "ecs",
                Profile::Ocsf => "ocsf",
            },
            if aot { ", AOT" } else { ", interpreted" }
        ),
        input,
        filter: Filter::Ours { profile, aot },
        expect,
    };
    vec![
        Pipeline {
            key: "none",
            label: "no filter".into(),
            input: Input::Corpus,
            filter: Filter::None,
            expect: Expect::Everything,
        },
        Pipeline {
            key: "floor",
            label: "copy-only wasm module (the host's floor)".into(),
            input: Input::Corpus,
            filter: Filter::Copy,
            expect: Expect::Everything,
        },
        Pipeline {
            key: "chain",
            label: format!(
                "native grep + parser + nest chain ({} filters)",
                4 + CHAIN_GROUPS.len()
            ),
            input: Input::Corpus,
            filter: Filter::Chain {
                lifts: CHAIN_GROUPS.len(),
            },
            expect: Expect::Events,
        },
        Pipeline {
            key: "chain_top",
            label: format!(
                "native chain, top-level groups only ({} filters; `client_geo`, `posture` stay nested)",
                4 + CHAIN_TOP_GROUPS
            ),
            input: Input::Corpus,
            filter: Filter::Chain {
                lifts: CHAIN_TOP_GROUPS,
            },
            expect: Expect::EventCount,
        },
        Pipeline {
            key: "lua",
            label: "Lua filter (JSON decoder + flattener in Lua)".into(),
            input: Input::Corpus,
            filter: Filter::Lua,
            expect: Expect::Events,
        },
        Pipeline {
            key: "naive",
            label: "naive `serde_json::Value` module, interpreted".into(),
            input: Input::NaivePrefix,
            filter: Filter::Naive,
            expect: Expect::Events,
        },
        ours(
            "flatten",
            Profile::Flatten,
            false,
            Input::Corpus,
            Expect::Events,
        ),
        ours("ecs", Profile::Ecs, false, Input::Corpus, Expect::Events),
        ours("ocsf", Profile::Ocsf, false, Input::Corpus, Expect::Events),
        ours(
            "flatten_aot",
            Profile::Flatten,
            true,
            Input::Corpus,
            Expect::Events,
        ),
        ours("ecs_aot", Profile::Ecs, true, Input::Corpus, Expect::Events),
        ours(
            "ocsf_aot",
            Profile::Ocsf,
            true,
            Input::Corpus,
            Expect::Events,
        ),
        Pipeline {
            key: "service_none",
            label: "no filter".into(),
            input: Input::Service,
            filter: Filter::None,
            expect: Expect::Everything,
        },
        Pipeline {
            key: "service_floor",
            label: "copy-only wasm module (the host's floor)".into(),
            input: Input::Service,
            filter: Filter::Copy,
            expect: Expect::Everything,
        },
        ours(
            "service_flatten",
            Profile::Flatten,
            false,
            Input::Service,
            Expect::Nothing,
        ),
    ]
}

/// One pipeline's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: &'static str,
    pub label: String,
    pub input: &'static str,
    pub records_in: usize,
    pub records_out: usize,
    /// CPU seconds of each run, in round order.
    pub cpu_seconds: Vec<f64>,
    /// The median run, per 100,000 input records.
    pub per_100k: f64,
    /// What the first round's output was checked against.
    pub checked: String,
}

/// The section's results.
pub struct RealHost {
    pub machine: Machine,
    pub version: String,
    pub settings: Settings,
    pub corpus_records: usize,
    pub events_in_input: usize,
    pub module_size: u64,
    pub aot_size: u64,
    pub aot_command: String,
    pub command: String,
    pub rows: Vec<Row>,
    pub seconds: f64,
}

/// The paths a run needs.
struct Files {
    dir: PathBuf,
    ours: PathBuf,
    ours_aot: PathBuf,
    naive: PathBuf,
    copy: PathBuf,
}

/// Runs every pipeline `settings.rounds` times over the first records of
/// `corpus`, checks the outputs, and returns the figures.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    tools: &Tools,
    repo: &Path,
    corpus: &Corpus,
    ours_module: &Path,
    naive_module: &Path,
    settings: &Settings,
    command: String,
    started: Instant,
) -> Result<RealHost, String> {
    let begun = Instant::now();
    let records = settings.records.min(corpus.count());
    let naive_records = settings.naive_records.min(records);
    if records == 0 || corpus.drops.is_empty() {
        return Err("the real-host section needs records and service records".into());
    }
    let dir =
        std::env::temp_dir().join(format!("twingate-bench-fluent-bit-{}", std::process::id()));
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    std::fs::create_dir_all(dir.join("out")).map_err(io(&dir))?;
    let result = (|| {
        let files = Files {
            ours: ours_module.to_path_buf(),
            ours_aot: dir.join("twingate_analytics.aot"),
            naive: naive_module.to_path_buf(),
            copy: dir.join("copy.wasm"),
            dir: dir.clone(),
        };
        std::fs::write(&files.copy, COPY_MODULE).map_err(io(&files.copy))?;
        std::fs::write(dir.join("twingate.lua"), LUA_SCRIPT).map_err(io(&dir))?;
        std::fs::write(dir.join("parsers.conf"), PARSERS).map_err(io(&dir))?;
        write_inputs(
            &dir,
            corpus,
            records,
            naive_records,
            settings.service_records,
        )?;
        let aot_args = [
            "--target=x86_64".to_owned(),
            "--cpu=generic".to_owned(),
            "-o".to_owned(),
            files.ours_aot.display().to_string(),
            files.ours.display().to_string(),
        ];
        let status = Command::new(&tools.wamrc)
            .args(&aot_args)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", tools.wamrc.display()))?;
        if !status.success() {
            return Err(format!("{} failed: {status}", tools.wamrc.display()));
        }
        crate::progress(started, "fluent-bit: inputs written, AOT module compiled");
        let expected = Expectations::read(corpus, records)?;
        let pipelines = pipelines("ours");
        let mut rows: Vec<Row> = Vec::new();
        let mut aot_bodies: Vec<Vec<u8>> = Vec::new();
        let mut interpreted_bodies: Vec<Vec<u8>> = Vec::new();
        for round in 0..settings.rounds.max(1) {
            for (index, pipeline) in pipelines.iter().enumerate() {
                // The naive module is a reference point, not a target, and
                // the slowest by far: one run.
                if round > 0 && pipeline.filter == Filter::Naive {
                    continue;
                }
                let records_in = match pipeline.input {
                    Input::NaivePrefix => naive_records,
                    Input::Corpus => records,
                    Input::Service => settings.service_records,
                };
                let run = run(tools, &files, pipeline)?;
                let events = msgpack::events(&run.output)
                    .map_err(|e| format!("{}: output: {e}", pipeline.key))?;
                let want = match pipeline.expect {
                    Expect::Everything => records_in,
                    Expect::Events | Expect::EventCount => {
                        expected.events_in(records_in, pipeline.input)
                    }
                    Expect::Nothing => 0,
                };
                if events.len() != want {
                    return Err(format!(
                        "{} (round {}): {} records out, expected {want}: records were lost or kept; the log: {}",
                        pipeline.key,
                        round + 1,
                        events.len(),
                        run.log.display()
                    ));
                }
                let checked = if round == 0 {
                    let checked = expected.check(pipeline, &events)?;
                    if pipeline.key == "flatten" {
                        interpreted_bodies = bodies(&events);
                    } else if pipeline.key == "flatten_aot" {
                        aot_bodies = bodies(&events);
                    }
                    checked
                } else {
                    String::new()
                };
                if round == 0 {
                    rows.push(Row {
                        key: pipeline.key,
                        label: pipeline.label.clone(),
                        input: match pipeline.input {
                            Input::Corpus => "corpus",
                            Input::NaivePrefix => "corpus (prefix)",
                            Input::Service => "service lines",
                        },
                        records_in,
                        records_out: events.len(),
                        cpu_seconds: Vec::new(),
                        per_100k: 0.0,
                        checked,
                    });
                }
                rows[index].cpu_seconds.push(run.cpu_seconds);
                let _ = std::fs::remove_file(&run.output_path);
            }
            crate::progress(
                started,
                &format!("fluent-bit: round {} of {}", round + 1, settings.rounds),
            );
        }
        if interpreted_bodies != aot_bodies {
            return Err("the AOT module's records differ from the interpreted module's".into());
        }
        for row in &mut rows {
            row.per_100k = median(row.cpu_seconds.clone()) / row.records_in as f64 * 100_000.0;
        }
        Ok(RealHost {
            machine: Machine::here(repo),
            version: tools.version.clone(),
            settings: settings.clone(),
            corpus_records: records,
            events_in_input: expected.events_in(records, Input::Corpus),
            module_size: file_size(&files.ours)?,
            aot_size: file_size(&files.ours_aot)?,
            aot_command: format!(
                "flb-wamrc {} -o twingate_analytics.aot twingate_analytics.wasm",
                aot_args[..2].join(" ")
            ),
            command,
            rows,
            seconds: begun.elapsed().as_secs_f64(),
        })
    })();
    // Kept after a failure: the message names the files to look at.
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn bodies(events: &[msgpack::Event]) -> Vec<Vec<u8>> {
    events.iter().map(|e| e.body_bytes.to_vec()).collect()
}

fn file_size(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The input files: the corpus prefix, the naive prefix, the service lines.
fn write_inputs(
    dir: &Path,
    corpus: &Corpus,
    records: usize,
    naive_records: usize,
    service_records: usize,
) -> Result<(), String> {
    let write = |name: &str, lines: &mut dyn Iterator<Item = &[u8]>| {
        let mut text = Vec::new();
        for line in lines {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("corpus.log", &mut (0..records).map(|i| corpus.record(i)))?;
    write(
        "naive.log",
        &mut (0..naive_records).map(|i| corpus.record(i)),
    )?;
    write(
        "service.log",
        &mut (0..service_records).map(|i| corpus.drops.get(i % corpus.drops.len())),
    )
}

struct Run {
    cpu_seconds: f64,
    output: Vec<u8>,
    output_path: PathBuf,
    log: PathBuf,
}

/// One run of Fluent Bit with the pipeline's configuration.
fn run(tools: &Tools, files: &Files, pipeline: &Pipeline) -> Result<Run, String> {
    let config = files.dir.join(format!("{}.conf", pipeline.key));
    let output_path = files
        .dir
        .join("out")
        .join(format!("{}.msgpack", pipeline.key));
    let log = files.dir.join(format!("{}.stderr", pipeline.key));
    std::fs::write(&config, configuration(files, pipeline, &output_path))
        .map_err(|e| format!("{}: {e}", config.display()))?;
    let _ = std::fs::remove_file(&output_path);
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let before = children_cpu_seconds()?;
    let status = Command::new(&tools.fluent_bit)
        .arg("-q")
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", tools.fluent_bit.display()))?;
    let cpu_seconds = children_cpu_seconds()? - before;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "{} failed ({status}) on {}:\n{}",
            tools.fluent_bit.display(),
            config.display(),
            text.lines().rev().take(15).collect::<Vec<_>>().join("\n")
        ));
    }
    let output = std::fs::read(&output_path).unwrap_or_default();
    Ok(Run {
        cpu_seconds,
        output,
        output_path,
        log,
    })
}

/// User + system CPU seconds of this process's waited-for children
/// (`cutime` + `cstime` of `/proc/self/stat`, in clock ticks of 10 ms).
fn children_cpu_seconds() -> Result<f64, String> {
    let stat = std::fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("/proc/self/stat (CPU time needs Linux): {e}"))?;
    // Fields after the command name, which is in parentheses: state is
    // field 3, cutime 16, cstime 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| -> Result<f64, String> {
        fields
            .get(field - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|t| t as f64)
            .ok_or_else(|| format!("/proc/self/stat: no field {field} in {stat:?}"))
    };
    Ok((ticks(16)? + ticks(17)?) / clock_ticks_per_second())
}

/// `getconf CLK_TCK` (100 on every Linux the benchmark has met).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The configuration of one pipeline (classic format).
fn configuration(files: &Files, pipeline: &Pipeline, output: &Path) -> String {
    let input = files.dir.join(match pipeline.input {
        Input::Corpus => "corpus.log",
        Input::NaivePrefix => "naive.log",
        Input::Service => "service.log",
    });
    let mut config = format!(
        "[SERVICE]\n    Flush        0.2\n    Grace        0\n    Log_Level    warn\n    Parsers_File {parsers}\n\
         [INPUT]\n    Name              tail\n    Tag               twingate.connector\n    Path              {input}\n\
         \x20   multiline.parser  docker\n    Read_From_Head    On\n    Exit_On_Eof       On\n\
         \x20   Buffer_Chunk_Size 64k\n    Buffer_Max_Size   256k\n",
        parsers = files.dir.join("parsers.conf").display(),
        input = input.display(),
    );
    let filter = |config: &mut String, lines: &[(&str, String)]| {
        config.push_str("[FILTER]\n    Match twingate.connector\n");
        for (key, value) in lines {
            let _ = writeln!(config, "    {key} {value}");
        }
    };
    let wasm = |config: &mut String, module: &Path, function: &str| {
        filter(
            config,
            &[
                ("Name", "wasm".into()),
                ("Wasm_Path", module.display().to_string()),
                ("Function_Name", function.into()),
                ("Wasm_Heap_Size", "4M".into()),
            ],
        );
    };
    match pipeline.filter {
        Filter::None => {}
        Filter::Copy => wasm(&mut config, &files.copy, "copy"),
        Filter::Naive => wasm(&mut config, &files.naive, "naive_flatten"),
        Filter::Ours { profile, aot } => {
            let module = if aot { &files.ours_aot } else { &files.ours };
            let function = match profile {
                Profile::Flatten => "twingate_flatten",
                Profile::Ecs => "twingate_ecs",
                Profile::Ocsf => "twingate_ocsf",
            };
            wasm(&mut config, module, function);
        }
        Filter::Lua => filter(
            &mut config,
            &[
                ("Name", "lua".into()),
                (
                    "Script",
                    files.dir.join("twingate.lua").display().to_string(),
                ),
                ("Call", "twingate_flatten".into()),
            ],
        ),
        Filter::Chain { lifts } => {
            filter(
                &mut config,
                &[
                    ("Name", "grep".into()),
                    ("Regex", "log ^ANALYTICS[ \\t]".into()),
                ],
            );
            for (key, parser) in [
                ("log", "twingate_line"),
                ("payload", "twingate_json"),
                ("location", "twingate_json"),
            ] {
                filter(
                    &mut config,
                    &[
                        ("Name", "parser".into()),
                        ("Key_Name", key.into()),
                        ("Parser", parser.into()),
                        ("Reserve_Data", "On".into()),
                    ],
                );
            }
            // The json parser puts `location`'s object at the top level
            // (its one key is `geoip`): lifted under its real name.
            let mut groups: Vec<(&str, String)> = CHAIN_GROUPS[..lifts]
                .iter()
                .map(|g| (*g, format!("{g}.")))
                .collect();
            groups.push(("geoip", "location.geoip.".into()));
            for (group, prefix) in groups {
                filter(
                    &mut config,
                    &[
                        ("Name", "nest".into()),
                        ("Operation", "lift".into()),
                        ("Nested_under", group.into()),
                        ("Add_prefix", prefix),
                    ],
                );
            }
        }
    }
    let _ = write!(
        config,
        "[OUTPUT]\n    Name   file\n    Match  twingate.connector\n    Path   {}\n    File   {}\n    Format msgpack\n",
        output.parent().map_or(Path::new("."), |p| p).display(),
        output
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
    );
    config
}

/// The expected outcome of each input record.
struct Expectations {
    /// The first `records` records of the corpus as cases.
    cases: Vec<Case>,
    /// How many of the first `i` records are events, for every `i`.
    events_before: Vec<usize>,
}

impl Expectations {
    fn read(corpus: &Corpus, records: usize) -> Result<Self, String> {
        let mut lines = corpus::expected_lines(&corpus.dir)?;
        let mut cases = Vec::with_capacity(records);
        let mut events_before = vec![0];
        for index in 0..records {
            let line = lines.next().ok_or("expected.ndjson ended early")??;
            let value: Value =
                serde_json::from_str(&line).map_err(|e| format!("expected.ndjson: {e}"))?;
            let expected = match corpus.kinds[index] {
                Kind::Event => Expected::Event(
                    value["fields"]
                        .as_object()
                        .ok_or("an expected event without fields")?
                        .clone(),
                ),
                Kind::Drop => Expected::Drop,
                Kind::Error => Expected::Error,
            };
            let event = matches!(expected, Expected::Event(_));
            events_before.push(events_before[index] + usize::from(event));
            cases.push(Case {
                shape: "docker",
                line_no: index + 1,
                record: String::from_utf8_lossy(corpus.record(index)).into_owned(),
                line: None,
                line_key: "log",
                expected,
            });
        }
        Ok(Expectations {
            cases,
            events_before,
        })
    }

    fn events_in(&self, records: usize, input: Input) -> usize {
        match input {
            Input::Service => 0,
            Input::Corpus | Input::NaivePrefix => self.events_before[records],
        }
    }

    /// The events among the first `records` cases, in order.
    fn event_cases(&self, records: usize) -> impl Iterator<Item = &Case> {
        self.cases[..records]
            .iter()
            .filter(|c| matches!(c.expected, Expected::Event(_)))
    }

    /// Checks the first round's output of `pipeline`; says what was checked.
    fn check(&self, pipeline: &Pipeline, events: &[msgpack::Event]) -> Result<String, String> {
        let fail = |line_no: usize, why: String| {
            format!(
                "{}: the record from corpus line {line_no}: {why}",
                pipeline.key
            )
        };
        match (pipeline.expect, pipeline.filter) {
            (Expect::Nothing, _) => Ok("count (all dropped)".into()),
            (Expect::EventCount, _) => Ok("count".into()),
            // Service lines are repeated: counted only.
            (Expect::Everything, _) if pipeline.input == Input::Service => Ok("count".into()),
            (Expect::Everything, _) => {
                for (event, case) in events.iter().zip(&self.cases) {
                    let want: Value =
                        serde_json::from_str(&case.record).map_err(|e| e.to_string())?;
                    if !support::json_eq(&event.body, &want) {
                        return Err(fail(case.line_no, format!("changed: {}", event.body)));
                    }
                }
                Ok("every record unchanged".into())
            }
            (Expect::Events, filter) => {
                let records = events.len();
                let cases = self.event_cases(self.cases.len()).take(records);
                let mut transformer = Transformer::new();
                for (event, case) in events.iter().zip(cases) {
                    let text = event.body.to_string();
                    match filter {
                        Filter::Ours {
                            profile: Profile::Flatten,
                            ..
                        }
                        | Filter::Naive => support::check(case, false, &Answer::Event(text))
                            .map_err(|why| fail(case.line_no, why))?,
                        Filter::Ours { profile, .. } => {
                            let outcome = transformer.transform_record(
                                case.record.as_bytes(),
                                Options::profile(profile),
                            );
                            let native: Value = serde_json::from_slice(transformer.output())
                                .map_err(|e| e.to_string())?;
                            if outcome != Outcome::Event || !support::json_eq(&native, &event.body)
                            {
                                return Err(fail(
                                    case.line_no,
                                    format!("differs from the core natively: {text}"),
                                ));
                            }
                        }
                        Filter::Chain { .. } | Filter::Lua => {
                            same_job(case, &event.body).map_err(|why| fail(case.line_no, why))?
                        }
                        Filter::None | Filter::Copy => {}
                    }
                }
                Ok(match filter {
                    Filter::Ours {
                        profile: Profile::Flatten,
                        aot,
                    } => format!(
                        "every event against the expected fields{}",
                        if aot { "; bytes = interpreted" } else { "" }
                    ),
                    Filter::Naive => "every event against the expected fields".into(),
                    Filter::Ours { .. } => "every event against the core natively".into(),
                    _ => "every event holds the expected fields (see below)".into(),
                })
            }
        }
    }
}

/// The chain's and Lua's output does the same job: every expected field
/// that is not null or an empty container is there with the same value
/// (Lua drops nulls and cannot tell `[]` from `{}`), and the line is gone.
fn same_job(case: &Case, body: &Value) -> Result<(), String> {
    let Expected::Event(fields) = &case.expected else {
        return Err("not an expected event".into());
    };
    let body: &Map<String, Value> = body.as_object().ok_or("not an object")?;
    if body.contains_key("log") {
        return Err("the line is still there".into());
    }
    for (key, want) in fields {
        let empty = match want {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if empty {
            continue;
        }
        match body.get(key) {
            Some(got) if support::json_eq(got, want) => {}
            Some(got) => return Err(format!("{key}: {got}, expected {want}")),
            None => return Err(format!("no {key} (expected {want})")),
        }
    }
    Ok(())
}

impl RealHost {
    fn row(&self, key: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.key == key)
    }

    fn per_100k(&self, key: &str) -> f64 {
        self.row(key).map_or(f64::NAN, |r| r.per_100k)
    }

    /// The targets: (what, figure, goal, met).
    fn targets(&self) -> Vec<(String, String, &'static str, bool)> {
        let ratio = |a: &str, b: &str| self.per_100k(a) / self.per_100k(b);
        let mut targets = vec![
            (
                "AOT `flatten` / floor".to_owned(),
                ratio("flatten_aot", "floor"),
                "≤ 1.15",
                1.15,
            ),
            (
                "AOT `flatten` / native chain".to_owned(),
                ratio("flatten_aot", "chain"),
                "≤ 0.5",
                0.5,
            ),
            (
                "interpreted `flatten` / native chain".to_owned(),
                ratio("flatten", "chain"),
                "≤ 0.67",
                0.67,
            ),
        ];
        for (profile, aot) in [("ecs", ""), ("ocsf", ""), ("ecs", "_aot"), ("ocsf", "_aot")] {
            targets.push((
                format!(
                    "`{profile}` / `flatten`, {}",
                    if aot.is_empty() { "interpreted" } else { "AOT" }
                ),
                ratio(&format!("{profile}{aot}"), &format!("flatten{aot}")),
                "≤ 1.3",
                1.3,
            ));
        }
        targets.push((
            "a dropped service line, interpreted / floor on the same lines".to_owned(),
            ratio("service_flatten", "service_floor"),
            "≤ 1.1",
            1.1,
        ));
        targets
            .into_iter()
            .map(|(what, value, goal, limit)| (what, format!("{value:.2}"), goal, value <= limit))
            .collect()
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(
            out,
            "Measured {} on {} ({} cores), commit `{}`{}, {}; one run of `{}` ({:.0} s for this section).",
            m.date,
            m.cpu,
            m.cores,
            m.commit,
            if m.uncommitted_changes {
                " + uncommitted changes"
            } else {
                ""
            },
            self.version,
            self.command,
            self.seconds
        );
        let _ = writeln!(
            out,
            "Input: the first {} records of the corpus ({} events, {:.0} %), Docker json-file lines read by `tail` + \
             `multiline.parser docker`; the naive module reads the first {}; the service-line rows read the corpus's \
             service records repeated to {}. Output: `file`, `Format msgpack`. \
             CPU = user + system seconds of the `fluent-bit` process; each pipeline ran once per round, {} rounds \
             (the naive module in the first only), and the median run is shown. Our module: {} B; AOT: {} B from `{}`.\n",
            thousands(self.corpus_records as f64),
            thousands(self.events_in_input as f64),
            self.events_in_input as f64 * 100.0 / self.corpus_records as f64,
            thousands(s.naive_records.min(self.corpus_records) as f64),
            thousands(s.service_records as f64),
            s.rounds,
            thousands(self.module_size as f64),
            thousands(self.aot_size as f64),
            self.aot_command,
        );
        out.push_str(
            "| pipeline | input | CPU s per 100,000 records | runs | × floor | × native chain | module's own µs per record | records in → out | checked |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        let floor = self.per_100k("floor");
        let chain = self.per_100k("chain");
        let service_floor = self.per_100k("service_floor");
        for row in &self.rows {
            let (own_floor, ratio_floor, ratio_chain) = if row.input == "service lines" {
                (service_floor, row.per_100k / service_floor, String::new())
            } else {
                (
                    floor,
                    row.per_100k / floor,
                    format!("{:.2}", row.per_100k / chain),
                )
            };
            let own = if matches!(row.key, "none" | "service_none" | "floor" | "service_floor") {
                String::new()
            } else {
                format!("{:.2}", (row.per_100k - own_floor) * 10.0)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} | {:.2} | {} | {} | {} → {} | {} |",
                row.label,
                row.input,
                row.per_100k,
                row.cpu_seconds.len(),
                ratio_floor,
                ratio_chain,
                own,
                thousands(row.records_in as f64),
                thousands(row.records_out as f64),
                row.checked
            );
        }
        out.push_str(
            "\n\"Module's own\": the pipeline's CPU time per record minus the floor's (the service rows: minus the \
             floor on the same service lines), in µs per input record.\n\n\
             | target (issue 15) | this run | goal | met |\n|---|---|---|---|\n",
        );
        for (what, value, goal, met) in self.targets() {
            let _ = writeln!(
                out,
                "| {what} | {value} | {goal} | {} |",
                if met { "yes" } else { "**no**" }
            );
        }
        let _ = writeln!(
            out,
            "\nEvery run's record count is checked (records out = what the corpus says); the first round's \
             output record by record: ours `flatten` (interpreted and AOT) and naive against the expected \
             fields with the conformance checker of `tests/support`, the AOT module's records byte for byte \
             equal to the interpreted module's, `ecs`/`ocsf` against the core natively, the unfiltered and \
             copy-only outputs equal to the input records, and the native chain's and Lua's output holding \
             every expected field with its value (null and empty values aside: Lua drops nulls and writes `[]` \
             as `{{}}`) without the line.\n{END}"
        );
        out
    }

    pub fn json(&self) -> Value {
        json!({
            "machine": self.machine,
            "fluent_bit": self.version,
            "settings": self.settings,
            "command": self.command,
            "corpus_records": self.corpus_records,
            "events_in_input": self.events_in_input,
            "module_size": self.module_size,
            "aot_size": self.aot_size,
            "aot_command": self.aot_command,
            "rows": self.rows,
            "targets": self.targets().into_iter().map(|(what, value, goal, met)| {
                json!({"target": what, "value": value, "goal": goal, "met": met})
            }).collect::<Vec<_>>(),
            "seconds": self.seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_module_returns_the_record_pointer() {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, COPY_MODULE).expect("valid module");
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
        let copy = instance
            .get_typed_func::<(i32, i32, i32, i32, i32, i32), i32>(&mut store, "copy")
            .expect("copy(i32 × 6) -> i32");
        assert_eq!(
            copy.call(&mut store, (1, 2, 3, 4, 4242, 6)).expect("runs"),
            4242
        );
        assert!(instance.get_memory(&mut store, "memory").is_some());
    }

    #[test]
    fn children_cpu_time_is_read() {
        let before = children_cpu_seconds().expect("reads /proc/self/stat");
        Command::new("true").status().expect("runs true");
        assert!(children_cpu_seconds().expect("reads again") >= before);
    }
}
