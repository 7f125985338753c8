//! The match rule, the one pair similarity every part of syndedup uses, and how articles join
//! and merge stories.
//!
//! **Pair similarity** ([`pair_score`]). From the two texts' exact profiles
//! ([`super::profile`]): Jaccard similarity `J` of their shingle sets, containment `C` (shared
//! shingles over the shorter text's), the length ratio (shorter over longer), and where each
//! *article* starts relative to the other (the lead offsets). Signatures made without a profile
//! (stored by an older version) fall back to the MinHash estimate, with containment derived from
//! it and no lead evidence.
//!
//! **Match rule** ([`MatchRule::verdict`]). Two texts are copies of one story when
//! - `J >= threshold` (whole-text similarity), or
//! - `C >= containment`, the length ratio is at least `min_length_ratio`, and both articles start
//!   alike: on each side, at most `lead_slack + lead_slack_share × its length` lead shingles come
//!   before its first lead paragraph found in the other. A truncated copy, a stub holding only the
//!   lead, or a copy wrapped in unrecognised chrome passes; a live blog or digest (the item is in
//!   its middle), a write-thru with a new top, or a blog post quoting a story's middle does not.
//!
//!   Where the shared part of a text begins after its first lead paragraph, the other must also
//!   hold at least `lead_coverage` of that text's lead up to its last shared paragraph: an
//!   excerpt quoted by a blog picks paragraphs and skips those between. Containment never
//!   counts when either text is a digest page (ten or more paragraphs that end in an
//!   ellipsis: an aggregator or round-up page holding the leads of many stories);
//! - or the whole pages, set-aside paragraphs included, have Jaccard `>= page_threshold`:
//!   near-identical pages are one story whatever each side set aside (learned chrome differs
//!   between two snapshots of one page when the learner saw one and not the other).
//!
//! The score of a match is `max(J, C)` when containment counts, the page Jaccard when only the
//! page rule fires, `J` otherwise.
//!
//! **Joining and merging.** An arriving article is compared with every candidate the indexes
//! offer (within the dedup window) and joins the story of the best match (equal scores: the
//! older story), or starts a new story. When it matches two or more stories, they merge into the
//! oldest one if the article matches at least half of each story's members ([`MERGE_MAJORITY`]):
//! a bridge that matches one copy of a big story does not glue it to another. The absorbed
//! story's id becomes an alias of the surviving one (see [`super::Engine::resolve`]).

use super::minhash::Fingerprint;
use super::profile::Overlap;

/// Length ratio from which [`MatchRule::containment_similar_length`] applies.
pub const SIMILAR_LENGTH: f32 = 0.5;

/// From this length ratio, a text holding at least `containment` of a shorter one that starts
/// with its own lead is a write-thru with a new top, whatever its own lead (see
/// [`MatchRule::leads_agree`]).
pub const WRITE_THRU_RATIO: f32 = 0.6;

/// A bridging article must match at least this share of each story it merges.
pub const MERGE_MAJORITY: f32 = 0.5;

/// Two live blogs are versions of one live file only when they share at least this many
/// shingles (a few posts), whatever the share.
pub const LIVE_BLOG_MIN_SHARED: f32 = 60.0;

/// The thresholds of the match rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRule {
    pub threshold: f32,
    pub containment: f32,
    /// The containment needed instead when the shorter text is at least [`SIMILAR_LENGTH`] of
    /// the longer: an edited copy of about the same length, not a stub or an excerpt.
    pub containment_similar_length: f32,
    pub min_length_ratio: f32,
    /// Lead shingles a text may have before the shared article starts...
    pub lead_slack: u32,
    /// ...plus this share of its own length.
    pub lead_slack_share: f32,
    /// The share of each text's lead shingles, from its first to its last paragraph found in
    /// the other, that the other must hold (see [`Overlap::lead_coverage_a`]).
    pub lead_coverage: f32,
    /// Whole-page Jaccard from which two texts are one story whatever they set aside (0: off).
    pub page_threshold: f32,
    /// Containment from which two live blogs are versions of one live file (0: off).
    pub live_blog_containment: f32,
}

