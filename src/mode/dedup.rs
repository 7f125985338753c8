//! `syndedup dedup`: the streaming JSON Lines stage.
//!
//! Reading and stage 1 (parse, normalise, shingle) run on `--threads` workers in batches; stage 2
//! (boilerplate learning, signing, matching, merging) and the writer run on one thread in input
//! order, so output order never depends on the thread count.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use xxhash_rust::xxh3::xxh3_64;

use crate::config::Config;
use crate::dedup::{Engine, EngineConfig, Prepared, Preparer, Speculated, Speculator};
use crate::jsonl::{
    decision_json, parse_line, story_line, write_annotated, IdStyle, InputArticle, LineReader,
    ReadOutcome,
};
use crate::model::StoryId;

#[path = "dedup_state.rs"]
mod state;

/// What `dedup` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// Each article that starts a new story, the moment it arrives; copies are dropped.
    Unique,
    /// Every article in input order with an added `dedup` object.
    Annotate,
    /// At the end of input, one line per story: canonical article and every copy.
    Stories,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DedupArgs {
    /// Read JSON Lines from this file instead of standard input.
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// Write JSON Lines to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Output mode.
    #[arg(long, value_enum, default_value_t = Emit::Unique)]
    pub emit: Emit,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Worker threads for parsing and shingling; output order is preserved.
    #[arg(long, default_value = "1")]
    pub threads: NonZeroUsize,
    /// Append rejected input lines, raw, to this file.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Stop with exit code 1 at the first rejected line.
    #[arg(long)]
    pub strict: bool,
    /// No progress and no closing summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    /// Keep state in this SQLite database across runs: items seen before are skipped, the
    /// index is rebuilt from the dedup window, stories are emitted once.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

/// Counts reported at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub articles: u64,
    pub stories: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub duplicate_ids: u64,
    pub empty_bodies: u64,
    /// With `--state`: items skipped because they were seen before with the same body.
    pub already_seen: u64,
    pub seconds: f64,
}

impl Summary {
    pub fn articles_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.articles as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} articles, {} stories, {} duplicates, {} rejected lines, {:.0} articles/s ({:.2} s)",
            self.articles,
            self.stories,
            self.duplicates,
            self.rejected,
            self.articles_per_sec(),
            self.seconds
        )?;
        if self.duplicate_ids > 0 {
            write!(f, ", {} repeated ids", self.duplicate_ids)?;
        }
        if self.empty_bodies > 0 {
            write!(f, ", {} empty bodies", self.empty_bodies)?;
        }
        if self.already_seen > 0 {
            write!(f, ", {} already seen", self.already_seen)?;
        }
        Ok(())
    }
}

/// The engine flags shared by `dedup`, `eval` and `bench`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EngineArgs {
    /// TOML config file (the `[dedup]`, `[merge]` and `[boilerplate]` sections apply).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Similarity threshold (overrides dedup.threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Words per shingle (overrides dedup.shingle_size).
    #[arg(long)]
    pub shingle_size: Option<NonZeroUsize>,
    /// Signature slots (overrides dedup.permutations).
    #[arg(long)]
    pub permutations: Option<NonZeroUsize>,
}

impl EngineArgs {
    /// The config file (if any) with the flags applied, validated.
    pub fn engine_config(&self) -> anyhow::Result<EngineConfig> {
        engine_config(
            self.config.as_ref(),
            self.threshold,
            self.shingle_size,
            self.permutations,
        )
    }
}

/// Builds the engine config from an optional file plus command-line overrides.
pub fn engine_config(
    config: Option<&PathBuf>,
    threshold: Option<f64>,
    shingle_size: Option<NonZeroUsize>,
    permutations: Option<NonZeroUsize>,
) -> anyhow::Result<EngineConfig> {
    let mut cfg = match config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(t) = threshold {
        cfg.dedup.threshold = t;
    }
    if let Some(k) = shingle_size {
        cfg.dedup.shingle_size = k;
    }
    if let Some(p) = permutations {
        cfg.dedup.permutations = p;
    }
    cfg.check("given on the command line")?;
    Ok(EngineConfig::from_config(&cfg))
}

type Rejects = Arc<Mutex<Option<BufWriter<File>>>>;

/// One line after stage 1.
enum Staged {
    Ok {
        number: u64,
        raw: Vec<u8>,
        input: Box<InputArticle>,
        prepared: Prepared,
        /// Made by a preparing thread (see [`Speculator`]); `None` on one thread, where a
        /// guess that misses would only add work.
        speculated: Option<Speculated>,
    },
    Rejected {
        number: u64,
        raw: Option<Vec<u8>>,
        message: String,
    },
}

