//! The `syndedup` binary: parses the command line, sets up logging, and calls the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(&cli);
    match cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("syndedup: error: {err}");
            let mut shown = err.to_string();
            for cause in err.chain().skip(1) {
                // Some errors repeat their source's text in their own (a store error names
                // the SQLite failure); say each thing once.
                let text = cause.to_string();
                if !shown.ends_with(&text) {
                    eprintln!("  caused by: {text}");
                }
                shown = text;
            }
            ExitCode::FAILURE
        }
    }
}

/// A closed standard output (`syndedup ... | head`) is a normal way to stop, not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
