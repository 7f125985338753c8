//! Configuration: one TOML file shared by every mode (`dedup --config`, `run --config`, ...).
//!
//! Every section is optional and has documented defaults; unknown keys are errors
//! (`deny_unknown_fields`). [`Config::validate`] reports every problem at once, each as a
//! sentence naming the key. The annotated reference is `config/syndedup.toml`.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Matching: shingles, signatures, thresholds, window.
    #[serde(default)]
    pub dedup: DedupConfig,
    /// How the canonical version of a story is chosen.
    #[serde(default)]
    pub merge: MergeConfig,
    /// Boilerplate and trailer removal before shingling.
    #[serde(default)]
    pub boilerplate: BoilerplateConfig,
    /// The outlets to poll (`[[outlet]]` tables).
    #[serde(default, rename = "outlet")]
    pub outlets: Vec<OutletConfig>,
    /// HTTP client settings for polling.
    #[serde(default)]
    pub fetch: FetchConfig,
    /// Poll schedule limits.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Where `run` writes its decisions.
    #[serde(default)]
    pub output: OutputConfig,
    /// Persistent state.
    #[serde(default)]
    pub store: StoreConfig,
    /// Output feeds (`[[feed]]` tables).
    #[serde(default, rename = "feed")]
    pub feeds: Vec<FeedConfig>,
    /// The read-only HTTP service.
    #[serde(default)]
    pub http: HttpConfig,
}

/// How near-duplicates are found. See docs/matching.md and docs/configuration.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    /// Similarity at or above which two articles are copies of one story (0 < t <= 1).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Words per shingle.
    #[serde(default = "default_shingle_size")]
    pub shingle_size: NonZeroUsize,
    /// MinHash signature length (slots per signature).
    #[serde(default = "default_permutations")]
    pub permutations: NonZeroUsize,
    /// Signature scheme: "oph" (one-permutation hashing with densification) or "multiply-shift".
    #[serde(default)]
    pub scheme: SignatureScheme,
    /// Containment (share of the shorter text found in the longer) at or above which a truncated
    /// or wrapped copy matches even when whole-text similarity is lower.
    #[serde(default = "default_containment")]
    pub containment: f64,
    /// Containment only counts when the shorter text is at least this share of the longer one
    /// (keeps a live blog from swallowing the items it quotes).
    /// The containment needed instead when the shorter text is at least half the longer (an
    /// edited copy rather than a stub or excerpt); at most `containment`.
    #[serde(default = "default_containment_similar_length")]
    pub containment_similar_length: f64,
    #[serde(default = "default_min_length_ratio")]
    pub min_length_ratio: f64,
    /// For containment to count, both articles must start alike: at most this many lead
    /// shingles of a text may come before its first paragraph found in the other text...
    #[serde(default = "default_lead_slack")]
    pub lead_slack: u32,
    /// ...plus this share of the text's own length.
    #[serde(default = "default_lead_slack_share")]
    pub lead_slack_share: f64,
    /// ...and each text's lead, from its first to its last paragraph found in the other, must
    /// be at least this share in the other (a quoting page skips paragraphs).
    #[serde(default = "default_lead_coverage")]
    pub lead_coverage: f64,
    /// Whole pages (set-aside paragraphs included) this similar are one story (0: off).
    #[serde(default = "default_page_threshold")]
    pub page_threshold: f64,
    /// Two live blogs (pages of time-stamped posts) sharing at least this share of the smaller
    /// one's text are versions of one live file (0: off).
    #[serde(default = "default_live_blog_containment")]
    pub live_blog_containment: f64,
    /// Merge two stories when one article matches a majority of each.
    #[serde(default = "default_true")]
    pub merge_stories: bool,
    /// How long an article stays matchable after it was first seen.
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// How long stored records are kept before they are deleted (store only).
    #[serde(default = "default_retention", with = "humantime_serde")]
    pub retention: Duration,
    /// Longest accepted input line for JSON Lines input, in bytes.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: NonZeroUsize,
}

