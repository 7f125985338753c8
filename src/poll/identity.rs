//! Item identity: which id an item gets, per outlet, so that the same item polled twice is
//! recognised and two different items never share an id.
//!
//! feed-rs invents ids when a feed has none (random UUIDs or link+title hashes), which would make
//! every poll of a guid-less feed look new and would split an item whose title was edited. The
//! rule here, in order:
//! 1. the feed's own guid / Atom id / JSON Feed id when there is one;
//! 2. the normalised link (`feedburner:origLink` preferred; tracking parameters, the fragment
//!    and default ports removed);
//! 3. a hash of title + published date (the body too when both are missing).
//!
//! Ids repeated inside one feed document are made unique with a suffix derived from the item's
//! link or title, so the suffix does not depend on the order of the items.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};
use xxhash_rust::xxh3::xxh3_64;

/// Query parameters that only track the reader and never change the page.
fn is_tracking_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("utm_")
        || matches!(
            k.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gclsrc"
                | "msclkid"
                | "yclid"
                | "mc_cid"
                | "mc_eid"
                | "igshid"
                | "_ga"
                | "_hsenc"
                | "_hsmi"
                | "mkt_tok"
                | "wt.mc_id"
                | "wt_mc"
                | "cmpid"
                | "ncid"
                | "ocid"
        )
}

/// The link with tracking parameters and the fragment removed, or `None` when it is not an
/// absolute http(s) URL. Scheme and host are lower-cased by the URL parser.
pub fn normalize_link(link: &str) -> Option<String> {
    let mut url = url::Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

/// What an item offers for its identity.
#[derive(Debug, Clone, Default)]
pub struct IdParts<'a> {
    /// The feed's own id, empty when the feed gave none.
    pub guid: &'a str,
    pub link: Option<&'a str>,
    pub origlink: Option<&'a str>,
    pub title: Option<&'a str>,
    pub published: Option<DateTime<FixedOffset>>,
    pub body: &'a str,
}

/// The id of one item by the rule in the module docs.
pub fn item_id(parts: &IdParts<'_>) -> String {
    let guid = parts.guid.trim();
    if !guid.is_empty() {
        return guid.to_string();
    }
    if let Some(link) = parts
        .origlink
        .and_then(normalize_link)
        .or_else(|| parts.link.and_then(normalize_link))
    {
        return link;
    }
    let title = parts.title.map(str::trim).unwrap_or("");
    let published = parts.published.map(|p| p.timestamp().to_string());
    let mut key = format!("{title}\u{1f}{}", published.as_deref().unwrap_or(""));
    if title.is_empty() && published.is_none() {
        key.push('\u{1f}');
        key.push_str(parts.body);
    }
    format!("xxh3:{:016x}", xxh3_64(key.as_bytes()))
}

/// Makes ids unique within one feed document. `keys[i]` is something that tells repeated items
/// apart (their link or title); the first item with an id keeps it, later ones get
/// `id#<hash of key>`, and `#n` on top if that still collides.
pub fn disambiguate(ids: &mut [String], keys: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in ids.iter() {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let repeated: HashSet<String> = counts
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(id, _)| id.to_string())
        .collect();
    if repeated.is_empty() {
        return 0;
    }
    let mut taken: HashSet<String> = ids.iter().cloned().collect();
    let mut first_kept: HashSet<String> = HashSet::new();
    let mut changed = 0;
    for (i, id) in ids.iter_mut().enumerate() {
        if !repeated.contains(id.as_str()) || first_kept.insert(id.clone()) {
            continue;
        }
        let key = keys.get(i).map(String::as_str).unwrap_or("");
        let mut candidate = format!("{id}#{:08x}", xxh3_64(key.as_bytes()) as u32);
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{id}#{:08x}-{n}", xxh3_64(key.as_bytes()) as u32);
            n += 1;
        }
        taken.insert(candidate.clone());
        *id = candidate;
        changed += 1;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_parameters_and_fragments_are_dropped() {
        assert_eq!(
            normalize_link("HTTPS://Example.org/a?utm_source=x&id=3&fbclid=y#top").as_deref(),
            Some("https://example.org/a?id=3")
        );
        assert_eq!(
            normalize_link("http://example.org/a?gclid=1&UTM_medium=m").as_deref(),
            Some("http://example.org/a")
        );
        assert_eq!(normalize_link("/relative"), None);
        assert_eq!(normalize_link("mailto:a@b"), None);
    }

    #[test]
    fn guid_then_origlink_then_link_then_hash() {
        let mut p = IdParts {
            guid: " g1 ",
            link: Some("https://e.org/x?utm_campaign=c"),
            origlink: Some("https://orig.org/y"),
            title: Some("T"),
            ..IdParts::default()
        };
        assert_eq!(item_id(&p), "g1");
        p.guid = "";
        assert_eq!(item_id(&p), "https://orig.org/y");
        p.origlink = None;
        assert_eq!(item_id(&p), "https://e.org/x");
        p.link = None;
        let a = item_id(&p);
        assert!(a.starts_with("xxh3:"), "{a}");
        p.title = Some("U");
        assert_ne!(item_id(&p), a);
    }

    #[test]
    fn items_with_nothing_but_a_body_differ_by_body() {
        let a = item_id(&IdParts {
            body: "one",
            ..IdParts::default()
        });
        let b = item_id(&IdParts {
            body: "two",
            ..IdParts::default()
        });
        assert_ne!(a, b);
    }

    #[test]
    fn repeated_ids_get_stable_suffixes() {
        let mut ids: Vec<String> = ["a", "b", "a", "a"].iter().map(|s| s.to_string()).collect();
        let keys: Vec<String> = ["l1", "l2", "l3", "l3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(disambiguate(&mut ids, &keys), 2);
        assert_eq!(ids[0], "a");
        assert_eq!(ids[1], "b");
        assert!(ids[2].starts_with("a#"));
        assert!(ids[3].starts_with("a#") && ids[3] != ids[2]);
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), 4);
    }
}
