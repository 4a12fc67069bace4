//! The module in the real Fluent Bit (issue 14): every Fluent Bit config of
//! the repository run on the corpus laid out as its source lays it out, the
//! hostile corpus through the six entry points at two heap sizes, Fluent
//! Bit's nesting limit measured, deep and duplicate-key payloads, and the
//! AOT module (same records, and damaged or foreign AOT files refused at
//! load).
//!
//! Needs the module built (`cargo build --release -p twingate-analytics
//! --target wasm32-unknown-unknown`) and Fluent Bit: `FLUENT_BIT=/path/to/
//! fluent-bit` or `fluent-bit` on PATH; without it the suite prints one line
//! saying it skipped (a failure when `TWINGATE_REQUIRE_REAL_HOSTS=1`, as in
//! CI). `TWINGATE_MODULE=/path/to/module` runs it on another module file
//! (an `.aot` one, for example). Arguments filter the tests by name:
//! `cargo test --release -p twingate-cli --test real_fluent_bit -- hostile`.
//!
//! A `harness = false` test: Fluent Bit runs as separate processes, several
//! at once, and the skip line must reach the terminal (libtest would
//! capture it).

#[path = "../../../tests/support/mod.rs"]
mod support;

#[path = "../../../tests/support/real_host.rs"]
mod real_host;

#[path = "../common/mod.rs"]
mod wasm_encoder;

mod aot;
mod config;
mod examples;
mod expect;
mod fluent_bit;
mod hostile;
mod layout;
mod nesting;
mod payloads;
mod run;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use real_host::{FLB_WAMRC, FLUENT_BIT, REQUIRE};

/// Fluent Bit processes at once: they mostly wait for a flush, so a few
/// more than the 2 cores.
const DEFAULT_JOBS: usize = 4;

/// Why a test did not pass.
#[derive(Debug)]
pub enum Verdict {
    Failed(String),
    /// What it needs is missing on this machine (never under
    /// `TWINGATE_REQUIRE_REAL_HOSTS=1`).
    Skipped(String),
}

impl Verdict {
    pub fn fail(message: impl Into<String>) -> Verdict {
        Verdict::Failed(message.into())
    }
}

pub type TestResult = Result<(), Verdict>;

/// What every test shares: the binaries, the module under test, the work
/// directory, and the AOT module compiled once.
pub struct Suite {
    pub fluent_bit: PathBuf,
    pub module: PathBuf,
    pub work: PathBuf,
    wamrc: Result<PathBuf, String>,
    aot: OnceLock<Result<PathBuf, String>>,
    required: bool,
}

