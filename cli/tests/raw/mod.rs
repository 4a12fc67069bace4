//! The module driven through wasmtime directly, for what the twin host
//! cannot express: any `(tag_ptr, tag_len, record_ptr, record_len)`, lengths
//! that disagree with the NUL, pointers at the end of memory or past it, and
//! a chosen `max_wasm_stack`. Plus the hostile inputs the stack and limit
//! tests share.
#![allow(dead_code)] // each test crate uses part of it

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use wasmtime::{Config, Engine, Instance, Memory, Module, Store, TypedFunc};

const PAGE: usize = 65536;

pub fn module_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-unknown-unknown/release/twingate_analytics.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --release -p twingate-analytics --target wasm32-unknown-unknown`",
        path.display()
    );
    path
}

/// What one raw call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// 0: dropped.
    Dropped,
    /// The NUL-terminated text at the returned pointer (without the NUL),
    /// and `twingate_last_outcome()`.
    Text(Vec<u8>, i32),
    /// A trap (the record would be lost in Fluent Bit), or a pointer that
    /// leads nowhere.
    Lost(String),
}

pub struct Driver {
    store: Store<()>,
    memory: Memory,
    filter: TypedFunc<(i32, i32, i32, i32, i32, i32), i32>,
    last_outcome: TypedFunc<(), i32>,
    /// A region of memory grown by the driver (the module's allocator never
    /// hands it out): `scratch..scratch + capacity`.
    scratch: usize,
    capacity: usize,
}

impl Driver {
    /// The module instantiated once, with `max_wasm_stack` bytes of wasm
    /// stack when given (wasmtime's default otherwise), SIMD off as in
    /// Fluent Bit's WAMR.
    pub fn new(function: &str, max_wasm_stack: Option<usize>) -> Self {
        let mut config = Config::new();
        config.wasm_simd(false).wasm_relaxed_simd(false);
        if let Some(size) = max_wasm_stack {
            config.max_wasm_stack(size);
        }
        let engine = Engine::new(&config).expect("engine");
        let module = Module::from_file(&engine, module_path()).expect("module");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instance");
        let memory = instance.get_memory(&mut store, "memory").expect("memory");
        let filter = instance
            .get_typed_func(&mut store, function)
            .expect("filter");
        let last_outcome = instance
            .get_typed_func(&mut store, "twingate_last_outcome")
            .expect("twingate_last_outcome");
        let mut driver = Self {
            store,
            memory,
            filter,
            last_outcome,
            scratch: 0,
            capacity: 0,
        };
        driver.reserve(PAGE);
        driver
    }

    /// Makes the scratch region at least `bytes` long (a new region at the
    /// end of memory when it is not).
    pub fn reserve(&mut self, bytes: usize) {
        if bytes <= self.capacity {
            return;
        }
        let pages = bytes.div_ceil(PAGE) as u64;
        let old = self
            .memory
            .grow(&mut self.store, pages)
            .expect("grow memory") as usize;
        self.scratch = old * PAGE;
        self.capacity = pages as usize * PAGE;
    }

    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// Writes `bytes` at `address` (anywhere in memory).
    pub fn write(&mut self, address: usize, bytes: &[u8]) {
        self.memory.data_mut(&mut self.store)[address..address + bytes.len()]
            .copy_from_slice(bytes);
    }

    /// Copies `out.len()` bytes of memory from `address`.
    pub fn read(&self, address: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.memory.data(&self.store)[address..address + out.len()]);
    }

    /// Tag, then record, each followed by a NUL, as Fluent Bit copies them,
    /// in the scratch region; returns their addresses.
    pub fn put(&mut self, tag: &[u8], record: &[u8]) -> (usize, usize) {
        self.reserve(tag.len() + record.len() + 16);
        let tag_at = self.scratch;
        let record_at = tag_at + tag.len() + 1;
        let mut copy = tag.to_vec();
        copy.push(0);
        copy.extend_from_slice(record);
        copy.push(0);
        self.write(tag_at, &copy);
        (tag_at, record_at)
    }

    pub fn scratch(&self) -> usize {
        self.scratch
    }

    /// One call with these exact arguments.
    pub fn call(&mut self, tag_ptr: u32, tag_len: u32, record_ptr: u32, record_len: u32) -> Raw {
        let args = (
            tag_ptr as i32,
            tag_len as i32,
            1_764_000_000,
            0,
            record_ptr as i32,
            record_len as i32,
        );
        let pointer = match self.filter.call(&mut self.store, args) {
            Ok(pointer) => pointer as u32 as usize,
            Err(error) => return Raw::Lost(format!("trap: {error:#}")),
        };
        let outcome = self.last_outcome.call(&mut self.store, ()).unwrap_or(-1);
        if pointer == 0 {
            return Raw::Dropped;
        }
        let memory = self.memory.data(&self.store);
        let Some(tail) = memory.get(pointer..) else {
            return Raw::Lost(format!("pointer {pointer:#x} outside memory"));
        };
        match tail.iter().position(|&b| b == 0) {
            Some(end) => Raw::Text(tail[..end].to_vec(), outcome),
            None => Raw::Lost("no NUL before the end of memory".into()),
        }
    }

    /// The ordinary call: copies in scratch, lengths that agree.
    pub fn call_record(&mut self, tag: &[u8], record: &[u8]) -> Raw {
        let (tag_at, record_at) = self.put(tag, record);
        self.call(
            tag_at as u32,
            tag.len() as u32,
            record_at as u32,
            record.len() as u32,
        )
    }
}

fn nested(levels: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels))
}

fn line_record(line: &str) -> Vec<u8> {
    json!({"log": format!("{line}\n"), "stream": "stdout", "time": "2026-11-24T12:00:00Z"})
        .to_string()
        .into_bytes()
}

/// Every hostile input of issue 6, as records (name, JSON text). The
/// biggest is 16 MiB and a bit: run them with a heap of 64 MiB.
pub fn hostile_records() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, record: Vec<u8>| out.push((name.to_owned(), record));
    add(
        "16 MiB line",
        line_record(&format!(
            r#"ANALYTICS {{"event_type":"x","pad":"{}"}}"#,
            "x".repeat(16 << 20)
        )),
    );
    add(
        "1 MiB of escapes",
        line_record(&format!(
            r#"ANALYTICS {{"e":"{}"}}"#,
            r"\\\/\u00e9\ud83d\ude00".repeat(1 << 16)
        )),
    );
    let relays: Vec<Value> = (0..100_000)
        .map(|i| json!({"ip": "10.0.0.1", "name": "relaybalancer+https://relays.twingate.com", "port": 30000 + i % 20}))
        .collect();
    add(
        "100,000 relays",
        line_record(&format!(
            "ANALYTICS {}",
            json!({"event_type": "x", "relays": relays})
        )),
    );
    let keys: Map<String, Value> = (0..10_000)
        .map(|i| (format!("key{i:05}"), json!({ "n": i })))
        .collect();
    add(
        "10,000 keys",
        line_record(&format!("ANALYTICS {}", Value::Object(keys))),
    );
    add(
        "nesting 64",
        line_record(&format!("ANALYTICS {}", nested(64))),
    );
    add(
        "nesting 65",
        line_record(&format!("ANALYTICS {}", nested(65))),
    );
    add(
        "3000 objects deep",
        line_record(&format!("ANALYTICS {}", nested(3000))),
    );
    add(
        "5000 arrays deep",
        line_record(&format!(
            "ANALYTICS {}{}",
            "[".repeat(5000),
            "]".repeat(5000)
        )),
    );
    add(
        "1,000,000 arrays open",
        line_record(&format!("ANALYTICS {{\"a\":{}", "[".repeat(1_000_000))),
    );
    add(
        "location nesting 64",
        line_record(&format!("ANALYTICS {}", json!({"location": nested(64)}))),
    );
    add(
        "location nesting 65",
        line_record(&format!("ANALYTICS {}", json!({"location": nested(65)}))),
    );
    add(
        "location 100,000 deep",
        line_record(&format!(
            "ANALYTICS {}",
            json!({"location": "[".repeat(100_000)})
        )),
    );
    let long = "k".repeat(1 << 20);
    add(
        "1 MiB keys",
        line_record(&format!(
            "ANALYTICS {}",
            json!({ long.clone(): { long.clone(): 1 } })
        )),
    );
    let deep_field = |levels: usize, repair: bool| {
        let inner = if repair { "\"x\u{FFFD}\"" } else { "1" };
        let mut text = format!(
            r#"{{"log":"ANALYTICS {{\"a\":1}}","deep":{}{inner}{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
        .into_bytes();
        if repair {
            // A raw invalid byte in place of U+FFFD: the field is re-encoded.
            let at = text
                .windows(3)
                .position(|w| w == "\u{FFFD}".as_bytes())
                .unwrap();
            text.splice(at..at + 3, [0xFF]);
        }
        text
    };
    // A record field's value may nest 512 levels (the record not counted).
    add("record field 512 deep", deep_field(512, false));
    add("record field 512 deep, repaired", deep_field(512, true));
    add("record field 513 deep", deep_field(513, false));
    add("record field 100,000 deep", deep_field(100_000, false));
    add(
        "record field 100,000 deep, repaired",
        deep_field(100_000, true),
    );
    let mut keep_deep = deep_field(512, true);
    let at = keep_deep
        .windows(9)
        .position(|w| w == b"ANALYTICS")
        .unwrap();
    keep_deep.splice(at..at + 9, *b"[INFO]   ");
    add("service record 512 deep, repaired", keep_deep);
    let controls: String = (0u8..0x20).map(|c| format!("\\u{c:04x}")).collect();
    add(
        "every control character",
        line_record(&format!(r#"ANALYTICS {{"c":"{controls}","{controls}":1}}"#)),
    );
    add(
        "raw control character",
        line_record("ANALYTICS {\"c\":\"a\u{1}b\"}"),
    );
    add(
        "lone surrogates",
        line_record(r#"ANALYTICS {"a":"\ud800","\udc00":"\ud83d"}"#),
    );
    add(
        "NUL escapes",
        line_record(r#"ANALYTICS {"a\u0000":"\u0000"}"#),
    );
    let mut bad_utf8 = line_record(r#"ANALYTICS {"a":"XX"}"#);
    let at = bad_utf8.windows(2).position(|w| w == b"XX").unwrap();
    bad_utf8.splice(at..at + 2, [0xFF, 0xC3]);
    add("invalid UTF-8", bad_utf8);
    add(
        "repeated line key",
        br#"{"log":"ANALYTICS {\"a\":1}","log":"ANALYTICS {\"b\":2}"}"#.to_vec(),
    );
    add(
        "line key a number",
        br#"{"log":5,"message":"ANALYTICS {\"a\":1}"}"#.to_vec(),
    );
    add("line key null", br#"{"log":null}"#.to_vec());
    add(
        "line key an object",
        br#"{"log":{"log":"ANALYTICS {}"}}"#.to_vec(),
    );
    for not_object in [
        "[]",
        "42",
        "null",
        "\"ANALYTICS {}\"",
        "",
        "{",
        "[[[[[[[[",
        "\u{0}",
    ] {
        add(
            &format!("record {not_object:?}"),
            not_object.as_bytes().to_vec(),
        );
    }
    let whole = format!("ANALYTICS {}", json!({"pad": "y".repeat(40_000)}));
    let cut = json!({"log": &whole[..16 << 10], "stream": "stdout"})
        .to_string()
        .into_bytes();
    add("Docker line cut at 16 KiB", cut);
    add("CRLF", line_record("ANALYTICS {\"a\":1}\r"));
    for blank in ["", " ", "\t", "\r", "\u{b}"] {
        add(&format!("whitespace {blank:?}"), line_record(blank));
    }
    out
}
