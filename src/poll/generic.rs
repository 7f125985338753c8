//! A lenient reader of `<item>` and `<entry>` elements, for documents feed-rs reads only in
//! part or not at all (RSS 1.0 items without a link, RSS without a `<channel>`, odd roots or
//! namespaces). It ignores namespaces and structure: every `item`/`entry` element, at any
//! depth, is an item, and its child elements are read by local name.

use chrono::{DateTime, FixedOffset};
use quick_xml::events::{BytesStart, Event};

use super::feed::{RawFeed, RawItem};

#[derive(Default)]
struct Partial {
    guid: Option<String>,
    about: Option<String>,
    link: Option<String>,
    origlink: Option<String>,
    title: Option<String>,
    content: Option<String>,
    summary: Option<String>,
    published: Option<String>,
    updated: Option<String>,
}

/// Which field a child element of an item fills.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Guid,
    Link,
    OrigLink,
    Title,
    Content,
    Summary,
    Published,
    Updated,
}

fn field_of(local: &[u8]) -> Option<Field> {
    Some(match local {
        b"guid" | b"id" => Field::Guid,
        b"link" => Field::Link,
        b"origLink" => Field::OrigLink,
        b"title" => Field::Title,
        b"encoded" | b"content" => Field::Content,
        b"description" | b"summary" => Field::Summary,
        b"pubDate" | b"published" | b"issued" | b"date" | b"created" => Field::Published,
        b"updated" | b"modified" => Field::Updated,
        _ => return None,
    })
}

fn attr_value(e: &BytesStart, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == local)
            .then(|| String::from_utf8_lossy(&a.value).into_owned())
    })
}

