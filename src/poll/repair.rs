//! Lenient XML: the repairs a feed document gets before feed-rs reads it, each reported so the
//! outlet's status can say what was wrong.
//!
//! - [`fix_markup`]: references and unterminated sections. HTML entities XML does not define
//!   (`&nbsp;`, `&eacute;`, which RSS 0.91's DTD used to supply) become character references;
//!   an unknown entity or a stray `&` is escaped; an unclosed CDATA section or comment at the
//!   end is closed.
//! - [`legacy_to_current`]: formats feed-rs does not know, converted to ones it does: RSS
//!   0.90 (RDF with the Netscape namespace) to RSS 1.0, Atom 0.3 to Atom 1.0, RSS without a
//!   version or of versions 0.90/0.93/0.94 to RSS 2.0.
//! - [`close_truncated`]: a document cut off (or broken) part way: cut after the last complete
//!   piece and close the open elements, so the items before the break are kept.

use std::collections::{BTreeMap, HashSet};

use quick_xml::events::Event;

const RSS1_NS: &str = "http://purl.org/rss/1.0/";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// Namespaces of older formats, and what feed-rs knows them as.
const LEGACY_NS: [(&str, &str); 5] = [
    ("http://my.netscape.com/rdf/simple/0.9/", RSS1_NS),
    ("http://channel.netscape.com/rdf/simple/0.9/", RSS1_NS),
    ("http://backend.userland.com/rss2", RSS1_NS),
    ("http://blogs.law.harvard.edu/tech/rss", RSS1_NS),
    ("http://purl.org/atom/ns#", ATOM_NS),
];

/// Repairs references and unterminated sections (see the module doc). `None` when the text
/// needed nothing.
pub fn fix_markup(s: &str) -> Option<(String, Vec<String>)> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `s` already in `out`
    let mut declared: HashSet<String> = HashSet::new();
    let mut html_entities: BTreeMap<String, usize> = BTreeMap::new();
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut stray = 0usize;
    let mut bad_char_refs = 0usize;
    let mut repairs = Vec::new();
    let mut i = 0;
    // Replace s[from..to] with `with`.
    let edit =
        |out: &mut Option<String>, copied: &mut usize, from: usize, to: usize, with: &str| {
            let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 64));
            o.push_str(&s[*copied..from]);
            o.push_str(with);
            *copied = to;
        };
    while let Some(p) = memchr::memchr2(b'<', b'&', &b[i..]) {
        let at = i + p;
        if b[at] == b'<' {
            let rest = &b[at..];
            let (close, what): (&[u8], &str) = if rest.starts_with(b"<![CDATA[") {
                (b"]]>", "CDATA section")
            } else if rest.starts_with(b"<!--") {
                (b"-->", "comment")
            } else if rest.starts_with(b"<?") {
                (b"?>", "processing instruction")
            } else if rest.starts_with(b"<!DOCTYPE") || rest.starts_with(b"<!doctype") {
                let end = doctype_end(rest).map_or(b.len(), |e| at + e);
                collect_entities(&s[at..end], &mut declared);
                i = end;
                continue;
            } else {
                i = at + 1;
                continue;
            };
            let start = at
                + match what {
                    "CDATA section" => 9,
                    "comment" => 4,
                    _ => 2,
                };
            match memchr::memmem::find(&b[start.min(b.len())..], close) {
                Some(e) => i = start + e + close.len(),
                None => {
                    let closing = std::str::from_utf8(close).unwrap_or("");
                    edit(&mut out, &mut copied, b.len(), b.len(), closing);
                    repairs.push(format!(
                        "closed an unterminated {what} at the end of the document"
                    ));
                    i = b.len();
                }
            }
            continue;
        }
        // `&`: a reference, or not.
        let rest = &s[at + 1..];
        let (end, name) = reference_at(rest);
        match (end, name) {
            (Some(len), Some(name)) if name.starts_with('#') => {
                if char_ref_ok(&name[1..]) {
                    i = at + 1 + len + 1;
                } else {
                    bad_char_refs += 1;
                    edit(&mut out, &mut copied, at, at + 1 + len + 1, "&#xFFFD;");
                    i = at + 1 + len + 1;
                }
            }
            (Some(len), Some(name)) => {
                let to = at + 1 + len + 1;
                if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") || declared.contains(name)
                {
                    // Well-formed.
                } else if let Some(&(a, b2)) =
                    html5ever::data::NAMED_ENTITIES.get(format!("{name};").as_str())
                {
                    let mut with = format!("&#{a};");
                    if b2 != 0 {
                        with.push_str(&format!("&#{b2};"));
                    }
                    edit(&mut out, &mut copied, at, to, &with);
                    *html_entities.entry(name.to_string()).or_default() += 1;
                } else {
                    edit(&mut out, &mut copied, at, at + 1, "&amp;");
                    *unknown.entry(name.to_string()).or_default() += 1;
                }
                i = to;
            }
            _ => {
                stray += 1;
                edit(&mut out, &mut copied, at, at + 1, "&amp;");
                i = at + 1;
            }
        }
    }
    let out = out?;
    let mut out = out;
    out.push_str(&s[copied..]);
    let list = |m: &BTreeMap<String, usize>| {
        let mut names: Vec<String> = m.keys().take(5).map(|k| format!("&{k};")).collect();
        if m.len() > 5 {
            names.push(format!("and {} more", m.len() - 5));
        }
        names.join(" ")
    };
    if !html_entities.is_empty() {
        let n: usize = html_entities.values().sum();
        repairs.insert(
            0,
            format!(
                "{n} HTML entities XML does not define replaced with their characters ({})",
                list(&html_entities)
            ),
        );
    }
    if !unknown.is_empty() {
        let n: usize = unknown.values().sum();
        repairs.push(format!(
            "{n} unknown entities kept as text ({})",
            list(&unknown)
        ));
    }
    if stray > 0 {
        repairs.push(format!("{stray} stray '&' escaped"));
    }
    if bad_char_refs > 0 {
        repairs.push(format!(
            "{bad_char_refs} invalid character references replaced with U+FFFD"
        ));
    }
    Some((out, repairs))
}

