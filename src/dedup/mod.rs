//! The dedup core: pure and synchronous, no I/O.
//!
//! - [`shingle`]: paragraphs of words → shingle hashes (stage 1, stateless, parallel).
//! - [`minhash`]: shingle hashes → signatures ([`Fingerprint`]).
//! - [`profile`]: the exact shingle set with paragraph positions: containment and article leads.
//! - [`lsh`]: banded index that proposes candidates.
//! - [`cluster`]: the one pair similarity, the match rule, and how articles join and merge stories.
//! - [`merge`]: the canonical-selection policy.
//! - [`engine`]: all of the above, one article at a time.

pub mod cluster;
pub mod engine;
pub mod lsh;
pub mod merge;
pub mod minhash;
pub mod profile;
pub mod shingle;

pub use cluster::{pair_score, MatchRule, PairScore, RuleKind, Verdict};
pub use engine::{
    CandidatePaths, Classified, Engine, EngineConfig, EngineStats, Speculated, Speculator,
};
pub use minhash::{Fingerprint, Signer};
pub use profile::Profile;
pub use shingle::{Prepared, Preparer};
