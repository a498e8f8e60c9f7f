//! `compiler import openapi`: documents modelled on vendors' (tests/openapi/)
//! drafted through the real binary. Each draft is pinned, refused by the
//! checker for exactly its gaps, and checks clean once they are filled; one is
//! run against a mock API that behaves as its document says.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use tib_front::catalog::Catalog;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn import(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compiler"))
        .args(["import", "openapi"])
        .args(args)
        .current_dir(common::root())
        .output()
        .expect("runs")
}

fn document(name: &str) -> String {
    format!("compiler/tests/openapi/{name}")
}

/// The draft of a document, written by the binary into a new file.
fn draft(name: &str, args: &[&str]) -> (String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("draft.tib");
    let out_arg = out.to_string_lossy().into_owned();
    let mut all = vec![document(name)];
    all.extend(args.iter().map(|a| a.to_string()));
    all.extend(["-o".to_owned(), out_arg]);
    let output = import(&all.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{name}: {stderr}");
    (std::fs::read_to_string(&out).expect("the draft was written"), stderr)
}

/// Each `todo "…"` replaced, in order, by what its author would write.
fn filled(text: &str, fills: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = text;
    for fill in fills {
        let at = rest.find("todo \"").expect("as many gaps as fills");
        out.push_str(&rest[..at]);
        out.push_str(fill);
        let after = &rest[at + "todo \"".len()..];
        let mut escaped = false;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
            .map(|(i, _)| i)
            .expect("the gap's text closes");
        rest = &after[end + 1..];
    }
    assert!(!rest.contains("todo \""), "more gaps than fills");
    out + rest
}

#[test]
fn each_document_drafts_a_spec_refused_for_its_gaps_alone_that_checks_once_they_are_filled() {
    // The document, the arguments, what fills each gap, and a section its author adds.
    let cases: &[(&str, &[&str], &[&str], &str)] = &[
        ("pagerduty.yaml", &[], &[], ""),
        ("okta.yaml", &[], &[], ""),
        ("github.json", &[], &[], ""),
        ("slack.json", &[], &["true"], ""),
        ("graph.yaml", &[], &[], ""),
        ("harvest.json", &[], &[], ""),
        (
            "intranet.yaml",
            &["--path", "/members/search", "--app", "Intranet"],
            &["\"https://intranet.example/api\"", "bearer \"{token}\"", "{}", "data", "id", "mail"],
            "credentials {\n  token secret \"An API token\"\n}\n",
        ),
    ];
    let catalog = Catalog::default();
    for (name, args, fills, added) in cases {
        let (text, stderr) = draft(name, args);
        insta::assert_snapshot!(format!("import_{name}"), text);
        assert_eq!(tib_front::format::format(&text).as_deref(), Ok(text.as_str()), "{name}: formatted");

        let refused = tib_front::compile("draft.tib", &text, &catalog);
        let errors: Vec<&str> = refused.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.code).collect();
        assert_eq!(errors, vec!["tib::todo"; fills.len()], "{name}: only its gaps are errors\n{text}");
        if fills.is_empty() {
            assert!(stderr.contains("no gaps"), "{name}: {stderr}");
        } else {
            let count = if fills.len() == 1 { "1 gap".to_owned() } else { format!("{} gaps", fills.len()) };
            assert!(stderr.contains(&format!("{count} to fill in")), "{name}: {stderr}");
        }

        let text = filled(&text, fills) + added;
        let compiled = tib_front::compile("draft.tib", &text, &catalog);
        let errors: Vec<String> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        assert!(errors.is_empty() && compiled.spec.is_some(), "{name} filled in: {errors:?}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_lists_the_users_of_an_api_that_behaves_as_its_document_says() {
    let server = MockServer::start().await;
    let user = |id: &str, email: &str| json!({"id": id, "type": "user", "name": id, "email": email, "role": "user"});
    for (offset, users, more) in
        [("0", vec![user("P1", "ann@demo.example")], true), ("1", vec![user("P2", "bo@demo.example")], false)]
    {
        Mock::given(method("GET"))
            .and(path("/users"))
            .and(query_param("offset", offset))
            .and(query_param("limit", "100"))
            .and(header("authorization", "Token token=k-123"))
            .and(header("accept", "application/vnd.pagerduty+json;version=2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "users": users, "offset": offset.parse::<u32>().expect("number"), "limit": 100, "more": more, "total": null,
            })))
            .mount(&server)
            .await;
    }
    let (text, _) = draft("pagerduty.yaml", &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("custom-fields.toml"), "").expect("catalog");
    std::fs::write(dir.path().join("pagerduty.tib"), text).expect("spec");
    let base = server.uri();
    let dir_path = dir.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_compiler"))
            .args(["preview", "pagerduty.tib", "--cred", "api_key=k-123", "--base-url", &base, "--json"])
            .current_dir(&dir_path)
            .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
            .output()
            .expect("runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let preview: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let emails: Vec<&str> =
        preview["users"].as_array().expect("users").iter().filter_map(|u| u["email"].as_str()).collect();
    assert_eq!(emails, ["ann@demo.example", "bo@demo.example"], "{stdout}");
}

#[test]
fn what_cannot_be_drafted_says_why_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_openapi = dir.path().join("not.json");
    std::fs::write(&not_openapi, "{\"paths\": {}}").expect("written");
    let out = dir.path().join("out.tib");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![not_openapi.to_string_lossy().into_owned()], "not an OpenAPI document"),
        (
            vec![document("intranet.yaml")],
            "no operation looks like a users listing; name one with --operation ID or --path /users:\n  POST /members/search (searchMembers)",
        ),
        (
            vec![document("pagerduty.yaml"), "--operation".into(), "listTeams".into()],
            "has no GET or POST operation `listTeams`; its operations are:\n  GET /services (listServices)\n  GET /users (listUsers)\n  GET /users/{id} (getUser)",
        ),
        (vec![document("missing.yaml")], "cannot read compiler/tests/openapi/missing.yaml"),
    ];
    for (args, expected) in cases {
        let mut args = args;
        args.extend(["-o".to_owned(), out.to_string_lossy().into_owned()]);
        let output = import(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?}: nothing written");
    }
    // An existing file is never overwritten.
    std::fs::write(&out, "mine").expect("written");
    let output = import(&[&document("okta.yaml"), "-o", &out.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists"));
    assert_eq!(std::fs::read_to_string(&out).expect("readable"), "mine");
}

#[test]
fn a_draft_on_standard_output_is_the_same_text() {
    let output = import(&[&document("graph.yaml")]);
    assert!(output.status.success());
    let (text, _) = draft("graph.yaml", &[]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), text);
    assert!(Path::new(&common::root()).join("compiler/tests/openapi/graph.yaml").exists());
}
