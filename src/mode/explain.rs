//! `syndedup explain`: why two articles are, or are not, one story.
//!
//! With `--input`, the engine runs over the whole JSON Lines file in order, exactly as
//! `syndedup dedup` and `syndedup eval` do, so the learned boilerplate and the cross-story
//! recurrence state are what the engine had when each of the two articles arrived; what it set
//! aside in each, the story it filed each into and the pair's numbers under the match rule are
//! reported. With only `--config`, the two articles come from the configured store: it holds
//! fingerprints but no text, so every number is reported but the paragraphs are not.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::json;

use crate::config::Config;
use crate::dedup::{
    pair_score, CandidatePaths, Engine, EngineConfig, Fingerprint, MatchRule, PairScore, Prepared,
    Verdict,
};
use crate::model::{ArticleMeta, StoryId};
use crate::normalize::chrome::SetAside;
use crate::store::{store_path, SqliteStore, Store, StoryQuery};
use crate::wire::round4;

use super::dedup::EngineArgs;

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// JSON Lines articles (the same input as `syndedup dedup`). Without it, the two articles
    /// are read from the store named by --config.
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
    /// The first article's id (in the store: `OUTLET:ID`, or the bare id when it is unique).
    pub id_a: String,
    /// The second article's id.
    pub id_b: String,
}

/// Shared paragraphs need at least this Jaccard overlap of their shingle sets to be aligned.
pub const ALIGN_MIN_OVERLAP: f32 = 0.5;
/// Paragraph text shown per line in the report.
const SNIPPET_CHARS: usize = 100;

/// One paragraph of an explained text.
#[derive(Debug, Clone, PartialEq)]
pub struct Paragraph {
    pub text: String,
    /// Used for matching (it went into the signature and the profile).
    pub matched: bool,
    /// Why it is set aside, `None` for article text.
    pub set_aside: Option<SetAside>,
}

/// One of the two articles, as the engine saw it.
#[derive(Debug, Clone)]
pub struct Side {
    pub meta: ArticleMeta,
    pub fingerprint: Fingerprint,
    /// The story it ended in (resolved through merges).
    pub story: StoryId,
    /// Its time for the dedup window (`published`, else the stream's latest time; in the store,
    /// `published`, else when it was first seen).
    pub time: i64,
    /// `None` when the text is not known (read from the store).
    pub paragraphs: Option<Vec<Paragraph>>,
    /// Per-paragraph shingle sets (empty when the text is not known).
    shingle_sets: Vec<HashSet<u64>>,
    keys: Vec<u64>,
}

/// A paragraph of A and one of B with (nearly) the same words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aligned {
    pub a: usize,
    pub b: usize,
    /// Jaccard overlap of their shingle sets (1 for identical words).
    pub overlap: f32,
    /// Identical normalised words.
    pub identical: bool,
}

/// Everything the report says.
pub struct Explanation {
    pub a: Side,
    pub b: Side,
    pub pair: PairScore,
    pub verdict: Verdict,
    pub rule: MatchRule,
    pub proposed: CandidatePaths,
    pub aligned: Option<Vec<Aligned>>,
    /// The dedup window in seconds.
    pub window: i64,
    /// Where the articles came from (the input file or the store).
    pub source: String,
}

impl Explanation {
    /// The rule matches the two directly.
    pub fn same_story(&self) -> bool {
        self.verdict.score.is_some()
    }

    /// They ended in one story (possibly joined through other copies).
    pub fn same_story_in_run(&self) -> bool {
        self.a.story == self.b.story
    }

    /// Seconds between their times for the window.
    pub fn apart(&self) -> i64 {
        (self.a.time - self.b.time).abs()
    }

    pub fn inside_window(&self) -> bool {
        self.apart() <= self.window
    }
}

/// The paragraphs of a body as [`crate::dedup::Preparer::prepare`] makes them: the normalised
/// text's lines that hold at least one word, in order (index `i` is `Prepared::paragraphs[i]`).
pub fn paragraph_texts(body: &str) -> Vec<String> {
    let text = crate::normalize::body_text(body);
    let mut buf = Vec::new();
    text.split('\n')
        .filter(|line| {
            let mut any = false;
            crate::normalize::for_each_word(line, &mut buf, |_| any = true);
            any
        })
        .map(|line| line.trim().to_string())
        .collect()
}

