//! One record in, at most one record out: the three outcomes of SPEC
//! section 2, with every buffer owned and reused by [`Transformer`].

use alloc::vec::Vec;
use core::ops::Range;

use crate::error::{Error, OUTPUT_MAX_DEPTH};
use crate::flatten::Flattener;
use crate::json::{Plain, Strings, Validate, copy_value, encode_text, string};
use crate::object::ObjectWriter;
use crate::profile::{Extras, Profiler, Schema};
use crate::recognize::{Analytics, clearly_not_analytics, recognize, strip_line_end};
use crate::record::{
    self, Field, From, LINE_KEYS, RECORD_MAX_DEPTH, Scan, canonical_key, line_field, line_key_rank,
};

/// The key under which a raw line travels (Fluent Bit's `tail` without a
/// parser).
const LINE_KEY: &[u8] = b"log";
const PARSE_ERROR: &[u8] = b"twingate.parse_error";
const TRAILING: &[u8] = b"twingate.trailing";
const LINE_PREFIX: &[u8] = b"twingate.line_prefix";
const RECORD_TEXT: &[u8] = b"twingate.record";
const TAG: &[u8] = b"twingate.tag";

/// The shape of an event's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Twingate's own field names, flattened to dotted keys.
    Flatten,
    /// Elastic Common Schema 9.x, nested objects; the rest under `twingate`.
    Ecs,
    /// OCSF 1.8.0 Network Activity (4001); the rest under `unmapped`.
    Ocsf,
}

impl Profile {
    /// Every profile, by its name (`flatten`, `ecs`, `ocsf`).
    pub const ALL: [(&'static str, Profile); 3] = [
        ("flatten", Profile::Flatten),
        ("ecs", Profile::Ecs),
        ("ocsf", Profile::Ocsf),
    ];

    /// The profile called `name`.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, profile)| profile)
    }

    fn schema(self) -> Option<Schema> {
        match self {
            Profile::Flatten => None,
            Profile::Ecs => Some(Schema::Ecs),
            Profile::Ocsf => Some(Schema::Ocsf),
        }
    }
}

/// What happens to a record without an analytics line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonAnalytics {
    Drop,
    /// Passed on unchanged, for pipelines that route service logs elsewhere.
    Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub profile: Profile,
    pub non_analytics: NonAnalytics,
}

impl Options {
    /// The `flatten` profile, dropping non-analytics records.
    pub const fn flatten() -> Self {
        Options::profile(Profile::Flatten)
    }

    /// A profile, dropping non-analytics records.
    pub const fn profile(profile: Profile) -> Self {
        Options {
            profile,
            non_analytics: NonAnalytics::Drop,
        }
    }

    /// The same options, but passing non-analytics records on unchanged.
    pub const fn keep(self) -> Self {
        Options {
            non_analytics: NonAnalytics::Keep,
            ..self
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::flatten()
    }
}

/// How a record ended. Exactly one per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An analytics event: the output is the record with the line replaced
    /// by the flattened payload.
    Event,
    /// Not analytics, dropped: there is no output.
    Dropped,
    /// Not analytics, passed on unchanged.
    Kept,
    /// A broken event or an unreadable record: the output is the record plus
    /// `twingate.parse_error` saying what went wrong.
    Error(Error),
}

/// Runs the transform; reuse one for many records (it keeps its buffers).
pub struct Transformer {
    fields: Vec<Field>,
    line: Vec<u8>,
    key: Vec<u8>,
    message: Vec<u8>,
    flattener: Flattener,
    /// The `ecs` and `ocsf` profiles' buffers.
    profiler: Profiler,
    /// Whether this record is written the plain reference way (see
    /// [`Transformer::transform_record_reference`]).
    reference: bool,
    out: ObjectWriter,
}

impl Default for Transformer {
    fn default() -> Self {
        Transformer::new()
    }
}

/// Where the line came from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A JSON record; the line is the string field under this key (none
    /// when the record has no line).
    Record(&'a [u8], Option<&'static [u8]>),
    /// A bare line (as if the record were `{"log": line}`).
    Line(&'a [u8]),
}

