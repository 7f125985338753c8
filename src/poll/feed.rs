//! Feed documents to items: raw bytes go to feed-rs (it decodes the declared charset itself),
//! items come out with our own ids (see [`super::identity`]), full content preferred over the
//! summary.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use feed_rs::model::{Entry, Link};
use quick_xml::events::Event;

use super::identity::{disambiguate, item_id, IdParts};

/// One item as the poller hands it to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// Our id for the item within its outlet (see [`super::identity`]).
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

/// A parsed feed document.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<FeedItem>,
    /// RSS `<ttl>`: the publisher's hint not to poll more often.
    pub ttl: Option<Duration>,
    /// Items whose feed id was repeated inside this document and got a suffix.
    pub disambiguated: usize,
}

/// Parses a feed document. `base_url` resolves relative links. Never panics: a panic inside
/// the parser is caught and reported as an error.
pub fn parse_feed(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, String> {
    let parsed = std::panic::catch_unwind(|| {
        feed_rs::parser::Builder::new()
            .base_uri(base_url)
            // An empty id marks "the feed gave none"; our own rule fills it in below.
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(bytes)
    });
    let feed = match parsed {
        Ok(Ok(feed)) => feed,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("the feed parser failed on this document".to_string()),
    };
    let origlinks = if memchr::memmem::find(bytes, b"origLink").is_some() {
        scan_origlinks(bytes)
    } else {
        Vec::new()
    };
    let mut items: Vec<FeedItem> = Vec::with_capacity(feed.entries.len());
    let mut keys = Vec::with_capacity(feed.entries.len());
    for (i, entry) in feed.entries.iter().enumerate() {
        let origlink = origlinks.get(i).and_then(|o| o.as_deref());
        let link = entry_link(&entry.links);
        let title = entry
            .title
            .as_ref()
            .map(|t| t.content.trim().to_string())
            .filter(|t| !t.is_empty());
        let published = entry.published.or(entry.updated).map(|d| d.fixed_offset());
        let body = entry_body(entry);
        let id = item_id(&IdParts {
            guid: &entry.id,
            link,
            origlink,
            title: title.as_deref(),
            published,
            body: &body,
        });
        keys.push(
            link.or(origlink)
                .map(str::to_string)
                .or_else(|| title.clone())
                .unwrap_or_else(|| body.chars().take(200).collect()),
        );
        items.push(FeedItem {
            id,
            url: origlink.or(link).map(str::to_string),
            title,
            published,
            body,
        });
    }
    let mut ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let disambiguated = disambiguate(&mut ids, &keys);
    for (item, id) in items.iter_mut().zip(ids) {
        item.id = id;
    }
    Ok(ParsedFeed {
        title: feed.title.map(|t| t.content),
        items,
        ttl: feed
            .ttl
            .filter(|&m| m > 0)
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        disambiguated,
    })
}

/// The item's page: the first link without a rel or with rel="alternate".
fn entry_link(links: &[Link]) -> Option<&str> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
        .map(|l| l.href.as_str())
        .filter(|h| !h.trim().is_empty())
}

fn entry_body(entry: &Entry) -> String {
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(str::trim)
        .filter(|b| !b.is_empty());
    let summary = entry
        .summary
        .as_ref()
        .map(|s| s.content.trim())
        .filter(|s| !s.is_empty());
    content.or(summary).unwrap_or("").to_string()
}

/// `feedburner:origLink` of each `<item>`/`<entry>`, in document order (feed-rs drops it).
/// Best effort: a document quick-xml cannot read gives what was found so far.
fn scan_origlinks(bytes: &[u8]) -> Vec<Option<String>> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut out: Vec<Option<String>> = Vec::new();
    let mut in_origlink = false;
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"item" | b"entry" => out.push(None),
                    b"origLink" => {
                        in_origlink = true;
                        text.clear();
                    }
                    _ => {}
                }
            }
            Ok(Event::Text(t)) if in_origlink => {
                if let Ok(s) = t.decode() {
                    text.push_str(&s);
                }
            }
            Ok(Event::CData(t)) if in_origlink => {
                if let Ok(s) = t.decode() {
                    text.push_str(&s);
                }
            }
            Ok(Event::GeneralRef(r)) if in_origlink => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name: &[u8] = &r;
                    match name {
                        b"amp" => text.push('&'),
                        b"lt" => text.push('<'),
                        b"gt" => text.push('>'),
                        b"quot" => text.push('"'),
                        b"apos" => text.push('\''),
                        _ => {}
                    }
                }
            }
            Ok(Event::End(e)) if in_origlink && e.local_name().as_ref() == b"origLink" => {
                in_origlink = false;
                let link = text.trim();
                if let Some(slot) = out.last_mut() {
                    if !link.is_empty() {
                        *slot = Some(link.to_string());
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_GUIDS: &str = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title><ttl>30</ttl>
<item><title>One</title><link>http://fb.example/~r/1?utm_source=rss</link>
<feedburner:origLink>https://news.example/one?utm_medium=feed&amp;p=1</feedburner:origLink>
<description>short</description><content:encoded><![CDATA[<p>Full text one</p>]]></content:encoded></item>
<item><title>Two</title><link>https://news.example/two?fbclid=zz</link><description>only summary</description></item>
<item><title>Three</title></item>
</channel></rss>"#;

    #[test]
    fn ids_content_and_ttl_follow_our_rules() {
        let feed = parse_feed(NO_GUIDS.as_bytes(), None).expect("parses");
        assert_eq!(feed.ttl, Some(Duration::from_secs(1800)));
        let ids: Vec<&str> = feed.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids[0], "https://news.example/one?p=1");
        assert_eq!(ids[1], "https://news.example/two");
        assert!(ids[2].starts_with("xxh3:"), "{}", ids[2]);
        assert_eq!(feed.items[0].body, "<p>Full text one</p>");
        assert_eq!(feed.items[1].body, "only summary");
        assert_eq!(
            feed.items[0].url.as_deref(),
            Some("https://news.example/one?utm_medium=feed&p=1")
        );
        let again = parse_feed(NO_GUIDS.as_bytes(), None).expect("parses");
        assert_eq!(feed.items, again.items);
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(parse_feed(b"<rss version=\"2.0\"><channel><item>", None).is_err());
        assert!(parse_feed(b"", None).is_err());
        assert!(parse_feed(b"{not json", None).is_err());
    }
}
