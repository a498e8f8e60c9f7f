//! A workspace of specs: finds the `.tib` files and the custom-field catalog,
//! compiles each spec and checks what specs must not share (their app ids).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ast::SectionKind;
use crate::catalog::{self, Catalog};
use crate::diag::Diagnostic;
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
            CatalogFile::Absent | CatalogFile::Invalid { .. } => Catalog::default(),
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
/// generate the same connector crate).
pub fn compile_files(root: &Path, paths: &[PathBuf], catalog: &Catalog) -> Result<Vec<SpecFile>, IoError> {
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| IoError {
            action: "read the spec",
            path: path.clone(),
            source,
        })?;
        let display = path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/");
        let compiled = compile(&display, &text, catalog);
        files.push(SpecFile { display, text, compiled });
    }
    report_shared_ids(&mut files);
    Ok(files)
}

fn report_shared_ids(files: &mut [SpecFile]) {
    let mut first: Vec<(String, String)> = Vec::new();
    for file in files.iter_mut() {
        let Some(spec) = &file.compiled.spec else { continue };
        let id = spec.app.id.clone();
        match first.iter().find(|(seen, _)| *seen == id) {
            Some((_, other)) => {
                let span = file
                    .compiled
                    .ast
                    .iter()
                    .flat_map(|ast| &ast.sections)
                    .find_map(|s| matches!(s.kind, SectionKind::App(_)).then_some(s.span))
                    .unwrap_or_default();
                file.compiled.diagnostics.push(
                    Diagnostic::error(
                        "tib::duplicate-app",
                        format!("app id `{id}` is already used by {other}"),
                        span,
                        "same app id",
                    )
                    .with_help("each spec generates connectors/<app id>; give the apps different names"),
                );
                file.compiled.spec = None;
            }
            None => first.push((id, file.display.clone())),
        }
    }
}
