//! The CLI streams: 1 GiB of Docker records through standard input, and its
//! resident memory stays flat (it never holds more than a record or two).
//!
//! Linux only (reads `/proc/<pid>/status`); runs the core natively
//! (`--native`): reading, joining and writing are the same code either way,
//! and the module's own memory is tested in `memory.rs`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOTAL: u64 = 1 << 30;

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_gibibyte_through_stdin_in_flat_memory() {
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/docker.log");
    let records = std::fs::read(&corpus).expect("the corpus is in tests/corpus");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twingate"))
        .args(["--native", "--quiet", "--format", "docker", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let written = Arc::new(AtomicU64::new(0));
    let samples: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();

    let sampler = {
        let (written, samples) = (Arc::clone(&written), Arc::clone(&samples));
        std::thread::spawn(move || {
            while written.load(Ordering::Relaxed) < TOTAL {
                if let Some(kib) = resident_kib(pid) {
                    let at = written.load(Ordering::Relaxed);
                    samples.lock().expect("sampler lock").push((at, kib));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut copies = 0u64;
    while written.load(Ordering::Relaxed) < TOTAL {
        stdin.write_all(&records).expect("the CLI keeps reading");
        written.fetch_add(records.len() as u64, Ordering::Relaxed);
        copies += 1;
    }
    drop(stdin);
    sampler.join().expect("sampler thread");
    let output = child.wait_with_output().expect("the CLI finishes");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Every record was read: the summary counts them all.
    let summary = String::from_utf8_lossy(&output.stderr);
    let lines = records.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(
        summary.contains(&format!("{} records in", copies * lines)),
        "{summary}"
    );

    // Flat: after the first tenth, resident memory never exceeds what it was
    // then by more than a few pages of allocator slack.
    let samples = samples.lock().expect("samples");
    let warm: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at < TOTAL / 10)
        .map(|s| s.1)
        .collect();
    let rest: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= TOTAL / 10)
        .map(|s| s.1)
        .collect();
    assert!(
        warm.len() >= 3 && rest.len() >= 10,
        "too few samples: {samples:?}"
    );
    let warm_max = warm.iter().copied().max().unwrap_or(0);
    let rest_max = rest.iter().copied().max().unwrap_or(0);
    eprintln!(
        "resident memory: {warm_max} KiB after the first tenth, at most {rest_max} KiB after ({} samples)",
        samples.len()
    );
    assert!(
        rest_max <= warm_max + 4 * 1024,
        "resident memory grew from {warm_max} KiB to {rest_max} KiB while streaming 1 GiB"
    );
}
