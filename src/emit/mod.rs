//! Cleaned output feeds: one entry per story, rendered as Atom 1.0, RSS 2.0 and JSON Feed 1.1.
//!
//! The pieces are pure and separate so the daemon (`syndedup run`) and the HTTP service can share
//! them:
//! - [`FeedBuilder`] turns [`StoryView`]s plus the canonical bodies into a [`FeedDoc`] for one
//!   `[[feed]]`, scoped to that feed's outlets;
//! - [`atom`], [`rss`] and [`jsonfeed`] render a [`FeedDoc`] to bytes;
//! - [`write_atomic`] puts the bytes on disk (temp file in the same directory, fsync, rename).
//!
//! Entry ids are `urn:syndedup:<feed name>:<story id>`: they depend only on the feed and the
//! story, so they survive restarts and canonical changes and a reader never shows a story twice.

pub mod atom;
pub mod jsonfeed;
pub mod rss;
mod write;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::{Config, FeedConfig, FeedFormat, MergeCriterion, OutletConfig};
use crate::dedup::merge::{Candidate, MergePolicy};
use crate::error::Result;
use crate::model::{Copy, StoryId, StoryView};
use crate::normalize::{html_to_text, looks_like_html};

pub use write::write_atomic;

/// Name shown for copies whose outlet is unknown.
pub const UNKNOWN_OUTLET: &str = "unknown outlet";

/// One outlet's copy of a story, as cited in provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub outlet: String,
    /// The copy's link; only http(s) URLs are kept.
    pub url: Option<String>,
    pub title: Option<String>,
}

/// One story in an output feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Stable per feed and story (see [`entry_id`]).
    pub entry_id: String,
    pub story: StoryId,
    pub title: String,
    /// The canonical copy's link (http(s) only).
    pub link: Option<String>,
    /// Sanitised HTML of the canonical copy's body.
    pub content_html: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The canonical copy.
    pub source: SourceRef,
    /// The canonical outlet's own feed URL, when it is an http(s) URL (RSS `<source url>`).
    pub source_feed: Option<String>,
    /// Every other in-scope copy ("also published by").
    pub also: Vec<SourceRef>,
}

/// One output feed, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedDoc {
    pub name: String,
    pub title: String,
    /// Where the feed is served, for self links (optional).
    pub self_url: Option<String>,
    pub updated: DateTime<Utc>,
    pub entries: Vec<FeedEntry>,
}

impl FeedDoc {
    /// The feed in one format.
    pub fn render(&self, format: FeedFormat) -> Vec<u8> {
        match format {
            FeedFormat::Atom => atom::render(self),
            FeedFormat::Rss => rss::render(self),
            FeedFormat::Json => jsonfeed::render(self),
        }
    }
}

/// The entry id of a story in a feed: `urn:syndedup:<feed name>:<story id>`.
pub fn entry_id(feed: &str, story: StoryId) -> String {
    format!("urn:syndedup:{feed}:{story}")
}

/// The file extension (and URL suffix) of a format.
pub fn extension(format: FeedFormat) -> &'static str {
    match format {
        FeedFormat::Atom => "atom",
        FeedFormat::Rss => "rss",
        FeedFormat::Json => "json",
    }
}

/// The format served under an extension.
pub fn format_for_extension(ext: &str) -> Option<FeedFormat> {
    match ext {
        "atom" => Some(FeedFormat::Atom),
        "rss" => Some(FeedFormat::Rss),
        "json" => Some(FeedFormat::Json),
        _ => None,
    }
}

/// The HTTP content type of a format.
pub fn content_type(format: FeedFormat) -> &'static str {
    match format {
        FeedFormat::Atom => "application/atom+xml; charset=utf-8",
        FeedFormat::Rss => "application/rss+xml; charset=utf-8",
        FeedFormat::Json => "application/feed+json; charset=utf-8",
    }
}

/// `<name>.<ext>`.
pub fn file_name(feed: &str, format: FeedFormat) -> String {
    format!("{feed}.{}", extension(format))
}

/// The directory a feed's files go to: `dir` when set (already resolved against the config
/// file by [`Config::load`]), else `feeds/` under `base` (the config file's directory).
pub fn feed_dir(feed: &FeedConfig, base: &Path) -> PathBuf {
    feed.dir.clone().unwrap_or_else(|| base.join("feeds"))
}

/// Renders every configured format of `doc` and writes each atomically into `dir`.
/// Returns the rendered bytes per format so callers can serve them without rendering again.
pub fn write_feed(
    feed: &FeedConfig,
    doc: &FeedDoc,
    dir: &Path,
) -> Result<Vec<(FeedFormat, Vec<u8>)>> {
    let mut out = Vec::with_capacity(feed.formats.len());
    for &format in &feed.formats {
        let bytes = doc.render(format);
        write_atomic(&dir.join(file_name(&feed.name, format)), &bytes)?;
        out.push((format, bytes));
    }
    Ok(out)
}

