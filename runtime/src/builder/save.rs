//! Saving a draft: into the specs directory only, under a name made from
//! the app id (never a path the browser sent), written whole or not at all,
//! and never over a version the author did not see.

use std::io::Write;
use std::path::{Path, PathBuf};

use tib_front::catalog::Catalog;

use super::{Draft, Opened, SpecsDir};
use crate::operate::Error;

/// A spec file's version: a hash of its bytes.
pub fn version(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// The file a spec of this text is saved as: `<app id>.tib`; `None` before it names its app.
pub fn file_name(text: &str) -> Option<String> {
    let parsed = super::text::parse(text).ok()?;
    let section = parsed.section(super::text::Part::App)?;
    let tib_front::ast::SectionKind::App(name) = &section.kind else { return None };
    let id = tib_front::ident::app_id(&name.plain()?);
    (!id.is_empty()).then(|| format!("{id}.tib"))
}

/// What saving did.
#[derive(Debug)]
pub struct Saved {
    pub path: PathBuf,
    pub integration: String,
    /// The runtime has a compiled connector of this app, which it keeps using.
    pub compiled: bool,
}

/// Saves `draft` into `specs`, formatted. A spec with errors is refused with how many;
/// a file changed on disk since the draft opened it, or another app's spec
/// under the same name, is a conflict.
pub fn save(specs: &SpecsDir, draft: &mut Draft, catalog: &Catalog) -> Result<Saved, Error> {
    // Saved in the layout `compiler fmt` writes.
    if let Ok(formatted) = tib_front::format::format(&draft.text) {
        draft.text = formatted;
    }
    let checked = draft.check(catalog);
    let Some(spec) = checked.spec else {
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        return Err(Error::invalid(format!(
            "the spec has {errors} error{}: it is not saved until they are fixed",
            if errors == 1 { "" } else { "s" }
        )));
    };
    let integration = spec.app.id.clone();
    let path = match &draft.opened {
        Opened::File { path, version: opened } => {
            let on_disk =
                std::fs::read(path).map_err(|e| Error::failed(format!("cannot read {}: {e}", path.display())))?;
            if version(&on_disk) != *opened {
                return Err(Error::conflict(format!(
                    "{} changed on disk since you opened it: open it again to see the changes (yours are in the text below)",
                    path.display()
                )));
            }
            path.clone()
        }
        Opened::New | Opened::Copy { .. } => {
            let path = specs.dir.join(format!("{integration}.tib"));
            if path.exists() {
                return Err(Error::conflict(format!(
                    "{} exists already: open that integration from the builder's list to change it",
                    path.display()
                )));
            }
            path
        }
    };
    write_atomically(&path, draft.text.as_bytes())?;
    draft.opened = Opened::File { path: path.clone(), version: version(draft.text.as_bytes()) };
    let report = crate::integrations::load(&specs.dir, specs.max_bytes).map_err(Error::failed)?;
    crate::integrations::log(&report);
    let compiled = tib_connectors::connector(&integration).is_some();
    Ok(Saved { path, integration, compiled })
}

/// Writes `bytes` to a new file beside `path`, then renames it over `path`: a
/// reader sees the old spec or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().ok_or_else(|| Error::failed("the spec has no directory"))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A dot file without the `.tib` extension: the specs watcher never reads it half written.
    let temporary = dir.join(format!(".{name}.{}.saving", crate::access::sessions::random_id()));
    let written = (|| {
        let mut file = std::fs::File::create_new(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        Error::failed(format!("cannot write {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_comes_from_the_app_id_alone() {
        assert_eq!(file_name("app \"Acme Cloud\"\n").as_deref(), Some("acme_cloud.tib"));
        assert_eq!(file_name("app \"../../etc/passwd\"\n").as_deref(), Some("etc_passwd.tib"));
        assert_eq!(file_name("base_url \"https://x\"\n"), None);
    }
}
