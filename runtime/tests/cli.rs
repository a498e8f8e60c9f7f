//! The `tib` binary as an operator runs it, against an Acme API served on
//! 127.0.0.1 by the test (the example spec `specs/acme.tib`): connecting,
//! syncing, looking at users, the error policy with its webhook, an API that
//! dies mid-sync, a process killed mid-sync, and secrets kept out of sight.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::acme::*;
use common::postgres_schema;
use serde_json::{Value, json};
use tib_runtime::schedule::{DAY, phase};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Tib {
    dir: tempfile::TempDir,
    /// A PostgreSQL store's URL instead of the SQLite file in `dir`.
    postgres: Option<String>,
    /// The directory of specs it offers besides its compiled connectors (`--specs`).
    specs: Option<PathBuf>,
    /// The key that seals credentials, as TIB_KEY gives it (a PostgreSQL store needs one).
    key: Option<String>,
}

impl Tib {
    fn new() -> Tib {
        Tib { dir: tempfile::tempdir().expect("dir"), postgres: None, specs: None, key: None }
    }

    /// A Tib whose store lives under `parent` (a small file system, say).
    fn in_dir(parent: &Path) -> Tib {
        Tib { dir: tempfile::tempdir_in(parent).expect("dir"), postgres: None, specs: None, key: None }
    }

