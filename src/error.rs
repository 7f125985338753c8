//! The library's error type. Every variant carries the context a user needs to act on it:
//! the file, line, URL or config key involved.

use std::path::PathBuf;

/// Errors raised by the library. The binary wraps these with `anyhow` context and prints the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file could not be read.
    #[error("cannot read config file {path}")]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A config file is not valid TOML or has unknown keys or wrong types.
    #[error("config file {path} is not valid: {message}")]
    ConfigParse { path: PathBuf, message: String },
    /// A config parsed but failed validation; every problem is listed, one sentence each.
    #[error("config {origin} has {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    ConfigInvalid {
        origin: String,
        problems: Vec<String>,
    },
    /// One input line of a JSON Lines stream was rejected.
    #[error("line {line}: {message}")]
    InputLine { line: u64, message: String },
    /// Reading or writing a file failed.
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A feed could not be fetched or parsed.
    #[error("feed {url}: {message}")]
    Feed { url: String, message: String },
    /// The state store failed.
    #[error("store {path}: {message}")]
    Store { path: PathBuf, message: String },
    /// Output or a stored record could not be rendered as JSON.
    #[error("cannot serialise {what}")]
    Serialize {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A task on the blocking pool (parse, engine, store commit) panicked or was cancelled.
    #[error("{what} failed")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// A SQLite statement of the state store failed; `action` says what it was doing. The
    /// message repeats the SQLite error's text, which stays the source.
    #[error("store {path}: {action}: {source}")]
    Sqlite {
        path: PathBuf,
        action: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A Redis command of the shared store failed (after its retries); `url` lists the
    /// configured nodes, `action` says what the store was doing.
    #[error("redis {url}: cannot {action}: {source}")]
    Redis {
        url: String,
        action: String,
        #[source]
        source: redis::RedisError,
    },
    /// The shared store refused an operation: a lost decision lock, an unreadable log entry.
    #[error("redis store {url}: {message}")]
    Shared { url: String, message: String },
    /// `[store]` names Redis in a way that cannot be used on this machine (an unset
    /// password variable, say).
    #[error("{message}")]
    RedisConfig { message: String },
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
