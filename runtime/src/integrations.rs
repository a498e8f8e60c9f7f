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
use std::sync::{Arc, Mutex, RwLock};
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
    pub connector: Arc<dyn Connector>,
    pub origin: Origin,
}

/// The specs of the directory as last loaded.
#[derive(Default)]
struct Loaded {
    /// By app id: the interpreted connector, and the file it came from. A
    /// version replaced is freed once the last sync that took it ends.
    interpreted: BTreeMap<String, (Arc<dyn Connector>, PathBuf)>,
    /// Each file as last read: when it changed and how long it was, to check again only what changed.
    seen: BTreeMap<PathBuf, Stamp>,
    /// Specs of an app compiled into this build, which is used instead: the app id by file.
    shadowed: BTreeMap<PathBuf, String>,
    /// The custom-field catalog of the last look: what specs of the directory are checked with.
    catalog: Option<tib_front::catalog::Catalog>,
}

/// A file's last change and length.
type Stamp = (Option<SystemTime>, u64);

static LOADED: RwLock<Option<Loaded>> = RwLock::new(None);
/// One look at the directory at a time; requests read [`LOADED`] meanwhile.
static LOOKING: Mutex<()> = Mutex::new(());

/// How large a spec may be, unless the operator says otherwise: real specs are a few KiB.
pub const DEFAULT_MAX_SPEC_BYTES: u64 = 1 << 20;

fn loaded() -> std::sync::RwLockReadGuard<'static, Option<Loaded>> {
    LOADED.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The connector of an integration: compiled, or else interpreted.
pub fn connector(id: &str) -> Option<Arc<dyn Connector>> {
    if let Some(compiled) = tib_connectors::connector(id) {
        return Some(Arc::new(compiled));
    }
    loaded().as_ref()?.interpreted.get(id).map(|(c, _)| c.clone())
}

/// The specs of the directory that a compiled connector of the same app stands in for: each path and app id.
pub fn shadowed() -> Vec<(PathBuf, String)> {
    loaded().as_ref().map(|l| l.shadowed.iter().map(|(p, id)| (p.clone(), id.clone())).collect()).unwrap_or_default()
}

/// What an operator is told of a spec that a compiled connector stands in for.
pub fn shadowed_words(path: &Path, id: &str) -> String {
    format!(
        "the spec {} is ignored: this build has `{id}` compiled in, which is used instead (rename the spec's app to \
         offer it as another integration, or remove it)",
        path.display()
    )
}

/// Every integration, by id.
pub fn all() -> Vec<Integration> {
    let mut all: Vec<Integration> = tib_connectors::CONNECTORS
        .iter()
        .map(|(id, connector)| Integration {
            id: (*id).to_owned(),
            connector: Arc::new(*connector),
            origin: Origin::Compiled,
        })
        .collect();
    if let Some(loaded) = loaded().as_ref() {
        all.extend(loaded.interpreted.iter().map(|(id, (connector, path))| Integration {
            id: id.clone(),
            connector: connector.clone(),
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
    /// Specs of an app this build has a compiled connector for, which is used instead: each spec's path and app id.
    pub compiled: Vec<(PathBuf, String)>,
    /// App ids whose spec file is gone.
    pub withdrawn: Vec<String>,
}

/// A spec file of the directory, as listed: its stamp, or why it is not read.
struct Listed {
    path: PathBuf,
    stamp: Stamp,
    refused: Option<String>,
}

/// The `.tib` files of `dir`. A symbolic link is read only where it stays
/// inside `dir`, and a file larger than `max_bytes` not at all.
fn list(dir: &Path, max_bytes: u64) -> Result<Vec<Listed>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list the specs in {}: {e}", dir.display()))?;
    let home = dir.canonicalize().map_err(|e| format!("cannot resolve the specs directory {}: {e}", dir.display()))?;
    let mut listed: Vec<Listed> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "tib"))
        .map(|path| {
            let metadata = std::fs::metadata(&path);
            let stamp = metadata.as_ref().map(|m| (m.modified().ok(), m.len())).unwrap_or((None, 0));
            let refused = match (path.canonicalize(), &metadata) {
                (Ok(target), _) if !target.starts_with(&home) => Some(format!(
                    "it is a symbolic link out of the specs directory (to {}); only files inside it are read",
                    target.display()
                )),
                (Ok(_), Ok(m)) if !m.is_file() => Some("it is not a file".to_owned()),
                (Ok(_), Ok(m)) if m.len() > max_bytes => Some(format!(
                    "it is {} bytes, more than the {max_bytes} a spec may be (--max-spec-bytes); it is not read",
                    m.len()
                )),
                (Err(e), _) => Some(format!("it cannot be read: {e}")),
                (_, Err(e)) => Some(format!("it cannot be read: {e}")),
                _ => None,
            };
            Listed { path, stamp, refused }
        })
        .collect();
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listed)
}

