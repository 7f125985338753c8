//! Lenient parsing end to end (issue 11): real third-party feeds (tests/fixtures/feeds, see
//! NOTE.md there) served from 127.0.0.1 as outlets, polled once through the public API and
//! once through the `run --once` binary. RSS 0.90/1.0, legacy encodings without a
//! declaration, Atom 0.3 and repaired documents all yield their items, with what was repaired
//! in the outlet's report; an item-bearing document that yields no item is an error.

mod poll_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use syndedup::poll::{OutletReport, Poller};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds")
}

/// Latin-1 bytes whose declaration lies (KOI8-R); the HTTP charset tells the truth.
fn mislabelled() -> Vec<u8> {
    let doc = "<?xml version=\"1.0\" encoding=\"koi8-r\"?><rss version=\"2.0\"><channel><title>M</title>\
               <item><guid>m1</guid><title>Grüße aus Köln</title><description>Die Domplatte in Köln.</description></item>\
               </channel></rss>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(doc);
    bytes.into_owned()
}

/// Serves `/f/<path under tests/fixtures/feeds>` as application/xml (no charset), and
/// `/mislabelled` with `charset=iso-8859-1`.
fn app() -> Router {
    Router::new()
        .route(
            "/f/*path",
            get(|UrlPath(path): UrlPath<String>| async move {
                if path.contains("..") {
                    return StatusCode::NOT_FOUND.into_response();
                }
                match tokio::fs::read(fixtures().join(&path)).await {
                    Ok(bytes) => {
                        ([(header::CONTENT_TYPE, "application/xml")], bytes).into_response()
                    }
                    Err(_) => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .route(
            "/mislabelled",
            get(|| async {
                let r: Response = (
                    [(
                        header::CONTENT_TYPE,
                        "application/rss+xml; charset=iso-8859-1",
                    )],
                    mislabelled(),
                )
                    .into_response();
                r
            }),
        )
}

/// (outlet, path under /f/)
const OUTLETS: [(&str, &str); 9] = [
    ("rdf090", "miniflux/rdf_UTF8.xml"),
    ("latin1", "miniflux/no_encoding_ISO-8859-1.xml"),
    ("shiftjis", "feedparser/illformed/chardet/shiftjis.xml"),
    ("euckr", "feedparser/illformed/chardet/euckr.xml"),
    ("atom03", "gofeed/atom/atom03_feed_entry_updated.xml"),
    ("nbsp", "feed-rs/rss2/rss_2.0_dbengines.xml"),
    (
        "cutoff",
        "feedparser/illformed/rdf_channel_empty_textinput.xml",
    ),
    ("ampersand", "gofeed/rss/issue_305_bare_ampersand.xml"),
    (
        "unfinished",
        "feedparser/illformed/rss_incomplete_cdata.xml",
    ),
];

fn outlets(addr: SocketAddr) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&str, String)> = OUTLETS
        .iter()
        .map(|(name, path)| (*name, format!("http://{addr}/f/{path}")))
        .collect();
    v.push(("mislabelled", format!("http://{addr}/mislabelled")));
    v
}

fn report<'a>(reports: &'a [OutletReport], name: &str) -> &'a OutletReport {
    reports
        .iter()
        .find(|r| r.outlet == name)
        .unwrap_or_else(|| panic!("no report for {name}: {reports:#?}"))
}

fn repairs(r: &OutletReport) -> String {
    r.repairs.join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_lenient_feed_yields_its_items() {
    let addr = poll_support::serve(app()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out.jsonl");
    let cfg = poll_support::config(
        &outlets(addr),
        &format!(
            "[output]\njsonl = {:?}\nkind = \"decisions\"\n",
            out.display().to_string()
        ),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");

    let ok = |name: &str, items: usize, repaired: &str| {
        let r = report(&reports, name);
        assert_eq!(
            (r.error.as_deref(), r.items),
            (None, items),
            "{name}: {r:#?}"
        );
        assert!(repairs(r).contains(repaired), "{name}: {r:#?}");
    };
    ok("rdf090", 60, "RSS 0.90 read as RSS 1.0");
    ok(
        "latin1",
        10,
        "no encoding declared and not UTF-8: detected windows-1252",
    );
    ok("shiftjis", 1, "detected Shift_JIS");
    ok("euckr", 1, "detected EUC-KR");
    ok("atom03", 1, "Atom 0.3 read as Atom 1.0");
    ok(
        "nbsp",
        1,
        "HTML entities XML does not define replaced with their characters (&nbsp;)",
    );
    ok("cutoff", 1, "ill-formed XML");
    ok("ampersand", 0, "stray '&' escaped");
    // The HTTP charset beats the lying declaration; no repair needed for that.
    ok("mislabelled", 1, "");
    assert!(report(&reports, "mislabelled").repairs.is_empty());

    // The only item of this document is cut off in its title: dropped, and the outlet is
    // an error, never "ok, 0 items".
    let r = report(&reports, "unfinished");
    assert_eq!(r.items, 0);
    let error = r.error.as_deref().unwrap_or("");
    assert!(
        error.starts_with("no items: the RSS 2.0 document has 1 <item>"),
        "{r:#?}"
    );
    let st = poller.outlet_state("unfinished").expect("state");
    assert_eq!(st.last_error.as_deref(), Some(error));
    assert_eq!(st.failures, 1);

    // The decoded text reached the output: Japanese, Korean, German, the &nbsp; character.
    let written = std::fs::read_to_string(&out).expect("output");
    let titles: Vec<(String, String)> = written
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
            (s("outlet"), format!("{} {}", s("title"), s("body")))
        })
        .collect();
    let text_of = |outlet: &str| {
        titles
            .iter()
            .filter(|(o, _)| o == outlet)
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        text_of("shiftjis").contains("記事投稿が反映されない"),
        "{}",
        text_of("shiftjis")
    );
    assert!(text_of("euckr").contains("한글"), "{}", text_of("euckr"));
    assert!(
        text_of("latin1").contains("études"),
        "{}",
        text_of("latin1")
    );
    assert!(
        text_of("mislabelled").contains("Grüße aus Köln"),
        "{}",
        text_of("mislabelled")
    );
    assert!(text_of("nbsp").contains('\u{a0}'), "{}", text_of("nbsp"));
    assert!(
        text_of("rdf090").contains("IBM übernimmt Red Hat"),
        "{}",
        text_of("rdf090")
    );
}

#[test]
fn run_once_table_shows_repairs_and_the_no_items_error() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let addr = poll_support::serve(app()).await;
            let _ = tx.send(addr);
            std::future::pending::<()>().await;
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).expect("server up");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("syndedup.toml");
    let mut text = String::new();
    for (name, url) in outlets(addr) {
        text.push_str(&format!("[[outlet]]\nname = {name:?}\nurl = {url:?}\n"));
    }
    std::fs::write(&cfg, text).expect("config");
    // No [store] path: the store goes under XDG_DATA_HOME, which must be this test's own.
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&cfg)
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .expect("run the binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {stdout}"))
            .to_string()
    };
    assert!(
        stdout
            .lines()
            .next()
            .unwrap_or("")
            .contains("ERROR / REPAIRS"),
        "{stdout}"
    );
    let rdf = row("rdf090");
    assert!(
        rdf.split_whitespace().nth(2) == Some("60")
            && rdf.contains("repaired: RSS 0.90 read as RSS 1.0"),
        "{stdout}"
    );
    assert!(row("unfinished").contains("no items: "), "{stdout}");
    // The repair is logged once per outlet, with its fields.
    assert!(
        stderr.contains("feed read after repairs") && stderr.contains("rdf090"),
        "{stderr}"
    );
}
