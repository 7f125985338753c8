//! [`Store`] on Redis or Redis Cluster, shared by several `syndedup run` workers.
//!
//! The shared state is an append-only log of committed batches, the stream `{p}:log` (`p` is
//! `[store] prefix`). Every worker keeps a replica of the store in memory (a [`MemoryStore`])
//! and brings it up to date by replaying the log from the last entry it applied; every read
//! answers from the caught-up replica, so a Redis store answers exactly like the memory store
//! (which answers like SQLite) for the same batches in the same order.
//!
//! Writes are serialized by the decision lock `{p}:decide` (`SET NX PX`, a token per
//! holding). A commit is one Lua script that checks that the lock is still the caller's
//! (fencing) *and* that the log's last entry is the one the caller last applied (so the
//! batch was decided knowing every earlier commit), then appends the batch to `{p}:log`, its
//! output lines to the stream `{p}:outbox`, records the commit and releases the lock. Every
//! key of that script carries the hash tag `{p}`, so they all live in one cluster slot and
//! the script is legal on a cluster. See `docs/redis.md` for the whole design.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{ConnectionLike, RedisResult};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::config::StoreConfig;
use crate::dedup::Fingerprint;
use crate::error::{Error, Result};
use crate::model::{ArticleMeta, Decision, StoryId};

use super::{
    Batch, CachedPage, Emission, EmissionKind, Expired, HostState, ItemKey, ItemRecord,
    MemoryStore, OutletCounters, OutletState, OutputMark, PollResult, PollState, PollTally,
    Snapshot, Store, StoredStory, StoryMerge, StoryQuery,
};

/// How to reach Redis, from `[store]` (the password read from its environment variable).
#[derive(Clone)]
pub struct RedisSettings {
    pub urls: Vec<String>,
    pub prefix: String,
    pub password: Option<String>,
    pub tls: bool,
    pub lock_ttl: Duration,
    pub lease: Duration,
    /// How long an operation keeps retrying an unreachable Redis before it fails.
    pub retry_for: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("urls", &self.urls)
            .field("prefix", &self.prefix)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls)
            .field("lock_ttl", &self.lock_ttl)
            .field("lease", &self.lease)
            .finish()
    }
}

impl RedisSettings {
    /// Reads `[store]`: the URLs (as `rediss://` with `tls`), and the password from the
    /// variable `password_env` names; an unset variable is an error naming it.
    pub fn from_config(config: &StoreConfig) -> Result<RedisSettings> {
        let password = match &config.password_env {
            None => None,
            Some(name) => match std::env::var(name) {
                Ok(v) => Some(v),
                Err(_) => {
                    return Err(Error::RedisConfig {
                        message: format!(
                            "store.password_env names the environment variable {name}, which is not set"
                        ),
                    })
                }
            },
        };
        if config.urls.is_empty() {
            return Err(Error::RedisConfig {
                message: "store.urls is empty".to_string(),
            });
        }
        let urls = config
            .urls
            .iter()
            .map(|u| match (config.tls, u.strip_prefix("redis://")) {
                (true, Some(rest)) => format!("rediss://{rest}"),
                _ => u.clone(),
            })
            .collect();
        Ok(RedisSettings {
            urls,
            prefix: config.prefix.clone(),
            password,
            tls: config.tls,
            lock_ttl: config.lock_ttl,
            lease: config.lease,
            retry_for: Duration::from_secs(60),
        })
    }

    /// The URLs as one string for messages.
    pub fn url_list(&self) -> String {
        self.urls.join(",")
    }

    fn key(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.prefix)
    }
}

/// One connection, to a single Redis or to a cluster (which routes each command by its key
/// and follows `MOVED`/`ASK` redirections itself).
enum Conn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }

    fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between two tries to take a decision lock held by another worker.
const LOCK_POLL_MAX: Duration = Duration::from_millis(2);
/// Log entries read per `XRANGE` when catching up.
const LOG_PAGE: usize = 100;

fn connection_info(url: &str, password: &Option<String>) -> RedisResult<redis::ConnectionInfo> {
    let mut info = redis::IntoConnectionInfo::into_connection_info(url)?;
    if let Some(pw) = password {
        info.redis.password = Some(pw.clone());
    }
    Ok(info)
}

