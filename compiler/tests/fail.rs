//! The fail corpus: each file in tests/fail/ holds one mistake (named in its
//! first line) and its rendered report is pinned. Files named `warn-*` hold a
//! mistake that is only a warning: the spec still compiles.

mod common;

use tib_front::diag::{Style, render};

#[test]
fn every_broken_spec_gets_its_diagnostic() {
    let catalog = common::catalog();
    let files = common::tib_files(&common::root().join("compiler/tests/fail"));
    assert!(files.len() >= 30, "the corpus holds at least 30 broken specs");
    let mut codes = std::collections::BTreeSet::new();
    for (stem, path, text) in files {
        assert!(text.starts_with("# "), "{path}: the first line names the mistake");
        let compiled = tib_front::compile(&path, &text, &catalog);
        assert!(!compiled.diagnostics.is_empty(), "{path}: no diagnostic");
        if stem.starts_with("warn-") {
            assert!(compiled.diagnostics.iter().all(|d| !d.is_error()), "{path}: only warnings expected");
            assert!(compiled.spec.is_some(), "{path}: a spec with warnings still compiles");
        } else {
            assert!(compiled.diagnostics.iter().any(|d| d.is_error()), "{path}: an error expected");
            assert!(compiled.spec.is_none(), "{path}: a spec with errors has no IR");
        }
        codes.insert(compiled.diagnostics[0].code);
        let report = render(&compiled.diagnostics, &path, &text, Style::Plain);
        insta::assert_snapshot!(format!("fail_{stem}"), report);
    }
    assert!(codes.len() >= 30, "the corpus shows at least 30 different mistakes, found {}", codes.len());
}

/// Every replacement a diagnostic offers is a quick fix that works: written
/// in place of its label, that mistake is gone.
#[test]
fn every_suggested_replacement_fixes_its_mistake() {
    let catalog = common::catalog();
    let mut fixed = 0;
    for (_, path, text) in common::tib_files(&common::root().join("compiler/tests/fail")) {
        let compiled = tib_front::compile(&path, &text, &catalog);
        for d in &compiled.diagnostics {
            let Some(replacement) = &d.replacement else { continue };
            let span = d.primary.span;
            let help = d.help.as_deref().unwrap_or_default();
            // A deletion (an empty replacement) is named by the help in its own words.
            assert!(
                replacement.is_empty() || help.contains(&format!("`{replacement}`")),
                "{path}: the help names the replacement: {help}"
            );
            let mended = format!("{}{replacement}{}", &text[..span.start], &text[span.end..]);
            let again = tib_front::compile(&path, &mended, &catalog);
            assert!(
                !again.diagnostics.iter().any(|a| a.code == d.code && a.primary.span.start == span.start),
                "{path}: writing `{replacement}` over `{}` did not fix {}",
                &text[span.start..span.end],
                d.code
            );
            fixed += 1;
        }
    }
    assert!(fixed >= 5, "the corpus has typos with replacements: {fixed}");
}

/// Every diagnostic of the corpus says what to do: it has a help line.
#[test]
fn every_diagnostic_has_a_help_line() {
    let catalog = common::catalog();
    let mut without = Vec::new();
    for (_, path, text) in common::tib_files(&common::root().join("compiler/tests/fail")) {
        for d in tib_front::compile(&path, &text, &catalog).diagnostics {
            if d.help.is_none() {
                without.push(format!("{path}: {} {}", d.code, d.message));
            }
        }
    }
    assert!(without.is_empty(), "diagnostics without help:\n{}", without.join("\n"));
}
