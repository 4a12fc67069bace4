//! The module in the Fluent Bit twin host and the core run natively agree,
//! record by record, on every corpus shape; and the module's memory stays
//! flat over a second pass.
//!
//! Needs the module built (`cargo build --release -p twingate-analytics
//! --target wasm32-unknown-unknown`) and the corpus in `tests/corpus/`.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use twingate_analytics::Options;
use twingate_cli::Verdict;
use twingate_cli::filter::{ENTRY_POINTS, Filter, ModuleFilter, NativeFilter, native_options};
use twingate_cli::host::{AppHeap, BUILD_HINT, FluentBitHost, HostOptions};
use twingate_cli::input::{RecordReader, Shape};

const CORPUS: [(&str, Shape); 5] = [
    ("connector.log", Shape::Lines),
    ("syslog.log", Shape::Lines),
    ("docker.log", Shape::Docker),
    ("cri.log", Shape::Cri),
    ("journal.ndjson", Shape::Journal),
];

const TAG: &str = "twingate.connector";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn module(heap_size: u64, function: &str) -> ModuleFilter {
    let path = workspace().join("target/wasm32-unknown-unknown/release/twingate_analytics.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build it with `{BUILD_HINT}`",
        path.display()
    );
    let options = HostOptions {
        function: function.to_owned(),
        heap_size,
        ..HostOptions::default()
    };
    match FluentBitHost::from_file(&path, &options) {
        Ok(host) => ModuleFilter::new(host, TAG),
        Err(error) => panic!("{error}"),
    }
}

/// Every verdict and output of `filter` over a corpus file.
fn run(filter: &mut dyn Filter, name: &str, shape: Shape) -> Vec<(Verdict, Vec<u8>, usize)> {
    let path = workspace().join("tests/corpus").join(name);
    let file = File::open(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut reader = RecordReader::new(BufReader::new(file), shape, true).expect("readable corpus");
    assert_eq!(reader.shape(), shape, "{name} is detected as {shape}");
    let mut results = Vec::new();
    let mut json = Vec::new();
    while let Some(record) = reader.next_record().expect("readable corpus") {
        record.write_json(&mut json);
        let verdict = filter.filter(record);
        results.push((verdict, filter.output().to_vec(), json.len()));
    }
    results
}

fn reader_shape(name: &str) -> Shape {
    let path = workspace().join("tests/corpus").join(name);
    let file = File::open(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    RecordReader::new(BufReader::new(file), Shape::Auto, true)
        .expect("readable corpus")
        .shape()
}

#[test]
fn shapes_are_detected() {
    for (name, shape) in CORPUS {
        assert_eq!(reader_shape(name), shape, "{name}");
    }
}

#[test]
fn module_and_native_agree_with_a_big_heap() {
    // Every entry point: flatten and the ecs and ocsf profiles, with keep.
    for function in ENTRY_POINTS {
        let options = native_options(function).expect("a native entry point");
        for (name, shape) in CORPUS {
            let native = run(&mut NativeFilter::new(options), name, shape);
            let module = run(&mut module(4 << 20, function), name, shape);
            assert_eq!(native.len(), module.len(), "{name}");
            for (index, (native, module)) in native.iter().zip(&module).enumerate() {
                assert_eq!(
                    native.0,
                    module.0,
                    "{name} record {}: verdict ({function})",
                    index + 1
                );
                assert_eq!(
                    native.1,
                    module.1,
                    "{name} record {}: output ({function})",
                    index + 1
                );
            }
        }
    }
}

#[test]
fn with_the_default_heap_only_records_over_8k_differ() {
    for (name, shape) in CORPUS {
        let native = run(&mut NativeFilter::new(Options::flatten()), name, shape);
        let module = run(&mut module(8192, "twingate_flatten"), name, shape);
        for (index, (native, module)) in native.iter().zip(&module).enumerate() {
            let record_len = module.2;
            let heap = AppHeap {
                offset: 0,
                size: 8192,
            };
            if heap
                .copies(TAG.len() as u64, record_len as u64)
                .record
                .is_some()
            {
                assert_eq!(native.0, module.0, "{name} record {}", index + 1);
                assert_eq!(native.1, module.1, "{name} record {}", index + 1);
            } else {
                assert_eq!(
                    module.0,
                    Verdict::ErrorRecord,
                    "{name} record {} ({record_len} bytes)",
                    index + 1
                );
            }
        }
    }
}

#[test]
fn memory_stays_flat_over_a_second_pass() {
    let mut filter = module(8192, "twingate_flatten");
    run(&mut filter, "docker.log", Shape::Docker);
    let warm = filter.host().memory_bytes();
    run(&mut filter, "docker.log", Shape::Docker);
    run(&mut filter, "cri.log", Shape::Cri);
    assert_eq!(filter.host().memory_bytes(), warm);
}
