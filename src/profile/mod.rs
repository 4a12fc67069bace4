//! The `ecs` and `ocsf` profiles: the same events as `flatten`, with the
//! payload's fields moved to where a schema wants them.
//!
//! An event goes through three steps, none of which recurses per level:
//!
//! 1. the payload is flattened as in `flatten` into a reused
//!    [`ObjectWriter`] of its own (dedup done, `location` parsed), and that
//!    flat text is read back into `(dotted key, JSON value)` pairs
//!    ([`Fields`]). Reading the writer's finished text, not its internals,
//!    keeps this layer independent of how the hot path is built;
//! 2. the profile ([`ecs`], [`ocsf`]) maps the fields it knows, by a fixed
//!    table, into the slots of its schema's [`layout`]; every payload field
//!    it does not map (or whose value does not fit the schema's type)
//!    becomes a field of the profile's catch-all (`twingate.` or
//!    `unmapped.`), so nothing is lost;
//! 3. [`layout::Event::write`] walks the schema's layout once, writing the
//!    slots that have a value as nested objects in sorted order, and the
//!    catch-all through [`Tree`], which sorts and nests paths known only at
//!    run time.

use alloc::vec::Vec;

mod ecs;
mod layout;
mod ocsf;

use core::cmp::Ordering;

use crate::object::ObjectWriter;
use crate::scan::{find_either, find_string_delimiter, find_structural};
use layout::{Event, Slot};

/// Which schema an event is written in (the `flatten` profile does not come
/// here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    Ecs,
    Ocsf,
}

/// Buffers reused across events.
pub(crate) struct Profiler {
    /// The payload, flattened as in `flatten`.
    pub(crate) payload: ObjectWriter,
    pairs: Vec<Pair>,
    event: Event,
    /// One top-level object while [`Event::write`] writes it.
    scratch: Vec<u8>,
    /// Record fields whose name the schema uses at the top (a Docker
    /// record's `time` in OCSF): `(key, value)` ranges in `displaced`.
    displaced: Vec<u8>,
    displaced_fields: Vec<((usize, usize), (usize, usize))>,
}

/// What the line held besides the payload.
pub(crate) struct Extras<'a> {
    /// Text after the JSON object (`twingate.trailing` in `flatten`).
    pub trailing: &'a [u8],
    /// The syslog-style header (`twingate.line_prefix` in `flatten`).
    pub line_prefix: Option<&'a [u8]>,
}

impl Profiler {
    pub(crate) const fn new() -> Self {
        Profiler {
            payload: ObjectWriter::new(),
            pairs: Vec::new(),
            event: Event::new(),
            scratch: Vec::new(),
            displaced: Vec::new(),
            displaced_fields: Vec::new(),
        }
    }

    /// Forgets the last event's displaced record fields.
    pub(crate) fn begin(&mut self) {
        self.payload.begin();
        self.displaced.clear();
        self.displaced_fields.clear();
    }

    /// Whether a record field named `key` (JSON-encoded) goes under the
    /// catch-all instead of the top level. ECS is open: only a name one of
    /// its own top-level fields takes moves. OCSF classes are closed (an
    /// attribute outside the class makes the event invalid), so every
    /// collector field (`stream`, `time`, `_SYSTEMD_UNIT`, ...) moves to
    /// `unmapped`, and events validate whatever shape the record had.
    pub(crate) fn displaces(schema: Schema, key: &[u8]) -> bool {
        match schema {
            Schema::Ecs => layout::top_level(&ecs::LAYOUT, key),
            Schema::Ocsf => true,
        }
    }

    /// Keeps a record field the schema displaces: it goes under the
    /// catch-all (`twingate.time`, `unmapped.time`) instead of being lost.
    /// The caller writes its JSON value into the returned buffer.
    pub(crate) fn displaced_field(&mut self, key: &[u8]) -> &mut Vec<u8> {
        let key_start = self.displaced.len();
        self.displaced.extend_from_slice(key);
        let value_start = self.displaced.len();
        self.displaced_fields
            .push(((key_start, value_start), (value_start, usize::MAX)));
        &mut self.displaced
    }

    /// Maps the finished [`Profiler::payload`] into `out`, after the
    /// record's fields already written there; with `reference`, written the
    /// plain way ([`Event::write_reference`]).
    pub(crate) fn write(
        &mut self,
        schema: Schema,
        extras: Extras<'_>,
        out: &mut ObjectWriter,
        reference: bool,
    ) {
        let text = self.payload.text();
        read_pairs(text, &mut self.pairs);
        let mut fields = Fields::new(text, &self.pairs);
        let event = &mut self.event;
        event.clear();
        let layout: &layout::Layout = match schema {
            Schema::Ecs => {
                ecs::map(&mut fields, event);
                &ecs::LAYOUT
            }
            Schema::Ocsf => {
                ocsf::map(&mut fields, event);
                &ocsf::LAYOUT
            }
        };
        let catch_all = &mut event.catch_all;
        // Displaced record fields first: a payload field of the same name
        // wins, as in `flatten`.
        let mut ends = self
            .displaced_fields
            .iter()
            .skip(1)
            .map(|(key, _)| key.0)
            .chain([self.displaced.len()]);
        for &(key, value) in &self.displaced_fields {
            let end = ends.next().unwrap_or(value.0);
            let key = self.displaced.get(key.0..key.1).unwrap_or_default();
            let value = self.displaced.get(value.0..end).unwrap_or_default();
            catch_all.leaf(key).extend_from_slice(value);
        }
        for pair in fields.unused() {
            let value = text.get(pair.value.0..pair.value.1).unwrap_or_default();
            let key = text.get(pair.key.0..pair.key.1).unwrap_or_default();
            catch_all.leaf(key).extend_from_slice(value);
        }
        // Written last, so they win over a payload key of the same name, as
        // in `flatten` (`twingate.trailing`, `unmapped.twingate.trailing`).
        let extra_prefix: &[u8] = match schema {
            Schema::Ecs => b"",
            Schema::Ocsf => b"twingate.",
        };
        if !extras.trailing.is_empty() {
            string_value(catch_all.leaf2(extra_prefix, b"trailing"), extras.trailing);
        }
        if let Some(prefix) = extras.line_prefix {
            string_value(catch_all.leaf2(extra_prefix, b"line_prefix"), prefix);
        }
        // The Fluent Bit module has no reference path.
        let module = cfg!(all(
            target_arch = "wasm32",
            target_os = "unknown",
            not(feature = "js")
        ));
        if reference && !module {
            event.write_reference(layout, out);
        } else {
            event.write(layout, out, &mut self.scratch);
        }
    }
}

