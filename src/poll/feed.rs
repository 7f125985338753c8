//! Feed documents to items, leniently: the bytes are decoded to UTF-8 (see [`super::decode`]),
//! ill-formed XML is repaired and old formats are converted (see [`super::repair`]), then
//! feed-rs parses the text. Items come out with our own ids (see [`super::identity`]), full
//! content preferred over the summary. What was repaired is listed in [`ParsedFeed::repairs`].

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use feed_rs::model::{Entry, Link};
use quick_xml::events::Event;

use super::decode::{charset_of, decode};
use super::generic;
use super::identity::{disambiguate, item_id, IdParts};
use super::repair;

pub use crate::model::FeedItem;

/// A parsed feed document.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<FeedItem>,
    /// RSS `<ttl>`: the publisher's hint not to poll more often.
    pub ttl: Option<Duration>,
    /// Items whose feed id was repeated inside this document and got a suffix.
    pub disambiguated: usize,
    /// The encoding the document was read in (e.g. "UTF-8", "Shift_JIS").
    pub encoding: &'static str,
    /// What was wrong with the document and how it was read anyway (a mislabelled encoding,
    /// HTML entities, a stray `&`, a cut-off end, an old format); empty for a clean feed.
    pub repairs: Vec<String>,
}

/// Why a document gave no feed. The message names the format the document looked like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: the document is empty")]
    Empty,
    #[error("not a feed: an HTML page{}, not RSS, Atom or JSON Feed", title.as_ref().map(|t| format!(" ({t:?})")).unwrap_or_default())]
    Html { title: Option<String> },
    #[error(
        "not a feed: XML whose root element is <{root}>; feeds have <rss>, <rdf:RDF> or <feed>"
    )]
    OtherXml { root: String },
    #[error("not a feed: {format} document that cannot be read: {reason}")]
    Invalid { format: String, reason: String },
    #[error("not a feed: JSON, but not a JSON Feed: {reason}")]
    Json { reason: String },
    #[error("not a feed: neither XML nor JSON (starts with {start:?})")]
    Unknown { start: String },
    #[error("no items: the {format} document has {elements} <{element}> element{} but none could be read", if *.elements == 1 { "" } else { "s" })]
    NoItems {
        format: String,
        elements: usize,
        element: &'static str,
    },
}

/// "repaired: a; b" for a document that needed repairs, else "" (the status page and the
/// `run --once` table show it where errors go).
pub fn repairs_note(repairs: &[String]) -> String {
    if repairs.is_empty() {
        String::new()
    } else {
        format!("repaired: {}", repairs.join("; "))
    }
}

/// Parses a feed document. `base_url` resolves relative links. Never panics: a panic inside
/// the parser is caught and reported as an error.
pub fn parse_feed(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, ParseError> {
    parse_feed_with(bytes, base_url, None)
}

/// Like [`parse_feed`], with the HTTP `Content-Type` of the response (its charset, if any,
/// decides the encoding after a byte-order mark; see [`super::decode`]).
pub fn parse_feed_with(
    bytes: &[u8],
    base_url: Option<&str>,
    content_type: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    // The repairs and the lenient reader are ours; a bug in them must not take a poll down.
    std::panic::catch_unwind(|| parse_unguarded(bytes, base_url, content_type)).unwrap_or_else(
        |_| {
            Err(ParseError::Invalid {
                format: "feed".to_string(),
                reason: "the parser failed on this document".to_string(),
            })
        },
    )
}

fn parse_unguarded(
    bytes: &[u8],
    base_url: Option<&str>,
    content_type: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let decoded = decode(bytes, content_type.and_then(charset_of));
    let mut repairs = decoded.repairs;
    let text = decoded.text;
    let first = text
        .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .chars()
        .next();
    let raw = match first {
        None => return Err(ParseError::Empty),
        Some('{') | Some('[') => match run_feed_rs(text.as_bytes(), base_url) {
            Ok(feed) => from_feed_rs(feed, ""),
            Err(reason) => return Err(ParseError::Json { reason }),
        },
        Some('<') => parse_xml(text, base_url, &mut repairs)?,
        Some(_) => {
            let start: String = text.trim_start().chars().take(24).collect();
            return Err(ParseError::Unknown { start });
        }
    };
    let mut parsed = to_items(raw);
    parsed.encoding = decoded.encoding;
    parsed.repairs = repairs;
    Ok(parsed)
}

/// One item as feed-rs or the lenient reader found it, before our ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawItem {
    /// The feed's id (`<guid>`, `<id>`, `rdf:about`); empty when it gave none.
    pub guid: String,
    pub link: Option<String>,
    pub origlink: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<FixedOffset>>,
    pub body: String,
}

/// A document's items before our ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawFeed {
    pub title: Option<String>,
    pub ttl: Option<Duration>,
    pub items: Vec<RawItem>,
}

