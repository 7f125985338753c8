//! Log lines carry ANSI colour only on a terminal: standard error redirected to a file (as with
//! `2>run.log` or journald) gets plain text, with or without `NO_COLOR`.

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

/// `run --once` on a one-outlet config without `[output] jsonl`, so it logs a warning, with
/// standard error written to a file; returns that file's text.
fn stderr_to_file(dir: &Path, no_color: Option<&str>) -> String {
    let feed = dir.join("feed.xml");
    std::fs::write(
        &feed,
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>
<item><guid>a1</guid><title>One</title><link>https://a.example/1</link>
<description>The river authority opened the new dam on Monday after six years of work.</description></item>
</channel></rss>"#,
    )
    .unwrap();
    let config = dir.join("c.toml");
    std::fs::write(
        &config,
        "[store]\npath = \"state.db\"\n\n[[outlet]]\nname = \"A\"\nurl = \"feed.xml\"\n",
    )
    .unwrap();
    let log = dir.join("run.log");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--once", "--log-level", "debug", "--config"])
        .arg(&config)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let status = cmd.status().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    text
}

#[test]
fn a_log_file_gets_no_colour_codes() {
    for no_color in [None, Some(""), Some("1")] {
        let dir = tempfile::tempdir().unwrap();
        let text = stderr_to_file(dir.path(), no_color);
        assert!(text.contains("WARN"), "NO_COLOR={no_color:?}: {text}");
        assert!(text.contains("no [output] jsonl is set"), "{text}");
        assert!(
            !text.contains("\x1b["),
            "NO_COLOR={no_color:?}: colour codes in a file: {text:?}"
        );
    }
}