fn default_threshold() -> f64 {
    0.7
}
fn default_shingle_size() -> NonZeroUsize {
    NonZeroUsize::new(5).expect("nonzero")
}
fn default_permutations() -> NonZeroUsize {
    NonZeroUsize::new(128).expect("nonzero")
}
fn default_containment() -> f64 {
    0.8
}
fn default_containment_similar_length() -> f64 {
    0.7
}
fn default_min_length_ratio() -> f64 {
    0.1
}
fn default_lead_slack() -> u32 {
    40
}
fn default_lead_slack_share() -> f64 {
    0.15
}
fn default_lead_coverage() -> f64 {
    0.6
}
fn default_page_threshold() -> f64 {
    0.8
}
fn default_live_blog_containment() -> f64 {
    0.3
}
fn default_window() -> Duration {
    Duration::from_secs(3 * 24 * 3600)
}
fn default_retention() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_max_line_bytes() -> NonZeroUsize {
    NonZeroUsize::new(8 * 1024 * 1024).expect("nonzero")
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            threshold: default_threshold(),
            shingle_size: default_shingle_size(),
            permutations: default_permutations(),
            scheme: SignatureScheme::default(),
            containment: default_containment(),
            containment_similar_length: default_containment_similar_length(),
            min_length_ratio: default_min_length_ratio(),
            lead_slack: default_lead_slack(),
            lead_slack_share: default_lead_slack_share(),
            lead_coverage: default_lead_coverage(),
            page_threshold: default_page_threshold(),
            live_blog_containment: default_live_blog_containment(),
            merge_stories: true,
            window: default_window(),
            retention: default_retention(),
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

/// How MinHash signatures are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// One permutation hashing with optimal densification: one hash per shingle.
    #[default]
    #[serde(rename = "oph")]
    Oph,
    /// Classic MinHash with a multiply-shift hash family: one hash per shingle per slot.
    #[serde(rename = "multiply-shift")]
    MultiplyShift,
}

impl SignatureScheme {
    /// The name in the config (`dedup.scheme`), also what a store records.
    pub fn name(self) -> &'static str {
        match self {
            SignatureScheme::Oph => "oph",
            SignatureScheme::MultiplyShift => "multiply-shift",
        }
    }
}

/// One criterion of the canonical-selection policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeCriterion {
    /// Higher outlet priority wins (`merge.outlet_priority`, then `[[outlet]] priority`).
    OutletPriority,
    /// More words of clean text wins.
    Longest,
    /// Earlier `published` wins (articles without a date lose).
    Earliest,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Outlet names, most preferred first (e.g. wire agencies above republishers).
    #[serde(default)]
    pub outlet_priority: Vec<String>,
    /// Criteria in order; the first that differs decides.
    #[serde(default = "default_merge_order")]
    pub order: Vec<MergeCriterion>,
}

fn default_merge_order() -> Vec<MergeCriterion> {
    vec![
        MergeCriterion::OutletPriority,
        MergeCriterion::Longest,
        MergeCriterion::Earliest,
    ]
}

