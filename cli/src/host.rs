//! A twin of Fluent Bit's WASM filter host (`filter_wasm` + WAMR), on
//! wasmtime.
//!
//! What it reproduces, per SPEC §3:
//!
//! - one long-lived instance (Fluent Bit >= 4.1), no imports provided, no
//!   SIMD (Fluent Bit's WAMR is built without it: such a module fails to
//!   load);
//! - WAMR's app heap of `wasm_heap_size` bytes ([`AppHeap`]): where it sits
//!   in linear memory, and how its `ems` allocator carves the per-call copies
//!   of tag and record (each followed by a NUL). A copy that does not fit
//!   is passed as pointer 0, with the real length. The copies are freed after
//!   every call;
//! - how the result is read: 0 drops the record; otherwise the pointer must
//!   lie in memory with a NUL before its end, an empty string is skipped,
//!   and the text must be a JSON object, or the record is lost. A trap loses
//!   the record too.
//!
//! Differences that remain: wasmtime compiles the module (Cranelift) where
//! Fluent Bit interprets it, so speed and stack depth differ (WAMR's 8 KiB
//! `wasm_stack_size` is not emulated); and WAMR rewrites the `__heap_base`
//! global to the end of the heap, which wasmtime cannot do to an immutable
//! global (code built by `wasm-ld` never reads it, so this changes nothing).

use std::ffi::CStr;
use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::IgnoredAny;
use wasmtime::{
    Config, Engine, ExternType, Instance, Memory, Module, OperatorCost, Store, Trap, TypedFunc, Val,
};

use crate::Verdict;

// The filter's settings live in `settings` (the WASI build has them without
// a host); re-exported so `host::DEFAULT_HEAP_SIZE` and friends keep working.
pub use crate::settings::{
    DEFAULT_FUNCTION, DEFAULT_HEAP_SIZE, MAX_HEAP_SIZE, effective_heap_size, parse_size,
};

/// The diagnostic export: the outcome of the last call.
pub const LAST_OUTCOME_EXPORT: &str = "twingate_last_outcome";
pub const BUILD_HINT: &str =
    "cargo build --release -p twingate-analytics --target wasm32-unknown-unknown";

const WASM_PAGE: u64 = 65536;
const ONE_KIB: u64 = 1024;
/// Fuel given before every call when counting: enough for any record.
const FUEL_BUDGET: u64 = 1 << 62;

/// How the host runs the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOptions {
    /// The export to call (`Function_Name`).
    pub function: String,
    /// `wasm_heap_size` as configured; see [`effective_heap_size`].
    pub heap_size: u64,
    /// Meter fuel and report it per call: one unit per wasm instruction
    /// executed (wasmtime's operator costs: `block`, `loop`, `end`, `nop`,
    /// `drop`, `else`, `return` are free). Off by default: metering slows
    /// every call.
    pub count_fuel: bool,
    /// With `count_fuel`, also charge one unit per byte that `memory.copy`
    /// and `memory.fill` move, as wasmtime's fuel does by default. Off, the
    /// count is of instructions, which is what Fluent Bit's interpreter
    /// pays for: it runs each bulk-memory instruction as one dispatch and a
    /// native `memmove`/`memset`.
    pub fuel_per_byte_moved: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            function: DEFAULT_FUNCTION.to_owned(),
            heap_size: DEFAULT_HEAP_SIZE,
            count_fuel: false,
            fuel_per_byte_moved: false,
        }
    }
}

/// Why the host could not start: one line that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

/// The record time passed to the filter (`time_sec`, `time_nsec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventTime {
    pub sec: i32,
    pub nsec: i32,
}

impl EventTime {
    /// Now. Seconds wrap to 32 bits, as in Fluent Bit's call.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            sec: since_epoch.as_secs() as u32 as i32,
            nsec: since_epoch.subsec_nanos() as i32,
        }
    }
}

/// WAMR's app heap: `size` bytes at `offset` in linear memory, managed by
/// its `ems` allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppHeap {
    pub offset: u64,
    pub size: u64,
}

/// Where WAMR puts the heap, and how many pages it adds to the memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapPlacement {
    pub heap: AppHeap,
    pub grow_pages: u64,
}

