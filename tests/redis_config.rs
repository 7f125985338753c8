//! `[store] kind = "redis"`: validation names every bad key in a sentence, and
//! `syndedup check --connect` says which Redis it could not reach and why. No server needed.

use std::path::Path;
use std::process::Command;

use syndedup::Config;

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

fn problems(store: &str) -> Vec<String> {
    let text = format!("[store]\n{store}\n");
    Config::parse(&text, Path::new("t.toml"))
        .expect("parses")
        .validate()
}

#[test]
fn sqlite_stays_the_default_and_needs_no_redis_keys() {
    let c = Config::parse("", Path::new("t.toml")).expect("parses");
    assert_eq!(c.store.kind, syndedup::config::StoreKind::Sqlite);
    assert!(c.validate().is_empty());
}

#[test]
fn every_bad_redis_key_is_named() {
    let p = problems("kind = \"redis\"");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("store.urls is empty"), "{p:?}");
    let p = problems(
        "kind = \"redis\"\nurls = [\"http://x:1\", \"redis://:secret@h:1\", \"rediss://h:2\"]\n\
         prefix = \"a{b}\"\npassword_env = \"1BAD\"\nlock_ttl = \"10ms\"",
    );
    let all = p.join("\n");
    for needle in [
        "store.urls[0] \"http://x:1\" is not a redis:// or rediss:// URL.",
        "store.urls[1] holds a password",
        "store.urls[2] \"rediss://h:2\" is rediss:// (TLS) but store.tls is false",
        "store.prefix \"a{b}\"",
        "store.password_env \"1BAD\" is not an environment variable name",
        "store.lock_ttl must be at least 1s.",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
    assert!(p.iter().all(|s| s.ends_with('.')), "{all}");
}

#[test]
fn check_connect_names_the_url_it_cannot_reach() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!("[store]\nkind = \"redis\"\nurls = [\"redis://127.0.0.1:{port}\"]\n"),
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["check", "--connect", "--config"])
        .arg(&config)
        .output()
        .expect("check runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("redis://127.0.0.1:{port}")) && stderr.contains("cannot connect"),
        "{stderr}"
    );
    // Without --connect the same config is fine: nothing is contacted.
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .expect("check runs");
    assert!(out.status.success());
}

#[test]
fn an_unset_password_variable_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[store]\nkind = \"redis\"\nurls = [\"redis://127.0.0.1:1\"]\npassword_env = \"SYNDEDUP_TEST_UNSET_PASSWORD\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["check", "--connect", "--config"])
        .arg(&config)
        .env_remove("SYNDEDUP_TEST_UNSET_PASSWORD")
        .output()
        .expect("check runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("SYNDEDUP_TEST_UNSET_PASSWORD") && stderr.contains("not set"),
        "{stderr}"
    );
}
