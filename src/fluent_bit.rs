//! The Fluent Bit door: the functions its `wasm` filter calls, and the only
//! `unsafe` code in the crate.
//!
//! Fluent Bit (2.x to 5.x, WAMR) calls `Function_Name` once per record:
//!
//! ```text
//! fn(tag_ptr, tag_len, time_sec, time_nsec, record_ptr, record_len) -> i32
//! ```
//!
//! Tag and record are copies in the module's memory, each followed by a NUL,
//! freed by the host after the call. `record_ptr` is 0 when the record did
//! not fit in the host's heap (`Wasm_Heap_Size`, 8 KiB by default). We
//! return 0 to drop the record, or a pointer to a NUL-terminated JSON object
//! that the host copies at once. The buffer behind that pointer belongs to
//! the one [`Transformer`] of this instance and is reused by the next call,
//! so nothing leaks and nothing dangles.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Options, Outcome, Profile, Transformer};

// The cell below relies on the module having one thread.
#[cfg(target_feature = "atomics")]
compile_error!("the Fluent Bit module is single-threaded: build it without the `atomics` feature");

/// The instance's transformer. `Transformer::new` is `const`: instantiating
/// the module runs no code and allocates nothing. A cell rather than a
/// `Mutex`: there is one thread, and a lock would only add a poisoning
/// check, a panic path and instructions to every call.
static TRANSFORMER: Instance = Instance(UnsafeCell::new(Transformer::new()));

struct Instance(UnsafeCell<Transformer>);

// SAFETY: wasm32-unknown-unknown without the `atomics` feature (refused
// above) has no threads: all of the module's code runs on the one thread
// that calls its exports, so the cell is never shared across threads.
unsafe impl Sync for Instance {}

/// The outcome of the last call, for hosts that count (see
/// [`twingate_last_outcome`]).
static LAST_OUTCOME: AtomicU32 = AtomicU32::new(0);

/// One exported entry point per profile and non-analytics policy, all with
/// the signature Fluent Bit calls (the event time is the host's business).
macro_rules! entry_points {
    ($($(#[doc = $doc:literal])* $name:ident => $options:expr;)*) => {$(
        $(#[doc = $doc])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(
            tag_ptr: u32,
            tag_len: u32,
            _time_sec: u32,
            _time_nsec: u32,
            record_ptr: u32,
            record_len: u32,
        ) -> u32 {
            filter(tag_ptr, tag_len, record_ptr, record_len, $options)
        }
    )*};
}

entry_points! {
    /// `flatten`: drops records without an analytics line.
    twingate_flatten => Options::flatten();
    /// `flatten`: passes records without an analytics line on unchanged.
    twingate_flatten_keep => Options::flatten().keep();
    /// `ecs` (Elastic Common Schema): drops records without an analytics line.
    twingate_ecs => Options::profile(Profile::Ecs);
    /// `ecs`: passes records without an analytics line on unchanged.
    twingate_ecs_keep => Options::profile(Profile::Ecs).keep();
    /// `ocsf` (OCSF Network Activity): drops records without an analytics line.
    twingate_ocsf => Options::profile(Profile::Ocsf);
    /// `ocsf`: passes records without an analytics line on unchanged.
    twingate_ocsf_keep => Options::profile(Profile::Ocsf).keep();
}

/// What the last call did: 0 nothing yet, 1 event, 2 dropped, 3 kept,
/// 4 error record. Fluent Bit ignores it; this project's host uses it to
/// count outcomes without guessing from the output.
#[unsafe(no_mangle)]
pub extern "C" fn twingate_last_outcome() -> u32 {
    LAST_OUTCOME.load(Ordering::Relaxed)
}

/// Not inlined: one copy of the transform serves every export.
#[inline(never)]
fn filter(tag_ptr: u32, tag_len: u32, record_ptr: u32, record_len: u32, options: Options) -> u32 {
    // SAFETY: one thread (see `Instance`), and this is the only place that
    // touches the transformer: the reference lives until this call returns,
    // and nothing in the call re-enters an export (the module has no
    // imports, so control cannot reach the host and come back).
    let transformer = unsafe { &mut *TRANSFORMER.0.get() };
    let tag = host_bytes(tag_ptr, tag_len);
    let outcome = match host_bytes(record_ptr, record_len) {
        Some(record) => transformer.transform_record(record, options),
        None => {
            transformer.heap_too_small(tag, record_len as usize, heap_needed(tag_len, record_len))
        }
    };
    LAST_OUTCOME.store(
        match outcome {
            Outcome::Event => 1,
            Outcome::Dropped => 2,
            Outcome::Kept => 3,
            Outcome::Error(_) => 4,
        },
        Ordering::Relaxed,
    );
    // The pointer stays valid until the next call, which is after the host
    // has copied the text.
    transformer
        .output_c_str()
        .map_or(0, |text| text.as_ptr() as u32)
}

/// The `Wasm_Heap_Size` that fits both copies: WAMR's allocator takes
/// 8-byte-aligned blocks with a 4-byte header, from a pool 4 bytes short of
/// the heap, and the host adds a NUL to each copy.
/// In u64: near `u32::MAX` the sum would wrap in wasm32's `usize`.
fn heap_needed(tag_len: u32, record_len: u32) -> u64 {
    // WAMR's smallest block is 16 bytes.
    let block = |len: u32| ((u64::from(len) + 1 + 4).div_ceil(8) * 8).max(16);
    block(tag_len) + block(record_len) + 8
}

/// The host's bytes at `ptr`, or `None` for a null pointer or a range that
/// is not inside linear memory (which a correct host never passes, but a
/// wrong one must not make us trap).
fn host_bytes(ptr: u32, len: u32) -> Option<&'static [u8]> {
    let memory_len = core::arch::wasm32::memory_size(0) * 65536;
    let end = (ptr as usize).checked_add(len as usize)?;
    if ptr == 0 || end > memory_len {
        return None;
    }
    // SAFETY: `ptr..end` lies inside linear memory (checked just above),
    // which is always mapped and readable in wasm. The host wrote these bytes
    // before calling and frees them only after we return; the slice does not
    // outlive this call (`filter` drops it before returning), and no code in
    // the module writes to the host's copy, which lies in the host's heap,
    // apart from everything Rust's allocator hands out.
    Some(unsafe { core::slice::from_raw_parts(ptr as *const u8, len as usize) })
}
