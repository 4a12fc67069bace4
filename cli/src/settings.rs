//! The WASM filter settings the CLI reads (`Function_Name`,
//! `Wasm_Heap_Size`), apart from the host that applies them: the WASI
//! command is built without the host and still parses its command line the
//! same way.

/// Fluent Bit's default `wasm_heap_size`; smaller values are ignored.
pub const DEFAULT_HEAP_SIZE: u64 = 8192;
/// The largest heap this host accepts.
pub const MAX_HEAP_SIZE: u64 = 1 << 30;
pub const DEFAULT_FUNCTION: &str = "twingate_flatten";

/// The heap size Fluent Bit really uses for a `wasm_heap_size` setting: it
/// applies only values above its 8 KiB default.
pub const fn effective_heap_size(requested: u64) -> u64 {
    if requested > DEFAULT_HEAP_SIZE {
        requested
    } else {
        DEFAULT_HEAP_SIZE
    }
}

/// Parses a size the way Fluent Bit's `SIZE` options read: bytes, or a
/// number with `K`, `M` or `G` (optionally followed by `B`, any case),
/// 1024-based. `None` for anything else.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number.parse().ok()?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}