/// Connects: a cluster client for several URLs or when the one node says it is in cluster
/// mode (`INFO cluster`), else a plain connection.
fn connect(s: &RedisSettings) -> RedisResult<Conn> {
    let cluster = |s: &RedisSettings| -> RedisResult<Conn> {
        let mut b = redis::cluster::ClusterClientBuilder::new(s.urls.clone())
            .connection_timeout(TIMEOUT)
            .response_timeout(TIMEOUT)
            .retries(6);
        if let Some(pw) = &s.password {
            b = b.password(pw.clone());
        }
        let conn = b.build()?.get_connection()?;
        Ok(Conn::Cluster(Box::new(conn)))
    };
    if s.urls.len() > 1 {
        return cluster(s);
    }
    let info = connection_info(&s.urls[0], &s.password)?;
    let mut conn = redis::Client::open(info)?.get_connection_with_timeout(TIMEOUT)?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    let text: String = redis::cmd("INFO").arg("cluster").query(&mut conn)?;
    if text.contains("cluster_enabled:1") {
        return cluster(s);
    }
    Ok(Conn::Single(conn))
}

/// Whether an error is worth retrying after a reconnect: the network, a timeout, a cluster
/// that is resharding or electing a new master, a node still loading.
fn retryable(e: &redis::RedisError) -> bool {
    use redis::ErrorKind as K;
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            K::TryAgain | K::ClusterDown | K::MasterDown | K::BusyLoadingError | K::ReadOnly
        )
}

/// A connection that reconnects and retries with backoff (100 ms doubling to 5 s) for up to
/// `retry_for`, saying each time which URLs it cannot reach.
struct Link {
    settings: RedisSettings,
    conn: Option<Conn>,
    /// Time spent in Redis commands (retries and reconnects included).
    busy: Duration,
    commands: u64,
}

impl Link {
    fn new(settings: RedisSettings) -> Link {
        Link {
            settings,
            conn: None,
            busy: Duration::ZERO,
            commands: 0,
        }
    }

    fn run<T>(
        &mut self,
        action: &str,
        mut f: impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> Result<T> {
        let started = Instant::now();
        self.commands += 1;
        let result = self.run_inner(action, &mut f, started);
        self.busy += started.elapsed();
        result
    }

    fn run_inner<T>(
        &mut self,
        action: &str,
        f: &mut impl FnMut(&mut dyn ConnectionLike) -> RedisResult<T>,
        started: Instant,
    ) -> Result<T> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = match self.conn.as_mut() {
                Some(c) => f(c.like()),
                None => match connect(&self.settings) {
                    Ok(c) => {
                        if attempt > 1 {
                            info!(url = %self.settings.url_list(), attempts = attempt, "Redis reachable again.");
                        }
                        f(self.conn.insert(c).like())
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e) if retryable(&e) && started.elapsed() < self.settings.retry_for => {
                    warn!(
                        url = %self.settings.url_list(),
                        action,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %e,
                        "Redis unreachable; retrying."
                    );
                    self.conn = None;
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(source) => {
                    if retryable(&source) {
                        self.conn = None;
                    }
                    return Err(Error::Redis {
                        url: self.settings.url_list(),
                        action: action.to_string(),
                        source,
                    });
                }
            }
        }
    }
}

/// Tries to reach Redis once and says what it found (for `syndedup check --connect`).
pub fn probe(settings: &RedisSettings) -> Result<String> {
    let fail = |action: &str, source| Error::Redis {
        url: settings.url_list(),
        action: action.to_string(),
        source,
    };
    let mut conn = connect(settings).map_err(|e| fail("connect", e))?;
    let key = settings.key("probe");
    let pong: String = redis::cmd("SET")
        .arg(&key)
        .arg("1")
        .arg("PX")
        .arg(10_000)
        .query(conn.like())
        .map_err(|e| fail("write a key", e))?;
    let entries: u64 = redis::cmd("XLEN")
        .arg(settings.key("log"))
        .query(conn.like())
        .map_err(|e| fail("read the log", e))?;
    Ok(format!(
        "Redis {} reached ({}, write {pong}); the log {} holds {entries} entries",
        settings.url_list(),
        if conn.is_cluster() {
            "cluster"
        } else {
            "single node"
        },
        settings.key("log"),
    ))
}

/// The commit: fenced by the lock token and by the log's last entry, all keys in one slot.
/// KEYS: decide, log, outbox, committed. ARGV: token, expected tip, worker, batch JSON,
/// fingerprints, then one output line per argument (kept only in the outbox: the log entry
/// counts them). Returns the status, the log entry's id and the last outbox entry's id
/// (empty without lines).
const COMMIT: &str = r#"
local done = redis.call('GET', KEYS[4])
if done then
  local a = string.find(done, ' ', 1, true)
  if a and string.sub(done, 1, a - 1) == ARGV[1] then
    local rest = string.sub(done, a + 1)
    local b = string.find(rest, ' ', 1, true)
    return {'done', string.sub(rest, 1, b - 1), string.sub(rest, b + 1)}
  end
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {'lost', '', ''}
end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local tip = '0-0'
if #last > 0 then tip = last[1][1] end
if tip ~= ARGV[2] then
  return {'behind', tip, ''}
end
local id = redis.call('XADD', KEYS[2], '*', 'w', ARGV[3], 'b', ARGV[4], 'f', ARGV[5])
local out = ''
for i = 6, #ARGV do
  out = redis.call('XADD', KEYS[3], '*', 'line', ARGV[i], 'log', id)
end
redis.call('SET', KEYS[4], ARGV[1] .. ' ' .. id .. ' ' .. out)
redis.call('DEL', KEYS[1])
return {'ok', id, out}
"#;

/// Deletes a key only if it still holds the caller's value.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Takes or renews a lease: free, already the caller's, or left by a `run --once` that
/// finished (`done <unix time>`) before the caller's run started (ARGV[3]; a daemon passes
/// a time after every marker).
const CLAIM: &str = r#"
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif string.sub(v, 1, 5) == 'done ' and tonumber(string.sub(v, 6)) < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Gives a lease up with a `done <unix time>` marker (kept for the lease's TTL) if the
/// caller holds it.
const FINISH: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'done ' .. ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

fn eval(script: &str, keys: &[&str], args: &[&[u8]]) -> redis::Cmd {
    let mut c = redis::cmd("EVAL");
    c.arg(script).arg(keys.len());
    for k in keys {
        c.arg(*k);
    }
    for a in args {
        c.arg(*a);
    }
    c
}

/// A process-unique name: host, pid and a hash of the start time.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".to_string());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let salt = xxhash_rust::xxh3::xxh3_64(format!("{nanos}{:p}", &nanos).as_bytes());
    format!("{host}-{}-{:08x}", std::process::id(), salt as u32)
}

/// Outlet leases: `<p>:lease:<outlet>` (no hash tag: the keys spread over the cluster, each
/// used alone) holds the owning worker's name with a TTL of `[store] lease`, so each outlet
/// is polled by one worker and a dead worker's outlets move on. Shared by the fetch tasks.
pub struct Leases {
    link: Mutex<Link>,
    worker: String,
    prefix: String,
    ttl: Duration,
}

impl Leases {
    fn key(&self, outlet: &str) -> String {
        format!("{}:lease:{outlet}", self.prefix)
    }

