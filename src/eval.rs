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
//! - **Recall by gold cluster size** ([`recall_by_size`]): true and found pairs per size, and how
//!   many clusters were found whole; and the gold clusters the prediction split
//!   ([`split_clusters`]), majority part first.

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
    let mut out = clusters_in_order(labels);
    // Stable: ties keep the order of first appearance.
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

/// Gold clusters of this size and above share the last row of [`recall_by_size`] ("9+").
pub const SIZE_GROUP_FROM: u64 = 9;

/// Recall over the gold clusters of one size (or, when `grouped`, of every size from `size` up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeRow {
    /// The cluster size; for the grouped row the smallest size it holds.
    pub size: u64,
    /// True for the last row, which holds every size from `size` up.
    pub grouped: bool,
    /// Gold clusters of this size.
    pub clusters: u64,
    /// Pairs the clusters imply: `clusters * size * (size - 1) / 2` for an exact size.
    pub true_pairs: u64,
    /// Of those, pairs whose two articles share a predicted cluster.
    pub found_pairs: u64,
    /// Clusters whose members all share one predicted cluster (it may hold other articles too).
    pub whole: u64,
}

impl SizeRow {
    /// Found pairs / true pairs (1 for a row without pairs, which does not occur).
    pub fn recall(&self) -> f64 {
        if self.true_pairs == 0 {
            1.0
        } else {
            self.found_pairs as f64 / self.true_pairs as f64
        }
    }

    /// The size as shown: `"3"`, or `"9+"` for the grouped row.
    pub fn label(&self) -> String {
        if self.grouped {
            format!("{}+", self.size)
        } else {
            self.size.to_string()
        }
    }
}

/// Pairwise recall by gold cluster size: one row per size of 2 or more that occurs, smallest
/// first; sizes from `group_from` up (at least 3) share one last, `grouped` row. Singletons imply
/// no pair and get no row. Summed over the rows, `true_pairs` and `found_pairs` are the
/// true positives plus false negatives and the true positives of [`score`].
pub fn recall_by_size(predicted: &[u32], gold: &[u32], group_from: u64) -> Vec<SizeRow> {
    assert_eq!(
        predicted.len(),
        gold.len(),
        "predicted and gold labels must be aligned"
    );
    let group_from = group_from.max(3);
    // Per gold cluster: its size and how its members spread over the predicted clusters.
    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    for (&p, &g) in predicted.iter().zip(gold) {
        *cells.entry((g, p)).or_default() += 1;
    }
    let mut per_gold: HashMap<u32, (u64, u64, u64)> = HashMap::new(); // size, found, parts
    for (&(g, _), &c) in &cells {
        let e = per_gold.entry(g).or_default();
        e.0 += c;
        e.1 += pairs_of(c) as u64;
        e.2 += 1;
    }
    let mut rows: std::collections::BTreeMap<u64, SizeRow> = Default::default();
    for &(size, found, parts) in per_gold.values() {
        if size < 2 {
            continue;
        }
        let key = size.min(group_from);
        let row = rows.entry(key).or_insert(SizeRow {
            size: key,
            grouped: key == group_from,
            ..SizeRow::default()
        });
        row.clusters += 1;
        row.true_pairs += pairs_of(size) as u64;
        row.found_pairs += found;
        row.whole += u64::from(parts == 1);
    }
    rows.into_values().collect()
}

/// A gold cluster whose members landed in more than one predicted cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitCluster {
    /// The gold label.
    pub gold: u32,
    /// Member indexes grouped by predicted cluster: the largest part (the majority; ties: first
    /// appearance) first, then the others by size, each part in input order.
    pub members: Vec<usize>,
    /// How many predicted clusters the members are spread over (at least 2).
    pub parts: usize,
    /// Members outside the majority part.
    pub split_off: usize,
}

/// Every gold cluster that the prediction split, most members split off first (ties: the larger
/// cluster, then first appearance).
pub fn split_clusters(predicted: &[u32], gold: &[u32]) -> Vec<SplitCluster> {
    assert_eq!(
        predicted.len(),
        gold.len(),
        "predicted and gold labels must be aligned"
    );
    let mut out: Vec<SplitCluster> = Vec::new();
    for members in clusters_in_order(gold) {
        // Parts by predicted label, in order of first appearance within the cluster.
        let mut parts: Vec<Vec<usize>> = Vec::new();
        let mut slot: HashMap<u32, usize> = HashMap::new();
        for &i in &members {
            let s = *slot.entry(predicted[i]).or_insert_with(|| {
                parts.push(Vec::new());
                parts.len() - 1
            });
            parts[s].push(i);
        }
        if parts.len() < 2 {
            continue;
        }
        // Stable: equal parts keep their order of first appearance.
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        out.push(SplitCluster {
            gold: gold[members[0]],
            split_off: members.len() - parts[0].len(),
            parts: parts.len(),
            members: parts.concat(),
        });
    }
    // Stable: ties keep the clusters' order of first appearance.
    out.sort_by_key(|c| std::cmp::Reverse((c.split_off, c.members.len())));
    out
}

