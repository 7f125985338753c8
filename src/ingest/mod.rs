//! The engine side of ingest: fresh items through the [`Engine`] into one store [`Batch`]
//! (records, emissions, merges, learner memory) and the output lines it queues.
//!
//! `poll` hands each poll's fresh items here, on the blocking pool; what comes back commits
//! to the store in one transaction (see [`crate::store::Store::commit`]). Rendering a line
//! that cannot be serialised is an error, never an empty line.
//!
//! [`session`] is the store session both `run` and `dedup --state` go through: opening the
//! store, resuming from it, the emitted stories and the batch of the next commit.

pub mod session;

pub use session::{open_store, retention_cutoff, Session};

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use crate::config::OutputKind;
use crate::dedup::{Engine, Fingerprint, Prepared, Speculated};
use crate::error::{Error, Result};
use crate::model::{Article, ArticleMeta, Decision, FeedItem};
use crate::store::{
    content_hash, restore_engine, Batch, CachedPage, EmissionKind, ItemKey, ItemRecord, SeenItem,
    Snapshot, Store,
};
use crate::wire;

/// An item headed for the engine: the feed item, its first-seen time, its content hash, and
/// the main text of its page when that was fetched.
pub struct FreshItem {
    pub item: FeedItem,
    pub first_seen: i64,
    pub content: u64,
    /// Never seen before (as opposed to seen with another body).
    pub new: bool,
    pub page: Option<CachedPage>,
    /// Prepared and fingerprinted ahead of the engine (see [`prepare_ahead`]), or not.
    pub ahead: Option<Ahead>,
}

/// An item's text prepared, and a guess at its fingerprint, made before the engine takes it
/// (for a shared store: before the decision lock). The engine keeps the guess only when its
/// own classification of the text matches (see [`Engine::fingerprint_speculated`]), so the
/// decision is the same as without it.
pub struct Ahead {
    prepared: Prepared,
    speculated: Speculated,
}

/// Prepares `fresh` (normalise, shingle) and guesses each fingerprint with a speculator made
/// from the engine as it stands (only `outlet`'s learner memory is copied). The work that does
/// not need the engine's index, done where the engine is not needed; see [`Ahead`].
pub fn prepare_ahead(engine: &Engine, outlet: &str, fresh: &mut [FreshItem]) {
    let preparer = engine.preparer();
    let mut speculator = engine.speculator_for(Some(outlet));
    for f in fresh {
        let body = match &f.page {
            Some(p) => p.html.as_str(),
            None => f.item.body.as_str(),
        };
        let prepared = preparer.prepare(Some(outlet), body);
        let speculated = speculator.speculate(Some(outlet), &prepared);
        f.ahead = Some(Ahead {
            prepared,
            speculated,
        });
    }
}

/// The seen filter of one outlet's poll: an item seen before with the same body (xxh3, see
/// [`crate::store::content_hash`]) only has its `last_seen` moved to `now` and is returned
/// among the unchanged keys (so the store moves it too); an edited or new item goes to the
/// engine, an edited one keeping its first-seen time.
pub fn filter_seen(
    seen: &mut HashMap<String, SeenItem>,
    outlet: &str,
    items: Vec<FeedItem>,
    now: i64,
) -> (Vec<FreshItem>, Vec<ItemKey>) {
    let mut fresh = Vec::new();
    let mut unchanged = Vec::new();
    for item in items {
        let content = content_hash(&item.body);
        match seen.get_mut(&item.id) {
            Some(s) if s.content == content => {
                s.last_seen = now;
                unchanged.push(ItemKey::new(outlet, &item.id));
            }
            Some(s) => {
                s.content = content;
                s.last_seen = now;
                fresh.push(FreshItem {
                    item,
                    first_seen: s.first_seen,
                    content,
                    new: false,
                    page: None,
                    ahead: None,
                });
            }
            None => {
                seen.insert(
                    item.id.clone(),
                    SeenItem {
                        content,
                        first_seen: now,
                        last_seen: now,
                    },
                );
                fresh.push(FreshItem {
                    item,
                    first_seen: now,
                    content,
                    new: true,
                    page: None,
                    ahead: None,
                });
            }
        }
    }
    (fresh, unchanged)
}

