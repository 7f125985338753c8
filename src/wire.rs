//! Every JSON shape syndedup emits, as serde structs: one definition per shape, so the daemon,
//! `syndedup dedup`, `syndedup stories` and the HTTP API cannot drift apart again. The golden
//! files under `tests/golden/` pin each shape byte for byte (`tests/wire_golden.rs`).
//!
//! | shape | written by |
//! |---|---|
//! | [`Item`] with a [`Dedup`] of [`ItemRef`] | the daemon's `[output] kind = "decisions"` lines |
//! | [`Dedup`] of [`Id`] spliced into the input line | `syndedup dedup --emit annotate` |
//! | [`StoryLine`] | `dedup --emit stories`, the daemon's `kind = "stories"` lines, `syndedup stories --format json`, `/api/stories`, `/api/stories/{id}` |
//! | [`Meta`] | a story's `canonical` when only the metadata is known |
//! | [`Health`], [`ApiError`] | `/healthz` and every error answer of the API |
//!
//! The `dedup` object has one shape everywhere (`story`, `duplicate_of`, `score`,
//! `canonical`, `merged` when not empty); only what `duplicate_of` names differs: the daemon's
//! items are known by outlet and item id (`{"outlet","id"}`, ids repeat across outlets), input
//! lines of `syndedup dedup` by their `id` as it came in (a string or a number).
//!
//! Nothing here builds a `serde_json::Value`: the structs borrow what they show and serialise
//! straight into the output buffer.

use chrono::{DateTime, FixedOffset};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::model::{ArticleMeta, Decision, StoryId, StoryView};
use crate::store::StoredStory;

/// Similarities are written with four decimals (a NaN is written as `null`).
pub fn round4(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

fn rfc3339<S: Serializer>(t: &Option<DateTime<FixedOffset>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

fn story_id<S: Serializer>(id: &StoryId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

fn story_ids<S: Serializer>(ids: &&[StoryId], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(ids.len()))?;
    for id in ids.iter() {
        seq.serialize_element(&id.to_string())?;
    }
    seq.end()
}

/// An article id as it came in: JSON Lines input may give numbers, which stay numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id<'a> {
    Text(&'a str),
    /// The decimal rendering of a numeric id (written as a JSON number when it is one).
    Number(&'a str),
}

impl Serialize for Id<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Number(text) => match text.parse::<serde_json::Number>() {
                Ok(n) => n.serialize(s),
                Err(_) => s.serialize_str(text),
            },
            Id::Text(text) => s.serialize_str(text),
        }
    }
}

/// A daemon item named by its outlet and the outlet's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemRef<'a> {
    pub outlet: Option<&'a str>,
    pub id: &'a str,
}

/// The `dedup` object: what the engine decided about one article. `R` is how `duplicate_of`
/// names the story's first article: [`ItemRef`] in the daemon's lines, [`Id`] in
/// `dedup --emit annotate`.
///
/// `{"story":"s3","duplicate_of":<R or null>,"score":<0..1 or null>,"canonical":<bool>}`, plus
/// `"merged":["s5",...]` when this article bridged stories into `story`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dedup<'a, R> {
    #[serde(serialize_with = "story_id")]
    pub story: StoryId,
    /// `None` when the article started the story.
    pub duplicate_of: Option<R>,
    /// Similarity to the member it matched; `None` for a new story.
    pub score: Option<f64>,
    /// Whether the article became the story's canonical version.
    pub canonical: bool,
    /// Stories merged into `story` by this article (left out when none).
    #[serde(serialize_with = "story_ids", skip_serializing_if = "<[_]>::is_empty")]
    pub merged: &'a [StoryId],
}

impl<'a, R> Dedup<'a, R> {
    /// The object for `decision`; `name` turns the engine's id of the story's first article
    /// into `R`.
    pub fn of(decision: &'a Decision, name: impl FnOnce(&'a str) -> R) -> Self {
        Dedup {
            story: decision.story,
            duplicate_of: decision.duplicate_of.as_deref().map(name),
            score: decision.score.map(round4),
            canonical: decision.became_canonical,
            merged: &decision.merged,
        }
    }
}