/// The addresses the host hands the filter; `None` (pointer 0) for a copy
/// that did not fit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copies {
    pub tag: Option<u64>,
    pub record: Option<u64>,
}

/// `ems` puts a 4-byte header before every object...
const BLOCK_HEADER: u64 = 4;
/// ... and never hands out a block smaller than this.
const SMALLEST_BLOCK: u64 = 16;

/// The bytes `ems` takes for an allocation of `n` bytes.
pub const fn block_size(n: u64) -> u64 {
    let size = (BLOCK_HEADER + n).next_multiple_of(8);
    if size < SMALLEST_BLOCK {
        SMALLEST_BLOCK
    } else {
        size
    }
}

impl AppHeap {
    /// WAMR's placement (`memory_instantiate`): a module that exports
    /// `__heap_base` (and `__data_end`) inside its initial memory gets the
    /// heap inserted at `__heap_base`, growing the memory as needed, plus a
    /// page when less than 1 KiB would remain after the heap. Otherwise the
    /// heap is appended after the initial memory, in whole pages, of which
    /// WAMR keeps all but 1 KiB.
    pub fn place(heap_base: Option<u64>, memory_pages: u64, heap_size: u64) -> HeapPlacement {
        match heap_base {
            Some(base) if base < memory_pages * WASM_PAGE => Self::insert_at(base, heap_size),
            _ => {
                let pages = heap_size.div_ceil(WASM_PAGE);
                let heap = AppHeap {
                    offset: memory_pages * WASM_PAGE,
                    size: pages * WASM_PAGE - ONE_KIB,
                };
                HeapPlacement {
                    heap,
                    grow_pages: pages,
                }
            }
        }
    }

    fn insert_at(heap_base: u64, heap_size: u64) -> HeapPlacement {
        // WAMR counts from the page holding `__heap_base`, assumed the last.
        let room_in_page = |address: u64| match address % WASM_PAGE {
            0 => 0,
            used => WASM_PAGE - used,
        };
        let mut grow_pages = heap_size
            .saturating_sub(room_in_page(heap_base))
            .div_ceil(WASM_PAGE);
        if room_in_page(heap_base + heap_size) < ONE_KIB {
            grow_pages += 1;
        }
        HeapPlacement {
            heap: AppHeap {
                offset: heap_base,
                size: heap_size,
            },
            grow_pages,
        }
    }

    /// The start of `ems`'s pool: 8-aligned, after a 4-byte pad, so that
    /// objects (after their 4-byte header) are 8-aligned.
    pub const fn pool_start(&self) -> u64 {
        self.offset.next_multiple_of(8) + 4
    }

    /// The pool's bytes: what is left after the pad, rounded down to 8.
    pub const fn usable(&self) -> u64 {
        (self.offset + self.size).saturating_sub(self.pool_start()) & !7
    }

    /// Where Fluent Bit's copies of tag and record land (each with its NUL):
    /// the tag first, the record next, each from the front of the free pool.
    pub fn copies(&self, tag_len: u64, record_len: u64) -> Copies {
        let mut next_block = self.pool_start();
        let mut free = self.usable();
        let mut allocate = |n: u64| {
            let size = block_size(n);
            (size <= free).then(|| {
                let object = next_block + BLOCK_HEADER;
                next_block += size;
                free -= size;
                object
            })
        };
        let tag = allocate(tag_len + 1);
        let record = allocate(record_len + 1);
        Copies { tag, record }
    }
}

type FilterFunc = TypedFunc<(i32, i32, i32, i32, i32, i32), i32>;

/// The module, instantiated once, called like Fluent Bit calls it.
pub struct FluentBitHost {
    store: Store<()>,
    memory: Memory,
    filter: FilterFunc,
    last_outcome: Option<TypedFunc<(), i32>>,
    heap: AppHeap,
    function: String,
    count_fuel: bool,
    last_fuel: Option<u64>,
    last_copies: Copies,
    output: Vec<u8>,
}