/// One feed rendered in its configured formats.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFeed {
    pub name: String,
    pub formats: Vec<(FeedFormat, Vec<u8>)>,
}

/// One cycle's output: builds every `[[feed]]` of `config` from `stories`, writes each file
/// atomically under [`feed_dir`] (relative to `base`, the config file's directory; created when
/// missing) and returns the rendered feeds for the HTTP service. A feed whose files cannot be
/// written is still returned (the service can serve it); the errors come beside, each naming
/// the path, so the caller can log and count them and go on.
pub fn publish(
    config: &Config,
    base: &Path,
    stories: &[StoryView],
    content: &dyn ContentLookup,
    now: DateTime<Utc>,
) -> (Vec<RenderedFeed>, Vec<crate::error::Error>) {
    let mut rendered = Vec::with_capacity(config.feeds.len());
    let mut errors = Vec::new();
    for feed in &config.feeds {
        let doc = FeedBuilder::new(feed, config).build(stories, content, now);
        let dir = feed_dir(feed, base);
        let dir_ok = match std::fs::create_dir_all(&dir) {
            Ok(()) => true,
            Err(source) => {
                errors.push(crate::error::Error::Io {
                    action: "cannot create feed directory",
                    path: dir.clone(),
                    source,
                });
                false
            }
        };
        let mut formats = Vec::with_capacity(feed.formats.len());
        for &format in &feed.formats {
            let bytes = doc.render(format);
            if dir_ok {
                if let Err(e) = write_atomic(&dir.join(file_name(&feed.name, format)), &bytes) {
                    errors.push(e);
                }
            }
            formats.push((format, bytes));
        }
        tracing::debug!(feed = %feed.name, entries = doc.entries.len(), "Feed rendered.");
        rendered.push(RenderedFeed {
            name: feed.name.clone(),
            formats,
        });
    }
    (rendered, errors)
}

/// Which outlets a feed covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every copy counts, including copies without an outlet.
    All,
    /// Only copies from these outlets.
    Outlets(HashSet<String>),
}

impl Scope {
    /// The outlets named in `feed.outlets` plus every outlet carrying one of `feed.tags`; every
    /// outlet when both are empty.
    pub fn for_feed(feed: &FeedConfig, outlets: &[OutletConfig]) -> Scope {
        if feed.outlets.is_empty() && feed.tags.is_empty() {
            return Scope::All;
        }
        let mut set: HashSet<String> = feed.outlets.iter().cloned().collect();
        for outlet in outlets {
            if outlet.tags.iter().any(|t| feed.tags.contains(t)) {
                set.insert(outlet.name.clone());
            }
        }
        Scope::Outlets(set)
    }

    pub fn contains(&self, outlet: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Outlets(set) => outlet.is_some_and(|o| set.contains(o)),
        }
    }
}

/// Where the builder finds what [`StoryView`] does not carry: article bodies and first-seen times.
pub trait ContentLookup {
    /// The body (HTML or plain text) of an article, by the article's id.
    fn body(&self, article_id: &str) -> Option<Cow<'_, str>>;
    /// When the article was first seen; stands in for a missing `published`.
    fn seen(&self, _article_id: &str) -> Option<DateTime<Utc>> {
        None
    }
}

impl ContentLookup for HashMap<String, String> {
    fn body(&self, article_id: &str) -> Option<Cow<'_, str>> {
        self.get(article_id).map(|s| Cow::Borrowed(s.as_str()))
    }
}

/// Builds the entries of one `[[feed]]` from stories.
#[derive(Debug, Clone)]
pub struct FeedBuilder {
    feed: FeedConfig,
    scope: Scope,
    policy: MergePolicy,
    outlet_feeds: HashMap<String, String>,
    self_url: Option<String>,
}

impl FeedBuilder {
    /// A builder for `feed`, with the outlets, tags and priorities of `config`.
    pub fn new(feed: &FeedConfig, config: &Config) -> Self {
        // Out-of-scope canonicals are replaced with the same priority rule the engine uses,
        // then the earliest copy: body length is not known here.
        let policy = MergePolicy::new(
            vec![MergeCriterion::OutletPriority, MergeCriterion::Earliest],
            &config.merge.outlet_priority,
            config.outlets.iter().map(|o| (o.name.clone(), o.priority)),
        );
        let outlet_feeds = config
            .outlets
            .iter()
            .filter_map(|o| safe_url(&o.url).map(|u| (o.name.clone(), u)))
            .collect();
        FeedBuilder {
            scope: Scope::for_feed(feed, &config.outlets),
            feed: feed.clone(),
            policy,
            outlet_feeds,
            self_url: None,
        }
    }

