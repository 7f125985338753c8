//! A local feed server for the store tests: feeds whose items appear over time, with ETags,
//! recording what it served and which requests were conditional.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

#[derive(Default)]
pub struct Log {
    /// (feed, guid) of every item the server put in a 200 response.
    pub served: BTreeSet<(usize, String)>,
    pub requests: usize,
    pub conditional: usize,
    pub not_modified: usize,
}

pub struct Feeds {
    pub feeds: usize,
    pub max_items: usize,
    /// One more item per feed every `step` (the first is there from the start).
    pub step: Duration,
    pub start: Instant,
    pub log: Mutex<Log>,
}

impl Feeds {
    pub fn count(&self) -> usize {
        let grown = (self.start.elapsed().as_millis() / self.step.as_millis().max(1)) as usize;
        (1 + grown).min(self.max_items)
    }

    /// When every feed has all its items.
    pub fn full_at(&self) -> Instant {
        self.start + self.step * self.max_items as u32
    }
}

/// A story-length body; `j` picks the story, so item `j` of every feed is the same story.
/// Every third feed adds a paragraph, so copies differ and canonicals can change.
pub fn body(feed: usize, j: usize) -> String {
    const WORDS: [&str; 24] = [
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
        "village",
        "court",
        "ruling",
        "budget",
        "school",
        "harbour",
        "storm",
        "election",
        "council",
        "strike",
        "railway",
    ];
    let mut x = (j as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut words = Vec::new();
    for _ in 0..90 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push(WORDS[(x % WORDS.len() as u64) as usize]);
    }
    let mut s = format!("<p>{}.</p>", words.join(" "));
    if feed % 3 == 0 {
        s.push_str(&format!(
            "<p>Our correspondent in {} adds that officials met again late on the second day.</p>",
            WORDS[feed % WORDS.len()]
        ));
    }
    s
}

async fn feed(
    State(feeds): State<Arc<Feeds>>,
    Path(k): Path<usize>,
    headers: HeaderMap,
) -> Response {
    if k >= feeds.feeds {
        return StatusCode::NOT_FOUND.into_response();
    }
    let n = feeds.count();
    let etag = format!("\"f{k}-n{n}\"");
    let conditional = headers.get(header::IF_NONE_MATCH);
    {
        let mut log = feeds.log.lock().unwrap();
        log.requests += 1;
        if conditional.is_some() || headers.contains_key(header::IF_MODIFIED_SINCE) {
            log.conditional += 1;
        }
        if conditional.and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
            log.not_modified += 1;
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>T</title>",
    );
    let mut guids = Vec::new();
    for j in (0..n).rev() {
        let guid = format!("f{k}-i{j}");
        xml.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>Story {j} at {k}</title>\
             <link>https://f{k}.example/{j}</link><description><![CDATA[{}]]></description>\
             <pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>",
            body(k, j)
        ));
        guids.push(guid);
    }
    xml.push_str("</channel></rss>");
    {
        let mut log = feeds.log.lock().unwrap();
        for g in guids {
            log.served.insert((k, g));
        }
    }
    (
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "application/rss+xml".to_string()),
        ],
        xml,
    )
        .into_response()
}

/// Serves the feeds at `/feed/{k}` from a background thread on 127.0.0.1:0.
pub fn serve(feeds: Arc<Feeds>) -> SocketAddr {
    let app = Router::new().route("/feed/:k", get(feed)).with_state(feeds);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("server up")
}

/// A config for `run` on these feeds, with sub-second intervals.
pub fn write_config(
    dir: &std::path::Path,
    addr: SocketAddr,
    feeds: usize,
    kind: &str,
) -> std::path::PathBuf {
    let mut text = format!(
        "[output]\njsonl = \"out/stories.jsonl\"\nkind = \"{kind}\"\n\
         [store]\npath = \"state/syndedup.db\"\n\
         [schedule]\ndefault_interval = \"250ms\"\nmin_interval = \"100ms\"\njitter = 0.0\n\
         [fetch]\ntimeout = \"5s\"\nconcurrency = 4\n"
    );
    for k in 0..feeds {
        text.push_str(&format!(
            "[[outlet]]\nname = \"Outlet {k}\"\nurl = \"http://{addr}/feed/{k}\"\n"
        ));
    }
    let path = dir.join("syndedup.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// The stored (outlet, item id) pairs, each with how many rows it has.
pub fn stored_items(db: &std::path::Path) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT outlet, item_id, count(*) FROM item GROUP BY outlet, item_id")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}
