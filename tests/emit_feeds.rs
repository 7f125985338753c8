//! Output feeds through the library API: rendering, parsing back with feed-rs, stable ids,
//! sanitising, group scoping and atomic writes.

mod common;

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use common::*;
use quick_xml::events::Event;
use syndedup::config::{Config, FeedConfig, FeedFormat};
use syndedup::emit::{self, FeedBuilder, FeedDoc};
use syndedup::{Article, Engine, StoryView};

const FORMATS: [FeedFormat; 3] = [FeedFormat::Atom, FeedFormat::Rss, FeedFormat::Json];

fn feed<'a>(config: &'a Config, name: &str) -> &'a FeedConfig {
    config
        .feeds
        .iter()
        .find(|f| f.name == name)
        .expect("fixture feed")
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap()
}

fn doc(
    config: &Config,
    name: &str,
    stories: &[StoryView],
    bodies: &HashMap<String, String>,
) -> FeedDoc {
    FeedBuilder::new(feed(config, name), config)
        .with_self_url(format!("http://127.0.0.1/feeds/{name}"))
        .build(stories, bodies, now())
}

/// Reads every event with end-name checks on: fails on anything not well formed.
fn assert_well_formed(xml: &[u8]) {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut depth = 0i32;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                t.decode().expect("text decodes");
            }
            Ok(_) => {}
            Err(e) => panic!(
                "not well formed at {}: {e}\n{}",
                reader.buffer_position(),
                String::from_utf8_lossy(xml)
            ),
        }
        buf.clear();
    }
    assert_eq!(depth, 0, "unclosed elements");
}

fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "feed-rs rejects the feed: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

fn ids(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn every_format_parses_back_with_ids_links_and_provenance() {
    let config = config();
    let (engine, bodies) = run(&config, &items());
    let stories = engine.stories();
    assert_eq!(stories.len(), 3, "fixture stories: {stories:?}");
    let doc = doc(&config, "all", &stories, &bodies);
    // Newest first: chips (11:00), monsoon (10:10), talks (09:30).
    let story_of = |id: &str| engine.story_of(id).unwrap();
    let expected_ids: Vec<String> = ["w3", "h1", "d1"]
        .iter()
        .map(|a| format!("urn:syndedup:all:{}", story_of(a)))
        .collect();
    let monsoon = &doc.entries[1];
    // Herald has priority 5 over Daily: it is the canonical, Daily is "also published by".
    assert_eq!(monsoon.source.outlet, "Herald");
    assert_eq!(monsoon.link.as_deref(), Some("https://herald.example/h1"));
    assert_eq!(monsoon.also.len(), 1);
    assert_eq!(monsoon.also[0].outlet, "Daily");
    assert_eq!(monsoon.updated.to_rfc3339(), "2024-01-01T10:10:00+00:00");
    assert_eq!(monsoon.published.to_rfc3339(), "2024-01-01T10:00:00+00:00");

    for format in FORMATS {
        let bytes = doc.render(format);
        if format != FeedFormat::Json {
            assert_well_formed(&bytes);
        }
        let parsed = parse(&bytes);
        assert_eq!(ids(&parsed), expected_ids, "{format:?}");
        let e = &parsed.entries[1];
        assert_eq!(
            e.title.as_ref().map(|t| t.content.as_str()),
            Some("Monsoon arrives early"),
            "{format:?}"
        );
        let hrefs: Vec<(&str, Option<&str>)> = e
            .links
            .iter()
            .map(|l| (l.href.as_str(), l.rel.as_deref()))
            .collect();
        assert!(
            hrefs.iter().any(|(h, _)| *h == "https://herald.example/h1"),
            "{format:?}: {hrefs:?}"
        );
        let body = e
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| e.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default();
        assert!(
            body.contains("monsoon reached the Kerala coast"),
            "{format:?}: {body}"
        );
        assert!(e.published.is_some(), "{format:?}");
        match format {
            FeedFormat::Atom => {
                assert!(
                    hrefs.contains(&("https://daily.example/d2", Some("related"))),
                    "{hrefs:?}"
                );
                assert_eq!(e.authors[0].name, "Herald");
                assert_eq!(e.updated.unwrap().to_rfc3339(), "2024-01-01T10:10:00+00:00");
            }
            FeedFormat::Rss => {
                assert!(body.contains("Also published by"), "{body}");
                assert!(body.contains("https://daily.example/d2"), "{body}");
                let cats: Vec<&str> = e.categories.iter().map(|c| c.term.as_str()).collect();
                assert_eq!(cats, ["Herald", "Daily"]);
                let raw = String::from_utf8(bytes.clone()).unwrap();
                assert!(
                    raw.contains("<source url=\"https://herald.example/atom\">Herald</source>"),
                    "{raw}"
                );
            }
            FeedFormat::Json => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
                let ext = &v["items"][1]["_syndedup"];
                assert_eq!(ext["story"], story_of("h1").to_string());
                assert_eq!(ext["source"]["outlet"], "Herald");
                assert_eq!(ext["source"]["url"], "https://herald.example/h1");
                assert_eq!(
                    ext["also_published_by"],
                    serde_json::json!([{"outlet": "Daily", "url": "https://daily.example/d2", "title": "Early monsoon in Kerala"}])
                );
                assert_eq!(v["items"][1]["date_modified"], "2024-01-01T10:10:00Z");
            }
        }
    }
}

