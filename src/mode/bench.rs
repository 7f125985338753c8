//! `syndedup bench`: throughput per stage, peak memory and quality on a seeded synthetic corpus
//! (or a JSON Lines file), and `--write-corpus` so other tools run on exactly the same data.
//!
//! The corpus streams through the run in chunks of `--chunk-articles` articles: a chunk is generated (or
//! read) with the clocks stopped, then processed with them running, so generating or reading is
//! never timed and memory holds one chunk, not the corpus. Stages are timed with the calling
//! thread's CPU clock around each call, so time spent waiting for a core on a busy machine is not
//! charged to them: parse (`jsonl::parse_line`), prepare (normalise and shingle,
//! `Engine::prepare`), sign (learned boilerplate and MinHash, `Engine::fingerprint`) and
//! index+match+merge (`Engine::insert`; the merge step is a few comparisons inside it and is not
//! timed apart). Normalisation alone is timed in a separate pass over each chunk's bodies after
//! the chunk has been processed, and shingling is reported as prepare minus that.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::dedup::{Engine, Prepared};
use crate::eval::{score, Labels, Scores};
use crate::jsonl::{parse_line, InputArticle};
use crate::normalize::{body_text, for_each_word};
use crate::synth::{Generator, Kind, SynthConfig};

use super::dedup::EngineArgs;
use super::eval::read_gold;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Synthetic articles to generate.
    #[arg(long, default_value = "100000")]
    pub articles: usize,
    /// Seed of the synthetic corpus: the same seed gives the same corpus.
    #[arg(long, default_value = "42")]
    pub seed: u64,
    /// Share of synthetic articles that are syndicated copies of an earlier story (0-1).
    #[arg(long, default_value = "0.4")]
    pub copy_share: f64,
    /// Share of synthetic articles that are follow-ups: different stories reusing paragraphs (0-1).
    #[arg(long, default_value = "0.1")]
    pub followup_share: f64,
    /// Run on this JSON Lines file instead of a synthetic corpus.
    #[arg(long, conflicts_with = "write_corpus")]
    pub input: Option<PathBuf>,
    /// Gold labels for `--input` (JSON Lines `{"id","cluster"}` or CSV `id,cluster`): adds quality.
    #[arg(long, requires = "input")]
    pub gold: Option<PathBuf>,
    /// Write the synthetic corpus (articles.jsonl) and its truth (gold.csv) to this directory and stop.
    #[arg(long)]
    pub write_corpus: Option<PathBuf>,
    /// Threads for parse and prepare; signing and matching run on one thread in input order.
    #[arg(long, default_value = "1")]
    pub threads: NonZeroUsize,
    /// Articles per chunk of the streamed corpus: memory holds one chunk of JSON at a time.
    #[arg(long, default_value = "4096")]
    pub chunk_articles: NonZeroUsize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

// The corpus streams through the run a chunk of `--chunk-articles` lines at a time (4096 by
// default: about 20 MB of JSON at 4.8 KB a line): the clocks stop while a chunk is generated or
// read and run while it is processed, so memory holds one chunk, not the corpus.

/// One chunk of the corpus in memory: JSON lines back to back, and where each starts and ends.
#[derive(Default)]
struct Chunk {
    data: Vec<u8>,
    lines: Vec<(usize, usize)>,
    /// The corpus index of the first line.
    first: usize,
    /// Input bytes the chunk came from (newlines included for a file).
    input_bytes: u64,
}

impl Chunk {
    fn line(&self, i: usize) -> &[u8] {
        let (a, b) = self.lines[i];
        &self.data[a..b]
    }

    fn clear(&mut self, first: usize) {
        self.data.clear();
        self.lines.clear();
        self.first = first;
        self.input_bytes = 0;
    }
}

/// Where the lines come from, a chunk at a time.
enum Source {
    Synthetic(Box<Generator>),
    File {
        reader: std::io::BufReader<File>,
        path: PathBuf,
        buf: Vec<u8>,
    },
}

enum Truth {
    None,
    /// True cluster per line (synthetic), filled as the lines are generated.
    ByLine(Vec<u32>),
    /// True cluster per id (`--gold`).
    ById(HashMap<String, String>),
}

