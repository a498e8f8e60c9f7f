//! `compiler explain`: every code the front end can report has an
//! explanation with a wrong and a right example, and each example does what
//! it says: put into a complete spec, the wrong one gets its code and the
//! right one compiles.

mod common;

use std::collections::BTreeSet;

use tib_front::catalog::Catalog;
use tib_front::explain;

/// A complete spec the examples' sections replace sections of.
const BASE: &str = r#"app "Example"
base_url "https://api.example.com/v1"

credentials {
  api_token secret "An API token"
}

auth bearer "{api_token}"

request GET "/users"

paginate none

users at data.users

fields {
  id    = id
  email = email
}
"#;

/// Every code written in the front end's source: a `"tib::…"` literal.
fn codes_in_source() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    let mut dirs = vec![common::root().join("compiler/front/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("listable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable");
                for piece in text.split("\"tib::").skip(1) {
                    let code: String = piece
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                        .collect();
                    if piece[code.len()..].starts_with('"') && !code.is_empty() {
                        codes.insert(format!("tib::{code}"));
                    }
                }
            }
        }
    }
    codes
}

/// The fenced example after `label` (`Wrong:` or `Right:`): its language and text.
fn example<'a>(text: &'a str, label: &str) -> Option<(&'a str, &'a str)> {
    let after = &text[text.find(&format!("\n{label}\n"))? + label.len() + 2..];
    let fence = &after[after.find("```")? + 3..];
    let (language, rest) = fence.split_once('\n')?;
    Some((language, &rest[..rest.find("```")?]))
}

/// The base spec with the example's sections in place of its sections of the same keyword.
fn with_sections(example: &str) -> String {
    let keyword = |section: &str| section.split_whitespace().next().unwrap_or("").to_owned();
    let sections = |text: &str| -> Vec<String> {
        let mut sections: Vec<String> = Vec::new();
        for line in text.lines() {
            let starts = line.starts_with(|c: char| c.is_ascii_lowercase());
            match sections.last_mut() {
                Some(last) if !starts => {
                    last.push('\n');
                    last.push_str(line);
                }
                _ => sections.push(line.to_owned()),
            }
        }
        sections
    };
    let given = sections(example);
    let replaced: BTreeSet<String> = given.iter().map(|s| keyword(s)).collect();
    let mut spec: Vec<String> = sections(BASE).into_iter().filter(|s| !replaced.contains(&keyword(s))).collect();
    spec.extend(given);
    spec.join("\n") + "\n"
}

/// The codes an example gets, and whether it compiled.
fn check(language: &str, text: &str) -> Option<(Vec<&'static str>, bool)> {
    match language {
        "tib" => {
            let compiled = tib_front::compile("example.tib", &with_sections(text), &common::catalog());
            Some((compiled.diagnostics.iter().map(|d| d.code).collect(), compiled.spec.is_some()))
        }
        "toml" => Some(match Catalog::parse(text) {
            Ok(_) => (Vec::new(), true),
            Err(errors) => (errors.iter().map(|d| d.code).collect(), false),
        }),
        _ => None,
    }
}

#[test]
fn every_code_has_an_explanation_and_every_explanation_a_code() {
    let source = codes_in_source();
    assert!(source.len() > 70, "the scan finds the codes: {}", source.len());
    let explained: BTreeSet<String> = explain::all().map(|(code, _)| code.to_owned()).collect();
    let missing: Vec<&String> = source.difference(&explained).collect();
    assert!(missing.is_empty(), "codes without an explanation in compiler/front/src/explain.md: {missing:?}");
    let stale: Vec<&String> = explained.difference(&source).collect();
    assert!(stale.is_empty(), "explanations of codes no longer reported: {stale:?}");
}

#[test]
fn every_wrong_example_gets_its_code_and_every_right_one_compiles() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (code, text) in explain::all() {
        let (Some((wrong_language, wrong)), Some((right_language, right))) =
            (example(text, "Wrong:"), example(text, "Right:"))
        else {
            failures.push(format!("{code}: a Wrong: and a Right: example"));
            continue;
        };
        if let Some((codes, _)) = check(wrong_language, wrong) {
            if !codes.contains(&code) {
                failures.push(format!("{code}: the wrong example gets {codes:?}"));
            }
            checked += 1;
        }
        if let Some((codes, compiled)) = check(right_language, right) {
            if codes.contains(&code) || !compiled {
                failures.push(format!("{code}: the right example gets {codes:?}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 120, "most examples are checked: {checked}");
}

#[test]
fn explain_accepts_the_code_with_or_without_its_prefix_and_suggests_for_a_typo() {
    let text = explain::explain("tib::unknown-setting").expect("explained");
    assert_eq!(explain::explain("unknown-setting"), Some(text));
    assert!(text.contains("page_sise"), "{text}");
    assert_eq!(explain::explain("unknown-settings"), None);
    assert_eq!(explain::closest("unknown-settings"), Some("unknown-setting"));
}
