//! One run of Fluent Bit on one config: lay out the inputs under a fresh
//! root, adapt the config (see `config::adapt`), start Fluent Bit, feed the
//! inputs, wait until the outputs hold what they should (or nothing moves
//! any more), stop it with SIGTERM, and collect what it wrote.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, Setup, adapt};
use crate::examples::{Shape, connector_tag, wasm_filter};
use crate::expect::read_lines;
use crate::expect::{Filter, Tally, Want, check_counters, compare, wanted};
use crate::fluent_bit::{self, Metrics, warnings};
use crate::layout;
use crate::layout::Source;
use crate::support::Case;
use crate::{Suite, TestResult, Verdict};

/// How long a run may sit with no counter moving before the suite decides
/// that the missing records are lost.
const QUIET: Duration = Duration::from_secs(3);

/// A config about to run, adapted, under its own root.
pub struct Run<'a> {
    suite: &'a Suite,
    pub name: String,
    pub root: PathBuf,
    pub config: Config,
    /// The files the outputs write, in the outputs' order.
    pub outputs: Vec<PathBuf>,
    port: u16,
}

/// What a run left: the counters at the end, every output's records, what
/// Fluent Bit printed.
pub struct Done {
    pub metrics: Metrics,
    pub outputs: Vec<Vec<String>>,
    pub log: String,
    pub root: PathBuf,
}

impl Done {
    /// The test's result from its failures: the first few described, the
    /// work files kept; or, with none, the work files removed.
    pub fn verdict(&self, suite: &Suite, name: &str, failures: &[String]) -> TestResult {
        if failures.is_empty() {
            suite.clean(&self.root);
            return Ok(());
        }
        Err(Verdict::fail(self.describe(name, failures)))
    }

    /// Failures as a message: how many, where the work files are, the
    /// first few.
    pub fn describe(&self, name: &str, failures: &[String]) -> String {
        let shown: Vec<&str> = failures.iter().take(15).map(String::as_str).collect();
        format!(
            "{name}: {} problems (work files in {}):\n{}",
            failures.len(),
            self.root.display(),
            shown.join("\n")
        )
    }

    /// Warnings and errors Fluent Bit logged, as failure lines.
    pub fn logged_problems(&self, name: &str) -> Vec<String> {
        warnings(&self.log)
            .into_iter()
            .map(|line| format!("{name}: Fluent Bit logged: {line}"))
            .collect()
    }
}

impl<'a> Run<'a> {
    /// `config` adapted to run `module` under a fresh root named after `name`.
    pub fn new(suite: &'a Suite, name: &str, mut config: Config, module: &Path) -> Run<'a> {
        let root = suite.fresh_dir(name);
        let port = fluent_bit::free_port();
        let setup = Setup {
            root: &root,
            module,
            http_port: port,
        };
        let outputs = adapt(&mut config, &setup);
        Run {
            suite,
            name: name.to_owned(),
            root,
            config,
            outputs,
            port,
        }
    }

    /// Runs it: starts Fluent Bit, waits for the inputs to have their files
    /// open, feeds `source`, and waits until the outputs have written
    /// `expected` records in all (then one more flush, to catch extras), or
    /// until nothing moves for [`QUIET`].
    pub fn go(self, source: &Source, expected: u64) -> Result<Done, String> {
        self.go_with(|| source.feed(), source.files, expected)
    }

    /// Writes the adapted config into the root, with the directories a
    /// real machine would have; returns the config's path.
    pub fn write(&self) -> Result<PathBuf, String> {
        let path = self
            .root
            .join(format!("fluent-bit.{}", self.config.extension()));
        std::fs::write(&path, self.config.render()).map_err(|e| e.to_string())?;
        for input in &self.config.inputs {
            // The state databases' directories exist on a real machine (the
            // package or the volume mount makes them).
            if let Some(db) = input.get("db") {
                let dir = Path::new(db).parent().expect("a db file in a directory");
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
        }
        // The replaced outputs' directory: made here, since two file outputs
        // creating it at once (`mkdir on`) race, and the loser fails its
        // chunk with EEXIST ("error opening", retried later, out of order).
        std::fs::create_dir_all(self.root.join("out")).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// [`Run::go`] with any feed: `files` is how many files the inputs must
    /// have opened before `feed` runs.
    pub fn go_with(self, feed: impl FnOnce(), files: u64, expected: u64) -> Result<Done, String> {
        let path = self.write()?;
        let log = self.root.join("fluent-bit.log");
        let mut running = fluent_bit::start(&self.suite.fluent_bit, &path, self.port, &log)?;
        let opened = running.wait_for(
            |m| m.total("input", "files_opened") >= files,
            Duration::from_secs(10),
        );
        if opened.total("input", "files_opened") < files {
            let stopped = running.stop();
            return Err(format!(
                "{}: the inputs opened {} of {files} files: {opened}\n{}",
                self.name,
                opened.total("input", "files_opened"),
                fluent_bit::tail(&stopped.log)
            ));
        }
        feed();
        let metrics = running.settle(|m| m.total("output", "proc_records") >= expected, QUIET);
        let stopped = running.stop();
        if !stopped.status.success() {
            return Err(format!(
                "{}: Fluent Bit exited with {} after SIGTERM:\n{}",
                self.name,
                stopped.status,
                fluent_bit::tail(&stopped.log)
            ));
        }
        Ok(Done {
            metrics,
            outputs: self.outputs.iter().map(|p| read_lines(p)).collect(),
            log: stopped.log,
            root: self.root,
        })
    }
}

/// A config with one output run on a Docker host's records, and what it
/// should have written.
pub struct DockerRun {
    pub done: Done,
    pub wants: Vec<Want>,
    pub filter: Filter,
    tally: Tally,
    neighbours: u64,
}

impl DockerRun {
    /// Runs `config` (one output) on the cases `make_cases` gives for the
    /// connector's tag, laid out as a Docker host.
    pub fn go(
        suite: &Suite,
        name: &str,
        config: Config,
        make_cases: impl FnOnce(&str) -> Vec<Case>,
    ) -> Result<DockerRun, String> {
        let filter = wasm_filter(&config);
        let run = Run::new(suite, name, config, &suite.module);
        let tag = connector_tag(&run.config, Shape::Docker, &run.root);
        let source = layout::docker(&run.root, &make_cases(&tag));
        let (wants, dropped) = wanted(&source.cases, &filter, &tag);
        let tally = Tally::of(&wants, dropped);
        let done = run.go(&source, tally.written())?;
        Ok(DockerRun {
            done,
            wants,
            filter,
            tally,
            neighbours: source.neighbour_records,
        })
    }

    /// The records the output wrote.
    pub fn written(&self) -> &[String] {
        &self.done.outputs[0]
    }

    /// The counters' checks and what Fluent Bit logged.
    pub fn counter_checks(&self, name: &str) -> Vec<String> {
        let written = self.written().len();
        let mut failures =
            check_counters(&self.done.metrics, &self.tally, self.neighbours, written, 1);
        failures.extend(self.done.logged_problems(name));
        failures
    }

    /// Every record against what was wanted, then the counters.
    pub fn checks(&self, name: &str) -> Vec<String> {
        let mut failures = compare(name, self.written(), &self.wants, &self.filter);
        failures.extend(self.counter_checks(name));
        failures
    }
}