    /// Takes or renews the lease on `outlet`; false when another worker holds it. A
    /// `run --once` passes when it started (`once_since`, Unix seconds): an outlet another
    /// `--once` run finished after that is not taken again by this run.
    pub fn claim(&self, outlet: &str, once_since: Option<i64>) -> Result<bool> {
        let key = self.key(outlet);
        let ttl = self.ttl.as_millis().min(i64::MAX as u128).to_string();
        let since = once_since.unwrap_or(i64::MAX / 2).to_string();
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        let got: i64 = link.run("claim an outlet lease", |c| {
            eval(
                CLAIM,
                &[&key],
                &[self.worker.as_bytes(), ttl.as_bytes(), since.as_bytes()],
            )
            .query(c)
        })?;
        Ok(got == 1)
    }

    /// Gives up the lease on `outlet` if this worker holds it: free at once for a daemon
    /// that stops; for a `run --once` (`done_at`, Unix seconds), free for runs started later.
    pub fn release(&self, outlet: &str, done_at: Option<i64>) -> Result<()> {
        let key = self.key(outlet);
        let ttl = self.ttl.as_millis().min(i64::MAX as u128).to_string();
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        let _: i64 = link.run("release an outlet lease", |c| match done_at {
            None => eval(RELEASE, &[&key], &[self.worker.as_bytes()]).query(c),
            Some(t) => eval(
                FINISH,
                &[&key],
                &[
                    self.worker.as_bytes(),
                    t.to_string().as_bytes(),
                    ttl.as_bytes(),
                ],
            )
            .query(c),
        })?;
        Ok(())
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }
}

struct Inner {
    link: Link,
    replica: MemoryStore,
    /// The last log entry applied to the replica (`0-0`: none).
    applied: String,
    /// The last outbox entry whose line went to the replica.
    applied_outbox: String,
    /// Batches other workers committed that the caller has not taken yet
    /// ([`Store::take_foreign`]).
    foreign: VecDeque<Arc<Batch>>,
    /// The decision lock's token while this store holds it.
    lock: Option<String>,
    locks: u64,
    /// Time spent waiting for the decision lock, and holding it.
    lock_wait: Duration,
    held_since: Option<Instant>,
    lock_held: Duration,
    /// Output lines up to this replica sequence are written to the output file.
    mark: Option<(i64, OutputMark)>,
    mark_loaded: bool,
}

/// The Redis store. See the module docs.
pub struct RedisStore {
    settings: RedisSettings,
    worker: String,
    inner: RefCell<Inner>,
    leases: Arc<Leases>,
}

impl RedisStore {
    /// Connects (retrying as every operation does) and replays the log into the replica.
    pub fn open(settings: RedisSettings) -> Result<RedisStore> {
        let worker = worker_name();
        let leases = Arc::new(Leases {
            link: Mutex::new(Link::new(settings.clone())),
            worker: worker.clone(),
            prefix: settings.prefix.clone(),
            ttl: settings.lease,
        });
        let store = RedisStore {
            inner: RefCell::new(Inner {
                link: Link::new(settings.clone()),
                replica: MemoryStore::new(),
                applied: "0-0".to_string(),
                applied_outbox: "0-0".to_string(),
                foreign: VecDeque::new(),
                lock: None,
                locks: 0,
                lock_wait: Duration::ZERO,
                held_since: None,
                lock_held: Duration::ZERO,
                mark: None,
                mark_loaded: false,
            }),
            settings,
            worker,
            leases,
        };
        let started = Instant::now();
        let n = store.catch_up()?;
        // What was in the log before this worker started is the state it resumes from, not
        // news from other workers.
        store.inner.borrow_mut().foreign.clear();
        info!(
            url = %store.settings.url_list(),
            worker = %store.worker,
            entries = n,
            seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
            "Redis store opened; log replayed."
        );
        Ok(store)
    }

