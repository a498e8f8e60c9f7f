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
    assert!(stderr.contains("error[tib::unknown-setting]"), "the severity in words: {stderr}");
}

#[test]
fn warnings_alone_do_not_fail_the_check() {
    let (code, stderr) = compiler(&["check", "compiler/tests/fail/warn-unused-credential.tib"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("credential `region` is never used"), "{stderr}");
}

#[test]
fn an_unreadable_file_is_named_and_the_others_are_still_checked() {
    let (code, stderr) = compiler(&["check", "specs/does-not-exist.tib", "compiler/tests/fail/several-mistakes.tib"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("could not read the spec specs/does-not-exist.tib"), "{stderr}");
    assert!(stderr.contains("did you mean `email`?"), "the other file is checked: {stderr}");
    assert!(stderr.contains("checked 2 specs: 5 errors"), "{stderr}");
}

#[test]
fn a_file_that_is_not_utf8_gets_its_line_column_and_byte() {
    let dir = tempfile::tempdir().expect("dir");
    let text = std::fs::read("compiler/tests/fail/several-mistakes.tib")
        .or_else(|_| std::fs::read("tests/fail/several-mistakes.tib"))
        .expect("a spec");
    let mut bytes = b"# Latin-1: caf\xe9\n".to_vec();
    bytes.extend(text);
    let path = dir.path().join("latin1.tib");
    std::fs::write(&path, bytes).expect("written");
    let path = path.to_string_lossy().into_owned();
    let (code, stderr) = compiler(&["check", &path, "specs/acme.tib"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is not UTF-8: byte 14 (line 1, column 15) starts an invalid"), "{stderr}");
    assert!(stderr.contains("latin1.tib:1:15"), "located: {stderr}");
    assert!(stderr.contains("save the file as UTF-8"), "{stderr}");
    assert!(stderr.contains("checked 2 specs: 1 error"), "the other file is checked: {stderr}");
}

#[test]
fn check_in_json_gives_codes_places_and_quick_fixes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let output = Command::new(env!("CARGO_BIN_EXE_compiler"))
        .args(["check", "--format", "json", "compiler/tests/fail/several-mistakes.tib"])
        .current_dir(root)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document on stdout");
    assert_eq!((document["errors"].as_u64(), document["warnings"].as_u64()), (Some(4), Some(0)));
    let file = &document["files"][0];
    assert_eq!(file["path"], "compiler/tests/fail/several-mistakes.tib");
    let diagnostics = file["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), 4);
    let typo = diagnostics
        .iter()
        .find(|d| d["help"].as_str().is_some_and(|h| h.contains("did you mean `email`?")))
        .expect("the email typo");
    let label = &typo["labels"][0];
    assert_eq!(
        (label["primary"].as_bool(), label["from"]["line"].as_u64(), label["from"]["column"].as_u64()),
        (Some(true), Some(24), Some(3))
    );
    let text = std::fs::read_to_string(root.join("compiler/tests/fail/several-mistakes.tib")).expect("read");
    let (start, end) = (label["start"].as_u64().expect("start") as usize, label["end"].as_u64().expect("end") as usize);
    assert_eq!(typo["replacements"][0]["text"], "email");
    assert_eq!(
        (typo["replacements"][0]["start"].as_u64(), typo["replacements"][0]["end"].as_u64()),
        (Some(start as u64), Some(end as u64))
    );
    assert_eq!(&text[start..end], "emial", "the replacement covers the typo as written");
    assert!(
        diagnostics
            .iter()
            .all(|d| d["code"].as_str().is_some_and(|c| c.starts_with("tib::")) && d["severity"] == "error")
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), reports are in colour unless
/// NO_COLOR is set; either way the severity is written in words.
#[test]
fn no_color_turns_colour_off_on_a_terminal() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let command = format!("{} check compiler/tests/fail/several-mistakes.tib", env!("CARGO_BIN_EXE_compiler"));
    let on_terminal = |no_color: Option<&str>| {
        let mut script = Command::new("script");
        script.args(["-qec", &command, "/dev/null"]).current_dir(root).env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        String::from_utf8_lossy(&script.output().expect("script runs").stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains('\u{1b}'), "colour on a terminal: {coloured}");
    let plain = on_terminal(Some("1"));
    assert!(!plain.contains('\u{1b}'), "NO_COLOR=1: {plain}");
    assert!(plain.contains("error[tib::unknown-setting]"), "{plain}");
}

#[test]
fn outside_a_workspace_the_missing_catalog_is_named_not_the_spec() {
    let dir = tempfile::tempdir().expect("dir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let spec = dir.path().join("acme.tib");
    std::fs::copy(root.join("specs/acme.tib"), &spec).expect("copied");
    let output = Command::new(env!("CARGO_BIN_EXE_compiler"))
        .args(["--root", &dir.path().to_string_lossy(), "check", &spec.to_string_lossy()])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[tib::no-catalog]"), "{stderr}");
    assert!(stderr.contains("no custom-fields.toml was found, so no app has custom fields"), "{stderr}");
    assert!(!stderr.contains("defines nothing for"), "the spec is not blamed: {stderr}");
}

#[test]
fn fmt_check_shows_the_difference_and_fmt_rewrites_only_what_needs_it() {
    let dir = tempfile::tempdir().expect("dir");
    let messy = dir.path().join("messy.tib");
    let tidy = dir.path().join("tidy.tib");
    let broken = dir.path().join("broken.tib");
    std::fs::write(&messy, "app   \"A\"\nfields {\nid = id\n    email=mail\n}\n").expect("written");
    std::fs::write(&tidy, "app \"A\"\n").expect("written");
    std::fs::write(&broken, "app \"A\"\nfields { id = id\n").expect("written");
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_compiler"));
        command.arg("--root").arg(dir.path()).arg("fmt").args(args);
        let output = command.output().expect("runs");
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };
    let (code, diff, stderr) = run(&["--check", &messy.to_string_lossy(), &tidy.to_string_lossy()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(diff.contains("--- messy.tib\n+++ messy.tib (formatted)"), "{diff}");
    assert!(diff.contains("-app   \"A\"\n+app \"A\"\n"), "{diff}");
    assert!(diff.contains("+  email = mail\n"), "{diff}");
    assert!(!diff.contains("tidy.tib"), "a formatted file has no difference: {diff}");
    assert!(stderr.contains("2 specs: 1 need formatting"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&messy).expect("read"),
        "app   \"A\"\nfields {\nid = id\n    email=mail\n}\n",
        "--check writes nothing"
    );

    let (code, _, stderr) = run(&[&messy.to_string_lossy()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&messy).expect("read"),
        "app \"A\"\n\nfields {\n  id    = id\n  email = mail\n}\n"
    );
    assert_eq!(run(&["--check", &messy.to_string_lossy()]).0, Some(0), "formatted now");

    let (code, _, stderr) = run(&[&broken.to_string_lossy()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("broken.tib") && stderr.contains("error["), "the syntax error is shown: {stderr}");
    assert_eq!(std::fs::read_to_string(&broken).expect("read"), "app \"A\"\nfields { id = id\n", "left as it was");
}

#[test]
fn explain_prints_a_code_lists_them_all_and_suggests_for_a_typo() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_compiler")).args(args).output().expect("runs");
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };
    let (code, out, _) = run(&["explain", "tib::unknown-setting"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("tib::unknown-setting\n\n"), "{out}");
    assert!(out.contains("Wrong:") && out.contains("Right:") && out.contains("page_sise"), "{out}");
    assert_eq!(run(&["explain", "unknown-setting"]).1, out, "the prefix is optional");

    let (code, list, _) = run(&["explain"]);
    assert_eq!(code, Some(0));
    assert!(list.lines().count() > 70, "{list}");
    assert!(list.lines().any(|l| l.starts_with("tib::missing-stop") && l.contains("stop when")), "{list}");

    let (code, _, stderr) = run(&["explain", "tib::unknown-settings"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("did you mean `tib::unknown-setting`?"), "{stderr}");
}
