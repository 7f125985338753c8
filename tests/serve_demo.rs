//! The bundled demo end to end: `run --once` writes the store and `[[feed]] all`, then
//! `serve` answers the three feeds from the store (200, then 304 for the same ETag), with the
//! bytes `run` wrote; a second `run --once` (state restored from the store) writes the same feeds.

mod serve_support;

use std::path::Path;
use std::process::Command;

use serve_support::{get, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

/// A copy of config/demo.toml and its feeds, so the test writes only into a temp dir.
fn demo_copy(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    std::fs::copy(root.join("demo.toml"), dir.join("demo.toml")).unwrap();
    std::fs::create_dir_all(dir.join("demo-feeds")).unwrap();
    for entry in std::fs::read_dir(root.join("demo-feeds")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("demo-feeds").join(entry.file_name())).unwrap();
    }
    dir.join("demo.toml")
}

fn run_once(config: &Path) -> String {
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_once_shows_the_cleaned_result() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_copy(dir.path());
    let first = run_once(&config);
    assert!(first.contains("16 stories from 34 articles"), "{first}");
    // The wire agency outranks republishers, so it is canonical for the stories with copies.
    let top = first
        .lines()
        .find(|l| l.contains(" 6x "))
        .unwrap_or_else(|| panic!("a story with 6 copies: {first}"));
    assert!(top.contains("[Meridian Wire]; also "), "{top}");
    // A second run finds nothing new but still lists the stories restored from the store.
    let second = run_once(&config);
    assert!(second.contains("16 stories from 34 articles"), "{second}");
}

#[test]
fn serve_answers_the_demo_feeds_written_by_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_copy(dir.path());
    let _ = run_once(&config);
    let feeds = dir.path().join("demo-out/feeds");
    let written: Vec<Vec<u8>> = ["atom", "rss", "json"]
        .iter()
        .map(|ext| std::fs::read(feeds.join(format!("all.{ext}"))).unwrap())
        .collect();

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
    for (ext, file) in ["atom", "rss", "json"].iter().zip(&written) {
        let path = format!("/feeds/all.{ext}");
        let first = get(daemon.addr, &path, &[]);
        assert_eq!(first.status, 200, "{path}: {}", first.text());
        let feed = feed_rs::parser::parse(&first.body[..]).expect("parses");
        assert!(feed.entries.len() >= 4, "{path}: {}", feed.entries.len());
        assert_eq!(&first.body, file, "{path}: serve renders what run wrote");
        let etag = first.header("etag").expect("ETag");
        let again = get(daemon.addr, &path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
    }
    assert_eq!(get(daemon.addr, "/healthz", &[]).status, 200);
    assert!(daemon.stop().success());

    // A restart restores the engine from the store; the feeds keep their content.
    let _ = run_once(&config);
    for (ext, file) in ["atom", "rss", "json"].iter().zip(&written) {
        let again = std::fs::read(feeds.join(format!("all.{ext}"))).unwrap();
        assert_eq!(&again, file, "all.{ext} after a restart");
    }
}
