//! Stack (issue 6, item 4): the module must pass every hostile input with a
//! small wasm stack. Fluent Bit's WAMR interpreter gives it 8 KiB
//! (`wasm_stack_size`); wasmtime's compiled frames are not WAMR's, so the
//! figure here is wasmtime's `max_wasm_stack`: the smallest with which every
//! hostile input (`raw::hostile_records`) gets its answer, measured and
//! recorded in RELIABILITY.md, and enforced as a budget.

mod raw;

use raw::{Driver, Raw, hostile_records};
use twingate_analytics::{Options, Profile, Transformer};

/// The budget: the measured minimum (see RELIABILITY.md), rounded up to
/// the next KiB. A change that needs more stack fails here.
const STACK_BUDGET: usize = 4 * 1024;

const TAG: &[u8] = b"twingate.connector";

const FLATTEN: [(&str, Options); 2] = [
    ("twingate_flatten", Options::flatten()),
    ("twingate_flatten_keep", Options::flatten().keep()),
];

/// The profiles' entry points (the same parse, then the mapping).
const PROFILES: [(&str, Options); 2] = [
    ("twingate_ecs", Options::profile(Profile::Ecs)),
    ("twingate_ocsf_keep", Options::profile(Profile::Ocsf).keep()),
];

/// Runs every hostile record with `stack` bytes of wasm stack through both
/// flatten entry points; the first record that traps, or whose answer
/// differs from the native core's, is the error.
fn passes_with(stack: usize, records: &[(String, Vec<u8>)]) -> Result<(), String> {
    passes_through(&FLATTEN, stack, records)
}

fn passes_through(
    entries: &[(&str, Options)],
    stack: usize,
    records: &[(String, Vec<u8>)],
) -> Result<(), String> {
    for &(function, options) in entries {
        let mut driver = Driver::new(function, Some(stack));
        let mut native = Transformer::new();
        for (name, record) in records {
            native.transform_record(record, options);
            let want = match native.output_c_str() {
                None => Raw::Dropped,
                Some(text) => Raw::Text(text[..text.len() - 1].to_vec(), 0),
            };
            let got = match driver.call_record(TAG, record) {
                Raw::Text(text, _) => Raw::Text(text, 0),
                other => other,
            };
            if got != want {
                let got = match got {
                    Raw::Lost(why) => why,
                    other => format!("{:.200}", format!("{other:?}")),
                };
                return Err(format!("{function}, {name}: {got}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_hostile_input_passes_within_the_stack_budget() {
    let records = hostile_records();
    if let Err(why) = passes_with(STACK_BUDGET, &records) {
        panic!("with max_wasm_stack = {STACK_BUDGET}: {why}");
    }
}

#[test]
fn the_profiles_pass_every_hostile_input_within_the_stack_budget() {
    let records = hostile_records();
    if let Err(why) = passes_through(&PROFILES, STACK_BUDGET, &records) {
        panic!("with max_wasm_stack = {STACK_BUDGET}: {why}");
    }
}

/// The smallest stack that passes, by bisection (to 256 bytes), and the
/// proof that the setting is in force: far below it, the module traps
/// (wasmtime reports stack exhaustion), so the budget test can fail.
#[test]
fn the_smallest_passing_stack_is_within_the_budget() {
    // The deep ones: size does not take stack, nesting might.
    let records: Vec<(String, Vec<u8>)> = hostile_records()
        .into_iter()
        .filter(|(name, record)| {
            name.contains("deep") || name.contains("nesting") || record.len() < 100_000
        })
        .collect();
    let (mut low, mut high) = (0usize, STACK_BUDGET.max(64 * 1024));
    assert!(passes_with(high, &records).is_ok());
    while high - low > 256 {
        let middle = (low + high) / 2;
        if passes_with(middle, &records).is_ok() {
            high = middle;
        } else {
            low = middle;
        }
    }
    println!("smallest passing max_wasm_stack: {high} bytes (fails at {low})");
    assert!(
        high <= STACK_BUDGET,
        "the module now needs {high} bytes of wasm stack; the budget is {STACK_BUDGET} (RELIABILITY.md)"
    );
    let starved = passes_with(low, &records).expect_err("the bisection's lower bound fails");
    println!("at {low} bytes: {starved}");
    assert!(starved.contains("trap"), "{starved}");
}