/// Writes `text` (decoded) as a JSON string.
fn string_value(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    crate::json::encode_text(text, out);
    out.push(b'"');
}

/// One field of the flat payload: byte ranges of its key (JSON-encoded,
/// without quotes) and its value (JSON text) in the writer's text.
#[derive(Clone, Copy)]
struct Pair {
    key: (usize, usize),
    value: (usize, usize),
    /// Which known field it is, if any.
    known: Option<Known>,
}

/// Reads the flat object the [`ObjectWriter`] wrote (`{"k":v,...}`, compact,
/// keys unique). Stops quietly at anything unexpected, which our own writer
/// never produces.
#[inline(never)]
fn read_pairs(text: &[u8], pairs: &mut Vec<Pair>) {
    pairs.clear();
    let mut pos = 1;
    while text.get(pos) == Some(&b'"') {
        let key_end = string_end(text, pos);
        if text.get(key_end) != Some(&b':') {
            return;
        }
        let value_start = key_end + 1;
        let value_end = value_end(text, value_start);
        let key = (pos + 1, key_end - 1);
        pairs.push(Pair {
            key,
            value: (value_start, value_end),
            known: known(text.get(key.0..key.1).unwrap_or_default()),
        });
        pos = value_end + 1;
    }
}

/// The index just past the string whose opening quote is at `pos`.
fn string_end(text: &[u8], pos: usize) -> usize {
    let mut i = pos + 1;
    loop {
        // Eight bytes a step to the next `"`, `\\` (or control character,
        // which the writer never leaves raw).
        i += find_string_delimiter(text.get(i..).unwrap_or_default());
        match text.get(i) {
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return text.len(),
        }
    }
}

/// The index just past the compact JSON value starting at `pos`.
fn value_end(text: &[u8], pos: usize) -> usize {
    match text.get(pos) {
        Some(b'"') => string_end(text, pos),
        Some(b'[' | b'{') => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                i += find_structural(text.get(i..).unwrap_or_default());
                match text.get(i) {
                    Some(b'"') => {
                        i = string_end(text, i);
                        continue;
                    }
                    Some(b'[' | b'{') => depth += 1,
                    Some(b']' | b'}') => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    Some(_) => {}
                    None => return text.len(),
                }
                i += 1;
            }
        }
        _ => pos + find_either(text.get(pos..).unwrap_or_default(), b',', b'}'),
    }
}

/// The payload fields a profile knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    Timestamp,
    EventType,
    ClientIp,
    ConnectionId,
    Protocol,
    ResourceIp,
    ResourcePort,
    Rx,
    Tx,
    Duration,
    ErrorMessage,
    ConnectorId,
    ConnectorName,
    DeviceId,
    RemoteNetworkName,
    ResourceAddress,
    AppliedRule,
    ResourceId,
    UserEmail,
    UserId,
    // v1 `connection.client_geo` (a GeoIP2 record).
    GeoCity,
    GeoCountryIso,
    GeoCountryName,
    GeoContinentCode,
    GeoContinentName,
    GeoLatitude,
    GeoLongitude,
    GeoTimezone,
    AsNumber,
    AsName,
    // v2 `location` (a JSON string, flattened under `location.`).
    LocCity,
    LocCountry,
    LocLat,
    LocLon,
    LocRegion,
}

const KNOWN: usize = Known::LocRegion as usize + 1;

/// Where each known field is in the flat payload.
const KNOWN_KEYS: [(&[u8], Known); KNOWN] = [
    (b"timestamp", Known::Timestamp),
    (b"event_type", Known::EventType),
    (b"connection.client_ip", Known::ClientIp),
    (b"connection.id", Known::ConnectionId),
    (b"connection.protocol", Known::Protocol),
    (b"connection.resource_ip", Known::ResourceIp),
    (b"connection.resource_port", Known::ResourcePort),
    (b"connection.rx", Known::Rx),
    (b"connection.tx", Known::Tx),
    (b"connection.duration", Known::Duration),
    (b"connection.error_message", Known::ErrorMessage),
    (b"connector.id", Known::ConnectorId),
    (b"connector.name", Known::ConnectorName),
    (b"device.id", Known::DeviceId),
    (b"remote_network.name", Known::RemoteNetworkName),
    (b"resource.address", Known::ResourceAddress),
    (b"resource.applied_rule", Known::AppliedRule),
    (b"resource.id", Known::ResourceId),
    (b"user.email", Known::UserEmail),
    (b"user.id", Known::UserId),
    (b"connection.client_geo.city.name", Known::GeoCity),
    (
        b"connection.client_geo.country.iso_code",
        Known::GeoCountryIso,
    ),
    (b"connection.client_geo.country.name", Known::GeoCountryName),
    (
        b"connection.client_geo.continent.code",
        Known::GeoContinentCode,
    ),
    (
        b"connection.client_geo.continent.name",
        Known::GeoContinentName,
    ),
    (
        b"connection.client_geo.location.latitude",
        Known::GeoLatitude,
    ),
    (
        b"connection.client_geo.location.longitude",
        Known::GeoLongitude,
    ),
    (b"connection.client_geo.timezone", Known::GeoTimezone),
    (b"connection.client_geo.as.number", Known::AsNumber),
    (b"connection.client_geo.as.name", Known::AsName),
    (b"location.geoip.city", Known::LocCity),
    (b"location.geoip.country", Known::LocCountry),
    (b"location.geoip.lat", Known::LocLat),
    (b"location.geoip.lon", Known::LocLon),
    (b"location.geoip.region", Known::LocRegion),
];