/// How two texts compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScore {
    pub jaccard: f32,
    pub containment: f32,
    /// Shared shingles over each text's own (`a` is the first argument of [`pair_score`]).
    pub containment_a: f32,
    pub containment_b: f32,
    pub length_ratio: f32,
    /// Distinct shingles of each text.
    pub shingles_a: u32,
    pub shingles_b: u32,
    /// See [`Overlap::lead_offset_a`]; `None`: no lead paragraph of that text is in the other,
    /// or the pair had no profiles.
    pub lead_offset_a: Option<u32>,
    pub lead_offset_b: Option<u32>,
    /// See [`Overlap::lead_coverage_a`]; 1 when estimated.
    pub lead_coverage_a: f32,
    pub lead_coverage_b: f32,
    /// Jaccard similarity of the whole pages, set-aside paragraphs included (see
    /// [`super::profile::Profile::page_jaccard`]); `None` when not computed (the engine only
    /// computes it when the rest of the rule does not match) or without profiles.
    pub page_jaccard: Option<f32>,
    /// False when the similarity was estimated from signatures alone.
    pub exact: bool,
    /// Either text is a digest page: containment does not count (see
    /// [`super::profile::Profile::with_digest_page`]).
    pub digest_page: bool,
    /// Both texts are live blogs (see [`super::profile::Profile::with_live_blog`]).
    pub live_blogs: bool,
}

/// Which part of the rule made (or came closest to making) a pair one story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// `jaccard >= threshold`.
    Jaccard,
    /// Containment with the length ratio and the article leads agreeing.
    Containment,
    /// The whole pages, set-aside paragraphs included, are near-identical.
    Page,
    /// Two live blogs share a run of posts: versions of one live file.
    LiveBlog,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Jaccard => "jaccard",
            RuleKind::Containment => "containment",
            RuleKind::Page => "page",
            RuleKind::LiveBlog => "live_blog",
        }
    }
}

/// The rule's verdict on a pair, with what fell short.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// `Some(score)` when the pair is one story.
    pub score: Option<f32>,
    /// The part of the rule that fired, or the one that came closest.
    pub rule: RuleKind,
    /// Whether the article leads agree (the containment condition on leads).
    pub lead_agrees: bool,
    /// What the closest part lacked, as sentences; empty when it fired.
    pub shortfalls: Vec<String>,
}

impl PairScore {
    /// From an exact overlap of two profiles.
    pub fn from_overlap(o: &Overlap) -> Self {
        let (a, b) = (o.a as f32, o.b as f32);
        let shared = o.shared as f32;
        let (small, large) = if a <= b { (a, b) } else { (b, a) };
        let union = a + b - shared;
        PairScore {
            jaccard: if union > 0.0 { shared / union } else { 0.0 },
            containment: if small > 0.0 { shared / small } else { 0.0 },
            containment_a: if a > 0.0 { shared / a } else { 0.0 },
            containment_b: if b > 0.0 { shared / b } else { 0.0 },
            length_ratio: if large > 0.0 { small / large } else { 0.0 },
            shingles_a: o.a,
            shingles_b: o.b,
            lead_offset_a: o.lead_offset_a,
            lead_offset_b: o.lead_offset_b,
            lead_coverage_a: o.lead_coverage_a,
            lead_coverage_b: o.lead_coverage_b,
            page_jaccard: None,
            exact: true,
            digest_page: o.digest_page,
            live_blogs: o.live_blogs,
        }
    }

    /// From a Jaccard estimate and shingle counts (signatures without profiles): containment is
    /// derived (`J·(a+b)/(1+J)` shared shingles) and there is no lead evidence.
    pub fn estimated(jaccard: f32, shingles_a: u32, shingles_b: u32) -> Self {
        let (a, b) = (shingles_a as f32, shingles_b as f32);
        let (small, large) = if a <= b { (a, b) } else { (b, a) };
        if small <= 0.0 {
            return PairScore {
                jaccard: 0.0,
                containment: 0.0,
                containment_a: 0.0,
                containment_b: 0.0,
                length_ratio: 0.0,
                shingles_a,
                shingles_b,
                lead_offset_a: None,
                lead_offset_b: None,
                lead_coverage_a: 1.0,
                lead_coverage_b: 1.0,
                page_jaccard: None,
                exact: false,
                digest_page: false,
                live_blogs: false,
            };
        }
        let shared = jaccard * (small + large) / (1.0 + jaccard);
        PairScore {
            jaccard,
            containment: (shared / small).min(1.0),
            containment_a: (shared / a).min(1.0),
            containment_b: (shared / b).min(1.0),
            length_ratio: small / large,
            shingles_a,
            shingles_b,
            lead_offset_a: None,
            lead_offset_b: None,
            lead_coverage_a: 1.0,
            lead_coverage_b: 1.0,
            page_jaccard: None,
            exact: false,
            digest_page: false,
            live_blogs: false,
        }
    }