impl Source {
    /// Refills `chunk` with the next (up to) `size` lines; false when there are none left.
    fn fill(&mut self, chunk: &mut Chunk, size: usize, truth: &mut Truth) -> anyhow::Result<bool> {
        chunk.clear(chunk.first + chunk.lines.len());
        match self {
            Source::Synthetic(generator) => {
                for a in generator.by_ref().take(size) {
                    let start = chunk.data.len();
                    chunk.data.extend_from_slice(a.to_json_line().as_bytes());
                    chunk.lines.push((start, chunk.data.len()));
                    if let Truth::ByLine(t) = truth {
                        t.push(a.cluster);
                    }
                }
                chunk.input_bytes = chunk.data.len() as u64;
            }
            Source::File { reader, path, buf } => {
                use std::io::BufRead;
                while chunk.lines.len() < size {
                    buf.clear();
                    let n = reader
                        .read_until(b'\n', buf)
                        .with_context(|| format!("cannot read input file {}", path.display()))?;
                    if n == 0 {
                        break;
                    }
                    chunk.input_bytes += n as u64;
                    let mut line = buf.as_slice();
                    while let Some(rest) = line
                        .strip_suffix(b"\n")
                        .or_else(|| line.strip_suffix(b"\r"))
                    {
                        line = rest;
                    }
                    if !line.is_empty() {
                        let start = chunk.data.len();
                        chunk.data.extend_from_slice(line);
                        chunk.lines.push((start, chunk.data.len()));
                    }
                }
            }
        }
        Ok(!chunk.lines.is_empty())
    }
}

fn synth_config(args: &BenchArgs) -> anyhow::Result<SynthConfig> {
    let share_ok = |x: f64| (0.0..=1.0).contains(&x);
    if !share_ok(args.copy_share) {
        bail!(
            "--copy-share must be between 0 and 1, not {}",
            args.copy_share
        );
    }
    if !share_ok(args.followup_share) {
        bail!(
            "--followup-share must be between 0 and 1, not {}",
            args.followup_share
        );
    }
    if args.copy_share + args.followup_share > 1.0 {
        bail!(
            "--copy-share plus --followup-share must be at most 1, not {}",
            args.copy_share + args.followup_share
        );
    }
    Ok(SynthConfig {
        articles: args.articles,
        seed: args.seed,
        copy_share: args.copy_share,
        followup_share: args.followup_share,
    })
}

fn describe(c: &SynthConfig) -> String {
    format!(
        "{} synthetic articles (seed {}, {:.0}% copies, {:.0}% follow-ups)",
        c.articles,
        c.seed,
        c.copy_share * 100.0,
        c.followup_share * 100.0
    )
}

fn open_input(
    path: &Path,
    gold: Option<&PathBuf>,
    quiet: bool,
) -> anyhow::Result<(Source, Truth, u64)> {
    let file =
        File::open(path).with_context(|| format!("cannot read input file {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let truth = match gold {
        Some(g) => {
            let gold = read_gold(g)?;
            if !quiet {
                for p in gold.problems.iter().take(20) {
                    eprintln!("syndedup bench: skipped {p}");
                }
            }
            Truth::ById(gold.clusters)
        }
        None => Truth::None,
    };
    let source = Source::File {
        reader: std::io::BufReader::with_capacity(1 << 20, file),
        path: path.to_path_buf(),
        buf: Vec::new(),
    };
    Ok((source, truth, size))
}

fn write_corpus(config: SynthConfig, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let articles_path = dir.join("articles.jsonl");
    let gold_path = dir.join("gold.csv");
    let mut articles = BufWriter::new(
        File::create(&articles_path)
            .with_context(|| format!("cannot create {}", articles_path.display()))?,
    );
    let mut gold = csv::Writer::from_path(&gold_path)
        .with_context(|| format!("cannot create {}", gold_path.display()))?;
    gold.write_record(["id", "cluster"])?;
    let (mut copies, mut followups) = (0u64, 0u64);
    for a in Generator::new(config) {
        articles
            .write_all(a.to_json_line().as_bytes())
            .and_then(|_| articles.write_all(b"\n"))
            .with_context(|| format!("cannot write {}", articles_path.display()))?;
        gold.write_record([a.id.as_str(), &format!("c{}", a.cluster)])
            .with_context(|| format!("cannot write {}", gold_path.display()))?;
        match a.kind {
            Kind::Copy => copies += 1,
            Kind::FollowUp => followups += 1,
            Kind::Original => {}
        }
    }
    articles
        .flush()
        .with_context(|| format!("cannot write {}", articles_path.display()))?;
    gold.flush()
        .with_context(|| format!("cannot write {}", gold_path.display()))?;
    println!("{}", articles_path.display());
    println!("{}", gold_path.display());
    eprintln!(
        "syndedup bench: wrote {}: {copies} copies, {followups} follow-ups",
        describe(&config)
    );
    Ok(())
}

/// Resident-set figures from `/proc/self/status` (Linux); `None` elsewhere.
fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resets the peak resident set (VmHWM) to the current one, so the peak covers the run only.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A per-thread CPU clock: time this thread spent running, in nanoseconds. Stage timings use it
/// rather than the wall clock so that a loaded machine (time spent waiting for a core) does not
/// count against a stage. Unix only; elsewhere it falls back to a monotonic wall clock.
#[cfg(unix)]
fn cpu_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer and reads nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(not(unix))]
fn cpu_now() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    let d = START.get_or_init(Instant::now).elapsed();
    d.as_nanos().min(u64::MAX as u128) as u64
}

