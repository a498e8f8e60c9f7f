//! A workspace as a user lays it out (specs/ and custom-fields.toml in a
//! folder), compiled through the same calls `compiler check` makes.

use std::path::Path;

use tib_front::workspace::{self, CatalogFile};

const SPEC: &str = r#"
app "NAME"
base_url "https://api.example.com"
credentials { api_token secret "token" }
auth bearer "{api_token}"
request GET "/users"
paginate none
users at .
fields { id = id  email = email }
custom_fields { "Department" = dept }
"#;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("specs")).expect("create specs/");
    std::fs::write(dir.join(name), text).expect("write");
}

#[test]
fn specs_are_found_sorted_and_checked_against_the_catalog() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "custom-fields.toml", "[Beta]\nDepartment = \"Text\"\n[Alpha]\nDepartment = \"Text\"\n");
    write(dir.path(), "specs/beta.tib", &SPEC.replace("NAME", "Beta"));
    write(dir.path(), "specs/alpha.tib", &SPEC.replace("NAME", "Alpha"));
    write(dir.path(), "specs/notes.txt", "not a spec");
    let catalog = CatalogFile::load(dir.path()).expect("readable");
    let paths = workspace::spec_paths(dir.path()).expect("listable");
    let files = workspace::compile_files(dir.path(), &paths, &catalog.catalog());
    let shown: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
    assert_eq!(shown, ["specs/alpha.tib", "specs/beta.tib"]);
    for file in &files {
        assert!(file.compiled.diagnostics.is_empty(), "{:?}", file.compiled.diagnostics);
        let spec = file.compiled.spec.as_ref().expect("clean");
        assert_eq!(spec.source, file.display, "the IR names its spec by its workspace-relative path");
        assert_eq!(spec.custom_fields[0].kind, tib_front::ir::FieldType::Text);
    }
}

#[test]
fn two_specs_with_one_app_id_are_an_error_in_both_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "custom-fields.toml",
        "[\"Acme Cloud\"]\nDepartment = \"Text\"\n[\"acme-cloud\"]\nDepartment = \"Text\"\n",
    );
    write(dir.path(), "specs/a.tib", &SPEC.replace("NAME", "Acme Cloud"));
    write(dir.path(), "specs/b.tib", &SPEC.replace("NAME", "acme-cloud"));
    let catalog = CatalogFile::load(dir.path()).expect("readable").catalog();
    let paths = workspace::spec_paths(dir.path()).expect("listable");
    let files = workspace::compile_files(dir.path(), &paths, &catalog);
    for (file, other) in [(&files[0], "specs/b.tib"), (&files[1], "specs/a.tib")] {
        assert!(file.compiled.spec.is_none(), "{}: neither generates", file.display);
        let d = &file.compiled.diagnostics[0];
        assert_eq!(d.code, "tib::duplicate-app");
        assert!(d.message.contains("acme_cloud") && d.message.contains(other), "{}", d.message);
        assert_eq!(&file.text[d.primary.span.start..d.primary.span.start + 3], "app", "each file's own app line");
    }
}

#[test]
fn an_invalid_catalog_is_reported_against_its_own_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "custom-fields.toml", "[Beta]\nDepartment = \"Txt\"\n");
    match CatalogFile::load(dir.path()).expect("readable") {
        CatalogFile::Invalid { display, text, diagnostics } => {
            assert_eq!(display, "custom-fields.toml");
            let span = diagnostics[0].primary.span;
            assert_eq!(&text[span.start..span.end], "\"Txt\"");
            assert_eq!(diagnostics[0].help.as_deref(), Some("did you mean `Text`?"));
        }
        other => panic!("expected an invalid catalog, got {other:?}"),
    }
}

#[test]
fn a_missing_specs_folder_names_the_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = workspace::spec_paths(dir.path()).expect_err("no specs/");
    let message = error.to_string();
    assert!(message.starts_with("could not list the specs in ") && message.contains("specs"), "{message}");
}
