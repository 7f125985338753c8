//! The Redis store against real servers (a single node and a 3-master cluster): it answers
//! like the SQLite store for the same batches, a restart replays the log, the decision
//! lock makes two workers deciding copies of one story at the same moment file them into
//! one story, and a worker whose lock expired cannot commit.

mod redis_support;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use syndedup::store::{
    catch_up_engine, content_hash, Batch, Emission, EmissionKind, ItemKey, ItemRecord, OutletState,
    PollResult, PollTally, RedisSettings, RedisStore, SqliteStore, Store, StoredStory, StoryQuery,
};
use syndedup::{Article, Engine, EngineConfig, StoryId};

const T0: i64 = 1_709_251_200; // 2024-03-01

fn at(secs: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp(secs, 0)
        .expect("valid time")
        .fixed_offset()
}

/// Distinct texts: each built from a seed so different seeds share few shingles.
fn text(seed: u64) -> String {
    const WORDS: &[&str] = &[
        "minister", "river", "council", "budget", "storm", "election", "harbour", "factory",
        "school", "court", "market", "bridge", "hospital", "airport", "festival", "railway",
        "museum", "police", "farmers", "workers", "voters", "league", "senate", "village",
    ];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut words = Vec::new();
    for _ in 0..60 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        words.push(WORDS[(state % WORDS.len() as u64) as usize]);
    }
    words.join(" ")
}

fn settings(redis: &redis_support::Redis, prefix: &str) -> RedisSettings {
    RedisSettings {
        urls: redis.urls.clone(),
        prefix: prefix.to_string(),
        password: None,
        tls: false,
        lock_ttl: Duration::from_secs(5),
        lease: Duration::from_secs(5),
        retry_for: Duration::from_secs(5),
    }
}

/// Decides articles with the engine (engine ids `<outlet>:<id>`, as the daemon) and builds
/// their batch: records, an emission per new story, one output line per item, a tally.
fn batch(
    engine: &mut Engine,
    emitted: &mut HashSet<StoryId>,
    items: &[(&str, &str, String, i64)],
) -> Batch {
    let mut b = Batch::default();
    for (outlet, id, body, time) in items {
        let a = Article::new(ItemKey::new(outlet, id).engine_id(), body.as_str())
            .with_outlet(*outlet)
            .with_published(at(*time));
        let prepared = engine.prepare(&a);
        let fp = engine.fingerprint(Some(outlet), &prepared);
        let decision = engine.insert(a.meta.clone(), &fp, *time);
        let mut meta = a.meta.clone();
        meta.id = id.to_string();
        if decision.became_canonical {
            b.emissions.push(Emission {
                story: decision.story,
                kind: if emitted.insert(decision.story) {
                    EmissionKind::New
                } else {
                    EmissionKind::Update
                },
                item: ItemKey::new(outlet, id),
                at: *time,
            });
        }
        b.lines.push(format!(
            "{{\"outlet\":\"{outlet}\",\"id\":\"{id}\",\"story\":{}}}",
            decision.story.0
        ));
        b.items.push(ItemRecord {
            meta,
            content_hash: content_hash(body),
            time: *time,
            seen_at: *time,
            fingerprint: fp,
            decision,
            duplicate_of: None,
            payload: Some(format!("{{\"id\":\"{id}\"}}")),
        });
    }
    let outlet = items.first().map_or("", |i| i.0);
    b.outlet = Some((
        outlet.to_string(),
        OutletState {
            etag: Some("\"e1\"".to_string()),
            polls: 1,
            next_due: Some(T0 + 600),
            ..OutletState::default()
        },
    ));
    b.tally = Some(PollTally {
        outlet: outlet.to_string(),
        result: PollResult::Ok,
        fetch: Duration::from_millis(12),
        items: items.len() as u64,
        new: items.len() as u64,
        duplicates: 0,
        engine: Duration::from_micros(300),
        repairs: vec!["entities".to_string()],
        full_text: vec![("fetched", 1)],
    });
    b.seen_at = items.first().map_or(T0, |i| i.3);
    b
}

