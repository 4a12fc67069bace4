//! Input shapes: how each collector hands a connector line to the filter.
//!
//! [`RecordReader`] streams an input line by line (it never holds more than
//! the current line and the pending multiline groups) and yields the records
//! Fluent Bit's `tail` input would build from it:
//!
//! | shape | a line | record |
//! |---|---|---|
//! | [`Shape::Lines`] | raw connector output, syslog | `{"log": line}` ([`Record::Line`]) |
//! | [`Shape::Docker`] | Docker json-file entry | the line, partial entries joined (`multiline.parser docker`) |
//! | [`Shape::Cri`] | `<time> <stream> <P\|F> <content>` | `{"time","stream","_p","log"}`, `P` parts joined (`multiline.parser cri`) |
//! | [`Shape::Journal`], [`Shape::Json`] | a JSON record | the line |
//!
//! Only `\n` ends a line; a `\r` before it stays in the line (the transform
//! handles CRLF itself). An empty line is the record `{"log":""}` in every
//! shape, as Fluent Bit's `tail` makes it (`skip_empty_lines` is off by
//! default, and its parsers leave a line they cannot parse as raw `log`). A
//! non-empty line of a JSON shape that is not valid JSON is still passed on
//! as it is: the filter answers it with an error record.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The shape of an input, chosen by `--format` or detected from its first
/// non-empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Auto,
    Lines,
    Docker,
    Cri,
    Journal,
    Json,
}

impl Shape {
    pub const NAMES: &'static str = "auto|lines|docker|cri|journal|json";

    /// `--format` value → shape.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "auto" => Self::Auto,
            "lines" => Self::Lines,
            "docker" => Self::Docker,
            "cri" => Self::Cri,
            "journal" => Self::Journal,
            "json" => Self::Json,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Lines => "lines",
            Self::Docker => "docker",
            Self::Cri => "cri",
            Self::Journal => "journal",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Detects the shape of an input from its first non-empty line.
///
/// `{...}` is a JSON record: Docker when it has string `log` and `stream`
/// keys, journald when it has `MESSAGE` or `__REALTIME_TIMESTAMP`, generic
/// JSON otherwise (also when it does not parse). A CRI line starts with a
/// timestamp, the stream and `P`/`F`. Anything else is a plain line.
pub fn detect_shape(first_line: &[u8]) -> Shape {
    if first_line.trim_ascii_start().starts_with(b"{") {
        return detect_json_shape(first_line);
    }
    match parse_cri(first_line) {
        Some(cri) if cri.time.first().is_some_and(u8::is_ascii_digit) => Shape::Cri,
        _ => Shape::Lines,
    }
}

fn detect_json_shape(line: &[u8]) -> Shape {
    let Ok(fields) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
    else {
        return Shape::Json;
    };
    let is_string = |key: &str| fields.get(key).is_some_and(serde_json::Value::is_string);
    if is_string("log") && is_string("stream") {
        Shape::Docker
    } else if fields.contains_key("MESSAGE") || fields.contains_key("__REALTIME_TIMESTAMP") {
        Shape::Journal
    } else {
        Shape::Json
    }
}

/// One record for the filter. Borrowed from the reader until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A raw line; the record is `{"log": line}`.
    Line(&'a [u8]),
    /// The record's JSON text (as Fluent Bit renders it), possibly invalid.
    Json(&'a [u8]),
}

impl Record<'_> {
    /// Writes the record's JSON text into `out` (cleared first). A raw line
    /// that is not UTF-8 gets U+FFFD for the bad bytes: a JSON string can
    /// only hold Unicode.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.clear();
        match *self {
            Record::Json(text) => out.extend_from_slice(text),
            Record::Line(line) => {
                out.extend_from_slice(b"{\"log\":");
                push_json_string(out, &String::from_utf8_lossy(line));
                out.push(b'}');
            }
        }
    }
}

/// Counters of what was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Lines read (each ended by `\n`, or by the end of the input).
    pub lines: u64,
    /// Bytes read, line terminators included.
    pub bytes: u64,
}

/// Streams the records of one input.
pub struct RecordReader<R> {
    source: R,
    shape: Shape,
    multiline: bool,
    /// The current line, without its `\n`.
    line: Vec<u8>,
    /// `line` holds a line read ahead (by shape detection), not yet used.
    line_pending: bool,
    /// Empty lines read ahead (by shape detection), not yet handed out.
    empty_ahead: u64,
    /// A record built here (CRI, joined parts).
    record: Vec<u8>,
    /// Multiline groups waiting for their last part, by stream, oldest first.
    groups: Vec<Group>,
    /// Built records to hand out before reading on (end-of-input flush).
    ready: VecDeque<Vec<u8>>,
    stats: ReadStats,
}