/// A hash table, not a `match` (which compiles to 7 KiB of wasm) nor a scan
/// of the table (35 comparisons a payload key in Fluent Bit's interpreter).
fn known(key: &[u8]) -> Option<Known> {
    let (first, last) = match (key.first_chunk::<8>(), key.last_chunk::<8>()) {
        (Some(first), Some(last)) => (u64::from_le_bytes(*first), u64::from_le_bytes(*last)),
        _ => {
            let word = short_word(key);
            (word, word)
        }
    };
    let mut slot = known_slot(first, last, key.len());
    loop {
        let entry = *KNOWN_TABLE.get(slot)?;
        let (name, k) = *KNOWN_KEYS.get(usize::from(entry).checked_sub(1)?)?;
        if same(name, key) {
            return Some(k);
        }
        slot = (slot + 1) % KNOWN_SLOTS;
    }
}

/// A key of fewer than eight bytes as a little-endian word.
#[cold]
fn short_word(key: &[u8]) -> u64 {
    key.iter()
        .rev()
        .fold(0, |word, &b| word << 8 | u64::from(b))
}

/// The first slot to look in for a key of `len` bytes starting with the
/// little-endian word `first` and ending with `last` (both the key itself
/// when it is shorter than eight bytes).
const fn known_slot(first: u64, last: u64, len: usize) -> usize {
    let mixed = (first ^ last.rotate_left(29) ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> (64 - KNOWN_SLOT_BITS)) as usize
}

const KNOWN_SLOT_BITS: u32 = 6;
const KNOWN_SLOTS: usize = 1 << KNOWN_SLOT_BITS;

/// [`KNOWN_KEYS`] by [`known_slot`], linear probing: each slot holds an
/// index into the table plus one, 0 when empty. Built at compile time.
const KNOWN_TABLE: [u8; KNOWN_SLOTS] = {
    const fn word(key: &[u8], start: usize) -> u64 {
        let mut word = 0u64;
        let mut i = 0;
        while i < 8 && start + i < key.len() {
            word |= (key[start + i] as u64) << (8 * i);
            i += 1;
        }
        word
    }
    let mut table = [0u8; KNOWN_SLOTS];
    let mut i = 0;
    while i < KNOWN {
        let key = KNOWN_KEYS[i].0;
        let first = word(key, 0);
        let last = if key.len() >= 8 {
            word(key, key.len() - 8)
        } else {
            first
        };
        let mut slot = known_slot(first, last, key.len());
        while table[slot] != 0 {
            slot = (slot + 1) % KNOWN_SLOTS;
        }
        table[slot] = (i + 1) as u8;
        i += 1;
    }
    table
};

/// The payload's fields, with the known ones at hand. A known field is
/// "used" once a profile has put its value somewhere; the unused ones go to
/// the catch-all.
pub(crate) struct Fields<'a> {
    text: &'a [u8],
    pairs: &'a [Pair],
    /// Index in `pairs` of each known field present.
    slots: [Option<u16>; KNOWN],
    used: u64,
}

impl<'a> Fields<'a> {
    #[inline(never)]
    fn new(text: &'a [u8], pairs: &'a [Pair]) -> Self {
        let mut slots = [None; KNOWN];
        for (i, pair) in pairs.iter().enumerate() {
            if let (Some(k), Ok(i)) = (pair.known, u16::try_from(i))
                && let Some(slot) = slots.get_mut(k as usize)
            {
                *slot = Some(i);
            }
        }
        Fields {
            text,
            pairs,
            slots,
            used: 0,
        }
    }

    /// The JSON text of a known field's value.
    #[inline(never)]
    fn raw(&self, k: Known) -> Option<&'a [u8]> {
        let i = (*self.slots.get(k as usize)?)?;
        let pair = self.pairs.get(usize::from(i))?;
        self.text.get(pair.value.0..pair.value.1)
    }

    /// Marks a known field as mapped.
    pub(crate) fn use_(&mut self, k: Known) {
        self.used |= 1 << (k as u32);
    }

    pub(crate) fn present(&self, k: Known) -> bool {
        self.raw(k).is_some()
    }

    /// A string field's content, still JSON-encoded (without its quotes).
    #[inline(never)]
    pub(crate) fn string(&self, k: Known) -> Option<&'a [u8]> {
        let raw = self.raw(k)?;
        raw.strip_prefix(b"\"")?.strip_suffix(b"\"")
    }

    /// A number field's text (any JSON number).
    #[inline(never)]
    pub(crate) fn number(&self, k: Known) -> Option<&'a [u8]> {
        self.raw(k)
            .filter(|raw| matches!(raw.first(), Some(b'-' | b'0'..=b'9')))
    }

    /// Copies a non-negative integer up to `max` to `slot` and marks it
    /// used; returns it.
    #[inline(never)]
    pub(crate) fn uint_to(
        &mut self,
        k: Known,
        max: u64,
        event: &mut Event,
        slot: Slot,
    ) -> Option<u64> {
        let n = self.uint(k, max)?;
        event.uint(slot, n);
        self.use_(k);
        Some(n)
    }

    /// A field holding a non-negative JSON integer up to `max`.
    #[inline(never)]
    pub(crate) fn uint(&self, k: Known, max: u64) -> Option<u64> {
        parse_uint(self.raw(k)?).filter(|&n| n <= max)
    }

    /// The payload fields no profile rule used, in payload order.
    fn unused(&self) -> impl Iterator<Item = &'a Pair> + '_ {
        self.pairs.iter().filter(|pair| {
            pair.known
                .is_none_or(|k| self.used & (1 << (k as u32)) == 0)
        })
    }
}

