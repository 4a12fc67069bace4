//! The results: a Markdown table (for BENCHMARKS.md) and JSON.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use crate::callgrind::Callgrind;
use crate::check::Checked;
use crate::measure::Throughput;
use crate::wasm::{Fuel, Instantiation, MemoryGrowth};

pub const BEGIN: &str = "<!-- twingate-bench:begin -->";
pub const END: &str = "<!-- twingate-bench:end -->";

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub date: String,
    pub commit: String,
    pub uncommitted_changes: bool,
    pub rustc: String,
}

impl Machine {
    pub fn here(repo: &Path) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .current_dir(repo)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let rustc = Command::new("rustc")
            .arg("--version")
            .current_dir(repo)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            date: today(),
            commit: git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into()),
            uncommitted_changes: git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty()),
            rustc,
        }
    }
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[derive(Debug, Clone, Serialize)]
pub struct CorpusFacts {
    pub dir: String,
    pub seed: u64,
    pub lines: u64,
    pub records: u64,
    pub events: u64,
    pub event_bytes: u64,
    pub drops: u64,
    pub drop_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Impl {
    pub name: &'static str,
    pub throughput: Throughput,
}

/// Native rows: `[ours, naive, vrl]` each.
#[derive(Debug, Clone, Serialize)]
pub struct Native {
    pub events: [Impl; 3],
    pub drops: [Impl; 3],
    pub mixed: [Impl; 3],
}

pub struct Report {
    pub machine: Machine,
    pub corpus: CorpusFacts,
    pub checked: Checked,
    pub native: Native,
    /// `[ours, naive]` for the wasm figures.
    pub fuel: [Fuel; 2],
    pub sizes: [u64; 2],
    pub modules: [String; 2],
    pub stale_module: bool,
    pub instantiation: [Instantiation; 2],
    pub memory: MemoryGrowth,
    pub callgrind: Option<Callgrind>,
    pub settings: Value,
    pub seconds: f64,
}

/// A target: the figure, the goal, and whether it is met.
struct Target {
    measure: String,
    ours: String,
    baseline: String,
    ratio: String,
    goal: &'static str,
    met: Option<bool>,
}

impl Report {
    fn targets(&self) -> Vec<Target> {
        let [ours, naive, vrl] = &self.native.events;
        let (o, n, v) = (&ours.throughput, &naive.throughput, &vrl.throughput);
        let [fo, fn_] = &self.fuel;
        let mut targets = vec![
            Target {
                measure: "native throughput, analytics records vs naive".into(),
                ours: format!("{:.0} MB/s", o.mb_per_s),
                baseline: format!("naive {:.1} MB/s", n.mb_per_s),
                ratio: format!("{:.1}×", o.mb_per_s / n.mb_per_s),
                goal: "≥ 4×",
                met: Some(o.mb_per_s >= 4.0 * n.mb_per_s),
            },
            Target {
                measure: "native throughput, analytics records vs VRL".into(),
                ours: format!("{:.0} MB/s", o.mb_per_s),
                baseline: format!("VRL {:.1} MB/s", v.mb_per_s),
                ratio: format!("{:.0}×", o.mb_per_s / v.mb_per_s),
                goal: "≥ 20×",
                met: Some(o.mb_per_s >= 20.0 * v.mb_per_s),
            },
            Target {
                measure: "native cost of a dropped (service) record".into(),
                ours: format!("{:.1} ns", self.native.drops[0].throughput.ns_per_record),
                baseline: format!(
                    "naive {:.0} ns",
                    self.native.drops[1].throughput.ns_per_record
                ),
                ratio: String::new(),
                goal: "≤ 30 ns",
                met: Some(self.native.drops[0].throughput.ns_per_record <= 30.0),
            },
            Target {
                measure: "wasm instructions per event".into(),
                ours: thousands(fo.per_event()),
                baseline: format!("naive {}", thousands(fn_.per_event())),
                ratio: format!("1/{:.1}", fn_.per_event() / fo.per_event()),
                goal: "≤ 1/20 of naive",
                met: Some(fo.per_event() * 20.0 <= fn_.per_event()),
            },
            Target {
                measure: "wasmtime's default fuel per event (instructions + 1 per byte moved by memory.copy/fill)".into(),
                ours: thousands(fo.default_fuel_per_event()),
                baseline: format!("naive {}", thousands(fn_.default_fuel_per_event())),
                ratio: format!(
                    "1/{:.1}",
                    fn_.default_fuel_per_event() / fo.default_fuel_per_event()
                ),
                goal: "report",
                met: None,
            },
            Target {
                measure: "wasm instructions per byte of an event".into(),
                ours: format!("{:.1}", fo.per_event_byte()),
                baseline: format!("naive {:.1}", fn_.per_event_byte()),
                ratio: format!("1/{:.1}", fn_.per_event_byte() / fo.per_event_byte()),
                goal: "about 12",
                met: None,
            },
            Target {
                measure: "wasm instructions per dropped record".into(),
                ours: thousands(fo.per_drop()),
                baseline: format!("an event {}", thousands(fo.per_event())),
                ratio: format!("1/{:.0}", fo.per_event() / fo.per_drop()),
                goal: "≤ 1/20 of an event",
                met: Some(fo.per_drop() * 20.0 <= fo.per_event()),
            },
            Target {
                measure: "module size".into(),
                ours: kib(self.sizes[0]),
                baseline: format!("naive {}", kib(self.sizes[1])),
                ratio: String::new(),
                goal: "≤ 96 KiB",
                met: Some(self.sizes[0] <= 96 * 1024),
            },
            Target {
                measure: "instantiation in wasmtime".into(),
                ours: format!("{:.1} µs", self.instantiation[0].median_us),
                baseline: format!("naive {:.1} µs", self.instantiation[1].median_us),
                ratio: String::new(),
                goal: "≤ 1 ms",
                met: Some(self.instantiation[0].median_us <= 1000.0),
            },
            Target {
                measure: format!(
                    "linear memory after {} records vs after {}",
                    thousands(self.memory.warm_up_records as f64),
                    thousands(self.memory.records as f64)
                ),
                ours: format!(
                    "{} → {} bytes",
                    thousands(self.memory.bytes_after_warm_up as f64),
                    thousands(self.memory.bytes_after as f64)
                ),
                baseline: String::new(),
                ratio: String::new(),
                goal: "no growth (over 10,000,000)",
                met: Some(self.memory.bytes_after == self.memory.bytes_after_warm_up),
            },
        ];
        if let Some(cg) = &self.callgrind {
            targets.push(Target {
                measure: "native instructions per record (callgrind)".into(),
                ours: format!(
                    "event {}, drop {}",
                    thousands(cg.instructions_per_event),
                    thousands(cg.instructions_per_drop)
                ),
                baseline: String::new(),
                ratio: String::new(),
                goal: "report",
                met: None,
            });
        }
        targets
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let c = &self.corpus;
        let mut s = String::new();
        s.push_str(BEGIN);
        s.push('\n');
        s.push_str(&format!(
            "Measured {} on {} ({} cores), commit `{}`{}, {}; one run of `twingate-bench` ({:.0} s).\n\
             Corpus: {} lines from {} (no `--hostile`) in Docker shape: \
             {} analytics records ({:.1} MB), {} service records ({:.1} MB).\n",
            m.date,
            m.cpu,
            m.cores,
            m.commit,
            if m.uncommitted_changes { " + uncommitted changes" } else { "" },
            m.rustc,
            self.seconds,
            thousands(c.lines as f64),
            match self.settings["gen_jobs"].as_u64() {
                Some(1) | None => format!("`gen_corpus.py --seed {} --lines {}`", c.seed, c.lines),
                Some(jobs) => format!(
                    "`gen_corpus.py` in {jobs} chunks (`--gen-jobs {jobs}`) with seeds {}..{}",
                    c.seed,
                    c.seed + jobs - 1
                ),
            },
            thousands(c.events as f64),
            c.event_bytes as f64 / 1e6,
            thousands(c.drops as f64),
            c.drop_bytes as f64 / 1e6,
        ));
        if self.stale_module {
            s.push_str("\n**Warning: the module is older than `src/`: rebuild it before trusting the wasm figures.**\n");
        }
        s.push_str(
            "\n| measure | ours | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n",
        );
        for t in self.targets() {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                t.measure, t.ours, t.baseline, t.ratio, t.goal, met
            ));
        }
        s.push_str(
            "\n**Native throughput** (Docker records; MB = 10^6 bytes of input records; median of the runs):\n\n\
             | records | ours MB/s | ours records/s | naive MB/s | naive records/s | VRL MB/s | VRL records/s | ours/naive | ours/VRL |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        for (name, row) in [
            ("analytics", &self.native.events),
            ("service (dropped)", &self.native.drops),
            ("mixed (corpus order)", &self.native.mixed),
        ] {
            let [o, n, v] = row.each_ref().map(|i| &i.throughput);
            s.push_str(&format!(
                "| {name} | {:.1} | {} | {:.1} | {} | {:.2} | {} | {:.1}× | {:.0}× |\n",
                o.mb_per_s,
                thousands(o.records_per_s),
                n.mb_per_s,
                thousands(n.records_per_s),
                v.mb_per_s,
                thousands(v.records_per_s),
                o.mb_per_s / n.mb_per_s,
                o.mb_per_s / v.mb_per_s,
            ));
        }
        let t = &self.native.events[0].throughput;
        let vrl = &self.native.events[2].throughput;
        s.push_str(&format!(
            "\n{} runs of at least {} ms per figure. Ours and naive cycle through all records of the set; \
             VRL is slow, so it is timed (and checked) on a subsample: the first {} records of each set \
             (record text → serde_json map with `log` renamed `message`, as Vector's docker_logs source \
             hands it over → the remap program of vector.toml → JSON text). Ours covered {} distinct analytics records.\n",
            t.runs,
            self.settings["min_time_ms"],
            thousands(vrl.distinct_records as f64),
            thousands(t.distinct_records as f64),
        ));
        let [fo, fn_] = &self.fuel;
        s.push_str(&format!(
            "\n**In the Fluent Bit twin host** (wasmtime; fuel = wasm instructions executed, deterministic; \
             `Wasm_Heap_Size` 4M; the first {} records of the corpus, after a warm-up; \
             \"moved\": bytes that `memory.copy`/`memory.fill` instructions moved, which wasmtime's default fuel \
             also charges, one unit a byte):\n\n\
             | module | size | instantiation | instructions per event | per byte | per dropped record | per byte | most in one event | bytes moved per event | per dropped record |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
            thousands((fo.events + fo.drops) as f64)
        ));
        for (i, (name, f)) in [("ours", fo), ("naive", fn_)].into_iter().enumerate() {
            s.push_str(&format!(
                "| {name} | {} | {:.1} µs | {} | {:.1} | {} | {:.1} | {} | {} | {} |\n",
                kib(self.sizes[i]),
                self.instantiation[i].median_us,
                thousands(f.per_event()),
                f.per_event_byte(),
                thousands(f.per_drop()),
                f.per_drop_byte(),
                thousands(f.max_event_fuel as f64),
                thousands(f.moved_per_event()),
                thousands(f.drop_moved as f64 / f.drops.max(1) as f64),
            ));
        }
        s.push_str(&format!(
            "\nInstantiation: the module compiled once, then a new `Store` + `Instance::new` per iteration \
             (median of {} runs, {} instantiations in all). Memory: our module with `twingate_flatten`, \
             {} records cycled through the corpus in {:.0} s{}.\n",
            self.instantiation[0].runs,
            thousands(self.instantiation[0].iterations as f64),
            thousands(self.memory.records as f64),
            self.memory.seconds,
            if self.memory.records < 10_000_000 {
                format!(
                    " (the issue asks for 10,000,000: `--memory-records 10000000` takes about {:.0} s more)",
                    self.memory.seconds / self.memory.records as f64
                        * (10_000_000 - self.memory.records) as f64
                )
            } else {
                String::new()
            },
        ));
        if let Some(cg) = &self.callgrind {
            s.push_str(&format!(
                "\nCallgrind: {} records of each kind, only `callgrind_loop` counted (after a warm-up):\n\
                 `{}` (and `--kind drops`).\n",
                thousands(cg.records as f64),
                cg.command.replace(&self.corpus.dir, "<corpus>")
            ));
        }
        let k = &self.checked;
        s.push_str(&format!(
            "\n**Checked in the same run** (the run fails on any difference): the outcome of every record \
             ({}: {} events, {} drops) for ours and naive natively against `expected.ndjson`; the full output \
             of {} records: ours against the expected fields with the conformance checker of `tests/support`, \
             naive against ours as JSON values; VRL's output on {} records against the expected fields; \
             every timed call's outcome; in the twin host, every fuel-counted record's outcome and output \
             (byte for byte equal to the same implementation natively) and every memory-run record's outcome.\n",
            thousands(k.records as f64),
            thousands(k.events as f64),
            thousands(k.drops as f64),
            thousands(k.full_checks as f64),
            thousands(k.vrl_records as f64),
        ));
        s.push_str(END);
        s
    }

    pub fn json(&self) -> Value {
        let targets: Vec<Value> = self
            .targets()
            .into_iter()
            .map(|t| {
                json!({"measure": t.measure, "ours": t.ours, "baseline": t.baseline,
                       "ratio": t.ratio, "target": t.goal, "met": t.met})
            })
            .collect();
        let fuel = |f: &Fuel| {
            json!({
                "per_event": f.per_event(), "per_event_byte": f.per_event_byte(),
                "per_drop": f.per_drop(), "per_drop_byte": f.per_drop_byte(),
                "moved_per_event": f.moved_per_event(),
                "default_fuel_per_event": f.default_fuel_per_event(),
                "max_per_event": f.max_event_fuel, "counts": f,
            })
        };
        json!({
            "machine": self.machine,
            "corpus": self.corpus,
            "settings": self.settings,
            "seconds": self.seconds,
            "targets": targets,
            "native": self.native,
            "wasm": {
                "ours": {"module": self.modules[0], "size": self.sizes[0], "stale": self.stale_module,
                         "fuel": fuel(&self.fuel[0]), "instantiation": self.instantiation[0]},
                "naive": {"module": self.modules[1], "size": self.sizes[1],
                          "fuel": fuel(&self.fuel[1]), "instantiation": self.instantiation[1]},
                "memory": self.memory,
            },
            "callgrind": self.callgrind,
            "checked": self.checked,
        })
    }
}

