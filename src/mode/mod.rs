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

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;

use crate::jsonl::{parse_line, LineReader, ReadOutcome};
use crate::model::Article;

/// Reads a JSON Lines articles file (the `syndedup dedup` input) in order, calling `each` with
/// every article and its line number. Lines over `cap` bytes and lines that are not articles are
/// skipped; the returned messages name the file, the line and the problem.
pub(crate) fn read_articles(
    path: &Path,
    cap: usize,
    mut each: impl FnMut(u64, Article) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<String>> {
    let file = File::open(path)
        .with_context(|| format!("cannot open articles file {}", path.display()))?;
    let mut reader = LineReader::new(BufReader::with_capacity(1 << 20, file), cap);
    let mut rejected = Vec::new();
    loop {
        let line = reader
            .read(None)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let line = match line {
            ReadOutcome::Eof => break,
            ReadOutcome::TooLong { number, len } => {
                rejected.push(format!(
                    "{}:{number}: line is {len} bytes, over the cap of {cap} (dedup.max_line_bytes)",
                    path.display()
                ));
                continue;
            }
            ReadOutcome::Line(l) => l,
        };
        match parse_line(&line.bytes) {
            Ok(input) => each(line.number, input.article)?,
            Err(message) => rejected.push(format!("{}:{}: {message}", path.display(), line.number)),
        }
    }
    Ok(rejected)
}

/// `text` on one line, cut to `width` characters with an ellipsis.
pub(crate) fn clip(text: &str, width: usize) -> String {
    let clean: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() <= width {
        return clean;
    }
    let mut cut: String = clean.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