/// CPU seconds of the whole process so far (user + system, every thread, finished ones included),
/// from `/proc/self/stat` in clock ticks of 1/100 s (Linux's USER_HZ).
fn proc_stat_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Nanoseconds the calling thread spent runnable but waiting for a core (`schedstat`).
fn waited_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(ns / 1e9)
}

#[derive(Default)]
struct Clocks {
    parse: AtomicU64,
    prepare: AtomicU64,
    sign: AtomicU64,
    insert: AtomicU64,
}

/// One line after parse and prepare.
type Staged = Option<(InputArticle, Prepared)>;

fn stage_one(engine_prep: &crate::dedup::Preparer, line: &[u8], clocks: &Clocks) -> Staged {
    let t0 = cpu_now();
    let parsed = parse_line(line);
    let t1 = cpu_now();
    clocks.parse.fetch_add(t1 - t0, Ordering::Relaxed);
    let input = parsed.ok()?;
    let prepared = engine_prep.prepare(input.article.meta.outlet.as_deref(), &input.article.body);
    clocks.prepare.fetch_add(cpu_now() - t1, Ordering::Relaxed);
    Some((input, prepared))
}

/// What the run produced for each accepted line: (line index, id, story).
type Outcome = Vec<(usize, String, u64)>;

struct Sink<'a> {
    engine: Engine,
    clocks: &'a Clocks,
    outcome: Outcome,
    rejected: u64,
}

impl Sink<'_> {
    fn accept(&mut self, index: usize, staged: Staged) {
        let Some((input, prepared)) = staged else {
            self.rejected += 1;
            return;
        };
        let meta = input.article.meta;
        let t0 = cpu_now();
        let fp = self.engine.fingerprint(meta.outlet.as_deref(), &prepared);
        let t1 = cpu_now();
        let time = meta
            .published
            .map(|p| p.timestamp())
            .unwrap_or_else(|| self.engine.clock());
        let id = meta.id.clone();
        let decision = self.engine.insert(meta, &fp, time);
        let t2 = cpu_now();
        self.clocks.sign.fetch_add(t1 - t0, Ordering::Relaxed);
        self.clocks.insert.fetch_add(t2 - t1, Ordering::Relaxed);
        self.outcome.push((index, id, decision.story.0));
    }
}

const BATCH: usize = 256;

/// Parse, prepare, sign and insert one chunk: on this thread, or with parse and prepare on
/// `threads` threads in batches of `BATCH` and signing and matching here in input order.
fn run_chunk(
    sink: &mut Sink<'_>,
    preparer: &crate::dedup::Preparer,
    chunk: &Chunk,
    threads: usize,
    clocks: &Clocks,
) {
    let n = chunk.lines.len();
    if threads == 1 {
        for i in 0..n {
            sink.accept(chunk.first + i, stage_one(preparer, chunk.line(i), clocks));
        }
        return;
    }
    let batches = n.div_ceil(BATCH);
    let next = Mutex::new(0usize);
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<(usize, Vec<Staged>)>(threads * 4);
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let b = match next.lock() {
                    Ok(mut g) => {
                        let b = *g;
                        *g += 1;
                        b
                    }
                    Err(_) => return,
                };
                if b >= batches {
                    return;
                }
                let staged = (b * BATCH..((b + 1) * BATCH).min(n))
                    .map(|i| stage_one(preparer, chunk.line(i), clocks))
                    .collect();
                if tx.send((b, staged)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        // Batches arrive out of order; signing and matching take them in input order.
        let mut pending: HashMap<usize, Vec<Staged>> = HashMap::new();
        let mut want = 0usize;
        while let Ok((b, staged)) = rx.recv() {
            pending.insert(b, staged);
            while let Some(batch) = pending.remove(&want) {
                for (k, s) in batch.into_iter().enumerate() {
                    sink.accept(chunk.first + want * BATCH + k, s);
                }
                want += 1;
            }
        }
    });
}

