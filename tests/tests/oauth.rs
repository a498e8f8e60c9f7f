//! OAuth 2.0 in the support crate, against wiremock token endpoints and APIs
//! on 127.0.0.1: client credentials with a cached token and one renewal on
//! 401; authorization code with PKCE, refresh on expiry or 401, rotation,
//! and the failures (invalid_grant, a token endpoint 500, no refresh token).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tib_support::oauth::{ClientCredentials, Endpoints, OAuthClient, Refreshing, TokenProvider, TokenSet};
use tib_support::spec::{Auth, Endpoint, Method, OAuthAuthorizationCode, Pagination, Param, Part, Spec, Template};
use tib_support::{
    Client, ClientSettings, Connection, CredentialValues, NetworkPolicy, RetryPolicy, Secret, SyncError, SyncOptions,
};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn creds(spec: &Spec, values: &[&str]) -> CredentialValues {
    CredentialValues::new(values.iter().zip(spec.credentials).map(|(v, c)| (Secret::new(*v), c.secret)).collect())
}

fn endpoints(server: &MockServer) -> Endpoints {
    Endpoints {
        token_url: Some(url::Url::parse(&format!("{}/oauth/token", server.uri())).expect("url")),
        authorize_url: Some(url::Url::parse(&format!("{}/oauth/authorize", server.uri())).expect("url")),
    }
}

fn token(access: &str, refresh: Option<&str>, expires_in: u64) -> ResponseTemplate {
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// A client for servers on 127.0.0.1, which it refuses by default.
fn local_client() -> Client {
    let settings = ClientSettings {
        timeout: Duration::from_secs(5),
        network: NetworkPolicy::with_loopback(),
        ..ClientSettings::default()
    };
    Client::new(settings).expect("client")
}

/// Syncs the example connector `app` from `server` with `tokens`.
async fn sync(app: &str, server: &MockServer, values: &[&str], tokens: &dyn TokenProvider) -> Result<u64, SyncError> {
    let connector = tib_connectors::connector(app).expect("connector");
    let credentials = creds(connector.spec(), values);
    let base = url::Url::parse(&format!("{}/api", server.uri())).expect("url");
    let connection = Connection { credentials: &credentials, tokens: Some(tokens), base_url: Some(&base) };
    let retry = RetryPolicy { max_retries: 0, ..RetryPolicy::default() };
    let options = SyncOptions { max_pages: 10, retry, ..SyncOptions::default() };
    tib_support::sync(&local_client(), Arc::new(connector), &connection, &options, &mut |_| {}).await.map(|s| s.users)
}

/// The Entra example's users endpoint, answering `token` and refusing others.
async fn entra_api(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": "1", "mail": "a@example.com"}]})),
        )
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "expired token"}})))
        .with_priority(2)
        .mount(server)
        .await;
}

fn entra_client(server: &MockServer) -> OAuthClient {
    let spec = tib_connectors::connector("microsoft_entra_id").expect("connector").spec();
    OAuthClient::new(spec, &creds(spec, &["tenant-1", "cid", "csecret"]), &endpoints(server), &local_client())
        .expect("client")
}

#[tokio::test]
async fn client_credentials_fetch_once_send_only_as_bearer_and_cache_across_syncs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
        // The spec says `client_auth = "post"`, as Microsoft documents it.
        .and(body_string_contains("client_id=cid&client_secret=csecret"))
        .respond_with(token("cc-1", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    entra_api(&server, "cc-1").await;
    let tokens = ClientCredentials::new(entra_client(&server));
    assert_eq!(sync("microsoft_entra_id", &server, &["tenant-1", "cid", "csecret"], &tokens).await.expect("sync"), 1);
    assert_eq!(sync("microsoft_entra_id", &server, &["tenant-1", "cid", "csecret"], &tokens).await.expect("sync"), 1);
    server.verify().await;
    let api_requests: Vec<_> = server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.url.path() == "/api/users")
        .collect();
    assert!(api_requests.iter().all(|r| !r.url.as_str().contains("cc-1")), "the token is never in a URL");
}

