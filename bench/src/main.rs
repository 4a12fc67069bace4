//! `twingate-bench`: issue 8's benchmark in one run on one machine.
//!
//! ```text
//! cargo build --release -p twingate-analytics -p twingate-naive --target wasm32-unknown-unknown
//! cargo run --release -p twingate-bench -- --out bench.json --update-doc BENCHMARKS.md
//! ```
//!
//! Generates (or reuses) a corpus of 1,000,000 non-hostile lines in Docker
//! shape, checks every implementation against it, then measures: native
//! throughput of ours, the naive serde_json baseline and VRL; the native
//! cost of a dropped record; wasm instructions per record (fuel) of both
//! modules in the Fluent Bit twin host; module sizes; instantiation time;
//! linear memory over many records; and, when valgrind is installed,
//! instructions per record of the native core under callgrind; and, when a
//! Fluent Bit binary is at hand, CPU time per record of every pipeline in
//! the real host ([`fluent_bit`]). Prints the tables as Markdown and writes
//! them as JSON.

#[path = "../../tests/support/real_host.rs"]
mod real_host;
#[path = "../../tests/support/mod.rs"]
mod support;

mod args;
mod callgrind;
mod check;
mod corpus;
mod fluent_bit;
mod measure;
mod msgpack;
mod report;
mod wasm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use twingate_analytics::Transformer;
use twingate_naive::Naive;
use twingate_vector::Remap;

