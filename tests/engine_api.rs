//! The library API: `syndedup::Engine` without the CLI, and property tests of the core.

use proptest::prelude::*;
use syndedup::dedup::{Engine, EngineConfig};
use syndedup::Article;

/// A deterministic text of `paragraphs` paragraphs from a made-up vocabulary; `seed` picks it.
fn text(seed: u64, paragraphs: usize) -> Vec<String> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..paragraphs)
        .map(|_| {
            (0..40)
                .map(|_| format!("w{}", next() % 5000))
                .collect::<Vec<_>>()
                .join(" ")
                + "."
        })
        .collect()
}

fn decide(engine: &mut Engine, id: &str, paragraphs: &[String]) -> syndedup::Decision {
    engine.add(&Article::new(id, paragraphs.join("\n")))
}

#[test]
fn truncated_and_wrapped_copies_match() {
    let mut e = Engine::with_defaults();
    let original = text(1, 20);
    assert!(!decide(&mut e, "orig", &original).is_duplicate());
    // Only the first 60%.
    let d = decide(&mut e, "trunc", &original[..12]);
    assert_eq!(d.duplicate_of.as_deref(), Some("orig"));
    // The whole text wrapped in 30% more page text.
    let mut wrapped = text(2, 3);
    wrapped.extend(original.iter().cloned());
    wrapped.extend(text(3, 3));
    let d = decide(&mut e, "wrapped", &wrapped);
    assert_eq!(d.duplicate_of.as_deref(), Some("orig"));
}

#[test]
fn follow_ups_reusing_a_quarter_to_45_percent_stay_apart() {
    for (i, reused) in [5usize, 7, 9].into_iter().enumerate() {
        let mut e = Engine::with_defaults();
        let original = text(10 + i as u64, 20);
        decide(&mut e, "orig", &original);
        // A new story of 20 paragraphs, `reused` of them from the original (25%, 35%, 45%).
        let mut follow = text(100 + i as u64, 20 - reused);
        follow.splice(2..2, original[3..3 + reused].iter().cloned());
        let d = decide(&mut e, "follow", &follow);
        assert!(!d.is_duplicate(), "{reused} paragraphs reused: {d:?}");
    }
}

#[test]
fn a_live_blog_does_not_swallow_the_item_it_quotes() {
    let mut e = Engine::with_defaults();
    let item = text(20, 8);
    decide(&mut e, "item", &item);
    let mut blog = text(21, 6);
    blog.extend(item.iter().cloned());
    blog.extend(text(22, 4));
    assert!(!decide(&mut e, "blog", &blog).is_duplicate());
}

#[test]
fn non_latin_copies_match() {
    let hindi = "भारत और जापान ने मंगलवार को एक नए व्यापार समझौते पर हस्ताक्षर किए, जिससे दोनों देशों के बीच निवेश बढ़ने की उम्मीद है। अधिकारियों ने कहा कि समझौता अगले वर्ष से लागू होगा और इससे छोटे उद्योगों को भी लाभ मिलेगा।";
    let urdu = "پاکستان کے وزیر خزانہ نے منگل کو کہا کہ حکومت آئندہ بجٹ میں تنخواہ دار طبقے کے لیے ٹیکس میں کمی پر غور کر رہی ہے۔ انہوں نے کہا کہ مہنگائی کی شرح میں کمی آئی ہے۔";
    let german = "Die Bundesregierung hat am Dienstag ein neues Förderprogramm für Wärmepumpen beschlossen. Hausbesitzer sollen künftig bis zu 70 Prozent der Kosten erstattet bekommen, teilte das Ministerium in Berlin mit.";
    let mut e = Engine::with_defaults();
    for (i, t) in [hindi, urdu, german].iter().enumerate() {
        e.add(&Article::new(format!("o{i}"), *t));
    }
    for (i, t) in [hindi, urdu, german].iter().enumerate() {
        let copy = format!("{t}\n(Only the headline and picture of this report may have been reworked by the staff; the rest of the content is auto-generated from a syndicated feed.)");
        let d = e.add(&Article::new(format!("c{i}"), copy));
        assert_eq!(d.duplicate_of, Some(format!("o{i}")), "{t}");
    }
    assert_eq!(e.stories().len(), 3);
}