    /// Sets the public URL of the feed, for self links.
    pub fn with_self_url(mut self, url: impl Into<String>) -> Self {
        self.self_url = Some(url.into());
        self
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn config(&self) -> &FeedConfig {
        &self.feed
    }

    /// The in-scope copy that stands for the story in this feed, or `None` when no copy is in
    /// scope. The story's own canonical wins when it is in scope.
    pub fn canonical<'a>(&self, view: &'a StoryView) -> Option<&'a Copy> {
        let in_scope: Vec<(usize, &Copy)> = view
            .copies
            .iter()
            .enumerate()
            .filter(|(_, c)| self.scope.contains(c.outlet.as_deref()))
            .collect();
        let own = in_scope.iter().find(|(_, c)| {
            c.id == view.canonical.id
                && c.outlet == view.canonical.outlet
                && c.url == view.canonical.url
        });
        if let Some((_, c)) = own {
            return Some(c);
        }
        in_scope
            .into_iter()
            .max_by(|(i, a), (j, b)| self.compare(*i, a, *j, b))
            .map(|(_, c)| c)
    }

    fn compare(&self, i: usize, a: &Copy, j: usize, b: &Copy) -> Ordering {
        let candidate = |arrival: usize, c: &Copy| Candidate {
            rank: self.policy.rank(c.outlet.as_deref()),
            words: 0,
            published: c.published.map(|p| p.timestamp()),
            arrival: arrival as u64,
        };
        self.policy.compare(&candidate(i, a), &candidate(j, b))
    }

    /// The entry for one story, or `None` when none of its copies is in scope.
    /// `fallback` stands in for dates neither the copies nor `content` know.
    pub fn entry(
        &self,
        view: &StoryView,
        content: &dyn ContentLookup,
        fallback: DateTime<Utc>,
    ) -> Option<FeedEntry> {
        let canonical = self.canonical(view)?;
        let time_of = |c: &Copy| {
            c.published
                .map(|p| p.with_timezone(&Utc))
                .or_else(|| content.seen(&c.id))
        };
        let published = time_of(canonical).unwrap_or(fallback);
        let mut updated = published;
        let mut also = Vec::new();
        for c in view
            .copies
            .iter()
            .filter(|c| self.scope.contains(c.outlet.as_deref()))
        {
            if let Some(t) = time_of(c) {
                updated = updated.max(t);
            }
            if !std::ptr::eq(c, canonical) {
                also.push(source_ref(c));
            }
        }
        let title = canonical
            .title
            .as_deref()
            .map(plain_text)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Untitled story".to_string());
        let content_html = content
            .body(&canonical.id)
            .map(|b| sanitize_html(&b))
            .unwrap_or_default();
        let source_feed = canonical
            .outlet
            .as_deref()
            .and_then(|o| self.outlet_feeds.get(o))
            .cloned();
        Some(FeedEntry {
            entry_id: entry_id(&self.feed.name, view.story),
            story: view.story,
            title,
            link: canonical.url.as_deref().and_then(safe_url),
            content_html,
            published,
            updated,
            source: source_ref(canonical),
            source_feed,
            also,
        })
    }

    /// The feed: the `size` most recently updated stories with a copy in scope, newest first.
    pub fn build(
        &self,
        stories: &[StoryView],
        content: &dyn ContentLookup,
        fallback: DateTime<Utc>,
    ) -> FeedDoc {
        let mut entries: Vec<FeedEntry> = stories
            .iter()
            .filter_map(|v| self.entry(v, content, fallback))
            .collect();
        entries.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.story.cmp(&a.story)));
        entries.truncate(self.feed.size.get());
        // The feed's date follows its entries, so an unchanged feed renders to the same bytes
        // (and keeps its ETag) from one cycle to the next.
        let updated = entries.iter().map(|e| e.updated).max().unwrap_or(fallback);
        FeedDoc {
            name: self.feed.name.clone(),
            title: self
                .feed
                .title
                .clone()
                .unwrap_or_else(|| format!("{} (syndedup)", self.feed.name)),
            self_url: self.self_url.clone(),
            updated,
            entries,
        }
    }
}

fn source_ref(c: &Copy) -> SourceRef {
    SourceRef {
        outlet: c
            .outlet
            .clone()
            .unwrap_or_else(|| UNKNOWN_OUTLET.to_string()),
        url: c.url.as_deref().and_then(safe_url),
        title: c.title.as_deref().map(plain_text).filter(|t| !t.is_empty()),
    }
}