impl Default for MergeConfig {
    fn default() -> Self {
        MergeConfig {
            outlet_priority: Vec::new(),
            order: default_merge_order(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoilerplateConfig {
    /// Use the built-in list of syndication trailers and paywall blocks.
    #[serde(default = "default_true")]
    pub builtin: bool,
    /// Extra paragraph patterns (regular expressions, matched against each normalised
    /// paragraph) ignored for matching, for every outlet.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Learn per-outlet boilerplate: paragraphs that recur across an outlet's items.
    #[serde(default = "default_true")]
    pub learn: bool,
    /// A paragraph counts as boilerplate once it was seen in this share of the outlet's recent items...
    #[serde(default = "default_learn_min_share")]
    pub learn_min_share: f64,
    /// ...and in at least this many of them.
    #[serde(default = "default_learn_min_items")]
    pub learn_min_items: NonZeroUsize,
    /// How many recent items per outlet the learner remembers.
    #[serde(default = "default_learn_window")]
    pub learn_window: NonZeroUsize,
    /// Set aside structural page chrome from the first item on: short lines, headlines and
    /// link lists without a sentence, photo captions and credits, repeated blocks.
    #[serde(default = "default_true")]
    pub chrome: bool,
    /// Paragraphs with fewer words are chrome (when `chrome` is on).
    #[serde(default = "default_chrome_min_words")]
    pub chrome_min_words: NonZeroUsize,
    /// A paragraph seen in at least this many different stories in the window is chrome
    /// (network-wide widgets, quoted tweets, stock captions); 0 turns this off.
    #[serde(default = "default_recurring_min_stories")]
    pub recurring_min_stories: usize,
}

fn default_chrome_min_words() -> NonZeroUsize {
    NonZeroUsize::new(8).expect("nonzero")
}
fn default_recurring_min_stories() -> usize {
    3
}

fn default_true() -> bool {
    true
}
fn default_learn_min_share() -> f64 {
    0.25
}
fn default_learn_min_items() -> NonZeroUsize {
    NonZeroUsize::new(4).expect("nonzero")
}
fn default_learn_window() -> NonZeroUsize {
    NonZeroUsize::new(200).expect("nonzero")
}

impl Default for BoilerplateConfig {
    fn default() -> Self {
        BoilerplateConfig {
            builtin: true,
            patterns: Vec::new(),
            learn: true,
            learn_min_share: default_learn_min_share(),
            learn_min_items: default_learn_min_items(),
            learn_window: default_learn_window(),
            chrome: true,
            chrome_min_words: default_chrome_min_words(),
            recurring_min_stories: default_recurring_min_stories(),
        }
    }
}

/// One outlet to poll.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutletConfig {
    /// Unique name, shown in provenance.
    pub name: String,
    /// An http(s) URL, or a local file path (relative paths resolve against the config file).
    pub url: String,
    /// Higher wins when choosing a canonical version (default 0).
    #[serde(default)]
    pub priority: i32,
    /// Poll interval for this outlet (default: `schedule.default_interval`).
    #[serde(default, with = "humantime_serde::option")]
    pub interval: Option<Duration>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Paragraph patterns (regular expressions) ignored for matching in this outlet's items.
    #[serde(default)]
    pub boilerplate: Vec<String>,
    /// When to fetch an item's linked page and match on its main text (see [`FullTextMode`]).
    #[serde(default)]
    pub full_text: FullTextMode,
}

/// When the poller fetches the page an item links to and matches on its main text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FullTextMode {
    /// Never: the feed's own content is all there is.
    Off,
    /// When the feed's content is short (under `fetch.full_text_min_words` words of text).
    #[default]
    Auto,
    /// For every new item with a link.
    Always,
}

impl FullTextMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FullTextMode::Off => "off",
            FullTextMode::Auto => "auto",
            FullTextMode::Always => "always",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// User-Agent header; should carry a contact URL.
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Whole-request timeout, body included.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest accepted feed body in bytes, compressed and decompressed.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: NonZeroUsize,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    /// Fetches in flight at once, over all hosts.
    #[serde(default = "default_concurrency")]
    pub concurrency: NonZeroUsize,
    /// Fetches in flight at once to one host.
    #[serde(default = "default_per_host_concurrency")]
    pub per_host_concurrency: NonZeroUsize,
    /// Longest delay honoured from a Retry-After header.
    #[serde(default = "default_max_retry_after", with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// Let article pages (full text) be fetched from loopback, private, link-local and
    /// metadata addresses even when the outlet's feed is on a public host.
    #[serde(default)]
    pub allow_private: bool,
    /// `full_text = "auto"` fetches the page when the feed's content has fewer words than this.
    #[serde(default = "default_full_text_min_words")]
    pub full_text_min_words: NonZeroUsize,
    /// At most this many article pages are fetched per poll of one outlet (cache hits not
    /// counted); the other items keep their feed text.
    #[serde(default = "default_full_text_max_per_poll")]
    pub full_text_max_per_poll: usize,
}

fn default_user_agent() -> String {
    format!(
        "syndedup/{} (+https://github.com/syndedup/syndedup)",
        env!("CARGO_PKG_VERSION")
    )
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_body_bytes() -> NonZeroUsize {
    NonZeroUsize::new(10 * 1024 * 1024).expect("nonzero")
}
fn default_max_redirects() -> usize {
    5
}
fn default_concurrency() -> NonZeroUsize {
    NonZeroUsize::new(16).expect("nonzero")
}
fn default_per_host_concurrency() -> NonZeroUsize {
    NonZeroUsize::new(2).expect("nonzero")
}
fn default_max_retry_after() -> Duration {
    Duration::from_secs(6 * 3600)
}
fn default_full_text_min_words() -> NonZeroUsize {
    NonZeroUsize::new(120).expect("nonzero")
}
fn default_full_text_max_per_poll() -> usize {
    50
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            user_agent: default_user_agent(),
            connect_timeout: default_connect_timeout(),
            timeout: default_timeout(),
            max_body_bytes: default_max_body_bytes(),
            max_redirects: default_max_redirects(),
            concurrency: default_concurrency(),
            per_host_concurrency: default_per_host_concurrency(),
            max_retry_after: default_max_retry_after(),
            allow_private: false,
            full_text_min_words: default_full_text_min_words(),
            full_text_max_per_poll: default_full_text_max_per_poll(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Interval for outlets that set none.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub default_interval: Duration,
    /// No outlet is polled more often than this.
    #[serde(default = "default_min_interval", with = "humantime_serde")]
    pub min_interval: Duration,
    /// Backoff and feed hints never push the interval beyond this.
    #[serde(default = "default_max_interval", with = "humantime_serde")]
    pub max_interval: Duration,
    /// Random share (0..1) added to each interval so polls spread out.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

fn default_interval() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_min_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_max_interval() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_jitter() -> f64 {
    0.1
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            default_interval: default_interval(),
            min_interval: default_min_interval(),
            max_interval: default_max_interval(),
            jitter: default_jitter(),
        }
    }
}

/// What `run` writes to `output.jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// One line per processed item with its decision (the `--emit annotate` shape).
    #[default]
    Decisions,
    /// One line per new story or canonical update (the `--emit stories` shape).
    Stories,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Append JSON Lines here (relative paths resolve against the config file).
    #[serde(default)]
    pub jsonl: Option<PathBuf>,
    #[serde(default)]
    pub kind: OutputKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Which store: "sqlite" (one file, one writer; the default) or "redis" (shared by several
    /// workers; see `docs/redis.md`).
    #[serde(default)]
    pub kind: StoreKind,
    /// SQLite database path (relative paths resolve against the config file).
    /// Default: `syndedup.db` in `$XDG_DATA_HOME/syndedup` (or `~/.local/share/syndedup`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Redis: the seed nodes of a cluster, or the one URL of a single Redis
    /// (`redis://host:port`, `rediss://` for TLS).
    #[serde(default)]
    pub urls: Vec<String>,
    /// Redis: the hash tag every key starts with (`{syndedup}:log`, ...), so that several
    /// deployments can share one Redis.
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
    /// Redis: the name of the environment variable that holds the password (never the
    /// password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Redis: connect with TLS (every URL is used as `rediss://`).
    #[serde(default)]
    pub tls: bool,
    /// Redis: how long a worker owns an outlet after it last polled it; a dead worker's
    /// outlets move to another worker after this. Longer than the longest outlet interval.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// Redis: how long the decision lock outlives a worker that dies holding it.
    #[serde(default = "default_lock_ttl", with = "humantime_serde")]
    pub lock_ttl: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::default(),
            path: None,
            urls: Vec::new(),
            prefix: default_redis_prefix(),
            password_env: None,
            tls: false,
            lease: default_lease(),
            lock_ttl: default_lock_ttl(),
        }
    }
}

