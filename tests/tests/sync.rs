//! The generated example connectors syncing from mock APIs on 127.0.0.1
//! (wiremock, real sockets): every auth kind but the OAuth grants themselves,
//! every pagination style and stop condition, every operator and mode, the
//! failures a real API throws at a sync, and the HTTP client itself: gzip,
//! timeouts, connection reuse, redirects and TLS.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tib_support::oauth::{StaticToken, TokenProvider};
use tib_support::record::{DropReason, FieldValue, Name};
use tib_support::{
    Client, ClientSettings, Connection, CredentialValues, NetworkPolicy, PageError, RetryPolicy, Secret, SyncError,
    SyncOptions, SyncSummary, User,
};
use wiremock::matchers::{header, method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What a sync handed on.
#[derive(Debug, Default)]
struct Synced {
    users: Vec<User>,
    dropped: Vec<tib_support::Dropped>,
    pages: Vec<u32>,
}

/// Syncs the example connector `app` against `server`, with the connection's
/// values in the spec's credential order.
async fn sync(
    app: &str,
    server: &MockServer,
    base_path: &str,
    values: &[&str],
) -> Result<(Synced, SyncSummary), SyncError> {
    sync_with(
        app,
        server,
        base_path,
        values,
        None,
        SyncOptions { max_pages: 50, retry: fast_retries(), ..SyncOptions::default() },
    )
    .await
}

/// A client for servers on 127.0.0.1, which it refuses by default.
fn local_client(timeout: Duration) -> Result<Client, SyncError> {
    Client::new(ClientSettings { timeout, network: NetworkPolicy::with_loopback(), ..ClientSettings::default() })
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(5), max_delay: Duration::from_secs(2) }
}

async fn sync_with(
    app: &str,
    server: &MockServer,
    base_path: &str,
    values: &[&str],
    tokens: Option<&dyn TokenProvider>,
    options: SyncOptions,
) -> Result<(Synced, SyncSummary), SyncError> {
    let base = url::Url::parse(&format!("{}{base_path}", server.uri())).expect("a URL");
    let client = local_client(Duration::from_secs(5)).expect("a client");
    sync_at(&client, app, &base, values, tokens, options).await
}

/// Syncs the example connector `app` from `base` through `client`.
async fn sync_at(
    client: &Client,
    app: &str,
    base: &url::Url,
    values: &[&str],
    tokens: Option<&dyn TokenProvider>,
    options: SyncOptions,
) -> Result<(Synced, SyncSummary), SyncError> {
    let connector = tib_connectors::connector(app).expect("an example connector");
    let spec = connector.spec();
    assert_eq!(values.len(), spec.credentials.len(), "{app} asks for {:?}", spec.credentials);
    let credentials =
        CredentialValues::new(values.iter().zip(spec.credentials).map(|(v, c)| (Secret::new(*v), c.secret)).collect());
    let connection = Connection { credentials: &credentials, tokens, base_url: Some(base) };
    let mut synced = Synced::default();
    let summary = tib_support::sync(client, Arc::new(connector), &connection, &options, &mut |page| {
        synced.pages.push(page.number);
        synced.users.extend(page.users);
        synced.dropped.extend(page.dropped);
    })
    .await?;
    Ok((synced, summary))
}

fn json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn user<'a>(users: &'a [User], id: &str) -> &'a User {
    users.iter().find(|u| u.external_id == id).unwrap_or_else(|| panic!("no user {id} in {users:#?}"))
}

// ---------------------------------------------------------------- Slack ---

