//! The gaoya crate (0.2.2) as a native-code peer of syndedup: clusters the same JSON Lines corpus
//! (`syndedup bench --write-corpus DIR` writes `DIR/articles.jsonl`) with gaoya's MinHash
//! signatures and LSH index, online in arrival order, and prints its figures as one JSON object.
//!
//! ```text
//! gaoya-peer --input articles.jsonl [--clusters clusters.csv] [--shingle-size 5]
//!            [--permutations 128] [--threshold 0.7] [--bands B --rows R]
//! ```
//!
//! Per article: lower-case the body, split it into `\w+` words (Unicode alphanumerics and `_`),
//! take every run of `shingle-size` words as one shingle (an article with fewer words is one
//! shingle of all of them; one with no words is a story of its own and is not indexed), sign the
//! shingles with `MinHasher32` (FNV-hashed shingles, `bands × rows` hashes), ask the index for
//! every earlier article whose estimated Jaccard is at or above the threshold, join the story of
//! the most similar one (ties: the earliest), and insert the article. `bands × rows` default to
//! the banding that minimises false positives below the threshold plus false negatives above it
//! within `permutations` slots: the rule syndedup and datasketch use.
//!
//! Timing: loading (reading the file and parsing each line into an id and a body) is timed apart
//! from clustering (tokenising, shingling, signing, querying, choosing, inserting). The output has
//! both rates: `articles_per_sec` excludes the load, `articles_per_sec_with_load` includes it.
//! `--clusters FILE` writes `id,cluster` (the format of `gold.csv`), so the result can be scored
//! against the same truth as every other tool.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use gaoya::minhash::{MinHashIndex, MinHasher, MinHasher32};
use serde::Deserialize;

struct Args {
    input: String,
    clusters: Option<String>,
    shingle_size: usize,
    permutations: usize,
    threshold: f64,
    bands: Option<usize>,
    rows: Option<usize>,
}

fn usage() -> &'static str {
    "usage: gaoya-peer --input articles.jsonl [--clusters OUT.csv] [--shingle-size 5] \
     [--permutations 128] [--threshold 0.7] [--bands B --rows R]"
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        input: String::new(),
        clusters: None,
        shingle_size: 5,
        permutations: 128,
        threshold: 0.7,
        bands: None,
        rows: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(usage().to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{}", usage()))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag} takes a positive whole number, not {v:?}"))
        };
        match flag.as_str() {
            "--input" => args.input = value,
            "--clusters" => args.clusters = Some(value),
            "--shingle-size" => args.shingle_size = number(&value)?,
            "--permutations" => args.permutations = number(&value)?,
            "--bands" => args.bands = Some(number(&value)?),
            "--rows" => args.rows = Some(number(&value)?),
            "--threshold" => {
                args.threshold = value
                    .parse::<f64>()
                    .ok()
                    .filter(|t| (0.0..=1.0).contains(t))
                    .ok_or_else(|| format!("--threshold takes a number in [0, 1], not {value:?}"))?
            }
            _ => return Err(format!("unknown argument {flag:?}\n{}", usage())),
        }
    }
    if args.input.is_empty() {
        return Err(format!("--input is required\n{}", usage()));
    }
    if args.bands.is_some() != args.rows.is_some() {
        return Err("--bands and --rows go together".to_string());
    }
    Ok(args)
}

/// The banding with the least (equally weighted) false-positive area below `threshold` plus
/// false-negative area above it, within `slots` slots (syndedup's `dedup::lsh::optimal_bands`,
/// datasketch's rule).
fn optimal_bands(threshold: f64, slots: usize) -> (usize, usize) {
    let integrate = |f: &dyn Fn(f64) -> f64, a: f64, b: f64| {
        let steps = 200;
        let h = (b - a) / steps as f64;
        (0..steps)
            .map(|i| f(a + (i as f64 + 0.5) * h) * h)
            .sum::<f64>()
    };
    let mut best = (1, slots);
    let mut best_err = f64::MAX;
    for b in 1..=slots {
        for r in 1..=slots / b {
            let p = |s: f64| 1.0 - (1.0 - s.powi(r as i32)).powi(b as i32);
            let fp = integrate(&p, 0.0, threshold);
            let fnr = integrate(&|s| 1.0 - p(s), threshold, 1.0);
            let err = 0.5 * fp + 0.5 * fnr;
            if err < best_err - 1e-12 {
                best_err = err;
                best = (b, r);
            }
        }
    }
    best
}

