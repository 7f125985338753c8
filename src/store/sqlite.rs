//! [`Store`] in one SQLite file: WAL (readers never block the writer), `synchronous=FULL`
//! (a committed batch survives a power cut), schema migrations keyed on `PRAGMA user_version`,
//! and an exclusive OS lock on `<path>.lock` so only one process writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fs4::fs_std::FileExt;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use crate::dedup::Fingerprint;
use crate::error::{Error, Result};
use crate::model::{ArticleMeta, StoryId};

use super::{
    parse_published, Batch, CachedPage, Expired, HostState, ItemKey, OutletCounters, OutletState,
    OutputMark, PollResult, PollState, PollStatus, RestoreItem, SeenItem, Snapshot, Store,
    StoredCopy, StoredStory, StoryMerge, StoryQuery,
};

/// Migrations, oldest first; `user_version` counts how many were applied. Append, never edit.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE outlet (
    name          TEXT PRIMARY KEY,
    etag          TEXT,
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,  -- consecutive: the backoff exponent
    hint_secs     INTEGER,                     -- RSS <ttl> or max-age floor
    next_due      INTEGER,
    last_poll     INTEGER,
    last_status   TEXT,
    last_error    TEXT,
    polls         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE host (
    name          TEXT PRIMARY KEY,
    blocked_until INTEGER                      -- Retry-After
);
CREATE TABLE item (
    seq          INTEGER PRIMARY KEY,
    outlet       TEXT NOT NULL,           -- '' when the item has none
    item_id      TEXT NOT NULL,
    content_hash INTEGER NOT NULL,
    time         INTEGER NOT NULL,        -- place in the dedup window
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,        -- retention counts from here
    url          TEXT,
    title        TEXT,
    published    TEXT,                    -- RFC 3339, offset kept
    signature    BLOB NOT NULL,           -- Fingerprint::to_bytes
    story        INTEGER NOT NULL,
    duplicate_of TEXT,
    score        REAL,
    payload      TEXT,
    UNIQUE (outlet, item_id)
);
CREATE INDEX item_time ON item (time);
CREATE INDEX item_story ON item (story);
CREATE TABLE story (
    id         INTEGER PRIMARY KEY,
    canonical  INTEGER NOT NULL,          -- item.seq
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    copies     INTEGER NOT NULL
);
CREATE INDEX story_first_seen ON story (first_seen);
CREATE TABLE emission (
    seq     INTEGER PRIMARY KEY,
    story   INTEGER NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('new', 'update')),
    outlet  TEXT NOT NULL,
    item_id TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX emission_story ON emission (story);
CREATE TABLE setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
    // Output lines committed with their batch and not yet appended to the output file.
    r#"
CREATE TABLE outbox (
    seq  INTEGER PRIMARY KEY,
    line TEXT NOT NULL
);
-- The boilerplate learner's recent items per outlet: a JSON array of paragraph-key arrays.
CREATE TABLE learner (
    outlet TEXT PRIMARY KEY,
    recent TEXT NOT NULL
);
"#,
    // Stories merged into another by a bridging article: the absorbed id resolves to the survivor.
    r#"
CREATE TABLE story_alias (
    absorbed INTEGER PRIMARY KEY,
    survivor INTEGER NOT NULL
);
"#,
    // Article pages fetched for full text, by the item's link: fetched once, revalidated
    // with their validators when an item is edited.
    r#"
CREATE TABLE page (
    url           TEXT PRIMARY KEY,
    final_url     TEXT NOT NULL,
    fetched_at    INTEGER NOT NULL,        -- retention counts from here
    etag          TEXT,
    last_modified TEXT,
    html          TEXT NOT NULL            -- the extracted main text
);
CREATE INDEX page_fetched_at ON page (fetched_at);
"#,
    // What `run` counts per outlet (see `store::counters`), so `serve` shows the same numbers:
    // sums of named counters, and the last successful fetch's item count and repairs.
    r#"
CREATE TABLE outlet_counter (
    outlet TEXT NOT NULL,
    name   TEXT NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (outlet, name)
) WITHOUT ROWID;
CREATE TABLE outlet_fetch (
    outlet  TEXT PRIMARY KEY,
    items   INTEGER NOT NULL,
    repairs TEXT NOT NULL                  -- JSON array of strings
);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a statement waits for another connection's lock (a reader checkpointing, say).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQLite store. Open it with [`SqliteStore::open`] to write (takes the lock) or
/// [`SqliteStore::open_read_only`] to read while a writer runs.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    /// Held for the life of a writable store; `None` when read-only.
    _lock: Option<File>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("writable", &self._lock.is_some())
            .finish()
    }
}

fn outlet_key(outlet: Option<&str>) -> &str {
    outlet.unwrap_or("")
}

fn outlet_of(column: String) -> Option<String> {
    (!column.is_empty()).then_some(column)
}

/// The lock file next to the database.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

