//! The shipped module, run exactly as Fluent Bit runs it (the twin host),
//! held to the same contract table as the core (`tests/support`), plus the
//! facts of the ABI: no imports, both exports, `record_ptr = 0`, flat memory.
//!
//! Needs the module built: `cargo build --release -p twingate-analytics
//! --target wasm32-unknown-unknown`.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;

use support::{Answer, Case, all_cases, assert_conforms, check, contract_answer, parse_output};
use twingate_cli::Verdict;
use twingate_cli::host::{BUILD_HINT, EventTime, FluentBitHost, HostOptions};

const TAG: &[u8] = b"twingate.connector";
const FLATTEN: &str = "twingate_flatten";
const KEEP: &str = "twingate_flatten_keep";

fn module_path() -> PathBuf {
    let path =
        support::repo_root().join("target/wasm32-unknown-unknown/release/twingate_analytics.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build it with `{BUILD_HINT}`",
        path.display()
    );
    path
}

fn host(function: &str, heap_size: u64) -> FluentBitHost {
    let options = HostOptions {
        function: function.to_owned(),
        heap_size,
        ..HostOptions::default()
    };
    FluentBitHost::from_file(&module_path(), &options).unwrap_or_else(|e| panic!("{e}"))
}

fn answer(host: &mut FluentBitHost, record: &[u8]) -> Answer {
    let verdict = host.call(TAG, EventTime::default(), record);
    let text = String::from_utf8_lossy(host.output()).into_owned();
    match verdict {
        Verdict::Event => Answer::Event(text),
        Verdict::Dropped => Answer::Dropped,
        Verdict::Kept => Answer::Kept(text),
        Verdict::ErrorRecord => Answer::Error(text),
        Verdict::Skipped => Answer::Lost("empty string returned (Fluent Bit skips it)".into()),
        Verdict::Lost(why) => Answer::Lost(why),
    }
}

/// The largest record that fits in the heap with our tag (WAMR's allocator:
/// 8-aligned blocks with a 4-byte header, pool 4 bytes short of the heap).
fn fits(heap_size: u64, record_len: usize) -> bool {
    let block = |n: u64| (n + 1 + 4).div_ceil(8) * 8;
    block(TAG.len() as u64) + block(record_len as u64) <= (heap_size - 4) & !7
}

fn is_heap_error(answer: &Answer) -> bool {
    let Answer::Error(text) = answer else {
        return false;
    };
    let Ok(fields) = parse_output(text) else {
        return false;
    };
    fields
        .get("twingate.parse_error")
        .and_then(|m| m.as_str())
        .is_some_and(|m| m.contains("wasm_heap_size") && m.contains("at least"))
}

fn conforms_at(heap_size: u64, function: &str, keep: bool) {
    let mut host = host(function, heap_size);
    let cases = all_cases();
    let mut too_big = 0;
    assert_conforms(
        &format!("module, heap {heap_size}, {function}"),
        keep,
        &cases,
        |case: &Case| {
            let answer = answer(&mut host, case.record.as_bytes());
            if fits(heap_size, case.record.len()) {
                answer
            } else {
                // Fluent Bit could not copy it in: the heap error record is the
                // contract here, whatever the line holds.
                too_big += 1;
                assert!(
                    is_heap_error(&answer),
                    "record of {} bytes: {answer:?}",
                    case.record.len()
                );
                contract_answer(case, keep)
            }
        },
    );
    if heap_size == 8192 {
        assert!(too_big > 0, "the corpus holds records bigger than 8 KiB");
    } else {
        assert_eq!(too_big, 0);
    }
}

#[test]
fn every_record_conforms_with_fluent_bits_default_8k_heap() {
    conforms_at(8192, FLATTEN, false);
}

#[test]
fn every_record_conforms_with_a_4m_heap() {
    conforms_at(4 << 20, FLATTEN, false);
}

#[test]
fn keep_conforms_with_both_heaps() {
    conforms_at(8192, KEEP, true);
    conforms_at(4 << 20, KEEP, true);
}