fn shingle_sets(prepared: &Prepared) -> Vec<HashSet<u64>> {
    prepared
        .paragraphs
        .iter()
        .map(|p| {
            prepared
                .shingles
                .get(p.start as usize..p.end as usize)
                .unwrap_or_default()
                .iter()
                .copied()
                .collect()
        })
        .collect()
}

fn set_jaccard(a: &HashSet<u64>, b: &HashSet<u64>) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(b).count();
    let union = a.len() + b.len() - shared;
    shared as f32 / union as f32
}

/// For each paragraph of A, the paragraph of B with identical words, else the one with the
/// highest shingle overlap at or above [`ALIGN_MIN_OVERLAP`] (first on ties).
pub fn align(a: &Side, b: &Side) -> Vec<Aligned> {
    let mut out = Vec::new();
    for (i, (sa, ka)) in a.shingle_sets.iter().zip(&a.keys).enumerate() {
        if let Some(j) = b.keys.iter().position(|kb| kb == ka) {
            out.push(Aligned {
                a: i,
                b: j,
                overlap: 1.0,
                identical: true,
            });
            continue;
        }
        let mut best: Option<(usize, f32)> = None;
        for (j, sb) in b.shingle_sets.iter().enumerate() {
            let o = set_jaccard(sa, sb);
            if o >= ALIGN_MIN_OVERLAP && best.is_none_or(|(_, bo)| o > bo) {
                best = Some((j, o));
            }
        }
        if let Some((j, overlap)) = best {
            out.push(Aligned {
                a: i,
                b: j,
                overlap,
                identical: false,
            });
        }
    }
    out
}

/// What the run captured for one wanted id.
struct Captured {
    meta: ArticleMeta,
    fingerprint: Fingerprint,
    story: StoryId,
    time: i64,
    paragraphs: Vec<Paragraph>,
    shingle_sets: Vec<HashSet<u64>>,
    keys: Vec<u64>,
    line: u64,
}

/// Runs the engine over `path` as `eval` does and captures the two wanted articles (the first
/// line with each id). Returns the engine too (for [`Engine::proposes`]).
fn run_input(
    config: EngineConfig,
    path: &Path,
    ids: [&str; 2],
) -> anyhow::Result<(Engine, [Side; 2])> {
    let cap = config.dedup.max_line_bytes.get();
    let mut engine = Engine::new(config)?;
    let mut got: [Option<Captured>; 2] = [None, None];
    let mut repeats: [u64; 2] = [0, 0];
    let rejected = super::read_articles(path, cap, |number, article| {
        let prepared = engine.prepare(&article);
        let (fp, classified) =
            engine.fingerprint_classified(article.meta.outlet.as_deref(), &prepared);
        let time = article
            .meta
            .published
            .map(|p| p.timestamp())
            .unwrap_or_else(|| engine.clock());
        let wanted: Vec<usize> = (0..2).filter(|&k| ids[k] == article.meta.id).collect();
        let fresh: Vec<usize> = wanted
            .iter()
            .copied()
            .filter(|&k| {
                if got[k].is_some() {
                    repeats[k] += 1;
                    if repeats[k] == 1 {
                        eprintln!(
                            "syndedup explain: id \"{}\" appears again at {}:{}; using its first line ({})",
                            ids[k],
                            path.display(),
                            number,
                            got[k].as_ref().map_or(0, |c| c.line)
                        );
                    }
                    false
                } else {
                    true
                }
            })
            .collect();
        let decision = engine.insert(article.meta.clone(), &fp, time);
        for k in fresh {
            let texts = paragraph_texts(&article.body);
            if texts.len() != prepared.paragraphs.len() {
                bail!(
                    "internal error: {} paragraphs of text but {} prepared for \"{}\"",
                    texts.len(),
                    prepared.paragraphs.len(),
                    ids[k]
                );
            }
            let paragraphs = texts
                .into_iter()
                .enumerate()
                .map(|(i, text)| Paragraph {
                    text,
                    matched: classified.matched.get(i).copied().unwrap_or(false),
                    set_aside: classified.reasons.get(i).copied().flatten(),
                })
                .collect();
            got[k] = Some(Captured {
                meta: article.meta.clone(),
                fingerprint: fp.clone(),
                story: decision.story,
                time,
                paragraphs,
                shingle_sets: shingle_sets(&prepared),
                keys: prepared.paragraphs.iter().map(|p| p.key).collect(),
                line: number,
            });
        }
        Ok(())
    })?;
    if let Some(first) = rejected.first() {
        let n = rejected.len();
        eprintln!(
            "syndedup explain: skipped {n} unreadable line{} (first: {first})",
            if n == 1 { "" } else { "s" },
        );
    }
    let [a, b] = got;
    let missing: Vec<&str> = [&a, &b]
        .iter()
        .zip(ids)
        .filter(|(c, _)| c.is_none())
        .map(|(_, id)| id)
        .collect();
    let (Some(a), Some(b)) = (a, b) else {
        let mut names: Vec<String> = missing.iter().map(|id| format!("\"{id}\"")).collect();
        if let Some(first) = names.first_mut() {
            let noun = if missing.len() == 1 {
                "article"
            } else {
                "articles"
            };
            *first = format!("{noun} {first}");
        }
        bail!(
            "{} {} not in {}",
            names.join(" and "),
            if names.len() == 1 { "is" } else { "are" },
            path.display()
        );
    };
    let side = |c: Captured| Side {
        meta: c.meta,
        fingerprint: c.fingerprint,
        story: engine.resolve(c.story),
        time: c.time,
        paragraphs: Some(c.paragraphs),
        shingle_sets: c.shingle_sets,
        keys: c.keys,
    };
    let sides = [side(a), side(b)];
    Ok((engine, sides))
}