impl SqliteStore {
    /// Opens (creating if needed) the database for writing. Fails with a message naming the
    /// path when another process holds it.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                action: "cannot create the store directory",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let lock = take_lock(path)?;
        let conn = Connection::open(path).map_err(|e| store_err(path, "cannot open", e))?;
        let mut store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            _lock: Some(lock),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database for reading only: no lock, works while a writer runs.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        if !path.exists() {
            return Err(Error::Store {
                path: path.to_path_buf(),
                message: "does not exist: `syndedup run` or `syndedup dedup --state` creates it"
                    .to_string(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| store_err(path, "cannot open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store_err(path, "cannot configure", e))?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
            _lock: None,
        };
        let version = store.user_version()?;
        if version == 0 {
            return Err(store.error("is empty or not a syndedup store (schema version 0)"));
        }
        store.check_version(version)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records the signature settings on first use and refuses a store built with others:
    /// signatures from different settings never match, so mixing them would silently miss
    /// every copy of a stored story. A value written by an older build (the scheme as a Rust
    /// variant name, `scheme=Oph`) is rewritten in today's form first (see
    /// [`super::migrate_signature_settings`]).
    pub fn check_settings(&mut self, settings: &str) -> Result<()> {
        let stored = self.setting("signature")?;
        let migrated = stored.as_deref().map(super::migrate_signature_settings);
        match (stored, migrated) {
            (Some(old), _) if old == settings => Ok(()),
            (Some(old), Some(new)) if new == settings => {
                self.conn
                    .execute(
                        "UPDATE setting SET value = ?1 WHERE key = 'signature'",
                        [settings],
                    )
                    .map_err(|e| self.sql("cannot write settings", e))?;
                tracing::info!(path = %self.path.display(), from = %old, to = %new, "stored signature settings rewritten with today's names");
                Ok(())
            }
            (Some(_), Some(new)) => Err(self.error(&format!(
                "was built with signature settings \"{new}\" but this run uses \"{settings}\": \
                 stored signatures would never match; use the old settings or another store"
            ))),
            _ => {
                self.conn
                    .execute(
                        "INSERT INTO setting (key, value) VALUES ('signature', ?1)",
                        [settings],
                    )
                    .map_err(|e| self.sql("cannot write settings", e))?;
                Ok(())
            }
        }
    }

    /// Bytes the database occupies on disk (main file plus write-ahead log).
    pub fn disk_bytes(&self) -> u64 {
        let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.as_os_str().to_os_string();
        wal.push("-wal");
        size(self.path.clone()) + size(PathBuf::from(wal))
    }

    /// Folds the write-ahead log into the main file (for measuring; SQLite does this by itself).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.sql("cannot checkpoint", e))
    }

    fn configure(&mut self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.sql("cannot configure", e))?;
        // Items carry their payload (often 1-3 kB): with the default 4 kB pages most pages
        // would hold one row and waste the rest. Only takes effect on a new database.
        self.conn
            .execute_batch("PRAGMA page_size = 16384;")
            .map_err(|e| self.sql("cannot configure", e))?;
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.sql("cannot switch to WAL mode", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(self.error(&format!(
                "cannot switch to WAL mode (journal mode stays \"{mode}\"); is it on a network file system?"
            )));
        }
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")
            .map_err(|e| self.sql("cannot configure", e))
    }

    fn user_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql("cannot read the schema version", e))
    }

    fn check_version(&self, version: i64) -> Result<()> {
        if version > SCHEMA_VERSION {
            return Err(self.error(&format!(
                "has schema version {version}, newer than this syndedup understands ({SCHEMA_VERSION}): upgrade syndedup"
            )));
        }
        if version < SCHEMA_VERSION && self._lock.is_none() {
            return Err(self.error(&format!(
                "has schema version {version}, older than {SCHEMA_VERSION}: open it once for writing (run or dedup --state) to migrate it"
            )));
        }
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let version = self.user_version()?;
        self.check_version(version)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let next = i as i64 + 1;
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| store_err(&self.path, "cannot start a migration", e))?;
            tx.execute_batch(sql)
                .and_then(|_| tx.execute_batch(&format!("PRAGMA user_version = {next}")))
                .and_then(|_| tx.commit())
                .map_err(|e| {
                    store_err(
                        &self.path,
                        &format!("cannot migrate to schema version {next}"),
                        e,
                    )
                })?;
            tracing::info!(path = %self.path.display(), version = next, "store schema migrated");
        }
        Ok(())
    }

    fn writable(&self) -> Result<()> {
        if self._lock.is_none() {
            return Err(self.error("was opened read-only"));
        }
        Ok(())
    }

    fn error(&self, message: &str) -> Error {
        Error::Store {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }

    fn sql(&self, what: &str, e: rusqlite::Error) -> Error {
        store_err(&self.path, what, e)
    }

    fn members(&self, story: i64) -> Result<Vec<(i64, StoredCopy)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, outlet, item_id, url, title, published, first_seen, signature, payload
                 FROM item WHERE story = ?1 ORDER BY first_seen, seq",
            )
            .map_err(|e| self.sql("cannot read items", e))?;
        let rows = stmt
            .query_map([story], |r| {
                let meta = meta_from(r, 1)?;
                let blob: Vec<u8> = r.get(7)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    meta,
                    r.get::<_, i64>(6)?,
                    blob,
                    r.get::<_, Option<String>>(8)?,
                ))
            })
            .map_err(|e| self.sql("cannot read items", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, meta, first_seen, blob, payload) =
                row.map_err(|e| self.sql("cannot read items", e))?;
            let fingerprint = Fingerprint::from_bytes(&blob);
            out.push((
                seq,
                StoredCopy {
                    meta,
                    first_seen,
                    fingerprint,
                    payload,
                },
            ));
        }
        Ok(out)
    }

    fn story_from(&self, id: i64, canonical: i64, first: i64, last: i64) -> Result<StoredStory> {
        let members = self.members(id)?;
        let canonical_index = members
            .iter()
            .position(|(seq, _)| *seq == canonical)
            .unwrap_or(0);
        let canonical_payload = members
            .get(canonical_index)
            .and_then(|(_, c)| c.payload.clone());
        let emitted = self
            .conn
            .prepare_cached("SELECT 1 FROM emission WHERE story = ?1 AND kind = 'new' LIMIT 1")
            .and_then(|mut s| s.exists([id]))
            .map_err(|e| self.sql("cannot read emissions", e))?;
        Ok(StoredStory {
            story: StoryId(id as u64),
            canonical: canonical_index,
            canonical_payload,
            first_seen: first,
            last_seen: last,
            copies: members.into_iter().map(|(_, c)| c).collect(),
            emitted,
        })
    }
}

