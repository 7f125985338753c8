//! Criterion benches of the engine's stages on synthetic text (`syndedup::synth`), with
//! throughput set so reports read in bytes/s or articles/s:
//! - `normalise`: HTML/text to folded words, per article size;
//! - `shingle_sign`: prepare (normalise + shingle) and sign, per article size;
//! - `signature_scheme`: OPH against multiply-shift on the same shingles (`dedup.scheme`);
//! - `profile`: building the exact profile (sorted shingle set with paragraphs) and the exact
//!   overlap of two profiles (a copy against its original, a stub against a long read), in
//!   shingles/s;
//! - `index_match_merge`: `Engine::insert` of pre-signed articles, per corpus size;
//! - `end_to_end`: `Engine::add` from body to decision, per corpus size.
//!
//! Run: `cargo bench --bench engine` (or `-- normalise` for one group).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use syndedup::config::SignatureScheme;
use syndedup::dedup::{Profile, Signer};
use syndedup::normalize::{body_text, for_each_word};
use syndedup::synth::{Generator, SynthConfig};
use syndedup::{Article, ArticleMeta, Engine};

fn corpus(n: usize) -> Vec<Article> {
    Generator::new(SynthConfig {
        articles: n,
        seed: 7,
        ..SynthConfig::default()
    })
    .map(|a| {
        let mut article = Article::new(a.id, a.body)
            .with_outlet(a.outlet)
            .with_title(a.title);
        article.meta.published = chrono::DateTime::parse_from_rfc3339(&a.published).ok();
        article
    })
    .collect()
}

/// Three named article sizes: a short item (~1 KB), a typical one (~4.5 KB), a long read (~18 KB).
fn sized_bodies() -> Vec<(&'static str, String)> {
    let articles = corpus(50);
    let typical = articles
        .iter()
        .min_by_key(|a| a.body.len().abs_diff(4500))
        .map(|a| a.body.clone())
        .unwrap_or_default();
    let mut short = String::new();
    for line in typical.lines() {
        if short.len() > 1000 {
            break;
        }
        short.push_str(line);
        short.push('\n');
    }
    let long = articles[..4]
        .iter()
        .map(|a| a.body.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    vec![("short", short), ("typical", typical), ("long", long)]
}

fn normalise(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalise");
    for (name, body) in sized_bodies() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            let mut buf = Vec::with_capacity(32);
            b.iter(|| {
                let mut n = 0usize;
                for line in body_text(body).split('\n') {
                    for_each_word(line, &mut buf, |w| n += w.len());
                }
                black_box(n)
            })
        });
    }
    group.finish();
}

fn shingle_sign(c: &mut Criterion) {
    let engine = Engine::with_defaults();
    let mut group = c.benchmark_group("shingle_sign");
    for (name, body) in sized_bodies() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| {
                let p = engine.preparer().prepare(None, body);
                black_box(engine.signer().sign([p.shingles.as_slice()], p.words()))
            })
        });
    }
    group.finish();
}

fn signature_scheme(c: &mut Criterion) {
    let engine = Engine::with_defaults();
    let (_, body) = sized_bodies().swap_remove(1);
    let prepared = engine.preparer().prepare(None, &body);
    let mut group = c.benchmark_group("signature_scheme");
    group.throughput(Throughput::Elements(prepared.shingles.len() as u64));
    for (name, scheme) in [
        ("oph", SignatureScheme::Oph),
        ("multiply-shift", SignatureScheme::MultiplyShift),
    ] {
        let signer = Signer::new(scheme, 128);
        group.bench_function(name, |b| {
            b.iter(|| black_box(signer.sign([prepared.shingles.as_slice()], prepared.words())))
        });
    }
    group.finish();
}

/// A prepared body's paragraphs as `Profile::build` takes them.
fn profile_parts(p: &syndedup::dedup::Prepared) -> Vec<(&[u64], u32)> {
    p.paragraphs
        .iter()
        .map(|s| (&p.shingles[s.start as usize..s.end as usize], s.words))
        .collect()
}

fn profile(c: &mut Criterion) {
    let engine = Engine::with_defaults();
    let bodies = sized_bodies();
    let prepared: Vec<_> = bodies
        .iter()
        .map(|(_, body)| engine.preparer().prepare(None, body))
        .collect();
    let mut group = c.benchmark_group("profile");
    for ((name, _), p) in bodies.iter().zip(&prepared) {
        let parts = profile_parts(p);
        group.throughput(Throughput::Elements(p.shingles.len() as u64));
        group.bench_with_input(BenchmarkId::new("build", name), &parts, |b, parts| {
            b.iter(|| black_box(Profile::build(parts)))
        });
    }
    let built: Vec<Profile> = prepared
        .iter()
        .map(|p| Profile::build(&profile_parts(p)))
        .collect();
    // A copy against itself (the common candidate), and the short item against the long read
    // (sizes far apart: the galloping path).
    for (name, a, b) in [
        ("copy", &built[1], &built[1]),
        ("stub_in_long", &built[0], &built[2]),
    ] {
        group.throughput(Throughput::Elements((a.len() + b.len()) as u64));
        group.bench_function(BenchmarkId::new("overlap", name), |bench| {
            bench.iter(|| black_box(a.overlap(b)))
        });
    }
    group.finish();
}

fn index_match_merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("index_match_merge");
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        let articles = corpus(n);
        let mut signer = Engine::with_defaults();
        let signed: Vec<(ArticleMeta, syndedup::dedup::Fingerprint, i64)> = articles
            .iter()
            .map(|a| {
                let p = signer.prepare(a);
                let fp = signer.fingerprint(a.meta.outlet.as_deref(), &p);
                let t = a.meta.published.map(|p| p.timestamp()).unwrap_or(0);
                (a.meta.clone(), fp, t)
            })
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &signed, |b, signed| {
            b.iter(|| {
                let mut engine = Engine::with_defaults();
                for (meta, fp, t) in signed {
                    black_box(engine.insert(meta.clone(), fp, *t));
                }
                engine.story_count()
            })
        });
    }
    group.finish();
}

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(10);
    for n in [1_000usize, 5_000] {
        let articles = corpus(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &articles, |b, articles| {
            b.iter(|| {
                let mut engine = Engine::with_defaults();
                for a in articles {
                    black_box(engine.add(a));
                }
                engine.story_count()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    normalise,
    shingle_sign,
    signature_scheme,
    profile,
    index_match_merge,
    end_to_end
);
criterion_main!(benches);
