//! A deterministic synthetic news corpus with known truth, for `syndedup bench` and the criterion
//! benches. Pure: no I/O, no clock; the same settings and seed give the same corpus on any machine
//! (PCG64 from `rand_pcg`, whose output is fixed by its specification).
//!
//! Text is prose-like: sentences of words drawn from a Zipf-distributed vocabulary (common English
//! function words at the top ranks, made-up words below), grouped in paragraphs, one per line;
//! lengths follow a log-normal around 4.5 KB. Three kinds of article arrive, in time order:
//! - **originals**: a new story (a new truth cluster), mostly from wire outlets;
//! - **copies** (`copy_share`): a syndicated copy of a recent story, popular stories copied more
//!   often, with the edits real copies get: a new headline, a byline line prepended, a trailer
//!   appended, a few words changed, 0-2 paragraph edits, truncation to 50-90%, and the outlet's
//!   site chrome around it. Truth: the source's cluster;
//! - **follow-ups** (`followup_share`): a new story that reuses 25-45% of a recent story's
//!   paragraphs. Truth: a cluster of its own (a different story that must stay apart).

use std::collections::VecDeque;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Serialize;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthConfig {
    pub articles: usize,
    pub seed: u64,
    /// Share of articles that are syndicated copies of an earlier story.
    pub copy_share: f64,
    /// Share of articles that are follow-ups: different stories sharing some paragraphs.
    pub followup_share: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            articles: 100_000,
            seed: 42,
            copy_share: 0.4,
            followup_share: 0.1,
        }
    }
}

/// How an article came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Original,
    Copy,
    FollowUp,
}

/// One generated article and its truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthArticle {
    pub id: String,
    pub outlet: String,
    pub title: String,
    /// RFC 3339.
    pub published: String,
    pub body: String,
    /// The true story: copies share their source's cluster.
    #[serde(skip)]
    pub cluster: u32,
    #[serde(skip)]
    pub kind: Kind,
}

impl SynthArticle {
    /// The article as one line of `syndedup dedup` input (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

const COMMON: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "that",
    "is",
    "was",
    "for",
    "on",
    "it",
    "with",
    "as",
    "he",
    "said",
    "by",
    "at",
    "be",
    "from",
    "his",
    "an",
    "have",
    "are",
    "has",
    "but",
    "not",
    "they",
    "this",
    "were",
    "had",
    "which",
    "or",
    "after",
    "their",
    "been",
    "who",
    "will",
    "more",
    "one",
    "would",
    "its",
    "new",
    "about",
    "also",
    "than",
    "two",
    "year",
    "last",
    "first",
    "government",
    "people",
    "could",
    "over",
    "into",
    "she",
    "we",
    "her",
    "all",
    "there",
    "minister",
    "when",
    "up",
    "other",
    "out",
    "some",
    "told",
    "week",
    "years",
    "police",
    "officials",
    "city",
    "state",
    "million",
    "percent",
    "market",
    "talks",
    "report",
    "court",
    "company",
    "president",
];

const ONSETS: &[&str] = &[
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
    "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", "",
];
const VOWELS: &[&str] = &[
    "a", "e", "i", "o", "u", "ai", "ea", "ee", "ia", "io", "oa", "ou",
];
const CODAS: &[&str] = &[
    "", "", "", "n", "r", "s", "t", "l", "m", "nd", "nt", "rs", "st", "ck", "ng",
];

const PLACES: &[&str] = &[
    "Northfield",
    "Riverside",
    "Lakeview",
    "Eastbrook",
    "Westmoor",
    "Harbour",
    "Kingsport",
    "Ashford",
    "Millbrook",
    "Stonebridge",
];
const MASTHEADS: &[&str] = &["Gazette", "Herald", "Times", "Post", "Chronicle", "Courier"];
const WIRES: &[&str] = &["Global Wire", "Press Agency", "Newswire International"];

const TRAILERS: &[&str] = &[
    "(Only the headline and picture of this report may have been reworked by the {outlet} staff; \
     the rest of the content is auto-generated from a syndicated feed.)",
    "(This story has not been edited by {outlet} staff and is auto-generated from a syndicated feed.)",
    "Copyright {outlet}. All rights reserved.",
    "Reporting by {name}; Editing by {name2}",
    "With inputs from {wire}",
    "Disclaimer",
];

/// An outlet's page template: lines every item of theirs carries.
#[derive(Debug, Clone)]
struct Outlet {
    name: String,
    header: Vec<String>,
    footer: Vec<String>,
}

