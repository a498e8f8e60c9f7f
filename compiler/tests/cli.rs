//! The `compiler` binary as a user runs it: exit codes and what it prints.

use std::process::Command;

fn compiler(args: &[&str]) -> (i32, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let output = Command::new(env!("CARGO_BIN_EXE_compiler")).args(args).current_dir(root).output().expect("runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn check_without_files_checks_every_example_and_succeeds() {
    let (code, stderr) = compiler(&["check"]);
    assert_eq!(code, 0, "{stderr}");
    let specs = std::fs::read_dir("../specs").expect("specs/").count();
    assert!(stderr.contains(&format!("checked {specs} specs: 0 errors, 0 warnings")), "{stderr}");
}

#[test]
fn check_of_a_broken_spec_fails_with_the_diagnostic() {
    let (code, stderr) = compiler(&["check", "compiler/tests/fail/several-mistakes.tib"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("compiler/tests/fail/several-mistakes.tib:24:3"), "{stderr}");
    assert!(stderr.contains("did you mean `email`?"), "{stderr}");
    assert!(stderr.contains("checked 1 spec: 4 errors, 0 warnings"), "{stderr}");
}

#[test]
fn warnings_alone_do_not_fail_the_check() {
    let (code, stderr) = compiler(&["check", "compiler/tests/fail/warn-unused-credential.tib"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("credential `region` is never used"), "{stderr}");
}

#[test]
fn an_unreadable_file_is_named() {
    let (code, stderr) = compiler(&["check", "specs/does-not-exist.tib"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("could not read the spec specs/does-not-exist.tib"), "{stderr}");
}
