//! Full-text cost: one `run --once` cycle over summary-only outlets whose items link to article
//! pages (the chrome-wrapped fixtures of `tests/fixtures/fulltext/`) on local servers: pages
//! fetched and extracted per second, with the per-host limit applying. Not a test (speed is
//! measured, never asserted).
//!
//! ```sh
//! cargo run --release --example full_text_rate [-- ITEMS HOSTS]
//! ```
//!
//! Each of `HOSTS` local servers serves one summary-only feed of `ITEMS` items; each item links
//! to its own page on the same server (a fixture page with the item number worked into the
//! text, so no two pages are alike). Default: 200 items on 4 hosts.

use std::path::Path;
use std::time::Instant;

use axum::extract::Path as UrlPath;
use axum::routing::get;
use axum::Router;
use syndedup::poll::Poller;
use syndedup::Config;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let hosts: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fulltext");
    let pages = [
        std::fs::read_to_string(dir.join("courier-dam.html"))?,
        std::fs::read_to_string(dir.join("ledger-dam.html"))?,
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut toml = String::new();
        for h in 0..hosts {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let mut feed = String::from(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>S</title>",
            );
            for i in 0..items {
                feed.push_str(&format!(
                    "<item><guid>{h}-{i}</guid><title>Item {i}</title>\
                     <link>http://{addr}/p/{i}</link>\
                     <description>Two lines of summary for item {i}.</description></item>"
                ));
            }
            feed.push_str("</channel></rss>");
            let pages = pages.clone();
            let app = Router::new()
                .route("/feed", get(move || async move { feed }))
                .route(
                    "/p/:i",
                    get(move |UrlPath(i): UrlPath<usize>| {
                        let page = pages[i % 2]
                            .replace("Harrow Valley", &format!("Harrow Valley {i}"))
                            .replace("Millford", &format!("Millford {h}"));
                        async move { axum::response::Html(page) }
                    }),
                );
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            toml.push_str(&format!(
                "[[outlet]]\nname = \"s{h}\"\nurl = \"http://{addr}/feed\"\n"
            ));
        }
        toml.push_str(&format!(
            "[fetch]\nfull_text_max_per_poll = {items}\n"
        ));
        let config = Config::parse(&toml, Path::new("full_text_rate.toml"))?;
        config.check("full_text_rate.toml")?;
        let mut poller = Poller::new(config)?;
        let started = Instant::now();
        let reports = poller.run_once().await?;
        let secs = started.elapsed().as_secs_f64();
        let mut fetched = 0;
        let mut failed = 0;
        for r in &reports {
            fetched += r.full_text.fetched;
            failed += r.full_text.failed + r.full_text.refused + r.full_text.skipped;
        }
        println!(
            "{} outlets, {} items: {fetched} pages fetched and extracted ({failed} not) in {secs:.2} s \
             = {:.0} pages/s; {} stories",
            hosts,
            hosts * items,
            fetched as f64 / secs,
            poller.engine().map(|e| e.story_count()).unwrap_or(0)
        );
        anyhow::Ok(())
    })
}
