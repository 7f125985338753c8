//! One `run --once` cycle over 500 outlets served from local HTTP servers: wall time and peak
//! memory. Not a test (speed is measured, never asserted).
//!
//! ```sh
//! cargo run --release --example poll500 [-- OUTLETS ITEMS_PER_FEED HOSTS]
//! ```
//!
//! The feeds are synthetic: each outlet serves `ITEMS_PER_FEED` items of about 150 words; a
//! third of the items are copies of "wire" stories shared by many outlets (with a changed
//! headline and a syndication trailer), so the engine has real matching to do. The outlets are
//! spread over `HOSTS` local servers (each its own host:port), so the per-host limit applies as
//! it would on the internet.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Path as UrlPath;
use axum::routing::get;
use axum::Router;
use syndedup::poll::Poller;
use syndedup::Config;
use xxhash_rust::xxh3::xxh3_64;

const VOCAB: &[&str] = &[
    "government",
    "minister",
    "talks",
    "river",
    "dam",
    "officials",
    "said",
    "monday",
    "capital",
    "delegation",
    "water",
    "rights",
    "funding",
    "engineers",
    "costs",
    "month",
    "project",
    "delayed",
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
    "opposition",
    "leader",
    "agreement",
    "report",
    "investors",
    "prices",
    "energy",
    "oil",
    "gas",
    "climate",
    "summit",
    "president",
    "reforms",
    "protest",
    "city",
    "village",
    "farmers",
    "exports",
    "imports",
    "growth",
    "inflation",
    "jobs",
    "workers",
];

fn text(seed: &str, words: usize) -> String {
    let mut out = String::with_capacity(words * 8);
    for i in 0..words {
        let h = xxh3_64(format!("{seed}/{i}").as_bytes());
        if i > 0 {
            out.push_str(if i % 25 == 0 { ".</p><p>" } else { " " });
        }
        out.push_str(VOCAB[(h % VOCAB.len() as u64) as usize]);
    }
    format!("<p>{out}.</p>")
}

fn feed(outlet: usize, items: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Outlet</title>",
    );
    for i in 0..items {
        // Every third item is one of 40 wire stories; the rest are the outlet's own.
        let (body, title) = if i % 3 == 0 {
            let wire = (outlet * 7 + i) % 40;
            (
                format!(
                    "{}<p>(This story has not been edited by outlet {outlet} staff and is published from a syndicated feed.)</p>",
                    text(&format!("wire{wire}"), 150)
                ),
                format!("Wire story {wire} as told by outlet {outlet}"),
            )
        } else {
            (
                text(&format!("o{outlet}i{i}"), 150),
                format!("Story {i} of outlet {outlet}"),
            )
        };
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">o{outlet}-{i}</guid><title>{title}</title>\
             <link>https://outlet{outlet}.example/news/{i}?utm_source=rss</link>\
             <pubDate>Mon, 06 Jan 2025 10:{:02}:00 GMT</pubDate>\
             <description><![CDATA[{body}]]></description></item>",
            i % 60
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let outlets = args.first().copied().unwrap_or(500);
    let items = args.get(1).copied().unwrap_or(20);
    let hosts = args.get(2).copied().unwrap_or(50).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let feeds: Arc<Vec<String>> = Arc::new((0..outlets).map(|o| feed(o, items)).collect());
        let bytes: usize = feeds.iter().map(String::len).sum();
        let mut addrs = Vec::new();
        for _ in 0..hosts {
            let feeds = feeds.clone();
            let app = Router::new().route(
                "/feed/:n",
                get(move |UrlPath(n): UrlPath<usize>| {
                    let feeds = feeds.clone();
                    async move { feeds.get(n).cloned().unwrap_or_default() }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            addrs.push(listener.local_addr()?);
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        let mut text = String::new();
        for o in 0..outlets {
            text.push_str(&format!(
                "[[outlet]]\nname = \"outlet{o}\"\nurl = \"http://{}/feed/{o}\"\n",
                addrs[o % hosts]
            ));
        }
        let config = Config::parse(&text, Path::new("poll500.toml"))?;
        config.check("poll500.toml")?;
        let mut poller = Poller::new(config)?;
        let start = Instant::now();
        let reports = poller.run_once().await?;
        let wall = start.elapsed();
        let ok = reports.iter().filter(|r| r.error.is_none()).count();
        let new: usize = reports.iter().map(|r| r.new).sum();
        let dups: usize = reports.iter().map(|r| r.duplicates).sum();
        let stories = poller.engine().map(|e| e.story_count()).unwrap_or(0);
        println!(
            "outlets {outlets} on {hosts} hosts, {ok} ok; {:.1} MB of feeds; items {new}, duplicates {dups}, stories {stories}",
            bytes as f64 / 1e6
        );
        println!(
            "wall {:.2} s ({:.0} items/s); peak RSS {} MiB (includes the in-process servers and their {:.1} MB of feeds)",
            wall.as_secs_f64(),
            new as f64 / wall.as_secs_f64(),
            peak_rss_kib().map_or("?".to_string(), |k| format!("{:.1}", k as f64 / 1024.0)),
            bytes as f64 / 1e6
        );
        anyhow::Ok(())
    })
}
