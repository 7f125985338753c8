//! The read-only HTTP service (axum): cleaned feeds, the stories API, health, metrics and a
//! status page, all served from a [`ServiceState`] snapshot that the daemon replaces after each
//! cycle.
//!
//! | path | what |
//! |---|---|
//! | `/feeds/{name}.atom`, `.rss`, `.json` | output feeds, with ETag, Last-Modified, 304s, gzip |
//! | `/api/stories?limit=&since=&outlet=` | JSON array of stories, newest first |
//! | `/api/stories/{id}` | one story |
//! | `/healthz` | 200 when the store is reachable (503 otherwise), with the last cycle time |
//! | `/metrics` | Prometheus text format |
//! | `/` | HTML status page |
//! | `/stories/{id}` | HTML page of one story: every copy's text, shared and set-aside paragraphs marked |

pub mod metrics;
pub mod state;
mod status;
pub mod story_page;
pub mod update;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use crate::emit::{content_type, format_for_extension};
use crate::model::StoryId;

pub use metrics::{Metrics, PollResult};
pub use state::{
    read, write, FeedBody, Health, OutletStatus, ServiceState, SharedState, StoryRecord,
};
pub use story_page::StoryPages;
pub use update::{load_from_store, Publisher};

/// Address used when only a port, or nothing, is configured: loopback, never all interfaces.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `/api/stories` returns this many stories unless `limit` says otherwise...
pub const DEFAULT_LIMIT: usize = 50;
/// ...and never more than this.
pub const MAX_LIMIT: usize = 1000;

/// The service's routes over `state`, gzip-compressed when the client accepts it.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/", get(status::page))
        .route("/stories/:id", get(story_page::page))
        .route("/feeds/:file", get(feed))
        .route("/api/stories", get(stories))
        .route("/api/stories/:id", get(story))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(CompressionLayer::new().gzip(true))
        .with_state(state)
}

/// Binds `listen` (`http.listen`), e.g. "127.0.0.1:8080"; the error names the address.
pub async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::from_str(listen).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("http.listen \"{listen}\" is not an address such as \"{DEFAULT_LISTEN}\": {e}"),
        )
    })?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: SharedState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "http service listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The service running in the background: [`Service::start`] binds and serves until
/// [`Service::stop`]. Used by `syndedup run` (beside the poller) and `syndedup serve`.
#[derive(Debug)]
pub struct Service {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Service {
    /// Binds `listen` (the bound address is logged at INFO as "http service listening", which
    /// tells a caller the port when it asked for port 0) and serves `state` on a tokio task.
    pub async fn start(listen: &str, state: SharedState) -> std::io::Result<Service> {
        let listener = bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            // A dropped sender also means stop.
            let _ = stopped.wait_for(|s| *s).await;
        };
        let task = tokio::spawn(serve(listener, state, shutdown));
        Ok(Service { addr, stop, task })
    }

    /// The address actually bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes the requests in flight and returns how serving ended.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(format!("the HTTP task failed: {e}"))),
        }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = crate::wire::ApiError {
        error: message.into(),
    };
    (status, Json(body)).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page")
}

/// True when an `If-None-Match` header value matches `etag` (weak comparison, as RFC 9110
/// asks for this header; `*` matches anything).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let ours = bare(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == ours)
}

/// True when an `Accept-Encoding` value accepts gzip: `gzip`, `x-gzip` or `*` with a nonzero
/// quality.
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && q > 0.0
    })
}

fn http_date(t: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(SystemTime::from(t))
}

async fn feed(
    State(state): State<SharedState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((name, format)) = file
        .rsplit_once('.')
        .and_then(|(name, ext)| format_for_extension(ext).map(|f| (name, f)))
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no feed \"{file}\": feeds are served as NAME.atom, NAME.rss or NAME.json"),
        );
    };
    let body = {
        let s = read(&state);
        match s.feed(name, format) {
            Some(b) => b.clone(),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no feed \"{file}\" (published: {})",
                        s.feed_names().join(", ")
                    ),
                )
            }
        }
    };
    let last_modified = http_date(body.last_modified);
    let mut validators = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&body.etag) {
        validators.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        validators.insert(header::LAST_MODIFIED, v);
    }
    validators.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // If-None-Match takes precedence; If-Modified-Since only counts without it (RFC 9110 13.2.2).
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        Some(inm) => inm
            .to_str()
            .map(|v| etag_matches(v, &body.etag))
            .unwrap_or(false),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| SystemTime::from(body.last_modified) <= since),
    };
    if not_modified {
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    validators.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(format)),
    );
    validators.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(accepts_gzip);
    if gzip && !body.gzip.is_empty() {
        // The compression layer leaves responses that already carry an encoding alone.
        validators.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (StatusCode::OK, validators, body.gzip).into_response();
    }
    (StatusCode::OK, validators, body.bytes).into_response()
}