    /// Opens from `[store]`.
    pub fn from_config(config: &StoreConfig) -> Result<RedisStore> {
        RedisStore::open(RedisSettings::from_config(config)?)
    }

    /// This worker's name (lock tokens and leases carry it).
    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// Refuses signatures made with other settings than those the store was started with
    /// (`{p}:settings`, set by the first worker).
    pub fn check_settings(&mut self, settings: &str) -> Result<()> {
        let key = self.settings.key("settings");
        let inner = self.inner.get_mut();
        let stored: Option<String> = inner.link.run("check the signature settings", |c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(settings)
                .arg("NX")
                .arg("GET")
                .query(c)
        })?;
        match stored {
            Some(s) if s != settings => Err(Error::Shared {
                url: self.settings.url_list(),
                message: format!(
                    "the store's signatures were made with \"{s}\" but this config makes \"{settings}\"; use another store.prefix or the old settings"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Reads log entries after the last applied one into the replica; returns how many.
    fn catch_up(&self) -> Result<usize> {
        let log = self.settings.key("log");
        let mut inner = self.inner.borrow_mut();
        let mut total = 0;
        loop {
            let from = format!("({}", inner.applied);
            let rows: Vec<(String, Vec<Vec<u8>>)> = inner.link.run("read the log", |c| {
                redis::cmd("XRANGE")
                    .arg(&log)
                    .arg(&from)
                    .arg("+")
                    .arg("COUNT")
                    .arg(LOG_PAGE)
                    .query(c)
            })?;
            if rows.is_empty() {
                return Ok(total);
            }
            // Fewer than asked for: that was the tip, no need to ask again (under the
            // decision lock nobody can have added more; without it, the next call reads it).
            let at_tip = rows.len() < LOG_PAGE;
            total += rows.len();
            let mut entries = Vec::with_capacity(rows.len());
            for (id, fields) in rows {
                let entry = LogEntry::from_fields(&fields).map_err(|message| Error::Shared {
                    url: self.settings.url_list(),
                    message: format!("log entry {id} in {log} cannot be read: {message}"),
                })?;
                entries.push((id, entry));
            }
            // The entries' output lines, in the outbox in the same order (one script wrote
            // both).
            let wanted: usize = entries.iter().map(|(_, e)| e.batch.n_lines).sum();
            let mut lines = self.read_outbox(&mut inner, wanted)?.into_iter();
            for (id, entry) in entries {
                let unreadable = |message: String| Error::Shared {
                    url: self.settings.url_list(),
                    message: format!("log entry {id} in {log} cannot be read: {message}"),
                };
                let mut mine = Vec::with_capacity(entry.batch.n_lines);
                for _ in 0..entry.batch.n_lines {
                    match lines.next() {
                        Some((of, line)) if of == id => mine.push(line),
                        _ => {
                            return Err(unreadable(format!(
                                "its {} output lines are not all in {}",
                                entry.batch.n_lines,
                                self.settings.key("outbox")
                            )))
                        }
                    }
                }
                match entry.batch.expire {
                    Some(before) => {
                        inner.replica.expire(before)?;
                    }
                    None => {
                        let batch = entry.into_batch(mine).map_err(unreadable)?;
                        inner.replica.commit(&batch)?;
                        inner.foreign.push_back(Arc::new(batch));
                    }
                }
                inner.applied = id;
            }
            if at_tip {
                return Ok(total);
            }
        }
    }

    /// The next `n` outbox lines after the last one applied, each with the log entry that
    /// wrote it.
    fn read_outbox(&self, inner: &mut Inner, n: usize) -> Result<Vec<(String, String)>> {
        let key = self.settings.key("outbox");
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let from = format!("({}", inner.applied_outbox);
            let count = (n - out.len()).min(1000);
            let rows: Vec<(String, Vec<Vec<u8>>)> = inner.link.run("read the outbox", |c| {
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(&from)
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query(c)
            })?;
            if rows.is_empty() {
                break;
            }
            for (id, fields) in rows {
                let mut line = None;
                let mut log = None;
                for pair in fields.chunks(2) {
                    if let [name, value] = pair {
                        match name.as_slice() {
                            b"line" => line = Some(String::from_utf8_lossy(value).into_owned()),
                            b"log" => log = Some(String::from_utf8_lossy(value).into_owned()),
                            _ => {}
                        }
                    }
                }
                if let (Some(line), Some(log)) = (line, log) {
                    out.push((log, line));
                }
                inner.applied_outbox = id;
            }
        }
        Ok(out)
    }

    /// Takes the decision lock (waiting while another worker holds it, at most three lock
    /// TTLs: a dead holder's lock expires after one), then catches up.
    fn lock(&self) -> Result<()> {
        if self.inner.borrow().lock.is_some() {
            // Held: nobody else can have committed (the commit's fencing checks it).
            return Ok(());
        }
        let key = self.settings.key("decide");
        let ttl = self.settings.lock_ttl.as_millis().min(i64::MAX as u128) as u64;
        let started = Instant::now();
        let mut wait = Duration::from_micros(250);
        {
            let mut inner = self.inner.borrow_mut();
            inner.locks += 1;
            let token = format!("{}#{}", self.worker, inner.locks);
            loop {
                let got: Option<String> = inner.link.run("take the decision lock", |c| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&token)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl)
                        .query(c)
                })?;
                if got.is_some() {
                    inner.lock = Some(token);
                    inner.lock_wait += started.elapsed();
                    inner.held_since = Some(Instant::now());
                    break;
                }
                if started.elapsed() > self.settings.lock_ttl * 3 {
                    return Err(Error::Shared {
                        url: self.settings.url_list(),
                        message: format!(
                            "the decision lock {key} stayed taken for {:?}",
                            started.elapsed()
                        ),
                    });
                }
                // Short waits: the holder's commit releases the lock within milliseconds, and
                // every millisecond the lock stays free after that is lost to all workers
                // (one `SET NX` per wait costs Redis little).
                std::thread::sleep(wait);
                wait = (wait * 2).min(LOCK_POLL_MAX);
            }
            let waited = started.elapsed();
            if waited > Duration::from_millis(500) {
                debug!(
                    ms = waited.as_millis() as u64,
                    "Waited for the decision lock."
                );
            }
        }
        if let Err(e) = self.catch_up() {
            self.unlock();
            return Err(e);
        }
        Ok(())
    }

