//! Helpers shared by the poller tests: a local HTTP server on 127.0.0.1:0 and small feeds.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use syndedup::Config;

/// Serves `app` on an ephemeral local port for the rest of the test.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// A config with the given `(name, url)` outlets plus extra TOML (sections after the outlets
/// must not start with `[[outlet]]`).
pub fn config(outlets: &[(&str, String)], extra: &str) -> Config {
    let mut text = String::from(extra);
    text.push('\n');
    for (name, url) in outlets {
        text.push_str(&format!("[[outlet]]\nname = {name:?}\nurl = {url:?}\n"));
    }
    let c = Config::parse(&text, Path::new("test.toml")).expect("config parses");
    c.check("test.toml").expect("config is valid");
    c
}

/// One RSS item: (guid, title, link, body); an empty guid or link is left out.
pub type Item<'a> = (&'a str, &'a str, &'a str, &'a str);

pub fn rss(items: &[Item<'_>]) -> String {
    rss_with(items, "")
}

/// RSS with extra channel elements (e.g. `<ttl>`).
pub fn rss_with(items: &[Item<'_>], channel_extra: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Test</title>",
    );
    s.push_str(channel_extra);
    for (guid, title, link, body) in items {
        s.push_str("<item>");
        if !guid.is_empty() {
            s.push_str(&format!("<guid isPermaLink=\"false\">{guid}</guid>"));
        }
        s.push_str(&format!("<title>{title}</title>"));
        if !link.is_empty() {
            s.push_str(&format!("<link>{link}</link>"));
        }
        s.push_str(&format!(
            "<description><![CDATA[{body}]]></description><pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// A story-length body: two paragraphs of words drawn from the seed, so different seeds give
/// unrelated texts and the same seed the same text.
pub fn body(seed: &str) -> String {
    const WORDS: [&str; 48] = [
        "talks",
        "river",
        "dam",
        "minister",
        "said",
        "monday",
        "holidays",
        "delegation",
        "capital",
        "water",
        "rights",
        "funding",
        "engineers",
        "warned",
        "costs",
        "rising",
        "month",
        "project",
        "delayed",
        "years",
        "dispute",
        "border",
        "trade",
        "election",
        "court",
        "ruling",
        "police",
        "storm",
        "harvest",
        "market",
        "shares",
        "bank",
        "rates",
        "strike",
        "union",
        "school",
        "hospital",
        "vaccine",
        "festival",
        "museum",
        "league",
        "final",
        "coach",
        "airport",
        "railway",
        "bridge",
        "budget",
        "parliament",
    ];
    let word = |i: u64| {
        let h = xxhash_rust::xxh3::xxh3_64(format!("{seed}/{i}").as_bytes());
        WORDS[(h % WORDS.len() as u64) as usize]
    };
    let para = |from: u64| (from..from + 30).map(word).collect::<Vec<_>>().join(" ");
    format!("<p>{seed} {}.</p><p>{}.</p>", para(0), para(30))
}
