//! The JavaScript door (wasm-bindgen, `js` feature): one [`Transformer`]
//! behind a small class that the npm package (`js/index.js`) wraps into
//! `transformLine` / `transformRecord`.
//!
//! Built for wasm32-unknown-unknown into its own target directory, so the
//! Fluent Bit module (same crate, no feature, zero imports) is never
//! overwritten:
//!
//! ```text
//! cargo build --release -p twingate-analytics --target wasm32-unknown-unknown \
//!     --features js --target-dir target/js
//! wasm-bindgen --target nodejs --out-dir js/pkg \
//!     target/js/wasm32-unknown-unknown/release/twingate_analytics.wasm
//! ```

use wasm_bindgen::prelude::*;

use crate::error::{Category, Place};
use crate::{Error, NonAnalytics, Options, Outcome, Profile, Transformer};

/// Outcome codes returned by the `transform*` methods (the package maps
/// them to `"event" | "drop" | "kept" | "error"`).
const EVENT: u32 = 0;
const DROP: u32 = 1;
const KEPT: u32 = 2;
const ERROR: u32 = 3;

/// The transform with its buffers; reuse one for many lines.
#[wasm_bindgen(js_name = RawTransformer)]
pub struct RawTransformer {
    inner: Transformer,
    error: Option<Error>,
}

impl Default for RawTransformer {
    fn default() -> Self {
        RawTransformer::new()
    }
}

#[wasm_bindgen(js_class = RawTransformer)]
impl RawTransformer {
    #[wasm_bindgen(constructor)]
    pub fn new() -> RawTransformer {
        RawTransformer {
            inner: Transformer::new(),
            error: None,
        }
    }

    /// A bare line, as if the record were `{"log": line}`.
    #[wasm_bindgen(js_name = transformLine)]
    pub fn transform_line(
        &mut self,
        line: &str,
        profile: &str,
        keep: bool,
    ) -> Result<u32, JsError> {
        let options = options(profile, keep)?;
        let outcome = self.inner.transform_line(line.as_bytes(), options);
        Ok(self.code(outcome))
    }

    /// The same for a line given as UTF-8 bytes (invalid UTF-8 becomes
    /// U+FFFD, as in the other doors).
    #[wasm_bindgen(js_name = transformLineBytes)]
    pub fn transform_line_bytes(
        &mut self,
        line: &[u8],
        profile: &str,
        keep: bool,
    ) -> Result<u32, JsError> {
        let options = options(profile, keep)?;
        let outcome = self.inner.transform_line(line, options);
        Ok(self.code(outcome))
    }

    /// A record as JSON object text.
    #[wasm_bindgen(js_name = transformRecord)]
    pub fn transform_record(
        &mut self,
        record: &str,
        profile: &str,
        keep: bool,
    ) -> Result<u32, JsError> {
        let options = options(profile, keep)?;
        let outcome = self.inner.transform_record(record.as_bytes(), options);
        Ok(self.code(outcome))
    }

    /// The same for a record given as UTF-8 bytes.
    #[wasm_bindgen(js_name = transformRecordBytes)]
    pub fn transform_record_bytes(
        &mut self,
        record: &[u8],
        profile: &str,
        keep: bool,
    ) -> Result<u32, JsError> {
        let options = options(profile, keep)?;
        let outcome = self.inner.transform_record(record, options);
        Ok(self.code(outcome))
    }

    /// The JSON object written for the last call (empty after a drop).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(self.inner.output()).into_owned()
    }

    /// The last error's byte offset (see `errorPlace`); -1 when the last
    /// call was not an error.
    #[wasm_bindgen(getter, js_name = errorOffset)]
    pub fn error_offset(&self) -> f64 {
        self.error.map_or(-1.0, |e| e.offset() as f64)
    }

    /// `"line"` (offset in the decoded line) or `"record"` (in the record's
    /// JSON text); empty when the last call was not an error.
    #[wasm_bindgen(getter, js_name = errorPlace)]
    pub fn error_place(&self) -> String {
        match self.error.map(|e| e.place()) {
            Some(Place::Line) => "line",
            Some(Place::Record) => "record",
            None => "",
        }
        .to_owned()
    }

    /// `"not-an-object" | "truncated" | "syntax" | "depth" | "heap"`; empty
    /// when the last call was not an error.
    #[wasm_bindgen(getter, js_name = errorCategory)]
    pub fn error_category(&self) -> String {
        match self.error.map(|e| e.category()) {
            Some(Category::NotAnObject) => "not-an-object",
            Some(Category::Truncated) => "truncated",
            Some(Category::Syntax) => "syntax",
            Some(Category::Depth) => "depth",
            Some(Category::Heap) => "heap",
            None => "",
        }
        .to_owned()
    }
}

impl RawTransformer {
    fn code(&mut self, outcome: Outcome) -> u32 {
        self.error = None;
        match outcome {
            Outcome::Event => EVENT,
            Outcome::Dropped => DROP,
            Outcome::Kept => KEPT,
            Outcome::Error(error) => {
                self.error = Some(error);
                ERROR
            }
        }
    }
}

/// The JS options as the core's.
fn options(profile: &str, keep: bool) -> Result<Options, JsError> {
    let Some(profile) = Profile::from_name(profile) else {
        return Err(JsError::new(&format!(
            "unknown profile \"{profile}\": expected \"flatten\", \"ecs\" or \"ocsf\""
        )));
    };
    let non_analytics = if keep {
        NonAnalytics::Keep
    } else {
        NonAnalytics::Drop
    };
    Ok(Options {
        profile,
        non_analytics,
    })
}
