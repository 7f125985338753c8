//! `syndedup run` on the SQLite store through the real binary: restarts resume (conditional
//! requests, nothing emitted twice, the index rebuilt), and a second writer is refused.

mod store_run_support;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store_run_support::{serve, stored_items, write_config, Feeds, Log};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

fn fixed_feeds(feeds: usize, items: usize) -> Arc<Feeds> {
    let f = Arc::new(Feeds {
        feeds,
        max_items: items,
        step: Duration::from_millis(1),
        start: Instant::now() - Duration::from_secs(1),
        log: Mutex::new(Log::default()),
    });
    assert_eq!(f.count(), items);
    f
}

fn run_once(config: &std::path::Path) -> (String, String) {
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(config)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "run --once failed: {stderr}");
    (stdout, stderr)
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

/// The NEW column of the `--once` table, per outlet.
fn new_column(table: &str) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            // OUTLET is two words ("Outlet 3"): STATUS, ITEMS, NEW follow.
            cells[4].parse().expect("NEW is a number")
        })
        .collect()
}

#[test]
fn second_once_run_sends_conditional_requests_and_emits_nothing_new() {
    let feeds = fixed_feeds(3, 4);
    let addr = serve(feeds.clone());
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), addr, 3, "decisions");
    let output = dir.path().join("out/stories.jsonl");

    let (first, _) = run_once(&config);
    assert_eq!(new_column(&first), vec![4, 4, 4], "{first}");
    let after_first = std::fs::read(&output).expect("output written");
    assert_eq!(lines(&output).len(), 12);
    assert_eq!(
        stored_items(&dir.path().join("state/syndedup.db")).len(),
        12
    );
    let conditional_before = feeds.log.lock().unwrap().conditional;
    assert_eq!(conditional_before, 0, "a fresh store has no validators");

    let (second, _) = run_once(&config);
    assert_eq!(new_column(&second), vec![0, 0, 0], "{second}");
    assert!(
        second
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .all(|l| l.contains(" 304 ")),
        "{second}"
    );
    let log = feeds.log.lock().unwrap();
    assert_eq!(log.conditional, 3, "every outlet sent If-None-Match");
    assert_eq!(log.not_modified, 3);
    drop(log);
    assert_eq!(
        std::fs::read(&output).expect("output"),
        after_first,
        "the second run appended nothing"
    );
}

#[test]
fn a_restart_matches_new_copies_against_stored_stories() {
    let feeds = fixed_feeds(2, 3);
    let addr = serve(feeds);
    let dir = tempfile::tempdir().expect("tmp");
    // First run: only outlet 0, which starts three stories.
    let config = write_config(dir.path(), addr, 1, "stories");
    run_once(&config);
    let output = dir.path().join("out/stories.jsonl");
    let first = lines(&output);
    assert_eq!(first.len(), 3);
    let story_of_item0 = first
        .iter()
        .find(|l| l["canonical"]["id"] == "f0-i0")
        .map(|l| l["story"].clone())
        .expect("item 0 started a story");

    // Second run, a new process: outlet 1 carries copies of the same three stories.
    let config = write_config(dir.path(), addr, 2, "decisions");
    let (table, _) = run_once(&config);
    assert_eq!(new_column(&table), vec![0, 3], "{table}");
    let all = lines(&output);
    let copies: Vec<_> = all[3..].iter().collect();
    assert_eq!(copies.len(), 3, "one decision line per copy");
    for c in &copies {
        assert_eq!(c["outlet"], "Outlet 1");
        assert_eq!(c["dedup"]["duplicate_of"]["outlet"], "Outlet 0", "{c}");
    }
    let copy0 = copies
        .iter()
        .find(|c| c["id"] == "f1-i0")
        .expect("copy of item 0");
    assert_eq!(copy0["dedup"]["story"], story_of_item0);
    assert_eq!(copy0["dedup"]["duplicate_of"]["id"], "f0-i0");
}

#[test]
fn a_second_daemon_on_the_same_store_refuses_to_start() {
    let feeds = fixed_feeds(2, 2);
    let addr = serve(feeds);
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), addr, 2, "decisions");
    let mut first = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let output = dir.path().join("out/stories.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines(&output).len() < 4 {
        assert!(Instant::now() < deadline, "the daemon wrote nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success(), "the second writer must not start");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("is in use by another process")
            && stderr.contains("syndedup.db")
            && stderr.contains(&format!("pid {}", first.id())),
        "{stderr}"
    );
    assert!(second.stdout.is_empty(), "no table from a refused run");
}

