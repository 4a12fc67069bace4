//! Runs the `twingate_analytics` remap program of a Vector config over
//! lines on standard input (each as `{"message": line}`), as Vector would,
//! and writes each resulting event as a JSON line; dropped lines write
//! nothing. A way to try the VRL without a Vector binary:
//!
//! ```sh
//! cargo run --release -p twingate-vector --example remap -- vector.toml < tests/corpus/connector.log
//! ```

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use twingate_vector::{Outcome, Remap};

fn main() -> ExitCode {
    let config = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("vector.toml"), PathBuf::from);
    let remap = match Remap::from_config_file(&config, "twingate_analytics") {
        Ok(remap) => remap,
        Err(e) => {
            eprintln!("remap: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("remap: cannot read standard input: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut event = serde_json::Map::new();
        event.insert("message".into(), line.into());
        let written = match remap.run(&event) {
            Outcome::Event(text) => writeln!(out, "{text}"),
            Outcome::Aborted => Ok(()),
            Outcome::Failed(e) => {
                eprintln!("remap: runtime error: {e}");
                Ok(())
            }
        };
        if written.is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