    /// Shingles the two texts share.
    pub fn shared(&self) -> f32 {
        self.containment_a * self.shingles_a as f32
    }
}

/// The similarity of two fingerprints: exact from their profiles when both have one, else the
/// MinHash estimate over 16-bit slots (what the engine keeps in memory).
pub fn pair_score(a: &Fingerprint, b: &Fingerprint) -> PairScore {
    if a.is_empty() || b.is_empty() {
        return PairScore::estimated(0.0, 0, 0);
    }
    if !a.profile.is_empty() && !b.profile.is_empty() {
        let mut pair = PairScore::from_overlap(&a.profile.overlap(&b.profile));
        pair.page_jaccard = Some(a.profile.page_jaccard(&b.profile));
        return pair;
    }
    PairScore::estimated(a.jaccard16(b), a.shingles, b.shingles)
}

impl MatchRule {
    /// The rule as `[dedup]` configures it.
    pub fn from_config(d: &crate::config::DedupConfig) -> Self {
        MatchRule {
            threshold: d.threshold as f32,
            containment: d.containment as f32,
            containment_similar_length: d.containment_similar_length.min(d.containment) as f32,
            min_length_ratio: d.min_length_ratio as f32,
            lead_slack: d.lead_slack,
            lead_slack_share: d.lead_slack_share as f32,
            lead_coverage: d.lead_coverage as f32,
            page_threshold: d.page_threshold as f32,
            live_blog_containment: d.live_blog_containment as f32,
        }
    }

    /// The Jaccard similarity down to which MinHash banding must find candidates: the lower of
    /// the threshold and the Jaccard of two texts of [`SIMILAR_LENGTH`] ratio at the
    /// similar-length containment (`J = c·m/(1+m−c·m)`). Stubs and excerpts, whose Jaccard is
    /// lower still, are found through the lead anchors.
    pub fn lowest_jaccard(&self) -> f32 {
        let (c, m) = (
            self.containment_similar_length.min(self.containment),
            SIMILAR_LENGTH,
        );
        self.threshold.min(c * m / (1.0 + m - c * m))
    }

    /// The containment the pair needs: lower for texts of similar length.
    pub fn containment_needed(&self, pair: &PairScore) -> f32 {
        if pair.length_ratio >= SIMILAR_LENGTH {
            self.containment_similar_length.min(self.containment)
        } else {
            self.containment
        }
    }

    /// Lead shingles a text of `len` shingles may have before the shared article starts.
    pub fn lead_allowed(&self, len: u32) -> f32 {
        self.lead_slack as f32 + self.lead_slack_share * len as f32
    }

    /// A text whose shared part begins at its very first lead paragraph is the other's cut-down
    /// copy (truncated or abridged) whatever it skips; one whose shared part begins later must
    /// carry the lead between as one run, or it is a page quoting paragraphs.
    fn lead_ok(&self, offset: Option<u32>, len: u32, coverage: f32) -> bool {
        offset.is_some_and(|o| {
            o as f32 <= self.lead_allowed(len) && (o == 0 || coverage >= self.lead_coverage)
        })
    }

    /// Whether both articles start alike and carry the shared text as one run (see the module
    /// docs), or the longer is the shorter's write-thru under a new top.
    pub fn leads_agree(&self, pair: &PairScore) -> bool {
        let a = self.lead_ok(pair.lead_offset_a, pair.shingles_a, pair.lead_coverage_a);
        let b = self.lead_ok(pair.lead_offset_b, pair.shingles_b, pair.lead_coverage_b);
        (a && b) || self.rewritten_top(pair, a, b)
    }

    /// An updated version that puts new paragraphs on top of the earlier one: the shorter text
    /// starts with its own lead and at least `containment` of it is in the longer, which is
    /// less than [`WRITE_THRU_RATIO`] times longer. A live blog, digest or compilation holding
    /// an item in its middle is several times the item's length.
    fn rewritten_top(&self, pair: &PairScore, lead_a: bool, lead_b: bool) -> bool {
        let shorter_leads = if pair.shingles_a <= pair.shingles_b {
            lead_a
        } else {
            lead_b
        };
        pair.exact
            && shorter_leads
            && pair.length_ratio >= WRITE_THRU_RATIO
            && pair.containment >= self.containment
    }

