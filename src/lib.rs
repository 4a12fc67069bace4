//! Twingate Connector analytics lines → flat, typed log records.
//!
//! The pipeline, one module per step:
//!
//! 1. [`record`]: find the line in a record (`log`, `message` or `MESSAGE`);
//! 2. [`recognize`]: is it an `ANALYTICS {json}` line (bare or after a syslog
//!    header)?
//! 3. [`flatten`]: parse the payload (no recursion: an explicit stack) and
//!    flatten it to dotted keys straight into the output;
//! 4. [`object`]: write the output object (record fields first, payload
//!    fields after, duplicate keys resolved last-wins).
//!
//! [`Transformer`] runs the steps and owns every buffer, so a warm
//! transformer allocates nothing per record. The doors (the Fluent Bit ABI in
//! `fluent_bit`, the CLI, ...) are thin layers over it; this core is safe
//! Rust and knows nothing about any host.

// `unsafe` only in the doors, where the host's memory is touched.
#![deny(unsafe_code)]
// The Fluent Bit module links no std: its panic and formatting machinery
// and its allocator weigh about 14 KiB of the module's 96 KiB budget, for
// code that never runs (the core does not panic); `fluent_bit` supplies a
// small allocator and a panic handler that traps. Every other build (native,
// the JS door, the WASI targets) keeps std.
#![cfg_attr(
    all(target_arch = "wasm32", target_os = "unknown", not(feature = "js")),
    no_std
)]

extern crate alloc;

pub mod error;
mod flatten;
mod json;
mod object;
mod profile;
mod recognize;
mod record;
mod scan;
mod transform;

// The Fluent Bit module's target only: the WASI command (wasm32-wasip1) and
// the component (wasm32-wasip2) link the core without exporting its ABI.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#[allow(unsafe_code)]
mod fluent_bit;
#[cfg(feature = "js")]
#[allow(unsafe_code)]
mod js;

pub use error::{
    ARRAY_MAX_DEPTH, Category, Error, ErrorKind, MAX_DEPTH, OUTPUT_MAX_DEPTH, PATH_MAX_SEGMENTS,
};
pub use transform::{NonAnalytics, Options, Outcome, Profile, Transformer};