#[test]
fn the_module_imports_nothing_and_exports_every_filter() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::from_file(&engine, module_path()).unwrap();
    let imports: Vec<String> = module
        .imports()
        .map(|i| format!("{}::{}", i.module(), i.name()))
        .collect();
    assert_eq!(
        imports,
        Vec::<String>::new(),
        "a Fluent Bit module must import nothing"
    );
    let profiles = [
        "twingate_ecs",
        "twingate_ecs_keep",
        "twingate_ocsf",
        "twingate_ocsf_keep",
    ];
    for name in [FLATTEN, KEEP].into_iter().chain(profiles) {
        let export = module
            .get_export(name)
            .unwrap_or_else(|| panic!("{name} is exported"));
        let func = export
            .func()
            .unwrap_or_else(|| panic!("{name} is a function"));
        let params: Vec<String> = func.params().map(|t| t.to_string()).collect();
        let results: Vec<String> = func.results().map(|t| t.to_string()).collect();
        assert_eq!(
            params, ["i32"; 6],
            "{name}(tag_ptr, tag_len, time_sec, time_nsec, record_ptr, record_len)"
        );
        assert_eq!(results, ["i32"], "{name} returns a pointer");
    }
    assert!(
        module
            .get_export("memory")
            .is_some_and(|e| e.memory().is_some())
    );
}

/// Every `Function_Name` in the example Fluent Bit configurations is an
/// export of the module with Fluent Bit's signature.
#[test]
fn the_example_configs_name_real_exports() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::from_file(&engine, module_path()).unwrap();
    let dir = support::repo_root().join("examples/fluent-bit");
    let mut named = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let lower = line.to_ascii_lowercase();
            let Some(rest) = lower
                .strip_prefix("function_name:")
                .or_else(|| lower.strip_prefix("function_name "))
            else {
                continue;
            };
            let name = rest.split('#').next().unwrap().trim();
            let func = module.get_export(name).and_then(|e| e.func().cloned());
            assert!(
                func.is_some_and(|f| f.params().len() == 6 && f.results().len() == 1),
                "{}: Function_Name {name} is not an export of the module",
                path.display()
            );
            named += 1;
        }
    }
    assert!(named >= 10, "only {named} Function_Name lines found");
}

#[test]
fn the_module_is_small() {
    let size = std::fs::metadata(module_path()).unwrap().len();
    assert!(
        size <= 96 * 1024,
        "the module is {size} bytes; the budget is 96 KiB"
    );
}

#[test]
fn a_record_too_big_for_the_heap_gets_an_error_record_naming_the_size_needed() {
    let mut host = host(FLATTEN, 8192);
    let line = format!("ANALYTICS {{\"pad\":\"{}\"}}", "x".repeat(10_000));
    let record = serde_json::to_string(&serde_json::json!({ "log": line })).unwrap();
    let answer = answer(&mut host, record.as_bytes());
    let Answer::Error(text) = &answer else {
        panic!("{answer:?}")
    };
    let fields = parse_output(text).unwrap();
    let message = fields["twingate.parse_error"].as_str().unwrap();
    let size = record.len().to_string();
    assert!(message.contains(&size), "{message}");
    assert!(
        message.contains("wasm_heap_size") && message.contains("at least 10K"),
        "{message}"
    );
    assert_eq!(fields["twingate.tag"], "twingate.connector");
    // 10K really is enough.
    let mut bigger = self::host(FLATTEN, 10 << 10);
    assert!(matches!(answer_of(&mut bigger, &record), Answer::Event(_)));
}

fn answer_of(host: &mut FluentBitHost, record: &str) -> Answer {
    answer(host, record.as_bytes())
}

/// The module's buffers grow to the largest record seen and then never
/// again: the warm-up (the first 1,000 calls) starts with the corpus's 20
/// largest records, which set that high-water mark.
#[test]
fn memory_stays_flat_over_a_million_calls() {
    let mut host = host(FLATTEN, 4 << 20);
    let cases = all_cases();
    let mut records: Vec<&[u8]> = cases.iter().map(|c| c.record.as_bytes()).collect();
    let mut largest = records.clone();
    largest.sort_by_key(|r| std::cmp::Reverse(r.len()));
    records.splice(0..0, largest.into_iter().take(20));
    let mut calls = 0usize;
    let mut after_warm_up = 0;
    while calls < 1_000_000 {
        for record in &records {
            let answer = answer(&mut host, record);
            assert!(!matches!(answer, Answer::Lost(_)), "{answer:?}");
            calls += 1;
            if calls == 1_000 {
                after_warm_up = host.memory_bytes();
            }
        }
    }
    assert_eq!(
        host.memory_bytes(),
        after_warm_up,
        "memory grew after the first 1,000 calls"
    );
    // And the answers are still right after all of them.
    for case in cases.iter().take(200) {
        check(case, false, &answer(&mut host, case.record.as_bytes())).unwrap();
    }
}
