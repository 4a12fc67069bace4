//! Accounting (issue 6, item 6): on hostile corpora (`gen_corpus.py
//! --hostile`, several seeds) the `twingate` binary's summary satisfies
//! records in = events + dropped (or kept) + error records + lost, with 0
//! lost, in every mode; and the counts are the corpus's own expectations.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../tests/support/mod.rs"]
mod support;

const SEEDS: [u32; 3] = [11, 4242, 90210];
const LINES: usize = 3000;

/// A hostile corpus in a fresh temp directory (removed on drop).
struct Corpus(PathBuf);

impl Corpus {
    fn generate(seed: u32) -> Self {
        let dir =
            std::env::temp_dir().join(format!("twingate-accounting-{}-{seed}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new("python3")
            .arg(support::repo_root().join("tests/tools/gen_corpus.py"))
            .arg(&dir)
            .args([
                "--hostile",
                "--seed",
                &seed.to_string(),
                "--lines",
                &LINES.to_string(),
            ])
            .status()
            .expect("python3 runs tests/tools/gen_corpus.py");
        assert!(status.success());
        Self(dir)
    }
}

impl Drop for Corpus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    records: u64,
    events: u64,
    dropped: u64,
    kept: u64,
    errors: u64,
    lost: u64,
}

/// Parses `N records in (...) → E events, D dropped|kept, X error records,
/// L lost` from a summary line.
fn parse(line: &str) -> Counts {
    let number_before = |word: &str| -> u64 {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("no `{word}` in {line}"));
        line[..at]
            .trim_end()
            .rsplit([' ', '('])
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{line}"))
    };
    let after_arrow = line.split('→').nth(1).unwrap_or_else(|| panic!("{line}"));
    let find = |word: &str| {
        after_arrow.contains(word).then(|| {
            let at = after_arrow.find(word).unwrap();
            after_arrow[..at]
                .trim_end()
                .rsplit(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
    };
    Counts {
        records: number_before(" records in"),
        events: find(" events").unwrap(),
        dropped: find(" dropped").unwrap_or(0),
        kept: find(" kept").unwrap_or(0),
        errors: find(" error records").unwrap(),
        lost: find(" lost").unwrap(),
    }
}

/// Runs the binary; checks exit 0, no panic, and every summary line
/// balanced with 0 lost; returns the per-file counts by file name.
fn run(args: &[&str], dir: &Path) -> Vec<(String, Counts)> {
    let output = Command::new(env!("CARGO_BIN_EXE_twingate"))
        .args(args)
        .arg("--quiet")
        .arg(dir)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("lost:"),
        "{stderr}"
    );
    let mut files = Vec::new();
    for line in stderr.lines().filter(|l| l.contains(" records in ")) {
        let counts = parse(line);
        assert_eq!(
            counts.records,
            counts.events + counts.dropped + counts.kept + counts.errors + counts.lost,
            "unbalanced: {line}"
        );
        assert_eq!(counts.lost, 0, "{line}");
        let name = line
            .trim_start_matches("twingate: ")
            .split(':')
            .next()
            .unwrap();
        let name = Path::new(name)
            .file_name()
            .map_or("total".into(), |n| n.to_string_lossy().into_owned());
        files.push((name, counts));
    }
    // Seven files (five shapes, and the two expectation files read as JSON
    // records), and the total.
    assert_eq!(files.len(), 8, "seven corpus files and a total: {stderr}");
    files
}

/// The outcomes `expected.ndjson` gives the raw lines.
fn expected(dir: &Path) -> Counts {
    let text = std::fs::read_to_string(dir.join("expected.ndjson")).unwrap();
    let mut counts = Counts::default();
    for line in text.lines() {
        counts.records += 1;
        match serde_json::from_str::<serde_json::Value>(line).unwrap()["outcome"].as_str() {
            Some("event") => counts.events += 1,
            Some("drop") => counts.dropped += 1,
            Some("error") => counts.errors += 1,
            other => panic!("{other:?}"),
        }
    }
    counts
}

#[test]
fn every_record_is_accounted_for_on_hostile_corpora() {
    for seed in SEEDS {
        let corpus = Corpus::generate(seed);
        let want = expected(&corpus.0);
        assert_eq!(want.records, LINES as u64);
        for args in [
            &["--native"][..],
            &["--native", "--keep"],
            &[],
            &["--keep"],
            &["--heap-size", "4M"],
            &["--heap-size", "4M", "--no-multiline"],
        ] {
            let files = run(args, &corpus.0);
            let connector = &files
                .iter()
                .find(|(name, _)| name == "connector.log")
                .unwrap()
                .1;
            let exact = args.contains(&"--native") || args.contains(&"4M");
            if exact {
                // Natively, and in the module with a heap that holds every
                // line, the raw lines get exactly the expected outcomes.
                let mut want = Counts { ..want };
                if args.contains(&"--keep") {
                    want.kept = want.dropped;
                    want.dropped = 0;
                }
                assert_eq!(*connector, want, "seed {seed}, {args:?}");
                // And every other shape of the same lines alike.
                for shape in ["docker.log", "cri.log", "journal.ndjson"] {
                    let counts = &files.iter().find(|(name, _)| name == shape).unwrap().1;
                    assert_eq!(*counts, want, "seed {seed}, {args:?}, {shape}");
                }
            } else {
                // At 8 KiB, big records become heap error records instead.
                assert_eq!(connector.records, want.records);
                assert!(connector.errors >= want.errors, "seed {seed}, {args:?}");
            }
        }
    }
}

#[test]
fn the_summary_parser_reads_what_the_binary_writes() {
    let counts = parse(
        "twingate: total: 210 records in (210 lines, lines + cri) → 150 events, 55 dropped, 5 error records, 0 lost; 1 MB",
    );
    assert_eq!(
        counts,
        Counts {
            records: 210,
            events: 150,
            dropped: 55,
            kept: 0,
            errors: 5,
            lost: 0
        }
    );
}
