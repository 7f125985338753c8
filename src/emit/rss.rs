//! RSS 2.0.
//!
//! RSS has no place for several links per item, so "also published by" goes into the
//! description as a list after the content, the canonical's outlet into `<source>`, and every
//! outlet that carried the story into `<category domain="urn:syndedup:outlet">`.

use std::io;

use quick_xml::escape::escape;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::atom::text_element;
use super::{xml_text, FeedDoc, FeedEntry};

/// The `domain` of the outlet categories.
pub const OUTLET_DOMAIN: &str = "urn:syndedup:outlet";

/// The feed as an RSS 2.0 document.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::with_capacity(4096), b' ', 1);
    // Writing into a Vec cannot fail.
    let _ = write_doc(&mut w, doc);
    w.into_inner()
}

fn write_doc(w: &mut Writer<Vec<u8>>, doc: &FeedDoc) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("rss")
        .with_attribute(("version", "2.0"))
        .with_attribute(("xmlns:atom", "http://www.w3.org/2005/Atom"))
        .write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                text_element(w, "title", &doc.title)?;
                // RSS requires a channel link; without a public URL the feed's URN stands in.
                let link = doc
                    .self_url
                    .clone()
                    .unwrap_or_else(|| format!("urn:syndedup:feed:{}", doc.name));
                text_element(w, "link", &link)?;
                text_element(
                    w,
                    "description",
                    &format!(
                        "{}: one entry per story, syndicated copies merged.",
                        doc.title
                    ),
                )?;
                text_element(w, "lastBuildDate", &doc.updated.to_rfc2822())?;
                text_element(w, "generator", "syndedup")?;
                if let Some(url) = &doc.self_url {
                    w.create_element("atom:link")
                        .with_attribute(("rel", "self"))
                        .with_attribute(("type", "application/rss+xml"))
                        .with_attribute(("href", xml_text(url).as_ref()))
                        .write_empty()?;
                }
                for entry in &doc.entries {
                    write_item(w, entry)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

/// The content followed by the "Also published by" list, as HTML.
pub fn description(e: &FeedEntry) -> String {
    let mut html = e.content_html.clone();
    if e.also.is_empty() {
        return html;
    }
    html.push_str("<p>Also published by:</p><ul>");
    for also in &e.also {
        html.push_str("<li>");
        match &also.url {
            Some(url) => {
                html.push_str(&format!(
                    "<a href=\"{}\">{}</a>",
                    escape(url.as_str()),
                    escape(also.outlet.as_str())
                ));
            }
            None => html.push_str(&escape(also.outlet.as_str())),
        }
        if let Some(title) = also.title.as_deref().filter(|t| !t.trim().is_empty()) {
            html.push_str(": ");
            html.push_str(&escape(title.trim()));
        }
        html.push_str("</li>");
    }
    html.push_str("</ul>");
    html
}

fn write_item(w: &mut Writer<Vec<u8>>, e: &FeedEntry) -> io::Result<()> {
    w.create_element("item").write_inner_content(|w| {
        text_element(w, "title", &e.title)?;
        if let Some(link) = &e.link {
            text_element(w, "link", link)?;
        }
        w.create_element("guid")
            .with_attribute(("isPermaLink", "false"))
            .write_text_content(BytesText::new(&xml_text(&e.entry_id)))?;
        text_element(w, "pubDate", &e.published.to_rfc2822())?;
        text_element(w, "description", &description(e))?;
        // <source url> must be a URL: the outlet's feed when known, else the canonical link.
        if let Some(url) = e.source_feed.as_ref().or(e.link.as_ref()) {
            w.create_element("source")
                .with_attribute(("url", xml_text(url).as_ref()))
                .write_text_content(BytesText::new(&xml_text(&e.source.outlet)))?;
        }
        let mut outlets: Vec<&str> = vec![e.source.outlet.as_str()];
        for also in &e.also {
            if !outlets.contains(&also.outlet.as_str()) {
                outlets.push(also.outlet.as_str());
            }
        }
        for outlet in outlets {
            w.create_element("category")
                .with_attribute(("domain", OUTLET_DOMAIN))
                .write_text_content(BytesText::new(&xml_text(outlet)))?;
        }
        Ok(())
    })?;
    Ok(())
}