#[derive(Debug, Clone)]
struct Story {
    cluster: u32,
    title: String,
    paragraphs: Vec<String>,
    weight: f64,
}

/// Stories that can still be copied: the recent ones (copies follow their source within hours).
const POOL: usize = 400;

/// The generator: an iterator over articles in arrival order.
pub struct Generator {
    config: SynthConfig,
    rng: Pcg64Mcg,
    vocab: Vec<String>,
    cdf: Vec<f64>,
    outlets: Vec<Outlet>,
    pool: VecDeque<Story>,
    next: usize,
    next_cluster: u32,
    time: i64,
}

impl Generator {
    pub fn new(config: SynthConfig) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(config.seed);
        let mut vocab: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
        let mut seen: std::collections::HashSet<String> = vocab.iter().cloned().collect();
        while vocab.len() < 30_000 {
            let syllables = 1 + rng.random_range(0..4usize).min(rng.random_range(0..4usize));
            let mut w = String::new();
            for _ in 0..syllables {
                w.push_str(ONSETS[rng.random_range(0..ONSETS.len())]);
                w.push_str(VOWELS[rng.random_range(0..VOWELS.len())]);
                w.push_str(CODAS[rng.random_range(0..CODAS.len())]);
            }
            if w.len() >= 2 && seen.insert(w.clone()) {
                vocab.push(w);
            }
        }
        // Zipf with exponent 1.05 over ranks: a few words are most of the text, as in prose.
        let mut cdf = Vec::with_capacity(vocab.len());
        let mut total = 0.0;
        for rank in 0..vocab.len() {
            total += 1.0 / ((rank + 1) as f64).powf(1.05);
            cdf.push(total);
        }
        for c in &mut cdf {
            *c /= total;
        }
        let mut g = Generator {
            config,
            rng,
            vocab,
            cdf,
            outlets: Vec::new(),
            pool: VecDeque::new(),
            next: 0,
            next_cluster: 0,
            time: 1_704_067_200, // 2024-01-01T00:00:00Z
        };
        g.outlets = g.make_outlets();
        g
    }

    fn make_outlets(&mut self) -> Vec<Outlet> {
        let mut out: Vec<Outlet> = WIRES
            .iter()
            .map(|w| Outlet {
                name: w.to_string(),
                header: Vec::new(),
                footer: Vec::new(),
            })
            .collect();
        for place in PLACES {
            for mast in MASTHEADS {
                let name = format!("{place} {mast}");
                let chrome = self.rng.random_bool(0.5);
                let (header, footer) = if chrome {
                    let sections = (0..5)
                        .map(|_| capitalise(&self.word()))
                        .collect::<Vec<_>>()
                        .join(" | ");
                    let tagline = format!("{name}: {}", self.sentence(5, 9));
                    (
                        vec![format!("Home | {sections}"), tagline],
                        vec![
                            format!(
                                "Sign up for the {name} newsletter and get the day's top stories"
                            ),
                            format!("{} {} {}", self.sentence(6, 10), name, self.sentence(4, 8)),
                        ],
                    )
                } else {
                    (Vec::new(), Vec::new())
                };
                out.push(Outlet {
                    name,
                    header,
                    footer,
                });
            }
        }
        out
    }

    fn word(&mut self) -> String {
        let u: f64 = self.rng.random();
        let i = self
            .cdf
            .partition_point(|&c| c < u)
            .min(self.vocab.len() - 1);
        self.vocab[i].clone()
    }

    fn sentence(&mut self, min: usize, max: usize) -> String {
        let n = self.rng.random_range(min..=max);
        let mut s = String::with_capacity(n * 7);
        for i in 0..n {
            let w = self.word();
            if i == 0 {
                s.push_str(&capitalise(&w));
            } else {
                s.push(' ');
                s.push_str(&w);
                if i + 1 < n && self.rng.random_bool(0.06) {
                    s.push(',');
                }
            }
        }
        s.push('.');
        s
    }

    fn paragraph(&mut self) -> String {
        let n = self.rng.random_range(2..=5);
        (0..n)
            .map(|_| self.sentence(6, 28))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn title(&mut self) -> String {
        let s = self.sentence(6, 12);
        s.trim_end_matches('.').to_string()
    }

    fn name(&mut self) -> String {
        format!("{} {}", capitalise(&self.word()), capitalise(&self.word()))
    }

    /// A log-normal body length around 4.5 KB (median 4.3 KB), within 0.6-20 KB.
    fn target_len(&mut self) -> usize {
        let (u1, u2): (f64, f64) = (self.rng.random(), self.rng.random());
        let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        (4300.0 * (0.3 * z).exp()).clamp(600.0, 20_000.0) as usize
    }

    fn new_paragraphs(&mut self, len: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut total = 0;
        while total < len {
            let p = self.paragraph();
            total += p.len() + 1;
            out.push(p);
        }
        out
    }

    fn pick_outlet(&mut self, wire_share: f64) -> usize {
        if self.rng.random_bool(wire_share) {
            self.rng.random_range(0..WIRES.len())
        } else {
            self.rng.random_range(WIRES.len()..self.outlets.len())
        }
    }

    /// A popularity weight: Pareto-distributed, so a few stories get many copies.
    fn weight(&mut self) -> f64 {
        let u: f64 = self.rng.random();
        (1.0 - u).powf(-1.0 / 1.3).min(60.0)
    }

    fn pick_source(&mut self) -> usize {
        let total: f64 = self.pool.iter().map(|s| s.weight).sum();
        let mut x = self.rng.random::<f64>() * total;
        for (i, s) in self.pool.iter().enumerate() {
            x -= s.weight;
            if x <= 0.0 {
                return i;
            }
        }
        self.pool.len() - 1
    }

    fn remember(&mut self, story: Story) {
        if self.pool.len() == POOL {
            self.pool.pop_front();
        }
        self.pool.push_back(story);
    }

    fn new_cluster(&mut self) -> u32 {
        let c = self.next_cluster;
        self.next_cluster += 1;
        c
    }

    fn original(&mut self) -> (usize, Story, Kind) {
        let len = self.target_len();
        let story = Story {
            cluster: self.new_cluster(),
            title: self.title(),
            paragraphs: self.new_paragraphs(len),
            weight: self.weight(),
        };
        (self.pick_outlet(0.6), story, Kind::Original)
    }

    fn follow_up(&mut self, source: usize) -> (usize, Story, Kind) {
        let share = self.rng.random_range(0.25..=0.45);
        let src = self.pool[source].paragraphs.clone();
        let reuse = ((src.len() as f64 * share).round() as usize).clamp(1, src.len());
        let start = self.rng.random_range(0..=src.len() - reuse);
        // Reused paragraphs are at most `share` of the follow-up too: it adds at least as much new text.
        let reused_len: usize = src[start..start + reuse].iter().map(|p| p.len() + 1).sum();
        let fresh_len = ((reused_len as f64) * (1.0 - share) / share) as usize;
        let mut paragraphs = self.new_paragraphs(fresh_len.max(600));
        let at = self.rng.random_range(0..=paragraphs.len().min(2));
        for (k, p) in src[start..start + reuse].iter().enumerate() {
            paragraphs.insert((at + k).min(paragraphs.len()), p.clone());
        }
        let story = Story {
            cluster: self.new_cluster(),
            title: self.title(),
            paragraphs,
            weight: self.weight(),
        };
        (self.pick_outlet(0.4), story, Kind::FollowUp)
    }

    fn copy(&mut self, source: usize) -> (usize, Story, Kind) {
        let src = &self.pool[source];
        let (cluster, old_title, mut paragraphs) =
            (src.cluster, src.title.clone(), src.paragraphs.clone());
        let title = if self.rng.random_bool(0.7) {
            self.title()
        } else {
            old_title
        };
        // A few words changed.
        for _ in 0..self.rng.random_range(0..=4) {
            let p = self.rng.random_range(0..paragraphs.len());
            let mut words: Vec<String> = paragraphs[p].split(' ').map(str::to_string).collect();
            let i = self.rng.random_range(0..words.len());
            words[i] = self.word();
            paragraphs[p] = words.join(" ");
        }
        // 0-2 paragraph edits: rewritten, dropped or inserted.
        let edits = match self.rng.random_range(0..100) {
            0..=49 => 0,
            50..=84 => 1,
            _ => 2,
        };
        for _ in 0..edits {
            let p = self.rng.random_range(0..paragraphs.len());
            match self.rng.random_range(0..3) {
                0 => paragraphs[p] = self.paragraph(),
                1 if paragraphs.len() > 2 => {
                    paragraphs.remove(p);
                }
                _ => {
                    let new = self.paragraph();
                    paragraphs.insert(p, new);
                }
            }
        }
        if self.rng.random_bool(0.4) {
            let keep = self.rng.random_range(0.5..=0.9);
            let n = ((paragraphs.len() as f64 * keep).ceil() as usize).max(1);
            paragraphs.truncate(n);
        }
        let story = Story {
            cluster,
            title,
            paragraphs,
            weight: 0.0,
        };
        (self.pick_outlet(0.05), story, Kind::Copy)
    }

    fn render(&mut self, outlet: usize, story: &Story, kind: Kind) -> String {
        let o = self.outlets[outlet].clone();
        let mut lines: Vec<String> = o.header.clone();
        if kind == Kind::Copy && self.rng.random_bool(0.5) {
            let name = self.name();
            lines.push(format!("By {name}, {}", o.name));
        }
        lines.extend(story.paragraphs.iter().cloned());
        if kind == Kind::Copy && self.rng.random_bool(0.5) {
            let t = TRAILERS[self.rng.random_range(0..TRAILERS.len())];
            let (name, name2) = (self.name(), self.name());
            let wire = WIRES[self.rng.random_range(0..WIRES.len())];
            lines.push(
                t.replace("{outlet}", &o.name)
                    .replace("{name2}", &name2)
                    .replace("{name}", &name)
                    .replace("{wire}", wire),
            );
        }
        lines.extend(o.footer.iter().cloned());
        lines.join("\n\n")
    }
}