/// Reads every item/entry of `text` (UTF-8, already repaired). Never fails: a read error ends
/// the document there.
pub(crate) fn read_items(text: &str, base_url: Option<&str>) -> RawFeed {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let base = base_url.and_then(|b| url::Url::parse(b).ok());
    let mut feed = RawFeed::default();
    let mut depth = 0usize;
    // Depth of the open item, the item so far, and the child being read (field, depth, text).
    let mut item: Option<(usize, Partial)> = None;
    let mut child: Option<(Field, usize, String)> = None;
    let mut feed_title: Option<String> = None;
    let mut in_feed_title = false;
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) => {
                depth += 1;
                let local = e.local_name();
                let local = local.as_ref();
                match &mut item {
                    None if matches!(local, b"item" | b"entry") => {
                        let about = attr_value(&e, b"about");
                        item = Some((
                            depth,
                            Partial {
                                about,
                                ..Partial::default()
                            },
                        ));
                    }
                    None if local == b"title" && feed_title.is_none() => {
                        in_feed_title = true;
                        feed_title = Some(String::new());
                    }
                    Some((d, partial)) if child.is_none() && depth == *d + 1 => {
                        if let Some(field) = field_of(local) {
                            if field == Field::Link {
                                if let Some(href) = link_href(&e) {
                                    partial.link.get_or_insert(href);
                                }
                            }
                            child = Some((field, depth, String::new()));
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(e) => {
                if let Some((d, partial)) = &mut item {
                    if depth + 1 == *d + 1 && e.local_name().as_ref() == b"link" {
                        if let Some(href) = link_href(&e) {
                            partial.link.get_or_insert(href);
                        }
                    }
                }
            }
            Event::Text(t) => {
                if let Ok(s) = t.decode() {
                    push_text(&mut child, &mut feed_title, in_feed_title, &s);
                }
            }
            Event::CData(t) => {
                if let Ok(s) = t.decode() {
                    push_text(&mut child, &mut feed_title, in_feed_title, &s);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => r
                        .decode()
                        .ok()
                        .and_then(|n| quick_xml::escape::resolve_predefined_entity(&n))
                        .map(str::to_string),
                };
                if let Some(s) = resolved {
                    push_text(&mut child, &mut feed_title, in_feed_title, &s);
                }
            }
            Event::End(_) => {
                if let Some((field, d, text)) = &child {
                    if *d == depth {
                        if let Some((_, partial)) = &mut item {
                            fill(partial, *field, text.trim());
                        }
                        child = None;
                    }
                }
                in_feed_title = false;
                if item.as_ref().is_some_and(|(d, _)| *d == depth) {
                    if let Some((_, partial)) = item.take() {
                        feed.items.push(finish(partial, base.as_ref()));
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    feed.title = feed_title
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    feed
}

fn push_text(
    child: &mut Option<(Field, usize, String)>,
    feed_title: &mut Option<String>,
    in_feed_title: bool,
    s: &str,
) {
    if let Some((_, _, text)) = child {
        text.push_str(s);
    } else if in_feed_title {
        if let Some(t) = feed_title {
            t.push_str(s);
        }
    }
}

/// `href` of an Atom-style link that points at the item's page (no rel, or "alternate").
fn link_href(e: &BytesStart) -> Option<String> {
    let href = attr_value(e, b"href")?;
    match attr_value(e, b"rel").as_deref() {
        None | Some("alternate") => Some(href),
        _ => None,
    }
}

fn fill(p: &mut Partial, field: Field, text: &str) {
    if text.is_empty() {
        return;
    }
    let slot = match field {
        Field::Guid => &mut p.guid,
        Field::Link => &mut p.link,
        Field::OrigLink => &mut p.origlink,
        Field::Title => &mut p.title,
        Field::Content => &mut p.content,
        Field::Summary => &mut p.summary,
        Field::Published => &mut p.published,
        Field::Updated => &mut p.updated,
    };
    if slot.is_none() {
        *slot = Some(text.to_string());
    }
}

fn finish(p: Partial, base: Option<&url::Url>) -> RawItem {
    let link = p.link.map(|l| match base {
        Some(b) if url::Url::parse(&l).is_err() => b.join(&l).map(|u| u.to_string()).unwrap_or(l),
        _ => l,
    });
    let date = |s: &Option<String>| s.as_deref().and_then(parse_date);
    RawItem {
        guid: p.guid.or(p.about).unwrap_or_default(),
        link,
        origlink: p.origlink,
        title: p.title,
        published: date(&p.published).or_else(|| date(&p.updated)),
        body: p.content.or(p.summary).unwrap_or_default(),
    }
}

/// RFC 2822 (RSS) or RFC 3339 (Atom, Dublin Core) dates.
fn parse_date(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    DateTime::parse_from_rfc2822(s)
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_without_links_and_odd_layouts_are_read() {
        let doc = r#"<rdf:RDF xmlns:rdf="r" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Chan &amp; nel</title></channel>
<item rdf:about="urn:1"><title>One &#233;</title><description><![CDATA[<p>Body</p>]]></description><dc:date>2024-05-01T10:00:00Z</dc:date></item>
<item><title>Two</title><link>/two</link><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item>
</rdf:RDF>"#;
        let feed = read_items(doc, Some("https://news.example/feed"));
        assert_eq!(feed.title.as_deref(), Some("Chan & nel"));
        assert_eq!(feed.items.len(), 2);
        let one = &feed.items[0];
        assert_eq!(one.guid, "urn:1");
        assert_eq!(one.title.as_deref(), Some("One é"));
        assert_eq!(one.body, "<p>Body</p>");
        assert!(one.published.is_some());
        let two = &feed.items[1];
        assert_eq!(two.link.as_deref(), Some("https://news.example/two"));
        assert!(two.published.is_some());
    }

    #[test]
    fn atom_links_and_broken_documents() {
        let doc = r#"<feed><entry><link rel="self" href="s"/><link href="https://a.example/x"/><summary>s</summary><content>c</content></entry><entry><title>cut"#;
        let feed = read_items(doc, None);
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].link.as_deref(), Some("https://a.example/x"));
        assert_eq!(feed.items[0].body, "c");
        assert_eq!(read_items("", None).items.len(), 0);
    }
}
