//! One criterion bench per stage of `syndedup dedup --emit annotate`, each over the same
//! synthetic corpus (`syndedup::synth`, seed 11, 2,000 articles, about 9.6 MB of JSON Lines) and
//! each with `Throughput::Bytes` of that input JSON, so every report reads in MB/s of input and
//! compares with `syndedup bench`'s per-stage MB/s. A regression in one stage shows up by name:
//!
//! - `stages/parse`: JSON line → article (`jsonl::parse_line`);
//! - `stages/prepare`: HTML/text → folded words → built-in boilerplate → hashed shingles
//!   (`Preparer::prepare`);
//! - `stages/fingerprint`: learned boilerplate, MinHash and the exact profile
//!   (`Engine::fingerprint`, a fresh engine per iteration so the learner starts empty each time);
//! - `stages/insert`: LSH query, verification, joining or starting a story, merging
//!   (`Engine::insert` of the pre-computed fingerprints into a fresh engine);
//! - `stages/emit`: the `dedup` object and the annotated line (`jsonl::decision_json`,
//!   `jsonl::annotate_line`) into an output buffer.
//!
//! Run: `cargo bench --bench stages` (or `-- stages/insert` for one). Setup (generating the corpus,
//! the inputs of each stage) is outside the measured loops.

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use syndedup::dedup::{Fingerprint, Prepared};
use syndedup::jsonl::{annotate_line, decision_json, parse_line, IdStyle, InputArticle};
use syndedup::synth::{Generator, SynthConfig};
use syndedup::{Decision, Engine};

const ARTICLES: usize = 2_000;

/// Everything each stage needs as input, computed once by running the stages in order.
struct Inputs {
    lines: Vec<Vec<u8>>,
    parsed: Vec<InputArticle>,
    prepared: Vec<Prepared>,
    fingerprints: Vec<(Fingerprint, i64)>,
    decisions: Vec<Decision>,
    ids: IdStyle,
    json_bytes: u64,
}

fn inputs() -> Inputs {
    let lines: Vec<Vec<u8>> = Generator::new(SynthConfig {
        articles: ARTICLES,
        seed: 11,
        ..SynthConfig::default()
    })
    .map(|a| a.to_json_line().into_bytes())
    .collect();
    let json_bytes = lines.iter().map(|l| l.len() as u64).sum();
    let parsed: Vec<InputArticle> = lines.iter().filter_map(|l| parse_line(l).ok()).collect();
    assert_eq!(
        parsed.len(),
        lines.len(),
        "the generator writes valid lines"
    );
    let mut engine = Engine::with_defaults();
    let prepared: Vec<Prepared> = parsed.iter().map(|p| engine.prepare(&p.article)).collect();
    let fingerprints: Vec<(Fingerprint, i64)> = parsed
        .iter()
        .zip(&prepared)
        .map(|(p, prep)| {
            let fp = engine.fingerprint(p.article.meta.outlet.as_deref(), prep);
            let t = p.article.meta.published.map(|d| d.timestamp()).unwrap_or(0);
            (fp, t)
        })
        .collect();
    let mut ids = IdStyle::default();
    let decisions = parsed
        .iter()
        .zip(&fingerprints)
        .map(|(p, (fp, t))| {
            ids.note(p);
            engine.insert(p.article.meta.clone(), fp, *t)
        })
        .collect();
    Inputs {
        lines,
        parsed,
        prepared,
        fingerprints,
        decisions,
        ids,
        json_bytes,
    }
}

fn stages(c: &mut Criterion) {
    let inputs = inputs();
    let mut group = c.benchmark_group("stages");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(inputs.json_bytes));

    group.bench_function(BenchmarkId::from_parameter("parse"), |b| {
        b.iter(|| {
            for line in &inputs.lines {
                let _ = black_box(parse_line(line));
            }
        })
    });

    let preparer = Engine::with_defaults().preparer().clone();
    group.bench_function(BenchmarkId::from_parameter("prepare"), |b| {
        b.iter(|| {
            for p in &inputs.parsed {
                black_box(preparer.prepare(p.article.meta.outlet.as_deref(), &p.article.body));
            }
        })
    });

    group.bench_function(BenchmarkId::from_parameter("fingerprint"), |b| {
        b.iter_batched(
            Engine::with_defaults,
            |mut engine| {
                for (p, prep) in inputs.parsed.iter().zip(&inputs.prepared) {
                    black_box(engine.fingerprint(p.article.meta.outlet.as_deref(), prep));
                }
                engine
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function(BenchmarkId::from_parameter("insert"), |b| {
        b.iter_batched(
            || {
                let metas: Vec<_> = inputs
                    .parsed
                    .iter()
                    .map(|p| p.article.meta.clone())
                    .collect();
                (Engine::with_defaults(), metas)
            },
            |(mut engine, metas)| {
                for (meta, (fp, t)) in metas.into_iter().zip(&inputs.fingerprints) {
                    black_box(engine.insert(meta, fp, *t));
                }
                engine
            },
            BatchSize::PerIteration,
        )
    });

    let mut out = Vec::with_capacity(inputs.json_bytes as usize + 100 * ARTICLES);
    group.bench_function(BenchmarkId::from_parameter("emit"), |b| {
        b.iter(|| {
            out.clear();
            for ((line, p), d) in inputs
                .lines
                .iter()
                .zip(&inputs.parsed)
                .zip(&inputs.decisions)
            {
                let dedup = decision_json(d, &inputs.ids);
                out.extend_from_slice(&annotate_line(line, p.has_dedup_field, &dedup));
                out.push(b'\n');
            }
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