fn stage_one(
    preparer: &Preparer,
    speculator: Option<&mut Speculator>,
    line: ReadOutcomeOwned,
) -> Staged {
    match line {
        ReadOutcomeOwned::Line { number, bytes } => match parse_line(&bytes) {
            Ok(input) => {
                let prepared =
                    preparer.prepare(input.article.meta.outlet.as_deref(), &input.article.body);
                let speculated = speculator
                    .map(|s| s.speculate(input.article.meta.outlet.as_deref(), &prepared));
                Staged::Ok {
                    number,
                    raw: bytes,
                    input: Box::new(input),
                    prepared,
                    speculated,
                }
            }
            Err(message) => Staged::Rejected {
                number,
                raw: Some(bytes),
                message,
            },
        },
        ReadOutcomeOwned::TooLong { number, len, cap } => Staged::Rejected {
            number,
            raw: None,
            message: format!("line is {len} bytes, over the cap of {cap} (dedup.max_line_bytes)"),
        },
    }
}

enum ReadOutcomeOwned {
    Line { number: u64, bytes: Vec<u8> },
    TooLong { number: u64, len: usize, cap: usize },
}

/// Stage 2 and the writer.
struct Sink<W: Write> {
    engine: Engine,
    emit: Emit,
    out: W,
    rejects: Rejects,
    strict: bool,
    quiet: bool,
    ids: IdStyle,
    seen_ids: HashSet<u64>,
    canonical_raw: HashMap<StoryId, Vec<u8>>,
    summary: Summary,
    state: Option<state::State>,
}

impl<W: Write> Sink<W> {
    fn accept(&mut self, staged: Staged) -> anyhow::Result<()> {
        match staged {
            Staged::Rejected {
                number,
                raw,
                message,
            } => {
                self.summary.rejected += 1;
                if self.strict {
                    bail!("line {number}: {message}");
                }
                if !self.quiet {
                    eprintln!("syndedup dedup: line {number} skipped: {message}");
                }
                if let Some(raw) = raw {
                    let mut guard = self
                        .rejects
                        .lock()
                        .map_err(|_| anyhow::anyhow!("rejects file lock poisoned"))?;
                    if let Some(w) = guard.as_mut() {
                        w.write_all(&raw)
                            .context("cannot write to the rejects file")?;
                        w.write_all(b"\n")
                            .context("cannot write to the rejects file")?;
                    }
                }
                Ok(())
            }
            Staged::Ok {
                number,
                raw,
                mut input,
                prepared,
                speculated,
            } => {
                let meta = &input.article.meta;
                let mut content_hash = 0;
                if let Some(state) = self.state.as_mut() {
                    let (hash, seen) = state.check(meta, &input.article.body)?;
                    if seen {
                        self.summary.already_seen += 1;
                        if state.due() {
                            self.out.flush()?;
                            state.commit()?;
                        }
                        return Ok(());
                    }
                    content_hash = hash;
                }
                if !self.seen_ids.insert(xxh3_64(meta.id.as_bytes())) {
                    self.summary.duplicate_ids += 1;
                    if !self.quiet {
                        eprintln!(
                            "syndedup dedup: line {number}: id {:?} was seen before; processed as a separate article",
                            meta.id
                        );
                    }
                }
                self.ids.note(&input);
                let fp = self
                    .engine
                    .fingerprint_speculated(meta.outlet.as_deref(), &prepared, speculated)
                    .0;
                if fp.is_empty() {
                    self.summary.empty_bodies += 1;
                }
                // Articles without a date take the stream's latest time: the window follows the stream.
                let time = meta
                    .published
                    .map(|p| p.timestamp())
                    .unwrap_or_else(|| self.engine.clock());
                let decision = if self.state.is_some() {
                    self.engine.insert(input.article.meta.clone(), &fp, time)
                } else {
                    // Only the state reads the metadata after this: the engine takes it.
                    self.engine
                        .insert(std::mem::take(&mut input.article.meta), &fp, time)
                };
                let meta = &input.article.meta;
                if let Some(state) = self.state.as_mut() {
                    let clock = self.engine.clock();
                    state.record(meta, content_hash, time, clock, &fp, &decision, &raw);
                }
                self.summary.articles += 1;
                if decision.is_duplicate() {
                    self.summary.duplicates += 1;
                } else {
                    self.summary.stories += 1;
                }
                match self.emit {
                    Emit::Unique => {
                        let fresh = !decision.is_duplicate()
                            && match self.state.as_mut() {
                                Some(state) => {
                                    state.emit_new(decision.story, meta, self.engine.clock())
                                }
                                None => true,
                            };
                        if fresh {
                            self.out.write_all(&raw)?;
                            self.out.write_all(b"\n")?;
                        }
                    }
                    Emit::Annotate => {
                        let d = decision_json(&decision, &self.ids);
                        write_annotated(&mut self.out, &raw, input.has_dedup_field, &d)?;
                        self.out.write_all(b"\n")?;
                    }
                    Emit::Stories => {
                        if decision.became_canonical {
                            self.canonical_raw.insert(decision.story, raw);
                        }
                    }
                }
                if let Some(state) = self.state.as_mut() {
                    if state.due() {
                        // Output first: a crash in between repeats lines rather than losing them.
                        self.out.flush()?;
                        state.commit()?;
                    }
                }
                Ok(())
            }
        }
    }

