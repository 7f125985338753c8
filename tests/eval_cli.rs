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

/// Writes `articles` (id, outlet, title, body) and `gold` (id, cluster) into `dir`; returns the
/// two paths.
fn write_fixture(
    dir: &std::path::Path,
    articles: &[(String, &str, &str, String)],
    gold: &[(String, &str)],
) -> (PathBuf, PathBuf) {
    let a = dir.join("articles.jsonl");
    let g = dir.join("gold.jsonl");
    let mut lines = String::new();
    for (id, outlet, title, body) in articles {
        lines.push_str(
            &serde_json::json!({"id": id, "outlet": outlet, "title": title, "body": body})
                .to_string(),
        );
        lines.push('\n');
    }
    let mut labels = String::new();
    for (id, cluster) in gold {
        labels.push_str(&serde_json::json!({"id": id, "cluster": cluster}).to_string());
        labels.push('\n');
    }
    std::fs::write(&a, lines).expect("write articles");
    std::fs::write(&g, labels).expect("write gold");
    (a, g)
}

#[test]
fn recall_by_size_and_the_split_clusters() {
    // Gold: "bridge" of 3, where b3 is a different text (split off, found 1 of 3 pairs);
    // "mayor" of 2, a wire text and its copy (found whole); "flood" of 10 copies of one text
    // (the grouped "9+" row, found whole); "lone" a singleton (no row).
    let bridge = "Engineers closed the old river bridge in Marlow on Monday after divers found that two of its stone piers had shifted during the spring floods, sending lorries on a forty minute detour through the hills.\nThe county said a temporary steel crossing could be in place by the end of the summer, while a full rebuild would take at least three years and cost far more than the repair budget allows.";
    let other = "A new bus route will link the Marlow railway station with the hospital and the university campus from September, the transport office said, with buses every ten minutes at peak times and a night service at weekends.";
    let mayor = "The mayor of Eastfield resigned on Wednesday evening, two weeks after auditors questioned payments from the city budget to a consulting firm run by her former campaign manager, and said she would fight the claims in court.\nThe deputy mayor will lead the council until a special election, which must be held within ninety days under the city charter.";
    let flood = "Heavy rain flooded the lower town of Selby overnight, forcing the evacuation of two care homes and closing the main road to the coast, while firefighters pumped water from dozens of cellars until the early morning.\nForecasters expect the river to peak on Thursday afternoon and have warned residents in the low-lying streets to move valuables upstairs.";
    let lone = "The city library will stay open until midnight during the exam weeks in June, the culture department announced, after students collected more than four thousand signatures asking for longer opening hours.";
    let long_title =
        "A headline that goes on and on well past the sixty character cut of the split list";
    let mut articles = vec![
        ("b1".to_string(), "Wire", long_title, bridge.to_string()),
        (
            "b2".to_string(),
            "Valley News",
            "Marlow bridge shut",
            format!("By Sam Lee, Valley News\n{bridge}"),
        ),
        ("b3".to_string(), "Wire", "New bus route", other.to_string()),
        ("m1".to_string(), "Wire", "Mayor quits", mayor.to_string()),
        (
            "m2".to_string(),
            "City Post",
            "Eastfield mayor resigns",
            format!("{mayor}\nThis story was provided by a wire service."),
        ),
        ("l1".to_string(), "Wire", "Library hours", lone.to_string()),
    ];
    for i in 0..10 {
        articles.push((
            format!("f{i}"),
            [
                "Wire",
                "Coast FM",
                "Selby Times",
                "North Echo",
                "Daily Star",
            ][i % 5],
            "Selby flooded",
            flood.to_string(),
        ));
    }
    let mut gold: Vec<(String, &str)> = vec![
        ("b1".into(), "bridge"),
        ("b2".into(), "bridge"),
        ("b3".into(), "bridge"),
        ("m1".into(), "mayor"),
        ("m2".into(), "mayor"),
        ("l1".into(), "lone"),
    ];
    gold.extend((0..10).map(|i| (format!("f{i}"), "flood")));
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, g) = write_fixture(dir.path(), &articles, &gold);
    let base = [
        "eval",
        "--articles",
        a.to_str().expect("utf8"),
        "--gold",
        g.to_str().expect("utf8"),
    ];

    let out = syndedup(&[&base[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // The existing keys are untouched.
    assert_eq!(v["pairs"]["true_positives"], 1 + 1 + 45, "{v}");
    assert_eq!(v["pairs"]["false_negatives"], 2, "{v}");
    assert_eq!(
        v["by_size"],
        serde_json::json!([
            {"size": 2, "clusters": 1, "true_pairs": 1, "found_pairs": 1, "recall": 1.0, "whole": 1},
            {"size": 3, "clusters": 1, "true_pairs": 3, "found_pairs": 1, "recall": 1.0 / 3.0, "whole": 0},
            {"size": 9, "label": "9+", "clusters": 1, "true_pairs": 45, "found_pairs": 45, "recall": 1.0, "whole": 1},
        ]),
        "{v}"
    );
    let splits = v["split_clusters"].as_array().expect("array");
    assert_eq!(splits.len(), 1, "{v}");
    let split = &splits[0];
    assert_eq!(split["cluster"], "bridge");
    assert_eq!(split["size"], 3);
    assert_eq!(split["stories"], 2);
    assert_eq!(split["split_off"], 1);
    let members = split["members"].as_array().expect("array");
    let ids: Vec<&str> = members.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b1", "b2", "b3"], "the majority story first");
    assert_eq!(members[0]["story"], members[1]["story"]);
    assert_ne!(members[0]["story"], members[2]["story"]);
    assert!(members[2]["story"].as_str().unwrap().starts_with('s'));
    assert_eq!(members[1]["outlet"], "Valley News");
    assert_eq!(members[2]["title"], "New bus route");
    assert_eq!(
        members[0]["title"],
        "A headline that goes on and on well past the sixty character..."
    );

    // The human report: the table only with --by-size, the split list always.
    let out = syndedup(&[&base[..], &["--by-size"]].concat());
    assert!(out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("recall by gold cluster size"), "{report}");
    assert!(
        report.contains("      2         1           1            1  1.0000       1\n"),
        "{report}"
    );
    assert!(
        report.contains("      3         1           3            1  0.3333       0\n"),
        "{report}"
    );
    assert!(
        report.contains("     9+         1          45           45  1.0000       1\n"),
        "{report}"
    );
    assert!(
        report.contains("bridge: 3 articles in 2 stories, 1 split off"),
        "{report}"
    );
    let (_, split_list) = report
        .split_once("gold clusters split across stories")
        .expect("the split list");
    let b3 = split_list
        .lines()
        .find(|l| l.contains(" b3 "))
        .expect("a line for b3");
    assert!(b3.trim_start().starts_with('*'), "{b3}");
    assert!(b3.contains("\"New bus route\""), "{b3}");
    let plain = syndedup(&base);
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(!plain.contains("recall by gold cluster size"), "{plain}");
    assert!(
        plain.contains("gold clusters split across stories (1)"),
        "{plain}"
    );
}