#[tokio::test]
async fn a_401_renews_the_client_credentials_token_once_and_retries_once() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("stale", None, 3600)).up_to_n_times(1).mount(&server).await;
    Mock::given(path("/oauth/token")).respond_with(token("fresh", None, 3600)).mount(&server).await;
    entra_api(&server, "fresh").await;
    let tokens = ClientCredentials::new(entra_client(&server));
    assert_eq!(sync("microsoft_entra_id", &server, &["t", "cid", "csecret"], &tokens).await.expect("renewed"), 1);

    // An API that refuses every token: renewed once, then the 401 stands.
    let refusing = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("any", None, 3600)).expect(2).mount(&refusing).await;
    entra_api(&refusing, "never").await;
    let tokens = ClientCredentials::new(entra_client(&refusing));
    let error = sync("microsoft_entra_id", &refusing, &["t", "cid", "csecret"], &tokens).await.expect_err("refused");
    assert!(matches!(error, SyncError::Status { status: 401, .. }), "{error:?}");
    assert!(error.is_auth_or_config_failure());
    refusing.verify().await;
}

#[tokio::test]
async fn token_endpoint_refusals_are_auth_failures_and_its_outages_are_retried_later() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "invalid_client", "error_description": "bad secret csecret"})),
        )
        .mount(&server)
        .await;
    let tokens = ClientCredentials::new(entra_client(&server));
    let error = sync("microsoft_entra_id", &server, &["t", "cid", "wrong"], &tokens).await.expect_err("refused");
    assert!(error.is_auth_or_config_failure(), "{error:?}");
    assert!(
        error.to_string().contains("`invalid_client`: bad secret [redacted]"),
        "the secret echoed is redacted: {error}"
    );

    let down = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&down)
        .await;
    let tokens = ClientCredentials::new(entra_client(&down));
    let error = sync("microsoft_entra_id", &down, &["t", "cid", "csecret"], &tokens).await.expect_err("down");
    assert!(matches!(error, SyncError::Auth { permanent: false, .. }), "{error:?}");
    assert!(!error.is_auth_or_config_failure());
}

/// An authorization-code spec with extra parameters for each request.
const CODE: Spec = Spec {
    app: "Coded",
    id: "coded",
    source: "test",
    credentials: &[
        tib_support::spec::CredentialSpec { name: "client_id", secret: false, description: "" },
        tib_support::spec::CredentialSpec { name: "client_secret", secret: true, description: "" },
    ],
    base_url: Template(&[Part::Text("https://api.example.com")]),
    auth: Auth::OAuthAuthorizationCode(OAuthAuthorizationCode {
        authorize_url: Template(&[Part::Text("https://example.com/authorize")]),
        token_url: Template(&[Part::Text("https://example.com/token")]),
        scopes: &["users:read", "offline_access", "admin"],
        refresh_tokens: true,
        authorize_params: &[Param { name: "prompt", value: Template(&[Part::Text("consent")]) }],
        token_params: &[Param { name: "resource", value: Template(&[Part::Text("https://api.example.com")]) }],
        refresh_params: &[Param { name: "audience", value: Template(&[Part::Text("refresh-aud")]) }],
        client_auth: tib_support::spec::ClientAuth::Basic,
        key_id: None,
        base_url_from: None,
    }),
    endpoint: Endpoint {
        method: Method::Get,
        path: "/users",
        query: &[],
        headers: &[],
        body: None,
        listings: &[],
        client_certificate: None,
    },
    lookups: &[],
    listings: &[],
    pagination: Pagination::None,
    max_users: None,
};

fn code_client(server: &MockServer) -> OAuthClient {
    OAuthClient::new(&CODE, &creds(&CODE, &["cid", "csecret"]), &endpoints(server), &local_client()).expect("client")
}

