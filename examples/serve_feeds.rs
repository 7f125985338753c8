//! Serves synthetic output feeds on loopback for load measurement of the HTTP service
//! (see docs/http.md, "Load"):
//!
//! ```sh
//! cargo run --release --example serve_feeds -- 127.0.0.1:8099 100 60
//! wrk -t2 -c32 -d10s http://127.0.0.1:8099/feeds/all.atom
//! ```
//!
//! Arguments: listen address, stories in the feed, seconds to serve (then it exits).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use syndedup::config::Config;
use syndedup::http::{self, ServiceState, StoryRecord};
use syndedup::{emit, Article, Engine};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8099".to_string());
    let stories: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60);

    let config = Config::parse(
        "[[outlet]]\nname = \"A\"\nurl = \"https://a.example/feed\"\n\
         [[outlet]]\nname = \"B\"\nurl = \"https://b.example/feed\"\n\
         [[feed]]\nname = \"all\"\nsize = 1000\n",
        std::path::Path::new("example.toml"),
    )?;
    let mut engine = Engine::with_defaults();
    let mut bodies = HashMap::new();
    let t0 = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    for i in 0..stories {
        // Distinct stories: each text is built from words unique to its number.
        let body: String = (0..80).map(|w| format!("word{i}x{w} ")).collect::<String>();
        for outlet in ["A", "B"] {
            let id = format!("{outlet}{i}");
            let a = Article::new(&id, format!("<p>{body}</p>"))
                .with_outlet(outlet)
                .with_title(format!("Story {i}"))
                .with_url(format!("https://{}.example/{i}", outlet.to_lowercase()))
                .with_published((t0 + chrono::Duration::minutes(i as i64)).fixed_offset());
            engine.add(&a);
            bodies.insert(id, a.body);
        }
    }
    let dir = std::env::temp_dir().join(format!("syndedup-serve-feeds-{}", std::process::id()));
    let (rendered, errors) = emit::publish(&config, &dir, &engine.stories(), &bodies, Utc::now());
    for e in errors {
        eprintln!("{e}");
    }
    let mut state = ServiceState::new();
    state.set_feeds(rendered, Utc::now());
    state.set_stories(
        engine
            .stories()
            .into_iter()
            .map(|v| StoryRecord::latest(v, t0))
            .collect(),
    );
    state.health.store_reachable = true;
    let etag = state
        .feed("all", syndedup::config::FeedFormat::Atom)
        .map(|f| (f.etag.clone(), f.bytes.len()));
    eprintln!(
        "serving {stories} stories on {listen} for {seconds}s; all.atom (etag, bytes) = {etag:?}"
    );
    let listener = http::bind(&listen).await?;
    http::serve(listener, state.shared(), async move {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    })
    .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
