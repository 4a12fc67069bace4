//! Running the `twingate` binary in tests: the command, and input files that
//! clean up after themselves.

#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `twingate` with `args`, no standard input, and collects its output.
pub fn twingate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twingate"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// A file in the temp directory, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn new(name: &str, contents: impl AsRef<[u8]>) -> Self {
        let path =
            std::env::temp_dir().join(format!("twingate-test-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).expect("temp dir is writable");
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
