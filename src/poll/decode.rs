//! Feed bytes to UTF-8 text, deciding the encoding the way browsers and feedparser do:
//!
//! 1. a byte-order mark, or the byte pattern of an XML document in UTF-16/UTF-32 without one
//!    (XML 1.0 appendix F);
//! 2. the HTTP `Content-Type` charset (none for local files);
//! 3. the XML declaration's `encoding`;
//! 4. UTF-8, XML's default, when the bytes are valid UTF-8;
//! 5. statistical detection (`chardetng`).
//!
//! A source whose encoding does not decode the bytes cleanly (a UTF-8 label on Latin-1 bytes,
//! say) is passed over for the next one, and that is reported. The XML declaration is removed
//! from the text, so nothing downstream decodes it a second time.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// Where the encoding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    /// A byte-order mark, or the byte pattern of `<` in UTF-16/UTF-32.
    Bom,
    /// The HTTP `Content-Type` charset.
    Http,
    /// The XML declaration.
    Declaration,
    /// Nothing declared and the bytes are valid UTF-8 (XML's default).
    Default,
    /// Nothing usable declared: guessed from the bytes.
    Detected,
}

/// The document as UTF-8 text.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// The encoding's name (e.g. "UTF-8", "Shift_JIS", "UTF-32BE").
    pub encoding: &'static str,
    pub source: EncodingSource,
    /// What was wrong with the declared encodings, for the outlet's status; empty when the
    /// document was labelled correctly (or not at all, and plain UTF-8).
    pub repairs: Vec<String>,
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!v.is_empty()).then_some(v)
    })
}

/// Decodes `bytes` (see the module doc). `http_charset` is the `Content-Type` charset, if any.
/// Never fails: the last resort is a lossy decode with the detected encoding.
pub fn decode<'a>(bytes: &'a [u8], http_charset: Option<&str>) -> Decoded<'a> {
    let mut repairs = Vec::new();
    if let Some((utf32, big_endian, skip)) = utf32_layout(bytes) {
        let (text, bad) = decode_utf32(&bytes[skip..], big_endian);
        if bad > 0 {
            repairs.push(format!(
                "{bad} invalid UTF-32 code units replaced with U+FFFD"
            ));
        }
        return finish(Cow::Owned(text), utf32, EncodingSource::Bom, repairs);
    }
    if let Some((enc, skip)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[skip..]);
        if had_errors {
            repairs.push(format!(
                "bytes invalid in {} (from the byte-order mark) replaced with U+FFFD",
                enc.name()
            ));
        }
        return finish(text, enc.name(), EncodingSource::Bom, repairs);
    }
    if let Some(enc) = utf16_pattern(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(bytes);
        if had_errors {
            repairs.push(format!(
                "bytes invalid in {} replaced with U+FFFD",
                enc.name()
            ));
        }
        return finish(text, enc.name(), EncodingSource::Bom, repairs);
    }

    let declared = declared_encoding(bytes);
    let labels = [
        (
            http_charset,
            EncodingSource::Http,
            "the HTTP Content-Type charset",
        ),
        (
            declared.as_deref(),
            EncodingSource::Declaration,
            "the XML declaration",
        ),
    ];
    // The first label that decodes cleanly wins; a label that decodes with errors is kept as
    // a fallback in case nothing better turns up.
    let mut lossy: Option<(Cow<'a, str>, &'static str, EncodingSource)> = None;
    for (label, source, what) in labels {
        let Some(label) = label else { continue };
        let Some(enc) = Encoding::for_label(label.as_bytes()) else {
            repairs.push(format!("unknown encoding {label:?} in {what}; ignored"));
            continue;
        };
        // A UTF-16 label on bytes that read as ASCII is a common lie (browsers treat it as
        // UTF-8); real UTF-16 was caught by the byte pattern above.
        let enc = if enc == UTF_16LE || enc == UTF_16BE {
            repairs.push(format!(
                "{what} says {label:?} but the bytes are not UTF-16; read as UTF-8"
            ));
            UTF_8
        } else {
            enc
        };
        match try_decode(bytes, enc) {
            Ok(text) => return finish(text, enc.name(), source, repairs),
            Err(text) => {
                repairs.push(format!(
                    "{what} says {label:?} but the bytes are not valid {}",
                    enc.name()
                ));
                if lossy.is_none() && enc != UTF_8 {
                    lossy = Some((text, enc.name(), source));
                }
            }
        }
    }
    let nothing_declared = repairs.is_empty() && http_charset.is_none() && declared.is_none();
    if let Ok(text) = std::str::from_utf8(bytes) {
        let source = if nothing_declared {
            EncodingSource::Default
        } else {
            repairs.push("read as UTF-8 instead".to_string());
            EncodingSource::Detected
        };
        return finish(Cow::Borrowed(text), UTF_8.name(), source, repairs);
    }
    if let Some((text, name, source)) = lossy {
        repairs.push(format!(
            "decoded as {name} anyway; invalid bytes replaced with U+FFFD"
        ));
        return finish(text, name, source, repairs);
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let enc = detector.guess(None, chardetng::Utf8Detection::Allow);
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    repairs.push(if nothing_declared {
        format!(
            "no encoding declared and not UTF-8: detected {}",
            enc.name()
        )
    } else {
        format!("detected {} from the bytes", enc.name())
    });
    if had_errors {
        repairs.push(format!(
            "bytes invalid in {} replaced with U+FFFD",
            enc.name()
        ));
    }
    finish(text, enc.name(), EncodingSource::Detected, repairs)
}

