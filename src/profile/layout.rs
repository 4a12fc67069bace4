//! A schema's fixed output layout, and the event written in it.
//!
//! Every field a profile maps has a path known when the module is built
//! (`source.geo.city_name`), so the order and nesting of those fields is
//! known too: a [`Layout`] lists the schema's objects and leaves in the
//! order [`Tree`] would write them (pre-order, each level sorted by key).
//! The profile fills the leaves' slots in any order; [`Event::write`] walks
//! the layout once, writing the leaves that have a value and the objects
//! that hold one. Only the catch-all (`twingate.*`, `unmapped.*`), whose
//! paths come from the payload, is sorted and nested at run time, by
//! [`Tree`]. Why it pays: in Fluent Bit's interpreter, sorting and nesting
//! all of an event's leaves cost four times flattening it.
//!
//! [`Event::write_reference`] writes the same event the plain way (every
//! leaf through [`Tree`]); the reference path of the transformer uses it,
//! so every differential test of the core checks this writer byte for byte.

use alloc::vec::Vec;

use super::{Tree, push_key, same};
use crate::error::PATH_MAX_SEGMENTS;
use crate::object::ObjectWriter;

/// One node of a [`Layout`].
pub(crate) struct Node {
    /// How many objects enclose it (0: a top-level field).
    pub(crate) depth: u8,
    /// Its key, JSON-encoded.
    pub(crate) name: &'static [u8],
    pub(crate) kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An object: written when one of the leaves under it has a value.
    Object,
    /// A value the profile sets through the node's [`Slot`].
    Leaf,
    /// The top-level object holding the catch-all's fields.
    CatchAll,
}

/// A schema's objects and leaves in output order.
pub(crate) type Layout = [Node];

/// Objects nest at most this deep in a layout (`source.as.organization`).
const LAYOUT_DEPTH: usize = 4;
/// Nodes in a layout, at most.
pub(crate) const MAX_NODES: usize = 64;

pub(crate) const fn object(depth: u8, name: &'static [u8]) -> Node {
    Node {
        depth,
        name,
        kind: Kind::Object,
    }
}

pub(crate) const fn leaf(depth: u8, name: &'static [u8]) -> Node {
    Node {
        depth,
        name,
        kind: Kind::Leaf,
    }
}

pub(crate) const fn catch_all(name: &'static [u8]) -> Node {
    Node {
        depth: 0,
        name,
        kind: Kind::CatchAll,
    }
}

/// A leaf of a layout: its node's index.
#[derive(Clone, Copy)]
pub(crate) struct Slot(u8);

/// The leaf at the dotted `path` in `layout`. Evaluated when the module is
/// built (the schemas call it in `const` blocks), so a path missing from
/// the layout, or a layout too deep or too long, fails the build.
pub(crate) const fn slot_of(layout: &Layout, path: &[u8]) -> Slot {
    assert!(layout.len() <= MAX_NODES, "layout longer than MAX_NODES");
    // Where each enclosing object's segment ends in `path`, or no match.
    let mut matched: [Option<usize>; LAYOUT_DEPTH + 1] = [None; LAYOUT_DEPTH + 1];
    matched[0] = Some(0);
    let mut i = 0;
    while i < layout.len() {
        let node = &layout[i];
        let depth = node.depth as usize;
        assert!(depth < LAYOUT_DEPTH, "layout deeper than LAYOUT_DEPTH");
        if let Some(at) = matched[depth] {
            let end = at + node.name.len();
            let name_matches = end <= path.len() && starts_with_at(path, at, node.name);
            match node.kind {
                Kind::Object => {
                    matched[depth + 1] = if name_matches && end < path.len() && path[end] == b'.' {
                        Some(end + 1)
                    } else {
                        None
                    };
                }
                Kind::Leaf if name_matches && end == path.len() => return Slot(i as u8),
                Kind::Leaf | Kind::CatchAll => {}
            }
        }
        i += 1;
    }
    panic!("path not in the layout");
}

