//! `syndedup eval` through the real binary, on a hand-made fixture whose scores were worked out
//! by hand: gold {a1,a2,a3} {a4}; the engine pairs only a1 (wire) with a2 (its syndicated copy),
//! so 1 true pair, 0 false merges, 2 misses: P = 1, R = 1/3, F1 = 1/2, and
//! ARI = (1 - 3/6) / (2 - 3/6) = 1/3.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/eval")
        .join(name)
}

fn syndedup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn eval_json(gold: &str) -> serde_json::Value {
    let articles = fixture("articles.jsonl");
    let gold = fixture(gold);
    let out = syndedup(&[
        "eval",
        "--articles",
        articles.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn close(v: &serde_json::Value, want: f64) -> bool {
    (v.as_f64().expect("a number") - want).abs() < 1e-9
}

#[test]
fn scores_match_the_hand_computed_values() {
    let v = eval_json("gold.jsonl");
    assert!(close(&v["precision"], 1.0), "{v}");
    assert!(close(&v["recall"], 1.0 / 3.0), "{v}");
    assert!(close(&v["f1"], 0.5), "{v}");
    assert!(close(&v["ari"], 1.0 / 3.0), "{v}");
    assert_eq!(v["pairs"]["true_positives"], 1);
    assert_eq!(v["pairs"]["false_positives"], 0);
    assert_eq!(v["pairs"]["false_negatives"], 2);
    assert_eq!(v["gold_clusters"], 2);
    assert_eq!(v["predicted_clusters"], 3);
}

#[test]
fn bad_lines_and_unmatched_ids_are_skipped_and_counted() {
    let v = eval_json("gold.jsonl");
    assert_eq!(v["articles"], 5);
    assert_eq!(v["scored"], 4);
    assert_eq!(v["rejected_lines"], 1, "the non-JSON article line");
    assert_eq!(v["unlabelled"], 1, "a5 has no gold label");
    assert_eq!(v["gold_without_article"], 1, "zz has no article");
    assert_eq!(v["gold_problems"], 1, "the a9 line has no cluster");
}

#[test]
fn csv_and_json_lines_gold_agree() {
    let a = eval_json("gold.jsonl");
    let b = eval_json("gold.csv");
    for key in [
        "precision",
        "recall",
        "f1",
        "ari",
        "pairs",
        "gold_problems",
        "scored",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
}

#[test]
fn diagnostics_name_the_misses_and_the_largest_story() {
    let v = eval_json("gold.jsonl");
    assert_eq!(v["false_merges"].as_array().unwrap().len(), 0);
    let misses = v["misses"].as_array().unwrap();
    assert_eq!(misses.len(), 2);
    for m in misses {
        let ids = [
            m["a"]["id"].as_str().unwrap(),
            m["b"]["id"].as_str().unwrap(),
        ];
        assert!(ids.contains(&"a3"), "{m}");
        assert!(m["score"].as_f64().unwrap() < 0.5, "{m}");
        assert!(m["a"]["title"].is_string());
    }
    let largest = &v["largest_clusters"][0];
    assert_eq!(largest["size"], 2);
    assert_eq!(largest["gold_clusters"], 1);
    assert_eq!(
        largest["titles"][0],
        "Kingsport ferry terminal closed after ramp cracks"
    );
}

#[test]
fn human_report_and_skipped_line_messages() {
    let articles = fixture("articles.jsonl");
    let gold = fixture("gold.csv");
    let out = syndedup(&[
        "eval",
        "--articles",
        articles.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("pairwise precision 1.0000  recall 0.3333  F1 0.5000"),
        "{stdout}"
    );
    assert!(stdout.contains("adjusted Rand index 0.3333"), "{stdout}");
    assert!(stdout.contains("worst misses"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("articles.jsonl:4: not a JSON object"),
        "{stderr}"
    );
    assert!(
        stderr.contains("gold.csv:6: expected two fields"),
        "{stderr}"
    );
}

#[test]
fn a_bad_threshold_is_an_error_naming_the_key() {
    // --threshold and friends go through the same engine_config as `dedup`: a bad value is an
    // error naming the key.
    let articles = fixture("articles.jsonl");
    let gold = fixture("gold.csv");
    let out = syndedup(&[
        "eval",
        "--articles",
        articles.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--threshold",
        "1.5",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("threshold"), "{stderr}");
}

#[test]
fn missing_files_are_clear_errors() {
    let articles = fixture("articles.jsonl");
    let out = syndedup(&[
        "eval",
        "--articles",
        articles.to_str().unwrap(),
        "--gold",
        "/nonexistent/gold.csv",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open gold file /nonexistent/gold.csv"),
        "{stderr}"
    );
}

#[test]
fn the_report_shows_what_the_learner_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let articles = dir.path().join("a.jsonl");
    let gold = dir.path().join("g.csv");
    let mut lines = String::new();
    let mut labels = String::from("id,cluster\n");
    for i in 0..12 {
        let body = format!(
            "Enter City and State or Zip Code\nStory number {i} tells of event {i} in town {i} with details {i} and more words {i}.\nRare line {}",
            i % 6
        );
        lines.push_str(
            &serde_json::json!({"id": format!("a{i}"), "outlet": "Site", "body": body}).to_string(),
        );
        lines.push('\n');
        labels.push_str(&format!("a{i},c{i}\n"));
    }
    std::fs::write(&articles, lines).expect("write");
    std::fs::write(&gold, labels).expect("write");
    let out = syndedup(&[
        "eval",
        "--json",
        "--articles",
        articles.to_str().expect("utf8"),
        "--gold",
        gold.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let learned = v["learned_boilerplate"].as_array().expect("array");
    assert_eq!(v["learned_boilerplate_paragraphs"], 1, "{v}");
    assert_eq!(learned[0]["outlet"], "Site");
    assert_eq!(learned[0]["text"], "Enter City and State or Zip Code");
    assert_eq!(learned[0]["items"], 12);
}
