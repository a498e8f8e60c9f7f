//! The tib compiler: reads `.tib` specs and checks them into the IR that code
//! generation and preview consume.
//!
//! ```text
//! .tib ─parse─► AST (spans) ─check─► IR ─emit─► tokens ─prettyplease─► connectors/<app>/
//! ```
//!
//! [`compile`] takes one spec to its IR; [`workspace`] runs it over a folder of
//! specs with the organization's custom-field catalog; [`emit`] turns the IR
//! into connector crates and [`generate`] writes them.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod diag;
pub mod emit;
pub mod explain;
pub mod format;
pub mod generate;
pub mod ident;
pub mod ir;
pub mod parse;
pub mod span;
mod suggest;
pub mod workspace;

use catalog::Catalog;
use diag::Diagnostic;

/// The result of compiling one spec: its IR when it has no errors, and every finding.
#[derive(Debug)]
pub struct Compiled {
    /// The syntax tree of what parsed (all of the text, unless there were syntax errors).
    pub ast: Option<ast::File>,
    /// The checked spec, when there were no errors.
    pub spec: Option<ir::Spec>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// What the checker says when text is missing: after a syntax error, the text
/// the parser skipped is missing, so these would only repeat that error,
/// wherever they point.
const FOLLOWS_FROM_MISSING_TEXT: &[&str] =
    &["tib::missing-section", "tib::unknown-credential", "tib::unused-credential", "tib::shape-conflict"];

/// What the checker says of one section's own text that is missing: these
/// follow from a syntax error only in a section whose text was skipped.
const SECTION_LACKS: &[&str] = &[
    "tib::missing-setting",
    "tib::missing-stop",
    "tib::missing-else",
    "tib::incomplete-auth",
    "tib::incomplete-pagination",
    "tib::empty-licenses",
    "tib::empty-rules",
    "tib::name-half",
    // A body the parser skipped for its syntax error is missing, not absent.
    "tib::post-without-body",
];

/// Parses and checks one spec. `path` is the spec's workspace-relative path.
pub fn compile(path: &str, text: &str, catalog: &Catalog) -> Compiled {
    if let Some(not_a_spec) = not_a_spec(text) {
        return Compiled { ast: None, spec: None, diagnostics: vec![not_a_spec] };
    }
    let mut diagnostics = Vec::new();
    let Some(parsed) = parse::parse(text, &mut diagnostics) else {
        return Compiled { ast: None, spec: None, diagnostics };
    };
    let from_parse = diagnostics.len();
    let spec = check::check(&parsed.file, path, catalog, &mut diagnostics);
    if parsed.recovered {
        // A section's own finding (a setting it lacks) stands when none of its text was skipped.
        let untouched = |d: &Diagnostic| {
            let at = d.primary.span.start;
            let section =
                parsed.file.sections.iter().find(|s| s.span.start <= at && at < s.span.end.max(s.span.start + 1));
            section.is_some_and(|s| !parsed.skipped.iter().any(|k| k.start < s.span.end && s.span.start < k.end))
        };
        let mut index = 0;
        diagnostics.retain(|d| {
            index += 1;
            let follows =
                FOLLOWS_FROM_MISSING_TEXT.contains(&d.code) || (SECTION_LACKS.contains(&d.code) && !untouched(d));
            index <= from_parse || !follows
        });
    }
    diagnostics.sort_by_key(|d| d.primary.span.start);
    // A syntax error, or a mistake inside a string (found while parsing), also withholds the IR.
    let spec = spec.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Compiled { ast: Some(parsed.file), spec, diagnostics }
}

/// A file whose first word starts no section, and is no misspelling of one,
/// is not a spec: a key file or a list of passwords saved under a spec's
/// name, say. It gets one diagnostic, which shows no more than its first line
/// ([`diag::render`]), instead of one for every line it holds.
pub(crate) fn not_a_spec(text: &str) -> Option<Diagnostic> {
    let mut offset = 0;
    let first = text.split_inclusive('\n').find_map(|line| {
        let at = offset + (line.len() - line.trim_start().len());
        offset += line.len();
        let content = line.trim();
        (!content.is_empty() && !content.starts_with('#')).then_some((at, content))
    });
    let (at, content) = first?;
    let word = &content[..content.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(content.len())];
    let sections = check::vocabulary::SECTIONS;
    if sections.contains(&word) || suggest::closest(word, sections.iter().copied()).is_some() {
        return None;
    }
    let length = content.chars().next().map_or(1, char::len_utf8).max(word.len());
    Some(
        Diagnostic::error(
            diag::NOT_A_SPEC,
            "this file is not a tib spec: it does not begin with a section",
            span::Span::new(at, at + length),
            "a spec begins with `app \"Name\"`",
        )
        .with_help(format!("a spec's sections are: {}", sections.join(", "))),
    )
}
