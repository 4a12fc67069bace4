//! What every fuzz target checks: the oracle shared with the tests
//! (`tests/oracle/mod.rs`), plus the fast path against the reference.

#[path = "../../tests/oracle/mod.rs"]
pub mod oracle;

/// The CLI's input readers, compiled from the CLI's own source.
#[path = "../../cli/src/input.rs"]
#[allow(dead_code)]
pub mod input;

use twingate_analytics::{Options, Outcome, Profile, Transformer};

pub use oracle::{Input, Kind};

/// Both entry points' options.
pub const OPTIONS: [(Options, bool); 2] = [
    (Options::flatten(), false),
    (Options::flatten().keep(), true),
];

/// Runs `input` through the core and panics (a fuzz finding) when any
/// invariant breaks. Records also go through the reference path, which must
/// give the same outcome and the same bytes, and every input through the
/// schema profiles (`ecs`, `ocsf`), which must agree with `flatten`.
pub fn check_core(fast: &mut Transformer, reference: &mut Transformer, input: Input<'_>) {
    for (options, keep) in OPTIONS {
        let outcome = match input {
            Input::Line(line) => fast.transform_line(line, options),
            Input::Record(record) => fast.transform_record(record, options),
        };
        let kind = Kind::from(&outcome);
        if let Err(why) = oracle::check(input, keep, kind, fast.output())
            .and_then(|()| oracle::check_c_str(kind, fast.output(), fast.output_c_str()))
        {
            panic!(
                "{why}\n  input ({}): {:?}\n  keep: {keep}\n  outcome: {outcome:?}\n  output: {}",
                match input {
                    Input::Line(_) => "line",
                    Input::Record(_) => "record",
                },
                lossy(input),
                String::from_utf8_lossy(fast.output())
            );
        }
        if let Input::Record(record) = input {
            let slow = reference.transform_record_reference(record, options);
            assert!(
                same_outcome(&outcome, &slow) && fast.output() == reference.output(),
                "fast path differs from the reference\n  record: {:?}\n  keep: {keep}\n  fast {outcome:?}: {}\n  reference {slow:?}: {}",
                String::from_utf8_lossy(record),
                String::from_utf8_lossy(fast.output()),
                String::from_utf8_lossy(reference.output())
            );
        }
        check_profiles(reference, input, keep, kind, fast.output());
    }
}

/// The schema profiles on the same input: the same outcome as `flatten`
/// (`kind`, `output`); an error record or a kept record is exactly
/// `flatten`'s; an event is one JSON object with no top-level key twice;
/// the NUL-terminated copy is right.
pub fn check_profiles(
    profiled: &mut Transformer,
    input: Input<'_>,
    keep: bool,
    kind: Kind,
    output: &[u8],
) {
    for profile in [Profile::Ecs, Profile::Ocsf] {
        let options = if keep {
            Options::profile(profile).keep()
        } else {
            Options::profile(profile)
        };
        // A record's profiles take the fast path too, and write their
        // schema's layout in one walk: they must give what the reference
        // (the line decoded first, every leaf sorted and nested) gives,
        // byte for byte.
        let reference = match input {
            Input::Line(_) => None,
            Input::Record(record) => {
                let slow = profiled.transform_record_reference(record, options);
                Some((slow, profiled.output().to_vec()))
            }
        };
        let outcome = match input {
            Input::Line(line) => profiled.transform_line(line, options),
            Input::Record(record) => profiled.transform_record(record, options),
        };
        if let Some((slow, slow_output)) = &reference {
            assert!(
                same_outcome(&outcome, slow) && profiled.output() == slow_output.as_slice(),
                "{profile:?}: fast path differs from the reference\n  input: {:?}\n  fast {outcome:?}: {}\n  reference {slow:?}: {}",
                lossy(input),
                String::from_utf8_lossy(profiled.output()),
                String::from_utf8_lossy(slow_output)
            );
        }
        let got = Kind::from(&outcome);
        let text = profiled.output();
        let checked = if got != kind {
            Err(format!(
                "{profile:?} gives {got:?} where flatten gives {kind:?}"
            ))
        } else {
            match got {
                Kind::Dropped => Ok(()),
                Kind::Error | Kind::Kept if text == output => Ok(()),
                Kind::Error | Kind::Kept => Err(format!(
                    "{profile:?} {got:?} record differs from flatten's: {}",
                    String::from_utf8_lossy(output)
                )),
                Kind::Event => distinct_top_level_keys(text),
            }
        };
        if let Err(why) =
            checked.and_then(|()| oracle::check_c_str(got, text, profiled.output_c_str()))
        {
            panic!(
                "{why}\n  input: {:?}\n  keep: {keep}\n  {profile:?} output: {}",
                lossy(input),
                String::from_utf8_lossy(text)
            );
        }
    }
}

fn distinct_top_level_keys(text: &[u8]) -> Result<(), String> {
    // Grammar and no raw NUL (record fields may nest beyond serde_json's
    // depth limit, so its parse is not required).
    oracle::valid_object(text)?;
    let mut keys = oracle::top_level_keys(text)?;
    keys.sort_unstable();
    match keys.windows(2).find(|pair| pair[0] == pair[1]) {
        Some(pair) => Err(format!("top-level key {:?} written twice", pair[0])),
        None => Ok(()),
    }
}

/// Same outcome, error kinds and offsets included.
pub fn same_outcome(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Error(x), Outcome::Error(y)) => x.kind() == y.kind() && x.offset() == y.offset(),
        _ => a == b,
    }
}

fn lossy(input: Input<'_>) -> String {
    let (Input::Line(bytes) | Input::Record(bytes)) = input;
    String::from_utf8_lossy(bytes).into_owned()
}
