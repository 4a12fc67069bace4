//! The component, run by wasmtime's component API, held to the same
//! contract table as the core (`tests/support`): every record of every
//! shape and every bare line, both `non-analytics` choices. Each answer is
//! also compared with the native core's (same output, same error offset and
//! place), and the component's imports are pinned to the list the Rust
//! toolchain forces (none of them is called: every import traps here).
//!
//! Needs the component built:
//! `cargo build --release -p twingate-component --target wasm32-wasip2`.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;
use support::{Answer, Case, all_cases, assert_conforms, json_eq};
use twingate_analytics::error::Place;
use wasmtime::component::{Component, Linker, types::ComponentItem};
use wasmtime::{Engine, Store};

wasmtime::component::bindgen!({
    world: "analytics",
    path: "../wit",
});

use exports::twingate::analytics::transform::{
    ErrorCategory, Field, Input, NonAnalytics, Options, Outcome, Place as WitPlace, Profile,
    UsageError,
};

const BUILD_HINT: &str = "cargo build --release -p twingate-component --target wasm32-wasip2";

/// What the Rust toolchain's wasm32-wasip2 standard library imports (wasi-libc's
/// start-up, stdio and exit paths, linked in whether used or not). The
/// transform calls none of them: every test here runs with each import
/// defined as a trap. No filesystem, sockets, clocks or random.
const FORCED_IMPORTS: &[&str] = &[
    "wasi:cli/environment@0.2.6",
    "wasi:cli/exit@0.2.6",
    "wasi:cli/stderr@0.2.6",
    "wasi:cli/stdin@0.2.6",
    "wasi:cli/stdout@0.2.6",
    "wasi:cli/terminal-input@0.2.6",
    "wasi:cli/terminal-output@0.2.6",
    "wasi:cli/terminal-stderr@0.2.6",
    "wasi:cli/terminal-stdin@0.2.6",
    "wasi:cli/terminal-stdout@0.2.6",
    "wasi:io/error@0.2.6",
    "wasi:io/poll@0.2.6",
    "wasi:io/streams@0.2.6",
];

fn component_path() -> PathBuf {
    let path = support::repo_root().join("target/wasm32-wasip2/release/twingate_component.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build the component first with `{BUILD_HINT}`",
        path.display()
    );
    // A component older than its sources would test yesterday's code. The
    // dep-info file beside it lists the sources the build read (core, door
    // and WIT), as cargo sees them.
    let built = modified(&path);
    let dep_info = std::fs::read_to_string(path.with_extension("d")).unwrap_or_default();
    let sources = dep_info
        .split_once(": ")
        .map_or("", |(_, deps)| deps)
        .split_whitespace()
        .map(PathBuf::from)
        .filter(|source| source.is_file());
    for source in sources {
        assert!(
            modified(&source) <= built,
            "{} is older than {}: rebuild it with `{BUILD_HINT}`",
            path.display(),
            source.display()
        );
    }
    path
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Host {
    store: Store<()>,
    analytics: Analytics,
}

fn load() -> (Engine, Component) {
    let engine = Engine::default();
    let component = Component::from_file(&engine, component_path())
        .unwrap_or_else(|e| panic!("load the component: {e:?}"));
    (engine, component)
}

impl Host {
    fn new() -> Self {
        let (engine, component) = load();
        let mut linker = Linker::new(&engine);
        // No WASI at all: if the transform touched any capability, the call
        // would trap and the test would say so.
        linker
            .define_unknown_imports_as_traps(&component)
            .expect("stub the imports");
        let mut store = Store::new(&engine, ());
        let analytics = Analytics::instantiate(&mut store, &component, &linker)
            .unwrap_or_else(|e| panic!("instantiate: {e:?}"));
        Host { store, analytics }
    }

    fn transform(&mut self, input: &Input, options: Options) -> Result<Outcome, UsageError> {
        self.analytics
            .twingate_analytics_transform()
            .call_transform(&mut self.store, input, options)
            .unwrap_or_else(|e| panic!("the call trapped: {e:?}"))
    }
}

fn options(profile: Profile, keep: bool) -> Options {
    Options {
        profile,
        non_analytics: if keep {
            NonAnalytics::Keep
        } else {
            NonAnalytics::Drop
        },
    }
}

/// Fields joined back into the object text they stand for.
fn join(fields: &[Field]) -> String {
    let mut text = String::from("{");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(&field.key).expect("key"));
        text.push(':');
        text.push_str(&field.value);
    }
    text.push('}');
    text
}