/// Times normalisation alone (HTML to text, folding, words) over every body of a chunk, after
/// the chunk has been through the run.
fn normalise_pass(chunk: &Chunk) -> Duration {
    let mut total = 0u64;
    let mut buf = Vec::with_capacity(32);
    let mut words = 0usize;
    for i in 0..chunk.lines.len() {
        let Ok(input) = parse_line(chunk.line(i)) else {
            continue;
        };
        let t = cpu_now();
        let text = body_text(&input.article.body);
        for line in text.split('\n') {
            for_each_word(line, &mut buf, |w| words += w.len());
        }
        total += cpu_now() - t;
    }
    std::hint::black_box(words);
    Duration::from_nanos(total)
}

fn quality(truth: &Truth, outcome: &Outcome) -> Option<Scores> {
    let mut gold = Labels::default();
    let mut pred = Vec::with_capacity(outcome.len());
    let mut labels = Vec::with_capacity(outcome.len());
    for (line, id, story) in outcome {
        let label = match truth {
            Truth::None => return None,
            Truth::ByLine(t) => match t.get(*line) {
                Some(&c) => c,
                None => continue,
            },
            Truth::ById(map) => match map.get(id) {
                Some(c) => gold.intern(c),
                None => continue,
            },
        };
        pred.push(*story as u32);
        labels.push(label);
    }
    Some(score(&pred, &labels))
}

/// CPU seconds of the whole process so far (user + system, every thread, finished ones
/// included), from `getrusage` (microseconds) where there is one.
#[cfg(unix)]
fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage fills one rusage struct through a valid pointer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return proc_stat_cpu_seconds();
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(usage.ru_utime) + secs(usage.ru_stime))
}

#[cfg(not(unix))]
fn process_cpu_seconds() -> Option<f64> {
    proc_stat_cpu_seconds()
}

/// Sums `after - before` of an optional clock into an optional total.
fn add_span(total: &mut Option<f64>, before: Option<f64>, after: Option<f64>) {
    *total = match (*total, before, after) {
        (Some(t), Some(b), Some(a)) => Some(t + (a - b)),
        _ => None,
    };
}

