//! `syndedup import-opml FILE`: turns a feed reader's OPML export into `[[outlet]]` tables.
//!
//! Feed readers nest feeds under folder outlines; those folder titles become the outlet's
//! `tags`, so `[[feed]] tags = [...]` can select them later. The output is serialised with the
//! `toml` crate, so any title (quotes, backslashes, non-ASCII) pastes into a config unchanged.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

/// Why an OPML file could not be read: the file, the line, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("OPML file {path}, line {line}: {message}")]
pub struct OpmlError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportOpmlArgs {
    /// The OPML file to read (e.g. a feed reader's subscription export).
    pub file: PathBuf,
}

/// One feed found in an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `title`, else `text`, else the URL's host.
    pub title: String,
    /// `xmlUrl` (any capitalisation).
    pub xml_url: String,
    /// Titles of the enclosing outlines, outermost first, plus any `category` attribute.
    pub categories: Vec<String>,
    /// 1-based line of the outline in the file, for messages.
    pub line: usize,
}

impl OpmlFeed {
    /// Only http(s) URLs can be polled; OPML files also carry `feed:`, relative or broken ones.
    pub fn has_http_url(&self) -> bool {
        url::Url::parse(&self.xml_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    }
}

/// One `[[outlet]]` table as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutletEntry {
    pub name: String,
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Serialize)]
struct Outlets<'a> {
    outlet: &'a [OutletEntry],
}

/// What an open `<outline>` contributes to its children.
enum Frame {
    /// A folder: its title is a category of every feed inside it.
    Folder(Option<String>),
    /// A feed outline with children (rare; the children are not under a folder of it).
    Feed,
}

/// Parses OPML bytes (any encoding declared in the XML prolog). `origin` names the file in errors.
pub fn parse_opml(bytes: &[u8], origin: &Path) -> Result<Vec<OpmlFeed>, OpmlError> {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut saw_root = false;
    let mut stack: Vec<Frame> = Vec::new();
    let mut feeds = Vec::new();
    let fail = |pos: u64, message: String| OpmlError {
        path: origin.to_path_buf(),
        line: line_at(bytes, pos),
        message,
    };
    loop {
        buf.clear();
        let pos = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| fail(reader.error_position(), format!("not well-formed XML: {e}")))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = e.local_name();
                let name = name.as_ref();
                if !saw_root {
                    if !name.eq_ignore_ascii_case(b"opml") {
                        return Err(fail(
                            pos,
                            format!(
                                "not an OPML file: the root element is <{}>, expected <opml>",
                                String::from_utf8_lossy(name)
                            ),
                        ));
                    }
                    saw_root = true;
                    continue;
                }
                if !name.eq_ignore_ascii_case(b"outline") {
                    continue;
                }
                let attrs = outline_attributes(e, &reader).map_err(|m| fail(pos, m))?;
                let title = attrs
                    .get("title")
                    .or_else(|| attrs.get("text"))
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty());
                match attrs
                    .get("xmlurl")
                    .map(|u| u.trim())
                    .filter(|u| !u.is_empty())
                {
                    Some(url) => {
                        let mut categories: Vec<String> = stack
                            .iter()
                            .filter_map(|f| match f {
                                Frame::Folder(t) => t.clone(),
                                Frame::Feed => None,
                            })
                            .collect();
                        if let Some(cats) = attrs.get("category") {
                            categories.extend(
                                cats.split([',', '/'])
                                    .map(str::trim)
                                    .filter(|c| !c.is_empty())
                                    .map(str::to_string),
                            );
                        }
                        feeds.push(OpmlFeed {
                            title: title.unwrap_or_else(|| host_of(url)),
                            xml_url: url.to_string(),
                            categories,
                            line: line_at(bytes, pos),
                        });
                        if !is_empty {
                            stack.push(Frame::Feed);
                        }
                    }
                    None => {
                        if !is_empty {
                            stack.push(Frame::Folder(title));
                        }
                    }
                }
            }
            Event::End(ref e) if e.local_name().as_ref().eq_ignore_ascii_case(b"outline") => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(fail(
            0,
            "not an OPML file: no <opml> root element".to_string(),
        ));
    }
    Ok(feeds)
}

/// Attributes of an outline, names lowercased (OPML in the wild writes `xmlUrl`, `xmlurl`, `XMLURL`).
fn outline_attributes(
    e: &BytesStart<'_>,
    reader: &Reader<&[u8]>,
) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for attr in e.attributes().with_checks(false) {
        let attr = attr.map_err(|err| format!("bad attribute in <outline>: {err}"))?;
        let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).to_ascii_lowercase();
        let value = attr
            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, reader.decoder())
            .map_err(|err| format!("bad value for attribute {key} in <outline>: {err}"))?;
        out.insert(key, value.into_owned());
    }
    Ok(out)
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string())
}

/// 1-based line of a byte offset.
fn line_at(bytes: &[u8], pos: u64) -> usize {
    let end = (pos as usize).min(bytes.len());
    bytes[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Turns feeds into outlet entries: one per distinct URL (a feed filed under two folders gets
/// both folders as tags), names made unique by a numeric suffix.
pub fn to_outlets(feeds: &[OpmlFeed]) -> Vec<OutletEntry> {
    let mut out: Vec<OutletEntry> = Vec::new();
    let mut by_url: HashMap<&str, usize> = HashMap::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    for feed in feeds {
        if let Some(&i) = by_url.get(feed.xml_url.as_str()) {
            for c in &feed.categories {
                if !out[i].tags.contains(c) {
                    out[i].tags.push(c.clone());
                }
            }
            continue;
        }
        let mut name = feed.title.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{} ({n})", feed.title);
            n += 1;
        }
        names.insert(name.clone());
        let mut tags: Vec<String> = Vec::new();
        for c in &feed.categories {
            if !tags.contains(c) {
                tags.push(c.clone());
            }
        }
        by_url.insert(&feed.xml_url, out.len());
        out.push(OutletEntry {
            name,
            url: feed.xml_url.clone(),
            tags,
        });
    }
    out
}

/// The `[[outlet]]` tables as TOML text.
pub fn render(outlets: &[OutletEntry]) -> Result<String, toml::ser::Error> {
    toml::to_string(&Outlets { outlet: outlets })
}

pub fn run(args: &ImportOpmlArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read OPML file {}", args.file.display()))?;
    let (feeds, skipped): (Vec<OpmlFeed>, Vec<OpmlFeed>) = parse_opml(&bytes, &args.file)?
        .into_iter()
        .partition(OpmlFeed::has_http_url);
    for feed in &skipped {
        tracing::warn!(
            file = %args.file.display(),
            line = feed.line,
            url = %feed.xml_url,
            "Feed skipped: its xmlUrl is not an http(s) URL."
        );
    }
    if feeds.is_empty() {
        anyhow::bail!(
            "OPML file {} lists no feeds (no <outline> has an xmlUrl attribute)",
            args.file.display()
        );
    }
    let outlets = to_outlets(&feeds);
    let text = render(&outlets).context("cannot render the outlets as TOML")?;
    tracing::debug!(
        file = %args.file.display(),
        feeds = feeds.len(),
        skipped = skipped.len(),
        outlets = outlets.len(),
        "OPML imported"
    );
    println!(
        "# {} outlets imported from {}",
        outlets.len(),
        args.file.display()
    );
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
