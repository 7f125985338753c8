//! `syndedup import-opml FILE` through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use syndedup::Config;

fn import(file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .args(["--log-level", "warn", "import-opml"])
        .arg(file)
        .output()
        .expect("runs the binary")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/opml")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The printed tables, parsed back as a config and validated.
fn parse_output(out: &Output) -> Config {
    assert!(out.status.success(), "{}", stderr(out));
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    let config = Config::parse(&text, Path::new("import-opml output"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let problems = config.validate();
    assert!(problems.is_empty(), "{problems:?}\n{text}");
    config
}

#[test]
fn nested_opml_becomes_outlets_with_folder_tags() {
    let config = parse_output(&import(&fixture("nested.opml")));
    let got: Vec<(&str, &str, Vec<&str>)> = config
        .outlets
        .iter()
        .map(|o| {
            (
                o.name.as_str(),
                o.url.as_str(),
                o.tags.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let want: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "Meridian Wire",
            "https://meridianwire.example/rss/top.xml",
            vec!["News"],
        ),
        (
            "The Daily Ledger — Markets",
            "https://dailyledger.example/markets/rss?x=1&y=2",
            vec!["News", "Business"],
        ),
        (
            "Shared Tech Desk",
            "https://shared.example/tech.xml",
            vec!["News", "Tech"],
        ),
        ("Quickbyte", "https://quickbyte.example/feed", vec!["Tech"]),
        (
            "Quickbyte (2)",
            "https://quickbyte.example/deals/feed",
            vec!["Tech"],
        ),
        (
            r#"Bob's "Best" \ Feed"#,
            "https://bob.example/feed.json",
            vec![],
        ),
        (
            "untitled.example",
            "https://untitled.example/atom.xml",
            vec![],
        ),
        (
            "Coastline Courier",
            "https://coastlinecourier.example/feed/",
            vec!["Local", "Weather"],
        ),
    ];
    assert_eq!(got, want);
    for o in &config.outlets {
        assert!(o.enabled && o.priority == 0 && o.interval.is_none());
    }
}

#[test]
fn feeds_without_an_http_url_are_skipped_with_a_warning_naming_the_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_syndedup"))
        .args(["--log-level", "warn", "--log-format", "json", "import-opml"])
        .arg(fixture("nested.opml"))
        .output()
        .unwrap();
    let config = parse_output(&out);
    assert!(config.outlets.iter().all(|o| !o.url.starts_with("ftp:")));
    let err = stderr(&out);
    let warning: serde_json::Value = err
        .lines()
        .find(|l| l.contains("ftp://"))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no warning about the ftp feed in:\n{err}"));
    let fields = &warning["fields"];
    assert_eq!(fields["url"], "ftp://mirror.example/feed.xml");
    assert_eq!(fields["line"], 25);
    assert!(fields["file"].as_str().unwrap().ends_with("nested.opml"));
}

#[test]
fn output_pastes_into_a_config_with_other_sections() {
    let out = import(&fixture("nested.opml"));
    let tables = String::from_utf8(out.stdout).unwrap();
    let text = format!(
        "[dedup]\nthreshold = 0.6\n\n{tables}\n[[feed]]\nname = \"tech\"\ntags = [\"Tech\"]\n"
    );
    let config = Config::parse(&text, Path::new("pasted.toml")).unwrap();
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    assert_eq!(config.outlets.len(), 8);
}

#[test]
fn encodings_declared_in_the_prolog_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.opml");
    let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<opml version=\"1.0\"><body>\n<outline text=\"Nachrichten \xdcberregional\">\n<outline text=\"Alpenblick M\xfcnchen\" xmlUrl=\"https://alpenblick.example/rss.xml\"/>\n</outline></body></opml>\n".to_vec();
    std::fs::write(&path, &bytes).unwrap();
    let config = parse_output(&import(&path));
    assert_eq!(config.outlets[0].name, "Alpenblick München");
    assert_eq!(
        config.outlets[0].tags,
        vec!["Nachrichten Überregional".to_string()]
    );
}

#[test]
fn an_rss_file_is_not_opml() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo-feeds/wire.xml");
    let out = import(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("wire.xml"), "{err}");
    assert!(err.contains("not an OPML file"), "{err}");
    assert!(err.contains("<rss>"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_xml_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.opml");
    std::fs::write(
        &path,
        "<opml version=\"2.0\">\n<body>\n<outline text=\"a\" xmlUrl=\"https://a.example/\">\n</body>\n</opml>\n",
    )
    .unwrap();
    let out = import(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("broken.opml"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn opml_without_feeds_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.opml");
    std::fs::write(
        &path,
        "<opml version=\"2.0\"><body><outline text=\"Folder\"/></body></opml>",
    )
    .unwrap();
    let out = import(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("empty.opml") && err.contains("no feeds"),
        "{err}"
    );
}

#[test]
fn text_and_binary_garbage_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("plain.txt", b"just some words\n".to_vec()),
        ("empty.opml", Vec::new()),
        ("binary.opml", vec![0xff, 0xfe, 0x00, 0x01, 0x80, 0x3c]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = import(&path);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(name), "{name}: {}", stderr(&out));
    }
}

#[test]
fn a_missing_file_is_named() {
    let out = import(Path::new("/nonexistent/subscriptions.opml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("subscriptions.opml"),
        "{}",
        stderr(&out)
    );
}
