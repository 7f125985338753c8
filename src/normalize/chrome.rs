//! Page chrome that is not the article: recognised from the first item, without any learning.
//!
//! Scraped and feed-supplied pages carry widgets ("Enter City and State or Zip Code"), bylines,
//! datelines, photo captions and credits, "Related Content" link lists and repeated gallery
//! blocks around the wire text. Matching sets these paragraphs aside (they stay in the stored
//! and emitted text). The rules, all per paragraph (one line of normalised text):
//!
//! | reason | rule |
//! |---|---|
//! | `short` | fewer than `boilerplate.chrome_min_words` words (default 8): widgets, bylines, datelines, menu items |
//! | `no_sentence` | fewer than 15 words and no sentence-ending punctuation: headlines, link-list entries, teasers cut with "…" (matched on after all when such lines outnumber the page's sentences in words: a bullet-point article) |
//! | `caption` | at most 60 words and a photo caption or credit marker (`AP Photo`, `Getty Images`, `Photo:`, `REUTERS/`, `FILE -`, `file photo`, `, left,`, `(L-R)`, `From left`, a closing photographer's credit such as `(Jason Lee/Reuters)`, …), or ending in a full date with the weekday ("… in Helsinki, Finland, Monday, July 16, 2018."), as captions and datelines do and wire prose does not |
//! | `code` | script that leaked into the text (`window.…`, `document.write`, `function(`, `});`) |
//! | `repeated` | the same paragraph twice in one text (at most 80 words): gallery captions, a repeated headline |
//!
//! Two more reasons are decided with memory, in the engine: `learned` (recurs in many items of
//! one outlet, [`super::boilerplate::Learner`]) and `recurring` (the same paragraph in several
//! different stories in the window: network-wide widgets, quoted tweets, stock captions).
//! Built-in trailers and paywalls and configured patterns are `builtin` and `pattern`.

use regex::Regex;

/// Why a paragraph is set aside for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetAside {
    /// A built-in syndication trailer, paywall or widget phrase.
    Builtin,
    /// A configured boilerplate pattern.
    Pattern,
    /// Recurs across many items of the same outlet.
    Learned,
    /// Appears in several different stories in the window.
    Recurring,
    /// Too few words to be prose.
    Short,
    /// Short and without a sentence end: a headline, link or teaser.
    NoSentence,
    /// A photo caption or credit.
    Caption,
    /// Script code that leaked into the text.
    Code,
    /// The same paragraph twice in one text.
    Repeated,
}

impl SetAside {
    pub fn as_str(self) -> &'static str {
        match self {
            SetAside::Builtin => "builtin",
            SetAside::Pattern => "pattern",
            SetAside::Learned => "learned",
            SetAside::Recurring => "recurring",
            SetAside::Short => "short",
            SetAside::NoSentence => "no_sentence",
            SetAside::Caption => "caption",
            SetAside::Code => "code",
            SetAside::Repeated => "repeated",
        }
    }

    /// Structural chrome (recognised from the text alone), as opposed to phrase lists and memory.
    pub fn is_structural(self) -> bool {
        matches!(
            self,
            SetAside::Short
                | SetAside::NoSentence
                | SetAside::Caption
                | SetAside::Code
                | SetAside::Repeated
        )
    }
}

/// Below this many words a paragraph needs a sentence end to count as prose.
pub const SENTENCE_WORDS: u32 = 15;
/// Captions and credits longer than this are taken for prose.
pub const CAPTION_MAX_WORDS: u32 = 60;
/// Repeated paragraphs longer than this are taken for prose (a quote repeated on purpose).
pub const REPEATED_MAX_WORDS: u32 = 80;

/// Caption and credit markers (case-insensitive).
const CAPTION_MARKERS: &[&str] = &[
    r"\bAP Photo\b",
    r"\bGetty Images\b",
    r"\|\s*AP\b",
    r"/\s?AP\)",
    r"\bPhoto:\s",
    r"\(Photo\b",
    r"^\s*(Photo|Image|Picture)s?\b",
    r"\bImage:\s",
    r"\bREUTERS/",
    r"/AFP\b",
    r"\bAFP/",
    r"\bPhotograph:\s",
    r"\bCredit:\s",
    r"\bImage caption\b",
    r"\bPhoto by\b",
    r"\bPhoto credit\b",
    r"\bEPA/",
    r"^\s*FILE\s*[-–—]",
    r"\bfile photo\b",
    // Who is where in the picture.
    r",\s*(left|right|center|centre)\s*[,)]",
    r"\((L-R|R-L|left|right|center|centre)\)",
    r"\bfrom left\b",
    // A photographer's credit closing the caption, alone or after its last sentence:
    // "… Monday, July 16, 2018. Putin arrived for the summit. (Roni Rekomaa/Lehtikuva via AP)",
    // "(Jason Lee/Reuters)". A list line such as "Caroline Quentin (Life Begins/ Von Trapped)"
    // has no sentence before its brackets.
    r#"(^|[.!?"”’]\s+)\(\s*(?-i:[A-Z])[^()/]{0,60}/[^()]{1,60}\)\s*$"#,
];

