//! Normalisation: from a raw body (plain text or HTML) to folded words grouped in paragraphs,
//! with boilerplate recognised.
//!
//! - [`html`]: HTML to text through html5ever, one block per line.
//! - [`text`]: NFKC, case folding, punctuation removal, UAX #29 words, word hashes.
//! - [`boilerplate`]: built-in trailers and paywalls, configured patterns, learned site chrome.
//! - [`chrome`]: structural page chrome (widgets, bylines, captions, link lists), and the reasons
//!   a paragraph is set aside for matching.

pub mod boilerplate;
pub mod chrome;
pub mod html;
pub mod text;

pub use html::{html_to_text, looks_like_html};
pub use text::{for_each_word, word_hash, words};

use std::borrow::Cow;

/// The body as plain text with one paragraph per line: HTML is converted, plain text kept.
pub fn body_text(body: &str) -> Cow<'_, str> {
    if looks_like_html(body) {
        Cow::Owned(html_to_text(body))
    } else {
        Cow::Borrowed(body)
    }
}
