//! Full text for summary-only feeds: which items need their linked page, the main text of a
//! page (through `dom_smoothie`, a port of Mozilla's Readability), the page cache, and the
//! per-outlet counters.
//!
//! The poller fetches pages (`poll::pages`, `Poller::full_texts`) with the same
//! polite [`super::Fetcher`] as feeds, guarded by [`super::guard`]; this module has no I/O.

use serde::Serialize;

use crate::config::FullTextMode;
use crate::normalize::html::{html_to_text, looks_like_html};

pub use crate::store::CachedPage;

/// What full text did for one outlet: per poll in [`super::OutletReport`], summed over the
/// run in [`super::Poller::full_text_counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FullTextCounts {
    /// Pages fetched and extracted.
    pub fetched: u64,
    /// Pages taken from the cache (or revalidated with a 304).
    pub cached: u64,
    /// Pages that could not be fetched or gave no usable text: the item kept its feed text.
    pub failed: u64,
    /// Links the SSRF guard refused: a scheme other than http(s), or an address the outlet
    /// may not reach.
    pub refused: u64,
    /// Not fetched: a reserved documentation name that never resolves (`*.example`), over
    /// `fetch.full_text_max_per_poll` in one poll, or still in flight when the poll's pages
    /// ran out of time (`fetch.timeout` for all of them).
    pub skipped: u64,
}

impl FullTextCounts {
    pub fn add(&mut self, other: &FullTextCounts) {
        self.fetched += other.fetched;
        self.cached += other.cached;
        self.failed += other.failed;
        self.refused += other.refused;
        self.skipped += other.skipped;
    }

    pub fn is_zero(&self) -> bool {
        *self == FullTextCounts::default()
    }

    /// "3 fetched, 1 failed" (zero counts left out); empty when all are zero.
    pub fn summary(&self) -> String {
        [
            (self.fetched, "fetched"),
            (self.cached, "cached"),
            (self.failed, "failed"),
            (self.refused, "refused"),
            (self.skipped, "skipped"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// `(result label, count)` pairs for metrics.
    /// The static label for a result name ("fetched", ...), `None` for an unknown one.
    pub fn label(result: &str) -> Option<&'static str> {
        FullTextCounts::default()
            .labelled()
            .into_iter()
            .map(|(label, _)| label)
            .find(|label| *label == result)
    }

    /// The counts from labelled sums (see [`FullTextCounts::labelled`]); unknown labels are
    /// ignored.
    pub fn from_labelled<'a>(sums: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let mut c = FullTextCounts::default();
        for (label, n) in sums {
            match label {
                "fetched" => c.fetched = n,
                "cached" => c.cached = n,
                "failed" => c.failed = n,
                "refused" => c.refused = n,
                "skipped" => c.skipped = n,
                _ => {}
            }
        }
        c
    }

    pub fn labelled(&self) -> [(&'static str, u64); 5] {
        [
            ("fetched", self.fetched),
            ("cached", self.cached),
            ("failed", self.failed),
            ("refused", self.refused),
            ("skipped", self.skipped),
        ]
    }
}

/// Words of text in a feed body (HTML or plain text).
pub fn word_count(body: &str) -> usize {
    if looks_like_html(body) {
        html_to_text(body).split_whitespace().count()
    } else {
        body.split_whitespace().count()
    }
}

/// Whether an item with this feed body wants its page under `mode`.
pub fn wants_page(mode: FullTextMode, body: &str, min_words: usize) -> bool {
    match mode {
        FullTextMode::Off => false,
        FullTextMode::Always => true,
        FullTextMode::Auto => word_count(body) < min_words,
    }
}

/// Domain names reserved for documentation and testing that never resolve on the internet
/// (RFC 2606, RFC 6761): links to them are not fetched (the demo feeds use them).
pub fn reserved_name(url: &url::Url) -> bool {
    let Some(url::Host::Domain(d)) = url.host() else {
        return false;
    };
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    let tld = d.rsplit('.').next().unwrap_or("");
    matches!(tld, "example" | "invalid")
        || ["example.com", "example.net", "example.org"]
            .iter()
            .any(|e| d == *e || d.ends_with(&format!(".{e}")))
}

/// Why a page gave no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("{url}: the page is {content_type}, not HTML")]
    NotHtml { url: String, content_type: String },
    #[error("{url}: no main text found ({reason})")]
    NoText { url: String, reason: String },
    #[error(
        "{url}: the page's main text ({page} words) is not longer than the feed's ({feed} words)"
    )]
    Shorter {
        url: String,
        page: usize,
        feed: usize,
    },
}

