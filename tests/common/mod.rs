//! Shared fixtures for the emit and http tests: a small config and three wire stories with
//! copies at several outlets, run through the real engine.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use syndedup::config::Config;
use syndedup::{Article, Engine, EngineConfig};

pub const CONFIG: &str = r#"
[merge]
outlet_priority = ["Wire"]

[[outlet]]
name = "Wire"
url = "https://wire.example/feed.xml"
tags = ["agency"]

[[outlet]]
name = "Daily"
url = "https://daily.example/rss"
tags = ["india"]

[[outlet]]
name = "Herald"
url = "https://herald.example/atom"
priority = 5
tags = ["india", "world"]

[[outlet]]
name = "Gazette"
url = "https://gazette.example/feed"
tags = ["world"]

[[feed]]
name = "all"
title = "All news"

[[feed]]
name = "wire-daily"
outlets = ["Wire", "Daily"]

[[feed]]
name = "world"
outlets = ["Daily"]
tags = ["world"]
"#;

pub const TALKS: &str = "Talks between Russia and the United States will start immediately after the New Year holidays, Russia's top diplomat announced on Monday in a televised interview. He said delegations would meet in Geneva and that the agenda would cover arms control, the war in Ukraine and the return of diplomats expelled over the past two years.";
pub const MONSOON: &str = "The monsoon reached the Kerala coast three days ahead of schedule, the India Meteorological Department said on Thursday, bringing heavy rain to several districts. Farmers welcomed the early arrival after a hot summer, while officials warned of landslides in the hills and asked fishermen not to venture into the sea until Sunday.";
pub const CHIPS: &str = "A Taiwanese chipmaker said it would build a second factory in Arizona and raise its investment to forty billion dollars, citing strong demand from customers for advanced processors. The company expects production to begin in two years and said it had reached agreements with local unions over training programmes for thousands of workers.";

pub fn config() -> Config {
    let c = Config::parse(CONFIG, Path::new("test.toml")).expect("fixture config parses");
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    c
}

pub fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("fixture time")
}

/// One article: (id, outlet, title, published, body).
pub type Item = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    String,
);

pub fn items() -> Vec<Item> {
    vec![
        (
            "d1",
            "Daily",
            "Russia, US talks after New Year",
            "2024-01-01T09:00:00Z",
            format!("<p>{TALKS}</p><p>(Only the headline of this report may have been reworked by Daily staff; the rest of the content is auto-generated from a syndicated feed.)</p>"),
        ),
        (
            "g1",
            "Gazette",
            "Talks to start after holidays",
            "2024-01-01T09:30:00Z",
            format!("<p>{TALKS}</p>"),
        ),
        (
            "h1",
            "Herald",
            "Monsoon arrives early",
            "2024-01-01T10:00:00Z",
            MONSOON.to_string(),
        ),
        (
            "d2",
            "Daily",
            "Early monsoon in Kerala",
            "2024-01-01T10:10:00Z",
            format!("{MONSOON}\n\nRead more on our website."),
        ),
        (
            "w3",
            "Wire",
            "Chipmaker expands in Arizona",
            "2024-01-01T11:00:00Z",
            CHIPS.to_string(),
        ),
    ]
}

pub fn article(item: &Item) -> Article {
    let (id, outlet, title, published, body) = item;
    Article::new(*id, body.clone())
        .with_outlet(*outlet)
        .with_title(*title)
        .with_url(format!("https://{}.example/{id}", outlet.to_lowercase()))
        .with_published(t(published))
}

/// The engine after `items`, and the bodies by article id.
pub fn run(config: &Config, items: &[Item]) -> (Engine, HashMap<String, String>) {
    let mut engine = Engine::new(EngineConfig::from_config(config)).expect("engine");
    let mut bodies = HashMap::new();
    for item in items {
        engine.add(&article(item));
        bodies.insert(item.0.to_string(), item.4.clone());
    }
    (engine, bodies)
}
