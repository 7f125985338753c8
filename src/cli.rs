//! Command-line definitions. Each subcommand's flags live beside its implementation in
//! `syndedup::mode`; this file only assembles them.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use syndedup::mode;

#[derive(Debug, Parser)]
#[command(
    name = "syndedup",
    version,
    about = "Removes syndicated duplicates from news feeds."
)]
pub struct Cli {
    /// Log level filter (e.g. "info", "debug", "syndedup=trace"); RUST_LOG also works.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dedup a JSON Lines stream: articles in, unique articles, annotations or stories out.
    Dedup(mode::dedup::DedupArgs),
    /// Score the engine against gold cluster labels: pairwise P/R/F1, adjusted Rand index, diagnostics.
    Eval(mode::eval::EvalArgs),
    /// Explain why two articles are or are not one story: what was set aside, shared paragraphs, the rule's numbers.
    Explain(mode::explain::ExplainArgs),
    /// Throughput per stage, peak memory and quality on a synthetic corpus or a JSON Lines file.
    Bench(mode::bench::BenchArgs),
    /// Validate a config file and report every problem, each naming its key.
    Check(mode::check::CheckArgs),
    /// Print [[outlet]] tables for every feed in an OPML file, ready to paste into a config.
    ImportOpml(mode::import_opml::ImportOpmlArgs),
    /// Poll the configured outlets: as a daemon, or one cycle with --once.
    Run(mode::run::RunArgs),
    /// List recent stories from the store (read-only; works while the daemon runs).
    Stories(mode::stories::StoriesArgs),
    /// Serve feeds, the stories API and the status page from the store, without polling.
    Serve(mode::serve::ServeArgs),
}

pub fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr(std::env::var_os("NO_COLOR").as_deref()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// ANSI colour in log lines only when standard error is a terminal, and never when `NO_COLOR`
/// is set to a non-empty value (<https://no-color.org>): `2>run.log` and journald get plain text.
fn colour_on_stderr(no_color: Option<&std::ffi::OsStr>) -> bool {
    use std::io::IsTerminal as _;
    no_color.is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dedup(args) => {
            mode::dedup::run(&args)?;
        }
        Command::Eval(args) => {
            mode::eval::run(&args)?;
        }
        Command::Explain(args) => {
            mode::explain::run(&args)?;
        }
        Command::Bench(args) => {
            mode::bench::run(&args)?;
        }
        Command::Check(args) => return mode::check::run(&args),
        Command::ImportOpml(args) => return mode::import_opml::run(&args),
        Command::Run(args) => mode::run::run(&args)?,
        Command::Stories(args) => mode::stories::run(&args)?,
        Command::Serve(args) => mode::serve::run(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}