use crate::args::Args;
use crate::corpus::{Corpus, Kind, Records};
use crate::measure::{Plan, Throughput};
use crate::report::{Impl, Native, Report};
use crate::wasm::Meter;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("twingate-bench: {message}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match &args.callgrind_target {
        Some(target) => callgrind::target(target),
        None => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("twingate-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn progress(started: Instant, what: &str) {
    eprintln!(
        "twingate-bench: [{:6.1} s] {what}",
        started.elapsed().as_secs_f64()
    );
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let repo = support::repo_root();
    let ours_module = args
        .module
        .clone()
        .unwrap_or_else(|| wasm_path("twingate_analytics"));
    let naive_module = args
        .naive_module
        .clone()
        .unwrap_or_else(|| wasm_path("twingate_naive"));
    for module in [&ours_module, &naive_module] {
        if !module.is_file() {
            return Err(format!(
                "no module at {}: build both with `cargo build --release -p twingate-analytics -p twingate-naive --target wasm32-unknown-unknown`",
                module.display()
            ));
        }
    }
    let dir = corpus::ensure(
        &repo,
        args.corpus_base.as_deref(),
        args.seed,
        args.lines,
        args.gen_jobs,
    )?;
    let corpus = corpus::load(&dir)?;
    progress(
        started,
        &format!(
            "corpus: {} lines, {} records: {} events ({} bytes), {} service records ({} bytes), {} error records",
            corpus.lines,
            corpus.count(),
            corpus.events.len(),
            corpus.events.total_bytes(),
            corpus.drops.len(),
            corpus.drops.total_bytes(),
            corpus.errors.len()
        ),
    );
    if !corpus.errors.is_empty() {
        return Err(format!(
            "{} error records in a non-hostile corpus: the generator changed?",
            corpus.errors.len()
        ));
    }
    let tools = if args.no_fluent_bit {
        None
    } else {
        match fluent_bit::tools() {
            Ok(tools) => Some(tools),
            Err(skipped) if !args.fluent_bit_only => {
                eprintln!("twingate-bench: {skipped}");
                None
            }
            Err(skipped) => return Err(skipped),
        }
    };
    let real_host = |tools: &fluent_bit::Tools| {
        fluent_bit::measure(
            tools,
            &repo,
            &corpus,
            &ours_module,
            &naive_module,
            &args.fluent_bit,
            command(args, tools),
            started,
        )
    };
    if args.fluent_bit_only {
        let tools = tools.as_ref().ok_or("no Fluent Bit")?;
        let section = real_host(tools)?;
        let markdown = section.markdown();
        println!("{markdown}");
        write_out(args, &section.json())?;
        if let Some(doc) = &args.update_doc {
            report::update_doc(doc, [fluent_bit::BEGIN, fluent_bit::END], &markdown)?;
            eprintln!(
                "twingate-bench: updated the Fluent Bit table in {}",
                doc.display()
            );
        }
        progress(started, "done");
        return Ok(());
    }
    let remap = Remap::from_config_file(&repo.join("vector.toml"), "twingate_analytics")
        .map_err(|e| e.to_string())?;

    // 1. Correctness first, over the whole corpus.
    let checked = check::run(&corpus, args.check_every, &remap, args.vrl_records)?;
    progress(
        started,
        &format!(
            "checked: {} records (ours and naive: kinds of all, full output of {}), VRL {}",
            checked.records, checked.full_checks, checked.vrl_records
        ),
    );

    // 2. Native throughput.
    let plan = Plan {
        runs: args.runs,
        min_time: Duration::from_millis(args.min_time_ms),
    };
    let native = native(&corpus, &remap, plan, args.vrl_records, started)?;

    // 3. The modules in the twin host.
    let ours_fuel = {
        let mut host = wasm::host(&ours_module, "twingate_flatten", Meter::Instructions)?;
        let mut bytes_host = wasm::host(
            &ours_module,
            "twingate_flatten",
            Meter::InstructionsAndBytes,
        )?;
        let mut transformer = Transformer::new();
        wasm::fuel(
            &mut host,
            &mut bytes_host,
            &corpus,
            &corpus.kinds,
            args.fuel_records,
            |record| {
                let kind = check::ours(&mut transformer, record);
                (kind, transformer.output().to_vec())
            },
        )?
    };
    progress(started, "fuel: ours");
    let naive_fuel = {
        let mut host = wasm::host(&naive_module, "naive_flatten", Meter::Instructions)?;
        let mut bytes_host =
            wasm::host(&naive_module, "naive_flatten", Meter::InstructionsAndBytes)?;
        wasm::fuel(
            &mut host,
            &mut bytes_host,
            &corpus,
            &corpus.kinds,
            args.fuel_records,
            |record| match twingate_naive::transform(record) {
                Naive::Event(text) => (Kind::Event, text.into_bytes()),
                Naive::Error(text) => (Kind::Error, text.into_bytes()),
                Naive::Dropped => (Kind::Drop, Vec::new()),
            },
        )?
    };
    progress(started, "fuel: naive");
    let instantiation = [&ours_module, &naive_module]
        .map(|module| wasm::instantiation(module, args.runs, plan.min_time));
    let [ours_instantiation, naive_instantiation] = instantiation;
    let (ours_instantiation, naive_instantiation) = (ours_instantiation?, naive_instantiation?);
    progress(started, "instantiation");
    let memory = {
        let mut host = wasm::host(&ours_module, "twingate_flatten", Meter::Off)?;
        wasm::memory(
            &mut host,
            &corpus,
            &corpus.kinds,
            args.memory_warm_up,
            args.memory_records,
        )?
    };
    progress(
        started,
        &format!(
            "memory: {} records in {:.1} s",
            memory.records, memory.seconds
        ),
    );

    // 4. callgrind, when valgrind is there.
    let callgrind = if args.callgrind_records == 0 {
        None
    } else {
        let result = callgrind::measure(&dir, args.callgrind_records);
        if let Err(message) = &result {
            eprintln!("twingate-bench: callgrind skipped: {message}");
        }
        result.ok()
    };
    progress(started, "callgrind");

    // 5. The real Fluent Bit, when it is at hand.
    let real_host = tools.as_ref().map(real_host).transpose()?;

    let report = Report {
        machine: report::Machine::here(&repo),
        corpus: report::CorpusFacts {
            dir: dir.display().to_string(),
            seed: args.seed,
            lines: corpus.lines,
            records: corpus.count() as u64,
            events: corpus.events.len() as u64,
            event_bytes: corpus.events.total_bytes() as u64,
            drops: corpus.drops.len() as u64,
            drop_bytes: corpus.drops.total_bytes() as u64,
        },
        checked,
        native,
        fuel: [ours_fuel, naive_fuel],
        sizes: [file_size(&ours_module)?, file_size(&naive_module)?],
        modules: [
            ours_module.display().to_string(),
            naive_module.display().to_string(),
        ],
        stale_module: report::stale(&repo, &ours_module),
        instantiation: [ours_instantiation, naive_instantiation],
        memory,
        callgrind,
        settings: args.settings(),
        seconds: started.elapsed().as_secs_f64(),
    };
    let markdown = report.markdown();
    println!("{markdown}");
    let mut json = report.json();
    if let Some(section) = &real_host {
        println!("\n{}", section.markdown());
        json["fluent_bit"] = section.json();
    }
    write_out(args, &json)?;
    if let Some(doc) = &args.update_doc {
        report::update_doc(doc, [report::BEGIN, report::END], &markdown)?;
        if let Some(section) = &real_host {
            let markers = [fluent_bit::BEGIN, fluent_bit::END];
            report::update_doc(doc, markers, &section.markdown())?;
        }
        eprintln!("twingate-bench: updated the tables in {}", doc.display());
    }
    progress(started, "done");
    Ok(())
}

/// Which records a native row times.
#[derive(Clone, Copy)]
enum Rows {
    Events,
    Drops,
    /// The whole corpus in its order (75% analytics).
    Mixed,
}

fn native(
    corpus: &Corpus,
    remap: &Remap,
    plan: Plan,
    vrl_records: usize,
    started: Instant,
) -> Result<Native, String> {
    let mut transformer = Transformer::new();
    let mut row = |rows: Rows| -> Result<[Impl; 3], String> {
        let time = |limit: Option<usize>,
                    f: &mut dyn FnMut(&[u8]) -> Result<Kind, String>|
         -> Result<Throughput, String> {
            match rows {
                Rows::Events => {
                    measure::throughput(&corpus.events, |_| Kind::Event, limit, plan, f)
                }
                Rows::Drops => measure::throughput(&corpus.drops, |_| Kind::Drop, limit, plan, f),
                Rows::Mixed => measure::throughput(corpus, |i| corpus.kinds[i], limit, plan, f),
            }
        };
        let ours = time(None, &mut |record| {
            Ok(check::ours(&mut transformer, record))
        })?;
        let naive = time(None, &mut |record| {
            let answer = twingate_naive::transform(record);
            Ok(check::naive_kind(&std::hint::black_box(answer)))
        })?;
        let vrl = time(Some(vrl_records), &mut |record| {
            check::vrl(remap, record)
                .map(|answer| check::answer_kind(&std::hint::black_box(answer)))
        })?;
        Ok([
            Impl {
                name: "ours",
                throughput: ours,
            },
            Impl {
                name: "naive",
                throughput: naive,
            },
            Impl {
                name: "vrl",
                throughput: vrl,
            },
        ])
    };
    let events = row(Rows::Events)?;
    progress(started, "native: analytics records");
    let drops = row(Rows::Drops)?;
    progress(started, "native: service records");
    let mixed = row(Rows::Mixed)?;
    progress(started, "native: mixed corpus");
    Ok(Native {
        events,
        drops,
        mixed,
    })
}

fn write_out(args: &Args, json: &serde_json::Value) -> Result<(), String> {
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(json).map_err(|e| e.to_string())?;
        std::fs::write(out, text + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("twingate-bench: wrote {}", out.display());
    }
    Ok(())
}

/// The command that made the figures, for the report.
fn command(args: &Args, tools: &fluent_bit::Tools) -> String {
    let host = match std::env::var("FLUENT_BIT") {
        Ok(path) if !path.is_empty() => format!("FLUENT_BIT={path} "),
        _ => format!("`fluent-bit` on PATH ({}): ", tools.fluent_bit.display()),
    };
    let mut command = format!("{host}cargo run --release -p twingate-bench --");
    for arg in &args.given {
        command.push(' ');
        command.push_str(arg);
    }
    command
}

fn wasm_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| support::repo_root().join("target"), PathBuf::from);
    target
        .join("wasm32-unknown-unknown/release")
        .join(format!("{name}.wasm"))
}

fn file_size(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}