/// Digits only (JSON allows no `+` or leading zeros; `1.0` and `1e3` are
/// not integers here); `None` when it overflows.
fn parse_uint(text: &[u8]) -> Option<u64> {
    if text.is_empty() || (text.len() > 1 && text.first() == Some(&b'0')) {
        return None;
    }
    // The overflow check by comparison: `checked_mul` on a u64 is a
    // 128-bit multiply call in wasm32, once per digit.
    text.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        if n > u64::MAX / 10 {
            return None;
        }
        (n * 10).checked_add(u64::from(digit))
    })
}

/// The largest integer an Elasticsearch `long` or an OCSF `long_t` holds.
pub(crate) const LONG_MAX: u64 = i64::MAX as u64;

/// The output leaves: dotted paths (JSON-encoded segments) and their values
/// (JSON text), written in any order, then sorted into nested objects.
pub(crate) struct Tree {
    paths: Vec<u8>,
    values: Vec<u8>,
    leaves: Vec<Leaf>,
    // Reused while writing (see [`Tree::write`]).
    ends: Vec<u32>,
    segments: Vec<(usize, usize)>,
    open: Vec<(usize, usize)>,
    last: Vec<Option<(usize, usize)>>,
}

#[derive(Clone, Copy)]
struct Leaf {
    /// The path's first 16 bytes as two words ([`sort_word`]): compared
    /// with [`word_order`], they order paths as [`path_order`] does, which
    /// then only looks past them on a tie.
    key: [u64; 2],
    path: (u32, u32),
    /// Its value runs to the next leaf's `value` (or the end).
    value: u32,
    /// Order written, so that of two equal paths the later one wins.
    order: u32,
}

impl Tree {
    pub(crate) const fn new() -> Self {
        Tree {
            paths: Vec::new(),
            values: Vec::new(),
            leaves: Vec::new(),
            ends: Vec::new(),
            segments: Vec::new(),
            open: Vec::new(),
            last: Vec::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.paths.clear();
        self.values.clear();
        self.leaves.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Starts a leaf at `path` (`a.b.c`); the caller writes its JSON value
    /// into the returned buffer.
    pub(crate) fn leaf(&mut self, path: &[u8]) -> &mut Vec<u8> {
        self.leaf2(b"", path)
    }

    /// [`Tree::leaf`] at `prefix` followed by `path`.
    #[inline(never)]
    pub(crate) fn leaf2(&mut self, prefix: &[u8], path: &[u8]) -> &mut Vec<u8> {
        let start = self.paths.len() as u32;
        self.paths.extend_from_slice(prefix);
        self.paths.extend_from_slice(path);
        let full = self.paths.get(start as usize..).unwrap_or_default();
        self.leaves.push(Leaf {
            key: [sort_word(full, 0), sort_word(full, 8)],
            path: (start, self.paths.len() as u32),
            value: self.values.len() as u32,
            order: self.leaves.len() as u32,
        });
        &mut self.values
    }

    /// Writes the leaves as one JSON object into `out`. Paths are compared
    /// segment by segment (`.` sorts before every other byte), so a leaf `a`
    /// comes right before the leaves under `a.`. Of two equal paths, the
    /// later written wins. A leaf that is also a prefix (`a` and `a.b`)
    /// keeps `a`, and writes `a.b` as a literal dotted key at `a`'s level:
    /// no key twice, no value lost. At most `max_segments` objects deep
    /// (Fluent Bit drops deep records): the rest of a longer path stays one
    /// dotted key.
    #[inline(never)]
    pub(crate) fn write_object(&mut self, max_segments: usize, out: &mut Vec<u8>) {
        let Tree {
            paths,
            values,
            leaves,
            ends,
            segments,
            open,
            last,
        } = self;
        // Values run to the next leaf's start, in written order.
        ends.clear();
        ends.extend(leaves.iter().skip(1).map(|l| l.value));
        ends.push(values.len() as u32);
        let paths: &[u8] = paths;
        let text = |range: (usize, usize)| paths.get(range.0..range.1).unwrap_or_default();
        let path_of = |leaf: &Leaf| text((leaf.path.0 as usize, leaf.path.1 as usize));
        sort_leaves(leaves, |a, b| {
            word_order(a.key[0], b.key[0])
                .then_with(|| word_order(a.key[1], b.key[1]))
                .then_with(|| path_order(path_of(a), path_of(b), 16))
                .then(a.order.cmp(&b.order))
        });
        // `open`: the names of the open objects, outermost first; `last`:
        // per depth (0 = the object written), the first segment of the last
        // key written there.
        open.clear();
        last.clear();
        last.push(None);
        out.push(b'{');
        for (index, leaf) in leaves.iter().enumerate() {
            let path = path_of(leaf);
            // A later leaf with the same path replaces this one.
            if leaves
                .get(index + 1)
                .is_some_and(|next| next.key == leaf.key && same(path_of(next), path))
            {
                continue;
            }
            let value_end = ends.get(leaf.order as usize).copied().unwrap_or(0);
            let value = values
                .get(leaf.value as usize..value_end as usize)
                .unwrap_or_default();
            let path_end = leaf.path.1 as usize;
            segments.clear();
            segments.extend(Segments::new(path, leaf.path.0 as usize));
            if segments.len() > max_segments {
                segments.truncate(max_segments);
                if let Some(last) = segments.last_mut() {
                    last.1 = path_end;
                }
            }
            let n = segments.len();
            // Stay inside the open objects this path shares.
            let mut depth = 0;
            while depth < open.len()
                && depth + 1 < n
                && open
                    .get(depth)
                    .zip(segments.get(depth))
                    .is_some_and(|(&o, &s)| same(text(o), text(s)))
            {
                depth += 1;
            }
            while open.len() > depth {
                open.pop();
                last.pop();
                out.push(b'}');
            }
            let Some(&first) = segments.get(depth) else {
                continue;
            };
            let previous = last.get(depth).copied().flatten();
            if previous.is_some_and(|l| same(text(l), text(first))) {
                // `a` is a leaf at this level: `a.b...` becomes one key.
                out.push(b',');
                push_key(out, text((first.0, path_end)));
                out.extend_from_slice(value);
                continue;
            }
            for (j, &segment) in segments.iter().enumerate().skip(depth) {
                let at = open.len();
                if last.get(at).copied().flatten().is_some() {
                    out.push(b',');
                }
                push_key(out, text(segment));
                if let Some(slot) = last.get_mut(at) {
                    *slot = Some(segment);
                }
                if j + 1 == n {
                    out.extend_from_slice(value);
                } else {
                    out.push(b'{');
                    open.push(segment);
                    last.push(None);
                }
            }
        }
        while open.pop().is_some() {
            out.push(b'}');
        }
        out.push(b'}');
    }

    /// Adds every leaf of this tree to `other`, at `prefix` followed by its
    /// path, in written order (for [`Event::write_reference`]).
    fn copy_leaves(&self, prefix: &[u8], other: &mut Tree) {
        let mut ends = self.leaves.iter().skip(1).map(|l| l.value as usize);
        for leaf in &self.leaves {
            let end = ends.next().unwrap_or(self.values.len());
            let path = self.paths.get(leaf.path.0 as usize..leaf.path.1 as usize);
            let value = self.values.get(leaf.value as usize..end);
            other
                .leaf2(prefix, path.unwrap_or_default())
                .extend_from_slice(value.unwrap_or_default());
        }
    }
}

/// Eight bytes of `path` from `at` as a little-endian word, `.` written as
/// 0x01 and missing bytes as 0x00: a path's bytes are JSON-encoded
/// segments, never below 0x20, so [`word_order`] of two such words orders
/// them as [`path_order`] orders their bytes.
fn sort_word(path: &[u8], at: usize) -> u64 {
    let word = match path.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        Some(bytes) => u64::from_le_bytes(*bytes),
        None => path
            .get(at..)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0, |word, &b| word << 8 | u64::from(b)),
    };
    // Lanes equal to `.`, exactly: zero after the xor.
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ 0x2e2e_2e2e_2e2e_2e2e;
    let dots = !(((x & LOW7) + LOW7) | x) & !LOW7;
    word ^ ((dots >> 7) * u64::from(b'.' ^ 0x01))
}

