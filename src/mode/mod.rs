//! One module per subcommand of the `syndedup` binary. Each exposes its clap arguments and a
//! `run` function; `main.rs` only dispatches.

pub mod bench;
pub mod check;
pub mod dedup;
pub mod eval;
pub mod explain;
pub mod import_opml;
pub mod run;
pub mod serve;
pub mod stories;