#[tokio::test]
async fn the_authorize_url_has_scopes_in_order_state_pkce_and_extra_params_and_the_code_exchange_matches_it() {
    let server = MockServer::start().await;
    let client = code_client(&server);
    let redirect = url::Url::parse("http://127.0.0.1:8765/callback").expect("url");
    let first = client.authorize(&redirect).expect("url");
    let second = client.authorize(&redirect).expect("url");
    assert_ne!(first.state, second.state, "a fresh state each time");
    let query: std::collections::HashMap<String, String> = first.url.query_pairs().into_owned().collect();
    assert_eq!(first.url.path(), "/oauth/authorize");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "cid");
    assert_eq!(query["scope"], "users:read offline_access admin");
    assert_eq!(query["state"], first.state);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], "http://127.0.0.1:8765/callback");
    assert_eq!(query["prompt"], "consent");
    assert!(!first.url.as_str().contains("csecret"));

    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains(format!("code_verifier={}", first.verifier)))
        .and(body_string_contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback"))
        .and(body_string_contains("resource=https%3A%2F%2Fapi.example.com"))
        // The spec's client authentication is Basic (the default): the pair in the header.
        .and(header("authorization", raw_basic("cid", "csecret").as_str()))
        .respond_with(token("a-1", Some("r-1"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = client.exchange("the-code", &first.verifier, &redirect).await.expect("exchanged");
    assert_eq!((tokens.access_token.as_str(), tokens.refresh_token.as_deref()), ("a-1", Some("r-1")));
    assert!(tokens.expires_at.is_some_and(|at| at > chrono_now() + 3500 && at < chrono_now() + 3600));
    assert!(!format!("{tokens:?}").contains("a-1"), "Debug is redacted");
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64
}

/// A refreshing provider over `tokens`, recording what it persists.
fn refreshing(server: &MockServer, tokens: TokenSet) -> (Refreshing, Arc<Mutex<Vec<TokenSet>>>) {
    let saved = Arc::new(Mutex::new(Vec::new()));
    let sink = saved.clone();
    let persist = Box::new(move |set: &TokenSet| {
        sink.lock().expect("lock").push(set.clone());
        Ok(())
    });
    (Refreshing::new(code_client(server), tokens, persist), saved)
}

fn expired(refresh: Option<&str>) -> TokenSet {
    TokenSet {
        access_token: "old".into(),
        refresh_token: refresh.map(str::to_owned),
        expires_at: Some(chrono_now() - 5),
        base_url: None,
    }
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_and_a_rotated_refresh_token_is_kept_before_use() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=r-1"))
        .and(body_string_contains("audience=refresh-aud"))
        .respond_with(token("a-2", Some("r-2"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let (tokens, saved) = refreshing(&server, expired(Some("r-1")));
    assert_eq!(tokens.token().await.expect("refreshed").expose(), "a-2");
    assert_eq!(tokens.token().await.expect("cached").expose(), "a-2");
    let saved = saved.lock().expect("lock").clone();
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].access_token.as_str(), saved[0].refresh_token.as_deref()), ("a-2", Some("r-2")));
}

#[tokio::test]
async fn a_refresh_without_a_new_refresh_token_keeps_the_old_one() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("a-2", None, 3600)).mount(&server).await;
    let (tokens, saved) = refreshing(&server, expired(Some("r-1")));
    tokens.token().await.expect("refreshed");
    assert_eq!(saved.lock().expect("lock")[0].refresh_token.as_deref(), Some("r-1"));
}

#[tokio::test]
async fn a_401_on_a_fresh_token_refreshes_it() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("a-2", Some("r-2"), 3600)).expect(1).mount(&server).await;
    let fresh = TokenSet {
        access_token: "a-1".into(),
        refresh_token: Some("r-1".into()),
        expires_at: Some(chrono_now() + 3600),
        base_url: None,
    };
    let (tokens, _) = refreshing(&server, fresh);
    let renewed = tokens.renew(&Secret::new("a-1")).await.expect("renewed").expect("a token");
    assert_eq!(renewed.expose(), "a-2");
    // A 401 for a token already replaced does not refresh again.
    assert_eq!(tokens.renew(&Secret::new("a-1")).await.expect("current").expect("a token").expose(), "a-2");
}

#[tokio::test]
async fn invalid_grant_on_refresh_and_an_expired_token_without_refresh_are_auth_failures() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "refresh token revoked-r-1 was revoked"}),
        ))
        .mount(&server)
        .await;
    let (tokens, saved) = refreshing(&server, expired(Some("revoked-r-1")));
    let error = tokens.token().await.expect_err("invalid_grant");
    assert!(error.is_auth_or_config_failure(), "{error:?}");
    let shown = error.to_string();
    assert!(shown.contains("invalid_grant") && shown.contains("authorize the connection again"), "{shown}");
    assert!(shown.contains("refresh token [redacted] was revoked"), "the refresh token echoed is redacted: {shown}");
    assert!(saved.lock().expect("lock").is_empty());

    let (tokens, _) = refreshing(&server, expired(None));
    let error = tokens.token().await.expect_err("no refresh token");
    assert!(error.is_auth_or_config_failure() && error.to_string().contains("gives no refresh token"), "{error}");
}

