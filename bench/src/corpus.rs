//! The benchmark corpus: generated with the project's generator
//! (`tests/tools/gen_corpus.py`, no `--hostile`), read in Docker shape with
//! the CLI's [`RecordReader`] (as Fluent Bit's `tail` + `multiline.parser
//! docker` hands the records over), with the expected outcome of each
//! record from `expected.ndjson`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use twingate_cli::input::{Record, RecordReader, Shape};

/// The expected outcome of a record, as the generator wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Event,
    Drop,
    Error,
}

impl Kind {
    /// The kind from one line of `expected.ndjson` (cheap: the generator
    /// writes `{"outcome":"..."` first).
    pub fn from_expected_line(line: &str) -> Result<Self, String> {
        if line.starts_with("{\"outcome\":\"event\"") {
            Ok(Kind::Event)
        } else if line.starts_with("{\"outcome\":\"drop\"") {
            Ok(Kind::Drop)
        } else if line.starts_with("{\"outcome\":\"error\"") {
            Ok(Kind::Error)
        } else {
            Err(format!(
                "unexpected line in expected.ndjson: {}",
                &line[..line.len().min(80)]
            ))
        }
    }
}

/// Records kept back to back in one buffer.
#[derive(Default)]
pub struct Set {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Set {
    pub fn push(&mut self, record: &[u8]) {
        self.bytes.extend_from_slice(record);
        self.ends.push(self.bytes.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }

    pub fn get(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Records by index: a [`Set`], or the whole corpus in its order.
pub trait Records {
    fn count(&self) -> usize;
    fn record(&self, index: usize) -> &[u8];
}

impl Records for Set {
    fn count(&self) -> usize {
        self.len()
    }
    fn record(&self, index: usize) -> &[u8] {
        self.get(index)
    }
}

/// The corpus in memory: the events, the service records (drops) and any
/// error records as separate sets (each record stored once), and the
/// corpus order as (kind, index in its set).
pub struct Corpus {
    pub dir: PathBuf,
    pub lines: u64,
    pub kinds: Vec<Kind>,
    order: Vec<u32>,
    pub events: Set,
    pub drops: Set,
    pub errors: Set,
}

impl Records for Corpus {
    fn count(&self) -> usize {
        self.kinds.len()
    }
    fn record(&self, index: usize) -> &[u8] {
        let at = self.order[index] as usize;
        match self.kinds[index] {
            Kind::Event => self.events.get(at),
            Kind::Drop => self.drops.get(at),
            Kind::Error => self.errors.get(at),
        }
    }
}

impl Corpus {
    pub fn docker_log(&self) -> PathBuf {
        self.dir.join("docker.log")
    }
}

/// The directory of a corpus of `lines` lines from `seed`, generated in
/// `jobs` chunks in parallel (chunk `i` with seed `seed + i`; one chunk is
/// exactly `gen_corpus.py --seed S --lines N`): `<base>/corpus-s<seed>-
/// n<lines>-j<jobs>`, base `$TMPDIR/twingate-bench` by default. Only
/// `docker.log` and `expected.ndjson` are kept. Reused when present (a
/// `complete` marker is written last, so an interrupted run regenerates).
pub fn ensure(
    repo: &Path,
    base: Option<&Path>,
    seed: u64,
    lines: u64,
    jobs: u64,
) -> Result<PathBuf, String> {
    let base = base.map_or_else(
        || std::env::temp_dir().join("twingate-bench"),
        Path::to_path_buf,
    );
    let jobs = jobs.clamp(1, lines.max(1));
    let dir = base.join(format!("corpus-s{seed}-n{lines}-j{jobs}"));
    let marker = dir.join("complete");
    if marker.is_file() {
        eprintln!("twingate-bench: reusing the corpus in {}", dir.display());
        return Ok(dir);
    }
    let generator = repo.join("tests/tools/gen_corpus.py");
    eprintln!(
        "twingate-bench: generating {lines} lines (seed {seed}, {jobs} chunks in parallel) into {} (once; reused by later runs) ...",
        dir.display()
    );
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(io)?;
    let per_chunk = lines.div_ceil(jobs);
    let mut children = Vec::new();
    for chunk in 0..jobs {
        let count = per_chunk.min(lines - chunk * per_chunk);
        let part = dir.join(format!("part-{chunk}"));
        let child = Command::new("python3")
            .arg(&generator)
            .arg(&part)
            .args(["--seed", &(seed + chunk).to_string()])
            .args(["--lines", &count.to_string()])
            .spawn()
            .map_err(|e| format!("cannot run python3 {}: {e}", generator.display()))?;
        children.push((part, child));
    }
    let mut failed = None;
    for (_, child) in &mut children {
        match child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => failed = Some(format!("{} failed: {status}", generator.display())),
            Err(e) => failed = Some(e.to_string()),
        }
    }
    if let Some(failed) = failed {
        return Err(failed);
    }
    for name in ["docker.log", "expected.ndjson"] {
        let mut out = File::create(dir.join(name)).map_err(io)?;
        for (part, _) in &children {
            let mut input = File::open(part.join(name)).map_err(io)?;
            std::io::copy(&mut input, &mut out).map_err(io)?;
        }
    }
    for (part, _) in &children {
        std::fs::remove_dir_all(part).map_err(io)?;
    }
    std::fs::write(&marker, b"").map_err(io)?;
    Ok(dir)
}

/// Reads the Docker records and their expected kinds.
pub fn load(dir: &Path) -> Result<Corpus, String> {
    let mut kinds = Vec::new();
    let mut order = Vec::new();
    let mut events = Set::default();
    let mut drops = Set::default();
    let mut errors = Set::default();
    let mut expected = expected_lines(dir)?;
    let lines = for_each_record(dir, |record| {
        let line = expected
            .next()
            .ok_or("expected.ndjson has fewer lines than docker.log has records")??;
        let kind = Kind::from_expected_line(&line)?;
        kinds.push(kind);
        let set = match kind {
            Kind::Event => &mut events,
            Kind::Drop => &mut drops,
            Kind::Error => &mut errors,
        };
        order.push(u32::try_from(set.len()).map_err(|_| "more than 2^32 records")?);
        set.push(record);
        Ok(true)
    })?;
    if expected.next().is_some() {
        return Err("expected.ndjson has more lines than docker.log has records".into());
    }
    Ok(Corpus {
        dir: dir.to_path_buf(),
        lines,
        kinds,
        order,
        events,
        drops,
        errors,
    })
}

/// The lines of `expected.ndjson`, streamed.
pub fn expected_lines(dir: &Path) -> Result<impl Iterator<Item = Result<String, String>>, String> {
    let path = dir.join("expected.ndjson");
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(BufReader::new(file)
        .lines()
        .map(|line| line.map_err(|e| format!("expected.ndjson: {e}"))))
}

/// Streams the Docker records of `docker.log` (multiline joins on, as in
/// the Fluent Bit configuration) into `each` until it returns false.
/// Returns the number of lines read.
pub fn for_each_record(
    dir: &Path,
    mut each: impl FnMut(&[u8]) -> Result<bool, String>,
) -> Result<u64, String> {
    let path = dir.join("docker.log");
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader =
        RecordReader::new(BufReader::with_capacity(1 << 20, file), Shape::Docker, true)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut json = Vec::new();
    loop {
        let record = reader
            .next_record()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(record) = record else { break };
        let text = match record {
            Record::Json(text) => text,
            Record::Line(_) => {
                record.write_json(&mut json);
                &json
            }
        };
        if !each(text)? {
            break;
        }
    }
    Ok(reader.stats().lines)
}
