//! The HTTP service over a real loopback socket: feeds with validators, the JSON API, health,
//! metrics and the status page, all driven through `ServiceState` as the daemon will.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use reqwest::header;
use reqwest::StatusCode;
use syndedup::config::FeedFormat;
use syndedup::emit::{self, FeedBuilder};
use syndedup::http::{self, PollResult, ServiceState, SharedState, StoryRecord};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, h, m, 0).unwrap()
}

/// A state as the daemon would publish it after one cycle over the fixture items.
fn cycle_state() -> SharedState {
    let config = config();
    let (engine, bodies) = run(&config, &items());
    let stories = engine.stories();
    let dir = tempfile::tempdir().unwrap();
    let (rendered, errors) = emit::publish(&config, dir.path(), &stories, &bodies, at(12, 0));
    assert!(errors.is_empty(), "{errors:?}");
    let mut state = ServiceState::for_config(&config);
    assert_eq!(state.set_feeds(rendered, at(12, 0)), 9);
    state.set_stories(
        stories
            .into_iter()
            .map(|v| StoryRecord::latest(v, at(12, 0)))
            .collect(),
    );
    state.health.store_reachable = true;
    state.health.last_cycle = Some(at(12, 0));
    state.shared()
}

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(state: SharedState) -> Server {
        let listener = http::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(http::serve(listener, state, async {
            let _ = rx.await;
        }));
        Server {
            addr,
            stop: Some(tx),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

async fn json(r: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn feeds_answer_200_then_304_and_change_with_the_content() {
    let state = cycle_state();
    let server = Server::start(state.clone()).await;
    let c = client();

    let r = c.get(server.url("/feeds/all.atom")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/atom+xml; charset=utf-8"
    );
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let last_modified = r.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(last_modified, "Mon, 01 Jan 2024 12:00:00 GMT");
    let body = r.bytes().await.unwrap();
    let parsed = feed_rs::parser::parse(&body[..]).unwrap();
    assert_eq!(parsed.entries.len(), 3);
    assert!(parsed.entries[0].id.starts_with("urn:syndedup:all:"));

    let r = c
        .get(server.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());

    // Clients that drop the weak marker, or send several tags, still get a 304.
    let r = c
        .get(server.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, format!("\"x\", {}", &etag[2..]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let r = c
        .get(server.url("/feeds/all.atom"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // The RSS and JSON variants are served too, each with its own validator.
    for (path, ctype) in [
        ("/feeds/all.rss", "application/rss+xml; charset=utf-8"),
        ("/feeds/world.json", "application/feed+json; charset=utf-8"),
    ] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()[header::CONTENT_TYPE], ctype);
        assert_ne!(r.headers()[header::ETAG].to_str().unwrap(), etag);
        feed_rs::parser::parse(&r.bytes().await.unwrap()[..]).unwrap();
    }

    // A new cycle changes the feed: the old ETag no longer matches.
    {
        let config = config();
        let mut more = items();
        more.push((
            "g7",
            "Gazette",
            "Chip plant",
            "2024-01-01T13:00:00Z",
            CHIPS.to_string(),
        ));
        let (engine, bodies) = run(&config, &more);
        let doc = FeedBuilder::new(&config.feeds[0], &config).build(
            &engine.stories(),
            &bodies,
            at(13, 5),
        );
        let changed = http::write(&state).set_feed(
            "all",
            FeedFormat::Atom,
            doc.render(FeedFormat::Atom),
            at(13, 5),
        );
        assert!(changed);
    }
    let r = c
        .get(server.url("/feeds/all.atom"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert_eq!(
        r.headers()[header::LAST_MODIFIED],
        "Mon, 01 Jan 2024 13:05:00 GMT"
    );

    for missing in [
        "/feeds/nope.atom",
        "/feeds/all.xml",
        "/feeds/all",
        "/nothing",
    ] {
        let r = c.get(server.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
        let v: serde_json::Value = json(r).await;
        assert!(v["error"].is_string(), "{missing}: {v}");
    }
    server.stop().await;
}

#[tokio::test]
async fn feeds_are_gzipped_when_asked() {
    let state = cycle_state();
    let (expected, pregzipped) = {
        let s = http::read(&state);
        let f = s.feed("all", FeedFormat::Rss).unwrap();
        (f.bytes.clone(), f.gzip.clone())
    };
    let server = Server::start(state).await;
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(server.url("/feeds/all.rss"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(r.headers().contains_key(header::ETAG));
    let vary: Vec<_> = r.headers().get_all(header::VARY).iter().collect();
    assert_eq!(vary, ["accept-encoding"]);
    let compressed = r.bytes().await.unwrap();
    // Served from the copy compressed once at publication, not per request.
    assert_eq!(compressed, pregzipped);
    assert!(compressed.len() < expected.len());
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, expected);

    for refuses in [None, Some("gzip;q=0"), Some("identity")] {
        let mut req = raw.get(server.url("/feeds/all.rss"));
        if let Some(v) = refuses {
            req = req.header(header::ACCEPT_ENCODING, v);
        }
        let r = req.send().await.unwrap();
        assert!(
            !r.headers().contains_key(header::CONTENT_ENCODING),
            "{refuses:?}"
        );
        assert_eq!(r.bytes().await.unwrap(), expected);
    }
    // Other responses are compressed on the fly by the compression layer.
    let r = raw
        .get(server.url("/api/stories"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    server.stop().await;
}

fn assert_story_shape(v: &serde_json::Value) {
    let obj = v.as_object().expect("story object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["canonical", "copies", "story"], "{v}");
    assert!(v["story"].as_str().unwrap().starts_with('s'));
    assert!(v["canonical"]["id"].is_string());
    for copy in v["copies"].as_array().unwrap() {
        let mut keys: Vec<&str> = copy
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["id", "outlet", "published", "score", "title", "url"],
            "{copy}"
        );
    }
}

#[tokio::test]
async fn stories_api_shapes_and_filters() {
    let state = cycle_state();
    let server = Server::start(state).await;
    let c = client();
    let get = |path: &str| c.get(server.url(path)).send();

    let r = get("/api/stories").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let list: serde_json::Value = json(r).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    list.iter().for_each(assert_story_shape);
    // Newest first: the chips story (11:00), then monsoon (10:10), then talks (09:30).
    assert_eq!(list[0]["canonical"]["id"], "w3");
    assert_eq!(list[1]["canonical"]["id"], "h1");
    assert_eq!(list[1]["canonical"]["outlet"], "Herald");
    assert_eq!(list[1]["copies"].as_array().unwrap().len(), 2);
    assert_eq!(list[1]["copies"][0]["score"], 1.0);
    assert_eq!(list[1]["copies"][1]["url"], "https://daily.example/d2");

    let one: serde_json::Value = json(get("/api/stories?limit=1").await.unwrap()).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let herald: serde_json::Value = json(get("/api/stories?outlet=Herald").await.unwrap()).await;
    assert_eq!(herald.as_array().unwrap().len(), 1);
    assert_eq!(herald[0]["canonical"]["id"], "h1");
    let since: serde_json::Value = json(
        get("/api/stories?since=2024-01-01T10:05:00Z")
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<&str> = since
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["canonical"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["w3", "h1"]);

    let story_id = list[1]["story"].as_str().unwrap().to_string();
    let r = get(&format!("/api/stories/{story_id}")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let single: serde_json::Value = json(r).await;
    assert_story_shape(&single);
    assert_eq!(single, list[1]);

    for (path, status, word) in [
        ("/api/stories?limit=0", StatusCode::BAD_REQUEST, "limit"),
        ("/api/stories?limit=abc", StatusCode::BAD_REQUEST, "limit"),
        (
            "/api/stories?since=yesterday",
            StatusCode::BAD_REQUEST,
            "since",
        ),
        ("/api/stories?order=asc", StatusCode::BAD_REQUEST, "order"),
        ("/api/stories/s999", StatusCode::NOT_FOUND, "s999"),
        ("/api/stories/banana", StatusCode::BAD_REQUEST, "banana"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let v: serde_json::Value = json(r).await;
        assert!(v["error"].as_str().unwrap().contains(word), "{path}: {v}");
    }
    server.stop().await;
}

#[tokio::test]
async fn healthz_follows_the_store() {
    let state = cycle_state();
    let server = Server::start(state.clone()).await;
    let c = client();
    let r = c.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = json(r).await;
    assert_eq!(v["status"], "ok");
    assert_eq!(v["last_cycle"], "2024-01-01T12:00:00+00:00");

    {
        let mut s = http::write(&state);
        s.health.store_reachable = false;
        s.health.store_error = Some("database is locked".into());
    }
    let r = c.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = json(r).await;
    assert_eq!(v["store"], "unreachable");
    assert_eq!(v["store_error"], "database is locked");
    server.stop().await;
}

/// One parsed sample: metric name, labels (unescaped), value.
type Sample = (String, Vec<(String, String)>, f64);

/// A strict reader of the Prometheus text exposition format (0.0.4): every line must be a
/// HELP, a TYPE or a sample of a declared family, label values properly escaped, histogram
/// buckets cumulative and ending in +Inf equal to _count.
fn scrape(text: &str) -> Vec<Sample> {
    let name = r"[a-zA-Z_:][a-zA-Z0-9_:]*";
    let help = regex::Regex::new(&format!(r"^# HELP ({name}) .*$")).unwrap();
    let typ = regex::Regex::new(&format!(
        r"^# TYPE ({name}) (counter|gauge|histogram|summary|untyped)$"
    ))
    .unwrap();
    let label = r#"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*""#;
    let sample = regex::Regex::new(&format!(
        r"^({name})(?:\{{((?:{label})(?:,{label})*)?\}})? ([^ ]+)$"
    ))
    .unwrap();
    let one_label = regex::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)""#).unwrap();
    let mut types: std::collections::HashMap<String, String> = Default::default();
    let mut out = Vec::new();
    assert!(text.ends_with('\n'), "exposition must end with a line feed");
    for line in text.lines() {
        if help.is_match(line) {
            continue;
        }
        if let Some(c) = typ.captures(line) {
            assert!(
                types.insert(c[1].to_string(), c[2].to_string()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        let c = sample
            .captures(line)
            .unwrap_or_else(|| panic!("not exposition format: {line:?}"));
        let metric = c[1].to_string();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                metric
                    .strip_suffix(s)
                    .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(&metric)
            .to_string();
        assert!(
            types.contains_key(&family),
            "sample before its TYPE: {line}"
        );
        let labels: Vec<(String, String)> = c
            .get(2)
            .map(|l| {
                one_label
                    .captures_iter(l.as_str())
                    .map(|m| (m[1].to_string(), unescape(&m[2])))
                    .collect()
            })
            .unwrap_or_default();
        let value: f64 = match &c[3] {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        out.push((metric, labels, value));
    }
    for (family, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        let buckets: Vec<(f64, f64)> = out
            .iter()
            .filter(|(m, _, _)| *m == format!("{family}_bucket"))
            .map(|(_, l, v)| {
                let le = &l.iter().find(|(k, _)| k == "le").expect("le label").1;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (le, *v)
            })
            .collect();
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{buckets:?}"
        );
        let count = value(&out, &format!("{family}_count"), &[]).expect("_count");
        assert_eq!(
            buckets.last().map(|b| (b.0, b.1)),
            Some((f64::INFINITY, count))
        );
    }
    out
}

fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => panic!("dangling escape in {v:?}"),
        }
    }
    out
}

fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(m, l, _)| {
            m == metric
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| *v)
}

#[tokio::test]
async fn metrics_parse_and_move() {
    let state = cycle_state();
    let server = Server::start(state.clone()).await;
    let c = client();
    let fetch = || async {
        let r = c.get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        scrape(&r.text().await.unwrap())
    };
    let before = fetch().await;
    assert_eq!(
        value(&before, "syndedup_items_ingested_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&before, "syndedup_polls_total", &[("outlet", "Daily")]),
        None
    );

    {
        let mut s = http::write(&state);
        s.record_poll(
            "Daily",
            PollResult::Ok,
            Duration::from_millis(80),
            at(12, 0),
            2,
            None,
        );
        s.record_poll(
            "Daily",
            PollResult::Ok,
            Duration::from_millis(300),
            at(12, 15),
            2,
            None,
        );
        s.record_poll(
            "Herald \"HQ\"",
            PollResult::Error,
            Duration::from_secs(3),
            at(12, 0),
            0,
            Some("timed out".into()),
        );
        s.metrics.add_items_ingested(5);
        s.metrics.add_duplicates(2);
        s.metrics.set_stories(3);
        s.metrics.record_engine(5, Duration::from_millis(10));
        s.metrics.add_store_error();
    }
    let after = fetch().await;
    assert_eq!(
        value(
            &after,
            "syndedup_polls_total",
            &[("outlet", "Daily"), ("result", "ok")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &after,
            "syndedup_polls_total",
            &[("outlet", "Herald \"HQ\""), ("result", "error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "syndedup_items_ingested_total", &[]),
        Some(5.0)
    );
    assert_eq!(value(&after, "syndedup_duplicates_total", &[]), Some(2.0));
    assert_eq!(value(&after, "syndedup_stories", &[]), Some(3.0));
    assert_eq!(
        value(&after, "syndedup_engine_articles_total", &[]),
        Some(5.0)
    );
    assert_eq!(
        value(&after, "syndedup_engine_articles_per_second", &[]),
        Some(500.0)
    );
    assert_eq!(value(&after, "syndedup_store_errors_total", &[]), Some(1.0));
    let bucket = |le: &str| {
        value(
            &after,
            "syndedup_fetch_duration_seconds_bucket",
            &[("le", le)],
        )
    };
    assert_eq!(bucket("0.1"), Some(1.0));
    assert_eq!(bucket("0.5"), Some(2.0));
    assert_eq!(bucket("5"), Some(3.0));
    assert_eq!(bucket("+Inf"), Some(3.0));
    let sum = value(&after, "syndedup_fetch_duration_seconds_sum", &[]).unwrap();
    assert!((sum - 3.38).abs() < 1e-9, "{sum}");
    server.stop().await;
}

#[tokio::test]
async fn status_page_shows_outlet_errors_escaped() {
    let state = cycle_state();
    {
        let mut s = http::write(&state);
        s.record_poll(
            "Daily",
            PollResult::Ok,
            Duration::from_millis(50),
            at(12, 0),
            2,
            None,
        );
        s.record_poll(
            "Herald",
            PollResult::Error,
            Duration::from_secs(30),
            at(12, 1),
            0,
            Some("feed https://herald.example/atom: HTTP 503 <b>Service Unavailable</b>".into()),
        );
    }
    let server = Server::start(state).await;
    let r = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(
        page.contains("HTTP 503 &lt;b&gt;Service Unavailable&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>Service"));
    assert!(!page.to_lowercase().contains("<script"));
    let herald_row = page
        .lines()
        .find(|l| l.contains("<td>Herald</td>"))
        .expect("Herald row");
    assert!(herald_row.contains("2024-01-01T12:01:00Z"), "{herald_row}");
    assert!(herald_row.contains("error"), "{herald_row}");
    let wire_row = page
        .lines()
        .find(|l| l.contains("<td>Wire</td>"))
        .expect("Wire row before its first poll");
    assert!(wire_row.contains("not polled yet"), "{wire_row}");
    assert!(page.contains("Monsoon arrives early"));
    assert!(page.contains("href=\"https://daily.example/d2\""));
    assert!(page.contains("/feeds/world.atom"));
    server.stop().await;
}

#[tokio::test]
async fn bind_errors_name_the_address() {
    let err = http::bind("localhost:http").await.unwrap_err();
    assert!(err.to_string().contains("localhost:http"), "{err}");
    let taken = http::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = http::bind(&addr).await.unwrap_err();
    assert!(err.to_string().contains(&addr), "{err}");
}