impl FluentBitHost {
    /// Loads, compiles and instantiates the module at `path`.
    pub fn from_file(path: &Path, options: &HostOptions) -> Result<Self, HostError> {
        let bytes = std::fs::read(path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => HostError(format!(
                "module not found at {}: build it with `{BUILD_HINT}`",
                path.display()
            )),
            _ => HostError(format!("cannot read module {}: {error}", path.display())),
        })?;
        Self::from_bytes(&bytes, &path.display().to_string(), options)
    }

    /// Compiles and instantiates a module; `name` names it in errors.
    pub fn from_bytes(bytes: &[u8], name: &str, options: &HostOptions) -> Result<Self, HostError> {
        if !bytes.starts_with(b"\0asm") {
            return Err(HostError(format!(
                "{name} is not a WebAssembly module (no \\0asm header): build it with `{BUILD_HINT}`"
            )));
        }
        let engine = Engine::new(&engine_config(options))
            .map_err(|error| HostError(format!("cannot start wasmtime: {}", one_line(&error))))?;
        let module = Module::new(&engine, bytes).map_err(|error| {
            HostError(format!(
                "{name} is not a valid WebAssembly module for this host ({}): rebuild it with `{BUILD_HINT}`",
                one_line(&error)
            ))
        })?;
        check_no_imports(&module, name)?;
        let mut store = Store::new(&engine, ());
        if options.count_fuel {
            set_fuel(&mut store);
        }
        let instance = Instance::new(&mut store, &module, &[]).map_err(|error| {
            HostError(format!(
                "{name}: instantiation failed: {}",
                one_line(&error)
            ))
        })?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| missing_export(&module, name, "memory named `memory`"))?;
        let filter = filter_function(&instance, &mut store, &module, name, &options.function)?;
        let last_outcome = instance
            .get_typed_func::<(), i32>(&mut store, LAST_OUTCOME_EXPORT)
            .ok();
        let heap = install_heap(
            &instance,
            &mut store,
            memory,
            effective_heap_size(options.heap_size),
            name,
        )?;
        Ok(Self {
            store,
            memory,
            filter,
            last_outcome,
            heap,
            function: options.function.clone(),
            count_fuel: options.count_fuel,
            last_fuel: None,
            last_copies: Copies::default(),
            output: Vec::new(),
        })
    }

    /// Runs the filter on one record, as Fluent Bit does with `Event_Format
    /// json`. The text it returned is in [`output`](Self::output) for
    /// [`Verdict::Event`], [`Verdict::Kept`] and [`Verdict::ErrorRecord`].
    pub fn call(&mut self, tag: &[u8], time: EventTime, record: &[u8]) -> Verdict {
        self.output.clear();
        self.last_fuel = None;
        let (Ok(tag_len), Ok(record_len)) = (i32::try_from(tag.len()), i32::try_from(record.len()))
        else {
            return Verdict::Lost("record or tag longer than 2 GiB".to_owned());
        };
        let copies = self.heap.copies(tag.len() as u64, record.len() as u64);
        self.last_copies = copies;
        self.write_copy(copies.tag, tag);
        self.write_copy(copies.record, record);
        if self.count_fuel {
            set_fuel(&mut self.store);
        }
        let arguments = (
            address(copies.tag),
            tag_len,
            time.sec,
            time.nsec,
            address(copies.record),
            record_len,
        );
        let result = self.filter.call(&mut self.store, arguments);
        if self.count_fuel {
            self.last_fuel = self
                .store
                .get_fuel()
                .ok()
                .map(|left| FUEL_BUDGET.saturating_sub(left));
        }
        // The copies are freed here: `ems` merges both blocks back into the
        // pool, so the next call finds the heap whole again.
        match result {
            Err(error) => Verdict::Lost(format!("trap: {}", one_line(&error))),
            Ok(0) => Verdict::Dropped,
            Ok(pointer) => self.read_result(pointer as u32, record),
        }
    }

    /// The JSON text of the last call's record (empty if it had none).
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Fuel the last call consumed, when counting fuel.
    pub fn last_fuel(&self) -> Option<u64> {
        self.last_fuel
    }

    /// The linear memory's size now, in bytes (flat across calls unless the
    /// module leaks).
    pub fn memory_bytes(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    /// Where the last call's copies of tag and record were put.
    pub fn last_copies(&self) -> Copies {
        self.last_copies
    }

    pub fn heap(&self) -> AppHeap {
        self.heap
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    /// Whether the module reports its outcomes (`twingate_last_outcome`).
    pub fn reports_outcome(&self) -> bool {
        self.last_outcome.is_some()
    }

    /// Writes a copy and its NUL at `object` (inside the heap by
    /// construction; a copy that did not fit is simply not written).
    fn write_copy(&mut self, object: Option<u64>, bytes: &[u8]) {
        let Some(start) = object.map(|object| object as usize) else {
            return;
        };
        let memory = self.memory.data_mut(&mut self.store);
        if let Some(target) = memory.get_mut(start..start + bytes.len() + 1) {
            let (text, nul) = target.split_at_mut(bytes.len());
            text.copy_from_slice(bytes);
            nul[0] = 0;
        }
    }

    /// Reads the returned text like Fluent Bit (`wasm_runtime_validate_app_
    /// str_addr`, then `strlen` and `flb_pack_json`).
    fn read_result(&mut self, pointer: u32, record: &[u8]) -> Verdict {
        let memory = self.memory.data(&self.store);
        let Some(tail) = memory.get(pointer as usize..) else {
            return Verdict::Lost(format!(
                "returned value is invalid: {pointer:#x} is outside memory ({} bytes)",
                memory.len()
            ));
        };
        let Ok(text) = CStr::from_bytes_until_nul(tail) else {
            return Verdict::Lost(format!(
                "returned value is invalid: no NUL between {pointer:#x} and the end of memory"
            ));
        };
        if text.is_empty() {
            return Verdict::Skipped;
        }
        self.output.extend_from_slice(text.to_bytes());
        if let Err(reason) = check_json_object(&self.output) {
            self.output.clear();
            return Verdict::Lost(format!("invalid JSON format: {reason}"));
        }
        self.classify(record)
    }

    /// The module's own account of the call when it gives one; otherwise a
    /// guess: unchanged → kept, `twingate.parse_error` → error, else event.
    fn classify(&mut self, record: &[u8]) -> Verdict {
        let reported = match &self.last_outcome {
            Some(last_outcome) => last_outcome.call(&mut self.store, ()).ok(),
            None => None,
        };
        match reported {
            Some(1) => Verdict::Event,
            Some(3) => Verdict::Kept,
            Some(4) => Verdict::ErrorRecord,
            _ if self.output == record => Verdict::Kept,
            _ if contains(&self.output, b"\"twingate.parse_error\"") => Verdict::ErrorRecord,
            _ => Verdict::Event,
        }
    }
}

fn engine_config(options: &HostOptions) -> Config {
    let mut config = Config::new();
    config.consume_fuel(options.count_fuel);
    if options.count_fuel && !options.fuel_per_byte_moved {
        // wasmtime charges bulk-memory instructions per byte by default.
        let mut cost = OperatorCost::new();
        cost.variable.memory_copy_per_byte = 0;
        cost.variable.memory_fill_per_byte = 0;
        cost.variable.memory_init_per_byte = 0;
        config.operator_cost(cost);
    }
    // Traps are reported on one line; a backtrace would only cost time.
    config.wasm_backtrace_max_frames(None);
    // Fluent Bit's WAMR has no SIMD: a module using it must fail here too.
    config.wasm_relaxed_simd(false);
    config.wasm_simd(false);
    config
}

fn set_fuel(store: &mut Store<()>) {
    // Only fails when fuel is off, and callers check that first.
    let _ = store.set_fuel(FUEL_BUDGET);
}

/// A pointer argument: the address, or 0 for a copy that did not fit.
fn address(object: Option<u64>) -> i32 {
    object.map_or(0, |object| object as u32 as i32)
}

fn check_no_imports(module: &Module, name: &str) -> Result<(), HostError> {
    let imports: Vec<String> = module
        .imports()
        .map(|import| format!("{}::{}", import.module(), import.name()))
        .collect();
    if imports.is_empty() {
        return Ok(());
    }
    Err(HostError(format!(
        "{name} imports {}; this host provides no imports: build it for wasm32-unknown-unknown with `{BUILD_HINT}`",
        imports.join(", ")
    )))
}

fn missing_export(module: &Module, name: &str, wanted: &str) -> HostError {
    let exports: Vec<String> = module
        .exports()
        .map(|export| format!("{} ({})", export.name(), extern_kind(&export.ty())))
        .collect();
    let exports = if exports.is_empty() {
        "nothing".to_owned()
    } else {
        exports.join(", ")
    };
    HostError(format!("{name} exports no {wanted}; it exports: {exports}"))
}

fn extern_kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Memory(_) => "memory",
        ExternType::Table(_) => "table",
        ExternType::Tag(_) => "tag",
    }
}

