//! Fluent Bit configs as the suite reads, changes and writes them back.
//!
//! Both formats (classic `.conf` and YAML) are read into one model (the
//! service keys and the inputs, filters and outputs, each an ordered list of
//! keys and values, as written), changed by [`adapt`] (the one place that
//! lists every change the suite makes), and written back in the format they
//! came in, so that Fluent Bit's own parser of that format reads them.
//! Comments are not carried over; keys and values are, unchanged.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value as Yaml};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Classic,
    Yaml,
}

/// One value: a single one, or a list (YAML `rule:` lists; a classic
/// config repeats the key instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    One(String),
    List(Vec<String>),
}

/// A `[SERVICE]` section or one plugin: keys in their order, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub entries: Vec<(String, Value)>,
}

impl Section {
    /// The value of `key` (keys are case-insensitive in Fluent Bit).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| match v {
                Value::One(s) => Some(s.as_str()),
                Value::List(_) => None,
            })
    }

    pub fn name(&self) -> &str {
        self.get("name").unwrap_or("")
    }

    /// Replaces the value of `key` where it is written, or adds the key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = Value::One(value.into());
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_owned(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub format: Format,
    pub service: Section,
    pub inputs: Vec<Section>,
    pub filters: Vec<Section>,
    pub outputs: Vec<Section>,
}

impl Config {
    /// Reads a config file of either format (by its extension).
    pub fn load(path: &Path) -> Config {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("conf") => Format::Classic,
            Some("yaml" | "yml") => Format::Yaml,
            _ => panic!("{}: neither .conf nor .yaml", path.display()),
        };
        Config::parse(&text, format).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str, format: Format) -> Result<Config, String> {
        match format {
            Format::Classic => parse_classic(text),
            Format::Yaml => parse_yaml(text),
        }
    }

    pub fn render(&self) -> String {
        match self.format {
            Format::Classic => self.render_classic(),
            Format::Yaml => self.render_yaml(),
        }
    }

    pub fn extension(&self) -> &'static str {
        match self.format {
            Format::Classic => "conf",
            Format::Yaml => "yaml",
        }
    }

    /// The only filter named `name`.
    pub fn filter_mut(&mut self, name: &str) -> &mut Section {
        let mut found = self.filters.iter_mut().filter(|f| f.name() == name);
        let filter = found.next().unwrap_or_else(|| panic!("no {name} filter"));
        assert!(found.next().is_none(), "more than one {name} filter");
        filter
    }

    pub fn filter(&self, name: &str) -> Option<&Section> {
        self.filters.iter().find(|f| f.name() == name)
    }

    fn render_classic(&self) -> String {
        let mut out = String::new();
        let sections = std::iter::once(("SERVICE", &self.service))
            .chain(self.inputs.iter().map(|s| ("INPUT", s)))
            .chain(self.filters.iter().map(|s| ("FILTER", s)))
            .chain(self.outputs.iter().map(|s| ("OUTPUT", s)));
        for (kind, section) in sections {
            let _ = writeln!(out, "[{kind}]");
            for (key, value) in &section.entries {
                let values = match value {
                    Value::One(v) => std::slice::from_ref(v),
                    Value::List(list) => list.as_slice(),
                };
                for v in values {
                    let _ = writeln!(out, "    {key} {v}");
                }
            }
            out.push('\n');
        }
        out
    }

    fn render_yaml(&self) -> String {
        let section = |s: &Section| {
            let mut map = Mapping::new();
            for (key, value) in &s.entries {
                let value = match value {
                    Value::One(v) => Yaml::String(v.clone()),
                    Value::List(list) => {
                        Yaml::Sequence(list.iter().cloned().map(Yaml::String).collect())
                    }
                };
                map.insert(Yaml::String(key.clone()), value);
            }
            Yaml::Mapping(map)
        };
        let list = |v: &[Section]| Yaml::Sequence(v.iter().map(section).collect());
        let mut pipeline = Mapping::new();
        for (key, sections) in [
            ("inputs", &self.inputs),
            ("filters", &self.filters),
            ("outputs", &self.outputs),
        ] {
            if !sections.is_empty() {
                pipeline.insert(key.into(), list(sections));
            }
        }
        let mut root = Mapping::new();
        root.insert("service".into(), section(&self.service));
        root.insert("pipeline".into(), Yaml::Mapping(pipeline));
        serde_yaml_ng::to_string(&Yaml::Mapping(root)).expect("a mapping of strings serializes")
    }
}

