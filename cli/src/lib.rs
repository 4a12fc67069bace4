//! `twingate`: runs the Twingate analytics transform over connector logs,
//! either as Fluent Bit would run the wasm module ([`host`]) or natively
//! ([`filter::NativeFilter`]), over every input shape a collector produces
//! ([`input`]).
//!
//! The binary (`src/main.rs`) is a thin layer over these pieces, so tests
//! and benchmarks can use them directly.
//!
//! The wasmtime host is the `host` feature (on by default). Without it
//! (`--no-default-features`) the CLI runs only the core, natively, and builds
//! for `wasm32-wasip1`: the portable WASI command.

pub mod filter;
#[cfg(feature = "host")]
pub mod host;
pub mod input;
pub mod report;
pub mod settings;

/// What became of one record: the three outcomes of the contract, plus the
/// host's own ways of losing or skipping one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An analytics event, flattened.
    Event,
    /// Not analytics: dropped (the filter returned 0).
    Dropped,
    /// Not analytics: passed on unchanged (the `keep` entry point).
    Kept,
    /// A broken analytics line: the record plus `twingate.parse_error`.
    ErrorRecord,
    /// The filter returned an empty string, which Fluent Bit skips: the
    /// record is dropped (the contract says to return 0 instead).
    Skipped,
    /// The record is lost, as in Fluent Bit: a trap, an invalid pointer, or
    /// a result that is not a JSON object. The text says which.
    Lost(String),
}

impl Verdict {
    /// Whether the filter's output goes on down the pipeline.
    pub const fn has_output(&self) -> bool {
        matches!(self, Self::Event | Self::Kept | Self::ErrorRecord)
    }
}
