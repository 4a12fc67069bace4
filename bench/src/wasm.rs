//! The modules inside the Fluent Bit twin host: instructions per record
//! (wasmtime fuel, one unit per wasm instruction, deterministic), the bytes
//! their `memory.copy`/`memory.fill` instructions move, linear memory over
//! many records, and instantiation time.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use twingate_cli::Verdict;
use twingate_cli::host::{EventTime, FluentBitHost, HostOptions};
use wasmtime::{Config, Engine, Instance, Module, Store};

use crate::corpus::{Kind, Records};
use crate::measure::median;

/// The tag the Fluent Bit configurations give connector records.
pub const TAG: &[u8] = b"twingate.connector";
/// The heap size the README recommends (`Wasm_Heap_Size 4M`): every record
/// of the corpus fits.
pub const HEAP: u64 = 4 << 20;

/// What the host's fuel meter counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Meter {
    Off,
    /// Wasm instructions executed (a bulk-memory instruction counts once).
    Instructions,
    /// wasmtime's default fuel: instructions plus one unit per byte that
    /// `memory.copy` and `memory.fill` move.
    InstructionsAndBytes,
}

pub fn host(path: &Path, function: &str, meter: Meter) -> Result<FluentBitHost, String> {
    FluentBitHost::from_file(
        path,
        &HostOptions {
            function: function.to_owned(),
            heap_size: HEAP,
            count_fuel: meter != Meter::Off,
            fuel_per_byte_moved: meter == Meter::InstructionsAndBytes,
        },
    )
    .map_err(|e| e.to_string())
}

/// What a module did with one record, reduced to the expected kinds.
pub fn kind(verdict: &Verdict) -> Result<Kind, String> {
    match verdict {
        Verdict::Event => Ok(Kind::Event),
        Verdict::Dropped => Ok(Kind::Drop),
        Verdict::ErrorRecord => Ok(Kind::Error),
        other => Err(format!("the module answered {other:?}")),
    }
}

/// Fuel per record, by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fuel {
    pub events: u64,
    /// Instructions, over all events.
    pub event_fuel: u64,
    /// Bytes of input record, over all events.
    pub event_bytes: u64,
    /// Bytes moved by `memory.copy`/`memory.fill`, over all events.
    pub event_moved: u64,
    pub drops: u64,
    pub drop_fuel: u64,
    pub drop_bytes: u64,
    pub drop_moved: u64,
    pub max_event_fuel: u64,
}

impl Fuel {
    pub fn per_event(&self) -> f64 {
        self.event_fuel as f64 / self.events.max(1) as f64
    }
    pub fn per_drop(&self) -> f64 {
        self.drop_fuel as f64 / self.drops.max(1) as f64
    }
    pub fn per_event_byte(&self) -> f64 {
        self.event_fuel as f64 / self.event_bytes.max(1) as f64
    }
    pub fn per_drop_byte(&self) -> f64 {
        self.drop_fuel as f64 / self.drop_bytes.max(1) as f64
    }
    /// Bytes moved by bulk-memory instructions per event.
    pub fn moved_per_event(&self) -> f64 {
        self.event_moved as f64 / self.events.max(1) as f64
    }
    /// wasmtime's default fuel per event: instructions + bytes moved.
    pub fn default_fuel_per_event(&self) -> f64 {
        self.per_event() + self.moved_per_event()
    }
}