type Shape = Vec<(u64, usize, Vec<String>, bool)>;

fn shape(stories: Vec<StoredStory>) -> Shape {
    stories
        .into_iter()
        .map(|s| {
            let ids = s.copies.iter().map(|c| c.meta.id.clone()).collect();
            (s.story.0, s.canonical, ids, s.emitted)
        })
        .collect()
}

/// Every answer of the two stores, for comparison.
fn answers(store: &dyn Store, since: i64) -> String {
    let snap = store.load(since).expect("load");
    let items: Vec<String> = snap
        .items
        .iter()
        .map(|i| format!("{}:{}:{}", i.meta.id, i.story.0, i.canonical))
        .collect();
    let mut emitted: Vec<u64> = snap.emitted.iter().map(|s| s.0).collect();
    emitted.sort();
    let poll = store.poll_state().expect("poll state");
    // The seen set is a HashMap per outlet: compare it in key order.
    let seen: Vec<(String, std::collections::BTreeMap<String, String>)> = poll
        .seen
        .outlets
        .iter()
        .map(|(o, m)| {
            let sorted = m
                .iter()
                .map(|(k, v)| (k.clone(), format!("{v:?}")))
                .collect();
            (o.clone(), sorted)
        })
        .collect();
    format!(
        "stories {:?}\nitems {items:?}\nemitted {emitted:?}\nnext {} clock {:?}\noutlets {:?} hosts {:?}\nseen set {seen:?}\ncounters {:?}\npending {:?}\nseen {:?}",
        shape(store.stories(&StoryQuery::default()).expect("stories")),
        snap.next_story,
        snap.clock,
        poll.outlets,
        poll.hosts,
        store.counters().expect("counters"),
        store.output_pending().expect("pending").len(),
        store.seen(&ItemKey::new("Paper", "b1")).expect("seen"),
    )
}

fn conforms(redis: &redis_support::Redis) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqlite = SqliteStore::open(&dir.path().join("s.db")).expect("sqlite");
    let mut shared = RedisStore::open(settings(redis, "conf")).expect("redis store");
    let mut engine = Engine::new(EngineConfig::default()).expect("engine");
    let mut emitted = HashSet::new();
    let copy = format!("{} Read more on our site.", text(1));
    let batches = [
        batch(
            &mut engine,
            &mut emitted,
            &[
                ("Wire", "a1", text(1), T0),
                ("Wire", "r1", text(2), T0 + 10),
            ],
        ),
        batch(
            &mut engine,
            &mut emitted,
            &[("Paper", "b1", copy, T0 + 100)],
        ),
        batch(
            &mut engine,
            &mut emitted,
            &[("Daily", "d1", text(3), T0 + 200_000)],
        ),
    ];
    for b in &batches {
        sqlite.commit(b).expect("sqlite commit");
        shared.commit(b).expect("redis commit");
    }
    let since = T0 + 50;
    let expected = answers(&sqlite, since);
    assert_eq!(answers(&shared, since), expected);
    assert!(expected.contains("\"a1\", \"b1\""), "{expected}");
    // A second worker (or a restart) replays the log to the same answers.
    let other = RedisStore::open(settings(redis, "conf")).expect("second store");
    assert_eq!(answers(&other, since), expected);
    // Expiry is a log entry too: every replica applies it.
    assert_eq!(
        shared.expire(T0 + 150).expect("redis expire"),
        sqlite.expire(T0 + 150).expect("sqlite expire")
    );
    let expired = answers(&sqlite, since);
    assert_eq!(answers(&shared, since), expired);
    assert_eq!(answers(&other, since), expired);
    assert_ne!(expired, expected);
    // The output lines are in the shared stream as well.
    let len = redis.cli(&["XLEN", "{conf}:outbox"]);
    assert_eq!(len.trim(), "4", "one stream entry per output line");
}

#[test]
fn the_redis_store_answers_like_sqlite_on_a_single_node() {
    if !redis_support::available("the_redis_store_answers_like_sqlite_on_a_single_node") {
        return;
    }
    conforms(&redis_support::single());
}

