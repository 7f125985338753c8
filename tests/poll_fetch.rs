//! The fetch rules, exercised through `syndedup::poll::Poller` against local HTTP servers.

mod poll_support;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant, SystemTime};

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::routing::get;
use axum::Router;
use poll_support::{body, config, rss, rss_with, serve};
use syndedup::poll::{OutletReport, Poller};
use tokio::time::Instant;

fn feed_response(status: StatusCode, headers: &[(&str, String)], text: String) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(text)).expect("response")
}

fn report<'a>(reports: &'a [OutletReport], name: &str) -> &'a OutletReport {
    reports
        .iter()
        .find(|r| r.outlet == name)
        .unwrap_or_else(|| panic!("no report for {name}: {reports:?}"))
}

fn secs_until(t: Instant) -> u64 {
    t.saturating_duration_since(Instant::now()).as_secs()
}

const SCHEDULE: &str = "[schedule]\ndefault_interval = \"5m\"\nmin_interval = \"1m\"\nmax_interval = \"1d\"\njitter = 0.1\n";

fn two_items() -> String {
    rss(&[
        ("g1", "First", "https://news.example/1", &body("alpha")),
        ("g2", "Second", "https://news.example/2", &body("bravo")),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_gives_200_then_304() {
    let seen_inm = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
    let log = seen_inm.clone();
    let app = Router::new().route(
        "/feed",
        get(move |h: HeaderMap| {
            let log = log.clone();
            async move {
                let inm = h
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                log.lock().expect("lock").push(inm.clone());
                if inm.as_deref() == Some("\"v1\"") {
                    feed_response(StatusCode::NOT_MODIFIED, &[], String::new())
                } else {
                    feed_response(StatusCode::OK, &[("etag", "\"v1\"".into())], two_items())
                }
            }
        }),
    );
    let addr = serve(app).await;
    let cfg = config(&[("a", format!("http://{addr}/feed"))], SCHEDULE);
    let mut poller = Poller::new(cfg).expect("poller");
    let first = poller.run_once().await.expect("run");
    assert_eq!(report(&first, "a").status, "200");
    assert_eq!(report(&first, "a").new, 2);
    let second = poller.run_once().await.expect("run");
    assert_eq!(report(&second, "a").status, "304");
    assert_eq!(report(&second, "a").new, 0);
    let log = seen_inm.lock().expect("lock").clone();
    assert_eq!(log, vec![None, Some("\"v1\"".to_string())]);
    assert_eq!(poller.state().outlets["a"].etag.as_deref(), Some("\"v1\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_modified_is_sent_back() {
    let lm = "Wed, 21 Oct 2015 07:28:00 GMT";
    let app = Router::new().route(
        "/feed",
        get(move |h: HeaderMap| async move {
            match h
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
            {
                Some(v) if v == lm => feed_response(StatusCode::NOT_MODIFIED, &[], String::new()),
                _ => feed_response(StatusCode::OK, &[("last-modified", lm.into())], two_items()),
            }
        }),
    );
    let addr = serve(app).await;
    let cfg = config(&[("a", format!("http://{addr}/feed"))], SCHEDULE);
    let mut poller = Poller::new(cfg).expect("poller");
    assert_eq!(poller.run_once().await.expect("run")[0].status, "200");
    assert_eq!(poller.run_once().await.expect("run")[0].status, "304");
}

async fn retry_after_case(code: StatusCode, value: String, cap: &str) -> (u64, u64, u64, u64) {
    let limited = Router::new()
        .route(
            "/limited",
            get(move || {
                let value = value.clone();
                async move { feed_response(code, &[("retry-after", value)], String::new()) }
            }),
        )
        .route(
            "/ok",
            get(|| async { feed_response(StatusCode::OK, &[], two_items()) }),
        );
    let other = Router::new().route(
        "/ok",
        get(|| async { feed_response(StatusCode::OK, &[], two_items()) }),
    );
    let a = serve(limited).await;
    let b = serve(other).await;
    let cfg = config(
        &[
            ("limited", format!("http://{a}/limited")),
            ("same-host", format!("http://{a}/ok")),
            ("other-host", format!("http://{b}/ok")),
        ],
        &format!("{SCHEDULE}[fetch]\nmax_retry_after = \"{cap}\"\n"),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    assert_eq!(report(&reports, "limited").status, code.as_str());
    assert_eq!(report(&reports, "other-host").status, "200");
    let host = format!("127.0.0.1:{}", a.port());
    (
        secs_until(poller.host_blocked_until(&host).expect("host is blocked")),
        secs_until(poller.next_due("limited").expect("due")),
        secs_until(poller.next_due("same-host").expect("due")),
        secs_until(poller.next_due("other-host").expect("due")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_seconds_delays_the_whole_host_only() {
    let (host, limited, same, other) =
        retry_after_case(StatusCode::TOO_MANY_REQUESTS, "3000".into(), "6h").await;
    assert!((2990..=3000).contains(&host), "{host}");
    assert!(limited >= 2990, "{limited}");
    assert!(
        same >= 2990,
        "the other outlet on the host waits too: {same}"
    );
    assert!(other <= 330, "another host keeps its interval: {other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_http_date_on_503_is_honoured_and_capped() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2000));
    let (host, _, same, other) =
        retry_after_case(StatusCode::SERVICE_UNAVAILABLE, date, "6h").await;
    assert!((1980..=2000).contains(&host), "{host}");
    assert!(same >= 1980, "{same}");
    assert!(other <= 330, "{other}");
    let (capped, ..) = retry_after_case(StatusCode::TOO_MANY_REQUESTS, "999999".into(), "1h").await;
    assert!((3590..=3600).contains(&capped), "{capped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_back_off_exponentially() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        "/feed",
        get(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { feed_response(StatusCode::INTERNAL_SERVER_ERROR, &[], "oops".into()) }
        }),
    );
    let addr = serve(app).await;
    let cfg = config(&[("a", format!("http://{addr}/feed"))], SCHEDULE);
    let mut poller = Poller::new(cfg).expect("poller");
    let mut delays = Vec::new();
    for _ in 0..3 {
        let r = poller.run_once().await.expect("run");
        assert_eq!(r[0].status, "500");
        assert!(r[0].error.as_deref().unwrap_or("").contains("500"), "{r:?}");
        delays.push(secs_until(poller.next_due("a").expect("due")));
    }
    // 5 min, then doubled, plus at most 10% jitter: never a tight loop, never disabled.
    assert!((298..=330).contains(&delays[0]), "{delays:?}");
    assert!((598..=660).contains(&delays[1]), "{delays:?}");
    assert!((1198..=1320).contains(&delays[2]), "{delays:?}");
    assert_eq!(poller.state().outlets["a"].failures, 3);
    assert_eq!(hits.load(Ordering::SeqCst), 3, "no retries inside one poll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_and_others_finish() {
    let app = Router::new()
        .route(
            "/never",
            get(|| async {
                std::future::pending::<()>().await;
                "unreachable"
            }),
        )
        .route(
            "/ok",
            get(|| async { feed_response(StatusCode::OK, &[], two_items()) }),
        );
    let addr = serve(app).await;
    let cfg = config(
        &[
            ("silent", format!("http://{addr}/never")),
            ("fine", format!("http://{addr}/ok")),
        ],
        &format!("{SCHEDULE}[fetch]\ntimeout = \"2s\"\n"),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let start = StdInstant::now();
    let reports = poller.run_once().await.expect("run");
    assert!(start.elapsed() < Duration::from_secs(20));
    let silent = report(&reports, "silent");
    assert_eq!(silent.status, "error");
    assert!(
        silent.error.as_deref().unwrap_or("").contains("timed out"),
        "{silent:?}"
    );
    assert_eq!(report(&reports, "fine").new, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_cap_are_refused() {
    let big = "x".repeat(50_000);
    let big2 = big.clone();
    let app = Router::new()
        .route(
            "/declared",
            get(move || {
                let big = big.clone();
                async move { feed_response(StatusCode::OK, &[], big) }
            }),
        )
        .route(
            "/chunked",
            get(move || {
                let chunks: Vec<Result<String, std::io::Error>> =
                    (0..10).map(|_| Ok(big2[..5000].to_string())).collect();
                async move { Response::new(Body::from_stream(futures_util::stream::iter(chunks))) }
            }),
        );
    let addr = serve(app).await;
    let cfg = config(
        &[
            ("declared", format!("http://{addr}/declared")),
            ("chunked", format!("http://{addr}/chunked")),
        ],
        &format!("{SCHEDULE}[fetch]\nmax_body_bytes = 10000\n"),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    for name in ["declared", "chunked"] {
        let r = report(&reports, name);
        let e = r.error.as_deref().unwrap_or("");
        assert!(
            e.contains("over the cap") && e.contains("max_body_bytes"),
            "{r:?}"
        );
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).expect("brotli");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_brotli_are_decoded_and_bombs_stop_at_the_cap() {
    let zeros = vec![b' '; 16 * 1024 * 1024];
    let gz_bomb = Arc::new(gzip(&zeros));
    let br_bomb = Arc::new(brotli(&zeros));
    assert!(
        gz_bomb.len() < 100_000 && br_bomb.len() < 100_000,
        "small on the wire"
    );
    // Serves `data` with `Content-Encoding: encoding`.
    let encoded = |encoding: &'static str, data: Arc<Vec<u8>>| {
        move || {
            let data = data.clone();
            async move {
                Response::builder()
                    .header("content-encoding", encoding)
                    .header("content-type", "application/rss+xml")
                    .body(Body::from(data.as_ref().clone()))
                    .expect("response")
            }
        }
    };
    let app = Router::new()
        .route("/gzip-bomb", get(encoded("gzip", gz_bomb)))
        .route("/br-bomb", get(encoded("br", br_bomb)))
        .route(
            "/gzip",
            get(encoded("gzip", Arc::new(gzip(two_items().as_bytes())))),
        )
        .route(
            "/br",
            get(encoded("br", Arc::new(brotli(two_items().as_bytes())))),
        );
    let addr = serve(app).await;
    let cfg = config(
        &[
            ("gzip-bomb", format!("http://{addr}/gzip-bomb")),
            ("br-bomb", format!("http://{addr}/br-bomb")),
            ("gzip", format!("http://{addr}/gzip")),
            ("br", format!("http://{addr}/br")),
        ],
        &format!("{SCHEDULE}[fetch]\nmax_body_bytes = 1000000\n"),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    for name in ["gzip-bomb", "br-bomb"] {
        let bomb = report(&reports, name);
        assert!(
            bomb.error
                .as_deref()
                .unwrap_or("")
                .contains("after decompression"),
            "{bomb:?}"
        );
    }
    for name in ["gzip", "br"] {
        let good = report(&reports, name);
        assert_eq!((good.status.as_str(), good.new), ("200", 2), "{good:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_xml_is_reported_and_the_run_continues() {
    let app = Router::new()
        .route(
            "/broken",
            get(|| async { "<rss version=\"2.0\"><channel><item><title>x</ti" }),
        )
        .route(
            "/html",
            get(|| async { "<html><body>not a feed</body></html>" }),
        )
        .route(
            "/ok",
            get(|| async { feed_response(StatusCode::OK, &[], two_items()) }),
        );
    let addr = serve(app).await;
    let cfg = config(
        &[
            ("broken", format!("http://{addr}/broken")),
            ("html", format!("http://{addr}/html")),
            ("ok", format!("http://{addr}/ok")),
        ],
        SCHEDULE,
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    // The cut-off document's only item is unfinished: an item-bearing document that yields
    // no item is an error, not "ok, 0 items". The HTML page is named as one.
    for (name, start) in [
        ("broken", "no items: the RSS 2.0 document has 1 <item>"),
        ("html", "not a feed: an HTML page"),
    ] {
        let r = report(&reports, name);
        assert!(r.error.as_deref().unwrap_or("").starts_with(start), "{r:?}");
    }
    assert_eq!(report(&reports, "ok").new, 2);
    assert_eq!(poller.state().outlets["broken"].failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_loops_fail_and_plain_redirects_are_followed() {
    let redirect = |to: &'static str| {
        move || async move {
            feed_response(
                StatusCode::FOUND,
                &[("location", to.to_string())],
                String::new(),
            )
        }
    };
    let app = Router::new()
        .route("/loop", get(redirect("/loop2")))
        .route("/loop2", get(redirect("/loop")))
        .route("/moved", get(redirect("/ok")))
        .route(
            "/ok",
            get(|| async { feed_response(StatusCode::OK, &[], two_items()) }),
        );
    let addr = serve(app).await;
    let cfg = config(
        &[
            ("loop", format!("http://{addr}/loop")),
            ("moved", format!("http://{addr}/moved")),
        ],
        SCHEDULE,
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    let l = report(&reports, "loop");
    assert!(
        l.error.as_deref().unwrap_or("").contains("redirect"),
        "{l:?}"
    );
    assert_eq!(report(&reports, "moved").new, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_and_max_age_are_floors_on_the_interval() {
    let app = Router::new()
        .route(
            "/ttl",
            get(|| async {
                let text = rss_with(&[("g", "T", "", &body("ttl"))], "<ttl>180</ttl>");
                feed_response(StatusCode::OK, &[], text)
            }),
        )
        .route(
            "/maxage",
            get(|| async {
                feed_response(
                    StatusCode::OK,
                    &[("cache-control", "public, max-age=7200".into())],
                    two_items(),
                )
            }),
        );
    let addr = serve(app).await;
    let cfg = config(
        &[
            ("ttl", format!("http://{addr}/ttl")),
            ("maxage", format!("http://{addr}/maxage")),
        ],
        SCHEDULE,
    );
    let mut poller = Poller::new(cfg).expect("poller");
    poller.run_once().await.expect("run");
    let ttl = secs_until(poller.next_due("ttl").expect("due"));
    let max_age = secs_until(poller.next_due("maxage").expect("due"));
    assert!((3 * 3600 - 5..=3 * 3600 * 11 / 10).contains(&ttl), "{ttl}");
    assert!((7200 - 5..=7920).contains(&max_age), "{max_age}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_and_global_limits_hold() {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let slow = |now: Arc<AtomicUsize>, peak: Arc<AtomicUsize>| {
        Router::new().route(
            "/*rest",
            get(move || {
                let (now, peak) = (now.clone(), peak.clone());
                async move {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    feed_response(StatusCode::OK, &[], two_items())
                }
            }),
        )
    };
    // One host: per-host limit 2.
    let a = serve(slow(now.clone(), peak.clone())).await;
    let outlets: Vec<(String, String)> = (0..6)
        .map(|i| (format!("o{i}"), format!("http://{a}/f{i}")))
        .collect();
    let refs: Vec<(&str, String)> = outlets
        .iter()
        .map(|(n, u)| (n.as_str(), u.clone()))
        .collect();
    let cfg = config(
        &refs,
        &format!("{SCHEDULE}[fetch]\nconcurrency = 4\nper_host_concurrency = 2\n"),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    let reports = poller.run_once().await.expect("run");
    assert!(reports.iter().all(|r| r.status == "200"), "{reports:?}");
    assert_eq!(peak.load(Ordering::SeqCst), 2);

    // Three hosts sharing one counter: global limit 2.
    let (now2, peak2) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut outlets = Vec::new();
    for h in 0..3 {
        let addr = serve(slow(now2.clone(), peak2.clone())).await;
        for i in 0..2 {
            outlets.push((format!("h{h}o{i}"), format!("http://{addr}/f{i}")));
        }
    }
    let refs: Vec<(&str, String)> = outlets
        .iter()
        .map(|(n, u)| (n.as_str(), u.clone()))
        .collect();
    let cfg = config(
        &refs,
        &format!("{SCHEDULE}[fetch]\nconcurrency = 2\nper_host_concurrency = 2\n"),
    );
    let mut poller = Poller::new(cfg).expect("poller");
    poller.run_once().await.expect("run");
    assert_eq!(peak2.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_serde_round_trip_into_a_new_poller() {
    let app = Router::new()
        .route(
            "/plain",
            get(|| async { feed_response(StatusCode::OK, &[], two_items()) }),
        )
        .route(
            "/feed",
            get(|h: HeaderMap| async move {
                if h.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"v9\"") {
                    feed_response(StatusCode::NOT_MODIFIED, &[], String::new())
                } else {
                    feed_response(StatusCode::OK, &[("etag", "\"v9\"".into())], two_items())
                }
            }),
        );
    let addr = serve(app).await;
    let outlets = [
        ("a", format!("http://{addr}/feed")),
        ("b", format!("http://{addr}/plain")),
    ];
    let mut first = Poller::new(config(&outlets, SCHEDULE)).expect("poller");
    let r = first.run_once().await.expect("run");
    assert_eq!((r[0].new, r[1].new), (2, 2));
    let saved = serde_json::to_string(&first.state()).expect("serialize");

    let mut second = Poller::new(config(&outlets, SCHEDULE)).expect("poller");
    second.restore(serde_json::from_str(&saved).expect("deserialize"));
    let due = secs_until(second.next_due("a").expect("due"));
    assert!(
        (290..=330).contains(&due),
        "the saved next poll time holds: {due}"
    );
    let r = second.run_once().await.expect("run");
    assert_eq!(r[0].status, "304", "the saved ETag is sent");
    assert_eq!(
        (r[1].status.as_str(), r[1].new),
        ("200", 0),
        "seen items are remembered"
    );
    assert_eq!(second.state().seen.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_leaves_a_blocked_host_alone() {
    let ok_hits = Arc::new(AtomicUsize::new(0));
    let other_hits = Arc::new(AtomicUsize::new(0));
    let (h1, h2) = (ok_hits.clone(), other_hits.clone());
    let a = serve(
        Router::new()
            .route(
                "/limited",
                get(|| async {
                    feed_response(
                        StatusCode::TOO_MANY_REQUESTS,
                        &[("retry-after", "3600".into())],
                        String::new(),
                    )
                }),
            )
            .route(
                "/ok",
                get(move || {
                    h1.fetch_add(1, Ordering::SeqCst);
                    async { feed_response(StatusCode::OK, &[], two_items()) }
                }),
            ),
    )
    .await;
    let b = serve(Router::new().route(
        "/ok",
        get(move || {
            h2.fetch_add(1, Ordering::SeqCst);
            async { feed_response(StatusCode::OK, &[], two_items()) }
        }),
    ))
    .await;
    let cfg = config(
        &[
            ("limited", format!("http://{a}/limited")),
            ("same-host", format!("http://{a}/ok")),
            ("other-host", format!("http://{b}/ok")),
        ],
        SCHEDULE,
    );
    let mut poller = Poller::new(cfg).expect("poller");
    // "same-host" is due a little after the daemon starts (as if restored from a store), by
    // which time "limited" has been told to come back in an hour.
    let mut state = poller.state();
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 1;
    state.outlets.get_mut("same-host").expect("outlet").next_due = Some(soon);
    poller.restore(state);
    let totals = poller
        .run_until(tokio::time::sleep(Duration::from_millis(2500)))
        .await
        .expect("run");
    assert_eq!(totals.polls, 2, "{totals:?}");
    assert_eq!(
        ok_hits.load(Ordering::SeqCst),
        0,
        "the blocked host was polled"
    );
    assert_eq!(other_hits.load(Ordering::SeqCst), 1);
    assert!(secs_until(poller.next_due("same-host").expect("due")) >= 3590);
}
