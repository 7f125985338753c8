//! Choosing the canonical version of a story.
//!
//! The policy is an ordered list of criteria (`merge.order`); the first one that tells two copies
//! apart decides: outlet priority (wire agencies can be ranked above republishers), then the
//! fullest clean text (most words once boilerplate is ignored), then the earliest published.
//! Arrival order breaks any remaining tie, so the choice is deterministic.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::config::MergeCriterion;

/// What canonical selection looks at for one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Higher is preferred.
    pub rank: i64,
    pub words: u32,
    /// Unix seconds.
    pub published: Option<i64>,
    /// Arrival order: lower arrived first.
    pub arrival: u64,
}

/// The canonical-selection policy.
#[derive(Debug, Clone)]
pub struct MergePolicy {
    order: Vec<MergeCriterion>,
    ranks: HashMap<String, i64>,
}

impl MergePolicy {
    /// `priority_list` is most preferred first; `outlet_priority` are the `[[outlet]] priority` values.
    /// The list dominates: any listed outlet outranks every unlisted one.
    pub fn new(
        order: Vec<MergeCriterion>,
        priority_list: &[String],
        outlet_priority: impl IntoIterator<Item = (String, i32)>,
    ) -> Self {
        let mut ranks: HashMap<String, i64> = outlet_priority
            .into_iter()
            .map(|(name, p)| (name, p as i64))
            .collect();
        let n = priority_list.len() as i64;
        for (i, name) in priority_list.iter().enumerate() {
            let base = ranks.get(name).copied().unwrap_or(0);
            ranks.insert(name.clone(), ((n - i as i64) << 32) + base);
        }
        MergePolicy { order, ranks }
    }

    /// The rank of an outlet (0 when unknown).
    pub fn rank(&self, outlet: Option<&str>) -> i64 {
        outlet.and_then(|o| self.ranks.get(o)).copied().unwrap_or(0)
    }

    /// `Greater` when `a` should be canonical rather than `b`.
    pub fn compare(&self, a: &Candidate, b: &Candidate) -> Ordering {
        for criterion in &self.order {
            let o = match criterion {
                MergeCriterion::OutletPriority => a.rank.cmp(&b.rank),
                MergeCriterion::Longest => a.words.cmp(&b.words),
                MergeCriterion::Earliest => match (a.published, b.published) {
                    (Some(x), Some(y)) => y.cmp(&x),
                    (Some(_), None) => Ordering::Greater,
                    (None, Some(_)) => Ordering::Less,
                    (None, None) => Ordering::Equal,
                },
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        b.arrival.cmp(&a.arrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rank: i64, words: u32, published: Option<i64>, arrival: u64) -> Candidate {
        Candidate {
            rank,
            words,
            published,
            arrival,
        }
    }

    #[test]
    fn priority_then_length_then_earliest_then_arrival() {
        let p = MergePolicy::new(
            vec![
                MergeCriterion::OutletPriority,
                MergeCriterion::Longest,
                MergeCriterion::Earliest,
            ],
            &["PTI".to_string()],
            [("Other".to_string(), 5)],
        );
        assert!(p.rank(Some("PTI")) > p.rank(Some("Other")));
        assert_eq!(p.rank(None), 0);
        let wire = c(p.rank(Some("PTI")), 100, None, 5);
        let long = c(0, 900, Some(1), 0);
        assert_eq!(p.compare(&wire, &long), Ordering::Greater);
        assert_eq!(
            p.compare(&c(0, 900, None, 3), &c(0, 800, Some(1), 0)),
            Ordering::Greater
        );
        assert_eq!(
            p.compare(&c(0, 900, Some(1), 3), &c(0, 900, Some(2), 0)),
            Ordering::Greater
        );
        assert_eq!(
            p.compare(&c(0, 900, None, 0), &c(0, 900, None, 1)),
            Ordering::Greater
        );
    }
}