/// After an `&`: the length of the name up to `;` and the name (`#123`, `#x1F`, `nbsp`), or
/// `None`s when this is no reference.
fn reference_at(rest: &str) -> (Option<usize>, Option<&str>) {
    let bytes = rest.as_bytes();
    let limit = bytes.len().min(40);
    let Some(semi) = bytes[..limit].iter().position(|&c| c == b';') else {
        return (None, None);
    };
    let name = &rest[..semi];
    let ok = if let Some(num) = name.strip_prefix('#') {
        match num.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()),
            None => !num.is_empty() && num.bytes().all(|c| c.is_ascii_digit()),
        }
    } else {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
    };
    if ok {
        (Some(semi), Some(name))
    } else {
        (None, None)
    }
}

/// A numeric reference XML accepts (`123` or `x1F`, without the `#`).
fn char_ref_ok(num: &str) -> bool {
    let value = match num.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => num.parse::<u32>().ok(),
    };
    value.and_then(char::from_u32).is_some_and(|c| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
    })
}

/// End (exclusive) of a `<!DOCTYPE ...>` that may hold an internal subset `[...]`.
fn doctype_end(rest: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (k, &c) in rest.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => return Some(k + 1),
                _ => {}
            },
        }
    }
    None
}

/// Names of `<!ENTITY name ...>` in a doctype's internal subset.
fn collect_entities(doctype: &str, names: &mut HashSet<String>) {
    let mut rest = doctype;
    while let Some(p) = rest.find("<!ENTITY") {
        rest = &rest[p + 8..];
        let name: String = rest
            .trim_start()
            .trim_start_matches('%')
            .trim_start()
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

/// The root element's qualified name and the byte range of its start tag, skipping the
/// prolog (declaration, comments, processing instructions, doctype). `None` when the text has
/// no element.
pub fn root_tag(s: &str) -> Option<(String, std::ops::Range<usize>)> {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let p = memchr::memchr(b'<', &b[i..])? + i;
        let rest = &b[p..];
        if rest.starts_with(b"<!--") {
            i = p
                + 4
                + memchr::memmem::find(&b[p + 4..], b"-->").map_or(b.len() - p - 4, |e| e + 3);
        } else if rest.starts_with(b"<?") {
            i = p + 2 + memchr::memmem::find(&b[p + 2..], b"?>").map_or(b.len() - p - 2, |e| e + 2);
        } else if rest.starts_with(b"<!") {
            i = p + doctype_end(rest).unwrap_or(rest.len());
        } else {
            let name_len = rest[1..]
                .iter()
                .position(|&c| c.is_ascii_whitespace() || c == b'>' || c == b'/')
                .unwrap_or(rest.len() - 1);
            let name = s.get(p + 1..p + 1 + name_len)?.to_string();
            let end = memchr::memchr(b'>', rest).map_or(b.len(), |e| p + e + 1);
            return (!name.is_empty()).then_some((name, p..end));
        }
        if i >= b.len() {
            return None;
        }
    }
}

/// The value of attribute `name` in a start tag's text.
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(p) = rest.find(name) {
        let before = rest[..p].chars().last();
        let after = rest[p + name.len()..].trim_start();
        rest = &rest[p + name.len()..];
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let Some(v) = after.strip_prefix('=') else {
            continue;
        };
        let v = v.trim_start();
        let q = v.chars().next()?;
        if q != '"' && q != '\'' {
            return None;
        }
        let v = &v[1..];
        return v.find(q).map(|e| v[..e].to_string());
    }
    None
}

