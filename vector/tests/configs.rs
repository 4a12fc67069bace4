//! The Vector configs, checked without a Vector binary: every file parses,
//! every `inputs` entry names an existing component output (route outputs
//! like `twingate_split.errors` included), every sink has an encoding, the
//! remap programs are the same text as vector.toml's and compile, and the
//! exec pipeline decodes JSON. The Vector Helm chart's values
//! (examples/kubernetes/vector-values.yaml) get the same checks: their
//! `customConfig` is the config.

use std::path::{Path, PathBuf};

use twingate_vector::config::{self, Kind};
use twingate_vector::{Remap, remap_source};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// vector.toml and every file in examples/vector/.
fn config_files() -> Vec<PathBuf> {
    let dir = repo_root().join("examples/vector");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    files.insert(0, repo_root().join("vector.toml"));
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const HELM_VALUES: &str = "examples/kubernetes/vector-values.yaml";

/// The Helm values' `customConfig` (the Vector config the chart writes), as
/// TOML text, so the checks of the TOML configs apply to it unchanged.
fn helm_values_config() -> String {
    let values: toml::Value = serde_yaml_ng::from_str(&read(&repo_root().join(HELM_VALUES)))
        .unwrap_or_else(|e| panic!("{HELM_VALUES}: {e}"));
    assert_eq!(
        values.get("role").and_then(toml::Value::as_str),
        Some("Agent"),
        "{HELM_VALUES}: Vector runs on every node (a DaemonSet)"
    );
    let config = values
        .get("customConfig")
        .unwrap_or_else(|| panic!("{HELM_VALUES}: no customConfig"));
    toml::to_string(config).unwrap_or_else(|e| panic!("{HELM_VALUES}: {e}"))
}

#[test]
fn every_config_is_a_sound_topology() {
    let files = config_files();
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "vector.toml",
            "docker_logs.toml",
            "exec.toml",
            "kubernetes_logs.toml"
        ],
        "the configs this test knows; a new file must be checked here too"
    );
    for file in &files {
        let problems = config::problems(&read(file));
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            file.display(),
            problems.join("\n")
        );
        let components = config::components(&read(file)).expect("parsed above");
        let sinks = components.iter().filter(|c| c.kind == Kind::Sink).count();
        assert!(
            sinks >= 2,
            "{}: events and errors each need a sink",
            file.display()
        );
        // Error records have their own route, read by at least one sink.
        assert!(
            components
                .iter()
                .any(|c| c.kind == Kind::Sink && c.inputs.iter().any(|i| i.ends_with(".errors"))),
            "{}: no sink reads the error records",
            file.display()
        );
    }
}

#[test]
fn the_sources_are_the_documented_ones() {
    let expect = [
        ("vector.toml", "journald"),
        ("docker_logs.toml", "docker_logs"),
        ("kubernetes_logs.toml", "kubernetes_logs"),
        ("exec.toml", "exec"),
    ];
    for file in config_files() {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let components = config::components(&read(&file)).expect("valid config");
        let sources: Vec<&str> = components
            .iter()
            .filter(|c| c.kind == Kind::Source)
            .map(|c| c.type_.as_str())
            .collect();
        let want = expect
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("unknown config {name}"));
        assert_eq!(sources, [want], "{name}");
    }
    let journal = config::components(&read(&repo_root().join("vector.toml"))).expect("valid");
    let units = journal
        .iter()
        .find(|c| c.type_ == "journald")
        .and_then(|c| c.table.get("include_units"))
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_str).collect::<Vec<_>>());
    assert_eq!(units, Some(vec!["twingate-connector.service"]));
}

/// vector.toml's VRL program.
fn main_program() -> String {
    remap_source(
        &read(&repo_root().join("vector.toml")),
        "twingate_analytics",
    )
    .expect("vector.toml has the remap")
}

#[test]
fn the_variants_run_vector_toml_s_program_byte_for_byte() {
    let main = main_program();
    Remap::compile(&main).unwrap_or_else(|e| panic!("{e}"));
    for variant in ["docker_logs.toml", "kubernetes_logs.toml"] {
        let path = repo_root().join("examples/vector").join(variant);
        let source = remap_source(&read(&path), "twingate_analytics")
            .unwrap_or_else(|e| panic!("{variant}: {e}"));
        assert!(
            source == main,
            "{variant}: the remap source differs from vector.toml's; copy it over"
        );
    }
    let source = remap_source(&helm_values_config(), "twingate_analytics")
        .unwrap_or_else(|e| panic!("{HELM_VALUES}: {e}"));
    assert!(
        source == main,
        "{HELM_VALUES}: the remap source differs from vector.toml's; copy it over (indented)"
    );
}

#[test]
fn the_helm_values_are_the_kubernetes_logs_pipeline() {
    let text = helm_values_config();
    let problems = config::problems(&text);
    assert!(
        problems.is_empty(),
        "{HELM_VALUES}:\n{}",
        problems.join("\n")
    );
    let components = config::components(&text).expect("parsed above");
    let sources: Vec<&str> = components
        .iter()
        .filter(|c| c.kind == Kind::Source)
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(sources, ["kubernetes_logs"], "{HELM_VALUES}");
    assert!(
        components
            .iter()
            .any(|c| c.kind == Kind::Sink && c.inputs.iter().any(|i| i.ends_with(".errors"))),
        "{HELM_VALUES}: no sink reads the error records"
    );
    // The same components as the kubernetes_logs example, key for key.
    let example = config::components(&read(
        &repo_root().join("examples/vector/kubernetes_logs.toml"),
    ))
    .expect("valid config");
    assert_eq!(components, example, "{HELM_VALUES} vs kubernetes_logs.toml");
}