    fn finish(mut self) -> anyhow::Result<Summary> {
        let (bands, rows) = self.engine.bands();
        tracing::debug!(
            bands,
            rows,
            articles = self.engine.len(),
            index_bytes = self.engine.index_bytes(),
            bytes_per_article = self.engine.index_bytes() / self.engine.len().max(1),
            speculated_kept = self.engine.stats().speculated_kept,
            "engine index size"
        );
        if let (Emit::Stories, Some(state)) = (self.emit, self.state.as_mut()) {
            // Only the stories this run added to; one emitted before is marked as an update.
            let at = self.engine.clock();
            for story in state.touched().to_vec() {
                let Some(view) = self.engine.story(story) else {
                    continue;
                };
                let raw = match self.canonical_raw.remove(&story) {
                    Some(raw) => raw,
                    None => state
                        .canonical_payload(story)?
                        .map(String::into_bytes)
                        .unwrap_or_else(|| b"null".to_vec()),
                };
                let update = state.emit_story(story, &view.canonical, at);
                let line = story_line(&view, &raw, &self.ids, update);
                self.out.write_all(&line)?;
                self.out.write_all(b"\n")?;
            }
        } else if self.emit == Emit::Stories {
            for view in self.engine.stories() {
                let raw = self
                    .canonical_raw
                    .get(&view.story)
                    .map(Vec::as_slice)
                    .unwrap_or(b"null");
                self.out
                    .write_all(&story_line(&view, raw, &self.ids, false))?;
                self.out.write_all(b"\n")?;
            }
        }
        self.out.flush()?;
        if let Some(state) = self.state.take() {
            state.finish(self.engine.clock())?;
        }
        if let Ok(mut guard) = self.rejects.lock() {
            if let Some(w) = guard.as_mut() {
                w.flush().context("cannot write to the rejects file")?;
            }
        }
        Ok(self.summary)
    }
}

fn open_input(path: Option<&PathBuf>) -> anyhow::Result<Box<dyn BufReadExt>> {
    Ok(match path {
        Some(p) => Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(p).with_context(|| format!("cannot open input file {}", p.display()))?,
        )),
        None => Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
    })
}

/// A buffered reader that can tell whether its buffer is empty.
pub trait BufReadExt: BufRead + crate::jsonl::BufReadBuffer + Send {}
impl<T: BufRead + crate::jsonl::BufReadBuffer + Send> BufReadExt for T {}

impl crate::jsonl::BufReadBuffer for Box<dyn BufReadExt> {
    fn buffered_is_empty(&self) -> bool {
        (**self).buffered_is_empty()
    }
}

