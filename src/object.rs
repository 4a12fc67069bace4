//! The output object: fields are written straight into one reused buffer,
//! then duplicate keys are resolved (the last one wins, at its own place).
//!
//! Two groups of fields: the record's own (`front_field`), which come first
//! in the output, and everything else (`field`): the payload and the
//! `twingate.*` fields. An event's payload is parsed before the record's
//! later fields are known, so the buffer starts with a gap and the record's
//! fields are dropped into it at the end: nothing is moved.
//!
//! Duplicates are rare (a repeated key in the payload, `a.b` next to
//! `{"a":{"b":..}}`, a payload key equal to a record key), so the common
//! path only hashes each key once, cheaply; compaction runs only when one is
//! found. "The last value wins" is meant as a JSON parser means it: a key
//! repeated in one object replaces the whole earlier value, with every field
//! under it. So each object the payload opens is remembered too (an entry
//! that writes nothing), and each field knows the object it sits in.

use alloc::vec::Vec;

/// Room kept before the payload for the record's own fields; a record whose
/// fields need more is handled by shifting once.
const GAP: usize = 256;

/// Every field is written as `,"key":value`; `finish` turns the first comma
/// into the object's `{`. Uniform segments make moving and dropping fields
/// simple.
#[derive(Clone, Copy)]
struct Entry {
    /// Index of the comma before the field.
    start: usize,
    /// Index just past the key's last byte; 0 marks a field that a later one
    /// with the same key replaced.
    key_end: usize,
    /// A cheap hash of the key, taken while it is fresh.
    hash: u32,
    /// The object it sits in: the index of that object's entry in
    /// `entries`, or [`PAYLOAD`] / [`RECORD`] at the top.
    parent: u32,
    /// An object of the payload (`connection` of `connection.id`), which
    /// writes nothing: its key is the start of the next field's key, and
    /// `start` is where that field starts.
    opens: bool,
}

/// The parent of the top-level fields of the payload (and of `twingate.*`).
const PAYLOAD: u32 = u32::MAX;
/// The parent of the record's own fields: a record key and a payload key of
/// the same name are two keys (the later replaces the earlier only when the
/// flattened keys collide), never one key written twice.
const RECORD: u32 = u32::MAX - 1;

#[derive(Clone, Copy, Default)]
struct Slot {
    stamp: u32,
    hash: u32,
    parent: u32,
    /// Where the kept field's key lies in the output.
    key_start: u32,
    key_end: u32,
}

pub(crate) struct ObjectWriter {
    /// `[gap][fields]`, then `}` and a NUL once finished.
    out: Vec<u8>,
    /// Where the finished text starts (its `{`).
    head: usize,
    entries: Vec<Entry>,
    /// The record's own fields, positioned in `front` until `finish`.
    front: Vec<u8>,
    front_entries: Vec<Entry>,
    /// Open-addressing table of entry indexes; a slot is live only when its
    /// stamp equals `stamp`, so it never needs clearing.
    slots: Vec<Slot>,
    stamp: u32,
    spare: Vec<u8>,
    /// One bit per key hash seen since `begin`: `finish` looks for
    /// duplicates only when a bit was hit twice (a repeat, or rarely two keys
    /// sharing a bit), so the common record skips the table.
    seen: [u64; SEEN_WORDS],
    maybe_repeated: bool,
    /// The object the next field goes into (see [`ObjectWriter::open`]).
    parent: u32,
}

/// 4,096 bits: a 30-field event shares a bit in about one case in ten.
const SEEN_WORDS: usize = 64;

/// The duplicate-key table for one pass of `finish`.
struct Table<'a> {
    slots: &'a mut [Slot],
    stamp: u32,
    mask: usize,
    shift: u32,
    out: &'a [u8],
    /// Keys are the same only in the same object (a repeated key), or
    /// wherever they sit (colliding dotted keys).
    same_object: bool,
}

