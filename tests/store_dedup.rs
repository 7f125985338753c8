//! `syndedup dedup --state` and `syndedup stories` through the real binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

const TALKS: &str = "Talks between Russia and the United States will start immediately after the New Year holidays, the top diplomat announced on Monday in a televised interview with reporters in the capital.";
const RATES: &str = "The central bank raised its key interest rate by half a percentage point on Thursday, the largest increase in two decades, to fight inflation that shows no sign of slowing this year.";
const QUAKE: &str = "A powerful earthquake struck off the coast early on Friday, shaking buildings in the capital and prompting a tsunami warning for several coastal provinces, officials said in a statement.";
const FLOOD: &str = "Heavy rain flooded dozens of villages along the river valley over the weekend, forcing thousands of residents to leave their homes as rescue teams worked through the night with boats.";

fn line(id: &str, outlet: &str, published: &str, body: &str) -> String {
    serde_json::json!({"id": id, "outlet": outlet, "published": published, "body": body, "extra": [1]})
        .to_string()
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn syndedup");
    // Feed standard input from another thread: the child writes output while it reads, and
    // a full pipe on both sides would otherwise block both processes.
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_string();
    let feeder = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder").expect("write stdin");
    output
}

fn ok(args: &[&str], stdin: &str) -> (Vec<serde_json::Value>, String) {
    let out = run(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let lines = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    (lines, stderr)
}

fn ids(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_string())
        .collect()
}

fn config(dir: &Path, extra: &str) -> String {
    let path = dir.join("syndedup.toml");
    std::fs::write(&path, format!("[store]\npath = \"state.db\"\n{extra}")).expect("config");
    path.display().to_string()
}

#[test]
fn two_runs_over_overlapping_input_emit_each_story_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let db = db.to_str().expect("path");
    let first = [
        line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
        line(
            "b1",
            "Paper",
            "2024-03-01T11:00:00Z",
            &format!("{TALKS} Read more on our site."),
        ),
        line("c1", "Wire", "2024-03-01T12:00:00Z", RATES),
    ]
    .join("\n");
    let (out, _) = ok(&["dedup", "--state", db], &first);
    assert_eq!(ids(&out), ["a1", "c1"]);
    assert_eq!(
        out[0]["extra"],
        serde_json::json!([1]),
        "lines pass through"
    );

    // The second input repeats c1, brings a copy of c1 and a copy of a1, and one new story.
    let second = [
        line("c1", "Wire", "2024-03-01T12:00:00Z", RATES),
        line(
            "d1",
            "Daily",
            "2024-03-01T13:00:00Z",
            &format!("{RATES} Subscribe now."),
        ),
        line("e1", "Daily", "2024-03-01T13:30:00Z", TALKS),
        line("f1", "Wire", "2024-03-01T14:00:00Z", QUAKE),
    ]
    .join("\n");
    let (out, stderr) = ok(&["dedup", "--state", db], &second);
    assert_eq!(ids(&out), ["f1"], "only the new story is emitted");
    assert!(stderr.contains("1 already seen"), "{stderr}");
    assert!(stderr.contains("3 articles"), "{stderr}");

    // Annotations after a restart carry the story ids of the first run.
    let (out, stderr) = ok(
        &["dedup", "--state", db, "--emit", "annotate"],
        &[
            line("g1", "Tribune", "2024-03-01T15:00:00Z", QUAKE),
            line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
        ]
        .join("\n"),
    );
    assert_eq!(ids(&out), ["g1"], "a1 was seen before and is skipped");
    assert_eq!(out[0]["dedup"]["story"], "s3");
    assert_eq!(out[0]["dedup"]["duplicate_of"], "f1");
    assert!(stderr.contains("1 already seen"), "{stderr}");

    // The same input once more: nothing new.
    let (out, stderr) = ok(&["dedup", "--state", db], &second);
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.contains("4 already seen"), "{stderr}");
}

