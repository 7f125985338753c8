//! The dedup core: pure and synchronous, no I/O.
//!
//! - [`shingle`]: paragraphs of words → shingle hashes (stage 1, stateless, parallel).
//! - [`minhash`]: shingle hashes → signatures ([`Fingerprint`]).
//! - [`lsh`]: banded index that proposes candidates.
//! - [`cluster`]: the match rule and how articles join stories.
//! - [`merge`]: the canonical-selection policy.
//! - [`engine`]: all of the above, one article at a time.

pub mod cluster;
pub mod engine;
pub mod lsh;
pub mod merge;
pub mod minhash;
pub mod shingle;

pub use cluster::{MatchRule, PairScore};
pub use engine::{Engine, EngineConfig, EngineStats};
pub use minhash::{Fingerprint, Signer};
pub use shingle::{Prepared, Preparer};
