//! `syndedup serve` shows what `run` counted: the store keeps each outlet's polls, items,
//! duplicates, fetch times and last item count, so the status page and `/metrics` of `serve`
//! (and of a restarted daemon) have the same numbers as the daemon that polled; and a feed whose
//! outlets leave a story's canonical out gets the best included copy's body, as `run` writes it.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serve_support::{get, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

/// The golden feeds (an agency with two stories, a republisher with a copy of one) and a
/// config with a feed of the republisher alone; `listen` adds `[http]`.
fn setup(dir: &Path, listen: bool) -> PathBuf {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/feeds");
    std::fs::create_dir_all(dir.join("feeds")).unwrap();
    for f in ["wire.xml", "daily.xml"] {
        std::fs::copy(golden.join(f), dir.join("feeds").join(f)).unwrap();
    }
    let mut text = String::from(
        r#"
[merge]
outlet_priority = ["Wire"]

[store]
path = "state.db"

[[outlet]]
name = "Wire"
url = "feeds/wire.xml"

[[outlet]]
name = "Daily"
url = "feeds/daily.xml"

[[feed]]
name = "daily"
outlets = ["Daily"]
dir = "out"
"#,
    );
    if listen {
        text.push_str("\n[http]\nlisten = \"127.0.0.1:0\"\n");
    }
    let path = dir.join(if listen { "daemon.toml" } else { "once.toml" });
    std::fs::write(&path, text).unwrap();
    path
}

fn run_once(config: &Path) {
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of one series in a Prometheus text body.
fn series(metrics: &str, name: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The status page's row of `outlet`, as its cells' text.
fn status_row(page: &str, outlet: &str) -> Vec<String> {
    let row = page
        .lines()
        .find(|l| l.starts_with(&format!("<tr><td>{outlet}</td>")))
        .unwrap_or_else(|| panic!("no row for {outlet}: {page}"));
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let text = cell.split_once('>').map_or("", |(_, rest)| rest);
            text.split("</td>").next().unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn serve_and_a_restarted_daemon_show_the_counts_of_run() {
    let dir = tempfile::tempdir().unwrap();
    let once = setup(dir.path(), false);
    run_once(&once); // Wire: 2 new stories; Daily: 1 copy of one of them.
    run_once(&once); // Both files unchanged.

    let daemon = Daemon::start(
        BIN,
        &[
            "serve",
            "--config",
            once.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let metrics = get(daemon.addr, "/metrics", &[]).text();
    for (name, want) in [
        ("syndedup_polls_total{outlet=\"Wire\",result=\"ok\"}", 1),
        (
            "syndedup_polls_total{outlet=\"Wire\",result=\"not_modified\"}",
            1,
        ),
        ("syndedup_polls_total{outlet=\"Daily\",result=\"ok\"}", 1),
        (
            "syndedup_polls_total{outlet=\"Daily\",result=\"not_modified\"}",
            1,
        ),
        ("syndedup_items_ingested_total", 3),
        ("syndedup_duplicates_total", 1),
        ("syndedup_fetch_duration_seconds_count", 4),
        ("syndedup_fetch_duration_seconds_bucket{le=\"+Inf\"}", 4),
        ("syndedup_engine_articles_total", 3),
        ("syndedup_stories", 2),
    ] {
        assert_eq!(series(&metrics, name), Some(want), "{name}:\n{metrics}");
    }
    let page = get(daemon.addr, "/", &[]).text();
    // outlet, last poll, status, items, next poll, full text, error / repairs
    assert_eq!(
        status_row(&page, "Wire")[2..4],
        ["not_modified", "2"],
        "{page}"
    );
    assert_eq!(
        status_row(&page, "Daily")[2..4],
        ["not_modified", "1"],
        "{page}"
    );
    // Stopped by kill on drop: a clean stop is not what this test is about.
    drop(daemon);

    // A restarted daemon starts from the stored sums (no outlet is due yet, so these are
    // exactly the numbers `serve` showed) and adds its own polls to them.
    let config = setup(dir.path(), true);
    let daemon = Daemon::start(BIN, &["run", "--config", config.to_str().unwrap()]);
    let after = get(daemon.addr, "/metrics", &[]).text();
    for name in [
        "syndedup_polls_total{outlet=\"Wire\",result=\"ok\"}",
        "syndedup_polls_total{outlet=\"Daily\",result=\"not_modified\"}",
        "syndedup_items_ingested_total",
        "syndedup_duplicates_total",
        "syndedup_fetch_duration_seconds_count",
        "syndedup_engine_articles_total",
    ] {
        assert_eq!(
            series(&after, name),
            series(&metrics, name),
            "{name}:\n{after}"
        );
    }
    let page = get(daemon.addr, "/", &[]).text();
    assert_eq!(status_row(&page, "Wire")[3], "2", "{page}");
    assert_eq!(status_row(&page, "Daily")[3], "1", "{page}");
    // Stopped by kill on drop: a clean stop is not what this test is about.
    drop(daemon);
}

#[test]
fn a_feed_without_the_canonical_outlet_gets_the_included_copy_body() {
    let dir = tempfile::tempdir().unwrap();
    let once = setup(dir.path(), false);
    run_once(&once);
    let written = std::fs::read(dir.path().join("out/daily.json")).unwrap();
    let feed: serde_json::Value = serde_json::from_slice(&written).unwrap();
    let html = feed["items"][0]["content_html"].as_str().unwrap_or("");
    assert!(html.contains("Talks between Russia"), "run: {feed}");

    let daemon = Daemon::start(
        BIN,
        &[
            "serve",
            "--config",
            once.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    for ext in ["json", "atom", "rss"] {
        let served = get(daemon.addr, &format!("/feeds/daily.{ext}"), &[]);
        assert_eq!(served.status, 200);
        let file = std::fs::read(dir.path().join(format!("out/daily.{ext}"))).unwrap();
        assert_eq!(
            served.text(),
            String::from_utf8_lossy(&file),
            "serve renders daily.{ext} as run wrote it"
        );
    }
    // Stopped by kill on drop: a clean stop is not what this test is about.
    drop(daemon);
}
