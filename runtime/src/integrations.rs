//! The integrations this runtime offers: the connectors compiled into it,
//! and the specs of a directory (`--specs DIR`) that it has no compiled
//! connector for, run through the IR interpreter that preview uses. A spec is
//! checked when it is first seen and whenever its file changes; one with
//! errors is refused with its diagnostics and never replaces the version that
//! worked. A compiled connector of the same app takes precedence.
//!
//! One catalog per process, like the compiled registry it extends: every
//! part of the runtime (sync, connect, the API, the console) reads the same.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use tib_front::diag::{self, Diagnostic};
use tib_front::workspace::{self, CatalogFile};
use tib_support::Connector;

/// Where an integration's connector comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    /// Interpreted from this spec file.
    Interpreted(PathBuf),
}

/// An integration to connect.
#[derive(Clone)]
pub struct Integration {
    pub id: String,
    pub connector: &'static dyn Connector,
    pub origin: Origin,
}

/// The specs of the directory as last loaded.
#[derive(Default)]
struct Loaded {
    /// By app id: the interpreted connector, and the file it came from.
    interpreted: BTreeMap<String, (&'static dyn Connector, PathBuf)>,
    /// Each file as last read: when it changed and how long it was, to check again only what changed.
    seen: BTreeMap<PathBuf, (Option<SystemTime>, u64)>,
}

static LOADED: RwLock<Option<Loaded>> = RwLock::new(None);

fn loaded() -> std::sync::RwLockReadGuard<'static, Option<Loaded>> {
    LOADED.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The connector of an integration: compiled, or else interpreted.
pub fn connector(id: &str) -> Option<&'static dyn Connector> {
    tib_connectors::connector(id).or_else(|| loaded().as_ref()?.interpreted.get(id).map(|(c, _)| *c))
}

/// Every integration, by id.
pub fn all() -> Vec<Integration> {
    let mut all: Vec<Integration> = tib_connectors::CONNECTORS
        .iter()
        .map(|(id, connector)| Integration { id: (*id).to_owned(), connector: *connector, origin: Origin::Compiled })
        .collect();
    if let Some(loaded) = loaded().as_ref() {
        all.extend(loaded.interpreted.iter().map(|(id, (connector, path))| Integration {
            id: id.clone(),
            connector: *connector,
            origin: Origin::Interpreted(path.clone()),
        }));
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

/// What a look at the directory found, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// App ids now interpreted from a new or changed spec.
    pub offered: Vec<String>,
    /// Specs refused, with why: their diagnostics, or another reason.
    pub refused: Vec<(PathBuf, String)>,
    /// Specs of an app this build has a compiled connector for.
    pub compiled: Vec<String>,
    /// App ids whose spec file is gone.
    pub withdrawn: Vec<String>,
}

/// Checks the specs of `dir` that are new or changed since the last look,
/// and offers those without errors. The custom-field catalog is the
/// `custom-fields.toml` in `dir`, or else beside it (as in a tib repository).
pub fn load(dir: &Path) -> Result<Report, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list the specs in {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "tib"))
        .collect();
    files.sort();
    let root = if dir.join(tib_front::catalog::FILE_NAME).exists() { dir } else { dir.parent().unwrap_or(dir) };
    let catalog = CatalogFile::load(root).map_err(|e| e.to_string())?;
    if let CatalogFile::Invalid { display, text, diagnostics } = &catalog {
        return Err(format!(
            "the custom-field catalog has errors:\n{}",
            diag::render(diagnostics, display, text, diag::Style::Plain)
        ));
    }
    let catalog = catalog.catalog();

    let mut report = Report::default();
    let mut guard = LOADED.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let loaded = guard.get_or_insert_with(Loaded::default);
    for path in &files {
        let stamp = std::fs::metadata(path).map(|m| (m.modified().ok(), m.len())).unwrap_or((None, 0));
        if loaded.seen.get(path) == Some(&stamp) {
            continue;
        }
        loaded.seen.insert(path.clone(), stamp);
        let display = workspace::display(root, path);
        let (text, unreadable) = workspace::read(path, &display);
        let compiled = match unreadable {
            Some(diagnostic) => tib_front::Compiled { ast: None, spec: None, diagnostics: vec![diagnostic] },
            None => tib_front::compile(&display, &text, &catalog),
        };
        let Some(spec) = compiled.spec else {
            let errors: Vec<Diagnostic> = compiled.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
            report.refused.push((path.clone(), diag::render(&errors, &display, &text, diag::Style::Plain)));
            continue;
        };
        let id = spec.app.id.clone();
        if tib_connectors::connector(&id).is_some() {
            report.compiled.push(id);
            continue;
        }
        if let Some((_, other)) = loaded.interpreted.get(&id).filter(|(_, other)| other != path) {
            let why = format!("the app id `{id}` is already offered by {}; rename the app", other.display());
            report.refused.push((path.clone(), why));
            continue;
        }
        // A spec whose app was renamed offers the new id only.
        let renamed: Vec<String> = loaded
            .interpreted
            .iter()
            .filter(|(other, (_, p))| p == path && **other != id)
            .map(|(o, _)| o.clone())
            .collect();
        for other in renamed {
            loaded.interpreted.remove(&other);
            report.withdrawn.push(other);
        }
        // Leaked: a version is kept for the process's life, as syncs under way may still use it.
        let connector: &'static dyn Connector = Box::leak(Box::new(tib_interpret::Interpreted::new(spec)));
        loaded.interpreted.insert(id.clone(), (connector, path.clone()));
        report.offered.push(id);
    }
    let gone: Vec<String> =
        loaded.interpreted.iter().filter(|(_, (_, path))| !files.contains(path)).map(|(id, _)| id.clone()).collect();
    for id in gone {
        loaded.interpreted.remove(&id);
        report.withdrawn.push(id);
    }
    loaded.seen.retain(|path, _| files.contains(path));
    Ok(report)
}

/// Logs what a look at the specs found.
pub fn log(report: &Report) {
    for id in &report.offered {
        tracing::info!(integration = id, "offering the integration from its spec, interpreted");
    }
    for (path, why) in &report.refused {
        tracing::error!(spec = %path.display(), "the spec is refused; a version that worked before stays offered:\n{why}");
    }
    for id in &report.compiled {
        tracing::info!(integration = id, "a spec of a compiled integration: the compiled connector is used");
    }
    for id in &report.withdrawn {
        tracing::warn!(integration = id, "the spec is gone: the integration is no longer offered");
    }
}

/// Looks at the specs of `dir` every `every`, for as long as it is polled.
pub async fn watch(dir: PathBuf, every: Duration) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(every).await;
        let looked = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || load(&dir)).await
        };
        match looked {
            Ok(Ok(report)) => log(&report),
            Ok(Err(error)) => tracing::error!(%error, "cannot look at the specs"),
            Err(error) => tracing::error!(%error, "the look at the specs stopped"),
        }
    }
}