impl Table<'_> {
    /// Records `entry`'s key; if a later entry has it already, marks the
    /// entry replaced and says so.
    // Out of line: only records that may repeat a key come here.
    #[inline(never)]
    fn replaced(&mut self, entry: &mut Entry) -> bool {
        let parent = if self.same_object { entry.parent } else { 0 };
        let mix = entry.hash ^ parent.wrapping_mul(0x85eb_ca6b);
        let mut at = (mix.wrapping_mul(0x9e37_79b9) >> self.shift) as usize;
        while let Some(slot) = self.slots.get_mut(at) {
            if slot.stamp != self.stamp {
                *slot = Slot {
                    stamp: self.stamp,
                    hash: entry.hash,
                    parent,
                    key_start: (entry.start + 2) as u32,
                    key_end: entry.key_end as u32,
                };
                return false;
            }
            if slot.hash == entry.hash && slot.parent == parent {
                let kept = self.out.get(slot.key_start as usize..slot.key_end as usize);
                if kept.is_some() && kept == self.out.get(entry.start + 2..entry.key_end) {
                    entry.key_end = 0;
                    return true;
                }
            }
            at = (at + 1) & self.mask;
        }
        false
    }
}

/// A point to return to (see [`ObjectWriter::rollback`]).
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    out: usize,
    entries: usize,
    parent: u32,
}

impl ObjectWriter {
    pub(crate) const fn new() -> Self {
        ObjectWriter {
            out: Vec::new(),
            head: 0,
            entries: Vec::new(),
            front: Vec::new(),
            front_entries: Vec::new(),
            slots: Vec::new(),
            stamp: 0,
            spare: Vec::new(),
            seen: [0; SEEN_WORDS],
            maybe_repeated: false,
            parent: PAYLOAD,
        }
    }

    /// Starts a new object.
    // Out of line: called once per record from several places (module size).
    #[inline(never)]
    pub(crate) fn begin(&mut self) {
        self.out.clear();
        self.out.resize(GAP, b' ');
        self.head = GAP;
        self.seen = [0; SEEN_WORDS];
        self.maybe_repeated = false;
        self.parent = PAYLOAD;
        self.entries.clear();
        self.front.clear();
        self.front_entries.clear();
    }

    /// Nothing written: the record is dropped.
    pub(crate) fn clear(&mut self) {
        self.out.clear();
        self.head = 0;
        self.entries.clear();
    }

    /// Starts a field after those written so far: writes
    /// `"<prefix><key>":` (both already JSON-encoded); the caller writes the
    /// value into the returned buffer.
    #[inline]
    pub(crate) fn field(&mut self, prefix: &[u8], key: &[u8]) -> &mut Vec<u8> {
        let entry = start_field(&mut self.out, prefix, key, self.parent);
        self.note(entry.hash);
        self.entries.push(entry);
        &mut self.out
    }

    /// Writes a whole field, `"<prefix><key>":<value>`, and a `"` after the
    /// value when `close_quote`: one reservation and four copies. Without
    /// the bookkeeping that resolving a repeated key needs: for the in-place
    /// fast path, which gives up (and leaves the record to the general path)
    /// when [`ObjectWriter::maybe_repeated`] says a key may repeat.
    #[inline(always)]
    pub(crate) fn put_field(&mut self, prefix: &[u8], key: &[u8], value: &[u8], close_quote: bool) {
        let entry = write_field(&mut self.out, prefix, key, value, close_quote, self.parent);
        self.note(entry.hash);
    }
    /// [`ObjectWriter::open`] for the fast path: the object's key is only
    /// noted (see [`ObjectWriter::put_field`]).
    #[inline(always)]
    pub(crate) fn note_path(&mut self, path: &[u8]) {
        self.note(key_hash(path, 0, path.len()));
    }

    /// Starts one of the record's own fields, which go before every
    /// [`ObjectWriter::field`] whenever they are written.
    pub(crate) fn front_field(&mut self, key: &[u8]) -> &mut Vec<u8> {
        let entry = start_field(&mut self.front, b"", key, RECORD);
        self.note(entry.hash);
        self.front_entries.push(entry);
        &mut self.front
    }

