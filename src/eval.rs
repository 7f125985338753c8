//! Clustering quality metrics, pure: a predicted partition of articles scored against a gold one.
//!
//! Both partitions are given as one label per article (same order, same length); labels are
//! opaque `u32`s and an article alone in its cluster is a singleton. Everything is computed from
//! the contingency table, so the cost is linear in the number of articles, not the pairs.
//!
//! - **Pairwise precision, recall, F1** over the pairs the clusters imply: a pair is predicted
//!   when both articles share a predicted cluster, true when they share a gold cluster.
//!   Precision is 1 when nothing was paired (nothing wrongly merged), recall is 1 when the gold
//!   pairs nothing (nothing to miss), F1 is 0 when both precision and recall are 0.
//! - **Adjusted Rand index** (Hubert and Arabie, 1985) over all articles, singletons counted:
//!   1 for identical partitions, about 0 for a random one, negative when worse than random. When
//!   the expected index equals the maximum (for example both partitions all singletons) it is 1,
//!   as scikit-learn does.

use std::collections::HashMap;

/// Pair counts of a predicted partition against a gold one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    /// Pairs in one predicted and one gold cluster.
    pub true_positives: u64,
    /// Pairs in one predicted cluster but different gold clusters (false merges).
    pub false_positives: u64,
    /// Pairs in one gold cluster but different predicted clusters (misses).
    pub false_negatives: u64,
}

impl PairCounts {
    pub fn precision(&self) -> f64 {
        let predicted = self.true_positives + self.false_positives;
        if predicted == 0 {
            1.0
        } else {
            self.true_positives as f64 / predicted as f64
        }
    }

