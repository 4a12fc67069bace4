//! Counting outcomes and the one-line summary.

use std::fmt;
use std::time::Duration;

use crate::Verdict;
use crate::input::ReadStats;

/// What happened to the records of one input (or of all of them).
///
/// Invariant: `records == events + dropped + kept + errors + lost`
/// (`skipped` is part of `dropped`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub records: u64,
    pub events: u64,
    pub dropped: u64,
    pub kept: u64,
    pub errors: u64,
    /// Empty results, which Fluent Bit skips (counted in `dropped` too).
    pub skipped: u64,
    pub lost: u64,
    /// Fuel the calls took, when counted.
    pub fuel: u64,
    pub read: ReadStats,
}

impl Tally {
    pub fn count(&mut self, verdict: &Verdict, fuel: Option<u64>) {
        self.records += 1;
        self.fuel += fuel.unwrap_or(0);
        match verdict {
            Verdict::Event => self.events += 1,
            Verdict::Dropped => self.dropped += 1,
            Verdict::Kept => self.kept += 1,
            Verdict::ErrorRecord => self.errors += 1,
            Verdict::Skipped => {
                self.dropped += 1;
                self.skipped += 1;
            }
            Verdict::Lost(_) => self.lost += 1,
        }
    }

    pub fn add(&mut self, other: &Tally) {
        self.records += other.records;
        self.events += other.events;
        self.dropped += other.dropped;
        self.kept += other.kept;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.lost += other.lost;
        self.fuel += other.fuel;
        self.read.lines += other.read.lines;
        self.read.bytes += other.read.bytes;
    }

    /// Every record has exactly one outcome.
    pub fn is_balanced(&self) -> bool {
        self.records == self.events + self.dropped + self.kept + self.errors + self.lost
    }
}

/// The summary line, e.g. `twingate: 2000 records in (2000 lines, docker) →
/// 1441 events, 501 dropped, 58 error records, 0 lost; 2.41 MB in 0.012 s =
/// 200 MB/s, 166k records/s [module, heap 8192]`.
pub struct Summary<'a> {
    /// The input's name, when there are several.
    pub label: Option<&'a str>,
    /// The input shape (or e.g. "3 files").
    pub shape: &'a str,
    pub tally: &'a Tally,
    pub elapsed: Duration,
    /// How the transform ran, e.g. "module, heap 8192" or "native".
    pub engine: &'a str,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tally = self.tally;
        let read = &tally.read;
        f.write_str("twingate: ")?;
        if let Some(label) = self.label {
            write!(f, "{label}: ")?;
        }
        write!(
            f,
            "{} records in ({} lines, {}) → ",
            tally.records, read.lines, self.shape
        )?;
        write!(f, "{} events, ", tally.events)?;
        if tally.dropped > 0 || tally.kept == 0 {
            write!(f, "{} dropped, ", tally.dropped)?;
        }
        if tally.skipped > 0 {
            write!(f, "({} of them empty results), ", tally.skipped)?;
        }
        if tally.kept > 0 {
            write!(f, "{} kept, ", tally.kept)?;
        }
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        let megabytes = read.bytes as f64 / 1e6;
        write!(
            f,
            "{} error records, {} lost; {megabytes:.2} MB in {:.3} s = {} MB/s, {} records/s [{}",
            tally.errors,
            tally.lost,
            self.elapsed.as_secs_f64(),
            significant(megabytes / seconds),
            human_count(tally.records as f64 / seconds),
            self.engine,
        )?;
        if tally.fuel > 0 && tally.records > 0 {
            write!(f, ", {} fuel/record", tally.fuel / tally.records)?;
        }
        f.write_str("]")
    }
}

/// A rate with about three significant digits.
fn significant(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// 950, 166k, 1.2M.
fn human_count(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.0}k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}