#[test]
fn unchanged_input_renders_identical_bytes() {
    let config = config();
    let (engine, bodies) = run(&config, &items());
    let a = doc(&config, "all", &engine.stories(), &bodies);
    let later = FeedBuilder::new(feed(&config, "all"), &config)
        .with_self_url("http://127.0.0.1/feeds/all")
        .build(
            &engine.stories(),
            &bodies,
            now() + chrono::Duration::hours(5),
        );
    for format in FORMATS {
        assert_eq!(a.render(format), later.render(format), "{format:?}");
    }
}

#[test]
fn entry_ids_survive_a_restart_and_a_canonical_change() {
    let config = config();
    let all = items();
    let (first, bodies) = run(&config, &all[..4]);
    let before = doc(&config, "all", &first.stories(), &bodies);

    // Restart: a new engine restored from what a store keeps (meta, fingerprint bytes, time,
    // story, canonical flag), then a new copy from the top-priority outlet arrives.
    let mut restored = Engine::new(syndedup::EngineConfig::from_config(&config)).unwrap();
    for item in &all[..4] {
        let a = common::article(item);
        let prepared = first.prepare(&a);
        let mut scratch = Engine::new(syndedup::EngineConfig::from_config(&config)).unwrap();
        let fp = scratch.fingerprint(a.meta.outlet.as_deref(), &prepared);
        let fp = syndedup::dedup::Fingerprint::from_bytes(&fp.to_bytes()).unwrap();
        let story = first.story_of(&a.meta.id).unwrap();
        let canonical = first.story(story).unwrap().canonical.id == a.meta.id;
        restored.restore(
            a.meta.clone(),
            &fp,
            a.meta.published.unwrap().timestamp(),
            story,
            canonical,
        );
    }
    let after_restart = doc(&config, "all", &restored.stories(), &bodies);
    let id_list = |d: &FeedDoc| {
        d.entries
            .iter()
            .map(|e| e.entry_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(id_list(&before), id_list(&after_restart));

    let talks_story = restored.story_of("d1").unwrap();
    let talks_before = before
        .entries
        .iter()
        .find(|e| e.story == talks_story)
        .unwrap()
        .clone();
    assert_eq!(talks_before.source.outlet, "Daily");
    let wire = Article::new("w9", format!("<p>{TALKS}</p>"))
        .with_outlet("Wire")
        .with_title("Russia-US talks")
        .with_url("https://wire.example/w9")
        .with_published(t("2024-01-01T08:00:00Z"));
    let decision = restored.add(&wire);
    assert_eq!(decision.story, talks_story);
    assert!(
        decision.became_canonical,
        "Wire is first in merge.outlet_priority"
    );
    let mut bodies = bodies;
    bodies.insert("w9".into(), wire.body.clone());
    let after_change = doc(&config, "all", &restored.stories(), &bodies);
    let talks_after = after_change
        .entries
        .iter()
        .find(|e| e.story == talks_story)
        .unwrap();
    assert_eq!(talks_after.source.outlet, "Wire");
    assert_eq!(talks_after.link.as_deref(), Some("https://wire.example/w9"));
    assert_eq!(talks_after.entry_id, talks_before.entry_id);
    for format in FORMATS {
        let parsed = parse(&after_change.render(format));
        assert!(ids(&parsed).contains(&talks_before.entry_id), "{format:?}");
        assert_eq!(ids(&parsed).len(), 2, "{format:?}");
    }
}

#[test]
fn hostile_items_come_out_inert_in_every_format() {
    let config = config();
    let hostile = "<p>Hello <b>world<script>alert('x')</script></p>\
        <img src=\"https://x.example/i.png\" onerror=\"alert(1)\">\
        <a href=\"javascript:alert(2)\" onclick=\"steal()\">click</a>\
        <a href=\"JaVaScRiPt:alert(3)\">again</a>\
        <iframe src=\"https://evil.example\"></iframe><style>body{display:none}</style>\
        <div><table><tr><td>soup<p>unclosed <i>tags</b></span></div>\u{1}\u{0}]]></content><![CDATA[";
    let items: Vec<Item> = vec![(
        "x1",
        "Daily",
        "<script>alert('title')</script> \u{7}breaking",
        "2024-01-01T09:00:00Z",
        hostile.to_string(),
    )];
    let mut engine = Engine::new(syndedup::EngineConfig::from_config(&config)).unwrap();
    let a = common::article(&items[0]).with_url("javascript:alert(4)");
    engine.add(&a);
    let bodies: HashMap<String, String> = [("x1".to_string(), hostile.to_string())].into();
    let doc = doc(&config, "all", &engine.stories(), &bodies);
    let e = &doc.entries[0];
    assert_eq!(e.link, None, "javascript: link dropped");
    for format in FORMATS {
        let bytes = doc.render(format);
        let raw = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            !raw.to_lowercase().contains("javascript:"),
            "{format:?}: {raw}"
        );
        assert!(!raw.contains("<script"), "{format:?}: {raw}");
        if format != FeedFormat::Json {
            assert_well_formed(&bytes);
        }
        let parsed = parse(&bytes);
        let entry = &parsed.entries[0];
        let body = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            .unwrap_or_default()
            .to_lowercase();
        assert!(body.contains("hello"), "{format:?}: {body}");
        assert!(body.contains("soup"), "{format:?}: {body}");
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "javascript:",
            "<iframe",
            "<style",
            "alert(",
        ] {
            assert!(!body.contains(bad), "{format:?} keeps {bad}: {body}");
        }
        assert!(entry
            .links
            .iter()
            .all(|l| !l.href.to_lowercase().contains("javascript")));
    }
}