/// Runs the stage with the given arguments; returns the summary (also printed unless quiet).
pub fn run(args: &DedupArgs) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let cfg = args.engine.engine_config()?;
    let cap = cfg.dedup.max_line_bytes.get();
    let mut engine = Engine::new(cfg)?;
    let state = match &args.state {
        Some(path) => Some(state::State::open(path, &mut engine)?),
        None => None,
    };
    let preparer = engine.preparer().clone();
    let speculator = engine.speculator();
    let out: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p)
                .with_context(|| format!("cannot create output file {}", p.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    let rejects: Rejects = Arc::new(Mutex::new(match &args.rejects {
        Some(p) => Some(BufWriter::new(File::create(p).with_context(|| {
            format!("cannot create rejects file {}", p.display())
        })?)),
        None => None,
    }));
    let mut reader = LineReader::new(open_input(args.input.as_ref())?, cap);
    let progress = Progress::new(!args.quiet && io::stderr().is_terminal());
    let mut sink = Sink {
        engine,
        emit: args.emit,
        out,
        rejects: rejects.clone(),
        strict: args.strict,
        quiet: args.quiet,
        ids: IdStyle::default(),
        seen_ids: HashSet::new(),
        canonical_raw: HashMap::new(),
        summary: Summary::default(),
        state,
    };

    let read_one =
        |reader: &mut LineReader<Box<dyn BufReadExt>>| -> anyhow::Result<Option<ReadOutcomeOwned>> {
            let mut guard = rejects
                .lock()
                .map_err(|_| anyhow::anyhow!("rejects file lock poisoned"))?;
            let overflow = guard.as_mut().map(|w| w as &mut dyn Write);
            let outcome = reader.read(overflow).context("cannot read input")?;
            Ok(match outcome {
                ReadOutcome::Line(l) => Some(ReadOutcomeOwned::Line {
                    number: l.number,
                    bytes: l.bytes,
                }),
                ReadOutcome::TooLong { number, len } => {
                    Some(ReadOutcomeOwned::TooLong { number, len, cap })
                }
                ReadOutcome::Eof => None,
            })
        };

    let mut sink = if args.threads.get() == 1 {
        while let Some(line) = read_one(&mut reader)? {
            sink.accept(stage_one(&preparer, None, line))?;
            progress.tick(sink.summary.articles);
            if reader.buffer_is_empty() {
                sink.out.flush()?;
            }
        }
        sink
    } else {
        run_threaded(
            args.threads.get(),
            &preparer,
            &speculator,
            &mut reader,
            read_one,
            sink,
            &progress,
        )?
    };
    progress.finish();
    sink.summary.seconds = started.elapsed().as_secs_f64();
    let summary = sink.finish()?;
    let summary = Summary {
        seconds: started.elapsed().as_secs_f64(),
        ..summary
    };
    if !args.quiet {
        eprintln!("syndedup dedup: {summary}");
    }
    Ok(summary)
}

const BATCH: usize = 256;

/// A numbered batch of raw lines for the stage-1 workers.
type Job = (u64, Vec<ReadOutcomeOwned>);

fn run_threaded<W: Write + Send>(
    threads: usize,
    preparer: &Preparer,
    speculator: &Speculator,
    reader: &mut LineReader<Box<dyn BufReadExt>>,
    read_one: impl Fn(&mut LineReader<Box<dyn BufReadExt>>) -> anyhow::Result<Option<ReadOutcomeOwned>>,
    sink: Sink<W>,
    progress: &Progress,
) -> anyhow::Result<Sink<W>> {
    std::thread::scope(|scope| {
        let (work_tx, work_rx) = sync_channel::<Job>(threads * 2);
        let work_rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Vec<Staged>)>(threads * 2);
        for _ in 0..threads {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let preparer = preparer.clone();
            let mut speculator = speculator.clone();
            scope.spawn(move || loop {
                let job = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((seq, lines)) = job else { return };
                let staged: Vec<Staged> = lines
                    .into_iter()
                    .map(|l| stage_one(&preparer, Some(&mut speculator), l))
                    .collect();
                if done_tx.send((seq, staged)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let writer = scope.spawn(move || -> anyhow::Result<Sink<W>> {
            let mut sink = sink;
            let mut pending: BTreeMap<u64, Vec<Staged>> = BTreeMap::new();
            let mut next = 0u64;
            let mut last_tick = Instant::now();
            while let Ok((seq, staged)) = done_rx.recv() {
                pending.insert(seq, staged);
                while let Some(batch) = pending.remove(&next) {
                    for item in batch {
                        sink.accept(item)?;
                    }
                    next += 1;
                }
                if last_tick.elapsed() > Duration::from_millis(100) {
                    progress.tick(sink.summary.articles);
                    last_tick = Instant::now();
                }
                sink.out.flush()?;
            }
            Ok(sink)
        });
        let mut seq = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        let mut read_error = None;
        loop {
            match read_one(reader) {
                Ok(Some(line)) => {
                    batch.push(line);
                    if batch.len() >= BATCH || reader.buffer_is_empty() {
                        if work_tx.send((seq, std::mem::take(&mut batch))).is_err() {
                            break;
                        }
                        seq += 1;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = work_tx.send((seq, batch));
        }
        drop(work_tx);
        let sink = writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
        if let Some(e) = read_error {
            return Err(e);
        }
        Ok(sink)
    })
}

/// A progress line on a terminal; nothing otherwise.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(enabled: bool) -> Self {
        if !enabled {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} articles ({per_sec}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    fn tick(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
