//! The parser and checker on any text: diagnostics, rendered, never a panic; a spec that checks
//! generates its connector, which cannot fail once checking passed.
#![no_main]

use std::sync::OnceLock;

use tib_front::catalog::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    let catalog =
        CATALOG.get_or_init(|| Catalog::parse(include_str!("../../custom-fields.toml")).expect("the catalog"));
    let compiled = tib_front::compile("fuzz.tib", text, catalog);
    let _ = tib_front::diag::render(&compiled.diagnostics, "fuzz.tib", text, tib_front::diag::Style::Plain);
    if let Some(spec) = &compiled.spec {
        let _ = tib_front::emit::connector(spec);
    }
});
