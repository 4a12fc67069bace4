//! The transform as a WebAssembly component: the `twingate:analytics`
//! world (`wit/twingate-analytics.wit`) over the same core as the Fluent Bit
//! module.
//!
//! Build: `cargo build --release -p twingate-component --target
//! wasm32-wasip2` → `target/wasm32-wasip2/release/twingate_component.wasm`.
//!
//! The door is thin: map the WIT options to the core's, run one
//! [`Transformer`], and split the core's output object into typed fields.

use std::sync::Mutex;

use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use twingate_analytics::error::Place;
use twingate_analytics::{Category, NonAnalytics, Options, Outcome, Profile, Transformer};

wit_bindgen::generate!({
    world: "analytics",
    path: "../wit",
});

use exports::twingate::analytics::transform as wit;

/// The instance's transformer: its buffers are reused by every call.
/// (A component instance runs one call at a time; the lock never waits.)
static TRANSFORMER: Mutex<Transformer> = Mutex::new(Transformer::new());

/// The key under which the core writes an error's reason.
const PARSE_ERROR: &str = "twingate.parse_error";

struct Component;

impl wit::Guest for Component {
    fn transform(
        input: wit::Input,
        options: wit::Options,
    ) -> Result<wit::Outcome, wit::UsageError> {
        let options = core_options(options)?;
        let mut transformer = TRANSFORMER
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = match &input {
            wit::Input::Line(line) => transformer.transform_line(line.as_bytes(), options),
            wit::Input::Record(record) => transformer.transform_record(record.as_bytes(), options),
        };
        Ok(typed_outcome(outcome, transformer.output()))
    }
}

// The exports carry names like `twingate:analytics/transform@0.1.0#transform`
// that a native linker rejects: only the wasm build exports them (the native
// build is for the unit tests).
#[cfg(target_arch = "wasm32")]
export!(Component);

/// The WIT options as the core's. Every profile of the interface is
/// implemented, so `usage-error` is not returned by this build (it stays in
/// the interface for profiles to come).
pub fn core_options(options: wit::Options) -> Result<Options, wit::UsageError> {
    let profile = match options.profile {
        wit::Profile::Flatten => Profile::Flatten,
        wit::Profile::Ecs => Profile::Ecs,
        wit::Profile::Ocsf => Profile::Ocsf,
    };
    let non_analytics = match options.non_analytics {
        wit::NonAnalytics::Drop => NonAnalytics::Drop,
        wit::NonAnalytics::Keep => NonAnalytics::Keep,
    };
    Ok(Options {
        profile,
        non_analytics,
    })
}

/// The core's outcome and output text as the WIT outcome.
pub fn typed_outcome(outcome: Outcome, output: &[u8]) -> wit::Outcome {
    let fields = || split_object(output);
    match outcome {
        Outcome::Dropped => wit::Outcome::Drop,
        Outcome::Event => match fields() {
            Ok(fields) => wit::Outcome::Event(fields),
            Err(why) => internal_error(why, output),
        },
        Outcome::Kept => match fields() {
            Ok(fields) => wit::Outcome::Kept(fields),
            Err(why) => internal_error(why, output),
        },
        Outcome::Error(error) => {
            let fields = match fields() {
                Ok(fields) => fields,
                Err(why) => return internal_error(why, output),
            };
            let reason = fields
                .iter()
                .find(|f| f.key == PARSE_ERROR)
                .and_then(|f| serde_json::from_str::<String>(&f.value).ok())
                .unwrap_or_else(|| error.to_string());
            wit::Outcome::Error(wit::Failure {
                reason,
                offset: error.offset() as u64,
                place: match error.place() {
                    Place::Line => wit::Place::Line,
                    Place::Record => wit::Place::Record,
                },
                category: match error.category() {
                    Category::NotAnObject => wit::ErrorCategory::NotAnObject,
                    Category::Truncated => wit::ErrorCategory::Truncated,
                    Category::Syntax => wit::ErrorCategory::Syntax,
                    Category::Depth => wit::ErrorCategory::Depth,
                    Category::Heap => wit::ErrorCategory::Heap,
                },
                fields,
            })
        }
    }
}

/// Splits a JSON object text into its top-level fields, in order: keys
/// decoded, values as their exact JSON text.
pub fn split_object(text: &[u8]) -> Result<Vec<wit::Field>, String> {
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<wit::Field>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(32));
            while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                fields.push(wit::Field {
                    key,
                    value: value.get().to_owned(),
                });
            }
            Ok(fields)
        }
    }
    let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = de.deserialize_map(Fields).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(fields)
}

/// The core wrote something that is not a JSON object: a bug, reported as
/// an error outcome rather than a trap, with the text kept.
fn internal_error(why: String, output: &[u8]) -> wit::Outcome {
    let reason = format!("internal error: the transform's output is not a JSON object ({why})");
    let text = String::from_utf8_lossy(output);
    let fields = vec![
        wit::Field {
            key: PARSE_ERROR.to_owned(),
            value: serde_json::Value::from(reason.as_str()).to_string(),
        },
        wit::Field {
            key: "twingate.record".to_owned(),
            value: serde_json::Value::from(text.as_ref()).to_string(),
        },
    ];
    wit::Outcome::Error(wit::Failure {
        reason,
        offset: 0,
        place: wit::Place::Record,
        category: wit::ErrorCategory::Syntax,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(profile: wit::Profile, non_analytics: wit::NonAnalytics) -> wit::Options {
        wit::Options {
            profile,
            non_analytics,
        }
    }

    #[test]
    fn split_keeps_order_exact_values_and_decodes_keys() {
        let fields = split_object(
            br#"{"b":1,"a\u0041":{"x":[1,2]},"n":123456789012345678901234567890,"s":"\u00e9\/"}"#,
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|f| (f.key.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("b", "1"),
                ("aA", r#"{"x":[1,2]}"#),
                ("n", "123456789012345678901234567890"),
                ("s", r#""\u00e9\/""#),
            ]
        );
        assert!(split_object(b"[1]").is_err());
        assert!(split_object(b"{\"a\":1} x").is_err());
    }

    #[test]
    fn every_profile_maps_through_with_keep() {
        let got = core_options(options(wit::Profile::Flatten, wit::NonAnalytics::Keep)).unwrap();
        assert_eq!(got, Options::flatten().keep());
        for (wit, core) in [
            (wit::Profile::Ecs, Profile::Ecs),
            (wit::Profile::Ocsf, Profile::Ocsf),
        ] {
            let got = core_options(options(wit, wit::NonAnalytics::Drop)).unwrap();
            assert_eq!(got, Options::profile(core));
        }
    }

    #[test]
    fn an_error_carries_the_records_reason_offset_and_place() {
        let mut t = Transformer::new();
        let outcome = t.transform_line(b"ANALYTICS {\"a\":", Options::flatten());
        let wit::Outcome::Error(failure) = typed_outcome(outcome, t.output()) else {
            panic!("not an error");
        };
        assert_eq!(failure.offset, 15);
        assert_eq!(failure.place, wit::Place::Line);
        assert_eq!(failure.category, wit::ErrorCategory::Truncated);
        assert!(failure.reason.contains("byte 15"), "{}", failure.reason);
        let keys: Vec<&str> = failure.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["log", PARSE_ERROR]);
        assert_eq!(
            serde_json::from_str::<String>(&failure.fields[1].value).unwrap(),
            failure.reason
        );
    }
}
