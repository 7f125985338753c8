//! # syndedup
//!
//! Removes syndicated duplicates from news feeds. A wire story republished by dozens of outlets
//! (new headline, byline, syndication trailer, paywall text, cut short) becomes one story with
//! one canonical version and every copy's outlet and link as provenance.
//!
//! ## Data flow
//!
//! ```text
//! feeds ──poll──▶ raw items ──normalize──▶ Article ──dedup──▶ Decision ──emit──▶ JSONL / feeds / HTTP
//!                                                     ▲   │
//!                                                     └store┘ (validators, seen items, signatures, stories)
//! ```
//!
//! Inside `dedup`, one article goes through three stages:
//! 1. **prepare** ([`dedup::Preparer`], stateless, runs on many threads): HTML to text, Unicode
//!    folding, words, built-in boilerplate and structural page chrome set aside, word shingles
//!    hashed with xxh3;
//! 2. **fingerprint** ([`Engine::fingerprint`]): learned per-outlet and cross-story recurring
//!    paragraphs are set aside too; the article text is signed with MinHash ([`dedup::Signer`])
//!    and kept as an exact profile ([`dedup::Profile`]);
//! 3. **insert** ([`Engine::insert`]): LSH bands and lead anchors propose candidates, the match
//!    rule verifies them exactly ([`dedup::pair_score`]), the article joins the best story or
//!    starts one (merging stories it bridges), and the merge policy picks the canonical version.
//!
//! ## Modules
//!
//! - [`config`]: the TOML configuration, defaults and validation.
//! - [`error`]: the library's error type, with file, line and URL context (sources kept).
//! - [`hash`]: a cheap hasher for maps keyed by hashes.
//! - [`model`]: plain data passed between stages (`Article`, `FeedItem`, `Decision`, `StoryView`).
//! - [`normalize`]: HTML to text, folding, tokenising, boilerplate.
//! - [`dedup`]: the pure core: shingles, MinHash, LSH, match rule, merge policy, [`Engine`].
//! - [`store`]: state behind the narrow [`store::Store`] trait ([`store::SqliteStore`], [`store::MemoryStore`],
//!   [`store::RedisStore`] for several workers),
//!   with its own types: item keys ([`store::ItemKey`], [`store::OutletId`]), per-outlet and
//!   per-host poll state, [`store::PollStatus`], seen items, cached pages; the outbox writer.
//! - [`ingest`]: the engine side of ingest, shared by `run` and `dedup --state`: the store
//!   session ([`ingest::Session`]: opening and resuming from a store, the emitted stories, the
//!   batch of the next commit), the seen filter, fresh items through the engine into that batch
//!   with its output lines.
//! - [`poll`]: the feed poller behind `syndedup run`: schedules and host gates, fetching and
//!   parsing, full-text pages, a pure [`poll::schedule::apply`] of each poll's outcome; it
//!   hands fresh items to [`ingest`] and commits the batch off the async runtime.
//! - [`emit`]: cleaned output feeds (Atom, RSS, JSON Feed) and atomic file writing.
//! - [`http`]: the read-only HTTP service (feeds, stories API, health, metrics, status page).
//! - [`jsonl`]: the JSON Lines stage (`syndedup dedup`): reading, rejecting, annotating.
//! - [`mode`]: one module per subcommand of the `syndedup` binary: the command line's layer,
//!   not library API. It sits on top: it may import every other module, and no other module
//!   imports it (`tests/layering.rs` checks this).
//! - [`wire`]: serde structs of every JSON shape emitted (decision lines, `--emit annotate`,
//!   stories, the HTTP API), pinned by the golden files in `tests/golden/`.
//! - [`eval`]: clustering quality metrics (pairwise P/R/F1, adjusted Rand index); [`synth`]: the
//!   seeded synthetic corpus with known truth that `syndedup bench` runs on.
//!
//! Layers: a module imports only modules to its right; nothing imports `mode`, and the store
//! imports none of `poll`, `ingest`, `http`, `wire` (`tests/layering.rs` checks every import
//! of every module against this order).
//! `mode` → `http` → `poll` → `ingest` → `wire` → `store` → `emit` → `dedup` → `normalize` →
//! `model`, `config`, `error`, `hash` (`jsonl` and `eval` sit on `wire`, `model` and `dedup`
//! for `syndedup dedup` and `eval`).
//!
//! ## Using the engine from Rust
//!
//! ```
//! use syndedup::{Article, Engine};
//!
//! let mut engine = Engine::with_defaults();
//! let wire = "Talks between Russia and the United States will start immediately after the New Year \
//!             holidays, Russia's top diplomat announced on Monday in a televised interview.";
//! let first = engine.add(&Article::new("a1", wire).with_outlet("Wire"));
//! let copy = engine.add(&Article::new("b7", format!("{wire}\n(Only the headline and picture of this \
//!             report may have been reworked by the Business Standard staff; the rest of the content \
//!             is auto-generated from a syndicated feed.)")).with_outlet("Business Standard"));
//! assert!(!first.is_duplicate());
//! assert_eq!(copy.duplicate_of.as_deref(), Some("a1"));
//! assert_eq!(engine.stories().len(), 1);
//! ```

pub mod config;
pub mod dedup;
pub mod emit;
pub mod error;
pub mod eval;
pub mod hash;
pub mod http;
pub mod ingest;
pub mod jsonl;
#[doc(hidden)]
pub mod mode;
pub mod model;
pub mod normalize;
pub mod poll;
pub mod store;
pub mod synth;
pub mod wire;

pub use config::Config;
pub use dedup::{Engine, EngineConfig};
pub use error::{Error, Result};
pub use model::{Article, ArticleMeta, Decision, StoryId, StoryView};