/// A SQLite failure with what we were doing; the rusqlite error stays the source.
fn store_err(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::Sqlite {
        path: path.to_path_buf(),
        action: what.to_string(),
        source: e,
    }
}

/// Takes the writer lock, writing our pid into the lock file so the refusal can name the holder.
fn take_lock(path: &Path) -> Result<File> {
    let lock_file = lock_path(path);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_file)
        .map_err(|source| Error::Io {
            action: "cannot open the store lock file",
            path: lock_file.clone(),
            source,
        })?;
    if let Err(e) = FileExt::try_lock_exclusive(&file) {
        if e.kind() == fs4::lock_contended_error().kind() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let by = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("another process (pid {holder})")
            };
            return Err(Error::Store {
                path: path.to_path_buf(),
                message: format!(
                    "is in use by {by}: only one syndedup process may write to a store (lock file {}); stop the other one or use another store path",
                    lock_file.display()
                ),
            });
        }
        return Err(Error::Io {
            action: "cannot lock the store lock file",
            path: lock_file,
            source: e,
        });
    }
    // Best effort: the pid only improves the message above.
    let _ = file
        .set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| write!(file, "{}", std::process::id()))
        .and_then(|_| file.flush());
    Ok(file)
}

/// Reads outlet, item_id, url, title, published starting at column `at`.
fn meta_from(r: &Row, at: usize) -> rusqlite::Result<ArticleMeta> {
    let published: Option<String> = r.get(at + 4)?;
    Ok(ArticleMeta {
        outlet: outlet_of(r.get(at)?),
        id: r.get(at + 1)?,
        url: r.get(at + 2)?,
        title: r.get(at + 3)?,
        published: published.as_deref().and_then(parse_published),
    })
}

fn outlet_from(r: &Row) -> rusqlite::Result<(String, OutletState)> {
    let last_status: Option<String> = r.get(7)?;
    let count = |v: Option<i64>| v.map(|n| n.max(0) as u64);
    Ok((
        r.get(0)?,
        OutletState {
            etag: r.get(1)?,
            last_modified: r.get(2)?,
            failures: r.get::<_, i64>(3)?.clamp(0, u32::MAX as i64) as u32,
            hint_secs: count(r.get(4)?),
            next_due: r.get(5)?,
            last_poll: r.get(6)?,
            last_status: last_status.as_deref().map(PollStatus::from_stored),
            last_error: r.get(8)?,
            polls: count(r.get(9)?).unwrap_or(0),
        },
    ))
}

/// Recounts the copies of `stories`, drops those left empty, and re-points a canonical that
/// left its story (an edited item that now matches elsewhere) at the story's first member.
/// Returns how many stories were dropped.
impl SqliteStore {
    /// Every merged-away story id with the story it now stands for.
    pub fn aliases(&self) -> Result<Vec<StoryMerge>> {
        let read = |e| self.sql("cannot read story aliases", e);
        let mut stmt = self
            .conn
            .prepare("SELECT absorbed, survivor FROM story_alias ORDER BY absorbed")
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoryMerge {
                    absorbed: StoryId(r.get::<_, i64>(0)?.max(0) as u64),
                    survivor: StoryId(r.get::<_, i64>(1)?.max(0) as u64),
                })
            })
            .map_err(read)?;
        rows.collect::<rusqlite::Result<_>>().map_err(read)
    }

    /// The story an id stands for now: itself, or the story it was merged into.
    pub fn resolve(&self, id: StoryId) -> Result<StoryId> {
        let survivor: Option<i64> = self
            .conn
            .query_row(
                "SELECT survivor FROM story_alias WHERE absorbed = ?1",
                [id.0 as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql("cannot read story aliases", e))?;
        Ok(survivor.map(|s| StoryId(s.max(0) as u64)).unwrap_or(id))
    }
}

/// The story `id` stands for after the batch's merges.
fn merged_into(merges: &[StoryMerge], mut id: StoryId) -> StoryId {
    for _ in 0..=merges.len() {
        match merges.iter().find(|m| m.absorbed == id) {
            Some(m) => id = m.survivor,
            None => break,
        }
    }
    id
}