/// How the engine knows stored items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineIds {
    /// The daemon: [`ItemKey::engine_id`], unique across outlets.
    Keyed,
    /// JSON Lines (`dedup --state`): the caller's id as it came.
    Bare,
}

/// Resumes from a store, the one start-up path of `run` and `dedup --state`: deletes what is
/// past retention counted back from `now` (the daemon's wall clock, the stream's latest
/// time; nothing when `None`), loads the items inside the window before `now`, rebuilds the
/// engine's index from them and, with `learner`, the boilerplate learner's memory. Returns
/// the snapshot (emitted stories, items restored) for the caller's own state.
pub fn resume(
    store: &mut dyn Store,
    engine: &mut Engine,
    now: Option<i64>,
    ids: EngineIds,
    learner: bool,
) -> Result<Snapshot> {
    if let Some(now) = now {
        store.expire(retention_cutoff(now, engine.config().dedup.retention))?;
    }
    let window = engine.config().dedup.window;
    let mut snapshot = store.load(retention_cutoff(now.unwrap_or(0), window))?;
    if ids == EngineIds::Keyed {
        // The store keys items by outlet and the feed's id; the engine by the two joined.
        for item in &mut snapshot.items {
            item.meta.id = ItemKey::of(&item.meta).engine_id();
        }
    }
    restore_engine(engine, &snapshot);
    if learner {
        if let Some(memory) = engine.learner_mut() {
            for (outlet, recent) in std::mem::take(&mut snapshot.learner) {
                memory.import(&outlet, recent);
            }
        }
    }
    Ok(snapshot)
}

/// What [`decide`] made of one poll's fresh items (their records, emissions, merges, output
/// lines and learner memory are queued in the session's batch).
#[derive(Debug)]
pub struct Decided {
    /// The body output feeds show for each item, by engine id.
    pub bodies: Vec<(String, String)>,
    /// Items processed, and of them those filed into an existing story.
    pub new: usize,
    pub duplicates: usize,
    /// Time the engine spent.
    pub elapsed: Duration,
}

/// Runs one outlet's fresh items through the engine in order and queues them in the
/// session's batch: a record per item (its key, decision and payload), an emission when an
/// item starts a story (`new`, once per story in the session's emitted set) or becomes its
/// canonical (`update`), the merges it caused, and an output line per `kind`. `learner` adds
/// the outlet's boilerplate memory. `display` gives the body feeds show for an item whose
/// page was fetched. On an error nothing of this poll is queued (the emitted set keeps what
/// it learned).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    engine: &mut Engine,
    session: &mut Session,
    outlet: &str,
    fresh: Vec<FreshItem>,
    kind: Option<OutputKind>,
    learner: bool,
    now_unix: i64,
    display: fn(&CachedPage) -> String,
) -> Result<Decided> {
    let mut poll = Session {
        emitted: std::mem::take(&mut session.emitted),
        batch: Batch::default(),
    };
    let decided = decide_into(
        engine, &mut poll, outlet, fresh, kind, learner, now_unix, display,
    );
    session.emitted = poll.emitted;
    let decided = decided?;
    session.append_decided(poll.batch);
    Ok(decided)
}

