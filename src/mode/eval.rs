//! `syndedup eval`: runs the engine over a JSON Lines article file (the `syndedup dedup` input)
//! and scores its stories against gold cluster labels, with diagnostics for tuning.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::dedup::{pair_score, Engine, EngineConfig, Fingerprint, MatchRule, PairScore};
use crate::eval::{clusters_by_size, score, worst_pairs, Labels, Scores};
use crate::jsonl::{parse_line, LineReader, ReadOutcome};
use crate::model::ArticleMeta;
use crate::model::StoryId;
use crate::wire::round4;

use super::dedup::EngineArgs;
use crate::eval::{recall_by_size, split_clusters, SizeRow, SplitCluster, SIZE_GROUP_FROM};

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// JSON Lines articles (the same input as `syndedup dedup`).
    #[arg(long)]
    pub articles: PathBuf,
    /// Gold labels: JSON Lines `{"id": ..., "cluster": ...}` or CSV `id,cluster` (header optional).
    #[arg(long)]
    pub gold: PathBuf,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Rows in each diagnostics list.
    #[arg(long, default_value = "10")]
    pub top: usize,
    /// No warnings about skipped lines on standard error (they are still counted).
    #[arg(long, short)]
    pub quiet: bool,
    /// Also print recall by gold cluster size (`--json` always has it as `by_size`).
    #[arg(long)]
    pub by_size: bool,
}

/// Gold labels read from a file, with what had to be skipped.
#[derive(Debug, Default)]
pub struct Gold {
    /// Article id → gold cluster name.
    pub clusters: HashMap<String, String>,
    /// Lines or records skipped, each with its location and the problem.
    pub problems: Vec<String>,
}

/// Reads gold labels: JSON Lines when the first non-blank byte is `{`, CSV otherwise. Bad lines
/// and repeated ids are skipped and listed in `problems`; a missing file is an error.
pub fn read_gold(path: &Path) -> anyhow::Result<Gold> {
    let mut text = String::new();
    File::open(path)
        .with_context(|| format!("cannot open gold file {}", path.display()))?
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read gold file {} (is it UTF-8?)", path.display()))?;
    let mut gold = Gold::default();
    let shown = path.display();
    let add = |gold: &mut Gold, line: u64, id: String, cluster: String| {
        if id.is_empty() || cluster.is_empty() {
            gold.problems
                .push(format!("{shown}:{line}: empty id or cluster"));
            return;
        }
        match gold.clusters.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => gold.problems.push(format!(
                "{shown}:{line}: id {:?} already labelled; this label is ignored",
                e.key()
            )),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(cluster);
            }
        }
    };
    if text.trim_start().starts_with('{') {
        for (i, line) in text.lines().enumerate() {
            let line_no = i as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(map)) => {
                    match (
                        map.get("id").and_then(label_text),
                        map.get("cluster").and_then(label_text),
                    ) {
                        (Some(id), Some(cluster)) => add(&mut gold, line_no, id, cluster),
                        _ => gold.problems.push(format!(
                            "{shown}:{line_no}: needs \"id\" and \"cluster\", each a string or a number"
                        )),
                    }
                }
                Ok(_) => gold
                    .problems
                    .push(format!("{shown}:{line_no}: not a JSON object")),
                Err(e) => gold
                    .problems
                    .push(format!("{shown}:{line_no}: invalid JSON: {e}")),
            }
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        for (i, record) in reader.records().enumerate() {
            match record {
                Ok(r) => {
                    let line_no = r.position().map(|p| p.line()).unwrap_or(i as u64 + 1);
                    if r.iter().all(str::is_empty) {
                        continue;
                    }
                    if i == 0
                        && r.get(0).is_some_and(|f| f.eq_ignore_ascii_case("id"))
                        && r.get(1).is_some_and(|f| f.eq_ignore_ascii_case("cluster"))
                    {
                        continue;
                    }
                    match (r.get(0), r.get(1)) {
                        (Some(id), Some(cluster)) => {
                            add(&mut gold, line_no, id.to_string(), cluster.to_string())
                        }
                        _ => gold.problems.push(format!(
                            "{shown}:{line_no}: expected two fields, id,cluster"
                        )),
                    }
                }
                Err(e) => gold.problems.push(format!("{shown}: {e}")),
            }
        }
    }
    Ok(gold)
}