impl Iterator for Generator {
    type Item = SynthArticle;

    fn next(&mut self) -> Option<SynthArticle> {
        if self.next >= self.config.articles {
            return None;
        }
        let i = self.next;
        self.next += 1;
        self.time += self.rng.random_range(1..=50);
        let roll: f64 = self.rng.random();
        let (outlet, story, kind) = if self.pool.is_empty() {
            self.original()
        } else if roll < self.config.copy_share {
            let s = self.pick_source();
            self.copy(s)
        } else if roll < self.config.copy_share + self.config.followup_share {
            let s = self.rng.random_range(0..self.pool.len());
            self.follow_up(s)
        } else {
            self.original()
        };
        let body = self.render(outlet, &story, kind);
        let article = SynthArticle {
            id: format!("syn-{i:07}"),
            outlet: self.outlets[outlet].name.clone(),
            title: story.title.clone(),
            published: chrono::DateTime::from_timestamp(self.time, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            body,
            cluster: story.cluster,
            kind,
        };
        if kind != Kind::Copy {
            self.remember(story);
        }
        Some(article)
    }
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Vec<SynthArticle> {
        Generator::new(SynthConfig {
            articles: 400,
            seed,
            ..SynthConfig::default()
        })
        .collect()
    }

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        assert_eq!(small(7), small(7));
        assert_ne!(small(7)[5].body, small(8)[5].body);
    }

