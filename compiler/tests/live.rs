//! `compiler test` and `compiler preview` end to end: the binary as an author
//! runs it, against an API served by wiremock on 127.0.0.1.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "sekret-token-4711";

/// A workspace with one spec, `specs/demo.tib`, whose base URL is `base_url`.
fn workspace(base_url: &str, users_at: &str, username: &str) -> tempfile::TempDir {
    workspace_paging(base_url, users_at, username, "")
}

/// [`workspace`], with more settings in the spec's `paginate` block.
fn workspace_paging(base_url: &str, users_at: &str, username: &str, paging: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    std::fs::write(root.path().join("custom-fields.toml"), "[Demo]\nDepartment = \"Text\"\nSeats = \"Number\"\n")
        .expect("catalog");
    let spec = format!(
        r#"app "Demo"
base_url "{base_url}/api"
credentials {{
  token secret "An API token"
}}
auth bearer "{{token}}"
request GET "/members"
paginate offset {{
  offset_param = "offset"
  limit_param  = "limit"
  page_size    = 2
  {paging}
  stop when short_page
}}
users at {users_at}
fields {{
  id         = id
  email      = email
  username   = {username}
  name       = name
  created_at = created
}}
active when {{ state is "active" }}
status field label
custom_fields {{
  "Department" = org.department
  "Seats"      = seats
}}
"#
    );
    std::fs::write(root.path().join("specs/demo.tib"), spec).expect("spec");
    root
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the compiler in `root`, off the async runtime that serves the mock API.
async fn compiler(root: &Path, args: &[&str]) -> Run {
    let root = root.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_compiler"))
            .args(&args)
            .current_dir(&root)
            // The mock API is on this machine, which requests refuse unless allowed.
            .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
            .env_remove("TIB_TOKEN")
            .env_remove("TIB_ACCESS_TOKEN")
            .output()
            .expect("runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("joined")
}

fn member(id: u64, email: &str, state: &str, label: &str) -> Value {
    json!({
        "id": id, "email": email, "handle": format!("user{id}"), "name": format!("User {id}"),
        "created": "2024-03-01T10:00:00Z", "state": state, "label": label,
        "org": {"department": "Sales"}, "seats": 1,
    })
}

fn page(members: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": {"members": members}, "ok": true}))
}

async fn mount_page(server: &MockServer, offset: &str, members: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path("/api/members"))
        .and(query_param("offset", offset))
        .and(query_param("limit", "2"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(page(members))
        .mount(server)
        .await;
}

/// A full first page of two active members.
async fn mount_two_members(server: &MockServer) {
    let members =
        vec![member(1, "ann@demo.example", "active", "Active"), member(2, "bo@demo.example", "active", "Active")];
    mount_page(server, "0", members).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_shows_the_request_redacted_the_answer_and_the_users() {
    let server = MockServer::start().await;
    mount_two_members(&server).await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", &cred]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains(&format!("GET {}/api/members?offset=0&limit=2", server.uri())), "{out}");
    assert!(out.contains("auth: bearer token"), "{out}");
    assert!(out.contains("authorization: [redacted]"), "{out}");
    assert!(!out.contains(TOKEN) && !run.stderr.contains(TOKEN), "the token leaked:\n{out}");
    assert!(out.contains("HTTP 200 in "), "{out}");
    assert!(out.contains("\"email\": \"ann@demo.example\""), "the body sample is shown:\n{out}");
    assert!(out.contains("users at `data.members`: 2 items"), "{out}");
    assert!(out.contains("fields on the items (how many of the 2 have it, and one value):"), "{out}");
    // Nested paths as a spec writes them, with a value each; the answer's headers are shown too.
    assert!(out.contains("\n  org.department  2  Sales\n"), "{out}");
    assert!(out.contains("\n  created  2  2024-03-01T10:00:00Z\n"), "{out}");
    assert!(out.contains("  content-type: application/json"), "the answer's headers:\n{out}");
    assert!(out.contains("2 users map, 0 would be dropped"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_with_a_wrong_users_path_lists_the_arrays_and_suggests_one() {
    let server = MockServer::start().await;
    let body = json!({"data": {"members": [{"id": 1}, {"id": 2}], "groups": [{"id": "g"}]}, "links": ["x"]});
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_body_json(body)).mount(&server).await;
    let root = workspace(&server.uri(), "data.users", "handle");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", "token=t"]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("error: the response has nothing at the users path `data.users`"), "{out}");
    assert!(out.contains("  data.groups (1 items)\n  data.members (2 items)"), "{out}");
    assert!(out.contains("hint: write `users at data.members`"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_shows_the_apis_error_and_a_hint_with_secrets_redacted() {
    let server = MockServer::start().await;
    // Some APIs echo the credential back; it must not reach the terminal.
    let body = json!({"error": {"message": format!("Invalid token {TOKEN}")}});
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401).set_body_json(body)).mount(&server).await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", &cred]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("answered HTTP 401"), "{out}");
    assert!(out.contains("the API says: Invalid token [redacted]"), "{out}");
    assert!(out.contains("hint: the API did not accept the credentials: check token"), "{out}");
    assert!(!out.contains(TOKEN), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_shows_an_answer_that_echoes_the_credential_redacted() {
    let server = MockServer::start().await;
    let echo = format!("{{\"ok\": false, \"error\": \"token {TOKEN} is not allowed here\"");
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_body_string(echo)).mount(&server).await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", &cred]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("\"token [redacted] is not allowed here\""), "the body sample, redacted:\n{out}");
    assert!(out.contains("error: the response is not valid JSON"), "{out}");
    assert!(!out.contains(TOKEN), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_hints_at_the_url_on_404_and_at_the_host_when_nothing_answers() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", "token=t"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("hint: nothing at that URL: check base_url and the request path `/members`"),
        "{}",
        run.stdout
    );

    // A port that was just free: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let base = format!("http://{dead}/v2");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", "token=t", "--base-url", &base]).await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with(&format!("GET {base}/members?offset=0&limit=2\n")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("no answer from {base}/members?offset=0&limit=2")), "{}", run.stdout);
    assert!(run.stdout.contains("hint: no answer: check the host in base_url"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_come_from_flags_or_the_environment_and_missing_ones_are_named() {
    let server = MockServer::start().await;
    mount_page(&server, "0", vec![member(1, "ann@demo.example", "active", "Active")]).await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let run = compiler(root.path(), &["test", "specs/demo.tib"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--cred token=… (or TIB_TOKEN): An API token"), "{}", run.stderr);

    let output = Command::new(env!("CARGO_BIN_EXE_compiler"))
        .args(["test", "specs/demo.tib"])
        .current_dir(root.path())
        .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
        .env("TIB_TOKEN", TOKEN)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("1 users map"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_spec_gets_the_diagnostics_that_say_what_to_write() {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    std::fs::write(root.path().join("custom-fields.toml"), "").expect("catalog");
    std::fs::write(root.path().join("specs/new.tib"), "").expect("spec");
    let run = compiler(root.path(), &["test", "specs/new.tib"]).await;
    assert_eq!(run.code, 1);
    for section in ["app", "base_url", "request", "users", "fields"] {
        assert!(run.stderr.contains(&format!("the spec has no `{section}` section")), "{}", run.stderr);
    }
}

/// Three pages of users with one of every problem preview reports.
async fn three_pages(server: &MockServer) {
    let mut bad_seats = member(2, "bo@demo.example", "active", "Active");
    bad_seats["seats"] = json!("many");
    mount_page(server, "0", vec![member(1, "ann@demo.example", "active", "Active"), bad_seats]).await;
    mount_page(
        server,
        "2",
        vec![member(3, "not-an-email", "active", "Active"), member(4, "di@demo.example", "suspended", "Active")],
    )
    .await;
    mount_page(server, "4", vec![member(5, "ed@demo.example", "inactive", "Deactivated")]).await;
}

/// `preview` with the token over [`three_pages`], the spec reading the username at `username`.
async fn preview_three_pages(username: &str, args: &[&str]) -> (MockServer, Run) {
    let server = MockServer::start().await;
    three_pages(&server).await;
    let root = workspace(&server.uri(), "data.members", username);
    let cred = format!("token={TOKEN}");
    let mut all = vec!["preview", "specs/demo.tib", "--cred", &cred];
    all.extend(args);
    let run = compiler(root.path(), &all).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    (server, run)
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_shows_the_users_and_every_problem_inline() {
    // `handel`: a typo no user has.
    let (_server, run) = preview_three_pages("handel", &["--pages", "5"]).await;
    let out = &run.stdout;
    let header = out.lines().next().expect("a table");
    for column in
        ["id", "email", "name", "role", "created", "last seen", "active", "status", "licenses", "Department", "Seats"]
    {
        assert!(header.contains(column), "{header}");
    }
    assert!(out.contains("3 pages, 4 users, 1 dropped"), "{out}");
    assert!(out.contains("page 2, user 3: invalid email"), "{out}");
    assert!(out.contains("user 2, Seats: "), "the Number mismatch is named:\n{out}");
    assert!(out.contains("mapped paths no user in the sample has (typos?):\n  handel"), "{out}");
    assert!(
        out.contains("Status in App says \"Active\" for users the Calculated Status rules mark inactive: 4"),
        "{out}"
    );
    let ann = out.lines().find(|l| l.starts_with("1 ")).expect("user 1's row");
    assert!(ann.contains("ann@demo.example") && ann.contains("User 1") && ann.contains("2024-03-01 10:00"), "{ann}");
    assert!(ann.contains("yes") && ann.contains("Active") && ann.contains("Demo") && ann.contains("Sales"), "{ann}");
    assert!(!out.contains(TOKEN));
    assert!(!out.contains("came back more than once"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_warns_when_pages_overlap() {
    let server = MockServer::start().await;
    // An API that ignores the offset: every page is the first.
    Mock::given(method("GET"))
        .respond_with(page(vec![
            member(1, "ann@demo.example", "active", "Active"),
            member(2, "bo@demo.example", "active", "Active"),
        ]))
        .mount(&server)
        .await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let run = compiler(root.path(), &["preview", "specs/demo.tib", "--cred", "token=t", "--pages", "2"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("came back more than once (the pages overlap; check the pagination): 1, 2"),
        "{}",
        run.stdout
    );
}

/// The preview read `pages` pages (its listing ends with `summary`), said more
/// remain, and asked the server for no page beyond them.
async fn assert_stopped_at_the_bound(server: &MockServer, run: &Run, pages: usize, summary: &str) {
    let expected = format!("{summary}\nstopped after {pages} pages (--pages); more remain");
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), pages, "no page asked for beyond the bound");
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_stops_at_the_page_bound_and_says_more_remain() {
    let (server, run) = preview_three_pages("handle", &["--pages", "1"]).await;
    assert_stopped_at_the_bound(&server, &run, 1, "1 pages, 2 users, 0 dropped").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_of_concurrent_pages_asks_for_no_page_beyond_its_bound() {
    let server = MockServer::start().await;
    three_pages(&server).await;
    let root = workspace_paging(&server.uri(), "data.members", "handle", "concurrency = 4");
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["preview", "specs/demo.tib", "--cred", &cred, "--pages", "2"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // 4 requests may be on the wire at once, but the bound is 2 pages.
    assert_stopped_at_the_bound(&server, &run, 2, "2 pages, 3 users, 1 dropped").await;
}

/// Cut by `--pages`, the JSON says so in the words the text uses, never "the page cap".
#[tokio::test(flavor = "multi_thread")]
async fn preview_as_json_cut_by_pages_says_so() {
    let (_server, run) = preview_three_pages("handle", &["--json", "--pages", "1"]).await;
    let value: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["stopped"], json!({"complete": false, "message": "stopped after 1 pages (--pages); more remain"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_as_json_holds_what_the_connector_would_store() {
    let (_server, run) = preview_three_pages("handle", &["--json"]).await;
    let value: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["pages"], 3);
    assert_eq!(value["stopped"], Value::Null);
    let users = value["users"].as_array().expect("users");
    assert_eq!(users.iter().map(|u| u["external_id"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["1", "2", "4", "5"]);
    assert_eq!(users[0]["username"], "user1");
    assert_eq!(users[0]["created_at"], "2024-03-01T10:00:00+00:00");
    assert_eq!(
        users[0]["custom_fields"],
        json!({"Department": "Sales", "Seats": 1}),
        "typed, as the runtime stores them"
    );
    assert_eq!(users[0]["full_name"], "User 1");
    assert_eq!(users[1]["left_out"][0]["field"], "Seats");
    assert_eq!(users[3]["active"], false);
    assert_eq!(users[3]["status"], "Deactivated");
    assert_eq!(users[3]["licenses"], json!([]));
    assert_eq!(value["dropped"][0]["page"], 2);
    assert_eq!(value["dropped"][0]["external_id"], "3");
    assert_eq!(value["active_but_inactive"], json!(["4"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_keeps_what_it_read_when_a_later_page_fails() {
    let server = MockServer::start().await;
    mount_two_members(&server).await;
    Mock::given(method("GET"))
        .and(query_param("offset", "2"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"detail": "offset too large"})))
        .mount(&server)
        .await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["preview", "specs/demo.tib", "--cred", &cred]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("ann@demo.example") && out.contains("bo@demo.example"), "{out}");
    assert!(out.contains("answered HTTP 400"), "{out}");
    assert!(out.contains("the API says: offset too large"), "{out}");
    assert!(out.contains("hint: the API rejected the request"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_reach_this_machine_only_when_allowed_and_plain_http_goes_nowhere_else() {
    let server = MockServer::start().await;
    mount_two_members(&server).await;
    let root = workspace(&server.uri(), "data.members", "handle");
    let cred = format!("token={TOKEN}");
    let refused =
        compiler(root.path(), &["test", "specs/demo.tib", "--cred", &cred, "--base-url", "http://api.example.com/v2"])
            .await;
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("is not https: plain http is allowed only to this machine"), "{}", refused.stderr);

    let dir = root.path().to_owned();
    let run = move |extra: &'static [&'static str]| {
        let (dir, cred) = (dir.clone(), cred.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_compiler"))
                .args(["test", "specs/demo.tib", "--cred", &cred])
                .args(extra)
                .current_dir(&dir)
                .env_remove("TIB_ALLOW_NETWORKS")
                .output()
                .expect("runs")
        })
    };
    let strict = run(&[]).await.expect("joined");
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert_eq!(strict.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("127.0.0.1 is a loopback address; tib sends requests to public addresses only"),
        "{stdout}"
    );
    assert!(server.received_requests().await.expect("recorded").is_empty(), "no request was sent");
    let allowed = run(&["--allow-network", "127.0.0.1"]).await.expect("joined");
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stdout));
}

/// A workspace holding `spec` as `specs/demo.tib`, with an empty catalog.
fn workspace_of(spec: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    std::fs::write(root.path().join("custom-fields.toml"), "").expect("catalog");
    std::fs::write(root.path().join("specs/demo.tib"), spec).expect("spec");
    root
}

/// A workspace holding the repository's Zoom spec.
fn zoom_workspace() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    std::fs::write(root.path().join("custom-fields.toml"), "").expect("catalog");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/zoom.tib");
    std::fs::copy(spec, root.path().join("specs/zoom.tib")).expect("spec");
    root
}

#[tokio::test]
async fn preview_fetches_its_own_client_credentials_token_from_the_token_url_given_and_lists_every_listing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(wiremock::matchers::body_string_contains("grant_type=account_credentials"))
        .and(wiremock::matchers::body_string_contains("account_id=acct-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "zt", "expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;
    for status in ["active", "inactive", "pending"] {
        Mock::given(path("/v2/users"))
            .and(query_param("status", status))
            .and(header("authorization", "Bearer zt"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"users": [
                {"id": status, "email": format!("{status}@example.com"), "status": status, "type": 1}
            ]})))
            .mount(&server)
            .await;
    }
    let root = zoom_workspace();
    let (token_url, base_url) = (format!("{}/oauth/token", server.uri()), format!("{}/v2", server.uri()));
    let args = [
        "preview",
        "specs/zoom.tib",
        "--cred",
        "account_id=acct-1",
        "--cred",
        "client_id=id",
        "--cred",
        "client_secret=secret",
        "--token-url",
        &token_url,
        "--base-url",
        &base_url,
    ];
    let run = compiler(root.path(), &args).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("3 pages, 3 users, 0 dropped"), "{}", run.stdout);
    for status in ["active@example.com", "inactive@example.com", "pending@example.com"] {
        assert!(run.stdout.contains(status), "{}", run.stdout);
    }
    let mut plain_http = args;
    plain_http[8] = "--token-url";
    plain_http[9] = "http://example.com/token";
    let refused = compiler(root.path(), &plain_http).await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("--token-url"), "{}", refused.stderr);
}

/// `test` shows the JSON body a POST sends, its credential redacted.
#[tokio::test(flavor = "multi_thread")]
async fn test_shows_the_body_it_sent_redacted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/search"))
        .respond_with(page(vec![member(1, "ann@demo.example", "active", "Active")]))
        .mount(&server)
        .await;
    let root = workspace_of(&format!(
        "app \"Demo\"\nbase_url \"{}/api\"\ncredentials {{\n  token secret \"t\"\n}}\nauth headers {{\n  \"X-Key\" = \"{{token}}\"\n}}\n\
         request POST \"/search\" {{\n  body = {{ \"filter\" = \"all\"  \"key\" = \"{{token}}\" }}\n}}\npaginate none\n\
         users at data.members\nfields {{\n  id    = id\n  email = email\n}}\n",
        server.uri()
    ));
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", &cred]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(out.contains("body: {\"filter\":\"all\",\"key\":\"[redacted]\"}"), "{out}");
    assert!(!out.contains(TOKEN), "{out}");
}

/// Pages linked by a next URL that no page holds: the preview says only the first page was read,
/// where it looked, and why that may be wrong, never a quiet one-page success.
#[tokio::test(flavor = "multi_thread")]
async fn preview_says_when_no_page_held_the_next_link() {
    let server = MockServer::start().await;
    Mock::given(path("/api/members"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"members": [member(1, "ann@demo.example", "active", "Active")]}, "meta": {"cursor": "c2"}}),
        ))
        .mount(&server)
        .await;
    let root = workspace_of(&format!(
        "app \"Demo\"\nbase_url \"{}/api\"\ncredentials {{\n  token secret \"t\"\n}}\nauth bearer \"{{token}}\"\n\
         request GET \"/members\"\npaginate next_url {{\n  from body links.next\n  stop when missing_token\n}}\n\
         users at data.members\nfields {{\n  id    = id\n  email = email\n}}\n",
        server.uri()
    ));
    let run = compiler(root.path(), &["preview", "specs/demo.tib", "--cred", "token=t"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("warning: only the first page was read: no page held the next URL at `links.next`"),
        "{}",
        run.stdout
    );
    let json = compiler(root.path(), &["preview", "specs/demo.tib", "--cred", "token=t", "--json"]).await;
    let value: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert!(value["unlinked"].as_str().is_some_and(|u| u.contains("links.next")), "{value}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_reach_the_requests_query_and_headers_and_a_secret_stays_out_of_the_url_shown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/users"))
        .and(query_param("workspace", "ws-42"))
        .and(header("x-account", format!("acct {TOKEN}").as_str()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"gid": "1", "email": "ann@demo.example"}]})),
        )
        .mount(&server)
        .await;
    let spec = format!(
        r#"app "Demo"
base_url "{}/api"
credentials {{
  token     secret "A token"
  workspace text   "The workspace id"
}}
auth bearer "{{token}}"
request GET "/users" {{
  query   = {{ "workspace" = "{{workspace}}" }}
  headers = {{ "X-Account" = "acct {{token}}" }}
}}
paginate none
users at data
fields {{
  id    = gid
  email = email
}}
"#,
        server.uri()
    );
    let root = workspace_of(&spec);
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["test", "specs/demo.tib", "--cred", &cred, "--cred", "workspace=ws-42"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("workspace=ws-42") && run.stdout.contains("ann@demo.example"), "{}", run.stdout);
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "the secret header is redacted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_listing_that_reaches_its_cap_with_a_next_page_left_stops_naming_the_cap() {
    let server = MockServer::start().await;
    for (page, next) in [("1", Some("2")), ("2", Some("3")), ("3", None)] {
        let next_url = next.map(|n| format!("{}/api/members?page={n}", server.uri()));
        Mock::given(method("GET"))
            .and(path("/api/members"))
            .and(query_param("page", page))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{"id": page, "email": format!("u{page}@demo.example")}], "next": next_url,
            })))
            .mount(&server)
            .await;
    }
    let spec = format!(
        r#"app "Demo"
base_url "{}/api"
credentials {{
  token secret "A token"
}}
auth bearer "{{token}}"
request GET "/members" {{
  query = {{ "page" = "1" }}
}}
paginate next_url {{
  from body next
  max_users = 2
  stop when missing_token
}}
users at data
fields {{
  id    = id
  email = email
}}
"#,
        server.uri()
    );
    let root = workspace_of(&spec);
    let cred = format!("token={TOKEN}");
    let run = compiler(root.path(), &["preview", "specs/demo.tib", "--cred", &cred, "--json", "--pages", "5"]).await;
    let value: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(value["user_count"], 2, "{}", run.stdout);
    assert_eq!(value["stopped"]["complete"], false, "{}", run.stdout);
    let message = value["stopped"]["message"].as_str().expect("a message");
    assert!(message.contains("at most 2 users"), "{message}");
    let asked = server.received_requests().await.expect("recorded").len();
    assert_eq!(asked, 2, "the third page, past the cap, is not asked for");
}
