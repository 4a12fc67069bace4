//! Clear failures (issue 6, item 7), beyond `cli.rs` (which covers a
//! missing module, a missing input and a closed pipe in `--native`): a
//! corrupt module, a wrong or mistyped function, an unreadable input, a
//! full or closed standard output with the module. Each: exit 1, one line
//! on standard error that says what is wrong and what to do, no panic.

mod run;

use run::{TempFile, twingate};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const EVENT: &str = r#"ANALYTICS {"event_type":"established_connection","user":{"email":"a@b.c"}}"#;

fn module() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/wasm32-unknown-unknown/release/twingate_analytics.wasm")
        .to_string_lossy()
        .into_owned()
}

/// Exit 1, one line starting `twingate: `, holding every `wanted` piece,
/// no panic, nothing on standard output.
fn fails_clearly(output: &Output, wanted: &[&str]) -> String {
    let message = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with("twingate: "), "{message}");
    assert!(
        !message.contains("panicked") && !message.contains("RUST_BACKTRACE"),
        "{message}"
    );
    for piece in wanted {
        assert!(message.contains(piece), "{piece:?} not in: {message}");
    }
    assert!(output.stdout.is_empty());
    message
}

#[test]
fn a_corrupt_module_says_how_to_build_it() {
    let input = TempFile::new("corrupt-in.log", format!("{EVENT}\n").as_bytes());
    let real = std::fs::read(module()).expect("the module is built");
    let hint = "build it with `cargo build --release -p twingate-analytics --target wasm32-unknown-unknown`";
    for (name, bytes) in [
        ("text.wasm", &b"not a module at all\n"[..]),
        ("empty.wasm", b""),
    ] {
        let wasm = TempFile::new(name, bytes);
        let output = twingate(&["--module", wasm.path(), input.path()]);
        fails_clearly(&output, &[wasm.path(), "no \\0asm header", hint]);
    }
    // A damaged module (cut short, bad sections) is named with the reason
    // and the rebuild command (bug 3, cli/tests/regressions.rs).
    for (name, bytes) in [
        ("truncated.wasm", real[..real.len() / 2].to_vec()),
        ("header-only.wasm", b"\0asm\x01\0\0\0\xFF\xFF".to_vec()),
    ] {
        let wasm = TempFile::new(name, &bytes);
        let output = twingate(&["--module", wasm.path(), input.path()]);
        fails_clearly(&output, &[wasm.path(), "not a valid WebAssembly module"]);
    }
}

#[test]
fn a_wrong_function_name_lists_the_exports() {
    let input = TempFile::new("function-in.log", format!("{EVENT}\n").as_bytes());
    let output = twingate(&[
        "--module",
        &module(),
        "--function",
        "twingate_nope",
        input.path(),
    ]);
    fails_clearly(
        &output,
        &[
            "no function `twingate_nope`",
            "twingate_flatten (function)",
            "twingate_flatten_keep (function)",
        ],
    );
    // An export of the wrong type names the signature Fluent Bit needs.
    let output = twingate(&[
        "--module",
        &module(),
        "--function",
        "twingate_last_outcome",
        input.path(),
    ]);
    fails_clearly(
        &output,
        &[
            "twingate_last_outcome",
            "(i32, i32, i32, i32, i32, i32) -> i32",
        ],
    );
    let output = twingate(&["--module", &module(), "--function", "memory", input.path()]);
    fails_clearly(&output, &["no function `memory`"]);
}

#[test]
fn an_unreadable_input_is_named() {
    // Opens, then fails to read (EIO), even for root.
    let output = twingate(&["--native", "/proc/self/mem"]);
    fails_clearly(&output, &["cannot read /proc/self/mem"]);
    // A directory entry that is a dangling link is skipped (not a file);
    // a named dangling link is an error.
    let link = std::env::temp_dir().join(format!(
        "twingate-failures-{}-dangling.log",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/nonexistent/target.log", &link).unwrap();
    let output = twingate(&["--native", link.to_str().unwrap()]);
    let _ = std::fs::remove_file(&link);
    fails_clearly(&output, &["cannot read", "No such file or directory"]);
}

#[test]
fn a_full_standard_output_is_an_error_not_a_panic() {
    let input = TempFile::new(
        "full-in.log",
        format!("{EVENT}\n").repeat(10_000).as_bytes(),
    );
    for mode in [&["--native"][..], &["--module", &module()]] {
        let output = Command::new(env!("CARGO_BIN_EXE_twingate"))
            .args(mode)
            .arg(input.path())
            .stdin(Stdio::null())
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        fails_clearly(&output, &["cannot write to standard output"]);
    }
}

#[test]
fn a_closed_output_pipe_with_the_module_ends_with_one_line() {
    let input = TempFile::new(
        "pipe-in.log",
        format!("{EVENT}\n").repeat(50_000).as_bytes(),
    );
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_twingate"))
            .args(["--module", &module(), input.path()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    fails_clearly(&output, &["broken pipe"]);
    // Closed before the first byte, too.
    let mut child = spawn();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    fails_clearly(&output, &["broken pipe"]);
}
