//! OAuth 2.0 end to end against a real OAuth server (oauth2-mock-server,
//! started on 127.0.0.1 by `.ci/run`, which sets TIB_OAUTH_SERVER; its tokens
//! live two seconds): the authorization code flow through `tib connect` and
//! `tib serve`'s callback, syncs that refresh and rotate tokens, a state that
//! does not match, and client credentials. Without TIB_OAUTH_SERVER these
//! tests say so and pass; CI always sets it.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn oauth_server() -> Option<String> {
    let url = std::env::var("TIB_OAUTH_SERVER").ok();
    if url.is_none() {
        // CI sets both: there, a missing server is a failure, not a skip.
        assert!(std::env::var_os("TIB_REQUIRE_OAUTH_SERVER").is_none(), "TIB_OAUTH_SERVER is required but not set");
        eprintln!("TIB_OAUTH_SERVER is not set: skipped (.ci/run starts the OAuth server and sets it)");
    }
    url
}

struct Tib {
    dir: tempfile::TempDir,
    public_url: String,
    listen: String,
}

impl Tib {
    fn new() -> Tib {
        // A port that was just free, for serve's callback.
        let listen = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").to_string();
        Tib { dir: tempfile::tempdir().expect("dir"), public_url: format!("http://{listen}"), listen }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tib"));
        command
            .args(args)
            .env("TIB_STORE", self.dir.path().join("tib.db"))
            .env("TIB_PUBLIC_URL", &self.public_url)
            .env("TIB_LISTEN", &self.listen)
            .env("TIB_MAX_RETRIES", "0")
            // The OAuth server and the mock APIs are on this machine, which syncs refuse unless allowed.
            .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
            .env("TIB_NO_BROWSER", "1")
            .env_remove("TIB_KEY")
            .stdin(Stdio::null());
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined")
    }

    fn serve(&self) -> Child {
        let log = std::fs::File::create(self.dir.path().join("serve.log")).expect("log");
        self.command(&["serve", "--poll", "1"]).stdout(Stdio::null()).stderr(log).spawn().expect("serve")
    }