/// Two [`sort_word`]s in byte order: by their first differing byte.
fn word_order(a: u64, b: u64) -> Ordering {
    let differ = a ^ b;
    if differ == 0 {
        return Ordering::Equal;
    }
    let shift = differ.trailing_zeros() & !7;
    ((a >> shift) & 0xff).cmp(&((b >> shift) & 0xff))
}

/// Paths compared segment by segment (as bytes, with `.` before every other
/// byte, a path before its extensions) from byte `from`, eight bytes a step.
fn path_order(a: &[u8], b: &[u8], from: usize) -> Ordering {
    let mut at = from;
    while at < a.len() || at < b.len() {
        let order = word_order(sort_word(a, at), sort_word(b, at));
        if order != Ordering::Equal {
            return order;
        }
        at += 8;
    }
    Ordering::Equal
}

/// Byte equality, eight bytes a step (a slice `==` calls `memcmp`, which
/// Fluent Bit's interpreter runs byte by byte), the last bytes as one word.
// Out of line: five callers, none in a long loop (module size).
#[inline(never)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (words_a, _) = a.as_chunks::<8>();
    let (words_b, _) = b.as_chunks::<8>();
    words_a.iter().zip(words_b).all(|(x, y)| x == y) && last_word(a) == last_word(b)
}

/// The last eight bytes of `bytes` as a word, or all of them when fewer.
fn last_word(bytes: &[u8]) -> u64 {
    let tail = bytes.len().checked_sub(8).and_then(|at| bytes.get(at..));
    match tail.and_then(<[u8]>::first_chunk::<8>) {
        Some(word) => u64::from_le_bytes(*word),
        None => bytes.iter().fold(0, |word, &b| word << 8 | u64::from(b)),
    }
}

/// An insertion sort (stable, no recursion, no second buffer, small in
/// wasm; the standard sorts add several KiB to the module). An event has a
/// few dozen leaves, and most comparisons end at the first words of the
/// paths ([`Leaf::key`]).
#[inline(never)]
fn sort_leaves(leaves: &mut [Leaf], order: impl Fn(&Leaf, &Leaf) -> Ordering) {
    for i in 1..leaves.len() {
        let mut j = i;
        while j > 0 {
            match (leaves.get(j - 1), leaves.get(j)) {
                (Some(a), Some(b)) if order(a, b) == Ordering::Greater => leaves.swap(j - 1, j),
                _ => break,
            }
            j -= 1;
        }
    }
}

fn push_key(out: &mut Vec<u8>, key: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(key);
    out.extend_from_slice(b"\":");
}

/// The `.`-separated segments of a path, as ranges offset by `base`.
#[derive(Clone)]
struct Segments<'a> {
    path: &'a [u8],
    pos: usize,
    base: usize,
    done: bool,
}

impl<'a> Segments<'a> {
    fn new(path: &'a [u8], base: usize) -> Self {
        Segments {
            path,
            pos: 0,
            base,
            done: false,
        }
    }
}