/// Converts formats feed-rs does not read into ones it does (see the module doc). `None` when
/// the document is not one of them.
pub fn legacy_to_current(s: &str) -> Option<(String, Vec<String>)> {
    root_tag(s)?;
    let mut out: Option<String> = None;
    let mut repairs = Vec::new();
    for (old, new) in LEGACY_NS {
        for q in ['"', '\''] {
            let from = format!("{q}{old}{q}");
            let current = out.as_deref().unwrap_or(s);
            if current.contains(&from) {
                out = Some(current.replace(&from, &format!("{q}{new}{q}")));
                let what = if new == ATOM_NS {
                    "Atom 0.3 read as Atom 1.0"
                } else if old.contains("netscape") {
                    "RSS 0.90 read as RSS 1.0"
                } else {
                    "the RSS 2.0 namespace of an old draft dropped"
                };
                if !repairs.iter().any(|r| r == what) {
                    repairs.push(what.to_string());
                }
            }
        }
    }
    // The root tag as it reads after the namespace changes.
    let mut out = out.unwrap_or_default();
    let current = if repairs.is_empty() { s } else { out.as_str() };
    let (root, range) = root_tag(current)?;
    let local = root.rsplit(':').next().unwrap_or(&root).to_string();
    let tag = current[range].to_string();
    let tag = tag.as_str();
    let needs_copy = match local.as_str() {
        "rss" => !matches!(
            attr(tag, "version").as_deref(),
            Some("2.0" | "0.91" | "0.92")
        ),
        "RDF" => false,
        l if l.eq_ignore_ascii_case("rdf") => true,
        "feed" => attr(tag, "version").as_deref() == Some("0.3"),
        _ => false,
    };
    if !needs_copy && repairs.is_empty() {
        return None;
    }
    if repairs.is_empty() {
        out = s.to_string();
    }
    if local == "rss" {
        let version = attr(tag, "version");
        if !matches!(version.as_deref(), Some("2.0" | "0.91" | "0.92")) {
            let new_tag = match &version {
                Some(v) => tag.replacen(&format!("\"{v}\""), "\"2.0\"", 1).replacen(
                    &format!("'{v}'"),
                    "'2.0'",
                    1,
                ),
                None => tag.replacen(&format!("<{root}"), &format!("<{root} version=\"2.0\""), 1),
            };
            out = out.replacen(tag, &new_tag, 1);
            repairs.push(match version {
                Some(v) => format!("RSS {v} read as RSS 2.0"),
                None => "RSS without a version read as RSS 2.0".to_string(),
            });
        }
    } else if local != "RDF" && local.eq_ignore_ascii_case("rdf") {
        let prefix = &root[..root.len() - local.len()];
        let fixed = format!("{prefix}RDF");
        let new_tag = tag.replacen(&format!("<{root}"), &format!("<{fixed}"), 1);
        out = out.replacen(tag, &new_tag, 1);
        if let Some(p) = out.rfind(&format!("</{root}")) {
            out.replace_range(p + 2..p + 2 + root.len(), &fixed);
        }
        repairs.push(format!("root element <{root}> read as <{fixed}> (RSS 1.0)"));
    } else if local == "feed"
        && (attr(tag, "version").as_deref() == Some("0.3")
            || repairs.iter().any(|r| r.starts_with("Atom 0.3")))
    {
        // Atom 0.3 element names that Atom 1.0 renamed.
        for (old, new) in [
            ("issued", "published"),
            ("modified", "updated"),
            ("tagline", "subtitle"),
            ("copyright", "rights"),
        ] {
            for (a, b) in [
                (format!("<{old}>"), format!("<{new}>")),
                (format!("<{old} "), format!("<{new} ")),
                (format!("</{old}>"), format!("</{new}>")),
            ] {
                if out.contains(&a) {
                    out = out.replace(&a, &b);
                }
            }
        }
        if !repairs.iter().any(|r| r.starts_with("Atom 0.3")) {
            repairs.push("Atom 0.3 read as Atom 1.0".to_string());
        }
    }
    (!repairs.is_empty()).then_some((out, repairs))
}