fn settle_stories(tx: &rusqlite::Transaction, stories: &BTreeSet<i64>) -> rusqlite::Result<u64> {
    let mut recount = tx.prepare_cached(
        "UPDATE story SET copies = (SELECT count(*) FROM item WHERE item.story = story.id)
         WHERE id = ?1",
    )?;
    let mut drop = tx.prepare_cached("DELETE FROM story WHERE id = ?1 AND copies = 0")?;
    let mut repoint = tx.prepare_cached(
        "UPDATE story SET canonical = (SELECT min(seq) FROM item WHERE item.story = story.id)
         WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM item WHERE item.seq = story.canonical AND item.story = story.id)",
    )?;
    let mut dropped = 0;
    for &s in stories {
        recount.execute([s])?;
        dropped += drop.execute([s])? as u64;
        repoint.execute([s])?;
    }
    Ok(dropped)
}

/// The outlet's fetch state and the hosts' `Retry-After` blocks.
fn write_poll_state(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<()> {
    if let Some((name, o)) = &batch.outlet {
        let secs = |v: Option<u64>| v.map(|n| n.min(i64::MAX as u64) as i64);
        tx.prepare_cached(
            "INSERT INTO outlet (name, etag, last_modified, failures, hint_secs, next_due,
                                         last_poll, last_status, last_error, polls)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (name) DO UPDATE SET
                         etag = excluded.etag, last_modified = excluded.last_modified,
                         failures = excluded.failures, hint_secs = excluded.hint_secs,
                         next_due = excluded.next_due, last_poll = excluded.last_poll,
                         last_status = excluded.last_status, last_error = excluded.last_error,
                         polls = excluded.polls",
        )?
        .execute(params![
            name,
            o.etag,
            o.last_modified,
            o.failures,
            secs(o.hint_secs),
            o.next_due,
            o.last_poll,
            o.last_status.map(|s| s.to_string()),
            o.last_error,
            secs(Some(o.polls)),
        ])?;
    }
    for (name, h) in &batch.hosts {
        tx.prepare_cached(
            "INSERT INTO host (name, blocked_until) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET blocked_until = excluded.blocked_until",
        )?
        .execute(params![name, h.blocked_until])?;
    }
    Ok(())
}

/// Merges: the absorbed story's items and aliases move to the survivor. Returns the highest story id named.
fn write_merges(
    tx: &rusqlite::Transaction,
    merges: &[StoryMerge],
    touched: &mut BTreeSet<i64>,
) -> rusqlite::Result<u64> {
    let mut max_story = 0u64;
    for m in merges {
        let (absorbed, survivor) = (m.absorbed.0 as i64, m.survivor.0 as i64);
        if absorbed == survivor {
            continue;
        }
        tx.prepare_cached("UPDATE item SET story = ?2 WHERE story = ?1")?
            .execute(params![absorbed, survivor])?;
        tx.prepare_cached(
                    "UPDATE story SET
                         first_seen = min(first_seen, coalesce((SELECT first_seen FROM story WHERE id = ?1), first_seen)),
                         last_seen = max(last_seen, coalesce((SELECT last_seen FROM story WHERE id = ?1), last_seen))
                     WHERE id = ?2",
                )?
                .execute(params![absorbed, survivor])?;
        tx.prepare_cached("UPDATE story_alias SET survivor = ?2 WHERE survivor = ?1")?
            .execute(params![absorbed, survivor])?;
        tx.prepare_cached(
            "INSERT INTO story_alias (absorbed, survivor) VALUES (?1, ?2)
                     ON CONFLICT (absorbed) DO UPDATE SET survivor = excluded.survivor",
        )?
        .execute(params![absorbed, survivor])?;
        touched.insert(absorbed);
        touched.insert(survivor);
        max_story = max_story.max(m.absorbed.0).max(m.survivor.0);
    }
    Ok(max_story)
}

/// The batch's items, each filed into its (merged-into) story. Returns the highest story id named.
fn write_items(
    tx: &rusqlite::Transaction,
    batch: &Batch,
    touched: &mut BTreeSet<i64>,
) -> rusqlite::Result<u64> {
    let mut max_story = 0u64;
    let mut previous =
        tx.prepare_cached("SELECT story FROM item WHERE outlet = ?1 AND item_id = ?2")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO item (outlet, item_id, content_hash, time, first_seen, last_seen,
                                       url, title, published, signature, story, duplicate_of,
                                       score, payload)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (outlet, item_id) DO UPDATE SET
                         content_hash = excluded.content_hash, time = excluded.time,
                         last_seen = excluded.last_seen, url = excluded.url,
                         title = excluded.title, published = excluded.published,
                         signature = excluded.signature, story = excluded.story,
                         duplicate_of = excluded.duplicate_of, score = excluded.score,
                         payload = excluded.payload
                     RETURNING seq",
    )?;
    let mut story = tx.prepare_cached(
        "INSERT INTO story (id, canonical, first_seen, last_seen, copies)
                     VALUES (?1, ?2, ?3, ?3, 0)
                     ON CONFLICT (id) DO UPDATE SET
                         first_seen = min(first_seen, excluded.first_seen),
                         last_seen = max(last_seen, excluded.last_seen),
                         canonical = CASE WHEN ?4 THEN excluded.canonical ELSE canonical END",
    )?;
    for item in &batch.items {
        let m = &item.meta;
        let duplicate_of = item
            .duplicate_of
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let outlet = outlet_key(m.outlet.as_deref());
        let old: Option<i64> = previous
            .query_row(params![outlet, m.id], |r| r.get(0))
            .optional()?;
        let story_id = merged_into(&batch.merges, item.decision.story).0 as i64;
        if let Some(old) = old.filter(|&o| o != story_id) {
            touched.insert(old);
        }
        let seq: i64 = upsert.query_row(
            params![
                outlet,
                m.id,
                item.content_hash as i64,
                item.time,
                item.seen_at,
                m.url,
                m.title,
                m.published.map(|p| p.to_rfc3339()),
                item.fingerprint.to_bytes(),
                story_id,
                duplicate_of,
                item.decision.score.map(f64::from),
                item.payload,
            ],
            |r| r.get(0),
        )?;
        // A member filed into a story that a later item of this batch merged away
        // is not that story's canonical any more.
        let canonical = item.decision.became_canonical
            && (story_id as u64 == item.decision.story.0 || batch.merges.is_empty());
        story.execute(params![story_id, seq, item.seen_at, canonical])?;
        touched.insert(story_id);
        max_story = max_story.max(item.decision.story.0);
    }
    Ok(max_story)
}

