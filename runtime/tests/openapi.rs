//! The API's OpenAPI document, read by tools no one here wrote, against the
//! server in process on 127.0.0.1:0: Redocly's linter finds no error in it;
//! a client generated from it with openapi-python-client connects an
//! account, syncs it now and lists its users; and schemathesis calls every
//! operation with what the document allows and finds no failure (no server
//! error, no status, type or body the document does not declare).
//!
//! The tools come from `.ci/run`: TIB_REDOCLY names Redocly's CLI, and
//! TIB_OPENAPI_PYTHON a Python with `tests/openapi/requirements.txt`
//! installed; TIB_REQUIRE_OPENAPI_TOOLS=1 makes their absence a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::acme::*;
use common::server::Server;

const ADMIN_TOKEN: &str = "admin-token-for-the-openapi-tests";

/// The tool an environment variable names; `None` (the test skipped) without it, unless
/// TIB_REQUIRE_OPENAPI_TOOLS says it must run.
fn tool(variable: &str) -> Option<PathBuf> {
    match std::env::var_os(variable) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            let required = std::env::var_os("TIB_REQUIRE_OPENAPI_TOOLS").is_some();
            assert!(!required, "TIB_REQUIRE_OPENAPI_TOOLS is set, {variable} is not");
            eprintln!("skipped: set {variable} (`.ci/run` does)");
            None
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// Runs a command off the async workers and says how it went when it failed.
async fn run(mut command: Command) -> Output {
    let shown = format!("{command:?}");
    let output = tokio::task::spawn_blocking(move || command.output()).await.expect("joined");
    let output = output.unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        output.status.success(),
        "{shown}: {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The document the server serves, written to a file of `dir`.
async fn document(server: &Server, dir: &Path) -> PathBuf {
    let answer =
        reqwest::Client::new().get(server.api("/openapi.json")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
    assert_eq!(answer.status(), 200);
    let path = dir.join("openapi.json");
    std::fs::write(&path, answer.text().await.expect("text")).expect("written");
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn redocly_finds_no_error_in_the_document() {
    let Some(redocly) = tool("TIB_REDOCLY") else { return };
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let dir = tempfile::tempdir().expect("a directory");
    let document = document(&server, dir.path()).await;
    let mut lint = Command::new(redocly);
    lint.arg("lint").arg(&document).arg("--format=stylish").env("REDOCLY_TELEMETRY", "off");
    let output = run(lint).await;
    let said = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    eprintln!("{said}");
    assert!(said.contains("Woohoo! Your API description is valid") || said.contains("0 errors"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_generated_from_the_document_connects_syncs_and_lists_users() {
    let Some(python) = tool("TIB_OPENAPI_PYTHON") else { return };
    let api = api(250).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let dir = tempfile::tempdir().expect("a directory");
    let document = document(&server, dir.path()).await;
    let mut generate = Command::new(&python);
    generate
        .args(["-m", "openapi_python_client", "generate", "--meta", "none", "--path"])
        .arg(&document)
        .arg("--output-path")
        .arg(dir.path().join("tib_client"));
    run(generate).await;
    let mut client = Command::new(&python);
    client
        .arg(workspace().join("tests/openapi/client.py"))
        .arg(server.api(""))
        .arg(ADMIN_TOKEN)
        .arg(&api.base_url)
        .arg(valid(250).to_string())
        .env("PYTHONPATH", dir.path());
    let output = run(client).await;
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains(&format!("listed {} users", valid(250))), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_failure_in_any_operation() {
    let Some(python) = tool("TIB_OPENAPI_PYTHON") else { return };
    let api = api(20).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let dir = tempfile::tempdir().expect("a directory");
    // An account to find, so that not every operation on a connection answers 404.
    let body = serde_json::json!({"credentials": {"tenant": "demo", "api_token": SECRET}, "base_url": api.base_url});
    let put = reqwest::Client::new()
        .put(server.api("/connections/acme/Prod"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(put.status(), 201);
    let mut schemathesis = Command::new(&python);
    schemathesis
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(workspace().join("tests/openapi/schemathesis.toml"))
        .arg("run")
        .arg(server.api("/openapi.json"))
        .args(["--url", &server.api("")])
        .args(["--header", &format!("Authorization: Bearer {ADMIN_TOKEN}")])
        .args(["--checks", "all", "--max-examples", "40", "--seed", "1"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // It keeps a cache where it runs: in the test's own directory, not the repository.
        .current_dir(dir.path());
    let output = run(schemathesis).await;
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("Tested: 23"), "every operation was called: {said}");
}
