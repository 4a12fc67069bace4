//! Instructions per record of the native core under callgrind (stable on
//! a noisy machine). The `--callgrind-target` mode runs the core over the
//! first N records of one kind inside [`callgrind_loop`] and exits; run
//! under `valgrind --tool=callgrind --toggle-collect='*callgrind_loop*'`,
//! only that loop is counted (not the loading of the corpus).

use std::path::Path;
use std::process::Command;

use serde::Serialize;
use twingate_analytics::{Options, Outcome, Transformer};

use crate::args::CallgrindTarget;
use crate::corpus::{self, Kind, Set};

/// The records of the wanted kind, warm-up, then the counted loop.
pub fn target(target: &CallgrindTarget) -> Result<(), String> {
    let want = if target.events {
        Kind::Event
    } else {
        Kind::Drop
    };
    let mut records = Set::default();
    let mut expected = corpus::expected_lines(&target.corpus)?;
    corpus::for_each_record(&target.corpus, |record| {
        let line = expected.next().ok_or("expected.ndjson ended early")??;
        if Kind::from_expected_line(&line)? == want {
            records.push(record);
        }
        Ok(records.len() < target.records)
    })?;
    let mut transformer = Transformer::new();
    // Warm-up outside the counted function: the buffers grow once.
    for record in records.iter().take(100) {
        transformer.transform_record(record, Options::flatten());
    }
    let matched = callgrind_loop(&records, &mut transformer, target.events);
    if matched != records.len() {
        return Err(format!(
            "{} of {} records did not come out as {want:?}",
            records.len() - matched,
            records.len()
        ));
    }
    println!("{} {want:?} records", records.len());
    Ok(())
}

/// The counted loop: the core over every record; returns how many came out
/// as expected.
#[inline(never)]
pub fn callgrind_loop(records: &Set, transformer: &mut Transformer, events: bool) -> usize {
    let mut matched = 0;
    for record in records.iter() {
        let outcome =
            transformer.transform_record(std::hint::black_box(record), Options::flatten());
        matched += usize::from(matches!(
            (outcome, events),
            (Outcome::Event, true) | (Outcome::Dropped, false)
        ));
    }
    matched
}

#[derive(Debug, Clone, Serialize)]
pub struct Callgrind {
    pub records: usize,
    pub instructions_per_event: f64,
    pub instructions_per_drop: f64,
    pub command: String,
}

/// Runs this binary's target mode under callgrind, once for events and
/// once for drops.
pub fn measure(corpus: &Path, records: usize) -> Result<Callgrind, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out_dir = std::env::temp_dir().join("twingate-bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let mut per_record = [0.0; 2];
    let mut command = String::new();
    for (slot, kind) in ["events", "drops"].iter().enumerate() {
        let out_file = out_dir.join(format!("callgrind.{kind}.out"));
        let args = [
            "--tool=callgrind".to_owned(),
            format!("--callgrind-out-file={}", out_file.display()),
            "--toggle-collect=*callgrind_loop*".to_owned(),
            exe.display().to_string(),
            "--callgrind-target".to_owned(),
            records.to_string(),
            "--corpus".to_owned(),
            corpus.display().to_string(),
            "--kind".to_owned(),
            (*kind).to_owned(),
        ];
        if slot == 0 {
            // For the report: the glob quoted for a shell, paths relative.
            let cwd = std::env::current_dir().unwrap_or_default();
            let shown: Vec<String> = args
                .iter()
                .map(|a| {
                    let a = a.replace(&format!("{}/", cwd.display()), "");
                    if a.contains('*') { format!("'{a}'") } else { a }
                })
                .collect();
            command = format!("valgrind {}", shown.join(" "));
        }
        let output = Command::new("valgrind")
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run valgrind: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "valgrind failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        let text = std::fs::read_to_string(&out_file)
            .map_err(|e| format!("{}: {e}", out_file.display()))?;
        let total = totals(&text).ok_or("no totals line in the callgrind output")?;
        per_record[slot] = total as f64 / records as f64;
    }
    Ok(Callgrind {
        records,
        instructions_per_event: per_record[0],
        instructions_per_drop: per_record[1],
        command,
    })
}

/// The instruction count of a callgrind output (`totals:` or `summary:`).
fn totals(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_totals_line() {
        assert_eq!(
            super::totals("events: Ir\nfn=x\n1 2\ntotals: 12345\n"),
            Some(12345)
        );
        assert_eq!(super::totals("summary: 7\n"), Some(7));
        assert_eq!(super::totals("nothing"), None);
    }
}
