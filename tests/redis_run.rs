//! Several `syndedup run` workers on one Redis Cluster, through the real binary, on feeds
//! served from 127.0.0.1: the outlets are shared out by leases, every item is processed
//! once, copies fetched by different workers end up in one story, each story is emitted as
//! new once into the shared outbox, and `syndedup stories` reads Redis. A worker killed with
//! SIGKILL at random moments loses nothing and emits nothing twice.

mod redis_support;
mod serve_support;
mod store_run_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use store_run_support::{serve, Feeds, Log};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

fn feeds(n: usize, items: usize, step: Duration) -> Arc<Feeds> {
    Arc::new(Feeds {
        feeds: n,
        max_items: items,
        step,
        start: Instant::now(),
        log: Mutex::new(Log::default()),
    })
}

/// A worker's config: its own output file, the shared Redis store.
fn worker_config(
    dir: &Path,
    name: &str,
    addr: std::net::SocketAddr,
    n: usize,
    redis: &redis_support::Redis,
    prefix: &str,
) -> PathBuf {
    let mut text = format!(
        "[output]\njsonl = \"out/{name}.jsonl\"\nkind = \"stories\"\n\
         [store]\nkind = \"redis\"\nurls = {}\nprefix = \"{prefix}\"\nlease = \"2s\"\nlock_ttl = \"2s\"\n\
         [schedule]\ndefault_interval = \"250ms\"\nmin_interval = \"100ms\"\njitter = 0.0\n\
         [fetch]\ntimeout = \"5s\"\nconcurrency = 2\n",
        redis.toml_urls()
    );
    for k in 0..n {
        text.push_str(&format!(
            "[[outlet]]\nname = \"Outlet {k}\"\nurl = \"http://{addr}/feed/{k}\"\n"
        ));
    }
    redis_support::write(dir, &format!("{name}.toml"), &text)
}

/// The stories `syndedup stories --format json` reads from Redis: story id to the
/// (outlet, id) of its copies.
fn stories(config: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(BIN)
        .args([
            "stories", "--format", "json", "--limit", "10000", "--config",
        ])
        .arg(config)
        .output()
        .expect("stories runs");
    assert!(
        out.status.success(),
        "stories failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            let id = v["story"].as_str().expect("story id").to_string();
            let copies = v["copies"]
                .as_array()
                .expect("copies")
                .iter()
                .map(|c| format!("{}/{}", c["outlet"], c["id"]))
                .collect();
            (id, copies)
        })
        .collect()
}

