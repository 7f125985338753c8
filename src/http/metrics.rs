//! The metrics registry behind `/metrics`, rendered in the Prometheus text exposition format
//! (version 0.0.4). A handful of fixed series do not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

pub use crate::store::PollResult;

/// Upper bounds (seconds) of the fetch latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 10] = crate::store::FETCH_BUCKETS;

/// Counters, gauges and the fetch latency histogram, updated by the daemon after each poll and
/// each cycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    polls: BTreeMap<(String, PollResult), u64>,
    latency_buckets: [u64; LATENCY_BUCKETS.len()],
    latency_count: u64,
    latency_sum: f64,
    items_ingested: u64,
    duplicates: u64,
    stories: u64,
    engine_articles: u64,
    engine_seconds: f64,
    engine_rate: f64,
    store_errors: u64,
    /// Article pages for full text by outlet and result (fetched, cached, failed, ...).
    full_text: BTreeMap<(String, &'static str), u64>,
}

impl Metrics {
    /// One poll of `outlet`, with how long the fetch took.
    pub fn record_poll(&mut self, outlet: &str, result: PollResult, latency: Duration) {
        *self.polls.entry((outlet.to_string(), result)).or_insert(0) += 1;
        let secs = latency.as_secs_f64();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&mut self.latency_buckets) {
            if secs <= *bound {
                *count += 1;
            }
        }
        self.latency_count += 1;
        self.latency_sum += secs;
    }

    /// Items parsed from feeds and handed to the engine.
    pub fn add_items_ingested(&mut self, n: u64) {
        self.items_ingested += n;
    }

    /// Items the engine found to be copies of an existing story.
    pub fn add_duplicates(&mut self, n: u64) {
        self.duplicates += n;
    }

    /// Stories currently held.
    pub fn set_stories(&mut self, n: u64) {
        self.stories = n;
    }

    /// One engine batch: `articles` processed in `elapsed`.
    pub fn record_engine(&mut self, articles: u64, elapsed: Duration) {
        self.engine_articles += articles;
        self.engine_seconds += elapsed.as_secs_f64();
        if articles > 0 && !elapsed.is_zero() {
            self.engine_rate = articles as f64 / elapsed.as_secs_f64();
        }
    }

    /// One poll's full-text counts for `outlet`.
    pub fn add_full_text(&mut self, outlet: &str, counts: &crate::poll::FullTextCounts) {
        for (result, n) in counts.labelled() {
            if n > 0 {
                *self
                    .full_text
                    .entry((outlet.to_string(), result))
                    .or_insert(0) += n;
            }
        }
    }

    /// Full-text pages of `outlet` with `result` ("fetched", "cached", "failed", "refused",
    /// "skipped").
    pub fn full_text(&self, outlet: &str, result: &str) -> u64 {
        self.full_text
            .iter()
            .filter(|((o, r), _)| o == outlet && *r == result)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Replaces every per-poll counter (polls, fetch latency, items, duplicates, engine work,
    /// full-text pages) with the sums the store keeps (see [`crate::store::Store::counters`]):
    /// what `serve` shows, and where `run` starts counting from. The stories gauge, the
    /// engine's rate and the store errors stay as they are.
    pub fn set_counters(&mut self, counters: &BTreeMap<String, crate::store::OutletCounters>) {
        self.polls.clear();
        self.full_text.clear();
        self.latency_buckets = [0; LATENCY_BUCKETS.len()];
        self.latency_count = 0;
        self.latency_sum = 0.0;
        self.items_ingested = 0;
        self.duplicates = 0;
        self.engine_articles = 0;
        self.engine_seconds = 0.0;
        for (outlet, c) in counters {
            for (&result, &n) in &c.polls {
                if n > 0 {
                    self.polls.insert((outlet.clone(), result), n);
                }
            }
            for (total, n) in self.latency_buckets.iter_mut().zip(c.fetch_buckets) {
                *total += n;
            }
            self.latency_count += c.fetch_count;
            self.latency_sum += c.fetch_seconds;
            self.items_ingested += c.new;
            self.duplicates += c.duplicates;
            self.engine_articles += c.engine_articles;
            self.engine_seconds += c.engine_seconds;
            for (result, &n) in &c.full_text {
                if let Some(label) = crate::poll::FullTextCounts::label(result) {
                    if n > 0 {
                        self.full_text.insert((outlet.clone(), label), n);
                    }
                }
            }
        }
    }

    pub fn add_store_error(&mut self) {
        self.store_errors += 1;
    }

    pub fn polls(&self, outlet: &str, result: PollResult) -> u64 {
        self.polls
            .get(&(outlet.to_string(), result))
            .copied()
            .unwrap_or(0)
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        // Writing into a String cannot fail.
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) -> std::fmt::Result {
        header(
            out,
            "syndedup_polls_total",
            "counter",
            "Polls by outlet and result.",
        )?;
        for ((outlet, result), n) in &self.polls {
            writeln!(
                out,
                "syndedup_polls_total{{outlet=\"{}\",result=\"{}\"}} {n}",
                label(outlet),
                result.as_str()
            )?;
        }
        header(
            out,
            "syndedup_full_text_pages_total",
            "counter",
            "Article pages for full text by outlet and result: fetched, cached, failed (the item kept its feed text), refused (SSRF guard), skipped (a reserved name such as *.example, or over fetch.full_text_max_per_poll).",
        )?;
        for ((outlet, result), n) in &self.full_text {
            writeln!(
                out,
                "syndedup_full_text_pages_total{{outlet=\"{}\",result=\"{result}\"}} {n}",
                label(outlet)
            )?;
        }
        header(
            out,
            "syndedup_fetch_duration_seconds",
            "histogram",
            "Time to fetch one feed.",
        )?;
        for (bound, n) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            writeln!(
                out,
                "syndedup_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            )?;
        }
        writeln!(
            out,
            "syndedup_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            self.latency_count
        )?;
        writeln!(
            out,
            "syndedup_fetch_duration_seconds_sum {}",
            float(self.latency_sum)
        )?;
        writeln!(
            out,
            "syndedup_fetch_duration_seconds_count {}",
            self.latency_count
        )?;
        let simple: [(&str, &str, &str, String); 7] = [
            (
                "syndedup_items_ingested_total",
                "counter",
                "Items parsed from feeds and given to the engine.",
                self.items_ingested.to_string(),
            ),
            (
                "syndedup_duplicates_total",
                "counter",
                "Items found to be copies of an existing story.",
                self.duplicates.to_string(),
            ),
            (
                "syndedup_stories",
                "gauge",
                "Stories currently held.",
                self.stories.to_string(),
            ),
            (
                "syndedup_engine_articles_total",
                "counter",
                "Articles processed by the dedup engine.",
                self.engine_articles.to_string(),
            ),
            (
                "syndedup_engine_seconds_total",
                "counter",
                "Time spent in the dedup engine.",
                float(self.engine_seconds),
            ),
            (
                "syndedup_engine_articles_per_second",
                "gauge",
                "Engine throughput over the last batch.",
                float(self.engine_rate),
            ),
            (
                "syndedup_store_errors_total",
                "counter",
                "Failed store operations.",
                self.store_errors.to_string(),
            ),
        ];
        for (name, kind, help, value) in simple {
            header(out, name, kind, help)?;
            writeln!(out, "{name} {value}")?;
        }
        Ok(())
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".to_string()
    }
}

/// A label value escaped as the text format requires: backslash, double quote, line feed.
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_escaped() {
        let mut m = Metrics::default();
        m.record_poll(
            "A \"quoted\"\\outlet\n",
            PollResult::Ok,
            Duration::from_millis(70),
        );
        m.record_poll("b", PollResult::Error, Duration::from_secs(100));
        let text = m.render();
        assert!(text.contains(
            "syndedup_polls_total{outlet=\"A \\\"quoted\\\"\\\\outlet\\n\",result=\"ok\"} 1"
        ));
        assert!(text.contains("syndedup_fetch_duration_seconds_bucket{le=\"0.05\"} 0"));
        assert!(text.contains("syndedup_fetch_duration_seconds_bucket{le=\"0.1\"} 1"));
        assert!(text.contains("syndedup_fetch_duration_seconds_bucket{le=\"60\"} 1"));
        assert!(text.contains("syndedup_fetch_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("syndedup_fetch_duration_seconds_count 2"));
    }

    #[test]
    fn full_text_counts_are_series_per_outlet_and_result() {
        let mut m = Metrics::default();
        let counts = crate::poll::FullTextCounts {
            fetched: 2,
            refused: 1,
            ..Default::default()
        };
        m.add_full_text("a", &counts);
        m.add_full_text("a", &counts);
        let text = m.render();
        assert!(text.contains("# TYPE syndedup_full_text_pages_total counter"));
        assert!(text.contains("syndedup_full_text_pages_total{outlet=\"a\",result=\"fetched\"} 4"));
        assert!(text.contains("syndedup_full_text_pages_total{outlet=\"a\",result=\"refused\"} 2"));
        assert!(
            !text.contains("result=\"failed\""),
            "zero counts are left out"
        );
        assert_eq!(m.full_text("a", "refused"), 2);
    }
}