#[tokio::test]
async fn a_token_answer_not_understood_names_the_field_but_shows_no_token() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "leaky-access-token", "token_type": "Bearer", "expires_in": "an hour"}),
        ))
        .mount(&server)
        .await;
    let tokens = ClientCredentials::new(entra_client(&server));
    let error = tokens.token().await.expect_err("not a token");
    let shown = error.to_string();
    assert!(matches!(error, SyncError::Auth { permanent: false, .. }), "retried at the next sync: {error:?}");
    assert!(shown.contains("expires_in"), "the field at fault is named: {shown}");
    assert!(!shown.contains("leaky-access-token"), "{shown}");
}

#[tokio::test]
async fn an_api_echoing_the_access_token_in_an_error_shows_it_redacted() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("echoed-access-token", None, 3600)).mount(&server).await;
    Mock::given(path("/api/users"))
        .respond_with(ResponseTemplate::new(403).set_body_string("token echoed-access-token lacks User.Read.All"))
        .mount(&server)
        .await;
    let tokens = ClientCredentials::new(entra_client(&server));
    let error = sync("microsoft_entra_id", &server, &["t", "cid", "csecret"], &tokens).await.expect_err("403");
    assert!(error.is_auth_or_config_failure(), "{error:?}");
    assert!(error.to_string().contains("token [redacted] lacks User.Read.All"), "{error}");
}

#[tokio::test]
async fn a_token_endpoint_500_on_refresh_is_retried_at_the_next_sync() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": "server_error"})))
        .mount(&server)
        .await;
    let (tokens, _) = refreshing(&server, expired(Some("r-1")));
    let error = tokens.token().await.expect_err("down");
    assert!(!error.is_auth_or_config_failure(), "{error:?}");
}

#[tokio::test]
async fn a_spec_without_refresh_tokens_never_refreshes_and_expiry_is_an_auth_failure() {
    static NO_REFRESH: Spec = Spec {
        auth: Auth::OAuthAuthorizationCode(OAuthAuthorizationCode {
            authorize_url: Template(&[Part::Text("https://example.com/authorize")]),
            token_url: Template(&[Part::Text("https://example.com/token")]),
            scopes: &[],
            refresh_tokens: false,
            authorize_params: &[],
            token_params: &[],
            refresh_params: &[],
            client_auth: tib_support::spec::ClientAuth::Basic,
            key_id: None,
            base_url_from: None,
        }),
        ..CODE
    };
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("never", Some("r"), 3600)).expect(0).mount(&server).await;
    let client =
        OAuthClient::new(&NO_REFRESH, &creds(&NO_REFRESH, &["cid", "csecret"]), &endpoints(&server), &local_client())
            .expect("client");
    assert!(!client.refresh_tokens());
    let tokens = Refreshing::new(client, expired(Some("a-refresh-token-anyway")), Box::new(|_| Ok(())));
    let error = tokens.token().await.expect_err("expired");
    assert!(error.is_auth_or_config_failure() && error.to_string().contains("gives no refresh token"), "{error}");
    server.verify().await;
}

#[tokio::test]
async fn a_token_of_another_type_than_bearer_is_refused_and_bearer_in_any_case_is_taken() {
    for (token_type, taken) in [("mac", false), ("DPoP", false), ("bearer", true), ("BEARER", true)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "t-1", "token_type": token_type, "expires_in": 3600})),
            )
            .mount(&server)
            .await;
        let got = ClientCredentials::new(entra_client(&server)).token().await;
        match got {
            Ok(token) => assert!(taken && token.expose() == "t-1", "{token_type}"),
            Err(error) => {
                assert!(!taken, "{token_type}: {error}");
                let shown = error.to_string();
                assert!(shown.contains("tib sends bearer tokens only"), "{shown}");
                assert!(error.is_auth_or_config_failure(), "permanent: the connection is disabled, admins told");
            }
        }
    }
}

