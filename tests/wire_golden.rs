//! Golden files for every JSON shape syndedup emits (`src/wire.rs`), byte for byte, through
//! the real binary: the daemon's `decisions` and `stories` lines, `dedup --emit annotate` and
//! `--emit stories`, `syndedup stories --format json`, and the HTTP API (`/api/stories`,
//! `/api/stories/{id}`, `/healthz`, an error). Inputs and expected outputs are in
//! `tests/golden/`; `UPDATE_GOLDEN=1 cargo test --test wire_golden` rewrites the expected files
//! (review the diff: a changed golden file is a changed interface).

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serve_support::{get, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with `tests/golden/<name>`, or writes it there with `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &[u8]) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "{name} differs from the golden file"
    );
}

fn ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn syndedup(args: &[&str]) -> Vec<u8> {
    ok(Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap())
}

/// A config over the two golden feeds writing `kind` lines; `daily` adds the republisher.
fn config(dir: &Path, kind: &str, daily: bool) -> PathBuf {
    std::fs::create_dir_all(dir.join("feeds")).unwrap();
    for f in ["wire.xml", "daily.xml"] {
        std::fs::copy(
            golden_dir().join("feeds").join(f),
            dir.join("feeds").join(f),
        )
        .unwrap();
    }
    // Daily outranks the agency here, so its later copy becomes canonical: the shapes of a
    // duplicate that is canonical and of a story update are pinned too.
    let mut text = format!(
        "[store]\npath = \"state.db\"\n\n[output]\njsonl = \"out.jsonl\"\nkind = \"{kind}\"\n\n\
         [[outlet]]\nname = \"Wire\"\nurl = \"feeds/wire.xml\"\n"
    );
    if daily {
        text.push_str("\n[[outlet]]\nname = \"Daily\"\nurl = \"feeds/daily.xml\"\npriority = 10\n");
    }
    let path = dir.join(format!("{kind}-{daily}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Polls the agency alone, then both outlets (so which copy comes first does not depend on
/// which file is read first); returns the config of the second run.
fn run_twice(dir: &Path, kind: &str) -> PathBuf {
    for daily in [false, true] {
        let c = config(dir, kind, daily);
        syndedup(&["run", "--once", "--config", c.to_str().unwrap()]);
    }
    config(dir, kind, true)
}

#[test]
fn daemon_lines_stories_cli_and_api_match_the_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let decisions = dir.path().join("decisions");
    let config = run_twice(&decisions, "decisions");
    golden(
        "run_decisions.jsonl",
        &std::fs::read(decisions.join("out.jsonl")).unwrap(),
    );

    let stories_dir = dir.path().join("stories");
    run_twice(&stories_dir, "stories");
    golden(
        "run_stories.jsonl",
        &std::fs::read(stories_dir.join("out.jsonl")).unwrap(),
    );

    let config = config.to_str().unwrap();
    golden(
        "stories_cli.jsonl",
        &syndedup(&["stories", "--format", "json", "--config", config]),
    );

    let daemon = Daemon::start(
        BIN,
        &["serve", "--config", config, "--listen", "127.0.0.1:0"],
    );
    let body = |path: &str, status: u16| {
        let r = get(daemon.addr, path, &[]);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        r.body
    };
    golden("api_stories.json", &body("/api/stories", 200));
    golden("api_story.json", &body("/api/stories/s1", 200));
    golden("api_not_found.json", &body("/api/stories/s99", 404));
    golden("api_bad_limit.json", &body("/api/stories?limit=0", 400));
    // The last cycle is the wall clock of the run: pinned as its shape, not its value.
    let health: serde_json::Value = serde_json::from_slice(&body("/healthz", 200)).unwrap();
    let last = health["last_cycle"].as_str().expect("last_cycle");
    assert!(chrono::DateTime::parse_from_rfc3339(last).is_ok(), "{last}");
    let text = String::from_utf8(body("/healthz", 200)).unwrap();
    golden("api_healthz.json", text.replace(last, "<time>").as_bytes());
    drop(daemon); // killed: how serve stops is tested elsewhere
}

#[test]
fn dedup_annotate_and_stories_match_the_golden_files() {
    let input = golden_dir().join("articles.jsonl");
    let input = input.to_str().unwrap();
    for emit in ["annotate", "stories"] {
        golden(
            &format!("dedup_{emit}.jsonl"),
            &syndedup(&["dedup", "--quiet", "--emit", emit, "--input", input]),
        );
    }
}
