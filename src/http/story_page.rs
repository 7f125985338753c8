//! The story page at `/stories/{id}`: one story's copies side by side with the canonical
//! version, so an operator sees at a glance why they were grouped. Plain server-rendered HTML
//! like the status page; every value from feeds, bodies or config is escaped.
//!
//! The texts come from the store (each item's payload holds its body). Paragraphs are
//! classified again with the engine's stateless preparer, without the engine's memory: what
//! the text alone sets aside for matching is greyed out with the reason, and paragraphs whose
//! shingles mostly occur in the other side's matched text are highlighted.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::path::PathBuf;
use std::str::FromStr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::config::Config;
use crate::dedup::{Engine, EngineConfig, MatchRule, Preparer};
use crate::model::StoryId;
use crate::normalize::chrome::SetAside;
use crate::normalize::{body_text, for_each_word};
use std::sync::{Arc, Mutex};

use crate::config::{StoreConfig, StoreKind};
use crate::store::{store_path, RedisStore, SqliteStore, Store, StoredCopy, StoredStory};

use super::state::{read, SharedState};
use super::status::{e, time};

/// A paragraph counts as shared when at least this share of its distinct shingles occurs in
/// the other side's matched paragraphs.
const SHARED: f64 = 0.5;

/// What the story page needs: where the store is, and how the engine prepares texts.
#[derive(Clone)]
pub struct StoryPages {
    store: PathBuf,
    /// With `[store] kind = "redis"`: the store, opened on the first page and kept (it only
    /// reads what was committed since, page after page).
    redis: Option<(StoreConfig, Arc<Mutex<Option<RedisStore>>>)>,
    preparer: Preparer,
    rule: MatchRule,
}

impl std::fmt::Debug for StoryPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoryPages")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl StoryPages {
    /// Pages over the store `[store] path` names, preparing texts as the engine of `config`
    /// does. Fails only on invalid boilerplate patterns.
    pub fn for_config(config: &Config) -> crate::error::Result<Self> {
        let engine = Engine::new(EngineConfig::from_config(config))?;
        Ok(StoryPages {
            store: store_path(&config.store),
            redis: (config.store.kind == StoreKind::Redis)
                .then(|| (config.store.clone(), Arc::new(Mutex::new(None)))),
            preparer: engine.preparer().clone(),
            rule: engine.rule(),
        })
    }

    /// Reads the story from the store (read-only, next to a running writer).
    fn load(&self, id: StoryId) -> crate::error::Result<Option<StoredStory>> {
        if let Some((config, cell)) = &self.redis {
            let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
            let store = match guard.as_mut() {
                Some(s) => s,
                None => guard.insert(RedisStore::from_config(config)?),
            };
            return store.story(id);
        }
        SqliteStore::open_read_only(&self.store)?.story(id)
    }
}

