//! The portable WASI command (`twingate` built for wasm32-wasip1 without the
//! wasmtime host), run under a WASI runtime over the whole corpus: every
//! record held to the contract table (`tests/support`), and every byte of
//! output the same as the native CLI's `--native` run, summary included
//! (but for the timing).
//!
//! Needs the command built (`cargo build --release -p twingate-cli --target
//! wasm32-wasip1 --no-default-features`) and the test host, the PyPI
//! `wasmtime` package in `target/py` (`bash tests/python/venv.sh`): it
//! installs in seconds, where a Rust WASI host (the wasmtime-wasi crate)
//! would add minutes of build to every clean CI run.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Map, Value};
use support::{Answer, Case, Expected, all_cases, assert_conforms, json_eq, repo_root};

const BUILD_HINT: &str =
    "cargo build --release -p twingate-cli --target wasm32-wasip1 --no-default-features";

/// Each corpus file and the shape name `tests/support` gives its cases.
const CORPUS: [(&str, &str); 5] = [
    ("connector.log", "raw"),
    ("syslog.log", "syslog"),
    ("docker.log", "docker"),
    ("cri.log", "cri"),
    ("journal.ndjson", "journal"),
];

fn wasi_command() -> PathBuf {
    let path = repo_root().join("target/wasm32-wasip1/release/twingate.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build it with `{BUILD_HINT}`",
        path.display()
    );
    path
}

fn python() -> PathBuf {
    let path = repo_root().join("target/py/bin/python");
    assert!(
        path.is_file(),
        "{} is missing: the WASI test host is the PyPI wasmtime package; install it with `bash tests/python/venv.sh`",
        path.display()
    );
    path
}

/// Runs the WASI command with `args` in `dir`, standard input from `stdin`
/// (or none), sharing the `shared` directories (relative to `dir`).
fn run_wasi(dir: &Path, shared: &[&str], args: &[&str], stdin: Option<&Path>) -> Output {
    let mut command = Command::new(python());
    command
        .current_dir(dir)
        .arg(repo_root().join("tests/deploy/wasi_run.py"));
    for directory in shared {
        command.arg("--dir").arg(directory);
    }
    command.arg(wasi_command()).args(args);
    finish(command, stdin)
}

/// Runs the native CLI's `--native` core with the same arguments.
fn run_native(dir: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twingate"));
    command.current_dir(dir).arg("--native").args(args);
    finish(command, stdin)
}

fn finish(mut command: Command, stdin: Option<&Path>) -> Output {
    let input = match stdin {
        Some(path) => Stdio::from(
            File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())),
        ),
        None => Stdio::null(),
    };
    command.stdin(input).output().expect("the command starts")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The summary lines without their timing (`; 1.77 MB in 0.043 s = ... [`),
