//! Atom 1.0 (RFC 4287).
//!
//! Each entry carries the canonical copy as `link rel="alternate"` and `author`, and every other
//! in-scope copy as `link rel="related"` with the outlet as the link's title.

use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::{xml_text, FeedDoc, FeedEntry};

const NS: &str = "http://www.w3.org/2005/Atom";

/// The feed as an Atom document.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::with_capacity(4096), b' ', 1);
    // Writing into a Vec cannot fail.
    let _ = write_doc(&mut w, doc);
    w.into_inner()
}

fn date(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&xml_text(text)))?;
    Ok(())
}

fn write_doc(w: &mut Writer<Vec<u8>>, doc: &FeedDoc) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("feed")
        .with_attribute(("xmlns", NS))
        .write_inner_content(|w| {
            text_element(w, "id", &format!("urn:syndedup:feed:{}", doc.name))?;
            w.create_element("title")
                .with_attribute(("type", "text"))
                .write_text_content(BytesText::new(&xml_text(&doc.title)))?;
            text_element(w, "updated", &date(&doc.updated))?;
            if let Some(url) = &doc.self_url {
                w.create_element("link")
                    .with_attribute(("rel", "self"))
                    .with_attribute(("type", "application/atom+xml"))
                    .with_attribute(("href", xml_text(url).as_ref()))
                    .write_empty()?;
            }
            w.create_element("generator")
                .with_attribute(("version", env!("CARGO_PKG_VERSION")))
                .write_text_content(BytesText::new("syndedup"))?;
            for entry in &doc.entries {
                write_entry(w, entry)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_entry(w: &mut Writer<Vec<u8>>, e: &FeedEntry) -> io::Result<()> {
    w.create_element("entry").write_inner_content(|w| {
        text_element(w, "id", &e.entry_id)?;
        w.create_element("title")
            .with_attribute(("type", "text"))
            .write_text_content(BytesText::new(&xml_text(&e.title)))?;
        if let Some(link) = &e.link {
            w.create_element("link")
                .with_attribute(("rel", "alternate"))
                .with_attribute(("type", "text/html"))
                .with_attribute(("href", xml_text(link).as_ref()))
                .with_attribute(("title", xml_text(&e.source.outlet).as_ref()))
                .write_empty()?;
        }
        for also in &e.also {
            if let Some(url) = &also.url {
                w.create_element("link")
                    .with_attribute(("rel", "related"))
                    .with_attribute(("type", "text/html"))
                    .with_attribute(("href", xml_text(url).as_ref()))
                    .with_attribute(("title", xml_text(&also.outlet).as_ref()))
                    .write_empty()?;
            }
        }
        text_element(w, "published", &date(&e.published))?;
        text_element(w, "updated", &date(&e.updated))?;
        w.create_element("author")
            .write_inner_content(|w| text_element(w, "name", &e.source.outlet))?;
        w.create_element("content")
            .with_attribute(("type", "html"))
            .write_text_content(BytesText::new(&xml_text(&e.content_html)))?;
        Ok(())
    })?;
    Ok(())
}