/// A full date with its weekday at the very end (a trailing credit in brackets allowed):
/// captions and datelines end so ("…, Monday, July 16, 2018."); wire prose says "on Monday".
const TRAILING_DATE: &str = r"(?i)\b(mon|tues|wednes|thurs|fri|satur|sun)day,?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}\.?\s*(\([^)]*\))?\s*$";

/// A live blog's post time stamp, standing alone on its line: "34 min ago", "1 hr 1 min ago",
/// "Updated 2 hours ago", "10:32 BST", "7.45pm", "12:01 p.m. ET". After "ago" only a date or
/// time may follow (CNN glues "Updated less than 1 min ago7:20 a.m. ET, July 16, 2018").
const POST_STAMP: &str = r"(?i)^\s*(updated:?\s+)?((less than|about|over)\s+)?((\d+\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\s*)+ago\s*(\d|$)|\d{1,2}[:.]\d{2}\s*([ap]\.?\s?m\.?)?\s*([a-z]{2,4})?\s*$)";

/// Post time stamps are lines of at most this many words.
const POST_STAMP_MAX_WORDS: u32 = 12;

/// Script code that leaked into a page's text.
const CODE_MARKERS: &str = r"\bwindow\.\w|\bdocument\.\w+\(|\bfunction\s*\(|\}\);|\.push\(\{";

/// Lower-case literals one of which every caption marker holds, but for the markers with `/` or
/// `|`: an ASCII line with none of them (in any case) and neither byte cannot match, and is not
/// run through the regex.
const CAPTION_NEEDLES: [&str; 11] = [
    "photo", "image", "picture", "credit", "file", "left", "right", "center", "centre", "l-r",
    "r-l",
];

/// Lines up to this many bytes are lower-cased on the stack for the needle search; longer ones
/// go straight to the regex.
const NEEDLE_LINE_MAX: usize = 512;

/// The structural chrome rules.
#[derive(Clone)]
pub struct ChromeRules {
    enabled: bool,
    min_words: u32,
    captions: Regex,
    trailing_date: Regex,
    code: Regex,
    post_stamp: Regex,
    /// All [`CAPTION_NEEDLES`] in one SIMD (Teddy) searcher over the lower-cased line: one
    /// pass where a search per needle made eleven.
    needles: aho_corasick::packed::Searcher,
}

