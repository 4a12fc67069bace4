//! The Fluent Bit door of the naive baseline, the same signature and the
//! same conventions as `twingate_flatten` (see `src/fluent_bit.rs` of the
//! main crate): the host copies tag and record into our memory, calls
//! `naive_flatten(tag_ptr, tag_len, time_sec, time_nsec, record_ptr,
//! record_len)`, and reads the NUL-terminated JSON we return (0 drops the
//! record). The text lives in one buffer that the next call reuses.
//!
//! The only `unsafe` code of the crate.

use std::sync::Mutex;

use crate::Naive;

/// The answer of the last call, NUL-terminated; reused by the next call.
/// (`wasm32-unknown-unknown` has no threads: the lock never waits.)
static OUTPUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Drops non-analytics records, flattens analytics ones. A record that did
/// not fit the host's heap (`record_ptr == 0`) is dropped: the baseline does
/// not report it.
#[unsafe(no_mangle)]
pub extern "C" fn naive_flatten(
    _tag_ptr: u32,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record_ptr: u32,
    record_len: u32,
) -> u32 {
    let Some(record) = host_bytes(record_ptr, record_len) else {
        return 0;
    };
    let text = match crate::transform(record) {
        Naive::Dropped => return 0,
        Naive::Event(text) | Naive::Error(text) => text,
    };
    let mut output = OUTPUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    output.clear();
    output.extend_from_slice(text.as_bytes());
    output.push(0);
    // The buffer is a static: the pointer stays valid until the next call,
    // which comes after the host has copied the text.
    output.as_ptr() as u32
}

/// The host's bytes at `ptr`, or `None` for a null pointer or a range
/// outside linear memory.
fn host_bytes(ptr: u32, len: u32) -> Option<&'static [u8]> {
    let memory_len = core::arch::wasm32::memory_size(0) * 65536;
    let end = (ptr as usize).checked_add(len as usize)?;
    if ptr == 0 || end > memory_len {
        return None;
    }
    // SAFETY: `ptr..end` lies inside linear memory (checked just above),
    // which is always mapped and readable in wasm. The host wrote these
    // bytes before the call and frees them after we return; the slice is
    // only used during this call, and nothing in the module writes to the
    // host's copy (it lies in the host's heap, outside what Rust's allocator
    // hands out).
    Some(unsafe { core::slice::from_raw_parts(ptr as *const u8, len as usize) })
}
