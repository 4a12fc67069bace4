//! "ABI fuzz" (issue 6, item 1): the ABI door runs only inside wasm, so
//! libFuzzer cannot drive it; this deterministic test does, through the
//! twin host (random records at 8 KiB and 4 MiB heaps, so `record_ptr = 0`
//! too) and through wasmtime directly (`raw`) for what no correct host
//! does: `record_ptr = 0` with any length, lengths that disagree with the
//! NUL, pointers at or past the end of memory, a missing tag, empty input.
//! Every answer: no trap, one NUL-terminated JSON object or 0, the outcome
//! the module reports matching it, and the same bytes as the native core.

#[path = "../../tests/oracle/mod.rs"]
mod oracle;
mod raw;
#[path = "../../tests/support/mod.rs"]
mod support;

use oracle::{Input, Kind};
use raw::{Driver, Raw};
use twingate_analytics::{Options, Profile, Transformer};
use twingate_cli::Verdict;
use twingate_cli::host::{EventTime, FluentBitHost, HostOptions};

const TAG: &[u8] = b"twingate.connector";
const FUNCTIONS: [(&str, bool); 2] = [("twingate_flatten", false), ("twingate_flatten_keep", true)];
/// Every export, for the random records: the profiles share the door.
const EXPORTS: [(&str, Profile, bool); 6] = [
    ("twingate_flatten", Profile::Flatten, false),
    ("twingate_flatten_keep", Profile::Flatten, true),
    ("twingate_ecs", Profile::Ecs, false),
    ("twingate_ecs_keep", Profile::Ecs, true),
    ("twingate_ocsf", Profile::Ocsf, false),
    ("twingate_ocsf_keep", Profile::Ocsf, true),
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: [&[u8]; 16] = [
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\\\\",
    b"{",
    b"[",
    b"}",
    b"\"",
    b"\xFF",
    b"\xC3",
    b"ANALYTICS ",
    b"\\r\\n",
    b"\r\n",
    b"\0",
    b"\\t",
    b"{\\\"a\\\":",
];

/// A corpus record, changed a few random ways.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut record = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(record.len() + 1);
        match rng.below(5) {
            0 => record.truncate(at),
            1 if at < record.len() => record[at] = rng.next() as u8,
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                record.splice(at..at, token.iter().copied());
            }
            3 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                record.splice(at.., other[from..].iter().copied());
            }
            _ if at < record.len() => {
                let end = (at + 1 + rng.below(64)).min(record.len());
                record.drain(at..end);
            }
            _ => {}
        }
    }
    record
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = support::all_cases()
        .into_iter()
        .step_by(7)
        .filter(|case| case.record.len() < 20_000)
        .map(|case| case.record.into_bytes())
        .collect();
    seeds.extend(
        raw::hostile_records()
            .into_iter()
            .filter(|(_, record)| record.len() < 20_000)
            .map(|(_, record)| record),
    );
    seeds
}

/// The native core's answer: kind and output.
fn native(record: &[u8], profile: Profile, keep: bool) -> (Kind, Vec<u8>) {
    let mut transformer = Transformer::new();
    let options = if keep {
        Options::profile(profile).keep()
    } else {
        Options::profile(profile)
    };
    let outcome = transformer.transform_record(record, options);
    (Kind::from(&outcome), transformer.output().to_vec())
}

fn reported(outcome: i32) -> Kind {
    match outcome {
        1 => Kind::Event,
        3 => Kind::Kept,
        4 => Kind::Error,
        other => panic!("twingate_last_outcome() = {other} with a result"),
    }
}