/// A document that ends early or breaks part way: cut after the last complete piece and close
/// the elements still open. An item (or entry) still open at the break is dropped whole, not
/// kept half-read. `None` when quick-xml reads the whole document without error and nothing
/// is left open.
pub fn close_truncated(s: &str) -> Option<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(s);
    // Open elements: name and where their start tag begins.
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut good = 0usize;
    let broken = loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                stack.push((
                    String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    good,
                ));
            }
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Eof) => break None,
            Ok(_) => {}
            Err(e) => break Some(e.to_string()),
        }
        good = usize::try_from(reader.buffer_position())
            .unwrap_or(usize::MAX)
            .min(s.len());
    };
    if stack.is_empty() {
        // Whole, or broken outside the root: nothing to keep that feed-rs did not refuse.
        return None;
    }
    let open_item = stack
        .iter()
        .position(|(name, _)| matches!(name.rsplit(':').next(), Some("item" | "entry")));
    let mut dropped = false;
    if let Some(k) = open_item {
        good = stack[k].1;
        stack.truncate(k);
        dropped = true;
    }
    let good = (0..=good)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    let mut out = String::with_capacity(good + stack.len() * 16);
    out.push_str(&s[..good]);
    for (name, _) in stack.iter().rev() {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    let what = if dropped {
        "kept the items before it and dropped the unfinished one"
    } else {
        "kept everything before it"
    };
    let message = match broken {
        Some(e) => format!("ill-formed XML at byte {good} ({e}): {what}"),
        None => format!("the document ends early: {what}"),
    };
    Some((out, message))
}