/// Which store holds the state (`[store] kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    #[default]
    Sqlite,
    Redis,
}

fn default_redis_prefix() -> String {
    "syndedup".to_string()
}
fn default_lease() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_lock_ttl() -> Duration {
    Duration::from_secs(30)
}

impl StoreConfig {
    /// Every problem with the `[store]` section, each a sentence naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.kind == StoreKind::Redis && self.urls.is_empty() {
            p.push(
                "store.urls is empty but store.kind is \"redis\": give the cluster's seed nodes or one Redis URL, such as [\"redis://127.0.0.1:6379\"]."
                    .to_string(),
            );
        }
        for (i, u) in self.urls.iter().enumerate() {
            match url::Url::parse(u) {
                Ok(parsed) if parsed.scheme() == "redis" || parsed.scheme() == "rediss" => {
                    if parsed.host_str().is_none_or(str::is_empty) {
                        p.push(format!("store.urls[{i}] \"{u}\" has no host."));
                    }
                    if parsed.password().is_some() {
                        p.push(format!(
                            "store.urls[{i}] holds a password: put it in an environment variable and name that in store.password_env."
                        ));
                    }
                    if parsed.scheme() == "rediss" && !self.tls {
                        p.push(format!(
                            "store.urls[{i}] \"{u}\" is rediss:// (TLS) but store.tls is false: set store.tls = true."
                        ));
                    }
                }
                _ => p.push(format!(
                    "store.urls[{i}] \"{u}\" is not a redis:// or rediss:// URL."
                )),
            }
        }
        if self.prefix.is_empty()
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            p.push(format!(
                "store.prefix \"{}\" must be non-empty and use only letters, digits, '-', '_', '.' and ':' (it becomes the {{hash tag}} of every key).",
                self.prefix
            ));
        }
        if let Some(name) = &self.password_env {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                p.push(format!(
                    "store.password_env \"{name}\" is not an environment variable name (letters, digits and '_', not starting with a digit)."
                ));
            }
        }
        if self.lease < Duration::from_secs(1) {
            p.push("store.lease must be at least 1s.".to_string());
        }
        if self.lock_ttl < Duration::from_secs(1) {
            p.push("store.lock_ttl must be at least 1s.".to_string());
        }
        p
    }
}