impl Transformer {
    pub const fn new() -> Self {
        Transformer {
            fields: Vec::new(),
            line: Vec::new(),
            key: Vec::new(),
            message: Vec::new(),
            flattener: Flattener::new(),
            profiler: Profiler::new(),
            reference: false,
            out: ObjectWriter::new(),
        }
    }

    /// The JSON object written for the last record (event, kept record or
    /// error record), without a NUL; empty after a drop.
    pub fn output(&self) -> &[u8] {
        self.out.text()
    }

    /// The same, NUL-terminated as Fluent Bit's host reads it; `None` after a
    /// drop.
    pub fn output_c_str(&self) -> Option<&[u8]> {
        self.out.c_str()
    }

    /// Transforms a record given as JSON text (what Fluent Bit's wasm filter
    /// passes with `Event_Format json`).
    pub fn transform_record(&mut self, record: &[u8], options: Options) -> Outcome {
        self.record(record, options, true)
    }

    /// [`Transformer::transform_record`] without the in-place fast path: the
    /// line is always decoded first, then parsed, and a profile's event is
    /// sorted and nested leaf by leaf instead of walking its schema's
    /// layout. The reference the fast paths are tested and benchmarked
    /// against.
    #[doc(hidden)]
    pub fn transform_record_reference(&mut self, record: &[u8], options: Options) -> Outcome {
        self.record(record, options, false)
    }

    fn record(&mut self, record: &[u8], options: Options, in_place: bool) -> Outcome {
        self.fields.clear();
        self.reference = !in_place;
        match record::scan(record, From::Start, &mut self.fields, true, &mut self.key) {
            Err(error) => return self.unreadable_record(record, error),
            Ok(Scan::Complete) => {}
            Ok(Scan::AtLine {
                key,
                plain_key,
                value,
                rank,
            }) => {
                let candidate = Candidate {
                    key,
                    plain_key,
                    value,
                    rank,
                };
                // A `log` string is the line whatever follows: most service
                // lines are dropped here, from their first raw bytes.
                let drop = options.non_analytics == NonAnalytics::Drop;
                if drop && rank == 0 && record.get(value + 1..).is_some_and(clearly_not_analytics) {
                    self.out.clear();
                    return Outcome::Dropped;
                }
                if in_place
                    && let Some(outcome) = self.event_in_place(record, candidate, options.profile)
                {
                    return outcome;
                }
                let line = match record::string_field(record, key, plain_key, value) {
                    Ok(line) => line,
                    Err(error) => return self.unreadable_record(record, error.in_record()),
                };
                self.fields.push(line);
                let rest = From::AfterValue(line.value.1);
                if let Err(error) =
                    record::scan(record, rest, &mut self.fields, false, &mut self.key)
                {
                    return self.unreadable_record(record, error);
                }
            }
        }
        let Some((index, line_key)) = line_field(record, &self.fields, &mut self.key) else {
            return self.not_analytics(Source::Record(record, None), options);
        };
        self.line.clear();
        if let Some(field) = self.fields.get(index) {
            // Checked by `scan`, so decoding cannot fail.
            let _ = string(record, field.value.0 + 1, &mut self.line, Strings::Decode);
        }
        let line = core::mem::take(&mut self.line);
        let outcome = self.analytics(&line, Source::Record(record, Some(line_key)), options);
        self.line = line;
        outcome
    }

    /// The fast path for the common event: a line string starting
    /// `ANALYTICS ` is parsed where it lies in the record, escaped (see
    /// [`Quoted`]), instead of being decoded and read again. `None` when
    /// anything is unusual; the caller then takes the plain path, which gives
    /// the same events and exact error messages.
    fn event_in_place(
        &mut self,
        record: &[u8],
        line: Candidate,
        profile: Profile,
    ) -> Option<Outcome> {
        let before = self.fields.len();
        let outcome = self.try_event_in_place(record, line, before, profile.schema());
        if outcome.is_none() {
            self.fields.truncate(before);
        }
        outcome
    }

