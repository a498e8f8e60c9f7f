//! `compiler explain CODE`: a longer explanation of each diagnostic code,
//! with a wrong and a right example, as `rustc --explain` gives them.
//!
//! The explanations are written in `explain.md`, one `## tib::code` section
//! each; `compiler/tests/explain.rs` fails when a code has none, and compiles
//! every example to hold it to what the checker says.

const EXPLANATIONS: &str = include_str!("explain.md");

/// Every explained code, in the order of the file, with its explanation.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    EXPLANATIONS.split("\n## ").skip(1).map(|section| {
        let (code, text) = section.split_once('\n').unwrap_or((section, ""));
        (code.trim(), text.trim())
    })
}

/// The explanation of a code, written `tib::unknown-setting` or `unknown-setting`.
pub fn explain(code: &str) -> Option<&'static str> {
    let code = code.strip_prefix("tib::").unwrap_or(code);
    all().find(|(known, _)| known.strip_prefix("tib::") == Some(code)).map(|(_, text)| text)
}

/// The code closest to a misspelt one, for "did you mean".
pub fn closest(code: &str) -> Option<&'static str> {
    let code = code.strip_prefix("tib::").unwrap_or(code);
    let codes: Vec<&'static str> = all().map(|(known, _)| known.trim_start_matches("tib::")).collect();
    crate::suggest::closest(code, codes.iter().copied())
}
