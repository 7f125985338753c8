//! The match rule and how an article joins a story.
//!
//! **Match rule.** For two texts with estimated Jaccard similarity `J` of their shingle sets and
//! shingle counts `a <= b`, the estimated shared shingles are `J·(a+b)/(1+J)`; containment `C` is
//! that share of the shorter text, and the length ratio is `a/b`. They are copies when
//! - `J >= threshold` (whole-text similarity), or
//! - `C >= containment`, `a/b >= min_length_ratio` and the two texts start alike (their lead
//!   sketches, MinHash of the first 24 shingles, agree on at least half the slots): a truncated
//!   copy is mostly inside its original and shares its lead. The ratio floor and the lead check
//!   keep a live blog or digest, which holds a whole item among much else, from absorbing it.
//!
//! The score of a match is `max(J, C)` where `C` counts only when the ratio floor holds.
//!
//! **Joining.** An arriving article is compared with every candidate the index offers (within the
//! dedup window) and joins the story of the best-scoring match, or starts a new story. Stories are
//! never merged afterwards: an article that matches members of two stories joins the better one
//! and the two stay apart. This keeps emitted story ids stable and stops weak links from chaining
//! stories into one giant cluster; a later copy still links to any member, so write-thrus that
//! drift away from the first version stay in their story as long as each step is a strong match.

/// The thresholds of the match rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchRule {
    pub threshold: f32,
    pub containment: f32,
    pub min_length_ratio: f32,
}

/// Lead similarity a containment match needs: the shorter text must start where the longer does.
pub const MIN_LEAD_SIMILARITY: f32 = 0.5;

/// How two texts compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScore {
    pub jaccard: f32,
    pub containment: f32,
    pub length_ratio: f32,
    /// Similarity of the two texts' leads (their first shingles).
    pub lead: f32,
}

impl PairScore {
    /// Derives containment and length ratio from the Jaccard estimate and the shingle counts.
    pub fn new(jaccard: f32, shingles_a: u32, shingles_b: u32) -> Self {
        let (small, large) = if shingles_a <= shingles_b {
            (shingles_a as f32, shingles_b as f32)
        } else {
            (shingles_b as f32, shingles_a as f32)
        };
        if small <= 0.0 {
            return PairScore {
                jaccard: 0.0,
                containment: 0.0,
                length_ratio: 0.0,
                lead: 0.0,
            };
        }
        let shared = jaccard * (small + large) / (1.0 + jaccard);
        PairScore {
            jaccard,
            containment: (shared / small).min(1.0),
            length_ratio: small / large,
            lead: 1.0,
        }
    }

    /// The same pair with its lead similarity set.
    pub fn with_lead(mut self, lead: f32) -> Self {
        self.lead = lead;
        self
    }
}

impl MatchRule {
    /// The lowest Jaccard similarity at which the rule can still match: the index must find
    /// candidates down to here. A text of ratio `m` that is `c` contained has `J = c·m/(1+m−c·m)`.
    pub fn lowest_jaccard(&self) -> f32 {
        let (c, m) = (self.containment, self.min_length_ratio);
        let by_containment = c * m / (1.0 + m - c * m);
        self.threshold.min(by_containment)
    }

    /// True when containment alone would make the pair a match, before the lead is checked.
    pub fn containment_applies(&self, pair: &PairScore) -> bool {
        pair.jaccard < self.threshold
            && pair.containment >= self.containment
            && pair.length_ratio >= self.min_length_ratio
    }

    /// `Some(score)` when the pair is a match.
    pub fn score(&self, pair: PairScore) -> Option<f32> {
        let contained = pair.containment >= self.containment
            && pair.length_ratio >= self.min_length_ratio
            && pair.lead >= MIN_LEAD_SIMILARITY;
        if pair.jaccard >= self.threshold || contained {
            Some(if contained {
                pair.jaccard.max(pair.containment)
            } else {
                pair.jaccard
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: MatchRule = MatchRule {
        threshold: 0.7,
        containment: 0.85,
        min_length_ratio: 0.35,
    };

    /// Exact Jaccard of a text of `a` shingles against one of `b` sharing `shared`.
    fn pair(a: u32, b: u32, shared: u32) -> PairScore {
        PairScore::new(shared as f32 / (a + b - shared) as f32, a, b)
    }

    #[test]
    fn truncated_and_wrapped_copies_match() {
        // First 60% of a 1000-shingle story.
        assert!(RULE.score(pair(600, 1000, 600)).is_some());
        // First 40%: only containment carries it.
        assert!(RULE.score(pair(400, 1000, 400)).is_some());
        // Wrapped in 30% extra page text.
        assert!(RULE.score(pair(1000, 1300, 1000)).is_some());
    }

    #[test]
    fn follow_ups_and_live_blogs_do_not() {
        // A follow-up of equal length reusing 25-45% of the other's text.
        for reuse in [250, 350, 450] {
            assert!(RULE.score(pair(1000, 1000, reuse)).is_none(), "{reuse}");
        }
        // A live blog five times longer containing the whole item.
        assert!(RULE.score(pair(1000, 5000, 1000)).is_none());
        // A page twice as long holding the whole item, but starting elsewhere.
        assert!(RULE.score(pair(1000, 2000, 1000).with_lead(0.1)).is_none());
        assert!(RULE.score(pair(1000, 2000, 1000).with_lead(0.9)).is_some());
    }

    #[test]
    fn lowest_jaccard_covers_containment_matches() {
        let low = RULE.lowest_jaccard();
        assert!(low < 0.5);
        let edge = pair(350, 1000, 298);
        assert!(RULE.score(edge).is_some());
        assert!(edge.jaccard >= low - 1e-6);
    }
}