/// [`decide`] into a session of its own.
#[allow(clippy::too_many_arguments)]
fn decide_into(
    engine: &mut Engine,
    session: &mut Session,
    outlet: &str,
    fresh: Vec<FreshItem>,
    kind: Option<OutputKind>,
    learner: bool,
    now_unix: i64,
    display: fn(&CachedPage) -> String,
) -> Result<Decided> {
    let started = std::time::Instant::now();
    let mut bodies = Vec::with_capacity(fresh.len());
    let mut dups = 0;
    let n = fresh.len();
    for FreshItem {
        item,
        first_seen,
        content,
        page,
        ahead,
        ..
    } in fresh
    {
        let (decision, mut item, fp) =
            add_item_ahead(engine, outlet, item, first_seen, page.as_ref(), ahead);
        if decision.is_duplicate() {
            dups += 1;
        }
        let key = ItemKey::new(outlet, &item.id);
        // A story's first appearance is emitted once; a later canonical is an update.
        let emission = session.emit_canonical(&decision, key.clone(), now_unix);
        let line = match kind {
            Some(OutputKind::Decisions) => {
                Some(decision_line(outlet, &item, page.as_ref(), &decision)?)
            }
            Some(OutputKind::Stories) => match emission {
                Some(k) => Some(story_line(
                    engine,
                    outlet,
                    &item,
                    page.as_ref(),
                    &decision,
                    k == EmissionKind::Update,
                )?),
                None => None,
            },
            None => None,
        };
        if let Some(line) = line {
            session.batch.lines.push(line);
        }
        let payload =
            serde_json::to_string(&item_json(outlet, &item, page.as_ref())).map_err(|source| {
                Error::Serialize {
                    what: "an item's payload",
                    source,
                }
            })?;
        let duplicate_of = decision
            .duplicate_of
            .as_deref()
            .and_then(ItemKey::from_engine_id);
        session.record(ItemRecord {
            meta: ArticleMeta {
                id: key.id,
                outlet: Some(outlet.to_string()),
                url: item.url.clone(),
                title: item.title.clone(),
                published: item.published,
            },
            content_hash: content,
            time: first_seen,
            seen_at: now_unix,
            fingerprint: fp,
            decision,
            duplicate_of,
            payload: Some(payload),
        });
        let shown = match &page {
            Some(p) => display(p),
            None => std::mem::take(&mut item.body),
        };
        bodies.push((engine_id(outlet, &item.id), shown));
    }
    // Items filed earlier in this batch into a story that a later item merged away
    // are stored under the surviving story (merges are applied before items).
    let batch = &mut session.batch;
    if !batch.merges.is_empty() {
        for item in &mut batch.items {
            item.decision.story = engine.resolve(item.decision.story);
        }
        for e in &mut batch.emissions {
            e.story = engine.resolve(e.story);
        }
    }
    if learner {
        batch.learner = engine
            .learner()
            .and_then(|l| l.export_outlet(outlet))
            .map(|items| vec![(outlet.to_string(), items)])
            .unwrap_or_default();
    }
    Ok(Decided {
        bodies,
        new: n,
        duplicates: dups,
        elapsed: started.elapsed(),
    })
}

/// The engine's id for an item: unique across outlets (see [`ItemKey::engine_id`]).
pub fn engine_id(outlet: &str, id: &str) -> String {
    ItemKey::new(outlet, id).engine_id()
}

fn unix_to_time(secs: i64) -> Option<DateTime<FixedOffset>> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| t.fixed_offset())
}

/// Prepares, signs and inserts one item. Items without a date get their first-seen time. With
/// a fetched `page`, the engine matches on the page's main text instead of the feed's.
pub fn add_item(
    engine: &mut Engine,
    outlet: &str,
    item: FeedItem,
    first_seen: i64,
    page: Option<&CachedPage>,
) -> (Decision, FeedItem, Fingerprint) {
    add_item_ahead(engine, outlet, item, first_seen, page, None)
}

/// [`add_item`] with the item's text prepared and its fingerprint guessed ahead, if it was.
fn add_item_ahead(
    engine: &mut Engine,
    outlet: &str,
    mut item: FeedItem,
    first_seen: i64,
    page: Option<&CachedPage>,
    ahead: Option<Ahead>,
) -> (Decision, FeedItem, Fingerprint) {
    if item.published.is_none() {
        item.published = unix_to_time(first_seen);
    }
    let article = Article {
        meta: ArticleMeta {
            id: engine_id(outlet, &item.id),
            outlet: Some(outlet.to_string()),
            url: item.url.clone(),
            title: item.title.clone(),
            published: item.published,
        },
        body: match page {
            Some(p) => p.html.clone(),
            None => std::mem::take(&mut item.body),
        },
    };
    let fp = match ahead {
        Some(Ahead {
            prepared,
            speculated,
        }) => {
            engine
                .fingerprint_speculated(Some(outlet), &prepared, Some(speculated))
                .0
        }
        None => {
            let prepared = engine.prepare(&article);
            engine.fingerprint(Some(outlet), &prepared)
        }
    };
    // The window runs on first-seen time: feeds misdate items, and expiry uses the wall clock.
    let decision = engine.insert(article.meta, &fp, first_seen);
    if page.is_none() {
        item.body = article.body;
    }
    (decision, item, fp)
}