#[test]
fn an_edited_item_is_evaluated_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let db = db.to_str().expect("path");
    let (out, _) = ok(
        &["dedup", "--state", db],
        &line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
    );
    assert_eq!(ids(&out), ["a1"]);
    // Same outlet and id, new text: not "already seen"; it starts its own story.
    let (out, stderr) = ok(
        &["dedup", "--state", db, "--emit", "annotate"],
        &line("a1", "Wire", "2024-03-01T10:05:00Z", FLOOD),
    );
    assert!(!stderr.contains("already seen"), "{stderr}");
    assert_eq!(ids(&out), ["a1"]);
    assert_eq!(out[0]["dedup"]["story"], "s2");
    // The same id from another outlet is another item.
    let (out, _) = ok(
        &["dedup", "--state", db, "--emit", "annotate"],
        &line("a1", "Paper", "2024-03-01T10:06:00Z", FLOOD),
    );
    assert_eq!(out[0]["dedup"]["story"], "s2");
    assert_eq!(out[0]["dedup"]["duplicate_of"], "a1");
}

#[test]
fn emit_stories_lists_this_runs_stories_and_marks_updates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let db = db.to_str().expect("path");
    let (out, _) = ok(
        &["dedup", "--state", db, "--emit", "stories"],
        &[
            line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
            line("c1", "Wire", "2024-03-01T12:00:00Z", RATES),
        ]
        .join("\n"),
    );
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|s| s.get("update").is_none()), "{out:?}");

    // A fuller copy of a1 arrives later: it becomes canonical; the story is an update.
    let fuller =
        format!("{TALKS} The talks are expected to last several weeks and cover arms control.");
    let (out, _) = ok(
        &["dedup", "--state", db, "--emit", "stories"],
        &[
            line("b1", "Paper", "2024-03-02T09:00:00Z", &fuller),
            line("f1", "Wire", "2024-03-02T10:00:00Z", QUAKE),
        ]
        .join("\n"),
    );
    assert_eq!(out.len(), 2, "{out:?}");
    let update = &out[0];
    assert_eq!(update["story"], "s1");
    assert_eq!(update["update"], true);
    assert_eq!(update["canonical"]["id"], "b1");
    let copies: Vec<&str> = update["copies"]
        .as_array()
        .expect("copies")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(copies, ["a1", "b1"]);
    assert_eq!(out[1]["story"], "s3");
    assert!(out[1].get("update").is_none());

    // A copy that does not change the canonical still lists the story again, as an update,
    // with the canonical as it came in during the earlier run.
    let (out, _) = ok(
        &["dedup", "--state", db, "--emit", "stories"],
        &line("g1", "Daily", "2024-03-02T11:00:00Z", RATES),
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["story"], "s2");
    assert_eq!(out[0]["update"], true);
    assert_eq!(out[0]["canonical"]["id"], "c1");
    assert_eq!(out[0]["canonical"]["extra"], serde_json::json!([1]));
}

