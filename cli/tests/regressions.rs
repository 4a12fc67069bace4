//! Regressions: bugs the reliability work (issue 6) found in the module and
//! the host, each fixed; every test states the contract it broke.

#[path = "../../tests/oracle/mod.rs"]
mod oracle;
mod raw;

use raw::{Driver, Raw};
use twingate_cli::host::{FluentBitHost, HostOptions};

/// Bug 2, fixed (`src/fluent_bit.rs`, `heap_needed`): on wasm32 `usize` is 32
/// bits, so `record_len as usize + 1 + 4` wraps for a `record_len` within 4
/// of `u32::MAX` (release builds do not check overflow) and the heap error
/// record asks for "at least 1K". Harmless in practice (Fluent Bit cannot
/// hold a 4 GiB record), but the message must never name a heap smaller
/// than the record. Fix: compute in u64 (or saturate).
#[test]
fn the_heap_error_never_names_a_heap_smaller_than_the_record() {
    let mut driver = Driver::new("twingate_flatten", None);
    for record_len in [1u32 << 20, i32::MAX as u32, u32::MAX - 4, u32::MAX] {
        let Raw::Text(text, _) = driver.call(0, 0, 0, record_len) else {
            panic!("record_len {record_len}: no error record");
        };
        let fields = oracle::valid_object(&text).unwrap().unwrap();
        let message = fields[oracle::PARSE_ERROR].as_str().unwrap();
        let kib: u64 = message
            .split("at least ")
            .nth(1)
            .and_then(|rest| rest.split('K').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{message}"));
        assert!(
            kib * 1024 >= u64::from(record_len),
            "record_len {record_len}: {message}"
        );
    }
}

/// Bug 3, fixed (`cli/src/host.rs`, `FluentBitHost::from_bytes`): a module with the
/// `\0asm` header but damaged (cut short, a bad section) is reported as
/// "not a valid WebAssembly module for this host: <wasmtime's reason>"
/// without saying what to do, unlike a missing module or one without the
/// header ("build it with `cargo build ...`"). Issue 6 asks every failure
/// to say what to do.
#[test]
fn a_damaged_module_says_how_to_rebuild_it() {
    let real = std::fs::read(raw::module_path()).unwrap();
    let truncated = &real[..real.len() / 2];
    let error = match FluentBitHost::from_bytes(truncated, "m.wasm", &HostOptions::default()) {
        Ok(_) => panic!("a truncated module loaded"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("not a valid WebAssembly module"), "{error}");
    assert!(error.contains("build it with `cargo build"), "{error}");
}
