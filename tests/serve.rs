//! `syndedup serve` through the real binary: feeds, stories API, health and status from a store
//! written by another process (`dedup --state`), read-only, refreshed while it runs.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serve_support::{get, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

const WIRE: &str = "Negotiators from both river states agreed on Monday to resume talks on the \
    shared dam after the holidays, the water minister said, adding that engineers would inspect \
    the spillway and report on funding needs before the delegation meets again in the capital.";

fn write_config(dir: &Path) -> PathBuf {
    let config = dir.join("syndedup.toml");
    std::fs::write(
        &config,
        r#"
[merge]
outlet_priority = ["Wire"]

[[outlet]]
name = "Wire"
url = "https://wire.example/rss"

[[outlet]]
name = "Daily"
url = "https://daily.example/rss"

[store]
path = "state/news.db"

[[feed]]
name = "all"
title = "Everything, once"
dir = "out"
"#,
    )
    .unwrap();
    config
}

/// Stores three stories (one carried by both outlets) with `dedup --state`.
fn fill_store(dir: &Path) {
    let lines = [
        serde_json::json!({"id": "w1", "outlet": "Wire", "url": "https://wire.example/1",
            "title": "Dam talks to resume", "published": "2025-01-06T10:00:00Z",
            "body": format!("<p>{WIRE}</p>")}),
        serde_json::json!({"id": "d7", "outlet": "Daily", "url": "https://daily.example/7",
            "title": "Talks on the dam", "published": "2025-01-06T11:00:00Z",
            "body": format!("{WIRE}\n\nThis story was published from a wire agency feed.")}),
        serde_json::json!({"id": "w2", "outlet": "Wire", "url": "https://wire.example/2",
            "title": "Harbour dredging starts", "published": "2025-01-06T12:00:00Z",
            "body": "Dredgers began deepening the harbour channel on Tuesday so that larger \
                container ships can berth at the eastern quay without waiting for high tide."}),
        serde_json::json!({"id": "d8", "outlet": "Daily", "url": "https://daily.example/8",
            "title": "Ferry timetable changes", "published": "2025-01-06T13:00:00Z",
            "body": "The island ferry will leave twenty minutes earlier on weekdays from next \
                month, the operator said, to connect with the first train to the city."}),
    ];
    let input = dir.join("in.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&input, text).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let out = Command::new(BIN)
        .args(["dedup", "--quiet", "--state"])
        .arg(dir.join("state/news.db"))
        .arg("--config")
        .arg(dir.join("syndedup.toml"))
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_answers_feeds_with_etags_and_the_stories_of_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    fill_store(dir.path());
    let daemon = Daemon::start(
        BIN,
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let addr = daemon.addr;
    assert!(addr.ip().is_loopback());

    for ext in ["atom", "rss", "json"] {
        let path = format!("/feeds/all.{ext}");
        let first = get(addr, &path, &[]);
        assert_eq!(first.status, 200, "{path}: {}", first.text());
        let etag = first.header("etag").expect("ETag");
        assert!(first.header("last-modified").is_some());
        let feed = feed_rs::parser::parse(&first.body[..])
            .unwrap_or_else(|e| panic!("{path} parses: {e}"));
        assert_eq!(feed.entries.len(), 3, "{path}");
        let wire = feed
            .entries
            .iter()
            .find(|e| {
                e.title
                    .as_ref()
                    .is_some_and(|t| t.content == "Dam talks to resume")
            })
            .unwrap_or_else(|| panic!("{path}: the wire story under the wire's title"));
        let content = wire
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| wire.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        assert!(
            content.contains("Negotiators"),
            "{path}: the stored body is the content: {content:?}"
        );
        let again = get(addr, &path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }
    // Feeds are not written by a reader.
    assert!(!dir.path().join("out").exists());

    // The API's stories are `syndedup stories --format json`'s objects.
    let cli = Command::new(BIN)
        .args(["stories", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(cli.status.success());
    let mut expected: Vec<serde_json::Value> = String::from_utf8(cli.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let api = get(addr, "/api/stories", &[]);
    assert_eq!(api.status, 200);
    let mut got = api.json().as_array().unwrap().clone();
    let key = |v: &serde_json::Value| v["story"].as_str().unwrap().to_string();
    expected.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got.len(), 3);
    assert_eq!(got, expected);
    let two = got
        .iter()
        .find(|s| s["copies"].as_array().unwrap().len() == 2)
        .unwrap();
    let one = get(addr, &format!("/api/stories/{}", key(two)), &[]);
    assert_eq!(&one.json(), two);
    let daily: serde_json::Value = get(addr, "/api/stories?outlet=Daily&limit=10", &[]).json();
    assert_eq!(daily.as_array().unwrap().len(), 2);
    assert_eq!(get(addr, "/api/stories?limit=0", &[]).status, 400);

    let health = get(addr, "/healthz", &[]);
    assert_eq!(health.status, 200, "{}", health.text());
    let metrics = get(addr, "/metrics", &[]).text();
    assert!(metrics.contains("\nsyndedup_stories 3\n"), "{metrics}");
    let page = get(addr, "/", &[]).text();
    assert!(page.contains("<td>Wire</td>") && page.contains("Dam talks to resume"));

    assert!(daemon.stop().success());
}

#[test]
fn serve_reports_a_missing_store_then_picks_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let daemon = Daemon::start(
        BIN,
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--refresh",
            "200ms",
        ],
    );
    let addr = daemon.addr;
    let health = get(addr, "/healthz", &[]);
    assert_eq!(health.status, 503);
    let body = health.json();
    assert_eq!(body["store"], "unreachable");
    assert!(
        body["store_error"].as_str().unwrap().contains("news.db"),
        "the error names the database: {body}"
    );
    assert_eq!(get(addr, "/feeds/all.atom", &[]).status, 404);

    // The writer creates the store; the next refresh serves it.
    fill_store(dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    // A refresh may land between the store's creation and the writer's commit, and serve an
    // empty feed first; the one after the commit has all three stories.
    loop {
        let r = get(addr, "/feeds/all.atom", &[]);
        if r.status == 200 {
            let feed = feed_rs::parser::parse(&r.body[..]).expect("parses");
            if feed.entries.len() == 3 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the store was never picked up");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(addr, "/healthz", &[]).status, 200);
    assert!(daemon.stop().success());
}

#[test]
fn serve_rejects_a_bad_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let out = Command::new(BIN)
        .args(["serve", "--listen", "localhost-ish", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--listen \"localhost-ish\""), "{stderr}");
}