#[test]
fn the_redis_store_answers_like_sqlite_on_a_cluster() {
    if !redis_support::available("the_redis_store_answers_like_sqlite_on_a_cluster") {
        return;
    }
    conforms(&redis_support::cluster());
}

/// One worker of the race: decides its copy of each story under the decision lock after
/// catching up on the other's commits, as the poller does.
fn race_worker(settings: RedisSettings, outlet: &'static str, rounds: usize, go: Arc<Barrier>) {
    let mut store = RedisStore::open(settings).expect("open");
    let mut engine = Engine::new(EngineConfig::default()).expect("engine");
    let mut emitted = HashSet::new();
    for k in 0..rounds {
        go.wait();
        store.begin_decide().expect("lock");
        let foreign = store.take_foreign();
        catch_up_engine(
            &store,
            &mut engine,
            &mut emitted,
            &foreign,
            0,
            ItemKey::engine_id,
        )
        .expect("catch up");
        let body = format!("{} Filed by {outlet}.", text(100 + k as u64));
        let b = batch(
            &mut engine,
            &mut emitted,
            &[(outlet, &format!("{outlet}-{k}"), body, T0 + k as i64)],
        );
        store.commit(&b).expect("commit");
    }
}

fn race(redis: &redis_support::Redis) {
    const ROUNDS: usize = 12;
    let go = Arc::new(Barrier::new(2));
    let workers: Vec<_> = [("Alpha"), ("Beta")]
        .into_iter()
        .map(|outlet| {
            let (s, go) = (settings(redis, "race"), go.clone());
            std::thread::spawn(move || race_worker(s, outlet, ROUNDS, go))
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let reader = RedisStore::open(settings(redis, "race")).expect("reader");
    let stories = reader.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(
        stories.len(),
        ROUNDS,
        "one story per pair of copies: {:?}",
        shape(stories)
    );
    for s in &stories {
        assert_eq!(s.copies.len(), 2, "{:?}", s.copies);
        assert!(s.emitted);
    }
    let ids: HashSet<u64> = stories.iter().map(|s| s.story.0).collect();
    assert_eq!(ids.len(), ROUNDS, "story ids are unique");
    // Each story was emitted as new exactly once in the shared output.
    let out = reader.output_pending().expect("outbox");
    assert_eq!(out.len(), 2 * ROUNDS, "one line per item");
}

/// The control: workers that decide without the lock and the catch-up would start a story
/// each; the store refuses the second one's batch instead of writing it.
#[test]
fn a_batch_decided_without_the_others_commits_is_refused() {
    if !redis_support::available("a_batch_decided_without_the_others_commits_is_refused") {
        return;
    }
    let redis = redis_support::single();
    let mut a = RedisStore::open(settings(&redis, "control")).expect("a");
    let mut b = RedisStore::open(settings(&redis, "control")).expect("b");
    let mut ea = Engine::new(EngineConfig::default()).expect("engine");
    let mut eb = Engine::new(EngineConfig::default()).expect("engine");
    let (mut ma, mut mb) = (HashSet::new(), HashSet::new());
    let body = |w: &str| format!("{} Filed by {w}.", text(42));
    // Both decide at the same moment, each on its own engine: both start story 1.
    let ba = batch(&mut ea, &mut ma, &[("Alpha", "a", body("Alpha"), T0)]);
    let bb = batch(&mut eb, &mut mb, &[("Beta", "b", body("Beta"), T0)]);
    assert_eq!(ba.items[0].decision.story, bb.items[0].decision.story);
    assert!(
        ba.items[0].decision.duplicate_of.is_none() && bb.items[0].decision.duplicate_of.is_none()
    );
    a.commit(&ba).expect("the first commit");
    let err = b
        .commit(&bb)
        .expect_err("the second is refused")
        .to_string();
    assert!(err.contains("not written"), "{err}");
    let stories = b.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(shape(stories).len(), 1, "no second story");
}

#[test]
fn two_workers_deciding_copies_at_once_make_one_story_single_node() {
    if !redis_support::available("two_workers_deciding_copies_at_once_make_one_story_single_node") {
        return;
    }
    race(&redis_support::single());
}

#[test]
fn two_workers_deciding_copies_at_once_make_one_story_on_a_cluster() {
    if !redis_support::available("two_workers_deciding_copies_at_once_make_one_story_on_a_cluster")
    {
        return;
    }
    race(&redis_support::cluster());
}

#[test]
fn a_worker_whose_decision_lock_expired_cannot_commit() {
    if !redis_support::available("a_worker_whose_decision_lock_expired_cannot_commit") {
        return;
    }
    let redis = redis_support::single();
    let mut s = settings(&redis, "fence");
    s.lock_ttl = Duration::from_secs(1);
    let mut slow = RedisStore::open(s.clone()).expect("slow");
    let mut fast = RedisStore::open(s).expect("fast");
    let mut e1 = Engine::new(EngineConfig::default()).expect("engine");
    let mut e2 = Engine::new(EngineConfig::default()).expect("engine");
    let (mut m1, mut m2) = (HashSet::new(), HashSet::new());
    slow.begin_decide().expect("lock");
    let late = batch(&mut e1, &mut m1, &[("Alpha", "a", text(7), T0)]);
    std::thread::sleep(Duration::from_millis(1300));
    fast.begin_decide().expect("the expired lock is taken over");
    let first = batch(&mut e2, &mut m2, &[("Beta", "b", text(7), T0)]);
    fast.commit(&first).expect("fast commits");
    let err = slow
        .commit(&late)
        .expect_err("a batch decided without the other's commit is refused")
        .to_string();
    assert!(err.contains("not written"), "{err}");
    let reader = RedisStore::open(settings(&redis, "fence")).expect("reader");
    let stories = reader.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(shape(stories).len(), 1);
    assert_eq!(
        reader.seen(&ItemKey::new("Alpha", "a")).expect("seen"),
        None
    );
}

#[test]
fn an_unreachable_redis_is_named_in_the_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let s = RedisSettings {
        urls: vec![format!("redis://127.0.0.1:{port}")],
        prefix: "x".to_string(),
        password: None,
        tls: false,
        lock_ttl: Duration::from_secs(1),
        lease: Duration::from_secs(1),
        retry_for: Duration::from_millis(300),
    };
    let err = match RedisStore::open(s) {
        Ok(_) => panic!("nothing listens there"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("read the log"),
        "{err}"
    );
}

#[test]
fn a_commit_waits_out_a_redis_restart_and_goes_through_once() {
    if !redis_support::available("a_commit_waits_out_a_redis_restart_and_goes_through_once") {
        return;
    }
    let mut redis = redis_support::single_persistent();
    let mut s = settings(&redis, "restart");
    s.retry_for = Duration::from_secs(30);
    let mut store = RedisStore::open(s).expect("open");
    let mut engine = Engine::new(EngineConfig::default()).expect("engine");
    let mut emitted = HashSet::new();
    let first = batch(&mut engine, &mut emitted, &[("Alpha", "a", text(1), T0)]);
    store.commit(&first).expect("first commit");
    redis.nodes[0].kill();
    let second = batch(
        &mut engine,
        &mut emitted,
        &[("Alpha", "b", text(2), T0 + 1)],
    );
    // The server comes back 1.5 s later; the commit retries meanwhile.
    std::thread::scope(|scope| {
        let node = &mut redis.nodes[0];
        let back = scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            node.restart();
        });
        let started = std::time::Instant::now();
        store
            .commit(&second)
            .expect("the commit goes through after the restart");
        assert!(started.elapsed() >= Duration::from_millis(1000));
        back.join().expect("restarted");
    });
    let reader = RedisStore::open(settings(&redis, "restart")).expect("reader");
    let stories = reader.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(stories.len(), 2, "{:?}", shape(stories));
    assert_eq!(
        redis.cli(&["XLEN", "{restart}:log"]).trim(),
        "2",
        "written once"
    );
}
