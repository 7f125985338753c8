//! `syndedup explain` through the real binary, on invented articles written into a temporary
//! directory: a wire story, a copy of it wrapped in page chrome, and a live blog that carries the
//! story in its middle.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn syndedup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The wire story: five long paragraphs.
const WIRE: &[&str] = &[
    "The regional water board voted late on Thursday to ration irrigation supplies for the coming season, after a dry winter left the three main reservoirs at barely a third of their usual level.",
    "Farmers in the valley will receive sixty percent of their normal allocation under the plan, which the board described as painful but necessary to keep drinking water flowing to towns downstream.",
    "Board chair Miriam Okafor told a packed meeting hall that the decision had been delayed twice in the hope of late storms, but the forecasts offered little relief before the planting season begins.",
    "Growers of almonds and stone fruit said the cut would force them to leave some orchards unwatered, and several warned that smaller family operations might not survive a second year of shortages.",
    "The board will review the allocation in May, when engineers expect to have a clearer picture of snowmelt from the northern ranges and of groundwater levels measured in the spring survey.",
];

/// Unrelated long paragraphs for the live blog's top.
const BLOG_TOP: &[&str] = &[
    "Good morning and welcome to our rolling coverage of the day's news from around the state, where we will bring you updates on traffic, weather, courts and politics as they happen throughout the day.",
    "Police have reopened the eastbound lanes of the coastal highway after a lorry shed its load of timber near the harbour junction early this morning, though drivers are still being warned about delays.",
    "The city's library service announced it will extend opening hours at four branches from next month, funded by a grant from a local foundation that supports reading programmes for young children.",
    "A magistrate adjourned the fraud hearing of a former council treasurer until next week so that defence lawyers could examine thousands of pages of bank records handed over only on Monday afternoon.",
    "Forecasters expect a warm and windy afternoon across the inland districts, with a high fire danger rating issued for the plains and a total ban on outdoor burning in place until Sunday evening.",
    "Ticket sales for the autumn music festival opened at nine o'clock and the organisers said the first two days had already sold out within an hour, with more tickets to be released in the coming weeks.",
    "The state's health department reported a small rise in hospital admissions for respiratory illness over the past week and urged older residents to book their seasonal vaccinations at a local pharmacy.",
    "Transport officials confirmed that the new tram line through the northern suburbs will open a month later than planned, after safety testing found problems with signalling equipment at two stations.",
];

fn line(id: &str, outlet: &str, title: &str, published: &str, body: &str) -> String {
    serde_json::json!({
        "id": id,
        "outlet": outlet,
        "title": title,
        "published": published,
        "body": body,
    })
    .to_string()
}

/// Writes the fixture into `dir` and returns its path.
fn fixture(dir: &Path, extra: &[String]) -> PathBuf {
    let wire = WIRE.join("\n\n");
    let wrapped = [
        "Enter City and State or Zip Code",
        "Weather | Traffic | Sports",
        "Farmland near the main reservoir lies dry and cracked on a hot afternoon outside the valley town on Wednesday, March 6, 2024. (AP Photo/Jane Doe)",
    ]
    .iter()
    .copied()
    .chain(WIRE.iter().copied())
    .chain(["Related Content", "Copyright 2024 The Associated Press. All rights reserved."])
    .collect::<Vec<_>>()
    .join("\n");
    let blog: Vec<&str> = BLOG_TOP[..6]
        .iter()
        .chain(WIRE)
        .chain(&BLOG_TOP[6..])
        .copied()
        .collect();
    let mut lines = vec![
        line(
            "w1",
            "wire.example",
            "Water board rations irrigation",
            "2024-03-07T22:00:00Z",
            &wire,
        ),
        line(
            "c1",
            "local.example",
            "Water board rations irrigation - Local News",
            "2024-03-08T01:30:00Z",
            &wrapped,
        ),
        "not json at all".to_string(),
        line(
            "l1",
            "blog.example",
            "Live: the day's news",
            "2024-03-08T06:00:00Z",
            &blog.join("\n"),
        ),
    ];
    lines.extend_from_slice(extra);
    let path = dir.join("articles.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write fixture");
    path
}

