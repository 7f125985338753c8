//! `syndedup bench` through the real binary, on tiny synthetic corpora. No speed is asserted:
//! only the shape of the report, the quality figures and that the corpus round-trips.

use std::process::{Command, Output};

fn syndedup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn bench_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["bench", "--json"];
    all.extend_from_slice(args);
    let out = syndedup(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not a terminal: no progress bar, nothing on standard error.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn unit(v: &serde_json::Value) -> f64 {
    let x = v.as_f64().expect("a number");
    assert!((0.0..=1.0).contains(&x), "{x} outside [0, 1]");
    x
}

#[test]
fn json_report_has_throughput_stages_memory_and_quality() {
    let v = bench_json(&["--articles", "300"]);
    assert_eq!(v["articles"], 300);
    assert!(v["articles_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["engine_articles_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["mb_per_sec"].as_f64().unwrap() > 0.0);
    for stage in [
        "parse",
        "normalise",
        "shingle",
        "sign",
        "shingle_sign",
        "index_match_merge",
    ] {
        let s = &v["stages"][stage];
        assert!(s["articles_per_sec"].is_number(), "{stage}: {s}");
        assert!(s["mb_per_sec"].is_number(), "{stage}: {s}");
        assert!(s["seconds"].as_f64().unwrap() >= 0.0, "{stage}: {s}");
    }
    let f1 = unit(&v["f1"]);
    unit(&v["precision"]);
    unit(&v["recall"]);
    // The synthetic copies are easy for the default settings; a broken engine or truth is not.
    assert!(f1 > 0.9, "f1 {f1}");
    assert!(v["ari"].is_number());
    if cfg!(target_os = "linux") {
        assert!(v["peak_memory_bytes"].as_u64().unwrap() > 0);
        assert!(v["cpu_seconds"].as_f64().unwrap() >= 0.0);
        assert!(v["main_thread_waited_seconds"].as_f64().unwrap() >= 0.0);
    }
    // Mean article around 4-5 KB.
    let mean = v["bytes"].as_f64().unwrap() / 300.0;
    assert!((3500.0..7000.0).contains(&mean), "mean line {mean} bytes");
}

#[test]
fn threads_do_not_change_the_result() {
    let one = bench_json(&["--articles", "600", "--seed", "9"]);
    let two = bench_json(&["--articles", "600", "--seed", "9", "--threads", "2"]);
    for key in ["stories", "duplicates", "f1", "ari", "bytes"] {
        assert_eq!(one[key], two[key], "{key}");
    }
    assert_eq!(two["threads"], 2);
}

#[test]
fn write_corpus_round_trips_through_input_gold_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let out = syndedup(&[
        "bench",
        "--articles",
        "300",
        "--seed",
        "5",
        "--write-corpus",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let articles = dir.path().join("articles.jsonl");
    let gold = dir.path().join("gold.csv");
    let text = std::fs::read_to_string(&articles).unwrap();
    assert_eq!(text.lines().count(), 300);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["id"].is_string() && v["body"].is_string() && v["published"].is_string());
    }
    let gold_text = std::fs::read_to_string(&gold).unwrap();
    assert_eq!(gold_text.lines().next(), Some("id,cluster"));
    assert_eq!(gold_text.lines().count(), 301);

    let synthetic = bench_json(&["--articles", "300", "--seed", "5"]);
    let from_file = bench_json(&[
        "--input",
        articles.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
    ]);
    assert_eq!(synthetic["f1"], from_file["f1"]);
    assert_eq!(synthetic["stories"], from_file["stories"]);

    let eval = syndedup(&[
        "eval",
        "--articles",
        articles.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--json",
    ]);
    assert!(eval.status.success());
    let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(eval["f1"], synthetic["f1"]);
    assert_eq!(eval["ari"], synthetic["ari"]);
}

#[test]
fn input_without_gold_reports_no_quality() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    std::fs::write(
        &path,
        "{\"id\":1,\"body\":\"one two three four five six\"}\nnot json\n{\"id\":2,\"body\":\"one two three four five six\"}\n",
    )
    .unwrap();
    let v = bench_json(&["--input", path.to_str().unwrap()]);
    assert_eq!(v["articles"], 2);
    assert_eq!(v["rejected_lines"], 1);
    assert_eq!(v["duplicates"], 1);
    assert!(v["f1"].is_null());
}