    /// A store with `acme/Prod` connected to `api` and synced once, and its users.
    async fn synced(api: &Api) -> (Tib, Vec<Value>) {
        let tib = Tib::new();
        tib.connect(api, "Prod").await;
        assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0);
        let users = tib.users("Prod").await;
        (tib, users)
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("data/tib.db")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tib"));
        let store = self.postgres.clone().unwrap_or_else(|| self.store().display().to_string());
        command
            .args(args)
            .env("TIB_STORE", store)
            .env("TIB_MAX_RETRIES", "0")
            // The mock APIs are on this machine, which syncs refuse unless allowed.
            .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
            .env("RUST_LOG", "info")
            .env_remove("TIB_KEY")
            .env_remove("TIB_KEY_FILE")
            .env_remove("TIB_WEBHOOK_URL")
            .env_remove("TIB_API_TOKEN")
            .env_remove("TIB_TENANT")
            .env_remove("TIB_SPECS")
            .stdin(Stdio::null());
        if let Some(specs) = &self.specs {
            command.env("TIB_SPECS", specs);
        }
        if let Some(key) = &self.key {
            command.env("TIB_KEY", key);
        }
        command
    }

    /// Runs `tib` to its end, off the async runtime serving the API.
    async fn run(&self, args: &[&str]) -> Run {
        let mut command = self.command(args);
        let output = tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined");
        Run::from(output)
    }

    async fn connect(&self, api: &Api, account: &str) -> Run {
        let token = format!("api_token={SECRET}");
        self.run(&["connect", "acme", account, "--cred", "tenant=demo", "--cred", &token, "--base-url", &api.base_url])
            .await
    }

    async fn users(&self, account: &str) -> Vec<Value> {
        let run = self.run(&["users", "acme", account, "--all", "--format", "json"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        serde_json::from_str::<Value>(&run.stdout).expect("JSON").as_array().expect("an array").clone()
    }

    /// Waits (up to 30 s) until `query` gives the one value `expected`.
    async fn wait_for(&self, query: &str, expected: &str, otherwise: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.sql(query) != [expected] {
            assert!(Instant::now() < deadline, "{otherwise}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What runs have staged and not yet applied or dropped.
    fn staging_files(&self) -> Vec<String> {
        let dir = self.store().with_file_name("tib.db-staging");
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()
    }

    fn sql(&self, query: &str) -> Vec<String> {
        let db = rusqlite::Connection::open(self.store()).expect("open");
        let mut statement = db.prepare(query).expect("prepare");
        let rows = statement.query_map([], |r| r.get::<_, rusqlite::types::Value>(0)).expect("query");
        rows.map(|v| format!("{:?}", v.expect("row"))).collect()
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Every byte of the store's files, for a secret to be looked for in.
fn store_bytes(store: &Path) -> Vec<u8> {
    let dir = store.parent().expect("dir");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            // The staging, where runs spool users: every file in it.
            bytes.extend(store_bytes(&path.join("any")));
        } else if path.extension().is_none_or(|e| e != "key") {
            bytes.extend(std::fs::read(path).expect("read"));
        }
    }
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_sync_and_read_the_users_in_every_format_without_a_secret_in_sight() {
    let api = api(250).await;
    let tib = Tib::new();
    let connected = tib.connect(&api, "Prod").await;
    assert_eq!(connected.code, 0, "{connected:?}");
    assert!(connected.stdout.contains("connected acme/Prod"), "{connected:?}");

    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    // Members 13, 110 and 207 have invalid emails (the demo's data). Of the
    // pages asked for ahead, four at a time, only the three that hold users count.
    assert!(
        synced
            .stdout
            .contains("acme/Prod: synced 247 users from 3 pages (247 new, 0 updated, 0 marked deleted, 3 dropped)"),
        "{synced:?}"
    );

    let users = tib.users("Prod").await;
    assert_eq!(users.len(), 247);
    let first = &users[0];
    assert_eq!(first["external_id"], "100000");
    assert_eq!(first["email"], "user0@acme.example");
    assert_eq!(first["role"], "Owner");
    assert_eq!(first["custom_fields"]["Department"], "Sales");
    assert_eq!(first["custom_fields"]["Teams"], json!(["core"]));
    assert_eq!(first["deleted"], false);

    let active = tib.run(&["users", "acme", "Prod"]).await;
    let active_rows = active.stdout.lines().count() - 1;
    assert!(active_rows > 100 && active_rows < 247, "{active_rows} active users");
    let csv = tib.run(&["users", "acme", "Prod", "--all", "--format", "csv"]).await;
    assert!(csv.stdout.starts_with("external_id,email,username,name,role,"), "{}", csv.stdout);
    assert_eq!(csv.stdout.lines().count(), 248);

    let list = tib.run(&["list"]).await;
    assert!(list.stdout.contains("acme/Prod") && list.stdout.contains("applied"), "{list:?}");
    assert!(list.stdout.contains(&format!("{active_rows}/247")), "{list:?}");
    let runs = tib.sql("SELECT users_dropped || ' ' || dropped_reasons FROM runs");
    assert_eq!(runs, [r#"Text("3 [[\"invalid email\",3]]")"#]);

    for run in [&connected, &synced, &active, &csv, &list, &tib.run(&["status"]).await] {
        assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET), "a secret leaked: {run:?}");
    }
    let bytes = store_bytes(&tib.store());
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "the secret is in the store in plain text");
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthorized_disables_the_connection_and_notifies_the_webhook() {
    let api = api(50).await;
    let webhook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"kind": "connection_disabled", "connection": "acme/Prod"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&webhook)
        .await;
    let tib = Tib::new();
    tib.connect(&api, "Prod").await;
    api.set(UNAUTHORIZED);
    let hook = webhook.uri();
    let synced = tib.run(&["--webhook", &hook, "sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 1, "{synced:?}");
    assert!(synced.stdout.contains("acme/Prod: disabled:") && synced.stdout.contains("HTTP 401"), "{synced:?}");
    assert!(synced.stderr.contains("acme/Prod is disabled"), "logged: {synced:?}");
    webhook.verify().await;
    let received = &webhook.received_requests().await.expect("recorded")[0];
    let body: Value = serde_json::from_slice(&received.body).expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid API token") && m.contains("check the credentials"))
    );

    let list = tib.run(&["list"]).await;
    assert!(list.stdout.contains("disabled"), "{list:?}");
    let status = tib.run(&["status"]).await;
    assert!(
        status.stdout.contains("acme/Prod: disabled:") && status.stdout.contains("connection_disabled"),
        "{status:?}"
    );

    // Fixed at the API: enable, and it syncs again.
    api.set(FINE);
    assert_eq!(tib.run(&["enable", "acme", "Prod"]).await.code, 0);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    assert!(tib.run(&["list"]).await.stdout.contains("enabled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_disables_with_a_configuration_hint_and_connecting_again_enables() {
    let api = api(50).await;
    let tib = Tib::new();
    tib.connect(&api, "Prod").await;
    api.set(NOT_FOUND);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 1);
    // The sync's own line gives the hint the notification and the disabled reason give.
    assert!(synced.stdout.contains("(check the configuration (base URL, account), then"), "{synced:?}");
    let status = tib.run(&["status"]).await;
    assert!(status.stdout.contains("HTTP 404") && status.stdout.contains("check the configuration"), "{status:?}");
    api.set(FINE);
    tib.connect(&api, "Prod").await;
    assert!(tib.run(&["list"]).await.stdout.contains("enabled"));
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_error_is_recorded_and_the_connection_stays_scheduled() {
    let api = api(50).await;
    let (tib, before) = Tib::synced(&api).await;
    api.set(SERVER_ERROR);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 1);
    assert!(synced.stdout.contains("failed:") && synced.stdout.contains("HTTP 500"), "{synced:?}");
    assert!(synced.stdout.contains("retried at the next scheduled sync"), "{synced:?}");
    let list = tib.run(&["list"]).await;
    assert!(
        list.stdout.contains("enabled") && list.stdout.contains("failed") && list.stdout.contains("HTTP 500"),
        "{list:?}"
    );
    assert_eq!(tib.users("Prod").await, before);
    assert_eq!(tib.sql("SELECT enabled FROM connections"), ["Integer(1)"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_that_dies_mid_pagination_leaves_the_stored_users_unchanged() {
    let api = api(250).await;
    let (tib, before) = Tib::synced(&api).await;
    api.users.store(120, Ordering::SeqCst);
    api.set(DIES_AFTER_FIRST_PAGE);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 1, "{synced:?}");
    assert!(synced.stdout.contains("failed:"), "{synced:?}");
    assert_eq!(tib.users("Prod").await, before, "nothing of the broken sync was applied");
    assert_eq!(tib.staging_files(), Vec::<String>::new(), "its staging is dropped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_mid_sync_leaves_the_store_consistent_and_the_next_run_succeeds() {
    let api = api(500).await;
    let (tib, before) = Tib::synced(&api).await;
    api.users.store(450, Ordering::SeqCst);
    api.set(STALLS_AT_400);

    let mut child =
        tib.command(&["sync", "acme", "Prod"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    // The first four pages (fetched together) are read; the fifth stalls.
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.stalled.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the sync never reached its fifth page");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tib.wait_for("SELECT outcome FROM runs ORDER BY id DESC LIMIT 1", r#"Text("running")"#, "no run under way").await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    assert_eq!(tib.users("Prod").await, before, "the stored users are as they were");
    api.set(FINE);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    // The users still listed are unchanged: only the ones gone are written.
    let expected = format!("0 new, 0 updated, {} marked deleted", valid(500) - valid(450));
    assert!(synced.stdout.contains(&expected), "{synced:?}");
    let outcomes = tib.sql("SELECT outcome FROM runs ORDER BY id");
    assert_eq!(outcomes, [r#"Text("applied")"#, r#"Text("interrupted")"#, r#"Text("applied")"#]);
    assert_eq!(tib.staging_files(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn connecting_again_overwrites_the_account_and_other_accounts_are_kept_apart() {
    let api = api(30).await;
    let tib = Tib::new();
    tib.connect(&api, "Prod").await;
    tib.connect(&api, "Dev").await;
    assert_eq!(tib.run(&["sync", "--all"]).await.code, 0);
    assert_eq!(tib.users("Prod").await.len(), valid(30));

    api.users.store(5, Ordering::SeqCst);
    let again = tib.connect(&api, "Prod").await;
    assert!(again.stdout.contains("acme/Prod was already connected: its credentials are replaced"), "{again:?}");
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert!(synced.stdout.contains("this sync replaces its stored users"), "{synced:?}");
    let expected = format!("held: it would mark {} of {} users deleted", valid(30) - 5, valid(30));
    assert!(synced.stdout.contains(&expected), "connecting again does not skip the hold: {synced:?}");
    assert_eq!(tib.users("Prod").await.len(), valid(30), "held: nothing lost");
    assert_eq!(tib.run(&["approve", "acme", "Prod"]).await.code, 0);
    assert_eq!(tib.users("Prod").await.len(), 5, "approved: replaced outright, no deleted rows kept");
    assert_eq!(tib.users("Dev").await.len(), valid(30), "the other account is untouched");
    assert_eq!(tib.sql("SELECT COUNT(*) FROM connections"), ["Integer(2)"]);

    // The same drop on Dev, not reconnected, is held for an operator.
    let held = tib.run(&["sync", "acme", "Dev"]).await;
    let expected = format!("held: it would mark {} of {} users deleted", valid(30) - 5, valid(30));
    assert!(held.stdout.contains(&expected), "{held:?}");
    assert_eq!(tib.users("Dev").await.iter().filter(|u| u["deleted"] == false).count(), valid(30));
    let status = tib.run(&["status"]).await;
    assert!(
        status.stdout.contains("acme/Dev: held") && status.stdout.contains("sync_held"),
        "admins are told: {status:?}"
    );
    assert_eq!(tib.run(&["approve", "acme", "Dev"]).await.code, 0);
    assert_eq!(tib.users("Dev").await.iter().filter(|u| u["deleted"] == false).count(), 5);

    assert_eq!(tib.run(&["disconnect", "acme", "Dev"]).await.code, 0);
    assert!(!tib.run(&["list"]).await.stdout.contains("acme/Dev"));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_and_a_wrong_key_are_clear_errors() {
    let api = api(5).await;
    let tib = Tib::new();
    let run = tib.run(&["connect", "acme", "Prod", "--cred", "tenant=demo"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--cred api_token=… (or TIB_API_TOKEN)"), "{run:?}");
    let run = tib.run(&["connect", "nope", "Prod"]).await;
    assert!(run.stderr.contains("no integration `nope`; this runtime has acme,"), "{run:?}");

    tib.connect(&api, "Prod").await;
    let mut command = tib.command(&["sync", "acme", "Prod"]);
    command.env("TIB_KEY", "ab".repeat(32));
    let run = Run::from(tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined"));
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("TIB_KEY is not the key they were encrypted with"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_syncs_due_connections_and_stops_gracefully_on_sigterm() {
    let api = api(20).await;
    let tib = Tib::new();
    tib.connect(&api, "Prod").await;
    // A new connection is due within a minute; make it due now.
    let db = rusqlite::Connection::open(tib.store()).expect("open");
    db.execute("UPDATE connections SET next_sync_at = 0", []).expect("due");
    let before = chrono::Utc::now().timestamp();
    let child = tib
        .command(&["serve", "--poll", "1", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    tib.wait_for("SELECT COUNT(*) FROM runs WHERE outcome = 'applied'", "Integer(1)", "serve never synced").await;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let run = Run::from(
        tokio::task::spawn_blocking(move || child.wait_with_output().expect("waited")).await.expect("joined"),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("shutting down") && run.stderr.contains("stopped"), "{run:?}");
    assert!(!run.stderr.contains(SECRET));
    let after = chrono::Utc::now().timestamp();
    // After a catch-up the connection goes back to its own place in the day, at least half a day on
    // (`runtime/tests/schedule.rs` holds the rule under a manual clock; here only what the clock cannot move).
    let next: i64 = db.query_row("SELECT next_sync_at FROM connections", [], |r| r.get(0)).expect("next");
    assert_eq!(next.rem_euclid(DAY), phase("acme/Prod", DAY), "at its phase");
    assert!((before + DAY / 2..after + DAY / 2 + DAY).contains(&next), "{before}..{after}: {next}");
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_opening_a_new_store_together_all_succeed() {
    let tib = Tib::new();
    // Each connects its own account: every process migrates and writes the new store at once.
    let commands: Vec<Command> = (0..24)
        .map(|i| {
            let account = format!("A{i}");
            tib.command(&["connect", "acme", &account, "--cred", "tenant=t", "--cred", "api_token=secret-token"])
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        let children: Vec<_> = commands
            .into_iter()
            .map(|mut c| c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn"))
            .collect();
        children.into_iter().map(|c| Run::from(c.wait_with_output().expect("waited"))).collect::<Vec<_>>()
    })
    .await
    .expect("joined");
    for run in outputs {
        assert_eq!(run.code, 0, "{run:?}");
    }
    assert_eq!(tib.sql("SELECT COUNT(*) FROM connections"), ["Integer(24)"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_an_api_sends_is_printed_escaped_csv_formulas_neutralised_and_texts_bounded() {
    let api = api(3).await;
    api.set(HOSTILE);
    let (tib, users) = Tib::synced(&api).await;
    assert_eq!(users[0]["last_name"].as_str().map(str::len), Some(4096), "a text value is kept to 4096 bytes");
    let table = tib.run(&["users", "acme", "Prod", "--all"]).await;
    let csv = tib.run(&["users", "acme", "Prod", "--all", "--format", "csv"]).await;
    let json = tib.run(&["users", "acme", "Prod", "--all", "--format", "json"]).await;
    for run in [&table, &csv, &json] {
        assert_eq!(run.code, 0, "{run:?}");
        for control in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!run.stdout.contains(control), "{control:?} reached the terminal: {}", run.stdout);
        }
    }
    assert!(
        table.stdout.contains(r"\u001b]0;owned\u0007\u001b[2JEve\u009b31m\u202e"),
        "shown escaped: {}",
        table.stdout
    );
    assert!(
        csv.stdout.contains(r#""'=HYPERLINK(""http://evil.example"",""x"")""#),
        "a formula is text: {}",
        csv.stdout
    );
    let parsed: Value = serde_json::from_str(&json.stdout).expect("the JSON output is still JSON");
    assert_eq!(parsed[0]["username"], "=HYPERLINK(\"http://evil.example\",\"x\")", "JSON keeps the value as it is");
    assert_eq!(parsed[0]["first_name"], "\u{1b}]0;owned\u{7}\u{1b}[2JEve\u{9b}31m\u{202e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_file_is_an_error_not_a_new_key() {
    let api = api(20).await;
    let (tib, _) = Tib::synced(&api).await;
    let key_file = tib.store().with_file_name("tib.key");
    std::fs::remove_file(&key_file).expect("the key file is lost");
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 2, "{synced:?}");
    assert!(
        synced.stderr.contains("is missing, but the store") && synced.stderr.contains("holds 1 connections sealed"),
        "{synced:?}"
    );
    assert!(!key_file.exists(), "no new key was made in its place");
    assert_eq!(tib.run(&["list"]).await.code, 0, "what needs no key still works");
    assert_eq!(tib.users("Prod").await.len(), valid(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_out_of_range_are_refused_at_start_with_what_they_take() {
    let tib = Tib::new();
    for (args, says) in [
        (&["--hold-share", "0", "list"][..], "is not above 0 and at most 1"),
        (&["--hold-share", "2", "list"], "is not above 0 and at most 1"),
        (&["--hold-share", "NaN", "list"], "is not above 0 and at most 1"),
        (&["--max-retries", "1000", "list"], "1000 is not in 0..=10"),
        (&["--max-answer-bytes", "10TiB", "list"], "the unit must be KiB, MiB or GiB"),
        (&["--sync-deadline", "0", "list"], "shorter than a second"),
        (&["--allow-network", "intranet", "list"], "is not a network"),
        (&["connect", "acme", "X", "--every", "9999999999999999d"], "far too long"),
        (&["connect", "acme", "X", "--every", "400d"], "longer than a year"),
        (&["serve", "--max-concurrent", "0"], "0 is not in 1..=1024"),
    ] {
        let run = tib.run(args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{run:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_with_try_first_saves_only_credentials_the_api_accepts() {
    let api = api(20).await;
    let tib = Tib::new();
    async fn connect_trying(tib: &Tib, base_url: &str, token: &str) -> Run {
        let token = format!("api_token={token}");
        tib.run(&[
            "connect",
            "acme",
            "Prod",
            "--try-first",
            "--cred",
            "tenant=demo",
            "--cred",
            &token,
            "--base-url",
            base_url,
        ])
        .await
    }
    let connect = |token: &'static str| connect_trying(&tib, &api.base_url, token);
    let refused = connect("wrong-token").await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("HTTP 401") && refused.stderr.contains("invalid API token"), "{refused:?}");
    assert!(!refused.stderr.contains("wrong-token"), "the secret is not repeated: {refused:?}");
    assert!(!tib.run(&["list"]).await.stdout.contains("Prod"), "nothing saved");
    assert_eq!(connect(SECRET).await.code, 0, "accepted: saved");
    // Replacing it with a refused token keeps the credentials that work.
    assert_eq!(connect("another-wrong-token").await.code, 2);
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0, "the old credentials still sync");
    // Without --try-first a token is saved as given, for an API that is not up yet.
    let token = "api_token=not-tried".to_owned();
    let untried = tib.run(&["connect", "acme", "Later", "--cred", "tenant=demo", "--cred", &token]).await;
    assert_eq!(untried.code, 0, "{untried:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_and_addresses_of_this_machine_are_refused_unless_allowed() {
    let api = api(20).await;
    let tib = Tib::new();
    let token = format!("api_token={SECRET}");
    let args = ["connect", "acme", "Prod", "--cred", "tenant=demo", "--cred", &token, "--base-url"];
    let refused = tib.run(&[&args[..], &["http://api.acme.example/v2"]].concat()).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("is not https: plain http is allowed only to this machine"), "{refused:?}");
    assert_eq!(tib.connect(&api, "Prod").await.code, 0);
    // Without the allowlist the test sets, the API on 127.0.0.1 is not reached.
    let mut command = tib.command(&["sync", "acme", "Prod"]);
    command.env_remove("TIB_ALLOW_NETWORKS");
    let run = Run::from(tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined"));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("127.0.0.1 is a loopback address; tib sends requests to public addresses only"),
        "{run:?}"
    );
    assert!(tib.run(&["list"]).await.stdout.contains("enabled"), "recorded and retried, not disabled");
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0, "allowed: synced");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_over_the_size_bound_fails_the_sync_and_keeps_the_stored_users() {
    let api = api(300).await;
    let (tib, before) = Tib::synced(&api).await;
    // Four pages in flight share 4 KiB: each is read up to 1 KiB, and a page of 100 members is more.
    let synced = tib.run(&["--max-answer-bytes", "4KiB", "sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 1, "{synced:?}");
    assert!(synced.stdout.contains("answered more than 1024 bytes, the most a sync reads of one answer"), "{synced:?}");
    assert_eq!(tib.users("Prod").await, before, "the stored users are as they were");
    assert!(tib.run(&["list"]).await.stdout.contains("enabled"), "retried at the next sync, not disabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_past_its_deadline_is_stopped_and_failures_in_a_row_notify_the_admins() {
    let api = api(500).await;
    let (tib, before) = Tib::synced(&api).await;
    api.set(STALLS_AT_400);
    let webhook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"kind": "sync_failing", "connection": "acme/Prod"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&webhook)
        .await;
    let hook = webhook.uri();
    let started = Instant::now();
    for attempt in 1..=3 {
        let args =
            ["--webhook", &hook, "--sync-deadline", "2s", "--notify-after-failures", "2", "sync", "acme", "Prod"];
        let synced = tib.run(&args).await;
        assert_eq!(synced.code, 1, "attempt {attempt}: {synced:?}");
        assert!(synced.stdout.contains("did not end within its deadline of 2s"), "{synced:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(30), "each stopped at its deadline, not the API's minute");
    webhook.verify().await;
    let status = tib.run(&["status"]).await;
    assert!(
        status.stdout.contains("sync_failing") && status.stdout.contains("the last 2 syncs of acme/Prod failed"),
        "{status:?}"
    );
    assert_eq!(tib.users("Prod").await, before);
}

/// Answers with an error that quotes what the request carried (its
/// Authorization header) in every way a server may write it: in JSON as
/// serde writes it, with `\/` and `\u00XX` escapes, and HTML-escaped.
struct Echo {
    status: u16,
    /// The OAuth error code, for a token endpoint; an API's own error otherwise.
    oauth_error: Option<&'static str>,
}

/// What an echoing server writes of `text`: as each common encoder writes it (URL-encoded as
/// Python's `quote()` and in lower case too, which is how a token endpoint may echo the Basic pair).
fn echoed_forms(text: &str) -> Vec<String> {
    tib_support::encoders::ALL.iter().map(|(_, encode)| encode(text)).collect()
}

impl wiremock::Respond for Echo {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let header = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        // A client that sends its secret in the form body has it echoed from there, raw form included.
        let form: Option<String> = url::form_urlencoded::parse(&request.body)
            .find(|(name, _)| name == "client_secret")
            .map(|(_, value)| value.into_owned());
        let raw_body = String::from_utf8_lossy(&request.body).into_owned();
        let received = if header.is_empty() && form.is_some() { raw_body.as_str() } else { header };
        // The credential itself, then the header (or body) around it.
        let credential = match &form {
            Some(secret) if header.is_empty() => secret.as_str(),
            _ => received.split_once(' ').map_or(received, |(_, value)| value),
        };
        let quoted = echoed_forms(credential).join(" | ");
        let body = match self.oauth_error {
            Some(error) => json!({"error": error, "error_description": format!("bad client {quoted} in <{received}>")}),
            None => json!({"error": {"message": format!("bad token {quoted} in <{received}>")}}),
        };
        ResponseTemplate::new(self.status).set_body_raw(body.to_string(), "application/json")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_a_token_endpoint_or_an_api_echo_in_any_form_reach_no_output_log_store_or_webhook() {
    let client_secret = "cl/ent+sec&<ret>\"x";
    let access_token = "acc/ess+tok&<en>\"y";
    let pair = base64_pair("client-1", client_secret);
    let mut secrets = vec![client_secret.to_owned(), pair.clone()];
    secrets.extend(echoed_forms(client_secret));
    secrets.extend(echoed_forms(&pair));
    secrets.extend(echoed_forms(access_token));
    for (name, token_answer, api_answer) in [
        ("token endpoint", Echo { status: 401, oauth_error: Some("invalid_client") }, None),
        ("API", Echo { status: 200, oauth_error: None }, Some(Echo { status: 401, oauth_error: None })),
    ] {
        let server = MockServer::start().await;
        match api_answer {
            // The token endpoint hands out the access token the API then echoes.
            Some(api) => {
                Mock::given(method("POST"))
                    .respond_with(ResponseTemplate::new(200).set_body_raw(
                        json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}).to_string(),
                        "application/json",
                    ))
                    .mount(&server)
                    .await;
                Mock::given(method("GET")).respond_with(api).mount(&server).await;
            }
            None => Mock::given(method("POST")).respond_with(token_answer).mount(&server).await,
        }
        let webhook = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&webhook).await;
        let tib = Tib::new();
        let (base, token_url, hook) =
            (format!("{}/v1.0", server.uri()), format!("{}/token", server.uri()), webhook.uri());
        let secret_flag = format!("client_secret={client_secret}");
        let connect = [
            "connect",
            "microsoft_entra_id",
            "Prod",
            "--cred",
            "tenant_id=t-1",
            "--cred",
            "client_id=client-1",
            "--cred",
            &secret_flag,
            "--base-url",
            &base,
            "--token-url",
            &token_url,
        ];
        let connected = tib.run(&connect).await;
        assert_eq!(connected.code, 0, "{connected:?}");
        let mut command = tib.command(&["--webhook", &hook, "sync", "microsoft_entra_id", "Prod"]);
        command.env("RUST_LOG", "trace");
        let synced =
            Run::from(tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined"));
        assert_eq!(synced.code, 1, "{name}: {synced:?}");
        assert!(synced.stdout.contains("disabled") && synced.stdout.contains("[redacted]"), "{name}: {synced:?}");
        let status = tib.run(&["status"]).await;
        assert!(status.stdout.contains("connection_disabled"), "{name}: notified: {status:?}");
        let hooked: Vec<String> = webhook
            .received_requests()
            .await
            .expect("recorded")
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        assert_eq!(hooked.len(), 1, "{name}: the webhook was told");
        let store = String::from_utf8_lossy(&store_bytes(&tib.store())).into_owned();
        for secret in &secrets {
            for (place, text) in [
                ("stdout", &synced.stdout),
                ("the trace log", &synced.stderr),
                ("status", &status.stdout),
                ("the webhook", &hooked[0]),
                ("the store", &store),
            ] {
                assert!(!text.contains(secret.as_str()), "{name}: {secret} is in {place}: {text}");
            }
        }
    }
}

/// The Basic pair as an OAuth client sends it: id and secret form-encoded, then base64.
fn base64_pair(id: &str, secret: &str) -> String {
    let encode = |t: &str| url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{}:{}", encode(id), encode(secret)))
}

/// Writes into `dir` until the file system is full; the file is the filler.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 64 << 10];
    // Bounded: a small file system fills long before 16 GiB.
    for _ in 0..262_144 {
        if file.write_all(&chunk).and_then(|()| file.sync_data()).is_err() {
            break;
        }
    }
    filler
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_sync_keeps_reads_working_and_recovers_once_space_is_freed() {
    // A small file system of its own (tmpfs), which this test fills: `.ci/run` mounts one.
    let Some(small) = std::env::var_os("TIB_SMALL_FS").map(PathBuf::from) else {
        assert!(std::env::var_os("TIB_REQUIRE_SMALL_FS").is_none(), "TIB_SMALL_FS must point at a small file system");
        eprintln!("skipped: set TIB_SMALL_FS to a directory on a small file system (a tmpfs of a few MiB)");
        return;
    };
    let api = api(300).await;
    let tib = Tib::in_dir(&small);
    tib.connect(&api, "Prod").await;
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0);
    let before = tib.users("Prod").await;
    // Inside the test's own directory, so that a failing run leaves no full disk behind.
    let filler = fill(tib.dir.path());

    api.users.store(5_000, Ordering::SeqCst);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_ne!(synced.code, 0, "{synced:?}");
    let said = format!("{}{}", synced.stdout, synced.stderr);
    assert!(said.contains("is full"), "the error says why: {synced:?}");
    assert!(!said.contains("panicked"), "{synced:?}");
    // Reading needs no space.
    assert_eq!(tib.users("Prod").await, before, "the stored users are as they were, and readable");
    for command in [&["list"][..], &["status"]] {
        let run = tib.run(command).await;
        assert_eq!(run.code, 0, "{command:?} works on a full disk: {run:?}");
    }

    // A little space: the sync starts, its staging runs out of room, and the failure is recorded.
    let size = std::fs::metadata(&filler).expect("filler").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .and_then(|f| f.set_len(size - (1 << 20)))
        .expect("1 MiB freed");
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 1, "{synced:?}");
    assert!(synced.stdout.contains("is full"), "{synced:?}");
    assert_eq!(tib.users("Prod").await, before);
    let failed = tib.sql("SELECT outcome || ': ' || COALESCE(error, '') FROM runs ORDER BY id DESC LIMIT 1");
    assert!(failed[0].contains("failed: cannot stage users") && failed[0].contains("full"), "{failed:?} {synced:?}");

    std::fs::remove_file(&filler).expect("space freed");
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    assert_eq!(synced.code, 0, "the store recovers with no repair: {synced:?}");
    assert_eq!(tib.users("Prod").await.len(), valid(5_000));
    let status = tib.run(&["status"]).await;
    assert!(status.stdout.contains("integrity ok"), "{status:?}");
    let outcomes = tib.sql("SELECT outcome FROM runs ORDER BY id");
    assert_eq!(outcomes, [r#"Text("applied")"#, r#"Text("failed")"#, r#"Text("applied")"#]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_all_runs_the_connections_in_parallel_up_to_its_limit() {
    // Thirty users: one page each.
    let api = api(30).await;
    let tib = Tib::new();
    for account in ["A", "B", "C", "D"] {
        tib.connect(&api, account).await;
    }
    api.set(SLOW);
    let one_at_a_time = tib.run(&["sync", "--all", "--max-concurrent", "1"]).await;
    assert_eq!(one_at_a_time.code, 0, "{one_at_a_time:?}");
    assert_eq!(api.most_in_flight.swap(0, Ordering::SeqCst), 1, "one connection at a time");
    let together = tib.run(&["sync", "--all"]).await;
    assert_eq!(together.code, 0, "{together:?}");
    assert_eq!(together.stdout.matches(": synced").count(), 4, "a line for each: {together:?}");
    let most = api.most_in_flight.load(Ordering::SeqCst);
    assert!(most > 1, "the four connections sync at once: {most} first pages were in flight together");
}

#[tokio::test(flavor = "multi_thread")]
async fn history_tells_which_users_appeared_changed_and_were_deleted() {
    let api = api(250).await;
    let (tib, _) = Tib::synced(&api).await;
    let history = |args: &'static [&'static str]| {
        let tib = &tib;
        async move {
            let mut command = vec!["history", "acme", "Prod"];
            command.extend_from_slice(args);
            tib.run(&command).await
        }
    };
    assert!(history(&[]).await.stdout.contains("no changes recorded for acme/Prod"), "the first sync records none");

    api.users.store(200, Ordering::SeqCst);
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0);
    api.users.store(260, Ordering::SeqCst);
    let synced = tib.run(&["sync", "acme", "Prod"]).await;
    let back = valid(250) - valid(200);
    let appeared = valid(260) - valid(250);
    assert!(synced.stdout.contains(&format!("{} new, 0 updated", back + appeared)), "{synced:?}");

    let json = history(&["--format", "json"]).await;
    assert_eq!(json.code, 0, "{json:?}");
    let entries: Vec<Value> = serde_json::from_str(&json.stdout).expect("JSON");
    let count = |event: &str| entries.iter().filter(|e| e["event"] == event).count();
    assert_eq!((count("deleted"), count("returned"), count("appeared")), (back, back, appeared));
    assert!(count("license_lost") > 0 && count("license_gained") > 0, "licenses lost at deletion, gained back");
    let newest = &entries[0];
    assert!(newest["at"].as_i64().is_some() && newest["external_id"].is_string(), "{newest}");

    // One user, by email: deleted, then back.
    let one = history(&["--user", "user210@acme.example", "--format", "json"]).await;
    let events: Vec<String> = serde_json::from_str::<Vec<Value>>(&one.stdout)
        .expect("JSON")
        .iter()
        .filter(|e| !e["event"].as_str().unwrap_or_default().starts_with("license"))
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(events, ["returned", "deleted"], "{one:?}");
    let table = history(&["--user", "100210"]).await;
    assert!(table.stdout.starts_with("AT") && table.stdout.contains("returned"), "{table:?}");
    let csv = history(&["--format", "csv", "--since", "1d"]).await;
    assert!(csv.stdout.starts_with("at,external_id,event,what,run"), "{csv:?}");
}

const ADMIN_TOKEN: &str = "admin-token-for-the-api-tests";

/// `tib serve` with the API on a free port of 127.0.0.1; its base URL.
fn serve_api(tib: &Tib, admin_token: Option<&str>) -> (std::process::Child, String) {
    serve_api_with(tib, admin_token, &[])
}

/// [`serve_api`] with more arguments to `serve`.
fn serve_api_with(tib: &Tib, admin_token: Option<&str>, more: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--poll", "1", "--listen", &listen];
    args.extend_from_slice(more);
    let mut command = tib.command(&args);
    command.env("TIB_PUBLIC_URL", format!("http://{listen}"));
    match admin_token {
        Some(token) => command.env("TIB_ADMIN_TOKEN", token),
        None => command.env_remove("TIB_ADMIN_TOKEN"),
    };
    let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("serve");
    (child, format!("http://{listen}"))
}

/// Waits until the server answers its health check.
async fn healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "serve never answered /health");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_admin_token_only_api_tokens_come_in_and_serve_stays_on_loopback() {
    let tib = Tib::new();
    let (mut child, base) = serve_api(&tib, None);
    let client = reqwest::Client::new();
    healthy(&client, &base).await;
    let answer = client.get(format!("{base}/api/v1/connections")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
    // Only named API tokens could come in: this is none, and the server has no admin token.
    assert_eq!(answer.status(), 401);
    assert!(answer.text().await.expect("text").contains("it has no admin token (TIB_ADMIN_TOKEN)"));
    let _ = child.kill();
    let _ = child.wait();

    let run = tib.run(&["serve", "--listen", "0.0.0.0:0"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("refusing to listen on 0.0.0.0:0 without an admin token"), "{run:?}");

    // A hash file instead of the token itself.
    let mut hash = tib.command(&["hash-token"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("runs");
    use std::io::Write as _;
    hash.stdin.take().expect("piped").write_all(format!("{ADMIN_TOKEN}\n").as_bytes()).expect("written");
    let line = String::from_utf8(hash.wait_with_output().expect("waited").stdout).expect("UTF-8");
    assert!(line.starts_with("sha256:") && !line.contains(ADMIN_TOKEN), "{line}");
    let file = tib.dir.path().join("admin-token");
    std::fs::write(&file, &line).expect("written");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = tib
        .command(&["serve", "--listen", &listen, "--admin-token-file", &file.to_string_lossy()])
        .env_remove("TIB_ADMIN_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let base = format!("http://{listen}");
    healthy(&client, &base).await;
    let answer = client.get(format!("{base}/api/v1/connections")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
    assert_eq!(answer.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

/// The workspace, when a browser test can run there: `npm ci --prefix tests/console` has run and
/// Debian's chromium is installed. `None` (the test skipped) otherwise, unless
/// `TIB_REQUIRE_BROWSER` says it must run.
fn browser() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf();
    let ready =
        root.join("tests/console/node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists();
    if !ready {
        assert!(
            std::env::var_os("TIB_REQUIRE_BROWSER").is_none(),
            "TIB_REQUIRE_BROWSER is set, but `npm ci --prefix tests/console` or Debian's chromium is missing"
        );
        eprintln!(
            "skipped: run `npm ci --prefix tests/console` and install chromium to drive the console in a browser"
        );
        return None;
    }
    Some(root)
}

/// An empty folder for a browser test's screenshots: one left from an earlier run proves nothing.
fn fresh(screenshots: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(screenshots);
    std::fs::create_dir_all(screenshots).expect("a screenshot folder");
    screenshots.to_path_buf()
}

/// Runs a browser script (given the OAuth test server, for the OAuth round trips) to its end, then
/// stops the server it drove.
async fn drive(mut node: Command, server: &mut std::process::Child) -> Run {
    with_oauth_server(&mut node);
    let output = tokio::task::spawn_blocking(move || node.output().expect("node runs")).await.expect("joined");
    let _ = server.kill();
    let _ = server.wait();
    Run::from(output)
}

/// The OAuth test server's URL as the browser script's last argument, when TIB_OAUTH_SERVER names
/// one (CI does, and sets TIB_REQUIRE_OAUTH_SERVER).
fn with_oauth_server(node: &mut Command) {
    match std::env::var("TIB_OAUTH_SERVER") {
        Ok(oauth_server) => {
            node.arg(oauth_server);
        }
        Err(_) => assert!(
            std::env::var_os("TIB_REQUIRE_OAUTH_SERVER").is_none(),
            "TIB_REQUIRE_OAUTH_SERVER is set, but TIB_OAUTH_SERVER is not"
        ),
    }
}

/// The console in Debian's Chromium, driven by playwright-core (`tests/console/console.mjs`): log in
/// (a wrong token first), the overview, the session cookie, log out; screenshots of the overview on
/// a laptop and a phone go to `target/console-screenshots/`. It runs once `npm ci --prefix
/// tests/console` has run and `/usr/bin/chromium` is there; `.ci/run` sees to both and sets
/// `TIB_REQUIRE_BROWSER=1`, so CI never skips it.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_real_browser() {
    let Some(root) = browser() else { return };
    let script = root.join("tests/console/console.mjs");
    let api = api(20).await;
    let tib = Tib::new();
    assert_eq!(tib.connect(&api, "Prod").await.code, 0);
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0);
    // With the OAuth test server, operators log in there too: its one user, `johndoe`, is a viewer.
    let sso = std::env::var("TIB_OAUTH_SERVER").ok().map(|issuer| {
        [
            format!("--oidc-issuer={issuer}"),
            "--oidc-client-id=tib-console".to_owned(),
            "--oidc-admins=it@acme.example".to_owned(),
        ]
    });
    let sso: Vec<&str> = sso.iter().flatten().map(String::as_str).collect();
    let (mut child, base) = serve_api_with(&tib, Some(ADMIN_TOKEN), &sso);
    healthy(&reqwest::Client::new(), &base).await;
    let screenshots = fresh(&root.join("target/console-screenshots"));
    let mut node = Command::new("node");
    node.arg(&script).arg(&base).arg(ADMIN_TOKEN).arg(&screenshots).arg(&api.base_url).arg(SECRET);
    let run = drive(node, &mut child).await;
    assert_eq!(run.code, 0, "{run:?}");
    for shot in [
        "overview",
        "overview-phone",
        "connect",
        "live",
        "account",
        "person-phone",
        "licenses",
        "access-review",
        "notifications",
        "operators",
    ] {
        assert!(screenshots.join(format!("{shot}.png")).exists(), "the screenshot of {shot}");
    }
}

/// The Integration Builder in Debian's Chromium (`tests/console/builder.mjs`): an integration
/// built from a blank start through the six steps against the script's own API, saved, connected
/// and synced; the text's diagnostics, a stale save refused, and (with the OAuth test server) an
/// authorization code test session. Afterwards the test credential is in no file of the specs
/// directory, nowhere in the store and not in the server's log. Screenshots of each step go to
/// `target/builder-screenshots/`.
#[tokio::test(flavor = "multi_thread")]
async fn an_integration_is_built_tested_saved_connected_and_synced_in_the_browser() {
    let Some(root) = browser() else { return };
    let mut tib = Tib::new();
    let specs = tib.dir.path().join("specs");
    std::fs::create_dir_all(&specs).expect("a specs folder");
    std::fs::write(
        specs.join("custom-fields.toml"),
        "[Peoplely]\nDepartment = \"Text\"\n\"Cost center\" = \"Number\"\n",
    )
    .expect("a catalog");
    tib.specs = Some(specs.clone());
    let log = tib.dir.path().join("serve.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = tib.command(&["serve", "--poll", "1", "--listen", &listen, "--allow-network", "127.0.0.1/32"]);
    let mut child = command
        .env("TIB_PUBLIC_URL", format!("http://{listen}"))
        .env("TIB_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("a log file"))
        .spawn()
        .expect("serve");
    let base = format!("http://{listen}");
    healthy(&reqwest::Client::new(), &base).await;
    let screenshots = fresh(&root.join("target/builder-screenshots"));
    let test_secret = "builder-test-secret-5501";
    let mut node = Command::new("node");
    node.arg(root.join("tests/console/builder.mjs"))
        .arg(&base)
        .arg(ADMIN_TOKEN)
        .arg(&screenshots)
        .arg(test_secret)
        .arg(SECRET);
    let run = drive(node, &mut child).await;
    assert_eq!(run.code, 0, "{run:?}");
    let saved = std::fs::read_to_string(specs.join("peoplely.tib")).expect("the saved spec");
    assert!(saved.starts_with("# Peoplely's users\napp \"Peoplely\""), "{saved}");
    let mut files = vec![log.clone(), tib.store()];
    files.extend(std::fs::read_dir(&specs).expect("specs").map(|e| e.expect("an entry").path()));
    for file in files {
        let bytes = std::fs::read(&file).expect("readable");
        let found = bytes.windows(test_secret.len()).any(|w| w == test_secret.as_bytes());
        assert!(!found, "the test credential is in {}", file.display());
    }
    for step in ["general", "auth", "endpoint", "test", "map", "review"] {
        assert!(screenshots.join(format!("builder-{step}.png")).exists(), "the screenshot of {step}");
    }
}

/// A deployment on PostgreSQL: the key is required (every instance needs the same), then it
/// connects, syncs and reads like one on SQLite, and a password in the store URL shows nowhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_deployment_on_postgres_needs_its_key_syncs_and_keeps_the_urls_password_out_of_sight() {
    let Some((url, _schema)) = postgres_schema("deployment") else { return };
    // Trust authentication ignores the password; it must show nowhere all the same.
    let password = "pg-password-5521";
    let url = url.replacen("postgres@", &format!("postgres:{password}@"), 1);
    let api = api(250).await;
    let mut tib = Tib::new();
    tib.postgres = Some(url);
    let refused = tib.connect(&api, "Prod").await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("with a PostgreSQL store, give the key"), "{refused:?}");
    assert!(tib.run(&["list"]).await.code == 0, "reading needs no key");

    let key = tib.dir.path().join("tib.key");
    let with_key = |args: &[&str]| {
        let mut command = tib.command(args);
        command.env("TIB_KEY_FILE", &key);
        command
    };
    let run = |mut command: Command| async move {
        Run::from(tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined"))
    };
    let token = format!("api_token={SECRET}");
    let connect = ["connect", "acme", "Prod", "--cred", "tenant=demo", "--cred", &token, "--base-url", &api.base_url];
    let connected = run(with_key(&connect)).await;
    assert_eq!(connected.code, 0, "{connected:?}");
    let synced = run(with_key(&["sync", "acme", "Prod"])).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    assert!(synced.stdout.contains(&format!("synced {} users from 3 pages", valid(250))), "{synced:?}");
    let users: Value =
        serde_json::from_str(&tib.run(&["users", "acme", "Prod", "--all", "--format", "json"]).await.stdout)
            .expect("JSON");
    assert_eq!(users.as_array().map(Vec::len), Some(valid(250)));
    let status = tib.run(&["status"]).await;
    assert!(status.stdout.contains("store: PostgreSQL 127.0.0.1:5432/test"), "{status:?}");
    for shown in [&refused, &connected, &synced, &status] {
        assert!(!format!("{shown:?}").contains(password), "the store's password shown: {shown:?}");
    }
}

/// `tib store migrate`: an SQLite deployment moved into PostgreSQL with nothing lost (its users, the
/// state of its connections, a notification, a held sync that is then approved there), into an
/// empty database only; the instances go on with the same key.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_moves_from_sqlite_to_postgres_with_nothing_lost() {
    let Some((url, _schema)) = postgres_schema("migrate") else { return };
    let api = api(30).await;
    let tib = Tib::new();
    // A file that is not a tib store is refused, and left exactly as it was.
    for (name, content) in [("empty.db", &b""[..]), ("notes.db", b"not a database at all\n")] {
        let path = tib.dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        let refused = tib.run(&["store", "migrate", "--from", &path.display().to_string(), "--to", &url]).await;
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(refused.stderr.contains("is not a tib store"), "{refused:?}");
        assert_eq!(std::fs::read(&path).expect("read"), content, "{name} is not written to");
        assert!(!tib.dir.path().join(format!("{name}-wal")).exists(), "nor beside it");
    }
    assert_eq!(tib.connect(&api, "Prod").await.code, 0);
    assert_eq!(tib.connect(&api, "Dev").await.code, 0);
    assert_eq!(tib.run(&["sync", "acme", "Prod"]).await.code, 0);
    api.set(UNAUTHORIZED);
    tib.run(&["sync", "acme", "Dev"]).await;
    api.set(FINE);
    api.users.store(5, Ordering::SeqCst);
    assert!(tib.run(&["sync", "acme", "Prod"]).await.stdout.contains("held"), "a sync held before the move");
    let before = (tib.run(&["list"]).await.stdout, tib.users("Prod").await, tib.run(&["status"]).await.stdout);

    let store = tib.store().display().to_string();
    let moved = tib.run(&["store", "migrate", "--from", &store, "--to", &url]).await;
    assert_eq!(moved.code, 0, "{moved:?}");
    assert!(moved.stdout.contains("2 connections") && moved.stdout.contains("1 held syncs"), "{moved:?}");
    let there = Tib { dir: tempfile::tempdir().expect("dir"), postgres: Some(url.clone()), specs: None, key: None };
    let after = (there.run(&["list"]).await.stdout, there.users("Prod").await, there.run(&["status"]).await.stdout);
    assert_eq!(before.0, after.0, "the connections, their state and runs");
    assert_eq!(before.1, after.1, "every user, deleted ones included");
    let notification = |status: &str| status.lines().filter(|l| l.contains("connection_disabled")).count();
    assert_eq!((notification(&before.2), notification(&after.2)), (1, 1), "{}", after.2);

    let again = tib.run(&["store", "migrate", "--from", &store, "--to", &url]).await;
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("already holds 2 connections"), "{again:?}");

    // The held sync moved with its staged records: approved on PostgreSQL, it applies.
    let approved = there.run(&["approve", "acme", "Prod"]).await;
    assert_eq!(approved.code, 0, "{approved:?}");
    assert_eq!(there.users("Prod").await.iter().filter(|u| u["deleted"] == json!(false)).count(), valid(5));
    // The same key opens the moved credentials; new rows get new ids.
    let mut command = there.command(&["sync", "acme", "Prod"]);
    command.env("TIB_KEY_FILE", tib.store().with_file_name("tib.key"));
    let synced = Run::from(tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined"));
    assert_eq!(synced.code, 0, "{synced:?}");
    let mut command = there.command(&["connect", "acme", "Staging", "--cred", "tenant=demo", "--cred", "api_token=x"]);
    command.env("TIB_KEY_FILE", tib.store().with_file_name("tib.key"));
    let connected =
        Run::from(tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined"));
    assert_eq!(connected.code, 0, "{connected:?}");
}

/// The Acme spec as another app's: `app "<name>"`, its custom fields declared for that app too.
fn acme_as(name: &str, dir: &Path) {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let spec = std::fs::read_to_string(repository.join("specs/acme.tib")).expect("acme.tib");
    let spec = spec.replacen("app \"Acme\"", &format!("app \"{name}\""), 1);
    std::fs::write(dir.join(format!("{}.tib", name.to_lowercase())), spec).expect("write the spec");
    let catalog = std::fs::read_to_string(repository.join("custom-fields.toml")).expect("the catalog");
    let acme = catalog.split("\n[").find(|section| section.starts_with("Acme]")).expect("Acme's fields");
    let path = dir.join("custom-fields.toml");
    let mut fields = std::fs::read_to_string(&path).unwrap_or_default();
    fields.push_str(&format!("\n[{name}]{}\n", acme.trim_start_matches("Acme]")));
    std::fs::write(path, fields).expect("write the catalog");
}

/// `--specs DIR`: a spec saved there is connected and synced without a rebuild, interpreted and page
/// by page; a spec of a compiled app leaves the compiled connector in use; a spec with errors is
/// refused with its diagnostics; and `serve`, looking again as specs change, offers a new one and
/// keeps the version that worked when an edit breaks it.
#[tokio::test(flavor = "multi_thread")]
async fn a_spec_in_the_specs_directory_is_connected_and_synced_without_a_rebuild() {
    let api = api(250).await;
    let mut tib = Tib::new();
    let specs = tib.dir.path().join("specs");
    std::fs::create_dir_all(&specs).expect("specs");
    acme_as("Beta", &specs);
    // Acme's own spec, checking clean: the compiled connector is used instead.
    acme_as("Acme", &specs);
    std::fs::write(specs.join("broken.tib"), "app \"Broken\"\nbase_url \"https://broken.example\"\nfields {")
        .expect("write");
    tib.specs = Some(specs.clone());

    let listed = tib.run(&["integrations"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    let beta = listed.stdout.lines().position(|l| l.starts_with("beta ")).expect("beta offered");
    assert!(listed.stdout.lines().nth(beta + 1).is_some_and(|l| l.contains("interpreted from")), "{listed:?}");
    assert_eq!(listed.stdout.lines().filter(|l| l.starts_with("acme ")).count(), 1, "{listed:?}");
    let acme = listed.stdout.lines().position(|l| l.starts_with("acme ")).expect("acme");
    assert!(
        !listed.stdout.lines().nth(acme + 1).is_some_and(|l| l.contains("interpreted")),
        "the compiled one: {listed:?}"
    );
    assert!(listed.stderr.contains("broken.tib is refused") && listed.stderr.contains("error"), "{listed:?}");
    // The spec of the compiled app is said to be ignored, at start and beside the integration.
    let ignored = "acme.tib is ignored: this build has `acme` compiled in, which is used instead";
    assert!(listed.stderr.contains(ignored), "{listed:?}");
    assert!(listed.stdout.lines().nth(acme + 1).is_some_and(|l| l.contains(ignored)), "{listed:?}");
    assert!(!listed.stdout.contains("broken"), "{listed:?}");

    let token = format!("api_token={SECRET}");
    let connect = ["connect", "beta", "Prod", "--cred", "tenant=demo", "--cred", &token, "--base-url", &api.base_url];
    assert_eq!(tib.run(&connect).await.code, 0);
    let synced = tib.run(&["sync", "beta", "Prod"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    assert!(synced.stdout.contains(&format!("synced {} users from 3 pages", valid(250))), "{synced:?}");
    let users = tib.run(&["users", "beta", "Prod", "--all", "--format", "json"]).await;
    let users: Value = serde_json::from_str(&users.stdout).expect("JSON");
    let compiled = Tib::synced(&api).await.1;
    // When each sync saw the users differs between the two syncs (they may straddle a second): not compared.
    let mapped = |users: &[Value]| -> Vec<Value> {
        users
            .iter()
            .cloned()
            .map(|mut user| {
                let fields = user.as_object_mut().expect("a user");
                for when in ["first_seen", "last_seen", "modified_at"] {
                    assert!(fields.remove(when).is_some(), "{when}");
                }
                user
            })
            .collect()
    };
    assert_eq!(
        mapped(users.as_array().expect("users")),
        mapped(&compiled),
        "mapped as the compiled connector maps them"
    );

    // Served: an edit that breaks the spec is refused and the working version syncs on; a new spec is offered.
    let (mut child, base) = serve_api(&tib, Some(ADMIN_TOKEN));
    let client = reqwest::Client::new();
    healthy(&client, &base).await;
    let spec = specs.join("beta.tib");
    let working = std::fs::read_to_string(&spec).expect("read");
    std::fs::write(&spec, working.replacen("users at data.members", "users at", 1)).expect("break it");
    acme_as("Gamma", &specs);
    let integrations = || async {
        let answer = client.get(format!("{base}/api/v1/integrations")).bearer_auth(ADMIN_TOKEN).send().await;
        let text = answer.expect("GET").text().await.expect("a body");
        serde_json::from_str::<Value>(&text).expect("JSON")["integrations"].as_array().expect("a list").clone()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let gamma = loop {
        if let Some(gamma) = integrations().await.into_iter().find(|i| i["id"] == "gamma") {
            break gamma;
        }
        assert!(Instant::now() < deadline, "gamma never offered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(gamma["interpreted"], true);
    let acme = integrations().await.into_iter().find(|i| i["id"] == "acme").expect("acme");
    assert_eq!(acme["interpreted"], false, "the compiled connector takes precedence");
    let now = client.post(format!("{base}/api/v1/connections/beta/Prod/sync")).bearer_auth(ADMIN_TOKEN).send().await;
    assert_eq!(now.expect("POST").status(), 202);
    tib.wait_for(
        "SELECT COUNT(*) FROM runs WHERE outcome = 'applied'",
        "Integer(2)",
        "the working version synced again",
    )
    .await;
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// Text with NUL characters from an API is stored alike on both backends (as
/// U+FFFD, which PostgreSQL can hold), in users and in a failure's error; a
/// NUL in a request's parameters is refused before it reaches the store.
#[tokio::test(flavor = "multi_thread")]
async fn nul_characters_from_an_api_are_stored_alike_and_refused_in_parameters() {
    let api = api(30).await;
    let postgres = postgres_schema("nul");
    let mut stores = vec![Tib::new()];
    if let Some((url, _)) = &postgres {
        let (dir, key) = (tempfile::tempdir().expect("dir"), Some("5a".repeat(32)));
        stores.push(Tib { dir, postgres: Some(url.clone()), specs: None, key });
    }
    for tib in &stores {
        api.set(NUL_TEXT);
        tib.connect(&api, "Prod").await;
        let synced = tib.run(&["sync", "acme", "Prod"]).await;
        assert_eq!(synced.code, 0, "{synced:?}");
        let users = tib.users("Prod").await;
        assert!(users.iter().all(|u| u["first_name"] == "Ada\u{fffd}Lee"), "{users:?}");
        api.set(NUL_ERROR);
        let failed = tib.run(&["sync", "acme", "Prod"]).await;
        assert_eq!(failed.code, 1, "{failed:?}");
        let status = tib.run(&["status"]).await;
        assert!(status.stdout.contains("broken\u{fffd}down"), "the failure is recorded: {status:?}");
        assert_eq!(tib.users("Prod").await, users, "and the users stay");
    }
    api.set(FINE);

    let tib = &stores[0];
    let (mut child, base) = serve_api(tib, Some(ADMIN_TOKEN));
    let client = reqwest::Client::new();
    healthy(&client, &base).await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/connections/acme/Pr%00od"),
        (reqwest::Method::GET, "/api/v1/connections/acme/Prod/users?search=a%00b"),
        (reqwest::Method::PUT, "/api/v1/connections/acme/A%00B"),
        (reqwest::Method::GET, "/scim/v2/acme/Prod/Users?filter=userName%20eq%20%22a%00%22"),
    ] {
        let answer = client.request(method, format!("{base}{path}")).bearer_auth(ADMIN_TOKEN).send().await;
        let answer = answer.expect("sent");
        let (status, kind) = (answer.status(), answer.headers()["content-type"].to_str().expect("text").to_owned());
        assert_eq!(status, 400, "{path}");
        let expected = if path.starts_with("/scim") { "application/scim+json" } else { "application/problem+json" };
        assert_eq!(kind, expected, "{path}");
        assert!(answer.text().await.expect("text").contains("NUL"), "{path}");
    }
    let control = client
        .put(format!("{base}/api/v1/connections/acme/A%01B"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(json!({"credentials": {"tenant": "t", "api_token": "x"}}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(control.status(), 422, "an account name with a control character");
    let many = vec![r#"userName eq "x""#; 1001].join(" and ");
    let filtered = client
        .get(format!("{base}/scim/v2/acme/Prod/Users"))
        .query(&[("filter", many.as_str())])
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(filtered.status(), 400);
    let error: Value = serde_json::from_str(&filtered.text().await.expect("text")).expect("JSON");
    assert_eq!((error["scimType"].as_str(), error["status"].as_str()), (Some("invalidFilter"), Some("400")));
    let _ = child.kill();
    let _ = child.wait();
}

/// Pages linked by a next URL that no page held: the sync works, and its run says only the first
/// page was read, as `tib status` shows it.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_that_read_one_page_of_linked_pages_records_a_warning() {
    use wiremock::matchers::path;
    let server = MockServer::start().await;
    let body = serde_json::json!({"people": [{"id": "1", "email": "ann@linky.example"}], "links": {}});
    Mock::given(path("/api/people")).respond_with(ResponseTemplate::new(200).set_body_json(body)).mount(&server).await;
    let mut tib = Tib::new();
    let specs = tib.dir.path().join("specs");
    std::fs::create_dir_all(&specs).expect("specs");
    std::fs::write(specs.join("custom-fields.toml"), "").expect("a catalog");
    let spec = format!(
        "app \"Linky\"\nbase_url \"{}/api\"\ncredentials {{\n  token secret \"t\"\n}}\nauth bearer \"{{token}}\"\n\
         request GET \"/people\"\npaginate next_url {{\n  from body links.next\n  stop when missing_token\n}}\n\
         users at people\nfields {{\n  id    = id\n  email = email\n}}\n",
        server.uri()
    );
    std::fs::write(specs.join("linky.tib"), spec).expect("a spec");
    tib.specs = Some(specs);
    let connected = tib.run(&["connect", "linky", "Prod", "--cred", "token=linky-token-1"]).await;
    assert_eq!(connected.code, 0, "{connected:?}");
    let synced = tib.run(&["sync", "linky", "Prod"]).await;
    assert_eq!(synced.code, 0, "{synced:?}");
    let status = tib.run(&["status"]).await;
    assert!(status.stdout.contains("linky/Prod: ok, last synced"), "{status:?}");
    assert!(status.stdout.contains("warning: only the first page was read: no page held the link"), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_made_listed_and_removed_at_the_shell_and_the_audit_log_read_there() {
    let tib = Tib::new();
    let made = tib.run(&["token", "add", "scim-reader"]).await;
    assert_eq!(made.code, 0, "{made:?}");
    let token = made.stdout.trim().to_owned();
    assert!(token.starts_with("tib_") && made.stderr.contains("shown this once"), "{made:?}");
    let listed = tib.run(&["token", "list"]).await;
    assert!(listed.stdout.contains("scim-reader  viewer") && !listed.stdout.contains(&token), "{listed:?}");
    let taken = tib.run(&["token", "add", "scim-reader", "--role", "admin"]).await;
    assert_eq!(taken.code, 1, "{taken:?}");
    assert!(taken.stderr.contains("a token named `scim-reader` exists"), "{taken:?}");

    // The token reads the API of a server on this store.
    let (mut child, base) = serve_api(&tib, Some(ADMIN_TOKEN));
    let client = reqwest::Client::new();
    healthy(&client, &base).await;
    let read = client.get(format!("{base}/api/v1/connections")).bearer_auth(&token).send().await.expect("sent");
    assert_eq!(read.status(), 200);
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(tib.run(&["token", "remove", "scim-reader"]).await.code, 0);
    let gone = tib.run(&["token", "remove", "scim-reader"]).await;
    assert_eq!(gone.code, 1, "{gone:?}");
    let audit = tib.run(&["audit", "--format", "csv"]).await;
    assert_eq!(audit.code, 0, "{audit:?}");
    let lines: Vec<&str> = audit.stdout.lines().collect();
    assert_eq!(lines[0], "at,actor,via,from,action,target,outcome");
    assert!(
        lines[1]
            .ends_with(r#""command line","this machine","remove token","scim-reader","no token named `scim-reader`""#),
        "{audit:?}"
    );
    assert!(lines[2].ends_with(r#""command line","this machine","remove token","scim-reader","done""#), "{audit:?}");
    assert!(lines.iter().any(|l| l.contains(r#""add admin token","scim-reader","a token named"#)), "{audit:?}");
}