    #[test]
    fn lengths_kinds_and_truth_are_plausible() {
        let corpus = small(1);
        assert_eq!(corpus.len(), 400);
        let mean = corpus.iter().map(|a| a.body.len()).sum::<usize>() / corpus.len();
        assert!((3000..7000).contains(&mean), "mean body {mean} bytes");
        let copies = corpus.iter().filter(|a| a.kind == Kind::Copy).count();
        let followups = corpus.iter().filter(|a| a.kind == Kind::FollowUp).count();
        assert!((100..220).contains(&copies), "{copies} copies");
        assert!((15..70).contains(&followups), "{followups} follow-ups");
        // A copy shares its cluster with an earlier original or follow-up.
        for (i, a) in corpus.iter().enumerate() {
            if a.kind == Kind::Copy {
                assert!(corpus[..i]
                    .iter()
                    .any(|b| b.cluster == a.cluster && b.kind != Kind::Copy));
            }
        }
        // Follow-ups start clusters of their own.
        let clusters: std::collections::HashSet<u32> = corpus
            .iter()
            .filter(|a| a.kind != Kind::Copy)
            .map(|a| a.cluster)
            .collect();
        assert_eq!(clusters.len(), corpus.len() - copies);
    }

    #[test]
    fn json_lines_parse_as_dedup_input() {
        for a in small(3).iter().take(20) {
            let parsed = crate::jsonl::parse_line(a.to_json_line().as_bytes()).unwrap();
            assert_eq!(parsed.article.meta.id, a.id);
            assert_eq!(parsed.article.body, a.body);
            assert!(parsed.article.meta.published.is_some());
        }
    }
}