    /// Brings the provider's redirect to serve's callback, once serve listens.
    async fn callback(&self, browser: &reqwest::Client, location: &str) -> reqwest::Response {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match browser.get(location).send().await {
                Ok(page) => return page,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("serve never answered: {e}\n{}", self.serve_log()),
            }
        }
    }

    /// `tib connect hubspot Prod` against `api`, with the provider's endpoints
    /// at `provider`; the output and the authorize link it printed.
    async fn connect_hubspot(&self, provider: &str, api: &str, client: &str) -> (String, String) {
        let (token_url, authorize_url) = (format!("{provider}/token"), format!("{provider}/authorize"));
        let client_id = format!("client_id={client}");
        let connected = self
            .run(&[
                "connect",
                "hubspot",
                "Prod",
                "--cred",
                &client_id,
                "--cred",
                "client_secret=tib-secret",
                "--base-url",
                api,
                "--token-url",
                &token_url,
                "--authorize-url",
                &authorize_url,
            ])
            .await;
        let out = text(&connected);
        assert!(connected.status.success(), "{out}");
        let link = out
            .lines()
            .find_map(|l| l.trim().starts_with(&authorize_url).then(|| l.trim().to_owned()))
            .unwrap_or_else(|| panic!("no link in:\n{out}\nserve:\n{}", self.serve_log()));
        (out, link)
    }

    fn serve_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn sql(&self, query: &str) -> String {
        let db = rusqlite::Connection::open(self.dir.path().join("tib.db")).expect("open");
        db.query_row(query, [], |r| r.get::<_, rusqlite::types::Value>(0)).map(|v| format!("{v:?}")).expect("query")
    }

    async fn wait_for(&self, query: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.sql(query) != expected {
            assert!(Instant::now() < deadline, "`{query}` never gave {expected}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The bearer tokens an API received, in order.
async fn bearers(api: &MockServer) -> Vec<String> {
    api.received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter_map(|r| r.headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ").map(str::to_owned))
        .collect()
}

/// The issuer a JWT names.
fn issuer(jwt: &str) -> String {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64_url(payload);
    let claims: Value = serde_json::from_slice(&bytes).expect("claims");
    claims["iss"].as_str().unwrap_or_default().to_owned()
}

fn base64_url(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let Some(value) = ALPHABET.iter().position(|a| *a == c) else { continue };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

async fn hubspot_api() -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/settings/v3/users/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "1", "email": "h1@example.com", "superAdmin": true}, {"id": "2", "email": "h2@example.com"}]
        })))
        .mount(&api)
        .await;
    api
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_code_connects_through_the_callback_syncs_refreshes_and_rotates() {
    let Some(oauth) = oauth_server() else { return };
    let api = hubspot_api().await;
    let tib = Tib::new();
    let mut serve = tib.serve();
    let (out, link) = tib.connect_hubspot(&oauth, &api.uri(), "tib-client").await;
    let production = format!("{}/oauth/callback/hubspot (production: tib serve)", tib.public_url);
    assert!(out.contains(&production), "{out}");
    assert!(out.contains("http://127.0.0.1:8765/callback (test: compiler session)"), "{out}");
    assert!(!out.contains("tib-secret"));
    assert_eq!(tib.sql("SELECT enabled FROM connections"), "Integer(0)", "waits for the authorization");

    let query: std::collections::HashMap<String, String> =
        url::Url::parse(&link).expect("url").query_pairs().into_owned().collect();
    assert_eq!(query["scope"], "oauth settings.users.read settings.users.teams.read");
    assert_eq!(query["code_challenge_method"], "S256");

    // The user grants access: the provider redirects the browser to serve's callback.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let granted = browser.get(&link).send().await.expect("authorize");
    let location = granted.headers()["location"].to_str().expect("location").to_owned();
    assert!(location.starts_with(&format!("{}/oauth/callback/hubspot?code=", tib.public_url)), "{location}");
    let page = tib.callback(&browser, &location).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("hubspot/Prod is connected"));
    // The state was single use.
    assert_eq!(browser.get(&location).send().await.expect("again").status(), 422, "refused as invalid");

    // serve syncs the newly authorized connection.
    tib.wait_for("SELECT COUNT(*) FROM runs WHERE outcome = 'applied'", "Integer(1)").await;
    let first = bearers(&api).await;
    assert_eq!(issuer(&first[0]).replace("localhost", "127.0.0.1"), oauth, "a token the OAuth server issued");
    let stored = tib.sql("SELECT hex(tokens) FROM connections");

    // The two-second token expires: the next sync refreshes it, and the rotated refresh token is stored.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let synced = tib.run(&["sync", "hubspot", "Prod"]).await;
    assert!(synced.status.success(), "{}", text(&synced));
    let all = bearers(&api).await;
    assert_ne!(all.last(), first.last(), "a refreshed access token");
    assert_ne!(tib.sql("SELECT hex(tokens) FROM connections"), stored, "the new tokens are stored");
    let key = std::fs::read(tib.dir.path().join("tib.key")).expect("key");
    let db = std::fs::read(tib.dir.path().join("tib.db")).expect("db");
    for secret in [&all[0], all.last().expect("a token")] {
        let probe = &secret.as_bytes()[..40];
        assert!(!db.windows(probe.len()).any(|w| w == probe), "a token is in the store in plain text");
    }
    assert!(!key.is_empty());

    // A redirect whose state tib never issued is refused, and nothing is exchanged.
    let forged = format!("{}/oauth/callback/hubspot?code=stolen&state=forged", tib.public_url);
    let refused = browser.get(&forged).send().await.expect("forged");
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("page").contains("this authorization is unknown or was used already"));

    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = serve.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_for_one_integration_is_refused_on_another_integrations_path() {
    let Some(oauth) = oauth_server() else { return };
    let api = hubspot_api().await;
    let tib = Tib::new();
    let mut serve = tib.serve();
    let (_, link) = tib.connect_hubspot(&oauth, &api.uri(), "c").await;
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let location = browser.get(&link).send().await.expect("authorize").headers()["location"]
        .to_str()
        .expect("location")
        .replace("/oauth/callback/hubspot", "/oauth/callback/acme");
    let page = tib.callback(&browser, &location).await;
    assert_eq!(page.status(), 422);
    assert!(page.text().await.expect("page").contains("belongs to another integration"));
    assert_eq!(tib.sql("SELECT tokens IS NULL FROM connections"), "Integer(1)");
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = serve.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_sync_with_a_token_from_the_oauth_server() {
    let Some(oauth) = oauth_server() else { return };
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "e1", "mail": "e1@example.com"}]})),
        )
        .mount(&api)
        .await;
    let tib = Tib::new();
    let base = format!("{}/v1.0", api.uri());
    let token_url = format!("{oauth}/token");
    let connected = tib
        .run(&[
            "connect",
            "microsoft_entra_id",
            "Prod",
            "--cred",
            "tenant_id=t1",
            "--cred",
            "client_id=c",
            "--cred",
            "client_secret=s",
            "--base-url",
            &base,
            "--token-url",
            &token_url,
        ])
        .await;
    assert!(connected.status.success(), "{}", text(&connected));
    let synced = tib.run(&["sync", "microsoft_entra_id", "Prod"]).await;
    assert!(synced.status.success(), "{}", text(&synced));
    assert!(text(&synced).contains("synced 1 users"), "{}", text(&synced));
    let tokens = bearers(&api).await;
    assert_eq!(issuer(&tokens[0]).replace("localhost", "127.0.0.1"), oauth);
}