impl Suite {
    /// A new, empty directory for one run.
    pub fn fresh_dir(&self, name: &str) -> PathBuf {
        let dir = self.work.join(name.replace('/', "_"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        dir
    }

    /// Removes a passed run's directory (failed ones stay, for a look).
    pub fn clean(&self, dir: &Path) {
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Fluent Bit's AOT compiler, or why the AOT tests cannot run.
    pub fn wamrc(&self) -> Result<&Path, Verdict> {
        self.wamrc
            .as_deref()
            .map_err(|skip| Verdict::Skipped(skip.clone()))
    }

    /// The module under test compiled by `flb-wamrc` for x86-64 with a
    /// portable CPU (once; the first caller waits for it).
    pub fn aot(&self) -> Result<&Path, Verdict> {
        let wamrc = self.wamrc()?;
        if !std::fs::read(&self.module).is_ok_and(|bytes| bytes.starts_with(b"\0asm")) {
            return Err(Verdict::Skipped(format!(
                "{} is not a .wasm module to compile ahead of time",
                self.module.display()
            )));
        }
        self.aot
            .get_or_init(|| {
                let out = self.work.join("twingate_analytics.x86_64.aot");
                let start = Instant::now();
                let compiled = aot::compile(wamrc, &self.module, "x86_64", &out);
                if compiled.is_ok() {
                    println!(
                        "AOT module compiled by {} in {:.1} s; the examples run it too",
                        wamrc.display(),
                        start.elapsed().as_secs_f64()
                    );
                }
                compiled.map(|()| out)
            })
            .as_deref()
            .map_err(|e| Verdict::fail(e.clone()))
    }

    /// systemd-journal-remote writes the journal files of the systemd tests.
    pub fn need_journal_remote(&self) -> TestResult {
        if Path::new(layout::JOURNAL_REMOTE).is_file() {
            return Ok(());
        }
        let message = format!(
            "no {} (Debian package systemd-journal-remote) to write journal files",
            layout::JOURNAL_REMOTE
        );
        if self.required {
            Err(Verdict::Failed(format!("{REQUIRE}=1 but {message}")))
        } else {
            Err(Verdict::Skipped(message))
        }
    }
}

struct Test {
    name: String,
    run: Box<dyn Fn(&Suite) -> TestResult + Send + Sync>,
}

fn test(
    name: impl Into<String>,
    run: impl Fn(&Suite) -> TestResult + Send + Sync + 'static,
) -> Test {
    Test {
        name: name.into(),
        run: Box::new(run),
    }
}

/// Every test, the longest first (they run on a few threads).
fn tests() -> Vec<Test> {
    let mut tests = Vec::new();
    for function in expect::ENTRY_POINTS {
        for heap in hostile::HEAPS {
            tests.push(test(
                format!("hostile::{function}::{}", hostile::heap_name(heap)),
                move |suite| hostile::test(suite, function, heap),
            ));
        }
    }
    tests.push(test("nesting::fluent_bits_limit", nesting::test));
    for example in &examples::EXAMPLES {
        tests.push(test(format!("examples::{}", example.name), move |suite| {
            examples::test(suite, example)
        }));
    }
    for function in expect::ENTRY_POINTS {
        tests.push(test(format!("payloads::{function}"), move |suite| {
            payloads::test(suite, function)
        }));
    }
    tests.push(test("payloads::numbers", payloads::numbers));
    tests.push(test("hostile::heap_boundary", hostile::heap_boundary));
    tests.push(test(
        "aot::damaged_or_foreign_files_fail_at_load",
        aot::damaged_files,
    ));
    tests
}

thread_local! {
    /// The last panic's message and place, for the report.
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn main() {
    let started = Instant::now();
    let fluent_bit = match FLUENT_BIT.find() {
        Ok(path) => path,
        Err(skip) => {
            println!("{skip}");
            return;
        }
    };
    let module = std::env::var_os("TWINGATE_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            support::repo_root()
                .join("target/wasm32-unknown-unknown/release/twingate_analytics.wasm")
        });
    assert!(
        module.is_file(),
        "{} is missing: build it with `cargo build --release -p twingate-analytics --target wasm32-unknown-unknown`",
        module.display()
    );
    let work =
        std::env::temp_dir().join(format!("twingate-real-fluent-bit-{}", std::process::id()));
    let suite = Suite {
        wamrc: FLB_WAMRC.find_beside(&fluent_bit),
        fluent_bit,
        module,
        work,
        aot: OnceLock::new(),
        required: std::env::var(REQUIRE).is_ok_and(|v| v == "1"),
    };
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: Vec<Test> = tests()
        .into_iter()
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str())))
        .collect();
    let jobs = std::env::var("TWINGATE_FB_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(DEFAULT_JOBS);
    println!(
        "\nrunning {} tests in the real Fluent Bit ({}), module {}, {jobs} at a time",
        tests.len(),
        suite.fluent_bit.display(),
        suite.module.display()
    );
    std::panic::set_hook(Box::new(|info| {
        PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
    }));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, TestResult, f64)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let needs_aot = |t: &Test| t.name.starts_with("examples::") || t.name.starts_with("aot::");
        if tests.iter().any(needs_aot) {
            // Compile the AOT module while the first tests run.
            scope.spawn(|| {
                let _ = suite.aot();
            });
        }
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(test) = tests.get(i) else { break };
                    let start = Instant::now();
                    let result = catch_unwind(AssertUnwindSafe(|| (test.run)(&suite)))
                        .unwrap_or_else(|_| {
                            let message = PANIC.with(|p| p.borrow_mut().take());
                            Err(Verdict::Failed(
                                message.unwrap_or_else(|| "panicked".into()),
                            ))
                        });
                    let seconds = start.elapsed().as_secs_f64();
                    let status = match &result {
                        Ok(()) => "ok".to_owned(),
                        Err(Verdict::Failed(_)) => "FAILED".to_owned(),
                        Err(Verdict::Skipped(why)) => format!("SKIPPED: {why}"),
                    };
                    println!("test {} ... {status} ({seconds:.1} s)", test.name);
                    results.lock().expect("no panic while holding it").push((
                        test.name.clone(),
                        result,
                        seconds,
                    ));
                }
            });
        }
    });
    let results = results.into_inner().expect("threads done");
    let failed: Vec<_> = results
        .iter()
        .filter_map(|(name, r, _)| match r {
            Err(Verdict::Failed(why)) => Some((name, why)),
            _ => None,
        })
        .collect();
    let skipped = results
        .iter()
        .filter(|(_, r, _)| matches!(r, Err(Verdict::Skipped(_))))
        .count();
    for (name, why) in &failed {
        println!("\n---- {name} ----\n{why}");
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; {skipped} skipped; finished in {:.1} s",
        if failed.is_empty() { "ok" } else { "FAILED" },
        results.len() - failed.len() - skipped,
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        let _ = std::fs::remove_dir_all(&suite.work);
    } else {
        println!("work files of the failed runs: {}", suite.work.display());
        std::process::exit(1);
    }
}
