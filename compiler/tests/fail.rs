//! The fail corpus: each file in tests/fail/ holds one mistake (named in its
//! first line) and its rendered report is pinned. Files named `warn-*` hold a
//! mistake that is only a warning: the spec still compiles.

mod common;

use compiler::diag::{Style, render};

#[test]
fn every_broken_spec_gets_its_diagnostic() {
    let catalog = common::catalog();
    let files = common::tib_files(&common::root().join("compiler/tests/fail"));
    assert!(files.len() >= 30, "the corpus holds at least 30 broken specs");
    let mut codes = std::collections::BTreeSet::new();
    for (stem, path, text) in files {
        assert!(text.starts_with("# "), "{path}: the first line names the mistake");
        let compiled = compiler::compile(&path, &text, &catalog);
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