/// Output feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedFormat {
    Atom,
    Rss,
    Json,
}

/// One cleaned output feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Outlet names covered (empty together with `tags`: every outlet).
    #[serde(default)]
    pub outlets: Vec<String>,
    /// Outlet tags covered.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "default_feed_formats")]
    pub formats: Vec<FeedFormat>,
    /// Directory the feed files are written to (relative paths resolve against the config file).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Stories per feed.
    #[serde(default = "default_feed_size")]
    pub size: NonZeroUsize,
}

fn default_feed_formats() -> Vec<FeedFormat> {
    vec![FeedFormat::Atom, FeedFormat::Rss, FeedFormat::Json]
}
fn default_feed_size() -> NonZeroUsize {
    NonZeroUsize::new(100).expect("nonzero")
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address for the read-only HTTP service, e.g. "127.0.0.1:8080". Unset: no service.
    #[serde(default)]
    pub listen: Option<String>,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text, path)?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        config.check(&path.display().to_string())?;
        Ok(config)
    }

    /// Parses TOML text without validating it. `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::ConfigParse {
            path: origin.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Makes relative file paths relative to `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = self.output.jsonl.as_mut() {
            fix(p);
        }
        if let Some(p) = self.store.path.as_mut() {
            fix(p);
        }
        for feed in &mut self.feeds {
            if let Some(p) = feed.dir.as_mut() {
                fix(p);
            }
        }
        for outlet in &mut self.outlets {
            let is_url = outlet.url.starts_with("http://") || outlet.url.starts_with("https://");
            let is_file_url = outlet.url.starts_with("file://");
            let other_scheme = outlet.url.contains("://");
            if !is_url && !is_file_url && !other_scheme && Path::new(&outlet.url).is_relative() {
                outlet.url = base.join(&outlet.url).display().to_string();
            }
        }
    }

    /// Validates and turns the problem list into an error.
    pub fn check(&self, origin: &str) -> Result<()> {
        let problems = self.validate();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::ConfigInvalid {
                origin: origin.to_string(),
                problems,
            })
        }
    }

    /// Every problem with the config, each a full sentence naming the key.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        dedup_problems(&self.dedup, &mut p);
        if self.merge.order.is_empty() {
            p.push("merge.order is empty: list at least one of \"outlet-priority\", \"longest\", \"earliest\".".to_string());
        }
        boilerplate_problems(&self.boilerplate, &mut p);
        let names = self.outlet_problems(&mut p);
        for (i, name) in self.merge.outlet_priority.iter().enumerate() {
            if !self.outlets.is_empty() && !names.contains(name.as_str()) {
                p.push(format!(
                    "merge.outlet_priority[{i}] names outlet \"{name}\", which no [[outlet]] defines."
                ));
            }
        }
        fetch_problems(&self.fetch, &mut p);
        schedule_problems(&self.schedule, &mut p);
        self.feed_problems(&names, &mut p);
        if let Some(listen) = &self.http.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                p.push(format!(
                    "http.listen \"{listen}\" is not an address such as \"127.0.0.1:8080\"."
                ));
            }
        }
        p.extend(self.store.problems());
        p
    }

    /// Checks every `[[outlet]]`; returns the outlet names, which other sections refer to.
    fn outlet_problems(&self, p: &mut Vec<String>) -> BTreeSet<&str> {
        let mut names = BTreeSet::new();
        for (i, o) in self.outlets.iter().enumerate() {
            let key = format!("outlet[{i}]");
            if o.name.trim().is_empty() {
                p.push(format!("{key}.name is empty: every outlet needs a name."));
            } else if !names.insert(o.name.as_str()) {
                p.push(format!(
                    "{key}.name \"{}\" is used by an earlier outlet: names must be unique.",
                    o.name
                ));
            }
            if o.url.trim().is_empty() {
                p.push(format!(
                    "{key}.url is empty: give an http(s) URL or a file path."
                ));
            } else if o.url.contains("://")
                && !(o.url.starts_with("http://")
                    || o.url.starts_with("https://")
                    || o.url.starts_with("file://"))
            {
                p.push(format!(
                    "{key}.url \"{}\" has an unsupported scheme: use http, https or a file path.",
                    o.url
                ));
            } else if (o.url.starts_with("http://") || o.url.starts_with("https://"))
                && url::Url::parse(&o.url).is_err()
            {
                p.push(format!("{key}.url \"{}\" is not a valid URL.", o.url));
            }
            if let Some(iv) = o.interval {
                if iv < self.schedule.min_interval {
                    p.push(format!(
                        "{key}.interval ({}) is shorter than schedule.min_interval ({}).",
                        humantime::format_duration(iv),
                        humantime::format_duration(self.schedule.min_interval)
                    ));
                }
            }
            for (j, pattern) in o.boilerplate.iter().enumerate() {
                if let Err(e) = regex::Regex::new(pattern) {
                    p.push(format!(
                        "{key}.boilerplate[{j}] is not a valid regular expression: {}.",
                        first_line(&e.to_string())
                    ));
                }
            }
        }
        names
    }

    fn feed_problems(&self, names: &BTreeSet<&str>, p: &mut Vec<String>) {
        let mut feed_names = BTreeSet::new();
        for (i, feed) in self.feeds.iter().enumerate() {
            let key = format!("feed[{i}]");
            let valid_name = !feed.name.is_empty()
                && feed
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                p.push(format!(
                    "{key}.name \"{}\" must be non-empty and use only letters, digits, '-' and '_' (it becomes a file and URL name).",
                    feed.name
                ));
            } else if !feed_names.insert(feed.name.as_str()) {
                p.push(format!(
                    "{key}.name \"{}\" is used by an earlier feed: names must be unique.",
                    feed.name
                ));
            }
            for outlet in &feed.outlets {
                if !names.contains(outlet.as_str()) {
                    p.push(format!(
                        "{key}.outlets names \"{outlet}\", which no [[outlet]] defines."
                    ));
                }
            }
            for tag in &feed.tags {
                if !self.outlets.iter().any(|o| o.tags.contains(tag)) {
                    p.push(format!(
                        "{key}.tags names \"{tag}\", which no outlet carries."
                    ));
                }
            }
            if feed.formats.is_empty() {
                p.push(format!(
                    "{key}.formats is empty: list at least one of \"atom\", \"rss\", \"json\"."
                ));
            }
        }
    }
}

fn dedup_problems(d: &DedupConfig, p: &mut Vec<String>) {
    if !(d.threshold > 0.0 && d.threshold <= 1.0) {
        p.push(format!(
            "dedup.threshold is {} but must be greater than 0 and at most 1.",
            d.threshold
        ));
    }
    if !(d.containment > 0.0 && d.containment <= 1.0) {
        p.push(format!(
            "dedup.containment is {} but must be greater than 0 and at most 1.",
            d.containment
        ));
    }
    if !(d.containment_similar_length > 0.0 && d.containment_similar_length <= 1.0) {
        p.push(format!(
            "dedup.containment_similar_length is {} but must be greater than 0 and at most 1.",
            d.containment_similar_length
        ));
    }
    if !(d.min_length_ratio >= 0.0 && d.min_length_ratio <= 1.0) {
        p.push(format!(
            "dedup.min_length_ratio is {} but must be between 0 and 1.",
            d.min_length_ratio
        ));
    }
    if !(d.lead_slack_share >= 0.0 && d.lead_slack_share <= 1.0) {
        p.push(format!(
            "dedup.lead_slack_share is {} but must be between 0 and 1.",
            d.lead_slack_share
        ));
    }
    if !(d.lead_coverage >= 0.0 && d.lead_coverage <= 1.0) {
        p.push(format!(
            "dedup.lead_coverage is {} but must be between 0 and 1.",
            d.lead_coverage
        ));
    }
    if !(d.page_threshold >= 0.0 && d.page_threshold <= 1.0) {
        p.push(format!(
            "dedup.page_threshold is {} but must be between 0 and 1 (0 turns the page rule off).",
            d.page_threshold
        ));
    }
    if !(d.live_blog_containment >= 0.0 && d.live_blog_containment <= 1.0) {
        p.push(format!(
            "dedup.live_blog_containment is {} but must be between 0 and 1 (0 turns the live-blog \
             rule off).",
            d.live_blog_containment
        ));
    }
    if d.permutations.get() < 16 || d.permutations.get() > 1024 {
        p.push(format!(
            "dedup.permutations is {} but must be between 16 and 1024.",
            d.permutations
        ));
    }
    if d.shingle_size.get() > 16 {
        p.push(format!(
            "dedup.shingle_size is {} but must be between 1 and 16 words.",
            d.shingle_size
        ));
    }
    if d.retention < d.window {
        p.push(format!(
            "dedup.retention ({}) is shorter than dedup.window ({}): records must be kept at least as long as they are matched.",
            humantime::format_duration(d.retention),
            humantime::format_duration(d.window)
        ));
    }
}

fn boilerplate_problems(b: &BoilerplateConfig, p: &mut Vec<String>) {
    if !(b.learn_min_share > 0.0 && b.learn_min_share <= 1.0) {
        p.push(format!(
            "boilerplate.learn_min_share is {} but must be greater than 0 and at most 1.",
            b.learn_min_share
        ));
    }
    if b.chrome_min_words.get() > 100 {
        p.push(format!(
            "boilerplate.chrome_min_words is {} but must be at most 100 words.",
            b.chrome_min_words
        ));
    }
    if b.recurring_min_stories == 1 {
        p.push("boilerplate.recurring_min_stories is 1 but must be 0 (off) or at least 2: every paragraph is in one story.".to_string());
    }
    for (i, pattern) in b.patterns.iter().enumerate() {
        if let Err(e) = regex::Regex::new(pattern) {
            p.push(format!(
                "boilerplate.patterns[{i}] is not a valid regular expression: {}.",
                first_line(&e.to_string())
            ));
        }
    }
}

fn fetch_problems(f: &FetchConfig, p: &mut Vec<String>) {
    if f.user_agent.trim().is_empty() {
        p.push(
            "fetch.user_agent is empty: servers need a user agent with a contact URL.".to_string(),
        );
    }
    if f.timeout.is_zero() {
        p.push("fetch.timeout is zero: give a duration such as \"30s\".".to_string());
    }
    if f.connect_timeout.is_zero() {
        p.push("fetch.connect_timeout is zero: give a duration such as \"10s\".".to_string());
    }
    if f.per_host_concurrency > f.concurrency {
        p.push(format!(
            "fetch.per_host_concurrency ({}) is larger than fetch.concurrency ({}).",
            f.per_host_concurrency, f.concurrency
        ));
    }
    if f.full_text_min_words.get() > 10_000 {
        p.push(format!(
            "fetch.full_text_min_words is {} but must be at most 10000 words.",
            f.full_text_min_words
        ));
    }
}

fn schedule_problems(s: &ScheduleConfig, p: &mut Vec<String>) {
    if s.min_interval > s.max_interval {
        p.push(format!(
            "schedule.min_interval ({}) is longer than schedule.max_interval ({}).",
            humantime::format_duration(s.min_interval),
            humantime::format_duration(s.max_interval)
        ));
    }
    if !(0.0..=1.0).contains(&s.jitter) {
        p.push(format!(
            "schedule.jitter is {} but must be between 0 and 1.",
            s.jitter
        ));
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| l.starts_with("error:"))
        .or_else(|| s.lines().next())
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_valid_with_defaults() {
        let c = Config::parse("", Path::new("x.toml")).expect("parses");
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.dedup.shingle_size.get(), 5);
        assert_eq!(c.dedup.window, Duration::from_secs(3 * 86400));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::parse("[dedup]\nthreshhold = 0.4\n", Path::new("x.toml"))
            .expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("threshhold"), "{msg}");
        assert!(msg.contains("x.toml"), "{msg}");
    }

    #[test]
    fn validation_lists_every_problem() {
        let text = r#"
            [dedup]
            threshold = 1.5
            window = "10d"
            retention = "1d"
            [[outlet]]
            name = "a"
            url = "ftp://x"
            [[outlet]]
            name = "a"
            url = "https://example.org/feed"
            [schedule]
            jitter = 2.0
        "#;
        let c = Config::parse(text, Path::new("x.toml")).expect("parses");
        let problems = c.validate();
        let all = problems.join("\n");
        assert!(all.contains("dedup.threshold"), "{all}");
        assert!(all.contains("dedup.retention"), "{all}");
        assert!(all.contains("outlet[0].url"), "{all}");
        assert!(all.contains("outlet[1].name"), "{all}");
        assert!(all.contains("schedule.jitter"), "{all}");
        assert_eq!(problems.len(), 5, "{all}");
    }
}
