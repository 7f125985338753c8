//! The store through the library API: atomic batches, restart, window and retention, the
//! one-writer lock, schema and settings checks.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use syndedup::dedup::Fingerprint;
use syndedup::store::{
    content_hash, restore_engine, Batch, Emission, EmissionKind, HostState, ItemKey, ItemRecord,
    OutletState, PollState, PollStatus, SqliteStore, Store, StoryQuery,
};
use syndedup::{Article, ArticleMeta, Decision, Engine, EngineConfig, StoryId};

const DAY: i64 = 86_400;
const T0: i64 = 1_709_251_200; // 2024-03-01

fn at(secs: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp(secs, 0)
        .expect("valid time")
        .fixed_offset()
}

/// Distinct texts: each sentence is built from a seed so different seeds share few shingles.
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

fn article(id: &str, outlet: &str, body: &str, time: i64) -> Article {
    Article::new(id, body)
        .with_outlet(outlet)
        .with_published(at(time))
}

/// Runs an article through the engine and turns the outcome into a store record.
fn decide(engine: &mut Engine, a: &Article) -> ItemRecord {
    let prepared = engine.prepare(a);
    let fp = engine.fingerprint(a.meta.outlet.as_deref(), &prepared);
    let time = a.meta.published.map(|p| p.timestamp()).unwrap_or(0);
    let decision = engine.insert(a.meta.clone(), &fp, time);
    ItemRecord {
        meta: a.meta.clone(),
        content_hash: content_hash(&a.body),
        time,
        seen_at: time,
        fingerprint: fp,
        decision,
        duplicate_of: None,
        payload: Some(format!("{{\"id\":\"{}\"}}", a.meta.id)),
    }
}

fn items(engine: &mut Engine, articles: &[Article]) -> Batch {
    let mut batch = Batch::default();
    for a in articles {
        batch.items.push(decide(engine, a));
    }
    batch
}

fn outlet_state(name: &str) -> (String, OutletState) {
    (
        name.to_string(),
        OutletState {
            etag: Some("\"v7\"".to_string()),
            last_modified: Some("Fri, 01 Mar 2024 10:00:00 GMT".to_string()),
            failures: 2,
            hint_secs: Some(600),
            next_due: Some(T0 + 900),
            last_poll: Some(T0),
            last_status: Some(PollStatus::failed(Some(503))),
            last_error: Some("HTTP 503 Service Unavailable".to_string()),
            polls: 12,
        },
    )
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).expect("engine")
}

fn sql(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

#[test]
fn a_batch_commits_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let mut store = SqliteStore::open(&path).expect("open");
    let mut e = engine();
    let mut batch = items(&mut e, &[article("a1", "Wire", &text(1), T0)]);
    batch.outlet = Some(outlet_state("Wire"));
    batch.hosts.push((
        "wire.example".to_string(),
        HostState {
            blocked_until: Some(T0 + 60),
        },
    ));
    batch.emissions.push(Emission {
        story: StoryId(1),
        kind: EmissionKind::New,
        item: ItemKey {
            outlet: Some("Wire".into()),
            id: "a1".into(),
        },
        at: T0,
    });
    // Make the last statement of the batch fail, as a full disk or a crash would.
    sql(&path)
        .execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON emission BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .expect("trigger");
    let err = store
        .commit(&batch)
        .expect_err("the batch fails")
        .to_string();
    assert!(err.contains("state.db") && err.contains("boom"), "{err}");
    let key = ItemKey {
        outlet: Some("Wire".into()),
        id: "a1".into(),
    };
    assert_eq!(store.seen(&key).expect("seen"), None, "item kept");
    assert_eq!(
        store.poll_state().expect("poll state"),
        PollState::default(),
        "outlet or item kept"
    );
    assert!(store
        .stories(&StoryQuery::default())
        .expect("stories")
        .is_empty());

    sql(&path)
        .execute_batch("DROP TRIGGER boom;")
        .expect("drop trigger");
    store.commit(&batch).expect("commit");
    assert!(store.seen(&key).expect("seen").is_some());
    let poll = store.poll_state().expect("poll state");
    let (name, outlet) = outlet_state("Wire");
    assert_eq!(poll.outlets.get(&name), Some(&outlet));
    assert_eq!(
        poll.hosts.get("wire.example"),
        Some(&HostState {
            blocked_until: Some(T0 + 60)
        })
    );
    let seen = poll.seen.get("Wire", "a1").expect("a1 in the seen set");
    assert_eq!(seen.content, content_hash(&text(1)));
    assert_eq!((seen.first_seen, seen.last_seen), (T0, T0));
    let stories = store.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(stories.len(), 1);
    assert!(stories[0].emitted);
}

