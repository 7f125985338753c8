//! Full text for summary-only feeds and the SSRF guard, against feeds and article pages served
//! from 127.0.0.1 (or read from a local file). Page fixtures: `tests/fixtures/fulltext/`.

mod poll_support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use poll_support::serve;
use syndedup::poll::{OutletReport, Poller};
use syndedup::store::SqliteStore;
use syndedup::Config;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fulltext");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

/// The wire story as the full-content feed carries it.
fn wire_body() -> String {
    fixture("story.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{l}</p>"))
        .collect()
}

const SUMMARY: &str = "<p>Engineers began lowering the water level at the Harrow Valley reservoir after a crack was found in the spillway.</p>";

fn rss(items: &[(&str, &str, &str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>T</title>",
    );
    for (guid, title, link, body) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link>\
             <description><![CDATA[{body}]]></description><pubDate>Tue, 14 Jan 2025 10:00:00 GMT</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

/// `[[outlet]]` tables: (name, url, full_text), plus extra TOML before them.
fn config(outlets: &[(&str, String, &str)], extra: &str) -> Config {
    let mut text = format!("{extra}\n");
    for (name, url, mode) in outlets {
        text.push_str(&format!(
            "[[outlet]]\nname = {name:?}\nurl = {url:?}\nfull_text = {mode:?}\n"
        ));
    }
    let c = Config::parse(&text, Path::new("test.toml")).expect("config parses");
    c.check("test.toml").expect("config is valid");
    c
}

fn report<'a>(reports: &'a [OutletReport], name: &str) -> &'a OutletReport {
    reports
        .iter()
        .find(|r| r.outlet == name)
        .unwrap_or_else(|| panic!("no report for {name}: {reports:?}"))
}

fn html(status: StatusCode, headers: &[(&str, String)], text: String) -> Response<Body> {
    let mut b = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8");
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(text)).expect("response")
}

/// Requests per path, and the `If-None-Match` of each page request.
#[derive(Default)]
struct Hits {
    page: AtomicUsize,
    inm: Mutex<Vec<Option<String>>>,
}

/// A wire outlet with the full story, a summary-only outlet linking to its article page (in
/// chrome), a paywalled page and a failing page.
fn app(hits: Arc<Hits>, summary_feed: Arc<Mutex<String>>) -> Router {
    let wire = rss(&[(
        "w1",
        "Dam crack forces draining",
        "https://wire.test/w1",
        &wire_body(),
    )]);
    let page_hits = hits.clone();
    Router::new()
        .route("/wire.xml", get(move || async move { wire }))
        .route(
            "/summary.xml",
            get(move || {
                let feed = summary_feed.lock().expect("lock").clone();
                async move { feed }
            }),
        )
        .route(
            "/news/dam.html",
            get(move |h: HeaderMap| {
                let hits = page_hits.clone();
                async move {
                    hits.page.fetch_add(1, Ordering::SeqCst);
                    let inm = h
                        .get(header::IF_NONE_MATCH)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    hits.inm.lock().expect("lock").push(inm.clone());
                    if inm.as_deref() == Some("\"dam-1\"") {
                        return html(StatusCode::NOT_MODIFIED, &[], String::new());
                    }
                    html(
                        StatusCode::OK,
                        &[("etag", "\"dam-1\"".to_string())],
                        fixture("courier-dam.html"),
                    )
                }
            }),
        )
        .route(
            "/ledger.xml",
            get(|headers: HeaderMap| async move {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("127.0.0.1")
                    .to_string();
                rss(&[(
                    "l1",
                    "Dam residents told to prepare",
                    &format!("http://{host}/news/ledger.html"),
                    "<p>Residents near the Harrow Valley dam were told to prepare to leave.</p>",
                )])
            }),
        )
        .route(
            "/news/ledger.html",
            get(|| async { html(StatusCode::OK, &[], fixture("ledger-dam.html")) }),
        )
        .route(
            "/news/paywalled.html",
            get(|| async { html(StatusCode::OK, &[], fixture("paywall.html")) }),
        )
        .route(
            "/news/broken.html",
            get(|| async { html(StatusCode::INTERNAL_SERVER_ERROR, &[], "oops".into()) }),
        )
        .route(
            "/go",
            get(|| async {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, "http://169.254.169.254/latest/meta-data/")
                    .body(Body::empty())
                    .expect("response")
            }),
        )
        .route(
            "/go-private",
            get(|| async {
                Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, "http://10.255.255.1/news/dam.html")
                    .body(Body::empty())
                    .expect("response")
            }),
        )
}

fn summary_feed(addr: std::net::SocketAddr) -> String {
    rss(&[(
        "s1",
        "Harrow Valley dam: residents told to prepare",
        &format!("http://{addr}/news/dam.html"),
        SUMMARY,
    )])
}

async fn setup() -> (std::net::SocketAddr, Arc<Hits>, Arc<Mutex<String>>) {
    let hits = Arc::new(Hits::default());
    let feed = Arc::new(Mutex::new(String::new()));
    let addr = serve(app(hits.clone(), feed.clone())).await;
    *feed.lock().expect("lock") = summary_feed(addr);
    (addr, hits, feed)
}

