//! Full text for summary-only feeds, the poller's side: which of a poll's fresh items get
//! their linked page, taking it from the page cache or fetching it (through the same host
//! gates, global limit and `Retry-After` blocks as feeds, within one request's time for the
//! whole poll), and extracting its main text on the blocking pool ([`super::fulltext`] has
//! the pure parts). A page that gives no usable text leaves its item as the feed gave it; it
//! is counted per outlet and logged.

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{decode, fetch, fulltext};
use super::{FetchOutcome, Fetcher, FullTextCounts, HostGate, Poller, Source, Validators};
use crate::error::{Error, Result};
use crate::ingest::FreshItem;
use crate::store::CachedPage;

/// A page to fetch for one fresh item.
struct PageJob {
    /// The item's index among the poll's fresh items.
    k: usize,
    link: String,
    /// The cached page an edited item revalidates.
    cached: Option<CachedPage>,
    /// Words of the feed's own text: the page's main text must be longer.
    words: usize,
}

/// A fetched page to extract.
struct PageBody {
    k: usize,
    link: String,
    final_url: String,
    body: Vec<u8>,
    /// The HTTP charset, if any.
    charset: Option<String>,
    validators: Validators,
    words: usize,
}

/// Pages that gave no full text: counted, logged at DEBUG, the first error kept for the
/// poll's one WARN line.
struct Failures<'a> {
    outlet: &'a str,
    first_error: Option<String>,
}