/// The story lines of the shared outbox stream: (story, update?) per line.
fn outbox(redis: &redis_support::Redis, prefix: &str) -> Vec<(String, bool)> {
    redis
        .cli(&["XRANGE", &format!("{{{prefix}}}:outbox"), "-", "+"])
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("outbox line is JSON");
            (
                v["story"].as_str().expect("story").to_string(),
                v["update"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// Asserts the grouping: `items` stories, each with a copy from every one of `n` outlets,
/// no item twice, each story emitted as new exactly once.
fn check_grouping(
    config: &Path,
    redis: &redis_support::Redis,
    prefix: &str,
    n: usize,
    items: usize,
) {
    let stories = stories(config);
    assert_eq!(
        stories.len(),
        items,
        "one story per item index: {stories:?}"
    );
    let mut all = BTreeSet::new();
    for (id, copies) in &stories {
        assert_eq!(copies.len(), n, "story {id}: {copies:?}");
        for c in copies {
            assert!(all.insert(c.clone()), "{c} is in two stories");
        }
    }
    let lines = outbox(redis, prefix);
    let mut new: BTreeMap<String, usize> = BTreeMap::new();
    for (story, update) in &lines {
        if !update {
            *new.entry(story.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        new.keys().collect::<Vec<_>>(),
        stories.keys().collect::<Vec<_>>(),
        "every story emitted as new: {lines:?}"
    );
    assert!(
        new.values().all(|&c| c == 1),
        "a story emitted as new twice: {new:?}"
    );
}

fn once(config: &Path) -> Child {
    Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run starts")
}

#[test]
fn two_once_workers_on_a_cluster_share_the_outlets_and_make_one_story_per_story() {
    if !redis_support::available(
        "two_once_workers_on_a_cluster_share_the_outlets_and_make_one_story_per_story",
    ) {
        return;
    }
    const N: usize = 8;
    const ITEMS: usize = 5;
    let redis = redis_support::cluster();
    let f = feeds(N, ITEMS, Duration::from_millis(1));
    std::thread::sleep(Duration::from_millis(20));
    let addr = serve(f.clone());
    let dir = tempfile::tempdir().expect("tmp");
    let a = worker_config(dir.path(), "a", addr, N, &redis, "once");
    let b = worker_config(dir.path(), "b", addr, N, &redis, "once");
    let check = Command::new(BIN)
        .args(["check", "--connect", "--config"])
        .arg(&a)
        .output()
        .expect("check runs");
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        said.contains("cluster") && said.contains("reached"),
        "{said}"
    );
    let workers = [once(&a), once(&b)];
    let mut polled = 0;
    let mut said = String::new();
    for w in workers {
        let out = w.wait_with_output().expect("worker ends");
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker failed: {table}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        polled += table.lines().filter(|l| l.starts_with("Outlet ")).count();
        said.push_str(&table);
        said.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(polled, N, "each outlet polled by one worker:\n{said}");
    check_grouping(&a, &redis, "once", N, ITEMS);
    // Each worker's output file mirrors the shared outbox as far as that worker read it: the
    // worker that finished last has every line, in the outbox's order.
    let shared: Vec<String> = redis
        .cli(&["XRANGE", "{once}:outbox", "-", "+"])
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_string)
        .collect();
    let files: Vec<Vec<String>> = ["a", "b"]
        .iter()
        .map(|w| {
            std::fs::read_to_string(dir.path().join(format!("out/{w}.jsonl")))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect();
    for f in &files {
        assert_eq!(f[..], shared[..f.len()], "a file is a prefix of the outbox");
    }
    assert!(files.iter().any(|f| f.len() == shared.len()));
    // `serve` reads the stories from Redis too.
    let config = a.to_str().expect("utf-8 path");
    let daemon = serve_support::Daemon::start(
        BIN,
        &["serve", "--config", config, "--listen", "127.0.0.1:0"],
    );
    let api = serve_support::get(daemon.addr, "/api/stories", &[]);
    assert_eq!(api.status, 200, "{}", api.text());
    let served = api.json();
    assert_eq!(
        served.as_array().map(Vec::len),
        Some(ITEMS),
        "{}",
        api.text()
    );
    let id = served[0]["story"].as_str().expect("story id").to_string();
    let page = serve_support::get(daemon.addr, &format!("/stories/{id}"), &[]);
    assert_eq!(page.status, 200, "{}", page.text());
    daemon.stop();
}

fn daemon(config: &Path, log: &Path) -> Child {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("daemon starts")
}

#[test]
fn workers_killed_at_random_moments_lose_nothing_and_emit_nothing_twice() {
    if !redis_support::available(
        "workers_killed_at_random_moments_lose_nothing_and_emit_nothing_twice",
    ) {
        return;
    }
    const N: usize = 6;
    const ITEMS: usize = 12;
    let redis = redis_support::cluster();
    // One more item per feed every 150 ms: the feeds are full after 1.8 s.
    let f = feeds(N, ITEMS, Duration::from_millis(150));
    let addr = serve(f.clone());
    let dir = tempfile::tempdir().expect("tmp");
    let configs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|w| worker_config(dir.path(), w, addr, N, &redis, "kill"))
        .collect();
    let log = dir.path().join("workers.log");
    let mut workers: Vec<Child> = configs.iter().map(|c| daemon(c, &log)).collect();
    // Ten kills of a worker chosen by a fixed pseudo-random sequence, at pseudo-random
    // moments, each restarted at once.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..10 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::thread::sleep(Duration::from_millis(50 + x % 250));
        let w = (x % 3) as usize;
        let _ = workers[w].kill(); // SIGKILL
        let _ = workers[w].wait();
        workers[w] = daemon(&configs[w], &log);
    }
    // Let the survivors finish: feeds full, dead workers' leases expired (2 s), polled again.
    let deadline = f.full_at() + Duration::from_secs(8);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    // Shown when the test fails.
    eprintln!("workers' log:\n{logged}");
    check_grouping(&configs[0], &redis, "kill", N, ITEMS);
    assert!(!logged.contains("panicked"), "a worker panicked:\n{logged}");
}