#[test]
fn stories_lists_the_store_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), "");
    let db = dir.path().join("state.db");
    let db = db.to_str().expect("path");
    ok(
        &["dedup", "--state", db],
        &[
            line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
            line(
                "b1",
                "Paper",
                "2024-03-01T11:00:00Z",
                &format!("{TALKS} Read more."),
            ),
            line("c1", "Wire", "2024-03-02T12:00:00Z", RATES),
            line("f1", "Wire", "2024-03-03T12:00:00Z", QUAKE),
        ]
        .join("\n"),
    );
    let (out, _) = ok(&["stories", "--config", &cfg, "--format", "json"], "");
    let stories: Vec<&str> = out
        .iter()
        .map(|s| s["story"].as_str().expect("id"))
        .collect();
    assert_eq!(stories, ["s3", "s2", "s1"]);
    let s1 = &out[2];
    assert_eq!(s1["canonical"]["id"], "b1", "the longer copy is canonical");
    let copies = s1["copies"].as_array().expect("copies");
    assert_eq!(copies.len(), 2);
    for key in ["id", "outlet", "url", "title", "published", "score"] {
        assert!(copies[0].get(key).is_some(), "copy lacks {key}: {s1}");
    }
    assert_eq!(copies[0]["outlet"], "Wire");
    assert_eq!(copies[1]["score"], 1.0);
    assert!(copies[0]["score"].as_f64().expect("score") > 0.8);

    let (out, _) = ok(
        &[
            "stories", "--config", &cfg, "--format", "json", "--limit", "1",
        ],
        "",
    );
    assert_eq!(out.len(), 1);
    let (out, _) = ok(
        &[
            "stories",
            "--config",
            &cfg,
            "--format",
            "json",
            "--since",
            "2024-03-02",
        ],
        "",
    );
    assert_eq!(out.len(), 2);

    let table = run(&["stories", "--config", &cfg], "");
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).expect("utf8");
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert!(rows[0].starts_with("STORY"), "{table}");
    assert!(
        rows[3].starts_with("s1") && rows[3].contains("Paper"),
        "{table}"
    );

    let bad = run(&["stories", "--config", &cfg, "--since", "soonish"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("soonish"));
    let missing = config(dir.path(), "").replace("syndedup.toml", "other.toml");
    std::fs::write(&missing, "[store]\npath = \"none.db\"\n").expect("config");
    let err = run(&["stories", "--config", &missing], "");
    assert!(!err.status.success());
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        stderr.contains("none.db") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn old_articles_stop_matching_and_old_records_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(
        dir.path(),
        "[dedup]\nwindow = \"1day\"\nretention = \"2days\"\n",
    );
    let db = dir.path().join("state.db");
    let db = db.to_str().expect("path");
    ok(
        &["dedup", "--state", db, "--config", &cfg],
        &line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
    );
    // A day and a half later a copy is past the window: it starts a story of its own. (An
    // identical text would still join: the engine keeps identical texts together regardless.)
    let copy = format!("{TALKS} Read more.");
    let (out, _) = ok(
        &[
            "dedup", "--state", db, "--config", &cfg, "--emit", "annotate",
        ],
        &line("b1", "Paper", "2024-03-02T22:00:00Z", &copy),
    );
    assert_eq!(out[0]["dedup"]["story"], "s2");
    assert_eq!(out[0]["dedup"]["duplicate_of"], serde_json::Value::Null);
    // Within the window it still matches.
    let (out, _) = ok(
        &[
            "dedup", "--state", db, "--config", &cfg, "--emit", "annotate",
        ],
        &line("c1", "Daily", "2024-03-03T09:00:00Z", &copy),
    );
    assert_eq!(out[0]["dedup"]["story"], "s2");
    let (before, _) = ok(&["stories", "--config", &cfg, "--format", "json"], "");
    assert_eq!(before.len(), 2);

    // Four days on, the records of March 1 and 2 are past retention.
    ok(
        &["dedup", "--state", db, "--config", &cfg],
        &line("f1", "Wire", "2024-03-05T08:00:00Z", QUAKE),
    );
    let (after, _) = ok(&["stories", "--config", &cfg, "--format", "json"], "");
    let stories: Vec<&str> = after
        .iter()
        .map(|s| s["story"].as_str().expect("id"))
        .collect();
    assert_eq!(
        stories,
        ["s3", "s2"],
        "s1 (March 1) is gone, s2 keeps its March 3 copy"
    );
    assert_eq!(after[1]["copies"].as_array().expect("copies").len(), 1);
    // a1's record is gone, so it is processed again, as a new story with a new id.
    let (out, stderr) = ok(
        &[
            "dedup", "--state", db, "--config", &cfg, "--emit", "annotate",
        ],
        &line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
    );
    assert!(!stderr.contains("already seen"), "{stderr}");
    assert_eq!(out[0]["dedup"]["story"], "s4");
}

#[test]
fn a_second_writer_is_refused_with_the_database_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let holder = syndedup::store::SqliteStore::open(&db).expect("first writer");
    let out = run(
        &["dedup", "--state", db.to_str().expect("path")],
        &line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing may be emitted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    // Readers are welcome while the writer runs.
    let cfg = config(dir.path(), "");
    let list = run(&["stories", "--config", &cfg], "");
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    drop(holder);
    ok(
        &["dedup", "--state", db.to_str().expect("path")],
        &line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
    );
}