/// `<item>` and `<entry>` elements in the document, any namespace.
pub fn count_items(s: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(s);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                if matches!(e.local_name().as_ref(), b"item" | b"entry") {
                    n += 1;
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_ampersands() {
        let s = "<rss><title>a&nbsp;b &eacute; &amp; &#233; &#x1F600; &bogus; R&D &</title><link href=\"?a=1&b=2\"/></rss>";
        let (out, repairs) = fix_markup(s).expect("repaired");
        assert_eq!(
            out,
            "<rss><title>a&#160;b &#233; &amp; &#233; &#x1F600; &amp;bogus; R&amp;D &amp;</title><link href=\"?a=1&amp;b=2\"/></rss>"
        );
        assert!(repairs[0].contains("&eacute; &nbsp;"), "{repairs:?}");
        assert!(
            repairs.iter().any(|r| r == "3 stray '&' escaped"),
            "{repairs:?}"
        );
        assert!(repairs.iter().any(|r| r.contains("&bogus;")), "{repairs:?}");
        assert_eq!(fix_markup("<rss><t>&amp; &lt;&#10;</t></rss>"), None);
    }

    #[test]
    fn sections_are_skipped_or_closed() {
        assert_eq!(
            fix_markup("<a><![CDATA[ & &nbsp; ]]><!-- & --><?pi & ?></a>"),
            None
        );
        let (out, repairs) = fix_markup("<a><b><![CDATA[half").expect("closed");
        assert_eq!(out, "<a><b><![CDATA[half]]>");
        assert_eq!(
            repairs,
            ["closed an unterminated CDATA section at the end of the document"]
        );
        // Entities the doctype declares stay.
        let dtd = "<!DOCTYPE rss [<!ENTITY mine \"x\">]><rss>&mine;</rss>";
        assert_eq!(fix_markup(dtd), None);
        assert_eq!(fix_markup("&#0;").map(|r| r.0).as_deref(), Some("&#xFFFD;"));
    }

    #[test]
    fn truncated_documents_are_closed() {
        let (out, msg) =
            close_truncated("<rss><channel><item><title>x</title></item><item><tit").expect("cut");
        assert_eq!(
            out,
            "<rss><channel><item><title>x</title></item></channel></rss>"
        );
        assert!(msg.contains("dropped the unfinished one"), "{msg}");
        let (out, msg) = close_truncated("<rss><channel><item>x</item>").expect("cut");
        assert_eq!(out, "<rss><channel><item>x</item></channel></rss>");
        assert_eq!(msg, "the document ends early: kept everything before it");
        let (out, _) = close_truncated("<rdf:RDF><item>x</item></rdf:RDF").expect("cut");
        assert_eq!(out, "<rdf:RDF><item>x</item></rdf:RDF>");
        assert_eq!(close_truncated("<rss><channel/></rss>"), None);
    }

    #[test]
    fn legacy_formats_are_converted() {
        let rss090 = "<?xml version=\"1.0\"?><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><item/></rdf:RDF>";
        let (out, r) = legacy_to_current(rss090).expect("converted");
        assert!(out.contains("xmlns=\"http://purl.org/rss/1.0/\""), "{out}");
        assert_eq!(r, ["RSS 0.90 read as RSS 1.0"]);
        let atom03 = "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><entry><issued>x</issued><modified>y</modified></entry></feed>";
        let (out, r) = legacy_to_current(atom03).expect("converted");
        assert_eq!(out, "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><entry><published>x</published><updated>y</updated></entry></feed>");
        assert_eq!(r, ["Atom 0.3 read as Atom 1.0"]);
        let (out, r) = legacy_to_current("<!-- c --><rss version=\"0.93\"><channel/></rss>")
            .expect("converted");
        assert_eq!(out, "<!-- c --><rss version=\"2.0\"><channel/></rss>");
        assert_eq!(r, ["RSS 0.93 read as RSS 2.0"]);
        let (out, _) = legacy_to_current("<rss>\n<item/></rss>").expect("converted");
        assert_eq!(out, "<rss version=\"2.0\">\n<item/></rss>");
        let (out, _) = legacy_to_current("<rdf><item/></rdf>").expect("converted");
        assert_eq!(out, "<RDF><item/></RDF>");
        assert_eq!(
            legacy_to_current("<rss version=\"2.0\"><channel/></rss>"),
            None
        );
        assert_eq!(legacy_to_current(""), None);
    }

    #[test]
    fn roots_and_counts() {
        let s = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \">\">]><!-- <no> --><a:feed x='1'><a:entry/><entry></entry></a:feed>";
        assert_eq!(root_tag(s).map(|r| r.0).as_deref(), Some("a:feed"));
        assert_eq!(count_items(s), 2);
        assert_eq!(
            attr("<rss version='0.9' a=\"b\">", "version").as_deref(),
            Some("0.9")
        );
        assert_eq!(attr("<rss xversion='0.9'>", "version"), None);
        assert_eq!(root_tag("just text"), None);
    }
}