/// A daemon item as it is written to `[output] jsonl`, stored as the item's payload and shown
/// as a story's `canonical` by the API, fields in this order. `full_text`/`full_text_url` are
/// present when the linked page was fetched (the engine matched on it), `dedup` only in
/// `kind = "decisions"` lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item<'a> {
    pub id: &'a str,
    pub outlet: Option<&'a str>,
    pub url: Option<&'a str>,
    pub title: Option<&'a str>,
    #[serde(serialize_with = "rfc3339")]
    pub published: Option<DateTime<FixedOffset>>,
    /// `null` only where the body is no longer held (the API of `run` for an item outside the
    /// poller's body cache).
    pub body: Option<&'a str>,
    /// The main text of the linked page (HTML, unsanitised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_text: Option<&'a str>,
    /// Where the full text came from (the link after redirects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_text_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedup: Option<Dedup<'a, ItemRef<'a>>>,
}

/// An article's metadata: `{"id","outlet","url","title","published"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta<'a> {
    pub id: &'a str,
    pub outlet: Option<&'a str>,
    pub url: Option<&'a str>,
    pub title: Option<&'a str>,
    #[serde(serialize_with = "rfc3339")]
    pub published: Option<DateTime<FixedOffset>>,
}

impl<'a> From<&'a ArticleMeta> for Meta<'a> {
    fn from(m: &'a ArticleMeta) -> Self {
        Meta {
            id: &m.id,
            outlet: m.outlet.as_deref(),
            url: m.url.as_deref(),
            title: m.title.as_deref(),
            published: m.published,
        }
    }
}

/// One member of a story in `copies`: `{"id","outlet","url","title","published","score"}`,
/// the score being the similarity to the canonical version (1.0 for the canonical itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Copy<'a> {
    pub id: Id<'a>,
    pub outlet: Option<&'a str>,
    pub url: Option<&'a str>,
    pub title: Option<&'a str>,
    #[serde(serialize_with = "rfc3339")]
    pub published: Option<DateTime<FixedOffset>>,
    pub score: f64,
}

impl<'a> Copy<'a> {
    /// `c` under the id `id` (callers strip outlet prefixes or restore numeric ids).
    pub fn of(c: &'a crate::model::Copy, id: Id<'a>) -> Self {
        Copy {
            id,
            outlet: c.outlet.as_deref(),
            url: c.url.as_deref(),
            title: c.title.as_deref(),
            published: c.published,
            score: round4(c.score),
        }
    }

    /// Every copy of `view`, ids as they are in the view.
    pub fn all(view: &'a StoryView) -> Vec<Copy<'a>> {
        view.copies
            .iter()
            .map(|c| Copy::of(c, Id::Text(&c.id)))
            .collect()
    }
}

/// One story: `{"story":"s12","canonical":<C>,"copies":[<Copy>, ...]}`; `"update":true` right
/// after `story` when the story was written before and this is a later version of it (the
/// daemon's `kind = "stories"` lines and `dedup --state --emit stories`).
///
/// `C` is the canonical article: the input line as it came in (`dedup`), the stored item
/// (`syndedup stories`, the API), or an [`Item`] (the daemon), or [`Meta`] when nothing more
/// is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryLine<'a, C> {
    #[serde(serialize_with = "story_id")]
    pub story: StoryId,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub update: bool,
    pub canonical: C,
    pub copies: Vec<Copy<'a>>,
}

/// Raw JSON text `raw` when it is one valid JSON value, else `null`: a canonical written as it
/// came in.
pub fn raw_json(raw: &[u8]) -> &RawValue {
    serde_json::from_slice::<&RawValue>(raw).unwrap_or(RawValue::NULL)
}

/// A stored story's `canonical`: the stored item as it came in when its payload is a JSON
/// object (input lines of `dedup --state`, the daemon's items), else its metadata.
pub fn stored_canonical(story: &StoredStory) -> Box<RawValue> {
    let payload = story
        .canonical_payload
        .as_deref()
        .filter(|p| p.trim_start().starts_with('{'))
        .and_then(|p| serde_json::from_str::<&RawValue>(p).ok())
        .map(|raw| raw.to_owned());
    match payload {
        Some(raw) => raw,
        None => {
            let meta = story.canonical_meta().map(Meta::from);
            serde_json::value::to_raw_value(&meta).unwrap_or_else(|_| RawValue::NULL.to_owned())
        }
    }
}

