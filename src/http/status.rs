//! The status page at `/`: plain server-rendered HTML for people, no JavaScript. Every value
//! from feeds or config is escaped.

use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::escape::escape;

use super::state::{read, ServiceState, SharedState};

/// Stories listed on the page.
const LATEST: usize = 20;

pub(super) async fn page(State(state): State<SharedState>) -> Html<String> {
    Html(render(&read(&state)))
}

pub(super) fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "never".to_string())
}

pub(super) fn e(s: &str) -> std::borrow::Cow<'_, str> {
    escape(s)
}

/// The page for a snapshot.
pub fn render(s: &ServiceState) -> String {
    let mut h = String::with_capacity(8192);
    // Writing into a String cannot fail.
    let _ = write_page(&mut h, s);
    h
}

fn write_page(h: &mut String, s: &ServiceState) -> std::fmt::Result {
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>syndedup status</title>\
         <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
         .error{color:#a00}</style></head><body>\n<h1>syndedup</h1>\n",
    );
    let health = &s.health;
    writeln!(
        h,
        "<p>Store: <strong>{}</strong>{}. Last cycle: {}.</p>",
        if health.store_reachable {
            "reachable"
        } else {
            "unreachable"
        },
        health
            .store_error
            .as_deref()
            .map(|m| format!(" <span class=\"error\">({})</span>", e(m)))
            .unwrap_or_default(),
        time(health.last_cycle)
    )?;
    let feeds = s.feed_names();
    if !feeds.is_empty() {
        h.push_str("<h2>Feeds</h2>\n<ul>\n");
        for name in feeds {
            let n = e(&name);
            writeln!(
                h,
                "<li>{n}: <a href=\"/feeds/{n}.atom\">Atom</a> \
                 <a href=\"/feeds/{n}.rss\">RSS</a> <a href=\"/feeds/{n}.json\">JSON</a></li>"
            )?;
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "<h2>Outlets</h2>\n<table>\n<tr><th>outlet</th><th>last poll</th><th>status</th>\
         <th>items</th><th>next poll</th><th>full text</th><th>error / repairs</th></tr>\n",
    );
    for o in s.outlets() {
        writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
            e(&o.name),
            time(o.last_poll),
            o.result.map(|r| r.as_str()).unwrap_or("not polled yet"),
            o.items,
            time(o.next_poll),
            e(&o.full_text.summary()),
            e(&o.error.clone().unwrap_or_else(|| crate::poll::repairs_note(&o.repairs)))
        )?;
    }
    h.push_str("</table>\n<h2>Latest stories</h2>\n");
    if s.stories().is_empty() {
        h.push_str("<p>No stories yet.</p>\n");
    }
    for r in s.stories().iter().take(LATEST) {
        let c = &r.view.canonical;
        let id = r.view.story;
        writeln!(
            h,
            "<h3>{id}: <a href=\"/stories/{id}\">{}</a></h3>\n<p>Updated {}, {} cop{}.</p>\n<ul>",
            e(c.title.as_deref().unwrap_or("(untitled)")),
            time(Some(r.updated)),
            r.view.copies.len(),
            if r.view.copies.len() == 1 { "y" } else { "ies" }
        )?;
        for copy in &r.view.copies {
            let outlet = e(copy.outlet.as_deref().unwrap_or("unknown outlet"));
            let title = e(copy.title.as_deref().unwrap_or("(untitled)"));
            let canonical = if copy.id == c.id && copy.outlet == c.outlet {
                " <strong>(canonical)</strong>"
            } else {
                ""
            };
            match copy.url.as_deref().and_then(crate::emit::safe_url) {
                Some(url) => writeln!(
                    h,
                    "<li>{outlet}: <a href=\"{}\">{title}</a>{canonical}</li>",
                    e(&url)
                )?,
                None => writeln!(h, "<li>{outlet}: {title}{canonical}</li>")?,
            }
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    Ok(())
}