/// Finds one article in the store by `OUTLET:ID` or a bare id.
fn store_side(
    stories: &[crate::store::StoredStory],
    wanted: &str,
    shown: &Path,
) -> anyhow::Result<Side> {
    let mut found = Vec::new();
    for story in stories {
        for copy in &story.copies {
            let full = copy
                .meta
                .outlet
                .as_deref()
                .map(|o| format!("{o}:{}", copy.meta.id));
            if copy.meta.id == wanted || full.as_deref() == Some(wanted) {
                found.push((story, copy));
            }
        }
    }
    match found.as_slice() {
        [] => bail!(
            "article \"{wanted}\" is not in the store {}",
            shown.display()
        ),
        [(story, copy)] => {
            let Some(fingerprint) = copy.fingerprint.clone() else {
                bail!(
                    "article \"{wanted}\" in the store {} has a damaged signature",
                    shown.display()
                );
            };
            Ok(Side {
                meta: copy.meta.clone(),
                fingerprint,
                story: story.story,
                time: copy
                    .meta
                    .published
                    .map(|p| p.timestamp())
                    .unwrap_or(copy.first_seen),
                paragraphs: None,
                shingle_sets: Vec::new(),
                keys: Vec::new(),
            })
        }
        many => {
            let names: Vec<String> = many
                .iter()
                .take(10)
                .map(|(_, c)| format!("{}:{}", c.meta.outlet.as_deref().unwrap_or(""), c.meta.id))
                .collect();
            bail!(
                "article id \"{wanted}\" is ambiguous in the store {}: {} items carry it ({}); give OUTLET:ID",
                shown.display(),
                many.len(),
                names.join(", ")
            )
        }
    }
}