/// What checking one spec file gave.
enum Checked {
    Spec(Box<tib_front::ir::Spec>),
    Refused(String),
}

/// Reads and checks one spec; a file that is not a spec shows no more than its offending line.
fn check(path: &Path, root: &Path, catalog: &tib_front::catalog::Catalog) -> Checked {
    let display = workspace::display(root, path);
    let (text, unreadable) = workspace::read(path, &display);
    let compiled = match unreadable {
        Some(diagnostic) => tib_front::Compiled { ast: None, spec: None, diagnostics: vec![diagnostic] },
        None => tib_front::compile(&display, &text, catalog),
    };
    match compiled.spec {
        Some(spec) => Checked::Spec(Box::new(spec)),
        None => {
            let errors: Vec<Diagnostic> = compiled.diagnostics.into_iter().filter(Diagnostic::is_error).collect();
            Checked::Refused(diag::render(&errors, &display, &text, diag::Style::Plain))
        }
    }
}

/// Checks the specs of `dir` that are new or changed since the last look,
/// and offers those without errors. The custom-field catalog is the
/// `custom-fields.toml` in `dir`, or else beside it (as in a tib repository).
/// Specs are read and checked while requests go on reading the integrations
/// offered; only what changed is swapped in at the end.
pub fn load(dir: &Path, max_spec_bytes: u64) -> Result<Report, String> {
    let _looking = LOOKING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let files = list(dir, max_spec_bytes)?;
    let root = catalog_root(dir);
    let catalog = catalog(dir)?;
    let changed: Vec<&Listed> = {
        let loaded = loaded();
        let seen = loaded.as_ref().map(|l| &l.seen);
        files.iter().filter(|file| seen.and_then(|s| s.get(&file.path)) != Some(&file.stamp)).collect()
    };
    let checked: Vec<(&Listed, Checked)> = changed
        .into_iter()
        .map(|file| match &file.refused {
            Some(why) => (file, Checked::Refused(why.clone())),
            None => (file, check(&file.path, root, &catalog)),
        })
        .collect();

    let mut report = Report::default();
    let mut guard = LOADED.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    let loaded = guard.get_or_insert_with(Loaded::default);
    loaded.catalog = Some(catalog);
    for (file, checked) in checked {
        let path = &file.path;
        loaded.seen.insert(path.clone(), file.stamp);
        loaded.shadowed.remove(path);
        let spec = match checked {
            Checked::Spec(spec) => spec,
            Checked::Refused(why) => {
                report.refused.push((path.clone(), why));
                continue;
            }
        };
        let id = spec.app.id.clone();
        if tib_connectors::connector(&id).is_some() {
            loaded.shadowed.insert(path.clone(), id.clone());
            report.compiled.push((path.clone(), id));
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
        let connector: Arc<dyn Connector> = Arc::new(tib_interpret::Interpreted::new(*spec));
        loaded.interpreted.insert(id.clone(), (connector, path.clone()));
        report.offered.push(id);
    }
    let present = |path: &PathBuf| files.iter().any(|file| &file.path == path);
    let gone: Vec<String> =
        loaded.interpreted.iter().filter(|(_, (_, path))| !present(path)).map(|(id, _)| id.clone()).collect();
    for id in gone {
        loaded.interpreted.remove(&id);
        report.withdrawn.push(id);
    }
    loaded.seen.retain(|path, _| present(path));
    loaded.shadowed.retain(|path, _| present(path));
    Ok(report)
}

/// Where the catalog of `dir`'s specs is: `dir` itself, or else its parent (as in a tib repository).
fn catalog_root(dir: &Path) -> &Path {
    if dir.join(tib_front::catalog::FILE_NAME).exists() { dir } else { dir.parent().unwrap_or(dir) }
}

/// The custom-field catalog of the repository this runtime was built from:
/// the one its compiled connectors were checked with.
const BUILT_CATALOG: &str = include_str!("../../custom-fields.toml");

/// The custom-field catalog the specs of `dir` are checked with: its own,
/// or else the one this build's connectors were checked with.
pub fn catalog(dir: &Path) -> Result<tib_front::catalog::Catalog, String> {
    let catalog = CatalogFile::load(catalog_root(dir)).map_err(|e| e.to_string())?;
    if let CatalogFile::Invalid { display, text, diagnostics } = &catalog {
        return Err(format!(
            "the custom-field catalog has errors:\n{}",
            diag::render(diagnostics, display, text, diag::Style::Plain)
        ));
    }
    let catalog = catalog.catalog();
    Ok(if catalog.is_missing() { built_catalog() } else { catalog })
}

/// The catalog the last look at the specs directory checked with, without reading it again.
pub fn loaded_catalog() -> Option<tib_front::catalog::Catalog> {
    loaded().as_ref().and_then(|l| l.catalog.clone())
}

/// The catalog this build's connectors were checked with.
pub fn built_catalog() -> tib_front::catalog::Catalog {
    tib_front::catalog::Catalog::parse(BUILT_CATALOG).unwrap_or_else(|_| tib_front::catalog::Catalog::missing())
}

/// Logs what a look at the specs found.
pub fn log(report: &Report) {
    for id in &report.offered {
        tracing::info!(integration = id, "offering the integration from its spec, interpreted");
    }
    for (path, why) in &report.refused {
        tracing::error!(spec = %path.display(), "the spec is refused; a version that worked before stays offered:\n{why}");
    }
    for (path, id) in &report.compiled {
        tracing::warn!(integration = id, "{}", shadowed_words(path, id));
    }
    for id in &report.withdrawn {
        tracing::warn!(integration = id, "the spec is gone: the integration is no longer offered");
    }
}

/// Looks at the specs of `dir` every `every`, on a thread of its own for the
/// process's life: off the requests' path, and always the same thread, so
/// that the memory a large spec's check takes is reused by the next check
/// instead of growing another allocator arena.
pub fn watch(dir: PathBuf, max_spec_bytes: u64, every: Duration) {
    let watching = std::thread::Builder::new().name("tib-specs".to_owned()).spawn(move || {
        loop {
            std::thread::sleep(every);
            match load(&dir, max_spec_bytes) {
                Ok(report) => log(&report),
                Err(error) => tracing::error!(%error, "cannot look at the specs"),
            }
        }
    });
    if let Err(error) = watching {
        tracing::error!(%error, "cannot start looking at the specs: they are not checked again until a restart");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example Acme spec as another app, with no custom fields (none of its own are catalogued here).
    fn spec_of(app: &str) -> String {
        let acme = include_str!("../../specs/acme.tib").replacen("app \"Acme\"", &format!("app \"{app}\""), 1);
        let custom = acme.find("\ncustom_fields").expect("acme maps custom fields");
        let end = acme[custom + 1..].find("\n}").map_or(acme.len(), |i| custom + 1 + i + 2);
        format!("{}{}", &acme[..custom], &acme[end..])
    }

    // One test: the catalog of interpreted specs is the process's, as in the runtime.
    #[test]
    fn specs_are_read_within_the_directory_and_their_bound_and_old_versions_freed() {
        let outside = tempfile::tempdir().expect("a directory");
        let dir = tempfile::tempdir().expect("a directory");
        std::fs::write(dir.path().join("custom-fields.toml"), "").expect("an empty catalog");
        std::fs::write(dir.path().join("beta.tib"), spec_of("Beta")).expect("write");
        std::fs::write(outside.path().join("gamma.tib"), spec_of("Gamma")).expect("write");
        std::os::unix::fs::symlink(outside.path().join("gamma.tib"), dir.path().join("gamma.tib")).expect("link");
        std::os::unix::fs::symlink(dir.path().join("beta.tib"), dir.path().join("link-to-beta.tib")).expect("link");
        std::fs::write(dir.path().join("huge.tib"), format!("{}\n# {}\n", spec_of("Huge"), "x".repeat(4096)))
            .expect("write");

        let report = load(dir.path(), 4096).expect("looked");
        assert_eq!(report.offered, ["beta"], "{report:?}");
        let why = |name: &str| {
            let path = dir.path().join(name);
            report.refused.iter().find(|(p, _)| *p == path).map(|(_, why)| why.clone()).unwrap_or_default()
        };
        assert!(why("gamma.tib").contains("symbolic link out of the specs directory"), "{report:?}");
        assert!(why("huge.tib").contains("more than the 4096 a spec may be"), "{report:?}");
        assert!(why("link-to-beta.tib").contains("already offered by"), "a link inside is read: {report:?}");
        assert!(connector("gamma").is_none() && connector("huge").is_none());

        let first = Arc::downgrade(&connector("beta").expect("offered"));
        let syncing = connector("beta").expect("a sync takes the version it starts with");
        std::fs::write(dir.path().join("beta.tib"), spec_of("Beta").replacen("page_size", "page_size ", 1))
            .expect("edit");
        let report = load(dir.path(), 4096).expect("looked");
        assert!(report.offered.contains(&"beta".to_owned()), "{report:?}");
        assert!(first.upgrade().is_some(), "kept while a sync uses it");
        drop(syncing);
        assert!(first.upgrade().is_none(), "freed once no sync uses it");
        assert!(connector("beta").is_some(), "the new version is offered");

        std::fs::remove_dir_all(dir.path()).expect("removed");
        std::fs::create_dir(dir.path()).expect("made again, empty");
        assert_eq!(load(dir.path(), 4096).expect("looked").withdrawn, ["beta"]);
    }
}