/// The door: the component's answer, checked against the native core on the
/// way (same object, same error offset, place and category).
fn door(keep: bool, lines: bool) -> impl FnMut(&Case) -> Answer {
    let mut host = Host::new();
    let mut core = twingate_analytics::Transformer::new();
    let core_options = if keep {
        twingate_analytics::Options::flatten().keep()
    } else {
        twingate_analytics::Options::flatten()
    };
    move |case| {
        let (input, core_outcome) = if lines {
            let line = case.line.clone().expect("a line case");
            let outcome = core.transform_line(line.as_bytes(), core_options);
            (Input::Line(line), outcome)
        } else {
            let outcome = core.transform_record(case.record.as_bytes(), core_options);
            (Input::Record(case.record.clone()), outcome)
        };
        let core_text = String::from_utf8_lossy(core.output()).into_owned();
        let outcome = match host.transform(&input, options(Profile::Flatten, keep)) {
            Ok(outcome) => outcome,
            Err(e) => return Answer::Lost(format!("usage error {e:?}")),
        };
        let answer = match outcome {
            Outcome::Event(fields) => Answer::Event(join(&fields)),
            Outcome::Drop => Answer::Dropped,
            Outcome::Kept(fields) => Answer::Kept(join(&fields)),
            Outcome::Error(failure) => {
                let text = join(&failure.fields);
                let twingate_analytics::Outcome::Error(error) = core_outcome else {
                    return Answer::Lost(format!("the core gave {core_outcome:?}"));
                };
                let place = match error.place() {
                    Place::Line => WitPlace::Line,
                    Place::Record => WitPlace::Record,
                };
                if failure.offset != error.offset() as u64 || failure.place != place {
                    return Answer::Lost(format!(
                        "offset {} {:?}, the core says {} {:?}",
                        failure.offset,
                        failure.place,
                        error.offset(),
                        error.place()
                    ));
                }
                let reason_field = failure
                    .fields
                    .iter()
                    .find(|f| f.key == "twingate.parse_error")
                    .map(|f| serde_json::from_str::<String>(&f.value).expect("a string"));
                if reason_field.as_deref() != Some(failure.reason.as_str()) {
                    return Answer::Lost(format!(
                        "reason {:?} differs from twingate.parse_error {reason_field:?}",
                        failure.reason
                    ));
                }
                Answer::Error(text)
            }
        };
        let same_as_core = match &answer {
            Answer::Dropped => core.output().is_empty(),
            Answer::Event(text) | Answer::Kept(text) | Answer::Error(text) => {
                let ours: Value = serde_json::from_str(text).expect("joined fields are JSON");
                let theirs: Value = serde_json::from_str(&core_text).expect("core output");
                json_eq(&ours, &theirs)
            }
            Answer::Lost(_) => true,
        };
        if !same_as_core {
            return Answer::Lost(format!("differs from the core's {core_text}"));
        }
        answer
    }
}

#[test]
fn every_record_of_every_shape_matches_the_contract() {
    let cases = all_cases();
    assert_eq!(cases.len(), 5 * 2000);
    assert_conforms("component, records", false, &cases, door(false, false));
}

#[test]
fn keep_passes_non_analytics_records_unchanged() {
    let cases = all_cases();
    assert_conforms("component, records, keep", true, &cases, door(true, false));
}

#[test]
fn bare_lines_match_the_contract() {
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| c.line.is_some())
        .collect();
    assert_eq!(cases.len(), 2 * 2000);
    assert_conforms("component, lines", false, &cases, door(false, true));
    assert_conforms("component, lines, keep", true, &cases, door(true, true));
}