/// Where the record handed out lives.
enum Slot {
    EmptyLine,
    LineAsLine,
    LineAsJson,
    Built,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader for `source`. With [`Shape::Auto`] it reads ahead to the
    /// first non-empty line to detect the shape. `multiline` joins Docker
    /// partial entries and CRI `P` parts, as Fluent Bit's `multiline.parser
    /// docker, cri` does.
    pub fn new(source: R, shape: Shape, multiline: bool) -> io::Result<Self> {
        let mut reader = Self {
            source,
            shape,
            multiline,
            line: Vec::new(),
            line_pending: false,
            empty_ahead: 0,
            record: Vec::new(),
            groups: Vec::new(),
            ready: VecDeque::new(),
            stats: ReadStats::default(),
        };
        if shape == Shape::Auto {
            reader.shape = reader.detect()?;
        }
        Ok(reader)
    }

    /// Reads ahead to the first non-empty line and detects the shape from it.
    fn detect(&mut self) -> io::Result<Shape> {
        while self.read_line()? {
            if !self.line.is_empty() {
                self.line_pending = true;
                return Ok(detect_shape(&self.line));
            }
            self.empty_ahead += 1;
        }
        Ok(Shape::Lines)
    }

    /// The shape in use (detected, for [`Shape::Auto`]).
    pub fn shape(&self) -> Shape {
        self.shape
    }

    pub fn stats(&self) -> ReadStats {
        self.stats
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        Ok(self.advance()?.map(|slot| match slot {
            Slot::EmptyLine => Record::Line(&[]),
            Slot::LineAsLine => Record::Line(&self.line),
            Slot::LineAsJson => Record::Json(&self.line),
            Slot::Built => Record::Json(&self.record),
        }))
    }

    fn advance(&mut self) -> io::Result<Option<Slot>> {
        loop {
            if self.empty_ahead > 0 {
                self.empty_ahead -= 1;
                return Ok(Some(Slot::EmptyLine));
            }
            if let Some(record) = self.ready.pop_front() {
                self.record = record;
                return Ok(Some(Slot::Built));
            }
            if !self.read_line()? {
                if self.groups.is_empty() {
                    return Ok(None);
                }
                self.flush_groups_at_end();
                continue;
            }
            if self.line.is_empty() {
                return Ok(Some(Slot::EmptyLine));
            }
            let slot = match self.shape {
                Shape::Auto | Shape::Lines => Some(Slot::LineAsLine),
                Shape::Journal | Shape::Json => Some(Slot::LineAsJson),
                Shape::Docker => self.docker_line(),
                Shape::Cri => self.cri_line(),
            };
            if slot.is_some() {
                return Ok(slot);
            }
        }
    }

    /// Reads the next line into `line`, without its `\n`; false at the end.
    fn read_line(&mut self) -> io::Result<bool> {
        if std::mem::take(&mut self.line_pending) {
            return Ok(true);
        }
        self.line.clear();
        let read = self.source.read_until(b'\n', &mut self.line)?;
        if read == 0 {
            return Ok(false);
        }
        self.stats.lines += 1;
        self.stats.bytes += read as u64;
        if self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        Ok(true)
    }

    /// A Docker entry: passed on as it is, unless it is part of a message
    /// Docker split (its `log` does not end in `\n`).
    fn docker_line(&mut self) -> Option<Slot> {
        if !self.multiline {
            return Some(Slot::LineAsJson);
        }
        // Not a Docker entry (not JSON, no string `log`): not part of any
        // group, so it goes through untouched.
        let Ok(entry) = serde_json::from_slice::<DockerEntry<'_>>(&self.line) else {
            return Some(Slot::LineAsJson);
        };
        let Some(log) = entry.log else {
            return Some(Slot::LineAsJson);
        };
        let stream = entry.stream.as_deref().unwrap_or("");
        let complete = log.ends_with('\n');
        let group = self.groups.iter().position(|group| group.stream == stream);
        match (group, complete) {
            (None, true) => Some(Slot::LineAsJson),
            (None, false) => {
                let head = GroupHead::Docker(self.line.clone());
                self.groups.push(Group::new(stream, head, &log));
                None
            }
            (Some(index), false) => {
                self.groups[index].content.push_str(&log);
                None
            }
            (Some(index), true) => {
                let mut group = self.groups.remove(index);
                group.content.push_str(&log);
                self.record = group.into_record();
                Some(Slot::Built)
            }
        }
    }

    /// A CRI line: parsed into its record; `P` parts wait for their `F`.
    /// A line that is not CRI becomes `{"log": line}`, as Fluent Bit does
    /// when the parser does not match.
    fn cri_line(&mut self) -> Option<Slot> {
        let Some(cri) = parse_cri(&self.line) else {
            return Some(Slot::LineAsLine);
        };
        let time = String::from_utf8_lossy(cri.time);
        let content = String::from_utf8_lossy(cri.content);
        let group = self
            .groups
            .iter()
            .position(|group| group.stream == cri.stream);
        match (self.multiline, group, cri.partial) {
            (false, _, _) | (true, None, false) => {
                let tag = if cri.partial { "P" } else { "F" };
                self.record = cri_record(&time, cri.stream, tag, &content);
                Some(Slot::Built)
            }
            (true, None, true) => {
                let head = GroupHead::Cri {
                    time: time.into_owned(),
                };
                self.groups.push(Group::new(cri.stream, head, &content));
                None
            }
            (true, Some(index), true) => {
                self.groups[index].content.push_str(&content);
                None
            }
            (true, Some(index), false) => {
                let mut group = self.groups.remove(index);
                group.content.push_str(&content);
                self.record = group.into_record();
                Some(Slot::Built)
            }
        }
    }

    /// At the end of the input, groups still waiting are flushed as they
    /// are (Fluent Bit flushes them after `flush_timeout`).
    fn flush_groups_at_end(&mut self) {
        let records = self.groups.drain(..).map(Group::into_record);
        self.ready.extend(records);
    }
}