#[tokio::test]
async fn a_token_answer_over_the_size_bound_is_an_error_not_an_allocation() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"access_token": "x".repeat(2 << 20), "token_type": "Bearer", "expires_in": 3600}),
            ),
        )
        .mount(&server)
        .await;
    let settings = ClientSettings {
        max_answer_bytes: 1 << 20,
        network: NetworkPolicy::with_loopback(),
        ..ClientSettings::default()
    };
    let client = Client::new(settings).expect("client");
    let spec = tib_connectors::connector("microsoft_entra_id").expect("connector").spec();
    let oauth = OAuthClient::new(spec, &creds(spec, &["tenant-1", "cid", "csecret"]), &endpoints(&server), &client)
        .expect("client");
    let error = ClientCredentials::new(oauth).token().await.expect_err("too large");
    assert!(error.to_string().contains("the answer is larger than 1048576 bytes"), "{error}");
    assert!(!error.is_auth_or_config_failure(), "retried at the next sync");
}

#[test]
fn values_put_into_a_token_url_cannot_move_it_and_its_address_is_checked() {
    let spec = tib_connectors::connector("microsoft_entra_id").expect("connector").spec();
    for (tenant, ok) in [("contoso-1", true), ("evil.example/x?", false), ("a@b", false), ("../../other", false)] {
        let made =
            OAuthClient::new(spec, &creds(spec, &[tenant, "cid", "csecret"]), &Endpoints::default(), &local_client());
        assert_eq!(made.is_ok(), ok, "{tenant}");
    }
}

#[tokio::test]
async fn a_token_endpoint_on_a_refused_address_gets_no_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(token("t", None, 60)).expect(0).mount(&server).await;
    let spec = tib_connectors::connector("microsoft_entra_id").expect("connector").spec();
    let strict = Client::new(ClientSettings::default()).expect("client");
    let oauth = OAuthClient::new(spec, &creds(spec, &["tenant-1", "cid", "csecret"]), &endpoints(&server), &strict)
        .expect("client");
    let error = ClientCredentials::new(oauth).token().await.expect_err("refused");
    assert!(error.to_string().contains("127.0.0.1 is a loopback address"), "{error}");
}

// ------------------------------------------------- as providers do it ---

/// The Basic header of `id:secret` exactly as written, as a server that does
/// not URL-decode it compares it.
fn raw_basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64_encode(&format!("{id}:{secret}")))
}

fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn zoom_sends_its_grant_the_account_id_and_the_client_as_basic_which_a_basic_only_server_takes() {
    let server = MockServer::start().await;
    // A server that compares the Basic pair as sent, without URL-decoding it:
    // a secret of letters, digits and -._~ is sent exactly as written.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("authorization", raw_basic("zoom-id", "Se~cr.et_-9").as_str()))
        .and(body_string_contains("grant_type=account_credentials"))
        .and(body_string_contains("account_id=acct-7"))
        .respond_with(token("zoom-token", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})))
        .with_priority(10)
        .mount(&server)
        .await;
    let spec = tib_connectors::connector("zoom").expect("zoom").spec();
    let client = OAuthClient::new(
        spec,
        &creds(spec, &["acct-7", "zoom-id", "Se~cr.et_-9"]),
        &endpoints(&server),
        &local_client(),
    )
    .expect("client");
    let token = ClientCredentials::new(client).token().await.expect("a token");
    assert_eq!(token.expose(), "zoom-token");
    let requests = server.received_requests().await.expect("recorded");
    let body = String::from_utf8_lossy(&requests[0].body);
    assert!(!body.contains("client_secret"), "Basic only: the secret is not in the body: {body}");
}

