//! `syndedup stories`: lists recent stories from the store. Opens the database read-only and
//! takes no lock, so it works while a daemon writes (WAL lets readers in).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Config;
use crate::config::StoreKind;
use crate::jsonl::{story_line, IdStyle};
use crate::store::{rfc3339, store_path, RedisStore, SqliteStore, Store, StoredStory, StoryQuery};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line: {"story", "canonical", "copies"}.
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StoriesArgs {
    /// TOML config file; `[store] path` names the database.
    #[arg(long)]
    pub config: PathBuf,
    /// At most this many stories, newest first.
    #[arg(long, default_value = "20")]
    pub limit: usize,
    /// Only stories first seen at or after TIME: RFC 3339 ("2024-03-01T12:00:00Z"), a date
    /// ("2024-03-01", UTC midnight) or a duration back from now ("6h", "2days").
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Parses `--since` relative to `now` (Unix seconds).
pub fn parse_since(text: &str, now: i64) -> anyhow::Result<i64> {
    let t = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(t) {
        return Ok(time.timestamp());
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc().timestamp());
        }
    }
    if let Ok(ago) = humantime::parse_duration(t) {
        return Ok(now.saturating_sub(ago.as_secs().min(i64::MAX as u64) as i64));
    }
    bail!(
        "--since \"{text}\" is not a time: give RFC 3339 (2024-03-01T12:00:00Z), a date (2024-03-01) or a duration back from now (6h, 2days)"
    )
}

pub fn run(args: &StoriesArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let path = store_path(&config.store);
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, Utc::now().timestamp()))
        .transpose()?;
    let store: Box<dyn Store> = match config.store.kind {
        StoreKind::Sqlite => Box::new(SqliteStore::open_read_only(&path)?),
        StoreKind::Redis => Box::new(RedisStore::from_config(&config.store)?),
    };
    let stories = store.stories(&StoryQuery {
        since,
        limit: Some(args.limit),
    })?;
    let rule = crate::dedup::MatchRule::from_config(&config.dedup);
    let mut out = BufWriter::new(io::stdout().lock());
    match args.format {
        Format::Json => {
            for story in &stories {
                out.write_all(&story_json(story, &rule))?;
                out.write_all(b"\n")?;
            }
        }
        Format::Table => write_table(&mut out, &stories)?,
    }
    out.flush().context("cannot write to standard output")?;
    Ok(())
}

/// One `--format json` line, in the shape of `dedup --emit stories` (see
/// [`crate::wire::StoryLine`]); the canonical is [`crate::wire::stored_canonical`].
pub fn story_json(story: &StoredStory, rule: &crate::dedup::MatchRule) -> Vec<u8> {
    let canonical = crate::wire::stored_canonical(story);
    story_line(
        &story.view(rule),
        canonical.get().as_bytes(),
        &IdStyle::default(),
        false,
    )
}

fn write_table(out: &mut impl Write, stories: &[StoredStory]) -> io::Result<()> {
    if stories.is_empty() {
        return writeln!(out, "no stories");
    }
    let rows: Vec<[String; 5]> = stories
        .iter()
        .map(|s| {
            let meta = s.canonical_meta();
            [
                s.story.to_string(),
                rfc3339(s.first_seen),
                s.copies.len().to_string(),
                super::clip(meta.and_then(|m| m.outlet.as_deref()).unwrap_or("-"), 20),
                super::clip(
                    meta.and_then(|m| m.title.as_deref().or(Some(m.id.as_str())))
                        .unwrap_or("-"),
                    70,
                ),
            ]
        })
        .collect();
    let header = ["STORY", "FIRST SEEN", "COPIES", "OUTLET", "TITLE"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(cell);
            } else if i == 2 {
                s.push_str(&format!("{cell:>w$}  "));
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(header))?;
    for row in &rows {
        writeln!(out, "{}", line(row.each_ref().map(String::as_str)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_rfc3339_dates_and_durations() {
        assert_eq!(
            parse_since("2024-03-01T12:00:00Z", 0).expect("rfc3339"),
            1_709_294_400
        );
        assert_eq!(parse_since("2024-03-01", 0).expect("date"), 1_709_251_200);
        assert_eq!(
            parse_since("6h", 100_000).expect("duration"),
            100_000 - 6 * 3600
        );
        let err = parse_since("last tuesday", 0)
            .expect_err("rejected")
            .to_string();
        assert!(err.contains("last tuesday"), "{err}");
    }

    #[test]
    fn long_titles_are_clipped_on_char_boundaries() {
        assert_eq!(
            crate::mode::clip("Zürich  prices\nrise", 40),
            "Zürich prices rise"
        );
        assert_eq!(crate::mode::clip("ééééé", 3), "éé…");
    }
}
