//! The two ways to run the transform behind one interface: the wasm module
//! in the Fluent Bit twin host, or the core library natively.

use twingate_analytics::{Options, Outcome, Profile, Transformer};

use crate::Verdict;
#[cfg(feature = "host")]
use crate::host::{EventTime, FluentBitHost};
use crate::input::Record;

/// One record in, a [`Verdict`] out; the record written (if any) is in
/// [`output`](Filter::output) until the next call.
pub trait Filter {
    fn filter(&mut self, record: Record<'_>) -> Verdict;
    fn output(&self) -> &[u8];
    /// Fuel (wasm instructions) the last call took, when counted.
    fn last_fuel(&self) -> Option<u64> {
        None
    }
}

/// The entry points the core offers natively, by their module export name:
/// `twingate_<profile>` and `twingate_<profile>_keep`.
pub fn native_options(function: &str) -> Option<Options> {
    let name = function.strip_prefix("twingate_")?;
    let (name, keep) = match name.strip_suffix("_keep") {
        Some(name) => (name, true),
        None => (name, false),
    };
    let options = Options::profile(Profile::from_name(name)?);
    Some(if keep { options.keep() } else { options })
}

/// The module export for a profile (`flatten`, `ecs`, `ocsf`).
pub fn profile_function(profile: &str, keep: bool) -> String {
    let suffix = if keep { "_keep" } else { "" };
    format!("twingate_{profile}{suffix}")
}

pub const NATIVE_FUNCTIONS: &str =
    "twingate_flatten, twingate_ecs, twingate_ocsf and their _keep variants";

/// The module's six filter exports, by `Function_Name` (the tests run each).
pub const ENTRY_POINTS: [&str; 6] = [
    "twingate_flatten",
    "twingate_flatten_keep",
    "twingate_ecs",
    "twingate_ecs_keep",
    "twingate_ocsf",
    "twingate_ocsf_keep",
];

/// The core library, called directly: a raw line goes to `transform_line`,
/// a record to `transform_record`.
pub struct NativeFilter {
    transformer: Transformer,
    options: Options,
}

impl NativeFilter {
    pub const fn new(options: Options) -> Self {
        Self {
            transformer: Transformer::new(),
            options,
        }
    }
}

impl Filter for NativeFilter {
    fn filter(&mut self, record: Record<'_>) -> Verdict {
        let outcome = match record {
            Record::Line(line) => self.transformer.transform_line(line, self.options),
            Record::Json(text) => self.transformer.transform_record(text, self.options),
        };
        match outcome {
            Outcome::Event => Verdict::Event,
            Outcome::Dropped => Verdict::Dropped,
            Outcome::Kept => Verdict::Kept,
            Outcome::Error(_) => Verdict::ErrorRecord,
        }
    }

    fn output(&self) -> &[u8] {
        self.transformer.output()
    }
}

/// The wasm module in [`FluentBitHost`]: a raw line is sent as the record
/// `{"log": line}`, as Fluent Bit's `tail` input builds it.
#[cfg(feature = "host")]
pub struct ModuleFilter {
    host: FluentBitHost,
    tag: Vec<u8>,
    /// The JSON of a raw line's record, reused.
    line_record: Vec<u8>,
}

#[cfg(feature = "host")]
impl ModuleFilter {
    pub fn new(host: FluentBitHost, tag: &str) -> Self {
        Self {
            host,
            tag: tag.as_bytes().to_vec(),
            line_record: Vec::new(),
        }
    }

    pub fn host(&self) -> &FluentBitHost {
        &self.host
    }
}

#[cfg(feature = "host")]
impl Filter for ModuleFilter {
    fn filter(&mut self, record: Record<'_>) -> Verdict {
        let time = EventTime::now();
        match record {
            Record::Json(text) => self.host.call(&self.tag, time, text),
            Record::Line(_) => {
                record.write_json(&mut self.line_record);
                self.host.call(&self.tag, time, &self.line_record)
            }
        }
    }

    fn output(&self) -> &[u8] {
        self.host.output()
    }

    fn last_fuel(&self) -> Option<u64> {
        self.host.last_fuel()
    }
}