#[test]
fn threads_do_not_change_what_state_skips_or_emits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input: String = [
        line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
        line("c1", "Wire", "2024-03-01T12:00:00Z", RATES),
        line("a1", "Wire", "2024-03-01T10:00:00Z", TALKS),
        line(
            "d1",
            "Daily",
            "2024-03-01T13:00:00Z",
            &format!("{RATES} Subscribe now."),
        ),
        line("f1", "Wire", "2024-03-01T14:00:00Z", QUAKE),
    ]
    .join("\n");
    let mut outputs = Vec::new();
    for threads in ["1", "3"] {
        let db = dir.path().join(format!("state-{threads}.db"));
        let db = db.to_str().expect("path");
        let (out, stderr) = ok(&["dedup", "--state", db, "--threads", threads], &input);
        assert!(stderr.contains("1 already seen"), "{stderr}");
        outputs.push(ids(&out));
    }
    assert_eq!(outputs[0], ["a1", "c1", "f1"]);
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn runs_longer_than_one_transaction_skip_repeats_on_both_sides_of_a_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let db = db.to_str().expect("path");
    // Every word is unique to its article: no two articles match.
    let body = |i: usize| -> String {
        (0..40)
            .map(|w| format!("w{i}x{w}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut lines: Vec<String> = (0..2100)
        .map(|i| line(&format!("n{i}"), "Wire", "2024-03-01T10:00:00Z", &body(i)))
        .collect();
    // Repeat lines from the first committed transaction and from the open one.
    let repeats: Vec<String> = (0..50)
        .chain(2050..2100)
        .map(|i| lines[i].clone())
        .collect();
    lines.extend(repeats);
    let (out, stderr) = ok(&["dedup", "--state", db, "--quiet"], &lines.join("\n"));
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(out.len(), 2100);
    let (out, stderr) = ok(&["dedup", "--state", db], &lines.join("\n"));
    assert!(out.is_empty());
    assert!(stderr.contains("2200 already seen"), "{stderr}");
}

#[test]
fn the_default_store_lives_in_the_xdg_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("plain.toml");
    std::fs::write(&cfg, "[dedup]\nthreshold = 0.7\n").expect("config");
    let out = Command::new(BIN)
        .args(["stories", "--config", cfg.to_str().expect("path")])
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = dir.path().join("syndedup").join("syndedup.db");
    assert!(
        stderr.contains(&expected.display().to_string()) && stderr.contains("does not exist"),
        "{stderr}"
    );
}

/// The store keeps `duplicate_of` as an item key (outlet and id) as `run` does, also across
/// runs and for outlets whose names prefix each other; `--emit annotate` still shows the id.
#[test]
fn the_state_stores_duplicate_of_as_an_item_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state.db");
    let db_arg = db.to_str().expect("path");
    let first = [
        line("a1", "Reuters:World", "2024-03-01T10:00:00Z", TALKS),
        line("r1", "Wire", "2024-03-01T10:30:00Z", RATES),
        line(
            "r2",
            "Paper",
            "2024-03-01T11:00:00Z",
            &format!("{RATES} Read more on our site."),
        ),
    ]
    .join("\n");
    let (out, _) = ok(&["dedup", "--state", db_arg, "--emit", "annotate"], &first);
    assert_eq!(
        out[2]["dedup"]["duplicate_of"], "r1",
        "annotate keeps the bare id"
    );
    // A later run: the story's first item comes from the store.
    let second = line(
        "a1",
        "Reuters",
        "2024-03-01T12:00:00Z",
        &format!("{TALKS} Read more on our site."),
    );
    let (out, _) = ok(&["dedup", "--state", db_arg, "--emit", "annotate"], &second);
    assert_eq!(out[0]["dedup"]["duplicate_of"], "a1");
    let conn = rusqlite::Connection::open(&db).expect("open");
    let stored = |outlet: &str, id: &str| -> Option<serde_json::Value> {
        conn.query_row(
            "SELECT duplicate_of FROM item WHERE outlet = ?1 AND item_id = ?2",
            [outlet, id],
            |r| r.get::<_, Option<String>>(0),
        )
        .expect("row")
        .map(|s| serde_json::from_str(&s).expect("a JSON key"))
    };
    assert_eq!(stored("Reuters:World", "a1"), None);
    assert_eq!(
        stored("Paper", "r2"),
        Some(serde_json::json!({"outlet": "Wire", "id": "r1"}))
    );
    assert_eq!(
        stored("Reuters", "a1"),
        Some(serde_json::json!({"outlet": "Reuters:World", "id": "a1"}))
    );
}