    /// The payload opens a non-empty object at `path` (its dotted key,
    /// JSON-encoded, as its fields' keys start): the fields written until
    /// [`ObjectWriter::close`] sit in it. Returns what `close` needs.
    // Out of line: module size (96 KiB); a few calls per record.
    #[inline(never)]
    pub(crate) fn open(&mut self, path: &[u8]) -> u32 {
        let start = self.out.len();
        let hash = key_hash(path, 0, path.len());
        self.note(hash);
        let outer = self.parent;
        self.parent = self.entries.len() as u32;
        self.entries.push(Entry {
            start,
            key_end: start + 2 + path.len(),
            hash,
            parent: outer,
            opens: true,
        });
        outer
    }

    /// The object opened by the [`ObjectWriter::open`] that returned
    /// `outer` is complete.
    #[inline(always)]
    pub(crate) fn close(&mut self, outer: u32) {
        self.parent = outer;
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            out: self.out.len(),
            entries: self.entries.len(),
            parent: self.parent,
        }
    }

    /// Forgets the fields and objects written since `mark`.
    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.out.truncate(mark.out);
        self.entries.truncate(mark.entries);
        self.parent = mark.parent;
    }

    /// Replaces the output with `text` verbatim (a record passed on as it is).
    pub(crate) fn verbatim(&mut self, text: &[u8]) {
        self.clear();
        self.out.extend_from_slice(text);
        self.out.push(0);
    }

    /// Closes the object (after placing the record's fields and resolving
    /// duplicate keys) and appends the NUL terminator the Fluent Bit host
    /// needs.
    pub(crate) fn finish(&mut self) {
        self.place_front();
        if self.maybe_repeated && self.mark_replaced() {
            self.compact();
        }
        // The first field's comma becomes the `{`; with no field, write one.
        if self.out.len() == self.head {
            self.head = self.head.saturating_sub(1);
        }
        if let Some(first) = self.out.get_mut(self.head) {
            *first = b'{';
        }
        self.out.push(b'}');
        self.out.push(0);
    }

    /// The finished text, without its NUL.
    pub(crate) fn text(&self) -> &[u8] {
        let text = self.out.get(self.head..).unwrap_or_default();
        text.split_last().map_or(&[], |(_, text)| text)
    }

    /// The finished text with its NUL, or nothing when dropped.
    pub(crate) fn c_str(&self) -> Option<&[u8]> {
        self.out.get(self.head..).filter(|text| !text.is_empty())
    }

    /// Remembers a key's hash as two bits of the filter; both already set
    /// means a possible repeat (one key in about 1,500 of a 30-field
    /// event's by chance, so [`ObjectWriter::put_field`]'s callers can
    /// afford to start over the general way when it happens).
    #[inline(always)]
    fn note(&mut self, hash: u32) {
        let (first, second) = (hash >> 20, hash >> 8);
        let (bit1, bit2) = (1u64 << (first & 63), 1u64 << (second & 63));
        let (at1, at2) = ((first >> 6) as usize, (second >> 6) as usize % SEEN_WORDS);
        let old1 = self.seen.get(at1 % SEEN_WORDS).copied().unwrap_or(0);
        let old2 = self.seen.get(at2).copied().unwrap_or(0);
        self.maybe_repeated |= old1 & bit1 != 0 && old2 & bit2 != 0;
        if let Some(word) = self.seen.get_mut(at1 % SEEN_WORDS) {
            *word |= bit1;
        }
        if let Some(word) = self.seen.get_mut(at2) {
            *word |= bit2;
        }
    }

    /// Whether a key may have been written twice since `begin` (see
    /// [`ObjectWriter::put_field`]).
    pub(crate) fn maybe_repeated(&self) -> bool {
        self.maybe_repeated
    }

    /// Moves the record's fields into the gap, just before the others.
    fn place_front(&mut self) {
        let len = self.front.len();
        if len > self.head {
            // Rare: more record fields than the gap holds. Widen it once.
            let more = len - self.head;
            self.out.splice(0..0, core::iter::repeat_n(b' ', more));
            self.head += more;
            for entry in &mut self.entries {
                entry.start += more;
                entry.key_end += more;
            }
        }
        let start = self.head - len;
        // A slice of exactly `len` bytes: the copy cannot fail (and so
        // carries no panic path).
        let front = &self.front;
        if let Some(gap) = self
            .out
            .get_mut(start..)
            .and_then(|g| g.get_mut(..front.len()))
        {
            gap.copy_from_slice(front);
        }
        for entry in &mut self.front_entries {
            entry.start += start;
            entry.key_end += start;
        }
        self.head = start;
    }

    /// The entry at `i` in output order (front entries first).
    fn entry(&self, i: usize) -> Option<Entry> {
        match i.checked_sub(self.front_entries.len()) {
            None => self.front_entries.get(i).copied(),
            Some(j) => self.entries.get(j).copied(),
        }
    }

    /// Marks every field that a later one replaces; true if any. Two
    /// passes: in each object the last of a key wins, with everything under
    /// it (what a JSON parser keeps); then, of the fields left, the last of
    /// each dotted key wins (`a.b` beside `{"a":{"b":..}}`, a payload key
    /// equal to a record key).
    fn mark_replaced(&mut self) -> bool {
        let ObjectWriter {
            out,
            entries,
            front_entries,
            slots,
            stamp,
            ..
        } = self;
        let n = front_entries.len() + entries.len();
        let bits = (2 * n).next_power_of_two().trailing_zeros().max(1);
        let size = 1usize << bits;
        if slots.len() < size {
            slots.resize(size, Slot::default());
        }
        let slots = slots.get_mut(..size).unwrap_or_default();
        let mut any = false;
        for same_object in [true, false] {
            *stamp = stamp.wrapping_add(1);
            if *stamp == 0 {
                slots.fill(Slot::default());
                *stamp = 1;
            }
            let mut table = Table {
                slots: &mut *slots,
                stamp: *stamp,
                mask: size - 1,
                shift: 32 - bits,
                out,
                same_object,
            };
            // Latest first (the payload's, then the record's): the first
            // occurrence seen of a key is the one kept. The second pass
            // compares fields only (an object is not a field: `a.b` beside
            // `{"a":{"b":{"c":1}}}` is two fields, `a.b` and `a.b.c`).
            let live = |e: &&mut Entry| e.key_end != 0 && (same_object || !e.opens);
            for entry in entries.iter_mut().rev().filter(live) {
                any |= table.replaced(entry);
            }
            for entry in front_entries.iter_mut().rev().filter(live) {
                any |= table.replaced(entry);
            }
            if same_object && any {
                // What lay under a replaced object goes with it (an object's
                // entry comes before everything under it).
                for i in 0..entries.len() {
                    let parent = entries.get(i).map_or(PAYLOAD, |e| e.parent) as usize;
                    if entries.get(parent).is_some_and(|p| p.key_end == 0)
                        && let Some(entry) = entries.get_mut(i)
                    {
                        entry.key_end = 0;
                    }
                }
            }
        }
        any
    }

    /// Rewrites the fields without the replaced ones.
    fn compact(&mut self) {
        self.spare.clear();
        self.spare
            .extend_from_slice(self.out.get(..self.head).unwrap_or_default());
        let n = self.front_entries.len() + self.entries.len();
        for i in 0..n {
            let Some(entry) = self.entry(i) else { continue };
            // A field ends where the next one starts, or at the end.
            let end = self.entry(i + 1).map_or(self.out.len(), |next| next.start);
            if entry.key_end != 0 {
                self.spare
                    .extend_from_slice(self.out.get(entry.start..end).unwrap_or_default());
            }
        }
        core::mem::swap(&mut self.out, &mut self.spare);
        self.entries.clear();
        self.front_entries.clear();
        // Keep a field for `finish` to open with `{`, unless none is left.
        if self.out.len() > self.head {
            self.front_entries.push(Entry {
                start: self.head,
                key_end: self.head,
                hash: 0,
                parent: RECORD,
                opens: false,
            });
        }
    }
}