    /// Releases the decision lock if held (best effort: it expires anyway).
    fn unlock(&self) {
        let key = self.settings.key("decide");
        let mut inner = self.inner.borrow_mut();
        if let Some(since) = inner.held_since.take() {
            inner.lock_held += since.elapsed();
        }
        if let Some(token) = inner.lock.take() {
            let r: Result<i64> = inner.link.run("release the decision lock", |c| {
                eval(RELEASE, &[&key], &[token.as_bytes()]).query(c)
            });
            if let Err(e) = r {
                warn!(error = %e, "The decision lock could not be released; it expires by itself.");
            }
        }
    }

    /// Appends one entry under the lock (taken here if not held) and applies `apply` to the
    /// replica once Redis confirmed it.
    fn append(&self, entry: &LogEntry, lines: &[String]) -> Result<()> {
        self.lock()?;
        let decided = !entry.batch.items.is_empty()
            || !entry.batch.emissions.is_empty()
            || !entry.batch.merges.is_empty();
        let unseen = self.inner.borrow().foreign.len();
        if decided && unseen > 0 {
            // The batch's decisions were made without these commits (the caller did not
            // take them, see `Store::take_foreign`): writing it could start a second story.
            self.unlock();
            return Err(Error::Shared {
                url: self.settings.url_list(),
                message: format!(
                    "{unseen} batch(es) committed by other workers were not seen by the engine that decided this batch; the batch was not written (decide after Store::begin_decide and Store::take_foreign)"
                ),
            });
        }
        let keys = [
            self.settings.key("decide"),
            self.settings.key("log"),
            self.settings.key("outbox"),
            self.settings.key("committed"),
        ];
        let json = serde_json::to_vec(&entry.batch).map_err(|source| Error::Serialize {
            what: "a batch for the Redis log",
            source,
        })?;
        let fps = entry.fingerprint_blob();
        let mut inner = self.inner.borrow_mut();
        let token = inner.lock.clone().unwrap_or_default();
        let tip = inner.applied.clone();
        let mut args: Vec<&[u8]> = vec![
            token.as_bytes(),
            tip.as_bytes(),
            self.worker.as_bytes(),
            &json,
            &fps,
        ];
        args.extend(lines.iter().map(|l| l.as_bytes()));
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let reply: Result<(String, String, String)> = inner.link.run("commit a batch", |c| {
            eval(COMMIT, &key_refs, &args).query(c)
        });
        inner.lock = None;
        if let Some(since) = inner.held_since.take() {
            inner.lock_held += since.elapsed();
        }
        let (status, id, out) = reply?;
        match status.as_str() {
            "ok" | "done" => {
                inner.applied = id;
                if !out.is_empty() {
                    inner.applied_outbox = out;
                }
                Ok(())
            }
            "lost" => Err(Error::Shared {
                url: self.settings.url_list(),
                message: format!(
                    "the decision lock expired before the commit (held longer than store.lock_ttl {:?}); the batch was not written",
                    self.settings.lock_ttl
                ),
            }),
            _ => Err(Error::Shared {
                url: self.settings.url_list(),
                message: format!(
                    "another worker committed (log at {id}, this worker at {tip}) while this batch was decided; the batch was not written"
                ),
            }),
        }
    }