    fn try_event_in_place(
        &mut self,
        record: &[u8],
        line: Candidate,
        before: usize,
        schema: Option<Schema>,
    ) -> Option<Outcome> {
        let word_end = line.value + 1 + WORD_AND_SPACE.len();
        if !record.get(line.value + 1..)?.starts_with(WORD_AND_SPACE) {
            return None;
        }
        let body = skip_escaped_blanks(record, word_end);
        if record.get(body) != Some(&b'{') {
            return None;
        }
        let line_key = *LINE_KEYS.get(line.rank)?;
        self.out.begin();
        // `flatten` writes the payload straight into the output; the other
        // profiles flatten it apart first, then map it.
        let payload = match schema {
            None => &mut self.out,
            Some(_) => {
                self.profiler.begin();
                &mut self.profiler.payload
            }
        };
        let end = self.flattener.payload_in_place(record, body, payload)?;
        // The rest of the line, up to the record string's closing quote:
        // usually just the line end.
        let mut check = Validate::default();
        let line_end = (record.get(end), record.get(end + 1), record.get(end + 2));
        let close = if line_end == (Some(&b'\\'), Some(&b'n'), Some(&b'"')) {
            end + 3
        } else {
            string(record, end, &mut check, Strings::Encode).ok()?
        };
        self.fields.push(Field {
            key: line.key,
            plain_key: line.plain_key,
            value: (line.value, close),
            is_string: true,
            needs_repair: check.repaired,
        });
        let tail = before + 1;
        if record::plain_string_fields(record, close, &mut self.fields).is_none() {
            self.fields.truncate(tail);
            let rest = From::AfterValue(close);
            record::scan(record, rest, &mut self.fields, false, &mut self.key).ok()?;
        }
        // A better line key further on (`log` after `MESSAGE`) holds the
        // line; nothing outranks `log`.
        if line.rank > 0 {
            for field in self.fields.get(tail..)?.iter().filter(|f| f.is_string) {
                let key = canonical_key(record, field, &mut self.key);
                if line_key_rank(key).is_some_and(|rank| rank < line.rank) {
                    return None;
                }
            }
        }
        // The record's fields go before the payload's, wherever they were.
        match schema {
            None => self.write_fields(record, 0..self.fields.len(), Some(line_key)),
            Some(schema) => self.write_fields_displacing(record, Some(line_key), schema),
        }
        let trailing_raw = record.get(end..close - 1).unwrap_or_default();
        self.message.clear();
        if !only_escaped_blanks(trailing_raw) {
            let _ = string(record, end, &mut self.message, Strings::Decode);
        }
        let trailing = trim_blanks(&self.message);
        // The fast path keeps no record of where each field lies, which
        // resolving a repeated key needs: the general path does that.
        let payload = match schema {
            None => &self.out,
            Some(_) => &self.profiler.payload,
        };
        if payload.maybe_repeated() {
            return None;
        }
        match schema {
            None if !trailing.is_empty() => text_field(&mut self.out, TRAILING, trailing),
            None => {}
            Some(schema) => {
                self.profiler.payload.finish();
                let extras = Extras {
                    trailing,
                    line_prefix: None,
                };
                self.profiler
                    .write(schema, extras, &mut self.out, self.reference);
            }
        }
        // A record field repeated by the payload (or `twingate.trailing`)
        // is resolved by the general path too.
        if schema.is_none() && self.out.maybe_repeated() {
            return None;
        }
        self.out.finish();
        Some(Outcome::Event)
    }

    /// Transforms a bare line, as if the record were `{"log": line}`.
    pub fn transform_line(&mut self, line: &[u8], options: Options) -> Outcome {
        self.fields.clear();
        self.reference = false;
        self.analytics(line, Source::Line(line), options)
    }

