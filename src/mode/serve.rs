//! `syndedup serve`: the read-only HTTP service over the store, without polling. A separate
//! reader process next to `syndedup run` (or after `run --once`): it opens the database
//! read-only, takes no lock, and re-reads it every `--refresh`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::config::StoreKind;
use crate::http::update::{apply_snapshot, load_from_store, store_failed, StoreSnapshot};
use crate::http::{ServiceState, SharedState, StoryPages, DEFAULT_LISTEN};
use crate::store::{store_path, RedisStore, SqliteStore};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML config file: `[store] path` names the database, `[[feed]]` the feeds served,
    /// `[http] listen` the address.
    #[arg(long)]
    pub config: PathBuf,
    /// Address to listen on, overriding `[http] listen` (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// How often the store is read again ("10s", "1m").
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub refresh: Duration,
}

/// Reads the store once; the error names the database.
fn read_store(config: &Config, path: &Path) -> crate::error::Result<StoreSnapshot> {
    let store = SqliteStore::open_read_only(path)?;
    let mut snapshot = load_from_store(config, &store, Utc::now())?;
    snapshot.story_total = store.counts()?.get("story").copied();
    Ok(snapshot)
}

/// Reads the Redis store: the first read replays the log, later ones only what was
/// committed since (the store is kept between refreshes).
fn read_redis(
    config: &Config,
    cell: &std::sync::Mutex<Option<RedisStore>>,
) -> crate::error::Result<StoreSnapshot> {
    let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
    let store = match guard.as_mut() {
        Some(s) => s,
        None => guard.insert(RedisStore::from_config(&config.store)?),
    };
    load_from_store(config, store, Utc::now())
}

/// Where `serve` reads: the SQLite file, or Redis (one store kept between refreshes).
#[derive(Clone)]
enum Source {
    Sqlite(PathBuf),
    Redis(std::sync::Arc<std::sync::Mutex<Option<RedisStore>>>, String),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Sqlite(p) => p.display().to_string(),
            Source::Redis(_, urls) => format!("redis {urls}"),
        }
    }

    fn stamp(&self) -> Option<Stamp> {
        match self {
            Source::Sqlite(p) => Some(stamp(p)),
            // Redis has no cheap change stamp here: every tick reads what was committed.
            Source::Redis(..) => None,
        }
    }
}

/// Size and modification time of the database and its write-ahead log: every commit changes
/// one of them, so an unchanged stamp means there is nothing new to read.
type Stamp = Vec<Option<(std::time::SystemTime, u64)>>;

fn stamp(path: &Path) -> Stamp {
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    [path.to_path_buf(), PathBuf::from(wal)]
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

/// One refresh on the blocking pool; a failure keeps the last good data and turns `/healthz`
/// red.
async fn refresh(config: &Config, source: &Source, state: &SharedState) {
    let (c, src) = (config.clone(), source.clone());
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || match &src {
        Source::Sqlite(p) => read_store(&c, p),
        Source::Redis(cell, _) => read_redis(&c, cell),
    })
    .await;
    let error = match result {
        Ok(Ok(snapshot)) => {
            let stories = snapshot.stories.len();
            let changed = apply_snapshot(state, snapshot, Utc::now());
            let ms = started.elapsed().as_millis() as u64;
            if changed > 0 {
                info!(
                    stories,
                    feeds_changed = changed,
                    ms,
                    "Store read; feeds updated."
                );
            } else {
                debug!(stories, ms, "Store read; feeds unchanged.");
            }
            return;
        }
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("the store reader failed: {e}"),
    };
    warn!(store = %source.label(), error = %error, "Cannot read the store; serving the last data read.");
    store_failed(state, &error);
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    if args.refresh.is_zero() {
        anyhow::bail!("--refresh must be longer than 0s");
    }
    if let Some(listen) = &args.listen {
        listen.parse::<std::net::SocketAddr>().map_err(|e| {
            anyhow::anyhow!(
                "--listen \"{listen}\" is not an address such as \"{DEFAULT_LISTEN}\": {e}"
            )
        })?;
    }
    let listen = args
        .listen
        .clone()
        .or_else(|| config.http.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let source = match config.store.kind {
        StoreKind::Sqlite => Source::Sqlite(store_path(&config.store)),
        StoreKind::Redis => Source::Redis(Default::default(), config.store.urls.join(",")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut state = ServiceState::for_config(&config);
        state.set_story_pages(StoryPages::for_config(&config)?);
        let state = state.shared();
        // A failed read is retried when the files change (a missing store gets created), so
        // a broken store is reported once, not on every tick.
        let mut read = source.stamp();
        refresh(&config, &source, &state).await;
        // Installed before the service logs that it listens: a SIGTERM sent right after that
        // line stops `serve` cleanly instead of killing it.
        let shutdown = crate::mode::run::shutdown_signal();
        tokio::pin!(shutdown);
        let service = crate::http::Service::start(&listen, state.clone()).await?;
        info!(store = %source.label(), refresh = %humantime::format_duration(args.refresh), "serving the store read-only; stop with SIGINT or SIGTERM");
        let mut ticks = tokio::time::interval(args.refresh);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticks.tick() => {
                    let now = source.stamp();
                    if now.is_none() || now != read {
                        refresh(&config, &source, &state).await;
                        read = now;
                    }
                }
            }
        }
        service.stop().await.context("the HTTP service failed")?;
        info!("serve stopped");
        Ok(())
    })
}
