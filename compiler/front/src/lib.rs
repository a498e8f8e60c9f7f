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
    /// The syntax tree, when the text parsed.
    pub ast: Option<ast::File>,
    /// The checked spec, when there were no errors.
    pub spec: Option<ir::Spec>,
    /// Errors and warnings, in the order the passes found them.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and checks one spec. `path` is the spec's workspace-relative path.
pub fn compile(path: &str, text: &str, catalog: &Catalog) -> Compiled {
    let mut diagnostics = Vec::new();
    let Some(file) = parse::parse(text, &mut diagnostics) else {
        return Compiled { ast: None, spec: None, diagnostics };
    };
    let spec = check::check(&file, path, catalog, &mut diagnostics);
    // A mistake inside a string (found while parsing) also withholds the IR.
    let spec = spec.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Compiled { ast: Some(file), spec, diagnostics }
}