/// The format a document's root element names: "RSS 2.0", "RSS 1.0 (RDF)", "Atom", ...
fn format_name(text: &str) -> Option<String> {
    let (root, range) = repair::root_tag(text)?;
    let local = root.rsplit(':').next().unwrap_or(&root);
    let version = repair::attr(&text[range], "version");
    Some(match (local, version) {
        ("rss", Some(v)) => format!("RSS {v}"),
        ("rss", None) => "RSS".to_string(),
        ("RDF" | "rdf", _) => "RSS 1.0 (RDF)".to_string(),
        ("feed", Some(v)) if v.starts_with('0') => format!("Atom {v}"),
        ("feed", _) => "Atom".to_string(),
        ("entry", _) => "Atom entry".to_string(),
        (other, _) => format!("XML <{other}>"),
    })
}

/// `<item`/`<entry` start tags by a byte search (may count some inside CDATA): a cheap upper
/// bound that decides whether the exact count is needed.
fn item_tags_upper_bound(b: &[u8]) -> usize {
    let mut n = 0;
    for word in [&b"item"[..], &b"entry"[..]] {
        for at in memchr::memmem::find_iter(b, word) {
            let before = at.checked_sub(1).and_then(|i| b.get(i));
            let after = b.get(at + word.len());
            if matches!(before, Some(b'<' | b':'))
                && matches!(after, Some(b' ' | b'>' | b'/' | b'\t' | b'\n' | b'\r'))
            {
                n += 1;
            }
        }
    }
    n
}

/// Repairs, converts and parses an XML document.
fn parse_xml(
    text: Cow<'_, str>,
    base_url: Option<&str>,
    repairs: &mut Vec<String>,
) -> Result<RawFeed, ParseError> {
    let Some((root, _)) = repair::root_tag(&text) else {
        return Err(ParseError::Invalid {
            format: "XML".to_string(),
            reason: "it has no root element".to_string(),
        });
    };
    let local = root
        .rsplit(':')
        .next()
        .unwrap_or(&root)
        .to_ascii_lowercase();
    if local == "html"
        || text
            .trim_start()
            .get(..14)
            .is_some_and(|s| s.eq_ignore_ascii_case("<!doctype html"))
    {
        return Err(ParseError::Html {
            title: html_title(&text),
        });
    }
    if !matches!(local.as_str(), "rss" | "rdf" | "feed" | "entry") {
        return Err(ParseError::OtherXml { root });
    }
    let format = format_name(&text).unwrap_or_else(|| "XML".to_string());
    let element = if local == "feed" || local == "entry" {
        "entry"
    } else {
        "item"
    };
    let mut text = text;
    if let Some((fixed, mut r)) = repair::fix_markup(&text) {
        text = Cow::Owned(fixed);
        repairs.append(&mut r);
    }
    if let Some((fixed, mut r)) = repair::legacy_to_current(&text) {
        text = Cow::Owned(fixed);
        repairs.append(&mut r);
    }
    // feed-rs, then on a document broken part way, feed-rs on what came before the break.
    let mut feed_rs_error = None;
    let mut raw = match run_feed_rs(text.as_bytes(), base_url) {
        Ok(feed) => Some(from_feed_rs(feed, &text)),
        Err(e) => {
            let closed = repair::close_truncated(&text).and_then(|(closed, message)| {
                let feed = run_feed_rs(closed.as_bytes(), base_url).ok()?;
                Some((from_feed_rs(feed, &closed), message))
            });
            match closed {
                // A cut-off document with no item before the break is no feed yet.
                Some((raw, message)) if raw.items.is_empty() => {
                    feed_rs_error = Some(format!("{e}; {message}, and there is no item before it"));
                    None
                }
                Some((raw, message)) => {
                    repairs.push(message);
                    Some(raw)
                }
                None => {
                    feed_rs_error = Some(e);
                    None
                }
            }
        }
    };
    // Items feed-rs dropped or could not reach (an RSS 1.0 item without a link, RSS without
    // a <channel>, an unknown namespace): the lenient reader gets them.
    let got = raw.as_ref().map_or(0, |r| r.items.len());
    if item_tags_upper_bound(text.as_bytes()) > got {
        let elements = repair::count_items(&text);
        if elements > got {
            let lenient = generic::read_items(&text, base_url);
            if lenient.items.len() > got {
                repairs.push(match &feed_rs_error {
                    Some(e) => format!(
                        "read with the lenient item reader ({} of {elements} <{element}> elements) after the feed parser failed: {e}",
                        lenient.items.len()
                    ),
                    None => format!(
                        "read with the lenient item reader: the feed parser got {got} of {elements} <{element}> elements"
                    ),
                });
                let mut lenient = lenient;
                if let Some(r) = &raw {
                    lenient.title = lenient.title.or_else(|| r.title.clone());
                    lenient.ttl = r.ttl;
                }
                raw = Some(lenient);
            } else if got == 0 {
                return Err(ParseError::NoItems {
                    format,
                    elements,
                    element,
                });
            }
        }
    }
    match (raw, feed_rs_error) {
        (Some(raw), _) => Ok(raw),
        // feed-rs says "no root element" for an <rss> without a <channel>.
        (None, Some(_)) if local == "rss" && !text.contains("<channel") => {
            Err(ParseError::Invalid {
                format,
                reason: "it has no <channel> element".to_string(),
            })
        }
        (None, Some(reason)) => Err(ParseError::Invalid { format, reason }),
        (None, None) => Err(ParseError::Invalid {
            format,
            reason: "nothing could be read".to_string(),
        }),
    }
}

