//! The Fluent Bit door, natively: `src/fluent_bit.rs` is wasm32-only (it
//! reads linear memory), so this target makes the same calls it makes, with
//! the same kinds of arguments a host can pass: a record copy whose length
//! disagrees with its NUL (shorter, longer: bytes past the NUL), a missing
//! record (`record_ptr = 0`, any `record_len`), a missing tag. The answer
//! must be one NUL-terminated JSON object (or 0 for a drop) every time.
//! The profile exports (`twingate_ecs`, `twingate_ocsf`) share the door and
//! get the same record. The module itself is driven through wasmtime in
//! `cli/tests/abi_fuzz.rs`.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use twingate_analytics::{Outcome, Transformer};
use twingate_analytics_fuzz::oracle::{self, Kind};
use twingate_analytics_fuzz::{Input, OPTIONS, check_profiles};

thread_local! {
    static STATE: RefCell<(Transformer, Transformer)> =
        const { RefCell::new((Transformer::new(), Transformer::new())) };
}

/// `fluent_bit::heap_needed`, for a length up to u32::MAX.
fn heap_needed(tag_len: u64, record_len: u64) -> u64 {
    let block = |len: u64| ((len + 1 + 4).div_ceil(8) * 8).max(16);
    block(tag_len) + block(record_len) + 8
}

fuzz_target!(|data: &[u8]| {
    // [flags][tag_len][record_len as 4 bytes][tag][record bytes, NUL, more]
    let [flags, tag_len, l0, l1, l2, l3, rest @ ..] = data else {
        return;
    };
    let tag_len = usize::from(*tag_len).min(rest.len());
    let (tag, memory) = rest.split_at(tag_len);
    let claimed = u32::from_le_bytes([*l0, *l1, *l2, *l3]) as usize;
    let (options, keep) = OPTIONS[usize::from(flags & 1)];
    STATE.with_borrow_mut(|(transformer, profiled)| {
        let tag_given = flags & 2 == 0;
        let record_given = flags & 4 == 0;
        // What the module reads: `record_len` bytes from the copy, whatever
        // the NUL says (bounded by memory; past it the module answers as
        // for pointer 0).
        let (outcome, record) = if record_given && claimed % (memory.len() + 1) <= memory.len() {
            let len = claimed % (memory.len() + 1);
            let record = &memory[..len];
            (transformer.transform_record(record, options), Some(record))
        } else {
            let tag = tag_given.then_some(tag);
            let needed = heap_needed(tag_len as u64, claimed as u64);
            let outcome = transformer.heap_too_small(tag, claimed, needed);
            assert!(matches!(outcome, Outcome::Error(_)), "{outcome:?}");
            (outcome, None)
        };
        let kind = Kind::from(&outcome);
        let output = transformer.output();
        let checked = match record {
            Some(record) => oracle::check(Input::Record(record), keep, kind, output),
            None => oracle::valid_object(output).and_then(|fields| {
                let fields = fields.ok_or("unreadable heap error record")?;
                let message = fields[oracle::PARSE_ERROR].as_str().unwrap_or_default();
                let size = claimed.to_string();
                if message.contains("wasm_heap_size") && message.contains(&size) {
                    Ok(())
                } else {
                    Err(format!(
                        "heap error record must name wasm_heap_size and {size}: {message}"
                    ))
                }
            }),
        };
        if let Err(why) =
            checked.and_then(|()| oracle::check_c_str(kind, output, transformer.output_c_str()))
        {
            panic!(
                "{why}\n  data: {data:?}\n  output: {}",
                String::from_utf8_lossy(output)
            );
        }
        // The `ecs` and `ocsf` exports take the same record the same way.
        if let Some(record) = record {
            check_profiles(profiled, Input::Record(record), keep, kind, output);
        }
    });
});
