//! `syndedup check --config FILE` through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .args(["--log-level", "warn", "check", "--config"])
        .arg(config)
        .output()
        .expect("runs the binary")
}

fn repo_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn demo_config_is_ok() {
    let out = check(&repo_config("demo.toml"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "config OK: 8 outlets (8 enabled), 1 feeds"
    );
}

#[test]
fn reference_config_is_ok() {
    let out = check(&repo_config("syndedup.toml"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "config OK: 0 outlets (0 enabled), 0 feeds"
    );
}

#[test]
fn counts_enabled_outlets_and_resolves_local_files_against_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("feeds")).unwrap();
    write(dir.path(), "feeds/a.xml", "<rss/>");
    let feed_url = url::Url::from_file_path(dir.path().join("feeds/a.xml")).unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        &format!(
            r#"
[[outlet]]
name = "local"
url = "feeds/a.xml"
[[outlet]]
name = "file url"
url = "{feed_url}"
[[outlet]]
name = "remote"
url = "https://example.org/feed.xml"
enabled = false
[[feed]]
name = "all"
[[feed]]
name = "local-only"
outlets = ["local"]
"#
        ),
    );
    // Run from elsewhere: relative outlet paths must not depend on the working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .current_dir(std::env::temp_dir())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "config OK: 3 outlets (2 enabled), 2 feeds"
    );
}

#[test]
fn every_problem_is_reported_with_its_key_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "bad.toml",
        r#"
[dedup]
threshold = 0
[schedule]
jitter = 1.5
[[outlet]]
name = "wire"
url = "feeds/missing.xml"
[[outlet]]
name = "wire"
url = "file:///definitely/not/here.xml"
[[outlet]]
name = "gopher"
url = "gopher://example.org/feed"
[[feed]]
name = "bad name!"
outlets = ["nobody"]
"#,
    );
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(err.contains("has 8 problem(s)"), "{err}");
    for needle in [
        "dedup.threshold is 0",
        "schedule.jitter is 1.5",
        "outlet[0].url names the local file",
        "missing.xml",
        "outlet[1].name \"wire\" is used by an earlier outlet",
        "outlet[1].url names the local file /definitely/not/here.xml",
        "outlet[2].url \"gopher://example.org/feed\" has an unsupported scheme",
        "feed[0].name \"bad name!\"",
        "feed[0].outlets names \"nobody\"",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn a_directory_is_not_a_feed_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("feeds")).unwrap();
    let config = write(
        dir.path(),
        "c.toml",
        "[[outlet]]\nname = \"d\"\nurl = \"feeds\"\n",
    );
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("outlet[0].url names"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("which is not a file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "broken.toml", "[dedup]\nthreshold = = 0.5\n");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("broken.toml"), "{err}");
    assert!(err.contains("line 2, column"), "{err}");
}

#[test]
fn unknown_keys_are_errors_naming_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "typo.toml",
        "[fetch]\ntimeout = \"5s\"\nconect_timeout = \"1s\"\n",
    );
    let out = check(&config);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("typo.toml"), "{err}");
    assert!(err.contains("conect_timeout"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn a_missing_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let out = check(&missing);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.toml"), "{}", stderr(&out));
}