fn filter_function(
    instance: &Instance,
    store: &mut Store<()>,
    module: &Module,
    name: &str,
    function: &str,
) -> Result<FilterFunc, HostError> {
    let func = instance
        .get_func(&mut *store, function)
        .ok_or_else(|| missing_export(module, name, &format!("function `{function}`")))?;
    func.typed(&*store).map_err(|_| {
        HostError(format!(
            "{name}: `{function}` has type {}, but Fluent Bit calls (i32, i32, i32, i32, i32, i32) -> i32",
            func.ty(&*store)
        ))
    })
}

/// Puts WAMR's app heap into the instance's memory (see [`AppHeap::place`]).
fn install_heap(
    instance: &Instance,
    store: &mut Store<()>,
    memory: Memory,
    heap_size: u64,
    name: &str,
) -> Result<AppHeap, HostError> {
    let data_end = exported_i32(instance, store, "__data_end");
    let heap_base = exported_i32(instance, store, "__heap_base");
    let heap_base = match (data_end, heap_base) {
        (Some(data_end), Some(heap_base)) if data_end <= heap_base => Some(heap_base),
        _ => None,
    };
    let pages = memory.size(&*store);
    let placement = AppHeap::place(heap_base, pages, heap_size);
    memory
        .grow(&mut *store, placement.grow_pages)
        .map_err(|error| {
            HostError(format!(
                "{name}: cannot grow memory by {} pages for a {heap_size}-byte heap: {}",
                placement.grow_pages,
                one_line(&error)
            ))
        })?;
    Ok(placement.heap)
}