/// Writes `,"<prefix><key>":` at the end of `buf`.
#[inline]
fn start_field(buf: &mut Vec<u8>, prefix: &[u8], key: &[u8], parent: u32) -> Entry {
    let start = buf.len();
    let key_end = start + 2 + prefix.len() + key.len();
    buf.reserve(key_end + 2 - start);
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(prefix);
    buf.extend_from_slice(key);
    buf.extend_from_slice(b"\":");
    Entry {
        start,
        key_end,
        hash: key_hash(buf, start + 2, key_end),
        parent,
        opens: false,
    }
}

/// Writes `,"<prefix><key>":<value>` and, when `close_quote`, a `"` at the
/// end of `buf`.
#[inline]
fn write_field(
    buf: &mut Vec<u8>,
    prefix: &[u8],
    key: &[u8],
    value: &[u8],
    close_quote: bool,
    parent: u32,
) -> Entry {
    let start = buf.len();
    let key_start = start + 2;
    let key_end = key_start + prefix.len() + key.len();
    let value_start = key_end + 2;
    // Filled with `"`: the key's quotes and the closing quote are written.
    buf.resize(value_start + value.len() + usize::from(close_quote), b'"');
    let bytes = buf.as_mut_slice();
    if let Some(comma) = bytes.get_mut(start) {
        *comma = b',';
    }
    if let Some(colon) = bytes.get_mut(key_end + 1) {
        *colon = b':';
    }
    let mut put = |at: usize, part: &[u8]| {
        if let Some(dst) = bytes.get_mut(at..).and_then(|d| d.get_mut(..part.len())) {
            dst.copy_from_slice(part);
        }
    };
    put(key_start, prefix);
    put(key_start + prefix.len(), key);
    put(value_start, value);
    Entry {
        start,
        key_end,
        hash: key_hash(buf, key_start, key_end),
        parent,
        opens: false,
    }
}