    fn load_mark(&self) -> Result<()> {
        if self.inner.borrow().mark_loaded {
            return Ok(());
        }
        let key = self.settings.key("marks");
        let mut inner = self.inner.borrow_mut();
        let worker_marks: BTreeMap<String, String> =
            inner.link.run("read the output marks", |c| {
                redis::cmd("HGETALL").arg(&key).query(c)
            })?;
        inner.mark = worker_marks.values().find_map(|v| parse_mark(v));
        inner.mark_loaded = true;
        Ok(())
    }

    /// Outlet leases for the poller (one more connection).
    pub fn outlet_leases(&self) -> Arc<Leases> {
        self.leases.clone()
    }
}

fn parse_mark(v: &str) -> Option<(i64, OutputMark)> {
    let (seq, rest) = v.split_once(' ')?;
    let (len, path) = rest.split_once(' ')?;
    Some((
        seq.parse().ok()?,
        OutputMark {
            path: path.into(),
            len: len.parse().ok()?,
        },
    ))
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.unlock();
        let inner = self.inner.get_mut();
        if inner.locks > 0 {
            info!(
                worker = %self.worker,
                commands = inner.link.commands,
                redis_seconds = format!("{:.2}", inner.link.busy.as_secs_f64()),
                decisions = inner.locks,
                lock_wait_seconds = format!("{:.2}", inner.lock_wait.as_secs_f64()),
                lock_held_seconds = format!("{:.2}", inner.lock_held.as_secs_f64()),
                "Redis store closed: time in Redis commands (lock waits included), waiting for and holding the decision lock."
            );
        }
    }
}

impl Store for RedisStore {
    fn load(&self, since: i64) -> Result<Snapshot> {
        self.catch_up()?;
        self.inner.borrow().replica.load(since)
    }

    fn seen(&self, key: &ItemKey) -> Result<Option<u64>> {
        self.catch_up()?;
        self.inner.borrow().replica.seen(key)
    }