impl Failures<'_> {
    fn note(&mut self, counts: &mut FullTextCounts, refused: bool, url: &str, error: &str) {
        if refused {
            counts.refused += 1;
        } else {
            counts.failed += 1;
        }
        debug!(outlet = %self.outlet, url = %url, refused, error = %error, "full text not used; the item keeps its feed text");
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

impl Poller {
    /// Fetches (or takes from the cache) the page of each fresh item that wants it under the
    /// outlet's `full_text` mode, and sets `page` on the items whose page gave usable text.
    /// New items are fetched on a cache miss; an edited item only revalidates a cached page
    /// (a conditional GET). Failures leave the item as it is; they are counted and logged.
    /// The error is a page-cache lookup task that failed and took the store with it.
    pub(super) async fn full_texts(
        &mut self,
        i: usize,
        fresh: &mut [FreshItem],
        now_unix: i64,
    ) -> Result<FullTextCounts> {
        let mut counts = FullTextCounts::default();
        let Some(fetcher) = self.page_fetchers.get(&self.outlets[i].guard).cloned() else {
            return Ok(counts);
        };
        let outlet = self.outlets[i].cfg.name.clone();
        let mut failures = Failures {
            outlet: &outlet,
            first_error: None,
        };
        let jobs = self.page_jobs(i, fresh, &mut counts, &mut failures).await?;
        let tasks = self.spawn_pages(jobs, &fetcher);
        let bodies = self
            .collect_pages(tasks, fresh, now_unix, &mut counts, &mut failures)
            .await;
        if !bodies.is_empty() {
            self.extract_pages(bodies, fresh, now_unix, &mut counts, &mut failures)
                .await;
        }
        if counts.failed + counts.refused > 0 {
            if let Some(error) = &failures.first_error {
                warn!(
                    outlet = %outlet,
                    failed = counts.failed,
                    refused = counts.refused,
                    fetched = counts.fetched,
                    first_error = %error,
                    "some article pages gave no full text; those items keep their feed text"
                );
            }
        }
        Ok(counts)
    }

    /// The pages to fetch: items whose mode wants their page, with a usable link, not served
    /// from the cache (a new item with a cached page takes it here), at most
    /// `fetch.full_text_max_per_poll`.
    async fn page_jobs(
        &mut self,
        i: usize,
        fresh: &mut [FreshItem],
        counts: &mut FullTextCounts,
        failures: &mut Failures<'_>,
    ) -> Result<Vec<PageJob>> {
        let mode = self.outlets[i].cfg.full_text;
        let min_words = self.config.fetch.full_text_min_words.get();
        let cap = self.config.fetch.full_text_max_per_poll;
        // (index in `fresh`, link) of the items that want their page.
        let mut wanted = Vec::new();
        for (k, f) in fresh.iter().enumerate() {
            let Some(link) = f.item.url.clone() else {
                continue;
            };
            if !fulltext::wants_page(mode, &f.item.body, min_words) {
                continue;
            }
            match url::Url::parse(&link) {
                Ok(u) if fulltext::reserved_name(&u) => {
                    // Documentation names never resolve: not worth a lookup, nor a warning.
                    counts.skipped += 1;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    failures.note(
                        counts,
                        false,
                        &link,
                        &format!("{link} is not a valid URL: {e}"),
                    );
                    continue;
                }
            }
            wanted.push((k, link));
        }
        let links = wanted.iter().map(|(_, link)| link.clone()).collect();
        let cached = self.cached_pages(links).await?;
        let mut jobs = Vec::new();
        for ((k, link), cached) in wanted.into_iter().zip(cached) {
            let f = &mut fresh[k];
            match (cached, f.new) {
                (Some(page), true) => {
                    counts.cached += 1;
                    f.page = Some(page);
                }
                (Some(page), false) => jobs.push(PageJob {
                    k,
                    link,
                    cached: Some(page),
                    words: 0,
                }),
                (None, true) => jobs.push(PageJob {
                    k,
                    link,
                    cached: None,
                    words: 0,
                }),
                (None, false) => {}
            }
        }
        if jobs.len() > cap {
            counts.skipped += (jobs.len() - cap) as u64;
            jobs.truncate(cap);
        }
        for job in &mut jobs {
            job.words = fulltext::word_count(&fresh[job.k].item.body);
        }
        Ok(jobs)
    }

    /// Starts one fetch task per page, each behind its host's gate (a page host is a host
    /// like any other) and the global limit; a host under a `Retry-After` block fails the
    /// page without a request.
    fn spawn_pages(
        &mut self,
        jobs: Vec<PageJob>,
        fetcher: &Fetcher,
    ) -> JoinSet<(PageJob, FetchOutcome)> {
        let per_host = self.config.fetch.per_host_concurrency.get();
        let mut tasks = JoinSet::new();
        for job in jobs {
            let host = url::Url::parse(&job.link)
                .map(|u| Source::Http(u).host_key())
                .unwrap_or_default();
            let gate = self
                .hosts
                .entry(host)
                .or_insert_with(|| HostGate::new(per_host))
                .clone();
            let global = self.global.clone();
            let fetcher = fetcher.clone();
            tasks.spawn(async move {
                let _host = gate.permits.clone().acquire_owned().await.ok();
                if let Some(until) = gate.blocked_until().filter(|u| *u > Instant::now()) {
                    let wait = until.saturating_duration_since(Instant::now()).as_secs();
                    let failed = FetchOutcome::Failed(fetch::Failure {
                        status: None,
                        message: format!("the host asked us to wait (Retry-After) {wait} s more"),
                        retry_after: None,
                    });
                    return (job, failed);
                }
                let _global = global.acquire_owned().await.ok();
                let validators = Validators {
                    etag: job.cached.as_ref().and_then(|c| c.etag.clone()),
                    last_modified: job.cached.as_ref().and_then(|c| c.last_modified.clone()),
                };
                let outcome = fetcher.fetch_page(&job.link, &validators).await;
                if let FetchOutcome::Failed(f) = &outcome {
                    if let Some(ra) = f.retry_after {
                        gate.block_until(Instant::now() + ra);
                    }
                }
                (job, outcome)
            });
        }
        tasks
    }

    /// Waits for the page fetches, at most `fetch.timeout` for all of them together (the
    /// poll loop waits for them: a slow site delays other outlets' polls by at most that);
    /// pages still in flight then are dropped and counted as skipped. A 304 keeps the cached
    /// page; HTML bodies are returned for extraction.
    async fn collect_pages(
        &mut self,
        mut tasks: JoinSet<(PageJob, FetchOutcome)>,
        fresh: &mut [FreshItem],
        now_unix: i64,
        counts: &mut FullTextCounts,
        failures: &mut Failures<'_>,
    ) -> Vec<PageBody> {
        let mut bodies = Vec::new();
        let deadline = Instant::now() + self.config.fetch.timeout;
        loop {
            let joined = match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(joined)) => joined,
                Ok(None) => break,
                Err(_) => {
                    let left = tasks.len() as u64;
                    tasks.abort_all();
                    counts.skipped += left;
                    debug!(outlet = %failures.outlet, pages = left, "full-text pages still in flight at the poll's deadline (fetch.timeout) were dropped");
                    break;
                }
            };
            let Ok((job, outcome)) = joined else {
                counts.failed += 1;
                continue;
            };
            let PageJob {
                k,
                link,
                cached,
                words,
            } = job;
            match outcome {
                FetchOutcome::Fresh(page) => {
                    if !fulltext::is_html_type(page.content_type.as_deref()) {
                        let ct = page.content_type.unwrap_or_default();
                        failures.note(
                            counts,
                            false,
                            &link,
                            &format!("{link}: the page is {ct}, not HTML"),
                        );
                        continue;
                    }
                    let final_url = page.final_url.unwrap_or_else(|| link.clone());
                    let charset = page
                        .content_type
                        .as_deref()
                        .and_then(decode::charset_of)
                        .map(str::to_string);
                    bodies.push(PageBody {
                        k,
                        link,
                        final_url,
                        body: page.body,
                        charset,
                        validators: page.validators,
                        words,
                    });
                }
                FetchOutcome::NotModified { .. } => match cached {
                    Some(mut c) => {
                        counts.cached += 1;
                        c.fetched_at = now_unix;
                        self.remember_page(c.clone());
                        fresh[k].page = Some(c);
                    }
                    None => failures.note(
                        counts,
                        false,
                        &link,
                        &format!("{link}: 304 without a cached copy"),
                    ),
                },
                FetchOutcome::Failed(f) => {
                    let refused = f.is_refusal();
                    let message = if refused {
                        f.message
                    } else {
                        match f.status {
                            Some(s) if !f.message.contains(&s.to_string()) => {
                                format!("{link}: HTTP {s}: {}", f.message)
                            }
                            _ => format!("{link}: {}", f.message),
                        }
                    };
                    failures.note(counts, refused, &link, &message);
                }
            }
        }
        bodies
    }

    /// Extracts the pages' main text on the blocking pool (decoded as feeds are: BOM, HTTP
    /// charset, then the bytes) and caches each page that gave usable text.
    async fn extract_pages(
        &mut self,
        bodies: Vec<PageBody>,
        fresh: &mut [FreshItem],
        now_unix: i64,
        counts: &mut FullTextCounts,
        failures: &mut Failures<'_>,
    ) {
        let extracted = tokio::task::spawn_blocking(move || {
            bodies
                .into_iter()
                .map(|b| {
                    let html = decode::decode(&b.body, b.charset.as_deref()).text;
                    let result = fulltext::extract(&html, &b.final_url, b.words);
                    (b.k, b.link, b.final_url, b.validators, result)
                })
                .collect::<Vec<_>>()
        })
        .await;
        let results = match extracted {
            Ok(results) => results,
            Err(e) => {
                warn!(outlet = %failures.outlet, error = %e, "the full-text extraction task failed; the items keep their feed text");
                return;
            }
        };
        for (k, link, final_url, validators, result) in results {
            match result {
                Ok(html) => {
                    counts.fetched += 1;
                    let page = CachedPage {
                        url: link,
                        final_url,
                        fetched_at: now_unix,
                        etag: validators.etag,
                        last_modified: validators.last_modified,
                        html,
                    };
                    self.remember_page(page.clone());
                    fresh[k].page = Some(page);
                }
                Err(e) => failures.note(counts, false, &link, &e.to_string()),
            }
        }
    }

    /// The cached page of each link, from the store, in one task on the blocking pool; a
    /// link whose lookup fails is logged and fetched again. A task that failed took the store
    /// with it: the poller then refuses to run on (see `Poller::store_back`).
    async fn cached_pages(&mut self, links: Vec<String>) -> Result<Vec<Option<CachedPage>>> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let Some(store) = self.store.take() else {
            return Ok(vec![None; links.len()]);
        };
        let joined = tokio::task::spawn_blocking(move || {
            let pages = links
                .iter()
                .map(|url| match store.page(url) {
                    Ok(page) => page,
                    Err(e) => {
                        warn!(url = %url, error = %e, "cannot read the page cache; fetching the page again");
                        None
                    }
                })
                .collect();
            (store, pages)
        })
        .await;
        match joined {
            Ok((store, pages)) => {
                self.store = Some(store);
                Ok(pages)
            }
            Err(source) => {
                self.store_lost = true;
                Err(Error::Task {
                    what: "the page cache lookup",
                    source,
                })
            }
        }
    }

    /// Caches a page: in the poll's batch, committed with it.
    fn remember_page(&mut self, page: CachedPage) {
        self.session.batch.pages.push(page);
    }
}

/// What the cleaned feeds show for an item whose page was fetched.
pub(super) fn display_body(page: &CachedPage) -> String {
    fulltext::display_body(&page.html, &page.final_url)
}