impl Iterator for Segments<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        if self.done {
            return None;
        }
        let rest = self.path.get(self.pos..).unwrap_or_default();
        let start = self.pos;
        match Some(find_either(rest, b'.', b'.')).filter(|&dot| dot < rest.len()) {
            Some(dot) => {
                self.pos += dot + 1;
                Some((self.base + start, self.base + start + dot))
            }
            None => {
                self.done = true;
                Some((self.base + start, self.base + self.path.len()))
            }
        }
    }
}

/// What kind of IP literal `text` is (strict: no zone, no leading zeros in
/// IPv4, as the schemas' `ip` types accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ip {
    V4,
    V6,
}

pub(crate) fn ip_literal(text: &[u8]) -> Option<Ip> {
    if is_ipv4(text) {
        Some(Ip::V4)
    } else if is_ipv6(text) {
        Some(Ip::V6)
    } else {
        None
    }
}

/// Four decimal parts, each 0 to 255 without leading zeros.
#[inline(never)]
fn is_ipv4(text: &[u8]) -> bool {
    let (mut parts, mut value, mut digits) = (0, 0u32, 0);
    for (i, &b) in text.iter().enumerate() {
        if b.is_ascii_digit() {
            if digits > 0 && value == 0 {
                return false; // a leading zero
            }
            value = value * 10 + u32::from(b - b'0');
            digits += 1;
            if value > 255 {
                return false;
            }
        } else if b == b'.' && digits > 0 && i + 1 < text.len() {
            parts += 1;
            (value, digits) = (0, 0);
        } else {
            return false;
        }
    }
    parts == 3 && digits > 0
}

/// Eight groups of 1 to 4 hex digits, `::` standing for one or more zero
/// groups (once), the last two groups possibly written as IPv4.
#[inline(never)]
fn is_ipv6(text: &[u8]) -> bool {
    let (mut groups, mut digits, mut double) = (0, 0, false);
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b.is_ascii_hexdigit() {
            digits += 1;
            if digits > 4 {
                return false;
            }
        } else if b == b':' {
            if text.get(i + 1) == Some(&b':') {
                if double {
                    return false;
                }
                double = true;
                if digits > 0 {
                    groups += 1;
                }
                digits = 0;
                i += 2;
                continue;
            }
            // A single `:` ends a group, and another must follow.
            if digits == 0 || i + 1 == text.len() {
                return false;
            }
            groups += 1;
            digits = 0;
        } else if b == b'.' {
            // The rest, from this group's start, is IPv4.
            let start = i - digits;
            if !is_ipv4(text.get(start..).unwrap_or_default()) {
                return false;
            }
            groups += 2;
            digits = 0;
            break;
        } else {
            return false;
        }
        i += 1;
    }
    if digits > 0 {
        groups += 1;
    }
    if double { groups <= 7 } else { groups == 8 }
}

/// The latest instant written as RFC 3339 here: 9999-12-31T23:59:59.999Z.
pub(crate) const MAX_EPOCH_MS: u64 = 253_402_300_799_999;

/// Writes epoch milliseconds as RFC 3339 UTC with milliseconds
/// (`2021-06-10T01:29:45.643Z`), by the proleptic Gregorian calendar's
/// days-to-civil arithmetic. `ms` must be at most [`MAX_EPOCH_MS`].
pub(crate) fn push_rfc3339(out: &mut Vec<u8>, ms: u64) {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    // Days from 0000-03-01, in 400-year eras of 146097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    push_padded(out, year, 4);
    out.push(b'-');
    push_padded(out, month, 2);
    out.push(b'-');
    push_padded(out, day, 2);
    out.push(b'T');
    push_padded(out, of_day / 3600, 2);
    out.push(b':');
    push_padded(out, of_day / 60 % 60, 2);
    out.push(b':');
    push_padded(out, of_day % 60, 2);
    out.push(b'.');
    push_padded(out, ms % 1000, 3);
    out.push(b'Z');
}

/// `n` in decimal, zero-padded to `width` digits (its low `width` digits).
fn push_padded(out: &mut Vec<u8>, n: u64, width: u32) {
    for place in (0..width).rev() {
        out.push(b'0' + (n / 10u64.pow(place) % 10) as u8);
    }
}

impl<'a> Fields<'a> {
    /// Copies a string field to `slot` and marks it used; false when it is
    /// absent or not a string.
    #[inline(never)]
    pub(crate) fn string_to(&mut self, k: Known, event: &mut Event, slot: Slot) -> bool {
        let Some(text) = self.string(k) else {
            return false;
        };
        event.encoded(slot, text);
        self.use_(k);
        true
    }

    /// Copies a number field (its JSON text) to `slot` and marks it used.
    #[inline(never)]
    pub(crate) fn number_to(&mut self, k: Known, event: &mut Event, slot: Slot) -> bool {
        let Some(text) = self.number(k) else {
            return false;
        };
        event.json(slot, text);
        self.use_(k);
        true
    }

    /// The first of `keys` present as a string.
    #[inline(never)]
    pub(crate) fn first_string(&self, keys: &[Known]) -> Option<Known> {
        keys.iter().copied().find(|&k| self.string(k).is_some())
    }

    /// The client's autonomous system number: GeoIP writes it `"AS56478"`;
    /// a bare integer is taken too.
    #[inline(never)]
    pub(crate) fn as_number(&self) -> Option<u64> {
        if let Some(text) = self.string(Known::AsNumber) {
            let digits = text
                .strip_prefix(b"AS")
                .or_else(|| text.strip_prefix(b"as"))
                .unwrap_or(text);
            return parse_uint(digits).filter(|&n| n <= LONG_MAX);
        }
        self.uint(Known::AsNumber, LONG_MAX)
    }

