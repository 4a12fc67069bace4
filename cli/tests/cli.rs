//! The `twingate` binary: usage, exit codes, output, and a closed pipe.

mod common;
mod run;

use run::{TempFile, twingate};
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

const EVENT: &str = r#"ANALYTICS {"event_type":"established_connection","timestamp":1623288585643,"user":{"email":"a@b.c"}}"#;
const SERVICE: &str = "[INFO] [connector] State: Online";
const BROKEN: &str = r#"ANALYTICS {"event_type":"#;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_and_version_exit_0() {
    let help = twingate(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("EXIT STATUS"), "{text}");
    assert!(text.contains("--heap-size"), "{text}");
    let version = twingate(&["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("twingate "));
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    for args in [
        &["--bogus"][..],
        &["--format", "xml"],
        &["--heap-size", "lots"],
        &["--native", "--function", "nope"],
        &["--profile", "splunk"],
    ] {
        let output = twingate(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = stderr(&output);
        assert!(message.starts_with("twingate: "), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}

#[test]
fn profile_picks_the_schema_in_the_module_and_natively() {
    let input = TempFile::new("profiles.log", format!("{EVENT}\n{SERVICE}\n"));
    for (profile, key) in [
        ("flatten", "event_type"),
        ("ecs", "ecs"),
        ("ocsf", "class_uid"),
    ] {
        for native in [false, true] {
            let mut args = vec!["--profile", profile, input.path()];
            if native {
                args.push("--native");
            }
            let output = twingate(&args);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            let lines = stdout_lines(&output);
            assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
            let event: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
            assert!(event.get(key).is_some(), "{args:?}: {event}");
        }
        // --keep passes the service line on, in every profile.
        let kept = twingate(&["--profile", profile, "--keep", input.path()]);
        assert_eq!(stdout_lines(&kept).len(), 2, "{profile} --keep");
    }
}

#[test]
fn a_missing_module_says_how_to_build_it() {
    let input = TempFile::new("missing-module.log", "x\n");
    let output = twingate(&["--module", "/nonexistent/m.wasm", input.path()]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("module not found at /nonexistent/m.wasm: build it with `cargo build"),
        "{message}"
    );
}

#[test]
fn a_missing_input_is_an_error() {
    let output = twingate(&["--native", "/nonexistent/input.log"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("cannot read /nonexistent/input.log"));
}

#[test]
fn native_writes_events_and_error_records_and_a_balanced_summary() {
    let input = TempFile::new("native.log", format!("{EVENT}\n{SERVICE}\n{BROKEN}\n"));
    let output = twingate(&["--native", input.path()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 2, "event + error record: {lines:?}");
    assert!(lines[0].contains(r#""user.email":"a@b.c""#), "{}", lines[0]);
    assert!(lines[1].contains("twingate.parse_error"), "{}", lines[1]);
    let summary = stderr(&output);
    assert!(
        summary.contains(
            "3 records in (3 lines, lines) → 1 events, 1 dropped, 1 error records, 0 lost"
        ),
        "{summary}"
    );
    assert!(summary.contains("[native]"), "{summary}");
}

#[test]
fn keep_passes_service_lines_on_and_quiet_writes_nothing() {
    let input = TempFile::new("keep.log", format!("{SERVICE}\n"));
    let output = twingate(&["--native", "--keep", input.path()]);
    assert!(output.status.success());
    assert_eq!(stdout_lines(&output).len(), 1);
    assert!(stderr(&output).contains("1 kept"), "{}", stderr(&output));

    let output = twingate(&["--native", "--quiet", input.path()]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
}

#[test]
fn several_inputs_get_a_summary_each_and_a_total() {
    let lines = TempFile::new("several.log", format!("{EVENT}\n"));
    let cri = TempFile::new(
        "several.cri",
        format!("2026-11-24T12:00:00Z stdout F {EVENT}\n"),
    );
    let output = twingate(&["--native", lines.path(), cri.path()]);
    assert!(output.status.success());
    let summary = stderr(&output);
    assert_eq!(summary.lines().count(), 3, "{summary}");
    assert!(summary.contains("(1 lines, cri)"), "{summary}");
    assert!(
        summary.contains("total: 2 records in (2 lines, lines + cri) → 2 events"),
        "{summary}"
    );
}

#[test]
fn standard_input_is_read_when_no_file_is_given() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twingate"))
        .arg("--native")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("{EVENT}\n").as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("the binary ends");
    assert!(output.status.success());
    assert_eq!(stdout_lines(&output).len(), 1);
}

#[test]
fn a_closed_output_pipe_ends_quietly() {
    let input = TempFile::new("pipe.log", format!("{EVENT}\n").repeat(20_000));
    let mut child = Command::new(env!("CARGO_BIN_EXE_twingate"))
        .args(["--native", input.path()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let output = child.wait_with_output().expect("the binary ends");
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("broken pipe"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn lost_records_are_reported_and_exit_3() {
    let trapping = common::Wasm::new()
        .memory(1)
        .filter("twingate_flatten", &[common::op::UNREACHABLE])
        .build();
    let module =
        std::env::temp_dir().join(format!("twingate-cli-{}-trap.wasm", std::process::id()));
    std::fs::write(&module, trapping).expect("temp dir is writable");
    let input = TempFile::new("lost.log", format!("{EVENT}\n{SERVICE}\n"));
    let output = twingate(&["--module", module.to_str().expect("UTF-8"), input.path()]);
    let _ = std::fs::remove_file(&module);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{message}");
    assert!(output.stdout.is_empty());
    assert!(message.contains(":1: record lost: trap: "), "{message}");
    assert!(message.contains(":2: record lost: trap: "), "{message}");
    assert!(
        message.contains(
            "2 records in (2 lines, lines) → 0 events, 0 dropped, 0 error records, 2 lost"
        ),
        "{message}"
    );
}

#[test]
fn the_format_can_be_forced() {
    // A Docker entry read as plain lines is a `log` record holding JSON text.
    let input = TempFile::new("forced.log", "{\"log\":\"x\\n\",\"stream\":\"stdout\"}\n");
    let output = twingate(&["--native", "--keep", "--format", "lines", input.path()]);
    assert!(output.status.success());
    assert!(
        stderr(&output).contains("(1 lines, lines)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        stdout_lines(&output),
        [r#"{"log":"{\"log\":\"x\\n\",\"stream\":\"stdout\"}"}"#]
    );
}