#[test]
fn overlapping_feeds_each_choose_their_own_canonical_and_copies() {
    let config = config();
    let mut all = items();
    all.push((
        "w1",
        "Wire",
        "Russia, US to talk",
        "2024-01-01T08:00:00Z",
        format!("<p>{TALKS}</p>"),
    ));
    all.push((
        "h9",
        "Herald",
        "Talks in Geneva",
        "2024-01-01T09:40:00Z",
        format!("<p>{TALKS}</p><p>Herald reporting.</p>"),
    ));
    let (engine, bodies) = run(&config, &all);
    let talks = engine.story(engine.story_of("d1").unwrap()).unwrap();
    assert_eq!(talks.copies.len(), 4, "{talks:?}");
    assert_eq!(talks.canonical.outlet.as_deref(), Some("Wire"));
    let stories = engine.stories();

    // wire-daily covers Wire and Daily: the story's own canonical (Wire) is in scope.
    let wd = doc(&config, "wire-daily", &stories, &bodies);
    let e = wd.entries.iter().find(|e| e.story == talks.story).unwrap();
    assert_eq!(e.source.outlet, "Wire");
    let also: Vec<&str> = e.also.iter().map(|a| a.outlet.as_str()).collect();
    assert_eq!(also, ["Daily"]);
    assert_eq!(
        e.entry_id,
        format!("urn:syndedup:wire-daily:{}", talks.story)
    );
    // The monsoon story has a Daily copy; the chips story is Wire only: both present.
    assert_eq!(wd.entries.len(), 3);

    // world covers Daily plus tag "world" (Herald, Gazette): Wire is out of scope, so Herald
    // (priority 5) becomes this feed's canonical; the Wire copy is not listed.
    let world = doc(&config, "world", &stories, &bodies);
    let e = world
        .entries
        .iter()
        .find(|e| e.story == talks.story)
        .unwrap();
    assert_eq!(e.source.outlet, "Herald");
    assert_eq!(e.link.as_deref(), Some("https://herald.example/h9"));
    assert_eq!(e.title, "Talks in Geneva");
    let mut also: Vec<&str> = e.also.iter().map(|a| a.outlet.as_str()).collect();
    also.sort();
    assert_eq!(also, ["Daily", "Gazette"]);
    // Chips is Wire only: absent from "world".
    let chips = engine.story_of("w3").unwrap();
    assert!(world.entries.iter().all(|e| e.story != chips));
    assert_eq!(world.entries.len(), 2);

    for format in FORMATS {
        let p = parse(&world.render(format));
        assert_eq!(p.entries.len(), 2);
        assert!(ids(&p)
            .iter()
            .all(|id| id.starts_with("urn:syndedup:world:")));
        let talks_entry = p
            .entries
            .iter()
            .find(|x| x.id == format!("urn:syndedup:world:{}", talks.story))
            .unwrap();
        assert!(talks_entry
            .links
            .iter()
            .any(|l| l.href == "https://herald.example/h9"));
        assert!(talks_entry
            .links
            .iter()
            .all(|l| !l.href.contains("wire.example")));
    }
}