fn parse_classic(text: &str) -> Result<Config, String> {
    let mut config = Config {
        format: Format::Classic,
        service: Section::default(),
        inputs: Vec::new(),
        filters: Vec::new(),
        outputs: Vec::new(),
    };
    let mut current: Option<&mut Section> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(kind) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let list = match kind.to_ascii_uppercase().as_str() {
                "SERVICE" => {
                    current = Some(&mut config.service);
                    continue;
                }
                "INPUT" => &mut config.inputs,
                "FILTER" => &mut config.filters,
                "OUTPUT" => &mut config.outputs,
                other => return Err(format!("line {}: section [{other}] not supported", i + 1)),
            };
            list.push(Section::default());
            current = list.last_mut();
            continue;
        }
        if line.starts_with('@') {
            return Err(format!("line {}: {line:?} not supported", i + 1));
        }
        let section = current
            .as_deref_mut()
            .ok_or_else(|| format!("line {}: a key outside any section", i + 1))?;
        let (key, value) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: a key without a value: {line:?}", i + 1))?;
        section
            .entries
            .push((key.to_owned(), Value::One(value.trim().to_owned())));
    }
    Ok(config)
}

fn parse_yaml(text: &str) -> Result<Config, String> {
    let root: Yaml = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let root = root.as_mapping().ok_or("not a YAML mapping")?;
    let mut config = Config {
        format: Format::Yaml,
        service: Section::default(),
        inputs: Vec::new(),
        filters: Vec::new(),
        outputs: Vec::new(),
    };
    for (key, value) in root {
        match key.as_str() {
            Some("service") => config.service = yaml_section(value)?,
            Some("pipeline") => {
                let pipeline = value.as_mapping().ok_or("pipeline: not a mapping")?;
                for (kind, plugins) in pipeline {
                    let list = match kind.as_str() {
                        Some("inputs") => &mut config.inputs,
                        Some("filters") => &mut config.filters,
                        Some("outputs") => &mut config.outputs,
                        other => return Err(format!("pipeline.{other:?} not supported")),
                    };
                    let plugins = plugins
                        .as_sequence()
                        .ok_or_else(|| format!("pipeline.{kind:?}: not a list"))?;
                    for plugin in plugins {
                        list.push(yaml_section(plugin)?);
                    }
                }
            }
            other => return Err(format!("top-level key {other:?} not supported")),
        }
    }
    Ok(config)
}

fn yaml_section(value: &Yaml) -> Result<Section, String> {
    let map = value
        .as_mapping()
        .ok_or("a section that is not a mapping")?;
    let mut section = Section::default();
    for (key, value) in map {
        let key = key.as_str().ok_or("a key that is not a string")?;
        let value = match value {
            Yaml::Sequence(items) => Value::List(
                items
                    .iter()
                    .map(yaml_scalar)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{key}: {e}"))?,
            ),
            scalar => Value::One(yaml_scalar(scalar).map_err(|e| format!("{key}: {e}"))?),
        };
        section.entries.push((key.to_owned(), value));
    }
    Ok(section)
}

fn yaml_scalar(value: &Yaml) -> Result<String, String> {
    match value {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(if *b { "on" } else { "off" }.to_owned()),
        other => Err(format!("{other:?} is not a scalar")),
    }
}

/// The Fluent Bit config embedded in a Kubernetes manifest or Helm values
/// file: the string at `keys` (a path of mapping keys) in the first YAML
/// document that has it.
pub fn embedded(path: &Path, keys: &[&str]) -> String {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let mut value = serde::Deserialize::deserialize(document)
            .unwrap_or_else(|e: serde_yaml_ng::Error| panic!("{}: {e}", path.display()));
        for key in keys {
            value = match value {
                Yaml::Mapping(mut map) => map.remove(*key).unwrap_or(Yaml::Null),
                _ => Yaml::Null,
            };
        }
        if let Yaml::String(config) = value {
            return config;
        }
    }
    panic!("{}: no string at {}", path.display(), keys.join("."))
}