fn page_head(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title>\
         <style>body{{font-family:sans-serif;margin:1.5em;max-width:60em}}\
         table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}}\
         .error{{color:#a00}}.num{{text-align:right}}.time{{white-space:nowrap}}\
         .copy{{border-top:2px solid #ccc;margin-top:1.5em}}\
         .text p{{margin:.4em 0;line-height:1.4}}\
         mark{{background:#fff3a0}}\
         .aside{{color:#999}}\
         .why{{font-size:75%;border:1px solid #bbb;border-radius:3px;padding:0 .3em;\
         margin-right:.4em;color:#777}}\
         .note{{font-size:85%;color:#555}}</style></head><body>\n\
         <p><a href=\"/\">syndedup status</a></p>\n",
        e(title)
    );
}

/// An HTML error page naming what was asked for.
fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    let mut h = String::with_capacity(1024);
    page_head(&mut h, heading);
    let _ = writeln!(
        h,
        "<h1>{}</h1>\n<p class=\"error\">{}</p>\n</body></html>",
        e(heading),
        e(message)
    );
    (status, Html(h)).into_response()
}

pub(super) async fn page(State(state): State<SharedState>, Path(raw): Path<String>) -> Response {
    let Ok(id) = StoryId::from_str(&raw) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("No story \"{raw}\""),
            &format!("\"{raw}\" is not a story id: story ids look like s12."),
        );
    };
    let (pages, api) = {
        let s = read(&state);
        // The scores the API shows for this story, by outlet and item id.
        let api: Option<HashMap<(Option<String>, String), f32>> = s.story(id).map(|r| {
            r.view
                .copies
                .iter()
                .map(|c| ((c.outlet.clone(), c.id.clone()), c.score))
                .collect()
        });
        (s.story_pages().cloned(), api)
    };
    let Some(pages) = pages else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("Story {id}"),
            "This service reads no store, so it cannot show a story's texts.",
        );
    };
    let result = tokio::task::spawn_blocking(move || {
        pages
            .load(id)
            .map(|story| story.map(|s| render(&s, &pages, api.as_ref())))
    })
    .await;
    match result {
        Ok(Ok(Some(html))) => Html(html).into_response(),
        Ok(Ok(None)) => error_page(
            StatusCode::NOT_FOUND,
            &format!("No story {id}"),
            &format!(
                "The store holds no story {id}: it never existed, expired past retention, \
                 or was merged into another story."
            ),
        ),
        Ok(Err(err)) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("Story {id}"),
            &format!("Cannot read the store: {err}"),
        ),
        Err(err) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Story {id}"),
            &format!("The page could not be built: {err}"),
        ),
    }
}

/// One paragraph of a copy's text as the preparer saw it.
struct Paragraph {
    text: String,
    set_aside: Option<SetAside>,
    /// Distinct shingles of the paragraph.
    shingles: HashSet<u64>,
    shared: bool,
}

/// A copy's text, paragraph by paragraph; `None` when no text is stored for it.
struct Text {
    paragraphs: Vec<Paragraph>,
    /// Shingles of the paragraphs used for matching (not set aside).
    matched: HashSet<u64>,
}

impl Text {
    fn prepare(preparer: &Preparer, outlet: Option<&str>, body: &str) -> Text {
        let prepared = preparer.prepare(outlet, body);
        let text = body_text(body);
        let mut buf = Vec::new();
        // Paragraph i is the i-th line with at least one word, as `prepare` builds them.
        let lines = text.split('\n').filter(|line| {
            let mut any = false;
            for_each_word(line, &mut buf, |_| any = true);
            any
        });
        let mut matched = HashSet::new();
        let paragraphs: Vec<Paragraph> = lines
            .zip(&prepared.paragraphs)
            .map(|(line, p)| {
                let range = p.start as usize..(p.end as usize).min(prepared.shingles.len());
                let shingles: HashSet<u64> = prepared
                    .shingles
                    .get(range)
                    .unwrap_or(&[])
                    .iter()
                    .copied()
                    .collect();
                if p.set_aside.is_none() {
                    matched.extend(&shingles);
                }
                Paragraph {
                    text: line.trim().to_string(),
                    set_aside: p.set_aside,
                    shingles,
                    shared: false,
                }
            })
            .collect();
        Text {
            paragraphs,
            matched,
        }
    }

    /// Marks the matched paragraphs whose shingles mostly occur in one of `others`' matched
    /// text; returns how many.
    fn mark_shared<'a>(&mut self, others: impl Iterator<Item = &'a HashSet<u64>> + Clone) -> usize {
        let mut count = 0;
        for p in self.paragraphs.iter_mut() {
            if p.set_aside.is_some() || p.shingles.is_empty() {
                continue;
            }
            p.shared = others.clone().any(|o| {
                let common = p.shingles.iter().filter(|s| o.contains(s)).count();
                common as f64 >= SHARED * p.shingles.len() as f64
            });
            count += usize::from(p.shared);
        }
        count
    }

    fn matched_paragraphs(&self) -> usize {
        self.paragraphs
            .iter()
            .filter(|p| p.set_aside.is_none())
            .count()
    }
}

/// The body stored in a copy's payload (the daemon's item JSON, or the input line of
/// `dedup --state`: both keep the text in `body`).
fn stored_body(copy: &StoredCopy) -> Option<String> {
    let payload = copy.payload.as_deref()?;
    let value: serde_json::Value = serde_json::from_str(payload).ok()?;
    value.get("body")?.as_str().map(str::to_string)
}

fn reason(why: SetAside) -> &'static str {
    match why {
        SetAside::Builtin => "a built-in syndication, paywall or widget phrase",
        SetAside::Pattern => "a configured boilerplate pattern",
        SetAside::Learned => "recurs across many items of this outlet",
        SetAside::Recurring => "appears in several different stories",
        SetAside::Short => "too few words to be prose",
        SetAside::NoSentence => "short and without a sentence end: a headline, link or teaser",
        SetAside::Caption => "a photo caption or credit",
        SetAside::Code => "script code that leaked into the text",
        SetAside::Repeated => "the same paragraph twice in this text",
    }
}

fn published(copy: &StoredCopy) -> String {
    copy.meta
        .published
        .map(|p| p.to_rfc3339())
        .unwrap_or_else(|| "no date".to_string())
}

/// The copy's title, linked to its page when the link is http(s).
fn linked_title(copy: &StoredCopy) -> String {
    let title = e(copy.meta.title.as_deref().unwrap_or("(untitled)")).into_owned();
    match copy.meta.url.as_deref().and_then(crate::emit::safe_url) {
        Some(url) => format!("<a href=\"{}\">{title}</a>", e(&url)),
        None => title,
    }
}

fn outlet(copy: &StoredCopy) -> std::borrow::Cow<'_, str> {
    e(copy.meta.outlet.as_deref().unwrap_or("unknown outlet"))
}