/// A cheap key hash: the key's length and its last eight bytes, one word
/// read without a loop (a short key's word is the bytes just before its end,
/// the ones before the key shifted out). Keys that share both only cost a
/// comparison.
// Out of line: one copy for fields and objects (module size).
#[inline(never)]
fn key_hash(buf: &[u8], start: usize, end: usize) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let len = end.saturating_sub(start);
    let tail = end
        .checked_sub(8)
        .and_then(|at| buf.get(at..end))
        .and_then(|b| b.first_chunk::<8>())
        .map(|b| u64::from_le_bytes(*b));
    let last = match tail {
        Some(word) if len >= 8 => word,
        Some(word) => word.checked_shr(64 - 8 * len as u32).unwrap_or(0),
        // Within the first eight bytes of the buffer: the same value, byte
        // by byte.
        None => buf
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
    };
    // The length goes in at the low end, so that the multiply carries it
    // into every bit the filter reads.
    (last.wrapping_add(len as u64).wrapping_mul(K) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(fields: &[(&str, &str)]) -> String {
        let mut w = ObjectWriter::new();
        w.begin();
        for (k, v) in fields {
            w.field(b"", k.as_bytes()).extend_from_slice(v.as_bytes());
        }
        w.finish();
        assert_eq!(w.c_str().unwrap().last(), Some(&0));
        String::from_utf8(w.text().to_vec()).unwrap()
    }

    #[test]
    fn fields_in_order() {
        assert_eq!(write(&[("a", "1"), ("b", "\"x\"")]), r#"{"a":1,"b":"x"}"#);
        assert_eq!(write(&[]), "{}");
    }

    #[test]
    fn last_duplicate_wins_at_its_own_place() {
        assert_eq!(
            write(&[("a", "1"), ("b", "2"), ("a", "3")]),
            r#"{"b":2,"a":3}"#
        );
        assert_eq!(write(&[("a", "1"), ("a", "2"), ("a", "3")]), r#"{"a":3}"#);
        assert_eq!(
            write(&[("x", "1"), ("a", "2"), ("x", "3"), ("a", "4"), ("y", "5")]),
            r#"{"x":3,"a":4,"y":5}"#
        );
        let long = "connection.client_geo.country.iso_code";
        assert_eq!(
            write(&[(long, "1"), ("b", "2"), (long, "3")]),
            format!(r#"{{"b":2,"{long}":3}}"#)
        );
    }

    #[test]
    fn keys_that_share_their_ends_are_still_different() {
        let (a, b) = (
            "connection.client_geo.aaaa.iso_code",
            "connection.client_geo.bbbb.iso_code",
        );
        assert_eq!(
            write(&[(a, "1"), (b, "2")]),
            format!(r#"{{"{a}":1,"{b}":2}}"#)
        );
    }

    #[test]
    fn many_distinct_keys_survive_hash_collisions() {
        let keys: Vec<String> = (0..5000).map(|i| format!("k{i}")).collect();
        let fields: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "0")).collect();
        let v: serde_json::Value = serde_json::from_str(&write(&fields)).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 5000);
    }

    #[test]
    fn rollback_forgets_fields() {
        let mut w = ObjectWriter::new();
        w.begin();
        w.field(b"", b"a").push(b'1');
        let mark = w.mark();
        w.field(b"p.", b"b").push(b'2');
        w.rollback(mark);
        w.field(b"", b"c").push(b'3');
        w.finish();
        assert_eq!(w.text(), br#"{"a":1,"c":3}"#);
    }

    #[test]
    fn record_fields_go_first_whenever_written_and_lose_to_later_fields() {
        let mut w = ObjectWriter::new();
        w.begin();
        w.field(b"", b"p").push(b'1');
        w.front_field(b"stream").extend_from_slice(b"\"s\"");
        w.field(b"", b"stream").push(b'2');
        w.front_field(b"time").extend_from_slice(b"\"t\"");
        w.finish();
        assert_eq!(w.text(), br#"{"time":"t","p":1,"stream":2}"#);
    }

    #[test]
    fn record_fields_larger_than_the_gap() {
        let mut w = ObjectWriter::new();
        w.begin();
        w.field(b"", b"p").push(b'1');
        let big = "x".repeat(3 * GAP);
        w.front_field(b"big")
            .extend_from_slice(format!("\"{big}\"").as_bytes());
        w.finish();
        assert_eq!(w.text(), format!(r#"{{"big":"{big}","p":1}}"#).as_bytes());
    }

    #[test]
    fn only_record_fields_and_no_fields() {
        let mut w = ObjectWriter::new();
        w.begin();
        w.front_field(b"a").push(b'1');
        w.front_field(b"a").push(b'2');
        w.finish();
        assert_eq!(w.text(), br#"{"a":2}"#);
        w.begin();
        w.finish();
        assert_eq!(w.text(), b"{}");
        assert_eq!(w.c_str(), Some(&b"{}\0"[..]));
    }

    #[test]
    fn the_stamp_wrapping_clears_the_table() {
        let mut w = ObjectWriter::new();
        w.stamp = u32::MAX;
        w.begin();
        w.field(b"", b"a").push(b'1');
        w.field(b"", b"a").push(b'2');
        w.finish();
        assert_eq!(w.text(), br#"{"a":2}"#);
        w.begin();
        w.field(b"", b"a").push(b'1');
        w.field(b"", b"b").push(b'2');
        w.finish();
        assert_eq!(w.text(), br#"{"a":1,"b":2}"#);
    }
}
