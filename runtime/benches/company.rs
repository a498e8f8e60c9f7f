//! The company's views at scale: `TIB_BENCH_CONNECTIONS` accounts (10,000) of `TIB_BENCH_USERS_EACH`
//! users (100), a million users in all whose emails make about 200,000 people of five accounts each,
//! stored through the sync's own staging and apply, first into a fresh SQLite file and then, when
//! `TIB_POSTGRES_URL` names one, into a PostgreSQL schema of its own. Each view is then asked
//! through the operations layer the console and the API call, five times; the median is printed:
//! the overview's summaries, a people search, a person, the first page of people, the licenses in
//! use, the access review, and SCIM's `userName eq` count. The access review compares the accounts
//! with a directory of every person: one in twenty has left, one in twenty was never in it.
//!
//!     TIB_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tib-runtime --bench company

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tib_runtime::services::Services;
use tib_runtime::store::{
    ApplyPolicy, Condition, FieldTest, NewConnection, RunTotals, Store, UserField, UserQuery, staging,
};
use tib_support::User;
use tib_support::record::Name;

const OWNER: &str = "bench-host:1";
/// People: each user's email is one of these, so that a person has accounts across apps.
const PEOPLE: usize = 200_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const LICENSES: [&[&str]; 3] = [&["Enterprise"], &["Pro"], &[]];

fn user(account: usize, n: usize) -> User {
    let person = (account * 37 + n * 7919) % PEOPLE;
    User {
        external_id: n.to_string().into(),
        email: format!("person{person}@acme.example").into(),
        username: Some(format!("user{n}").into()),
        name: Some(Name::Full(format!("Person {person}").into())),
        role: Some("Member".into()),
        created_at: None,
        last_seen_at: chrono::DateTime::from_timestamp(1_700_000_000 + (n as i64 % 400) * 86_400, 0),
        active: !n.is_multiple_of(10),
        status: "Active".into(),
        licenses: Cow::Borrowed(LICENSES[n % 3]),
        custom_fields: vec![],
        roles: vec![],
        groups: vec![],
        account_type: None,
        last_activity_at: None,
        issues: vec![],
    }
}

/// The company's directory's user of a person: every person is in it but the last twentieth (from
/// outside the company), and one in twenty of them has left (not active).
fn directory_user(person: usize) -> Option<User> {
    (person < PEOPLE / 20 * 19).then(|| User {
        external_id: person.to_string().into(),
        email: format!("person{person}@acme.example").into(),
        name: Some(Name::Full(format!("Person {person}").into())),
        active: !person.is_multiple_of(20),
        status: if person.is_multiple_of(20) { "Suspended" } else { "Active" }.into(),
        ..user(0, 0)
    })
}

/// Connects an account and syncs `users` into it, as the engine stores them: its id.
fn synced(store: &dyn Store, integration: &str, name: &str, users: impl Iterator<Item = User>) -> i64 {
    let now = chrono::Utc::now().timestamp();
    store
        .upsert_connection(&NewConnection {
            integration,
            account: name,
            sealed_credentials: b"sealed",
            base_url: None,
            interval_secs: 86_400,
            next_sync_at: now + 86_400,
            token_url: None,
            authorize_url: None,
            waiting_reason: None,
        })
        .expect("connect");
    let id = store.connection(integration, name).expect("read").expect("connected").id;
    store.try_lease(id, OWNER, now + 900).expect("lease");
    let started = store.start_run(id, OWNER, now).expect("run");
    let mut baseline = started.baseline;
    let (mut records, mut seen) = (Vec::new(), 0);
    for user in users {
        staging::stage(&user, &mut baseline, &mut records);
        seen += 1;
    }
    store.stage(started.run_id, &records).expect("stage");
    let totals = RunTotals { pages: 1, users_seen: seen, ..RunTotals::default() };
    store.complete_run(started.run_id, OWNER, baseline, &totals, ApplyPolicy::default(), now).expect("complete");
    store.release(id, OWNER).expect("release");
    id
}

/// Connects and syncs every account, then the company's directory.
fn seed(store: &dyn Store, connections: usize, each: usize) {
    for account in 0..connections {
        let name = format!("tenant-{account:05}");
        let integration = ["slack", "github", "zoom", "okta"][account % 4];
        synced(store, integration, &name, (0..each).map(|n| user(account, n)));
    }
    let directory = synced(store, "okta", "directory", (0..PEOPLE).filter_map(directory_user));
    store.set_directory(directory, true).expect("the directory");
}