/// Where a test's run of a config lives, and what it runs.
pub struct Setup<'a> {
    /// Every absolute path of the config moves under this directory.
    pub root: &'a Path,
    /// The module under test (`.wasm` or `.aot`).
    pub module: &'a Path,
    /// A free port for the HTTP server.
    pub http_port: u16,
}

/// Seconds between flushes: short, since every run waits for its last one.
pub const FLUSH: &str = "0.2";

/// Output keys that mean the same to the `file` output as to the output
/// they were written for, and so are kept when an output becomes a file.
const OUTPUT_KEYS_KEPT: [&str; 6] = [
    "name",
    "match",
    "match_regex",
    "alias",
    "retry_limit",
    "storage.total_limit_size",
];

/// Every change the suite makes to a config before running it, and nothing
/// else. Returns the files the outputs write, in the outputs' order.
///
/// 1. `flush` becomes [`FLUSH`] seconds (the run waits for its last flush).
/// 2. The HTTP server is on, at `setup.http_port` (runs go in parallel, and
///    the counters of `/api/v1/metrics` are checked).
/// 3. Every absolute path (`path` of inputs and outputs, `db`,
///    `storage.path`) moves under `setup.root`, globs included, so
///    `/var/lib/docker/containers/*/*.log` reads
///    `<root>/var/lib/docker/containers/*/*.log`.
/// 4. The `systemd` input reads the journal files in
///    `<root>/var/log/journal` (`path`), not the machine's journal.
/// 5. `wasm_path` is the module under test.
/// 6. The `kubernetes` filter is removed: it needs an API server.
/// 7. Every output that is not a `file` output becomes one, writing plain
///    JSON records to `<root>/out/<n>.<name>.ndjson`; the keys that mean the
///    same to a file output ([`OUTPUT_KEYS_KEPT`]) stay.
pub fn adapt(config: &mut Config, setup: &Setup) -> Vec<PathBuf> {
    let service = &mut config.service;
    service.set("flush", FLUSH); // 1
    service.set("http_server", "on"); // 2
    service.set("http_port", setup.http_port.to_string());
    reroot(service, "storage.path", setup.root); // 3
    for input in &mut config.inputs {
        reroot(input, "path", setup.root);
        reroot(input, "db", setup.root);
        if input.name() == "systemd" {
            let journal = setup.root.join("var/log/journal"); // 4
            input.set("path", journal.to_str().expect("UTF-8 temp path"));
        }
    }
    for filter in &mut config.filters {
        if filter.name() == "wasm" {
            let module = setup.module.to_str().expect("UTF-8 module path");
            filter.set("wasm_path", module); // 5
        }
    }
    config.filters.retain(|f| f.name() != "kubernetes"); // 6
    let mut files = Vec::new();
    for (n, output) in config.outputs.iter_mut().enumerate() {
        if output.name() == "file" {
            reroot(output, "path", setup.root);
        } else {
            let file = format!("{n}.{}.ndjson", output.name());
            output.entries.retain(|(k, _)| {
                OUTPUT_KEYS_KEPT
                    .iter()
                    .any(|kept| k.eq_ignore_ascii_case(kept))
            });
            output.set("name", "file"); // 7
            output.set("path", setup.root.join("out").to_str().expect("UTF-8"));
            output.set("file", file);
            output.set("format", "plain");
            output.set("mkdir", "on");
        }
        let dir = output.get("path").expect("a file output has a path");
        let file = output.get("file").expect("a file output names its file");
        files.push(Path::new(dir).join(file));
    }
    files
}

fn reroot(section: &mut Section, key: &str, root: &Path) {
    if let Some(path) = section.get(key).and_then(|p| p.strip_prefix('/')) {
        let moved = root.join(path);
        section.set(key, moved.to_str().expect("UTF-8 temp path"));
    }
}
