//! The README's main command, `bash scripts/twingate.sh examples/logs`,
//! checked record by record against `examples/logs/expected/`.
//!
//! The script sets up the toolchain, builds the module and this very test
//! (`cargo test --release --workspace --no-run --test examples`, so that the
//! CLI it runs is the one the test run builds), then runs the CLI with its
//! arguments. This test runs the same binary with the same arguments, from
//! the repository root, and checks what it prints; CI runs the command
//! itself, word for word, on a rustup without the toolchain
//! (tests/setup/fresh_rustup.sh).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};

use support::{Answer, Case, Expected, assert_conforms, cases_in, repo_root};

/// The script the README's `# 1.` command runs.
const SCRIPT: &str = "scripts/twingate.sh";

/// The arguments the README's `# 1.` command passes to the CLI, after
/// checking that its script builds and runs the binary this test runs.
fn readme_main_arguments() -> Vec<String> {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let command = readme
        .lines()
        .skip_while(|l| !l.starts_with("# 1. "))
        .nth(1)
        .expect("a command follows the README's `# 1.` line");
    let args = command
        .strip_prefix(&format!("bash {SCRIPT} "))
        .unwrap_or_else(|| panic!("the main command runs {SCRIPT}: {command}"));

    let script = std::fs::read_to_string(root.join(SCRIPT)).expect(SCRIPT);
    let lines: Vec<&str> = script.lines().map(str::trim).collect();
    for step in [
        "setup_rust",
        "cargo build --release -p twingate-analytics --target wasm32-unknown-unknown",
        "cargo test --release --workspace --no-run --test examples",
    ] {
        assert!(
            lines.contains(&step),
            "{SCRIPT} no longer runs `{step}`: this test relies on it"
        );
    }
    assert_eq!(
        lines.iter().rev().find(|l| !l.is_empty()),
        Some(&r#"exec "$target_dir/release/twingate" "$@""#),
        "{SCRIPT} ends by running the CLI this test runs, with the command's arguments"
    );
    args.split_whitespace().map(str::to_owned).collect()
}

/// The file of `examples/logs` each corpus shape is read from.
fn file_of(shape: &str) -> &'static str {
    match shape {
        "raw" => "connector.log",
        "syslog" => "syslog.log",
        "docker" => "docker.log",
        "cri" => "cri.log",
        "journal" => "journal.ndjson",
        other => panic!("unknown shape {other}"),
    }
}

#[test]
fn the_readme_main_command_prints_the_expected_events_and_summary() {
    let args = readme_main_arguments();
    assert_eq!(
        args,
        ["examples/logs"],
        "this test knows the example directory"
    );
    let root = repo_root();
    let output = Command::new(env!("CARGO_BIN_EXE_twingate"))
        .args(&args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}: {stderr}",
        output.status
    );

    let dir = root.join("examples/logs");
    let mut cases = cases_in(&dir, &dir.join("expected"));
    // A directory is read file by file, in name order.
    cases.sort_by_key(|case| file_of(case.shape));
    let records = cases.len();
    let (mut events, mut drops, mut errors) = (0, 0, 0);
    for case in &cases {
        match case.expected {
            Expected::Event(_) => events += 1,
            Expected::Drop => drops += 1,
            Expected::Error => errors += 1,
        }
    }
    let summary = format!(
        "total: {records} records in ({records} lines, lines + cri + docker + journal) → \
         {events} events, {drops} dropped, {errors} error records, 0 lost"
    );
    assert!(stderr.contains(&summary), "want `{summary}` in:\n{stderr}");

    // One output line for each record that is not dropped, in input order.
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let mut lines = stdout.lines();
    let kept: Vec<&Case> = cases
        .iter()
        .filter(|c| !matches!(c.expected, Expected::Drop))
        .collect();
    let mut answers = Vec::new();
    for case in &kept {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("output ends before {} line {}", case.shape, case.line_no));
        answers.push(if line.contains("\"twingate.parse_error\":") {
            Answer::Error(line.to_owned())
        } else {
            Answer::Event(line.to_owned())
        });
    }
    assert_eq!(
        lines.next(),
        None,
        "more records than the example's outcomes"
    );
    let mut answers = answers.into_iter();
    let kept: Vec<Case> = kept.into_iter().cloned().collect();
    assert_conforms("README main command", false, &kept, |_| {
        answers.next().expect("one answer per record")
    });
}
