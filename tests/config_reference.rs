//! Keeps `config/syndedup.toml` honest: it loads and validates, every value it sets is the
//! default, and it documents every key that `src/config.rs` declares (its commented-out
//! examples included, which must parse and validate once uncommented).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syndedup::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference_path() -> PathBuf {
    root().join("config/syndedup.toml")
}

/// Section name -> key names, read from the `Config` struct and the structs its fields name.
/// Reading the source (rather than a list kept here) is what makes a new key fail this test
/// until it is documented.
fn declared_keys() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::fs::read_to_string(root().join("src/config.rs")).unwrap();
    let struct_re = regex::Regex::new(r"(?s)pub struct (\w+) \{\n(.*?)\n\}").unwrap();
    let field_re = regex::Regex::new(r"^\s*pub (\w+): ([\w<>:]+),$").unwrap();
    let rename_re = regex::Regex::new(r#"rename = "(\w+)""#).unwrap();
    let mut structs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for cap in struct_re.captures_iter(&src) {
        let mut fields = Vec::new();
        let mut rename: Option<String> = None;
        for line in cap[2].lines() {
            if let Some(r) = rename_re
                .captures(line)
                .filter(|_| line.trim().starts_with("#["))
            {
                rename = Some(r[1].to_string());
            }
            if let Some(f) = field_re.captures(line) {
                let key = rename.take().unwrap_or_else(|| f[1].to_string());
                let ty = f[2]
                    .trim_start_matches("Vec<")
                    .trim_start_matches("Option<")
                    .trim_end_matches('>')
                    .to_string();
                fields.push((key, ty));
            }
        }
        structs.insert(cap[1].to_string(), fields);
    }
    let top = structs
        .get("Config")
        .expect("struct Config in src/config.rs");
    assert!(top.len() >= 10, "parsed too few sections: {top:?}");
    top.iter()
        .map(|(section, ty)| {
            let fields = structs
                .get(ty)
                .unwrap_or_else(|| panic!("struct {ty} (section {section}) not found"));
            assert!(!fields.is_empty(), "no fields parsed for {ty}");
            (
                section.clone(),
                fields.iter().map(|(k, _)| k.clone()).collect(),
            )
        })
        .collect()
}

/// The reference with its commented-out keys and examples switched on: `# key = v` and
/// `# [[table]]` lose their `# `, `# # prose` becomes `# prose`; other comments stay comments.
fn uncommented(text: &str) -> String {
    let key_re = regex::Regex::new(r"^[a-z_]+ = ").unwrap();
    let table_re = regex::Regex::new(r"^\[\[[a-z]+\]\]$").unwrap();
    text.lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if table_re.is_match(rest) || rest.starts_with("# ") || key_re.is_match(rest) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn keys_in(value: &toml::Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (section, v) in value.as_table().unwrap() {
        let tables: Vec<&toml::Table> = match v {
            toml::Value::Table(t) => vec![t],
            toml::Value::Array(a) => a.iter().filter_map(|x| x.as_table()).collect(),
            _ => panic!("top-level key {section} is not a section"),
        };
        let set = out.entry(section.clone()).or_default();
        for t in tables {
            set.extend(t.keys().cloned());
        }
    }
    out
}

#[test]
fn reference_loads_and_validates() {
    let config = Config::load(&reference_path()).expect("config/syndedup.toml is valid");
    assert!(config.outlets.is_empty() && config.feeds.is_empty());
}

#[test]
fn reference_values_are_the_defaults() {
    // Config has no PartialEq; Debug shows every field, which is what matters here.
    let config = Config::load(&reference_path()).unwrap();
    assert_eq!(format!("{config:#?}"), format!("{:#?}", Config::default()));
}

#[test]
fn reference_sets_every_section_uncommented() {
    let text = std::fs::read_to_string(reference_path()).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let present = keys_in(&value);
    for section in declared_keys().keys() {
        if section == "outlet" || section == "feed" {
            continue; // examples only: a reference must not poll or write anything
        }
        assert!(
            present.contains_key(section),
            "[{section}] missing from the reference"
        );
    }
}

#[test]
fn reference_documents_every_declared_key() {
    let text = std::fs::read_to_string(reference_path()).unwrap();
    let full = uncommented(&text);
    let value: toml::Value = toml::from_str(&full)
        .unwrap_or_else(|e| panic!("uncommented reference is not TOML: {e}\n{full}"));
    let present = keys_in(&value);
    let declared = declared_keys();
    let mut problems = Vec::new();
    for (section, keys) in &declared {
        let found = present.get(section).cloned().unwrap_or_default();
        for key in keys.difference(&found) {
            problems.push(format!(
                "{section}.{key} is declared in src/config.rs but not documented"
            ));
        }
        for key in found.difference(keys) {
            problems.push(format!(
                "{section}.{key} is in the reference but not in src/config.rs"
            ));
        }
    }
    for section in present.keys() {
        if !declared.contains_key(section) {
            problems.push(format!(
                "[{section}] is in the reference but not in src/config.rs"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn commented_examples_parse_and_validate() {
    let text = std::fs::read_to_string(reference_path()).unwrap();
    let full = uncommented(&text);
    let config = Config::parse(&full, Path::new("syndedup.toml (uncommented)"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.outlets.len(), 1);
    assert_eq!(config.feeds.len(), 1);
    assert!(config.output.jsonl.is_some() && config.store.path.is_some());
    assert!(config.http.listen.is_some());
    let problems = config.validate();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn key_parser_sees_a_real_key() {
    // The drift check is only as good as the source parser: make sure it finds known keys.
    let declared = declared_keys();
    assert!(declared["dedup"].contains("threshold"));
    assert!(declared["outlet"].contains("url"));
    assert!(declared["feed"].contains("formats"));
    assert!(declared["fetch"].contains("max_retry_after"));
}
