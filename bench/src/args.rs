//! Command-line options.

use std::ffi::OsString;
use std::path::PathBuf;

use serde_json::{Value, json};

pub const USAGE: &str = "\
usage: twingate-bench [options]

  --lines N              corpus lines (default 1000000; generated with
                         tests/tools/gen_corpus.py, no --hostile, reused)
  --seed S               generator seed (default 8)
  --gen-jobs J           generate in J chunks in parallel, chunk i with seed
                         S+i (default 1: exactly gen_corpus.py --seed S
                         --lines N; a first run generates for ~5 min)
  --corpus-base DIR      where corpora are kept (default $TMPDIR/twingate-bench)
  --out FILE             write the results as JSON
  --update-doc FILE      replace the table between the markers in FILE
                         (BENCHMARKS.md)
  --runs N               runs per native measurement; the median is
                         reported (default 5)
  --min-time-ms MS       minimum time of one run (default 500)
  --vrl-records N        distinct records VRL is checked and timed on
                         (default 20000: VRL is slow)
  --fuel-records N       records counted with fuel, both modules (default
                         100000)
  --memory-records N     records through the module for the memory figure
                         (default 10000000, about 50 s)
  --memory-warm-up N     records before the first memory reading (default
                         10000)
  --check-every K        full output check of every K-th record (default 4;
                         1 checks all, about 60 s more for 1,000,000)
  --callgrind-records N  records per callgrind run (default 20000; 0: skip)
  --module FILE          our module (default
                         target/wasm32-unknown-unknown/release/twingate_analytics.wasm)
  --naive-module FILE    the naive module (default .../twingate_naive.wasm)
  --quick                a small smoke run (20000 lines, short runs)

  The real Fluent Bit (issue 15), when FLUENT_BIT names its binary or
  `fluent-bit` is on PATH (flb-wamrc: FLB_WAMRC, beside it, or on PATH):
  --fluent-bit-records N the first N corpus records through every pipeline
                         (default 50000)
  --fluent-bit-naive-records N
                         records for the naive module (default 20000)
  --fluent-bit-service-records N
                         service records (the corpus's, repeated) for the
                         drop rows (default 200000)
  --fluent-bit-rounds R  runs of every pipeline, round-robin; the median is
                         reported (default 3)
  --fluent-bit-only      only the real-host section (and its part of the
                         --update-doc file)
  --no-fluent-bit        skip the real-host section

  --callgrind-target N --corpus DIR --kind events|drops
                         run the native core over the first N records of that
                         kind and exit (for valgrind --tool=callgrind
                         --toggle-collect='*callgrind_loop*')";

/// The `--callgrind-target` mode's options.
#[derive(Debug, Clone)]
pub struct CallgrindTarget {
    pub records: usize,
    pub corpus: PathBuf,
    pub events: bool,
}

#[derive(Debug, Clone)]
pub struct Args {
    pub lines: u64,
    pub seed: u64,
    pub gen_jobs: u64,
    pub corpus_base: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub update_doc: Option<PathBuf>,
    pub runs: usize,
    pub min_time_ms: u64,
    pub vrl_records: usize,
    pub fuel_records: usize,
    pub memory_records: u64,
    pub memory_warm_up: u64,
    pub check_every: usize,
    pub callgrind_records: usize,
    pub module: Option<PathBuf>,
    pub naive_module: Option<PathBuf>,
    pub callgrind_target: Option<CallgrindTarget>,
    pub fluent_bit: crate::fluent_bit::Settings,
    pub fluent_bit_only: bool,
    pub no_fluent_bit: bool,
    /// The options as given, for the report.
    pub given: Vec<String>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            lines: 1_000_000,
            seed: 8,
            gen_jobs: 1,
            corpus_base: None,
            out: None,
            update_doc: None,
            runs: 5,
            min_time_ms: 500,
            vrl_records: 20_000,
            fuel_records: 100_000,
            memory_records: 10_000_000,
            memory_warm_up: 10_000,
            check_every: 4,
            callgrind_records: 20_000,
            module: None,
            naive_module: None,
            callgrind_target: None,
            fluent_bit: crate::fluent_bit::Settings {
                records: 50_000,
                naive_records: 20_000,
                service_records: 200_000,
                rounds: 3,
            },
            fluent_bit_only: false,
            no_fluent_bit: false,
            given: Vec::new(),
        }
    }
}