#[test]
fn a_restart_resumes_matching_and_story_numbering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let wire = text(7);
    {
        let mut store = SqliteStore::open(&path).expect("open");
        let mut e = engine();
        let batch = items(
            &mut e,
            &[
                article("a1", "Wire", &wire, T0),
                article("b1", "Paper", &text(8), T0 + 60),
                article("c1", "Paper", &text(9), T0 + 120),
            ],
        );
        assert_eq!(
            batch
                .items
                .iter()
                .map(|i| i.decision.story)
                .collect::<Vec<_>>(),
            vec![StoryId(1), StoryId(2), StoryId(3)]
        );
        store.commit(&batch).expect("commit");
        let mut outlet = outlet_state("Paper");
        outlet.1.etag = Some("\"v8\"".to_string());
        store
            .commit(&Batch {
                outlet: Some(outlet),
                ..Batch::default()
            })
            .expect("commit");
    }
    let mut store = SqliteStore::open(&path).expect("reopen");
    let snapshot = store.load(T0 - DAY).expect("load");
    assert_eq!(snapshot.items.len(), 3);
    assert_eq!(snapshot.next_story, 4);
    let poll = store.poll_state().expect("poll state");
    assert_eq!(poll.outlets.len(), 1);
    assert_eq!(poll.outlets["Paper"].etag.as_deref(), Some("\"v8\""));
    assert_eq!(poll.seen.len(), 3);
    let mut e = engine();
    restore_engine(&mut e, &snapshot);
    let copy = decide(
        &mut e,
        &article(
            "z9",
            "Daily",
            &format!("{wire} Copyright Daily News."),
            T0 + 3600,
        ),
    );
    assert_eq!(copy.decision.story, StoryId(1), "{:?}", copy.decision);
    assert_eq!(copy.decision.duplicate_of.as_deref(), Some("a1"));
    let fresh = decide(&mut e, &article("n1", "Daily", &text(10), T0 + 3600));
    assert_eq!(fresh.decision.story, StoryId(4));
    store
        .commit(&Batch {
            items: vec![copy, fresh],
            ..Batch::default()
        })
        .expect("commit");
    let story = store.story(StoryId(1)).expect("read").expect("story 1");
    assert_eq!(story.copies.len(), 2);
    let ids: Vec<&str> = story.copies.iter().map(|c| c.meta.id.as_str()).collect();
    assert_eq!(ids, ["a1", "z9"]);
    let rule = syndedup::dedup::MatchRule::from_config(&syndedup::config::DedupConfig::default());
    let scores = story.scores(&rule);
    assert!(scores.iter().all(|&s| s > 0.8), "{scores:?}");
}

#[test]
fn ids_continue_after_stories_outside_the_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let mut store = SqliteStore::open(&path).expect("open");
    let mut e = engine();
    let old = items(
        &mut e,
        &[
            article("o1", "Wire", &text(20), T0),
            article("o2", "Wire", &text(21), T0 + 10),
        ],
    );
    store.commit(&old).expect("commit");
    // Nothing of the above is inside a window that starts ten days later.
    let snapshot = store.load(T0 + 10 * DAY).expect("load");
    assert!(snapshot.items.is_empty());
    let mut e = engine();
    restore_engine(&mut e, &snapshot);
    assert!(e.is_empty(), "the placeholder must not stay in the engine");
    assert!(e.stories().is_empty());
    let next = decide(&mut e, &article("n1", "Wire", &text(22), T0 + 10 * DAY));
    assert_eq!(next.decision.story, StoryId(3));
}

