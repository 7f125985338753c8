//! Guards the meaning of the offline demo (`config/demo.toml`): every demo feed file parses with
//! feed-rs, and the engine, configured from the demo config, groups the items as intended: each
//! wire story with all its copies, the day-two follow-up and the outlets' own stories apart.
//! Library API only, so it does not depend on the poller.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syndedup::{Article, Config, Engine, EngineConfig, StoryId};

/// (file in config/demo-feeds, item id as feed-rs reports it, intended story).
const EXPECTED: &[(&str, &str, &str)] = &[
    ("wire.xml", "meridian:20261125-1305:bank", "bank"),
    ("wire.xml", "meridian:20261125-0640:port", "port"),
    ("wire.xml", "meridian:20261124-1910:sprint", "sprint"),
    ("wire.xml", "meridian:20261126-1520:port-day2", "port-day2"),
    ("wire.xml", "meridian:20261126-1030:recall", "recall"),
    ("wire.xml", "meridian:20261126-0415:monsoon", "monsoon"),
    ("ledger.xml", "https://dailyledger.example/world/valdoria-rate-hike-governor-lefevre-says-peak-is-near-as-key-202611251355.html", "bank"),
    ("ledger.xml", "https://dailyledger.example/world/port-calloway-strike-4-200-dockers-down-tools-over-robot-cra-202611250715.html", "port"),
    ("ledger.xml", "https://dailyledger.example/world/brightforge-hearth-3-thermostat-recall-is-your-device-affect-202611261140.html", "recall"),
    ("ledger.xml", "https://dailyledger.example/city/millbrook-street-bakery-wins-national-sourdough-prize.html", "sourdough"),
    ("ledger.xml", "https://dailyledger.example/city/council-approves-protected-cycle-lanes-on-harbour-road.html", "cycle-lanes"),
    ("coastline.xml", "https://coastlinecourier.example/2026/11/25/lifeguards-pull-two-kayakers-from-rough-water-off-gull-point/", "kayak"),
    ("coastline.xml", "https://coastlinecourier.example/2026/11/25/strike-shuts-port-calloway-terminals-ships-queue-off-breakwa/", "port"),
    ("coastline.xml", "https://coastlinecourier.example/2026/11/26/wet-winter-ahead-forecasters-expect-a-stronger-monsoon/", "monsoon"),
    ("quickbyte.xml", "https://quickbyte.example/markets/valdoria-rate-decision", "bank"),
    ("quickbyte.xml", "https://quickbyte.example/reviews/lumo-x2", "ereader"),
    ("quickbyte.xml", "https://quickbyte.example/gadgets/brightforge-thermostat-recall", "recall"),
    ("northern.atom", "tag:northernstar.example,2026:smart-thermostat-maker-recalls-1-3-million-units-over-fire-f", "recall"),
    ("northern.atom", "tag:northernstar.example,2026:northern-lights-could-be-visible-across-the-region-this-week", "aurora"),
    ("northern.atom", "tag:northernstar.example,2026:tamaran-braces-for-heavy-monsoon-rains-as-forecasters-raise-", "monsoon"),
    ("northern.atom", "tag:northernstar.example,2026:riverside-school-choir-invited-to-open-winter-festival", "choir"),
    ("northern.atom", "tag:northernstar.example,2026:port-calloway-at-a-standstill-as-dockers-strike-over-automat", "port"),
    ("pulse.json", "pulse-port-day2-202611261605", "port-day2"),
    ("pulse.json", "pulse-monsoon-202611260745", "monsoon"),
    ("pulse.json", "pulse-mornings-202611260600", "mornings"),
    ("pulse.json", "pulse-bank-202611251420", "bank"),
    ("alpenblick.xml", "https://alpenblick.example/ausland/bank-20261125.html", "bank"),
    ("alpenblick.xml", "https://alpenblick.example/ausland/port-20261125.html", "port"),
    ("alpenblick.xml", "https://alpenblick.example/region/foehn-20261125.html", "foehn"),
    ("alpenblick.xml", "https://alpenblick.example/region/markt-20261126.html", "markt"),
    ("metro.xml", "https://metroeveningpost.example/news/20261125/patience-has-bought-us-nothing-dockers-strike-at-port-callow", "port"),
    ("metro.xml", "https://metroeveningpost.example/news/20261126/metro-line-4-closed-this-weekend-for-track-renewal", "metro4"),
    ("metro.xml", "https://metroeveningpost.example/news/20261126/check-your-thermostat-1-3-million-brightforge-units-recalled", "recall"),
    ("metro.xml", "https://metroeveningpost.example/news/20261126/forecasters-tamaran-s-monsoon-to-bring-12-more-rain-than-usu", "monsoon"),
];

/// The wire stories that have copies, and how many outlets carry each.
const WIRE_STORIES: &[(&str, usize)] = &[
    ("port", 6),
    ("bank", 5),
    ("monsoon", 5),
    ("recall", 5),
    ("port-day2", 2),
];

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn demo_config() -> Config {
    Config::load(&config_dir().join("demo.toml")).expect("demo.toml loads and validates")
}

