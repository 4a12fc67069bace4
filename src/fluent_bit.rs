//! The Fluent Bit door: the functions its `wasm` filter calls, and the only
//! `unsafe` code in the crate.
//!
//! Fluent Bit (2.1.7 to 5.x, WAMR with bulk memory; see docs/fluent-bit.md)
//! calls `Function_Name` once per record:
//!
//! ```text
//! fn(tag_ptr, tag_len, time_sec, time_nsec, record_ptr, record_len) -> i32
//! ```
//!
//! Tag and record are copies in the module's memory, each followed by a NUL,
//! freed by the host after the call. `record_ptr` is 0 when the record did
//! not fit in the host's heap (`Wasm_Heap_Size`, 8 KiB by default). We
//! return 0 to drop the record, or a pointer to a NUL-terminated JSON object
//! that the host copies at once. The buffer behind that pointer belongs to
//! the one [`Transformer`] of this instance and is reused by the next call,
//! so nothing leaks and nothing dangles.
//!
//! The module is built without std (see `lib.rs`), so this is also where its
//! allocator and its panic handler live.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::{Options, Outcome, Profile, Transformer};

// The cell below relies on the module having one thread.
#[cfg(target_feature = "atomics")]
compile_error!("the Fluent Bit module is single-threaded: build it without the `atomics` feature");

/// The instance's transformer. `Transformer::new` is `const`: instantiating
/// the module runs no code and allocates nothing. A cell rather than a
/// `Mutex`: there is one thread, and a lock would only add a poisoning
/// check, a panic path and instructions to every call.
static TRANSFORMER: Instance = Instance(UnsafeCell::new(Transformer::new()));

struct Instance(UnsafeCell<Transformer>);

// SAFETY: wasm32-unknown-unknown without the `atomics` feature (refused
// above) has no threads: all of the module's code runs on the one thread
// that calls its exports, so the cell is never shared across threads.
unsafe impl Sync for Instance {}

/// The outcome of the last call, for hosts that count (see
/// [`twingate_last_outcome`]).
static LAST_OUTCOME: AtomicU32 = AtomicU32::new(0);