fn explain_json(path: &Path, a: &str, b: &str) -> serde_json::Value {
    let out = syndedup(&["explain", "--input", path.to_str().unwrap(), a, b, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn paragraph<'a>(side: &'a serde_json::Value, starts: &str) -> &'a serde_json::Value {
    side["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .iter()
        .find(|p| p["text"].as_str().is_some_and(|t| t.starts_with(starts)))
        .unwrap_or_else(|| panic!("no paragraph starting {starts:?} in {side}"))
}

#[test]
fn a_chrome_wrapped_copy_is_the_same_story_and_its_chrome_is_set_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path(), &[]);
    let v = explain_json(&path, "w1", "c1");
    assert_eq!(v["same_story"], true, "{v}");
    assert_eq!(v["same_story_in_run"], true, "{v}");
    let rule = v["rule"].as_str().expect("rule");
    assert!(rule == "containment" || rule == "jaccard", "{rule}");
    assert!(v["score"].as_f64().expect("a score") >= 0.8, "{v}");
    assert_eq!(v["shortfalls"], serde_json::json!([]));
    assert_eq!(v["lead"], true);
    assert!(v["proposed"]["band"].is_boolean() && v["proposed"]["anchor"].is_boolean());
    assert!(
        v["proposed"]["band"] == true || v["proposed"]["anchor"] == true,
        "{v}"
    );
    for key in [
        "jaccard",
        "containment",
        "containment_a",
        "containment_b",
        "length_ratio",
    ] {
        assert!(v[key].is_number(), "{key}: {v}");
    }
    assert_eq!(v["a"]["id"], "w1");
    assert_eq!(v["b"]["outlet"], "local.example");
    assert_eq!(v["a"]["story"], v["b"]["story"]);

    let b = &v["b"];
    let widget = paragraph(b, "Enter City and State");
    assert_eq!(widget["matched"], false, "{widget}");
    assert!(widget["set_aside"].is_string(), "{widget}");
    let caption = paragraph(b, "Farmland near the main reservoir");
    assert_eq!(caption["matched"], false);
    assert_eq!(caption["set_aside"], "caption", "{caption}");
    let prose = paragraph(b, "Board chair Miriam Okafor");
    assert_eq!(prose["matched"], true);
    assert!(prose["set_aside"].is_null());
    assert!(v["a"]["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .iter()
        .all(|p| p["matched"] == true));

    // Every wire paragraph is aligned with its copy, identical words.
    let aligned = v["aligned"].as_array().expect("aligned");
    assert_eq!(aligned.len(), WIRE.len(), "{aligned:?}");
    for (i, x) in aligned.iter().enumerate() {
        assert_eq!(x["a"], i);
        assert_eq!(x["b"], i + 3, "after the three chrome lines");
        assert_eq!(x["overlap"], 1.0);
    }
}

#[test]
fn a_live_blog_holding_the_story_in_its_middle_is_a_different_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path(), &[]);
    let v = explain_json(&path, "w1", "l1");
    assert_eq!(v["same_story"], false, "{v}");
    assert!(v["score"].is_null());
    assert_eq!(v["lead"], false);
    assert_eq!(v["rule"], "containment", "{v}");
    assert!(
        v["containment"].as_f64().expect("containment") >= 0.9,
        "{v}"
    );
    let shortfalls = v["shortfalls"].as_array().expect("shortfalls");
    assert!(
        shortfalls.iter().any(|s| s
            .as_str()
            .is_some_and(|s| s.to_lowercase().contains("lead"))),
        "{shortfalls:?}"
    );
    assert_eq!(v["aligned"].as_array().expect("aligned").len(), WIRE.len());
    assert_eq!(
        v["aligned"][0]["b"], 6,
        "the story starts after six paragraphs"
    );
}

#[test]
fn the_human_report_lists_paragraphs_numbers_and_a_conclusion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path(), &[]);
    let out = syndedup(&["explain", "--input", path.to_str().unwrap(), "w1", "l1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "A: w1",
        "B: l1",
        "shared paragraphs",
        "A#0   ↔ B#6",
        "jaccard",
        "containment",
        "lead offset",
        "proposed",
        "window",
        "different stories:",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    let out = syndedup(&["explain", "--input", path.to_str().unwrap(), "w1", "c1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("- caption"), "{text}");
    assert!(text.trim_end().ends_with('.'), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("same story")),
        "{text}"
    );
}

#[test]
fn an_unknown_id_is_an_error_naming_it_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fixture(dir.path(), &[]);
    let out = syndedup(&["explain", "--input", path.to_str().unwrap(), "w1", "h-99"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"h-99\""), "{err}");
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_repeated_id_uses_its_first_line_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let again = line(
        "c1",
        "local.example",
        "Something else entirely",
        "2024-03-08T07:00:00Z",
        BLOG_TOP[7],
    );
    let path = fixture(dir.path(), &[again]);
    let out = syndedup(&[
        "explain",
        "--input",
        path.to_str().unwrap(),
        "w1",
        "c1",
        "--json",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"c1\"") && err.contains("first"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        v["b"]["title"],
        "Water board rations irrigation - Local News"
    );
    assert_eq!(v["same_story"], true);
}

#[test]
fn the_store_gives_the_numbers_without_paragraphs_and_outlet_ids_disambiguate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = line(
        "w1",
        "other.example",
        "Another outlet's w1",
        "2024-03-08T08:00:00Z",
        BLOG_TOP[7],
    );
    let path = fixture(dir.path(), &[other]);
    let db = dir.path().join("store.db");
    let config = dir.path().join("syndedup.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = {}\n",
            serde_json::to_string(db.to_str().unwrap()).unwrap()
        ),
    )
    .expect("write config");
    let config = config.to_str().unwrap();
    let out = syndedup(&[
        "dedup",
        "--quiet",
        "--config",
        config,
        "--state",
        db.to_str().unwrap(),
        "--input",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = syndedup(&["explain", "--config", config, "w1", "c1", "--json"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"w1\"") && err.contains("ambiguous"), "{err}");

    let out = syndedup(&[
        "explain",
        "--config",
        config,
        "wire.example:w1",
        "c1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["same_story"], true, "{v}");
    assert_eq!(v["same_story_in_run"], true, "{v}");
    assert!(v["a"]["paragraphs"].is_null() && v["aligned"].is_null());
    let from_input = explain_json(&path, "w1", "c1");
    for key in ["jaccard", "containment", "length_ratio", "rule", "lead"] {
        assert_eq!(v[key], from_input[key], "{key}");
    }

    let out = syndedup(&["explain", "--config", config, "wire.example:w1", "l1"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cannot be listed"), "{text}");
    assert!(text.contains("different stories:"), "{text}");
}
