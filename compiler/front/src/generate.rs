//! Writing generated crates into `connectors/`: only files whose bytes
//! change are written, and crates of specs that are gone are removed.

use std::collections::BTreeSet;
use std::path::Path;

use crate::emit::{self, CONNECTORS_DIR, GeneratedFile, MARKER};
use crate::ir;
use crate::workspace::IoError;

/// Every file the compiler writes for these specs.
pub fn files(specs: &[&ir::Spec]) -> Vec<GeneratedFile> {
    let mut files: Vec<GeneratedFile> = specs.iter().flat_map(|spec| emit::connector(spec)).collect();
    files.extend(emit::registry(specs));
    files
}

/// What a generation changed, by workspace-relative path.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub written: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

/// Writes `files` under `root`, and removes generated crates no spec makes.
pub fn write(root: &Path, files: &[GeneratedFile]) -> Result<Changes, IoError> {
    let mut changes = Changes::default();
    for file in files {
        let path = root.join(&file.path);
        if std::fs::read(&path).is_ok_and(|existing| existing == file.contents.as_bytes()) {
            changes.unchanged += 1;
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| IoError {
                action: "create the folder",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, &file.contents).map_err(|source| IoError {
            action: "write",
            path: path.clone(),
            source,
        })?;
        changes.written.push(file.path.clone());
    }
    for dir in leftover_crates(root, files)? {
        let path = root.join(&dir);
        std::fs::remove_dir_all(&path).map_err(|source| IoError { action: "remove the stale crate", path, source })?;
        changes.removed.push(dir);
    }
    Ok(changes)
}

/// The paths that differ from what `files` would write: missing or changed
/// files, and generated crates no spec makes any more.
pub fn stale(root: &Path, files: &[GeneratedFile]) -> Result<Vec<String>, IoError> {
    let mut stale: Vec<String> = files
        .iter()
        .filter(|file| !std::fs::read(root.join(&file.path)).is_ok_and(|existing| existing == file.contents.as_bytes()))
        .map(|file| file.path.clone())
        .collect();
    stale.extend(leftover_crates(root, files)?);
    Ok(stale)
}

/// Folders in `connectors/` that hold a generated crate the files do not include.
fn leftover_crates(root: &Path, files: &[GeneratedFile]) -> Result<Vec<String>, IoError> {
    let dir = root.join(CONNECTORS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let wanted: BTreeSet<&str> = files.iter().filter_map(|f| f.path.split('/').nth(1)).collect();
    let mut leftover = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| IoError { action: "list", path: dir.clone(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let manifest = entry.path().join("Cargo.toml");
        // Only folders the compiler made itself are ever removed.
        let generated = std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains(MARKER));
        if generated && !wanted.contains(name.as_str()) {
            leftover.push(format!("{CONNECTORS_DIR}/{name}"));
        }
    }
    leftover.sort();
    Ok(leftover)
}