#[test]
fn the_boilerplate_learner_resumes_from_the_store() {
    use syndedup::poll::Poller;
    use syndedup::store::SqliteStore;

    let feeds = fixed_feeds(3, 6);
    let addr = serve(feeds);
    let dir = tempfile::tempdir().expect("tmp");
    let config_path = write_config(dir.path(), addr, 3, "decisions");
    let config = syndedup::Config::load(&config_path).expect("config");
    let db = dir.path().join("state/syndedup.db");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let memory = |p: &Poller| {
        let mut m = p
            .engine()
            .and_then(|e| e.learner())
            .expect("learning is on by default")
            .export();
        m.sort();
        m
    };
    let learned = rt.block_on(async {
        let store = SqliteStore::open(&db).expect("store");
        let mut poller = Poller::with_store(config.clone(), Box::new(store)).expect("poller");
        poller.run_once().await.expect("run");
        memory(&poller)
    });
    assert_eq!(learned.len(), 3, "one memory per outlet");
    assert!(learned.iter().all(|(_, recent)| recent.len() == 6));
    // A new poller on the same store (the first one is gone, and with it the lock).
    let store = SqliteStore::open(&db).expect("store");
    let resumed = Poller::with_store(config, Box::new(store)).expect("poller");
    assert_eq!(memory(&resumed), learned);
}

#[test]
fn an_item_edited_between_runs_is_evaluated_again_and_stored_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let feed = dir.path().join("feed.xml");
    let write_feed = |body: &str| {
        std::fs::write(
            &feed,
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>L</title>\
                 <item><guid>l1</guid><title>Local</title><description><![CDATA[{body}]]></description></item>\
                 <item><guid>l2</guid><title>Other</title><description><![CDATA[{}]]></description></item>\
                 </channel></rss>",
                store_run_support::body(1, 2)
            ),
        )
        .expect("feed");
    };
    let config = dir.path().join("syndedup.toml");
    std::fs::write(
        &config,
        "[output]\njsonl = \"out.jsonl\"\n[store]\npath = \"state.db\"\n\
         [[outlet]]\nname = \"Local\"\nurl = \"feed.xml\"\n",
    )
    .expect("config");
    let db = dir.path().join("state.db");
    let hash = |id: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .expect("db")
            .query_row(
                "SELECT content_hash FROM item WHERE item_id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("stored")
    };

    write_feed(&store_run_support::body(1, 1));
    let (first, _) = run_once(&config);
    let row: Vec<&str> = first
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..4], ["Local", "file", "2", "2"], "{first}");
    let before = hash("l1");
    // Same ids; l1 gets a new last paragraph (the file's size changes, so it is read again).
    write_feed(&format!(
        "{}<p>Updated at noon with the council's reply.</p>",
        store_run_support::body(1, 1)
    ));
    let (second, _) = run_once(&config);
    let row: Vec<&str> = second
        .lines()
        .nth(1)
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[1..4],
        ["file", "2", "1"],
        "only the edited item is new: {second}"
    );
    assert_ne!(hash("l1"), before, "the stored record is replaced");
    assert_eq!(stored_items(&db).len(), 2, "still one record per item");
    let out = lines(&dir.path().join("out.jsonl"));
    assert_eq!(out.len(), 3, "two first decisions, then the edited item's");
    assert_eq!(out[2]["id"], "l1");
}

#[test]
fn a_better_copy_after_a_restart_is_written_as_an_update_of_the_same_story() {
    let feeds = fixed_feeds(2, 1);
    let addr = serve(feeds);
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("syndedup.toml");
    let write = |outlets: &[usize]| {
        let mut text = String::from(
            "[output]\njsonl = \"out.jsonl\"\nkind = \"stories\"\n[store]\npath = \"state.db\"\n\
             [merge]\noutlet_priority = [\"Outlet 0\"]\n",
        );
        for k in outlets {
            text.push_str(&format!(
                "[[outlet]]\nname = \"Outlet {k}\"\nurl = \"http://{addr}/feed/{k}\"\n"
            ));
        }
        if !outlets.contains(&0) {
            // outlet_priority must name a configured outlet.
            text.push_str(&format!(
                "[[outlet]]\nname = \"Outlet 0\"\nurl = \"http://{addr}/feed/0\"\nenabled = false\n"
            ));
        }
        std::fs::write(&config, text).expect("config");
    };
    write(&[1]);
    run_once(&config);
    write(&[0, 1]);
    run_once(&config);
    run_once(&config);
    let out = lines(&dir.path().join("out.jsonl"));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["canonical"]["outlet"], "Outlet 1");
    assert!(out[0].get("update").is_none());
    assert_eq!(
        out[1]["story"], out[0]["story"],
        "the same story, not a second one"
    );
    assert_eq!(out[1]["update"], true);
    assert_eq!(out[1]["canonical"]["outlet"], "Outlet 0");
    assert_eq!(out[1]["copies"].as_array().map(Vec::len), Some(2));
}
