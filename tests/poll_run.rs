//! `syndedup run` through the real binary: `--once` and its table, the daemon and SIGTERM.

mod poll_support;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use poll_support::{body, rss};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

/// Serves `app` from a background thread with its own runtime, for tests that run the binary.
fn serve_in_background(app: Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let addr = poll_support::serve(app).await;
            tx.send(addr).expect("send");
            std::future::pending::<()>().await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("server up")
}

fn feed_app() -> Router {
    let wire = body("foxtrot");
    let a = rss(&[
        ("a1", "Dam talks", "https://a.example/1", &wire),
        ("a2", "Other", "https://a.example/2", &body("golf")),
    ]);
    let b = rss(&[("b1", "Talks on dam", "https://b.example/1", &wire)]);
    Router::new()
        .route(
            "/a",
            get(move || {
                let a = a.clone();
                async move { a }
            }),
        )
        .route(
            "/b",
            get(move || {
                let b = b.clone();
                async move { b }
            }),
        )
        .route(
            "/broken",
            get(|| async { "<rss version=\"2.0\"><channel><item>" }),
        )
}

fn write_config(dir: &Path, outlets: &str) -> std::path::PathBuf {
    let path = dir.join("syndedup.toml");
    std::fs::write(
        &path,
        // Each test its own store: `run` keeps state in `[store] path`.
        format!(
            "[output]\njsonl = \"out/decisions.jsonl\"\n[store]\npath = \"state.db\"\n[fetch]\ntimeout = \"5s\"\n{outlets}"
        ),
    )
    .expect("write config");
    path
}

#[test]
fn once_prints_a_table_and_writes_decisions() {
    let addr = serve_in_background(feed_app());
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("local.xml"),
        rss(&[("l1", "Local", "", &body("hotel"))]),
    )
    .expect("feed");
    let config = write_config(
        dir.path(),
        &format!(
            "[[outlet]]\nname = \"Alpha\"\nurl = \"http://{addr}/a\"\n\
             [[outlet]]\nname = \"Beta\"\nurl = \"http://{addr}/b\"\n\
             [[outlet]]\nname = \"Broken\"\nurl = \"http://{addr}/broken\"\n\
             [[outlet]]\nname = \"Local\"\nurl = \"local.xml\"\n\
             [[outlet]]\nname = \"Off\"\nurl = \"http://{addr}/a\"\nenabled = false\n"
        ),
    );
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The table ends at the first blank line; the stories listing follows it.
    let lines: Vec<&str> = stdout
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(
        stdout.contains("3 stories from 4 articles")
            && stdout
                .lines()
                .any(|l| l.contains(" 2x ") && l.contains("; also ")),
        "{stdout}"
    );
    assert!(
        lines[0].starts_with("OUTLET") && lines[0].contains("STATUS"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 5, "header + 4 enabled outlets: {stdout}");
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(&row("Alpha")[1..4], ["200", "2", "2"]);
    assert_eq!(&row("Beta")[1..3], ["200", "1"]);
    assert_eq!(&row("Local")[1..4], ["file", "1", "1"]);
    // A cut-off document whose only item is unfinished: an error, not "ok, 0 items".
    assert!(row("Broken").join(" ").contains("no items"), "{stdout}");
    let dups: usize = ["Alpha", "Beta"]
        .iter()
        .map(|n| row(n)[4].parse::<usize>().unwrap_or(0))
        .sum();
    assert_eq!(dups, 1, "the wire copy is a duplicate: {stdout}");
    assert!(stderr.contains("poll cycle done"), "{stderr}");
    let written = std::fs::read_to_string(dir.path().join("out/decisions.jsonl")).expect("output");
    assert_eq!(written.lines().count(), 4);
}

#[test]
fn json_logs_and_config_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("f.xml"),
        rss(&[("x", "X", "", &body("india"))]),
    )
    .expect("feed");
    let config = write_config(dir.path(), "[[outlet]]\nname = \"F\"\nurl = \"f.xml\"\n");
    let out = Command::new(BIN)
        .args(["--log-format", "json", "run", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let cycle = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "poll cycle done")
        .unwrap_or_else(|| panic!("no JSON cycle line: {stderr}"));
    assert_eq!(cycle["fields"]["new"], 1);

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[fetch]\ntimeout = \"0s\"\n[[outlet]]\nname = \"x\"\nurl = \"gopher://x\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml")
            && stderr.contains("fetch.timeout")
            && stderr.contains("outlet[0].url"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn the_daemon_stops_cleanly_on_sigterm() {
    let addr = serve_in_background(feed_app());
    let dir = tempfile::tempdir().expect("tmp");
    let config = write_config(
        dir.path(),
        &format!("[[outlet]]\nname = \"Alpha\"\nurl = \"http://{addr}/a\"\n"),
    );
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let output = dir.path().join("out/decisions.jsonl");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&output)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 2
    {
        assert!(Instant::now() < deadline, "no output from the daemon");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(exit.success(), "{exit:?}\n{stderr}");
    assert!(stderr.contains("daemon stopped"), "{stderr}");
}
