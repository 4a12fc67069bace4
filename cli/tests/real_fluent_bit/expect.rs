//! What Fluent Bit must write for each record, and the checks of what it
//! wrote: record by record against the corpus's expected outcomes (the
//! `flatten` events against the corpus's fields, the `ecs` and `ocsf` events
//! against the native core), and Fluent Bit's own counters.

use std::fmt::Write as _;

use serde_json::Value;
use twingate_analytics::{Options, Outcome, Profile, Transformer};

use crate::fluent_bit::Metrics;
use crate::support::{Answer, Case, Expected, check, json_eq, parse_output};

/// Fluent Bit's default `wasm_heap_size`; smaller values are ignored.
pub const DEFAULT_HEAP: u64 = 8 * 1024;

/// The six entry points of the module, by `Function_Name`.
pub use twingate_cli::filter::ENTRY_POINTS;

/// How the wasm filter is set up: which entry point, which heap.
#[derive(Clone, Copy, Debug)]
pub struct Filter {
    pub profile: Profile,
    pub keep: bool,
    /// `wasm_heap_size` in bytes.
    pub heap: u64,
}

impl Filter {
    pub fn new(function: &str, heap: u64) -> Filter {
        let (name, keep) = match function.strip_suffix("_keep") {
            Some(name) => (name, true),
            None => (function, false),
        };
        let profile = name
            .strip_prefix("twingate_")
            .and_then(Profile::from_name)
            .unwrap_or_else(|| panic!("{function} is not an entry point of the module"));
        Filter {
            profile,
            keep,
            heap: heap.max(DEFAULT_HEAP),
        }
    }

    fn options(&self) -> Options {
        let options = Options::profile(self.profile);
        if self.keep { options.keep() } else { options }
    }
}

