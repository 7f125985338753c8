//! The daemon's schedule under paused tokio time (no sleeps): intervals, backoff and recovery,
//! with local file outlets so no network is involved.

mod poll_support;

use std::path::Path;
use std::time::Duration;

use poll_support::{body, rss};
use syndedup::poll::Poller;
use syndedup::Config;

fn config(text: &str) -> Config {
    let c = Config::parse(text, Path::new("schedule.toml")).expect("parses");
    c.check("schedule.toml").expect("valid");
    c
}

#[tokio::test(start_paused = true)]
async fn outlets_are_polled_on_their_own_intervals() {
    let dir = tempfile::tempdir().expect("tmp");
    let feed = dir.path().join("f.xml");
    std::fs::write(&feed, rss(&[("g", "T", "", &body("juliet"))])).expect("write");
    let f = feed.display().to_string();
    let mut poller = Poller::new(config(&format!(
        "[schedule]\njitter = 0.0\n\
         [[outlet]]\nname = \"hourly\"\nurl = {f:?}\ninterval = \"1h\"\n\
         [[outlet]]\nname = \"often\"\nurl = {f:?}\ninterval = \"25m\"\n\
         [[outlet]]\nname = \"off\"\nurl = {f:?}\nenabled = false\n"
    )))
    .expect("poller");
    let totals = poller
        .run_until(tokio::time::sleep(Duration::from_secs(3 * 3600 + 1800)))
        .await
        .expect("run");
    let state = poller.state();
    // 0, 1h, 2h, 3h; and every 25 minutes from 0 to 3h20m.
    assert_eq!(state.outlets["hourly"].polls, 4);
    assert_eq!(state.outlets["often"].polls, 9);
    assert_eq!(state.outlets["off"].polls, 0);
    assert_eq!(totals.polls, 13);
    assert_eq!(totals.new, 2, "the item is new once per outlet");
    assert_eq!(totals.unchanged, 11);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_and_a_recovered_feed_is_polled_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let feed = dir.path().join("late.xml");
    let f = feed.display().to_string();
    let mut poller = Poller::new(config(&format!(
        "[schedule]\njitter = 0.0\nmax_interval = \"1h\"\n\
         [[outlet]]\nname = \"late\"\nurl = {f:?}\ninterval = \"10m\"\n"
    )))
    .expect("poller");
    let writer = {
        let feed = feed.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(150 * 60)).await;
            std::fs::write(&feed, rss(&[("g", "T", "", &body("kilo"))])).expect("write");
        })
    };
    let totals = poller
        .run_until(tokio::time::sleep(Duration::from_secs(200 * 60)))
        .await
        .expect("run");
    writer.await.expect("writer");
    let st = &poller.state().outlets["late"];
    // Failures at 0, 10m, 30m, 70m (delays 10, 20, 40, then capped at 60), 130m; the file
    // appears at 150m and the poll at 190m succeeds.
    assert_eq!(st.polls, 6, "{st:?}");
    assert_eq!(totals.failed, 5);
    assert_eq!(st.failures, 0, "{st:?}");
    assert_eq!(totals.new, 1);
}