fn label_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One article as the evaluation remembers it.
struct Seen {
    meta: ArticleMeta,
    story: u64,
    fp: Fingerprint,
}

/// Runs the engine over the articles file; returns what was seen and the rejected-line messages.
/// What the boilerplate learner ignored at the end of the run: (outlet, paragraph key, items
/// carrying it, items remembered).
type Learned = Vec<(String, u64, usize, usize)>;

fn run_engine(
    config: EngineConfig,
    path: &Path,
) -> anyhow::Result<(Vec<Seen>, Vec<String>, Learned)> {
    let cap = config.dedup.max_line_bytes.get();
    let mut engine = Engine::new(config)?;
    let mut seen = Vec::new();
    let rejected = super::read_articles(path, cap, |_, article| {
        let prepared = engine.prepare(&article);
        let fp = engine.fingerprint(article.meta.outlet.as_deref(), &prepared);
        let time = article
            .meta
            .published
            .map(|p| p.timestamp())
            .unwrap_or_else(|| engine.clock());
        let decision = engine.insert(article.meta.clone(), &fp, time);
        seen.push(Seen {
            meta: article.meta,
            story: decision.story.0,
            fp,
        });
        Ok(())
    })?;
    // Stories merged later in the run: score each article by the story it ended in.
    for s in &mut seen {
        s.story = engine.resolve(StoryId(s.story)).0;
    }
    let learned = engine.learner().map(|l| l.learned()).unwrap_or_default();
    Ok((seen, rejected, learned))
}

/// One learned boilerplate paragraph with its text, for the report.
struct LearnedLine {
    outlet: String,
    text: String,
    items: usize,
    of: usize,
}

/// Maps learned paragraph keys back to text with a second pass over the articles file (the
/// engine keeps only hashes).
fn learned_text(path: &Path, cap: usize, learned: &Learned) -> anyhow::Result<Vec<LearnedLine>> {
    let wanted: HashMap<(&str, u64), (usize, usize)> = learned
        .iter()
        .map(|(o, k, n, of)| ((o.as_str(), *k), (*n, *of)))
        .collect();
    let mut found: HashMap<(String, u64), LearnedLine> = HashMap::new();
    let file = File::open(path)
        .with_context(|| format!("cannot open articles file {}", path.display()))?;
    let mut reader = LineReader::new(BufReader::with_capacity(1 << 20, file), cap);
    while found.len() < wanted.len() {
        let line = match reader
            .read(None)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            ReadOutcome::Eof => break,
            ReadOutcome::TooLong { .. } => continue,
            ReadOutcome::Line(l) => l,
        };
        let Ok(input) = parse_line(&line.bytes) else {
            continue;
        };
        let Some(outlet) = input.article.meta.outlet.as_deref() else {
            continue;
        };
        for paragraph in crate::normalize::body_text(&input.article.body).split('\n') {
            let Some(key) = crate::dedup::Preparer::paragraph_key(paragraph) else {
                continue;
            };
            if let Some(&(items, of)) = wanted.get(&(outlet, key)) {
                found
                    .entry((outlet.to_string(), key))
                    .or_insert_with(|| LearnedLine {
                        outlet: outlet.to_string(),
                        text: paragraph.trim().chars().take(100).collect(),
                        items,
                        of,
                    });
            }
        }
    }
    let mut lines: Vec<LearnedLine> = found.into_values().collect();
    lines.sort_by(|a, b| {
        b.items
            .cmp(&a.items)
            .then_with(|| a.outlet.cmp(&b.outlet))
            .then_with(|| a.text.cmp(&b.text))
    });
    Ok(lines)
}

/// The similarity the engine decides on for a pair ([`pair_score`], the one function used
/// everywhere): the match score when the rule matches the two directly, else their Jaccard.
fn similarity(rule: MatchRule, a: &Fingerprint, b: &Fingerprint) -> (f32, PairScore) {
    let pair = pair_score(a, b);
    (rule.score(&pair).unwrap_or(pair.jaccard), pair)
}

/// The full result of an evaluation.
pub struct Report {
    pub scores: Scores,
    pub json: serde_json::Value,
    pub text: String,
}

