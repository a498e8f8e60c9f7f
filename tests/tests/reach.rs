//! The constructs that reach real APIs, end to end over real sockets: request
//! bodies and GraphQL, tokens into the body and continuation requests,
//! several listings, values as APIs send them (`except`, `or`, `else`, a
//! missing users key), `any` groups, a fixed status, and API errors in a 200
//! classed as refused or rate limited, and lookups asked per user (GitHub's
//! memberships, Jira's groups). Each runs through the generated
//! connector and through preview's interpreter, which must agree.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tib_interpret::Interpreted;
use tib_support::oauth::{StaticToken, TokenProvider};
use tib_support::{
    ApiErrorKind, Client, ClientSettings, Connection, Connector, CredentialValues, NetworkPolicy, PageError,
    RetryPolicy, Secret, SyncError, SyncOptions, User,
};
use wiremock::matchers::{body_json, header, method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The example spec of `app`, as its generated connector and as interpreted.
fn both(app: &str) -> [(&'static str, Arc<dyn Connector>); 2] {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let catalog = tib_front::workspace::CatalogFile::load(&root).expect("catalog").catalog();
    let paths = tib_front::workspace::spec_paths(&root).expect("specs");
    let files = tib_front::workspace::compile_files(&root, &paths, &catalog);
    let spec = files
        .into_iter()
        .filter_map(|file| file.compiled.spec)
        .find(|spec| spec.app.id == app)
        .unwrap_or_else(|| panic!("no example spec {app}"));
    let generated = tib_connectors::connector(app).expect("a generated connector");
    [("generated", Arc::new(generated)), ("interpreted", Arc::new(Interpreted::new(spec)))]
}

fn client() -> Client {
    Client::new(ClientSettings { network: NetworkPolicy::with_loopback(), ..ClientSettings::default() })
        .expect("a client")
}

/// Syncs `connector` from `server` with the connection's `values`; the users, or why not.
async fn sync(
    connector: Arc<dyn Connector>,
    server: &MockServer,
    values: &[&str],
    tokens: Option<&dyn TokenProvider>,
) -> Result<Vec<User>, SyncError> {
    sync_from(connector, &server.uri(), values, tokens).await.map(|(users, _)| users)
}

/// Syncs `connector` from the API at `base`: the users and the sync's summary, or why not.
async fn sync_from(
    connector: Arc<dyn Connector>,
    base: &str,
    values: &[&str],
    tokens: Option<&dyn TokenProvider>,
) -> Result<(Vec<User>, tib_support::SyncSummary), SyncError> {
    let spec = connector.spec();
    let credentials =
        CredentialValues::new(values.iter().zip(spec.credentials).map(|(v, c)| (Secret::new(*v), c.secret)).collect());
    let base = url::Url::parse(base).expect("a URL");
    let connection = Connection { credentials: &credentials, tokens, base_url: Some(&base) };
    let retry = RetryPolicy { max_retries: 2, base_delay: Duration::from_millis(5), max_delay: Duration::from_secs(1) };
    let options = SyncOptions { max_pages: 20, retry, ..SyncOptions::default() };
    let mut users = Vec::new();
    let summary =
        tib_support::sync(&client(), connector, &connection, &options, &mut |page| users.extend(page.users)).await?;
    assert_eq!(summary.users, users.len() as u64, "the summary counts the users handed on");
    Ok((users, summary))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.external_id.as_str()).collect()
}

fn find<'u>(users: &'u [User], id: &str) -> &'u User {
    users.iter().find(|u| u.external_id == id).unwrap_or_else(|| panic!("no user {id}"))
}

// ------------------------------------------------------ bodies, Dropbox ---

fn dropbox_member(id: &str, status: &str, roles: Value) -> Value {
    json!({
        "profile": {
            "team_member_id": id, "email": format!("{id}@example.com"),
            "name": {"display_name": format!("Member {id}")},
            "status": {".tag": status}, "joined_on": "2024-03-05T12:00:00Z"
        },
        "roles": roles
    })
}