/// The page for a stored story. `api` holds the scores `/api/stories/{id}` shows, by outlet
/// and item id, when the service lists the story; otherwise they are computed as `serve` does.
fn render(
    story: &StoredStory,
    pages: &StoryPages,
    api: Option<&HashMap<(Option<String>, String), f32>>,
) -> String {
    let stored_scores = story.scores(&pages.rule);
    let scores: Vec<f32> = story
        .copies
        .iter()
        .zip(&stored_scores)
        .map(|(c, &fallback)| {
            api.and_then(|a| a.get(&(c.meta.outlet.clone(), c.meta.id.clone())))
                .copied()
                .unwrap_or(fallback)
        })
        .collect();
    let mut texts: Vec<Option<Text>> = story
        .copies
        .iter()
        .map(|c| {
            stored_body(c).map(|b| Text::prepare(&pages.preparer, c.meta.outlet.as_deref(), &b))
        })
        .collect();
    let k = story.canonical.min(story.copies.len().saturating_sub(1));
    // Copies against the canonical's matched text; the canonical against each copy's.
    let canonical_matched = texts
        .get(k)
        .and_then(|t| t.as_ref())
        .map(|t| t.matched.clone());
    let mut shared: Vec<Option<usize>> = vec![None; texts.len()];
    if let Some(cm) = &canonical_matched {
        for (i, t) in texts.iter_mut().enumerate() {
            if i != k {
                if let Some(t) = t {
                    shared[i] = Some(t.mark_shared(std::iter::once(cm)));
                }
            }
        }
        let others: Vec<HashSet<u64>> = texts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .filter_map(|(_, t)| t.as_ref().map(|t| t.matched.clone()))
            .collect();
        if let Some(Some(t)) = texts.get_mut(k) {
            shared[k] = Some(t.mark_shared(others.iter()));
        }
    }

    let mut h = String::with_capacity(16384);
    let canonical = story.copies.get(k);
    let heading = format!(
        "Story {}: {}",
        story.story,
        canonical
            .and_then(|c| c.meta.title.as_deref())
            .unwrap_or("(untitled)")
    );
    page_head(&mut h, &heading);
    // Writing into a String cannot fail.
    let _ = write_body(&mut h, story, k, &heading, &scores, &texts, &shared);
    h
}

