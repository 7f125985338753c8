//! Item identity, seen items and the decisions output, through `Poller` and local servers.

mod poll_support;

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use poll_support::{body, config, rss, serve};
use syndedup::poll::Poller;

/// A server whose feed text the test can change between polls.
async fn mutable_feed(initial: String) -> (String, Arc<Mutex<String>>) {
    let text = Arc::new(Mutex::new(initial));
    let t = text.clone();
    let app = Router::new().route(
        "/feed",
        get(move || {
            let t = t.clone();
            async move { t.lock().expect("lock").clone() }
        }),
    );
    let addr = serve(app).await;
    (format!("http://{addr}/feed"), text)
}

fn read_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn output_section(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    let path = dir.path().join("out/nested/decisions.jsonl");
    (
        format!("[output]\njsonl = {:?}\n", path.display().to_string()),
        path,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_without_guids_keep_stable_ids_across_polls() {
    let a = body("alpha");
    let b = body("bravo");
    let c = body("charlie");
    let feed = rss(&[
        (
            "",
            "One",
            "https://news.example/one?utm_source=rss&amp;id=1",
            &a,
        ),
        ("", "Two", "https://news.example/two#frag", &b),
        ("", "Three", "", &c),
    ]);
    let (url, _text) = mutable_feed(feed).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (out, path) = output_section(&dir);
    let mut poller = Poller::new(config(&[("x", url)], &out)).expect("poller");
    let first = poller.run_once().await.expect("run");
    assert_eq!((first[0].items, first[0].new), (3, 3));
    let second = poller.run_once().await.expect("run");
    assert_eq!(
        (second[0].items, second[0].new),
        (3, 0),
        "same ids, same bodies: nothing new"
    );
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], "https://news.example/one?id=1");
    assert_eq!(lines[1]["id"], "https://news.example/two");
    assert!(lines[2]["id"].as_str().unwrap_or("").starts_with("xxh3:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_guids_in_one_feed_are_told_apart() {
    let a = body("alpha");
    let b = body("bravo");
    let feed = rss(&[
        ("same", "One", "https://news.example/1", &a),
        ("same", "Two", "https://news.example/2", &b),
    ]);
    let (url, _text) = mutable_feed(feed).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (out, path) = output_section(&dir);
    let mut poller = Poller::new(config(&[("x", url)], &out)).expect("poller");
    let r = poller.run_once().await.expect("run");
    assert_eq!(r[0].new, 2);
    let ids: Vec<String> = read_lines(&path)
        .iter()
        .map(|l| l["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids[0], "same");
    assert!(ids[1].starts_with("same#"), "{ids:?}");
    // The suffix comes from the item's link, so it is the same on the next poll.
    let again = poller.run_once().await.expect("run");
    assert_eq!(again[0].new, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_titles_are_the_same_item_and_changed_bodies_are_processed_again() {
    let a = body("alpha");
    let (url, text) = mutable_feed(rss(&[("g1", "Old title", "https://n.example/1", &a)])).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (out, path) = output_section(&dir);
    let mut poller = Poller::new(config(&[("x", url)], &out)).expect("poller");
    assert_eq!(poller.run_once().await.expect("run")[0].new, 1);
    *text.lock().expect("lock") = rss(&[("g1", "New title", "https://n.example/1", &a)]);
    assert_eq!(poller.run_once().await.expect("run")[0].new, 0);
    let changed = format!("{a}<p>Update: the talks were postponed.</p>");
    *text.lock().expect("lock") = rss(&[("g1", "New title", "https://n.example/1", &changed)]);
    let r = poller.run_once().await.expect("run");
    assert_eq!(r[0].new, 1);
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["dedup"]["story"], lines[1]["dedup"]["story"],
        "the update joins its story"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_across_outlets_are_marked_with_outlet_and_id() {
    let wire = body("delta");
    let feed_a = rss(&[(
        "wire-1",
        "Dam talks resume",
        "https://wire.example/1",
        &wire,
    )]);
    let feed_b = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>B</title><item>\
         <guid>b-77</guid><title>Talks on dam to resume</title><link>https://b.example/77</link>\
         <description><![CDATA[{wire}]]></description></item></channel></rss>"
    );
    let (ua, _) = mutable_feed(feed_a).await;
    let (ub, _) = mutable_feed(feed_b).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (out, path) = output_section(&dir);
    let extra = format!("{out}[fetch]\nconcurrency = 1\nper_host_concurrency = 1\n");
    let mut poller = Poller::new(config(&[("Wire", ua), ("Paper", ub)], &extra)).expect("poller");
    let r = poller.run_once().await.expect("run");
    assert_eq!(r.iter().map(|r| r.duplicates).sum::<usize>(), 1, "{r:?}");
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    let dup = lines
        .iter()
        .find(|l| !l["dedup"]["duplicate_of"].is_null())
        .expect("one duplicate");
    let first = lines
        .iter()
        .find(|l| l["dedup"]["duplicate_of"].is_null())
        .expect("one original");
    assert_eq!(dup["dedup"]["duplicate_of"]["outlet"], first["outlet"]);
    assert_eq!(dup["dedup"]["duplicate_of"]["id"], first["id"]);
    assert_eq!(dup["dedup"]["story"], first["dedup"]["story"]);
    // Shape: the item, then the decision.
    let keys: Vec<&String> = dup.as_object().expect("object").keys().collect();
    for k in ["id", "outlet", "url", "title", "published", "body", "dedup"] {
        assert!(
            keys.iter().any(|x| x.as_str() == k),
            "missing {k}: {keys:?}"
        );
    }
    // The item without a date got its first-seen time.
    let paper = lines
        .iter()
        .find(|l| l["outlet"] == "Paper")
        .expect("paper");
    assert!(paper["published"].as_str().is_some(), "{paper}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stories_output_lists_canonical_and_copies() {
    let wire = body("echo");
    let (ua, _) = mutable_feed(rss(&[("w1", "Wire", "https://w.example/1", &wire)])).await;
    let longer = format!(
        "{wire}<p>The minister also said that a second round of negotiations was planned for the spring in the northern city.</p>"
    );
    let (ub, _) = mutable_feed(rss(&[("p1", "Paper", "https://p.example/1", &longer)])).await;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("stories.jsonl");
    let extra = format!(
        "[output]\njsonl = {:?}\nkind = \"stories\"\n[fetch]\nconcurrency = 1\nper_host_concurrency = 1\n",
        path.display().to_string()
    );
    let mut poller = Poller::new(config(&[("Wire", ua), ("Paper", ub)], &extra)).expect("poller");
    poller.run_once().await.expect("run");
    let lines = read_lines(&path);
    assert!(!lines.is_empty());
    let last = lines.last().expect("line");
    assert_eq!(last["story"], "s1");
    assert!(last["canonical"]["body"].as_str().is_some());
    // Longest wins: the paper's version is canonical whatever the arrival order, and the line
    // written when it became canonical lists every copy so far.
    assert_eq!(last["canonical"]["outlet"], "Paper");
    assert_eq!(last["copies"].as_array().map(Vec::len), Some(lines.len()));
}