#[test]
fn every_outcome_occurs_with_its_typed_payload() {
    let mut host = Host::new();
    let event = r#"ANALYTICS {"event_type":"closed_connection","timestamp":1623288585643,"connection":{"rx":18446744073709551616,"client_ip":"1.2.3.4"},"relays":[{"ip":"a\/b"}],"location":"{\"geoip\":{\"city\":\"Seattle\"}}"}"#;
    let Ok(Outcome::Event(fields)) =
        host.transform(&Input::Line(event.into()), options(Profile::Flatten, false))
    else {
        panic!("not an event");
    };
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|f| (f.key.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("event_type", r#""closed_connection""#),
            ("timestamp", "1623288585643"),
            ("connection.rx", "18446744073709551616"),
            ("connection.client_ip", r#""1.2.3.4""#),
            ("relays", r#"[{"ip":"a/b"}]"#),
            ("location.geoip.city", r#""Seattle""#),
        ]
    );

    let record = r#"{"stream":"stderr","MESSAGE":"[INFO] [connector] State: Online"}"#;
    let input = Input::Record(record.into());
    assert!(matches!(
        host.transform(&input, options(Profile::Flatten, false)),
        Ok(Outcome::Drop)
    ));
    let Ok(Outcome::Kept(fields)) = host.transform(&input, options(Profile::Flatten, true)) else {
        panic!("not kept");
    };
    assert_eq!(join(&fields), record);

    let cut = Input::Record(r#"{"log":"ANALYTICS {\"a\":[1,"}"#.into());
    let Ok(Outcome::Error(failure)) = host.transform(&cut, options(Profile::Flatten, false)) else {
        panic!("not an error");
    };
    assert_eq!((failure.offset, failure.place), (18, WitPlace::Line));
    assert_eq!(failure.category, ErrorCategory::Truncated);
    assert!(failure.reason.contains("byte 18"), "{}", failure.reason);
    assert!(
        failure.reason.contains("multiline.parser"),
        "{}",
        failure.reason
    );

    let not_json = Input::Record("ANALYTICS {}".into());
    let Ok(Outcome::Error(failure)) = host.transform(&not_json, options(Profile::Flatten, false))
    else {
        panic!("not an error");
    };
    assert_eq!(
        (failure.place, failure.category),
        (WitPlace::Record, ErrorCategory::NotAnObject)
    );
    let keys: Vec<&str> = failure.fields.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["twingate.parse_error", "twingate.record"]);
}

#[test]
fn every_profile_gives_the_same_outcome_in_its_own_schema() {
    let mut host = Host::new();
    let line = Input::Line(
        r#"ANALYTICS {"event_type":"closed_connection","timestamp":1623288585643}"#.into(),
    );
    let top_keys = |outcome: Result<Outcome, UsageError>| match outcome {
        Ok(Outcome::Event(fields)) => fields.into_iter().map(|f| f.key).collect::<Vec<_>>(),
        other => panic!("not an event: {other:?}"),
    };
    let flatten = top_keys(host.transform(&line, options(Profile::Flatten, false)));
    assert_eq!(flatten, ["event_type", "timestamp"]);
    let ecs = top_keys(host.transform(&line, options(Profile::Ecs, false)));
    assert!(
        ecs.contains(&"@timestamp".to_owned()) && ecs.contains(&"ecs".to_owned()),
        "{ecs:?}"
    );
    let ocsf = top_keys(host.transform(&line, options(Profile::Ocsf, false)));
    assert!(ocsf.contains(&"class_uid".to_owned()), "{ocsf:?}");
    // Not analytics: dropped or kept in every profile.
    let service = Input::Line("[INFO] [connector] State: Online".into());
    for profile in [Profile::Ecs, Profile::Ocsf] {
        assert!(matches!(
            host.transform(&service, options(profile, false)),
            Ok(Outcome::Drop)
        ));
        assert!(matches!(
            host.transform(&service, options(profile, true)),
            Ok(Outcome::Kept(_))
        ));
    }
}

#[test]
fn imports_only_what_the_toolchain_forces_and_exports_the_world() {
    let (engine, component) = load();
    let ty = component.component_type();
    let mut imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_owned()).collect();
    imports.sort();
    assert_eq!(
        imports, FORCED_IMPORTS,
        "the component's imports changed: update FORCED_IMPORTS and docs/component-and-js.md"
    );
    let exports: Vec<(String, bool)> = ty
        .exports(&engine)
        .map(|(n, item)| {
            (
                n.to_owned(),
                matches!(item.ty, ComponentItem::ComponentInstance(_)),
            )
        })
        .collect();
    assert_eq!(
        exports,
        [("twingate:analytics/transform@0.1.0".to_owned(), true)]
    );
}
