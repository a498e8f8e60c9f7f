//! The web edges in process: the JSON API, SCIM, the console's handlers and
//! the OAuth callback page, served by the runtime's own composition
//! ([`tib_runtime::server`]) on 127.0.0.1:0 with the scheduler beside it, and
//! reached over real sockets, against an Acme API served by the test.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::acme::*;
use common::server::{Server, Setup};
use serde_json::{Value, json};
use tib_runtime::access::operator::Actor;

const ADMIN_TOKEN: &str = "admin-token-for-the-api-tests";

/// Connects `account` of the Acme API `api`, as an operator would.
async fn connect(server: &Server, api: &Api, account: &str) {
    let values = tib_support::CredentialValues::new(vec![
        (tib_support::Secret::new("demo"), false),
        (tib_support::Secret::new(SECRET), true),
    ]);
    let overrides = tib_runtime::operate::Overrides {
        base_url: Some(url::Url::parse(&api.base_url).expect("a URL")),
        ..Default::default()
    };
    let new = tib_runtime::operate::NewAccount {
        integration: "acme".to_owned(),
        account: account.to_owned(),
        values,
        overrides,
        every: tib_runtime::schedule::DAY,
        replace: false,
    };
    server
        .services
        .connect(&Actor::command_line(), new, tib_runtime::operate::Trial::Untried)
        .await
        .expect("connected");
}

/// The Python with `tests/scim/requirements.txt` that TIB_SCIM_PYTHON names; none (the test
/// skipped) without one, unless TIB_REQUIRE_SCIM_CLIENT says it must run.
fn scim_python() -> Option<std::ffi::OsString> {
    let python = std::env::var_os("TIB_SCIM_PYTHON");
    if python.is_none() {
        assert!(
            std::env::var_os("TIB_REQUIRE_SCIM_CLIENT").is_none(),
            "TIB_REQUIRE_SCIM_CLIENT is set, but TIB_SCIM_PYTHON is not"
        );
        eprintln!("skipped: set TIB_SCIM_PYTHON to a Python with tests/scim/requirements.txt installed");
    }
    python
}

/// A console session's cookie, logged in with the admin token.
async fn logged_in(client: &reqwest::Client, base: &str) -> String {
    let login = client
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .expect("sent");
    login.headers()["set-cookie"].to_str().expect("text").split(';').next().expect("a pair").to_owned()
}

