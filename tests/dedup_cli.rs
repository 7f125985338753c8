//! End-to-end tests of `syndedup dedup` through the real binary, on our own fixture corpus
//! (`tests/fixtures/dedup/wire.jsonl`, written by `make_wire.py` beside it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_syndedup"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dedup")
        .join(name)
}

/// Runs `syndedup dedup` with `args`, feeding `input` on stdin; returns (status, stdout, stderr).
fn run(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = bin()
        .arg("dedup")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn truth() -> BTreeMap<String, String> {
    std::fs::read_to_string(fixture("wire-truth.csv"))
        .expect("truth")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn id_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The partition a set of (id, group) pairs implies, as sets of ids.
fn partition(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeSet<BTreeSet<String>> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, g) in pairs {
        groups.entry(g).or_default().insert(id);
    }
    groups.into_values().collect()
}

#[test]
fn annotate_groups_copies_and_keeps_the_follow_up_apart() {
    let input = std::fs::read(fixture("wire.jsonl")).expect("fixture");
    let (code, out, err) = run(&["--emit", "annotate"], &input);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        lines.len(),
        input
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    let predicted = partition(lines.iter().map(|v| {
        (
            id_string(&v["id"]),
            v["dedup"]["story"].as_str().expect("story").to_string(),
        )
    }));
    assert_eq!(predicted, partition(truth()));
    // The first article of a story has no duplicate_of; copies point at it with a score.
    assert!(lines[0]["dedup"]["duplicate_of"].is_null());
    assert!(lines[0]["dedup"]["score"].is_null());
    assert_eq!(lines[1]["dedup"]["duplicate_of"], "wire-port");
    assert!(lines[1]["dedup"]["score"].as_f64().expect("score") > 0.7);
    // Numeric ids stay numbers; other fields pass through untouched.
    let numeric = lines
        .iter()
        .find(|v| v["id"].is_number())
        .expect("numeric id");
    assert_eq!(numeric["dedup"]["duplicate_of"], "wire-bank");
    assert!(lines
        .iter()
        .all(|v| v["url"].is_string() && v["body"].is_string()));
    assert!(
        err.contains("13 articles, 6 stories, 7 duplicates, 0 rejected lines"),
        "{err}"
    );
}

#[test]
fn unique_passes_first_copies_byte_for_byte() {
    let input = std::fs::read_to_string(fixture("wire.jsonl")).expect("fixture");
    let (code, out, _) = run(&[], input.as_bytes());
    assert_eq!(code, 0);
    let kept: Vec<&str> = out.lines().collect();
    let firsts: Vec<&str> = input
        .lines()
        .filter(|l| {
            [
                "\"wire-port\"",
                "\"wire-bank\"",
                "\"wire-recall\"",
                "\"wire-farm\"",
                "\"local-0\"",
                "\"local-1\"",
            ]
            .iter()
            .any(|id| l.starts_with(&format!("{{\"id\": {id}")))
        })
        .collect();
    assert_eq!(kept, firsts);
}

#[test]
fn stories_list_every_copy_and_follow_the_priority_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[merge]\noutlet_priority = [\"Wire Agency\"]\n").expect("write");
    let input = std::fs::read(fixture("wire.jsonl")).expect("fixture");
    let (code, out, err) = run(
        &[
            "--emit",
            "stories",
            "--config",
            config.to_str().expect("utf8"),
        ],
        &input,
    );
    assert_eq!(code, 0, "{err}");
    let stories: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(stories.len(), 6);
    let port = &stories[0];
    assert_eq!(port["story"], "s1");
    assert_eq!(port["canonical"]["id"], "wire-port");
    assert_eq!(port["canonical"]["outlet"], "Wire Agency");
    let copies = port["copies"].as_array().expect("copies");
    assert_eq!(copies.len(), 5);
    for copy in copies {
        for key in ["id", "outlet", "url", "title", "published", "score"] {
            assert!(copy.get(key).is_some(), "copy lacks {key}: {copy}");
        }
    }
    let canonical_copy = copies
        .iter()
        .find(|c| c["id"] == "wire-port")
        .expect("canonical listed");
    assert_eq!(canonical_copy["score"], 1.0);

    // Without a priority list the fullest clean text wins: the trailer and paywall of the
    // Business Standard copy do not count as text.
    let (_, out, _) = run(&["--emit", "stories"], &input);
    let first: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("line")).expect("json");
    assert_eq!(first["canonical"]["id"], "edit-port");
}

