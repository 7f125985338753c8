//! The JSON Lines stage: reading input lines (with a size cap), turning them into articles or
//! clear rejections, and rendering the three output shapes.
//!
//! Input: one JSON object per line with `id` (string or number) and `body` (text or HTML)
//! required; `title`, `outlet`, `url` and `published` (RFC 3339) optional; anything else passes
//! through untouched.

use std::collections::HashSet;
use std::io::{self, BufRead, Write};

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::model::{Article, ArticleMeta, Decision, StoryView};
use crate::wire::{self, Dedup, Id};

/// One raw input line.
#[derive(Debug, Clone)]
pub struct RawLine {
    /// 1-based line number.
    pub number: u64,
    pub bytes: Vec<u8>,
}

/// Outcome of reading one line.
pub enum ReadOutcome {
    Line(RawLine),
    /// The line was longer than the cap; its bytes went to `overflow` (if any) and were dropped.
    TooLong {
        number: u64,
        len: usize,
    },
    Eof,
}

/// Reads lines of at most `cap` bytes. Longer lines are streamed into `overflow` (the rejects
/// file, so nothing is lost) instead of being held in memory.
pub struct LineReader<R> {
    inner: R,
    cap: usize,
    number: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, cap: usize) -> Self {
        LineReader {
            inner,
            cap,
            number: 0,
        }
    }

    /// True when the next read may block (nothing buffered): a good moment to flush output.
    pub fn buffer_is_empty(&mut self) -> bool
    where
        R: BufReadBuffer,
    {
        self.inner.buffered_is_empty()
    }

    pub fn read(&mut self, overflow: Option<&mut dyn Write>) -> io::Result<ReadOutcome> {
        let mut bytes = Vec::new();
        let mut len = 0usize;
        let mut too_long = false;
        let mut ended_with_newline = false;
        let mut overflow = overflow;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let used = chunk.len();
            len += used;
            ended_with_newline = done;
            if !too_long && len > self.cap + 1 {
                too_long = true;
                if let Some(w) = overflow.as_deref_mut() {
                    w.write_all(&bytes)?;
                }
                bytes = Vec::new();
            }
            if too_long {
                if let Some(w) = overflow.as_deref_mut() {
                    w.write_all(chunk)?;
                }
            } else {
                bytes.extend_from_slice(chunk);
            }
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if len == 0 {
            return Ok(ReadOutcome::Eof);
        }
        self.number += 1;
        if too_long {
            if let Some(w) = overflow {
                if !ended_with_newline {
                    w.write_all(b"\n")?;
                }
            }
            return Ok(ReadOutcome::TooLong {
                number: self.number,
                len,
            });
        }
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        Ok(ReadOutcome::Line(RawLine {
            number: self.number,
            bytes,
        }))
    }
}

/// Lets the reader ask whether its buffer is empty, for flushing streaming output in time.
pub trait BufReadBuffer {
    fn buffered_is_empty(&self) -> bool;
}

impl<R: io::Read> BufReadBuffer for io::BufReader<R> {
    fn buffered_is_empty(&self) -> bool {
        self.buffer().is_empty()
    }
}

#[derive(Deserialize)]
struct InputFields<'a> {
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    body: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    title: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    outlet: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    url: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    published: Option<&'a RawValue>,
    #[serde(default, borrow)]
    dedup: Option<&'a RawValue>,
}

/// An input line that was accepted.
#[derive(Debug, Clone)]
pub struct InputArticle {
    pub article: Article,
    /// The id was a JSON number (it is written back as one).
    pub numeric_id: bool,
    /// The line already had a `dedup` field (annotating replaces it).
    pub has_dedup_field: bool,
}

