//! The library's layering, checked on the source: `mode` (the binary's subcommands) sits on
//! top, so no other module of the library may import it, and the HTTP layer renders stories
//! through `wire`, never through a subcommand.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file under `src/` with its path relative to `src/` (forward slashes).
fn source_files() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let rel = file
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (file, rel)
        })
        .collect()
}

/// `crate::mode` or `super::mode` as a whole path segment (not `crate::model`).
fn imports_mode(code: &str) -> bool {
    ["crate::mode", "super::mode"].iter().any(|p| {
        code.match_indices(p).any(|(i, _)| {
            !code[i + p.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

#[test]
fn the_check_tells_mode_from_model() {
    assert!(imports_mode("use crate::mode::stories::story_json;"));
    assert!(imports_mode("let x = crate::mode::clip(s, 3);"));
    assert!(!imports_mode("use crate::model::StoryId;"));
    assert!(!imports_mode("use crate::modes;"));
}

#[test]
fn no_library_module_imports_the_subcommands() {
    let mut offenders = Vec::new();
    for (file, rel) in source_files() {
        // The subcommands themselves and the binary (main.rs, cli.rs) are above the library.
        if rel.starts_with("mode/") || rel == "main.rs" || rel == "cli.rs" || rel == "lib.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if imports_mode(code) {
                offenders.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "library modules importing `mode`:\n{}",
        offenders.join("\n")
    );
}

/// `crate::<module>` or `super::<module>` as a whole path segment.
fn imports(code: &str, module: &str) -> bool {
    [format!("crate::{module}"), format!("super::{module}")]
        .iter()
        .any(|p| {
            code.match_indices(p.as_str()).any(|(i, _)| {
                !code[i + p.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
}

/// The store owns its types and sits below the poller, ingest, the HTTP layer and the wire
/// shapes: it imports none of them (nor `mode`).
#[test]
fn the_store_imports_nothing_above_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for module in ["poll", "ingest", "http", "wire", "mode"] {
                if imports(code, module) {
                    offenders.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "store modules importing a layer above:\n{}",
        offenders.join("\n")
    );
}

/// Each library module's layer, top to bottom, as `lib.rs` states it: a module may import only
/// modules of a lower layer. The bottom layer (`model`, `config`, `error`, `hash`) is shared
/// vocabulary; inside it `config` may name `error`.
const LAYERS: &[(&str, u32)] = &[
    ("mode", 100),
    ("http", 90),
    ("poll", 80),
    ("ingest", 70),
    ("synth", 66),
    ("eval", 65),
    ("jsonl", 65),
    ("wire", 60),
    ("store", 50),
    ("emit", 40),
    ("dedup", 30),
    ("normalize", 20),
    ("config", 11),
    ("model", 10),
    ("error", 10),
    ("hash", 10),
];

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

/// The top-level modules a file names through `crate::`: `crate::store::Batch` and the groups
/// of `use crate::{dedup::Engine, model::Article};` (which may span lines).
fn crate_modules(text: &str) -> Vec<(usize, String)> {
    let code: Vec<&str> = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect();
    let joined = code.join("\n");
    let line_of = |at: usize| joined[..at].matches('\n').count() + 1;
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (at, _) in joined.match_indices("crate::") {
        let rest = &joined[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the first segment of each comma-separated path (nested groups are below it).
            let inside = group;
            let mut depth = 0;
            let mut start = true;
            for (i, c) in inside.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        out.push((line_of(at), ident(&inside[i..])));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push((line_of(at), ident(rest)));
        }
    }
    out
}

#[test]
fn the_import_scan_reads_paths_and_groups() {
    let found: Vec<String> = crate_modules(
        "use crate::store::Batch; // crate::http in a comment\nuse crate::{\n    dedup::{Engine, Prepared},\n    model::Article,\n};",
    )
    .into_iter()
    .map(|(_, m)| m)
    .collect();
    assert_eq!(found, ["store", "dedup", "model"]);
}

/// Every import in the library points down the layers of [`LAYERS`] (the binary's `main.rs`
/// and `cli.rs`, and `lib.rs`'s re-exports, are above them all). A new top-level module must
/// be given a layer here.
#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut offenders = Vec::new();
    for (file, rel) in source_files() {
        if rel == "main.rs" || rel == "cli.rs" || rel == "lib.rs" {
            continue;
        }
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let Some(own) = layer(module) else {
            offenders.push(format!(
                "src/{rel}: module `{module}` has no layer in LAYERS"
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, used) in crate_modules(&text) {
            if used == module {
                continue;
            }
            match layer(&used) {
                Some(l) if l < own => {}
                // Re-exports at the crate root (`crate::Engine`) are not modules.
                None if used.chars().next().is_some_and(char::is_uppercase) => {}
                _ => offenders.push(format!(
                    "src/{rel}:{line}: `{module}` imports `crate::{used}`, which is not below it"
                )),
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "imports that point up or sideways:\n{}",
        offenders.join("\n")
    );
}
