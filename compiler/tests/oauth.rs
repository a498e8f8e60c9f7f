//! `compiler session` for an OAuth authorization code spec, against a real
//! OAuth server (oauth2-mock-server, started by `.ci/run`, which sets
//! TIB_OAUTH_SERVER): authorize through the loopback redirect, test with the
//! token held in memory, see its lifetime, clear it. Without TIB_OAUTH_SERVER
//! the test says so and passes; CI always sets it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Lines of the session's output, as they come.
struct Output(mpsc::Receiver<String>);

impl Output {
    /// Reads until a line contains `wanted`; returns that line.
    fn until(&self, wanted: &str) -> String {
        let mut seen = Vec::new();
        loop {
            match self.0.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains(wanted) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("no line with `{wanted}`; the session printed:\n{}", seen.join("\n")),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_authorizes_through_the_loopback_holds_the_token_in_memory_and_clears_it() {
    let Ok(oauth) = std::env::var("TIB_OAUTH_SERVER") else {
        // CI sets both: there, a missing server is a failure, not a skip.
        assert!(std::env::var_os("TIB_REQUIRE_OAUTH_SERVER").is_none(), "TIB_OAUTH_SERVER is required but not set");
        eprintln!("TIB_OAUTH_SERVER is not set: skipped (.ci/run starts the OAuth server and sets it)");
        return;
    };
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [{"id": 1, "email": "a@example.com"}]})),
        )
        .mount(&api)
        .await;
    let root = tempfile::tempdir().expect("dir");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    std::fs::write(root.path().join("custom-fields.toml"), "").expect("catalog");
    let spec = format!(
        r#"app "Granted"
base_url "{}/v1"
auth oauth_authorization_code {{
  authorize_url  = "{oauth}/authorize"
  token_url      = "{oauth}/token"
  scopes         = ["users.read", "offline_access"]
  refresh_tokens = true
}}
request GET "/users"
paginate none
users at results
fields {{
  id    = id
  email = email
}}
"#,
        api.uri()
    );
    std::fs::write(root.path().join("specs/granted.tib"), spec).expect("spec");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let secret = "test-client-secret-31337";
    let mut child = Command::new(env!("CARGO_BIN_EXE_compiler"))
        .args(["session", "specs/granted.tib", "--cred", "client_id=test-client", "--port", &port.to_string()])
        .env("TIB_CLIENT_SECRET", secret)
        .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
        .current_dir(root.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("session");
    let (send, receive) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let output = Output(receive);
    let mut stdin = child.stdin.take().expect("stdin");

    output.until("http://127.0.0.1:8421/oauth/callback/granted (production: tib serve)");
    output.until(&format!("http://127.0.0.1:{port}/callback (test: this session)"));
    let link = output.until(&format!("{oauth}/authorize")).trim().to_owned();
    assert!(link.contains("code_challenge_method=S256") && link.contains("scope=users.read+offline_access"), "{link}");
    // The browser: the provider redirects to the loopback listener.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let granted = browser.get(&link).send().await.expect("authorize");
    let location = granted.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with(&format!("http://127.0.0.1:{port}/callback?code=")), "{location}");
    let page = browser.get(&location).send().await.expect("callback");
    assert!(page.text().await.expect("page").contains("Authorized"));
    let authorized = output.until("authorized: ");
    assert!(authorized.contains("with a refresh token"), "{authorized}");

    writeln!(stdin, "test").expect("write");
    output.until("users at `results`: 1 items");
    writeln!(stdin, "token").expect("write");
    output.until("access token");
    writeln!(stdin, "clear").expect("write");
    output.until("cleared: the session holds no token");
    writeln!(stdin, "test").expect("write");
    output.until("authorize first");
    writeln!(stdin, "quit").expect("write");
    let status = child.wait().expect("exits");
    assert!(status.success());

    let requests = api.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "one test, with the token; none after clear");
    assert!(requests[0].headers["authorization"].to_str().expect("header").starts_with("Bearer ey"));
    // Nothing of the session was written: the workspace holds only what the test put there.
    let mut files: Vec<String> = walk(root.path());
    files.sort();
    assert_eq!(files, ["custom-fields.toml", "specs/granted.tib"]);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(
                walk(&path)
                    .into_iter()
                    .map(|p| format!("{}/{p}", path.file_name().unwrap_or_default().to_string_lossy())),
            );
        } else {
            found.push(path.file_name().unwrap_or_default().to_string_lossy().into_owned());
        }
    }
    found
}