    fn commit(&mut self, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            self.unlock();
            return Ok(());
        }
        let entry = LogEntry::from_batch(batch);
        self.append(&entry, &batch.lines)?;
        self.inner.get_mut().replica.commit(batch)
    }

    fn expire(&mut self, before: i64) -> Result<Expired> {
        let entry = LogEntry {
            batch: LogBatch {
                expire: Some(before),
                ..LogBatch::default()
            },
            fingerprints: Vec::new(),
        };
        self.append(&entry, &[])?;
        self.inner.get_mut().replica.expire(before)
    }

    fn stories(&self, query: &StoryQuery) -> Result<Vec<StoredStory>> {
        self.catch_up()?;
        self.inner.borrow().replica.stories(query)
    }

    fn story(&self, id: StoryId) -> Result<Option<StoredStory>> {
        self.catch_up()?;
        self.inner.borrow().replica.story(id)
    }

    fn poll_state(&self) -> Result<PollState> {
        self.catch_up()?;
        self.inner.borrow().replica.poll_state()
    }

    fn output_pending(&self) -> Result<Vec<(i64, String)>> {
        self.catch_up()?;
        self.load_mark()?;
        let inner = self.inner.borrow();
        let after = inner.mark.as_ref().map_or(0, |m| m.0);
        Ok(inner
            .replica
            .output_pending()?
            .into_iter()
            .filter(|(s, _)| *s > after)
            .collect())
    }

    fn output_mark(&self) -> Result<Option<OutputMark>> {
        self.load_mark()?;
        Ok(self.inner.borrow().mark.as_ref().map(|m| m.1.clone()))
    }

    fn output_written(&mut self, seq: i64, mark: &OutputMark) -> Result<()> {
        self.load_mark()?;
        let key = self.settings.key("marks");
        let inner = self.inner.get_mut();
        let seq = seq.max(inner.mark.as_ref().map_or(0, |m| m.0));
        let value = format!("{seq} {} {}", mark.len, mark.path.display());
        let field = mark.path.display().to_string();
        let _: i64 = inner.link.run("record the output mark", |c| {
            redis::cmd("HSET")
                .arg(&key)
                .arg(&field)
                .arg(&value)
                .query(c)
        })?;
        inner.mark = Some((seq, mark.clone()));
        inner.replica.output_written(seq, mark)
    }

    fn page(&self, url: &str) -> Result<Option<CachedPage>> {
        self.inner.borrow().replica.page(url)
    }

    fn counters(&self) -> Result<BTreeMap<String, OutletCounters>> {
        self.catch_up()?;
        self.inner.borrow().replica.counters()
    }

    fn begin_decide(&mut self) -> Result<()> {
        self.lock()
    }

    fn catch_up(&mut self) -> Result<()> {
        RedisStore::catch_up(self).map(|_| ())
    }

    fn take_foreign(&mut self) -> Vec<Arc<Batch>> {
        self.inner.get_mut().foreign.drain(..).collect()
    }

    fn abandon_decide(&mut self) {
        self.unlock();
    }

    fn leases(&self) -> Option<Arc<Leases>> {
        Some(self.leases.clone())
    }
}

/// A log entry: the batch as JSON (field `b`), its fingerprints as one binary field (`f`),
/// the committing worker (`w`).
struct LogEntry {
    batch: LogBatch,
    fingerprints: Vec<Vec<u8>>,
}

