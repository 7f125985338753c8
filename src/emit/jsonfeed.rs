//! JSON Feed 1.1. Provenance goes into the `_syndedup` extension object of each item:
//! `{"story", "source": {"outlet","url","title"}, "also_published_by": [{"outlet","url","title"}]}`.

use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::{FeedDoc, FeedEntry, SourceRef};

pub const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// The feed as a JSON Feed document.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut feed = json!({
        "version": VERSION,
        "title": doc.title,
        "items": doc.entries.iter().map(item).collect::<Vec<_>>(),
    });
    if let (Some(url), Some(map)) = (&doc.self_url, feed.as_object_mut()) {
        map.insert("feed_url".to_string(), Value::String(url.clone()));
    }
    let mut out = serde_json::to_vec_pretty(&feed).unwrap_or_default();
    out.push(b'\n');
    out
}

fn source(s: &SourceRef) -> Value {
    json!({ "outlet": s.outlet, "url": s.url, "title": s.title })
}

fn item(e: &FeedEntry) -> Value {
    let mut item = json!({
        "id": e.entry_id,
        "title": e.title,
        "content_html": e.content_html,
        "date_published": e.published.to_rfc3339_opts(SecondsFormat::Secs, true),
        "date_modified": e.updated.to_rfc3339_opts(SecondsFormat::Secs, true),
        "authors": [{ "name": e.source.outlet }],
        "_syndedup": {
            "story": e.story.to_string(),
            "source": source(&e.source),
            "also_published_by": e.also.iter().map(source).collect::<Vec<_>>(),
        },
    });
    if let (Some(link), Some(map)) = (&e.link, item.as_object_mut()) {
        map.insert("url".to_string(), Value::String(link.clone()));
    }
    item
}