/// Members of each cluster of a labelling, in order of first appearance.
fn clusters_in_order(labels: &[u32]) -> Vec<Vec<usize>> {
    let mut slot: HashMap<u32, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        let s = *slot.entry(l).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[s].push(i);
    }
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

    #[test]
    fn recall_by_size_counts_pairs_and_whole_clusters() {
        // Gold: g0 {0,1} whole; g1 {2,3,4} split 2+1; g2 {5,6,7} whole (with 8 from g3 in the
        // same story: still whole); g3 {8} singleton, no row; g4 of 10 in one story but one.
        let mut gold = vec![0, 0, 1, 1, 1, 2, 2, 2, 3];
        let mut pred = vec![0, 0, 1, 1, 2, 3, 3, 3, 3];
        gold.extend([4; 10]);
        pred.extend([5, 5, 5, 5, 5, 5, 5, 5, 5, 6]);
        let rows = recall_by_size(&pred, &gold, SIZE_GROUP_FROM);
        assert_eq!(
            rows,
            vec![
                SizeRow {
                    size: 2,
                    grouped: false,
                    clusters: 1,
                    true_pairs: 1,
                    found_pairs: 1,
                    whole: 1
                },
                SizeRow {
                    size: 3,
                    grouped: false,
                    clusters: 2,
                    true_pairs: 6,
                    found_pairs: 4,
                    whole: 1
                },
                SizeRow {
                    size: 9,
                    grouped: true,
                    clusters: 1,
                    true_pairs: 45,
                    found_pairs: 36,
                    whole: 0
                },
            ]
        );
        assert!(close(rows[1].recall(), 4.0 / 6.0));
        assert_eq!(rows[1].label(), "3");
        assert_eq!(rows[2].label(), "9+");
        // The rows add up to the pair counts of `score`.
        let s = score(&pred, &gold);
        let found: u64 = rows.iter().map(|r| r.found_pairs).sum();
        let all: u64 = rows.iter().map(|r| r.true_pairs).sum();
        assert_eq!(found, s.pairs.true_positives);
        assert_eq!(all, s.pairs.true_positives + s.pairs.false_negatives);
    }

    #[test]
    fn recall_by_size_groups_from_the_given_size() {
        // Clusters of 3 and 4, grouped from 3: one row "3+".
        let gold = [0, 0, 0, 1, 1, 1, 1];
        let pred = [0, 0, 0, 1, 1, 1, 2];
        let rows = recall_by_size(&pred, &gold, 3);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].label(), "3+");
        assert_eq!((rows[0].clusters, rows[0].true_pairs), (2, 9));
        assert_eq!((rows[0].found_pairs, rows[0].whole), (6, 1));
        assert!(recall_by_size(&[], &[], SIZE_GROUP_FROM).is_empty());
        assert!(recall_by_size(&[0, 1], &[0, 1], SIZE_GROUP_FROM).is_empty());
    }

    #[test]
    fn split_clusters_list_the_majority_first() {
        // g7 {0,1,2,3}: stories 5,9,5,5 -> majority 5 {0,2,3}, then {1}; one split off.
        // g8 {4,5,6,7}: stories 1,2,3,3 -> majority 3 {6,7}, then {4}, {5}; two split off.
        // g9 {8,9} together: not split. g6 {10} singleton: not split.
        let gold = [7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 6];
        let pred = [5, 9, 5, 5, 1, 2, 3, 3, 4, 4, 0];
        let splits = split_clusters(&pred, &gold);
        assert_eq!(
            splits,
            vec![
                SplitCluster {
                    gold: 8,
                    members: vec![6, 7, 4, 5],
                    parts: 3,
                    split_off: 2
                },
                SplitCluster {
                    gold: 7,
                    members: vec![0, 2, 3, 1],
                    parts: 2,
                    split_off: 1
                },
            ]
        );
        // An even split keeps the first part seen as the majority.
        let splits = split_clusters(&[3, 4], &[0, 0]);
        assert_eq!(splits[0].members, vec![0, 1]);
        assert_eq!(splits[0].split_off, 1);
        assert!(split_clusters(&[1, 1, 2], &[0, 0, 1]).is_empty());
    }
}