    /// The client's coordinates, both from the same source (v1
    /// `client_geo.location` or v2 `location.geoip`), as JSON numbers.
    #[inline(never)]
    pub(crate) fn coordinates(&self) -> Option<(Known, Known)> {
        [
            (Known::GeoLatitude, Known::GeoLongitude),
            (Known::LocLat, Known::LocLon),
        ]
        .into_iter()
        .find(|&(lat, lon)| self.number(lat).is_some() && self.number(lon).is_some())
    }

    /// The country as an ISO 3166-1 alpha-2 code: v1 `country.iso_code`,
    /// or v2 `geoip.country` when it has that form.
    #[inline(never)]
    pub(crate) fn country_code(&self) -> Option<Known> {
        let alpha2 = |t: &[u8]| t.len() == 2 && t.iter().all(u8::is_ascii_uppercase);
        [Known::GeoCountryIso, Known::LocCountry]
            .into_iter()
            .find(|&k| self.string(k).is_some_and(alpha2))
    }

    /// A field's text and what kind of IP it is, when it is an IP literal.
    #[inline(never)]
    pub(crate) fn ip(&self, k: Known) -> Option<(&'a [u8], Ip)> {
        let text = self.string(k)?;
        Some((text, ip_literal(text)?))
    }
}

/// How the connection ended, from `event_type` and `error_message`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    Open,
    Close,
    Fail,
    Other,
}