fn exported_i32(instance: &Instance, store: &mut Store<()>, name: &str) -> Option<u64> {
    match instance.get_global(&mut *store, name)?.get(&mut *store) {
        Val::I32(value) => Some(u64::from(value as u32)),
        _ => None,
    }
}

/// The deepest record Fluent Bit keeps (measured in 5.1.1; the record
/// itself is level 1): a result nested deeper is dropped, silently, with
/// every later record of its chunk.
pub const FLUENT_BIT_MAX_DEPTH: usize = 63;

/// Checks that `text` is one JSON object, as Fluent Bit requires of the
/// result, and no deeper than Fluent Bit keeps.
fn check_json_object(text: &[u8]) -> Result<(), String> {
    if text.trim_ascii_start().first() != Some(&b'{') {
        return Err("not a JSON object".to_owned());
    }
    let depth = nesting_depth(text);
    if depth > FLUENT_BIT_MAX_DEPTH {
        return Err(format!(
            "the record is nested {depth} levels deep; Fluent Bit drops a record nested more than {FLUENT_BIT_MAX_DEPTH} levels, and every later record of its chunk with it"
        ));
    }
    serde_json::from_slice::<IgnoredAny>(text)
        .map(drop)
        .map_err(|error| error.to_string())
}

/// How deep the containers of a JSON text nest (the outermost is level 1),
/// counted by brackets outside strings, without recursion.
fn nesting_depth(text: &[u8]) -> usize {
    let (mut level, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &byte in text {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                level += 1;
                deepest = deepest.max(level);
            }
            b'}' | b']' => level = level.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A wasmtime error on one line: the trap message, or the error chain.
fn one_line(error: &wasmtime::Error) -> String {
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return trap.to_string();
    }
    let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
    chain
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