#[test]
fn the_remap_settings_drop_service_lines_and_keep_errors() {
    let mut configs: Vec<(String, String)> = config_files()
        .iter()
        .map(|file| (file.display().to_string(), read(file)))
        .collect();
    configs.push((HELM_VALUES.to_owned(), helm_values_config()));
    for (file, text) in configs {
        for c in config::components(&text).expect("valid config") {
            if c.type_ != "remap" {
                continue;
            }
            let flag = |k: &str| c.table.get(k).and_then(toml::Value::as_bool);
            // The analytics program drops service lines by `abort`; no
            // remap loses an event on a runtime error.
            if c.name == "twingate_analytics" {
                assert_eq!(flag("drop_on_abort"), Some(true), "{file}");
            }
            assert_eq!(flag("drop_on_error"), Some(false), "{file}: {}", c.name);
        }
    }
}

#[test]
fn the_exec_pipeline_runs_the_cli_and_decodes_json() {
    let text = read(&repo_root().join("examples/vector/exec.toml"));
    let components = config::components(&text).expect("valid config");
    let exec = components
        .iter()
        .find(|c| c.type_ == "exec")
        .expect("an exec source");
    let get = |path: &[&str]| {
        let mut v = toml::Value::Table(exec.table.clone());
        for key in path {
            v = v.get(*key)?.clone();
        }
        Some(v)
    };
    assert_eq!(
        get(&["decoding", "codec"])
            .as_ref()
            .and_then(toml::Value::as_str),
        Some("json")
    );
    assert_eq!(
        get(&["mode"]).as_ref().and_then(toml::Value::as_str),
        Some("streaming")
    );
    assert_eq!(
        get(&["include_stderr"])
            .as_ref()
            .and_then(toml::Value::as_bool),
        Some(false),
        "the CLI's summary on stderr is not a record"
    );
    let command: Vec<String> = get(&["command"])
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let line = command.join(" ");
    for part in [
        "journalctl -u twingate-connector",
        "-o json -f",
        "twingate --native --format journal -",
    ] {
        assert!(line.contains(part), "exec command lacks `{part}`: {line}");
    }
    // The flags exist in the CLI's help text.
    let help = read(&repo_root().join("cli/src/main.rs"));
    for flag in ["--native", "--format SHAPE", "journal  journalctl -o json"] {
        assert!(help.contains(flag), "the CLI has no `{flag}`");
    }
}

/// The checker finds what it is meant to find.
#[test]
fn the_checker_catches_broken_configs() {
    let good = r#"
        [sources.s]
        type = "journald"
        [transforms.r]
        type = "route"
        inputs = ["s"]
        route.errors = 'exists(.x)'
        [transforms.m]
        type = "remap"
        inputs = ["r.errors"]
        reroute_dropped = true
        source = "."
        [sinks.k]
        type = "console"
        inputs = ["m", "m.dropped", "r._unmatched", "r.err*"]
        encoding.codec = "json"
    "#;
    assert_eq!(config::problems(good), Vec::<String>::new());
    let broken = [
        (
            good.replace("inputs = [\"s\"]", "inputs = [\"nope\"]"),
            "names no component",
        ),
        (
            good.replace("\"r.errors\"", "\"r.events\""),
            "names no component",
        ),
        (
            good.replace("reroute_dropped = true", ""),
            "`m.dropped` names no",
        ),
        (
            good.replace("encoding.codec = \"json\"", ""),
            "encoding.codec",
        ),
        (good.replace("\"r.err*\"", "\"q*\""), "names no component"),
        (
            good.replace("inputs = [\"r.errors\"]", "inputs = []"),
            "has no `inputs`",
        ),
        (
            good.replace("inputs = [\"r.errors\"]", "inputs = [\"m\"]"),
            "its own output",
        ),
        (good.replace("[sinks.k]", "[sinks.s]"), "used twice"),
        (good.replace("type = \"journald\"", ""), "has no `type`"),
        ("[sources".to_owned(), "not valid TOML"),
    ];
    for (config, want) in broken {
        let problems = config::problems(&config);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "expected a problem with {want:?}, got {problems:?} for:\n{config}"
        );
    }
}

/// The exec door sets the event time as vector.toml's program does (TEAM.md
/// decision 3): the same bound, the same conversion.
#[test]
fn the_exec_door_sets_the_event_time_like_the_program() {
    let main = main_program();
    let exec = remap_source(
        &read(&repo_root().join("examples/vector/exec.toml")),
        "twingate_event_time",
    )
    .expect("exec.toml has the event-time remap");
    let bound = format!(
        "millis >= 0 && millis <= {}",
        twingate_vector::MAX_EVENT_TIME_MS
    );
    for part in [
        bound.as_str(),
        "from_unix_timestamp!(millis, unit: \"milliseconds\")",
    ] {
        assert!(main.contains(part), "vector.toml's program lacks `{part}`");
        assert!(
            exec.contains(part),
            "exec.toml's event-time remap lacks `{part}`"
        );
    }
    let remap = Remap::compile(&exec).unwrap_or_else(|e| panic!("{e}"));
    assert!(remap.warnings().is_empty(), "{:?}", remap.warnings());
    let run = |record: serde_json::Value| {
        let serde_json::Value::Object(event) = record else {
            unreachable!("an object")
        };
        match remap.run(&event) {
            twingate_vector::Outcome::Event(text) => text,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        run(serde_json::json!({ "timestamp": 1_623_288_585_643_i64 })),
        r#"{"timestamp":"2021-06-10T01:29:45.643Z"}"#
    );
    let moved = run(serde_json::json!({ "timestamp": "soon" }));
    assert!(
        moved.starts_with(r#"{"timestamp":""#)
            && moved.ends_with(r#"","twingate.timestamp":"soon"}"#),
        "{moved}"
    );
}