/// Decodes with `enc`: the text if clean, else the lossy text as the error.
fn try_decode<'a>(bytes: &'a [u8], enc: &'static Encoding) -> Result<Cow<'a, str>, Cow<'a, str>> {
    if enc == UTF_8 {
        return match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Cow::Borrowed(s)),
            Err(_) => Err(String::from_utf8_lossy(bytes)),
        };
    }
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    if had_errors {
        Err(text)
    } else {
        Ok(text)
    }
}

fn finish<'a>(
    text: Cow<'a, str>,
    encoding: &'static str,
    source: EncodingSource,
    repairs: Vec<String>,
) -> Decoded<'a> {
    let text = match text {
        Cow::Borrowed(s) => match strip_declaration(s) {
            Stripped::Unchanged => Cow::Borrowed(s),
            Stripped::From(at) => Cow::Borrowed(&s[at..]),
            Stripped::Copied(t) => Cow::Owned(t),
        },
        Cow::Owned(s) => match strip_declaration(&s) {
            Stripped::Unchanged => Cow::Owned(s),
            Stripped::From(at) => Cow::Owned(s[at..].to_string()),
            Stripped::Copied(t) => Cow::Owned(t),
        },
    };
    Decoded {
        text,
        encoding,
        source,
        repairs,
    }
}

enum Stripped {
    Unchanged,
    /// The text from this byte on (a BOM or a leading declaration cut off: no copy).
    From(usize),
    /// A declaration after a comment: the text without it.
    Copied(String),
}

/// The text without its leading U+FEFF and without the XML declaration (wherever it is in
/// the prolog: some feeds put a comment before it).
fn strip_declaration(s: &str) -> Stripped {
    let bom = if s.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &s[bom..];
    let head = &body.as_bytes()[..body.len().min(4096)];
    match find_declaration(head) {
        Some((start, end)) if body[..start].trim().is_empty() => Stripped::From(bom + end),
        Some((start, end)) => {
            let mut out = String::with_capacity(body.len());
            out.push_str(body[..start].trim_start());
            out.push_str(&body[end..]);
            Stripped::Copied(out)
        }
        None if bom > 0 => Stripped::From(bom),
        None => Stripped::Unchanged,
    }
}

/// Byte range of `<?xml ...?>` in an ASCII-compatible prefix, if it comes before the root.
fn find_declaration(head: &[u8]) -> Option<(usize, usize)> {
    let start = memchr::memmem::find(head, b"<?xml")?;
    let after = *head.get(start + 5)?;
    if !after.is_ascii_whitespace() && after != b'?' {
        return None;
    }
    // Only in the prolog: no element may start before it.
    let before = &head[..start];
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'<', &before[i..]) {
        let at = i + p;
        match before.get(at + 1) {
            Some(b'!') | Some(b'?') => {}
            _ => return None,
        }
        i = at + 1;
    }
    let end = memchr::memmem::find(&head[start..], b"?>")? + start + 2;
    Some((start, end))
}

/// The `encoding` of the XML declaration, read from the ASCII-compatible start of the bytes.
pub fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(4096)];
    let (start, end) = find_declaration(head)?;
    let decl = &head[start..end];
    let at = memchr::memmem::find(decl, b"encoding")? + "encoding".len();
    let rest = &decl[at..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b"=")?;
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let len = memchr::memchr(quote, value)?;
    let label = std::str::from_utf8(&value[..len]).ok()?.trim();
    (!label.is_empty()).then(|| label.to_string())
}

/// UTF-32 by BOM or by the pattern of `<` (encoding_rs has no UTF-32): (name, big endian,
/// bytes to skip).
fn utf32_layout(b: &[u8]) -> Option<(&'static str, bool, usize)> {
    match b.get(..4)? {
        [0, 0, 0xFE, 0xFF] => Some(("UTF-32BE", true, 4)),
        [0xFF, 0xFE, 0, 0] => Some(("UTF-32LE", false, 4)),
        [0, 0, 0, b'<'] => Some(("UTF-32BE", true, 0)),
        [b'<', 0, 0, 0] => Some(("UTF-32LE", false, 0)),
        _ => None,
    }
}

/// UTF-16 without a BOM, recognised by `<` followed by an ASCII character.
fn utf16_pattern(b: &[u8]) -> Option<&'static Encoding> {
    match b.get(..4)? {
        [0, b'<', 0, c] if *c != 0 => Some(UTF_16BE),
        [b'<', 0, c, 0] if *c != 0 => Some(UTF_16LE),
        _ => None,
    }
}