/// Parses one line into an article, or says what is wrong with it (without the line number).
pub fn parse_line(bytes: &[u8]) -> Result<InputArticle, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not valid UTF-8 (at byte {})", e.valid_up_to()))?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err("empty line".to_string());
    }
    if !trimmed.starts_with('{') {
        return Err("not a JSON object".to_string());
    }
    let fields: InputFields =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let id_raw = fields
        .id
        .ok_or_else(|| "required field \"id\" is missing or null".to_string())?;
    let id_text = id_raw.get();
    let (id, numeric_id) = if id_text.starts_with('"') {
        let s: String = serde_json::from_str(id_text).map_err(|e| format!("field \"id\": {e}"))?;
        (s, false)
    } else if id_text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        (id_text.to_string(), true)
    } else {
        return Err(format!(
            "field \"id\" must be a string or a number, not {id_text}"
        ));
    };
    if id.is_empty() {
        return Err("field \"id\" is empty".to_string());
    }
    let body = fields
        .body
        .ok_or_else(|| "required field \"body\" is missing or null".to_string())?;
    let published = match fields.published {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => {
            let s: String = serde_json::from_str(raw.get()).map_err(|_| {
                format!(
                    "field \"published\" must be an RFC 3339 string, not {}",
                    raw.get()
                )
            })?;
            Some(DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
                format!("field \"published\" \"{s}\" is not an RFC 3339 date-time ({e})")
            })?)
        }
    };
    let non_empty = |s: Option<std::borrow::Cow<str>>| {
        s.map(|c| c.into_owned()).filter(|s| !s.trim().is_empty())
    };
    Ok(InputArticle {
        article: Article {
            meta: ArticleMeta {
                id,
                outlet: non_empty(fields.outlet),
                url: non_empty(fields.url),
                title: non_empty(fields.title),
                published,
            },
            body: body.into_owned(),
        },
        numeric_id,
        has_dedup_field: fields.dedup.is_some(),
    })
}

/// Renders ids as they came in: numbers stay numbers.
#[derive(Debug, Default)]
pub struct IdStyle {
    numeric: HashSet<String>,
}

impl IdStyle {
    pub fn note(&mut self, input: &InputArticle) {
        if input.numeric_id {
            self.numeric.insert(input.article.meta.id.clone());
        }
    }

    /// `id` as it came in: a number when the input gave a number.
    pub fn render<'a>(&self, id: &'a str) -> Id<'a> {
        if self.numeric.contains(id) {
            Id::Number(id)
        } else {
            Id::Text(id)
        }
    }
}

/// The `dedup` object added by `--emit annotate` (see [`crate::wire::Dedup`]): `duplicate_of`
/// is the id of the story's first article as it came in. `merged` is present only when this
/// article bridged stories: the listed story ids were merged into `story` and stand for it
/// from here on.
pub fn decision_json<'a>(decision: &'a Decision, ids: &IdStyle) -> Dedup<'a, Id<'a>> {
    Dedup::of(decision, |d| ids.render(d))
}

/// The input line with a `dedup` object added (or replaced), everything else byte for byte.
pub fn annotate_line(raw: &[u8], has_dedup_field: bool, dedup: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 96);
    // Writing to a vector cannot fail.
    let _ = write_annotated(&mut out, raw, has_dedup_field, dedup);
    out
}

/// [`annotate_line`] written straight to `out` (no copy of the line in between).
pub fn write_annotated(
    out: &mut impl Write,
    raw: &[u8],
    has_dedup_field: bool,
    dedup: &impl Serialize,
) -> io::Result<()> {
    if has_dedup_field {
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(raw) {
            if let Ok(d) = serde_json::to_value(dedup) {
                map.insert("dedup".to_string(), d);
                if let Ok(v) = serde_json::to_vec(&map) {
                    return out.write_all(&v);
                }
            }
        }
    }
    let end = raw.iter().rposition(|&b| b == b'}').unwrap_or(raw.len());
    out.write_all(&raw[..end])?;
    out.write_all(b",\"dedup\":")?;
    let mut tail = Vec::with_capacity(96);
    let _ = serde_json::to_writer(&mut tail, dedup);
    tail.push(b'}');
    out.write_all(&tail)
}

