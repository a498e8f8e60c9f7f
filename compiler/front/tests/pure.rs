//! The front end stays a library with no network or async dependency: the
//! runtime and the fuzz targets link it alone, and the tools that talk HTTP
//! live in the `compiler` crate.

use std::process::Command;

/// Crates that would mean the front end can open a connection or needs a runtime.
const FORBIDDEN: &[&str] = &["tokio", "reqwest", "hyper", "mio", "futures-util", "tib-support", "wiremock"];

#[test]
fn the_front_end_depends_on_no_network_or_async_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["tree", "--offline", "-p", "tib-front", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8(output.stdout).expect("UTF-8");
    let names: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(names.contains(&"pest"), "the tree lists the front end's dependencies: {names:?}");
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|name| names.contains(name)).collect();
    assert!(found.is_empty(), "tib-front depends on {found:?}");
}
