//! The generated connectors: pinned as snapshots, identical run to run, and
//! the checked-in `connectors/` exactly what the compiler writes now.

mod common;

use tib_front::workspace;

fn generated() -> Vec<tib_front::emit::GeneratedFile> {
    let root = common::root();
    let paths = workspace::spec_paths(&root).expect("specs/ is listable");
    let files = workspace::compile_files(&root, &paths, &common::catalog());
    let specs: Vec<&tib_front::ir::Spec> =
        files.iter().map(|f| f.compiled.spec.as_ref().expect("every example spec checks clean")).collect();
    tib_front::generate::files(&specs)
}

#[test]
fn checked_in_connectors_are_what_the_compiler_writes() {
    let stale = tib_front::generate::stale(&common::root(), &generated()).expect("connectors/ is readable");
    assert!(stale.is_empty(), "connectors/ is stale: {stale:?}\nrun `cargo run -p compiler` and commit the result");
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generated(), generated());
}

#[test]
fn generated_code_is_pinned() {
    for file in generated() {
        let name = file.path.trim_start_matches("connectors/").replace(['/', '.'], "_");
        insta::assert_snapshot!(format!("gen_{name}"), file.contents);
    }
}
