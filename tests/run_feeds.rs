//! `syndedup run` publishing output feeds and serving HTTP, through the real binary on local
//! feed files: `--once` writes the feed files; the daemon serves feeds, the stories API, the
//! status page (with an outlet's error) and metrics that move from one cycle to the next.

mod poll_support;
mod serve_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use poll_support::{body, rss};
use serve_support::{get, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

/// Two outlets carrying one shared wire story and one story of their own each, plus `extra`.
fn setup(dir: &Path, extra: &str) -> std::path::PathBuf {
    let wire = body("foxtrot");
    std::fs::write(
        dir.join("a.xml"),
        rss(&[
            ("a1", "Dam talks resume", "https://a.example/1", &wire),
            (
                "a2",
                "Local fair opens",
                "https://a.example/2",
                &body("golf"),
            ),
        ]),
    )
    .unwrap();
    std::fs::write(
        dir.join("b.xml"),
        rss(&[
            ("b1", "Talks on the dam", "https://b.example/1", &wire),
            (
                "b2",
                "Harbour dredging",
                "https://b.example/2",
                &body("hotel"),
            ),
        ]),
    )
    .unwrap();
    let config = dir.join("syndedup.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[merge]
outlet_priority = ["Alpha"]

[[outlet]]
name = "Alpha"
url = "a.xml"

[[outlet]]
name = "Beta"
url = "b.xml"

[[feed]]
name = "all"
dir = "out/feeds"

[store]
path = "state/syndedup.db"

{extra}
"#
        ),
    )
    .unwrap();
    config
}