/// `/healthz`: `{"status":"ok"|"unavailable","store":"reachable"|"unreachable","store_error":<text or null>,"last_cycle":<RFC 3339 or null>}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health<'a> {
    pub status: &'static str,
    pub store: &'static str,
    pub store_error: Option<&'a str>,
    pub last_cycle: Option<String>,
}

/// Every error answer of the HTTP API: `{"error":"<what is wrong>"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    pub error: String,
}

/// Serialises `value` as one JSON line (no newline) into a new buffer.
pub fn to_line(value: &impl Serialize) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(v: &impl Serialize) -> String {
        String::from_utf8(to_line(v).expect("serialises")).expect("utf8")
    }

    #[test]
    fn the_dedup_object_names_the_first_article_either_way() {
        let decision = Decision {
            story: StoryId(3),
            duplicate_of: Some("Wire:w1".to_string()),
            score: Some(0.981_234),
            became_canonical: false,
            merged: vec![StoryId(5), StoryId(9)],
        };
        let by_item = Dedup::of(&decision, |_| ItemRef {
            outlet: Some("Wire"),
            id: "w1",
        });
        assert_eq!(
            line(&by_item),
            r#"{"story":"s3","duplicate_of":{"outlet":"Wire","id":"w1"},"score":0.9812,"canonical":false,"merged":["s5","s9"]}"#
        );
        let new = Decision {
            story: StoryId(4),
            duplicate_of: None,
            score: None,
            became_canonical: true,
            merged: Vec::new(),
        };
        assert_eq!(
            line(&Dedup::of(&new, Id::Number)),
            r#"{"story":"s4","duplicate_of":null,"score":null,"canonical":true}"#
        );
        let numeric = Decision {
            duplicate_of: Some("7".to_string()),
            ..new.clone()
        };
        assert_eq!(
            line(&Dedup::of(&numeric, Id::Number)),
            r#"{"story":"s4","duplicate_of":7,"score":null,"canonical":true}"#
        );
    }

    #[test]
    fn ids_stay_numbers_only_when_they_are_numbers() {
        assert_eq!(line(&Id::Number("42")), "42");
        assert_eq!(line(&Id::Number("not a number")), r#""not a number""#);
        assert_eq!(line(&Id::Text("42")), r#""42""#);
    }

    #[test]
    fn api_health_and_errors() {
        let h = Health {
            status: "unavailable",
            store: "unreachable",
            store_error: Some("store x.db: does not exist"),
            last_cycle: None,
        };
        assert_eq!(
            line(&h),
            r#"{"status":"unavailable","store":"unreachable","store_error":"store x.db: does not exist","last_cycle":null}"#
        );
        let e = ApiError {
            error: "no story s9".to_string(),
        };
        assert_eq!(line(&e), r#"{"error":"no story s9"}"#);
    }

    #[test]
    fn metadata_and_raw_canonicals() {
        let meta = ArticleMeta {
            id: "a1".to_string(),
            outlet: Some("Wire".to_string()),
            url: None,
            title: Some("T".to_string()),
            published: DateTime::parse_from_rfc3339("2025-01-06T10:00:00+05:30").ok(),
        };
        assert_eq!(
            line(&Meta::from(&meta)),
            r#"{"id":"a1","outlet":"Wire","url":null,"title":"T","published":"2025-01-06T10:00:00+05:30"}"#
        );
        assert_eq!(raw_json(br#"{"b":1,"a":2}"#).get(), r#"{"b":1,"a":2}"#);
        assert_eq!(raw_json(b"{broken").get(), "null");
        assert!(round4(f32::NAN).is_nan());
        assert_eq!(line(&round4(f32::NAN)), "null");
        assert_eq!(round4(0.123_456), 0.1235);
    }
}
