//! For each page fixture and each extractor: words extracted, the share of the story's
//! paragraphs found (recall), the chrome phrases that leaked in, and the time per page.

use std::path::Path;
use std::time::Instant;

const CHROME: [&str; 14] = [
    "cookies",
    "Accept all",
    "Related stories",
    "newsletter",
    "Share on",
    "Copyright",
    "Most read",
    "Comments (",
    "Download our app",
    "Breaking:",
    "Advertisement",
    "Log in",
    "Read more:",
    "Photo: Courier",
];

fn text_of(html: &str) -> String {
    // Crude but the same for both: drop tags, collapse whitespace.
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fulltext");
    let story = std::fs::read_to_string(dir.join("story.txt")).expect("story.txt");
    let paras: Vec<String> = story
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let runs = 200;
    println!("page\textractor\twords\tstory paragraphs found\tchrome leaked\tms per page");
    for page in ["courier-dam.html", "ledger-dam.html", "paywall.html"] {
        let html = std::fs::read_to_string(dir.join(page)).expect("page");
        let url = "https://news.test/story";
        type Extractor = fn(&str, &str) -> Result<String, String>;
        let extractors: [(&str, Extractor); 2] = [
            ("dom_smoothie 0.19", |h, u| {
                let mut r =
                    dom_smoothie::Readability::new(h, Some(u), None).map_err(|e| e.to_string())?;
                r.parse()
                    .map(|a| a.content.to_string())
                    .map_err(|e| e.to_string())
            }),
            ("readability 0.3", |h, u| {
                let url = url::Url::parse(u).map_err(|e| e.to_string())?;
                readability::extractor::extract(&mut h.as_bytes(), &url)
                    .map(|p| p.content)
                    .map_err(|e| e.to_string())
            }),
        ];
        for (name, f) in extractors {
            let started = Instant::now();
            let mut out = Err(String::new());
            for _ in 0..runs {
                out = f(&html, url);
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0 / runs as f64;
            match out {
                Ok(content) => {
                    let text = text_of(&content);
                    let found = paras.iter().filter(|p| text.contains(p.as_str())).count();
                    let leaked: Vec<&str> = CHROME
                        .iter()
                        .copied()
                        .filter(|c| text.contains(c))
                        .collect();
                    println!(
                        "{page}\t{name}\t{}\t{found}/{}\t{}\t{ms:.2}",
                        text.split_whitespace().count(),
                        paras.len(),
                        if leaked.is_empty() {
                            "-".to_string()
                        } else {
                            leaked.join(", ")
                        }
                    );
                }
                Err(e) => println!("{page}\t{name}\t-\t-\terror: {e}\t{ms:.2}"),
            }
        }
    }
}
