//! What `syndedup run` counts per outlet (polls by result, fetch times, items, duplicates,
//! engine time, full-text pages, and the last fetch's item count and repairs), kept in the
//! store so `syndedup serve` and a restarted daemon show the same numbers as the daemon that
//! counted them. Each poll adds a [`PollTally`] in its batch's transaction ([`Batch::tally`]);
//! [`Store::counters`] reads the sums back as [`OutletCounters`].
//!
//! In SQLite the sums are rows of `outlet_counter (outlet, name, value)`, one per named
//! counter, so a new counter needs no schema change; the names are private to this module.
//!
//! [`Batch::tally`]: super::Batch::tally
//! [`Store::counters`]: super::Store::counters

use std::collections::BTreeMap;
use std::time::Duration;

use super::PollStatus;

/// How one poll of an outlet ended (the `result` label of `syndedup_polls_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PollResult {
    /// New content fetched and parsed.
    #[default]
    Ok,
    /// 304 Not Modified (or an unchanged body).
    NotModified,
    /// Network, HTTP or parse failure.
    Error,
}

impl PollResult {
    pub const ALL: [PollResult; 3] = [PollResult::Ok, PollResult::NotModified, PollResult::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            PollResult::Ok => "ok",
            PollResult::NotModified => "not_modified",
            PollResult::Error => "error",
        }
    }

    /// How a poll ended, from the poller's status and its error: a failed status or any
    /// error is an error (a stored status reads back as `Fresh` when it was a 2xx whose body
    /// failed, see [`PollStatus::from_stored`]), not modified is not modified.
    pub fn from_status(status: PollStatus, error: Option<&str>) -> PollResult {
        if error.is_some() || status.is_failure() {
            PollResult::Error
        } else if status.is_not_modified() {
            PollResult::NotModified
        } else {
            PollResult::Ok
        }
    }
}

/// Upper bounds (seconds) of the fetch latency histogram buckets.
pub const FETCH_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// What one poll adds to its outlet's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollTally {
    pub outlet: String,
    pub result: PollResult,
    /// Time of the fetch.
    pub fetch: Duration,
    /// Items in the document (kept as the outlet's item count when `result` is `Ok`).
    pub items: u64,
    /// Items processed: never seen before, or seen with a different body.
    pub new: u64,
    /// Processed items filed into an existing story.
    pub duplicates: u64,
    /// Time the engine spent on the new items.
    pub engine: Duration,
    /// What was repaired to read the document (kept when `result` is `Ok`).
    pub repairs: Vec<String>,
    /// Article pages for full text by result: "fetched", "cached", "failed", "refused",
    /// "skipped".
    pub full_text: Vec<(&'static str, u64)>,
}

/// An outlet's counters, summed over every poll the store recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutletCounters {
    pub polls: BTreeMap<PollResult, u64>,
    /// Polls whose fetch took at most each bound of [`FETCH_BUCKETS`] (cumulative, as
    /// Prometheus buckets are).
    pub fetch_buckets: [u64; FETCH_BUCKETS.len()],
    pub fetch_count: u64,
    pub fetch_seconds: f64,
    /// Items processed (`syndedup_items_ingested_total`).
    pub new: u64,
    pub duplicates: u64,
    /// Articles the engine processed and the time it took.
    pub engine_articles: u64,
    pub engine_seconds: f64,
    /// Full-text pages by result.
    pub full_text: BTreeMap<String, u64>,
    /// Items in the last successful fetch.
    pub items: u64,
    /// What was repaired to read the last successful fetch.
    pub repairs: Vec<String>,
}

fn micros(d: Duration) -> i64 {
    d.as_micros().min(i64::MAX as u128) as i64
}

