//! HTML to plain text with paragraph breaks, through html5ever's tokenizer.
//!
//! We only need the text and where blocks start and end, so the tokenizer is enough: no tree
//! is built. Script, style and similar elements are dropped; entities are decoded by the
//! tokenizer; block-level elements become line breaks (one paragraph per line).

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// True when `s` plausibly contains HTML markup or entities. Plain text skips the parser.
pub fn looks_like_html(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = memchr::memchr2(b'<', b'&', &bytes[from..]) {
        let i = from + pos;
        let next = bytes.get(i + 1).copied().unwrap_or(b' ');
        if bytes[i] == b'<' {
            if next.is_ascii_alphabetic() || next == b'/' || next == b'!' {
                return true;
            }
        } else if next == b'#' || next.is_ascii_alphabetic() {
            // An entity such as &amp; or &#8217;: look for the closing ';' nearby.
            let window = &bytes[i + 1..bytes.len().min(i + 12)];
            if window.contains(&b';') {
                return true;
            }
        }
        from = i + 1;
    }
    false
}

/// Elements whose content is never article text.
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "script" | "style" | "noscript" | "template" | "iframe" | "svg" | "math" | "head" | "title"
    )
}

/// Elements that start or end a block of text.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "br"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "blockquote"
            | "pre"
            | "section"
            | "article"
            | "aside"
            | "header"
            | "footer"
            | "nav"
            | "figure"
            | "figcaption"
            | "hr"
            | "main"
            | "form"
            | "address"
    )
}

#[derive(Default)]
struct Collector {
    out: String,
    skip_depth: usize,
}

struct Sink(RefCell<Collector>);

impl Sink {
    fn tag(&self, tag: &Tag) {
        let mut c = self.0.borrow_mut();
        let name: &str = &tag.name;
        if is_skipped(name) {
            match tag.kind {
                TagKind::StartTag if !tag.self_closing => c.skip_depth += 1,
                TagKind::EndTag => c.skip_depth = c.skip_depth.saturating_sub(1),
                _ => {}
            }
            return;
        }
        if is_block(name) && !c.out.ends_with('\n') && !c.out.is_empty() {
            c.out.push('\n');
        }
    }

    fn text(&self, text: &StrTendril) {
        let mut c = self.0.borrow_mut();
        if c.skip_depth == 0 {
            c.out.push_str(text);
        }
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) => self.tag(&tag),
            Token::CharacterTokens(text) => self.text(&text),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Converts an HTML fragment or page to text: one block per line, entities decoded,
/// script and style dropped. Never fails: broken markup yields whatever text it holds.
pub fn html_to_text(html: &str) -> String {
    let sink = Sink(RefCell::new(Collector {
        out: String::with_capacity(html.len()),
        skip_depth: 0,
    }));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    let collector = tokenizer.sink.0.into_inner();
    collector.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_markup_and_entities() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(looks_like_html("Fish &amp; chips"));
        assert!(looks_like_html("it&#8217;s"));
        assert!(!looks_like_html("a < b and c > d"));
        assert!(!looks_like_html("Fish & chips; and more"));
        assert!(!looks_like_html("plain text"));
    }

    #[test]
    fn keeps_paragraphs_drops_scripts_decodes_entities() {
        let text = html_to_text(
            "<div><p>First &amp; foremost.</p><script>var x = '<p>no</p>';</script><p>Second<br>line</p><style>p{}</style></div>",
        );
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            vec!["First & foremost.", "Second", "line"]
        );
    }

    #[test]
    fn broken_markup_does_not_panic() {
        let text = html_to_text("<p>Unclosed <b>bold <i>and <script>never closed");
        assert!(text.contains("Unclosed"));
        assert!(!text.contains("never closed"));
        let _ = html_to_text("<<<>>>&&&;;;</</");
    }
}
