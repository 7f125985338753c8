//! A poll whose article bridges two stories records the merge in the store (the alias), as
//! `dedup --state` does.

use syndedup::poll::Poller;
use syndedup::store::{SqliteStore, Store, StoryQuery};
use syndedup::Config;

fn prose(seed: u64) -> String {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let words: Vec<String> = (0..40)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("w{}", state % 5000)
        })
        .collect();
    words.join(" ") + "."
}

fn item(id: &str, paragraphs: &[String]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    format!("<item><guid>{id}</guid><title>{id}</title><description><![CDATA[{body}]]></description></item>")
}

#[test]
fn a_bridging_item_stores_the_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lead: Vec<String> = (0..3).map(|i| prose(700 + i)).collect();
    let tail_x: Vec<String> = (0..3).map(|i| prose(710 + i)).collect();
    let tail_y: Vec<String> = (0..3).map(|i| prose(720 + i)).collect();
    let x: Vec<String> = lead.iter().chain(&tail_x).cloned().collect();
    let y: Vec<String> = lead.iter().chain(&tail_y).cloned().collect();
    let z: Vec<String> = lead.iter().chain(&tail_y).chain(&tail_x).cloned().collect();
    let feed = dir.path().join("feed.xml");
    std::fs::write(
        &feed,
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>W</title>{}{}{}</channel></rss>",
            item("x", &x),
            item("y", &y),
            item("z", &z)
        ),
    )
    .expect("feed");
    let db = dir.path().join("state.db");
    let cfg = dir.path().join("syndedup.toml");
    let text = format!(
        "[[outlet]]\nname = \"Wire\"\nurl = {:?}\n[store]\npath = {:?}\n",
        feed.display().to_string(),
        db.display().to_string()
    );
    let config = Config::parse(&text, &cfg).expect("config");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = SqliteStore::open(&db).expect("store");
        let mut poller = Poller::with_store(config, Box::new(store)).expect("poller");
        let reports = poller.run_once().await.expect("poll");
        assert_eq!(reports[0].new, 3, "{reports:?}");
    });
    let store = SqliteStore::open_read_only(&db).expect("read");
    let aliases = store.aliases().expect("aliases");
    assert_eq!(
        aliases.len(),
        1,
        "the absorbed story is an alias: {aliases:?}"
    );
    let stories = store.stories(&StoryQuery::default()).expect("stories");
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0].copies.len(), 3);
    assert_eq!(
        store
            .story(aliases[0].absorbed)
            .expect("story")
            .map(|s| s.story),
        Some(aliases[0].survivor)
    );
}