/// Builds the explanation; `run` prints it.
pub fn explain(args: &ExplainArgs) -> anyhow::Result<Explanation> {
    if args.id_a == args.id_b {
        bail!(
            "both ids are \"{}\": give two different articles",
            args.id_a
        );
    }
    let cfg = args.engine.engine_config()?;
    let rule = MatchRule::from_config(&cfg.dedup);
    let window = cfg.dedup.window.as_secs().min(i64::MAX as u64) as i64;
    let (engine, [a, b], source) = match &args.input {
        Some(path) => {
            let (engine, sides) = run_input(cfg, path, [&args.id_a, &args.id_b])?;
            (engine, sides, path.display().to_string())
        }
        None => {
            let Some(config_path) = &args.engine.config else {
                bail!("give --input FILE.jsonl, or --config CONFIG.toml to read the articles from its store");
            };
            if args.engine.shingle_size.is_some() || args.engine.permutations.is_some() {
                bail!("--shingle-size and --permutations cannot change signatures already in the store; use them with --input");
            }
            let config = Config::load(config_path)?;
            let path = store_path(&config.store);
            let store = SqliteStore::open_read_only(&path)?;
            let stories = store
                .stories(&StoryQuery {
                    since: None,
                    limit: None,
                })
                .with_context(|| format!("cannot read stories from {}", path.display()))?;
            let a = store_side(&stories, &args.id_a, &path)?;
            let b = store_side(&stories, &args.id_b, &path)?;
            let engine = Engine::new(cfg)?;
            (engine, [a, b], format!("the store {}", path.display()))
        }
    };
    let pair = pair_score(&a.fingerprint, &b.fingerprint);
    let verdict = rule.verdict(&pair);
    let mut proposed = engine.proposes(&a.fingerprint, &b.fingerprint);
    // Live blogs are compared with their own outlet's recent live blogs only.
    proposed.live_blog &= a.meta.outlet.is_some() && a.meta.outlet == b.meta.outlet;
    let aligned = (a.paragraphs.is_some() && b.paragraphs.is_some()).then(|| align(&a, &b));
    Ok(Explanation {
        a,
        b,
        pair,
        verdict,
        rule,
        proposed,
        aligned,
        window,
        source,
    })
}

fn side_json(s: &Side) -> serde_json::Value {
    json!({
        "id": s.meta.id,
        "outlet": s.meta.outlet,
        "title": s.meta.title,
        "published": s.meta.published.map(|p| p.to_rfc3339()),
        "story": s.story.to_string(),
        "shingles": s.fingerprint.shingles,
        "words": s.fingerprint.words,
        "digest_page": s.fingerprint.profile.is_digest_page(),
        "live_blog": s.fingerprint.profile.is_live_blog(),
        "paragraphs": s.paragraphs.as_ref().map(|ps| ps.iter().map(|p| json!({
            "text": p.text,
            "matched": p.matched,
            "set_aside": p.set_aside.map(SetAside::as_str),
        })).collect::<Vec<_>>()),
    })
}

/// The `--json` object.
pub fn to_json(e: &Explanation) -> serde_json::Value {
    let p = &e.pair;
    json!({
        "same_story": e.same_story(),
        "same_story_in_run": e.same_story_in_run(),
        "conclusion": conclusion(e),
        "jaccard": round4(p.jaccard),
        "containment": round4(p.containment),
        "containment_a": round4(p.containment_a),
        "containment_b": round4(p.containment_b),
        "length_ratio": round4(p.length_ratio),
        "shingles_a": p.shingles_a,
        "shingles_b": p.shingles_b,
        "lead": e.verdict.lead_agrees,
        "lead_offset_a": p.lead_offset_a,
        "lead_offset_b": p.lead_offset_b,
        "lead_allowed_a": lead_allowed(&e.rule, p.shingles_a),
        "lead_allowed_b": lead_allowed(&e.rule, p.shingles_b),
        "lead_coverage_a": round4(p.lead_coverage_a),
        "lead_coverage_b": round4(p.lead_coverage_b),
        "page_jaccard": p.page_jaccard.map(round4),
        "exact": p.exact,
        "rule": e.verdict.rule.as_str(),
        "score": e.verdict.score.map(round4),
        "shortfalls": e.verdict.shortfalls,
        "thresholds": {
            "threshold": round4(e.rule.threshold),
            "containment": round4(e.rule.containment),
            "min_length_ratio": round4(e.rule.min_length_ratio),
            "lead_slack": e.rule.lead_slack,
            "lead_slack_share": round4(e.rule.lead_slack_share),
            "lead_coverage": round4(e.rule.lead_coverage),
            "page_threshold": round4(e.rule.page_threshold),
            "live_blog_containment": round4(e.rule.live_blog_containment),
        },
        "proposed": {
            "band": e.proposed.band,
            "anchor": e.proposed.anchor,
            "identical": e.proposed.identical,
            "live_blog": e.proposed.live_blog,
        },
        "window": {
            "seconds": e.window,
            "apart_seconds": e.apart(),
            "inside": e.inside_window(),
        },
        "source": e.source,
        "a": side_json(&e.a),
        "b": side_json(&e.b),
        "aligned": e.aligned.as_ref().map(|al| al.iter().map(|x| json!({
            "a": x.a,
            "b": x.b,
            "overlap": round4(x.overlap),
            "identical": x.identical,
        })).collect::<Vec<_>>()),
    })
}

