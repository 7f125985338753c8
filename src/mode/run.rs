//! `syndedup run`: the daemon (poll every outlet on its schedule until SIGINT/SIGTERM) and
//! `--once` (one poll of every enabled outlet, then a per-outlet table).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use tracing::{info, warn};

use crate::config::Config;
use crate::config::StoreKind;
use crate::dedup::EngineConfig;
use crate::http::{Publisher, Service, StoryPages};
use crate::poll::{OutletReport, Poller};
use crate::store::{signature_settings, store_path, RedisStore, Store};

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// TOML config file with the `[[outlet]]` list and the `[fetch]`, `[schedule]`, `[output]` sections.
    #[arg(long)]
    pub config: PathBuf,
    /// Poll every enabled outlet once, process, write, print a per-outlet table and exit.
    #[arg(long)]
    pub once: bool,
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    if config.output.jsonl.is_none() {
        warn!("no [output] jsonl is set: decisions are counted but not written");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Opened before anything else so a second daemon on the same store stops right here.
    let (store, label): (Box<dyn Store + Send>, String) = match config.store.kind {
        StoreKind::Sqlite => {
            let path = store_path(&config.store);
            let store = crate::ingest::open_store(&path, &EngineConfig::from_config(&config))?;
            (Box::new(store), path.display().to_string())
        }
        StoreKind::Redis => {
            let settings = signature_settings(&EngineConfig::from_config(&config));
            let mut store = RedisStore::from_config(&config.store)?;
            store.check_settings(&settings)?;
            let label = format!(
                "redis {} (worker {})",
                store.settings().url_list(),
                store.worker()
            );
            (Box::new(store), label)
        }
    };
    let counters = store.counters()?;
    runtime.block_on(async move {
        let config_feeds_empty = config.feeds.is_empty();
        let publisher = Publisher::for_run(&config, &args.config);
        crate::http::update::seed_counters(publisher.state(), &counters);
        crate::http::write(publisher.state()).set_story_pages(StoryPages::for_config(&config)?);
        // The daemon's signal handlers go in before the service logs that it listens.
        let shutdown = (!args.once).then(shutdown_signal);
        let service = match (&config.http.listen, args.once) {
            (Some(listen), false) => Some(Service::start(listen, publisher.state().clone()).await?),
            _ => None,
        };
        // Resuming reads the whole window from the store: on the blocking pool.
        let mut poller = tokio::task::spawn_blocking(move || Poller::with_store(config, store))
            .await
            .context("the start-up task failed")?
            .with_context(|| format!("cannot resume from the store {label}"))?;
        if !config_feeds_empty || service.is_some() {
            poller.on_cycle(move |p, reports| {
                publisher.cycle(p, reports, chrono::Utc::now());
            });
        }
        if let Some(shutdown) = shutdown {
            info!(
                outlets = poller.enabled_outlets(),
                "daemon started; stop with SIGINT or SIGTERM"
            );
            let totals = poller.run_until(shutdown).await?;
            info!(
                polls = totals.polls,
                failed = totals.failed,
                new = totals.new,
                duplicates = totals.duplicates,
                "daemon stopped"
            );
        } else {
            let reports = poller.run_once().await?;
            print!("{}", render_table(&reports));
            if let Some(engine) = poller.engine() {
                print!("{}", render_stories(&engine.stories(), STORIES_SHOWN));
            }
        }
        if let Some(service) = service {
            service.stop().await.context("the HTTP service failed")?;
        }
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal sent right after a "ready" log line (e.g. "http
/// service listening") is not missed; call it before logging that line. Must be called
/// inside the runtime. A signal that cannot be listened for is ignored rather than treated
/// as received.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        async move {
            let int = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match terminate.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = int => {}
                _ = term => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Stories listed after the `--once` table.
const STORIES_SHOWN: usize = 20;

/// The cleaned result after `--once`: the stories with the most copies first, each with its
/// canonical title and outlet and the outlets of the other copies.
pub fn render_stories(stories: &[crate::model::StoryView], limit: usize) -> String {
    let mut sorted: Vec<&crate::model::StoryView> = stories.iter().collect();
    sorted.sort_by(|a, b| {
        b.copies
            .len()
            .cmp(&a.copies.len())
            .then(a.story.cmp(&b.story))
    });
    let copies: usize = stories.iter().map(|s| s.copies.len()).sum();
    let mut out = format!(
        "\n{} stories from {} articles (most copies first; the canonical version's title and outlet):\n",
        stories.len(),
        copies
    );
    for story in sorted.iter().take(limit) {
        let c = &story.canonical;
        let title = c.title.as_deref().unwrap_or("(untitled)");
        let outlet = c.outlet.as_deref().unwrap_or("?");
        let others: Vec<&str> = story
            .copies
            .iter()
            .filter(|copy| copy.id != c.id)
            .map(|copy| copy.outlet.as_deref().unwrap_or("?"))
            .collect();
        out.push_str(&format!(
            "  {:<5} {:>2}x  {} [{}]",
            story.story.to_string(),
            story.copies.len(),
            title,
            outlet
        ));
        if !others.is_empty() {
            out.push_str(&format!("; also {}", others.join(", ")));
        }
        out.push('\n');
    }
    if sorted.len() > limit {
        out.push_str(&format!(
            "  ... and {} more (syndedup stories --config FILE lists them all)\n",
            sorted.len() - limit
        ));
    }
    out
}

/// The `--once` table: one aligned row per outlet. FULL TEXT says what happened to the pages
/// of new items (fetched, cached, failed, refused, skipped); "-" when none was wanted.
pub fn render_table(reports: &[OutletReport]) -> String {
    let header = [
        "OUTLET",
        "STATUS",
        "ITEMS",
        "NEW",
        "DUPS",
        "TIME",
        "FULL TEXT",
        "ERROR / REPAIRS",
    ];
    let rows: Vec<[String; 8]> = reports
        .iter()
        .map(|r| {
            let full_text = r.full_text.summary();
            [
                r.outlet.clone(),
                r.status.to_string(),
                r.items.to_string(),
                r.new.to_string(),
                r.duplicates.to_string(),
                format!("{:.0}ms", r.elapsed.as_secs_f64() * 1000.0),
                if full_text.is_empty() {
                    "-".to_string()
                } else {
                    full_text
                },
                r.error
                    .clone()
                    .unwrap_or_else(|| crate::poll::repairs_note(&r.repairs)),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let numeric = [false, false, true, true, true, true, false, false];
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut s = String::new();
        for (k, cell) in cells.iter().enumerate() {
            let pad = widths[k].saturating_sub(cell.chars().count());
            if k > 0 {
                s.push_str("  ");
            }
            if k == cells.len() - 1 {
                s.push_str(cell);
            } else if numeric[k] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::poll::FullTextCounts;
    use std::time::Duration;

    #[test]
    fn the_table_shows_full_text_counts() {
        let row = |outlet: &str, full_text: FullTextCounts| OutletReport {
            outlet: outlet.to_string(),
            status: crate::poll::PollStatus::fresh(Some(200)),
            error: None,
            items: 3,
            new: 3,
            duplicates: 1,
            elapsed: Duration::from_millis(5),
            engine: Duration::ZERO,
            full_text,
            repairs: Vec::new(),
        };
        let table = render_table(&[
            row(
                "Digest",
                FullTextCounts {
                    fetched: 2,
                    failed: 1,
                    ..Default::default()
                },
            ),
            row("Wire", FullTextCounts::default()),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("FULL TEXT"), "{table}");
        assert!(lines[1].contains("2 fetched, 1 failed"), "{table}");
        assert!(lines[2].ends_with('-'), "{table}");
    }
}