#[tokio::test]
async fn client_secret_post_sends_the_client_in_the_body_and_a_post_only_server_takes_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("client_id=cid"))
        .and(body_string_contains("client_secret=p%2Bq%2Fr%3D"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
        .respond_with(token("post-token", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let spec = tib_connectors::connector("microsoft_entra_id").expect("entra").spec();
    let client = OAuthClient::new(spec, &creds(spec, &["t", "cid", "p+q/r="]), &endpoints(&server), &local_client())
        .expect("client");
    assert_eq!(ClientCredentials::new(client).token().await.expect("a token").expose(), "post-token");
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests[0].headers.get("authorization").is_none(), "post only: no Basic header");

    // The same client as Basic against a server that takes the body form only is refused, and says so.
    let zoom = tib_connectors::connector("zoom").expect("zoom").spec();
    let basic = OAuthClient::new(zoom, &creds(zoom, &["a", "cid", "p+q/r="]), &endpoints(&server), &local_client())
        .expect("client");
    let refused = ClientCredentials::new(basic).token().await.expect_err("not the body form");
    assert!(refused.to_string().contains("answered HTTP 404"), "{refused}");
}

#[tokio::test]
async fn salesforce_goes_to_the_instance_the_token_answer_names_and_next_pages_stay_there() {
    let (login, instance) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("client_secret=sf-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "sf-token", "token_type": "Bearer", "instance_url": instance.uri()
        })))
        .mount(&login)
        .await;
    let record =
        |id: &str| json!({"Id": id, "Email": format!("{id}@example.com"), "IsActive": true, "UserType": "Standard"});
    Mock::given(path("/services/data/v61.0/query"))
        .and(header("authorization", "Bearer sf-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "records": [record("005A")], "nextRecordsUrl": "/services/data/v61.0/query/01g-2000", "done": false
        })))
        .expect(1)
        .mount(&instance)
        .await;
    Mock::given(path("/services/data/v61.0/query/01g-2000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"records": [record("005B")], "done": true})))
        .expect(1)
        .mount(&instance)
        .await;
    let spec = tib_connectors::connector("salesforce").expect("salesforce").spec();
    let values = creds(spec, &["acme", "sf-id", "sf-secret"]);
    let tokens =
        ClientCredentials::new(OAuthClient::new(spec, &values, &endpoints(&login), &local_client()).expect("client"));
    // No base URL given: the spec's own (acme.my.salesforce.com) would be used but for instance_url.
    let connection = Connection { credentials: &values, tokens: Some(&tokens), base_url: None };
    let options = SyncOptions { max_pages: 5, ..SyncOptions::default() };
    let connector = Arc::new(tib_connectors::connector("salesforce").expect("salesforce"));
    let mut ids = Vec::new();
    tib_support::sync(&local_client(), connector.clone(), &connection, &options, &mut |page| {
        ids.extend(page.users.into_iter().map(|u| u.external_id.to_string()))
    })
    .await
    .expect("synced at the instance");
    assert_eq!(ids, ["005A", "005B"]);

    // A next URL off the instance is refused: pinning follows the base URL used.
    let elsewhere = MockServer::start().await;
    instance.reset().await;
    Mock::given(path("/services/data/v61.0/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "records": [record("005A")], "nextRecordsUrl": format!("{}/services/data/v61.0/query/x", elsewhere.uri())
        })))
        .mount(&instance)
        .await;
    let error = tib_support::sync(&local_client(), connector, &connection, &options, &mut |_| {})
        .await
        .expect_err("another origin");
    assert!(matches!(error, SyncError::ForeignOrigin { .. }), "{error:?}");
}

/// An authorization-code spec whose token answers name the API's origin.
static INSTANCED: Spec = Spec {
    auth: Auth::OAuthAuthorizationCode(OAuthAuthorizationCode {
        authorize_url: Template(&[Part::Text("https://example.com/authorize")]),
        token_url: Template(&[Part::Text("https://example.com/token")]),
        scopes: &[],
        refresh_tokens: true,
        authorize_params: &[],
        token_params: &[],
        refresh_params: &[],
        client_auth: tib_support::spec::ClientAuth::Post,
        key_id: None,
        base_url_from: Some("instance_url"),
    }),
    ..CODE
};