fn story_count(poller: &Poller) -> usize {
    poller.engine().map(|e| e.story_count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_fetches_the_page_of_a_summary_and_matches_on_it() {
    let (addr, hits, _) = setup().await;
    let cfg = config(
        &[
            ("wire", format!("http://{addr}/wire.xml"), "auto"),
            ("courier", format!("http://{addr}/summary.xml"), "auto"),
            ("ledger", format!("http://{addr}/ledger.xml"), "auto"),
        ],
        "",
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    // The div-soup page (no <article>, comments, ticker) is extracted too.
    let ledger = report(&reports, "ledger");
    assert_eq!(ledger.full_text.fetched, 1, "{ledger:?}");
    assert!(!poller.bodies()["ledger:l1"].contains("Most read"));
    let courier = report(&reports, "courier");
    assert_eq!(courier.new, 1, "{courier:?}");
    assert_eq!(courier.full_text.fetched, 1, "{courier:?}");
    // The wire's item is long: auto leaves it alone.
    assert!(report(&reports, "wire").full_text.is_zero());
    assert_eq!(hits.page.load(Ordering::SeqCst), 1);
    assert_eq!(
        story_count(&poller),
        1,
        "the summaries and the wire copy are one story"
    );
    // Which copy came first depends on which feed answered first.
    let dups: usize = reports.iter().map(|r| r.duplicates).sum();
    assert_eq!(dups, 2, "{reports:?}");
    // The cleaned feed's body is the page's main text, chrome left out, with the original link.
    let body = &poller.bodies()["courier:s1"];
    assert!(body.contains("Priya Lal"), "{body}");
    assert!(!body.contains("cookies"), "{body}");
    assert!(!body.contains("Related stories"), "{body}");
    assert!(
        body.contains(&format!("href=\"http://{addr}/news/dam.html\"")),
        "{body}"
    );
    let counts = poller.full_text_counts("courier").expect("outlet");
    assert_eq!(counts.fetched, 1);
    // What the emitters put in a feed entry: the same text, through ammonia.
    let shown = syndedup::emit::sanitize_html(body);
    assert!(
        shown.contains("Priya Lal") && !shown.contains("<script"),
        "{shown}"
    );
    assert!(
        shown.contains("Full text from <a href=\"http://"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_does_not_fetch_and_the_summary_stays_apart() {
    let (addr, hits, _) = setup().await;
    let cfg = config(
        &[
            ("wire", format!("http://{addr}/wire.xml"), "auto"),
            ("courier", format!("http://{addr}/summary.xml"), "off"),
        ],
        "",
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    assert!(report(&reports, "courier").full_text.is_zero());
    assert_eq!(hits.page.load(Ordering::SeqCst), 0);
    assert_eq!(story_count(&poller), 2, "a two-line summary does not match");
    assert_eq!(poller.bodies()["courier:s1"], SUMMARY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_caches_pages_and_an_edited_item_revalidates() {
    let (addr, hits, feed) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("s.db");
    let outlets = |extra: bool| {
        let mut o = vec![("courier", format!("http://{addr}/summary.xml"), "auto")];
        if extra {
            // A second outlet whose item links to the same page.
            o.push(("mirror", format!("http://{addr}/summary.xml"), "auto"));
        }
        o
    };
    {
        let store = SqliteStore::open(&db).expect("store");
        let mut poller =
            Poller::with_store(config(&outlets(false), ""), Box::new(store)).expect("poller");
        let reports = poller.run_once().await.expect("run");
        assert_eq!(report(&reports, "courier").full_text.fetched, 1);
    }
    assert_eq!(hits.page.load(Ordering::SeqCst), 1);
    // A restart: the mirror's new item finds the page in the cache; the courier's item was
    // edited, so its page is revalidated with the stored ETag (and answers 304).
    *feed.lock().expect("lock") =
        summary_feed(addr).replace("after a crack", "on Tuesday after a widening crack");
    let store = SqliteStore::open(&db).expect("store");
    let mut poller =
        Poller::with_store(config(&outlets(true), ""), Box::new(store)).expect("poller");
    let reports = poller.run_once().await.expect("run");
    let mirror = report(&reports, "mirror");
    assert_eq!((mirror.new, mirror.full_text.cached), (1, 1), "{mirror:?}");
    let courier = report(&reports, "courier");
    assert_eq!(
        (courier.new, courier.full_text.cached),
        (1, 1),
        "{courier:?}"
    );
    assert_eq!(
        hits.page.load(Ordering::SeqCst),
        2,
        "one conditional request, no refetch"
    );
    let inm = hits.inm.lock().expect("lock").clone();
    assert_eq!(inm, vec![None, Some("\"dam-1\"".to_string())]);
    assert!(poller.bodies()["mirror:s1"].contains("Priya Lal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_page_keeps_the_item_with_its_feed_text() {
    let (addr, _, feed) = setup().await;
    *feed.lock().expect("lock") = rss(&[
        (
            "p1",
            "Paywalled",
            &format!("http://{addr}/news/paywalled.html"),
            SUMMARY,
        ),
        (
            "p2",
            "Broken",
            &format!("http://{addr}/news/broken.html"),
            "<p>Another short summary of a different story.</p>",
        ),
        (
            "p3",
            "Gone",
            &format!("http://{addr}/news/missing.html"),
            "<p>A third short summary.</p>",
        ),
    ]);
    let cfg = config(
        &[("courier", format!("http://{addr}/summary.xml"), "always")],
        "",
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    let r = report(&reports, "courier");
    assert_eq!(r.new, 3, "{r:?}");
    assert_eq!(r.full_text.failed, 3, "{r:?}");
    assert!(
        r.error.is_none(),
        "page failures are not feed failures: {r:?}"
    );
    assert_eq!(poller.bodies()["courier:p1"], SUMMARY);
    assert_eq!(story_count(&poller), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_to_private_addresses_are_refused_when_the_feed_is_not_on_one() {
    let (addr, hits, _) = setup().await;
    // A feed read from a file has no host of its own: its links get the public-only guard.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feed.xml");
    let links = [
        format!("http://{addr}/news/dam.html"),
        format!("http://localhost:{}/news/dam.html", addr.port()),
        "http://10.0.0.1/news/dam.html".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
        "ftp://files.test/story.txt".to_string(),
        "file:///etc/passwd".to_string(),
    ];
    let items: Vec<(String, String)> = links
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("x{i}"), l.clone()))
        .collect();
    let rows: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(g, l)| (g.as_str(), "Short", l.as_str(), SUMMARY))
        .collect();
    std::fs::write(&path, rss(&rows)).expect("write feed");
    let cfg = config(&[("file", path.display().to_string(), "always")], "");
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    let r = report(&reports, "file");
    assert_eq!(r.new, links.len(), "every item is kept: {r:?}");
    assert_eq!(r.full_text.refused, links.len() as u64, "{r:?}");
    assert_eq!(
        hits.page.load(Ordering::SeqCst),
        0,
        "no request reached the server"
    );
    assert_eq!(poller.bodies()["file:x0"], SUMMARY);

    // With `[fetch] allow_private = true` the loopback pages are fetched; other schemes stay
    // refused. (Only loopback links here: a private address would be tried for real.)
    let rows: Vec<(&str, &str, &str, &str)> = [0, 1, 5, 6]
        .iter()
        .map(|&i| (items[i].0.as_str(), "Short", items[i].1.as_str(), SUMMARY))
        .collect();
    std::fs::write(&path, rss(&rows)).expect("write feed");
    let cfg = config(
        &[("file", path.display().to_string(), "always")],
        "[fetch]\nallow_private = true\n",
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let r = poller.run_once().await.expect("run");
    let r = report(&r, "file");
    assert_eq!(r.full_text.fetched, 2, "{r:?}");
    assert_eq!(r.full_text.refused, 2, "other schemes stay refused: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_private_or_metadata_address_is_refused() {
    let (addr, hits, feed) = setup().await;
    // The feed is on 127.0.0.1, so its loopback pages may be fetched, but a redirect hop to
    // another class of address may not.
    *feed.lock().expect("lock") = rss(&[
        ("r1", "Meta", &format!("http://{addr}/go"), SUMMARY),
        (
            "r2",
            "Private",
            &format!("http://{addr}/go-private"),
            SUMMARY,
        ),
        (
            "r3",
            "Fine",
            &format!("http://{addr}/news/dam.html"),
            SUMMARY,
        ),
    ]);
    let cfg = config(
        &[("courier", format!("http://{addr}/summary.xml"), "auto")],
        "",
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    let r = report(&reports, "courier");
    assert_eq!(r.new, 3, "{r:?}");
    assert_eq!(r.full_text.refused, 2, "{r:?}");
    assert_eq!(r.full_text.fetched, 1, "{r:?}");
    assert_eq!(hits.page.load(Ordering::SeqCst), 1);
    assert_eq!(poller.bodies()["courier:r1"], SUMMARY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_site_holds_the_poll_for_one_timeout_at_most() {
    let slow = Router::new()
        .route(
            "/feed.xml",
            get(|| async {
                rss(&[
                    ("a", "A", "/p/a", SUMMARY),
                    ("b", "B", "/p/b", SUMMARY),
                    ("c", "C", "/p/c", SUMMARY),
                    ("d", "D", "/p/d", SUMMARY),
                ])
            }),
        )
        .route(
            "/p/:id",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                html(StatusCode::OK, &[], fixture("courier-dam.html"))
            }),
        );
    let addr = serve(slow).await;
    // Relative links resolve against the feed's URL.
    let cfg = config(
        &[("slow", format!("http://{addr}/feed.xml"), "auto")],
        "[fetch]\ntimeout = \"1s\"\nper_host_concurrency = 1\n",
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let started = std::time::Instant::now();
    let reports = poller.run_once().await.expect("run");
    let r = report(&reports, "slow");
    assert_eq!(r.new, 4, "{r:?}");
    let f = r.full_text;
    assert!(f.skipped >= 1, "{r:?}");
    assert_eq!(f.fetched + f.failed + f.skipped, 4, "{r:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