/// One input line: only the id (string or number) and the body are read.
#[derive(Deserialize)]
struct Line {
    id: serde_json::Value,
    body: String,
}

struct Corpus {
    ids: Vec<String>,
    bodies: Vec<String>,
    rejected: usize,
    bytes: u64,
}

fn load(path: &str) -> Result<Corpus, String> {
    let file = File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut corpus = Corpus {
        ids: Vec::new(),
        bodies: Vec::new(),
        rejected: 0,
        bytes: 0,
    };
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read {path}: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        corpus.bytes += n as u64;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let id = match serde_json::from_slice::<Line>(text) {
            Ok(Line {
                id: serde_json::Value::String(s),
                body,
            }) => (s, body),
            Ok(Line {
                id: serde_json::Value::Number(n),
                body,
            }) => (n.to_string(), body),
            Ok(_) => {
                eprintln!("gaoya-peer: {path}:{number}: id is neither a string nor a number");
                corpus.rejected += 1;
                continue;
            }
            Err(e) => {
                eprintln!("gaoya-peer: {path}:{number}: {e}");
                corpus.rejected += 1;
                continue;
            }
        };
        corpus.ids.push(id.0);
        corpus.bodies.push(id.1);
    }
    Ok(corpus)
}

/// Lower-cased `\w+` words of `text` (as Python's `re.findall(r"\w+", text.lower())`).
fn words(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Peak resident set of this process (VmHWM), Linux only.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_clusters(path: &str, ids: &[String], labels: &[u32]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("cannot write {path}: {e}");
    let mut out = BufWriter::new(File::create(path).map_err(err)?);
    writeln!(out, "id,cluster").map_err(err)?;
    for (id, label) in ids.iter().zip(labels) {
        writeln!(out, "{},g{label}", csv_field(id)).map_err(err)?;
    }
    out.flush().map_err(err)
}

fn run(args: &Args) -> Result<serde_json::Value, String> {
    let (bands, rows) = match (args.bands, args.rows) {
        (Some(b), Some(r)) => (b, r),
        _ => optimal_bands(args.threshold, args.permutations),
    };
    let hashes = bands * rows;

    let started = Instant::now();
    let corpus = load(&args.input)?;
    let load_seconds = started.elapsed().as_secs_f64();
    let n = corpus.bodies.len();

    let clustering = Instant::now();
    let minhasher = MinHasher32::new(hashes);
    let mut index: MinHashIndex<u32, u32> = MinHashIndex::new(bands, rows, args.threshold);
    let mut labels: Vec<u32> = Vec::with_capacity(n);
    let k = args.shingle_size;
    for (i, body) in corpus.bodies.iter().enumerate() {
        let doc = i as u32;
        let lower = body.to_lowercase();
        let ws = words(&lower);
        if ws.is_empty() {
            labels.push(doc);
            continue;
        }
        let size = k.min(ws.len());
        let signature = minhasher.create_signature(ws.windows(size));
        let best = index
            .query_owned_return_similarity(&signature)
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        labels.push(match best {
            Some((j, _)) => labels[j as usize],
            None => doc,
        });
        index.insert(doc, signature);
    }
    let cluster_seconds = clustering.elapsed().as_secs_f64();
    let peak = peak_rss_bytes();

    let stories: HashSet<u32> = labels.iter().copied().collect();
    if let Some(path) = &args.clusters {
        write_clusters(path, &corpus.ids, &labels)?;
    }
    let rate = |s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    Ok(serde_json::json!({
        "tool": "gaoya",
        "version": "0.2.2",
        "articles": n,
        "rejected_lines": corpus.rejected,
        "bytes": corpus.bytes,
        "shingle_size": k,
        "permutations": args.permutations,
        "hashes": hashes,
        "bands": bands,
        "rows": rows,
        "threshold": args.threshold,
        "load_seconds": load_seconds,
        "cluster_seconds": cluster_seconds,
        "articles_per_sec": rate(cluster_seconds),
        "articles_per_sec_with_load": rate(load_seconds + cluster_seconds),
        "stories": stories.len(),
        "duplicates": n - stories.len(),
        "peak_rss_bytes": peak,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gaoya-peer: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gaoya-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