/// Lead shingles a text of `len` shingles may have before the shared article starts.
fn lead_allowed(rule: &MatchRule, len: u32) -> u32 {
    rule.lead_allowed(len).floor() as u32
}

fn duration(secs: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(secs.max(0) as u64)).to_string()
}

/// The one-line conclusion.
pub fn conclusion(e: &Explanation) -> String {
    let v = &e.verdict;
    let mut s = match v.score {
        Some(score) => {
            let why = match v.rule {
                crate::dedup::RuleKind::Jaccard => format!(
                    "Jaccard {:.3} reaches the threshold {:.3}",
                    e.pair.jaccard, e.rule.threshold
                ),
                crate::dedup::RuleKind::Containment => format!(
                    "containment {:.3} reaches {:.3} with length ratio {:.3} and the leads agreeing",
                    e.pair.containment, e.rule.containment, e.pair.length_ratio
                ),
                crate::dedup::RuleKind::Page => format!(
                    "the whole pages, set-aside paragraphs included, have Jaccard {:.3}, reaching {:.3}",
                    e.pair.page_jaccard.unwrap_or(0.0),
                    e.rule.page_threshold
                ),
                crate::dedup::RuleKind::LiveBlog => format!(
                    "both are live blogs sharing {:.3} of the smaller one's text, reaching {:.3}",
                    e.pair.containment, e.rule.live_blog_containment
                ),
            };
            format!("same story (score {score:.3}): {why}")
        }
        None => format!(
            "different stories: {}",
            v.shortfalls
                .first()
                .map(|s| s.trim_end_matches('.').to_string())
                .unwrap_or_else(|| "the rule does not match them".to_string())
        ),
    };
    if e.same_story() {
        if !e.proposed.any() {
            s.push_str(
                "; but no index proposes the pair, so the engine never compares them directly",
            );
        } else if !e.inside_window() && !e.proposed.identical {
            s.push_str("; but they are further apart than the dedup window");
        }
    }
    match (e.same_story(), e.same_story_in_run()) {
        (false, true) => s.push_str(&format!(
            "; they still ended in one story ({}) through other copies",
            e.a.story
        )),
        (true, false) => s.push_str(&format!(
            "; they ended in different stories ({} and {})",
            e.a.story, e.b.story
        )),
        _ => {}
    }
    s.push('.');
    s
}