/// An item as written to the output and stored as its payload (see [`wire::Item`]).
pub fn item_json<'a>(
    outlet: &'a str,
    item: &'a FeedItem,
    page: Option<&'a CachedPage>,
) -> wire::Item<'a> {
    wire::Item {
        id: &item.id,
        outlet: Some(outlet),
        url: item.url.as_deref(),
        title: item.title.as_deref(),
        published: item.published,
        body: Some(&item.body),
        full_text: page.map(|p| p.html.as_str()),
        full_text_url: page.map(|p| p.final_url.as_str()),
        dedup: None,
    }
}

/// One JSON line as text; a value that cannot be serialised is an error naming `what`.
fn to_text(value: &impl serde::Serialize, what: &'static str) -> Result<String> {
    let bytes = wire::to_line(value).map_err(|source| Error::Serialize { what, source })?;
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

/// `kind = "decisions"`: the item plus a `dedup` object naming the story's first item by
/// outlet and id ([`ItemKey::from_engine_id`]).
pub fn decision_line(
    outlet: &str,
    item: &FeedItem,
    page: Option<&CachedPage>,
    decision: &Decision,
) -> Result<String> {
    // The story's first item by its key; an engine id without an outlet (never made by the
    // poller) is named by itself, `"outlet":null`.
    let first = decision
        .duplicate_of
        .as_deref()
        .and_then(ItemKey::from_engine_id);
    let mut v = item_json(outlet, item, page);
    v.dedup = Some(wire::Dedup::of(decision, |eid| match &first {
        Some(key) => wire::ItemRef {
            outlet: key.outlet_name(),
            id: &key.id,
        },
        None => wire::ItemRef {
            outlet: None,
            id: eid,
        },
    }));
    to_text(&v, "a decision line")
}

/// `kind = "stories"`: written when an item starts a story or becomes its canonical version.
pub fn story_line(
    engine: &Engine,
    outlet: &str,
    item: &FeedItem,
    page: Option<&CachedPage>,
    decision: &Decision,
    update: bool,
) -> Result<String> {
    let view = engine.story(decision.story);
    let keys: Vec<Option<ItemKey>> = view
        .as_ref()
        .map(|view| {
            view.copies
                .iter()
                .map(|c| ItemKey::from_engine_id(&c.id))
                .collect()
        })
        .unwrap_or_default();
    let copies = view
        .as_ref()
        .map(|view| {
            view.copies
                .iter()
                .zip(&keys)
                .map(|(c, key)| {
                    let id = key.as_ref().map_or(c.id.as_str(), |k| k.id.as_str());
                    let o = key.as_ref().and_then(ItemKey::outlet_name);
                    wire::Copy {
                        outlet: o.or(c.outlet.as_deref()),
                        ..wire::Copy::of(c, wire::Id::Text(id))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let v = wire::StoryLine {
        story: decision.story,
        update,
        canonical: item_json(outlet, item, page),
        copies,
    };
    to_text(&v, "a story line")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, body: &str) -> FeedItem {
        FeedItem {
            id: id.to_string(),
            url: None,
            title: None,
            published: None,
            body: body.to_string(),
        }
    }

    #[test]
    fn the_seen_filter_passes_new_and_edited_items_and_touches_unchanged_ones() {
        let mut seen = HashMap::new();
        let (fresh, unchanged) =
            filter_seen(&mut seen, "W", vec![item("1", "a"), item("2", "b")], 100);
        assert_eq!((fresh.len(), unchanged.len()), (2, 0));
        assert!(fresh.iter().all(|f| f.new && f.first_seen == 100));
        let (fresh, unchanged) = filter_seen(
            &mut seen,
            "W",
            vec![item("1", "a"), item("2", "b, edited")],
            200,
        );
        assert_eq!(unchanged, vec![ItemKey::new("W", "1")]);
        assert_eq!(fresh.len(), 1);
        assert!(
            !fresh[0].new && fresh[0].first_seen == 100,
            "an edit keeps its first-seen time"
        );
        assert_eq!(seen["1"].last_seen, 200);
        assert_eq!(seen["2"].content, content_hash("b, edited"));
    }

    /// Items prepared and fingerprinted ahead (as a worker of a shared store does before the
    /// decision lock), even from an engine that has not yet seen the outlet's previous poll,
    /// are decided exactly as without it.
    #[test]
    fn items_prepared_ahead_are_decided_as_without_it() {
        let chrome = "Subscribe to our newsletter for the latest headlines every morning.";
        let poll = |outlet: usize, n: usize| -> Vec<FeedItem> {
            (0..6)
                .map(|i| {
                    let story = (outlet + i + n) % 5;
                    item(
                        &format!("{n}-{i}"),
                        &format!(
                            "<p>Story {story}: officials said on Monday that the river dam \
                             project number {story} was delayed again by a dispute.</p>\
                             <p>Engineers for project {story} blamed the costs and a \
                             court ruling on the funding of stage {story}.</p><p>{chrome}</p>"
                        ),
                    )
                })
                .collect()
        };
        // 0: not ahead; 1: each poll just before it is decided; 2: every poll before any is
        // decided (the guesses made from an engine that has seen nothing).
        let run = |ahead: u8| -> Vec<String> {
            let mut engine = Engine::with_defaults();
            let mut session = Session::default();
            let mut seen: HashMap<String, HashMap<String, SeenItem>> = HashMap::new();
            let mut polls = Vec::new();
            for n in 0..4 {
                for o in 0..3 {
                    let outlet = format!("outlet{o}");
                    let seen = seen.entry(outlet.clone()).or_default();
                    let (mut fresh, _) = filter_seen(seen, &outlet, poll(o, n), 100 + n as i64);
                    if ahead == 2 {
                        prepare_ahead(&engine, &outlet, &mut fresh);
                    }
                    polls.push((outlet, fresh));
                }
            }
            for (outlet, mut fresh) in polls {
                if ahead == 1 {
                    prepare_ahead(&engine, &outlet, &mut fresh);
                }
                decide(
                    &mut engine,
                    &mut session,
                    &outlet,
                    fresh,
                    None,
                    true,
                    200,
                    |p| p.html.clone(),
                )
                .expect("decided");
            }
            session
                .batch
                .items
                .iter()
                .map(|r| format!("{} {:?} {:?}", r.meta.id, r.decision, r.fingerprint))
                .collect()
        };
        let plain = run(0);
        assert_eq!(plain.len(), 72);
        assert_eq!(run(1), plain);
        assert_eq!(run(2), plain);
    }

    /// Outlets "Reuters" and "Reuters:World" whose ids would join to the same text: each item
    /// keeps its own engine id, and a copy's `duplicate_of` names the right outlet.
    #[test]
    fn an_outlet_named_like_another_plus_a_colon_is_not_confused_with_it() {
        let mut engine = Engine::with_defaults();
        let text = "Talks between Russia and the United States will start immediately after \
                    the New Year holidays, Russia's top diplomat announced on Monday in a \
                    televised interview with the state broadcaster.";
        let (first, ..) = add_item(&mut engine, "Reuters:World", item("1", text), 100, None);
        assert!(!first.is_duplicate());
        let (copy, copy_item, _) =
            add_item(&mut engine, "Reuters", item("World:1", text), 101, None);
        assert_eq!(engine.len(), 2, "two articles, not one id seen twice");
        let line: serde_json::Value =
            serde_json::from_str(&decision_line("Reuters", &copy_item, None, &copy).expect("line"))
                .expect("json");
        assert_eq!(
            line["dedup"]["duplicate_of"],
            serde_json::json!({"outlet": "Reuters:World", "id": "1"})
        );
        assert_eq!(line["outlet"], "Reuters");
        assert_eq!(line["id"], "World:1");
    }
}
