//! Finding the real hosts (Fluent Bit, Vector) for the suites that run the
//! project inside them.
//!
//! A host is found through an environment variable (`FLUENT_BIT`, `VECTOR`:
//! a path) or, failing that, its command on `PATH`. Without it a suite
//! skips, saying so once, unless `TWINGATE_REQUIRE_REAL_HOSTS=1` (CI sets
//! it), where a missing host is a failure: CI never skips these suites.
#![allow(dead_code)] // each suite uses part of it

use std::path::{Path, PathBuf};

/// A real host binary the suites can run.
pub struct RealHost {
    /// What the suite calls it in messages (`Fluent Bit`).
    pub name: &'static str,
    /// The environment variable naming its path (`FLUENT_BIT`).
    pub env: &'static str,
    /// Its command on `PATH` (`fluent-bit`).
    pub command: &'static str,
}

pub const FLUENT_BIT: RealHost = RealHost {
    name: "Fluent Bit",
    env: "FLUENT_BIT",
    command: "fluent-bit",
};

pub const VECTOR: RealHost = RealHost {
    name: "Vector",
    env: "VECTOR",
    command: "vector",
};

/// Fluent Bit's AOT compiler (`flb-wamrc`, WAMR's `wamrc` as Fluent Bit
/// builds it); when `FLB_WAMRC` is unset, it is also looked for beside the
/// Fluent Bit binary (see [`RealHost::find_beside`]).
pub const FLB_WAMRC: RealHost = RealHost {
    name: "flb-wamrc",
    env: "FLB_WAMRC",
    command: "flb-wamrc",
};

/// The variable that turns a missing host into a failure.
pub const REQUIRE: &str = "TWINGATE_REQUIRE_REAL_HOSTS";

impl RealHost {
    /// The host's binary, or `Err` with the one line to print when the
    /// suite must skip. Panics (fails the suite) when the host is required
    /// or the variable names a file that does not exist.
    pub fn find(&self) -> Result<PathBuf, String> {
        if let Some(path) = std::env::var_os(self.env).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{}={} does not exist: point {} at the {} binary, or unset it",
                self.env,
                path.display(),
                self.env,
                self.name
            );
            return Ok(path);
        }
        if let Some(path) = on_path(self.command) {
            return Ok(path);
        }
        let required = std::env::var(REQUIRE).is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{REQUIRE}=1 but no {} was found: set {} to its binary (CI uses ../shared/tools)",
            self.name, self.env
        );
        Err(format!(
            "the real {} suite was SKIPPED: no {} binary (set {}=/path/to/{} or put `{}` on PATH to run it)",
            self.name, self.name, self.env, self.command, self.command
        ))
    }
}

impl RealHost {
    /// [`RealHost::find`], but first trying the file `command` in the
    /// directory of `other` (flb-wamrc ships beside fluent-bit).
    pub fn find_beside(&self, other: &Path) -> Result<PathBuf, String> {
        if std::env::var_os(self.env).is_none_or(|p| p.is_empty())
            && let Some(path) = other
                .parent()
                .map(|dir| dir.join(self.command))
                .filter(|p| is_executable(p))
        {
            return Ok(path);
        }
        self.find()
    }
}

fn on_path(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