/// One exported entry point per profile and non-analytics policy, all with
/// the signature Fluent Bit calls (the event time is the host's business).
macro_rules! entry_points {
    ($($(#[doc = $doc:literal])* $name:ident => $options:expr;)*) => {$(
        $(#[doc = $doc])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(
            tag_ptr: u32,
            tag_len: u32,
            _time_sec: u32,
            _time_nsec: u32,
            record_ptr: u32,
            record_len: u32,
        ) -> u32 {
            filter(tag_ptr, tag_len, record_ptr, record_len, $options)
        }
    )*};
}

entry_points! {
    /// `flatten`: drops records without an analytics line.
    twingate_flatten => Options::flatten();
    /// `flatten`: passes records without an analytics line on unchanged.
    twingate_flatten_keep => Options::flatten().keep();
    /// `ecs` (Elastic Common Schema): drops records without an analytics line.
    twingate_ecs => Options::profile(Profile::Ecs);
    /// `ecs`: passes records without an analytics line on unchanged.
    twingate_ecs_keep => Options::profile(Profile::Ecs).keep();
    /// `ocsf` (OCSF Network Activity): drops records without an analytics line.
    twingate_ocsf => Options::profile(Profile::Ocsf);
    /// `ocsf`: passes records without an analytics line on unchanged.
    twingate_ocsf_keep => Options::profile(Profile::Ocsf).keep();
}

/// What the last call did: 0 nothing yet, 1 event, 2 dropped, 3 kept,
/// 4 error record. Fluent Bit ignores it; this project's host uses it to
/// count outcomes without guessing from the output.
#[unsafe(no_mangle)]
pub extern "C" fn twingate_last_outcome() -> u32 {
    LAST_OUTCOME.load(Ordering::Relaxed)
}

/// Not inlined: one copy of the transform serves every export.
#[inline(never)]
fn filter(tag_ptr: u32, tag_len: u32, record_ptr: u32, record_len: u32, options: Options) -> u32 {
    // SAFETY: one thread (see `Instance`), and this is the only place that
    // touches the transformer: the reference lives until this call returns,
    // and nothing in the call re-enters an export (the module has no
    // imports, so control cannot reach the host and come back).
    let transformer = unsafe { &mut *TRANSFORMER.0.get() };
    let tag = host_bytes(tag_ptr, tag_len);
    let outcome = match host_bytes(record_ptr, record_len) {
        Some(record) => transformer.transform_record(record, options),
        None => {
            transformer.heap_too_small(tag, record_len as usize, heap_needed(tag_len, record_len))
        }
    };
    LAST_OUTCOME.store(
        match outcome {
            Outcome::Event => 1,
            Outcome::Dropped => 2,
            Outcome::Kept => 3,
            Outcome::Error(_) => 4,
        },
        Ordering::Relaxed,
    );
    // The pointer stays valid until the next call, which is after the host
    // has copied the text.
    transformer
        .output_c_str()
        .map_or(0, |text| text.as_ptr() as u32)
}

/// The `Wasm_Heap_Size` that fits both copies: WAMR's allocator takes
/// 8-byte-aligned blocks with a 4-byte header, from a pool 4 bytes short of
/// the heap, and the host adds a NUL to each copy.
/// In u64: near `u32::MAX` the sum would wrap in wasm32's `usize`.
fn heap_needed(tag_len: u32, record_len: u32) -> u64 {
    // WAMR's smallest block is 16 bytes.
    let block = |len: u32| ((u64::from(len) + 1 + 4).div_ceil(8) * 8).max(16);
    block(tag_len) + block(record_len) + 8
}

/// The host's bytes at `ptr`, or `None` for a null pointer or a range that
/// is not inside linear memory (which a correct host never passes, but a
/// wrong one must not make us trap).
fn host_bytes(ptr: u32, len: u32) -> Option<&'static [u8]> {
    let memory_len = core::arch::wasm32::memory_size(0) * 65536;
    let end = (ptr as usize).checked_add(len as usize)?;
    if ptr == 0 || end > memory_len {
        return None;
    }
    // SAFETY: `ptr..end` lies inside linear memory (checked just above),
    // which is always mapped and readable in wasm. The host wrote these bytes
    // before calling and frees them only after we return; the slice does not
    // outlive this call (`filter` drops it before returning), and no code in
    // the module writes to the host's copy, which lies in the host's heap,
    // apart from everything Rust's allocator hands out.
    Some(unsafe { core::slice::from_raw_parts(ptr as *const u8, len as usize) })
}

/// A panic would be a bug (the core has no panicking paths on purpose): trap,
/// which Fluent Bit logs, rather than carry std's formatting machinery.
#[cfg(not(feature = "js"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(feature = "js"))]
#[global_allocator]
static HEAP: Heap = Heap(UnsafeCell::new(Blocks {
    free: [0; CLASSES],
    end: 0,
}));

/// The module's allocator, in place of std's dlmalloc (9 KiB): blocks with
/// their size at both ends (boundary tags), so that a freed block merges
/// with free neighbours, kept on free lists by size class. Pages come from
/// `memory.grow`, as std's allocator gets them: the host's own heap inside
/// the instance is never touched. The transformer's buffers grow to their
/// largest record and stay, so after a warm-up nothing is allocated and
/// memory stays flat.
///
/// A block is `[tag][payload][tag]`, each tag 8 bytes holding the block's
/// size (a multiple of 16, tags included) and whether it is in use. Blocks
/// start 8 bytes past a multiple of 16, so every payload is 16-aligned. A
/// free block's payload holds the previous and next block on its list. The
/// heap is one run of pages (only this allocator grows the memory), with an
/// in-use tag before the first block and after the last, so merging stops
/// there.
#[cfg(not(feature = "js"))]
struct Heap(UnsafeCell<Blocks>);

#[cfg(not(feature = "js"))]
struct Blocks {
    /// Per size class (blocks of `2^c` to `2^(c+1) - 1` bytes), the first
    /// free block (0: none).
    free: [usize; CLASSES],
    /// The heap's end: where its closing tag lies (0 before the first use).
    end: usize,
}