#[test]
fn feed_size_keeps_the_newest_stories() {
    let mut config = config();
    config.feeds[0].size = std::num::NonZeroUsize::new(2).unwrap();
    let (engine, bodies) = run(&config, &items());
    let d = doc(&config, "all", &engine.stories(), &bodies);
    let got: Vec<_> = d.entries.iter().map(|e| e.story).collect();
    assert_eq!(
        got,
        [
            engine.story_of("w3").unwrap(),
            engine.story_of("h1").unwrap()
        ]
    );
    assert_eq!(d.updated.to_rfc3339(), "2024-01-01T11:00:00+00:00");
}

#[test]
fn files_are_written_atomically_per_format() {
    let config = config();
    let (engine, bodies) = run(&config, &items());
    let d = doc(&config, "all", &engine.stories(), &bodies);
    let dir = tempfile::tempdir().unwrap();
    let written = emit::write_feed(feed(&config, "all"), &d, dir.path()).unwrap();
    assert_eq!(written.len(), 3);
    for (format, bytes) in &written {
        let path = dir.path().join(emit::file_name("all", *format));
        assert_eq!(&std::fs::read(&path).unwrap(), bytes);
    }
    // Overwrite in place; nothing else is left in the directory.
    emit::write_atomic(&dir.path().join("all.atom"), b"<feed/>").unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("all.atom")).unwrap(),
        b"<feed/>"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["all.atom", "all.json", "all.rss"]);

    let missing = dir.path().join("no-such-dir").join("x.atom");
    let err = emit::write_atomic(&missing, b"x").unwrap_err();
    let msg = format!("{err}");
    assert!(msg.contains("no-such-dir"), "{msg}");
    assert!(!missing.exists());
}

#[test]
fn publish_writes_every_feed_and_reports_unwritable_ones() {
    let mut config = config();
    let base = tempfile::tempdir().unwrap();
    // "world" gets a directory that is a file: its write fails, the others go on.
    let blocker = base.path().join("blocked");
    std::fs::write(&blocker, b"not a directory").unwrap();
    config.feeds[2].dir = Some(blocker.clone());
    let (engine, bodies) = run(&config, &items());
    let (rendered, errors) = emit::publish(&config, base.path(), &engine.stories(), &bodies, now());
    assert_eq!(rendered.len(), 3);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].to_string().contains("blocked"), "{}", errors[0]);
    for name in ["all", "wire-daily"] {
        for ext in ["atom", "rss", "json"] {
            let path = base.path().join("feeds").join(format!("{name}.{ext}"));
            let bytes = std::fs::read(&path).unwrap();
            let parsed = parse(&bytes);
            assert!(ids(&parsed)
                .iter()
                .all(|id| id.starts_with(&format!("urn:syndedup:{name}:"))));
        }
    }
    let world = rendered.iter().find(|r| r.name == "world").unwrap();
    assert_eq!(world.formats.len(), 3);
}