const fn starts_with_at(path: &[u8], at: usize, name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        if path[at + i] != name[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `key` is a top-level name of `layout`.
pub(crate) fn top_level(layout: &Layout, key: &[u8]) -> bool {
    // The lengths first: `same` is a call, and most names differ in length.
    layout
        .iter()
        .any(|node| node.depth == 0 && node.name.len() == key.len() && same(node.name, key))
}

/// An event being mapped: the values of a layout's leaves, and the
/// catch-all's fields.
pub(crate) struct Event {
    values: Vec<u8>,
    /// Per node, its value's range in `values`; empty when unset.
    slots: [(u32, u32); MAX_NODES],
    /// The slot written last, whose value ends where `values` ends.
    last: Option<Slot>,
    /// The catch-all's fields, paths relative to it.
    pub(crate) catch_all: Tree,
}

impl Event {
    pub(crate) const fn new() -> Self {
        Event {
            values: Vec::new(),
            slots: [(0, 0); MAX_NODES],
            last: None,
            catch_all: Tree::new(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
        self.slots = [(0, 0); MAX_NODES];
        self.last = None;
        self.catch_all.clear();
    }

    /// Ends the value written last.
    fn seal(&mut self) {
        if let Some(Slot(i)) = self.last.take()
            && let Some(range) = self.slots.get_mut(usize::from(i))
        {
            range.1 = self.values.len() as u32;
        }
    }

    /// Starts the value of `slot` (replacing one set before); the caller
    /// writes its JSON text into the returned buffer.
    #[inline(never)]
    pub(crate) fn leaf(&mut self, slot: Slot) -> &mut Vec<u8> {
        self.seal();
        if let Some(range) = self.slots.get_mut(usize::from(slot.0)) {
            *range = (self.values.len() as u32, self.values.len() as u32);
        }
        self.last = Some(slot);
        &mut self.values
    }

    /// A string leaf from text that is already JSON-encoded.
    #[inline(never)]
    pub(crate) fn encoded(&mut self, slot: Slot, encoded: &[u8]) {
        let value = self.leaf(slot);
        value.push(b'"');
        value.extend_from_slice(encoded);
        value.push(b'"');
    }

    /// A leaf with a literal JSON value.
    #[inline(never)]
    pub(crate) fn json(&mut self, slot: Slot, json: &[u8]) {
        self.leaf(slot).extend_from_slice(json);
    }

    #[inline(never)]
    pub(crate) fn uint(&mut self, slot: Slot, n: u64) {
        crate::error::push_decimal(self.leaf(slot), n);
    }

    /// The value of node `i`, if set.
    fn value(&self, i: usize) -> Option<&[u8]> {
        let &(start, end) = self.slots.get(i)?;
        self.values
            .get(start as usize..end as usize)
            .filter(|v| !v.is_empty())
    }

    /// Writes the event into `out` as top-level fields, in `layout`'s order:
    /// one walk, writing an object's key when the first value under it
    /// comes.
    ///
    /// The whole event goes to `out` as one field (its first key, and the
    /// rest of the text as that field's tail): its top-level names are
    /// unique, and no record field shares one ([`super::Profiler::displaces`]
    /// moves those), so the writer has no repeat to resolve among them, and
    /// a field of the writer costs several times a field of text here.
    #[inline(never)]
    pub(crate) fn write(&mut self, layout: &Layout, out: &mut ObjectWriter, scratch: &mut Vec<u8>) {
        self.seal();
        scratch.clear();
        let mut first: Option<&'static [u8]> = None;
        // The objects enclosing the current node (`depth` of them), how
        // many of those are written (the outermost `written`), and per
        // level whether it has a field yet.
        let mut names: [&'static [u8]; LAYOUT_DEPTH] = [b""; LAYOUT_DEPTH];
        let mut has_field = [false; LAYOUT_DEPTH + 1];
        let mut depth = 0;
        let mut written = 0;
        // Past the last node, every object closes (an index loop: a chained
        // iterator costs more steps a node in Fluent Bit's interpreter).
        const END: Node = object(0, b"");
        for i in 0..=layout.len() {
            let node = layout.get(i).unwrap_or(&END);
            let node_depth = usize::from(node.depth);
            // Close the objects this node is not in.
            while depth > node_depth {
                depth -= 1;
                if written > depth {
                    written -= 1;
                    scratch.push(b'}');
                }
            }
            let value = match node.kind {
                Kind::Object => {
                    if let Some(name) = names.get_mut(depth) {
                        *name = node.name;
                    }
                    if let Some(has) = has_field.get_mut(depth + 1) {
                        *has = false;
                    }
                    depth += 1;
                    continue;
                }
                Kind::CatchAll => {
                    if !self.catch_all.is_empty() {
                        key(scratch, &mut first, has_field.get_mut(0), node.name);
                        self.catch_all.write_object(PATH_MAX_SEGMENTS - 1, scratch);
                    }
                    continue;
                }
                Kind::Leaf => match self.value(i) {
                    Some(value) => value,
                    None => continue,
                },
            };
            // The enclosing objects' keys not written yet, outermost first.
            while written < depth {
                let name = names.get(written).copied().unwrap_or_default();
                key(scratch, &mut first, has_field.get_mut(written), name);
                scratch.push(b'{');
                written += 1;
            }
            key(scratch, &mut first, has_field.get_mut(depth), node.name);
            scratch.extend_from_slice(value);
        }
        if let Some(first) = first {
            out.field(b"", first).extend_from_slice(scratch);
        }
    }

    /// [`Event::write`] the plain way: every leaf, the catch-all's with its
    /// prefix, sorted and nested by [`Tree`]. The reference the layout and
    /// the walk are checked against.
    pub(crate) fn write_reference(&mut self, layout: &Layout, out: &mut ObjectWriter) {
        self.seal();
        let mut tree = Tree::new();
        let mut names: [&[u8]; LAYOUT_DEPTH] = [b""; LAYOUT_DEPTH];
        let mut catch_all_name: &[u8] = b"";
        for (i, node) in layout.iter().enumerate() {
            let depth = usize::from(node.depth);
            match node.kind {
                Kind::Object => names[depth] = node.name,
                Kind::CatchAll => catch_all_name = node.name,
                Kind::Leaf => {
                    if let Some(value) = self.value(i) {
                        let mut path = Vec::new();
                        for name in &names[..depth] {
                            path.extend_from_slice(name);
                            path.push(b'.');
                        }
                        path.extend_from_slice(node.name);
                        tree.leaf(&path).extend_from_slice(value);
                    }
                }
            }
        }
        let mut prefix = catch_all_name.to_vec();
        prefix.push(b'.');
        self.catch_all.copy_leaves(&prefix, &mut tree);
        let mut object = Vec::new();
        tree.write_object(PATH_MAX_SEGMENTS, &mut object);
        let mut pairs = Vec::new();
        super::read_pairs(&object, &mut pairs);
        for pair in pairs {
            let key = object.get(pair.key.0..pair.key.1).unwrap_or_default();
            let value = object.get(pair.value.0..pair.value.1).unwrap_or_default();
            out.field(b"", key).extend_from_slice(value);
        }
    }
}

/// Writes `,"name":` (the comma when the object has a field already),
/// except for the event's first key, which [`Event::write`] gives to the
/// output writer.
fn key(
    out: &mut Vec<u8>,
    first: &mut Option<&'static [u8]>,
    has_field: Option<&mut bool>,
    name: &'static [u8],
) {
    let Some(has_field) = has_field else { return };
    if first.is_none() {
        *first = Some(name);
    } else {
        if *has_field {
            out.push(b',');
        }
        push_key(out, name);
    }
    *has_field = true;
}

#[cfg(test)]
mod tests {
    use super::super::{ecs, ocsf};
    use super::*;

    /// Every leaf of `layout` set, plus catch-all fields, written by the
    /// walk and by the plain sort-and-nest writer.
    fn every_leaf_set(layout: &Layout) -> (String, String) {
        let written = |reference: bool| {
            let mut event = Event::new();
            for (i, node) in layout.iter().enumerate() {
                if node.kind == Kind::Leaf {
                    crate::error::push_decimal(event.leaf(Slot(i as u8)), i as u64);
                }
            }
            for path in ["z", "a.b", "connection.id", "a"] {
                event
                    .catch_all
                    .leaf(path.as_bytes())
                    .extend_from_slice(b"true");
            }
            let mut out = ObjectWriter::new();
            out.begin();
            if reference {
                event.write_reference(layout, &mut out);
            } else {
                event.write(layout, &mut out, &mut Vec::new());
            }
            out.finish();
            String::from_utf8(out.text().to_vec()).unwrap()
        };
        (written(false), written(true))
    }

    #[test]
    fn layouts_are_in_the_order_the_plain_writer_sorts() {
        for layout in [&ecs::LAYOUT[..], &ocsf::LAYOUT[..]] {
            let (walked, reference) = every_leaf_set(layout);
            assert_eq!(walked, reference);
            // Every leaf's value is there, once.
            let mut leaves = 0;
            for (i, node) in layout.iter().enumerate() {
                if node.kind == Kind::Leaf {
                    let once = [format!(":{i},"), format!(":{i}}}")]
                        .iter()
                        .map(|v| walked.matches(v.as_str()).count())
                        .sum::<usize>();
                    assert_eq!(once, 1, "{i} in {walked}");
                    leaves += 1;
                }
            }
            assert!(leaves > 30);
        }
    }

    #[test]
    fn objects_without_a_value_are_not_written() {
        let mut event = Event::new();
        event.encoded(slot_of(&ecs::LAYOUT, b"source.geo.location.lon"), b"x");
        event.json(slot_of(&ecs::LAYOUT, b"@timestamp"), b"1");
        // Replaced: the later value wins.
        event.json(slot_of(&ecs::LAYOUT, b"user.id"), b"2");
        event.json(slot_of(&ecs::LAYOUT, b"user.id"), b"3");
        let mut out = ObjectWriter::new();
        out.begin();
        event.write(&ecs::LAYOUT, &mut out, &mut Vec::new());
        out.finish();
        assert_eq!(
            out.text(),
            br#"{"@timestamp":1,"source":{"geo":{"location":{"lon":"x"}}},"user":{"id":3}}"#
        );
    }

    #[test]
    fn top_level_names() {
        assert!(top_level(&ecs::LAYOUT, b"twingate"));
        assert!(top_level(&ecs::LAYOUT, b"@timestamp"));
        assert!(top_level(&ecs::LAYOUT, b"source"));
        assert!(!top_level(&ecs::LAYOUT, b"geo"));
        assert!(!top_level(&ecs::LAYOUT, b"stream"));
    }
}