#[test]
fn stories_and_canonical_through_the_api() {
    let mut cfg = EngineConfig::default();
    cfg.merge.outlet_priority = vec!["Wire".to_string()];
    let mut e = Engine::new(cfg).expect("engine");
    let body = text(30, 10).join("\n");
    let first = e.add(&Article::new("r1", body.clone()).with_outlet("Republisher"));
    assert!(first.became_canonical);
    let wire = e.add(&Article::new("w1", body.clone()).with_outlet("Wire"));
    assert!(
        wire.became_canonical,
        "the wire copy outranks the republisher"
    );
    let later = e.add(&Article::new("r2", body).with_outlet("Other"));
    assert!(!later.became_canonical);
    let stories = e.stories();
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0].canonical.id, "w1");
    assert_eq!(stories[0].copies.len(), 3);
    assert_eq!(e.story(stories[0].story).expect("story").copies.len(), 3);
}

#[test]
fn the_window_limits_matching_and_expire_frees_memory() {
    let mut e = Engine::with_defaults();
    let body = text(40, 10);
    let day = 86_400;
    let meta = |id: &str| syndedup::ArticleMeta {
        id: id.to_string(),
        ..Default::default()
    };
    let prepared = e.prepare(&Article::new("a", body.join("\n")));
    let fp = e.fingerprint(None, &prepared);
    // Near-identical text (one word changed) 10 days later: outside the 3-day window.
    let mut changed = body.clone();
    changed[0] = changed[0].replacen('w', "x", 1);
    let prepared2 = e.prepare(&Article::new("b", changed.join("\n")));
    let fp2 = e.fingerprint(None, &prepared2);
    e.insert(meta("a"), &fp, 0);
    assert!(!e.insert(meta("b"), &fp2, 10 * day).is_duplicate());
    assert!(e.insert(meta("c"), &fp2, 11 * day).is_duplicate());
    let forgotten = e.expire(11 * day);
    assert_eq!(forgotten.len(), 1);
    assert_eq!(e.len(), 2);
}

