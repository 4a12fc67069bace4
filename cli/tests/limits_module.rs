//! The limits of issue 6 through the module in the twin host, with a heap
//! big enough for all of them (64 MiB): every hostile record gets the same
//! answer, byte for byte, as the native core (whose answers
//! `tests/limits.rs` checks against the contract), none is lost, and the
//! kinds are the contract's.

#[path = "../../tests/oracle/mod.rs"]
mod oracle;
mod raw;

use oracle::Kind;
use twingate_analytics::{Options, Transformer};
use twingate_cli::Verdict;
use twingate_cli::host::{EventTime, FLUENT_BIT_MAX_DEPTH, FluentBitHost, HostOptions};

#[test]
fn every_hostile_record_through_the_module_with_a_big_heap() {
    for (function, options) in [
        ("twingate_flatten", Options::flatten()),
        ("twingate_flatten_keep", Options::flatten().keep()),
    ] {
        let host_options = HostOptions {
            function: function.into(),
            heap_size: 64 << 20,
            ..HostOptions::default()
        };
        let mut host = FluentBitHost::from_file(&raw::module_path(), &host_options).unwrap();
        let mut native = Transformer::new();
        for (name, record) in raw::hostile_records() {
            let verdict = host.call(b"twingate.connector", EventTime::default(), &record);
            assert!(
                host.last_copies().record.is_some(),
                "{name}: did not fit in 64 MiB"
            );
            // A record whose own fields nest deeper than Fluent Bit keeps
            // could not come from Fluent Bit, nor go back: the twin host
            // loses it as the real one would. (What the module writes from
            // the payload never nests that deep.)
            if let Verdict::Lost(why) = &verdict
                && oracle::bracket_depth(&record) > FLUENT_BIT_MAX_DEPTH
            {
                assert!(why.contains("levels deep"), "{function}, {name}: {why}");
                native.transform_record(&record, options);
                assert!(
                    oracle::bracket_depth(native.output()) > FLUENT_BIT_MAX_DEPTH,
                    "{function}, {name}: the core's answer is not that deep"
                );
                continue;
            }
            let kind = match verdict {
                Verdict::Event => Kind::Event,
                Verdict::Dropped => Kind::Dropped,
                Verdict::Kept => Kind::Kept,
                Verdict::ErrorRecord => Kind::Error,
                other => panic!("{function}, {name}: {other:?}"),
            };
            let outcome = native.transform_record(&record, options);
            assert_eq!(kind, Kind::from(&outcome), "{function}, {name}");
            assert!(
                host.output() == native.output(),
                "{function}, {name}: module and core differ"
            );
            let expected = match name.as_str() {
                "nesting 65"
                | "3000 objects deep"
                | "5000 arrays deep"
                | "1,000,000 arrays open"
                | "record field 513 deep"
                | "record field 100,000 deep"
                | "record field 100,000 deep, repaired"
                | "raw control character"
                | "Docker line cut at 16 KiB" => Some(Kind::Error),
                n if n.starts_with("record ") && !n.starts_with("record field") => {
                    Some(Kind::Error)
                }
                n if n.starts_with("whitespace")
                    || n.starts_with("line key null")
                    || n.starts_with("line key an object")
                    || n.starts_with("service record") =>
                {
                    None
                }
                _ => Some(Kind::Event),
            };
            match expected {
                Some(want) => assert_eq!(kind, want, "{function}, {name}"),
                None => assert_eq!(
                    kind,
                    if function.ends_with("keep") {
                        Kind::Kept
                    } else {
                        Kind::Dropped
                    },
                    "{name}"
                ),
            }
        }
    }
}