/// Runs the benchmark and prints the table (or the JSON object); returns the JSON object.
pub fn run(args: &BenchArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = args.engine.engine_config()?;
    let synth = synth_config(args)?;
    if let Some(dir) = &args.write_corpus {
        write_corpus(synth, dir)?;
        return Ok(serde_json::Value::Null);
    }
    let (k, slots) = (cfg.dedup.shingle_size.get(), cfg.dedup.permutations.get());
    let threshold = cfg.dedup.threshold;
    let scheme = format!("{:?}", cfg.dedup.scheme);
    let engine = Engine::new(cfg)?;
    let opened = Instant::now();
    // The bar counts articles (synthetic) or bytes of the file (--input).
    let (mut source, mut truth, description, bar_len, bar_unit) = match &args.input {
        Some(path) => {
            let (source, truth, size) = open_input(path, args.gold.as_ref(), args.quiet)?;
            (source, truth, format!("{}", path.display()), size, "bytes")
        }
        None => (
            Source::Synthetic(Box::new(Generator::new(synth))),
            Truth::ByLine(Vec::with_capacity(synth.articles)),
            describe(&synth),
            synth.articles as u64,
            "articles",
        ),
    };
    let mut setup_seconds = opened.elapsed().as_secs_f64();

    let bar = if !args.quiet && !args.json && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(bar_len);
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {bar_unit} ({{per_sec}}, {{eta}} left)"
        )) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    let rss_before = proc_status("VmRSS:");
    let peak_before = proc_status("VmHWM:");
    let peak_reset = reset_peak();
    let clocks = Clocks::default();
    let threads = args.threads.get();
    let preparer = engine.preparer().clone();
    let mut sink = Sink {
        engine,
        clocks: &clocks,
        outcome: Vec::with_capacity(if args.input.is_none() {
            synth.articles
        } else {
            0
        }),
        rejected: 0,
    };
    // The clocks run only while a chunk is processed: generating or reading it is setup.
    let (mut wall, mut cpu, mut waited) = (0.0f64, Some(0.0f64), Some(0.0f64));
    let (mut bytes, mut held, mut normalise_time) = (0u64, 0usize, Duration::ZERO);
    let mut chunk = Chunk::default();
    loop {
        let t = Instant::now();
        let more = source.fill(&mut chunk, args.chunk_articles.get(), &mut truth)?;
        setup_seconds += t.elapsed().as_secs_f64();
        if !more {
            break;
        }
        bytes += chunk.input_bytes;
        held = held.max(chunk.data.capacity() + chunk.lines.capacity() * 16);
        let (cpu_before, waited_before) = (process_cpu_seconds(), waited_seconds());
        let started = Instant::now();
        run_chunk(&mut sink, &preparer, &chunk, threads, &clocks);
        wall += started.elapsed().as_secs_f64();
        add_span(&mut cpu, cpu_before, process_cpu_seconds());
        add_span(&mut waited, waited_before, waited_seconds());
        normalise_time += normalise_pass(&chunk);
        bar.set_position(match &source {
            Source::Synthetic(_) => (chunk.first + chunk.lines.len()) as u64,
            Source::File { .. } => bytes,
        });
    }
    bar.finish_and_clear();
    drop(chunk);
    let peak = proc_status("VmHWM:");
    let peak_rss = match (peak, peak_before) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let Sink {
        engine,
        outcome,
        rejected,
        ..
    } = sink;
    let normalise = normalise_time.as_secs_f64();
    let scores = quality(&truth, &outcome);
    let indexed = engine.len();
    let index_bytes = engine.index_bytes();
    let bytes_per_article = index_bytes.checked_div(indexed);
    let (bands, rows) = engine.bands();
    tracing::debug!(
        bands,
        rows,
        articles = indexed,
        index_bytes,
        bytes_per_article = bytes_per_article.unwrap_or(0),
        "engine index size"
    );

    let secs = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
    let (parse, prepare, sign, insert) = (
        secs(&clocks.parse),
        secs(&clocks.prepare),
        secs(&clocks.sign),
        secs(&clocks.insert),
    );
    let shingle = (prepare - normalise).max(0.0);
    let accepted = outcome.len() as f64;
    let per_sec = |s: f64| if s > 0.0 { accepted / s } else { 0.0 };
    let mb_per_sec = |s: f64| if s > 0.0 { bytes as f64 / 1e6 / s } else { 0.0 };
    let stage = |s: f64| {
        json!({
            "seconds": s,
            "articles_per_sec": per_sec(s),
            "mb_per_sec": mb_per_sec(s),
        })
    };
    let engine_seconds = prepare + sign + insert;
    let stats = engine.stats();
    let out = json!({
        "corpus": description,
        "articles": outcome.len(),
        "rejected_lines": rejected,
        "bytes": bytes,
        "threads": threads,
        "shingle_size": k,
        "permutations": slots,
        "threshold": threshold,
        "scheme": scheme,
        "seconds": wall,
        "articles_per_sec": per_sec(wall),
        "mb_per_sec": mb_per_sec(wall),
        "cpu_seconds": cpu,
        "articles_per_cpu_sec": cpu.map(per_sec),
        "main_thread_waited_seconds": waited,
        "engine_articles_per_sec": per_sec(engine_seconds),
        "stages": {
            "parse": stage(parse),
            "normalise": stage(normalise),
            "shingle": stage(shingle),
            "sign": stage(sign),
            "shingle_sign": stage(shingle + sign),
            "index_match_merge": stage(insert),
        },
        "peak_memory_bytes": peak,
        "rss_before_run_bytes": rss_before,
        "peak_covers_run_only": peak_reset,
        "corpus_bytes": bytes,
        "corpus_held_bytes": held,
        "peak_rss_bytes": peak_rss,
        "index_bytes": index_bytes,
        "indexed_articles": indexed,
        "bytes_per_article": bytes_per_article,
        "bands": bands,
        "rows": rows,
        "streamed": true,
        "chunk_articles": args.chunk_articles.get(),
        "setup_seconds": setup_seconds,
        "stories": stats.stories,
        "duplicates": stats.duplicates,
        "candidates_checked": stats.candidates_checked,
        "precision": scores.map(|s| s.precision),
        "recall": scores.map(|s| s.recall),
        "f1": scores.map(|s| s.f1),
        "ari": scores.map(|s| s.ari),
        "true_stories": scores.map(|s| s.gold_clusters),
    });
    if args.json {
        println!("{out}");
    } else {
        print!(
            "{}",
            table(
                &out,
                &[
                    ("parse", parse),
                    ("normalise (separate pass)", normalise),
                    ("shingle (prepare - normalise)", shingle),
                    ("sign (boilerplate + MinHash)", sign),
                    ("index+match+merge", insert),
                ],
                wall,
                engine_seconds
            )
        );
    }
    Ok(out)
}