/// One record an output must hold.
#[derive(Clone, Debug)]
pub enum Want {
    /// The contract's answer for this record.
    Answer(Case, Kind),
    /// The record did not fit in the module's heap (`record_ptr == 0`): the
    /// heap error record, naming the record's size as Fluent Bit rendered it.
    HeapError { tag: String, record_len: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Event,
    Error,
    Kept,
}

impl Want {
    pub fn kind(&self) -> Kind {
        match self {
            Want::Answer(_, kind) => *kind,
            Want::HeapError { .. } => Kind::Error,
        }
    }
}

/// The records Fluent Bit must write, in order, for `cases` read under
/// `tag` (the records' tag decides, with the heap, what fits in it), and how
/// many the filter must drop.
pub fn wanted(cases: &[Case], filter: &Filter, tag: &str) -> (Vec<Want>, u64) {
    let mut wants = Vec::new();
    let mut dropped = 0;
    for case in cases {
        let record_len = rendered_len(case);
        if !fits(filter.heap, tag.len(), record_len) {
            wants.push(Want::HeapError {
                tag: tag.to_owned(),
                record_len,
            });
            continue;
        }
        match (&case.expected, filter.keep) {
            (Expected::Event(_), _) => wants.push(Want::Answer(case.clone(), Kind::Event)),
            (Expected::Error, _) => wants.push(Want::Answer(case.clone(), Kind::Error)),
            (Expected::Drop, true) => wants.push(Want::Answer(case.clone(), Kind::Kept)),
            (Expected::Drop, false) => dropped += 1,
        }
    }
    (wants, dropped)
}

/// Whether Fluent Bit can copy a record into the module's heap: WAMR's
/// allocator takes blocks of 8-byte multiples with a 4-byte header from a
/// pool 4 bytes short of the heap, one for the tag and one for the record,
/// each followed by a NUL (the twin host's model, `cli/src/host.rs`).
pub fn fits(heap: u64, tag_len: usize, record_len: usize) -> bool {
    let block = |n: usize| (n as u64 + 1 + 4).div_ceil(8) * 8;
    block(tag_len) + block(record_len) <= (heap - 4) & !7
}

/// The length of the record as Fluent Bit hands it to the module.
pub fn rendered_len(case: &Case) -> usize {
    let record: Value = serde_json::from_str(&case.record).expect("records are JSON");
    fluent_bit_json(&record).len()
}

/// A value as Fluent Bit renders a record to JSON for the wasm filter
/// (`flb_msgpack_to_json_str` with `json.escape_unicode` on, the default):
/// compact, `"`, `\` and `\b \f \n \r \t` escaped by name, other control
/// characters and DEL as `\u00XX`, every non-ASCII character as `\uXXXX`
/// (a surrogate pair beyond the BMP), `/` as is.
pub fn fluent_bit_json(value: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![Token::Value(value)];
    while let Some(token) = stack.pop() {
        match token {
            Token::Text(text) => out.push_str(text),
            Token::Key(key) => {
                escape_into(key, &mut out);
                out.push(':');
            }
            Token::Value(Value::Object(map)) => {
                out.push('{');
                stack.push(Token::Text("}"));
                for (i, (k, v)) in map.iter().enumerate().rev() {
                    stack.push(Token::Value(v));
                    stack.push(Token::Key(k));
                    if i > 0 {
                        stack.push(Token::Text(","));
                    }
                }
            }
            Token::Value(Value::Array(items)) => {
                out.push('[');
                stack.push(Token::Text("]"));
                for (i, v) in items.iter().enumerate().rev() {
                    stack.push(Token::Value(v));
                    if i > 0 {
                        stack.push(Token::Text(","));
                    }
                }
            }
            Token::Value(Value::String(s)) => escape_into(s, &mut out),
            Token::Value(other) => out.push_str(&other.to_string()),
        }
    }
    out
}

enum Token<'a> {
    Text(&'static str),
    Key(&'a str),
    Value(&'a Value),
}

fn escape_into(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// A value as it comes out of Fluent Bit after its JSON → MessagePack →
/// JSON round trip: integers that fit 64 bits stay, any other number becomes
/// a double and is written with 16 significant digits (`%.16g`), so an
/// integer beyond 64 bits becomes a float and `-0` becomes `0`.
pub fn through_fluent_bit(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
        Value::Number(n) => {
            let double = n.as_f64().unwrap_or(f64::NAN);
            let rounded: f64 = format!("{double:.15e}").parse().unwrap_or(double);
            serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
        }
        Value::Array(items) => Value::Array(items.iter().map(through_fluent_bit).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), through_fluent_bit(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The case with its expected fields as Fluent Bit writes numbers.
fn case_through_fluent_bit(case: &Case) -> Case {
    let mut case = case.clone();
    if let Expected::Event(fields) = &case.expected {
        let Value::Object(fields) = through_fluent_bit(&Value::Object(fields.clone())) else {
            unreachable!("an object maps to an object")
        };
        case.expected = Expected::Event(fields);
    }
    case
}

/// Checks one written record against what was wanted.
pub fn check_record(
    want: &Want,
    text: &str,
    filter: &Filter,
    core: &mut Transformer,
) -> Result<(), String> {
    match want {
        Want::HeapError { tag, record_len } => {
            let mut fields = parse_output(text)?;
            let message = fields
                .remove("twingate.parse_error")
                .and_then(|m| m.as_str().map(str::to_owned))
                .ok_or("no twingate.parse_error: the heap error record was wanted")?;
            let size = format!("({record_len} bytes of JSON)");
            if !message.contains("wasm_heap_size") || !message.contains(&size) {
                return Err(format!(
                    "the heap error record should name wasm_heap_size and {size}: {message}"
                ));
            }
            if fields.remove("twingate.tag") != Some(Value::from(tag.as_str()))
                || !fields.is_empty()
            {
                return Err(format!(
                    "the heap error record should hold the tag only: {text}"
                ));
            }
            Ok(())
        }
        Want::Answer(case, Kind::Event) if filter.profile != Profile::Flatten => {
            let got = parse_output(text)?;
            let want = core_event(core, case, filter)?;
            if json_eq(&Value::Object(got.clone()), &through_fluent_bit(&want)) {
                Ok(())
            } else {
                Err(format!(
                    "differs from the native core: got {text}, core {want}"
                ))
            }
        }
        Want::Answer(case, kind) => {
            let answer = match kind {
                Kind::Event => Answer::Event(text.to_owned()),
                Kind::Error => Answer::Error(text.to_owned()),
                Kind::Kept => Answer::Kept(text.to_owned()),
            };
            check(&case_through_fluent_bit(case), filter.keep, &answer)
        }
    }
}

/// The native core's event for a record, given exactly as the host renders it.
fn core_event(core: &mut Transformer, case: &Case, filter: &Filter) -> Result<Value, String> {
    let record: Value = serde_json::from_str(&case.record).expect("records are JSON");
    match core.transform_record(fluent_bit_json(&record).as_bytes(), filter.options()) {
        Outcome::Event => serde_json::from_slice(core.output()).map_err(|e| e.to_string()),
        other => Err(format!(
            "the corpus says event, the native core {other:?}: {}",
            String::from_utf8_lossy(core.output())
        )),
    }
}

/// Compares what an output wrote with what it must hold, in order. Returns
/// the differences, the first few described.
pub fn compare(label: &str, lines: &[String], wants: &[Want], filter: &Filter) -> Vec<String> {
    let mut core = Transformer::new();
    let mut failures = Vec::new();
    if lines.len() != wants.len() {
        failures.push(format!(
            "{label}: {} records written, {} wanted",
            lines.len(),
            wants.len()
        ));
    }
    for (i, (line, want)) in lines.iter().zip(wants).enumerate() {
        if let Err(why) = check_record(want, line, filter, &mut core) {
            failures.push(format!(
                "{label} record {} ({}): {}",
                i + 1,
                at(want),
                cut(&why)
            ));
        }
    }
    failures
}

fn at(want: &Want) -> String {
    match want {
        Want::Answer(case, kind) => format!("{} line {}, {kind:?}", case.shape, case.line_no),
        Want::HeapError { record_len, .. } => format!("heap error, {record_len} bytes"),
    }
}

fn cut(text: &str) -> String {
    const MAX: usize = 500;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let end = (0..=MAX)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    format!("{} [...]", &text[..end])
}

/// What each outcome counted, from the wanted records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub events: u64,
    pub dropped: u64,
    pub errors: u64,
    pub kept: u64,
}

impl Tally {
    pub fn of(wants: &[Want], dropped: u64) -> Tally {
        let count = |kind| wants.iter().filter(|w| w.kind() == kind).count() as u64;
        Tally {
            events: count(Kind::Event),
            dropped,
            errors: count(Kind::Error),
            kept: count(Kind::Kept),
        }
    }

    pub fn records(&self) -> u64 {
        self.events + self.dropped + self.errors + self.kept
    }

    pub fn written(&self) -> u64 {
        self.events + self.errors + self.kept
    }
}

/// Fluent Bit's counters agree with the outcomes: the wasm filter took
/// every record the input read but the neighbours' (`grep` dropped those),
/// records in = events + dropped + error records + kept, it dropped exactly
/// the dropped ones, and each of the `outputs` wrote the rest.
pub fn check_counters(
    metrics: &Metrics,
    tally: &Tally,
    neighbours: u64,
    written: usize,
    outputs: u64,
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut expect = |what: &str, got: u64, want: u64| {
        if got != want {
            failures.push(format!(
                "counter {what}: {got}, expected {want} ({metrics})"
            ));
        }
    };
    let read: u64 = metrics
        .plugins("input")
        .iter()
        .filter(|p| !p.starts_with("emitter") && !p.starts_with("twingate_router"))
        .map(|p| metrics.get("input", p, "records"))
        .sum();
    expect("input records", read, tally.records() + neighbours);
    if metrics
        .plugins("filter")
        .iter()
        .any(|p| p.starts_with("grep"))
    {
        expect(
            "grep drop_records",
            metrics.get("filter", "grep.0", "drop_records"),
            neighbours,
        );
    }
    let wasm = metrics
        .plugins("filter")
        .into_iter()
        .find(|p| p.starts_with("wasm"))
        .unwrap_or("wasm.?");
    expect(
        "wasm records = events + dropped + errors + kept",
        metrics.get("filter", wasm, "records"),
        tally.records(),
    );
    expect(
        "wasm drop_records",
        metrics.get("filter", wasm, "drop_records"),
        tally.dropped,
    );
    expect(
        "outputs proc_records",
        metrics.total("output", "proc_records"),
        tally.written() * outputs,
    );
    expect(
        "records in the output files",
        written as u64,
        tally.written(),
    );
    failures
}

/// Every record an output wrote, one JSON text a line.
pub fn read_lines(path: &std::path::Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", path.display()),
    }
}