impl Activity {
    /// `error_message` means a failed connection whatever `event_type` says;
    /// otherwise `established_connection` opens, `closed_connection` closes,
    /// `failed_to_connect` fails, and any other value is something else.
    pub(crate) fn of(fields: &Fields<'_>) -> Activity {
        if fields.present(Known::ErrorMessage) {
            return Activity::Fail;
        }
        // `same`, not a `match` on the strings: that compares with `memcmp`,
        // byte by byte in Fluent Bit's interpreter.
        let event_type = fields.string(Known::EventType).unwrap_or_default();
        if same(event_type, b"established_connection") {
            Activity::Open
        } else if same(event_type, b"closed_connection") {
            Activity::Close
        } else if same(event_type, b"failed_to_connect") {
            Activity::Fail
        } else {
            Activity::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PATH_MAX_SEGMENTS;

    fn tree(leaves: &[(&str, &str)]) -> String {
        let mut t = Tree::new();
        for (path, value) in leaves {
            t.leaf(path.as_bytes()).extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::new();
        t.write_object(PATH_MAX_SEGMENTS, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn sort_keys_order_paths_as_path_order_does() {
        let paths: [&[u8]; 14] = [
            b"a",
            b"a.b",
            b"a-b",
            b"a b",
            b"ab",
            b"source.geo.city_name",
            b"source.geo.country_iso_code",
            b"source.geo",
            b"source.geo.",
            b"twingate.connection.cbct_freshness",
            b"twingate.connection.tunnel_path",
            b"twingate.connection",
            "twingate.été.a".as_bytes(),
            "source.géo".as_bytes(),
        ];
        // The plain definition: byte by byte, `.` before every other byte,
        // a path before its extensions.
        let naive = |a: &[u8], b: &[u8]| {
            let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            let rank =
                |byte: Option<&u8>| byte.map(|&b| if b == b'.' { 0 } else { u16::from(b) + 1 });
            rank(a.get(common)).cmp(&rank(b.get(common)))
        };
        for a in paths {
            for b in paths {
                let by_key = word_order(sort_word(a, 0), sort_word(b, 0))
                    .then_with(|| word_order(sort_word(a, 8), sort_word(b, 8)))
                    .then_with(|| path_order(a, b, 16));
                assert_eq!(path_order(a, b, 0), naive(a, b));
                assert_eq!(
                    by_key,
                    naive(a, b),
                    "{} vs {}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                );
            }
        }
    }

    #[test]
    fn same_is_slice_equality() {
        let texts: Vec<Vec<u8>> = (0..20)
            .flat_map(|len| {
                let base: Vec<u8> = (0..len).map(|i| b'a' + (i % 7) as u8).collect();
                let mut changed = base.clone();
                if let Some(last) = changed.last_mut() {
                    *last = b'z';
                }
                let mut first = base.clone();
                if let Some(b) = first.first_mut() {
                    *b = 0;
                }
                [base, changed, first]
            })
            .collect();
        for a in &texts {
            for b in &texts {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn every_known_key_is_found_and_nothing_else() {
        for &(name, k) in &KNOWN_KEYS {
            assert_eq!(known(name), Some(k), "{}", String::from_utf8_lossy(name));
            let mut longer = name.to_vec();
            longer.push(b'x');
            assert_eq!(known(&longer), None);
            assert_eq!(known(&name[1..]), None);
            // Any one byte changed.
            for i in 0..name.len() {
                let mut changed = name.to_vec();
                changed[i] ^= 0x20;
                assert_eq!(
                    known(&changed),
                    None,
                    "{}",
                    String::from_utf8_lossy(&changed)
                );
            }
        }
        for other in [
            &b""[..],
            b"a",
            b"rx",
            b"user",
            b"connection.id.x",
            b"timestamp2",
        ] {
            assert_eq!(known(other), None);
        }
    }

    #[test]
    fn leaves_become_nested_objects_sorted_by_segment() {
        assert_eq!(
            tree(&[
                ("b.y", "2"),
                ("a", "0"),
                ("b.x.z", "1"),
                ("b-c", "3"),
                ("b.x.w", "4")
            ]),
            r#"{"a":0,"b":{"x":{"w":4,"z":1},"y":2},"b-c":3}"#
        );
        assert_eq!(tree(&[]), "{}");
        assert_eq!(tree(&[("@timestamp", r#""t""#)]), r#"{"@timestamp":"t"}"#);
    }

    #[test]
    fn a_leaf_that_is_also_a_prefix_keeps_both_values_and_no_key_twice() {
        // `{"a":1,"a.b":2}` and deeper: the later path becomes a literal
        // dotted key next to the leaf.
        assert_eq!(
            tree(&[("t.a.b", "2"), ("t.a", "1"), ("t.a.c.d", "3"), ("t.b", "4")]),
            r#"{"t":{"a":1,"a.b":2,"a.c.d":3,"b":4}}"#
        );
        assert_eq!(tree(&[("a.b", "2"), ("a", "1")]), r#"{"a":1,"a.b":2}"#);
        // Empty segments are keys like any other.
        assert_eq!(
            tree(&[("t..x", "1"), ("t.", "2")]),
            r#"{"t":{"":2,".x":1}}"#
        );
    }

    #[test]
    fn of_two_equal_paths_the_later_wins() {
        assert_eq!(
            tree(&[("t.a", "1"), ("t.b", "2"), ("t.a", "3")]),
            r#"{"t":{"a":3,"b":2}}"#
        );
    }

    #[test]
    fn deep_paths_nest_sixteen_segments_then_stay_one_dotted_key() {
        // 5000 segments: no recursion, and no deeper output than the bound.
        let path = vec!["a"; 5000].join(".");
        let rest = vec!["a"; 5000 - (PATH_MAX_SEGMENTS - 1)].join(".");
        let opens = r#""a":{"#.repeat(PATH_MAX_SEGMENTS - 1);
        let closes = "}".repeat(PATH_MAX_SEGMENTS);
        assert_eq!(
            tree(&[(&path, "1")]),
            format!(r#"{{{opens}"{rest}":1{closes}"#)
        );
        // At the bound exactly, every segment is an object key.
        let path = vec!["b"; PATH_MAX_SEGMENTS].join(".");
        let opens = r#""b":{"#.repeat(PATH_MAX_SEGMENTS - 1);
        assert_eq!(
            tree(&[(&path, "[]")]),
            format!(r#"{{{opens}"b":[]{closes}"#)
        );
    }

    #[test]
    fn the_flat_reader_reads_what_the_writer_writes() {
        let text = br#"{"a":1,"b.c":"x\"}","d":[{"e":"]"},2],"f":{},"g":null,"h":-1.5e3}"#;
        let mut pairs = Vec::new();
        read_pairs(text, &mut pairs);
        let got: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|p| (&text[p.key.0..p.key.1], &text[p.value.0..p.value.1]))
            .collect();
        let want: Vec<(&[u8], &[u8])> = vec![
            (b"a", b"1"),
            (b"b.c", br#""x\"}""#),
            (b"d", br#"[{"e":"]"},2]"#),
            (b"f", b"{}"),
            (b"g", b"null"),
            (b"h", b"-1.5e3"),
        ];
        assert_eq!(got, want);
        read_pairs(b"{}", &mut pairs);
        assert!(pairs.is_empty());
        // Garbage never panics.
        read_pairs(b"{\"a", &mut pairs);
        read_pairs(b"", &mut pairs);
    }

    #[test]
    fn integers_only_digits_without_overflow() {
        assert_eq!(parse_uint(b"0"), Some(0));
        assert_eq!(parse_uint(b"1623288585643"), Some(1_623_288_585_643));
        assert_eq!(parse_uint(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b"-1",
            b"1.0",
            b"1e3",
            b"01",
            b"",
            b"\"1\"",
        ] {
            assert_eq!(parse_uint(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ip_literals() {
        for v4 in ["0.0.0.0", "10.0.12.7", "255.255.255.255", "124.214.168.162"] {
            assert_eq!(ip_literal(v4.as_bytes()), Some(Ip::V4), "{v4}");
        }
        for v6 in [
            "::",
            "::1",
            "1::",
            "fe80::1",
            "2001:db8:0:0:0:0:2:1",
            "200a:1fbe:8397:63cf:202e:ad9a:b9d7:8b6c",
            "::ffff:192.0.2.1",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:1.2.3.4",
        ] {
            assert_eq!(ip_literal(v6.as_bytes()), Some(Ip::V6), "{v6}");
        }
        for not in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "01.2.3.4",
            "1..2.3",
            "1.2.3.4.",
            "host.autoco.internal",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":::",
            ":1::",
            "1:",
            "12345::",
            "g::1",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3",
            " 1.2.3.4",
        ] {
            assert_eq!(ip_literal(not.as_bytes()), None, "{not}");
        }
        // The same answers as the standard library's parser.
        for text in [
            "::1.2.3.4",
            "1::1.2.3.4",
            "::ffff:1.2.3.4",
            "1:2::3:4:5:6:7",
            "1:2:3:4:5:6:7::",
        ] {
            let std = text.parse::<std::net::IpAddr>().is_ok();
            assert_eq!(ip_literal(text.as_bytes()).is_some(), std, "{text}");
        }
    }

    #[test]
    fn rfc3339_from_epoch_milliseconds() {
        let format = |ms| {
            let mut out = Vec::new();
            push_rfc3339(&mut out, ms);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(format(0), "1970-01-01T00:00:00.000Z");
        // The SPEC's example line.
        assert_eq!(format(1_623_288_585_643), "2021-06-10T01:29:45.643Z");
        assert_eq!(format(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(format(MAX_EPOCH_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn rfc3339_agrees_with_counting_days() {
        // Walk day by day from 1970 through 2400 (leap rules of 4, 100 and
        // 400 years), checking the date each midnight.
        let (mut year, mut month, mut day) = (1970u64, 1u64, 1u64);
        for days in 0..157_000u64 {
            let mut out = Vec::new();
            push_rfc3339(&mut out, days * 86_400_000 + 86_399_999);
            let want = format!("{year:04}-{month:02}-{day:02}T23:59:59.999Z");
            assert_eq!(String::from_utf8(out).unwrap(), want);
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let month_days = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            day += 1;
            if day > month_days[month as usize - 1] {
                (day, month) = (1, month + 1);
                if month > 12 {
                    (month, year) = (1, year + 1);
                }
            }
        }
    }
}
