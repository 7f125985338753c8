//! `syndedup check --config FILE`: validates a config file without running anything.
//!
//! Beyond [`Config::validate`], it checks what only makes sense on this machine: that outlets
//! given as local files (offline use, the demo) exist, so a typo shows up before the first poll.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{Config, StoreKind};
use crate::error::Error;
use crate::store::{probe_redis, RedisSettings};

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The TOML config file to validate.
    #[arg(long)]
    pub config: PathBuf,
    /// Also try the store: with `[store] kind = "redis"`, connect, write a short-lived key
    /// and read the log's length, and say what failed.
    #[arg(long)]
    pub connect: bool,
}

/// What a valid config holds, for the one-line report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSummary {
    pub outlets: usize,
    pub enabled: usize,
    pub feeds: usize,
}

impl std::fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "config OK: {} outlets ({} enabled), {} feeds",
            self.outlets, self.enabled, self.feeds
        )
    }
}

/// Reads, parses and validates `path`, including the existence of local-file outlets.
/// Every validation problem is returned at once inside [`Error::ConfigInvalid`].
pub fn check_file(path: &Path) -> Result<CheckSummary, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
        path: path.to_path_buf(),
        source,
    })?;
    let mut config = Config::parse(&text, path)?;
    // Validate before resolving paths: resolving prefixes the config's directory to any url
    // that is not http(s) or file://, which would garble an unsupported-scheme message.
    let mut problems = config.validate();
    config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
    problems.extend(missing_local_feeds(&config));
    if !problems.is_empty() {
        return Err(Error::ConfigInvalid {
            origin: path.display().to_string(),
            problems,
        });
    }
    Ok(CheckSummary {
        outlets: config.outlets.len(),
        enabled: config.outlets.iter().filter(|o| o.enabled).count(),
        feeds: config.feeds.len(),
    })
}

/// One sentence per outlet whose `url` is a local file (plain path or `file://`) that is not
/// a readable file. Expects paths already resolved against the config file's directory.
pub fn missing_local_feeds(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, outlet) in config.outlets.iter().enumerate() {
        let url = outlet.url.trim();
        if url.is_empty() || url.starts_with("http://") || url.starts_with("https://") {
            continue;
        }
        let path = if url.starts_with("file://") {
            match url::Url::parse(url)
                .ok()
                .and_then(|u| u.to_file_path().ok())
            {
                Some(p) => p,
                None => {
                    problems.push(format!(
                        "outlet[{i}].url \"{url}\" is not a valid file:// URL (use file:///absolute/path or a plain path)."
                    ));
                    continue;
                }
            }
        } else if url.contains("://") {
            // Unsupported schemes are already reported by Config::validate.
            continue;
        } else {
            PathBuf::from(url)
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => problems.push(format!(
                "outlet[{i}].url names {}, which is not a file.",
                path.display()
            )),
            Err(e) => problems.push(format!(
                "outlet[{i}].url names the local file {}, which cannot be read: {e}.",
                path.display()
            )),
        }
    }
    problems
}

/// Prints the summary on success; on problems returns the error (listing every problem),
/// which the binary prints before exiting with code 1.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let summary = check_file(&args.config)?;
    println!("{summary}");
    if args.connect {
        let config = Config::load(&args.config)?;
        match config.store.kind {
            StoreKind::Sqlite => println!(
                "store: SQLite {} (nothing to connect to)",
                crate::store::store_path(&config.store).display()
            ),
            StoreKind::Redis => {
                let settings = RedisSettings::from_config(&config.store)?;
                let what = probe_redis(&settings).with_context(|| {
                    format!("cannot use the Redis store at {}", settings.url_list())
                })?;
                println!("store: {what}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
