//! Native timing: each run goes through a set of records (continuing where
//! the previous run stopped, wrapping around) until at least `min_time` has
//! passed; the figure is the median of the runs. Every answer is checked
//! against the set's kind while timing (a counter compare per record).

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::corpus::{Kind, Records};

/// How a measurement is taken.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub runs: usize,
    pub min_time: Duration,
}

/// One native throughput figure.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Median of the runs, in 10^6 bytes of input records per second.
    pub mb_per_s: f64,
    pub records_per_s: f64,
    pub ns_per_record: f64,
    pub runs: usize,
    /// Records timed in all runs together.
    pub records_timed: u64,
    /// Distinct records of the set covered by the runs.
    pub distinct_records: usize,
    /// Records in the set.
    pub set_records: usize,
}

/// Times `transform` over `set`, where record `i` must come out as
/// `expected(i)` (checked on every call; a mismatch is an error). `limit`
/// caps the distinct records used (a subsample for slow implementations).
pub fn throughput(
    set: &impl Records,
    expected: impl Fn(usize) -> Kind,
    limit: Option<usize>,
    plan: Plan,
    mut transform: impl FnMut(&[u8]) -> Result<Kind, String>,
) -> Result<Throughput, String> {
    let len = limit.map_or(set.count(), |limit| limit.min(set.count()));
    if len == 0 {
        return Err("no records to time".into());
    }
    let mut cursor = 0;
    let mut rates = Vec::new();
    let mut records_timed = 0u64;
    let mut max_reached = 0usize;
    let mut wrapped = false;
    let mut ns = Vec::new();
    for _ in 0..plan.runs.max(1) {
        let mut bytes = 0usize;
        let mut records = 0u64;
        let mut wrong = 0u64;
        let start = Instant::now();
        let elapsed = loop {
            for _ in 0..64 {
                let record = set.record(cursor);
                bytes += record.len();
                records += 1;
                if transform(black_box(record))? != expected(cursor) {
                    wrong += 1;
                }
                cursor += 1;
                if cursor == len {
                    cursor = 0;
                    wrapped = true;
                }
            }
            let elapsed = start.elapsed();
            if elapsed >= plan.min_time {
                break elapsed;
            }
        };
        if wrong > 0 {
            return Err(format!(
                "{wrong} of {records} records did not come out as expected"
            ));
        }
        max_reached = max_reached.max(cursor);
        records_timed += records;
        let seconds = elapsed.as_secs_f64();
        rates.push((bytes as f64 / seconds, records as f64 / seconds));
        ns.push(seconds * 1e9 / records as f64);
    }
    let bytes_rate = median(rates.iter().map(|r| r.0).collect());
    let records_rate = median(rates.iter().map(|r| r.1).collect());
    Ok(Throughput {
        mb_per_s: bytes_rate / 1e6,
        records_per_s: records_rate,
        ns_per_record: median(ns),
        runs: rates.len(),
        records_timed,
        distinct_records: if wrapped { len } else { max_reached },
        set_records: set.count(),
    })
}

/// The median (mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Set;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn throughput_checks_every_answer() {
        let mut set = Set::default();
        set.push(b"a");
        set.push(b"bb");
        let plan = Plan {
            runs: 3,
            min_time: Duration::from_millis(5),
        };
        let ok = throughput(&set, |_| Kind::Drop, None, plan, |_| Ok(Kind::Drop)).expect("runs");
        assert_eq!(ok.runs, 3);
        assert_eq!(ok.distinct_records, 2);
        assert!(ok.records_per_s > 0.0);
        let wrong = throughput(
            &set,
            |_| Kind::Drop,
            None,
            plan,
            |r| Ok(if r == b"a" { Kind::Drop } else { Kind::Event }),
        );
        assert!(wrong.is_err());
    }
}