/// A [`Batch`] as the log keeps it. Fetched pages stay out (each worker caches its own).
#[derive(Debug, Default, Serialize, Deserialize)]
struct LogBatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expire: Option<i64>,
    #[serde(default)]
    outlet: Option<(String, OutletState)>,
    #[serde(default)]
    hosts: Vec<(String, HostState)>,
    #[serde(default)]
    items: Vec<LogItem>,
    #[serde(default)]
    seen: Vec<ItemKey>,
    #[serde(default)]
    seen_at: i64,
    #[serde(default)]
    emissions: Vec<LogEmission>,
    /// How many output lines the batch wrote to the outbox (they are kept there only).
    #[serde(default)]
    n_lines: usize,
    #[serde(default)]
    learner: Vec<(String, Vec<Vec<u64>>)>,
    #[serde(default)]
    merges: Vec<(u64, u64)>,
    #[serde(default)]
    tally: Option<LogTally>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LogItem {
    meta: ArticleMeta,
    hash: u64,
    time: i64,
    seen_at: i64,
    story: u64,
    dup_of: Option<String>,
    score: Option<f32>,
    canonical: bool,
    merged: Vec<u64>,
    duplicate_of: Option<ItemKey>,
    payload: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LogEmission {
    story: u64,
    new: bool,
    item: ItemKey,
    at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct LogTally {
    outlet: String,
    result: String,
    fetch_us: u64,
    items: u64,
    new: u64,
    duplicates: u64,
    engine_us: u64,
    repairs: Vec<String>,
    full_text: Vec<(String, u64)>,
}

const FULL_TEXT_NAMES: [&str; 5] = ["fetched", "cached", "failed", "refused", "skipped"];

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

impl LogEntry {
    fn from_batch(b: &Batch) -> LogEntry {
        let items = b
            .items
            .iter()
            .map(|i| LogItem {
                meta: i.meta.clone(),
                hash: i.content_hash,
                time: i.time,
                seen_at: i.seen_at,
                story: i.decision.story.0,
                dup_of: i.decision.duplicate_of.clone(),
                score: i.decision.score,
                canonical: i.decision.became_canonical,
                merged: i.decision.merged.iter().map(|s| s.0).collect(),
                duplicate_of: i.duplicate_of.clone(),
                payload: i.payload.clone(),
            })
            .collect();
        let tally = b.tally.as_ref().map(|t| LogTally {
            outlet: t.outlet.clone(),
            result: t.result.as_str().to_string(),
            fetch_us: micros(t.fetch),
            items: t.items,
            new: t.new,
            duplicates: t.duplicates,
            engine_us: micros(t.engine),
            repairs: t.repairs.clone(),
            full_text: t
                .full_text
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        });
        LogEntry {
            batch: LogBatch {
                expire: None,
                outlet: b.outlet.clone(),
                hosts: b.hosts.clone(),
                items,
                seen: b.seen.clone(),
                seen_at: b.seen_at,
                emissions: b
                    .emissions
                    .iter()
                    .map(|e| LogEmission {
                        story: e.story.0,
                        new: e.kind == EmissionKind::New,
                        item: e.item.clone(),
                        at: e.at,
                    })
                    .collect(),
                n_lines: b.lines.len(),
                learner: b.learner.clone(),
                merges: b
                    .merges
                    .iter()
                    .map(|m| (m.absorbed.0, m.survivor.0))
                    .collect(),
                tally,
            },
            fingerprints: b.items.iter().map(|i| i.fingerprint.to_bytes()).collect(),
        }
    }

    /// Fingerprints as `u32` length (little endian) then bytes, one after another.
    fn fingerprint_blob(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.fingerprints {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    fn from_fields(fields: &[Vec<u8>]) -> std::result::Result<LogEntry, String> {
        let mut batch = None;
        let mut blob: &[u8] = &[];
        for pair in fields.chunks(2) {
            if let [name, value] = pair {
                match name.as_slice() {
                    b"b" => {
                        batch = Some(
                            serde_json::from_slice::<LogBatch>(value)
                                .map_err(|e| format!("the batch is not valid JSON: {e}"))?,
                        )
                    }
                    b"f" => blob = value,
                    _ => {}
                }
            }
        }
        let batch = batch.ok_or("it has no batch field")?;
        let mut fingerprints = Vec::new();
        let mut rest = blob;
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err("the fingerprints are cut short".to_string());
            }
            let n = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let body = rest.get(4..4 + n).ok_or("a fingerprint is cut short")?;
            fingerprints.push(body.to_vec());
            rest = &rest[4 + n..];
        }
        if fingerprints.len() != batch.items.len() {
            return Err(format!(
                "{} items but {} fingerprints",
                batch.items.len(),
                fingerprints.len()
            ));
        }
        Ok(LogEntry {
            batch,
            fingerprints,
        })
    }

    fn into_batch(self, lines: Vec<String>) -> std::result::Result<Batch, String> {
        let b = self.batch;
        let mut items = Vec::with_capacity(b.items.len());
        for (i, fp) in b.items.into_iter().zip(self.fingerprints) {
            let fingerprint = Fingerprint::from_bytes(&fp)
                .ok_or_else(|| format!("the fingerprint of item {} is damaged", i.meta.id))?;
            items.push(ItemRecord {
                meta: i.meta,
                content_hash: i.hash,
                time: i.time,
                seen_at: i.seen_at,
                fingerprint,
                decision: Decision {
                    story: StoryId(i.story),
                    duplicate_of: i.dup_of,
                    score: i.score,
                    became_canonical: i.canonical,
                    merged: i.merged.into_iter().map(StoryId).collect(),
                },
                duplicate_of: i.duplicate_of,
                payload: i.payload,
            });
        }
        let tally = b.tally.map(|t| PollTally {
            outlet: t.outlet,
            result: match t.result.as_str() {
                "not_modified" => PollResult::NotModified,
                "error" => PollResult::Error,
                _ => PollResult::Ok,
            },
            fetch: Duration::from_micros(t.fetch_us),
            items: t.items,
            new: t.new,
            duplicates: t.duplicates,
            engine: Duration::from_micros(t.engine_us),
            repairs: t.repairs,
            full_text: t
                .full_text
                .into_iter()
                .filter_map(|(k, v)| FULL_TEXT_NAMES.iter().find(|n| **n == k).map(|n| (*n, v)))
                .collect(),
        });
        Ok(Batch {
            outlet: b.outlet,
            hosts: b.hosts,
            items,
            seen: b.seen,
            seen_at: b.seen_at,
            emissions: b
                .emissions
                .into_iter()
                .map(|e| Emission {
                    story: StoryId(e.story),
                    kind: if e.new {
                        EmissionKind::New
                    } else {
                        EmissionKind::Update
                    },
                    item: e.item,
                    at: e.at,
                })
                .collect(),
            lines,
            learner: b.learner,
            merges: b
                .merges
                .into_iter()
                .map(|(a, s)| StoryMerge {
                    absorbed: StoryId(a),
                    survivor: StoryId(s),
                })
                .collect(),
            pages: Vec::new(),
            tally,
        })
    }
}