/// Replaces the text between the markers `begin` and `end` in `path` (the
/// markers included) with `markdown`, or appends it when they are missing.
pub fn update_doc(path: &Path, [begin, end]: [&str; 2], markdown: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let updated = match (text.find(begin), text.find(end)) {
        (Some(from), Some(to)) if from < to => {
            format!("{}{markdown}{}", &text[..from], &text[to + end.len()..])
        }
        _ => format!("{text}\n{markdown}\n"),
    };
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whether the module is older than the newest file under `src/`.
pub fn stale(repo: &Path, module: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(module) else {
        return false;
    };
    std::fs::read_dir(repo.join("src"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| modified(&e.path()))
                .any(|t| t > built)
        })
        .unwrap_or(false)
}

/// 1234567.8 → "1,234,568" (whole numbers, thousands separated).
pub fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if value < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

fn kib(bytes: u64) -> String {
    format!(
        "{} B ({:.1} KiB)",
        thousands(bytes as f64),
        bytes as f64 / 1024.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(thousands(-1000.0), "-1,000");
        assert_eq!(thousands(f64::NAN), "n/a");
        assert_eq!(kib(2048), "2,048 B (2.0 KiB)");
    }

    #[test]
    fn today_is_a_date() {
        let d = today();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }

    #[test]
    fn replaces_between_markers() {
        let dir = std::env::temp_dir().join(format!("twingate-bench-doc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("B.md");
        std::fs::write(&path, format!("head\n{BEGIN}\nold\n{END}\ntail\n")).expect("write");
        update_doc(&path, [BEGIN, END], &format!("{BEGIN}\nnew\n{END}")).expect("update");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("head\n{BEGIN}\nnew\n{END}\ntail\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