fn slack_member(id: &str, extra: Value) -> Value {
    let mut member = json!({
        "id": id, "name": id.to_lowercase(), "deleted": false, "is_bot": false, "updated": 1709640000,
        "profile": {"email": format!("{}@example.com", id.to_lowercase()), "real_name": format!("User {id}"), "title": "Engineer"}
    });
    if let (Some(m), Some(e)) = (member.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    member
}

#[tokio::test]
async fn slack_bearer_token_cursor_pages_and_branch_labels() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users.list"))
        .and(header("authorization", "Bearer xoxb-test-token"))
        .and(query_param("limit", "200"))
        .and(query_param_is_missing("cursor"))
        .respond_with(json(json!({
            "ok": true,
            "members": [
                slack_member("U1", json!({"is_primary_owner": true, "is_owner": true, "is_admin": true})),
                slack_member("U2", json!({"is_restricted": true, "is_ultra_restricted": true})),
                slack_member("B1", json!({"is_bot": true})),
            ],
            "response_metadata": {"next_cursor": "dXNlcjpVMg=="}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users.list"))
        .and(query_param("cursor", "dXNlcjpVMg=="))
        .respond_with(json(json!({
            "ok": true,
            "members": [
                slack_member("U3", json!({"deleted": true})),
                slack_member("USLACKBOT", json!({})),
                slack_member("U4", json!({"is_restricted": "true"})),
            ],
            "response_metadata": {"next_cursor": ""}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let (synced, summary) = sync("slack", &server, "/api", &["xoxb-test-token"]).await.expect("sync");
    assert_eq!(summary, SyncSummary { pages: 2, users: 6, dropped: 0, unlinked: false, ..SyncSummary::default() });
    let users = &synced.users;
    let owner = user(users, "U1");
    assert_eq!((owner.role.as_deref(), owner.status.as_ref(), owner.active), (Some("Primary Owner"), "Active", true));
    assert_eq!(*owner.licenses, ["Full Member"], "the catch-all");
    assert_eq!(owner.name, Some(Name::Full("User U1".into())));
    assert_eq!(owner.last_seen_at.map(|t| t.to_rfc3339()), Some("2024-03-05T12:00:00+00:00".into()));
    let guest = user(users, "U2");
    assert_eq!((guest.role.as_deref(), &guest.licenses[..]), (Some("Guest"), &["Single-Channel Guest"][..]));
    let bot = user(users, "B1");
    assert_eq!((bot.status.as_ref(), bot.active), ("Bot", false));
    let deactivated = user(users, "U3");
    assert_eq!((deactivated.status.as_ref(), deactivated.active), ("Deactivated", false));
    let slackbot = user(users, "USLACKBOT");
    assert_eq!((slackbot.status.as_ref(), slackbot.active), ("Bot", false));
    // A boolean sent as the string "true" still counts.
    assert_eq!(*user(users, "U4").licenses, ["Multi-Channel Guest"]);
    assert_eq!(owner.custom_fields[0].value, FieldValue::Text("Engineer".into()));
}

#[tokio::test]
async fn slack_ok_false_is_the_apis_own_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(json(json!({"ok": false, "error": "invalid_auth: xoxb-bad was revoked"})))
        .mount(&server)
        .await;
    let error = sync("slack", &server, "/api", &["xoxb-bad"]).await.expect_err("an API error");
    assert!(
        matches!(&error, SyncError::Page { page: 1, error: PageError::Api { message: m, .. }, .. }
            if m == "invalid_auth: [redacted] was revoked"),
        "the API's message, with the token it echoes redacted: {error:?}"
    );
}

#[tokio::test]
async fn a_repeating_cursor_stops_the_sync() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(json(json!({"ok": true, "members": [slack_member("U1", json!({}))], "response_metadata": {"next_cursor": "same"}})))
        .mount(&server)
        .await;
    let error = sync("slack", &server, "/api", &["xoxb-t"]).await.expect_err("a loop");
    assert_eq!(error, SyncError::Repeated { page: 2, what: "token" });
}

#[tokio::test]
async fn a_repeating_next_url_stops_the_sync() {
    let server = MockServer::start().await;
    let again = format!("{}/api/v2/users?page[after]=same", server.uri());
    Mock::given(path("/api/v2/users"))
        .respond_with(json(json!({"users": [], "meta": {"has_more": true}, "links": {"next": again}})))
        .mount(&server)
        .await;
    let error = sync("zendesk", &server, "/api/v2", &["acme", "admin@acme.io", "zd-token"]).await.expect_err("a loop");
    assert_eq!(error, SyncError::Repeated { page: 2, what: "next URL" });
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2), "no page asked for a third time");
}

#[tokio::test]
async fn a_wrong_response_path_names_the_path_and_what_was_found() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list")).respond_with(json(json!({"ok": true, "users": []}))).mount(&server).await;
    let error = sync("slack", &server, "/api", &["xoxb-t"]).await.expect_err("no members");
    assert!(matches!(&error, SyncError::Page { error: PageError::MissingUsers { path: "members" }, .. }), "{error:?}");
    assert!(error.to_string().contains("nothing at the users path `members`"), "{error}");

    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(json(json!({"ok": true, "members": "none"})))
        .mount(&server)
        .await;
    let error = sync("slack", &server, "/api", &["xoxb-t"]).await.expect_err("not an array");
    assert!(
        matches!(&error, SyncError::Page { error: PageError::NotAnArray { path: "members", found: "a string" }, .. }),
        "{error:?}"
    );
}

// ----------------------------------------------------------------- Okta ---

fn okta_user(id: &str, status: &str) -> Value {
    json!({
        "id": id, "status": status, "created": "2023-01-02T03:04:05.000Z", "lastLogin": null,
        "profile": {"email": format!("{id}@example.com"), "login": id, "firstName": "Ann", "lastName": id,
                    "department": "R&D", "costCenter": "1234", "managerId": "00u1", "hireDate": "2023-01-02"}
    })
}

#[tokio::test]
async fn okta_oauth_link_header_pages_and_a_bare_array() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(path("/api/v1/users"))
        .and(header("authorization", "Bearer okta-token"))
        .and(query_param_is_missing("after"))
        .respond_with(json(json!([okta_user("a1", "ACTIVE"), okta_user("a2", "STAGED")])).insert_header(
            "link",
            format!(r#"<{base}/api/v1/users?limit=200>; rel="self", <{base}/api/v1/users?after=a2&limit=200>; rel="next""#).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    // A relative next link, resolved against the base URL.
    Mock::given(path("/api/v1/users"))
        .and(query_param("after", "a2"))
        .respond_with(
            json(json!([okta_user("a3", "SUSPENDED")]))
                .insert_header("link", r#"</api/v1/users?after=a3>; rel="next""#),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/users"))
        .and(query_param("after", "a3"))
        .and(header("authorization", "Bearer okta-token"))
        .respond_with(json(json!([])))
        .expect(1)
        .mount(&server)
        .await;

    let token = StaticToken(Secret::new("okta-token"));
    let options = SyncOptions { max_pages: 10, retry: fast_retries(), ..SyncOptions::default() };
    let values = ["acme.okta.com", "0oa-client", "-----BEGIN PRIVATE KEY-----"];
    let (synced, summary) = sync_with("okta", &server, "/api/v1", &values, Some(&token), options).await.expect("sync");
    assert_eq!(summary.pages, 3);
    let users = &synced.users;
    let a1 = user(users, "a1");
    assert_eq!((a1.status.as_ref(), a1.active), ("ACTIVE", true), "status in app from a field");
    assert_eq!(*a1.licenses, ["Okta Workforce Identity"], "licenses auto with a name");
    assert_eq!(a1.name, Some(Name::Split { first: Some("Ann".into()), last: Some("a1".into()) }));
    assert_eq!(a1.last_seen_at, None, "null is no value, not an error");
    assert!(a1.issues.is_empty(), "{:?}", a1.issues);
    let custom: Vec<_> = a1.custom_fields.iter().map(|c| (c.name, c.value.clone())).collect();
    assert_eq!(custom[1], ("Cost center", FieldValue::Number(1234.0)), "a number sent as a string");
    assert_eq!(custom[2], ("Manager", FieldValue::User("00u1".into())));
    assert!(matches!(custom[3], ("Hire date", FieldValue::Date(_))));
    let staged = user(users, "a2");
    assert_eq!((staged.active, staged.licenses.len()), (false, 0), "an inactive user holds no auto license");
}

#[tokio::test]
async fn github_members_without_a_public_email_get_the_no_reply_address_github_builds_and_bots_hold_no_seat() {
    let server = MockServer::start().await;
    let base = server.uri();
    let member = |id: u64, login: &str, email: Value, kind: &str| json!({"id": id, "login": login, "email": email, "name": null, "type": kind, "site_admin": false});
    Mock::given(path("/orgs/acme/members"))
        .and(header("authorization", "Bearer gh-token"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(query_param("per_page", "100"))
        .and(query_param_is_missing("page"))
        .respond_with(
            json(json!([
                member(1, "ann", json!("ann@acme.example"), "User"),
                member(583231, "octocat", Value::Null, "User")
            ]))
            .insert_header("link", format!(r#"<{base}/orgs/acme/members?per_page=100&page=2>; rel="next""#).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/orgs/acme/members"))
        .and(query_param("page", "2"))
        .respond_with(json(json!([member(41898282, "github-actions[bot]", Value::Null, "Bot")])))
        .mount(&server)
        .await;
    // Each member's role is on their membership.
    Mock::given(path_regex("^/orgs/acme/memberships/"))
        .respond_with(json(json!({"state": "active", "role": "member"})))
        .mount(&server)
        .await;
    // An organization without teams.
    Mock::given(path("/orgs/acme/teams")).respond_with(json(json!([]))).mount(&server).await;
    let (synced, summary) = sync("github", &server, "/orgs/acme", &["acme", "gh-token"]).await.expect("sync");
    assert_eq!(summary.pages, 2);
    let emails: Vec<&str> =
        ["1", "583231", "41898282"].iter().map(|id| user(&synced.users, id).email.as_str()).collect();
    assert_eq!(
        emails,
        [
            "ann@acme.example",
            "583231+octocat@users.noreply.github.com",
            "41898282+github-actions[bot]@users.noreply.github.com"
        ]
    );
    let bot = user(&synced.users, "41898282");
    assert_eq!((bot.active, bot.licenses.len()), (false, 0), "a bot holds no seat");
    assert_eq!(*user(&synced.users, "583231").licenses, ["GitHub Team"]);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/users"))
        .respond_with(
            json(json!([okta_user("a1", "ACTIVE")]))
                .insert_header("link", r#"<https://evil.example/api/v1/users?after=a1>; rel="next""#),
        )
        .mount(&server)
        .await;
    let token = StaticToken(Secret::new("okta-token"));
    let options = SyncOptions { max_pages: 10, retry: fast_retries(), ..SyncOptions::default() };
    let values = ["acme.okta.com", "0oa-client", "-----BEGIN PRIVATE KEY-----"];
    let error = sync_with("okta", &server, "/api/v1", &values, Some(&token), options).await.expect_err("foreign");
    assert!(
        matches!(&error, SyncError::ForeignOrigin { url, .. } if url.starts_with("https://evil.example/")),
        "{error:?}"
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "nothing was sent to the other host, and nothing more here");
}

// -------------------------------------------------------------- Zendesk ---

#[tokio::test]
async fn zendesk_basic_auth_next_url_in_the_body_and_a_has_more_flag() {
    let server = MockServer::start().await;
    let base = server.uri();
    let agent = |id: u64, extra: Value| {
        let mut u = json!({"id": id, "email": format!("agent{id}@example.com"), "name": format!("Agent {id}"),
                           "role": "agent", "active": true, "suspended": false, "tags": ["support", "tier2"],
                           "user_fields": {"department": "Support", "backup_email": "not-an-email"}});
        if let (Some(m), Some(e)) = (u.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        u
    };
    // "admin@acme.io/token:zd-token" in base64.
    let basic = "Basic YWRtaW5AYWNtZS5pby90b2tlbjp6ZC10b2tlbg==";
    Mock::given(path("/api/v2/users"))
        .and(header("authorization", basic))
        .and(query_param_is_missing("page[after]"))
        .respond_with(json(json!({
            "users": [agent(9007199254740993, json!({})), agent(2, json!({"suspended": true, "role_type": 1}))],
            "meta": {"has_more": true},
            "links": {"next": format!("{base}/api/v2/users?page[size]=100&page[after]=xyz")}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/users"))
        .and(query_param("page[after]", "xyz"))
        .and(header("authorization", basic))
        .respond_with(json(json!({
            "users": [agent(3, json!({"active": false, "role": "admin"}))],
            "meta": {"has_more": false},
            "links": {"next": format!("{base}/api/v2/users?page[after]=abc")}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let (synced, _) = sync("zendesk", &server, "/api/v2", &["acme", "admin@acme.io", "zd-token"]).await.expect("sync");
    assert_eq!(synced.pages, [1, 2], "has_more false stops although a next link is present");
    let users = &synced.users;
    let big = user(users, "9007199254740993");
    assert_eq!(big.status, "Active", "an id beyond 2^53 keeps its digits");
    assert_eq!(big.issues[0].field, "Backup email", "an email custom field that is not an email is left out");
    assert!(
        big.custom_fields.iter().any(|c| c.value == FieldValue::MultiValue(vec!["support".into(), "tier2".into()]))
    );
    let suspended = user(users, "2");
    assert_eq!((suspended.status.as_ref(), suspended.active), ("Suspended", false));
    assert_eq!(*suspended.licenses, ["Agent", "Light Agent"], "several licenses per user");
    let deleted = user(users, "3");
    assert_eq!((deleted.status.as_ref(), &deleted.licenses[..]), ("Deleted", &["Admin"][..]));
}

// ------------------------------------------------------------ PagerDuty ---

/// Answers offset/limit requests from a list of `total` users, with `more`.
struct OffsetPages {
    total: usize,
    /// The offset from which the API answers HTTP 400, as PagerDuty does past 10,000.
    refuses_from: usize,
    /// The most users one answer holds, whatever the limit asked (as some APIs cap it).
    most: usize,
    /// The first page answers last: each page waits this much less than the one before.
    stagger: Duration,
}

impl OffsetPages {
    fn of(total: usize) -> Self {
        OffsetPages { total, refuses_from: usize::MAX, most: usize::MAX, stagger: Duration::ZERO }
    }
}

impl Respond for OffsetPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let param = |name: &str| {
            request.url.query_pairs().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0)
        };
        let (offset, limit) = (param("offset"), param("limit").min(self.most));
        if offset >= self.refuses_from {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "Offset must be less than 10000", "code": 2001}}));
        }
        let pages_after = u32::try_from(self.total.saturating_sub(offset) / limit.max(1)).unwrap_or(0);
        let users: Vec<Value> = (offset..(offset + limit).min(self.total))
            .map(|i| {
                json!({"id": format!("P{i}"), "email": format!("p{i}@example.com"), "name": format!("P {i}"),
                       "role": if i % 10 == 0 { "read_only_limited_user" } else { "user" },
                       "teams": [{"id": "T1"}], "job_title": ["not", "text"], "time_zone": "Europe/Paris"})
            })
            .collect();
        json(json!({"users": users, "offset": offset, "limit": limit, "more": offset + limit < self.total}))
            .set_delay(self.stagger * pages_after)
    }
}

#[tokio::test]
async fn pagerduty_offset_pages_fetched_concurrently_stop_on_more() {
    let server = MockServer::start().await;
    Mock::given(path("/users"))
        .and(header("authorization", "Token token=pd-key"))
        .and(header("accept", "application/vnd.pagerduty+json;version=2"))
        .and(query_param("include[]", "teams"))
        .respond_with(OffsetPages::of(250))
        .mount(&server)
        .await;
    let (synced, summary) = sync("pagerduty", &server, "", &["pd-key"]).await.expect("sync");
    assert_eq!(synced.users.len(), 250);
    let mut ids: Vec<_> = synced.users.iter().map(|u| u.external_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 250, "no user twice");
    assert_eq!(summary.users, 250);
    let stakeholder = user(&synced.users, "P10");
    assert_eq!((stakeholder.active, stakeholder.status.as_ref()), (false, "Deleted"), "status auto");
    let member = user(&synced.users, "P11");
    assert_eq!((member.status.as_ref(), &member.licenses[..]), ("Active", &["PagerDuty"][..]), "license auto");
    assert!(
        member.issues.iter().any(|i| i.field == "Job title" && i.reason == "expected text, found an array"),
        "an array is no text: left out with a reason: {:?}",
        member.issues
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pages_that_answer_out_of_order_are_handed_on_in_order() {
    let server = MockServer::start().await;
    let pages = OffsetPages { stagger: Duration::from_millis(40), ..OffsetPages::of(450) };
    Mock::given(path("/users")).respond_with(pages).mount(&server).await;
    let (synced, summary) = sync("pagerduty", &server, "", &["pd-key"]).await.expect("sync");
    assert_eq!(synced.pages, [1, 2, 3, 4, 5]);
    let ids: Vec<&str> = synced.users.iter().map(|u| u.external_id.as_str()).collect();
    let expected: Vec<String> = (0..450).map(|i| format!("P{i}")).collect();
    assert_eq!(ids, expected, "every user once, in the API's order");
    assert_eq!(summary.pages, 5, "the pages asked for ahead of the end do not count");
}

/// A connector that reads the page holding `slow_id` slowly, and counts the
/// requests the server had received when it finished.
struct SlowReader {
    inner: &'static dyn tib_support::Connector,
    slow_id: &'static str,
    requests: Arc<AtomicUsize>,
    requests_when_read: Arc<AtomicUsize>,
}

impl tib_support::Connector for SlowReader {
    fn spec(&self) -> &'static tib_support::Spec {
        self.inner.spec()
    }

    fn parse_page(
        &self,
        body: &[u8],
        users: &mut dyn FnMut(Result<User, tib_support::Dropped>),
    ) -> Result<tib_support::PageInfo, PageError> {
        let marker = format!("\"id\":\"{}\"", self.slow_id);
        if body.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            std::thread::sleep(Duration::from_millis(300));
            self.requests_when_read.store(self.requests.load(Ordering::SeqCst), Ordering::SeqCst);
        }
        self.inner.parse_page(body, users)
    }
}

/// Counts the requests it answers.
struct Counting<R>(R, Arc<AtomicUsize>);

impl<R: Respond> Respond for Counting<R> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.respond(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_being_read_holds_no_request_slot_and_pages_still_arrive_in_order() {
    let server = MockServer::start().await;
    let requests = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/users")).respond_with(Counting(OffsetPages::of(450), requests.clone())).mount(&server).await;
    let inner = tib_connectors::connector("pagerduty").expect("pagerduty");
    let requests_when_read = Arc::new(AtomicUsize::new(0));
    let slow = SlowReader { inner, slow_id: "P0", requests, requests_when_read: requests_when_read.clone() };
    let credentials = CredentialValues::new(vec![(Secret::new("pd-key"), true)]);
    let base = url::Url::parse(&server.uri()).expect("a URL");
    let connection = Connection { credentials: &credentials, tokens: None, base_url: Some(&base) };
    let client = local_client(Duration::from_secs(5)).expect("a client");
    let options = SyncOptions { max_pages: 50, retry: fast_retries(), ..SyncOptions::default() };
    let mut pages = Vec::new();
    let mut ids = Vec::new();
    tib_support::sync(&client, Arc::new(slow), &connection, &options, &mut |page| {
        pages.push(page.number);
        ids.extend(page.users.into_iter().map(|u| u.external_id.to_string()));
    })
    .await
    .expect("sync");
    assert_eq!(pages, [1, 2, 3, 4, 5], "handed on in order although page 1 was read last");
    assert_eq!(ids, (0..450).map(|i| format!("P{i}")).collect::<Vec<_>>());
    let sent = requests_when_read.load(Ordering::SeqCst);
    assert!(sent >= 5, "4 requests in flight while page 1 was read; only {sent} were sent by then");
}

#[tokio::test]
async fn an_api_that_answers_fewer_users_than_asked_is_read_on_from_where_each_page_ended() {
    let server = MockServer::start().await;
    Mock::given(path("/users")).respond_with(OffsetPages { most: 40, ..OffsetPages::of(230) }).mount(&server).await;
    let (synced, summary) = sync("pagerduty", &server, "", &["pd-key"]).await.expect("sync");
    let ids: Vec<&str> = synced.users.iter().map(|u| u.external_id.as_str()).collect();
    let expected: Vec<String> = (0..230).map(|i| format!("P{i}")).collect();
    assert_eq!(ids, expected, "no user skipped or twice, although pages were asked for at offsets 100 apart");
    assert_eq!(synced.pages, [1, 2, 3, 4, 5, 6], "pages dropped unread leave no gap in the numbers");
    assert_eq!(summary.pages, 6);
}

#[tokio::test]
async fn an_empty_first_page_is_a_complete_sync_of_nobody() {
    let server = MockServer::start().await;
    Mock::given(path("/users")).respond_with(OffsetPages::of(0)).mount(&server).await;
    let (synced, summary) = sync("pagerduty", &server, "", &["pd-key"]).await.expect("sync");
    assert!(synced.users.is_empty());
    assert_eq!(summary.users, 0);
}

// ---------------------------------------------------------------- Auth0 ---

/// Auth0's users listing: pages of `per_page` from page 0 with their total, and an HTTP 400 for any
/// page reaching past the first 1,000 users, as Auth0 answers.
struct Auth0Pages {
    total: usize,
}

impl Respond for Auth0Pages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let param = |name: &str| {
            request.url.query_pairs().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0)
        };
        let (page, per_page) = (param("page"), param("per_page"));
        if (page + 1) * per_page > 1000 {
            return ResponseTemplate::new(400).set_body_json(json!({
                "statusCode": 400, "error": "Bad Request",
                "message": "You can only page through the first 1000 records.",
            }));
        }
        let users: Vec<Value> = (page * per_page..((page + 1) * per_page).min(self.total))
            .map(|i| json!({"user_id": format!("auth0|{i}"), "email": format!("u{i}@example.com"), "nickname": format!("u{i}")}))
            .collect();
        json(
            json!({"start": page * per_page, "limit": per_page, "length": users.len(), "total": self.total, "users": users}),
        )
    }
}

#[tokio::test]
async fn auth0_lists_a_tenant_within_its_cap_and_fails_naming_the_cap_for_a_larger_one_instead_of_storing_a_part() {
    let token = StaticToken(Secret::new("auth0-token"));
    let options = || SyncOptions { max_pages: 50, retry: fast_retries(), ..SyncOptions::default() };
    let values = ["acme.eu.auth0.com", "cid", "cs"];
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/users"))
        .and(header("authorization", "Bearer auth0-token"))
        .and(query_param("include_totals", "true"))
        .respond_with(Auth0Pages { total: 950 })
        .mount(&server)
        .await;
    let (synced, summary) =
        sync_with("auth0", &server, "/api/v2", &values, Some(&token), options()).await.expect("within the cap");
    assert_eq!((synced.users.len(), summary.pages), (950, 10));
    assert_eq!(user(&synced.users, "auth0|7").username.as_deref(), Some("u7"), "username or nickname");

    // 100,000 users: Auth0 would list 1,000 and refuse the rest; the sync stops at the cap and says so.
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/users")).respond_with(Auth0Pages { total: 100_000 }).mount(&server).await;
    let error = sync_with("auth0", &server, "/api/v2", &values, Some(&token), options()).await.expect_err("capped");
    assert_eq!(error, SyncError::Capped { max_users: 1000 });
    assert!(!error.is_auth_or_config_failure());
    let asked = server.received_requests().await.expect("recorded").len();
    assert_eq!(asked, 10, "pages 0 to 9, none past the cap");
}

// -------------------------------------------------------------- Harvest ---

/// Page-number pages of `per_page` users out of `total`, some pages short
/// although more remain (as real APIs do).
struct NumberedPages {
    total: usize,
    short_first: bool,
}

impl Respond for NumberedPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let param = |name: &str| {
            request.url.query_pairs().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0)
        };
        let (page, per_page) = (param("page"), param("per_page"));
        let start = (page - 1) * per_page;
        let end = (start + per_page).min(self.total);
        let users: Vec<Value> = (start..end)
            .filter(|i| !(self.short_first && *i == 3))
            .map(|i| {
                json!({"id": i, "email": format!("h{i}@example.com"), "first_name": "H", "last_name": format!("{i}"),
                       "is_active": i % 2 == 0, "is_contractor": i == 5, "weekly_capacity": if i == 4 { "126000" } else { "72000" },
                       "access_roles": if i == 0 { vec!["administrator"] } else { vec!["member"] },
                       "roles": ["Design"], "created_at": "2024-03-05T12:00:00+0000"})
            })
            .collect();
        json(json!({"users": users, "page": page, "per_page": per_page, "total_entries": self.total}))
    }
}

#[tokio::test]
async fn harvest_page_numbers_stop_at_the_total() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/users"))
        .and(header("authorization", "Bearer hv-token"))
        .and(header("harvest-account-id", "42"))
        .respond_with(NumberedPages { total: 230, short_first: false })
        .mount(&server)
        .await;
    let (synced, _) = sync("harvest", &server, "/v2", &["42", "hv-token"]).await.expect("sync");
    assert_eq!(synced.users.len(), 230);
    let admin = user(&synced.users, "0");
    assert_eq!(
        (admin.role.as_deref(), admin.status.as_ref()),
        (Some("Administrator"), "Active"),
        "contains on an array"
    );
    assert_eq!(*user(&synced.users, "4").licenses, ["Full-time seat", "Part-time seat"], ">= on a numeric string");
    assert_eq!(*user(&synced.users, "5").licenses, ["Contractor seat"]);
    assert_eq!(user(&synced.users, "1").status, "Archived");
    assert_eq!(admin.created_at.map(|t| t.to_rfc3339()), Some("2024-03-05T12:00:00+00:00".into()), "a +0000 offset");
}

#[tokio::test]
async fn a_short_page_short_of_the_total_fails_the_sync_instead_of_ending_it() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/users")).respond_with(NumberedPages { total: 230, short_first: true }).mount(&server).await;
    let error = sync("harvest", &server, "/v2", &["42", "hv-token"]).await.expect_err("the pages disagree");
    assert_eq!(
        error,
        SyncError::Total { page: 1, detail: "the total says 230 users, but the pages ended after 99".to_owned() },
        "the spec stops on a short page, but the 131 users the total promises must not be marked deleted"
    );
    assert!(!error.is_auth_or_config_failure(), "recorded and retried, not disabled");
}

/// Harvest pages of 100 whose `total_entries` is what `total` says on each page.
struct TotalSays(fn(u32) -> Value);

impl Respond for TotalSays {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page: u32 =
            request.url.query_pairs().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse().ok()).unwrap_or(1);
        let users: Vec<Value> = (0..100)
            .map(|i| {
                json!({"id": page * 1000 + i, "email": format!("u{page}-{i}@example.com"),
                                                         "first_name": "U", "last_name": "V", "is_active": true})
            })
            .collect();
        json(json!({"users": users, "total_entries": (self.0)(page)}))
    }
}

#[tokio::test]
async fn a_total_missing_negative_or_vanishing_on_a_later_page_fails_the_sync() {
    for (total, detail) in [
        (
            TotalSays(|page| if page == 1 { json!(1000) } else { Value::Null }),
            "the page gives no total, or one that is not a whole number of users",
        ),
        (
            TotalSays(|page| if page == 1 { json!(1000) } else { json!(-1) }),
            "the page gives no total, or one that is not a whole number of users",
        ),
        (TotalSays(|_| json!("lots")), "the page gives no total, or one that is not a whole number of users"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/v2/users")).respond_with(total).mount(&server).await;
        let error = sync("harvest", &server, "/v2", &["42", "hv-token"]).await.expect_err("no total to trust");
        assert!(matches!(&error, SyncError::Total { detail: d, .. } if d == detail), "{error}");
    }
    // A total that grows while the pages are read (users added meanwhile) is followed, not an error.
    let server = MockServer::start().await;
    Mock::given(path("/v2/users")).respond_with(TotalSays(|page| json!(200 + page * 50))).mount(&server).await;
    let synced = sync("harvest", &server, "/v2", &["42", "hv-token"]).await.map(|(synced, _)| synced.users.len());
    assert_eq!(synced, Ok(400), "page 4 says 400 and brings the 400th user");
}

// ----------------------------------------------------------- Pipedrive ---

#[tokio::test]
async fn pipedrive_api_key_in_the_query_one_request_and_nested_array_rules() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users"))
        .and(query_param("api_token", "pd-api-token"))
        .respond_with(json(json!({
            "success": true,
            "data": [
                {"id": 1, "email": "a@example.com", "name": "A", "active_flag": true, "is_admin": 1,
                 "access": [{"app": "sales", "permission_set_id": "p1"}, {"app": "campaigns"}],
                 "created": "2024-03-05 12:00:00", "last_login": "2024-03-05 12:00:00", "default_currency": "EUR"},
                {"id": 2, "email": "b@example.com", "name": "B", "active_flag": false, "is_admin": 0,
                 "access": [{"app": "sales", "permission_set_id": null}]},
                {"id": 3, "name": "No email", "active_flag": true},
                {"id": 4, "email": "not an email", "active_flag": true},
                {"email": "noid@example.com"},
                "not an object"
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (synced, summary) = sync("pipedrive", &server, "/v1", &["pd-api-token"]).await.expect("sync");
    assert_eq!(summary, SyncSummary { pages: 1, users: 2, dropped: 4, unlinked: false, ..SyncSummary::default() });
    let a = user(&synced.users, "1");
    assert_eq!(a.role.as_deref(), Some("Admin"), ">= on a number");
    assert_eq!(*a.licenses, ["Sales seat", "Campaigns seat"], "some with nested rules");
    assert_eq!(user(&synced.users, "2").licenses, Vec::<&str>::new(), "has value on a null item field");
    let reasons: Vec<_> = synced.dropped.iter().map(|d| (d.external_id.clone(), d.reason.clone())).collect();
    assert_eq!(reasons[0], (Some("3".into()), DropReason::MissingEmail));
    assert!(matches!(&reasons[1], (Some(id), DropReason::InvalidEmail(_)) if id == "4"));
    assert_eq!(reasons[2], (None, DropReason::MissingId));
    assert_eq!(reasons[3], (None, DropReason::NotAnObject));
}

// -------------------------------------------------------- Azure DevOps ---

#[tokio::test]
async fn azure_devops_token_in_a_response_header_and_basic_auth_with_an_empty_user() {
    let server = MockServer::start().await;
    let member = |d: &str, domain: &str| {
        json!({"descriptor": d, "mailAddress": format!("{d}@example.com"), "principalName": format!("{d}@example.com"),
               "displayName": d, "subjectKind": "user", "domain": domain})
    };
    // ":ado-pat" in base64.
    let basic = "Basic OmFkby1wYXQ=";
    Mock::given(path("/acme/_apis/graph/users"))
        .and(header("authorization", basic))
        .and(query_param_is_missing("continuationToken"))
        .respond_with(
            json(json!({"count": 2, "value": [member("aad.1", "AAD"), member("svc.1", "Build")]}))
                .insert_header("x-ms-continuationtoken", "tok2"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/acme/_apis/graph/users"))
        .and(query_param("continuationToken", "tok2"))
        .and(query_param("api-version", "7.1-preview.1"))
        .respond_with(json(json!({"count": 1, "value": [member("aad.2", "AAD")]})))
        .expect(1)
        .mount(&server)
        .await;
    let (synced, _) = sync("azure_devops", &server, "/acme/_apis", &["acme", "ado-pat"]).await.expect("sync");
    assert_eq!(synced.users.len(), 3);
    assert!(user(&synced.users, "aad.1").active);
    assert!(!user(&synced.users, "svc.1").active, "not contains");
    assert!(user(&synced.users, "aad.1").licenses.is_empty(), "`licenses none` claims no license");
}

// ------------------------------------------------ Entra ID and HubSpot ---

#[tokio::test]
async fn entra_oauth_specs_send_the_access_token_and_read_quoted_keys() {
    let server = MockServer::start().await;
    let base = server.uri();
    let e5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06";
    Mock::given(path("/v1.0/users"))
        .and(header("authorization", "Bearer graph-access-token"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(json(json!({
            "value": [
                {"id": "e1", "mail": "e1@example.com", "givenName": "E", "surname": "One", "accountEnabled": true,
                 "assignedLicenses": [{"skuId": e5}], "department": "Sales",
                 "onPremisesExtensionAttributes": {"extensionAttribute1": "CC-7"}},
                {"id": "e2", "mail": "e2@example.com", "accountEnabled": true, "assignedLicenses": [], "userType": "Guest"}
            ],
            "@odata.nextLink": format!("{base}/v1.0/users?$skiptoken=X1")
        })))
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/users"))
        .and(query_param("$skiptoken", "X1"))
        .respond_with(json(json!({"value": []})))
        .mount(&server)
        .await;
    let token = StaticToken(Secret::new("graph-access-token"));
    let options = SyncOptions { max_pages: 10, retry: fast_retries(), ..SyncOptions::default() };
    let (synced, _) = sync_with(
        "microsoft_entra_id",
        &server,
        "/v1.0",
        &["tenant-1", "cid", "csecret"],
        Some(&token),
        options.clone(),
    )
    .await
    .expect("sync");
    let e1 = user(&synced.users, "e1");
    assert_eq!((e1.status.as_ref(), &e1.licenses[..]), ("Active", &["Microsoft 365 E5"][..]));
    assert!(e1.custom_fields.iter().any(|c| c.name == "Cost center" && c.value == FieldValue::Text("CC-7".into())));
    let e2 = user(&synced.users, "e2");
    assert_eq!((e2.status.as_ref(), e2.active, e2.role.as_deref()), ("Unlicensed", false, Some("Guest")));

    let error = sync_with("microsoft_entra_id", &server, "/v1.0", &["tenant-1", "cid", "csecret"], None, options)
        .await
        .expect_err("no token");
    assert!(matches!(error, SyncError::Config(_)), "{error:?}");
}

#[tokio::test]
async fn hubspot_token_from_a_nested_body_path_and_a_role_decided_by_a_flag_else_the_role_id() {
    let server = MockServer::start().await;
    Mock::given(path("/settings/v3/users/"))
        .and(query_param_is_missing("after"))
        .respond_with(json(json!({
            "results": [{"id": "1", "email": "h1@example.com", "superAdmin": true, "firstName": "H", "lastName": "One"}],
            "paging": {"next": {"after": "2"}}
        })))
        .mount(&server)
        .await;
    Mock::given(path("/settings/v3/users/"))
        .and(query_param("after", "2"))
        .respond_with(json(json!({"results": [
            {"id": "2", "email": "h2@example.com", "roleIds": ["sales"], "roleId": "48213"},
            {"id": "3", "email": "h3@example.com"},
        ]})))
        .mount(&server)
        .await;
    let token = StaticToken(Secret::new("hubspot-access"));
    let options = SyncOptions { max_pages: 10, retry: fast_retries(), ..SyncOptions::default() };
    let (synced, _) =
        sync_with("hubspot", &server, "", &["cid", "csecret"], Some(&token), options).await.expect("sync");
    assert_eq!(*user(&synced.users, "1").licenses, ["Super Admin"]);
    assert_eq!(*user(&synced.users, "2").licenses, ["Sales seat"]);
    let roles: Vec<Option<&str>> = ["1", "2", "3"].iter().map(|id| user(&synced.users, id).role.as_deref()).collect();
    assert_eq!(roles, [Some("Super Admin"), Some("48213"), None], "the flag, else the role id, else none");
}

// ---------------------------------------------------------------- Acme ---

#[tokio::test]
async fn acme_nested_users_path_every_custom_field_type_and_bad_values() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/members"))
        .and(header("authorization", "Token token=acme-token"))
        .and(header("acme-version", "2024-06-01"))
        .respond_with(json(json!({
            "ok": true,
            "data": {"members": [
                {"id": 7, "contact": {"e-mail": "m7@example.com"}, "handle": "m7", "name": {"first": "M", "last": "Seven"},
                 "roles": [{"name": "admin"}], "state": "active", "seats": "2", "plan": "team", "addons": ["ai"],
                 "activity": {"last_seen": 1709640000000_u64},
                 "org": {"department": "Ops", "cost_center": "12x", "manager_id": 3, "start_date": "2020-02-30"},
                 "teams": ["blue", "green"], "billing": {"email": "billing@example.com"}},
                {"id": 8, "contact": {"e-mail": "m8@example.com"}, "state": "suspended", "seats": 0, "plan": "free"}
            ]},
            "has_more": false
        })))
        .mount(&server)
        .await;
    let (synced, _) = sync("acme", &server, "/api/v2", &["acme", "acme-token"]).await.expect("sync");
    let m7 = user(&synced.users, "7");
    assert_eq!(m7.role.as_deref(), Some("Admin"));
    assert_eq!(m7.status, "Active");
    assert_eq!(*m7.licenses, ["Acme Pro", "Acme AI add-on"]);
    assert_eq!(m7.last_seen_at.map(|t| t.timestamp()), Some(1709640000), "Unix milliseconds");
    let fields: Vec<&str> = m7.custom_fields.iter().map(|c| c.name).collect();
    assert_eq!(fields, ["Department", "Manager", "Teams", "Billing email"]);
    let issues: Vec<&str> = m7.issues.iter().map(|i| i.field).collect();
    assert_eq!(issues, ["Cost center", "Start date"], "bad values are left out, the user kept");
    let m8 = user(&synced.users, "8");
    assert_eq!((m8.status.as_ref(), m8.active, &m8.licenses[..]), ("Suspended", false, &["Acme Free"][..]));
}

// ------------------------------------------------------------- failures ---

#[tokio::test]
async fn http_401_and_404_are_auth_or_config_failures_with_the_apis_body_redacted() {
    for status in [401, 404] {
        let server = MockServer::start().await;
        Mock::given(path("/api/users.list"))
            .respond_with(ResponseTemplate::new(status).set_body_string("token xoxb-secret-value is not valid"))
            .mount(&server)
            .await;
        let error = sync("slack", &server, "/api", &["xoxb-secret-value"]).await.expect_err("auth");
        assert!(error.is_auth_or_config_failure(), "{error:?}");
        let shown = error.to_string();
        assert!(
            shown.contains(&format!("HTTP {status}")) && shown.contains("token [redacted] is not valid"),
            "{shown}"
        );
        assert!(!shown.contains("xoxb-secret-value"));
    }
}

#[tokio::test]
async fn a_query_key_with_characters_a_url_escapes_is_redacted_from_the_url_shown() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/users"))
        .and(query_param("api_token", "pd/key+with=chars"))
        .respond_with(ResponseTemplate::new(403).set_body_string("api_token pd/key+with=chars lacks admin rights"))
        .expect(1)
        .mount(&server)
        .await;
    let error = sync("pipedrive", &server, "/v1", &["pd/key+with=chars"]).await.expect_err("403");
    let shown = error.to_string();
    assert!(shown.contains("api_token=[redacted]") && shown.contains("api_token [redacted] lacks"), "{shown}");
    assert!(!shown.contains("pd%2Fkey") && !shown.contains("pd/key"), "{shown}");
}

#[tokio::test]
async fn an_api_echoing_the_basic_auth_header_shows_it_redacted() {
    let server = MockServer::start().await;
    // "admin@acme.io/token:zd-token" in base64, as the Authorization header carries it.
    let echoed = "Authorization: Basic YWRtaW5AYWNtZS5pby90b2tlbjp6ZC10b2tlbg== was refused";
    Mock::given(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(401).set_body_string(echoed))
        .mount(&server)
        .await;
    let error = sync("zendesk", &server, "/api/v2", &["acme", "admin@acme.io", "zd-token"]).await.expect_err("401");
    let shown = error.to_string();
    assert!(shown.contains("Authorization: Basic [redacted] was refused"), "{shown}");
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_within_a_sync() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
    Mock::given(path("/api/users.list"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/users.list"))
        .respond_with(json(json!({"ok": true, "members": [slack_member("U1", json!({}))]})))
        .mount(&server)
        .await;
    let (synced, _) = sync("slack", &server, "/api", &["xoxb-t"]).await.expect("retried");
    assert_eq!(synced.users.len(), 1);
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));
}

#[tokio::test]
async fn a_retry_after_within_the_bound_is_waited_before_the_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/users.list")).respond_with(json(last_slack_page(vec![]))).mount(&server).await;
    let started = std::time::Instant::now();
    sync("slack", &server, "/api", &["xoxb-t"]).await.expect("retried");
    // The policy's own backoff is 5 ms: only Retry-After makes it wait a second.
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn persistent_5xx_and_long_retry_after_fail_without_auth_blame() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    let error = sync("slack", &server, "/api", &["xoxb-t"]).await.expect_err("500");
    assert!(matches!(error, SyncError::Status { status: 500, .. }) && !error.is_auth_or_config_failure());
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3), "1 try and 2 retries");

    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let error = sync("slack", &server, "/api", &["xoxb-t"]).await.expect_err("429");
    assert!(matches!(error, SyncError::RateLimited { .. }), "{error:?}");
}

#[tokio::test]
async fn malformed_json_and_a_dead_server_are_clear_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"ok\": tru"))
        .mount(&server)
        .await;
    let error = sync("slack", &server, "/api", &["xoxb-t"]).await.expect_err("bad json");
    assert!(matches!(&error, SyncError::Page { error: PageError::Json(_), .. }), "{error:?}");

    // A port that was just listening and is now closed: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/api")).expect("url");
    let client = local_client(Duration::from_secs(2)).expect("client");
    let error = sync_at(&client, "slack", &base, &["xoxb-t"], None, SyncOptions::default()).await.expect_err("refused");
    assert!(matches!(&error, SyncError::Transport { .. }) && !error.is_auth_or_config_failure(), "{error:?}");
}

#[tokio::test]
async fn the_page_cap_bounds_a_sync() {
    let server = MockServer::start().await;
    Mock::given(path("/users")).respond_with(OffsetPages::of(100_000)).mount(&server).await;
    let options = SyncOptions { max_pages: 3, retry: fast_retries(), ..SyncOptions::default() };
    let error = sync_with("pagerduty", &server, "", &["pd-key"], None, options).await.expect_err("capped");
    assert_eq!(error, SyncError::PageCap { max_pages: 3 });
}

#[tokio::test]
async fn an_account_past_the_apis_listing_cap_fails_the_sync_naming_the_cap_and_never_asks_past_it() {
    // PagerDuty's spec says `max_users = 10000`; its API refuses offsets from there.
    let server = MockServer::start().await;
    let api = OffsetPages { refuses_from: 10_000, ..OffsetPages::of(10_050) };
    Mock::given(path("/users")).respond_with(api).mount(&server).await;
    let options = || SyncOptions { max_pages: 200, retry: fast_retries(), ..SyncOptions::default() };
    let error = sync_with("pagerduty", &server, "", &["pd-key"], None, options()).await.expect_err("capped");
    assert_eq!(error, SyncError::Capped { max_users: 10_000 });
    assert!(!error.is_auth_or_config_failure(), "a cap is no reason to disable the connection");
    assert!(error.to_string().contains("at most 10000 users") && error.to_string().contains("another way"), "{error}");
    let requests = server.received_requests().await.expect("recorded");
    let offsets: Vec<usize> = requests
        .iter()
        .filter_map(|r| r.url.query_pairs().find(|(k, _)| k == "offset").and_then(|(_, v)| v.parse().ok()))
        .collect();
    assert_eq!(offsets.iter().max(), Some(&9_900), "no page asked at or past the cap");

    // An account of exactly the cap lists whole: the API says no more remain.
    let server = MockServer::start().await;
    Mock::given(path("/users"))
        .respond_with(OffsetPages { refuses_from: 10_000, ..OffsetPages::of(10_000) })
        .mount(&server)
        .await;
    let (synced, _) = sync_with("pagerduty", &server, "", &["pd-key"], None, options()).await.expect("whole");
    assert_eq!(synced.users.len(), 10_000);
}

#[tokio::test]
async fn a_page_cap_the_sync_fits_in_is_no_error_though_pages_are_asked_for_ahead() {
    let server = MockServer::start().await;
    Mock::given(path("/users")).respond_with(OffsetPages::of(300)).mount(&server).await;
    let options = SyncOptions { max_pages: 3, retry: fast_retries(), ..SyncOptions::default() };
    let (synced, summary) = sync_with("pagerduty", &server, "", &["pd-key"], None, options).await.expect("fits");
    assert_eq!((synced.users.len(), summary.pages), (300, 3));
    let asked = server.received_requests().await.expect("recorded").len();
    assert_eq!(asked, 3, "no request beyond the cap");
}

#[tokio::test]
async fn an_empty_page_ends_token_pagination_even_with_a_token() {
    let server = MockServer::start().await;
    Mock::given(path("/acme/_apis/graph/users"))
        .respond_with(json(json!({"count": 0, "value": []})).insert_header("x-ms-continuationtoken", "more?"))
        .expect(1)
        .mount(&server)
        .await;
    let (synced, summary) = sync("azure_devops", &server, "/acme/_apis", &["acme", "ado-pat"]).await.expect("sync");
    assert_eq!((synced.users.len(), summary.pages), (0, 1));
}

// ---------------------------------------------------- The HTTP client ---

/// One Slack page of `members`, the last.
fn last_slack_page(members: Vec<Value>) -> Value {
    json!({"ok": true, "members": members, "response_metadata": {"next_cursor": ""}})
}

#[tokio::test]
async fn a_gzip_answer_is_asked_for_and_read() {
    use std::io::Write;
    let server = MockServer::start().await;
    let body = serde_json::to_vec(&last_slack_page(vec![slack_member("U1", json!({}))])).expect("JSON");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&body).expect("compressed");
    let compressed = gzip.finish().expect("compressed");
    Mock::given(path("/api/users.list"))
        .and(header("accept-encoding", "gzip"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .insert_header("content-type", "application/json")
                .set_body_bytes(compressed),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (synced, _) = sync("slack", &server, "/api", &["xoxb-t"]).await.expect("sync");
    assert_eq!(user(&synced.users, "U1").email, "u1@example.com");
}

#[tokio::test]
async fn an_api_slower_than_the_timeout_is_a_transport_error_for_the_next_sync_to_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(json(last_slack_page(vec![])).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let base = url::Url::parse(&format!("{}/api", server.uri())).expect("url");
    let client = local_client(Duration::from_millis(200)).expect("client");
    // The answer would have been a complete listing: an error that says it timed out is the timeout's.
    let error = sync_at(&client, "slack", &base, &["xoxb-t"], None, SyncOptions::default()).await.expect_err("slow");
    let SyncError::Transport { message, .. } = &error else { panic!("a transport error: {error:?}") };
    assert!(message.contains("timed out"), "the error says why: {message}");
    assert!(!error.is_auth_or_config_failure(), "a slow API does not disable the connection");
}

/// A TCP relay to `target` on 127.0.0.1 that counts the connections made through it.
async fn counting_relay(target: std::net::SocketAddr) -> (url::Url, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("url");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_reused_from_page_to_page() {
    let server = MockServer::start().await;
    Mock::given(path("/users")).respond_with(OffsetPages::of(5_000)).mount(&server).await;
    let (base, connections) = counting_relay(*server.address()).await;
    let client = local_client(Duration::from_secs(5)).expect("client");
    let options = SyncOptions { max_pages: 100, retry: fast_retries(), ..SyncOptions::default() };
    let (synced, _) = sync_at(&client, "pagerduty", &base, &["pd-key"], None, options).await.expect("sync");
    assert_eq!(synced.users.len(), 5_000);
    let requests = server.received_requests().await.expect("recorded").len();
    let connections = connections.load(Ordering::SeqCst);
    assert!(requests >= 50, "50 pages asked for: {requests}");
    // Each of PagerDuty's 4 request slots keeps a connection, but a request
    // sent in the moment between an answer being read and its connection
    // going back to the pool opens one more (4 to 7 were seen for 100 pages).
    assert!(connections * 4 <= requests, "{requests} requests over {connections} connections: they are not reused");
}

#[tokio::test]
async fn a_tls_server_no_trusted_authority_vouches_for_gets_no_request() {
    use tokio_rustls::rustls::{ServerConfig, pki_types::PrivatePkcs8KeyDer};
    let signed = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("a certificate");
    let key = PrivatePkcs8KeyDer::from(signed.key_pair.serialize_der());
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![signed.cert.der().clone()], key.into())
        .expect("a TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // What the server read after the handshake: the request, had the client trusted it.
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("the client connects");
        let mut stream = acceptor.accept(socket).await.map_err(|e| e.to_string())?;
        let mut request = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_buf(&mut stream, &mut request).await;
        Ok::<_, String>(request)
    });

    let base = url::Url::parse(&format!("https://127.0.0.1:{port}/api")).expect("url");
    let client = local_client(Duration::from_secs(5)).expect("client");
    let error =
        sync_at(&client, "slack", &base, &["xoxb-secret"], None, SyncOptions::default()).await.expect_err("untrusted");
    let SyncError::Transport { message, .. } = &error else { panic!("a transport error: {error:?}") };
    assert!(message.contains("certificate"), "the error says why: {message}");
    let handshake = server.await.expect("the server task");
    assert!(handshake.is_err(), "the client ended the handshake, so no request was sent: {handshake:?}");
}

#[tokio::test]
async fn redirects_are_followed_within_the_origin_and_never_to_another() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(path("/v1/users"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/v2/users?api_token=pd-api-token"))
        .mount(&server)
        .await;
    Mock::given(path("/v2/users"))
        .and(query_param("api_token", "pd-api-token"))
        .respond_with(json(json!({"success": true, "data": [{"id": 1, "email": "a@example.com", "name": "A"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let (synced, _) = sync("pipedrive", &server, "/v1", &["pd-api-token"]).await.expect("followed");
    assert_eq!(synced.users.len(), 1);

    let server = MockServer::start().await;
    let location = format!("{}/v1/users?api_token=pd-api-token", elsewhere.uri());
    Mock::given(path("/v1/users"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", location.as_str()))
        .mount(&server)
        .await;
    let error = sync("pipedrive", &server, "/v1", &["pd-api-token"]).await.expect_err("not followed");
    assert!(matches!(error, SyncError::Status { status: 302, .. }), "{error:?}");
    let shown = error.to_string();
    assert!(shown.contains("not followed") && !shown.contains("pd-api-token"), "says why, redacted: {shown}");
    assert_eq!(elsewhere.received_requests().await.map(|r| r.len()), Some(0), "nothing sent to the other origin");
}

// ------------------------------------------------------ Hostile answers ---

/// A client that reads at most `max_answer_bytes` of the answers of a sync.
fn bounded_client(max_answer_bytes: u64) -> Client {
    let network = NetworkPolicy::with_loopback();
    Client::new(ClientSettings { timeout: Duration::from_secs(10), max_answer_bytes, network, trusted: Vec::new() })
        .expect("client")
}

async fn slack_through(client: &Client, base: &str) -> Result<(Synced, SyncSummary), SyncError> {
    let base = url::Url::parse(base).expect("a URL");
    sync_at(
        client,
        "slack",
        &base,
        &["xoxb-t"],
        None,
        SyncOptions { max_pages: 5, retry: fast_retries(), ..SyncOptions::default() },
    )
    .await
}

#[tokio::test]
async fn a_gzip_bomb_is_inflated_no_further_than_the_bound() {
    use std::io::Write;
    // 256 MiB of spaces, about 250 KiB compressed: within the bound on the wire, far beyond it inflated.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..256 {
        gzip.write_all(&[b' '; 1 << 20]).expect("compressed");
    }
    let bomb = gzip.finish().expect("compressed");
    assert!(bomb.len() < 1 << 20, "{} bytes compressed", bomb.len());
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("content-encoding", "gzip").set_body_raw(bomb, "application/json"),
        )
        .mount(&server)
        .await;
    let error = slack_through(&bounded_client(4 << 20), &format!("{}/api", server.uri())).await.err();
    assert!(matches!(&error, Some(SyncError::TooLarge { limit, .. }) if *limit == 4 << 20), "{error:?}");
    assert!(!error.is_some_and(|e| e.is_auth_or_config_failure()), "recorded and retried, not disabled");
}

#[tokio::test]
async fn an_answer_that_never_ends_is_read_no_further_than_the_bound() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/api", listener.local_addr().expect("address"));
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut head = [0u8; 4096];
        let _ = socket.read(&mut head).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
        // Bounded, as every test server here: 1 GiB at most, or until the client hangs up.
        for _ in 0..16_384 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            counter.fetch_add(0x10000, Ordering::SeqCst);
        }
    });
    let error = slack_through(&bounded_client(8 << 20), &base).await.err();
    assert!(matches!(error, Some(SyncError::TooLarge { .. })), "{error:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent < 64 << 20, "the client stopped reading near the bound: the server got {sent} bytes out");
}

#[tokio::test]
async fn a_name_is_checked_each_time_it_resolves_so_rebinding_it_to_loopback_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The API on 127.0.0.2, the one address the operator allows; each answer closes its
    // connection, so the next page resolves the name again.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        for page in 0..2 {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut head = [0u8; 4096];
            let _ = socket.read(&mut head).await;
            let cursor = if page == 0 { "c2" } else { "" };
            let body = json!({"ok": true, "members": [slack_member(&format!("U{page}"), json!({}))],
                              "response_metadata": {"next_cursor": cursor}})
            .to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let client = |answers: Vec<&'static str>| {
        let network = NetworkPolicy::allowing(vec!["127.0.0.2/32".parse().expect("a network")]);
        let settings = ClientSettings { timeout: Duration::from_secs(5), network, ..ClientSettings::default() };
        Client::with_resolver(settings, Arc::new(Rebinding { answers: std::sync::Mutex::new(answers) }))
            .expect("client")
    };
    let base = format!("http://api.tenant.test:{port}/api");
    // First 127.0.0.2, then 127.0.0.1: the second connection is refused before it is made.
    let error = slack_through(&client(vec!["127.0.0.2", "127.0.0.1"]), &base).await.err();
    let shown = error.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(error, Some(SyncError::Transport { .. })), "{error:?}");
    assert!(shown.contains("127.0.0.1 is a loopback address"), "{shown}");
}

/// A resolver the test controls: each lookup takes the next address.
struct Rebinding {
    answers: std::sync::Mutex<Vec<&'static str>>,
}

impl reqwest::dns::Resolve for Rebinding {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let next = {
            let mut answers = self.answers.lock().expect("lock");
            if answers.is_empty() { None } else { Some(answers.remove(0)) }
        };
        Box::pin(async move {
            let address: std::net::IpAddr = next.ok_or("no more answers")?.parse()?;
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(std::net::SocketAddr::new(address, 0)));
            Ok(addrs)
        })
    }
}

#[tokio::test]
async fn addresses_written_out_are_refused_in_every_spelling_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(path("/api/users.list")).respond_with(json(last_slack_page(vec![]))).expect(0).mount(&server).await;
    let port = server.address().port();
    let strict = Client::new(ClientSettings::default()).expect("client");
    for host in ["127.0.0.1", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]", "localhost"] {
        let error = slack_through(&strict, &format!("http://{host}:{port}/api")).await.err();
        let shown = error.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(shown.contains("is a loopback address"), "{host}: {shown}");
    }
}

/// A users API on 127.0.0.1 behind TLS that asks every client for a certificate its own
/// authority signed (mTLS): a spec naming the connection's certificate syncs through it, and a
/// client without one is refused at the handshake.
#[tokio::test]
async fn a_client_certificate_is_presented_to_an_api_that_asks_for_one() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio_rustls::rustls::server::WebPkiClientVerifier;
    use tokio_rustls::rustls::{RootCertStore, ServerConfig};

    let authority_key = rcgen::KeyPair::generate().expect("a key");
    let mut authority = rcgen::CertificateParams::new(Vec::<String>::new()).expect("parameters");
    authority.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let authority = authority.self_signed(&authority_key).expect("the company's authority");
    let signed = |name: &str| {
        let key = rcgen::KeyPair::generate().expect("a key");
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("parameters");
        (params.signed_by(&key, &authority, &authority_key).expect("signed"), key)
    };
    let (server_cert, server_key) = signed("127.0.0.1");
    let (client_cert, client_key) = signed("tib");
    let mut roots = RootCertStore::empty();
    roots.add(authority.der().clone()).expect("a root");
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots)).build().expect("a verifier");
    let config = ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server_cert.der().clone()], PrivatePkcs8KeyDer::from(server_key.serialize_der()).into())
        .expect("a TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client without a certificate ends here: the handshake fails.
                let Ok(mut stream) = acceptor.accept(socket).await else { return };
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let body = r#"[{"id": "u1", "email": "ada@acme.example"}]"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });

    let spec = format!(
        "app \"Vault\"\nbase_url \"https://127.0.0.1:{port}\"\n\
         credentials {{\n  token secret \"A token\"\n  certificate secret \"The client certificate and its key, PEM\"\n}}\n\
         auth bearer \"{{token}}\"\nrequest GET \"/users\" {{\n  client_certificate = \"{{certificate}}\"\n}}\n\
         paginate none\nusers at .\nfields {{\n  id = id\n  email = email\n}}\n"
    );
    let compiled = tib_front::compile("vault.tib", &spec, &tib_front::catalog::Catalog::missing());
    let connector: Arc<dyn tib_support::Connector> =
        Arc::new(tib_interpret::Interpreted::new(compiled.spec.expect("the spec checks")));
    let client = Client::new(ClientSettings {
        network: NetworkPolicy::with_loopback(),
        trusted: vec![authority.pem().into_bytes()],
        ..ClientSettings::default()
    })
    .expect("a client");
    let sync_with = |identity: String| {
        let (client, connector) = (client.clone(), connector.clone());
        async move {
            let credentials = CredentialValues::new(vec![(Secret::new("t"), true), (Secret::new(identity), true)]);
            let connection = Connection { credentials: &credentials, tokens: None, base_url: None };
            let mut users = Vec::new();
            let options = SyncOptions { retry: fast_retries(), ..SyncOptions::default() };
            tib_support::sync(&client, connector, &connection, &options, &mut |page| users.extend(page.users))
                .await
                .map(|_| users)
        }
    };
    let identity = format!("{}{}", client_cert.pem(), client_key.serialize_pem());
    let users = sync_with(identity).await.expect("the API took the certificate");
    assert_eq!(users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["ada@acme.example"]);

    // A certificate the API's authority never signed is refused at the handshake.
    let stranger_key = rcgen::KeyPair::generate().expect("a key");
    let stranger =
        rcgen::CertificateParams::new(vec!["tib".to_owned()]).expect("parameters").self_signed(&stranger_key);
    let stranger = format!("{}{}", stranger.expect("self-signed").pem(), stranger_key.serialize_pem());
    let refused = sync_with(stranger).await.expect_err("refused");
    assert!(matches!(refused, SyncError::Transport { .. }), "{refused:?}");
    let unreadable = sync_with("not a certificate".to_owned()).await.expect_err("not PEM");
    assert!(unreadable.to_string().contains("not a PEM certificate"), "{unreadable}");
}