/// Items seen again unchanged: only their last sighting moves.
fn write_seen(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<()> {
    let mut touch = tx.prepare_cached(
        "UPDATE item SET last_seen = max(last_seen, ?3) WHERE outlet = ?1 AND item_id = ?2",
    )?;
    for key in &batch.seen {
        touch.execute(params![
            outlet_key(key.outlet_name()),
            key.id,
            batch.seen_at
        ])?;
    }
    Ok(())
}

/// Emissions. Returns the highest story id named.
fn write_emissions(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<u64> {
    let mut max_story = 0u64;
    let mut emit = tx.prepare_cached(
        "INSERT INTO emission (story, kind, outlet, item_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in &batch.emissions {
        emit.execute(params![
            merged_into(&batch.merges, e.story).0 as i64,
            e.kind.as_str(),
            outlet_key(e.item.outlet_name()),
            e.item.id,
            e.at
        ])?;
        max_story = max_story.max(e.story.0);
    }
    Ok(max_story)
}

fn write_learner(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<()> {
    let mut learn = tx.prepare_cached(
        "INSERT INTO learner (outlet, recent) VALUES (?1, ?2)
                     ON CONFLICT (outlet) DO UPDATE SET recent = excluded.recent",
    )?;
    for (outlet, recent) in &batch.learner {
        let json = serde_json::to_string(recent)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        learn.execute(params![outlet, json])?;
    }
    Ok(())
}

fn write_pages(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<()> {
    let mut page = tx.prepare_cached(
        "INSERT INTO page (url, final_url, fetched_at, etag, last_modified, html)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (url) DO UPDATE SET
                         final_url = excluded.final_url, fetched_at = excluded.fetched_at,
                         etag = excluded.etag, last_modified = excluded.last_modified,
                         html = excluded.html",
    )?;
    for p in &batch.pages {
        page.execute(params![
            p.url,
            p.final_url,
            p.fetched_at,
            p.etag,
            p.last_modified,
            p.html
        ])?;
    }
    Ok(())
}

fn write_tally(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<()> {
    if let Some(tally) = &batch.tally {
        let mut add = tx.prepare_cached(
            "INSERT INTO outlet_counter (outlet, name, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (outlet, name) DO UPDATE SET value = value + excluded.value",
        )?;
        for (name, n) in tally.increments() {
            add.execute(params![tally.outlet, name, n])?;
        }
        if tally.result == PollResult::Ok {
            let repairs =
                serde_json::to_string(&tally.repairs).unwrap_or_else(|_| "[]".to_string());
            tx.prepare_cached(
                "INSERT INTO outlet_fetch (outlet, items, repairs) VALUES (?1, ?2, ?3)
                         ON CONFLICT (outlet) DO UPDATE SET
                             items = excluded.items, repairs = excluded.repairs",
            )?
            .execute(params![
                tally.outlet,
                tally.items.min(i64::MAX as u64) as i64,
                repairs
            ])?;
        }
    }
    Ok(())
}

fn write_outbox(tx: &rusqlite::Transaction, batch: &Batch) -> rusqlite::Result<()> {
    let mut queue = tx.prepare_cached("INSERT INTO outbox (line) VALUES (?1)")?;
    for line in &batch.lines {
        queue.execute([line])?;
    }
    Ok(())
}

fn bump_next_story(tx: &rusqlite::Transaction, max_story: u64) -> rusqlite::Result<()> {
    if max_story > 0 {
        // Ids are never reused, even after retention deleted their story.
        tx.prepare_cached(
            "INSERT INTO setting (key, value) VALUES ('next_story', ?1)
                     ON CONFLICT (key) DO UPDATE SET
                         value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
        )?
        .execute([(max_story + 1).to_string()])?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn load(&self, since: i64) -> Result<Snapshot> {
        let mut items = Vec::new();
        let mut bad = 0u64;
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT i.outlet, i.item_id, i.url, i.title, i.published, i.signature, i.time,
                            i.story, coalesce(s.canonical = i.seq, 0)
                     FROM item i LEFT JOIN story s ON s.id = i.story
                     WHERE i.time >= ?1 ORDER BY i.seq",
                )
                .map_err(|e| self.sql("cannot read items", e))?;
            let rows = stmt
                .query_map([since], |r| {
                    Ok((
                        meta_from(r, 0)?,
                        r.get::<_, Vec<u8>>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, bool>(8)?,
                    ))
                })
                .map_err(|e| self.sql("cannot read items", e))?;
            for row in rows {
                let (meta, blob, time, story, canonical) =
                    row.map_err(|e| self.sql("cannot read items", e))?;
                match Fingerprint::from_bytes(&blob) {
                    Some(fingerprint) => items.push(RestoreItem {
                        meta,
                        fingerprint,
                        time,
                        story: StoryId(story as u64),
                        canonical,
                    }),
                    None => bad += 1,
                }
            }
        }
        if bad > 0 {
            tracing::warn!(path = %self.path.display(), items = bad, "stored signatures are damaged; those items are left out of the index");
        }
        let emitted = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT DISTINCT e.story FROM emission e
                     WHERE e.kind = 'new'
                       AND EXISTS (SELECT 1 FROM item i WHERE i.story = e.story AND i.time >= ?1)",
                )
                .map_err(|e| self.sql("cannot read emissions", e))?;
            let rows = stmt
                .query_map([since], |r| r.get::<_, i64>(0))
                .map_err(|e| self.sql("cannot read emissions", e))?;
            rows.map(|r| r.map(|s| StoryId(s as u64)))
                .collect::<rusqlite::Result<_>>()
                .map_err(|e| self.sql("cannot read emissions", e))?
        };
        let (max_story, clock): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT (SELECT max(id) FROM story), (SELECT max(time) FROM item)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql("cannot read stories", e))?;
        let counter: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM setting WHERE key = 'next_story'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql("cannot read settings", e))?;
        let counter = counter.and_then(|c| c.parse::<u64>().ok()).unwrap_or(1);
        let next_story = counter.max(max_story.map_or(1, |m| m as u64 + 1)).max(1);
        let learner = {
            let read = |e| self.sql("cannot read the learner", e);
            let mut stmt = self
                .conn
                .prepare("SELECT outlet, recent FROM learner ORDER BY outlet")
                .map_err(read)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(read)?;
            let mut out = Vec::new();
            for row in rows {
                let (outlet, json) = row.map_err(read)?;
                match serde_json::from_str::<Vec<Vec<u64>>>(&json) {
                    Ok(recent) => out.push((outlet, recent)),
                    Err(e) => {
                        tracing::warn!(path = %self.path.display(), outlet, error = %e, "stored boilerplate memory is damaged; that outlet learns from scratch")
                    }
                }
            }
            out
        };
        let aliases = self.aliases()?;
        Ok(Snapshot {
            items,
            emitted,
            next_story,
            clock,
            learner,
            aliases,
        })
    }

    fn seen(&self, key: &ItemKey) -> Result<Option<u64>> {
        self.conn
            .prepare_cached("SELECT content_hash FROM item WHERE outlet = ?1 AND item_id = ?2")
            .and_then(|mut s| {
                s.query_row(params![outlet_key(key.outlet_name()), key.id], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
            })
            .map(|h| h.map(|h| h as u64))
            .map_err(|e| self.sql("cannot look up an item", e))
    }

    fn commit(&mut self, batch: &Batch) -> Result<()> {
        self.writable()?;
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(&path, "cannot start a transaction", e))?;
        let result = (|| -> rusqlite::Result<()> {
            write_poll_state(&tx, batch)?;
            let mut touched = BTreeSet::new();
            let mut max_story = write_merges(&tx, &batch.merges, &mut touched)?;
            max_story = max_story.max(write_items(&tx, batch, &mut touched)?);
            settle_stories(&tx, &touched)?;
            write_seen(&tx, batch)?;
            max_story = max_story.max(write_emissions(&tx, batch)?);
            write_learner(&tx, batch)?;
            write_pages(&tx, batch)?;
            write_tally(&tx, batch)?;
            write_outbox(&tx, batch)?;
            bump_next_story(&tx, max_story)?;
            Ok(())
        })();
        result
            .and_then(|_| tx.commit())
            .map_err(|e| store_err(&path, "cannot commit a batch (nothing of it was kept)", e))
    }

    fn expire(&mut self, before: i64) -> Result<Expired> {
        self.writable()?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(&path, "cannot start a transaction", e))?;
        let result = (|| -> rusqlite::Result<Expired> {
            let stories: Vec<i64> = tx
                .prepare("DELETE FROM item WHERE last_seen < ?1 RETURNING story")?
                .query_map([before], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let items = stories.len() as u64;
            let touched: BTreeSet<i64> = stories.into_iter().collect();
            let dropped = settle_stories(&tx, &touched)?;
            tx.execute("DELETE FROM page WHERE fetched_at < ?1", [before])?;
            if dropped > 0 {
                tx.execute(
                    "DELETE FROM emission WHERE story NOT IN (SELECT id FROM story)",
                    [],
                )?;
            }
            Ok(Expired {
                items,
                stories: dropped,
            })
        })();
        let expired = result
            .and_then(|e| tx.commit().map(|_| e))
            .map_err(|e| store_err(&path, "cannot expire old records", e))?;
        if expired.items > 0 {
            tracing::info!(path = %path.display(), items = expired.items, stories = expired.stories, "records past retention deleted");
        }
        Ok(expired)
    }

    fn stories(&self, query: &StoryQuery) -> Result<Vec<StoredStory>> {
        let limit = query.limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64);
        let heads: Vec<(i64, i64, i64, i64)> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, canonical, first_seen, last_seen FROM story
                     WHERE first_seen >= ?1 ORDER BY first_seen DESC, id DESC LIMIT ?2",
                )
                .map_err(|e| self.sql("cannot read stories", e))?;
            let rows = stmt
                .query_map(params![query.since.unwrap_or(i64::MIN), limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(|e| self.sql("cannot read stories", e))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(|e| self.sql("cannot read stories", e))?
        };
        heads
            .into_iter()
            .map(|(id, canonical, first, last)| self.story_from(id, canonical, first, last))
            .collect()
    }

    fn story(&self, id: StoryId) -> Result<Option<StoredStory>> {
        let id = self.resolve(id)?;
        let head: Option<(i64, i64, i64)> = self
            .conn
            .query_row(
                "SELECT canonical, first_seen, last_seen FROM story WHERE id = ?1",
                [id.0 as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql("cannot read stories", e))?;
        head.map(|(canonical, first, last)| self.story_from(id.0 as i64, canonical, first, last))
            .transpose()
    }

    fn output_pending(&self) -> Result<Vec<(i64, String)>> {
        let read = |e| self.sql("cannot read the outbox", e);
        let mut stmt = self
            .conn
            .prepare("SELECT seq, line FROM outbox ORDER BY seq")
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(read)?;
        rows.collect::<rusqlite::Result<_>>().map_err(read)
    }

    fn output_mark(&self) -> Result<Option<OutputMark>> {
        let path = self.setting("output_path")?;
        let len = self.setting("output_len")?;
        Ok(match (path, len.and_then(|l| l.parse::<u64>().ok())) {
            (Some(path), Some(len)) => Some(OutputMark {
                path: PathBuf::from(path),
                len,
            }),
            _ => None,
        })
    }

    fn output_written(&mut self, seq: i64, mark: &OutputMark) -> Result<()> {
        self.writable()?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| store_err(&path, "cannot start a transaction", e))?;
        let result = (|| -> rusqlite::Result<()> {
            tx.execute("DELETE FROM outbox WHERE seq <= ?1", [seq])?;
            let mut set = tx.prepare_cached(
                "INSERT INTO setting (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            set.execute(params!["output_path", mark.path.to_string_lossy()])?;
            set.execute(params!["output_len", mark.len.to_string()])?;
            Ok(())
        })();
        result
            .and_then(|_| tx.commit())
            .map_err(|e| store_err(&path, "cannot mark output as written", e))
    }

    fn page(&self, url: &str) -> Result<Option<CachedPage>> {
        self.page_row(url)
    }

    fn counters(&self) -> Result<BTreeMap<String, OutletCounters>> {
        let mut out: BTreeMap<String, OutletCounters> = BTreeMap::new();
        let read = |e| self.sql("cannot read the counters", e);
        let mut stmt = self
            .conn
            .prepare("SELECT outlet, name, value FROM outlet_counter")
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(read)?;
        for row in rows {
            let (outlet, name, value) = row.map_err(read)?;
            out.entry(outlet).or_default().set(&name, value);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT outlet, items, repairs FROM outlet_fetch")
            .map_err(read)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(read)?;
        for row in rows {
            let (outlet, items, repairs) = row.map_err(read)?;
            let c = out.entry(outlet).or_default();
            c.items = items.max(0) as u64;
            // A damaged repairs column shows no repairs rather than failing the read.
            c.repairs = serde_json::from_str(&repairs).unwrap_or_default();
        }
        Ok(out)
    }

    fn poll_state(&self) -> Result<PollState> {
        let mut state = PollState::default();
        let read = |e| self.sql("cannot read the poll state", e);
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT name, etag, last_modified, failures, hint_secs, next_due, last_poll,
                            last_status, last_error, polls FROM outlet",
                )
                .map_err(read)?;
            for row in stmt.query_map([], outlet_from).map_err(read)? {
                let (name, outlet) = row.map_err(read)?;
                state.outlets.insert(name, outlet);
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare("SELECT name, blocked_until FROM host")
                .map_err(read)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        HostState {
                            blocked_until: r.get(1)?,
                        },
                    ))
                })
                .map_err(read)?;
            for row in rows {
                let (name, host) = row.map_err(read)?;
                state.hosts.insert(name, host);
            }
        }
        {
            let mut stmt = self
                .conn
                .prepare("SELECT outlet, item_id, content_hash, first_seen, last_seen FROM item")
                .map_err(read)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        SeenItem {
                            content: r.get::<_, i64>(2)? as u64,
                            first_seen: r.get(3)?,
                            last_seen: r.get(4)?,
                        },
                    ))
                })
                .map_err(read)?;
            for row in rows {
                let (outlet, id, seen) = row.map_err(read)?;
                state
                    .seen
                    .outlets
                    .entry(outlet)
                    .or_default()
                    .insert(id, seen);
            }
        }
        Ok(state)
    }
}