    pub fn recall(&self) -> f64 {
        let gold = self.true_positives + self.false_negatives;
        if gold == 0 {
            1.0
        } else {
            self.true_positives as f64 / gold as f64
        }
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// All the scores of one comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub articles: u64,
    pub predicted_clusters: u64,
    pub gold_clusters: u64,
    pub pairs: PairCounts,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub ari: f64,
}

fn pairs_of(n: u64) -> u128 {
    let n = n as u128;
    n * n.saturating_sub(1) / 2
}

/// Cluster sizes of a labelling.
fn sizes(labels: &[u32]) -> HashMap<u32, u64> {
    let mut out: HashMap<u32, u64> = HashMap::new();
    for &l in labels {
        *out.entry(l).or_default() += 1;
    }
    out
}

/// Scores `predicted` against `gold`. Panics if the two have different lengths (a caller bug,
/// never input-dependent: callers align the two before scoring).
pub fn score(predicted: &[u32], gold: &[u32]) -> Scores {
    assert_eq!(
        predicted.len(),
        gold.len(),
        "predicted and gold labels must be aligned"
    );
    let n = predicted.len() as u64;
    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    for (&p, &g) in predicted.iter().zip(gold) {
        *cells.entry((p, g)).or_default() += 1;
    }
    let pred_sizes = sizes(predicted);
    let gold_sizes = sizes(gold);
    let index: u128 = cells.values().map(|&c| pairs_of(c)).sum();
    let pred_pairs: u128 = pred_sizes.values().map(|&c| pairs_of(c)).sum();
    let gold_pairs: u128 = gold_sizes.values().map(|&c| pairs_of(c)).sum();
    let pairs = PairCounts {
        true_positives: index as u64,
        false_positives: (pred_pairs - index) as u64,
        false_negatives: (gold_pairs - index) as u64,
    };
    let all = pairs_of(n);
    let ari = if all == 0 {
        1.0
    } else {
        let expected = pred_pairs as f64 * gold_pairs as f64 / all as f64;
        let max = (pred_pairs as f64 + gold_pairs as f64) / 2.0;
        if max == expected {
            1.0
        } else {
            (index as f64 - expected) / (max - expected)
        }
    };
    Scores {
        articles: n,
        predicted_clusters: pred_sizes.len() as u64,
        gold_clusters: gold_sizes.len() as u64,
        pairs,
        precision: pairs.precision(),
        recall: pairs.recall(),
        f1: pairs.f1(),
        ari,
    }
}

/// Interns string labels (gold cluster names, story ids) as dense `u32`s.
#[derive(Debug, Default)]
pub struct Labels {
    map: HashMap<String, u32>,
}

impl Labels {
    pub fn intern(&mut self, label: &str) -> u32 {
        if let Some(&l) = self.map.get(label) {
            return l;
        }
        let l = self.map.len() as u32;
        self.map.insert(label.to_string(), l);
        l
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Members of each cluster of a labelling, largest first (ties: first appearance).
pub fn clusters_by_size(labels: &[u32]) -> Vec<Vec<usize>> {
    let mut slot: HashMap<u32, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        let s = *slot.entry(l).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[s].push(i);
    }
    out.sort_by_key(|members| std::cmp::Reverse(members.len()));
    out
}

/// The `top` highest-scoring pairs that share a group (a predicted story, or a gold cluster) but
/// for which `differ(a, b)` holds (different gold clusters, or different predicted stories):
/// the false merges and the misses that most need explaining. Within a group larger than `cap`
/// each member is compared with the group's first member only, which bounds the work.
pub fn worst_pairs(
    groups: &[Vec<usize>],
    differ: impl Fn(usize, usize) -> bool,
    score: impl Fn(usize, usize) -> f32,
    top: usize,
    cap: usize,
) -> Vec<(usize, usize, f32)> {
    let mut out: Vec<(usize, usize, f32)> = Vec::new();
    let consider = |a: usize, b: usize, out: &mut Vec<(usize, usize, f32)>| {
        if differ(a, b) {
            out.push((a, b, score(a, b)));
            // Keep memory bounded on huge inputs: trim to the best `top` now and then.
            if out.len() >= top.max(1) * 64 {
                out.sort_by(|x, y| y.2.total_cmp(&x.2));
                out.truncate(top);
            }
        }
    };
    for group in groups {
        if group.len() <= cap {
            for (i, &a) in group.iter().enumerate() {
                for &b in &group[i + 1..] {
                    consider(a, b, &mut out);
                }
            }
        } else {
            for &b in &group[1..] {
                consider(group[0], b, &mut out);
            }
        }
    }
    out.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    out.truncate(top);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn identical_partitions_score_one() {
        let labels = [0, 0, 1, 2, 2, 2, 3];
        let relabelled = [7, 7, 5, 9, 9, 9, 1];
        let s = score(&labels, &relabelled);
        assert!(close(s.ari, 1.0));
        assert!(close(s.precision, 1.0));
        assert!(close(s.recall, 1.0));
        assert!(close(s.f1, 1.0));
        assert_eq!(s.pairs.true_positives, 1 + 3);
        assert_eq!(s.predicted_clusters, 4);
    }

    #[test]
    fn known_small_example() {
        // gold {a,b} {c} {d}; predicted {a,b} {c,d}: by hand, index = 1, gold pairs 1,
        // predicted pairs 2, C(4,2) = 6, expected = 1*2/6 = 1/3, max = 3/2,
        // ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7 (scikit-learn agrees: 0.5714...).
        let gold = [0, 0, 1, 2];
        let pred = [0, 0, 1, 1];
        let s = score(&pred, &gold);
        assert_eq!(
            s.pairs,
            PairCounts {
                true_positives: 1,
                false_positives: 1,
                false_negatives: 0
            }
        );
        assert!(close(s.precision, 0.5));
        assert!(close(s.recall, 1.0));
        assert!(close(s.f1, 2.0 / 3.0));
        assert!(close(s.ari, 4.0 / 7.0));
        // ARI is symmetric.
        assert!(close(score(&gold, &pred).ari, 4.0 / 7.0));
    }

    #[test]
    fn all_in_one_against_all_singletons() {
        let gold = [0, 1, 2, 3];
        let pred = [5, 5, 5, 5];
        let s = score(&pred, &gold);
        assert!(close(s.ari, 0.0));
        assert!(close(s.precision, 0.0));
        assert!(close(s.recall, 1.0));
        assert!(close(s.f1, 0.0));
        assert_eq!(s.pairs.false_positives, 6);
    }

    #[test]
    fn worse_than_random_is_negative() {
        // gold {a,b} {c,d}; predicted {a,c} {b,d}: no pair right.
        let s = score(&[0, 1, 0, 1], &[0, 0, 1, 1]);
        assert!(close(s.ari, -0.5));
        assert_eq!(s.pairs.true_positives, 0);
        assert!(close(s.f1, 0.0));
    }

    #[test]
    fn degenerate_inputs() {
        let s = score(&[], &[]);
        assert!(close(s.ari, 1.0));
        assert!(close(s.f1, 1.0));
        let s = score(&[0, 1, 2], &[3, 4, 5]);
        assert!(close(s.ari, 1.0));
        assert!(close(s.precision, 1.0));
        assert!(close(s.recall, 1.0));
        // Nothing predicted, one gold pair missed.
        let s = score(&[0, 1, 2], &[0, 0, 1]);
        assert!(close(s.precision, 1.0));
        assert!(close(s.recall, 0.0));
        assert!(close(s.f1, 0.0));
    }

    #[test]
    fn clusters_by_size_orders_largest_first() {
        let c = clusters_by_size(&[4, 2, 4, 9, 2, 4]);
        assert_eq!(c, vec![vec![0, 2, 5], vec![1, 4], vec![3]]);
    }

    #[test]
    fn labels_intern_densely() {
        let mut l = Labels::default();
        assert_eq!(l.intern("x"), 0);
        assert_eq!(l.intern("y"), 1);
        assert_eq!(l.intern("x"), 0);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn worst_pairs_finds_the_highest_scoring_differing_pairs() {
        // Predicted groups {0,1,2} {3,4}; gold: 0,1 together, 2 apart, 3,4 apart.
        let gold = [0, 0, 1, 2, 3];
        let groups = vec![vec![0, 1, 2], vec![3, 4]];
        let sim = |a: usize, b: usize| (a + b) as f32 / 10.0;
        let pairs = worst_pairs(&groups, |a, b| gold[a] != gold[b], sim, 2, 100);
        assert_eq!(pairs, vec![(3, 4, 0.7), (1, 2, 0.3)]);
        // Capped at 2: the group of three compares its first member only.
        let pairs = worst_pairs(&groups, |a, b| gold[a] != gold[b], sim, 10, 2);
        assert_eq!(pairs, vec![(3, 4, 0.7), (0, 2, 0.2)]);
    }
}