/// Connects hubspot/Prod with a wiremock provider whose token endpoint first
/// answers `granted`, completing the authorization through serve's callback.
async fn connected_with(provider: &MockServer, api: &MockServer, granted: Value) -> Tib {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(granted))
        .up_to_n_times(1)
        .mount(provider)
        .await;
    let tib = Tib::new();
    let page = authorized(&tib, provider, api).await;
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap_or_default());
    tib
}

/// Connects hubspot/Prod through `serve` and comes back to its callback with a code, as the
/// provider would send the browser: the callback's answer.
async fn authorized(tib: &Tib, provider: &MockServer, api: &MockServer) -> reqwest::Response {
    let mut serve = tib.serve();
    let (_, link) = tib.connect_hubspot(&provider.uri(), &api.uri(), "c").await;
    let state =
        url::Url::parse(&link).expect("url").query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned();
    let callback = format!("{}/oauth/callback/hubspot?code=the-code&state={state}", tib.public_url);
    let page = tib.callback(&reqwest::Client::new(), &callback).await;
    let _ = Command::new("kill").args(["-TERM", &serve.id().to_string()]).status();
    let _ = serve.wait();
    page
}

async fn token_endpoint(provider: &MockServer, status: u16, body: Value) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(provider)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_grant_on_refresh_disables_the_connection_and_notifies() {
    let (provider, api) = (MockServer::start().await, hubspot_api().await);
    let granted = json!({"access_token": "a1", "token_type": "Bearer", "expires_in": 1, "refresh_token": "r1"});
    let tib = connected_with(&provider, &api, granted).await;
    token_endpoint(&provider, 400, json!({"error": "invalid_grant", "error_description": "revoked"})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let synced = tib.run(&["sync", "hubspot", "Prod"]).await;
    let out = text(&synced);
    assert!(!synced.status.success());
    assert!(
        out.contains("disabled") && out.contains("invalid_grant") && out.contains("authorize the connection again"),
        "{out}"
    );
    let status = text(&tib.run(&["status"]).await);
    assert!(status.contains("hubspot/Prod: disabled") && status.contains("connection_disabled"), "{status}");
    assert!(bearers(&api).await.is_empty(), "no request went out with the expired token");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_500_on_refresh_is_recorded_and_retried_later() {
    let (provider, api) = (MockServer::start().await, hubspot_api().await);
    let granted = json!({"access_token": "a1", "token_type": "Bearer", "expires_in": 1, "refresh_token": "r1"});
    let tib = connected_with(&provider, &api, granted).await;
    token_endpoint(&provider, 500, json!({"error": "server_error"})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let synced = tib.run(&["sync", "hubspot", "Prod"]).await;
    let out = text(&synced);
    assert!(out.contains("failed:") && out.contains("retried at the next scheduled sync"), "{out}");
    assert_eq!(tib.sql("SELECT enabled FROM connections"), "Integer(1)");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_refresh_token_an_expired_token_disables_the_connection() {
    let (provider, api) = (MockServer::start().await, hubspot_api().await);
    let granted = json!({"access_token": "a1", "token_type": "Bearer", "expires_in": 1});
    let tib = connected_with(&provider, &api, granted).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let synced = tib.run(&["sync", "hubspot", "Prod"]).await;
    let out = text(&synced);
    assert!(out.contains("disabled") && out.contains("gives no refresh token"), "{out}");
    assert_eq!(tib.sql("SELECT enabled FROM connections"), "Integer(0)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_token_syncs_and_a_401_refreshes_it_once() {
    let (provider, api) = (MockServer::start().await, MockServer::start().await);
    // The API takes only the refreshed token.
    Mock::given(method("GET"))
        .and(path("/settings/v3/users/"))
        .and(wiremock::matchers::header("authorization", "Bearer a2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [{"id": "1", "email": "h1@example.com"}]})),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401)).mount(&api).await;
    let granted = json!({"access_token": "a1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r1"});
    let tib = connected_with(&provider, &api, granted).await;
    token_endpoint(
        &provider,
        200,
        json!({"access_token": "a2", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "r2"}),
    )
    .await;
    let synced = tib.run(&["sync", "hubspot", "Prod"]).await;
    assert!(synced.status.success(), "{}", text(&synced));
    assert_eq!(bearers(&api).await, ["a1", "a2"]);
}

/// A code the provider's token endpoint refuses leaves the account waiting for authorization, and
/// admins are told, not only the browser that came back.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_code_exchange_notifies_the_admins() {
    let (provider, api) = (MockServer::start().await, hubspot_api().await);
    token_endpoint(&provider, 400, json!({"error": "invalid_grant", "error_description": "the code expired"})).await;
    let tib = Tib::new();
    let page = authorized(&tib, &provider, &api).await;
    assert_eq!(page.status(), 422, "{}", page.text().await.unwrap_or_default());
    let status = text(&tib.run(&["status"]).await);
    assert!(status.contains("authorization_failed"), "{status}");
    assert!(
        status.contains("hubspot/Prod is still waiting for authorization: the code could not be exchanged"),
        "{status}"
    );
}