    // Out of line: one copy for records and bare lines (module size).
    #[inline(never)]
    fn analytics(&mut self, line: &[u8], source: Source<'_>, options: Options) -> Outcome {
        let content = strip_line_end(line);
        let Some(Analytics { header_end, body }) = recognize(content) else {
            return self.not_analytics(source, options);
        };
        self.out.begin();
        let schema = options.profile.schema();
        if schema.is_some() {
            self.profiler.begin();
        }
        match (schema, source) {
            (Some(schema), Source::Record(record, line_key)) => {
                self.write_fields_displacing(record, line_key, schema);
            }
            _ => self.write_record_fields(source, false),
        }
        // `flatten` writes the payload straight into the output; the other
        // profiles flatten it apart first, then map it.
        let payload = match schema {
            None => &mut self.out,
            Some(_) => &mut self.profiler.payload,
        };
        let end = match self.flattener.payload(content, body, payload) {
            Ok(end) => end,
            Err(error) => return self.broken_event(source, error, line.len()),
        };
        let trailing = trim_blanks(content.get(end..).unwrap_or_default());
        let header = header_end.and_then(|h| content.get(..h));
        if let Some(schema) = schema {
            self.profiler.payload.finish();
            let extras = Extras {
                trailing,
                line_prefix: header,
            };
            self.profiler
                .write(schema, extras, &mut self.out, self.reference);
        } else {
            if !trailing.is_empty() {
                text_field(&mut self.out, TRAILING, trailing);
            }
            if let Some(header) = header {
                text_field(&mut self.out, LINE_PREFIX, header);
            }
        }
        self.out.finish();
        Outcome::Event
    }

    fn not_analytics(&mut self, source: Source<'_>, options: Options) -> Outcome {
        if options.non_analytics == NonAnalytics::Drop {
            self.out.clear();
            return Outcome::Dropped;
        }
        match source {
            Source::Record(record, _) if !self.fields.iter().any(|f| f.needs_repair) => {
                self.out.verbatim(record);
            }
            _ => {
                self.out.begin();
                self.write_record_fields(source, true);
                self.out.finish();
            }
        }
        Outcome::Kept
    }

    // Cold and out of line: only broken records come here (module size).
    #[cold]
    #[inline(never)]
    fn broken_event(&mut self, source: Source<'_>, error: Error, line_len: usize) -> Outcome {
        self.out.begin();
        self.write_record_fields(source, true);
        self.message.clear();
        error.write_message(line_len, &mut self.message);
        text_field(&mut self.out, PARSE_ERROR, &self.message);
        self.out.finish();
        Outcome::Error(error)
    }

    /// A record that is not a JSON object: nothing can be kept as fields, so
    /// its text travels whole in `twingate.record` (never silently lost).
    // Cold and out of line: only broken records come here (module size).
    #[cold]
    #[inline(never)]
    fn unreadable_record(&mut self, record: &[u8], error: Error) -> Outcome {
        self.out.begin();
        self.message.clear();
        error.write_message(0, &mut self.message);
        text_field(&mut self.out, PARSE_ERROR, &self.message);
        text_field(&mut self.out, RECORD_TEXT, record);
        self.out.finish();
        Outcome::Error(error)
    }

    /// The answer when Fluent Bit could not copy the record into the module
    /// (`record_ptr == 0`): the record never reached us, so the error record
    /// says how big the heap must be.
    pub fn heap_too_small(
        &mut self,
        tag: Option<&[u8]>,
        record_len: usize,
        heap_needed: u64,
    ) -> Outcome {
        self.out.begin();
        self.message.clear();
        heap_message(record_len, heap_needed, &mut self.message);
        text_field(&mut self.out, PARSE_ERROR, &self.message);
        if let Some(tag) = tag {
            text_field(&mut self.out, TAG, tag);
        }
        self.out.finish();
        Outcome::Error(Error::heap_too_small(record_len))
    }

    /// Writes the record's own fields: all of them, or all but the line.
    // Out of line: three callers, none on the in-place fast path.
    #[inline(never)]
    fn write_record_fields(&mut self, source: Source<'_>, with_line: bool) {
        match source {
            Source::Line(line) => {
                if with_line {
                    text_field(&mut self.out, LINE_KEY, line);
                }
            }
            Source::Record(record, line_key) => {
                let skip = if with_line { None } else { line_key };
                self.write_fields(record, 0..self.fields.len(), skip);
            }
        }
    }