/// the only part two runs may differ in.
fn without_timing(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| match (line.find(" lost; "), line.rfind(" [")) {
            (Some(lost), Some(engine)) if lost < engine => {
                format!("{} lost; (timing){}", &line[..lost], &line[engine..])
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The WASI command and the native CLI give the same status, the same
/// standard output byte for byte, and the same summary.
fn assert_same(what: &str, wasi: &Output, native: &Output) {
    assert_eq!(
        wasi.status.code(),
        native.status.code(),
        "{what}: exit status; WASI stderr: {}",
        stderr(wasi)
    );
    assert!(
        wasi.stdout == native.stdout,
        "{what}: standard output differs from the native CLI's ({} and {} bytes)",
        wasi.stdout.len(),
        native.stdout.len()
    );
    assert_eq!(
        without_timing(&stderr(wasi)),
        without_timing(&stderr(native)),
        "{what}: summary"
    );
}

/// With `--keep` every record has one output line: the contract's answer
/// for it, read back from the line.
fn keep_answer(case: &Case, line: &str) -> Answer {
    let Ok(Value::Object(output)) = serde_json::from_str::<Value>(line) else {
        return Answer::Lost(format!("not a JSON object: {line}"));
    };
    let record: Map<String, Value> = serde_json::from_str(&case.record).expect("fixture");
    if output.contains_key("twingate.parse_error") {
        Answer::Error(line.to_owned())
    } else if json_eq(&Value::Object(output), &Value::Object(record)) {
        Answer::Kept(line.to_owned())
    } else {
        Answer::Event(line.to_owned())
    }
}

/// `N events, N dropped, N error records, 0 lost` for the cases.
fn expected_counts(cases: &[&Case]) -> String {
    let count = |pick: fn(&Expected) -> bool| cases.iter().filter(|c| pick(&c.expected)).count();
    format!(
        "{} events, {} dropped, {} error records, 0 lost",
        count(|e| matches!(e, Expected::Event(_))),
        count(|e| matches!(e, Expected::Drop)),
        count(|e| matches!(e, Expected::Error)),
    )
}

#[test]
fn the_wasi_command_meets_the_contract_on_every_corpus_shape_like_the_native_cli() {
    let corpus = repo_root().join("tests/corpus");
    let cases = all_cases();
    for (file, shape) in CORPUS {
        let input = corpus.join(file);
        let shape_cases: Vec<&Case> = cases.iter().filter(|c| c.shape == shape).collect();

        // --keep: one line per record, each checked against the contract.
        let wasi = run_wasi(&corpus, &[], &["--keep", "-"], Some(&input));
        let native = run_native(&corpus, &["--keep", "-"], Some(&input));
        assert_same(&format!("{file} --keep"), &wasi, &native);
        let kept = String::from_utf8(wasi.stdout.clone()).expect("UTF-8 output");
        let lines: Vec<&str> = kept.lines().collect();
        assert_eq!(lines.len(), shape_cases.len(), "{file}: one line a record");
        let mut answers = lines.iter();
        let owned: Vec<Case> = shape_cases.iter().map(|c| (*c).clone()).collect();
        assert_conforms(
            &format!("WASI command, {file}, --keep"),
            true,
            &owned,
            |case| keep_answer(case, answers.next().expect("counted above")),
        );

        // The default drops what is not analytics: the same lines but the
        // kept ones, and the contract's counts in the summary.
        let wasi = run_wasi(&corpus, &[], &[], Some(&input));
        let native = run_native(&corpus, &[], Some(&input));
        assert_same(file, &wasi, &native);
        let dropped = String::from_utf8(wasi.stdout.clone()).expect("UTF-8 output");
        let without_drops: Vec<&str> = lines
            .iter()
            .zip(&shape_cases)
            .filter(|(_, case)| !matches!(case.expected, Expected::Drop))
            .map(|(line, _)| *line)
            .collect();
        assert!(
            dropped.lines().eq(without_drops.iter().copied()),
            "{file}: the default's output is --keep's without the kept records"
        );
        let summary = stderr(&wasi);
        let counts = expected_counts(&shape_cases);
        assert!(summary.contains(&counts), "{file}: {counts} in {summary}");
    }
}

#[test]
fn the_wasi_command_reads_a_shared_directory_like_the_native_cli() {
    let tests = repo_root().join("tests");
    let wasi = run_wasi(&tests, &["corpus"], &["--quiet", "corpus"], None);
    let native = run_native(&tests, &["--quiet", "corpus"], None);
    assert_same("the corpus directory", &wasi, &native);
    let summary = stderr(&wasi);
    assert!(
        summary.contains("twingate: corpus/docker.log: "),
        "{summary}"
    );
    assert!(summary.contains("twingate: total: "), "{summary}");
}

#[test]
fn an_unshared_path_fails_and_says_how_to_share_it() {
    let tests = repo_root().join("tests");
    let output = run_wasi(&tests, &[], &["corpus/docker.log"], None);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.starts_with("twingate: cannot read corpus/docker.log: ")
            && message.contains("wasmtime run --dir DIR"),
        "{message}"
    );
}

#[test]
fn options_that_need_the_wasm_host_are_refused_with_exit_2() {
    let tests = repo_root().join("tests");
    for args in [
        &["--module", "m.wasm"][..],
        &["--heap-size", "4M"],
        &["--fuel"],
        &["--format", "xml"],
        &["--function", "nope"],
    ] {
        let output = run_wasi(&tests, &[], args, None);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(message.starts_with("twingate: "), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
        if args[0] != "--format" && args[0] != "--function" {
            assert!(message.contains("needs the wasm host"), "{message}");
        }
    }
}

#[test]
fn every_native_option_works_in_the_wasi_command() {
    let corpus = repo_root().join("tests/corpus");
    let input = corpus.join("docker.log");
    for args in [
        &["--format", "docker"][..],
        &["--format", "json", "--no-multiline"],
        &["--function", "twingate_flatten_keep"],
        &["--native", "--tag", "edge"],
        &["-q"],
    ] {
        let wasi = run_wasi(&corpus, &[], args, Some(&input));
        let native = run_native(&corpus, args, Some(&input));
        assert_same(&format!("{args:?}"), &wasi, &native);
        assert_eq!(wasi.status.code(), Some(0), "{args:?}: {}", stderr(&wasi));
    }
    let help = run_wasi(&corpus, &[], &["--help"], None);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("EXIT STATUS") && text.contains("THIS BUILD"),
        "{text}"
    );
}

#[test]
fn the_wasi_command_imports_only_wasi_and_is_small() {
    let bytes = std::fs::read(wasi_command()).expect("readable");
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, &bytes).expect("a valid module");
    for import in module.imports() {
        assert_eq!(
            import.module(),
            "wasi_snapshot_preview1",
            "{}: only WASI preview 1 imports",
            import.name()
        );
    }
    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    assert!(exports.contains(&"_start"), "a command: {exports:?}");
    assert!(
        !exports.iter().any(|e| e.starts_with("twingate_")),
        "the Fluent Bit ABI stays in the Fluent Bit module: {exports:?}"
    );
    // 324 KB today (symbols stripped, .cargo/config.toml).
    assert!(bytes.len() < 512 * 1024, "{} bytes", bytes.len());
}
