//! Every copied third-party feed (tests/fixtures/feeds, see NOTE.md there) is either parsed or
//! rejected with an error, never a panic: once through the parser and once through the whole
//! `run --once` pipeline as local file outlets.

use std::path::{Path, PathBuf};

use syndedup::poll::{parse_feed, Poller};
use syndedup::Config;

fn fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !name.starts_with("LICENSE") && name != "NOTE.md" {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds"),
        &mut out,
    );
    out.sort();
    out
}

fn name_of(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_fixture_parses_or_is_rejected() {
    let files = fixtures();
    assert!(files.len() >= 30, "{} fixtures", files.len());
    let mut parsed = 0;
    let mut rejected = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("read fixture");
        match parse_feed(&bytes, None) {
            Ok(feed) => {
                parsed += 1;
                for item in &feed.items {
                    assert!(
                        !item.id.is_empty(),
                        "{}: an item without an id",
                        name_of(path)
                    );
                }
                let mut ids: Vec<&str> = feed.items.iter().map(|i| i.id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(
                    ids.len(),
                    feed.items.len(),
                    "{}: ids are not unique",
                    name_of(path)
                );
            }
            Err(message) => {
                rejected += 1;
                assert!(
                    !message.to_string().is_empty(),
                    "{}: empty error",
                    name_of(path)
                );
            }
        }
    }
    assert!(parsed >= 30, "parsed {parsed}, rejected {rejected}");
    assert!(rejected >= 2, "parsed {parsed}, rejected {rejected}");
}

#[test]
fn known_documents_give_the_expected_items_or_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let items = |rel: &str| {
        parse_feed(&std::fs::read(root.join(rel)).expect("read"), None).map(|f| f.items)
    };
    assert_eq!(
        items("miniflux/encoding_ISO-8859-1.xml")
            .expect("golem")
            .len(),
        40
    );
    assert_eq!(items("miniflux/urdu_UTF8.xml").expect("urdu").len(), 26);
    assert_eq!(
        items("feed-rs/atom/atom_mediarss_reddit_1.xml")
            .expect("reddit")
            .len(),
        25
    );
    // ISO-8859-1 decoded by feed-rs from the declared charset.
    let golem = items("miniflux/encoding_ISO-8859-1.xml").expect("golem");
    assert!(golem
        .iter()
        .any(|i| i.body.contains('ü') || i.body.contains('ä')));
    // No guid, no link, no date: the id is a hash, the same every time.
    let ghost = items("feed-rs/rss2/rss_2.0_ghost_1.xml").expect("ghost");
    assert!(ghost.iter().all(|i| i.id.starts_with("xxh3:")), "{ghost:?}");
    assert_eq!(
        ghost,
        items("feed-rs/rss2/rss_2.0_ghost_1.xml").expect("ghost")
    );
    for bad in [
        "feed-rs/rss2/rss_2.0_invalid_1.xml",
        "feedparser/illformed/rss_empty_document.xml",
        "gofeed/json/invalid/invalid.json",
    ] {
        assert!(items(bad).is_err(), "{bad} should be rejected");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_goes_through_run_once_as_a_file_outlet() {
    let files = fixtures();
    let mut text = String::new();
    for (i, path) in files.iter().enumerate() {
        text.push_str(&format!(
            "[[outlet]]\nname = \"f{i}\"\nurl = {:?}\n",
            path.display().to_string()
        ));
    }
    let config = Config::parse(&text, Path::new("fixtures.toml")).expect("config");
    config.check("fixtures.toml").expect("valid");
    let mut poller = Poller::new(config).expect("poller");
    let reports = poller.run_once().await.expect("run");
    assert_eq!(reports.len(), files.len());
    let ok = reports.iter().filter(|r| r.error.is_none()).count();
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.outlet)))
        .collect();
    assert!(ok >= 30, "{failed:?}");
    // Documents that are no feed say so; item-bearing ones that yield no item say "no items".
    assert!(
        failed
            .iter()
            .all(|e| e.contains(": not a feed: ") || e.contains(": no items: ")),
        "{failed:?}"
    );
    let items: usize = reports.iter().map(|r| r.new).sum();
    assert!(items > 200, "{items}");
    // Unchanged files count as unchanged on the next poll; rejected ones are read and
    // rejected again (their validator is only kept once they parse).
    let again = poller.run_once().await.expect("run");
    for (first, second) in reports.iter().zip(&again) {
        if first.error.is_none() {
            assert_eq!(
                (second.status.as_str(), second.new),
                ("unchanged", 0),
                "{second:?}"
            );
        } else {
            assert_eq!(first.error, second.error);
        }
    }
}