#[cfg(not(feature = "js"))]
const CLASSES: usize = usize::BITS as usize;
#[cfg(not(feature = "js"))]
const TAG: usize = 8;
/// A list link (the second one follows the first).
#[cfg(not(feature = "js"))]
const WORD: usize = core::mem::size_of::<usize>();
/// The smallest block: two tags and room for the two list links.
#[cfg(not(feature = "js"))]
const MIN_BLOCK: usize = 32;
#[cfg(not(feature = "js"))]
const USED: usize = 1;
/// The heap grows by at least this many 64 KiB pages at a time.
#[cfg(not(feature = "js"))]
const GROW_PAGES: usize = 4;

#[cfg(not(feature = "js"))]
fn class_of(size: usize) -> usize {
    (usize::BITS - 1 - size.leading_zeros()) as usize
}

/// The block size that holds `payload` bytes: tags added, rounded up to 16.
#[cfg(not(feature = "js"))]
fn block_size(payload: usize) -> Option<usize> {
    let size = payload.checked_add(2 * TAG + 15)? & !15;
    Some(size.max(MIN_BLOCK))
}

// SAFETY (for every function below that reads or writes a tag or a link):
// the addresses are those of blocks inside the heap, which this allocator
// alone owns; tags and links are whole `usize` words at 8-aligned
// addresses (blocks start 8 past a multiple of 16, and sizes are multiples
// of 16); linear memory is always mapped.
#[cfg(not(feature = "js"))]
impl Blocks {
    unsafe fn word(at: usize) -> usize {
        // SAFETY: see above.
        unsafe { *(at as *const usize) }
    }

    unsafe fn set_word(at: usize, value: usize) {
        // SAFETY: see above.
        unsafe { *(at as *mut usize) = value }
    }

    /// Writes both tags of the block at `block`.
    unsafe fn tag(block: usize, size: usize, used: bool) {
        let tag = size | usize::from(used);
        // SAFETY: see above.
        unsafe {
            Self::set_word(block, tag);
            Self::set_word(block + size - TAG, tag);
        }
    }

    /// Puts the free block `block` of `size` bytes on its list.
    unsafe fn insert(&mut self, block: usize, size: usize) {
        let class = class_of(size);
        let Some(head) = self.free.get_mut(class) else {
            return;
        };
        // SAFETY: see above; the payload holds the links.
        unsafe {
            Self::tag(block, size, false);
            Self::set_word(block + TAG, 0);
            Self::set_word(block + TAG + WORD, *head);
            if *head != 0 {
                Self::set_word(*head + TAG, block);
            }
        }
        *head = block;
    }

    /// Takes the free block `block` of `size` bytes off its list.
    unsafe fn remove(&mut self, block: usize, size: usize) {
        // SAFETY: see above.
        let (prev, next) = unsafe { (Self::word(block + TAG), Self::word(block + TAG + WORD)) };
        if next != 0 {
            // SAFETY: see above.
            unsafe { Self::set_word(next + TAG, prev) };
        }
        if prev != 0 {
            // SAFETY: see above.
            unsafe { Self::set_word(prev + TAG + WORD, next) };
        } else if let Some(head) = self.free.get_mut(class_of(size)) {
            *head = next;
        }
    }

    /// A free block of at least `size` bytes, off its list, or 0.
    unsafe fn find(&mut self, size: usize) -> usize {
        // The first fit in the class of `size`, else the first block of
        // any larger class (all of which fit).
        let class = class_of(size);
        let mut block = self.free.get(class).copied().unwrap_or(0);
        while block != 0 {
            // SAFETY: see above.
            let found = unsafe { Self::word(block) };
            if found >= size {
                // SAFETY: see above.
                unsafe { self.remove(block, found) };
                return block;
            }
            // SAFETY: see above.
            block = unsafe { Self::word(block + TAG + WORD) };
        }
        for larger in class + 1..CLASSES {
            let block = self.free.get(larger).copied().unwrap_or(0);
            if block != 0 {
                // SAFETY: see above.
                unsafe { self.remove(block, Self::word(block)) };
                return block;
            }
        }
        0
    }