impl ChromeRules {
    pub fn new(enabled: bool, min_words: u32) -> Self {
        // One alternation, not a set: the regex engine then prefilters on the literals.
        let pattern = format!("(?i){}", CAPTION_MARKERS.join("|"));
        ChromeRules {
            enabled,
            min_words,
            captions: Regex::new(&pattern).expect("the caption markers are valid regexes"),
            trailing_date: Regex::new(TRAILING_DATE).expect("the date pattern is a valid regex"),
            code: Regex::new(CODE_MARKERS).expect("the code markers are valid regexes"),
            post_stamp: Regex::new(POST_STAMP).expect("the post stamp pattern is a valid regex"),
            needles: aho_corasick::packed::Searcher::new(CAPTION_NEEDLES)
                .expect("the caption needles are a few short literals"),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Minimum words of a paragraph that can be prose.
    pub fn min_words(&self) -> u32 {
        self.min_words
    }

    /// Classifies one line of `words` words; `None`: it may be article text.
    pub fn classify(&self, line: &str, words: u32) -> Option<SetAside> {
        if !self.enabled {
            return None;
        }
        if words < self.min_words {
            return Some(SetAside::Short);
        }
        if words < SENTENCE_WORDS && !ends_sentence(line) {
            return Some(SetAside::NoSentence);
        }
        if words <= CAPTION_MAX_WORDS
            && ((self.may_be_caption(line) && self.captions.is_match(line))
                || (ends_in_year(line) && self.trailing_date.is_match(line)))
        {
            return Some(SetAside::Caption);
        }
        // Script has braces, assignments or statement ends; prose hardly ever.
        if memchr::memchr3(b'{', b'=', b';', line.as_bytes()).is_some() && self.code.is_match(line)
        {
            return Some(SetAside::Code);
        }
        None
    }

    /// Whether the line of `words` words is a live blog's post time stamp ("34 min ago",
    /// "10:32 BST"). Independent of [`ChromeRules::enabled`]: it tells what kind of page the text is.
    pub fn is_post_stamp(&self, line: &str, words: u32) -> bool {
        words <= POST_STAMP_MAX_WORDS
            && line.bytes().any(|b| b.is_ascii_digit())
            && self.post_stamp.is_match(line)
    }

    /// False only when `line` cannot match any caption marker (see [`CAPTION_NEEDLES`]): one
    /// vectorised search instead of the regex for most prose lines.
    fn may_be_caption(&self, line: &str) -> bool {
        let bytes = line.as_bytes();
        if !line.is_ascii() || memchr::memchr2(b'/', b'|', bytes).is_some() {
            return true;
        }
        let mut stack = [0u8; NEEDLE_LINE_MAX];
        let Some(lower) = stack.get_mut(..bytes.len()) else {
            return true;
        };
        for (d, &c) in lower.iter_mut().zip(bytes) {
            *d = c.to_ascii_lowercase();
        }
        self.needles.find(&*lower).is_some()
    }
}

/// True when the line ends in four digits, a full stop or a bracketed credit after them aside:
/// only then can [`TRAILING_DATE`] match, and the regex is not run.
fn ends_in_year(line: &str) -> bool {
    let mut t = line.trim_end();
    if t.ends_with(')') {
        if let Some(open) = t.rfind('(') {
            t = t[..open].trim_end();
        }
    }
    let t = t.strip_suffix('.').unwrap_or(t).as_bytes();
    t.len() >= 4 && t[t.len() - 4..].iter().all(u8::is_ascii_digit)
}

/// True when the line ends like a sentence (closing quotes and brackets allowed).
fn ends_sentence(line: &str) -> bool {
    line.trim_end()
        .chars()
        .rev()
        .find(|c| !matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '»'))
        .is_some_and(|c| matches!(c, '.' | '!' | '?' | ':' | ';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_time_stamps_are_recognised_and_prose_about_times_is_not() {
        let rules = ChromeRules::new(true, 8);
        for stamp in [
            "34 min ago",
            "1 hr 1 min ago",
            "Updated 2 hours ago",
            "Updated less than 1 min ago7:20 a.m. ET, July 16, 2018",
            "2h ago",
            "10:32 BST",
            "7.45pm",
            "12:01 p.m. ET",
        ] {
            let words = stamp.split_whitespace().count() as u32;
            assert!(rules.is_post_stamp(stamp, words), "{stamp}");
        }
        for line in [
            "3 hours ago the president landed in Helsinki.",
            "The summit starts at 10:30 in the palace.",
            "Vladimir Putin has arrived, but he's running late",
            "Two days ago",
        ] {
            let words = line.split_whitespace().count() as u32;
            assert!(!rules.is_post_stamp(line, words), "{line}");
        }
    }

    #[test]
    fn widgets_headlines_and_captions_are_chrome_prose_is_not() {
        let r = ChromeRules::new(true, 8);
        assert_eq!(
            r.classify("Enter City and State or Zip Code", 7),
            Some(SetAside::Short)
        );
        assert_eq!(
            r.classify(
                "Top Democrats call on Trump to cancel Putin meeting following Russian…",
                11
            ),
            Some(SetAside::NoSentence)
        );
        assert_eq!(
            r.classify(
                "Russian President Vladimir Putin, right, and U.S. President Donald Trump arrive for a meeting. (AP Photo/Pablo Martinez Monsivais)",
                18
            ),
            Some(SetAside::Caption)
        );
        assert_eq!(
            r.classify(
                "FILE - In this June 24, 2003 file photo Putin stands by the Queen.",
                14
            ),
            Some(SetAside::Caption)
        );
        let lead = "HELSINKI (AP) — President Donald Trump opened a summit with Russian President Vladimir Putin on Monday by predicting a good relationship.";
        assert_eq!(r.classify(lead, 22), None);
        assert_eq!(
            r.classify("He said the talks would go on for days.", 9),
            None
        );
        assert_eq!(ChromeRules::new(false, 8).classify("More", 1), None);
    }

    #[test]
    fn a_closing_photographers_credit_makes_a_caption_a_list_line_does_not() {
        let r = ChromeRules::new(true, 8);
        let caption = "Russia's new ambassador to Finland escorts Russian President Vladimir Putin as he disembarks the plane at Helsinki airport. Putin arrived for his summit. (Roni Rekomaa/Lehtikuva via AP)";
        assert_eq!(r.classify(caption, 30), Some(SetAside::Caption));
        assert_eq!(
            r.classify(
                "A security guard walks past a building of the research and development center on June 13. (Jason Lee/Reuters)",
                19
            ),
            Some(SetAside::Caption)
        );
        // No sentence before the brackets: a list entry, not a credit.
        assert_eq!(
            r.classify(
                "The winners this year included Caroline Quentin and her two long running comedy series (Life Begins/ Von Trapped, ITV1)",
                19
            ),
            None
        );
        // Prose that merely ends in brackets without a slash stays prose.
        assert_eq!(
            r.classify(
                "The talks lasted two hours, longer than planned, officials said. (The meeting was closed.)",
                15
            ),
            None
        );
    }

    #[test]
    fn captions_by_position_or_trailing_date_and_leaked_code() {
        let r = ChromeRules::new(true, 8);
        let caption = "U.S. President Donald Trump, left, and Russian President Vladimir Putin arrive for a meeting at the Presidential Palace.";
        assert_eq!(r.classify(caption, 19), Some(SetAside::Caption));
        let dated = "Russian President Vladimir Putin attends a meeting in the Kremlin in Moscow, Russia, Thursday, July 12, 2018. (Alexei Druzhinin, Sputnik, Kremlin Pool Photo via AP)";
        assert_eq!(r.classify(dated, 25), Some(SetAside::Caption));
        let dateline =
            "By S.A. Miller - The Washington Times - Updated: 7:32 a.m. on Monday, July 16, 2018";
        assert_eq!(r.classify(dateline, 16), Some(SetAside::Caption));
        // Prose that names a day, a year or a side is prose.
        for prose in [
            "The two leaders will meet on Monday, July 16, in the Finnish capital, officials said.",
            "The senator said the talks that began on Monday were the first since 2018.",
            "He stood on the right side of history, the senator said, and he would not back down.",
            "Well, it's his team's document. I certainly assume so, the minister told reporters.",
        ] {
            let words = prose.split_whitespace().count() as u32;
            assert_eq!(r.classify(prose, words), None, "{prose}");
        }
        let code = "window._taboola = window._taboola || []; _taboola.push({ mode: 'thumbnails-c', container: 'taboola-gallery' });";
        assert_eq!(r.classify(code, 14), Some(SetAside::Code));
    }

    #[test]
    fn the_needle_prefilter_never_hides_a_caption() {
        let r = ChromeRules::new(true, 8);
        // One line per marker, in odd cases, plus prose that holds a needle or none.
        let lines = [
            "Leaders meet in Helsinki. AP pHoto/Alexander Zemlianichenko",
            "The two men shook hands. GETTY images",
            "A crowd waits outside | ap",
            "The scene at dawn (Jane Doe/ AP)",
            "photo: The leaders arrive",
            "Protesters gather (Photo by Jane Doe)",
            "  Pictures from the summit in Helsinki today",
            "The view. Image: Jane Doe",
            "The view. Reuters/Jane Doe",
            "The view. Jane Doe/afp",
            "The view. afp/Jane Doe",
            "The view. PHOTOGRAPH: Jane Doe",
            "The view. credit: Jane Doe",
            "The view. Image Caption here",
            "The view. photo BY Jane Doe",
            "The view. Photo Credit Jane Doe",
            "The view. epa/Jane Doe",
            "  file - Putin stands by the Queen",
            "In this File Photo Putin stands by the Queen",
            "Trump, LEFT, and Putin shake hands at the palace",
            "Trump , right,  and Putin arrive at the palace",
            "Trump, Center) arrives at the palace",
            "Putin, centre, arrives at the palace",
            "(l-r) Merkel, May and Trump at the summit",
            "(R-L) Merkel, May and Trump at the summit",
            "(Left) Merkel at the summit in Brussels",
            "From Left, Ford, Brezhnev and Gromyko in Helsinki",
            "The minister said the talks would continue on Monday morning in the capital.",
            "The profile of the imagery was credited to a filed report.",
        ];
        for line in lines {
            assert_eq!(
                r.may_be_caption(line) && r.captions.is_match(line),
                r.captions.is_match(line),
                "{line}"
            );
        }
        assert!(!r.may_be_caption("The minister said the talks would continue on Monday."));
        for line in &lines[..27] {
            assert!(r.captions.is_match(line), "{line}");
        }
    }
}