fn corpus() -> Vec<(String, String, usize)> {
    // 6 stories, each with 3 clear-cut copies (trailer, truncation to 70%, byline).
    let mut out = Vec::new();
    for s in 0..6u64 {
        let t = text(500 + s, 12);
        out.push((format!("{s}-a"), t.join("\n"), s as usize));
        out.push((
            format!("{s}-b"),
            format!(
                "{}\nThis story has not been edited by our staff.",
                t.join("\n")
            ),
            s as usize,
        ));
        out.push((format!("{s}-c"), t[..9].join("\n"), s as usize));
        out.push((
            format!("{s}-d"),
            format!("By A Reporter\n{}", t.join("\n")),
            s as usize,
        ));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn same_text_same_signature_and_symmetric_similarity(a in "[a-z ]{0,400}", b in "[a-z ]{0,400}") {
        let mut e = Engine::with_defaults();
        let fa = e.fingerprint(None, &e.prepare(&Article::new("a", a.clone())));
        let fa2 = e.fingerprint(None, &e.prepare(&Article::new("a2", a.clone())));
        let fb = e.fingerprint(None, &e.prepare(&Article::new("b", b.clone())));
        prop_assert_eq!(&fa, &fa2);
        prop_assert_eq!(fa.jaccard(&fb), fb.jaccard(&fa));
        if !fa.is_empty() {
            prop_assert_eq!(fa.jaccard(&fa2), 1.0);
        }
    }

    #[test]
    fn a_text_matches_itself(seed in 0u64..1000, paragraphs in 1usize..8) {
        let mut e = Engine::with_defaults();
        let t = text(seed, paragraphs).join("\n");
        e.add(&Article::new("x", t.clone()));
        let d = e.add(&Article::new("y", t));
        prop_assert_eq!(d.duplicate_of.as_deref(), Some("x"));
    }

    #[test]
    fn input_order_does_not_change_the_grouping(order in Just((0..24usize).collect::<Vec<_>>()).prop_shuffle()) {
        let docs = corpus();
        let mut e = Engine::with_defaults();
        let mut groups: std::collections::BTreeMap<syndedup::StoryId, std::collections::BTreeSet<usize>> = Default::default();
        for &i in &order {
            let (id, body, _) = &docs[i];
            let d = e.add(&Article::new(id.clone(), body.clone()));
            groups.entry(d.story).or_default().insert(i);
        }
        let mut found: Vec<Vec<usize>> = groups.into_values().map(|g| g.into_iter().collect()).collect();
        found.sort();
        let expected: Vec<Vec<usize>> = (0..6).map(|s| (4 * s..4 * s + 4).collect()).collect();
        prop_assert_eq!(found, expected);
    }
}

/// A paragraph of made-up prose (a sentence end, so it counts as article text).
fn prose(seed: u64) -> String {
    text(seed, 1).remove(0)
}

#[test]
fn chrome_wrapped_and_stub_copies_join_a_live_blog_does_not() {
    let mut e = Engine::with_defaults();
    let story: Vec<String> = (0..8).map(|i| prose(100 + i)).collect();
    let wire = decide(&mut e, "wire", &story);
    // The same story inside a page's chrome: a widget, a byline, a caption, link lines.
    let mut page = vec![
        "Enter City and State or Zip Code".to_string(),
        "By Jane Doe, The Associated Press".to_string(),
        format!("{} (AP Photo/John Roe)", prose(900)),
        "Top stories you may have missed today".to_string(),
    ];
    page.extend(story.iter().cloned());
    page.push("Related Content".to_string());
    let wrapped = decide(&mut e, "page", &page);
    assert_eq!(wrapped.story, wire.story, "{wrapped:?}");
    // A stub with only the lead and the next paragraph.
    let stub = decide(&mut e, "stub", &story[..2]);
    assert_eq!(stub.story, wire.story, "{stub:?}");
    // A live blog: eight posts of its own, then the whole story, then more posts.
    let mut blog: Vec<String> = (0..8).map(|i| prose(500 + i)).collect();
    blog.extend(story.iter().cloned());
    blog.extend((0..4).map(|i| prose(600 + i)));
    let live = decide(&mut e, "blog", &blog);
    assert_ne!(live.story, wire.story, "{live:?}");
}

#[test]
fn an_article_that_matches_two_stories_merges_them_into_the_older() {
    let mut e = Engine::with_defaults();
    let lead: Vec<String> = (0..3).map(|i| prose(700 + i)).collect();
    let tail_x: Vec<String> = (0..3).map(|i| prose(710 + i)).collect();
    let tail_y: Vec<String> = (0..3).map(|i| prose(720 + i)).collect();
    let x: Vec<String> = lead.iter().chain(&tail_x).cloned().collect();
    let y: Vec<String> = lead.iter().chain(&tail_y).cloned().collect();
    let dx = decide(&mut e, "x", &x);
    let dy = decide(&mut e, "y", &y);
    assert_ne!(dx.story, dy.story, "x and y share only half their text");
    // The full write-thru holds both versions: it bridges the two stories.
    let z: Vec<String> = lead.iter().chain(&tail_y).chain(&tail_x).cloned().collect();
    let dz = decide(&mut e, "z", &z);
    assert_eq!(dz.story, dx.story, "the older story survives");
    assert_eq!(dz.merged, vec![dy.story]);
    assert_eq!(e.resolve(dy.story), dx.story);
    assert_eq!(e.stories().len(), 1);
    assert_eq!(e.story(dy.story).expect("alias resolves").story, dx.story);
    assert_eq!(e.story_of("y"), Some(dx.story));

    // Without merging the two stories stay apart.
    let mut config = EngineConfig::default();
    config.dedup.merge_stories = false;
    let mut apart = Engine::new(config).expect("engine");
    decide(&mut apart, "x", &x);
    decide(&mut apart, "y", &y);
    assert!(decide(&mut apart, "z", &z).merged.is_empty());
    assert_eq!(apart.stories().len(), 2);
}

/// Made-up words without a sentence end, `n` of them: a headline, a teaser or a bullet point.
fn line(seed: u64, n: usize) -> String {
    let text = prose(seed);
    let mut words: Vec<&str> = text.trim_end_matches('.').split(' ').collect();
    words.truncate(n);
    words.join(" ")
}

#[test]
fn bullet_point_articles_match_on_their_bullets() {
    let mut e = Engine::with_defaults();
    // A page made of a headline, forty summary bullets (no sentence ends) and three
    // sentences, one of them in both pages: the bullets are the article.
    let bullets: Vec<String> = (0..40).map(|i| line(700 + i, 12)).collect();
    let page = |headline: u64, sentence: u64| {
        let mut p = vec![line(headline, 14)];
        p.extend(bullets.iter().cloned());
        p.extend([prose(5), prose(sentence), prose(sentence + 1)]);
        p
    };
    let a = decide(&mut e, "first", &page(1, 2));
    // The same bullets under another headline, with another sentence: the same article.
    let b = decide(&mut e, "second", &page(3, 7));
    assert_eq!(b.story, a.story, "{b:?}");
}

#[test]
fn a_digest_page_does_not_swallow_the_stories_it_abridges() {
    let mut e = Engine::with_defaults();
    let story: Vec<String> = (0..6).map(|i| prose(1000 + i)).collect();
    // A stub of the story: its lead only.
    let stub = decide(&mut e, "stub", &story[..1]);
    // A round-up page: the story's lead as its first item, then ten other stories' teasers.
    let mut digest = vec![format!("{}...", story[0].trim_end_matches('.'))];
    digest.extend((0..10).map(|i| format!("{}...", line(1100 + i, 9))));
    let page = decide(&mut e, "digest", &digest);
    assert_ne!(page.story, stub.story, "{page:?}");
    // The same page captured again, one teaser changed: near-identical pages are one story.
    let mut again = digest.clone();
    again[10] = format!("{}...", line(1200, 9));
    let d = decide(&mut e, "digest-again", &again);
    assert_eq!(d.story, page.story, "{d:?}");
}

#[test]
fn captures_of_one_live_blog_join_and_its_items_and_other_live_blogs_do_not() {
    // A live blog: posts of three paragraphs, each under its time stamp, newest first.
    let post = |n: u64| -> Vec<String> { (0..3).map(|i| prose(2000 + 10 * n + i)).collect() };
    let capture = |newest: u64, oldest: u64, stamps: &[&str]| -> Vec<String> {
        let mut page = vec!["Live updates: the summit in Helsinki".to_string()];
        for (i, n) in (oldest..=newest).rev().enumerate() {
            page.push(stamps[i % stamps.len()].to_string());
            page.extend(post(n));
        }
        page
    };
    let outlet = |id: &str, paragraphs: &[String]| {
        let mut a = Article::new(id, paragraphs.join("\n"));
        a.meta.outlet = Some("cnn.com".to_string());
        a
    };
    let mut e = Engine::with_defaults();
    let stamps = ["12 min ago", "1 hr 5 min ago", "2 hr ago", "10:32 BST"];
    // Posts 1 to 8; an hour later posts 5 to 12: four of eight posts shared, deep in both pages.
    let early = e.add(&outlet("early", &capture(8, 1, &stamps)));
    let item = e.add(&outlet("item", &post(6)));
    let late = e.add(&outlet("late", &capture(12, 5, &stamps)));
    assert_eq!(late.story, early.story, "{late:?}");
    // A standalone item that the live blog carries is not the live blog.
    assert_ne!(item.story, early.story, "{item:?}");
    // Another day's live blog of the outlet, sharing one post: a different live file.
    let mut other = capture(28, 21, &stamps);
    other.extend(post(12));
    let next_day = e.add(&outlet("next-day", &other));
    assert_ne!(next_day.story, early.story, "{next_day:?}");
    // The same two captures without time stamps are a page quoting another: apart.
    let mut e = Engine::with_defaults();
    let plain = |newest, oldest| capture(newest, oldest, &["Posted."]);
    let early = e.add(&outlet("early", &plain(8, 1)));
    let late = e.add(&outlet("late", &plain(12, 5)));
    assert_ne!(late.story, early.story, "{late:?}");
}