/// Evaluates and renders; `run` prints the result.
pub fn evaluate(args: &EvalArgs) -> anyhow::Result<Report> {
    let cfg = args.engine.engine_config()?;
    let rule = MatchRule::from_config(&cfg.dedup);
    let gold = read_gold(&args.gold)?;
    let cap = cfg.dedup.max_line_bytes.get();
    let (seen, rejected, learned) = run_engine(cfg, &args.articles)?;
    let learned = learned_text(&args.articles, cap, &learned)?;
    if !args.quiet {
        for p in gold.problems.iter().chain(&rejected).take(50) {
            eprintln!("syndedup eval: skipped {p}");
        }
        let more = gold.problems.len() + rejected.len();
        if more > 50 {
            eprintln!("syndedup eval: ... and {} more skipped lines", more - 50);
        }
    }

    // Score only articles that have a gold label; an id seen twice counts once (its first copy).
    let mut gold_labels = Labels::default();
    let mut pred = Vec::new();
    let mut truth = Vec::new();
    let mut members: Vec<usize> = Vec::new();
    let mut used: HashMap<&str, ()> = HashMap::new();
    let mut unlabelled = 0u64;
    let mut repeated = 0u64;
    for (i, s) in seen.iter().enumerate() {
        let Some(cluster) = gold.clusters.get(&s.meta.id) else {
            unlabelled += 1;
            continue;
        };
        if used.insert(s.meta.id.as_str(), ()).is_some() {
            repeated += 1;
            continue;
        }
        pred.push(s.story as u32);
        truth.push(gold_labels.intern(cluster));
        members.push(i);
    }
    let missing = gold.clusters.len() - used.len();
    let scores = score(&pred, &truth);
    // Recall by gold cluster size and the gold clusters the prediction split (end of this file).
    let by_size = recall_by_size(&pred, &truth, SIZE_GROUP_FROM);
    let splits = split_views(&split_clusters(&pred, &truth), &seen, &members, &gold);

    let top = args.top;
    let pred_groups = clusters_by_size(&pred);
    let gold_groups = clusters_by_size(&truth);
    let sim = |a: usize, b: usize| similarity(rule, &seen[members[a]].fp, &seen[members[b]].fp).0;
    let false_merges = worst_pairs(&pred_groups, |a, b| truth[a] != truth[b], sim, top, 300);
    let misses = worst_pairs(&gold_groups, |a, b| pred[a] != pred[b], sim, top, 300);

    let meta = |k: usize| &seen[members[k]].meta;
    let article_json = |k: usize| json!({"id": meta(k).id, "title": meta(k).title});
    let pair_json = |&(a, b, _): &(usize, usize, f32)| {
        let (s, pair) = similarity(rule, &seen[members[a]].fp, &seen[members[b]].fp);
        json!({
            "a": article_json(a),
            "b": article_json(b),
            "score": round4(s),
            "jaccard": round4(pair.jaccard),
            "containment": round4(pair.containment),
            "length_ratio": round4(pair.length_ratio),
            "lead": if rule.leads_agree(&pair) { 1.0 } else { 0.0 },
            "lead_offset_a": pair.lead_offset_a,
            "lead_offset_b": pair.lead_offset_b,
            "lead_coverage_a": round4(pair.lead_coverage_a),
            "lead_coverage_b": round4(pair.lead_coverage_b),
            "rule": rule.verdict(&pair).rule.as_str(),
        })
    };
    let largest: Vec<serde_json::Value> = pred_groups
        .iter()
        .take(top)
        .filter(|g| g.len() > 1)
        .map(|g| {
            let mut golds: Vec<u32> = g.iter().map(|&k| truth[k]).collect();
            golds.sort_unstable();
            golds.dedup();
            json!({
                "story": format!("s{}", pred[g[0]]),
                "size": g.len(),
                "gold_clusters": golds.len(),
                "titles": g.iter().take(5).map(|&k| meta(k).title.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let json = json!({
        "articles": seen.len(),
        "scored": scores.articles,
        "unlabelled": unlabelled,
        "repeated_ids": repeated,
        "gold_without_article": missing,
        "rejected_lines": rejected.len(),
        "gold_problems": gold.problems.len(),
        "gold_clusters": scores.gold_clusters,
        "predicted_clusters": scores.predicted_clusters,
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "ari": scores.ari,
        "pairs": {
            "true_positives": scores.pairs.true_positives,
            "false_positives": scores.pairs.false_positives,
            "false_negatives": scores.pairs.false_negatives,
        },
        "largest_clusters": largest,
        "false_merges": false_merges.iter().map(pair_json).collect::<Vec<_>>(),
        "misses": misses.iter().map(pair_json).collect::<Vec<_>>(),
        "learned_boilerplate_paragraphs": learned.len(),
        "learned_boilerplate": learned.iter().take(top).map(|l| json!({
            "outlet": l.outlet, "text": l.text, "items": l.items, "of": l.of,
        })).collect::<Vec<_>>(),
    });

    let mut text = String::new();
    use std::fmt::Write as _;
    let title = |k: usize| meta(k).title.clone().unwrap_or_default();
    let _ = writeln!(
        text,
        "articles {} (scored {}, without a gold label {}, repeated ids {}), gold ids without an article {}, rejected lines {}",
        seen.len(), scores.articles, unlabelled, repeated, missing, rejected.len()
    );
    let _ = writeln!(
        text,
        "gold clusters {}, predicted stories {}",
        scores.gold_clusters, scores.predicted_clusters
    );
    let _ = writeln!(
        text,
        "pairwise precision {:.4}  recall {:.4}  F1 {:.4}  (true pairs found {}, false merges {}, misses {})",
        scores.precision,
        scores.recall,
        scores.f1,
        scores.pairs.true_positives,
        scores.pairs.false_positives,
        scores.pairs.false_negatives
    );
    let _ = writeln!(text, "adjusted Rand index {:.4}", scores.ari);
    if args.by_size {
        text.push_str(&by_size_text(&by_size));
    }
    let _ = writeln!(text, "\nlargest predicted stories:");
    for g in pred_groups.iter().take(top).filter(|g| g.len() > 1) {
        let mut golds: Vec<u32> = g.iter().map(|&k| truth[k]).collect();
        golds.sort_unstable();
        golds.dedup();
        let _ = writeln!(
            text,
            "  s{:<8} {:>5} articles, {:>3} gold clusters  {:?}",
            pred[g[0]],
            g.len(),
            golds.len(),
            title(g[0])
        );
    }
    for (name, list) in [
        (
            "worst false merges (same predicted story, different gold clusters), highest similarity first:",
            &false_merges,
        ),
        (
            "worst misses (same gold cluster, different predicted stories), highest similarity first:",
            &misses,
        ),
    ] {
        let _ = writeln!(text, "\n{name}");
        if list.is_empty() {
            let _ = writeln!(text, "  none");
        }
        for &(a, b, s) in list.iter() {
            let _ = writeln!(
                text,
                "  {s:.3}  {} {:?}\n         {} {:?}",
                meta(a).id,
                title(a),
                meta(b).id,
                title(b)
            );
        }
    }
    let _ = writeln!(
        text,
        "\nlearned boilerplate ({} paragraphs ignored for matching), most frequent first:",
        learned.len()
    );
    if learned.is_empty() {
        let _ = writeln!(text, "  none (articles need an outlet for the learner)");
    }
    for l in learned.iter().take(top) {
        let _ = writeln!(
            text,
            "  {:>4}/{:<4} {:<24} {:?}",
            l.items, l.of, l.outlet, l.text
        );
    }
    text.push_str(&splits_text(&splits, top));
    let json = with_size_json(json, &by_size, &splits);
    Ok(Report { scores, json, text })
}

/// Runs `syndedup eval` and prints the report (or the JSON object) to standard output.
pub fn run(args: &EvalArgs) -> anyhow::Result<Scores> {
    let report = evaluate(args)?;
    if args.json {
        println!("{}", report.json);
    } else {
        print!("{}", report.text);
    }
    Ok(report.scores)
}

// Recall by gold cluster size (`--by-size`) and the gold clusters split across stories.

/// One member of a split gold cluster, for the report.
struct SplitMember {
    id: String,
    outlet: Option<String>,
    title: Option<String>,
    story: String,
    /// In the story that holds most of the cluster.
    majority: bool,
}

/// A gold cluster the prediction split, named and with its members' details.
struct SplitView {
    cluster: String,
    stories: usize,
    split_off: usize,
    /// The majority story's members first.
    members: Vec<SplitMember>,
}

/// Titles in the split list are cut to this many characters (`...` marks a cut).
const SPLIT_TITLE_CHARS: usize = 60;

fn short_title(title: Option<&str>) -> Option<String> {
    title.map(|t| {
        let t = t.trim();
        if t.chars().count() > SPLIT_TITLE_CHARS {
            let cut: String = t.chars().take(SPLIT_TITLE_CHARS).collect();
            format!("{}...", cut.trim_end())
        } else {
            t.to_string()
        }
    })
}

/// Names the split clusters and their members; `members[k]` is the index in `seen` of scored
/// article `k`.
fn split_views(
    splits: &[SplitCluster],
    seen: &[Seen],
    members: &[usize],
    gold: &Gold,
) -> Vec<SplitView> {
    splits
        .iter()
        .map(|c| {
            let majority = seen[members[c.members[0]]].story;
            let list: Vec<SplitMember> = c
                .members
                .iter()
                .map(|&k| {
                    let s = &seen[members[k]];
                    SplitMember {
                        id: s.meta.id.clone(),
                        outlet: s.meta.outlet.clone(),
                        title: short_title(s.meta.title.as_deref()),
                        story: format!("s{}", s.story),
                        majority: s.story == majority,
                    }
                })
                .collect();
            let cluster = gold
                .clusters
                .get(&seen[members[c.members[0]]].meta.id)
                .cloned()
                .unwrap_or_default();
            SplitView {
                cluster,
                stories: c.parts,
                split_off: c.split_off,
                members: list,
            }
        })
        .collect()
}

/// The `--by-size` table of the human report.
fn by_size_text(rows: &[SizeRow]) -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "\nrecall by gold cluster size (whole: every member in one predicted story):\n",
    );
    let _ = writeln!(
        text,
        "  {:>5} {:>9} {:>11} {:>12} {:>7} {:>7}",
        "size", "clusters", "true pairs", "found pairs", "recall", "whole"
    );
    if rows.is_empty() {
        let _ = writeln!(text, "  none (no gold cluster has two members)");
    }
    for r in rows {
        let _ = writeln!(
            text,
            "  {:>5} {:>9} {:>11} {:>12} {:>7.4} {:>7}",
            r.label(),
            r.clusters,
            r.true_pairs,
            r.found_pairs,
            r.recall(),
            r.whole
        );
    }
    text
}

/// Majority members listed per split cluster in the human report (all are in `--json`).
const SPLIT_MAJORITY_SHOWN: usize = 5;

/// The split gold clusters of the human report: the first `top`, every member split off and the
/// first few of the majority story.
fn splits_text(splits: &[SplitView], top: usize) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "\ngold clusters split across stories ({}), most members split off first (* = not in the majority story):\n",
        splits.len()
    );
    if splits.is_empty() {
        let _ = writeln!(text, "  none");
    }
    for c in splits.iter().take(top) {
        let _ = writeln!(
            text,
            "  {}: {} articles in {} stories, {} split off",
            c.cluster,
            c.members.len(),
            c.stories,
            c.split_off
        );
        let majority = c.members.len() - c.split_off;
        for (i, m) in c.members.iter().enumerate() {
            if i == SPLIT_MAJORITY_SHOWN && majority > SPLIT_MAJORITY_SHOWN {
                let _ = writeln!(
                    text,
                    "      ... and {} more in {}",
                    majority - SPLIT_MAJORITY_SHOWN,
                    m.story
                );
            }
            if m.majority && i >= SPLIT_MAJORITY_SHOWN {
                continue;
            }
            let _ = writeln!(
                text,
                "    {} {:<8} {:<16} {:<20} {:?}",
                if m.majority { ' ' } else { '*' },
                m.story,
                m.id,
                m.outlet.as_deref().unwrap_or("-"),
                m.title.as_deref().unwrap_or("")
            );
        }
    }
    text
}

/// Adds `by_size` and `split_clusters` to the `--json` object.
fn with_size_json(
    mut json: serde_json::Value,
    rows: &[SizeRow],
    splits: &[SplitView],
) -> serde_json::Value {
    json["by_size"] = rows
        .iter()
        .map(|r| {
            let mut row = json!({
                "size": r.size,
                "clusters": r.clusters,
                "true_pairs": r.true_pairs,
                "found_pairs": r.found_pairs,
                "recall": r.recall(),
                "whole": r.whole,
            });
            if r.grouped {
                row["label"] = json!(r.label());
            }
            row
        })
        .collect();
    json["split_clusters"] = splits
        .iter()
        .map(|c| {
            json!({
                "cluster": c.cluster,
                "size": c.members.len(),
                "stories": c.stories,
                "split_off": c.split_off,
                "members": c.members.iter().map(|m| json!({
                    "id": m.id, "outlet": m.outlet, "title": m.title, "story": m.story,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json
}