/// The fields of a Docker entry that decide whether it is partial.
#[derive(Deserialize)]
struct DockerEntry<'a> {
    #[serde(borrow)]
    log: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stream: Option<Cow<'a, str>>,
}

/// A message split in parts, waiting for its last part.
struct Group {
    /// The multiline group key (Fluent Bit's `key_group`: the stream).
    stream: String,
    head: GroupHead,
    /// The `log` values so far, concatenated.
    content: String,
}

/// What the joined record keeps of the first part: like Fluent Bit, every
/// field of the first part, with `log` replaced by the joined content.
enum GroupHead {
    /// The first entry's JSON text.
    Docker(Vec<u8>),
    /// The first line's time (its `_p` is `P`).
    Cri { time: String },
}

impl Group {
    fn new(stream: &str, head: GroupHead, content: &str) -> Self {
        Self {
            stream: stream.to_owned(),
            head,
            content: content.to_owned(),
        }
    }

    fn into_record(self) -> Vec<u8> {
        match self.head {
            GroupHead::Docker(first) => docker_record(&first, &self.content),
            GroupHead::Cri { time } => cri_record(&time, &self.stream, "P", &self.content),
        }
    }
}

/// The first entry's fields, in order, with `log` set to `log`.
fn docker_record(first: &[u8], log: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(first.len() + log.len());
    // The first entry parsed once already (`DockerEntry`), so this only
    // fails on a duplicate key trick; fall back to the bare content.
    let Ok(OrderedFields(fields)) = serde_json::from_slice::<OrderedFields>(first) else {
        Record::Line(log.as_bytes()).write_json(&mut out);
        return out;
    };
    out.push(b'{');
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_json_string(&mut out, key);
        out.push(b':');
        if key == "log" {
            push_json_string(&mut out, log);
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    out.push(b'}');
    out
}

/// A CRI record, keys in the order of Fluent Bit's cri parser.
fn cri_record(time: &str, stream: &str, partial_tag: &str, log: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len() + 64);
    out.extend_from_slice(b"{\"time\":");
    push_json_string(&mut out, time);
    out.extend_from_slice(b",\"stream\":");
    push_json_string(&mut out, stream);
    out.extend_from_slice(b",\"_p\":");
    push_json_string(&mut out, partial_tag);
    out.extend_from_slice(b",\"log\":");
    push_json_string(&mut out, log);
    out.push(b'}');
    out
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A JSON object's fields in their order, values untouched.
struct OrderedFields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for OrderedFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = OrderedFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry()? {
                    fields.push(field);
                }
                Ok(OrderedFields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A line in the CRI log format, split like Fluent Bit's cri parser
/// regex `^(?<time>.+?) (?<stream>stdout|stderr) (?<_p>F|P) (?<log>.*)$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriLine<'a> {
    pub time: &'a [u8],
    pub stream: &'a str,
    /// `P`: a part; `F`: the last (or only) part.
    pub partial: bool,
    pub content: &'a [u8],
}

/// Splits a CRI line; `None` when the regex would not match. The time is
/// the shortest non-empty prefix followed by ` stdout|stderr P|F `.
pub fn parse_cri(line: &[u8]) -> Option<CriLine<'_>> {
    // `.` does not match a newline, so neither may any part.
    if line.contains(&b'\n') {
        return None;
    }
    (1..line.len())
        .filter(|&at| line[at] == b' ')
        .find_map(|at| cri_after_time(&line[..at], &line[at + 1..]))
}

fn cri_after_time<'a>(time: &'a [u8], rest: &'a [u8]) -> Option<CriLine<'a>> {
    let (stream, rest) = if let Some(rest) = rest.strip_prefix(b"stdout ") {
        ("stdout", rest)
    } else {
        ("stderr", rest.strip_prefix(b"stderr ")?)
    };
    let (partial, content) = match rest {
        [b'P', b' ', content @ ..] => (true, content),
        [b'F', b' ', content @ ..] => (false, content),
        _ => return None,
    };
    Some(CriLine {
        time,
        stream,
        partial,
        content,
    })
}
