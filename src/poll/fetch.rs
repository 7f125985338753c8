//! Fetching one feed politely: conditional GET with the stored validators, gzip and brotli,
//! a body cap enforced while streaming (on the decompressed bytes, so a gzip bomb stops at the
//! cap), timeouts, a redirect limit, and `Retry-After` read from 429 and 503 answers.
//! Local files are read from disk, with mtime and size as their validator.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap};

use crate::config::FetchConfig;
use crate::error::{Error, Result};

use super::guard::{is_refusal, Guard, GuardedResolver};
use super::schedule::{parse_max_age, parse_retry_after};

/// Where an outlet's feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Http(url::Url),
    File(PathBuf),
}

impl Source {
    /// An http(s) URL, a `file://` URL or a local path.
    pub fn parse(url: &str) -> Result<Source> {
        let bad = |message: String| Error::Feed {
            url: url.to_string(),
            message,
        };
        if url.starts_with("http://") || url.starts_with("https://") {
            let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a valid URL: {e}")))?;
            if parsed.host_str().is_none() {
                return Err(bad("the URL has no host".to_string()));
            }
            Ok(Source::Http(parsed))
        } else if url.starts_with("file://") {
            let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a valid URL: {e}")))?;
            let path = parsed
                .to_file_path()
                .map_err(|_| bad("not a local file URL".to_string()))?;
            Ok(Source::File(path))
        } else {
            Ok(Source::File(PathBuf::from(url)))
        }
    }

    /// The key per-host limits and `Retry-After` apply to: host and port for URLs, one shared
    /// key for local files.
    pub fn host_key(&self) -> String {
        match self {
            Source::Http(u) => match u.port_or_known_default() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                None => u.host_str().unwrap_or("").to_string(),
            },
            Source::File(_) => "(local files)".to_string(),
        }
    }
}

/// Validators for a conditional request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A new body.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// HTTP status, `None` for local files.
    pub status: Option<u16>,
    pub body: Vec<u8>,
    pub validators: Validators,
    /// `Cache-Control: max-age`, a floor on the interval.
    pub max_age: Option<Duration>,
    /// The URL after redirects (resolves relative links in the feed).
    pub final_url: Option<String>,
    /// The `Content-Type` header (its charset decides the encoding); `None` for local files.
    pub content_type: Option<String>,
}

/// A failed fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: Option<u16>,
    pub message: String,
    /// From a 429 or 503 answer, already capped at `fetch.max_retry_after`.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// Whether the SSRF guard refused the URL or a redirect (see [`super::guard`]).
    pub fn is_refusal(&self) -> bool {
        self.message.starts_with(super::guard::REFUSED)
    }
}

/// What one fetch gave.
#[derive(Debug, Clone)]
pub enum FetchOutcome {
    Fresh(Fresh),
    /// 304, or a local file whose mtime and size did not change.
    NotModified {
        status: Option<u16>,
        max_age: Option<Duration>,
    },
    Failed(Failure),
}

/// The HTTP client and the limits; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body: usize,
    max_redirects: usize,
    timeout: Duration,
    max_retry_after: Duration,
    /// Set for article pages: every URL and redirect hop is checked before it is requested.
    guard: Option<Guard>,
}

