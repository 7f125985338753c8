//! Measures the SQLite store: batch commit throughput, database bytes per article, and the
//! restart time (load plus index rebuild) with every article inside the window.
//!
//! ```sh
//! cargo run --release --example store_bench -- [ARTICLES] [ITEMS_PER_BATCH] [DIR] [now]
//! ```
//!
//! Defaults: 100000 articles, 50 items per batch (one feed poll), a temporary directory.
//! Texts come from a seeded generator (same numbers on every run); 30% of articles are copies
//! of a recent one with a trailer, the rest are new stories.

use std::path::PathBuf;
use std::time::Instant;

use syndedup::store::{
    content_hash, restore_engine, Batch, Emission, EmissionKind, ItemKey, ItemRecord, OutletState,
    PollStatus, SqliteStore, Store,
};
use syndedup::{Article, Engine, EngineConfig};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn vocabulary(rng: &mut Rng, size: usize) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "fo", "gu", "ha", "ji", "pe", "qu",
        "ri", "st", "tr", "an", "el", "or", "un", "is", "at",
    ];
    (0..size)
        .map(|_| {
            let n = 2 + rng.below(3);
            (0..n)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect()
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: usize = args
        .first()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let per_batch: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(50);
    let tmp = tempfile::tempdir()?;
    let dir = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("store-bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }

    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let words = vocabulary(&mut rng, 5000);
    let outlets: Vec<String> = (0..50).map(|i| format!("Outlet {i}")).collect();
    // A fourth argument `now` dates the articles in the two days before now, so a `syndedup
    // run` on the database finds them inside its wall-clock window (to time its restart).
    let start_time = if args.get(3).map(String::as_str) == Some("now") {
        chrono::Utc::now().timestamp() - 2 * 86_400
    } else {
        1_709_251_200i64
    };
    // Everything inside a 3-day window: the restart rebuilds the whole index.
    let step = (2 * 86_400 / total.max(1) as i64).max(1);

    let mut engine = Engine::new(EngineConfig::default())?;
    let mut store = SqliteStore::open(&path)?;
    let mut bodies: Vec<String> = Vec::new();
    let mut batch = Batch::default();
    let (mut commit_secs, mut commits, mut payload_bytes) = (0f64, 0u64, 0usize);
    let mut engine_secs = 0f64;
    for i in 0..total {
        let body = if i > 0 && rng.below(10) < 3 {
            let recent = bodies.len().saturating_sub(2000);
            let original = &bodies[recent + rng.below(bodies.len() - recent)];
            format!("{original}\n(This story was published from a wire agency feed.)")
        } else {
            let n = 120 + rng.below(130);
            let mut text = String::new();
            for w in 0..n {
                if w > 0 {
                    text.push(if w % 25 == 0 { '\n' } else { ' ' });
                }
                text.push_str(&words[rng.below(words.len())]);
            }
            text
        };
        let outlet = &outlets[rng.below(outlets.len())];
        let time = start_time + i as i64 * step;
        let published = chrono::DateTime::from_timestamp(time, 0)
            .ok_or("time out of range")?
            .fixed_offset();
        let article = Article::new(format!("item-{i}"), body.clone())
            .with_outlet(outlet.clone())
            .with_title(format!("Headline number {i}"))
            .with_url(format!("https://example.org/{i}"))
            .with_published(published);
        let started = Instant::now();
        let prepared = engine.prepare(&article);
        let fp = engine.fingerprint(article.meta.outlet.as_deref(), &prepared);
        let decision = engine.insert(article.meta.clone(), &fp, time);
        engine_secs += started.elapsed().as_secs_f64();
        let payload = serde_json::json!({
            "id": article.meta.id, "outlet": outlet, "title": article.meta.title,
            "url": article.meta.url, "published": published.to_rfc3339(), "body": body,
        })
        .to_string();
        payload_bytes += payload.len();
        if !decision.is_duplicate() {
            batch.emissions.push(Emission {
                story: decision.story,
                kind: EmissionKind::New,
                item: ItemKey::of(&article.meta),
                at: time,
            });
        }
        batch.items.push(ItemRecord {
            content_hash: content_hash(&body),
            meta: article.meta,
            time,
            seen_at: time,
            fingerprint: fp,
            duplicate_of: decision
                .duplicate_of
                .as_deref()
                // The bench's engine ids are bare: which outlet the first copy came from is not kept.
                .map(|id| ItemKey {
                    outlet: None,
                    id: id.to_string(),
                }),
            decision,
            payload: Some(payload),
        });
        bodies.push(body);
        if batch.items.len() >= per_batch || i + 1 == total {
            batch.outlet = Some((
                outlet.clone(),
                OutletState {
                    etag: Some(format!("\"{i}\"")),
                    last_status: Some(PollStatus::fresh(Some(200))),
                    last_poll: Some(time),
                    next_due: Some(time + 900),
                    polls: commits + 1,
                    ..OutletState::default()
                },
            ));
            let started = Instant::now();
            store.commit(&batch)?;
            commit_secs += started.elapsed().as_secs_f64();
            commits += 1;
            batch = Batch::default();
        }
    }
    store.checkpoint()?;
    let bytes = store.disk_bytes();
    let counts = store.counts()?;
    drop(store);

    let started = Instant::now();
    let store = SqliteStore::open(&path)?;
    let snapshot = store.load(start_time - 86_400)?;
    let load_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut restored = Engine::new(EngineConfig::default())?;
    restore_engine(&mut restored, &snapshot);
    let restore_secs = started.elapsed().as_secs_f64();

    println!(
        "articles {total}, stories {}, batches of {per_batch}: {commits}",
        counts.get("story").copied().unwrap_or(0)
    );
    println!(
        "engine (prepare+sign+insert): {:.2} s, {:.0} articles/s",
        engine_secs,
        total as f64 / engine_secs
    );
    println!(
        "commit: {:.2} s total, {:.0} commits/s, {:.0} articles/s, {:.2} ms per commit",
        commit_secs,
        commits as f64 / commit_secs,
        total as f64 / commit_secs,
        1000.0 * commit_secs / commits as f64
    );
    println!(
        "database: {} bytes, {:.0} bytes/article (payload, the item as JSON, averages {:.0} bytes)",
        bytes,
        bytes as f64 / total as f64,
        payload_bytes as f64 / total as f64
    );
    println!(
        "restart: open+load {:.2} s ({} items), index rebuild {:.2} s, total {:.2} s; engine holds {} articles in {} stories",
        load_secs,
        snapshot.items.len(),
        restore_secs,
        load_secs + restore_secs,
        restored.len(),
        restored.story_count()
    );
    Ok(())
}