    /// `Some(score)` when the pair is a match.
    pub fn score(&self, pair: &PairScore) -> Option<f32> {
        let contained = pair.containment >= self.containment_needed(pair)
            && pair.length_ratio >= self.min_length_ratio
            && !pair.digest_page
            && self.leads_agree(pair);
        if contained {
            Some(pair.jaccard.max(pair.containment))
        } else if pair.jaccard >= self.threshold {
            Some(pair.jaccard)
        } else {
            self.page_score(pair).or_else(|| self.live_blog_score(pair))
        }
    }

    /// `Some(containment)` when two live blogs share enough of their posts.
    fn live_blog_score(&self, pair: &PairScore) -> Option<f32> {
        (pair.live_blogs
            && pair.exact
            && self.live_blog_containment > 0.0
            && pair.containment >= self.live_blog_containment
            && pair.shared() >= LIVE_BLOG_MIN_SHARED)
            .then_some(pair.containment)
    }

    /// `Some(page Jaccard)` when the whole pages are near-identical.
    fn page_score(&self, pair: &PairScore) -> Option<f32> {
        pair.page_jaccard
            .filter(|&j| self.page_threshold > 0.0 && j >= self.page_threshold)
    }

    /// Whether two pages of these sizes (distinct shingles, set-aside ones included) could
    /// reach the page threshold: the smaller must be at least the threshold's share of the larger.
    pub fn page_sizes_allow(&self, a: usize, b: usize) -> bool {
        self.page_threshold > 0.0
            && (a.min(b) as f32) >= self.page_threshold * a.max(b) as f32
            && a.min(b) > 0
    }

    /// The verdict with the rule that fired or came closest, and what it lacked.
    pub fn verdict(&self, pair: &PairScore) -> Verdict {
        let score = self.score(pair);
        let lead_agrees = self.leads_agree(pair);
        let needed = self.containment_needed(pair);
        let contained = pair.containment >= needed
            && pair.length_ratio >= self.min_length_ratio
            && !pair.digest_page
            && lead_agrees;
        let rule = if contained {
            RuleKind::Containment
        } else if pair.jaccard >= self.threshold {
            RuleKind::Jaccard
        } else if self.page_score(pair).is_some() {
            RuleKind::Page
        } else if pair.live_blogs && pair.exact && self.live_blog_containment > 0.0 {
            // Fired, or the rule for two live blogs that came closest.
            RuleKind::LiveBlog
        } else {
            // Closest: the part with the smaller relative gap.
            let gap_j = (self.threshold - pair.jaccard) / self.threshold.max(1e-6);
            let gap_c = (needed - pair.containment).max(0.0) / needed.max(1e-6);
            if pair.exact && gap_c <= gap_j {
                RuleKind::Containment
            } else {
                RuleKind::Jaccard
            }
        };
        let mut shortfalls = Vec::new();
        if score.is_none() {
            match rule {
                RuleKind::Page => {}
                RuleKind::LiveBlog => {
                    if pair.containment < self.live_blog_containment {
                        shortfalls.push(format!(
                            "Both are live blogs, but they share {:.3} of the smaller one's \
                             text, {:.3} below {:.3}.",
                            pair.containment,
                            self.live_blog_containment - pair.containment,
                            self.live_blog_containment
                        ));
                    } else {
                        shortfalls.push(format!(
                            "Both are live blogs, but they share {:.0} shingles, fewer than \
                             {LIVE_BLOG_MIN_SHARED:.0}.",
                            pair.shared()
                        ));
                    }
                }
                RuleKind::Jaccard => shortfalls.push(format!(
                    "Jaccard {:.3} is {:.3} below the threshold {:.3}.",
                    pair.jaccard,
                    self.threshold - pair.jaccard,
                    self.threshold
                )),
                RuleKind::Containment => {
                    if pair.digest_page {
                        shortfalls.push(
                            "One of the texts is a digest page (a list of teasers of many \
                             stories): containment does not count, only whole-text similarity."
                                .to_string(),
                        );
                    }
                    if pair.containment < needed {
                        shortfalls.push(format!(
                            "Containment {:.3} is {:.3} below {:.3}.",
                            pair.containment,
                            needed - pair.containment,
                            needed
                        ));
                    }
                    if pair.length_ratio < self.min_length_ratio {
                        shortfalls.push(format!(
                            "The length ratio {:.3} is below {:.3}.",
                            pair.length_ratio, self.min_length_ratio
                        ));
                    }
                    if !lead_agrees {
                        shortfalls.push(lead_sentence(self, pair));
                    }
                }
            }
        }
        Verdict {
            score,
            rule,
            lead_agrees,
            shortfalls,
        }
    }
}