/// A title as plain text on one line: markup and entities some feeds put in titles are
/// resolved (script and style dropped), control characters removed.
pub fn plain_text(title: &str) -> String {
    let text = if looks_like_html(title) {
        Cow::Owned(html_to_text(title))
    } else {
        Cow::Borrowed(title)
    };
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The URL if it is an absolute http(s) URL; anything else (`javascript:`, `data:`, relative
/// paths, garbage) is dropped so no link in a feed can run code.
pub fn safe_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// A body as safe HTML: HTML goes through ammonia (scripts, event handlers, `javascript:` URLs
/// and unknown tags removed, tag soup repaired); plain text becomes escaped paragraphs.
pub fn sanitize_html(body: &str) -> String {
    let body = xml_text(body);
    if looks_like_html(&body) {
        ammonia::clean(&body)
    } else {
        body.split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| format!("<p>{}</p>", quick_xml::escape::escape(p)))
            .collect()
    }
}

/// Drops characters XML 1.0 cannot carry (most C0 controls, lone surrogates cannot occur in
/// `str`, U+FFFE/U+FFFF), so hostile text cannot make a document ill-formed.
pub(crate) fn xml_text(s: &str) -> Cow<'_, str> {
    fn ok(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }
    if s.chars().all(ok) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| ok(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ArticleMeta;

    fn copy(id: &str, outlet: &str, published: &str) -> Copy {
        Copy {
            id: id.to_string(),
            outlet: Some(outlet.to_string()),
            url: Some(format!("https://{outlet}.example/{id}")),
            title: Some(id.to_string()),
            published: Some(chrono::DateTime::parse_from_rfc3339(published).unwrap()),
            score: 1.0,
        }
    }

    #[test]
    fn out_of_scope_canonical_is_replaced_by_priority_then_earliest() {
        let config = Config::parse(
            r#"
            [[outlet]]
            name = "x"
            url = "https://x.example/feed"
            priority = 9
            [[outlet]]
            name = "b"
            url = "https://b.example/feed"
            [[outlet]]
            name = "c"
            url = "https://c.example/feed"
            [[outlet]]
            name = "d"
            url = "https://d.example/feed"
            [[feed]]
            name = "f"
            outlets = ["b", "c"]
            [[feed]]
            name = "g"
            outlets = ["b", "c", "d"]
            [merge]
            outlet_priority = ["d"]
            "#,
            Path::new("t.toml"),
        )
        .unwrap();
        let view = StoryView {
            story: StoryId(7),
            canonical: ArticleMeta {
                id: "x1".into(),
                outlet: Some("x".into()),
                ..ArticleMeta::default()
            },
            copies: vec![
                copy("x1", "x", "2024-01-01T08:00:00Z"),
                copy("b1", "b", "2024-01-01T10:00:00Z"),
                copy("c1", "c", "2024-01-01T09:00:00Z"),
                copy("d1", "d", "2024-01-01T11:00:00Z"),
            ],
        };
        let f = FeedBuilder::new(&config.feeds[0], &config);
        assert_eq!(f.canonical(&view).map(|c| c.id.as_str()), Some("c1"));
        let g = FeedBuilder::new(&config.feeds[1], &config);
        assert_eq!(g.canonical(&view).map(|c| c.id.as_str()), Some("d1"));
        let none = StoryView {
            copies: vec![copy("x1", "x", "2024-01-01T08:00:00Z")],
            ..view
        };
        assert!(f.canonical(&none).is_none());
        let empty: HashMap<String, String> = HashMap::new();
        assert!(f.entry(&none, &empty, Utc::now()).is_none());
    }

    #[test]
    fn unsafe_urls_are_dropped() {
        assert_eq!(
            safe_url("https://example.org/a?b=1").as_deref(),
            Some("https://example.org/a?b=1")
        );
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url(" JavaScript:alert(1)"), None);
        assert_eq!(safe_url("data:text/html,<script>"), None);
        assert_eq!(safe_url("/relative"), None);
    }

    #[test]
    fn plain_text_is_escaped_into_paragraphs() {
        assert_eq!(
            sanitize_html("a < b\n\nc & d"),
            "<p>a &lt; b</p><p>c &amp; d</p>"
        );
        let html = sanitize_html("<p onclick=\"x()\">hi<script>alert(1)</script></p>");
        assert_eq!(html, "<p>hi</p>");
    }

    #[test]
    fn titles_become_plain_text() {
        assert_eq!(
            plain_text("  Fish &amp; chips\n<b>now</b> "),
            "Fish & chips now"
        );
        assert_eq!(plain_text("<script>alert(1)</script>Hi\u{7}!"), "Hi!");
        assert_eq!(plain_text("a < b"), "a < b");
    }

    #[test]
    fn xml_text_drops_control_characters() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\td"), "abc\td");
        assert!(matches!(xml_text("plain"), Cow::Borrowed(_)));
    }
}