/// The human report.
pub fn to_text(e: &Explanation) -> String {
    let mut t = String::new();
    for (name, side) in [("A", &e.a), ("B", &e.b)] {
        let _ = writeln!(
            t,
            "{name}: {}  outlet {}  story {}",
            side.meta.id,
            side.meta.outlet.as_deref().unwrap_or("-"),
            side.story
        );
        let _ = writeln!(t, "   title {:?}", side.meta.title.as_deref().unwrap_or(""));
        if side.fingerprint.profile.is_digest_page() {
            let _ = writeln!(
                t,
                "   a digest page (ten or more teasers ending in an ellipsis): containment does \
                 not count"
            );
        }
        if side.fingerprint.profile.is_live_blog() {
            let _ = writeln!(
                t,
                "   a live blog (three or more post time stamps): another live blog of the outlet \
                 is compared by the live-blog rule"
            );
        }
        let _ = writeln!(
            t,
            "   published {}",
            side.meta
                .published
                .map_or("-".to_string(), |p| p.to_rfc3339())
        );
        match &side.paragraphs {
            Some(ps) => {
                let matched = ps.iter().filter(|p| p.matched).count();
                let _ = writeln!(
                    t,
                    "   {} paragraphs, {} matched on, {} shingles",
                    ps.len(),
                    matched,
                    side.fingerprint.shingles
                );
                for (i, p) in ps.iter().enumerate() {
                    let mark = match (p.matched, p.set_aside) {
                        (true, None) => "  ".to_string(),
                        (false, Some(r)) => format!("- {}", r.as_str()),
                        (true, Some(r)) => format!("+ {} (taken back)", r.as_str()),
                        (false, None) => "- unmatched".to_string(),
                    };
                    let _ = writeln!(
                        t,
                        "   {i:>3} {mark:<24} {}",
                        super::clip(&p.text, SNIPPET_CHARS)
                    );
                }
            }
            None => {
                let _ = writeln!(
                    t,
                    "   {} shingles; the store keeps signatures, not text, so its paragraphs cannot be listed",
                    side.fingerprint.shingles
                );
            }
        }
        let _ = writeln!(t);
    }

    if let (Some(al), Some(pa), Some(pb)) = (&e.aligned, &e.a.paragraphs, &e.b.paragraphs) {
        let _ = writeln!(
            t,
            "shared paragraphs ({} of A's {} in B):",
            al.len(),
            pa.len()
        );
        if al.is_empty() {
            let _ = writeln!(t, "  none");
        }
        for x in al {
            let how = if x.identical {
                "identical".to_string()
            } else {
                format!("overlap {:.2}", x.overlap)
            };
            let text = pa.get(x.a).map_or("", |p| p.text.as_str());
            let _ = writeln!(
                t,
                "  A#{:<3} ↔ B#{:<3} ({how})  {}",
                x.a,
                x.b,
                super::clip(text, 70)
            );
            if !x.identical {
                let text = pb.get(x.b).map_or("", |p| p.text.as_str());
                let _ = writeln!(t, "  {:>26}{}", "", super::clip(text, 70));
            }
        }
        let _ = writeln!(t);
    }

    let p = &e.pair;
    let r = &e.rule;
    let _ = writeln!(
        t,
        "numbers{}:",
        if p.exact {
            ""
        } else {
            " (estimated from signatures; no lead evidence)"
        }
    );
    let _ = writeln!(
        t,
        "  jaccard      {:.3}   (threshold {:.3})",
        p.jaccard, r.threshold
    );
    let _ = writeln!(
        t,
        "  containment  {:.3}   (needs {:.3}; A in B {:.3}, B in A {:.3})",
        p.containment, r.containment, p.containment_a, p.containment_b
    );
    let _ = writeln!(
        t,
        "  length ratio {:.3}   (needs {:.3}; shingles A {}, B {})",
        p.length_ratio, r.min_length_ratio, p.shingles_a, p.shingles_b
    );
    let _ = writeln!(
        t,
        "  page         {}   (whole pages, set-aside paragraphs included; needs {:.3})",
        p.page_jaccard
            .map_or("none".to_string(), |j| format!("{j:.3}")),
        r.page_threshold
    );
    let offset = |o: Option<u32>| o.map_or("none".to_string(), |o| o.to_string());
    let _ = writeln!(
        t,
        "  lead run     A {:.0}%, B {:.0}% of the lead between the first and last shared \
         paragraphs is shared (needs {:.0}%)",
        p.lead_coverage_a * 100.0,
        p.lead_coverage_b * 100.0,
        r.lead_coverage * 100.0
    );
    let _ = writeln!(
        t,
        "  lead offset  A {} (allowed {}), B {} (allowed {}): leads {}",
        offset(p.lead_offset_a),
        lead_allowed(r, p.shingles_a),
        offset(p.lead_offset_b),
        lead_allowed(r, p.shingles_b),
        if e.verdict.lead_agrees {
            "agree"
        } else {
            "do not agree"
        }
    );
    let v = &e.verdict;
    match v.score {
        Some(score) => {
            let _ = writeln!(
                t,
                "  rule         {} fired, score {score:.3}",
                v.rule.as_str()
            );
        }
        None => {
            let _ = writeln!(t, "  rule         none fired; closest: {}", v.rule.as_str());
            for s in &v.shortfalls {
                let _ = writeln!(t, "               {s}");
            }
        }
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(
        t,
        "  proposed     MinHash band {}, lead anchor {}, identical text {}, live blogs of one \
         outlet {}",
        yes(e.proposed.band),
        yes(e.proposed.anchor),
        yes(e.proposed.identical),
        yes(e.proposed.live_blog)
    );
    let _ = writeln!(
        t,
        "  window       {} apart, window {}: {}",
        duration(e.apart()),
        duration(e.window),
        if e.inside_window() {
            "inside"
        } else {
            "outside"
        }
    );
    let _ = writeln!(
        t,
        "  stories      A in {}, B in {}: {}",
        e.a.story,
        e.b.story,
        if e.same_story_in_run() {
            "the same story"
        } else {
            "different stories"
        }
    );
    let _ = writeln!(t, "\n{}", conclusion(e));
    t
}

/// Runs `syndedup explain` and prints the report (or the JSON object) to standard output.
pub fn run(args: &ExplainArgs) -> anyhow::Result<Explanation> {
    let e = explain(args)?;
    let mut out = BufWriter::new(io::stdout().lock());
    if args.json {
        writeln!(out, "{}", to_json(&e)).context("cannot write to standard output")?;
    } else {
        out.write_all(to_text(&e).as_bytes())
            .context("cannot write to standard output")?;
    }
    out.flush().context("cannot write to standard output")?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Preparer;

    #[test]
    fn paragraph_texts_line_up_with_prepared_paragraphs() {
        let engine = Engine::with_defaults();
        let bodies = [
            "First paragraph of the story, long enough to be prose.\n\n  \n---\n\
             Enter City and State or Zip Code\n\u{2014} \u{2014}\nLast line (AP Photo/Jane Doe)",
            "<p>One <b>paragraph</b> here.</p><p>&nbsp;</p><ul><li>Item one</li><li>...</li></ul>\
             <p>Another, with a <a href=\"x\">link</a>.</p><figure><figcaption>A caption\
             </figcaption></figure>",
            "",
            "... !!! ...\n\n",
        ];
        for body in bodies {
            let prepared = engine.preparer().prepare(None, body);
            let texts = paragraph_texts(body);
            assert_eq!(texts.len(), prepared.paragraphs.len(), "{body:?}");
            for (text, p) in texts.iter().zip(&prepared.paragraphs) {
                assert_eq!(Preparer::paragraph_key(text), Some(p.key), "{text:?}");
            }
        }
    }

    #[test]
    fn alignment_pairs_identical_and_near_identical_paragraphs() {
        let mut engine = Engine::with_defaults();
        let mut side = |body: &str| {
            let prepared = engine.preparer().prepare(None, body);
            let fingerprint = engine.fingerprint(None, &prepared);
            Side {
                meta: ArticleMeta::default(),
                fingerprint,
                story: StoryId(0),
                time: 0,
                paragraphs: None,
                shingle_sets: shingle_sets(&prepared),
                keys: prepared.paragraphs.iter().map(|p| p.key).collect(),
            }
        };
        let a = side(
            "The council voted on Tuesday to close the old bridge over the river for repairs.\n\
             Unrelated words about a completely different matter entirely, nothing shared here.",
        );
        let b = side(
            "Something else first, a paragraph that shares nothing with the other text at all.\n\
             The council voted on Tuesday to close the old bridge over the river for repairs.",
        );
        let al = align(&a, &b);
        assert_eq!(al.len(), 1);
        assert_eq!((al[0].a, al[0].b, al[0].identical), (0, 1, true));
        let c = side(
            "The council voted on Tuesday to close the old bridge over the river for urgent repairs.",
        );
        let al = align(&a, &c);
        assert_eq!(al.len(), 1);
        assert!(
            !al[0].identical && al[0].overlap >= ALIGN_MIN_OVERLAP,
            "{al:?}"
        );
    }
}