/// The copies of a story in provenance lists, ids as they came in.
pub fn copies_json<'a>(view: &'a StoryView, ids: &IdStyle) -> Vec<wire::Copy<'a>> {
    view.copies
        .iter()
        .map(|c| wire::Copy::of(c, ids.render(&c.id)))
        .collect()
}

/// One `--emit stories` line: the canonical article as it came in (raw JSON; `null` when it is
/// not JSON) and every copy; `update` marks a story written before (see [`wire::StoryLine`]).
pub fn story_line(view: &StoryView, canonical_raw: &[u8], ids: &IdStyle, update: bool) -> Vec<u8> {
    let line = wire::StoryLine {
        story: view.story,
        update,
        canonical: wire::raw_json(canonical_raw),
        copies: copies_json(view, ids),
    };
    let mut out = Vec::with_capacity(canonical_raw.len() + 256);
    // Serialising plain structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_string_and_number_ids_and_passes_other_fields() {
        let a = parse_line(br#"{"id":"x1","body":"Hello world","extra":{"k":1}}"#).expect("ok");
        assert_eq!(a.article.meta.id, "x1");
        assert!(!a.numeric_id);
        let b = parse_line(br#"{"id":42,"body":"<p>Hi</p>","published":"2024-01-02T03:04:05Z"}"#)
            .expect("ok");
        assert_eq!(b.article.meta.id, "42");
        assert!(b.numeric_id);
        assert!(b.article.meta.published.is_some());
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let err = |s: &[u8]| parse_line(s).expect_err("rejected");
        assert!(err(b"not json").contains("not a JSON object"));
        assert!(err(br#"{"body":"x"}"#).contains("\"id\""));
        assert!(err(br#"{"id":"a"}"#).contains("\"body\""));
        assert!(err(br#"{"id":null,"body":"x"}"#).contains("missing or null"));
        assert!(err(br#"{"id":true,"body":"x"}"#).contains("string or a number"));
        assert!(err(br#"{"id":"a","body":"x","published":"yesterday"}"#).contains("RFC 3339"));
        assert!(err(b"{\"id\":\"a\",\"body\":\"\xff\"}").contains("UTF-8"));
        assert!(err(br#"["a","b"]"#).contains("not a JSON object"));
        assert!(err(br#"{"id":"a","body":"x""#).contains("invalid JSON"));
    }

    #[test]
    fn annotate_splices_without_touching_the_rest() {
        let raw = br#"{"id":"a","body":"x","z":[1,2]}"#;
        let out = annotate_line(raw, false, &serde_json::json!({"story":"s1"}));
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            r#"{"id":"a","body":"x","z":[1,2],"dedup":{"story":"s1"}}"#
        );
        let replaced = annotate_line(
            br#"{"id":"a","body":"x","dedup":1}"#,
            true,
            &serde_json::json!({"story":"s2"}),
        );
        let v: serde_json::Value = serde_json::from_slice(&replaced).expect("json");
        assert_eq!(v["dedup"]["story"], "s2");
    }

    #[test]
    fn long_lines_are_capped_and_kept_in_overflow() {
        let input = b"short\nthis line is far too long\nok\n";
        let mut reader = LineReader::new(&input[..], 10);
        let mut rejects: Vec<u8> = Vec::new();
        let mut outcomes = Vec::new();
        loop {
            match reader.read(Some(&mut rejects)).expect("read") {
                ReadOutcome::Line(l) => outcomes.push(format!(
                    "{}:{}",
                    l.number,
                    String::from_utf8_lossy(&l.bytes)
                )),
                ReadOutcome::TooLong { number, len } => {
                    outcomes.push(format!("{number}:too long {len}"))
                }
                ReadOutcome::Eof => break,
            }
        }
        assert_eq!(outcomes, vec!["1:short", "2:too long 26", "3:ok"]);
        assert_eq!(rejects, b"this line is far too long\n");
    }
}
