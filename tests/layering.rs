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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
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