/// The main text of a page as simple HTML, by `dom_smoothie` (Readability's algorithm):
/// navigation, related links, captions, cookie banners and other chrome left out. Fails when
/// nothing article-like is found or the text is not longer than the feed's `feed_words`.
pub fn extract(html: &str, url: &str, feed_words: usize) -> Result<String, ExtractError> {
    let no_text = |reason: String| ExtractError::NoText {
        url: url.to_string(),
        reason,
    };
    let cfg = dom_smoothie::Config {
        // Guards against pathological documents; a news page has a few thousand elements.
        max_elements_to_parse: 100_000,
        ..dom_smoothie::Config::default()
    };
    let doc_url = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.to_string());
    let mut r = dom_smoothie::Readability::new(html, doc_url.as_deref(), Some(cfg))
        .map_err(|e| no_text(e.to_string()))?;
    let article = r.parse().map_err(|e| no_text(e.to_string()))?;
    let content = article.content.to_string();
    let words = article.text_content.split_whitespace().count();
    if words == 0 {
        return Err(no_text("the article is empty".to_string()));
    }
    if words <= feed_words {
        return Err(ExtractError::Shorter {
            url: url.to_string(),
            page: words,
            feed: feed_words,
        });
    }
    Ok(content)
}

/// Whether a `Content-Type` can hold a page to extract (absent counts as HTML).
pub fn is_html_type(content_type: Option<&str>) -> bool {
    match content_type {
        None => true,
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            ct.contains("html") || ct.starts_with("text/plain") || ct.trim().is_empty()
        }
    }
}

/// What the cleaned feed shows for an item whose page was fetched: the page's main text, then
/// a line linking the original. The emitters sanitise it (ammonia).
pub fn display_body(full_html: &str, url: &str) -> String {
    let href = crate::emit::safe_url(url).unwrap_or_default();
    let escaped = quick_xml::escape::escape(href.as_str());
    if href.is_empty() {
        full_html.to_string()
    } else {
        format!(
            "{full_html}\n<p class=\"syndedup-source\">Full text from <a href=\"{escaped}\">{escaped}</a>.</p>"
        )
    }
}

/// What output feeds show for a stored item payload: the full text (with its source line)
/// when the page was fetched, else the feed's body.
pub fn payload_display_body(v: &serde_json::Value) -> Option<String> {
    let full = v.get("full_text").and_then(|b| b.as_str());
    match full {
        Some(html) => {
            let url = v
                .get("full_text_url")
                .or_else(|| v.get("url"))
                .and_then(|u| u.as_str())
                .unwrap_or("");
            Some(display_body(html, url))
        }
        None => v.get("body").and_then(|b| b.as_str()).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_wants_short_items_only() {
        let short = "<p>Two lines of summary.</p>";
        let long = format!("<p>{}</p>", "word ".repeat(200));
        assert!(wants_page(FullTextMode::Auto, short, 120));
        assert!(!wants_page(FullTextMode::Auto, &long, 120));
        assert!(wants_page(FullTextMode::Always, &long, 120));
        assert!(!wants_page(FullTextMode::Off, short, 120));
    }

    #[test]
    fn reserved_names_are_known() {
        let u = |s: &str| url::Url::parse(s).expect("url");
        assert!(reserved_name(&u("https://quickbyte.example/a")));
        assert!(reserved_name(&u("https://www.example.com/a")));
        assert!(reserved_name(&u("http://x.invalid/")));
        assert!(!reserved_name(&u("https://example.co.uk/")));
        assert!(!reserved_name(&u("http://127.0.0.1/")));
    }

    #[test]
    fn extraction_drops_chrome_and_needs_more_than_the_feed() {
        let para = "The harbour authority said on Tuesday that the new cranes would arrive \
                    next spring, after a delay of more than a year caused by supply problems.";
        let html = format!(
            "<html><head><title>T</title></head><body><nav><a href=/>Home</a> <a href=/w>World</a></nav>\
             <article><h1>Cranes</h1><p>{para}</p><p>{para}</p><p>{para}</p><p>{para}</p></article>\
             <aside class=related><a href=/x>Related: something else entirely</a></aside>\
             <div id=cookie-banner>We use cookies. Accept all cookies?</div></body></html>"
        );
        let out = extract(&html, "https://news.test/a", 10).expect("text");
        let text = html_to_text(&out);
        assert!(text.contains("harbour authority"), "{text}");
        assert!(!text.contains("cookies"), "{text}");
        let err = extract(&html, "https://news.test/a", 10_000).expect_err("shorter");
        assert!(matches!(err, ExtractError::Shorter { .. }), "{err}");
    }

    #[test]
    fn display_body_links_the_original() {
        let b = display_body("<p>Text</p>", "https://a.test/x?y=1&z=2");
        assert!(b.contains("href=\"https://a.test/x?y=1&amp;z=2\""), "{b}");
        assert_eq!(display_body("<p>T</p>", "javascript:alert(1)"), "<p>T</p>");
    }
}