#[tokio::test]
async fn a_refresh_that_names_another_instance_moves_the_connection_and_one_that_names_none_keeps_it() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .and(body_string_contains("refresh_token=r-1"))
        // `client_auth = "post"` in the authorization code kind too: the client in the body.
        .and(body_string_contains("client_id=cid&client_secret=cs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "a-2", "token_type": "bearer", "expires_in": 3600, "instance_url": "https://eu9.example.com"
        })))
        .mount(&server)
        .await;
    let client = OAuthClient::new(&INSTANCED, &creds(&INSTANCED, &["cid", "cs"]), &endpoints(&server), &local_client())
        .expect("client");
    let saved = Arc::new(Mutex::new(Vec::new()));
    let sink = saved.clone();
    let persist = Box::new(move |set: &TokenSet| {
        sink.lock().expect("lock").push(set.clone());
        Ok(())
    });
    let old = TokenSet { base_url: Some("https://na1.example.com".into()), ..expired(Some("r-1")) };
    let tokens = Refreshing::new(client, old, persist);
    assert_eq!(tokens.token().await.expect("refreshed").expose(), "a-2");
    assert_eq!(tokens.base_url().await.as_deref(), Some("https://eu9.example.com"));
    assert_eq!(
        saved.lock().expect("lock")[0].base_url.as_deref(),
        Some("https://eu9.example.com"),
        "stored with the tokens"
    );

    let server = MockServer::start().await;
    Mock::given(path("/oauth/token")).respond_with(token("a-3", None, 3600)).mount(&server).await;
    let client = OAuthClient::new(&INSTANCED, &creds(&INSTANCED, &["cid", "cs"]), &endpoints(&server), &local_client())
        .expect("client");
    let old = TokenSet { base_url: Some("https://na1.example.com".into()), ..expired(Some("r-1")) };
    let tokens = Refreshing::new(client, old, Box::new(|_: &TokenSet| Ok(())));
    tokens.token().await.expect("refreshed");
    assert_eq!(tokens.base_url().await.as_deref(), Some("https://na1.example.com"), "no new one: it stays");

    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "a", "instance_url": "http://evil.example.com"})),
        )
        .mount(&server)
        .await;
    let client = OAuthClient::new(&INSTANCED, &creds(&INSTANCED, &["cid", "cs"]), &endpoints(&server), &local_client())
        .expect("client");
    let tokens = Refreshing::new(client, expired(Some("r-1")), Box::new(|_: &TokenSet| Ok(())));
    let refused = tokens.token().await.expect_err("plain http elsewhere");
    assert!(refused.to_string().contains("instance_url"), "{refused}");
}

// ------------------------------------------------------- private_key_jwt ---

/// The form of the one token request `server` received.
async fn token_form(server: &MockServer) -> Vec<(String, String)> {
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    url::form_urlencoded::parse(&requests[0].body).into_owned().collect()
}

/// Checks an assertion as the provider does: its signature with the public key, then its claims.
fn verified_claims(
    assertion: &str,
    algorithm: &'static dyn ring::signature::VerificationAlgorithm,
    public: &[u8],
) -> serde_json::Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (signed, signature) = assertion.rsplit_once('.').expect("three parts");
    let signature = b64.decode(signature).expect("base64url");
    ring::signature::UnparsedPublicKey::new(algorithm, public)
        .verify(signed.as_bytes(), &signature)
        .expect("the signature verifies with the client's public key");
    let (header, claims) = signed.split_once('.').expect("header and claims");
    let header: serde_json::Value = serde_json::from_slice(&b64.decode(header).expect("base64url")).expect("JSON");
    assert!(header.get("kid").is_none(), "no key_id, no kid: {header}");
    serde_json::from_slice(&b64.decode(claims).expect("base64url")).expect("JSON")
}