/// Makes the account due now and waits until a sync of it has applied.
async fn synced(server: &Server, account: &str) {
    server
        .services
        .act(&Actor::command_line(), "acme", account, tib_runtime::operate::Action::Sync)
        .await
        .expect("due");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let summary = server.services.summary("acme", account).await.expect("a connection");
        if summary.last_run.is_some_and(|r| r.outcome == tib_runtime::store::Outcome::Applied) {
            return;
        }
        assert!(Instant::now() < deadline, "the sync never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_needs_the_admin_token_and_manages_connections_runs_and_users() {
    let api = api(250).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let v1 = format!("{base}/api/v1");
    let call =
        |method: reqwest::Method, path: &str| client.request(method, format!("{v1}{path}")).bearer_auth(ADMIN_TOKEN);
    let json = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
        let text = response.text().await.expect("a body");
        (status, kind.unwrap_or_default(), serde_json::from_str::<Value>(&text).expect("JSON"))
    };

    // Without the token, or with another: 401 as problem details.
    let (status, kind, problem) = json(client.get(format!("{v1}/connections")).send().await.expect("sent")).await;
    assert_eq!((status, kind.as_str()), (401, "application/problem+json"), "{problem}");
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["title"], "Unauthorized");
    let wrong = client.get(format!("{v1}/connections")).bearer_auth("not-the-admin-token-at-all").send().await;
    assert_eq!(wrong.expect("sent").status(), 401);

    // The integrations of this build, with what they ask for.
    let (status, _, body) = json(call(reqwest::Method::GET, "/integrations").send().await.expect("sent")).await;
    assert_eq!(status, 200);
    let acme =
        body["integrations"].as_array().expect("a list").iter().find(|i| i["id"] == "acme").expect("acme").clone();
    assert_eq!(acme["auth"], "headers");
    assert_eq!(
        acme["credentials"][1],
        json!({"name": "api_token", "secret": true, "description": acme["credentials"][1]["description"]})
    );

    // Sync now, and watch it finish.
    let (status, _, _) =
        json(call(reqwest::Method::POST, "/connections/acme/Prod/sync").send().await.expect("sent")).await;
    assert_eq!(status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let connection = loop {
        let (_, _, c) = json(call(reqwest::Method::GET, "/connections/acme/Prod").send().await.expect("sent")).await;
        if c["last_run"]["outcome"] == "applied" {
            break c;
        }
        assert!(Instant::now() < deadline, "the sync never finished: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(connection["state"], "enabled");
    let stored = valid(250) as i64;
    assert_eq!((connection["users"].as_i64(), connection["last_run"]["pages"].as_i64()), (Some(stored), Some(3)));
    let (_, _, listed) = json(call(reqwest::Method::GET, "/connections").send().await.expect("sent")).await;
    assert!(!listed.to_string().contains(SECRET), "no credential in an answer");

    // Users in pages by cursor, every one once; a filter; a bad limit.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/connections/acme/Prod/users?limit=100&cursor={c}"),
            None => "/connections/acme/Prod/users?limit=100".to_owned(),
        };
        let (status, _, page) = json(call(reqwest::Method::GET, &path).send().await.expect("sent")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["users"].as_array().expect("users").iter().map(|u| u["external_id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (valid(250), valid(250)));
    let (_, _, found) =
        json(call(reqwest::Method::GET, "/connections/acme/Prod/users?search=USER42@").send().await.expect("sent"))
            .await;
    let emails: Vec<&str> =
        found["users"].as_array().expect("users").iter().map(|u| u["email"].as_str().expect("email")).collect();
    assert_eq!(emails, ["user42@acme.example"], "searched by email, in any case");
    let (_, _, licensed) = json(
        call(reqwest::Method::GET, "/connections/acme/Prod/users?license=Acme%20Enterprise&limit=1000")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    let licensed = licensed["users"].as_array().expect("users").clone();
    assert!(!licensed.is_empty() && licensed.len() < 250, "{}", licensed.len());
    assert!(licensed.iter().all(|u| u["licenses"].as_array().expect("licenses").contains(&json!("Acme Enterprise"))));
    let (status, kind, problem) =
        json(call(reqwest::Method::GET, "/connections/acme/Prod/users?limit=0").send().await.expect("sent")).await;
    assert_eq!((status, kind.as_str()), (422, "application/problem+json"), "a value out of range: {problem}");
    let (status, _, _) =
        json(call(reqwest::Method::GET, "/connections/acme/Prod/users?access=maybe").send().await.expect("sent")).await;
    assert_eq!(status, 400);

    // SCIM: ListResponse pages, filters, one user, discovery; the token needed there too.
    let scim = |query: &[(&str, &str)]| {
        client.get(format!("{base}/scim/v2/acme/Prod/Users")).query(query).bearer_auth(ADMIN_TOKEN)
    };
    let (status, kind, list) = json(scim(&[("startIndex", "1"), ("count", "10")]).send().await.expect("sent")).await;
    assert_eq!((status, kind.as_str()), (200, "application/scim+json"), "{list}");
    assert_eq!(list["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!((list["totalResults"].as_i64(), list["itemsPerPage"].as_i64()), (Some(stored), Some(10)));
    let (_, _, last) = json(scim(&[("startIndex", "241"), ("count", "10")]).send().await.expect("sent")).await;
    assert_eq!(last["itemsPerPage"].as_i64(), Some(stored - 240), "{last}");
    let (_, _, one) =
        json(scim(&[("filter", r#"emails.value eq "USER42@acme.example""#)]).send().await.expect("sent")).await;
    assert_eq!(one["totalResults"], 1, "{one}");
    let user = &one["Resources"][0];
    assert_eq!(user["emails"][0]["value"], "user42@acme.example");
    let by_name = format!("userName eq \"{}\" and active pr", user["userName"].as_str().expect("a userName"));
    let (_, _, named) = json(scim(&[("filter", &by_name)]).send().await.expect("sent")).await;
    assert_eq!(named["Resources"][0]["id"], user["id"], "{by_name}: {named}");
    assert!(user["entitlements"].as_array().expect("entitlements").iter().all(|e| e["value"].is_string()), "{user}");
    assert!(user["urn:ietf:params:scim:schemas:extension:tib:2.0:User"]["status"].is_string(), "{user}");
    let location = user["meta"]["location"].as_str().expect("a location").to_owned();
    let (status, _, fetched) =
        json(client.get(format!("{base}{location}")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent")).await;
    assert_eq!((status, &fetched["id"]), (200, &user["id"]));
    let (_, _, inactive) =
        json(scim(&[("filter", "active eq false"), ("count", "0")]).send().await.expect("sent")).await;
    let (_, _, with_access) =
        json(call(reqwest::Method::GET, "/connections/acme/Prod").send().await.expect("sent")).await;
    let without = stored - with_access["users_with_access"].as_i64().expect("a count");
    assert_eq!(inactive["totalResults"].as_i64(), Some(without), "{inactive}");
    let (status, _, error) = json(scim(&[("filter", r#"title eq "x""#)]).send().await.expect("sent")).await;
    assert_eq!((status, &error["scimType"]), (400, &json!("invalidFilter")), "{error}");
    let (status, _, _) = json(
        client
            .get(format!("{base}/scim/v2/acme/Prod/Users/nobody"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 404);
    let (_, _, config) = json(
        client
            .get(format!("{base}/scim/v2/acme/Prod/ServiceProviderConfig"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(config["filter"]["supported"], true);
    let anonymous = client.get(format!("{base}/scim/v2/acme/Prod/Users")).send().await.expect("sent");
    assert_eq!(anonymous.status(), 401);

    // Connecting another account: created, then refused unless replacing is asked for, then replaced.
    let body = json!({"credentials": {"tenant": "demo", "api_token": SECRET}, "base_url": api.base_url});
    let put = |path: &str, body: &Value| {
        call(reqwest::Method::PUT, path).header("content-type", "application/json").body(body.to_string())
    };
    let (status, _, created) = json(put("/connections/acme/Second", &body).send().await.expect("sent")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["account"].as_str(), created["state"].as_str()), (Some("Second"), Some("enabled")));
    assert!(!created.to_string().contains(SECRET), "{created}");
    let (status, _, problem) = json(put("/connections/acme/Second", &body).send().await.expect("sent")).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().expect("detail").contains("replace=true"), "{problem}");
    let (status, _, _) = json(put("/connections/acme/Second?replace=true", &body).send().await.expect("sent")).await;
    assert_eq!(status, 200);
    // Tried first: a token the API refuses saves nothing, and a replaced account keeps what works.
    let wrong = json!({"credentials": {"tenant": "demo", "api_token": "wrong-token"}, "base_url": api.base_url});
    for path in ["/connections/acme/Tried?try_first=true", "/connections/acme/Second?replace=true&try_first=true"] {
        let (status, _, problem) = json(put(path, &wrong).send().await.expect("sent")).await;
        assert_eq!(status, 422, "{path}: {problem}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("HTTP 401") && detail.contains("invalid API token"), "{problem}");
        assert!(!detail.contains("wrong-token"), "{problem}");
    }
    let (status, _, _) = json(call(reqwest::Method::GET, "/connections/acme/Tried").send().await.expect("sent")).await;
    assert_eq!(status, 404, "nothing saved");
    let (status, _, tried) =
        json(put("/connections/acme/Tried?try_first=true", &body).send().await.expect("sent")).await;
    assert_eq!(status, 201, "{tried}");
    let missing = json!({"credentials": {"tenant": "demo"}});
    let (status, _, problem) = json(put("/connections/acme/Third", &missing).send().await.expect("sent")).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["detail"].as_str().expect("detail").contains("api_token"), "{problem}");
    let unknown = json!({"credentials": {"tenant": "demo", "api_token": SECRET, "password": SECRET}});
    let (status, _, problem) = json(put("/connections/acme/Third", &unknown).send().await.expect("sent")).await;
    assert_eq!(status, 422, "{problem}");
    assert!(!problem.to_string().contains(SECRET), "a refused credential is not echoed: {problem}");
    let (status, _, _) = json(put("/connections/nothing/Third", &body).send().await.expect("sent")).await;
    assert_eq!(status, 404);
    let (status, _, _) =
        json(put("/connections/acme/Third", &json!({"credentials": {}, "extra": 1})).send().await.expect("sent")).await;
    assert_eq!(status, 400);

    // Runs, disabling (sync now is then refused), enabling, and disconnecting.
    let (_, _, runs) =
        json(call(reqwest::Method::GET, "/connections/acme/Prod/runs").send().await.expect("sent")).await;
    assert_eq!(runs["runs"][0]["outcome"], "applied");
    assert_eq!(runs["runs"][0]["added"], stored);
    // Who was dropped, and why: the members without a valid email (every 97th from 13).
    let dropped: Vec<String> = (runs["runs"][0]["dropped_users"].as_array().expect("dropped users").iter())
        .map(|d| format!("{}: {}", d["external_id"].as_str().unwrap_or("-"), d["reason"].as_str().unwrap_or("-")))
        .collect();
    let why = |i: usize| format!("{}: invalid email: `user{i}-at-acme.example` has no @", 100_000 + i);
    assert_eq!(dropped, [why(13), why(110), why(207)]);
    let (_, _, disabled) =
        json(call(reqwest::Method::POST, "/connections/acme/Prod/disable").send().await.expect("sent")).await;
    assert_eq!(disabled["state"], "disabled");
    let (status, _, problem) =
        json(call(reqwest::Method::POST, "/connections/acme/Prod/sync").send().await.expect("sent")).await;
    assert_eq!(status, 409, "{problem}");
    let (status, _, _) =
        json(call(reqwest::Method::POST, "/connections/acme/Prod/approve").send().await.expect("sent")).await;
    assert_eq!(status, 409, "nothing is held");
    let (_, _, enabled) =
        json(call(reqwest::Method::POST, "/connections/acme/Prod/enable").send().await.expect("sent")).await;
    assert_eq!(enabled["state"], "enabled");
    let gone = call(reqwest::Method::DELETE, "/connections/acme/Prod").send().await.expect("sent");
    assert_eq!(gone.status(), 204);
    let (status, kind, problem) =
        json(call(reqwest::Method::GET, "/connections/acme/Prod").send().await.expect("sent")).await;
    assert_eq!((status, kind.as_str()), (404, "application/problem+json"), "{problem}");
    assert_eq!(problem["detail"], "no connection acme/Prod");
    let (status, _, _) = json(call(reqwest::Method::GET, "/notifications").send().await.expect("sent")).await;
    assert_eq!(status, 200);
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn named_tokens_act_in_their_role_and_every_change_is_in_the_audit_log() {
    let api = api(12).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    let client = reqwest::Client::new();
    let value = |response: reqwest::Response| async move {
        serde_json::from_str::<Value>(&response.text().await.expect("text")).expect("JSON")
    };
    let make = |token: &str, name: &str, role: &str| {
        client
            .post(server.api("/tokens"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json!({ "name": name, "role": role }).to_string())
            .send()
    };
    let made: Value = value(make(ADMIN_TOKEN, "scim-reader", "viewer").await.expect("sent")).await;
    let reader = made["token"].as_str().expect("the token, once").to_owned();
    assert!(reader.starts_with("tib_") && made["role"] == "viewer" && made["created_by"] == "admin", "{made}");
    let made: Value = value(make(ADMIN_TOKEN, "ci", "admin").await.expect("sent")).await;
    let ci = made["token"].as_str().expect("the token").to_owned();

    // A name taken, a name or role refused.
    assert_eq!(make(ADMIN_TOKEN, "ci", "viewer").await.expect("sent").status(), 409);
    assert_eq!(make(ADMIN_TOKEN, "has space", "viewer").await.expect("sent").status(), 422);
    assert_eq!(make(ADMIN_TOKEN, "owner", "owner").await.expect("sent").status(), 422);

    // The viewer reads, and is refused every change, tokens included.
    let get = |token: &str, path: &str| client.get(server.api(path)).bearer_auth(token.to_owned()).send();
    assert_eq!(get(&reader, "/connections").await.expect("sent").status(), 200);
    let scim =
        client.get(format!("{}/scim/v2/acme/Prod/Users", server.base)).bearer_auth(&reader).send().await.expect("sent");
    assert_eq!(scim.status(), 200);
    let refused =
        client.post(server.api("/connections/acme/Prod/sync")).bearer_auth(&reader).send().await.expect("sent");
    assert_eq!(refused.status(), 403);
    let problem: Value = refused.text().await.map(|t| serde_json::from_str::<Value>(&t).expect("JSON")).expect("text");
    assert_eq!(problem["detail"], "scim-reader is a viewer: viewers read only; an admin can do this");
    assert_eq!(make(&reader, "mine", "admin").await.expect("sent").status(), 403);
    // The admin token of a machine changes things.
    let synced_now =
        client.post(server.api("/connections/acme/Prod/sync")).bearer_auth(&ci).send().await.expect("sent");
    assert_eq!(synced_now.status(), 202);

    // The tokens are listed, never shown again; one removed is refused from then on.
    let listed: Value = value(get(ADMIN_TOKEN, "/tokens").await.expect("sent")).await;
    assert_eq!(listed["tokens"].as_array().map(Vec::len), Some(2));
    assert!(!listed.to_string().contains(&reader), "{listed}");
    let removed = client.delete(server.api("/tokens/scim-reader")).bearer_auth(&ci).send().await.expect("sent");
    assert_eq!(removed.status(), 204);
    assert_eq!(get(&reader, "/connections").await.expect("sent").status(), 401);
    let again = client.delete(server.api("/tokens/scim-reader")).bearer_auth(&ci).send().await.expect("sent");
    assert_eq!(again.status(), 404);

    // The audit log: each change and each refusal, newest first, by whom, from where; in pages.
    let log: Value = value(get(ADMIN_TOKEN, "/audit?limit=4").await.expect("sent")).await;
    let entry = |e: &Value| {
        format!(
            "{}|{}|{}|{}|{}",
            e["actor"].as_str().unwrap_or(""),
            e["via"].as_str().unwrap_or(""),
            e["action"].as_str().unwrap_or(""),
            e["target"].as_str().unwrap_or(""),
            e["outcome"].as_str().unwrap_or("")
        )
    };
    let first: Vec<String> = log["entries"].as_array().expect("entries").iter().map(entry).collect();
    assert_eq!(
        first,
        [
            "ci|API token|remove token|scim-reader|no token named `scim-reader`",
            "ci|API token|remove token|scim-reader|done",
            "ci|API token|sync now|acme/Prod|done",
            "scim-reader|API token|add admin token|mine|scim-reader is a viewer: viewers read only; an admin can do this",
        ]
    );
    assert!(log["entries"].as_array().expect("entries").iter().all(|e| e["address"] == "127.0.0.1"), "{log}");
    let cursor = log["next_cursor"].as_i64().expect("older entries");
    let older: Value = value(get(ADMIN_TOKEN, &format!("/audit?before={cursor}")).await.expect("sent")).await;
    let rest: Vec<String> = older["entries"].as_array().expect("entries").iter().map(entry).collect();
    assert_eq!(rest.last().map(String::as_str), Some("operator|command line|connect|acme/Prod|done"), "{rest:?}");
    assert!(rest.contains(&"admin|admin token|add viewer token|scim-reader|done".to_owned()), "{rest:?}");
    assert!(
        rest.iter().any(|r| r.starts_with("admin|admin token|add viewer token|has space|a token's name is")),
        "{rest:?}"
    );
    assert!(older["next_cursor"].is_null(), "{older}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_names_every_route_and_every_route_it_names_is_served() {
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let answer = client.get(format!("{base}/api/v1/openapi.json")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
    assert_eq!(answer.status(), 200);
    let document: Value = serde_json::from_str(&answer.text().await.expect("text")).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["servers"][0]["url"], "/api/v1");
    assert_eq!(document["components"]["securitySchemes"]["token"]["scheme"], "bearer");
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("an item") {
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
            let url = format!(
                "{base}/api/v1{}",
                path.replace("{integration}", "nothing").replace("{account}", "Nobody").replace("{name}", "nobody")
            );
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            let answer = client.request(method.clone(), &url).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
            let status = answer.status().as_u16();
            let body = answer.text().await.expect("text");
            // A route the document names is served: the handler answers, even if only that nothing is there.
            assert!(status != 405 && !body.contains("no such API route"), "{method} {path}: {status} {body}");
            operations += 1;
        }
    }
    for path in ["/integrations", "/connections", "/connections/{integration}/{account}/users", "/notifications"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert_eq!(operations, 23, "every operation of the API is in the document");
    // And a route it does not name is not served.
    let unknown =
        client.get(format!("{base}/api/v1/nothing-here")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
    assert_eq!(unknown.status(), 404);
    drop(server);
}

/// Wrong admin tokens are counted per client, once for every route that takes
/// the token (API, SCIM, the console's login); behind a trusted proxy the
/// client is who it forwarded, from anyone else the header is ignored; and
/// the right token is never locked out, from the guesser's address either.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_admin_tokens_cost_their_client_on_every_route_and_never_lock_out_the_right_one() {
    let api = api(5).await;
    let proxied = Setup {
        admin: Some(ADMIN_TOKEN.to_owned()),
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("a network")],
        ..Setup::default()
    };
    let server = Server::with(proxied).await;
    connect(&server, &api, "Prod").await;
    let base = server.base.clone();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let (guesser, operator) = ("203.0.113.9", "198.51.100.7");
    let attempt = |route: usize, from: &str, token: &str| {
        let request = match route % 3 {
            0 => client.get(format!("{base}/api/v1/connections")).bearer_auth(token),
            1 => client.get(format!("{base}/scim/v2/acme/Prod/Users")).bearer_auth(token),
            _ => client
                .post(format!("{base}/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}")),
        };
        request.header("x-forwarded-for", format!("{from}, 127.0.0.1")).send()
    };
    for route in 0..8 {
        let answer = attempt(route, guesser, "not-the-admin-token").await.expect("sent");
        assert_eq!(answer.status(), 401, "route {route}");
        let text = answer.text().await.expect("text");
        if route % 3 == 0 {
            let said = format!("{} failed attempts from {guesser}", route + 1);
            assert!(text.contains(&said), "counted over every route: {text}");
        }
    }
    for route in 0..3 {
        let answer = attempt(route, operator, ADMIN_TOKEN).await.expect("sent");
        assert!(matches!(answer.status().as_u16(), 200 | 303), "another client is not held back: {route}");
    }
    let waited = Instant::now();
    let answer = attempt(0, guesser, ADMIN_TOKEN).await.expect("sent");
    assert_eq!(answer.status(), 200, "the right token from the guesser's address too");
    assert!(waited.elapsed() >= Duration::from_millis(500), "after its wait: {:?}", waited.elapsed());
    drop(server);

    // Without --trusted-proxy the header is a client's word: the attempt counts against the connection's peer.
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let base = server.base.clone();
    let answer = client
        .get(format!("{base}/api/v1/connections"))
        .bearer_auth("not-the-admin-token")
        .header("x-forwarded-for", guesser)
        .send()
        .await
        .expect("sent");
    assert!(answer.text().await.expect("text").contains("1 failed attempts from 127.0.0.1"));
    drop(server);
}

/// Every answer carries the security headers: the console's pages, and also
/// the OAuth callback's page, a 404 and the API's JSON.
#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_the_security_headers() {
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let base = server.base.clone();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for (path, status) in [
        ("/login", 200),
        ("/nothing-here", 404),
        ("/oauth/callback/acme?state=forged&code=x", 422),
        // The builder's callback finds no test waiting for a state no one gave out.
        ("/builder/callback?state=forged&code=x", 404),
        ("/api/v1/connections", 401),
        ("/health", 200),
    ] {
        let answer = client.get(format!("{base}{path}")).send().await.expect("sent");
        assert_eq!(answer.status(), status, "{path}");
        let headers = answer.headers();
        let policy = headers.get("content-security-policy").map(|v| v.to_str().expect("text").to_owned());
        assert!(policy.is_some_and(|p| p.contains("frame-ancestors 'none'")), "{path}: {headers:?}");
        assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{path}");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_logs_in_with_the_admin_token_limits_failures_and_checks_csrf() {
    let api = api(20).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    let base = server.base.clone();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let form = |path: &str, body: String, cookie: Option<&str>| {
        let request = client.post(format!("{base}{path}")).header("content-type", "application/x-www-form-urlencoded");
        let request = match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        request.body(body)
    };

    // Without a session, every page (and the script, and the live view) sends to the login page,
    // which asks for the token.
    for path in
        ["/", "/notifications", "/connect/acme", "/connections/acme/Prod", "/connections/acme/Prod/live", "/console.js"]
    {
        let answer = client.get(format!("{base}{path}")).send().await.expect("sent");
        let location = answer.headers().get("location").map(|l| l.to_str().expect("text").to_owned());
        assert_eq!((answer.status().as_u16(), location.as_deref()), (303, Some("/login")), "{path}");
    }
    let login = client.get(format!("{base}/login")).send().await.expect("sent");
    assert!(login.headers()["content-security-policy"].to_str().expect("text").contains("default-src 'none'"));
    assert!(login.text().await.expect("text").contains("type=\"password\" name=\"token\""));

    // A wrong token is refused; beyond five, each try waits longer, and the right token still logs in.
    for _ in 0..6 {
        let answer = form("/login", "token=wrong-token-for-the-console".to_owned(), None).send().await.expect("sent");
        assert_eq!(answer.status(), 401);
    }
    let refused = form("/login", "token=wrong-again".to_owned(), None).send().await.expect("sent");
    assert!(refused.text().await.expect("text").contains("7 failed attempts"), "the page says so");
    let in_anyway = form("/login", format!("token={ADMIN_TOKEN}"), None).send().await.expect("sent");
    assert_eq!(in_anyway.status(), 303, "never locked out");
    drop(server);

    // The right token: a session cookie, HttpOnly and SameSite=Lax, so the navigation that the identity
    // provider's redirect back starts carries it (not Secure: the public URL is http).
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    let base = server.base.clone();
    let form = |path: &str, body: String, cookie: Option<&str>| {
        let request = client.post(format!("{base}{path}")).header("content-type", "application/x-www-form-urlencoded");
        let request = match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        request.body(body)
    };
    let answer = form("/login", format!("token={ADMIN_TOKEN}"), None).send().await.expect("sent");
    assert_eq!(answer.status(), 303);
    let set_cookie = answer.headers()["set-cookie"].to_str().expect("text").to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && !set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("a pair").to_owned();
    let overview = client.get(format!("{base}/")).header("cookie", &cookie).send().await.expect("sent");
    assert_eq!(overview.status(), 200);
    let html = overview.text().await.expect("text");
    assert!(
        html.contains("acme/Prod") && html.contains("Available to connect") && html.contains("api_token (secret)"),
        "{html}"
    );
    assert!(!html.contains(SECRET) && !html.contains(ADMIN_TOKEN), "no secret in the page");
    let csrf =
        html.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a CSRF token");

    // A form without its CSRF token, or with another, is refused; with it, the session ends.
    let refused = form("/logout", "csrf=forged".to_owned(), Some(&cookie)).send().await.expect("sent");
    assert_eq!(refused.status(), 403);
    let refused = form("/logout", String::new(), Some(&cookie)).send().await.expect("sent");
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let out = form("/logout", format!("csrf={csrf}"), Some(&cookie)).send().await.expect("sent");
    assert_eq!(out.status(), 303);
    let after = client.get(format!("{base}/")).header("cookie", &cookie).send().await.expect("sent");
    assert_eq!(after.status(), 303, "the session is over");
    drop(server);
}

/// tib's SCIM service read by python-scim's scim2-client, which checks every
/// answer against RFC 7643/7644 (`tests/scim/client.py`). It runs where
/// TIB_SCIM_PYTHON names a Python with `tests/scim/requirements.txt`
/// installed; `.ci/run` makes one and sets it with TIB_REQUIRE_SCIM_CLIENT=1.
#[tokio::test(flavor = "multi_thread")]
async fn a_scim_client_no_one_here_wrote_reads_the_users_through_discovery_pages_and_filters() {
    let Some(python) = scim_python() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let api = api(250).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    synced(&server, "Prod").await;
    let base = server.base.clone();
    let mut client = Command::new(python);
    client
        .arg(root.join("tests/scim/client.py"))
        .arg(format!("{base}/scim/v2/acme/Prod"))
        .arg(ADMIN_TOKEN)
        .arg(valid(250).to_string());
    let output = tokio::task::spawn_blocking(move || client.output().expect("python runs")).await.expect("joined");
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("scim2-client read"), "{stdout}\n{stderr}");
}

/// tib's SCIM service checked by scim2-tester (`tests/scim/tester.py`): every discovery, read, search
/// and pagination check passes; the writes it would try are left out, as the service is read-only.
#[tokio::test(flavor = "multi_thread")]
async fn scim2_tester_finds_the_service_conformant() {
    let Some(python) = scim_python() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let api = api(60).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    synced(&server, "Prod").await;
    let mut tester = Command::new(python);
    tester.arg(root.join("tests/scim/tester.py")).arg(format!("{}/scim/v2/acme/Prod", server.base)).arg(ADMIN_TOKEN);
    let output = tokio::task::spawn_blocking(move || tester.output().expect("python runs")).await.expect("joined");
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("scim2-tester:"), "{stdout}\n{stderr}");
}

/// Approving a held sync after the stored users changed under it is a conflict (409), as the API, the
/// console and the CLI see it; the held sync stays held and the users as they are.
#[tokio::test(flavor = "multi_thread")]
async fn approving_a_held_sync_after_the_users_changed_is_a_conflict() {
    let api = api(30).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    synced(&server, "Prod").await;
    // The API now lists 5 of the 30: the sync that would delete 25 is held.
    api.users.store(5, std::sync::atomic::Ordering::SeqCst);
    server.services.act(&Actor::command_line(), "acme", "Prod", tib_runtime::operate::Action::Sync).await.expect("due");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.services.summary("acme", "Prod").await.expect("read").state()
        != tib_runtime::operate::ConnectionState::Held
    {
        assert!(Instant::now() < deadline, "the sync was never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Another instance applies a sync of the account meanwhile: the users the held one was compared with are gone.
    let before = server.services.summary("acme", "Prod").await.expect("read");
    let side = rusqlite::Connection::open(&server.store_path).expect("the store file");
    side.execute("UPDATE connections SET users_version = users_version + 1", []).expect("changed");
    let client = reqwest::Client::new();
    let answer =
        client.post(server.api("/connections/acme/Prod/approve")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
    assert_eq!(answer.status(), 409);
    let problem: Value = serde_json::from_str(&answer.text().await.expect("text")).expect("JSON");
    assert_eq!(problem["status"], 409);
    assert!(problem["detail"].as_str().expect("a detail").contains("changed since this sync was held"), "{problem}");
    let summary = server.services.summary("acme", "Prod").await.expect("read");
    assert_eq!((summary.with_access, summary.users), (before.with_access, valid(30) as i64), "the users as they were");
    assert_eq!(summary.state(), tib_runtime::operate::ConnectionState::Held, "still held");
    let error = server
        .services
        .act(&Actor::command_line(), "acme", "Prod", tib_runtime::operate::Action::Approve)
        .await
        .expect_err("refused");
    assert_eq!(error.kind, tib_runtime::operate::ErrorKind::Conflict);

    // A held sync that cannot be approved can be discarded: the users stay, nothing is held.
    let discard = || client.post(server.api("/connections/acme/Prod/discard")).bearer_auth(ADMIN_TOKEN).send();
    let answer = discard().await.expect("sent");
    assert_eq!(answer.status(), 200);
    let acted: Value = serde_json::from_str(&answer.text().await.expect("text")).expect("JSON");
    assert_eq!(acted["state"], "enabled", "{acted}");
    assert!(acted["done"].as_str().expect("words").starts_with("discarded the held sync of acme/Prod"), "{acted}");
    let summary = server.services.summary("acme", "Prod").await.expect("read");
    assert_eq!((summary.with_access, summary.users), (before.with_access, valid(30) as i64), "the users as they were");
    assert_eq!(discard().await.expect("sent").status(), 409, "nothing held any more");
}

/// A store that fails while an account is connected is the server's failure (500), said without the
/// database's own words, through the API and the console alike.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_failure_while_connecting_is_a_server_error() {
    let api = api(5).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let side = rusqlite::Connection::open(&server.store_path).expect("the store file");
    side.execute_batch("ALTER TABLE connections RENAME TO connections_gone").expect("renamed");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let body = json!({"credentials": {"tenant": "demo", "api_token": SECRET}, "base_url": api.base_url});
    let answer = client
        .put(server.api("/connections/acme/Prod"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 500);
    let text = answer.text().await.expect("text");
    assert!(text.contains("the server's log says why") && !text.contains("connections"), "{text}");

    let cookie = common::console_login(&client, &server.base, ADMIN_TOKEN).await;
    let dialog =
        client.get(format!("{}/connect/acme", server.base)).header("cookie", &cookie).send().await.expect("sent");
    assert_eq!(dialog.status(), 500, "the dialog lists the accounts connected, from the store");
    let page = dialog.text().await.expect("text");
    assert!(page.contains("The server could not do it") && !page.contains("no such table"), "{page}");
}

/// A spec that checks clean, named `name`.
fn builder_spec(name: &str) -> String {
    format!(
        "app \"{name}\"\nbase_url \"https://api.example.com\"\n\ncredentials {{\n  api_token secret \"t\"\n}}\n\n\
         auth bearer \"{{api_token}}\"\n\nrequest GET \"/users\"\n\npaginate none\n\nusers at users\n\n\
         fields {{\n  id    = id\n  email = email\n}}\n"
    )
}

/// The builder over HTTP: its pages need a session and its forms the session's CSRF token; a
/// draft is its session's alone and ends with it; a spec with errors is not saved; a saved spec is
/// named from its app id inside the specs directory whatever the app is called; a spec changed on
/// disk since it was opened is not overwritten; without a specs directory nothing is saved.
#[tokio::test(flavor = "multi_thread")]
async fn the_builder_keeps_drafts_to_their_session_and_saves_only_clean_specs_inside_its_directory() {
    let specs = tempfile::tempdir().expect("a specs directory");
    let server = Server::with(Setup {
        admin: Some(ADMIN_TOKEN.to_owned()),
        specs: Some(specs.path().to_path_buf()),
        ..Setup::default()
    })
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let post = |path: String, body: String, cookie: &str| {
        client
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(body)
    };
    let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    for path in ["/builder", "/builder.js", "/builder/some-draft/general"] {
        let answer = client.get(format!("{base}{path}")).send().await.expect("sent");
        assert_eq!(answer.status(), 303, "{path} needs a session");
    }
    let login = || async {
        let cookie = common::console_login(&client, &base, ADMIN_TOKEN).await;
        let page = client.get(format!("{base}/builder")).header("cookie", &cookie).send().await.expect("sent");
        let html = page.text().await.expect("text");
        assert!(html.contains("are saved in") && !html.contains("Read-only"), "{html}");
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a token");
        (cookie, csrf.to_owned())
    };
    let (a, a_csrf) = login().await;
    let (b, b_csrf) = login().await;

    let forged = post("/builder/new".to_owned(), format!("csrf={b_csrf}"), &a).send().await.expect("sent");
    assert_eq!(forged.status(), 403, "another session's CSRF token");
    let opened = post("/builder/new".to_owned(), format!("csrf={a_csrf}"), &a).send().await.expect("sent");
    let location = opened.headers()["location"].to_str().expect("text").to_owned();
    let draft = location.strip_suffix("/general").expect("the first step").to_owned();
    let page = client.get(format!("{base}{location}")).header("cookie", &b).send().await.expect("sent");
    assert_eq!(page.status(), 404, "a draft is its session's alone");

    // With errors, nothing is saved.
    let broken = builder_spec("Evil").replace("  email = email\n", "");
    let applied = post(format!("{draft}/text"), format!("csrf={a_csrf}&text={}", encode(&broken)), &a).send().await;
    assert_eq!(applied.expect("sent").status(), 303);
    let refused = post(format!("{draft}/save"), format!("csrf={a_csrf}"), &a).send().await.expect("sent");
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.expect("text").contains("the spec has 1 error"));
    assert_eq!(std::fs::read_dir(specs.path()).expect("listed").count(), 0);

    // A name that looks like a path is an app id all the same.
    let spec = builder_spec("../../Evil");
    post(format!("{draft}/text"), format!("csrf={a_csrf}&text={}", encode(&spec)), &a).send().await.expect("sent");
    let saved = post(format!("{draft}/save"), format!("csrf={a_csrf}"), &a).send().await.expect("sent");
    assert_eq!(saved.status(), 303);
    let files: Vec<String> = std::fs::read_dir(specs.path())
        .expect("listed")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["evil.tib"]);
    assert_eq!(std::fs::read_to_string(specs.path().join("evil.tib")).expect("saved"), spec);
    let listed = client.get(format!("{base}/")).header("cookie", &a).send().await.expect("sent");
    assert!(listed.text().await.expect("text").contains("evil interpreted"), "offered at once");

    // Saved again unchanged on disk: fine; changed on disk by someone else: refused, the file kept.
    let again = post(format!("{draft}/save"), format!("csrf={a_csrf}"), &a).send().await.expect("sent");
    assert_eq!(again.status(), 303);
    let theirs = format!("# theirs\n{spec}");
    std::fs::write(specs.path().join("evil.tib"), &theirs).expect("written");
    let stale = post(format!("{draft}/save"), format!("csrf={a_csrf}"), &a).send().await.expect("sent");
    assert_eq!(stale.status(), 409);
    assert!(stale.text().await.expect("text").contains("changed on disk since you opened it"));
    assert_eq!(std::fs::read_to_string(specs.path().join("evil.tib")).expect("kept"), theirs);

    // Logging out ends the session's drafts.
    let out = post("/logout".to_owned(), format!("csrf={a_csrf}"), &a).send().await.expect("sent");
    assert_eq!(out.status(), 303);
    let (a, _) = login().await;
    let gone = client.get(format!("{base}{draft}/review")).header("cookie", &a).send().await.expect("sent");
    assert_eq!(gone.status(), 404);
    drop(server);

    // Without a specs directory the builder says how to save, and saves nothing.
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let base = server.base.clone();
    let cookie = common::console_login(&client, &base, ADMIN_TOKEN).await;
    let page = client.get(format!("{base}/builder")).header("cookie", &cookie).send().await.expect("sent");
    let html = page.text().await.expect("text");
    assert!(html.contains("Read-only") && html.contains("tib serve --specs DIR"), "{html}");
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a token");
    let form = |path: String, body: String| {
        client
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie)
            .body(body)
    };
    let opened = form("/builder/open/acme".to_owned(), format!("csrf={csrf}")).send().await.expect("sent");
    let draft = opened.headers()["location"].to_str().expect("text").replace("/general", "");
    let review = client.get(format!("{base}{draft}/review")).header("cookie", &cookie).send().await.expect("sent");
    let html = review.text().await.expect("text");
    assert!(html.contains("A copy of the compiled integration") && html.contains("app &quot;Acme&quot;"), "{html}");
    assert!(html.contains("The spec checks clean"), "checked with the catalog of this build: {html}");
    let refused = form(format!("{draft}/save"), format!("csrf={csrf}")).send().await.expect("sent");
    assert_eq!(refused.status(), 409);
    assert!(refused.text().await.expect("text").contains("start it with `tib serve --specs DIR` to save"));
}

/// A Jira site on 127.0.0.1: two people and an app, each one's groups asked by the spec's lookup.
async fn jira_api() -> wiremock::MockServer {
    use wiremock::matchers::{path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    let user = |id: &str, kind: &str| {
        json!({"accountId": id, "accountType": kind, "emailAddress": format!("{id}@acme.example"),
               "displayName": id, "active": true})
    };
    Mock::given(path("/users/search"))
        .and(query_param("startAt", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            user("ada", "atlassian"),
            user("bob", "atlassian"),
            user("bot", "app")
        ])))
        .mount(&server)
        .await;
    Mock::given(path("/users/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    for (id, groups) in
        [("ada", vec!["jira-software-users", "site admins"]), ("bob", vec!["jira-software-users"]), ("bot", vec![])]
    {
        let groups: Vec<Value> = groups.iter().map(|name| json!({"name": name, "groupId": name})).collect();
        Mock::given(path("/user/groups"))
            .and(query_param("accountId", id))
            .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(groups)))
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_and_the_account_type_are_stored_and_read_through_the_api_scim_and_its_groups() {
    let jira = jira_api().await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    let values = tib_support::CredentialValues::new(vec![
        (tib_support::Secret::new("acme"), false),
        (tib_support::Secret::new("admin@acme.example"), false),
        (tib_support::Secret::new(SECRET), true),
    ]);
    let overrides = tib_runtime::operate::Overrides {
        base_url: Some(url::Url::parse(&jira.uri()).expect("a URL")),
        ..Default::default()
    };
    let new = tib_runtime::operate::NewAccount {
        integration: "jira".to_owned(),
        account: "Acme".to_owned(),
        values,
        overrides,
        every: tib_runtime::schedule::DAY,
        replace: false,
    };
    server
        .services
        .connect(&Actor::command_line(), new, tib_runtime::operate::Trial::Untried)
        .await
        .expect("connected");
    server.services.act(&Actor::command_line(), "jira", "Acme", tib_runtime::operate::Action::Sync).await.expect("due");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server
        .services
        .summary("jira", "Acme")
        .await
        .expect("a connection")
        .last_run
        .is_some_and(|r| r.outcome == tib_runtime::store::Outcome::Applied)
    {
        assert!(Instant::now() < deadline, "the sync never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let request = client.get(format!("{}{path}", server.base)).bearer_auth(ADMIN_TOKEN);
        async move {
            let answer = request.send().await.expect("sent");
            let status = answer.status().as_u16();
            (status, serde_json::from_str::<Value>(&answer.text().await.expect("text")).expect("JSON"))
        }
    };

    let (_, connection) = get("/api/v1/connections/jira/Acme").await;
    assert_eq!(connection["last_run"]["lookups"], 3, "one lookup per user, counted in the run: {connection}");
    let (status, page) = get("/api/v1/connections/jira/Acme/users").await;
    assert_eq!(status, 200, "{page}");
    let ada = page["users"].as_array().expect("users").iter().find(|u| u["external_id"] == "ada").expect("ada").clone();
    assert_eq!(ada["groups"], json!(["jira-software-users", "site admins"]), "{ada}");
    assert_eq!(ada["account_type"], "atlassian");
    assert_eq!(ada["licenses"], json!(["Jira Software"]));

    let (_, admins) = get("/api/v1/connections/jira/Acme/users?group=site%20admins").await;
    let ids: Vec<&str> =
        admins["users"].as_array().expect("users").iter().map(|u| u["external_id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["ada"], "the group's members: {admins}");
    let scim = "/scim/v2/jira/Acme";
    let (_, members) = get(&format!("{scim}/Users?filter=groups.value%20eq%20%22jira-software-users%22")).await;
    assert_eq!(members["totalResults"], 2, "SCIM's filter on groups: {members}");
    let (_, user) = get(&format!("{scim}/Users/ada")).await;
    assert_eq!(user["userType"], "atlassian", "{user}");
    let groups: Vec<&str> =
        user["groups"].as_array().expect("groups").iter().map(|g| g["value"].as_str().expect("a value")).collect();
    assert_eq!(groups, ["jira-software-users", "site admins"]);
    assert_eq!(user["groups"][1]["$ref"], format!("{scim}/Groups/site%20admins"));
    let (_, app) = get(&format!("{scim}/Users/bot")).await;
    assert_eq!((app["userType"].as_str(), app["groups"].as_array().map(Vec::len)), (Some("app"), Some(0)), "{app}");

    let (status, list) = get(&format!("{scim}/Groups")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["totalResults"], 2, "{list}");
    let software = &list["Resources"][0];
    assert_eq!(software["displayName"], "jira-software-users", "the largest group first");
    let members: Vec<&str> =
        software["members"].as_array().expect("members").iter().map(|m| m["value"].as_str().expect("an id")).collect();
    assert_eq!(members, ["ada", "bob"]);
    let (_, second) = get(&format!("{scim}/Groups?startIndex=2&count=1")).await;
    assert_eq!(
        (&second["totalResults"], &second["startIndex"], &second["Resources"][0]["id"]),
        (&json!(2), &json!(2), &json!("site admins")),
        "{second}"
    );
    let (_, found) = get(&format!("{scim}/Groups?filter=displayName%20eq%20%22site%20admins%22")).await;
    assert_eq!(
        (&found["totalResults"], &found["Resources"][0]["displayName"]),
        (&json!(1), &json!("site admins")),
        "{found}"
    );
    let (status, wrong) = get(&format!("{scim}/Groups?filter=members%20pr")).await;
    assert_eq!((status, &wrong["scimType"]), (400, &json!("invalidFilter")), "{wrong}");
    let (status, admins) = get(&format!("{scim}/Groups/site%20admins")).await;
    assert_eq!((status, &admins["members"][0]["value"]), (200, &json!("ada")), "{admins}");
    let (status, missing) = get(&format!("{scim}/Groups/nobody")).await;
    assert_eq!(
        (status, &missing["schemas"][0]),
        (404, &json!("urn:ietf:params:scim:api:messages:2.0:Error")),
        "{missing}"
    );
    let (_, types) = get(&format!("{scim}/ResourceTypes")).await;
    assert!(types["Resources"].as_array().expect("types").iter().any(|t| t["endpoint"] == "/Groups"), "{types}");
    drop(server);
}

/// The builder's test asks the lookups of the sample's users, as a sync would, and its preview
/// maps them joined; lookups that fail are said, and the preview goes on without their values.
#[tokio::test(flavor = "multi_thread")]
async fn the_builders_test_asks_the_samples_lookups_and_its_preview_reads_them() {
    use tib_runtime::builder::trial;
    use wiremock::matchers::path;
    use wiremock::{Mock, ResponseTemplate};
    let api = wiremock::MockServer::start().await;
    let member = |id: u64, login: &str| json!({"id": id, "login": login, "email": format!("{login}@acme.example")});
    Mock::given(path("/members"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([member(1, "ann"), member(2, "bob")])))
        .mount(&api)
        .await;
    Mock::given(path("/memberships/ann"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"role": "admin", "note": "token gh-secret-1"})))
        .mount(&api)
        .await;
    Mock::given(path("/memberships/bob"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"role": "member"})))
        .mount(&api)
        .await;
    let draft = format!(
        "app \"Hub\"\nbase_url \"{}\"\ncredentials {{\n  token secret \"A token\"\n}}\nauth bearer \"{{token}}\"\n\
         request GET \"/members\"\nlookup membership GET \"/memberships/{{login}}\"\npaginate none\nusers at .\n\
         fields {{\n  id    = id\n  email = email\n  role  = membership.role\n}}\n",
        api.uri()
    );
    let catalog = tib_front::catalog::Catalog::missing();
    let client = tib_support::Client::new(tib_support::ClientSettings {
        network: tib_support::NetworkPolicy::with_loopback(),
        ..tib_support::ClientSettings::default()
    })
    .expect("a client");
    let mut typed = trial::Trial::default();
    typed.remember([("token".to_owned(), "gh-secret-1".to_owned())]);
    let connector = std::sync::Arc::new(trial::ready(&draft, &catalog).expect("the request side checks"));
    let report = trial::test(connector.clone(), &typed, &client).await.expect("tested");
    let answer = report.answer.expect("answered");
    assert!(answer.lookups_failed.is_none(), "{:?}", answer.lookups_failed);
    let joined = String::from_utf8_lossy(answer.joined.answer(0, 0).expect("ann's membership")).into_owned();
    assert!(joined.contains("[redacted]") && !joined.contains("gh-secret-1"), "secrets redacted: {joined}");
    let spec = tib_front::compile("draft.tib", &draft, &catalog).spec.expect("the draft checks");
    let preview = trial::preview(spec.clone(), &answer.body, &answer.joined).expect("a preview");
    let roles: Vec<Option<&str>> = preview.users.iter().map(|u| u.role.as_deref()).collect();
    assert_eq!(roles, [Some("admin"), Some("member")], "the roles the lookups gave");

    api.reset().await;
    Mock::given(path("/members"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([member(1, "ann")])))
        .mount(&api)
        .await;
    let report = trial::test(connector, &typed, &client).await.expect("tested");
    let answer = report.answer.expect("the users request answered");
    let failed = answer.lookups_failed.expect("the membership answered 404");
    assert!(failed.contains("/memberships/ann") && failed.contains("404"), "{failed}");
    let preview = trial::preview(spec, &answer.body, &answer.joined).expect("a preview without the lookups");
    assert_eq!((preview.total, preview.users[0].role.as_deref()), (1, None));
}

/// The company's views across accounts: people by email in the API and the console's CSV, one
/// person in every account, and the licenses with their holders not seen in a window.
#[tokio::test(flavor = "multi_thread")]
async fn people_and_licenses_answer_across_every_account_in_the_api_and_as_csv() {
    let api = api(40).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    for account in ["Prod", "Sandbox"] {
        connect(&server, &api, account).await;
        synced(&server, account).await;
    }
    let base = server.base.clone();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{base}/api/v1{path}");
        async move {
            let answer = client.get(url).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
            let status = answer.status().as_u16();
            (status, serde_json::from_str::<Value>(&answer.text().await.expect("text")).expect("JSON"))
        }
    };

    // Pages of people by email, each in both accounts.
    let (status, first) = get("/people?limit=5".to_owned()).await;
    assert_eq!(status, 200, "{first}");
    let emails: Vec<&str> =
        first["people"].as_array().expect("people").iter().map(|p| p["email"].as_str().expect("an email")).collect();
    assert_eq!(
        emails,
        [
            "user0@acme.example",
            "user10@acme.example",
            "user11@acme.example",
            "user12@acme.example",
            "user14@acme.example"
        ]
    );
    assert!(first["people"].as_array().expect("people").iter().all(|p| p["accounts"] == 2), "{first}");
    assert_eq!(first["next_cursor"], "user14@acme.example");
    let (_, second) = get("/people?limit=2&cursor=user14%40acme.example".to_owned()).await;
    assert_eq!(second["people"][0]["email"], "user15@acme.example");
    let (_, found) = get("/people?search=LEE7".to_owned()).await;
    let found: Vec<&str> =
        found["people"].as_array().expect("people").iter().map(|p| p["email"].as_str().expect("an email")).collect();
    assert_eq!(found, ["user7@acme.example"], "by name, in any case");

    // One person in every account, named in any case.
    let (status, person) = get("/people/USER1%40Acme.Example".to_owned()).await;
    assert_eq!(status, 200, "{person}");
    assert_eq!(person["email"], "user1@acme.example");
    let accounts: Vec<&str> = person["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["account"].as_str().expect("a name"))
        .collect();
    assert_eq!(accounts, ["Prod", "Sandbox"]);
    assert_eq!(person["accounts"][0]["user"]["licenses"], json!(["Acme Pro"]));
    let (status, nobody) = get("/people/nobody%40acme.example".to_owned()).await;
    assert_eq!((status, nobody["detail"].as_str()), (404, Some("no account lists nobody@acme.example")));

    // Licenses by account; the demo's members were last seen in 2024: every holder is unseen in 30 days.
    let (status, licenses) = get("/licenses?unseen_days=30".to_owned()).await;
    assert_eq!(status, 200, "{licenses}");
    let held = licenses["licenses"].as_array().expect("licenses");
    let pro = held.iter().find(|l| l["account"] == "Prod" && l["license"] == "Acme Pro").expect("Acme Pro in Prod");
    assert!(pro["holders"].as_i64().expect("a count") > 0);
    assert_eq!(pro["unseen"], pro["holders"], "{pro}");
    let holders =
        get("/connections/acme/Prod/users?license=Acme%20Pro&access=true&unseen_days=30&limit=1000".to_owned()).await.1;
    assert_eq!(holders["users"].as_array().expect("users").len() as i64, pro["holders"].as_i64().expect("a count"));
    // A window of ten years holds them all: none unseen.
    let (_, recent) = get("/licenses?unseen_days=3650".to_owned()).await;
    assert!(recent["licenses"].as_array().expect("licenses").iter().all(|l| l["unseen"] == 0), "{recent}");
    let (status, refused) = get("/licenses?unseen_days=0".to_owned()).await;
    assert_eq!((status, refused["detail"].as_str()), (422, Some("the days not seen are from 1 to 3650, not 0")));

    // The console's downloads, behind its login.
    let cookie = logged_in(&client, &base).await;
    let csv = |path: &str| {
        let request = client.get(format!("{base}{path}")).header("cookie", &cookie);
        async move {
            let answer = request.send().await.expect("sent");
            assert_eq!(answer.headers()["content-type"], "text/csv; charset=utf-8");
            assert!(answer.headers()["content-disposition"].to_str().expect("text").starts_with("attachment"));
            answer.text().await.expect("text")
        }
    };
    let people = csv("/people?q=lee3&format=csv").await;
    let lines: Vec<&str> = people.lines().collect();
    assert_eq!(lines[0], "email,name,accounts,with_access,last_seen_at");
    assert_eq!(lines.len(), 1 + 11, "Lee3 and Lee30 to Lee39: {people}");
    assert!(people.contains("\"user3@acme.example\",\"Di Lee3\",\"2\""), "{people}");
    let licenses = csv("/licenses?unseen=30&format=csv").await;
    assert!(licenses.contains("\"acme\",\"Sandbox\",\"Acme Pro\""), "{licenses}");
    let holders = csv("/licenses/acme/Prod?license=Acme%20Pro&unseen=30&format=csv").await;
    assert_eq!(holders.lines().count() as i64 - 1, pro["holders"].as_i64().expect("a count"), "{holders}");
    let page =
        client.get(format!("{base}/people/user1%40acme.example")).header("cookie", &cookie).send().await.expect("sent");
    let html = page.text().await.expect("text");
    assert!(html.contains("In 2 accounts, with access in") && html.contains("/connections/acme/Sandbox"), "{html}");
    drop(server);
}

/// The access review in the API and the console: an account marked as the directory, the others'
/// users with access compared with it.
#[tokio::test(flavor = "multi_thread")]
async fn the_access_review_compares_every_account_with_the_directory() {
    let (directory_api, app_api) = (api(30).await, api(45).await);
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &directory_api, "Directory").await;
    synced(&server, "Directory").await;
    connect(&server, &app_api, "App").await;
    synced(&server, "App").await;
    let base = server.base.clone();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let call = |method: reqwest::Method, path: &str| {
        let request = client.request(method, format!("{base}/api/v1{path}")).bearer_auth(ADMIN_TOKEN);
        async move {
            let answer = request.send().await.expect("sent");
            let status = answer.status().as_u16();
            (status, serde_json::from_str::<Value>(&answer.text().await.expect("text")).expect("JSON"))
        }
    };

    let (_, review) = call(reqwest::Method::GET, "/access-review").await;
    assert_eq!(
        review,
        json!({"directories": [], "departed_total": 0, "departed": [], "unaccounted_total": 0, "unaccounted": []}),
        "nothing to compare with yet"
    );
    let (status, marked) = call(reqwest::Method::PUT, "/connections/acme/Directory/directory").await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["directory"], true);
    let (_, review) = call(reqwest::Method::GET, "/access-review").await;
    assert_eq!(review["directories"], json!([{"integration": "acme", "account": "Directory"}]));
    // The app's members 30 to 44 are not in the directory; those with access are listed.
    let departed: Vec<&str> = review["departed"]
        .as_array()
        .expect("departed")
        .iter()
        .map(|d| {
            assert_eq!((d["account"].as_str(), d["in_directory"].as_bool()), (Some("App"), Some(false)), "{d}");
            assert_eq!(d["user"]["active"], true, "{d}");
            d["user"]["email"].as_str().expect("an email")
        })
        .collect();
    assert!(
        !departed.is_empty()
            && departed.iter().all(|email| email["user".len()..]
                .split('@')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| (30..45).contains(&n))),
        "{departed:?}"
    );
    assert_eq!(review["unaccounted"], json!([]), "everyone active in the directory is active in the app");
    assert_eq!(review["departed_total"], departed.len(), "one page holds them all");
    // Paged: the second page of five follows the first.
    let emails = |review: &Value| -> Vec<String> {
        review["departed"].as_array().expect("departed").iter().map(|d| d["user"]["email"].to_string()).collect()
    };
    let (_, second) = call(reqwest::Method::GET, "/access-review?departed_from=5&limit=5").await;
    assert_eq!(second["departed_total"], departed.len());
    assert_eq!(emails(&second), departed[5..10].iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>());
    for (refused, expected) in
        [("limit=0", 422), ("limit=1001", 422), ("departed_from=-1", 422), ("unaccounted_from=x", 400)]
    {
        let (status, problem) = call(reqwest::Method::GET, &format!("/access-review?{refused}")).await;
        assert_eq!(status, expected, "{refused}: {problem}");
    }

    // The console's page and download.
    let cookie = logged_in(&client, &base).await;
    let page = client.get(format!("{base}/access-review")).header("cookie", &cookie).send().await.expect("sent");
    let html = page.text().await.expect("text");
    assert!(
        html.contains(&format!("Access held by people not active in the directory ({})", departed.len())),
        "{html}"
    );
    let page = client
        .get(format!("{base}/access-review?departed_from=5&unaccounted_from=0"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sent");
    let html = page.text().await.expect("text");
    let last = departed.len();
    assert!(html.contains(&format!("6–{last} of {last} ")), "{html}");
    assert!(
        html.contains("href=\"/access-review?departed_from=0&amp;unaccounted_from=0#departed\">Previous"),
        "{html}"
    );
    assert!(!html.contains(departed[0]) && html.contains(departed[5]), "{html}");
    // Past the end, the count stays and the page says where the list starts.
    let page = client
        .get(format!("{base}/access-review?departed_from=500"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("sent");
    let html = page.text().await.expect("text");
    assert!(html.contains(&format!("not active in the directory ({last})")) && html.contains("past the end"), "{html}");
    let (_, past) = call(reqwest::Method::GET, "/access-review?departed_from=500").await;
    assert_eq!(
        (past["departed_total"].as_u64(), past["departed"].as_array().map(Vec::len)),
        (Some(last as u64), Some(0))
    );
    let csv =
        client.get(format!("{base}/access-review?format=csv")).header("cookie", &cookie).send().await.expect("sent");
    let csv = csv.text().await.expect("text");
    assert_eq!(csv.lines().count(), 1 + departed.len(), "{csv}");
    assert!(csv.lines().nth(1).is_some_and(|row| row.starts_with("\"not in the directory\",\"user3")), "{csv}");

    let (status, _) = call(reqwest::Method::DELETE, "/connections/acme/Directory/directory").await;
    assert_eq!(status, 200);
    let (_, review) = call(reqwest::Method::GET, "/access-review").await;
    assert_eq!(review["directories"], json!([]));
    drop(server);
}

/// SCIM's attribute selection, `POST /.search`, discovery by id, and RFC 7644 §3.12 errors for
/// unknown routes and writes.
#[tokio::test(flavor = "multi_thread")]
async fn scim_returns_the_attributes_asked_searches_by_post_and_refuses_writes_with_its_errors() {
    let api = api(20).await;
    let server = Server::start(Some(ADMIN_TOKEN)).await;
    connect(&server, &api, "Prod").await;
    synced(&server, "Prod").await;
    let scim = format!("{}/scim/v2/acme/Prod", server.base);
    let client = reqwest::Client::new();
    let send = |request: reqwest::RequestBuilder| async move {
        let answer = request.bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
        let status = answer.status().as_u16();
        let kind = answer.headers()["content-type"].to_str().expect("text").to_owned();
        (status, kind, serde_json::from_str::<Value>(&answer.text().await.expect("text")).expect("JSON"))
    };

    let (_, _, only) = send(client.get(format!("{scim}/Users?count=2&attributes=userName,name.givenName,urn:ietf:params:scim:schemas:extension:tib:2.0:User:status"))).await;
    let user = &only["Resources"][0];
    let mut keys: Vec<&str> = user.as_object().expect("a user").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["id", "name", "schemas", "urn:ietf:params:scim:schemas:extension:tib:2.0:User", "userName"],
        "{user}"
    );
    assert_eq!(user["name"].as_object().expect("a name").keys().collect::<Vec<_>>(), ["givenName"], "{user}");
    assert_eq!(
        user["urn:ietf:params:scim:schemas:extension:tib:2.0:User"]
            .as_object()
            .expect("tib's")
            .keys()
            .collect::<Vec<_>>(),
        ["status"]
    );
    let id = user["id"].as_str().expect("an id").to_owned();
    let (_, _, without) = send(client.get(format!("{scim}/Users/{id}?excludedAttributes=emails,groups,meta"))).await;
    assert!(
        without.get("emails").is_none() && without.get("meta").is_none() && without["userName"].is_string(),
        "{without}"
    );
    assert_eq!(without["id"], id.as_str(), "the id is always returned");

    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"user1\"", "count": 3, "attributes": ["userName"]});
    let (status, _, found) = send(
        client
            .post(format!("{scim}/Users/.search"))
            .header("content-type", "application/scim+json")
            .body(search.to_string()),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert!(
        found["totalResults"].as_i64().expect("a total") > 3
            && found["Resources"].as_array().expect("users").len() == 3,
        "{found}"
    );
    assert!(
        found["Resources"]
            .as_array()
            .expect("users")
            .iter()
            .all(|u| u["userName"].as_str().is_some_and(|n| n.starts_with("user1")) && u.get("emails").is_none())
    );

    let (status, _, kind) = send(client.get(format!("{scim}/ResourceTypes/User"))).await;
    assert_eq!((status, kind["endpoint"].as_str()), (200, Some("/Users")));
    let (status, _, schema) =
        send(client.get(format!("{scim}/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group"))).await;
    assert_eq!((status, schema["name"].as_str()), (200, Some("Group")));

    // Unknown routes and writes: SCIM errors, as SCIM's own media type.
    for (request, expected) in [
        (client.get(format!("{scim}/Nothing")), 404),
        (client.get(format!("{scim}/Schemas/urn:nothing")), 404),
        (
            client
                .post(format!("{scim}/Users"))
                .header("content-type", "application/scim+json")
                .body(r#"{"userName": "new"}"#),
            405,
        ),
        (client.delete(format!("{scim}/Users/{id}")), 405),
        (client.patch(format!("{scim}/Groups/core")), 405),
    ] {
        let (status, kind, problem) = send(request).await;
        assert_eq!((status, kind.as_str()), (expected, "application/scim+json"), "{problem}");
        assert_eq!(problem["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{problem}");
        assert_eq!(problem["status"], expected.to_string(), "{problem}");
    }
    drop(server);
}

/// Sync now wakes the scheduler: with a poll of an hour, the sync starts at once.
#[tokio::test(flavor = "multi_thread")]
async fn sync_now_starts_the_sync_at_once_not_at_the_next_poll() {
    let api = api(20).await;
    let setup =
        Setup { admin: Some(ADMIN_TOKEN.to_owned()), poll: Some(Duration::from_secs(3600)), ..Setup::default() };
    let server = Server::with(setup).await;
    connect(&server, &api, "Prod").await;
    // The first poll, at start, found nothing due: the account was connected after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/connections/acme/Prod/sync", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 202);
    assert!(answer.text().await.expect("text").contains("is due now"));
    loop {
        let summary = server.services.summary("acme", "Prod").await.expect("a connection");
        if summary.last_run.is_some_and(|r| r.outcome == tib_runtime::store::Outcome::Applied) {
            break;
        }
        assert!(asked.elapsed() < Duration::from_secs(10), "the sync waited for the next poll");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server);
}