/// Random records through the twin host, as Fluent Bit calls the module,
/// through every export.
#[test]
fn random_records_through_the_twin_host() {
    let seeds = seeds();
    let mut rng = Rng(0x7E57_AB1F_0000_0006);
    let mut hosts: Vec<(FluentBitHost, Profile, bool, u64)> = Vec::new();
    for (function, profile, keep) in EXPORTS {
        for heap_size in [8192, 4 << 20] {
            let options = HostOptions {
                function: function.to_owned(),
                heap_size,
                ..HostOptions::default()
            };
            let host = FluentBitHost::from_file(&raw::module_path(), &options).unwrap();
            hosts.push((host, profile, keep, heap_size));
        }
    }
    let mut kinds = [0usize; 4];
    for round in 0..8_000 {
        let record = mutate(&mut rng, &seeds);
        for (host, profile, keep, heap_size) in &mut hosts {
            let verdict = host.call(TAG, EventTime::default(), &record);
            let kind = match &verdict {
                Verdict::Event => Kind::Event,
                Verdict::Dropped => Kind::Dropped,
                Verdict::Kept => Kind::Kept,
                Verdict::ErrorRecord => Kind::Error,
                other => panic!(
                    "round {round}, heap {heap_size}: {other:?} for {:?}",
                    String::from_utf8_lossy(&record)
                ),
            };
            kinds[kind as usize] += 1;
            if host.last_copies().record.is_none() {
                // Did not fit: the heap error record.
                assert_eq!(kind, Kind::Error);
                let text = String::from_utf8_lossy(host.output());
                assert!(text.contains("wasm_heap_size"), "{text}");
                continue;
            }
            let (want_kind, want) = native(&record, *profile, *keep);
            assert_eq!(
                (kind, host.output()),
                (want_kind, &want[..]),
                "round {round}, {profile:?}: module vs native"
            );
            // The contract's oracle knows flatten's fields; the profiles'
            // events are held to the native core's (fuzzed in fuzz/).
            if *profile != Profile::Flatten {
                continue;
            }
            if let Err(why) = oracle::check(Input::Record(&record), *keep, kind, host.output()) {
                panic!(
                    "round {round}: {why}\n  record: {:?}",
                    String::from_utf8_lossy(&record)
                );
            }
        }
    }
    // The mutations reach every outcome.
    assert!(kinds.iter().all(|&n| n > 100), "{kinds:?}");
}

/// Checks one raw answer: no trap, a JSON object or 0, the reported outcome
/// agreeing with it.
fn raw_answer(answer: Raw, keep: bool) -> (Kind, Vec<u8>) {
    match answer {
        Raw::Lost(why) => panic!("lost: {why}"),
        Raw::Dropped => {
            assert!(!keep, "the keep entry point returned 0");
            (Kind::Dropped, Vec::new())
        }
        Raw::Text(text, outcome) => {
            if let Err(why) = oracle::valid_object(&text) {
                panic!("{why}: {}", String::from_utf8_lossy(&text));
            }
            (reported(outcome), text)
        }
    }
}

fn heap_error(text: &[u8], record_len: u64) {
    let fields = oracle::valid_object(text).unwrap().unwrap();
    let message = fields[oracle::PARSE_ERROR].as_str().unwrap();
    assert!(message.contains("wasm_heap_size"), "{message}");
    assert!(
        message.contains(&format!("({record_len} bytes")),
        "{message}"
    );
}