    /// Marks `block` (free, off its list) in use for `size` bytes, giving
    /// back what is left of it when that makes a block.
    unsafe fn use_block(&mut self, block: usize, size: usize) -> *mut u8 {
        // SAFETY: see above.
        unsafe {
            let have = Self::word(block) & !USED;
            if have - size >= MIN_BLOCK {
                Self::tag(block, size, true);
                self.insert(block + size, have - size);
            } else {
                Self::tag(block, have, true);
            }
        }
        (block + TAG) as *mut u8
    }

    /// Adds pages for at least `size` bytes; the new space joins the last
    /// block when that is free. False when the memory cannot grow.
    unsafe fn grow(&mut self, size: usize) -> bool {
        let pages = (size + 2 * TAG).div_ceil(65536).max(GROW_PAGES);
        let old = core::arch::wasm32::memory_grow(0, pages);
        if old == usize::MAX {
            return false;
        }
        let start = old * 65536;
        let new_end = start + pages * 65536 - 16 + TAG;
        // SAFETY: see above; the new pages are ours.
        unsafe {
            let block = if self.end != 0 && self.end == start - 16 + TAG {
                // The old closing tag becomes the start of the new block,
                // merged with a free last block before it.
                let mut block = self.end;
                let before = Self::word(block - TAG);
                if before & USED == 0 {
                    block -= before;
                    self.remove(block, before);
                }
                block
            } else {
                // The first run (or one apart from the last): an opening tag.
                Self::set_word(start + 16 - TAG - TAG, USED);
                start + 16 - TAG
            };
            Self::set_word(new_end, USED);
            self.end = new_end;
            self.insert(block, new_end - block);
        }
        true
    }
}

// SAFETY: one thread (see `Instance`), so the cell is never shared across
// threads; the allocator is not re-entered (it calls nothing that
// allocates).
#[cfg(not(feature = "js"))]
unsafe impl Sync for Heap {}

#[cfg(not(feature = "js"))]
unsafe impl core::alloc::GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: one thread and no re-entry (see `Sync` above): this is the
        // only reference to the blocks while it lives.
        let blocks = unsafe { &mut *self.0.get() };
        let Some(size) = block_size(layout.size()).filter(|_| layout.align() <= 16) else {
            return core::ptr::null_mut();
        };
        // SAFETY: see `Blocks`.
        unsafe {
            let mut block = blocks.find(size);
            if block == 0 {
                if !blocks.grow(size) {
                    return core::ptr::null_mut();
                }
                block = blocks.find(size);
                if block == 0 {
                    return core::ptr::null_mut();
                }
            }
            blocks.use_block(block, size)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: core::alloc::Layout) {
        // SAFETY: as in `alloc`.
        let blocks = unsafe { &mut *self.0.get() };
        let mut block = ptr as usize - TAG;
        // SAFETY: `ptr` came from `alloc` (the caller's contract), so a
        // block in use lies around it, with its neighbours' tags (or the
        // heap's end tags) on both sides; see `Blocks`.
        unsafe {
            let mut size = Blocks::word(block) & !USED;
            let next = Blocks::word(block + size);
            if next & USED == 0 {
                blocks.remove(block + size, next);
                size += next;
            }
            let before = Blocks::word(block - TAG);
            if before & USED == 0 {
                block -= before;
                blocks.remove(block, before);
                size += before;
            }
            blocks.insert(block, size);
        }
    }

    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        // A buffer that still fits its block (or the free block after it)
        // stays where it is.
        if let Some(size) = block_size(new_size) {
            // SAFETY: as in `alloc` and `dealloc`.
            let blocks = unsafe { &mut *self.0.get() };
            let block = ptr as usize - TAG;
            // SAFETY: as in `dealloc`.
            unsafe {
                let have = Blocks::word(block) & !USED;
                if size <= have {
                    return ptr;
                }
                let next = Blocks::word(block + have);
                if next & USED == 0 && have + next >= size {
                    blocks.remove(block + have, next);
                    Blocks::tag(block, have + next, false);
                    return blocks.use_block(block, size);
                }
            }
        }
        // SAFETY: the caller's contract for `realloc` (a block of `layout`
        // from this allocator, `new_size` valid for its alignment).
        let new_layout =
            unsafe { core::alloc::Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above; the new block is fresh, so the two do not overlap.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