#[test]
fn bad_lines_are_reported_skipped_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rejects = dir.path().join("rejects.jsonl");
    let input = concat!(
        "{\"id\":\"a\",\"body\":\"A fine article about ports and strikes in Valdoria.\"}\n",
        "this is not json\n",
        "{\"body\":\"no id here\"}\n",
        "{\"id\":\"b\"}\n",
        "{\"id\":\"c\",\"body\":\"dated\",\"published\":\"last Tuesday\"}\n",
        "{\"id\":\"d\",\"body\":\"\"}\n",
        "{\"id\":\"a\",\"body\":\"A repeated id with other text entirely, about storks.\"}\n",
    );
    let (code, out, err) = run(
        &[
            "--emit",
            "annotate",
            "--rejects",
            rejects.to_str().expect("utf8"),
        ],
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("line 3") && err.contains("\"id\""), "{err}");
    assert!(err.contains("line 4") && err.contains("\"body\""), "{err}");
    assert!(err.contains("line 5") && err.contains("RFC 3339"), "{err}");
    assert!(err.contains("4 rejected lines"), "{err}");
    assert!(err.contains("1 repeated ids"), "{err}");
    assert!(err.contains("1 empty bodies"), "{err}");
    let kept = std::fs::read_to_string(&rejects).expect("rejects");
    assert_eq!(kept.lines().count(), 4);
    assert!(kept.contains("this is not json"));
    // The empty body and the repeated id are accepted and become stories of their own.
    let stories: BTreeSet<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["dedup"]["story"].as_str().expect("story").to_string()
        })
        .collect();
    assert_eq!(stories.len(), 3);

    let (code, _, err) = run(&["--strict"], input.as_bytes());
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn invalid_utf8_and_huge_lines_are_rejected_not_fatal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[dedup]\nmax_line_bytes = 200\n").expect("write");
    let rejects = dir.path().join("r.jsonl");
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"id\":\"x\",\"body\":\"bad \xff byte\"}\n");
    input.extend_from_slice(
        format!("{{\"id\":\"big\",\"body\":\"{}\"}}\n", "word ".repeat(100)).as_bytes(),
    );
    input.extend_from_slice(b"{\"id\":\"ok\",\"body\":\"fine\"}\n");
    let (code, out, err) = run(
        &[
            "--config",
            config.to_str().expect("utf8"),
            "--rejects",
            rejects.to_str().expect("utf8"),
        ],
        &input,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("UTF-8"), "{err}");
    assert!(err.contains("over the cap"), "{err}");
    assert_eq!(out.lines().count(), 1);
    let kept = std::fs::read(&rejects).expect("rejects");
    assert_eq!(kept.iter().filter(|&&b| b == b'\n').count(), 2);
    assert!(kept.windows(3).any(|w| w == b"big"));
}

fn many_lines(copies: usize) -> Vec<u8> {
    let base = std::fs::read_to_string(fixture("wire.jsonl")).expect("fixture");
    let mut out = String::new();
    for round in 0..copies {
        for line in base.lines() {
            let mut v: serde_json::Value = serde_json::from_str(line).expect("json");
            v["id"] = serde_json::Value::String(format!("{round}-{}", id_string(&v["id"])));
            // Each round is its own set of stories: vary every paragraph.
            let body = v["body"]
                .as_str()
                .expect("body")
                .replace('.', &format!(" r{round}."));
            v["body"] = serde_json::Value::String(body);
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    out.into_bytes()
}

#[test]
fn threads_preserve_order_and_decisions() {
    let input = many_lines(40);
    let (c1, one, _) = run(&["--emit", "annotate"], &input);
    let (c3, three, _) = run(&["--emit", "annotate", "--threads", "3"], &input);
    assert_eq!((c1, c3), (0, 0));
    assert_eq!(one.lines().count(), 40 * 13);
    assert_eq!(one, three);
}

#[test]
fn closed_stdout_exits_quietly() {
    let input = many_lines(300);
    let mut child = bin()
        .args(["dedup", "--emit", "annotate"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let status = child.wait().expect("wait");
    writer.join().expect("writer");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn input_and_output_files_and_config_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.jsonl");
    let (code, _, err) = run(
        &[
            "--input",
            fixture("wire.jsonl").to_str().expect("utf8"),
            "--output",
            out.to_str().expect("utf8"),
            "--quiet",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("out").lines().count(),
        6
    );

    let (code, _, err) = run(&["--input", "/nonexistent/x.jsonl"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/x.jsonl"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[dedup]\nthreshold = 3\nshingles = 2\n").expect("write");
    let (code, _, err) = run(&["--config", bad.to_str().expect("utf8")], b"");
    assert_eq!(code, 1);
    assert!(err.contains("shingles"), "{err}");
    let (code, _, err) = run(&["--threshold", "1.5"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("dedup.threshold"), "{err}");
}