fn count(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

const FULL_TEXT: &str = "full_text_";
const FETCH_LE: &str = "fetch_le_";

impl PollTally {
    /// The named counters this poll adds to (zero increments left out).
    pub(crate) fn increments(&self) -> Vec<(String, i64)> {
        let mut out = vec![
            (format!("polls_{}", self.result.as_str()), 1),
            ("fetch_count".to_string(), 1),
            ("fetch_us".to_string(), micros(self.fetch)),
            ("new".to_string(), count(self.new)),
            ("duplicates".to_string(), count(self.duplicates)),
        ];
        if self.new > 0 {
            out.push(("engine_articles".to_string(), count(self.new)));
            out.push(("engine_us".to_string(), micros(self.engine)));
        }
        let secs = self.fetch.as_secs_f64();
        for (i, bound) in FETCH_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                out.push((format!("{FETCH_LE}{i}"), 1));
            }
        }
        for (result, n) in &self.full_text {
            out.push((format!("{FULL_TEXT}{result}"), count(*n)));
        }
        out.retain(|(_, v)| *v != 0);
        out
    }
}

impl OutletCounters {
    /// Adds one stored counter; names this build does not know are ignored.
    pub(crate) fn set(&mut self, name: &str, value: i64) {
        let v = value.max(0) as u64;
        let secs = |us: u64| us as f64 / 1e6;
        match name {
            "polls_ok" => {
                self.polls.insert(PollResult::Ok, v);
            }
            "polls_not_modified" => {
                self.polls.insert(PollResult::NotModified, v);
            }
            "polls_error" => {
                self.polls.insert(PollResult::Error, v);
            }
            "fetch_count" => self.fetch_count = v,
            "fetch_us" => self.fetch_seconds = secs(v),
            "new" => self.new = v,
            "duplicates" => self.duplicates = v,
            "engine_articles" => self.engine_articles = v,
            "engine_us" => self.engine_seconds = secs(v),
            _ => {
                if let Some(result) = name.strip_prefix(FULL_TEXT) {
                    self.full_text.insert(result.to_string(), v);
                } else if let Some(i) = name
                    .strip_prefix(FETCH_LE)
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    if let Some(bucket) = self.fetch_buckets.get_mut(i) {
                        *bucket = v;
                    }
                }
            }
        }
    }

    /// Polls with `result`.
    pub fn polls(&self, result: PollResult) -> u64 {
        self.polls.get(&result).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_reads_back_as_the_counters_it_adds() {
        let tally = PollTally {
            outlet: "Wire".to_string(),
            result: PollResult::NotModified,
            fetch: Duration::from_millis(300),
            items: 5,
            new: 3,
            duplicates: 1,
            engine: Duration::from_micros(1500),
            repairs: Vec::new(),
            full_text: vec![("fetched", 2), ("failed", 0)],
        };
        let mut c = OutletCounters::default();
        for (name, v) in tally.increments() {
            c.set(&name, v);
        }
        assert_eq!(c.polls(PollResult::NotModified), 1);
        assert_eq!(c.polls(PollResult::Ok), 0);
        assert_eq!((c.fetch_count, c.new, c.duplicates), (1, 3, 1));
        assert_eq!(c.engine_articles, 3);
        assert!((c.engine_seconds - 0.0015).abs() < 1e-9);
        assert!((c.fetch_seconds - 0.3).abs() < 1e-9);
        // 0.3 s is within 0.5 s and every larger bound.
        assert_eq!(c.fetch_buckets, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(c.full_text.get("fetched"), Some(&2));
        assert!(!c.full_text.contains_key("failed"));
        c.set("some_future_counter", 9);
    }

    #[test]
    fn poll_results_follow_the_status() {
        let of = |text: &str, error| PollResult::from_status(PollStatus::from_stored(text), error);
        assert_eq!(of("200", None), PollResult::Ok);
        assert_eq!(of("file", None), PollResult::Ok);
        assert_eq!(of("304", None), PollResult::NotModified);
        assert_eq!(of("unchanged", None), PollResult::NotModified);
        assert_eq!(of("error", None), PollResult::Error);
        assert_eq!(of("503", None), PollResult::Error);
        assert_eq!(of("200", Some("no items")), PollResult::Error);
        assert_eq!(
            PollResult::from_status(PollStatus::failed(Some(200)), None),
            PollResult::Error
        );
    }
}
