//! A workspace of specs: finds the `.tib` files and the custom-field catalog,
//! compiles each spec and checks what specs must not share (their app ids).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ast::SectionKind;
use crate::catalog::{self, Catalog};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::{Compiled, compile};

/// A file that could not be read or listed.
#[derive(Debug)]
pub struct IoError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {} {}: {}", self.action, self.path.display(), self.source)
    }
}

impl std::error::Error for IoError {}

/// A file the workspace read, with what compiling it found.
#[derive(Debug)]
pub struct SpecFile {
    /// The path as shown to the user (relative to the workspace root when inside it).
    pub display: String,
    pub text: String,
    pub compiled: Compiled,
}

/// The catalog as read from the workspace, or why it could not be used.
#[derive(Debug)]
pub enum CatalogFile {
    /// No catalog file: no app defines custom fields.
    Absent,
    Loaded(Catalog),
    /// The catalog has errors; they are reported against its text.
    Invalid {
        display: String,
        text: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl CatalogFile {
    /// Reads `custom-fields.toml` at `root`, if present.
    pub fn load(root: &Path) -> Result<CatalogFile, IoError> {
        let path = root.join(catalog::FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CatalogFile::Absent),
            Err(source) => {
                return Err(IoError { action: "read the custom-field catalog", path, source });
            }
        };
        Ok(match Catalog::parse(&text) {
            Ok(catalog) => CatalogFile::Loaded(catalog),
            Err(diagnostics) => CatalogFile::Invalid { display: catalog::FILE_NAME.to_owned(), text, diagnostics },
        })
    }

    /// The catalog to check specs against; an invalid one counts as empty
    /// (its own errors are reported separately).
    pub fn catalog(&self) -> Catalog {
        match self {
            CatalogFile::Loaded(catalog) => catalog.clone(),
            CatalogFile::Absent => Catalog::missing(),
            CatalogFile::Invalid { .. } => Catalog::default(),
        }
    }
}

/// Every `*.tib` file in `root/specs`, sorted by name.
pub fn spec_paths(root: &Path) -> Result<Vec<PathBuf>, IoError> {
    let dir = root.join("specs");
    let entries =
        std::fs::read_dir(&dir).map_err(|source| IoError { action: "list the specs in", path: dir.clone(), source })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| IoError { action: "list the specs in", path: dir.clone(), source })?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "tib") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Compiles each file, then reports app ids that two specs share (they would
/// generate the same connector crate). A file that cannot be read, or is not
/// UTF-8, gets a diagnostic of its own, and the other files are still checked.
pub fn compile_files(root: &Path, paths: &[PathBuf], catalog: &Catalog) -> Vec<SpecFile> {
    let mut files = Vec::new();
    for path in paths {
        let display = display(root, path);
        let (text, unusable) = read(path, &display);
        let compiled = match unusable {
            None => compile(&display, &text, catalog),
            Some(diagnostic) => Compiled { ast: None, spec: None, diagnostics: vec![diagnostic] },
        };
        files.push(SpecFile { display, text, compiled });
    }
    report_shared_ids(&mut files);
    files
}

/// The code of the diagnostic a spec that cannot be read gets.
pub const UNREADABLE: &str = "tib::unreadable";

/// How a spec's path is shown: relative to the workspace root, with `/`.
pub fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// A spec's text; when it cannot be read or is not UTF-8, what can be shown
/// of it and a diagnostic that says where.
pub fn read(path: &Path, display: &str) -> (String, Option<Diagnostic>) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let message = format!("could not read the spec {display}: {e}");
            let diagnostic = Diagnostic::error(UNREADABLE, message, Span::default(), "here")
                .with_help("check the path, and that the file can be read");
            return (String::new(), Some(diagnostic));
        }
    };
    let e = match String::from_utf8(bytes) {
        Ok(text) => return (text, None),
        Err(e) => e,
    };
    let at = e.utf8_error().valid_up_to();
    let length = e.utf8_error().error_len().unwrap_or(1);
    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
    let position = crate::diag::position(&text, at);
    let message = format!(
        "{display} is not UTF-8: byte {at} (line {}, column {}) starts an invalid sequence",
        position.line, position.column
    );
    // The lossy text holds U+FFFD (three bytes) where the invalid bytes were.
    let span = Span::new(at, at + "\u{fffd}".len().min(text.len() - at));
    let plural = if length == 1 { "" } else { "s" };
    let diagnostic = Diagnostic::error("tib::not-utf8", message, span, "not UTF-8")
        .with_help(format!("save the file as UTF-8 ({length} invalid byte{plural} here)"));
    (text, Some(diagnostic))
}

fn report_shared_ids(files: &mut [SpecFile]) {
    // The first file of each app id, by index.
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for i in 0..files.len() {
        let Some(spec) = &files[i].compiled.spec else { continue };
        let id = spec.app.id.clone();
        let Some(&earlier) = first.get(&id) else {
            first.insert(id, i);
            continue;
        };
        let (this, other) = (files[i].display.clone(), files[earlier].display.clone());
        let shared = |file: &SpecFile, other: &str| {
            Diagnostic::error(
                "tib::duplicate-app",
                format!("app id `{id}` is used by {} and {other}", file.display),
                app_span(file),
                "same app id",
            )
            .with_help("each spec generates connectors/<app id>; give the apps different names")
        };
        // Both files are told, each pointing at its own `app` line.
        let later = shared(&files[i], &other);
        files[i].compiled.diagnostics.push(later);
        files[i].compiled.spec = None;
        if files[earlier].compiled.spec.is_some() {
            let former = shared(&files[earlier], &this);
            files[earlier].compiled.diagnostics.push(former);
            files[earlier].compiled.spec = None;
        }
    }
}

/// Where a file's `app` section is.
fn app_span(file: &SpecFile) -> Span {
    file.compiled
        .ast
        .iter()
        .flat_map(|ast| &ast.sections)
        .find_map(|s| matches!(s.kind, SectionKind::App(_)).then_some(s.span))
        .unwrap_or_default()
}
