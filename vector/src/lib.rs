//! The Vector side of the project, made testable without a Vector binary.
//!
//! * [`Remap`] loads the VRL program of a `remap` transform straight from a
//!   Vector config file (so the file cannot drift from what is tested),
//!   compiles it with the `vrl` crate (the engine inside Vector) and runs it
//!   on one event the way Vector's `remap` transform does.
//! * [`config`] reads a Vector config and checks its topology: every
//!   `inputs` entry names an existing component output, every sink has an
//!   `encoding`.
//!
//! Nothing here panics on input: a config or an event that does not fit
//! comes back as an [`Error`] or an [`Outcome`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use vrl::compiler::{
    Context, ExpressionError, Program, TargetValue, TimeZone, state::RuntimeState,
};
use vrl::value::{Secrets, Value};

pub mod config;

/// Why a config or a program could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The file could not be read.
    Read(String),
    /// The file is not valid TOML.
    Toml(String),
    /// The config has no `transforms.<name>.source` string.
    NoSource(String),
    /// The VRL program does not compile (rendered diagnostics).
    Compile(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(m) => write!(f, "cannot read the config: {m}"),
            Error::Toml(m) => write!(f, "the config is not valid TOML: {m}"),
            Error::NoSource(m) => write!(f, "no remap program: {m}"),
            Error::Compile(m) => write!(f, "the VRL program does not compile:\n{m}"),
        }
    }
}

impl std::error::Error for Error {}

/// What Vector's `remap` transform does with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The program ran to its end: the event it leaves, as the JSON text
    /// Vector's `json` codec writes (keys in Vector's order: sorted).
    Event(String),
    /// The program called `abort`: with `drop_on_abort = true` the event is
    /// dropped (with `false`, the original event passes on unchanged).
    Aborted,
    /// A runtime error: Vector logs it and, with `drop_on_error = false`,
    /// passes the original event on unchanged. A correct program has none.
    Failed(String),
}

/// A compiled `remap` program.
pub struct Remap {
    program: Program,
    warnings: Vec<String>,
    source: String,
}

