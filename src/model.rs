//! Plain data passed between the stages: what an article is, what the engine decides about it,
//! and what a story looks like from the outside.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Identifier of a story. Assigned by the engine in arrival order; stable for the life of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoryId(pub u64);

impl std::fmt::Display for StoryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s{}", self.0)
    }
}

impl std::str::FromStr for StoryId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('s').unwrap_or(s);
        digits
            .parse::<u64>()
            .map(StoryId)
            .map_err(|_| format!("'{s}' is not a story id (expected s<number>)"))
    }
}

/// The metadata of one article that the engine keeps for provenance and canonical selection.
/// The body is not kept here: callers that need it for output keep it themselves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArticleMeta {
    /// The caller's identifier, as a string (numeric ids are rendered in decimal).
    pub id: String,
    pub outlet: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<FixedOffset>>,
}

/// An article as it enters the engine: metadata plus the body (plain text or HTML).
#[derive(Debug, Clone, Default)]
pub struct Article {
    pub meta: ArticleMeta,
    pub body: String,
}

impl Article {
    /// A convenience constructor for tests and library users.
    pub fn new(id: impl Into<String>, body: impl Into<String>) -> Self {
        Article {
            meta: ArticleMeta {
                id: id.into(),
                ..ArticleMeta::default()
            },
            body: body.into(),
        }
    }

    pub fn with_outlet(mut self, outlet: impl Into<String>) -> Self {
        self.meta.outlet = Some(outlet.into());
        self
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.meta.title = Some(title.into());
        self
    }

    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.meta.url = Some(url.into());
        self
    }

    pub fn with_published(mut self, published: DateTime<FixedOffset>) -> Self {
        self.meta.published = Some(published);
        self
    }
}

/// What the engine decided about one article.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The story the article now belongs to.
    pub story: StoryId,
    /// `None` when the article started a new story; otherwise the id of the story's first article.
    pub duplicate_of: Option<String>,
    /// Similarity to the story member it matched (see `dedup::matcher`); `None` for a new story.
    pub score: Option<f32>,
    /// True when this article became the story's canonical version (always true for a new story).
    pub became_canonical: bool,
    /// Stories this article bridged into `story` (see `dedup::cluster`): their ids are now
    /// aliases of `story`. Empty almost always.
    pub merged: Vec<StoryId>,
}

impl Decision {
    pub fn is_duplicate(&self) -> bool {
        self.duplicate_of.is_some()
    }
}

/// One member of a story, as listed in provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    pub id: String,
    pub outlet: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<FixedOffset>>,
    /// Estimated similarity of this copy to the canonical version (1.0 for the canonical itself).
    pub score: f32,
}

/// A story as seen from outside the engine: its canonical member and every copy (canonical included).
#[derive(Debug, Clone, PartialEq)]
pub struct StoryView {
    pub story: StoryId,
    pub canonical: ArticleMeta,
    pub copies: Vec<Copy>,
}

/// One item as the poller hands it to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// Our id for the item within its outlet (made by `poll::identity`; `poll` fills this, the engine side reads it).
    pub id: String,
    /// The item's link (`feedburner:origLink` preferred).
    pub url: Option<String>,
    pub title: Option<String>,
    /// Published (or else updated) date from the feed; `None` when the feed gave none.
    pub published: Option<DateTime<FixedOffset>>,
    /// Full content when the feed has it (`content:encoded`, Atom content), else the summary.
    /// HTML as given; the engine's normaliser turns it into text.
    pub body: String,
}
