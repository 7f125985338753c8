//! The story page `/stories/{id}` through the real binary: `run --once` fills the store from
//! local feed files, then `serve` (and the `run` daemon, reading the store it writes) shows one
//! story's copies with the shared text marked and the set-aside paragraphs greyed out.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serve_support::{get, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_syndedup");

const PARAGRAPHS: [&str; 4] = [
    "Ferry crews on the Lantern Bay crossing stopped work at dawn on Thursday after talks \
     over rotating night shifts broke down, leaving commuters queueing at both piers.",
    "The operator said it had offered a second rest day every month and a review of the \
     rosters within a year, but the crews' association called the offer too vague to accept.",
    "Harbour officials expect the strike to last at least until the weekend, and a relief \
     boat with forty seats will run every two hours for residents of the outer islands.",
    "Shopkeepers on the island said deliveries of bread and newspapers had already been \
     delayed, and the school sent pupils home early so they could catch the relief boat.",
];

/// An RSS feed of one item per `(guid, title, link, html body)`.
fn rss(items: &[(&str, &str, &str, String)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>T</title>",
    );
    for (guid, title, link, body) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
             <link>{link}</link><description><![CDATA[{body}]]></description>\
             <pubDate>Thu, 06 Feb 2025 07:00:00 GMT</pubDate></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn html(paragraphs: &[&str]) -> String {
    paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect()
}

/// Two outlets with one shared ferry story (a caption in the wire's copy, a widget, an
/// escaped `<script>` and a paragraph of its own in the other's) and one story each of their own.
fn setup(dir: &Path, extra: &str) -> PathBuf {
    let mut wire = PARAGRAPHS.to_vec();
    wire.insert(
        1,
        "Passengers wait on the north pier for the first crossing of the day on Thursday \
         morning. (AP Photo/Rosa Lindqvist)",
    );
    let mut local = PARAGRAPHS.to_vec();
    local.insert(0, "Enter City and State or Zip Code");
    local.push(
        "Readers told the Valley Times that the &lt;script&gt;alert(2)&lt;/script&gt; \
         timetable on the pier had not been updated since the spring, which added to the \
         confusion this week.",
    );
    local.push("<script>alert(3)</script>");
    std::fs::write(
        dir.join("wire.xml"),
        rss(&[
            (
                "w1",
                "Ferry crews strike over night shifts",
                "https://wire.example/ferry",
                html(&wire),
            ),
            (
                "w2",
                "Observatory opens to visitors",
                "https://wire.example/observatory",
                html(&[
                    "The hilltop observatory will open its dome to visitors on clear \
                        evenings from March, with volunteers guiding each group through \
                        the winter constellations and the planets in view.",
                ]),
            ),
        ]),
    )
    .unwrap();
    std::fs::write(
        dir.join("valley.xml"),
        rss(&[(
            "v9",
            "Ferry strike &lt;script&gt;alert(1)&lt;/script&gt; strands commuters",
            "https://valley.example/ferry",
            html(&local),
        )]),
    )
    .unwrap();
    let config = dir.join("syndedup.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[merge]
outlet_priority = ["Harbour Wire"]

[[outlet]]
name = "Harbour Wire"
url = "wire.xml"

[[outlet]]
name = "Valley Times"
url = "valley.xml"

[store]
path = "state/syndedup.db"

{extra}
"#
        ),
    )
    .unwrap();
    config
}

fn run_once(config: &Path) {
    let out = Command::new(BIN)
        .args(["run", "--once", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The id of the story with two copies, from the API.
fn shared_story(daemon: &Daemon) -> String {
    let list = get(daemon.addr, "/api/stories", &[]).json();
    let story = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["copies"].as_array().map(Vec::len) == Some(2))
        .unwrap_or_else(|| panic!("a story with two copies: {list}"));
    story["story"].as_str().unwrap().to_string()
}

fn check_page(daemon: &Daemon, id: &str) -> String {
    let r = get(daemon.addr, &format!("/stories/{id}"), &[]);
    let page = r.text();
    assert_eq!(r.status, 200, "{page}");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        r.header("content-type")
    );
    assert!(page.contains(&format!("Story {id}")), "{page}");
    for outlet in ["Harbour Wire", "Valley Times"] {
        assert!(page.contains(outlet), "{outlet}: {page}");
    }
    assert!(page.contains("https://wire.example/ferry"), "{page}");
    assert!(page.contains("https://valley.example/ferry"), "{page}");
    // Shared text is highlighted, in the copy and in the canonical version.
    let shared = "<p><mark>Ferry crews on the Lantern Bay crossing";
    assert_eq!(page.matches(shared).count(), 2, "{page}");
    // The copy's own paragraph is not.
    assert!(
        page.contains("<p>Readers told the Valley Times"),
        "the unshared paragraph is plain: {page}"
    );
    // Set-aside paragraphs are greyed out with their reason.
    let caption = page
        .lines()
        .find(|l| l.contains("(AP Photo/Rosa Lindqvist)"))
        .unwrap_or_else(|| panic!("the caption is shown: {page}"));
    assert!(caption.contains("class=\"aside\""), "{caption}");
    assert!(caption.contains("caption"), "{caption}");
    assert!(!caption.contains("<mark>"), "{caption}");
    let widget = page
        .lines()
        .find(|l| l.contains("Enter City and State or Zip Code"))
        .unwrap_or_else(|| panic!("the widget is shown: {page}"));
    assert!(widget.contains("class=\"aside\""), "{widget}");
    // Titles and texts are escaped: no script from a feed reaches the page.
    assert!(!page.contains("<script"), "{page}");
    assert!(
        !page.contains("alert(3)"),
        "a script element's code is not text: {page}"
    );
    assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(2)"), "{page}");
    // The footnote on what needs the engine's memory.
    assert!(page.contains("learned"), "{page}");
    page
}

#[test]
fn serve_shows_a_story_with_shared_and_set_aside_text() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "");
    run_once(&config);
    let daemon = Daemon::start(
        BIN,
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let id = shared_story(&daemon);
    check_page(&daemon, &id);

    // The status page links each story to its page.
    let status = get(daemon.addr, "/", &[]).text();
    assert!(
        status.contains(&format!("<a href=\"/stories/{id}\">")),
        "{status}"
    );

    // Unknown and malformed ids answer HTML naming them.
    let r = get(daemon.addr, "/stories/s9999", &[]);
    assert_eq!(r.status, 404);
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        r.header("content-type")
    );
    assert!(r.text().contains("s9999"), "{}", r.text());
    let r = get(daemon.addr, "/stories/%3Cb%3Enope", &[]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("&lt;b&gt;nope"), "{}", r.text());
    assert!(!r.text().contains("<b>"), "{}", r.text());
    daemon.stop();
}

#[test]
fn the_run_daemon_shows_the_story_page_next_to_its_writer() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "[http]\nlisten = \"127.0.0.1:0\"\n");
    // A fresh store: the daemon polls at once and writes the store the page reads.
    let daemon = Daemon::start(BIN, &["run", "--config", config.to_str().unwrap()]);
    // The daemon publishes after its first cycle; until then the API lists nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let id = loop {
        let list = get(daemon.addr, "/api/stories", &[]).json();
        if list.as_array().is_some_and(|l| l.len() == 2) {
            break shared_story(&daemon);
        }
        assert!(std::time::Instant::now() < deadline, "no stories: {list}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    check_page(&daemon, &id);
    assert!(daemon.stop().success());
}
