//! Helpers shared by the compiler's integration tests: the workspace root and its catalog.
// Each test binary compiles this module and uses only some of its helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use tib_front::catalog::Catalog;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("compiler/ has a parent").to_path_buf()
}

/// The workspace's own `custom-fields.toml`.
pub fn catalog() -> Catalog {
    let text = std::fs::read_to_string(root().join(tib_front::catalog::FILE_NAME)).expect("the catalog is readable");
    Catalog::parse(&text).expect("the workspace catalog is valid")
}

/// `*.tib` files in a folder, sorted, as (file stem, workspace-relative path, text).
pub fn tib_files(dir: &Path) -> Vec<(String, String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the folder exists")
        .map(|entry| entry.expect("listable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tib"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().expect("named").to_string_lossy().into_owned();
            let relative =
                path.strip_prefix(root()).expect("inside the workspace").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("readable");
            (stem, relative, text)
        })
        .collect()
}
