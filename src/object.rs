//! The output object: fields are written straight into one reused buffer,
//! then duplicate keys are resolved (the last one wins, at its own place).
//!
//! Duplicates are rare (a repeated key in the payload, `a.b` next to
//! `{"a":{"b":..}}`, a payload key equal to a record key), so the common
//! path only hashes each key once; compaction runs only when one is found.

use crate::scan::hash_key;

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
}

#[derive(Clone, Copy, Default)]
struct Slot {
    stamp: u32,
    entry: u32,
}

pub(crate) struct ObjectWriter {
    out: Vec<u8>,
    entries: Vec<Entry>,
    /// Open-addressing table of entry indexes; a slot is live only when its
    /// stamp equals `stamp`, so it never needs clearing.
    slots: Vec<Slot>,
    stamp: u32,
    spare: Vec<u8>,
}

/// A point to return to (see [`ObjectWriter::rollback`]).
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    out: usize,
    entries: usize,
}

impl ObjectWriter {
    pub(crate) const fn new() -> Self {
        ObjectWriter {
            out: Vec::new(),
            entries: Vec::new(),
            slots: Vec::new(),
            stamp: 0,
            spare: Vec::new(),
        }
    }

    /// Starts a new object.
    pub(crate) fn begin(&mut self) {
        self.out.clear();
        self.entries.clear();
    }

    /// Nothing written: the record is dropped.
    pub(crate) fn clear(&mut self) {
        self.out.clear();
        self.entries.clear();
    }

    /// Starts a field: writes `"<prefix><key>":` (both already JSON-encoded);
    /// the caller writes the value into [`ObjectWriter::value`].
    #[inline]
    pub(crate) fn field(&mut self, prefix: &[u8], key: &[u8]) -> &mut Vec<u8> {
        let start = self.out.len();
        self.out.extend_from_slice(b",\"");
        self.out.extend_from_slice(prefix);
        self.out.extend_from_slice(key);
        let key_end = self.out.len();
        self.out.extend_from_slice(b"\":");
        self.entries.push(Entry { start, key_end });
        &mut self.out
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            out: self.out.len(),
            entries: self.entries.len(),
        }
    }

    /// Forgets everything written since `mark`.
    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.out.truncate(mark.out);
        self.entries.truncate(mark.entries);
    }

    /// Replaces the output with `text` verbatim (a record passed on as it is).
    pub(crate) fn verbatim(&mut self, text: &[u8]) {
        self.clear();
        self.out.extend_from_slice(text);
        self.out.push(0);
    }

    /// Moves the fields written since `mark` before those written since
    /// `earlier` (which must be older): `[A][B][C]` with marks at B and C
    /// becomes `[A][C][B]`. Fields keep their order within each group.
    pub(crate) fn move_before(&mut self, earlier: Mark, mark: Mark) {
        let (b_start, c_start) = (earlier.out, mark.out);
        let (b_len, c_len) = (c_start - b_start, self.out.len() - c_start);
        if b_len == 0 || c_len == 0 {
            return;
        }
        if let Some(region) = self.out.get_mut(b_start..) {
            region.rotate_left(b_len);
        }
        for (i, entry) in self.entries.iter_mut().enumerate() {
            if i >= mark.entries {
                entry.start -= b_len;
                entry.key_end -= b_len;
            } else if i >= earlier.entries {
                entry.start += c_len;
                entry.key_end += c_len;
            }
        }
        if let Some(moved) = self.entries.get_mut(earlier.entries..) {
            moved.rotate_left(mark.entries - earlier.entries);
        }
    }

    /// Closes the object (after resolving duplicate keys) and appends the
    /// NUL terminator the Fluent Bit host needs.
    pub(crate) fn finish(&mut self) {
        if self.entries.len() > 1 && self.mark_replaced() {
            self.compact();
        }
        match self.out.first_mut() {
            Some(first) => *first = b'{',
            None => self.out.push(b'{'),
        }
        self.out.push(b'}');
        self.out.push(0);
    }

    /// The finished text, without its NUL.
    pub(crate) fn text(&self) -> &[u8] {
        self.out.split_last().map_or(&[], |(_, text)| text)
    }

    /// The finished text with its NUL, or nothing when dropped.
    pub(crate) fn c_str(&self) -> Option<&[u8]> {
        (!self.out.is_empty()).then_some(self.out.as_slice())
    }

    fn key(&self, entry: Entry) -> &[u8] {
        self.out
            .get(entry.start + 1..entry.key_end)
            .unwrap_or_default()
    }

    /// Marks every field whose key appears again later; true if any.
    fn mark_replaced(&mut self) -> bool {
        let n = self.entries.len();
        let size = (2 * n).next_power_of_two();
        if self.slots.len() < size {
            self.slots.resize(size, Slot::default());
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slots.fill(Slot::default());
            self.stamp = 1;
        }
        let mask = size - 1;
        let mut any = false;
        // Latest first: the first occurrence seen of a key is the one kept.
        for i in (0..n).rev() {
            let Some(&entry) = self.entries.get(i) else {
                continue;
            };
            let key = self.key(entry);
            let mut at = hash_key(key) as usize & mask;
            while let Some(slot) = self.slots.get(at).copied() {
                if slot.stamp != self.stamp {
                    if let Some(s) = self.slots.get_mut(at) {
                        *s = Slot {
                            stamp: self.stamp,
                            entry: i as u32,
                        };
                    }
                    break;
                }
                let kept = self.entries.get(slot.entry as usize).copied();
                if kept.is_some_and(|k| self.key(k) == key) {
                    if let Some(e) = self.entries.get_mut(i) {
                        e.key_end = 0;
                    }
                    any = true;
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        any
    }

    /// Rewrites the fields without the replaced ones.
    fn compact(&mut self) {
        self.spare.clear();
        for (i, entry) in self.entries.iter().enumerate() {
            // A field ends where the next one starts, or at the end.
            let end = self
                .entries
                .get(i + 1)
                .map_or(self.out.len(), |next| next.start);
            if entry.key_end != 0 {
                self.spare
                    .extend_from_slice(self.out.get(entry.start..end).unwrap_or_default());
            }
        }
        std::mem::swap(&mut self.out, &mut self.spare);
        self.entries.clear();
    }
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
    fn move_before_reorders_groups_and_duplicates_follow_the_new_order() {
        let mut w = ObjectWriter::new();
        w.begin();
        w.field(b"", b"a").push(b'1');
        let payload = w.mark();
        w.field(b"", b"p").push(b'2');
        w.field(b"", b"b").push(b'3');
        let tail = w.mark();
        w.field(b"", b"b").push(b'4');
        w.field(b"", b"c").push(b'5');
        w.move_before(payload, tail);
        w.finish();
        // The moved `b` now comes before the payload's `b`, which wins.
        assert_eq!(w.text(), br#"{"a":1,"c":5,"p":2,"b":3}"#);
        w.begin();
        let start = w.mark();
        w.field(b"", b"p").push(b'1');
        let tail = w.mark();
        w.field(b"", b"t").push(b'2');
        w.move_before(start, tail);
        w.finish();
        assert_eq!(w.text(), br#"{"t":2,"p":1}"#);
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