#[test]
fn record_ptr_zero_with_any_length_and_any_tag() {
    for (function, keep) in FUNCTIONS {
        let mut driver = Driver::new(function, None);
        let (tag_at, _) = driver.put(TAG, b"{}");
        for record_len in [0u32, 1, 8155, 8156, 1 << 20, i32::MAX as u32, u32::MAX] {
            // The module may grow its memory on any call: measure each time.
            for case in 0..6 {
                let end = driver.memory_size() as u32;
                let (tag_ptr, tag_len) = [
                    (tag_at as u32, TAG.len() as u32),
                    (0, 0),
                    (0, 18),
                    (end, 5),
                    (end - 2, 5),
                    (u32::MAX, u32::MAX),
                ][case];
                let (kind, text) = raw_answer(driver.call(tag_ptr, tag_len, 0, record_len), keep);
                assert_eq!(kind, Kind::Error);
                heap_error(&text, u64::from(record_len));
                let fields = oracle::valid_object(&text).unwrap().unwrap();
                let tagged = tag_ptr == tag_at as u32;
                assert_eq!(
                    fields.get("twingate.tag").is_some(),
                    tagged,
                    "{}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
}

#[test]
fn lengths_that_disagree_with_the_nul() {
    let seeds = seeds();
    let mut rng = Rng(0xAB1_0000_0000_0002);
    for (function, keep) in FUNCTIONS {
        let mut driver = Driver::new(function, None);
        for _ in 0..3_000 {
            let record = &seeds[rng.below(seeds.len())];
            let (tag_at, record_at) = driver.put(TAG, record);
            // Shorter than the copy (cut anywhere), longer (the NUL and
            // what follows it), zero.
            let len = match rng.below(4) {
                0 => rng.below(record.len() + 1),
                1 => record.len() + 1 + rng.below(32),
                2 => 0,
                _ => record.len(),
            };
            let (kind, text) = raw_answer(
                driver.call(
                    tag_at as u32,
                    TAG.len() as u32,
                    record_at as u32,
                    len as u32,
                ),
                keep,
            );
            let memory_bytes = {
                let mut copy = record.clone();
                copy.push(0);
                copy.resize(len.max(copy.len()), 0);
                copy
            };
            // What the module read is exactly `len` bytes from the copy;
            // past the NUL it reads whatever the scratch held (zeros or an
            // earlier copy): compare with the native core only when known.
            if len <= record.len() + 1 || len <= memory_bytes.len() {
                let seen = driver_bytes(&mut driver, record_at, len);
                let (want_kind, want) = native(&seen, Profile::Flatten, keep);
                assert_eq!(
                    (kind, &text),
                    (want_kind, &want),
                    "len {len} of {}",
                    record.len()
                );
            }
        }
    }
}

fn driver_bytes(driver: &mut Driver, at: usize, len: usize) -> Vec<u8> {
    // Read back through a call-free path: write nothing, just copy out.
    let mut out = vec![0u8; len];
    driver.read(at, &mut out);
    out
}

#[test]
fn pointers_at_and_past_the_end_of_memory() {
    for (function, keep) in FUNCTIONS {
        let mut driver = Driver::new(function, None);
        let record = br#"{"log":"ANALYTICS {\"a\":1}"}"#;
        // The record ends exactly at the end of memory, with no NUL after
        // (the module may grow its memory on any call: measure each time).
        for _ in 0..3 {
            let at = driver.memory_size() - record.len();
            driver.write(at, record);
            let (kind, text) = raw_answer(driver.call(0, 0, at as u32, record.len() as u32), keep);
            assert_eq!((kind, text.as_slice()), (Kind::Event, &br#"{"a":1}"#[..]));
        }
        // One byte too long, far too long, past the end, wrapping around.
        for case in 0..6 {
            let size = driver.memory_size();
            let at = size - record.len();
            driver.write(at, record);
            let (ptr, len) = [
                (at, record.len() + 1),
                (at, u32::MAX as usize),
                (size, 1),
                (size + 4096, 10),
                (u32::MAX as usize, 2),
                (u32::MAX as usize - 3, 8),
            ][case];
            let (kind, text) = raw_answer(driver.call(0, 0, ptr as u32, len as u32), keep);
            assert_eq!(kind, Kind::Error, "ptr {ptr:#x} len {len}");
            heap_error(&text, len as u64);
        }
        // And the module still answers ordinary calls right after.
        let (kind, _) = raw_answer(driver.call_record(TAG, record), keep);
        assert_eq!(kind, Kind::Event);
    }
}

#[test]
fn empty_input() {
    for (function, keep) in FUNCTIONS {
        let mut driver = Driver::new(function, None);
        let (tag_at, record_at) = driver.put(b"", b"");
        for (tag_ptr, record_ptr) in [(tag_at, record_at), (0, record_at)] {
            let (kind, text) =
                raw_answer(driver.call(tag_ptr as u32, 0, record_ptr as u32, 0), keep);
            // An empty record is not a JSON object: an error record.
            assert_eq!(kind, Kind::Error);
            let fields = oracle::valid_object(&text).unwrap().unwrap();
            assert_eq!(fields["twingate.record"], "");
        }
    }
}

/// Found by fuzzing, fixed in 3cd001d: the keep entry point answered a
/// record whose key holds invalid UTF-8 with that record byte for byte.
#[test]
fn keep_answers_a_record_with_an_invalid_utf8_key_with_valid_json() {
    let options = HostOptions {
        function: "twingate_flatten_keep".into(),
        ..HostOptions::default()
    };
    let mut host = FluentBitHost::from_file(&raw::module_path(), &options).unwrap();
    let record = b"{\"log\":\"hello\",\"k\xFFy\":1}";
    let verdict = host.call(TAG, EventTime::default(), record);
    assert_eq!(verdict, Verdict::Kept);
    let text = std::str::from_utf8(host.output()).expect("UTF-8");
    assert!(text.contains("\"k\u{FFFD}y\":1"), "{text}");
}