/// A 2048-bit RSA key made for these tests only (openssl genpkey), and its public key as ring reads it.
fn rsa_test_key() -> (&'static str, Vec<u8>) {
    use base64::Engine as _;
    let pem = include_str!("keys/rsa-test.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).expect("base64");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("an RSA key");
    (pem, ring::signature::KeyPair::public_key(&pair).as_ref().to_vec())
}

#[tokio::test]
async fn okta_private_key_jwt_sends_an_assertion_signed_with_the_clients_rsa_or_p256_key_and_never_a_secret() {
    let okta = tib_connectors::connector("okta").expect("okta").spec();
    let (rsa_pem, rsa_public) = rsa_test_key();
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a P-256 key");
    let ec_pem = {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(ec.serialize_der());
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    };
    // The RSA key as a one-line paste with `\n` written out (a JSON key file's form); the EC key as PEM.
    let one_line = rsa_pem.replace('\n', "\\n");
    // As a browser's one-line input keeps it: the line breaks gone.
    let pasted = rsa_pem.replace('\n', "");
    let cases: [(&str, String, Vec<u8>, &'static dyn ring::signature::VerificationAlgorithm); 3] = [
        ("RS256", one_line, rsa_public.clone(), &ring::signature::RSA_PKCS1_2048_8192_SHA256),
        ("RS256 pasted", pasted, rsa_public, &ring::signature::RSA_PKCS1_2048_8192_SHA256),
        ("ES256", ec_pem, ec.public_key_raw().to_vec(), &ring::signature::ECDSA_P256_SHA256_FIXED),
    ];
    let mut ids = Vec::new();
    for (alg, key, public, algorithm) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(token("keyed-token", None, 3600))
            .expect(1)
            .mount(&server)
            .await;
        let client = OAuthClient::new(
            okta,
            &creds(okta, &["acme.okta.com", "0oa-client", &key]),
            &endpoints(&server),
            &local_client(),
        )
        .expect("client");
        let before = chrono_now();
        assert_eq!(ClientCredentials::new(client).token().await.expect("a token").expose(), "keyed-token", "{alg}");
        let form = token_form(&server).await;
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(field("client_assertion_type"), Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
        assert_eq!((field("grant_type"), field("scope")), (Some("client_credentials"), Some("okta.users.read")));
        assert_eq!((field("client_secret"), field("client_id")), (None, None), "{alg}: no secret is sent");
        let requests = server.received_requests().await.expect("recorded");
        assert!(requests[0].headers.get("authorization").is_none(), "{alg}: no Basic header");
        let claims = verified_claims(field("client_assertion").expect("an assertion"), algorithm, public.as_slice());
        let token_url = format!("{}/oauth/token", server.uri());
        assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some("0oa-client"), Some("0oa-client")));
        assert_eq!(claims["aud"].as_str(), Some(token_url.as_str()), "the audience is the token endpoint");
        let (iat, exp) = (claims["iat"].as_i64().expect("iat"), claims["exp"].as_i64().expect("exp"));
        assert!(iat >= before - 1 && iat <= chrono_now() + 1 && exp - iat == 300, "{claims}");
        ids.push(claims["jti"].as_str().expect("jti").to_owned());
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "each assertion has its own id");

    // A key that cannot sign is the connection's configuration: a permanent refusal that says why.
    let server = MockServer::start().await;
    let client = OAuthClient::new(
        okta,
        &creds(okta, &["acme.okta.com", "0oa-client", "not a key"]),
        &endpoints(&server),
        &local_client(),
    )
    .expect("client");
    let refused = ClientCredentials::new(client).token().await.expect_err("no key");
    assert!(refused.is_auth_or_config_failure() && refused.to_string().contains("not a PEM key"), "{refused}");
    assert!(server.received_requests().await.expect("recorded").is_empty(), "nothing is sent without a signature");
}

#[tokio::test]
async fn a_google_service_account_signs_a_jwt_bearer_grant_that_acts_for_the_admin_with_the_scopes_among_its_claims() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"))
        .respond_with(token("ya29.service", None, 3600))
        .expect(1)
        .mount(&server)
        .await;
    let spec = tib_connectors::connector("google_workspace").expect("google").spec();
    let names: Vec<&str> = spec.credentials.iter().map(|c| c.name).collect();
    assert_eq!(names, ["admin_email", "client_id", "client_secret"]);
    let (pem, public) = rsa_test_key();
    let values = ["admin@acme.example", "tib-sync@acme-project.iam.gserviceaccount.com", pem];
    let client = OAuthClient::new(spec, &creds(spec, &values), &endpoints(&server), &local_client()).expect("client");
    assert_eq!(ClientCredentials::new(client).token().await.expect("a token").expose(), "ya29.service");
    let form = token_form(&server).await;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!((field("scope"), field("client_secret"), field("client_assertion")), (None, None, None), "{form:?}");
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests[0].headers.get("authorization").is_none(), "the grant is the proof: no Basic header");
    let assertion = field("assertion").expect("an assertion");
    // Checked as Google checks it: the signature with the service account's public key, then the claims.
    let claims = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (signed, signature) = assertion.rsplit_once('.').expect("three parts");
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(signed.as_bytes(), &b64.decode(signature).expect("base64url"))
            .expect("signed with the service account's key");
        let claims = signed.split_once('.').expect("header and claims").1;
        serde_json::from_slice::<serde_json::Value>(&b64.decode(claims).expect("base64url")).expect("JSON")
    };
    assert_eq!(claims["iss"], "tib-sync@acme-project.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], "admin@acme.example", "domain-wide delegation acts for the admin");
    assert_eq!(claims["scope"], "https://www.googleapis.com/auth/admin.directory.user.readonly");
    assert_eq!(claims["aud"].as_str(), Some(format!("{}/oauth/token", server.uri()).as_str()));
}