impl Args {
    /// The settings, for the report.
    pub fn settings(&self) -> Value {
        json!({
            "lines": self.lines,
            "seed": self.seed,
            "gen_jobs": self.gen_jobs,
            "runs": self.runs,
            "min_time_ms": self.min_time_ms,
            "vrl_records": self.vrl_records,
            "fuel_records": self.fuel_records,
            "memory_records": self.memory_records,
            "memory_warm_up": self.memory_warm_up,
            "check_every": self.check_every,
            "callgrind_records": self.callgrind_records,
        })
    }
}

pub fn parse(raw: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let mut args = Args::default();
    let mut target_records = None;
    let mut target_corpus = None;
    let mut target_kind = None;
    let given: Vec<String> = raw.map(|a| a.to_string_lossy().into_owned()).collect();
    args.given.clone_from(&given);
    let mut raw = given.into_iter();
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--lines" => args.lines = number(&value()?)?,
            "--seed" => args.seed = number(&value()?)?,
            "--gen-jobs" => args.gen_jobs = number(&value()?)?,
            "--corpus-base" => args.corpus_base = Some(value()?.into()),
            "--out" => args.out = Some(value()?.into()),
            "--update-doc" => args.update_doc = Some(value()?.into()),
            "--runs" => args.runs = number(&value()?)?,
            "--min-time-ms" => args.min_time_ms = number(&value()?)?,
            "--vrl-records" => args.vrl_records = number(&value()?)?,
            "--fuel-records" => args.fuel_records = number(&value()?)?,
            "--memory-records" => args.memory_records = number(&value()?)?,
            "--memory-warm-up" => args.memory_warm_up = number(&value()?)?,
            "--check-every" => args.check_every = number(&value()?)?,
            "--callgrind-records" => args.callgrind_records = number(&value()?)?,
            "--module" => args.module = Some(value()?.into()),
            "--naive-module" => args.naive_module = Some(value()?.into()),
            "--callgrind-target" => target_records = Some(number(&value()?)?),
            "--corpus" => target_corpus = Some(PathBuf::from(value()?)),
            "--kind" => target_kind = Some(value()?),
            "--fluent-bit-records" => args.fluent_bit.records = number(&value()?)?,
            "--fluent-bit-naive-records" => args.fluent_bit.naive_records = number(&value()?)?,
            "--fluent-bit-rounds" => args.fluent_bit.rounds = number(&value()?)?,
            "--fluent-bit-service-records" => {
                args.fluent_bit.service_records = number(&value()?)?;
            }
            "--fluent-bit-only" => args.fluent_bit_only = true,
            "--no-fluent-bit" => args.no_fluent_bit = true,
            "--quick" => {
                args.lines = 20_000;
                args.runs = 3;
                args.min_time_ms = 100;
                args.vrl_records = 2_000;
                args.fuel_records = 5_000;
                args.memory_records = 50_000;
                args.callgrind_records = 2_000;
                args.fluent_bit.records = 5_000;
                args.fluent_bit.naive_records = 1_000;
                args.fluent_bit.service_records = 5_000;
                args.fluent_bit.rounds = 1;
            }
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.lines == 0 || args.runs == 0 || args.check_every == 0 {
        return Err("--lines, --runs and --check-every must be at least 1".into());
    }
    if args.fluent_bit.records == 0 || args.fluent_bit.rounds == 0 {
        return Err("--fluent-bit-records and --fluent-bit-rounds must be at least 1".into());
    }
    if args.fluent_bit_only && args.no_fluent_bit {
        return Err("--fluent-bit-only and --no-fluent-bit contradict each other".into());
    }
    if let Some(records) = target_records {
        let corpus = target_corpus.ok_or("--callgrind-target needs --corpus DIR")?;
        let events = match target_kind.as_deref() {
            Some("events") | None => true,
            Some("drops") => false,
            Some(other) => return Err(format!("--kind {other}: events or drops")),
        };
        args.callgrind_target = Some(CallgrindTarget {
            records,
            corpus,
            events,
        });
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{text}: not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Args, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_options_and_errors() {
        let args = parse_str(&[]).expect("defaults");
        assert_eq!(args.lines, 1_000_000);
        let args = parse_str(&["--lines", "2_000", "--out", "x.json"]).expect("parses");
        assert_eq!(args.lines, 2000);
        assert_eq!(args.out, Some(PathBuf::from("x.json")));
        assert!(parse_str(&["--lines"]).is_err());
        assert!(parse_str(&["--lines", "many"]).is_err());
        assert!(parse_str(&["--bogus"]).is_err());
        assert!(parse_str(&["--callgrind-target", "5"]).is_err());
        let target = parse_str(&[
            "--callgrind-target",
            "5",
            "--corpus",
            "c",
            "--kind",
            "drops",
        ])
        .expect("parses")
        .callgrind_target
        .expect("target");
        assert_eq!((target.records, target.events), (5, false));
    }
}