fn table(out: &serde_json::Value, stages: &[(&str, f64)], wall: f64, engine: f64) -> String {
    use std::fmt::Write as _;
    let n = out["articles"].as_f64().unwrap_or(0.0);
    let bytes = out["bytes"].as_f64().unwrap_or(0.0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} articles, {:.1} MB, {} thread(s); k={} slots={} threshold={} scheme={}",
        out["corpus"].as_str().unwrap_or(""),
        n,
        bytes / 1e6,
        out["threads"],
        out["shingle_size"],
        out["permutations"],
        out["threshold"],
        out["scheme"].as_str().unwrap_or("")
    );
    let _ = writeln!(
        s,
        "{:<32} {:>9} {:>12} {:>9} {:>7}",
        "stage", "seconds", "articles/s", "MB/s", "share"
    );
    let row = |s: &mut String, name: &str, secs: f64, share: bool| {
        let rate = |x: f64| if secs > 0.0 { x / secs } else { 0.0 };
        let _ = writeln!(
            s,
            "{:<32} {:>9.3} {:>12.0} {:>9.1} {:>7}",
            name,
            secs,
            rate(n),
            rate(bytes / 1e6),
            if share && wall > 0.0 {
                format!(
                    "{:.1}%",
                    100.0 * secs / stages.iter().map(|x| x.1).sum::<f64>()
                )
            } else {
                String::new()
            }
        );
    };
    for &(name, secs) in stages {
        row(&mut s, name, secs, true);
    }
    row(&mut s, "engine (prepare+sign+insert)", engine, false);
    row(&mut s, "end to end (wall clock)", wall, false);
    if let Some(cpu) = out["cpu_seconds"].as_f64() {
        row(&mut s, "end to end (process CPU time)", cpu, false);
    }
    if let Some(w) = out["main_thread_waited_seconds"].as_f64() {
        let _ = writeln!(
            s,
            "the main thread waited {w:.3} s for a free core (machine load)"
        );
    }
    let mb = |v: &serde_json::Value| match v.as_f64() {
        Some(b) => format!("{:.1} MB", b / 1e6),
        None => "unknown".to_string(),
    };
    let _ = writeln!(
        s,
        "peak memory {} (VmHWM{}; RSS before the run {}); peak RSS of the whole process {}",
        mb(&out["peak_memory_bytes"]),
        if out["peak_covers_run_only"].as_bool() == Some(true) {
            ", reset before the run"
        } else {
            ""
        },
        mb(&out["rss_before_run_bytes"]),
        mb(&out["peak_rss_bytes"])
    );
    let _ = writeln!(
        s,
        "corpus streamed in chunks of {} articles: {} in all, at most {} held at once",
        out["chunk_articles"],
        mb(&out["corpus_bytes"]),
        mb(&out["corpus_held_bytes"])
    );
    let _ = writeln!(
        s,
        "index {} for {} articles: {} bytes per indexed article ({} bands x {} rows)",
        mb(&out["index_bytes"]),
        out["indexed_articles"],
        out["bytes_per_article"],
        out["bands"],
        out["rows"]
    );
    let _ = writeln!(
        s,
        "stories {}, duplicates {}, candidates checked {}",
        out["stories"], out["duplicates"], out["candidates_checked"]
    );
    match out["f1"].as_f64() {
        Some(f1) => {
            let _ = writeln!(
                s,
                "quality vs truth: pairwise precision {:.4}  recall {:.4}  F1 {:.4}  ARI {:.4}  ({} true stories)",
                out["precision"].as_f64().unwrap_or(0.0),
                out["recall"].as_f64().unwrap_or(0.0),
                f1,
                out["ari"].as_f64().unwrap_or(0.0),
                out["true_stories"]
            );
        }
        None => {
            let _ = writeln!(s, "quality: no truth (give --gold with --input)");
        }
    }
    s
}