#[test]
fn the_window_limits_matching_and_retention_deletes_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let mut store = SqliteStore::open(&path).expect("open");
    let mut e = engine();
    let old_text = text(30);
    let batch = items(
        &mut e,
        &[
            article("old", "Wire", &old_text, T0),
            article("new", "Wire", &text(31), T0 + 6 * DAY),
        ],
    );
    store.commit(&batch).expect("commit");

    // A restart on day 6 with a 3-day window: only "new" is matchable.
    let snapshot = store.load(T0 + 3 * DAY).expect("load");
    let ids: Vec<&str> = snapshot.items.iter().map(|i| i.meta.id.as_str()).collect();
    assert_eq!(ids, ["new"]);
    let mut e = engine();
    restore_engine(&mut e, &snapshot);
    let late_copy = decide(&mut e, &article("copy", "Paper", &old_text, T0 + 6 * DAY));
    assert!(
        !late_copy.decision.is_duplicate(),
        "a copy of an article outside the window must not match it"
    );
    assert_eq!(late_copy.decision.story, StoryId(3));

    // Retention of 5 days on day 6: "old" and its story are deleted, the rest stays.
    let expired = store.expire(T0 + DAY).expect("expire");
    assert_eq!(expired.items, 1);
    assert_eq!(expired.stories, 1);
    let old_key = ItemKey {
        outlet: Some("Wire".into()),
        id: "old".into(),
    };
    assert_eq!(store.seen(&old_key).expect("seen"), None);
    assert!(store.story(StoryId(1)).expect("read").is_none());
    assert!(store.story(StoryId(2)).expect("read").is_some());
    // Deleted ids are not handed out again.
    assert_eq!(store.load(0).expect("load").next_story, 3);
}

#[test]
fn a_second_writer_is_refused_but_readers_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let mut first = SqliteStore::open(&path).expect("open");
    let err = SqliteStore::open(&path)
        .expect_err("second writer")
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("in use"), "{err}");
    assert!(err.contains(&std::process::id().to_string()), "{err}");

    let mut e = engine();
    first
        .commit(&items(&mut e, &[article("a1", "Wire", &text(40), T0)]))
        .expect("commit");
    let reader = SqliteStore::open_read_only(&path).expect("reader while the writer runs");
    assert_eq!(
        reader.stories(&StoryQuery::default()).expect("read").len(),
        1
    );
    let mut reader = reader;
    assert!(reader.commit(&Batch::default()).is_err(), "reader wrote");

    drop(first);
    SqliteStore::open(&path).expect("writable again once the first writer is gone");
}

