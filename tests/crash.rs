//! The crash test: the daemon is SIGKILLed at pseudo-random moments while feeds keep growing,
//! and restarted each time. At the end every item the server served is stored exactly once, no
//! story was written twice as new to the output, every output line is whole, and the database
//! passes `PRAGMA integrity_check`.

mod store_run_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store_run_support::{serve, stored_items, write_config, Feeds, Log};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");
const FEEDS: usize = 12;
const KILLS: usize = 12;

#[test]
fn kill_nine_at_random_moments_loses_and_repeats_nothing() {
    let feeds = Arc::new(Feeds {
        feeds: FEEDS,
        max_items: 24,
        step: Duration::from_millis(250),
        start: Instant::now(),
        log: Mutex::new(Log::default()),
    });
    let addr = serve(feeds.clone());
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(dir.path(), addr, FEEDS, "stories");
    let db = dir.path().join("state/syndedup.db");
    let output = dir.path().join("out/stories.jsonl");

    // xorshift: reproducible "random" kill moments, 150-900 ms after each start.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..KILLS {
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the daemon");
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(150 + x % 750));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
    // Let the feeds reach their final size, then one clean run picks up what is left.
    if let Some(wait) = feeds.full_at().checked_duration_since(Instant::now()) {
        std::thread::sleep(wait + Duration::from_millis(50));
    }
    let last = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run --once");
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );

    let served: BTreeSet<(String, String)> = feeds
        .log
        .lock()
        .unwrap()
        .served
        .iter()
        .map(|(k, g)| (format!("Outlet {k}"), g.clone()))
        .collect();
    assert_eq!(served.len(), FEEDS * 24, "the server served every item");
    let stored = stored_items(&db);
    assert!(
        stored.iter().all(|(_, _, n)| *n == 1),
        "an item stored twice"
    );
    let stored: BTreeSet<(String, String)> = stored.into_iter().map(|(o, i, _)| (o, i)).collect();
    assert_eq!(stored, served, "every served item is stored, nothing else");

    let conn = rusqlite::Connection::open(&db).expect("open");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let pending: i64 = conn
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .expect("outbox");
    assert_eq!(pending, 0, "every committed line reached the output");

    let text = std::fs::read_to_string(&output).expect("output");
    assert!(text.ends_with('\n'), "no torn last line");
    let mut new_lines: BTreeMap<String, usize> = BTreeMap::new();
    let mut updates = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is whole JSON");
        let story = v["story"].as_str().expect("story").to_string();
        if v["update"] == true {
            updates += 1;
        } else {
            *new_lines.entry(story).or_default() += 1;
        }
    }
    let twice: Vec<_> = new_lines.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "stories written twice as new: {twice:?}");
    // The output and the store's emission log agree line for line.
    let mut stmt = conn
        .prepare("SELECT story, kind FROM emission ORDER BY seq")
        .expect("prepare");
    let emissions: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let emitted_new: BTreeSet<String> = emissions
        .iter()
        .filter(|(_, k)| k == "new")
        .map(|(s, _)| format!("s{s}"))
        .collect();
    assert_eq!(
        emitted_new,
        new_lines.keys().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        emissions.iter().filter(|(_, k)| k == "update").count(),
        updates
    );
    // 24 stories, each carried by every outlet.
    assert_eq!(emitted_new.len(), 24);
}