fn write_body(
    h: &mut String,
    story: &StoredStory,
    k: usize,
    heading: &str,
    scores: &[f32],
    texts: &[Option<Text>],
    shared: &[Option<usize>],
) -> std::fmt::Result {
    let id = story.story;
    writeln!(h, "<h1>{}</h1>", e(heading))?;
    if let Some(c) = story.copies.get(k) {
        writeln!(
            h,
            "<p>Canonical copy: <strong>{}</strong>, {}{}.</p>",
            outlet(c),
            linked_title(c),
            c.meta
                .url
                .as_deref()
                .map(|u| format!(" <span class=\"note\">({})</span>", e(u)))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        h,
        "<p>{} cop{}, first seen {}, last seen {}. \
         <a href=\"/api/stories/{id}\">As JSON</a>.</p>",
        story.copies.len(),
        if story.copies.len() == 1 { "y" } else { "ies" },
        time(chrono::DateTime::from_timestamp(story.first_seen, 0)),
        time(chrono::DateTime::from_timestamp(story.last_seen, 0)),
    )?;
    // The canonical copy first, then the others in the order first seen.
    let order: Vec<usize> = std::iter::once(k)
        .chain((0..story.copies.len()).filter(|&i| i != k))
        .filter(|&i| i < story.copies.len())
        .collect();
    h.push_str(
        "<table>\n<tr><th>outlet</th><th>title</th><th>published</th><th>score</th>\
         <th>shared paragraphs</th></tr>\n",
    );
    for &i in &order {
        let c = &story.copies[i];
        let share = match (&texts[i], shared[i]) {
            (Some(t), Some(n)) => format!("{n} of {}", t.matched_paragraphs()),
            (Some(_), None) => "canonical has no text".to_string(),
            (None, _) => "no text stored".to_string(),
        };
        writeln!(
            h,
            "<tr><td><a href=\"#copy-{i}\">{}</a>{}</td><td>{}</td><td class=\"time\">{}</td>\
             <td class=\"num\">{:.3}</td><td>{}</td></tr>",
            outlet(c),
            if i == k {
                " <strong>(canonical)</strong>"
            } else {
                ""
            },
            linked_title(c),
            e(&published(c)),
            scores.get(i).copied().unwrap_or(0.0),
            share
        )?;
    }
    h.push_str("</table>\n");
    writeln!(
        h,
        "<p class=\"note\"><mark>Highlighted</mark>: at least half of the paragraph's shingles \
         occur in the canonical copy's matched paragraphs (on the canonical copy: in at least \
         one other copy's). <span class=\"aside\"><span class=\"why\">reason</span>Grey</span>: \
         set aside for matching, with the reason. Score: similarity to the canonical copy, \
         as <code>/api/stories/{id}</code> gives it.</p>"
    )?;
    for &i in &order {
        let c = &story.copies[i];
        writeln!(
            h,
            "<div class=\"copy\" id=\"copy-{i}\">\n<h2>{}{}</h2>\n\
             <p>{} &middot; published {} &middot; first seen {} &middot; score {:.3}</p>",
            outlet(c),
            if i == k { " (canonical)" } else { "" },
            linked_title(c),
            e(&published(c)),
            time(chrono::DateTime::from_timestamp(c.first_seen, 0)),
            scores.get(i).copied().unwrap_or(0.0),
        )?;
        match &texts[i] {
            None => h.push_str(
                "<p class=\"note\">No text is stored for this copy, so its paragraphs \
                 cannot be shown.</p>\n",
            ),
            Some(t) if t.paragraphs.is_empty() => {
                h.push_str("<p class=\"note\">The stored text has no words.</p>\n")
            }
            Some(t) => {
                h.push_str("<div class=\"text\">\n");
                for p in &t.paragraphs {
                    match p.set_aside {
                        Some(why) => writeln!(
                            h,
                            "<p class=\"aside\" title=\"set aside for matching: {}: {}\">\
                             <span class=\"why\">{}</span>{}</p>",
                            why.as_str(),
                            reason(why),
                            why.as_str(),
                            e(&p.text)
                        )?,
                        None if p.shared => writeln!(h, "<p><mark>{}</mark></p>", e(&p.text))?,
                        None => writeln!(h, "<p>{}</p>", e(&p.text))?,
                    }
                }
                h.push_str("</div>\n");
            }
        }
        h.push_str("</div>\n");
    }
    h.push_str(
        "<p class=\"note\">Paragraphs are classified here from each text alone. The engine also \
         sets aside what needs its memory: <em>learned</em> boilerplate (recurring across an \
         outlet's items) and <em>recurring</em> paragraphs (seen in several stories). Those are \
         not marked on this page, so a copy may share less with the canonical version in \
         matching than it seems here.</p>\n</body></html>\n",
    );
    Ok(())
}