impl SqliteStore {
    fn page_row(&self, url: &str) -> Result<Option<CachedPage>> {
        self.conn
            .prepare_cached(
                "SELECT url, final_url, fetched_at, etag, last_modified, html FROM page WHERE url = ?1",
            )
            .and_then(|mut s| {
                s.query_row([url], |r| {
                    Ok(CachedPage {
                        url: r.get(0)?,
                        final_url: r.get(1)?,
                        fetched_at: r.get(2)?,
                        etag: r.get(3)?,
                        last_modified: r.get(4)?,
                        html: r.get(5)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.sql("cannot look up a cached page", e))
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM setting WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql("cannot read settings", e))
    }
}

/// Table sizes, for `stories` summaries and the benchmark.
impl SqliteStore {
    pub fn counts(&self) -> Result<HashMap<&'static str, u64>> {
        let mut out = HashMap::new();
        for table in ["item", "story", "emission", "outlet", "page"] {
            let n: i64 = self
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(|e| self.sql("cannot count rows", e))?;
            out.insert(table, n as u64);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose settings an older build wrote with the scheme's Rust variant name opens
    /// with today's settings, and its value is rewritten; other settings are still refused.
    #[test]
    fn settings_written_by_an_older_build_are_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        let config = crate::dedup::EngineConfig::default();
        let today = super::super::signature_settings(&config);
        assert!(today.starts_with("scheme=oph "), "{today}");
        {
            let store = SqliteStore::open(&path).expect("open");
            let old = today.replace("scheme=oph", "scheme=Oph");
            store
                .conn
                .execute(
                    "INSERT INTO setting (key, value) VALUES ('signature', ?1)",
                    [&old],
                )
                .expect("old setting");
        }
        let mut store = SqliteStore::open(&path).expect("reopen");
        store
            .check_settings(&today)
            .expect("the old form is accepted");
        assert_eq!(
            store.setting("signature").expect("read"),
            Some(today.clone())
        );
        let other = today.replace("scheme=oph", "scheme=multiply-shift");
        assert!(
            store.check_settings(&other).is_err(),
            "other settings refused"
        );
        assert_eq!(
            super::super::migrate_signature_settings("scheme=MultiplyShift permutations=64"),
            "scheme=multiply-shift permutations=64"
        );
    }

    /// A store written by a build before the page cache (schema 3) opens, migrates, keeps its
    /// rows and caches pages.
    #[test]
    fn a_schema_3_store_migrates_to_the_page_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute_batch(
                "PRAGMA user_version = 3;
                 INSERT INTO outlet (name, polls) VALUES ('a', 7);",
            )
            .expect("old rows");
        }
        let mut store = SqliteStore::open(&path).expect("migrates");
        assert_eq!(store.user_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(store.poll_state().expect("state").outlets["a"].polls, 7);
        assert_eq!(store.page("https://a.test/1").expect("lookup"), None);
        let page = CachedPage {
            url: "https://a.test/1".to_string(),
            final_url: "https://a.test/1?amp".to_string(),
            fetched_at: 100,
            etag: Some("\"e\"".to_string()),
            last_modified: None,
            html: "<p>Text</p>".to_string(),
        };
        let batch = Batch {
            pages: vec![page.clone()],
            ..Batch::default()
        };
        store.commit(&batch).expect("commit");
        assert_eq!(store.page(&page.url).expect("lookup"), Some(page.clone()));
        store.expire(101).expect("expire");
        assert_eq!(store.page(&page.url).expect("lookup"), None, "pages expire");
    }

    /// A store at schema 4 (the last version before the counters, what both halves of the
    /// store work started from) opens at this build's version: its outlet rows read back with
    /// typed statuses, its old-form signature settings are rewritten, and the counters start
    /// empty and count.
    #[test]
    fn a_schema_4_store_migrates_to_the_counters() {
        assert_eq!(SCHEMA_VERSION, 5);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v4.db");
        let today = super::super::signature_settings(&crate::dedup::EngineConfig::default());
        {
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.execute_batch(
                "PRAGMA user_version = 4;
                 INSERT INTO outlet (name, last_status, polls) VALUES ('a', '304', 7);
                 INSERT INTO outlet (name, last_status, last_error, polls)
                     VALUES ('b', '503', 'HTTP 503', 2);",
            )
            .expect("old rows");
            conn.execute(
                "INSERT INTO setting (key, value) VALUES ('signature', ?1)",
                [today.replace("scheme=oph", "scheme=Oph")],
            )
            .expect("old setting");
        }
        let mut store = SqliteStore::open(&path).expect("migrates");
        assert_eq!(store.user_version().expect("version"), SCHEMA_VERSION);
        store.check_settings(&today).expect("old settings accepted");
        let state = store.poll_state().expect("state");
        assert_eq!(state.outlets["a"].polls, 7);
        assert_eq!(
            state.outlets["a"].last_status,
            Some(PollStatus::not_modified(Some(304)))
        );
        let b = &state.outlets["b"];
        assert_eq!(
            b.last_status
                .map(|s| PollResult::from_status(s, b.last_error.as_deref())),
            Some(PollResult::Error)
        );
        assert!(store.counters().expect("counters").is_empty());
        let batch = Batch {
            tally: Some(super::super::PollTally {
                outlet: "a".to_string(),
                result: PollResult::Ok,
                items: 4,
                new: 4,
                ..Default::default()
            }),
            ..Batch::default()
        };
        store.commit(&batch).expect("commit");
        let counters = store.counters().expect("counters");
        assert_eq!(counters["a"].polls(PollResult::Ok), 1);
        assert_eq!((counters["a"].new, counters["a"].items), (4, 4));
    }
}