impl Remap {
    /// Loads `transforms.<transform>.source` from the Vector config at
    /// `path` and compiles it.
    pub fn from_config_file(path: &Path, transform: &str) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Read(format!("{}: {e}", path.display())))?;
        Self::compile(&remap_source(&text, transform)?)
    }

    /// Compiles a VRL program with the VRL standard library (what Vector's
    /// `remap` offers, minus Vector's own few functions, which the program
    /// does not use).
    pub fn compile(source: &str) -> Result<Self, Error> {
        let functions = vrl::stdlib::all();
        match vrl::compiler::compile(source, &functions) {
            Ok(result) => Ok(Remap {
                program: result.program,
                warnings: render(source, result.warnings),
                source: source.to_owned(),
            }),
            Err(diagnostics) => Err(Error::Compile(render(source, diagnostics).join("\n"))),
        }
    }

    /// The compiler's warnings (Vector prints them at start-up).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The program text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs the program on one event given as a JSON object.
    pub fn run(&self, event: &serde_json::Map<String, serde_json::Value>) -> Outcome {
        self.run_value(event, None)
    }

    /// Runs the program on one event whose `timestamp` is a Vector
    /// timestamp at `event_time_ms` (epoch milliseconds), as Vector's
    /// sources set it (journald: the journal's time; docker_logs: Docker's).
    pub fn run_at(
        &self,
        event: &serde_json::Map<String, serde_json::Value>,
        event_time_ms: i64,
    ) -> Outcome {
        self.run_value(event, Some(event_time_ms))
    }

    fn run_value(
        &self,
        event: &serde_json::Map<String, serde_json::Value>,
        event_time_ms: Option<i64>,
    ) -> Outcome {
        let mut fields: vrl::value::ObjectMap = event
            .iter()
            .map(|(k, v)| (k.as_str().into(), from_json(v)))
            .collect();
        if let Some(ms) = event_time_ms {
            match DateTime::from_timestamp_millis(ms) {
                Some(time) => fields.insert("timestamp".into(), Value::Timestamp(time)),
                None => return Outcome::Failed(format!("{ms} ms is not a Vector timestamp")),
            };
        }
        let mut target = TargetValue {
            value: Value::Object(fields),
            metadata: Value::Object(BTreeMap::new()),
            secrets: Secrets::default(),
        };
        let mut state = RuntimeState::default();
        let timezone = TimeZone::default();
        let mut ctx = Context::new(&mut target, &mut state, &timezone);
        match self.program.resolve(&mut ctx) {
            Ok(_) => match serde_json::to_string(&target.value) {
                Ok(text) => Outcome::Event(text),
                Err(e) => Outcome::Failed(format!("the event does not render as JSON: {e}")),
            },
            Err(ExpressionError::Abort { .. }) => Outcome::Aborted,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

/// The latest payload `timestamp` (epoch milliseconds) the program turns
/// into the event's timestamp: 9999-12-31T23:59:59.999Z, the last instant
/// RFC 3339 can write (the `ecs` profile's bound for `@timestamp` too).
pub const MAX_EVENT_TIME_MS: i64 = 253_402_300_799_999;

/// The text Vector's `json` codec writes for the timestamp at `ms` (epoch
/// milliseconds): RFC 3339 in UTC with as many fraction digits as needed
/// (`2021-06-10T01:29:45.643Z`, `2021-06-10T01:29:45Z`), as VRL renders a
/// timestamp. `None` outside 0..=[`MAX_EVENT_TIME_MS`].
pub fn event_time_text(ms: i64) -> Option<String> {
    if !(0..=MAX_EVENT_TIME_MS).contains(&ms) {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Epoch milliseconds of an [`event_time_text`] (`None` for any other text,
/// or a time with a finer fraction than milliseconds).
pub fn event_time_ms(text: &str) -> Option<i64> {
    let ms = DateTime::parse_from_rfc3339(text).ok()?.timestamp_millis();
    (event_time_text(ms)? == text).then_some(ms)
}

/// An event of the program in the contract's form, for checkers that
/// compare it with the core's record: the event time the program made of
/// the payload's `timestamp` back to epoch milliseconds, and a
/// `twingate.timestamp` back to `timestamp`. Only for events whose input
/// had no `timestamp` of its own (Vector's sources always set one).
pub fn contract_form(event: &mut serde_json::Map<String, serde_json::Value>) {
    if let Some(moved) = event.remove("twingate.timestamp") {
        event.insert("timestamp".to_owned(), moved);
    } else if let Some(ms) = event
        .get("timestamp")
        .and_then(serde_json::Value::as_str)
        .and_then(event_time_ms)
    {
        event.insert("timestamp".to_owned(), ms.into());
    }
}

/// `transforms.<transform>.source` of a Vector config (TOML text).
pub fn remap_source(config_text: &str, transform: &str) -> Result<String, Error> {
    let table: toml::Table = config_text
        .parse()
        .map_err(|e: toml::de::Error| Error::Toml(e.to_string()))?;
    let component = table
        .get("transforms")
        .and_then(|t| t.get(transform))
        .ok_or_else(|| Error::NoSource(format!("no [transforms.{transform}]")))?;
    if component.get("type").and_then(toml::Value::as_str) != Some("remap") {
        return Err(Error::NoSource(format!(
            "transforms.{transform} is not a `remap` transform"
        )));
    }
    component
        .get("source")
        .and_then(toml::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::NoSource(format!("transforms.{transform}.source is not a string")))
}

fn render(source: &str, diagnostics: vrl::diagnostic::DiagnosticList) -> Vec<String> {
    if diagnostics.is_empty() {
        return Vec::new();
    }
    vec![vrl::diagnostic::Formatter::new(source, diagnostics).to_string()]
}

/// A JSON value as Vector's JSON decoding makes it: integers that fit i64
/// stay integers, other numbers become floats.
fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, Some(f)) => Value::from_f64_or_zero(f),
            (None, None) => Value::from(n.to_string()),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), from_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(message: &str) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        map.insert("message".into(), message.into());
        map
    }

    #[test]
    fn remap_source_reads_the_named_transform_only() {
        let config = "[transforms.a]\ntype = \"remap\"\nsource = '.x = 1'\n\
                      [transforms.b]\ntype = \"route\"\n";
        assert_eq!(remap_source(config, "a"), Ok(".x = 1".to_owned()));
        assert!(matches!(remap_source(config, "b"), Err(Error::NoSource(_))));
        assert!(matches!(remap_source(config, "c"), Err(Error::NoSource(_))));
        assert!(matches!(
            remap_source("[transforms", "a"),
            Err(Error::Toml(_))
        ));
    }

    #[test]
    fn event_time_text_is_vrl_s_rendering() {
        assert_eq!(
            event_time_text(1_623_288_585_643).as_deref(),
            Some("2021-06-10T01:29:45.643Z")
        );
        assert_eq!(
            event_time_text(1_623_288_585_000).as_deref(),
            Some("2021-06-10T01:29:45Z")
        );
        assert_eq!(event_time_text(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            event_time_text(MAX_EVENT_TIME_MS).as_deref(),
            Some("9999-12-31T23:59:59.999Z")
        );
        assert_eq!(event_time_text(-1), None);
        assert_eq!(event_time_text(MAX_EVENT_TIME_MS + 1), None);
        assert_eq!(
            event_time_ms("2021-06-10T01:29:45.643Z"),
            Some(1_623_288_585_643)
        );
        assert_eq!(event_time_ms("2021-06-10T01:29:45.643000Z"), None);
        assert_eq!(event_time_ms("yesterday"), None);
        let remap = Remap::compile(".seen = .timestamp").expect("compiles");
        assert_eq!(
            remap.run_at(&event("x"), 1_623_288_585_643),
            Outcome::Event(
                r#"{"message":"x","seen":"2021-06-10T01:29:45.643Z","timestamp":"2021-06-10T01:29:45.643Z"}"#
                    .to_owned()
            )
        );
    }

    #[test]
    fn contract_form_undoes_the_event_time() {
        let form = |text: &str| {
            let mut map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).expect("object");
            contract_form(&mut map);
            serde_json::Value::Object(map).to_string()
        };
        assert_eq!(
            form(r#"{"a":1,"timestamp":"2021-06-10T01:29:45.643Z"}"#),
            r#"{"a":1,"timestamp":1623288585643}"#
        );
        assert_eq!(
            form(r#"{"twingate.timestamp":"soon"}"#),
            r#"{"timestamp":"soon"}"#
        );
        assert_eq!(form(r#"{"timestamp":"soon"}"#), r#"{"timestamp":"soon"}"#);
    }

    #[test]
    fn runs_abort_and_errors_like_vector() {
        let remap = Remap::compile("if .message == \"x\" { abort }\n.y = 2").expect("compiles");
        assert_eq!(remap.run(&event("x")), Outcome::Aborted);
        assert_eq!(
            remap.run(&event("z")),
            Outcome::Event(r#"{"message":"z","y":2}"#.to_owned())
        );
        let failing = Remap::compile(".y = int!(.message)").expect("compiles");
        assert!(matches!(failing.run(&event("z")), Outcome::Failed(_)));
        assert!(matches!(
            Remap::compile(".y = int(.message)"),
            Err(Error::Compile(_))
        ));
    }
}