/// Counts fuel over `records` (after a warm-up over the first ones, so the
/// one-time growth of the module's buffers is not counted). `native` gives
/// the same implementation's native answer for each record: the module's
/// kind must match the expected one and its output must equal the native
/// output byte for byte.
pub fn fuel(
    host: &mut FluentBitHost,
    bytes_host: &mut FluentBitHost,
    records: &impl Records,
    kinds: &[Kind],
    count: usize,
    mut native: impl FnMut(&[u8]) -> (Kind, Vec<u8>),
) -> Result<Fuel, String> {
    let count = count.min(records.count());
    for index in 0..count.min(1000) {
        host.call(TAG, EventTime::default(), records.record(index));
        bytes_host.call(TAG, EventTime::default(), records.record(index));
    }
    let mut fuel = Fuel::default();
    for (index, &want) in kinds.iter().enumerate().take(count) {
        let record = records.record(index);
        let verdict = host.call(TAG, EventTime::default(), record);
        let got = kind(&verdict).map_err(|e| format!("record {}: {e}", index + 1))?;
        if got != want {
            return Err(format!(
                "record {}: the module gave {got:?}, expected {want:?}",
                index + 1
            ));
        }
        let (native_kind, native_output) = native(record);
        if native_kind != got || (got != Kind::Drop && host.output() != native_output.as_slice()) {
            return Err(format!(
                "record {}: the module's answer differs from the native one",
                index + 1
            ));
        }
        let used = host
            .last_fuel()
            .ok_or("the host did not report fuel (count_fuel off?)")?;
        // The same call metered the wasmtime way: the difference is the
        // bytes that bulk-memory instructions moved.
        bytes_host.call(TAG, EventTime::default(), record);
        let moved = bytes_host
            .last_fuel()
            .ok_or("the host did not report fuel (count_fuel off?)")?
            .checked_sub(used)
            .ok_or("fuel with bytes moved is below the instruction count")?;
        let bytes = record.len() as u64;
        match got {
            Kind::Event => {
                fuel.events += 1;
                fuel.event_fuel += used;
                fuel.event_bytes += bytes;
                fuel.event_moved += moved;
                fuel.max_event_fuel = fuel.max_event_fuel.max(used);
            }
            Kind::Drop => {
                fuel.drops += 1;
                fuel.drop_fuel += used;
                fuel.drop_bytes += bytes;
                fuel.drop_moved += moved;
            }
            Kind::Error => {}
        }
    }
    Ok(fuel)
}

/// Linear memory after a warm-up and after many records.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryGrowth {
    pub warm_up_records: u64,
    pub bytes_after_warm_up: u64,
    pub records: u64,
    pub bytes_after: u64,
    pub seconds: f64,
}

/// Calls the module `total` times, cycling through the corpus, checking
/// every answer's kind, and reads the memory size after `warm_up` calls and
/// at the end.
pub fn memory(
    host: &mut FluentBitHost,
    records: &impl Records,
    kinds: &[Kind],
    warm_up: u64,
    total: u64,
) -> Result<MemoryGrowth, String> {
    let start = Instant::now();
    let mut bytes_after_warm_up = host.memory_bytes();
    let mut index = 0;
    for call in 0..total.max(warm_up) {
        if call == warm_up {
            bytes_after_warm_up = host.memory_bytes();
        }
        let verdict = host.call(TAG, EventTime::default(), records.record(index));
        let got = kind(&verdict)?;
        if got != kinds[index] {
            return Err(format!(
                "call {call}: the module gave {got:?}, expected {:?}",
                kinds[index]
            ));
        }
        index += 1;
        if index == records.count() {
            index = 0;
        }
    }
    Ok(MemoryGrowth {
        warm_up_records: warm_up,
        bytes_after_warm_up,
        records: total.max(warm_up),
        bytes_after: host.memory_bytes(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Instantiation time: the module compiled once (the twin host's engine
/// settings, without fuel), then a fresh `Store` and `Instance::new` per
/// iteration, as a host that instantiates per chunk does.
#[derive(Debug, Clone, Serialize)]
pub struct Instantiation {
    pub median_us: f64,
    pub runs: usize,
    pub iterations: u64,
}

pub fn instantiation(
    path: &Path,
    runs: usize,
    min_time: Duration,
) -> Result<Instantiation, String> {
    let mut config = Config::new();
    config.wasm_simd(false);
    config.wasm_relaxed_simd(false);
    let engine = Engine::new(&config).map_err(|e| e.to_string())?;
    let module =
        Module::from_file(&engine, path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut per_run = Vec::new();
    let mut iterations = 0;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let mut count = 0u64;
        while start.elapsed() < min_time {
            for _ in 0..16 {
                let mut store = Store::new(&engine, ());
                let instance =
                    Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
                std::hint::black_box(&instance);
                count += 1;
            }
        }
        iterations += count;
        per_run.push(start.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    Ok(Instantiation {
        median_us: median(per_run),
        runs: runs.max(1),
        iterations,
    })
}
