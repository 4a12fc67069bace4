//! The AOT door: `flb-wamrc` compiles the module for Fluent Bit's WAMR; the
//! examples run it (`examples.rs`, same bytes as the `.wasm`), and here a
//! damaged or foreign AOT file must make Fluent Bit fail at start, saying
//! why, rather than load and lose records later.

use std::path::Path;
use std::process::Command;

use crate::config::Config;
use crate::fluent_bit;
use crate::run::Run;
use crate::support::repo_root;
use crate::{Suite, TestResult, Verdict};

/// Where the AOT format's version sits: after the 4-byte magic `\0aot`.
const VERSION_AT: std::ops::Range<usize> = 4..8;

/// `flb-wamrc --target=<target> --cpu=generic -o <out> <wasm>`: a portable
/// CPU, so the file runs on any CPU of the architecture.
pub fn compile(wamrc: &Path, wasm: &Path, target: &str, out: &Path) -> Result<(), String> {
    let output = Command::new(wamrc)
        .arg(format!("--target={target}"))
        .arg("--cpu=generic")
        .arg("-o")
        .arg(out)
        .arg(wasm)
        .output()
        .map_err(|e| format!("run {}: {e}", wamrc.display()))?;
    if output.status.success() && out.is_file() {
        Ok(())
    } else {
        Err(format!(
            "{} --target={target} failed ({}): {}{}",
            wamrc.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Each bad file, what Fluent Bit says: it must exit at start, with an
/// error naming the file and the loader's reason.
pub fn damaged_files(suite: &Suite) -> TestResult {
    let wamrc = suite.wamrc()?;
    let aot = suite.aot()?;
    let dir = suite.fresh_dir("aot.damaged");
    let good = std::fs::read(aot).map_err(|e| Verdict::fail(e.to_string()))?;
    let aarch64 = dir.join("twingate_analytics.aarch64.aot");
    compile(wamrc, &suite.module, "aarch64", &aarch64).map_err(Verdict::fail)?;
    let mut other_version = good.clone();
    let version = u32::from_le_bytes(other_version[VERSION_AT].try_into().expect("4 bytes"));
    other_version[VERSION_AT].copy_from_slice(&(version - 1).to_le_bytes());
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        (
            "aarch64",
            std::fs::read(&aarch64).map_err(|e| Verdict::fail(e.to_string()))?,
        ),
        (
            "another WAMR version (format version patched)",
            other_version,
        ),
        ("empty", Vec::new()),
    ];
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for (what, bytes) in &bad {
        let file = dir.join(format!("{}.aot", what.split(' ').next().unwrap_or(what)));
        std::fs::write(&file, bytes).map_err(|e| Verdict::fail(e.to_string()))?;
        let config = Config::load(&repo_root().join("examples/fluent-bit/docker.conf"));
        let label = format!("aot.{}", what.split(' ').next().unwrap_or(what));
        let run = Run::new(suite, &label, config, &file);
        crate::layout::docker(&run.root, &[]);
        let path = run.write().map_err(Verdict::fail)?;
        let log = run.root.join("fluent-bit.log");
        let stopped = fluent_bit::run_expecting_failure(&suite.fluent_bit, &path, &log)
            .map_err(|e| Verdict::fail(format!("{what}: {e}")))?;
        suite.clean(&run.root);
        let errors: Vec<&str> = stopped
            .log
            .lines()
            .filter(|l| l.contains("[error]"))
            .collect();
        // WAMR's reason, then the filter's line naming the file.
        let named = errors.iter().position(|l| {
            l.contains("failed to instantiate wasm program")
                && l.contains(file.to_str().unwrap_or("?"))
        });
        let reason = named
            .and_then(|i| i.checked_sub(1))
            .map(|i| errors[i].split("] ").last().unwrap_or(errors[i]))
            .unwrap_or("(no reason logged)");
        if stopped.status.success() || named.is_none() || named == Some(0) {
            failures.push(format!(
                "{what}: exit {}, errors logged:\n{}",
                stopped.status,
                errors.join("\n")
            ));
        }
        report.push(format!("{what}: {} ({reason})", stopped.status));
    }
    if !failures.is_empty() {
        return Err(Verdict::fail(failures.join("\n")));
    }
    println!(
        "aot: bad files refused at start:\n  {}",
        report.join("\n  ")
    );
    suite.clean(&dir);
    Ok(())
}