#[tokio::test]
async fn dropbox_posts_a_json_body_then_continues_with_the_cursor_alone() {
    for (kind, connector) in both("dropbox_business") {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/2/team/members/list_v2"))
            .and(header("content-type", "application/json"))
            .and(header("authorization", "Bearer team-token"))
            .and(body_json(json!({"limit": 200, "include_removed": true})))
            .respond_with(ok(json!({
                "members": [dropbox_member("dbmid:a", "active", json!([{"role_id": "pid_dbtmr:1", "name": "Team admin"}]))],
                "cursor": "c-1", "has_more": true
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/2/team/members/list/continue_v2"))
            .and(body_json(json!({"cursor": "c-1"})))
            .respond_with(ok(json!({
                "members": [dropbox_member("dbmid:b", "suspended", json!([]))], "cursor": "c-2", "has_more": false
            })))
            .expect(1)
            .mount(&server)
            .await;
        let users = sync(connector, &server, &["team-token"], None).await.expect(kind);
        assert_eq!(ids(&users), ["dbmid:a", "dbmid:b"], "{kind}");
        let (admin, suspended) = (find(&users, "dbmid:a"), find(&users, "dbmid:b"));
        assert_eq!(admin.role.as_deref(), Some("Team admin"), "{kind}: the first path that has a value");
        assert_eq!(suspended.role.as_deref(), Some("Member"), "{kind}: no role, so the fallback");
        assert!(admin.active && !suspended.active, "{kind}");
        assert_eq!(suspended.status, "suspended", "{kind}: a key with a dot, quoted");
    }
}

// ------------------------------------------------------ GraphQL, Linear ---

fn linear_page(nodes: Value, next: Option<&str>) -> Value {
    json!({"data": {"users": {"nodes": nodes, "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next}}}})
}

fn linear_user(id: &str, guest: bool) -> Value {
    json!({"id": id, "email": format!("{id}@example.com"), "name": id, "displayName": id,
           "admin": false, "guest": guest, "active": true, "createdAt": "2024-01-01T00:00:00Z"})
}

#[tokio::test]
async fn linear_sends_the_cursor_in_the_querys_variables() {
    for (kind, connector) in both("linear") {
        let server = MockServer::start().await;
        let query = tib_connectors::connector("linear").expect("linear").spec().endpoint.body.clone();
        assert!(query.is_some(), "Linear's spec posts a query");
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .and(header("authorization", "lin_api_key"))
            .and(wiremock::matchers::body_partial_json(json!({"variables": {"first": 100, "after": "cur-1"}})))
            .respond_with(ok(linear_page(json!([linear_user("u2", true)]), None)))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/graphql"))
            .and(body_json_has_no_after())
            .respond_with(ok(linear_page(json!([linear_user("u1", false)]), Some("cur-1"))))
            .expect(1)
            .mount(&server)
            .await;
        let users = sync(connector, &server, &["lin_api_key"], None).await.expect(kind);
        assert_eq!(ids(&users), ["u1", "u2"], "{kind}");
        assert_eq!(find(&users, "u2").licenses.as_ref(), ["Guest"], "{kind}");
        assert_eq!(find(&users, "u1").licenses.as_ref(), ["Member"], "{kind}");
        let requests = server.received_requests().await.expect("recorded");
        let first: Value = serde_json::from_slice(&requests[0].body).expect("JSON");
        assert!(first["query"].as_str().is_some_and(|q| q.starts_with("query Users(") && q.contains("{ nodes {")));
    }
}

/// Matches the first page's body: `variables` without `after`.
fn body_json_has_no_after() -> impl wiremock::Match {
    struct NoAfter;
    impl wiremock::Match for NoAfter {
        fn matches(&self, request: &wiremock::Request) -> bool {
            serde_json::from_slice::<Value>(&request.body)
                .is_ok_and(|body| body["variables"]["first"] == 100 && body["variables"].get("after").is_none())
        }
    }
    NoAfter
}

fn graphql_error(code: &str) -> Value {
    json!({"errors": [{"message": format!("failed: {code}"), "extensions": {"code": code}}]})
}

#[tokio::test]
async fn api_errors_in_a_200_are_classed_refused_rate_limited_or_other() {
    for (kind, connector) in both("linear") {
        let server = MockServer::start().await;
        Mock::given(path("/graphql")).respond_with(ok(graphql_error("AUTHENTICATION_ERROR"))).mount(&server).await;
        let refused = sync(connector.clone(), &server, &["k"], None).await.expect_err("refused");
        assert!(
            matches!(&refused, SyncError::Page { error: PageError::Api { kind: ApiErrorKind::Refused, .. }, .. }),
            "{kind}: {refused:?}"
        );
        assert!(refused.is_auth_or_config_failure(), "{kind}: the 400-404 policy: disable and notify");

        let server = MockServer::start().await;
        Mock::given(path("/graphql"))
            .respond_with(ok(graphql_error("RATELIMITED")))
            .up_to_n_times(2)
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(path("/graphql"))
            .respond_with(ok(linear_page(json!([linear_user("u1", false)]), None)))
            .expect(1)
            .mount(&server)
            .await;
        let users = sync(connector.clone(), &server, &["k"], None).await.expect("asked again with backoff");
        assert_eq!(ids(&users), ["u1"], "{kind}");

        let server = MockServer::start().await;
        Mock::given(path("/graphql")).respond_with(ok(graphql_error("RATELIMITED"))).expect(3).mount(&server).await;
        let limited = sync(connector.clone(), &server, &["k"], None).await.expect_err("still limited");
        assert!(limited.to_string().contains("rate limiting"), "{kind}: {limited}");
        assert!(!limited.is_auth_or_config_failure(), "{kind}: retried at the next sync");

        let server = MockServer::start().await;
        Mock::given(path("/graphql")).respond_with(ok(graphql_error("INTERNAL"))).expect(1).mount(&server).await;
        let other = sync(connector, &server, &["k"], None).await.expect_err("an error");
        assert!(
            matches!(&other, SyncError::Page { error: PageError::Api { kind: ApiErrorKind::Other, .. }, .. }),
            "{kind}: {other:?}"
        );
        assert!(!other.is_auth_or_config_failure(), "{kind}");
    }
}

// ---------------------------------------------------- listings, Zoom ---

fn zoom_user(id: &str, status: &str) -> Value {
    json!({"id": id, "email": format!("{id}@example.com"), "first_name": "Z", "last_name": id,
           "status": status, "type": 2, "created_at": "2024-01-01T00:00:00Z"})
}

async fn zoom_listing(server: &MockServer, status: &str, users: Value) {
    Mock::given(path("/users"))
        .and(query_param("status", status))
        .and(query_param("page_size", "300"))
        .respond_with(ok(json!({"users": users, "next_page_token": ""})))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn zoom_lists_each_status_in_one_sync_and_a_user_listed_twice_is_kept_once() {
    for (kind, connector) in both("zoom") {
        let server = MockServer::start().await;
        zoom_listing(&server, "active", json!([zoom_user("a", "active"), zoom_user("moved", "active")])).await;
        zoom_listing(&server, "inactive", json!([zoom_user("i", "inactive"), zoom_user("moved", "inactive")])).await;
        zoom_listing(&server, "pending", json!([zoom_user("p", "pending")])).await;
        let token = StaticToken(Secret::new("zoom-token"));
        let users = sync(connector.clone(), &server, &["acct", "cid", "cs"], Some(&token)).await.expect(kind);
        assert_eq!(ids(&users), ["a", "moved", "i", "p"], "{kind}: listings in order, each user once");
        assert_eq!(find(&users, "moved").status, "active", "{kind}: the first listing that lists a user wins");
        assert_eq!(find(&users, "a").created_at.map(|t| t.to_rfc3339()).as_deref(), Some("2024-01-01T00:00:00+00:00"));

        let server = MockServer::start().await;
        zoom_listing(&server, "active", json!([zoom_user("a", "active")])).await;
        zoom_listing(&server, "inactive", json!([])).await;
        Mock::given(path("/users"))
            .and(query_param("status", "pending"))
            .respond_with(ResponseTemplate::new(404))
            .mount(&server)
            .await;
        let failed = sync(connector, &server, &["acct", "cid", "cs"], Some(&token)).await.expect_err("one failed");
        assert!(matches!(failed, SyncError::Status { status: 404, .. }), "{kind}: the whole sync fails: {failed:?}");
    }
}

// ------------------------------------------- values, Google and others ---

#[tokio::test]
async fn google_pages_without_users_hold_none_and_the_1970_login_is_no_login() {
    for (kind, connector) in both("google_workspace") {
        let server = MockServer::start().await;
        Mock::given(path("/users"))
            .and(query_param("customer", "my_customer"))
            .and(wiremock::matchers::query_param_is_missing("pageToken"))
            .respond_with(ok(json!({"users": [
                {"id": "1", "primaryEmail": "a@example.com", "name": {"fullName": "A"}, "isAdmin": true,
                 "lastLoginTime": "1970-01-01T00:00:00.000Z", "suspended": false},
                {"id": "2", "primaryEmail": "b@example.com", "name": {"fullName": "B"},
                 "lastLoginTime": "2024-05-01T10:00:00.000Z", "suspended": true}
            ], "nextPageToken": "t2"})))
            .mount(&server)
            .await;
        Mock::given(path("/users"))
            .and(query_param("pageToken", "t2"))
            .respond_with(ok(json!({"kind": "admin#directory#users", "etag": "x"})))
            .mount(&server)
            .await;
        let token = StaticToken(Secret::new("g"));
        let users =
            sync(connector.clone(), &server, &["admin@example.com", "cid", "cs"], Some(&token)).await.expect(kind);
        assert_eq!(ids(&users), ["1", "2"], "{kind}");
        assert_eq!(find(&users, "1").last_seen_at, None, "{kind}: the sentinel means never");
        assert!(find(&users, "2").last_seen_at.is_some(), "{kind}");
        assert_eq!(find(&users, "1").role.as_deref(), Some("Super Admin"), "{kind}");
        assert_eq!(find(&users, "2").status, "Suspended", "{kind}");

        // A users key of the wrong kind is still an error, not an empty page.
        let server = MockServer::start().await;
        Mock::given(path("/users")).respond_with(ok(json!({"users": "none"}))).mount(&server).await;
        let wrong = sync(connector, &server, &["admin@example.com", "cid", "cs"], Some(&token))
            .await
            .expect_err("not an array");
        assert!(matches!(wrong, SyncError::Page { error: PageError::NotAnArray { .. }, .. }), "{kind}: {wrong:?}");
    }
}

#[tokio::test]
async fn without_or_none_a_missing_users_key_is_an_error_not_an_empty_account() {
    for (kind, connector) in both("slack") {
        let server = MockServer::start().await;
        Mock::given(path("/users.list")).respond_with(ok(json!({"ok": true}))).mount(&server).await;
        let missing = sync(connector, &server, &["xoxb"], None).await.expect_err("no users key");
        assert!(matches!(missing, SyncError::Page { error: PageError::MissingUsers { .. }, .. }), "{kind}");
    }
}

#[tokio::test]
async fn slack_guests_by_an_any_group_and_its_error_codes_classed() {
    let member = |id: &str, extra: Value| {
        let mut m = json!({"id": id, "name": id, "profile": {"email": format!("{id}@example.com")}});
        m.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        m
    };
    for (kind, connector) in both("slack") {
        let server = MockServer::start().await;
        Mock::given(path("/users.list"))
            .respond_with(ok(json!({"ok": true, "members": [
                member("U1", json!({"is_restricted": true})),
                member("U2", json!({"is_ultra_restricted": true})),
                member("U3", json!({}))
            ], "response_metadata": {"next_cursor": ""}})))
            .mount(&server)
            .await;
        let users = sync(connector.clone(), &server, &["xoxb"], None).await.expect(kind);
        let roles: Vec<_> = users.iter().map(|u| u.role.as_deref().unwrap_or_default()).collect();
        assert_eq!(roles, ["Guest", "Guest", "Member"], "{kind}: either flag makes a guest");

        let server = MockServer::start().await;
        Mock::given(path("/users.list"))
            .respond_with(ok(json!({"ok": false, "error": "token_revoked"})))
            .mount(&server)
            .await;
        let revoked = sync(connector, &server, &["xoxb"], None).await.expect_err("revoked");
        assert!(revoked.is_auth_or_config_failure(), "{kind}: {revoked}");
        assert!(revoked.to_string().contains("refused the credentials"), "{kind}: {revoked}");
    }
}

#[tokio::test]
async fn notion_labels_every_user_with_its_one_status() {
    for (kind, connector) in both("notion") {
        let server = MockServer::start().await;
        Mock::given(path("/users"))
            .and(header("notion-version", "2022-06-28"))
            .respond_with(ok(json!({"results": [
                {"id": "n1", "type": "person", "name": "N", "person": {"email": "n@example.com"}},
                {"id": "b1", "type": "bot", "name": "Bot", "bot": {}}
            ], "has_more": false, "next_cursor": null})))
            .mount(&server)
            .await;
        let token = StaticToken(Secret::new("n"));
        let users = sync(connector, &server, &["cid", "cs"], Some(&token)).await.expect(kind);
        assert_eq!(ids(&users), ["n1"], "{kind}: the bot has no email and is not stored");
        assert_eq!(users[0].status, "Member", "{kind}");
    }
}

// --------------------------------------------------- lookups, GitHub and Jira ---

fn github_member(id: u64, login: &str, kind: &str) -> Value {
    json!({"id": id, "login": login, "email": null, "name": null, "type": kind})
}

/// An organization without teams.
async fn no_teams(server: &MockServer) {
    Mock::given(path("/teams")).respond_with(ok(json!([]))).mount(server).await;
}

#[tokio::test]
async fn github_roles_come_from_each_members_membership() {
    for (kind, connector) in both("github") {
        let server = MockServer::start().await;
        Mock::given(path("/members"))
            .and(header("authorization", "Bearer gh"))
            .respond_with(ok(json!([
                github_member(1, "ann", "User"),
                github_member(2, "octocat", "User"),
                github_member(3, "dependabot[bot]", "Bot")
            ])))
            .mount(&server)
            .await;
        no_teams(&server).await;
        for (login, role) in [("ann", "member"), ("octocat", "admin"), ("dependabot%5Bbot%5D", "member")] {
            Mock::given(path(format!("/memberships/{login}")))
                .and(header("authorization", "Bearer gh"))
                .and(header("x-github-api-version", "2022-11-28"))
                .respond_with(ok(json!({"state": "active", "role": role, "user": {"login": login}})))
                .expect(1)
                .mount(&server)
                .await;
        }
        let (users, summary) = sync_from(connector, &server.uri(), &["acme", "gh"], None).await.expect(kind);
        let roles: Vec<Option<&str>> = users.iter().map(|u| u.role.as_deref()).collect();
        assert_eq!(roles, [Some("member"), Some("admin"), Some("member")], "{kind}");
        let kinds: Vec<Option<&str>> = users.iter().map(|u| u.account_type.as_deref()).collect();
        assert_eq!(kinds, [Some("human"), Some("human"), Some("bot")], "{kind}: a bot's account, decided by rules");
        assert_eq!(summary.lookups, 4, "{kind}: one lookup per member, and the page of teams, counted");
    }
}

#[tokio::test]
async fn a_lookup_that_fails_fails_the_sync_naming_what_and_where() {
    for (kind, connector) in both("github") {
        let server = MockServer::start().await;
        Mock::given(path("/members"))
            .respond_with(ok(json!([github_member(1, "ann", "User"), github_member(2, "bob", "User")])))
            .mount(&server)
            .await;
        no_teams(&server).await;
        Mock::given(path("/memberships/ann")).respond_with(ok(json!({"role": "admin"}))).mount(&server).await;
        Mock::given(path("/memberships/bob"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .mount(&server)
            .await;
        // GitHub's spec does not say a 404 means nothing: the path is wrong, as for any request.
        let missing = sync_from(connector.clone(), &server.uri(), &["acme", "gh"], None).await.expect_err(kind);
        assert!(
            matches!(&missing, SyncError::Status { status: 404, url, .. } if url.ends_with("/memberships/bob")),
            "{kind}: {missing}"
        );
        assert!(missing.is_auth_or_config_failure(), "{kind}");

        server.reset().await;
        no_teams(&server).await;
        Mock::given(path("/members")).respond_with(ok(json!([github_member(1, "ann", "User")]))).mount(&server).await;
        Mock::given(path("/memberships/ann"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>sign in</html>"))
            .mount(&server)
            .await;
        let unreadable = sync_from(connector, &server.uri(), &["acme", "gh"], None).await.expect_err(kind);
        assert!(
            matches!(
                &unreadable,
                SyncError::Page { error: PageError::Lookup { lookup: "membership", user: 1, .. }, .. }
            ),
            "{kind}: {unreadable:?}"
        );
        assert!(unreadable.to_string().contains("lookup `membership`"), "{kind}: {unreadable}");
    }
}

fn jira_user(id: &str, kind: &str, active: bool) -> Value {
    json!({"accountId": id, "accountType": kind, "emailAddress": format!("{}@acme.example", id.replace(':', "-")),
           "displayName": id, "active": active})
}

#[tokio::test]
async fn jira_seats_are_members_of_the_software_group_and_a_user_gone_meanwhile_has_no_groups() {
    for (kind, connector) in both("jira") {
        let server = MockServer::start().await;
        Mock::given(path("/users/search"))
            .and(query_param("startAt", "0"))
            .and(query_param("maxResults", "100"))
            .respond_with(ok(json!([
                jira_user("557058:a", "atlassian", true),
                jira_user("557058:b", "atlassian", true),
                jira_user("557058:gone", "atlassian", true),
                jira_user("app:1", "app", true)
            ])))
            .mount(&server)
            .await;
        Mock::given(path("/users/search"))
            .and(query_param("startAt", "4"))
            .respond_with(ok(json!([])))
            .mount(&server)
            .await;
        let groups =
            |names: &[&str]| ok(Value::Array(names.iter().map(|n| json!({"name": n, "groupId": n})).collect()));
        Mock::given(path("/user/groups"))
            .and(query_param("accountId", "557058:a"))
            .and(header("authorization", "Basic YWRtaW5AYWNtZS5leGFtcGxlOmppcmEtdG9rZW4="))
            .respond_with(groups(&["jira-software-users", "site-admins"]))
            .mount(&server)
            .await;
        Mock::given(path("/user/groups"))
            .and(query_param("accountId", "557058:b"))
            .respond_with(groups(&["confluence-users"]))
            .mount(&server)
            .await;
        Mock::given(path("/user/groups"))
            .and(query_param("accountId", "app:1"))
            .respond_with(groups(&["jira-software-users"]))
            .mount(&server)
            .await;
        Mock::given(path("/user/groups"))
            .and(query_param("accountId", "557058:gone"))
            .respond_with(
                ResponseTemplate::new(404).set_body_json(json!({"errorMessages": ["The user does not exist"]})),
            )
            .mount(&server)
            .await;
        let values = ["acme", "admin@acme.example", "jira-token"];
        let (users, summary) = sync_from(connector, &server.uri(), &values, None).await.expect(kind);
        let seats: Vec<(&str, &[&str])> = users.iter().map(|u| (u.external_id.as_str(), &*u.licenses)).collect();
        assert_eq!(
            seats,
            [("557058:a", &["Jira Software"][..]), ("557058:b", &[][..]), ("557058:gone", &[][..]), ("app:1", &[][..])],
            "{kind}: a seat is the group's, and an app holds none"
        );
        assert!(!find(&users, "app:1").active, "{kind}: an app is not an active user");
        let a = find(&users, "557058:a");
        assert_eq!(a.groups, ["jira-software-users", "site-admins"], "{kind}: each group's name");
        assert_eq!(
            (a.account_type.as_deref(), find(&users, "app:1").account_type.as_deref()),
            (Some("atlassian"), Some("app"))
        );
        assert!(find(&users, "557058:gone").groups.is_empty(), "{kind}: no groups where the lookup found nothing");
        assert_eq!(summary.lookups, 4, "{kind}: the 404 answered too");
    }
}

/// A users API on 127.0.0.1 whose lookups answer after `delay`, counting the most it was asked at once.
struct SlowLookups {
    base: String,
    most_at_once: Arc<std::sync::atomic::AtomicUsize>,
}

/// Serves `members` GitHub members at `/members` and each one's membership at `/memberships/{login}`,
/// over plain HTTP/1.1 with keep-alive.
async fn slow_lookups(members: usize, delay: Duration) -> SlowLookups {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let most_at_once = most.clone();
    let listing =
        Value::Array((0..members).map(|i| github_member(i as u64 + 1, &format!("m{i}"), "User")).collect()).to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (now, most, listing) = (now.clone(), most.clone(), listing.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(request_line)) = lines.next_line().await {
                    while let Ok(Some(header)) = lines.next_line().await {
                        if header.is_empty() {
                            break;
                        }
                    }
                    let body = if request_line.contains("/memberships/") {
                        let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(at_once, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        json!({"role": "member"}).to_string()
                    } else {
                        listing.clone()
                    };
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    SlowLookups { base, most_at_once }
}

#[tokio::test]
async fn lookups_are_asked_side_by_side_never_more_than_the_spec_allows() {
    for (kind, connector) in both("github") {
        let api = slow_lookups(40, Duration::from_millis(25)).await;
        let (users, summary) = sync_from(connector, &api.base, &["acme", "gh"], None).await.expect(kind);
        // 40 lookups, and one page of teams (the listing again: members, not teams, so no team's members).
        assert_eq!((users.len(), summary.lookups), (40, 41), "{kind}");
        let most = api.most_at_once.load(std::sync::atomic::Ordering::SeqCst);
        // specs/github.tib allows 8: 40 lookups one at a time would take a second.
        assert!((2..=8).contains(&most), "{kind}: {most} lookups at once");
        assert!(summary.lookup_time >= Duration::from_millis(25 * 40 / 8), "{kind}: {:?}", summary.lookup_time);
    }
}

// ------------------------------------------------------------ a session, Tableau ---

fn tableau_user(id: &str, role: &str) -> Value {
    json!({"id": id, "name": format!("{id}@acme.example"), "fullName": id, "siteRole": role,
           "lastLogin": "2026-11-30T08:00:00Z"})
}

fn tableau_signed_in(token: &str) -> ResponseTemplate {
    ok(
        json!({"credentials": {"token": token, "site": {"id": "site-9", "contentUrl": "acme"}, "user": {"id": "u-admin"}}}),
    )
}

#[tokio::test]
async fn tableau_signs_in_sends_its_token_to_the_sites_users_and_signs_in_again_when_it_expires() {
    for (kind, connector) in both("tableau") {
        let server = MockServer::start().await;
        let signed_in = || {
            body_json(json!({"credentials": {
                "personalAccessTokenName": "tib", "personalAccessTokenSecret": "pat-secret", "site": {"contentUrl": "acme"}
            }}))
        };
        Mock::given(method("POST"))
            .and(path("/auth/signin"))
            .and(signed_in())
            .respond_with(tableau_signed_in("token-1"))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/auth/signin"))
            .and(signed_in())
            .respond_with(tableau_signed_in("token-2"))
            .expect(1)
            .mount(&server)
            .await;
        let page = |number: &str, users: Value| {
            ok(
                json!({"pagination": {"pageNumber": number, "pageSize": "100", "totalAvailable": "3"}, "users": {"user": users}}),
            )
        };
        Mock::given(path("/sites/site-9/users"))
            .and(query_param("pageNumber", "1"))
            .and(header("x-tableau-auth", "token-1"))
            .respond_with(page("1", json!([tableau_user("a", "Creator"), tableau_user("b", "Viewer")])))
            .mount(&server)
            .await;
        // The session expired between the pages: the old token is refused, the new one read.
        Mock::given(path("/sites/site-9/users"))
            .and(query_param("pageNumber", "2"))
            .and(header("x-tableau-auth", "token-1"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "401002"}})))
            .mount(&server)
            .await;
        Mock::given(path("/sites/site-9/users"))
            .and(query_param("pageNumber", "2"))
            .and(header("x-tableau-auth", "token-2"))
            .respond_with(page("2", json!([tableau_user("c", "Unlicensed")])))
            .mount(&server)
            .await;
        // Each user's groups, under the site the sign-in named, with the token of the moment.
        for (user, groups) in [("a", vec!["Analysts", "All Users"]), ("b", vec!["All Users"])] {
            let groups: Vec<Value> = groups.iter().map(|name| json!({"id": name, "name": name})).collect();
            Mock::given(path(format!("/sites/site-9/users/{user}/groups")))
                .and(query_param("pageSize", "1000"))
                .respond_with(ok(json!({"pagination": {}, "groups": {"group": groups}})))
                .mount(&server)
                .await;
        }
        Mock::given(path("/sites/site-9/users/c/groups"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "404002"}})))
            .mount(&server)
            .await;
        let values = ["tableau.example", "acme", "tib", "pat-secret"];
        let users = sync(connector, &server, &values, None).await.expect(kind);
        assert_eq!(ids(&users), ["a", "b", "c"], "{kind}");
        let groups: Vec<Vec<&str>> = users.iter().map(|u| u.groups.iter().map(|g| g.as_str()).collect()).collect();
        assert_eq!(groups, [vec!["Analysts", "All Users"], vec!["All Users"], vec![]], "{kind}: a 404 is no group");
        let licenses: Vec<&[&str]> = users.iter().map(|u| &*u.licenses).collect();
        assert_eq!(licenses, [&["Creator"][..], &["Viewer"][..], &[][..]], "{kind}");
        assert!(!find(&users, "c").active, "{kind}: an unlicensed user cannot sign in");
        server.verify().await;
    }
}

#[tokio::test]
async fn a_refused_sign_in_disables_and_an_answer_without_the_token_says_where_it_looked() {
    for (kind, connector) in both("tableau") {
        let server = MockServer::start().await;
        Mock::given(path("/auth/signin"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"summary": "Signin Error"}})))
            .mount(&server)
            .await;
        let values = ["tableau.example", "acme", "tib", "pat-secret"];
        let refused = sync(connector.clone(), &server, &values, None).await.expect_err(kind);
        assert!(refused.is_auth_or_config_failure(), "{kind}: {refused}");
        assert!(!refused.to_string().contains("pat-secret"), "{kind}: {refused}");

        server.reset().await;
        Mock::given(path("/auth/signin"))
            .respond_with(ok(json!({"credentials": {"site": {"id": "s"}}})))
            .mount(&server)
            .await;
        let tokenless = sync(connector, &server, &values, None).await.expect_err(kind);
        assert!(tokenless.is_auth_or_config_failure(), "{kind}: {tokenless}");
        assert!(tokenless.to_string().contains("no token at `credentials.token`"), "{kind}: {tokenless}");
    }
}

// ------------------------------------------------------------ a batched lookup ---

/// Answers `/user/bulk` with an item for each `accountId` it is asked for (repeated, or comma-joined
/// in `ids`), but none for `gone`, and counts the requests.
struct Bulk(Arc<std::sync::atomic::AtomicUsize>);

impl wiremock::Respond for Bulk {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ids: Vec<String> = request
            .url
            .query_pairs()
            .flat_map(|(name, value)| match name.as_ref() {
                "accountId" => vec![value.into_owned()],
                "ids" => value.split(',').map(str::to_owned).collect(),
                _ => vec![],
            })
            .collect();
        let values: Vec<Value> = ids
            .iter()
            .filter(|id| *id != "gone")
            .map(|id| json!({"accountId": id, "timeZone": format!("tz-{id}")}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"maxResults": 50, "values": values}))
    }
}

#[tokio::test]
async fn a_batched_lookup_asks_for_many_users_at_once_and_gives_each_their_item() {
    let listing: Vec<Value> = ["a", "b", "c", "d", "e", "gone", "g"]
        .iter()
        .map(|id| json!({"id": id, "email": format!("{id}@acme.example")}))
        .collect();
    for (carried, separator) in [("accountId", ""), ("ids", "  separator = \",\"\n")] {
        let server = MockServer::start().await;
        Mock::given(path("/users")).respond_with(ok(Value::Array(listing.clone()))).mount(&server).await;
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        Mock::given(path("/user/bulk")).respond_with(Bulk(asked.clone())).mount(&server).await;
        let text = format!(
            "app \"Bulk\"\nbase_url \"https://bulk.example\"\ncredentials {{\n  token secret \"A token\"\n}}\n\
             auth bearer \"{{token}}\"\nrequest GET \"/users\"\n\
             lookup details GET \"/user/bulk\" {{\n  query = {{ \"{carried}\" = \"{{id}}\" }}\n  batch = {{\n    size  = 3\n    at    = values\n    match = accountId\n{separator}  }}\n}}\n\
             paginate none\nusers at .\nfields {{\n  id    = id\n  email = email\n  role  = details.timeZone\n}}\n"
        );
        let compiled = tib_front::compile("bulk.tib", &text, &tib_front::catalog::Catalog::missing());
        let spec = compiled.spec.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
        let (users, summary) =
            sync_from(Arc::new(Interpreted::new(spec)), &server.uri(), &["t"], None).await.expect(carried);
        let roles: Vec<Option<&str>> = users.iter().map(|u| u.role.as_deref()).collect();
        assert_eq!(
            roles,
            [Some("tz-a"), Some("tz-b"), Some("tz-c"), Some("tz-d"), Some("tz-e"), None, Some("tz-g")],
            "{carried}: each user their own item; none for one the answer leaves out"
        );
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 3, "{carried}: 7 users, 3 at a time");
        assert_eq!(summary.lookups, 3, "{carried}: the requests counted");
    }
}

// ------------------------------------------------- listings before the users ---

/// A `Link` header to the next page at `path` of `server`.
fn linked(body: Value, server: &MockServer, next: &str) -> ResponseTemplate {
    ok(body).insert_header("link", format!("<{}{next}>; rel=\"next\"", server.uri()).as_str())
}

#[tokio::test]
async fn github_teams_come_from_the_teams_listing_and_each_teams_members() {
    for (kind, connector) in both("github") {
        let server = MockServer::start().await;
        Mock::given(path("/members"))
            .respond_with(ok(json!([
                github_member(1, "ann", "User"),
                github_member(2, "bob", "User"),
                github_member(3, "cy", "User")
            ])))
            .mount(&server)
            .await;
        Mock::given(path_regex("^/memberships/")).respond_with(ok(json!({"role": "member"}))).mount(&server).await;
        // Two pages of teams; the first team's members on two pages too.
        Mock::given(path("/teams"))
            .and(query_param("page", "2"))
            .respond_with(ok(json!([{"id": 3, "slug": "empty", "name": "Empty"}, {"id": 4, "name": "No slug"}])))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(path("/teams"))
            .and(query_param("per_page", "100"))
            .and(query_param_is_missing("page"))
            .respond_with(linked(
                json!([{"id": 1, "slug": "core", "name": "Core", "privacy": "closed"}, {"id": 2, "slug": "docs", "name": "Docs"}]),
                &server,
                "/teams?per_page=100&page=2",
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(path("/teams/core/members"))
            .and(query_param("page", "2"))
            .respond_with(ok(json!([{"login": "bob"}])))
            .mount(&server)
            .await;
        Mock::given(path("/teams/core/members"))
            .and(query_param_is_missing("page"))
            .respond_with(linked(json!([{"login": "ann", "id": 1}]), &server, "/teams/core/members?page=2"))
            .mount(&server)
            .await;
        Mock::given(path("/teams/docs/members"))
            .respond_with(ok(json!([{"login": "bob"}, {"login": "ghost"}])))
            .mount(&server)
            .await;
        Mock::given(path("/teams/empty/members")).respond_with(ok(json!([]))).mount(&server).await;
        let (users, summary) = sync_from(connector, &server.uri(), &["acme", "gh"], None).await.expect(kind);
        let groups: Vec<Vec<&str>> = users.iter().map(|u| u.groups.iter().map(|g| g.as_str()).collect()).collect();
        assert_eq!(groups, [vec!["Core"], vec!["Core", "Docs"], vec![]], "{kind}");
        // 3 memberships, 2 pages of teams, 2 + 1 + 1 pages of members (a team without a slug is not asked).
        assert_eq!(summary.lookups, 9, "{kind}: the listings' requests counted with the lookups'");
    }
}

fn slack_member(id: &str) -> Value {
    json!({"id": id, "name": id.to_lowercase(), "profile": {"email": format!("{id}@acme.example")}})
}

fn access(user: &str, date_last: i64, ip: &str) -> Value {
    json!({"user_id": user, "username": user.to_lowercase(), "date_first": date_last - 60, "date_last": date_last, "count": 3, "ip": ip})
}

#[tokio::test]
async fn slack_last_activity_is_each_members_latest_access_in_the_window() {
    let now = chrono::Utc::now().timestamp();
    let day = 86_400;
    // The first page is full (1,000 entries, mostly of one busy member); the second ends the logs.
    let mut first: Vec<Value> = (0..998).map(|i| access("UBUSY", now - i, "10.0.0.9")).collect();
    first.push(access("U1", now - 5 * day, "10.0.0.1"));
    first.push(access("U2", now - 120 * day, "10.0.0.2"));
    let second = vec![access("U1", now - 2 * day, "10.0.0.3"), access("U1", now - 9 * day, "10.0.0.4")];
    for (kind, connector) in both("slack_access_logs") {
        let server = MockServer::start().await;
        Mock::given(path("/users.list"))
            .respond_with(ok(
                json!({"ok": true, "members": [slack_member("U1"), slack_member("U2"), slack_member("U3")]}),
            ))
            .mount(&server)
            .await;
        for (page, logins) in [("1", &first), ("2", &second)] {
            Mock::given(path("/team.accessLogs"))
                .and(query_param("page", page))
                .and(query_param("count", "1000"))
                .and(header("authorization", "Bearer xoxp"))
                .respond_with(ok(json!({"ok": true, "logins": logins, "paging": {"count": 1000, "page": page}})))
                .expect(1)
                .mount(&server)
                .await;
        }
        let (users, summary) = sync_from(connector, &server.uri(), &["xoxp"], None).await.expect(kind);
        let seen: Vec<Option<i64>> = users.iter().map(|u| u.last_activity_at.map(|t| t.timestamp())).collect();
        assert_eq!(
            seen,
            [Some(now - 2 * day), None, None],
            "{kind}: U1's latest; U2 only before the 90 days; U3 never"
        );
        assert_eq!(summary.lookups, 2, "{kind}: two pages of logs");
    }
}

#[tokio::test]
async fn a_listing_answered_without_its_items_fails_the_sync_with_what_the_api_said() {
    for (kind, connector) in both("slack_access_logs") {
        let server = MockServer::start().await;
        Mock::given(path("/users.list"))
            .respond_with(ok(json!({"ok": true, "members": [slack_member("U1")]})))
            .expect(0)
            .mount(&server)
            .await;
        Mock::given(path("/team.accessLogs"))
            .respond_with(ok(json!({"ok": false, "error": "paid_only"})))
            .mount(&server)
            .await;
        let error = sync_from(connector, &server.uri(), &["xoxp"], None).await.expect_err(kind);
        assert_eq!(
            error.to_string(),
            format!(
                "page 1 ({}/team.accessLogs?page=1&count=1000): listing `access`: nothing at `logins` in the \
                 answer `{{\"error\":\"paid_only\",\"ok\":false}}`",
                server.uri()
            ),
            "{kind}"
        );
    }
    // A refusal disables the connection as a refused users page does.
    let [(_, connector), _] = both("github");
    let server = MockServer::start().await;
    Mock::given(path("/teams")).respond_with(ResponseTemplate::new(403)).mount(&server).await;
    let error = sync_from(connector, &server.uri(), &["acme", "gh"], None).await.expect_err("refused");
    assert!(matches!(error, SyncError::Status { status: 403, .. }), "{error:?}");
    assert!(error.is_auth_or_config_failure(), "{error}: the connection is disabled");
}

#[tokio::test]
async fn a_window_can_be_asked_of_the_api_and_events_are_matched_by_email() {
    let server = MockServer::start().await;
    Mock::given(path("/users"))
        .respond_with(ok(json!([{"id": "1", "email": "ann@acme.example"}, {"id": "2", "email": "bob@acme.example"}])))
        .mount(&server)
        .await;
    Mock::given(path("/report/activities"))
        .and(query_param("type", "Sign in"))
        .respond_with(ok(json!({"activity_logs": [
            {"email": "ann@acme.example", "time": "2026-01-02T10:00:00Z"},
            {"email": "ann@acme.example", "time": "2026-01-05T10:00:00Z"},
            {"email": "nobody@acme.example", "time": "2026-01-05T10:00:00Z"}
        ]})))
        .mount(&server)
        .await;
    let text = "app \"Events\"\nbase_url \"https://events.example\"\ncredentials {\n  token secret \"A token\"\n}\n\
                auth bearer \"{token}\"\nrequest GET \"/users\"\n\
                listing signins GET \"/report/activities\" {\n  query = { \"type\" = \"Sign in\" }\n  paginate none\n  \
                items = activity_logs\n  user = email\n  match = email\n  latest = time\n  window = 3650\n  \
                since = \"from\"\n  since_format = \"date\"\n}\n\
                paginate none\nusers at .\nfields {\n  id    = id\n  email = email\n  last_activity_at = signins.time\n}\n";
    let compiled = tib_front::compile("events.tib", text, &tib_front::catalog::Catalog::missing());
    let spec = compiled.spec.unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
    let (users, _) = sync_from(Arc::new(Interpreted::new(spec)), &server.uri(), &["t"], None).await.expect("a sync");
    let seen: Vec<Option<String>> = users.iter().map(|u| u.last_activity_at.map(|t| t.to_rfc3339())).collect();
    assert_eq!(seen, [Some("2026-01-05T10:00:00+00:00".to_owned()), None]);
    let asked = server.received_requests().await.expect("recorded");
    let from = asked
        .iter()
        .find(|request| request.url.path() == "/report/activities")
        .and_then(|request| {
            request.url.query_pairs().find(|(name, _)| name == "from").map(|(_, value)| value.into_owned())
        })
        .expect("the window's start asked for");
    let expected = (chrono::Utc::now() - chrono::Duration::days(3650)).date_naive().to_string();
    assert_eq!(from, expected, "the window's first day, as a date");
}