/// The parsed query of `/api/stories`.
#[derive(Debug, PartialEq)]
struct StoriesQuery {
    limit: usize,
    since: Option<DateTime<Utc>>,
    outlet: Option<String>,
}

fn parse_query(q: &HashMap<String, String>) -> Result<StoriesQuery, String> {
    for key in q.keys() {
        if !matches!(key.as_str(), "limit" | "since" | "outlet") {
            return Err(format!(
                "unknown parameter \"{key}\": use limit, since and outlet"
            ));
        }
    }
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(format!(
                    "limit \"{v}\" must be a whole number from 1 to {MAX_LIMIT}"
                ))
            }
        },
    };
    let since = match q.get("since") {
        None => None,
        Some(v) => Some(
            DateTime::parse_from_rfc3339(v)
                .map_err(|e| {
                    format!(
                        "since \"{v}\" is not an RFC 3339 time such as 2024-05-01T00:00:00Z: {e}"
                    )
                })?
                .with_timezone(&Utc),
        ),
    };
    Ok(StoriesQuery {
        limit,
        since,
        outlet: q.get("outlet").cloned(),
    })
}

async fn stories(
    State(state): State<SharedState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let q = match parse_query(&q) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let s = read(&state);
    let list: Vec<_> = s
        .stories()
        .iter()
        .filter(|r| q.since.is_none_or(|t| r.updated >= t))
        .filter(|r| q.outlet.as_deref().is_none_or(|o| r.has_outlet(o)))
        .take(q.limit)
        .map(StoryRecord::wire)
        .collect();
    Json(list).into_response()
}

async fn story(State(state): State<SharedState>, Path(id): Path<String>) -> Response {
    let id = match StoryId::from_str(&id) {
        Ok(id) => id,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match read(&state).story(id) {
        Some(r) => Json(r.wire()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no story {id}")),
    }
}

async fn healthz(State(state): State<SharedState>) -> Response {
    let h = read(&state).health.clone();
    let body = crate::wire::Health {
        status: if h.store_reachable {
            "ok"
        } else {
            "unavailable"
        },
        store: if h.store_reachable {
            "reachable"
        } else {
            "unreachable"
        },
        store_error: h.store_error.as_deref(),
        last_cycle: h.last_cycle.map(|t| t.to_rfc3339()),
    };
    let status = if h.store_reachable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<SharedState>) -> Response {
    let text = read(&state).metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let etag = "\"abc\"";
        assert!(etag_matches("\"abc\"", etag));
        assert!(etag_matches("W/\"abc\"", etag));
        assert!(etag_matches("\"x\", \"abc\"", etag));
        assert!(etag_matches("*", etag));
        assert!(!etag_matches("\"abd\"", etag));
        assert!(!etag_matches("", etag));
    }

    #[test]
    fn accept_encoding_forms() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
        assert!(accepts_gzip("GZIP"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let q = |pairs: &[(&str, &str)]| {
            parse_query(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(q(&[]).unwrap().limit, DEFAULT_LIMIT);
        assert!(q(&[("limit", "0")]).unwrap_err().starts_with("limit"));
        assert!(q(&[("limit", "x")]).unwrap_err().starts_with("limit"));
        assert!(q(&[("since", "yesterday")])
            .unwrap_err()
            .starts_with("since"));
        assert!(q(&[("sort", "x")]).unwrap_err().contains("sort"));
        let ok = q(&[
            ("limit", "3"),
            ("since", "2024-01-01T00:00:00+02:00"),
            ("outlet", "A"),
        ])
        .unwrap();
        assert_eq!(ok.limit, 3);
        assert_eq!(ok.outlet.as_deref(), Some("A"));
        assert_eq!(ok.since.unwrap().to_rfc3339(), "2023-12-31T22:00:00+00:00");
    }
}