fn lead_sentence(rule: &MatchRule, pair: &PairScore) -> String {
    let side = |name: &str, offset: Option<u32>, len: u32, coverage: f32| -> Option<String> {
        let slack = rule.lead_allowed(len);
        match offset {
            None => Some(format!("no lead paragraph of {name} is in the other text")),
            Some(o) if o as f32 > slack => Some(format!(
                "{name}'s shared text starts after {o} lead shingles (allowed {slack:.0})"
            )),
            Some(o) if o > 0 && coverage < rule.lead_coverage => Some(format!(
                "the other text holds only {:.0}% of {name}'s lead from its first to its last \
                 shared paragraph (needs {:.0}%)",
                coverage * 100.0,
                rule.lead_coverage * 100.0
            )),
            Some(_) => None,
        }
    };
    let parts: Vec<String> = [
        side(
            "the first text",
            pair.lead_offset_a,
            pair.shingles_a,
            pair.lead_coverage_a,
        ),
        side(
            "the second text",
            pair.lead_offset_b,
            pair.shingles_b,
            pair.lead_coverage_b,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "The articles do not start alike.".to_string()
    } else {
        let mut s = format!("The articles do not start alike: {}.", parts.join("; "));
        if let Some(first) = s.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: MatchRule = MatchRule {
        threshold: 0.5,
        containment: 0.8,
        containment_similar_length: 0.8,
        min_length_ratio: 0.1,
        lead_slack: 40,
        lead_slack_share: 0.15,
        lead_coverage: 0.6,
        page_threshold: 0.8,
        live_blog_containment: 0.3,
    };

    fn pair(a: u32, b: u32, shared: u32, off_a: Option<u32>, off_b: Option<u32>) -> PairScore {
        PairScore::from_overlap(&Overlap {
            shared,
            a,
            b,
            lead_offset_a: off_a,
            lead_offset_b: off_b,
            lead_coverage_a: 1.0,
            lead_coverage_b: 1.0,
            digest_page: false,
            live_blogs: false,
        })
    }

    #[test]
    fn a_write_thru_under_a_new_top_matches_and_an_item_inside_a_longer_page_does_not() {
        // The update: 400 new shingles on top, then 83% of the earlier version's 700.
        let update = pair(700, 1150, 580, Some(0), Some(400));
        assert!(RULE.score(&update).is_some(), "{:?}", RULE.verdict(&update));
        // The same new top, but only 60% of the earlier text carried: a new story.
        assert!(RULE
            .score(&pair(700, 1150, 420, Some(0), Some(400)))
            .is_none());
        // An earlier version whose own lead is not carried (its shared part starts late).
        assert!(RULE
            .score(&pair(700, 1150, 580, Some(300), Some(400)))
            .is_none());
        // A page over twice the item's length that holds it after its own opening.
        assert!(RULE
            .score(&pair(400, 1000, 400, Some(0), Some(300)))
            .is_none());
    }

    #[test]
    fn versions_of_a_live_blog_match_and_a_live_blog_and_its_item_do_not() {
        // Two captures an hour apart: the later adds posts on top, the earlier had more below;
        // the shared run of posts starts deep in both pages.
        let mut versions = pair(500, 780, 270, Some(220), Some(225));
        assert!(RULE.score(&versions).is_none());
        versions.live_blogs = true;
        assert_eq!(RULE.score(&versions), Some(0.54));
        assert_eq!(RULE.verdict(&versions).rule, RuleKind::LiveBlog);
        // The first and last captures of a day, which share a post or two.
        let mut far_apart = pair(500, 780, 40, Some(300), Some(10));
        far_apart.live_blogs = true;
        assert!(RULE.score(&far_apart).is_none());
        let v = RULE.verdict(&far_apart);
        assert_eq!(v.rule, RuleKind::LiveBlog);
        assert!(v.shortfalls[0].contains("live blogs"), "{v:?}");
        // A short live blog sharing most of its few shingles: too little to tell.
        let mut tiny = pair(50, 800, 45, Some(0), Some(300));
        tiny.live_blogs = true;
        assert!(RULE.score(&tiny).is_none());
        // A live blog and a standalone item it carries in its middle (`live_blogs` is false
        // unless both are live blogs).
        assert!(RULE
            .score(&pair(400, 3000, 400, Some(0), Some(1500)))
            .is_none());
        let off = MatchRule {
            live_blog_containment: 0.0,
            ..RULE
        };
        assert!(off.score(&versions).is_none());
    }

    #[test]
    fn truncated_wrapped_and_stub_copies_match() {
        // First 60% of a story.
        assert!(RULE
            .score(&pair(600, 1000, 600, Some(0), Some(0)))
            .is_some());
        // A stub: the lead only, a tenth of the original.
        assert!(RULE.score(&pair(100, 1000, 95, Some(0), Some(0))).is_some());
        // Wrapped in chrome that was not recognised: the article starts 30 shingles in.
        assert!(RULE
            .score(&pair(1000, 1300, 950, Some(0), Some(30)))
            .is_some());
    }

    #[test]
    fn live_blogs_follow_ups_and_quotes_do_not() {
        // A follow-up of equal length reusing 25-45% of the other's text.
        for reuse in [250, 350, 450] {
            let p = pair(1000, 1000, reuse, Some(0), Some(0));
            assert!(RULE.score(&p).is_none(), "{reuse}");
        }
        // A live blog holding the whole item in its middle.
        assert!(RULE
            .score(&pair(500, 3000, 500, Some(0), Some(1500)))
            .is_none());
        // Much smaller than a tenth of the other text.
        assert!(RULE.score(&pair(50, 5000, 50, Some(0), Some(0))).is_none());
        // No lead evidence (estimated from signatures): only Jaccard counts.
        assert!(RULE.score(&PairScore::estimated(0.3, 300, 1000)).is_none());
    }

    #[test]
    fn an_abridged_copy_matches_and_a_quote_does_not() {
        let mut abridged = pair(400, 1000, 400, Some(0), Some(0));
        abridged.lead_coverage_b = 0.45;
        assert!(RULE.score(&abridged).is_some());
        // The same, but its shared part begins after the original's lead paragraph.
        let mut quote = abridged;
        quote.lead_offset_b = Some(20);
        assert!(RULE.score(&quote).is_none());
        let v = RULE.verdict(&quote);
        assert!(v.shortfalls[0].contains("only 45%"), "{v:?}");
        quote.lead_coverage_b = 0.9;
        assert!(RULE.score(&quote).is_some());
    }

    #[test]
    fn near_identical_pages_match_whatever_they_set_aside() {
        let mut snapshot = pair(300, 320, 60, Some(0), None);
        assert!(RULE.score(&snapshot).is_none());
        snapshot.page_jaccard = Some(0.85);
        assert_eq!(RULE.score(&snapshot), Some(0.85));
        assert_eq!(RULE.verdict(&snapshot).rule, RuleKind::Page);
        snapshot.page_jaccard = Some(0.7);
        assert!(RULE.score(&snapshot).is_none());
        assert!(RULE.page_sizes_allow(900, 1000));
        assert!(!RULE.page_sizes_allow(700, 1000));
        let off = MatchRule {
            page_threshold: 0.0,
            ..RULE
        };
        snapshot.page_jaccard = Some(1.0);
        assert!(off.score(&snapshot).is_none());
    }

    #[test]
    fn containment_does_not_count_for_a_digest_page() {
        // A stub of a story's lead, wholly in a round-up page that starts with it.
        let mut stub_in_digest = pair(100, 400, 100, Some(0), Some(0));
        assert!(RULE.score(&stub_in_digest).is_some());
        stub_in_digest.digest_page = true;
        assert!(RULE.score(&stub_in_digest).is_none());
        let v = RULE.verdict(&stub_in_digest);
        assert_eq!(v.rule, RuleKind::Containment);
        assert!(v.shortfalls[0].contains("digest page"), "{v:?}");
        // Two captures of the digest alike as a whole still match.
        let mut captures = pair(400, 410, 380, Some(0), Some(0));
        captures.digest_page = true;
        assert_eq!(RULE.verdict(&captures).rule, RuleKind::Jaccard);
        assert!(RULE.score(&captures).is_some());
    }

    #[test]
    fn verdict_names_the_closest_rule_and_its_shortfall() {
        let v = RULE.verdict(&pair(500, 3000, 500, Some(0), Some(1500)));
        assert_eq!(v.score, None);
        assert_eq!(v.rule, RuleKind::Containment);
        assert!(!v.lead_agrees);
        assert!(v.shortfalls[0].contains("do not start alike"), "{v:?}");
        let v = RULE.verdict(&pair(1000, 1000, 900, Some(0), Some(0)));
        assert_eq!(v.rule, RuleKind::Containment);
        assert!(v.shortfalls.is_empty());
    }
}