/// UTF-32 to text; invalid code units become U+FFFD. Returns the text and their count.
fn decode_utf32(b: &[u8], big_endian: bool) -> (String, usize) {
    let mut out = String::with_capacity(b.len() / 4);
    let mut bad = 0;
    for unit in b.chunks(4) {
        let c = match <[u8; 4]>::try_from(unit) {
            Ok(u) if big_endian => char::from_u32(u32::from_be_bytes(u)),
            Ok(u) => char::from_u32(u32::from_le_bytes(u)),
            Err(_) => None,
        };
        match c {
            Some(c) => out.push(c),
            None => {
                bad += 1;
                out.push('\u{fffd}');
            }
        }
    }
    (out, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of("text/xml; charset=\"ISO-8859-1\""),
            Some("ISO-8859-1")
        );
        assert_eq!(
            charset_of("application/rss+xml;CHARSET=utf-8"),
            Some("utf-8")
        );
        assert_eq!(charset_of("text/xml"), None);
        assert_eq!(charset_of("text/xml; charset="), None);
    }

    #[test]
    fn plain_utf8_is_borrowed_and_the_declaration_goes() {
        let d = decode(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss>é</rss>".as_bytes(),
            None,
        );
        assert_eq!(d.text.trim_start(), "<rss>é</rss>");
        assert_eq!(d.encoding, "UTF-8");
        assert_eq!(d.source, EncodingSource::Declaration);
        assert!(d.repairs.is_empty());
        let d = decode("<rss>é</rss>".as_bytes(), None);
        assert!(matches!(d.text, Cow::Borrowed(_)));
        // A leading declaration is cut off without a copy.
        let d = decode(b"<?xml version=\"1.0\"?>\n<rss/>", None);
        assert!(matches!(d.text, Cow::Borrowed("\n<rss/>")), "{:?}", d.text);
        assert_eq!(d.source, EncodingSource::Default);
    }

    #[test]
    fn boms_and_patterns() {
        let bom = utf16le("<?xml version=\"1.0\"?><rss>ü</rss>", true);
        let d = decode(&bom, None);
        assert_eq!((d.encoding, &*d.text), ("UTF-16LE", "<rss>ü</rss>"));
        let plain = utf16le("<rss>ü</rss>", false);
        let d = decode(&plain, Some("utf-8"));
        assert_eq!((d.encoding, &*d.text), ("UTF-16LE", "<rss>ü</rss>"));
        let mut be32 = Vec::new();
        for c in "<rss>ü</rss>".chars() {
            be32.extend_from_slice(&(c as u32).to_be_bytes());
        }
        let d = decode(&be32, None);
        assert_eq!((d.encoding, &*d.text), ("UTF-32BE", "<rss>ü</rss>"));
        let d = decode(b"\xEF\xBB\xBF<rss/>", None);
        assert_eq!((d.encoding, &*d.text), ("UTF-8", "<rss/>"));
    }

    #[test]
    fn http_charset_beats_the_declaration() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss>\xE9</rss>";
        let d = decode(bytes, Some("iso-8859-1"));
        assert_eq!(d.source, EncodingSource::Http);
        assert_eq!(d.text, "<rss>é</rss>");
        assert!(d.repairs.is_empty());
    }

    #[test]
    fn a_wrong_utf8_label_falls_through_to_detection() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss>Gr\xFC\xDFe aus K\xF6ln</rss>";
        let d = decode(bytes, None);
        assert_eq!(d.text, "<rss>Grüße aus Köln</rss>");
        assert_eq!(d.source, EncodingSource::Detected);
        assert!(
            d.repairs.iter().any(|r| r.contains("not valid UTF-8")),
            "{:?}",
            d.repairs
        );
    }

    #[test]
    fn legacy_encodings_without_a_declaration_are_detected() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(
            "<rss><channel><item><title>日本語のニュースです。東京で記者会見が開かれました。</title></item></channel></rss>",
        );
        let d = decode(&sjis, None);
        assert_eq!(d.encoding, "Shift_JIS");
        assert!(d.text.contains("東京で記者会見"), "{}", d.text);
        assert!(d.repairs.iter().any(|r| r.contains("detected Shift_JIS")));
        let (latin, _, _) = encoding_rs::WINDOWS_1252
            .encode("<rss><item><title>Straße, Öl und Müll für Köln</title></item></rss>");
        let d = decode(&latin, None);
        assert!(d.text.contains("Straße, Öl und Müll"), "{}", d.text);
    }

    #[test]
    fn declarations_after_a_comment_and_unknown_labels() {
        let bytes = b"<!-- c -->\n<?xml version='1.0' encoding='bogus-x'?><rss/>";
        assert_eq!(declared_encoding(bytes).as_deref(), Some("bogus-x"));
        let d = decode(bytes, None);
        assert_eq!(d.text, "<!-- c -->\n<rss/>");
        assert!(d.repairs.iter().any(|r| r.contains("unknown encoding")));
        // A declaration-like string inside the document is left alone.
        assert_eq!(declared_encoding(b"<rss><?xml encoding='x'?></rss>"), None);
        assert_eq!(decode(&[], None).text, "");
    }
}