#[test]
fn bad_shares_are_refused_naming_the_flag() {
    let out = syndedup(&["bench", "--articles", "10", "--copy-share", "1.5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--copy-share"));
    let out = syndedup(&[
        "bench",
        "--articles",
        "10",
        "--copy-share",
        "0.7",
        "--followup-share",
        "0.5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--followup-share"));
}

#[test]
fn table_on_standard_output() {
    let out = syndedup(&["bench", "--articles", "200"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "parse",
        "normalise",
        "index+match+merge",
        "end to end",
        "peak memory",
        "peak RSS of the whole process",
        "bytes per indexed article",
        "streamed in chunks",
        "F1",
    ] {
        assert!(s.contains(needle), "{needle} missing in\n{s}");
    }
}

#[test]
fn streamed_corpus_reports_memory_and_bytes_per_article_without_changing_results() {
    // 300 articles in chunks of 64: five chunks, the last one short.
    let whole = bench_json(&["--articles", "300", "--seed", "3"]);
    let streamed = bench_json(&["--articles", "300", "--seed", "3", "--chunk-articles", "64"]);
    let two = bench_json(&[
        "--articles",
        "300",
        "--seed",
        "3",
        "--chunk-articles",
        "64",
        "--threads",
        "2",
    ]);
    for key in ["articles", "stories", "duplicates", "f1", "ari", "bytes"] {
        assert_eq!(whole[key], streamed[key], "{key}");
        assert_eq!(whole[key], two[key], "{key}");
    }
    assert_eq!(streamed["streamed"], true);
    assert_eq!(streamed["chunk_articles"], 64);
    assert_eq!(whole["chunk_articles"], 4096);

    // At most one chunk of the corpus is held: about a fifth of it here, all of it in one chunk.
    let bytes = streamed["corpus_bytes"].as_u64().unwrap();
    assert_eq!(bytes, streamed["bytes"].as_u64().unwrap());
    let held = streamed["corpus_held_bytes"].as_u64().unwrap();
    assert!(held > 0 && held < bytes / 2, "held {held} of {bytes}");
    assert!(whole["corpus_held_bytes"].as_u64().unwrap() >= bytes);

    // Bytes per indexed article: the engine's index over the articles it holds.
    let indexed = streamed["indexed_articles"].as_u64().unwrap();
    assert!(indexed > 0 && indexed <= 300, "indexed {indexed}");
    let index = streamed["index_bytes"].as_u64().unwrap();
    let per = streamed["bytes_per_article"].as_u64().unwrap();
    assert_eq!(per, index / indexed);
    assert!((100..100_000).contains(&per), "{per} bytes per article");
    assert!(streamed["bands"].as_u64().unwrap() > 0 && streamed["rows"].as_u64().unwrap() > 0);

    if cfg!(target_os = "linux") {
        let peak = streamed["peak_rss_bytes"].as_u64().unwrap();
        let run = streamed["peak_memory_bytes"].as_u64().unwrap();
        assert!(peak >= run && run > 0, "peak {peak}, run {run}");
        // A small run of a small binary: well under a gigabyte.
        assert!(peak < 1 << 30, "peak {peak}");
    }
}

#[test]
fn streamed_input_file_matches_the_synthetic_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = syndedup(&[
        "bench",
        "--articles",
        "200",
        "--seed",
        "4",
        "--write-corpus",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let articles = dir.path().join("articles.jsonl");
    let gold = dir.path().join("gold.csv");
    let synthetic = bench_json(&["--articles", "200", "--seed", "4"]);
    let from_file = bench_json(&[
        "--input",
        articles.to_str().unwrap(),
        "--gold",
        gold.to_str().unwrap(),
        "--chunk-articles",
        "50",
    ]);
    for key in [
        "articles",
        "stories",
        "f1",
        "bytes_per_article",
        "indexed_articles",
    ] {
        assert_eq!(synthetic[key], from_file[key], "{key}");
    }
    // The file's bytes are the synthetic lines' plus a newline each.
    assert_eq!(
        synthetic["bytes"].as_u64().unwrap() + 200,
        from_file["bytes"].as_u64().unwrap()
    );
}