#[test]
fn run_once_writes_three_feeds_that_parse_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "");
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let feeds = dir.path().join("out/feeds");
    for ext in ["atom", "rss", "json"] {
        let bytes = std::fs::read(feeds.join(format!("all.{ext}")))
            .unwrap_or_else(|e| panic!("all.{ext} written: {e}"));
        let feed =
            feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("all.{ext} parses: {e}"));
        // Four items, two of them copies of one wire story: three stories.
        assert_eq!(feed.entries.len(), 3, "all.{ext}");
        let wire = feed
            .entries
            .iter()
            .find(|e| {
                e.title
                    .as_ref()
                    .is_some_and(|t| t.content == "Dam talks resume")
            })
            .unwrap_or_else(|| panic!("all.{ext} has the wire story under Alpha's title"));
        assert!(wire.id.starts_with("urn:syndedup:all:s"), "{}", wire.id);
        assert!(
            wire.links.iter().any(|l| l.href == "https://a.example/1"),
            "all.{ext}: canonical link"
        );
        let titles: Vec<String> = feed
            .entries
            .iter()
            .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
            .collect();
        assert!(
            !titles.iter().any(|t| t == "Talks on the dam"),
            "all.{ext}: the copy is not an entry of its own: {titles:?}"
        );
    }
    // No temporary files are left behind by the atomic writes.
    let names: Vec<String> = std::fs::read_dir(&feeds)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn run_once_reports_an_unwritable_feed_dir_and_still_finishes() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the feed directory should be.
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/feeds"), "not a directory").unwrap();
    let config = setup(dir.path(), "");
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("out/feeds"),
        "the error names the path: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Alpha"));
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn daemon_serves_feeds_status_and_moving_metrics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.xml"), "<rss><channel><item>").unwrap();
    let config = setup(
        dir.path(),
        r#"
[[outlet]]
name = "Gamma"
url = "broken.xml"

[schedule]
min_interval = "1s"
default_interval = "1s"
jitter = 0.0

[http]
listen = "127.0.0.1:0"
"#,
    );
    let daemon = Daemon::start(BIN, &["run", "--config", config.to_str().unwrap()]);
    let addr = daemon.addr;

    // After the first cycle: Alpha and Beta polled fine, Gamma failed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        let m = get(addr, "/metrics", &[]).text();
        if metric(
            &m,
            "syndedup_polls_total{outlet=\"Gamma\",result=\"error\"}",
        )
        .is_some()
            && metric(&m, "syndedup_polls_total{outlet=\"Beta\",result=\"ok\"}").is_some()
        {
            break m;
        }
        assert!(Instant::now() < deadline, "no cycle published: {m}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        metric(&first, "syndedup_items_ingested_total"),
        Some(4.0),
        "{first}"
    );
    assert_eq!(metric(&first, "syndedup_duplicates_total"), Some(1.0));
    assert_eq!(metric(&first, "syndedup_stories"), Some(3.0));

    // The status page shows Gamma's error: its document has an <item> (cut off) and yields
    // none, which is an error (counted as result="error" above), not "ok, 0 items".
    let page = get(addr, "/", &[]);
    assert_eq!(page.status, 200);
    let html = page.text();
    let row = html
        .lines()
        .find(|l| l.contains("<td>Gamma</td>"))
        .unwrap_or_else(|| panic!("a row for Gamma: {html}"));
    assert!(
        row.contains(">error<") && row.contains("no items: the RSS document has 1 &lt;item&gt;"),
        "{row}"
    );
    assert!(html.contains("/feeds/all.atom"), "feed links: {html}");

    // Feeds are served, and match the files written beside them.
    let atom = get(addr, "/feeds/all.atom", &[]);
    assert_eq!(atom.status, 200);
    let parsed = feed_rs::parser::parse(&atom.body[..]).expect("served feed parses");
    assert_eq!(parsed.entries.len(), 3);
    // The stories API has the `stories --format json` shape.
    let stories: serde_json::Value = get(addr, "/api/stories", &[]).json();
    let list = stories.as_array().expect("array");
    assert_eq!(list.len(), 3);
    let wire = list
        .iter()
        .find(|s| s["copies"].as_array().unwrap().len() == 2)
        .expect("the wire story");
    assert_eq!(wire["canonical"]["outlet"], "Alpha");
    assert_eq!(wire["canonical"]["id"], "a1");
    assert!(wire["canonical"]["body"]
        .as_str()
        .unwrap()
        .contains("foxtrot"));
    // Copies are listed in arrival order, and the two outlets are polled concurrently.
    let mut ids: Vec<&str> = wire["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a1", "b1"]);
    let one: serde_json::Value = get(
        addr,
        &format!("/api/stories/{}", wire["story"].as_str().unwrap()),
        &[],
    )
    .json();
    assert_eq!(&one, wire);

    // A new item in Beta's feed: the next cycles ingest it and the counters move.
    let polls_before = metric(
        &first,
        "syndedup_polls_total{outlet=\"Alpha\",result=\"ok\"}",
    )
    .unwrap_or(0.0)
        + metric(
            &first,
            "syndedup_polls_total{outlet=\"Alpha\",result=\"not_modified\"}",
        )
        .unwrap_or(0.0);
    std::fs::write(
        dir.path().join("b.xml"),
        rss(&[
            (
                "b1",
                "Talks on the dam",
                "https://b.example/1",
                &body("foxtrot"),
            ),
            (
                "b2",
                "Harbour dredging",
                "https://b.example/2",
                &body("hotel"),
            ),
            (
                "b3",
                "Ferry timetable",
                "https://b.example/3",
                &body("india"),
            ),
        ]),
    )
    .unwrap();
    let later = loop {
        let m = get(addr, "/metrics", &[]).text();
        if metric(&m, "syndedup_items_ingested_total") == Some(5.0) {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the new item was not ingested: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(metric(&later, "syndedup_stories"), Some(4.0));
    let polls_after = metric(
        &later,
        "syndedup_polls_total{outlet=\"Alpha\",result=\"ok\"}",
    )
    .unwrap_or(0.0)
        + metric(
            &later,
            "syndedup_polls_total{outlet=\"Alpha\",result=\"not_modified\"}",
        )
        .unwrap_or(0.0);
    assert!(
        polls_after > polls_before,
        "{polls_before} -> {polls_after}"
    );
    let atom2 = get(addr, "/feeds/all.atom", &[]);
    let parsed = feed_rs::parser::parse(&atom2.body[..]).expect("parses");
    assert_eq!(parsed.entries.len(), 4);
    let file = std::fs::read(dir.path().join("out/feeds/all.atom")).unwrap();
    assert_eq!(file, atom2.body, "the file on disk is what is served");

    let status = daemon.stop();
    assert!(status.success(), "daemon exits cleanly on SIGTERM");
}

#[test]
fn run_refuses_an_address_it_cannot_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = setup(
        dir.path(),
        &format!("[http]\nlisten = \"{}\"\n", taken.local_addr().unwrap()),
    );
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&taken.local_addr().unwrap().to_string()),
        "{stderr}"
    );
}