#[test]
fn schema_versions_and_signature_settings_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    {
        let mut store = SqliteStore::open(&path).expect("open");
        store
            .check_settings("scheme=Oph permutations=128")
            .expect("first use records");
        store
            .check_settings("scheme=Oph permutations=128")
            .expect("same settings");
        let err = store
            .check_settings("scheme=Oph permutations=64")
            .expect_err("other settings")
            .to_string();
        assert!(
            err.contains("permutations=64") && err.contains("state.db"),
            "{err}"
        );
    }
    let version: i64 = sql(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, syndedup::store::SCHEMA_VERSION);
    let mode: String = sql(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    sql(&path)
        .execute_batch("PRAGMA user_version = 99;")
        .expect("bump");
    let err = SqliteStore::open(&path)
        .expect_err("newer schema")
        .to_string();
    assert!(err.contains("99") && err.contains("newer"), "{err}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database at all, just some text").expect("write");
    let err = SqliteStore::open(&junk)
        .expect_err("not sqlite")
        .to_string();
    assert!(err.contains("junk.db"), "{err}");
    let err = SqliteStore::open_read_only(&dir.path().join("missing.db"))
        .expect_err("missing")
        .to_string();
    assert!(
        err.contains("missing.db") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn an_edited_item_that_moves_leaves_no_empty_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let mut store = SqliteStore::open(&path).expect("open");
    let fp = Fingerprint {
        sig: vec![1; 128],
        shingles: 10,
        words: 14,
        profile: Default::default(),
        paragraph_keys: Vec::new(),
    };
    let record = |story: u64, hash: u64| ItemRecord {
        meta: ArticleMeta {
            id: "x".into(),
            outlet: Some("Wire".into()),
            ..ArticleMeta::default()
        },
        content_hash: hash,
        time: T0,
        seen_at: T0,
        fingerprint: fp.clone(),
        decision: Decision {
            story: StoryId(story),
            duplicate_of: None,
            score: None,
            became_canonical: true,
            merged: Vec::new(),
        },
        duplicate_of: None,
        payload: None,
    };
    store
        .commit(&Batch {
            items: vec![record(1, 11)],
            ..Batch::default()
        })
        .expect("commit");
    store
        .commit(&Batch {
            items: vec![record(2, 12)],
            ..Batch::default()
        })
        .expect("commit");
    let key = ItemKey {
        outlet: Some("Wire".into()),
        id: "x".into(),
    };
    assert_eq!(store.seen(&key).expect("seen"), Some(12));
    assert!(store.story(StoryId(1)).expect("read").is_none());
    let moved = store.story(StoryId(2)).expect("read").expect("story 2");
    assert_eq!(moved.copies.len(), 1);
    assert_eq!(moved.canonical_meta().map(|m| m.id.as_str()), Some("x"));
}

#[test]
fn a_story_merge_is_stored_and_its_id_resolves_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let mut engine = Engine::with_defaults();
    let para = |seed: u64| format!("{}.", text(seed));
    let join = |seeds: &[u64]| {
        seeds
            .iter()
            .map(|&s| para(s))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let x = decide(
        &mut engine,
        &article("x", "Wire", &join(&[1, 2, 3, 11, 12, 13]), T0),
    );
    let y = decide(
        &mut engine,
        &article("y", "Post", &join(&[1, 2, 3, 21, 22, 23]), T0 + 60),
    );
    assert_ne!(x.decision.story, y.decision.story);
    let z = decide(
        &mut engine,
        &article(
            "z",
            "Daily",
            &join(&[1, 2, 3, 21, 22, 23, 11, 12, 13]),
            T0 + 120,
        ),
    );
    assert_eq!(z.decision.merged, vec![y.decision.story]);
    let (survivor, absorbed) = (x.decision.story, y.decision.story);
    {
        let mut store = SqliteStore::open(&path).expect("open");
        // x and y were committed before; the merge comes with z.
        store
            .commit(&Batch {
                items: vec![x, y],
                ..Batch::default()
            })
            .expect("commit");
        store
            .commit(&Batch {
                merges: vec![syndedup::store::StoryMerge { absorbed, survivor }],
                items: vec![z],
                ..Batch::default()
            })
            .expect("commit the merge");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let story = store
        .story(absorbed)
        .expect("read")
        .expect("the alias resolves");
    assert_eq!(story.story, survivor);
    let mut ids: Vec<&str> = story.copies.iter().map(|c| c.meta.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["x", "y", "z"]);
    let listed = store.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(listed.len(), 1, "the absorbed story is gone from listings");
    let snapshot = store.load(0).expect("load");
    assert_eq!(snapshot.aliases.len(), 1);
    let mut restored = Engine::with_defaults();
    restore_engine(&mut restored, &snapshot);
    assert_eq!(restored.resolve(absorbed), survivor);
    assert_eq!(restored.stories().len(), 1);
}

#[test]
fn paragraphs_recurring_across_stories_are_known_again_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let quote = "Our relationship with the river council has never been worse, the minister wrote on Monday.";
    let mut engine = Engine::with_defaults();
    let mut records = Vec::new();
    for (i, seed) in [31u64, 32, 33].into_iter().enumerate() {
        let body = format!("{}.\n{quote}\n{}.", text(seed), text(seed + 100));
        let a = article(&format!("q{i}"), "Wire", &body, T0 + i as i64 * 60);
        records.push(decide(&mut engine, &a));
    }
    let stories: std::collections::HashSet<StoryId> =
        records.iter().map(|r| r.decision.story).collect();
    assert_eq!(
        stories.len(),
        3,
        "three different stories quote the same line"
    );
    {
        let mut store = SqliteStore::open(&path).expect("open");
        store
            .commit(&Batch {
                items: records,
                ..Batch::default()
            })
            .expect("commit");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let snapshot = store.load(0).expect("load");
    let mut restored = Engine::with_defaults();
    restore_engine(&mut restored, &snapshot);
    let fourth = article("q4", "Post", &format!("{}.\n{quote}", text(40)), T0 + 600);
    let prepared = restored.prepare(&fourth);
    let (_, classified) = restored.fingerprint_classified(Some("Post"), &prepared);
    assert_eq!(
        classified.reasons[1],
        Some(syndedup::normalize::chrome::SetAside::Recurring),
        "{classified:?}"
    );
    assert_eq!(classified.reasons[0], None);
}