struct Item {
    file: String,
    outlet: String,
    id: String,
    title: String,
    body: String,
    published: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// Every item of every demo outlet, content preferred over summary (as the poller does).
fn demo_items(config: &Config) -> Vec<Item> {
    let mut items = Vec::new();
    for outlet in &config.outlets {
        let path = PathBuf::from(&outlet.url);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let feed = feed_rs::parser::parse(&bytes[..])
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        assert!(!feed.entries.is_empty(), "{file} has no items");
        for entry in feed.entries {
            let content = entry
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .filter(|b| !b.trim().is_empty());
            let summary = entry.summary.as_ref().map(|s| s.content.clone());
            let body = content.or(summary).unwrap_or_default();
            assert!(
                !body.trim().is_empty(),
                "{file}: item {} has no text",
                entry.id
            );
            items.push(Item {
                file: file.clone(),
                outlet: outlet.name.clone(),
                id: entry.id.clone(),
                title: entry.title.map(|t| t.content).unwrap_or_default(),
                body,
                published: entry.published.map(|d| d.fixed_offset()),
            });
        }
    }
    items
}

#[test]
fn every_demo_feed_parses_and_every_item_is_expected() {
    let config = demo_config();
    assert_eq!(config.outlets.len(), 8);
    let items = demo_items(&config);
    let found: BTreeSet<(String, String)> = items
        .iter()
        .map(|i| (i.file.clone(), i.id.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(f, id, _)| (f.to_string(), id.to_string()))
        .collect();
    assert_eq!(found, expected, "demo items differ from the expected table");
    for item in &items {
        assert!(
            item.published.is_some(),
            "{}: {} has no date",
            item.file,
            item.id
        );
        assert!(
            !item.title.is_empty(),
            "{}: {} has no title",
            item.file,
            item.id
        );
    }
}

#[test]
fn latin1_feed_is_decoded() {
    let bytes = std::fs::read(config_dir().join("demo-feeds/alpenblick.xml")).unwrap();
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "alpenblick.xml must stay ISO-8859-1 bytes"
    );
    let feed = feed_rs::parser::parse(&bytes[..]).unwrap();
    let text: String = feed
        .entries
        .iter()
        .map(|e| {
            let title = e
                .title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default();
            let summary = e
                .summary
                .as_ref()
                .map(|s| s.content.clone())
                .unwrap_or_default();
            format!("{title}\n{summary}\n")
        })
        .collect();
    for word in [
        "erhöht",
        "Jürgen Weiß",
        "Amélie Lefèvre",
        "François Ménard",
        "Süderbrück",
    ] {
        assert!(text.contains(word), "{word:?} not decoded from ISO-8859-1");
    }
}

#[test]
fn demo_groups_as_intended_in_publication_order() {
    // As a poller would see the stories break: the wire first, copies after.
    let config = demo_config();
    let mut items = demo_items(&config);
    items.sort_by_key(|i| i.published);
    assert_grouping(&config, &items);
}

#[test]
fn demo_groups_as_intended_when_copies_arrive_first() {
    // A first poll reads the outlets in any order; grouping and canonical must not depend on it.
    let config = demo_config();
    let mut items = demo_items(&config);
    items.sort_by_key(|i| std::cmp::Reverse(i.published));
    assert_grouping(&config, &items);
}

fn assert_grouping(config: &Config, items: &[Item]) {
    let mut engine = Engine::new(EngineConfig::from_config(config)).unwrap();
    for item in items {
        let mut article = Article::new(&item.id, &item.body)
            .with_outlet(&item.outlet)
            .with_title(&item.title);
        if let Some(p) = item.published {
            article = article.with_published(p);
        }
        engine.add(&article);
    }
    let intended: BTreeMap<&str, &str> = EXPECTED.iter().map(|(_, id, g)| (*id, *g)).collect();
    let mut story_of_group: BTreeMap<&str, BTreeSet<StoryId>> = BTreeMap::new();
    for item in items {
        let story = engine.story_of(&item.id).expect("every item has a story");
        story_of_group
            .entry(intended[item.id.as_str()])
            .or_default()
            .insert(story);
    }
    let mut problems = Vec::new();
    for (group, stories) in &story_of_group {
        if stories.len() != 1 {
            problems.push(format!("{group} is split over stories {stories:?}"));
        }
    }
    let mut owner: BTreeMap<StoryId, &str> = BTreeMap::new();
    for (group, stories) in &story_of_group {
        for s in stories {
            if let Some(other) = owner.insert(*s, group) {
                problems.push(format!("{group} and {other} were merged into {s}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(engine.story_count(), story_of_group.len());

    for (group, copies) in WIRE_STORIES {
        let story = *story_of_group[group].iter().next().unwrap();
        let view = engine.story(story).unwrap();
        assert_eq!(view.copies.len(), *copies, "{group}: {:?}", view.copies);
        assert_eq!(
            view.canonical.outlet.as_deref(),
            Some("Meridian Wire"),
            "{group}: the wire's text should be canonical"
        );
        let outlets: BTreeSet<_> = view
            .copies
            .iter()
            .filter_map(|c| c.outlet.clone())
            .collect();
        assert_eq!(outlets.len(), *copies, "{group}: one copy per outlet");
    }
}
