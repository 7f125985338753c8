//! A store session, one code path for `run` and `dedup --state`: opening the writer store
//! and checking its signature settings ([`open_store`]), resuming from it (expiry, load,
//! restore: [`Session::resume`]), then the in-memory side of every commit: the stories
//! emitted so far and the [`Batch`] the next commit writes.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use crate::dedup::{Engine, EngineConfig};
use crate::error::Result;
use crate::model::{Decision, StoryId};
use crate::store::{
    signature_settings, Batch, Emission, EmissionKind, ItemKey, ItemRecord, Snapshot, SqliteStore,
    Store, StoryMerge,
};

use super::{resume, EngineIds};

/// Opens the store for writing (taking its one-writer lock) and refuses it when it was built
/// with other signature settings than `config`'s, whose signatures could never match.
pub fn open_store(path: &Path, config: &EngineConfig) -> Result<SqliteStore> {
    let mut store = SqliteStore::open(path)?;
    store.check_settings(&signature_settings(config))?;
    Ok(store)
}

/// The time before which records are past `retention`, counted back from `now`.
pub fn retention_cutoff(now: i64, retention: Duration) -> i64 {
    now.saturating_sub(retention.as_secs().min(i64::MAX as u64) as i64)
}

/// The stories emitted so far and the batch being built for the next commit.
#[derive(Debug, Default)]
pub struct Session {
    /// Stories emitted as new: in earlier runs (among those inside the window) or this one.
    pub emitted: HashSet<StoryId>,
    /// What the next [`Store::commit`] writes.
    pub batch: Batch,
}

impl Session {
    /// Resumes from a store (see [`resume`]): the session starts with the stories the store
    /// says were emitted; the snapshot (items restored) is returned for the caller's own state.
    pub fn resume(
        store: &mut dyn Store,
        engine: &mut Engine,
        now: Option<i64>,
        ids: EngineIds,
        learner: bool,
    ) -> Result<(Session, Snapshot)> {
        let mut snapshot = resume(store, engine, now, ids, learner)?;
        let session = Session {
            emitted: std::mem::take(&mut snapshot.emitted),
            batch: Batch::default(),
        };
        Ok((session, snapshot))
    }

    /// Queues a decided item's record and the story merges its decision caused.
    pub fn record(&mut self, record: ItemRecord) {
        let survivor = record.decision.story;
        self.batch.merges.extend(
            record
                .decision
                .merged
                .iter()
                .map(|&absorbed| StoryMerge { absorbed, survivor }),
        );
        self.batch.items.push(record);
    }

    /// When `decision` made its item the story's canonical version, queues the emission:
    /// `new` the first time the story is emitted, `update` after that; returns its kind.
    pub fn emit_canonical(
        &mut self,
        decision: &Decision,
        item: ItemKey,
        at: i64,
    ) -> Option<EmissionKind> {
        if !decision.became_canonical {
            return None;
        }
        let kind = if self.emitted.insert(decision.story) {
            EmissionKind::New
        } else {
            EmissionKind::Update
        };
        self.emit(decision.story, kind, item, at);
        Some(kind)
    }

    /// Queues a `new` emission of a story never emitted before; false (nothing queued) when
    /// it was emitted already.
    pub fn emit_new(&mut self, story: StoryId, item: ItemKey, at: i64) -> bool {
        if !self.emitted.insert(story) {
            return false;
        }
        self.emit(story, EmissionKind::New, item, at);
        true
    }

    /// Queues an emission of `story` with `item` as its canonical version, and counts the
    /// story as emitted.
    pub fn emit(&mut self, story: StoryId, kind: EmissionKind, item: ItemKey, at: i64) {
        self.emitted.insert(story);
        self.batch.emissions.push(Emission {
            story,
            kind,
            item,
            at,
        });
    }

    /// Adds what [`super::decide`] built for one poll: its records, emissions, output lines,
    /// learner memory and merges (in that order within each, after what is queued already).
    pub(super) fn append_decided(&mut self, mut other: Batch) {
        let batch = &mut self.batch;
        batch.merges.append(&mut other.merges);
        batch.items.append(&mut other.items);
        batch.emissions.append(&mut other.emissions);
        batch.lines.append(&mut other.lines);
        batch.learner.append(&mut other.learner);
    }

    /// Takes the batch built so far, for a commit; the session goes on with an empty one.
    pub fn take_batch(&mut self) -> Batch {
        std::mem::take(&mut self.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(story: u64, canonical: bool) -> Decision {
        Decision {
            story: StoryId(story),
            duplicate_of: None,
            score: None,
            became_canonical: canonical,
            merged: Vec::new(),
        }
    }

    #[test]
    fn a_story_is_emitted_new_once_then_as_updates() {
        let mut session = Session::default();
        let key = ItemKey::new("W", "1");
        assert_eq!(
            session.emit_canonical(&decision(1, true), key.clone(), 10),
            Some(EmissionKind::New)
        );
        assert_eq!(
            session.emit_canonical(&decision(1, false), key.clone(), 11),
            None
        );
        assert_eq!(
            session.emit_canonical(&decision(1, true), key.clone(), 12),
            Some(EmissionKind::Update)
        );
        assert!(
            !session.emit_new(StoryId(1), key.clone(), 13),
            "emitted already"
        );
        assert!(session.emit_new(StoryId(2), key.clone(), 14));
        let batch = session.take_batch();
        let kinds: Vec<_> = batch
            .emissions
            .iter()
            .map(|e| (e.story.0, e.kind, e.at))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (1, EmissionKind::New, 10),
                (1, EmissionKind::Update, 12),
                (2, EmissionKind::New, 14)
            ]
        );
        assert!(
            session.batch.is_empty(),
            "the session goes on with an empty batch"
        );
        assert_eq!(session.emitted.len(), 2, "and keeps what was emitted");
    }

    #[test]
    fn retention_counts_back_from_now_without_overflow() {
        assert_eq!(retention_cutoff(1000, Duration::from_secs(10)), 990);
        assert_eq!(retention_cutoff(0, Duration::MAX), -i64::MAX);
    }
}