/// What feed and page clients share: user agent, timeouts, compression.
fn client_builder(cfg: &FetchConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(cfg.user_agent.clone())
        .connect_timeout(cfg.connect_timeout)
        .timeout(cfg.timeout)
        .gzip(true)
        .brotli(true)
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Fetcher> {
        let client = client_builder(cfg)
            .redirect(reqwest::redirect::Policy::limited(cfg.max_redirects))
            .build()
            .map_err(|e| Error::Feed {
                url: "(client)".to_string(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Fetcher::with_client(cfg, client, None))
    }

    fn with_client(cfg: &FetchConfig, client: reqwest::Client, guard: Option<Guard>) -> Fetcher {
        Fetcher {
            client,
            max_body: cfg.max_body_bytes.get(),
            max_redirects: cfg.max_redirects,
            timeout: cfg.timeout,
            max_retry_after: cfg.max_retry_after,
            guard,
        }
    }

    /// The client for article pages under `guard`: the same limits and user agent as feeds,
    /// a DNS resolver that drops addresses the guard refuses, and redirects checked hop by
    /// hop. It uses no proxy: a proxy would resolve names itself, past the guard.
    pub fn for_pages(cfg: &FetchConfig, guard: Guard) -> Result<Fetcher> {
        let max = cfg.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                return attempt.error(format!("too many redirects (fetch.max_redirects = {max})"));
            }
            match guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let client = client_builder(cfg)
            .redirect(policy)
            .dns_resolver(std::sync::Arc::new(GuardedResolver { guard }))
            .no_proxy()
            .build()
            .map_err(|e| Error::Feed {
                url: "(client)".to_string(),
                message: format!("cannot build the HTTP client for article pages: {e}"),
            })?;
        Ok(Fetcher::with_client(cfg, client, Some(guard)))
    }

    /// Fetches an article page: the URL is checked by the guard first (scheme, literal
    /// addresses), then requested like a feed (validators, caps, timeouts, Retry-After).
    pub async fn fetch_page(&self, url: &str, validators: &Validators) -> FetchOutcome {
        let fail = |message: String| {
            FetchOutcome::Failed(Failure {
                status: None,
                message,
                retry_after: None,
            })
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return fail(format!("{url} is not a valid URL: {e}")),
        };
        let guard = self.guard.unwrap_or_else(Guard::public_only);
        if let Err(refused) = guard.check_url(&parsed) {
            return fail(refused.to_string());
        }
        self.request(&parsed, validators, true).await
    }

    /// Fetches `source`, conditionally when `validators` are known. Never panics and never
    /// returns more than `fetch.max_body_bytes` of body.
    pub async fn fetch(&self, source: &Source, validators: &Validators) -> FetchOutcome {
        match source {
            Source::Http(url) => self.fetch_http(url, validators).await,
            Source::File(path) => self.fetch_file(path, validators).await,
        }
    }

    async fn fetch_http(&self, url: &url::Url, validators: &Validators) -> FetchOutcome {
        self.request(url, validators, false).await
    }

    /// One GET; `page` asks for HTML rather than a feed.
    async fn request(&self, url: &url::Url, validators: &Validators, page: bool) -> FetchOutcome {
        let mut req = self.client.get(url.clone());
        if page {
            req = req.header(
                header::ACCEPT,
                "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            );
        }
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return FetchOutcome::Failed(self.describe(None, e)),
        };
        let status = resp.status();
        let code = status.as_u16();
        let headers = resp.headers().clone();
        let content_type = header_str(&headers, header::CONTENT_TYPE).map(str::to_string);
        let max_age = header_str(&headers, header::CACHE_CONTROL).and_then(parse_max_age);
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return FetchOutcome::NotModified {
                status: Some(code),
                max_age,
            };
        }
        if !status.is_success() {
            let retry_after = if code == 429 || code == 503 {
                header_str(&headers, header::RETRY_AFTER)
                    .and_then(|v| parse_retry_after(v, SystemTime::now(), self.max_retry_after))
            } else {
                None
            };
            return FetchOutcome::Failed(Failure {
                status: Some(code),
                message: format!("HTTP {status}"),
                retry_after,
            });
        }
        let final_url = resp.url().to_string();
        // The declared length is the wire size; refusing early saves the transfer.
        if let Some(len) = resp.content_length() {
            if len > self.max_body as u64 {
                return FetchOutcome::Failed(Failure {
                    status: Some(code),
                    message: format!(
                        "body of {len} bytes is over the cap of {} bytes (fetch.max_body_bytes)",
                        self.max_body
                    ),
                    retry_after: None,
                });
            }
        }
        let mut body: Vec<u8> = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    if body.len() + bytes.len() > self.max_body {
                        return FetchOutcome::Failed(Failure {
                            status: Some(code),
                            message: format!(
                                "body is over the cap of {} bytes after decompression (fetch.max_body_bytes); stopped reading",
                                self.max_body
                            ),
                            retry_after: None,
                        });
                    }
                    body.extend_from_slice(&bytes);
                }
                Err(e) => return FetchOutcome::Failed(self.describe(Some(code), e)),
            }
        }
        FetchOutcome::Fresh(Fresh {
            status: Some(code),
            body,
            validators: Validators {
                etag: header_str(&headers, header::ETAG).map(str::to_string),
                last_modified: header_str(&headers, header::LAST_MODIFIED).map(str::to_string),
            },
            max_age,
            final_url: Some(final_url),
            content_type,
        })
    }

    fn describe(&self, status: Option<u16>, e: reqwest::Error) -> Failure {
        let refusal = std::error::Error::source(&e).and_then(|s| {
            let mut cur = Some(s);
            while let Some(err) = cur {
                if is_refusal(err) && err.source().is_none_or(|s| !is_refusal(s)) {
                    return Some(err.to_string());
                }
                cur = err.source();
            }
            None
        });
        let message = if let Some(refused) = refusal {
            // The innermost refusal: its text names the URL or host and the address class.
            refused
        } else if e.is_timeout() {
            format!(
                "timed out after {} (fetch.timeout)",
                humantime::format_duration(self.timeout)
            )
        } else if e.is_redirect() {
            format!(
                "too many redirects or a redirect loop (fetch.max_redirects = {})",
                self.max_redirects
            )
        } else {
            let mut m = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                m.push_str(": ");
                m.push_str(&s.to_string());
                source = s.source();
            }
            m
        };
        Failure {
            status,
            message,
            retry_after: None,
        }
    }

    async fn fetch_file(&self, path: &PathBuf, validators: &Validators) -> FetchOutcome {
        let fail = |message: String| {
            FetchOutcome::Failed(Failure {
                status: None,
                message,
                retry_after: None,
            })
        };
        let meta = match tokio::fs::metadata(path).await {
            Ok(m) => m,
            Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
        };
        if !meta.is_file() {
            return fail(format!("{} is not a file", path.display()));
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let validator = format!("file:{mtime}:{}", meta.len());
        if validators.etag.as_deref() == Some(validator.as_str()) {
            return FetchOutcome::NotModified {
                status: None,
                max_age: None,
            };
        }
        if meta.len() > self.max_body as u64 {
            return fail(format!(
                "{} is {} bytes, over the cap of {} bytes (fetch.max_body_bytes)",
                path.display(),
                meta.len(),
                self.max_body
            ));
        }
        match tokio::fs::read(path).await {
            Ok(body) => FetchOutcome::Fresh(Fresh {
                status: None,
                body,
                validators: Validators {
                    etag: Some(validator),
                    last_modified: None,
                },
                max_age: None,
                final_url: None,
                content_type: None,
            }),
            Err(e) => fail(format!("cannot read {}: {e}", path.display())),
        }
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_host_keys() {
        let s = Source::parse("https://Example.org/feed.xml").expect("url");
        assert_eq!(s.host_key(), "example.org:443");
        let s = Source::parse("http://127.0.0.1:8080/a").expect("url");
        assert_eq!(s.host_key(), "127.0.0.1:8080");
        assert_eq!(
            Source::parse("file:///tmp/feed.xml").expect("file url"),
            Source::File(PathBuf::from("/tmp/feed.xml"))
        );
        assert_eq!(
            Source::parse("feeds/a.xml").expect("path"),
            Source::File(PathBuf::from("feeds/a.xml"))
        );
        let err = Source::parse("http://").expect_err("no host").to_string();
        assert!(err.contains("http://"), "{err}");
    }
}