/// The median of five runs of `ask`, and what the last one found.
fn median<F: std::future::Future>(runtime: &tokio::runtime::Runtime, ask: impl Fn() -> F) -> (Duration, F::Output) {
    let mut times = Vec::new();
    let mut found = None;
    for _ in 0..5 {
        let started = Instant::now();
        found = Some(runtime.block_on(ask()));
        times.push(started.elapsed());
    }
    times.sort();
    (times[2], found.expect("asked"))
}

/// Seeds `store`, lets `settled` bring the database to its steady state, then asks each view.
fn measure(label: &str, store: Arc<dyn Store>, connections: usize, each: usize, settled: impl FnOnce()) {
    let seeding = Instant::now();
    seed(store.as_ref(), connections, each);
    println!("{label}: {connections} accounts of {each} users stored in {:.0} s", seeding.elapsed().as_secs_f64());
    settled();
    let services = Arc::new(Services::new(
        store,
        Arc::new(tib_runtime::clock::SystemClock),
        tib_support::Client::new(tib_support::ClientSettings::default()).expect("a client"),
        ApplyPolicy::default(),
        url::Url::parse("http://127.0.0.1:8421").expect("a URL"),
        tib_runtime::notify::Notifier::new(None, vec![]).expect("a notifier"),
        Box::new(|| Err("no vault in this benchmark".to_owned())),
    ));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let s = &services;
    // Someone who is stored: the second account's second user.
    let email = user(1, 1).email.to_string();
    let row = |what: &str, took: Duration, found: String| {
        println!("  {what:<34} {:>9.1} ms  ({found})", took.as_secs_f64() * 1000.0);
    };
    let (took, found) = median(&runtime, || s.summaries());
    row("overview: every account's summary", took, format!("{} accounts", found.expect("summaries").len()));
    let (took, found) = median(&runtime, || s.people(Some(email.clone()), None, 100));
    row("people: a search", took, format!("{} found", found.expect("people").people.len()));
    let (took, found) = median(&runtime, || s.people(None, None, 100));
    row("people: the first page", took, format!("{} people", found.expect("people").people.len()));
    let (took, found) = median(&runtime, || s.person(&email));
    row("a person's accounts", took, format!("{} accounts", found.expect("person").len()));
    let (took, found) = median(&runtime, || s.licenses(90));
    row("licenses in use, unseen in 90 days", took, format!("{} licenses", found.expect("licenses").licenses.len()));
    let first_pages = tib_runtime::operate::ReviewPages { limit: Some(100), ..Default::default() };
    let (took, found) = median(&runtime, || s.access_review(first_pages));
    let review = found.expect("the access review");
    row("access review", took, format!("{} left, {} without an account", review.departed.0, review.unaccounted.0));
    let by_name = || {
        let condition = Condition { field: UserField::UserName, test: FieldTest::Equals("user42".to_owned()) };
        let query = UserQuery { conditions: vec![condition], limit: Some(1), ..UserQuery::default() };
        s.count_users("slack", "tenant-00000", query)
    };
    let (took, found) = median(&runtime, by_name);
    row("SCIM userName eq (one account)", took, format!("{} found", found.expect("users").0));
}

fn main() {
    let connections = setting("TIB_BENCH_CONNECTIONS", 10_000) as usize;
    let each = setting("TIB_BENCH_USERS_EACH", 100) as usize;
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = tib_runtime::store::sqlite::Sqlite::open(&dir.path().join("tib.db")).expect("store");
    // SQLite's store analyses the users itself after each applied sync.
    measure("SQLite", Arc::new(sqlite), connections, each, || {});
    let Ok(admin) = std::env::var("TIB_POSTGRES_URL") else {
        println!("PostgreSQL: skipped (set TIB_POSTGRES_URL)");
        return;
    };
    let schema = format!("tib_bench_company_{}", std::process::id());
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("the PostgreSQL");
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).expect("schema");
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}options=-c%20search_path%3D{schema}");
    // PostgreSQL's autovacuum analyses a table once a tenth of it changed, within a minute: the
    // views are measured with those statistics, as a deployment has them.
    let analysed = || client.batch_execute(&format!("SET search_path = {schema}; ANALYZE")).expect("analysed");
    measure("PostgreSQL", tib_runtime::store::open(&url).expect("store"), connections, each, analysed);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("dropped");
}