/// The `<title>` of an HTML page, for the error.
fn html_title(text: &str) -> Option<String> {
    let head = (0..=text.len().min(16_384))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .map(|i| &text[..i])?;
    let lower = head.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = lower[start..].find('>')? + start + 1;
    let end = lower[open_end..].find("</title")? + open_end;
    let title: String = head
        .get(open_end..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(80).collect())
}

/// feed-rs on UTF-8 bytes, with a panic caught.
fn run_feed_rs(bytes: &[u8], base_url: Option<&str>) -> Result<feed_rs::model::Feed, String> {
    let parsed = std::panic::catch_unwind(|| {
        feed_rs::parser::Builder::new()
            .base_uri(base_url)
            // An empty id marks "the feed gave none"; our own rule fills it in below.
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(bytes)
    });
    match parsed {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the feed parser failed on this document".to_string()),
    }
}

/// feed-rs's feed as raw items; `text` is the XML document it read (for `feedburner:origLink`,
/// which feed-rs drops), empty for JSON.
fn from_feed_rs(feed: feed_rs::model::Feed, text: &str) -> RawFeed {
    let bytes = text.as_bytes();
    let origlinks = if memchr::memmem::find(bytes, b"origLink").is_some() {
        scan_origlinks(bytes)
    } else {
        Vec::new()
    };
    let items = feed
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| RawItem {
            guid: entry.id.clone(),
            link: entry_link(&entry.links).map(str::to_string),
            origlink: origlinks.get(i).cloned().flatten(),
            title: entry.title.as_ref().map(|t| t.content.clone()),
            published: entry.published.or(entry.updated).map(|d| d.fixed_offset()),
            body: entry_body(entry),
        })
        .collect();
    RawFeed {
        title: feed.title.map(|t| t.content),
        ttl: feed
            .ttl
            .filter(|&m| m > 0)
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        items,
    }
}

/// Items with our ids.
fn to_items(raw: RawFeed) -> ParsedFeed {
    let mut items: Vec<FeedItem> = Vec::with_capacity(raw.items.len());
    let mut keys = Vec::with_capacity(raw.items.len());
    for entry in &raw.items {
        let origlink = entry.origlink.as_deref().filter(|l| !l.trim().is_empty());
        let link = entry.link.as_deref().filter(|l| !l.trim().is_empty());
        let title = entry
            .title
            .as_deref()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let published = entry.published;
        let body = entry.body.trim().to_string();
        let id = item_id(&IdParts {
            guid: &entry.guid,
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
    ParsedFeed {
        title: raw.title,
        items,
        ttl: raw.ttl,
        disambiguated,
        encoding: "UTF-8",
        repairs: Vec::new(),
    }
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Any prefix of a feed, with junk spliced in, parses or is an error; our own repair
        /// code never panics (the guard would hide it, so it is called unguarded here).
        #[test]
        fn cut_and_spliced_feeds_never_panic(cut in 0usize..2000, at in 0usize..2000, junk in "[&<>;\\]\\[!\\-#a-z0-9\u{e9}\u{fe}]{0,12}") {
            let doc = NO_GUIDS.as_bytes();
            let cut = cut.min(doc.len());
            let mut bytes = doc[..cut].to_vec();
            let at = at.min(bytes.len());
            bytes.splice(at..at, junk.bytes());
            let _ = parse_unguarded(&bytes, Some("https://news.example/"), None);
            let _ = parse_unguarded(&bytes, None, Some("text/xml; charset=shift_jis"));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_unguarded(&bytes, None, None);
        }
    }

    #[test]
    fn malformed_documents_are_errors() {
        // The only item is unfinished: dropped, and a document with an item yielding none
        // is an error.
        let e = parse_feed(b"<rss version=\"2.0\"><channel><item>", None).expect_err("no items");
        assert!(matches!(e, ParseError::NoItems { elements: 1, .. }), "{e}");
        assert!(parse_feed(b"", None).is_err());
        assert!(parse_feed(b"{not json", None).is_err());
    }
}
