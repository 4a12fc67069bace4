//! Memory (issue 6, item 5), bounded for the test suite: 2,000,000 calls of
//! mixed records (events, service lines, broken lines, hostile records,
//! heap overflows at 8 KiB: `record_ptr = 0`) through both entry points;
//! the module's memory must not grow after the warm-up. The 10,000,000-call
//! run is manual (RELIABILITY.md): `TWINGATE_MEMORY_CALLS=10000000`.

#[path = "../../tests/oracle/mod.rs"]
mod oracle;
mod raw;
#[path = "../../tests/support/mod.rs"]
mod support;

use twingate_cli::Verdict;
use twingate_cli::host::{EventTime, FLUENT_BIT_MAX_DEPTH, FluentBitHost, HostOptions};

const TAG: &[u8] = b"twingate.connector";

fn calls() -> usize {
    std::env::var("TWINGATE_MEMORY_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000_000)
}

#[test]
fn memory_stays_flat_over_two_million_mixed_calls() {
    let cases = support::all_cases();
    let mut records: Vec<Vec<u8>> = cases
        .iter()
        .step_by(3)
        .map(|c| c.record.clone().into_bytes())
        .collect();
    records.extend(
        raw::hostile_records()
            .into_iter()
            // Records Fluent Bit can hand over: not nested deeper than it
            // keeps (the twin host, like Fluent Bit, loses deeper answers).
            .filter(|(_, record)| {
                record.len() < 300_000 && oracle::bracket_depth(record) <= FLUENT_BIT_MAX_DEPTH
            })
            .map(|(_, record)| record),
    );
    // The largest first: they set the buffers' high-water mark.
    let mut largest = records.clone();
    largest.sort_by_key(|r| std::cmp::Reverse(r.len()));
    records.splice(0..0, largest.into_iter().take(30));
    let mut hosts: Vec<FluentBitHost> = [
        ("twingate_flatten", 8192),
        ("twingate_flatten_keep", 8192),
        ("twingate_flatten", 1 << 20),
    ]
    .into_iter()
    .map(|(function, heap_size)| {
        let options = HostOptions {
            function: function.into(),
            heap_size,
            ..HostOptions::default()
        };
        FluentBitHost::from_file(&raw::module_path(), &options).unwrap()
    })
    .collect();
    let total = calls();
    let (mut done, mut overflows, mut errors) = (0usize, 0usize, 0usize);
    let mut after_warm_up: Vec<u64> = Vec::new();
    'outer: loop {
        for record in &records {
            for host in &mut hosts {
                let verdict = host.call(TAG, EventTime::default(), record);
                assert!(
                    verdict.has_output() || verdict == Verdict::Dropped,
                    "{verdict:?}"
                );
                overflows += usize::from(host.last_copies().record.is_none());
                errors += usize::from(verdict == Verdict::ErrorRecord);
                done += 1;
            }
            if after_warm_up.is_empty() && done >= 3 * records.len() {
                after_warm_up = hosts.iter().map(FluentBitHost::memory_bytes).collect();
            }
            if done >= total {
                break 'outer;
            }
        }
    }
    let now: Vec<u64> = hosts.iter().map(FluentBitHost::memory_bytes).collect();
    assert_eq!(
        now, after_warm_up,
        "memory grew after the warm-up ({done} calls)"
    );
    assert!(
        overflows > 1000 && errors > 10_000,
        "the mix holds heap overflows ({overflows}) and errors ({errors})"
    );
}