    /// Writes the record's fields but the line for a profile's event: those
    /// the schema moves ([`Profiler::displaces`]: in ECS a name ECS takes at
    /// the top, in OCSF every one) go to the profile's catch-all instead.
    fn write_fields_displacing(&mut self, record: &[u8], skip: Option<&[u8]>, schema: Schema) {
        for field in &self.fields {
            let key = canonical_key(record, field, &mut self.key);
            if skip == Some(key) {
                continue;
            }
            if Profiler::displaces(schema, key) {
                let value = self.profiler.displaced_field(key);
                if field.is_string {
                    write_record_value(record, field, value);
                } else {
                    // One level down, under the catch-all: a field as deep
                    // as Fluent Bit allows would pass its limit there, so
                    // what lies deeper than the output bound becomes text.
                    let _ = copy_value::<_, Plain>(
                        record,
                        field.value.0,
                        value,
                        0,
                        RECORD_MAX_DEPTH,
                        OUTPUT_MAX_DEPTH - 2,
                    );
                }
            } else {
                write_record_value(record, field, self.out.front_field(key));
            }
        }
    }

    /// Writes the record fields in `range`, except those under `skip`.
    // Out of line: one copy for the fast path and the others (module size).
    #[inline(never)]
    fn write_fields(&mut self, record: &[u8], range: Range<usize>, skip: Option<&[u8]>) {
        for field in self.fields.get(range).unwrap_or_default() {
            let key = canonical_key(record, field, &mut self.key);
            if skip == Some(key) {
                continue;
            }
            write_record_value(record, field, self.out.front_field(key));
        }
    }
}

/// Writes a field whose value is `text` as a JSON string. A free function,
/// so the text may be one of the transformer's own buffers.
fn text_field(out: &mut ObjectWriter, key: &[u8], text: &[u8]) {
    let value = out.field(b"", key);
    value.push(b'"');
    encode_text(text, value);
    value.push(b'"');
}

/// The first string under a line key, not read yet.
#[derive(Clone, Copy)]
struct Candidate {
    key: (usize, usize),
    plain_key: bool,
    value: usize,
    /// Place in [`LINE_KEYS`]: 0 is `log`, which nothing can outrank.
    rank: usize,
}

/// `ANALYTICS` and a space: how every connector analytics line starts.
const WORD_AND_SPACE: &[u8] = b"ANALYTICS ";

/// Skips spaces and `\t` escapes (blanks between the word and the JSON).
fn skip_escaped_blanks(raw: &[u8], mut pos: usize) -> usize {
    loop {
        match (raw.get(pos), raw.get(pos + 1)) {
            (Some(b' '), _) => pos += 1,
            (Some(b'\\'), Some(b't')) => pos += 2,
            _ => return pos,
        }
    }
}

/// Raw string content that decodes to nothing but blanks and line ends.
fn only_escaped_blanks(raw: &[u8]) -> bool {
    let mut pos = 0;
    loop {
        match (raw.get(pos), raw.get(pos + 1)) {
            (None, _) => return true,
            (Some(b' '), _) => pos += 1,
            (Some(b'\\'), Some(b'n' | b'r' | b't')) => pos += 2,
            _ => return false,
        }
    }
}

/// Trims what the contract calls blanks around trailing text: spaces, tabs
/// and line ends (not every ASCII whitespace: a form feed is text).
fn trim_blanks(text: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = text.iter().position(|b| !is_blank(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    text.get(start..end).unwrap_or_default()
}

/// Copies a record field's value; re-encodes it when it needs repair.
fn write_record_value(record: &[u8], field: &Field, out: &mut Vec<u8>) {
    let (start, end) = field.value;
    if !field.needs_repair {
        out.extend_from_slice(record.get(start..end).unwrap_or_default());
    } else if field.is_string {
        out.push(b'"');
        let _ = string(record, start + 1, out, Strings::Encode);
        out.push(b'"');
    } else {
        let _ = copy_value::<_, Plain>(record, start, out, 0, RECORD_MAX_DEPTH, usize::MAX);
    }
}

fn heap_message(record_len: usize, heap_needed: u64, out: &mut Vec<u8>) {
    use crate::error::push_decimal;
    out.extend_from_slice(b"the record (");
    push_decimal(out, record_len as u64);
    out.extend_from_slice(
        b" bytes of JSON) did not fit in the wasm filter's heap, so Fluent Bit could not pass it to the module and its content is lost; set `wasm_heap_size` (classic config: Wasm_Heap_Size) in the wasm filter to at least ",
    );
    push_decimal(out, heap_needed.div_ceil(1024));
    out.extend_from_slice(b"K (4M leaves room for any Twingate line)");
}
