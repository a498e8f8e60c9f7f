//! The store on both backends, one suite: a real SQLite file, and a real
//! PostgreSQL database (each test in a schema of its own) where
//! TIB_POSTGRES_URL points at one (`.ci/run` sets it, with
//! TIB_REQUIRE_POSTGRES). Atomic syncs, deletions, the hold policy, replaced
//! accounts, interrupted runs, separate accounts, reading users.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use tib_runtime::store::postgres::Postgres;
use tib_runtime::store::sqlite::Sqlite;
use tib_runtime::store::staging;
use tib_runtime::store::{ApiToken, AuditEntry, Condition, FieldTest, UserField, UserOrder};
use tib_runtime::store::{
    Applied, ApplyPolicy, Claim, Connection, Event, HistoryQuery, NewConnection, Outcome, PeopleQuery, RunTotals,
    Started, Store, Upserted, UserQuery,
};
use tib_support::User;
use tib_support::record::Name;

/// Where a test's store lives, and how to look at it from the side, as another process would.
enum Backend {
    Sqlite(tempfile::TempDir),
    /// The database's URL with the test's own schema as its search path; the schema's name.
    Postgres {
        url: String,
        admin: String,
        schema: String,
    },
}

impl Backend {
    fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().expect("dir"))
    }

    /// A fresh schema in the database TIB_POSTGRES_URL names; `None` (the test skipped) without one.
    fn postgres() -> Option<Backend> {
        let admin = common::postgres_admin()?;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let schema = format!("tib_store_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let mut client =
            ::postgres::Client::connect(&admin, ::postgres::NoTls).expect("PostgreSQL at TIB_POSTGRES_URL");
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .expect("schema");
        let separator = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{separator}options=-c%20search_path%3D{schema}");
        Some(Backend::Postgres { url, admin, schema })
    }

    fn open(&self) -> Box<dyn Store> {
        match self {
            Backend::Sqlite(dir) => Box::new(Sqlite::open(&dir.path().join("data/tib.db")).expect("open")),
            Backend::Postgres { url, .. } => Box::new(Postgres::open(url).expect("open")),
        }
    }

    /// The first column of what `query` selects, as text (NULL as `NULL`); a statement's rows changed
    /// as one row.
    fn sql(&self, query: &str) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => {
                let db = rusqlite::Connection::open(dir.path().join("data/tib.db")).expect("open");
                if !query.starts_with("SELECT") {
                    return vec![db.execute(query, []).expect("statement").to_string()];
                }
                let mut statement = db.prepare(query).expect("query");
                let rows = statement
                    .query_map([], |r| {
                        let value: rusqlite::types::Value = r.get(0)?;
                        Ok(match value {
                            rusqlite::types::Value::Integer(n) => n.to_string(),
                            rusqlite::types::Value::Text(t) => t,
                            rusqlite::types::Value::Null => "NULL".to_owned(),
                            other => format!("{other:?}"),
                        })
                    })
                    .expect("rows");
                rows.map(|r| r.expect("row")).collect()
            }
            Backend::Postgres { url, .. } => {
                let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
                if !query.starts_with("SELECT") {
                    return vec![client.execute(query, &[]).expect("statement").to_string()];
                }
                let rows = client.query(query, &[]).expect("query");
                rows.iter()
                    .map(|row| match row.try_get::<_, Option<i64>>(0) {
                        Ok(n) => n.map_or_else(|| "NULL".to_owned(), |n| n.to_string()),
                        Err(_) => row.get::<_, Option<String>>(0).unwrap_or_else(|| "NULL".to_owned()),
                    })
                    .collect()
            }
        }
    }

    /// What the store keeps staged, by run: `run-N` for a run's records, `run-N.kept` for a held
    /// run's baseline (files beside an SQLite store, rows in PostgreSQL).
    fn staged(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Backend::Sqlite(dir) => {
                let Ok(entries) = std::fs::read_dir(dir.path().join("data/tib.db-staging")) else { return Vec::new() };
                entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()
            }
            Backend::Postgres { .. } => {
                let mut names: Vec<String> = self
                    .sql("SELECT DISTINCT run_id FROM staged")
                    .into_iter()
                    .map(|run| format!("run-{run}"))
                    .collect();
                names.extend(self.sql("SELECT run_id FROM held").into_iter().map(|run| format!("run-{run}.kept")));
                names
            }
        };
        names.sort();
        names
    }

    /// Cuts the last five bytes off what a run staged: a torn write.
    fn tear_staging(&self, run_id: i64) {
        match self {
            Backend::Sqlite(dir) => {
                let spool = dir.path().join(format!("data/tib.db-staging/run-{run_id}"));
                let mut bytes = std::fs::read(&spool).expect("staged");
                bytes.truncate(bytes.len() - 5);
                std::fs::write(&spool, bytes).expect("torn");
            }
            Backend::Postgres { .. } => {
                let torn = self.sql(&format!(
                    "UPDATE staged SET records = substring(records FROM 1 FOR length(records) - 5) \
                     WHERE run_id = {run_id} AND seq = (SELECT MAX(seq) FROM staged WHERE run_id = {run_id})"
                ));
                assert_eq!(torn, ["1"]);
            }
        }
    }

    /// What the health line of a store opened again says of its schema.
    fn healthy(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "schema 8, integrity ok",
            Backend::Postgres { .. } => "schema version 7",
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::Postgres { admin, schema, .. } = self
            && let Ok(mut client) = ::postgres::Client::connect(admin, ::postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Each test, once on each backend.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $test() { super::$test(&super::Backend::sqlite()) })*
        }
        mod postgres {
            $(#[test] fn $test() { if let Some(backend) = super::Backend::postgres() { super::$test(&backend) } })*
        }
    };
}

fn user(id: usize) -> User {
    User {
        external_id: id.to_string().into(),
        email: format!("u{id}@example.com").into(),
        username: None,
        name: Some(Name::Full(format!("User {id}").into())),
        role: Some("Member".into()),
        created_at: None,
        last_seen_at: None,
        active: true,
        status: "Active".into(),
        licenses: std::borrow::Cow::Borrowed(&["Pro"]),
        custom_fields: vec![],
        roles: vec![],
        groups: vec![],
        account_type: None,
        last_activity_at: None,
        issues: vec![],
    }
}

fn users(ids: std::ops::Range<usize>) -> Vec<User> {
    ids.map(user).collect()
}

fn connect(store: &dyn Store, integration: &str, account: &str) -> (i64, Upserted) {
    let upserted = store
        .upsert_connection(&NewConnection {
            integration,
            account,
            sealed_credentials: b"sealed",
            base_url: None,
            interval_secs: 86_400,
            next_sync_at: 0,
            token_url: None,
            authorize_url: None,
            waiting_reason: None,
        })
        .expect("connect");
    (store.connection(integration, account).expect("read").expect("exists").id, upserted)
}

/// The process the tests' syncs run in, as leases name it.
const OWNER: &str = "test-host:1";

/// Leases the connection (unless another holds it), starts a run and stages `rows` over pages of 3,
/// as a sync does.
fn staged(store: &dyn Store, id: i64, rows: &[User], now: i64) -> Started {
    store.try_lease(id, OWNER, now + 900).expect("lease");
    let Started { run_id, mut baseline } = store.start_run(id, OWNER, now).expect("run");
    for page in rows.chunks(3) {
        let mut records = Vec::new();
        for user in page {
            staging::stage(user, &mut baseline, &mut records);
        }
        store.stage(run_id, &records).expect("stage");
    }
    Started { run_id, baseline }
}

/// A complete sync returning `rows`.
fn sync(store: &dyn Store, id: i64, rows: &[User], now: i64) -> Applied {
    let Started { run_id, baseline } = staged(store, id, rows, now);
    let totals =
        RunTotals { pages: rows.len().div_ceil(3) as i64, users_seen: rows.len() as i64, ..RunTotals::default() };
    let applied = store.complete_run(run_id, OWNER, baseline, &totals, ApplyPolicy::default(), now).expect("complete");
    store.release(id, OWNER).expect("release");
    applied
}

fn ids(store: &dyn Store, id: i64, all: bool) -> Vec<String> {
    store.users(id, all).expect("users").into_iter().map(|u| u.user.external_id).collect()
}

fn history(store: &dyn Store, id: i64, user: Option<&str>) -> Vec<(String, Event, String)> {
    let query = HistoryQuery { user: user.map(str::to_owned), limit: 100, ..HistoryQuery::default() };
    let mut entries: Vec<(String, Event, String)> = store
        .history(id, &query)
        .expect("history")
        .into_iter()
        .map(|c| {
            let what = c.license.clone().unwrap_or_else(|| {
                c.fields.iter().map(|f| format!("{}={:?}->{:?}", f.field, f.old, f.new)).collect::<Vec<_>>().join(",")
            });
            (c.external_id, c.event, what)
        })
        .collect();
    entries.reverse();
    entries
}

on_both_backends!(
    a_run_keeps_its_warning_and_what_its_lookups_cost,
    a_sync_that_lost_its_lease_is_not_applied,
    due_connections_are_claimed_once_within_the_limit_the_slow_share_and_each_integrations_cap,
    a_lease_renewed_stands_and_a_lapsed_one_is_freed_with_its_connection_due_again,
    an_unchanged_resync_writes_no_user_and_stages_nothing,
    each_change_is_kept_in_the_users_history,
    roles_groups_the_account_type_and_the_last_activity_are_kept_and_their_changes_recorded,
    users_stored_before_digests_are_rewritten_once_and_not_counted_as_changed,
    a_sync_that_ran_while_a_held_one_was_approved_does_not_apply_over_it,
    damaged_staging_fails_the_sync_and_changes_nothing,
    a_complete_sync_replaces_users_and_keeps_the_missing_ones_as_deleted,
    a_failed_sync_leaves_the_stored_users_exactly_as_they_were,
    a_sync_that_would_delete_most_users_is_held_until_approved,
    a_newer_sync_supersedes_a_held_one,
    connecting_again_replaces_the_accounts_users_at_its_next_sync_under_the_hold,
    connecting_again_keeps_the_history_of_the_users_the_api_still_lists,
    two_accounts_of_one_integration_are_kept_apart,
    runs_of_a_dead_process_are_recovered_as_interrupted_and_their_staging_dropped,
    an_authorization_state_is_taken_once_and_expired_ones_are_swept,
    a_first_sync_inserts_every_user_once_the_first_listing_standing,
    users_are_read_in_pages_by_access_license_change_and_search,
    conditions_on_fields_select_users_and_count_them_and_offsets_page_them,
    users_are_sorted_by_email_name_and_times_those_without_the_value_last,
    text_beyond_ascii_is_matched_without_regard_to_case,
    a_person_is_an_email_across_every_account_in_any_case,
    licenses_are_counted_by_account_with_the_holders_not_seen_apart,
    the_access_review_finds_who_left_the_directory_and_who_has_no_account,
    tokens_are_found_by_their_hash_and_names_are_unique,
    the_audit_log_pages_newest_first_and_unread_notifications_are_counted_per_operator,
    users_are_read_by_when_they_last_changed_and_in_either_order,
    every_accounts_last_run_and_counts_are_read_at_once_as_each_alone,
);

fn every_accounts_last_run_and_counts_are_read_at_once_as_each_alone(backend: &Backend) {
    let store = backend.open();
    let (prod, _) = connect(store.as_ref(), "acme", "Prod");
    let (dev, _) = connect(store.as_ref(), "acme", "Dev");
    let (empty, _) = connect(store.as_ref(), "acme", "Empty");
    sync(store.as_ref(), prod, &users(0..12), 100);
    let mut fewer = users(0..4);
    fewer[1].active = false;
    sync(store.as_ref(), dev, &users(0..5), 100);
    sync(store.as_ref(), dev, &fewer, 200);
    let mut counts = store.all_user_counts().expect("counts");
    counts.sort();
    let mut alone: Vec<(i64, i64, i64)> = [prod, dev]
        .into_iter()
        .map(|id| {
            let (with_access, all) = store.user_counts(id).expect("counts");
            (id, with_access, all)
        })
        .collect();
    alone.sort();
    assert_eq!(counts, alone);
    assert_eq!(alone.iter().find(|c| c.0 == dev).map(|c| (c.1, c.2)), Some((3, 5)), "one inactive, one gone");
    let mut last: Vec<(i64, i64)> = store.last_runs().expect("runs").iter().map(|r| (r.connection_id, r.id)).collect();
    last.sort();
    let mut each: Vec<(i64, i64)> =
        [prod, dev, empty].into_iter().filter_map(|id| store.last_run(id).expect("run").map(|r| (id, r.id))).collect();
    each.sort();
    assert_eq!(last, each);
    assert_eq!(last.len(), 2, "an account never synced has none");
}

fn users_are_read_by_when_they_last_changed_and_in_either_order(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "acme", "Prod");
    // The first sync records no history: its users last changed when first seen.
    sync(store.as_ref(), id, &users(0..5), 100);
    let mut second = users(0..4);
    second[1].name = Some(Name::Full("Renamed".into()));
    sync(store.as_ref(), id, &second, 200);
    sync(store.as_ref(), id, &[second.clone(), users(5..6)].concat(), 300);
    let read = |query: UserQuery| -> Vec<(String, i64)> {
        let found = store.find_users(id, &query).expect("read");
        found.into_iter().map(|u| (u.user.external_id, u.modified_at)).collect()
    };
    let at =
        |pairs: &[(&str, i64)]| -> Vec<(String, i64)> { pairs.iter().map(|(i, t)| ((*i).to_owned(), *t)).collect() };
    // Changed (1), marked deleted (4), appeared (5); the others as first seen.
    let oldest_first = read(UserQuery { order: UserOrder::Modified, ..UserQuery::default() });
    assert_eq!(oldest_first, at(&[("0", 100), ("2", 100), ("3", 100), ("1", 200), ("4", 200), ("5", 300)]));
    let newest_first = read(UserQuery { order: UserOrder::Modified, reversed: true, ..UserQuery::default() });
    assert_eq!(newest_first, at(&[("5", 300), ("4", 200), ("1", 200), ("3", 100), ("2", 100), ("0", 100)]));
    let since = read(UserQuery { modified_after: Some(150), ..UserQuery::default() });
    assert_eq!(since, at(&[("1", 200), ("4", 200), ("5", 300)]));
    assert_eq!(read(UserQuery { modified_after: Some(200), ..UserQuery::default() }), at(&[("5", 300)]));
    let by_name =
        read(UserQuery { order: UserOrder::UserName, reversed: true, limit: Some(2), ..UserQuery::default() });
    assert_eq!(by_name.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(), ["5", "4"]);
}

fn tokens_are_found_by_their_hash_and_names_are_unique(backend: &Backend) {
    use tib_runtime::access::operator::Role;
    let store = backend.open();
    let reader = ApiToken { name: "scim-reader".into(), role: Role::Viewer, created_at: 5, created_by: "ann".into() };
    assert!(store.add_token(&reader, "h1").expect("kept"));
    // A second token of that name is not kept, and does not replace the first.
    let other = ApiToken { role: Role::Admin, ..reader.clone() };
    assert!(!store.add_token(&other, "h2").expect("refused"));
    assert_eq!(store.token_by_hash("h1").expect("read"), Some(reader.clone()));
    assert_eq!(store.token_by_hash("h2").expect("read"), None);
    let ci = ApiToken { name: "ci".into(), role: Role::Admin, created_at: 6, created_by: "ann".into() };
    assert!(store.add_token(&ci, "h3").expect("kept"));
    assert_eq!(store.tokens().expect("read"), vec![ci, reader]);
    assert!(store.remove_token("scim-reader").expect("removed"));
    assert!(!store.remove_token("scim-reader").expect("gone already"));
    assert_eq!(store.token_by_hash("h1").expect("read"), None);
}

fn the_audit_log_pages_newest_first_and_unread_notifications_are_counted_per_operator(backend: &Backend) {
    let store = backend.open();
    for i in 0..5 {
        let entry = AuditEntry {
            id: 0,
            at: i,
            actor: "ann".into(),
            via: "single sign-on".into(),
            address: "10.0.0.1".into(),
            action: format!("action {i}"),
            target: "acme/Prod".into(),
            outcome: "done".into(),
        };
        store.record(&entry).expect("recorded");
    }
    let newest = store.audit(None, 2).expect("read");
    assert_eq!(newest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["action 4", "action 3"]);
    let older = store.audit(Some(newest[1].id), 10).expect("read");
    assert_eq!(older.iter().map(|e| e.at).collect::<Vec<_>>(), [2, 1, 0]);
    assert_eq!(older[0].address, "10.0.0.1");

    assert_eq!(store.unread("ann").expect("counted"), 0);
    let first = store.add_notification(Some("acme/Prod"), "sync_failing", "failing", 1).expect("told");
    let second = store.add_notification(None, "sync_held", "held", 2).expect("told");
    assert_eq!((store.unread("ann").expect("counted"), store.unread("bob").expect("counted")), (2, 2));
    store.mark_read("ann", second).expect("read");
    // Reading an older one later does not make the newer unread again.
    store.mark_read("ann", first).expect("read");
    assert_eq!((store.unread("ann").expect("counted"), store.unread("bob").expect("counted")), (0, 2));
    store.add_notification(None, "sync_held", "held again", 3).expect("told");
    assert_eq!(store.unread("ann").expect("counted"), 1);
}

fn the_access_review_finds_who_left_the_directory_and_who_has_no_account(backend: &Backend) {
    let store = backend.open();
    let (okta, _) = connect(store.as_ref(), "okta", "Prod");
    let (slack, _) = connect(store.as_ref(), "slack", "Acme");
    // The directory: 0 and 1 active, 2 suspended; 3 active with no app account.
    let mut people = users(0..4);
    people[2].active = false;
    sync(store.as_ref(), okta, &people, 100);
    // Slack: 0 (in the directory), 2 (suspended there: left), 9 (never in it), 1 without access.
    let mut in_slack = vec![user(0), user(1), user(2), user(9)];
    in_slack[0].email = "U0@EXAMPLE.com".into();
    in_slack[1].active = false;
    sync(store.as_ref(), slack, &in_slack, 100);

    // Each list counted, with its rows: who left (connection, id, in the directory), who has no account.
    type Review = ((i64, Vec<(i64, String, bool)>), (i64, Vec<String>));
    let paged = |store: &dyn Store, page: Option<(i64, i64)>| -> Review {
        let (left, departed) = store.departed(page).expect("departed");
        let (alone, unaccounted) = store.unaccounted(page).expect("unaccounted");
        (
            (left, departed.into_iter().map(|d| (d.connection_id, d.user.user.external_id, d.in_directory)).collect()),
            (alone, unaccounted.into_iter().map(|(_, u)| u.user.external_id).collect()),
        )
    };
    let review = |store: &dyn Store| {
        let ((left, departed), (alone, unaccounted)) = paged(store, None);
        assert_eq!((left, alone), (departed.len() as i64, unaccounted.len() as i64), "every row, counted");
        (departed, unaccounted)
    };
    // Without a directory, the review has nothing to compare with.
    assert!(store.directories().expect("directories").is_empty());
    assert_eq!(review(store.as_ref()), (vec![], vec![]));
    store.set_directory(okta, true).expect("marked");
    store.set_directory(okta, true).expect("marked twice, still once");
    assert_eq!(store.directories().expect("directories"), [okta]);
    assert_eq!(
        review(store.as_ref()),
        (vec![(slack, "2".to_owned(), true), (slack, "9".to_owned(), false)], vec!["1".to_owned(), "3".to_owned()]),
        "2 left, 9 was never in the directory; 1 has no access in Slack and 3 no account"
    );
    // A page of each list, with the count of all; past the end, nothing.
    assert_eq!(
        paged(store.as_ref(), Some((1, 1))),
        ((2, vec![(slack, "9".to_owned(), false)]), (2, vec!["3".to_owned()]))
    );
    assert_eq!(paged(store.as_ref(), Some((0, 1))).1, (2, vec!["1".to_owned()]));
    assert_eq!(paged(store.as_ref(), Some((5, 10))), ((0, vec![]), (0, vec![])));
    store.set_directory(okta, false).expect("unmarked");
    assert!(store.directories().expect("directories").is_empty());
    assert_eq!(
        review(store.as_ref()),
        (vec![], vec![]),
        "every account is an app again, and no directory says who is active"
    );
    // A directory disconnected is no longer one.
    store.set_directory(slack, true).expect("marked");
    assert!(store.remove_connection(slack).expect("removed"));
    assert!(store.directories().expect("directories").is_empty());
}

fn a_person_is_an_email_across_every_account_in_any_case(backend: &Backend) {
    let store = backend.open();
    let (okta, _) = connect(store.as_ref(), "okta", "Prod");
    let (slack, _) = connect(store.as_ref(), "slack", "Acme");
    let mut in_okta = users(0..3);
    in_okta[0].email = "Ada@Example.com".into();
    in_okta[0].last_seen_at = Some("2026-01-02T00:00:00+00:00".parse().expect("a time"));
    let mut in_slack = users(10..12);
    in_slack[0].email = "ada@example.COM".into();
    in_slack[0].name = Some(Name::Full("Ada Lovelace".into()));
    in_slack[0].last_activity_at = Some("2026-03-04T00:00:00+00:00".parse().expect("a time"));
    in_slack[1].active = false;
    in_slack[1].email = "".into();
    sync(store.as_ref(), okta, &in_okta, 100);
    sync(store.as_ref(), slack, &in_slack, 100);

    let people = |query: PeopleQuery| -> Vec<(String, i64, i64)> {
        store.people(&query).expect("people").into_iter().map(|p| (p.email, p.accounts, p.with_access)).collect()
    };
    let all = PeopleQuery { limit: 100, ..PeopleQuery::default() };
    assert_eq!(
        people(all.clone()),
        [
            ("ada@example.com".to_owned(), 2, 2),
            ("u1@example.com".to_owned(), 1, 1),
            ("u2@example.com".to_owned(), 1, 1)
        ],
        "one person in two accounts; a user without an email is no one"
    );
    let ada = &store.people(&all).expect("people")[0];
    assert_eq!(ada.last_seen_at.as_deref(), Some("2026-03-04T00:00:00+00:00"), "the latest time any app gives");
    // Found by a name only one account gives, and shown with both.
    let found = people(PeopleQuery { search: Some("LOVELACE".into()), ..all.clone() });
    assert_eq!(found, [("ada@example.com".to_owned(), 2, 2)]);
    let after = people(PeopleQuery { after: Some("ADA@example.com".into()), limit: 1, ..all.clone() });
    assert_eq!(after, [("u1@example.com".to_owned(), 1, 1)], "pages after an email, in any case");

    let accounts: Vec<(i64, String)> =
        store.person("ADA@EXAMPLE.COM").expect("a person").into_iter().map(|(c, u)| (c, u.user.external_id)).collect();
    assert_eq!(accounts, [(okta, "0".to_owned()), (slack, "10".to_owned())]);
    assert!(store.person("nobody@example.com").expect("read").is_empty());
}

fn licenses_are_counted_by_account_with_the_holders_not_seen_apart(backend: &Backend) {
    let store = backend.open();
    let (okta, _) = connect(store.as_ref(), "okta", "Prod");
    let (slack, _) = connect(store.as_ref(), "slack", "Acme");
    let mut in_okta = users(0..4);
    in_okta[0].last_seen_at = Some("2026-06-01T00:00:00+00:00".parse().expect("a time"));
    in_okta[1].last_activity_at = Some("2026-06-01T12:30:00.250+00:00".parse().expect("a time"));
    in_okta[2].last_seen_at = Some("2025-01-01T00:00:00+00:00".parse().expect("a time"));
    in_okta[3].active = false;
    let mut in_slack = users(10..12);
    in_slack[0].licenses = std::borrow::Cow::Borrowed(&["Full Member", "Pro"]);
    sync(store.as_ref(), okta, &in_okta, 100);
    sync(store.as_ref(), slack, &in_slack, 100);

    let held: Vec<(i64, String, i64, i64)> = store
        .licenses_held("2026-06-01T00:00:00+00:00")
        .expect("licenses")
        .into_iter()
        .map(|l| (l.connection_id, l.license, l.holders, l.unseen))
        .collect();
    assert_eq!(
        held,
        [
            // 0 and 1 seen since; 2 seen before, and 3 is inactive.
            (okta, "Pro".to_owned(), 3, 1),
            (slack, "Pro".to_owned(), 2, 2),
            (slack, "Full Member".to_owned(), 1, 1),
        ],
        "by account, most held first; a holder no app gives a time for counts as not seen"
    );
    let unseen = store
        .find_users(
            okta,
            &UserQuery {
                license: Some("Pro".into()),
                access: Some(true),
                unseen_before: Some("2026-06-01T00:00:00+00:00".into()),
                ..UserQuery::default()
            },
        )
        .expect("holders");
    assert_eq!(unseen.iter().map(|u| u.user.external_id.as_str()).collect::<Vec<_>>(), ["2"]);
}

fn an_unchanged_resync_writes_no_user_and_stages_nothing(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..50), 100);
    let written_by = backend.sql("SELECT DISTINCT run_id FROM users");

    let Started { run_id, baseline } = staged(store.as_ref(), id, &users(0..50), 200);
    assert_eq!((baseline.kept_count(), baseline.present()), (50, 50), "every user found unchanged in the baseline");
    assert!(backend.staged().is_empty(), "nothing staged for unchanged users");
    let applied = store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), ApplyPolicy::default(), 200);
    assert_eq!(applied.expect("applied"), Applied::Applied { added: 0, updated: 0, deleted: 0 });
    assert_eq!(backend.sql("SELECT DISTINCT run_id FROM users"), written_by, "no user row rewritten");
    let stored = store.users(id, false).expect("users");
    assert!(stored.iter().all(|u| (u.first_seen, u.last_seen) == (100, 200)), "last seen at the sync that listed them");
    let last = store.last_run(id).expect("runs").expect("run");
    assert_eq!((last.outcome, last.added, last.updated, last.deleted), (Outcome::Applied, 0, 0, 0));
}

fn each_change_is_kept_in_the_users_history(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..4), 100);
    assert!(history(store.as_ref(), id, None).is_empty(), "an account's first sync records no appearances");

    let mut next = users(0..4);
    next[1].role = Some("Admin".into());
    next[2].licenses = std::borrow::Cow::Borrowed(&["Pro", "Audit"]);
    next.remove(3);
    next.push(user(9));
    assert_eq!(sync(store.as_ref(), id, &next, 200), Applied::Applied { added: 1, updated: 2, deleted: 1 });
    next.push(user(3));
    next[0].licenses = std::borrow::Cow::Borrowed(&[]);
    assert_eq!(sync(store.as_ref(), id, &next, 300), Applied::Applied { added: 1, updated: 1, deleted: 0 });

    let entries = history(store.as_ref(), id, None);
    let entry = |user: &str, event, what: &str| (user.to_owned(), event, what.to_owned());
    assert_eq!(
        entries,
        [
            entry("1", Event::Changed, r#"role=Some("Member")->Some("Admin")"#),
            entry("2", Event::LicenseGained, "Audit"),
            entry("9", Event::Appeared, ""),
            entry("9", Event::LicenseGained, "Pro"),
            entry("3", Event::Deleted, ""),
            entry("3", Event::LicenseLost, "Pro"),
            entry("0", Event::LicenseLost, "Pro"),
            entry("3", Event::Returned, ""),
            entry("3", Event::LicenseGained, "Pro"),
        ]
    );
    assert_eq!(history(store.as_ref(), id, Some("u3@example.com")).len(), 4, "by email");
    assert_eq!(history(store.as_ref(), id, Some("2")), [entry("2", Event::LicenseGained, "Audit")], "by id");

    // Kept for the policy's time: a sync a year on drops what is older.
    let policy = ApplyPolicy { keep_history_secs: 150, ..ApplyPolicy::default() };
    let Started { run_id, baseline } = staged(store.as_ref(), id, &next, 400);
    store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), policy, 400).expect("applied");
    let kept = history(store.as_ref(), id, None);
    assert_eq!(kept.len(), 3, "only the changes of the sync at 300 are within 150 s of 400: {kept:?}");
}

fn roles_groups_the_account_type_and_the_last_activity_are_kept_and_their_changes_recorded(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "jira", "Acme");
    let mut listed = users(0..3);
    listed[0].roles = vec!["admin".into(), "billing".into()];
    listed[0].groups = vec!["jira-software-users".into(), "site admins".into()];
    listed[0].account_type = Some("atlassian".into());
    listed[0].last_activity_at = Some("2026-12-01T09:30:00Z".parse().expect("a time"));
    listed[1].groups = vec!["jira-software-users".into()];
    sync(store.as_ref(), id, &listed, 100);

    let stored = store.users(id, false).expect("users");
    let first = &stored[0].user;
    assert_eq!(
        (first.roles.as_slice(), first.groups.as_slice()),
        (
            &["admin".to_owned(), "billing".to_owned()][..],
            &["jira-software-users".to_owned(), "site admins".to_owned()][..]
        )
    );
    assert_eq!(first.account_type.as_deref(), Some("atlassian"));
    assert_eq!(first.last_activity_at.as_deref(), Some("2026-12-01T09:30:00+00:00"));
    assert!(stored[2].user.groups.is_empty() && stored[2].user.account_type.is_none(), "none where the user has none");
    assert_eq!(
        store.group_counts(id).expect("groups"),
        [("jira-software-users".to_owned(), 2), ("site admins".to_owned(), 1)]
    );
    let members = UserQuery { group: Some("site admins".to_owned()), ..UserQuery::default() };
    let members: Vec<String> =
        store.find_users(id, &members).expect("members").into_iter().map(|u| u.user.external_id).collect();
    assert_eq!(members, ["0"]);
    let condition = Condition { field: UserField::Group, test: FieldTest::Equals("jira-software-users".to_owned()) };
    let software = UserQuery { conditions: vec![condition], ..UserQuery::default() };
    assert_eq!(store.count_users(id, &software).expect("count"), 2, "a condition on the groups, as SCIM filters");

    // Unchanged, nothing is written; a group left is a change in the history.
    let Started { baseline, run_id } = staged(store.as_ref(), id, &listed, 200);
    assert_eq!(baseline.kept_count(), 3, "the same roles and groups are the same record");
    store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), ApplyPolicy::default(), 200).expect("applied");
    store.release(id, OWNER).expect("release");
    listed[0].groups = vec!["jira-software-users".into()];
    sync(store.as_ref(), id, &listed, 300);
    assert_eq!(
        history(store.as_ref(), id, Some("0")),
        [(
            "0".to_owned(),
            Event::Changed,
            r#"groups=Some("[\"jira-software-users\",\"site admins\"]")->Some("[\"jira-software-users\"]")"#.to_owned()
        )]
    );
}

fn users_stored_before_digests_are_rewritten_once_and_not_counted_as_changed(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..5), 100);
    drop(store);
    // As an older tib left them: no digest.
    backend.sql("UPDATE users SET digest = NULL");
    let store = backend.open();
    assert_eq!(sync(store.as_ref(), id, &users(0..5), 200), Applied::Applied { added: 0, updated: 0, deleted: 0 });
    assert!(history(store.as_ref(), id, None).is_empty());
    assert_eq!(backend.sql("SELECT COUNT(*) FROM users WHERE digest IS NULL"), ["0"]);
    let Started { baseline, .. } = staged(store.as_ref(), id, &users(0..5), 300);
    assert_eq!(baseline.kept_count(), 5, "unchanged from now on");
}

fn a_sync_that_ran_while_a_held_one_was_approved_does_not_apply_over_it(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..30), 100);
    // Five listed, one of them changed (so the held run has staged a record).
    let mut few = users(0..5);
    few[0].role = Some("Admin".into());
    assert!(matches!(sync(store.as_ref(), id, &few, 200), Applied::Held { .. }));
    assert_eq!(backend.staged(), ["run-2", "run-2.kept"], "a held sync keeps its staging until approved");
    // A sync starts, then an operator approves the held one before it ends.
    let Started { run_id, baseline } = staged(store.as_ref(), id, &users(0..30), 300);
    store.approve_held(id, ApplyPolicy::default(), 301).expect("approve");
    let late = store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), ApplyPolicy::default(), 302);
    assert!(late.expect_err("refused").to_string().contains("the stored users changed while this sync ran"));
    store.fail_run(run_id, &RunTotals::default(), "refused", 302).expect("recorded");
    assert_eq!(store.user_counts(id).expect("counts"), (5, 30), "the approved sync stands");
    assert!(backend.staged().is_empty(), "{:?}", backend.staged());
}

fn damaged_staging_fails_the_sync_and_changes_nothing(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..5), 100);
    let before = store.users(id, true).expect("users");
    let Started { run_id, baseline } = staged(store.as_ref(), id, &users(5..9), 200);
    backend.tear_staging(run_id);
    let error = store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), ApplyPolicy::default(), 200);
    assert!(error.expect_err("damaged").to_string().contains("are damaged at byte"));
    assert_eq!(store.users(id, true).expect("users"), before);
}

fn a_complete_sync_replaces_users_and_keeps_the_missing_ones_as_deleted(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    assert_eq!(sync(store.as_ref(), id, &users(0..5), 100), Applied::Applied { added: 5, updated: 0, deleted: 0 });
    let mut changed = users(1..6);
    changed[0].email = "new@example.com".into();
    assert_eq!(
        sync(store.as_ref(), id, &changed, 200),
        Applied::Applied { added: 1, updated: 1, deleted: 1 },
        "updated counts the users that changed"
    );

    let all = store.users(id, true).expect("users");
    let gone = all.iter().find(|u| u.user.external_id == "0").expect("kept");
    assert!(gone.deleted && !gone.user.active && gone.user.licenses.is_empty(), "deleted, without access: {gone:?}");
    let one = all.iter().find(|u| u.user.external_id == "1").expect("user 1");
    assert_eq!((one.user.email.as_str(), one.first_seen, one.last_seen), ("new@example.com", 100, 200));
    assert_eq!(ids(store.as_ref(), id, false), ["1", "2", "3", "4", "5"]);
    assert_eq!(store.user_counts(id).expect("counts"), (5, 6));

    // A user who comes back is no longer deleted.
    sync(store.as_ref(), id, &users(0..6), 300);
    assert_eq!(store.user_counts(id).expect("counts"), (6, 6));
}

fn a_failed_sync_leaves_the_stored_users_exactly_as_they_were(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..5), 100);
    let before = store.users(id, true).expect("users");

    let run = staged(store.as_ref(), id, &users(10..13), 200).run_id;
    store.fail_run(run, &RunTotals::default(), "page 2: HTTP 500", 201).expect("fail");
    assert_eq!(store.users(id, true).expect("users"), before);
    let last = store.last_run(id).expect("runs").expect("a run");
    assert_eq!((last.outcome, last.error.as_deref()), (Outcome::Failed, Some("page 2: HTTP 500")));
}

fn a_sync_that_would_delete_most_users_is_held_until_approved(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..30), 100);
    // 19 of 30 gone: more than half, and more than 10.
    assert_eq!(sync(store.as_ref(), id, &users(0..11), 200), Applied::Held { would_delete: 19, of: 30 });
    assert_eq!(store.user_counts(id).expect("counts"), (30, 30), "nothing applied");
    let held = store.last_run(id).expect("runs").expect("run");
    assert_eq!((held.outcome, held.deleted, held.users_seen), (Outcome::Held, 19, 11), "what it would delete, kept");

    // Discarded: the stored users stay, nothing is held any more, and what it staged is gone.
    assert!(store.discard_held(id).expect("discard"));
    let discarded = store.last_run(id).expect("runs").expect("run");
    assert_eq!(
        (discarded.outcome, discarded.error.as_deref()),
        (Outcome::Superseded, Some(tib_runtime::store::DISCARDED))
    );
    assert!(!store.discard_held(id).expect("nothing held"), "nothing left to discard");
    assert_eq!(store.approve_held(id, ApplyPolicy::default(), 250).expect("nothing held"), None);
    assert!(backend.staged().is_empty(), "{:?}", backend.staged());
    assert_eq!(store.user_counts(id).expect("counts"), (30, 30), "the users as they were");

    // Held again: who it would delete is read in pages, changing nothing; then approved.
    assert_eq!(store.held_deletions(id, 0, 10, 250).expect("read"), None, "nothing held");
    let mut changed = users(0..11);
    changed[3].name = Some(Name::Full("Changed".into()));
    assert_eq!(sync(store.as_ref(), id, &changed, 260), Applied::Held { would_delete: 19, of: 30 });
    let ids = |page: &tib_runtime::store::HeldDeletions| -> Vec<String> {
        page.users.iter().map(|u| u.user.external_id.clone()).collect()
    };
    let first = store.held_deletions(id, 0, 5, 270).expect("read").expect("held");
    assert_eq!((first.total, first.present), (19, 30));
    assert_eq!(ids(&first), ["11", "12", "13", "14", "15"]);
    let last = store.held_deletions(id, 15, 5, 270).expect("read").expect("held");
    assert_eq!(ids(&last), ["26", "27", "28", "29"]);
    assert!(last.users.iter().all(|u| !u.deleted), "they are not deleted yet");
    assert_eq!(store.user_counts(id).expect("counts"), (30, 30), "reading changed nothing");
    assert_eq!(
        store.approve_held(id, ApplyPolicy::default(), 300).expect("approve"),
        Some(Applied::Applied { added: 0, updated: 1, deleted: 19 })
    );
    assert_eq!(store.user_counts(id).expect("counts"), (11, 30));
    assert_eq!(store.approve_held(id, ApplyPolicy::default(), 301).expect("nothing held"), None);

    // Under the bounds (10 or fewer, or half or less), syncs apply.
    let (small, _) = connect(store.as_ref(), "okta", "Small");
    sync(store.as_ref(), small, &users(0..12), 100);
    assert!(matches!(sync(store.as_ref(), small, &users(0..2), 200), Applied::Applied { deleted: 10, .. }));
}

/// A run that worked keeps its warning (only its first page read, say); one without has none.
fn a_run_keeps_its_warning_and_what_its_lookups_cost(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..3), 100);
    let Started { run_id, baseline } = staged(store.as_ref(), id, &users(0..3), 200);
    let warning = "only the first page was read: no page held the link to the next".to_owned();
    let totals = RunTotals {
        pages: 1,
        users_seen: 3,
        warning: Some(warning.clone()),
        lookups: 3,
        lookup_ms: 1_250,
        ..RunTotals::default()
    };
    store.complete_run(run_id, OWNER, baseline, &totals, ApplyPolicy::default(), 200).expect("complete");
    let runs = store.runs(id, 10).expect("runs");
    let kept: Vec<(Option<String>, i64, i64)> = runs.into_iter().map(|r| (r.warning, r.lookups, r.lookup_ms)).collect();
    assert_eq!(kept, [(Some(warning), 3, 1_250), (None, 0, 0)], "newest first");
}

fn a_newer_sync_supersedes_a_held_one(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..30), 100);
    assert!(matches!(sync(store.as_ref(), id, &users(0..5), 200), Applied::Held { .. }));
    assert!(matches!(sync(store.as_ref(), id, &users(0..29), 300), Applied::Applied { deleted: 1, .. }));
    assert_eq!(store.approve_held(id, ApplyPolicy::default(), 301).expect("approve"), None, "the held run is moot");
    let outcomes: Vec<Outcome> = store.runs(id, 10).expect("runs").into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Superseded, Outcome::Applied]);
}

fn connecting_again_replaces_the_accounts_users_at_its_next_sync_under_the_hold(backend: &Backend) {
    let store = backend.open();
    let (id, created) = connect(store.as_ref(), "okta", "Prod");
    assert_eq!(created, Upserted::Created);
    sync(store.as_ref(), id, &users(0..30), 100);
    let (again, replaced) = connect(store.as_ref(), "okta", "Prod");
    assert_eq!((again, replaced), (id, Upserted::Replaced));
    assert!(store.connection("okta", "Prod").expect("read").expect("exists").replace_users);
    // Connecting again is how a token is rotated: an API that then answers with nobody is held,
    // the stored users and their history untouched.
    assert_eq!(sync(store.as_ref(), id, &[], 200), Applied::Held { would_delete: 30, of: 30 });
    assert_eq!(ids(store.as_ref(), id, false).len(), 30);
    // Another listing altogether is held too; approved, it replaces the users outright.
    assert_eq!(sync(store.as_ref(), id, &users(100..103), 300), Applied::Held { would_delete: 30, of: 30 });
    assert_eq!(
        store.approve_held(id, ApplyPolicy::default(), 400).expect("approve"),
        Some(Applied::Applied { added: 3, updated: 0, deleted: 0 })
    );
    assert_eq!(
        ids(store.as_ref(), id, true),
        ["100", "101", "102"],
        "replaced: no deleted rows of the old listing kept"
    );
    assert!(!store.connection("okta", "Prod").expect("read").expect("exists").replace_users);
}

fn connecting_again_keeps_the_history_of_the_users_the_api_still_lists(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..30), 100);
    connect(store.as_ref(), "okta", "Prod");
    assert_eq!(
        sync(store.as_ref(), id, &users(1..31), 200),
        Applied::Applied { added: 1, updated: 0, deleted: 0 },
        "the 29 listed again are unchanged: nothing is written for them"
    );
    let stored = store.users(id, true).expect("users");
    assert_eq!(stored.len(), 30, "user 0 is gone outright: connecting again replaces");
    let first_seen: Vec<i64> = stored.iter().map(|u| u.first_seen).collect();
    assert_eq!(first_seen.iter().filter(|t| **t == 100).count(), 29, "first seen at the first sync, not reset");
    assert_eq!(stored.iter().find(|u| u.user.external_id == "30").map(|u| u.first_seen), Some(200));
}

fn two_accounts_of_one_integration_are_kept_apart(backend: &Backend) {
    let store = backend.open();
    let (prod, _) = connect(store.as_ref(), "okta", "Prod");
    let (dev, _) = connect(store.as_ref(), "okta", "Dev");
    assert_ne!(prod, dev);
    sync(store.as_ref(), prod, &users(0..4), 100);
    sync(store.as_ref(), dev, &users(2..3), 100);
    assert_eq!(ids(store.as_ref(), prod, true), ["0", "1", "2", "3"]);
    assert_eq!(ids(store.as_ref(), dev, true), ["2"]);
    assert!(store.remove_connection(dev).expect("remove"));
    assert_eq!(ids(store.as_ref(), prod, true), ["0", "1", "2", "3"]);
    assert!(store.users(dev, true).expect("users").is_empty());
}

fn runs_of_a_dead_process_are_recovered_as_interrupted_and_their_staging_dropped(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..3), 100);
    assert!(store.try_lease(id, OWNER, 1000).expect("lease"));
    assert!(!store.try_lease(id, "host:2", 1000).expect("lease"), "a live lease is respected");
    staged(store.as_ref(), id, &users(50..60), 200);

    assert_eq!(store.recover_interrupted(&|_| true, 300).expect("recover"), 0, "its owner still runs");
    assert_eq!(backend.staged(), ["run-2"]);
    assert_eq!(store.recover_interrupted(&|owner| owner != OWNER, 300).expect("recover"), 1);
    assert!(backend.staged().is_empty(), "its staging is dropped");
    let last = store.last_run(id).expect("runs").expect("run");
    assert_eq!(last.outcome, Outcome::Interrupted);
    assert_eq!(ids(store.as_ref(), id, true), ["0", "1", "2"]);
    assert!(store.try_lease(id, "host:2", 1000).expect("lease"), "the lease is free again");

    // Reopening the file (as after a restart) keeps everything and migrates nothing twice.
    drop(store);
    let store = backend.open();
    assert_eq!(ids(store.as_ref(), id, true), ["0", "1", "2"]);
    let health = store.health().expect("health");
    assert!(health.contains(backend.healthy()), "{health}");
}

fn an_authorization_state_is_taken_once_and_expired_ones_are_swept(backend: &Backend) {
    use tib_runtime::store::PendingAuthorization;
    let store = backend.open();
    let pending = |state: &str, expires_at| PendingAuthorization {
        state: state.into(),
        integration: "hubspot".into(),
        account: "Prod".into(),
        sealed_verifier: b"sealed".to_vec(),
        redirect_uri: "http://127.0.0.1:8421/oauth/callback/hubspot".into(),
        expires_at,
    };
    store.add_authorization(&pending("s1", 1000)).expect("add");
    store.add_authorization(&pending("old", 100)).expect("add");
    assert_eq!(store.take_authorization("s1", 500).expect("take"), Some(pending("s1", 1000)));
    assert_eq!(store.take_authorization("s1", 500).expect("take"), None, "single use");
    assert_eq!(store.take_authorization("old", 500).expect("take"), None, "swept when it expired");
}

fn a_first_sync_inserts_every_user_once_the_first_listing_standing(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    // 200 users and one listed twice: more than one statement's 64 rows, and a remainder.
    let mut listed = users(0..200);
    let mut again = user(7);
    again.email = "later@example.com".into();
    listed.insert(150, again);
    assert_eq!(sync(store.as_ref(), id, &listed, 100), Applied::Applied { added: 200, updated: 0, deleted: 0 });
    let stored = store.users(id, true).expect("users");
    assert_eq!(stored.len(), 200);
    let seven = stored.iter().find(|u| u.user.external_id == "7").expect("user 7");
    assert_eq!(seven.user.email, "u7@example.com", "the first listing stands");
    assert_eq!(stored.iter().find(|u| u.user.external_id == "199").map(|u| u.first_seen), Some(100));
}

fn users_are_read_in_pages_by_access_license_change_and_search(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    let mut first = users(10..20);
    first[0].active = false;
    first[1].licenses = std::borrow::Cow::Borrowed(&["Enterprise", "Pro"]);
    first[2].name = Some(Name::Split { first: Some("Ada".into()), last: Some("Lovelace".into()) });
    sync(store.as_ref(), id, &first, 100);
    // The second sync changes 13, adds 20 and drops 19: only 13 and 20 changed since it.
    let mut second: Vec<User> = first.iter().filter(|u| u.external_id != "19").cloned().collect();
    second[3].role = Some("Admin".into());
    second.push(user(20));
    sync(store.as_ref(), id, &second, 200);

    let find = |query: UserQuery| -> Vec<String> {
        store.find_users(id, &query).expect("users").into_iter().map(|u| u.user.external_id).collect()
    };
    let all: Vec<String> = (10..21).map(|n| n.to_string()).collect();
    assert_eq!(find(UserQuery::default()), all, "every stored user, by external id");
    assert_eq!(find(UserQuery { access: Some(false), ..UserQuery::default() }), ["10", "19"], "inactive and deleted");
    assert_eq!(find(UserQuery { access: Some(true), ..UserQuery::default() }).len(), 9);
    assert_eq!(find(UserQuery { license: Some("Enterprise".into()), ..UserQuery::default() }), ["11"]);
    let counts = store.license_counts(id).expect("counts");
    assert_eq!(counts, [("Pro".to_owned(), 9), ("Enterprise".to_owned(), 1)], "held by users with access only");
    assert_eq!(find(UserQuery { changed_since: Some(150), ..UserQuery::default() }), ["13", "20"]);
    assert_eq!(find(UserQuery { search: Some("LOVE".into()), ..UserQuery::default() }), ["12"], "by name, any case");
    assert_eq!(find(UserQuery { search: Some("u15@".into()), ..UserQuery::default() }), ["15"], "by email");

    // Pages of four, each after the last id of the one before, cover every user once.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = find(UserQuery { after: after.clone(), limit: Some(4), ..UserQuery::default() });
        if page.is_empty() {
            break;
        }
        after = page.last().cloned();
        paged.extend(page);
    }
    assert_eq!(paged, all);
}

fn conditions_on_fields_select_users_and_count_them_and_offsets_page_them(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    let mut rows = users(10..20);
    rows[0].active = false;
    rows[1].username = Some("Ada.Admin".into());
    sync(store.as_ref(), id, &rows, 100);
    let query = |conditions: Vec<Condition>| UserQuery { conditions, ..UserQuery::default() };
    let on = |field, test| Condition { field, test };
    let find = |q: &UserQuery| -> Vec<String> {
        store.find_users(id, q).expect("users").into_iter().map(|u| u.user.external_id).collect()
    };
    let named = query(vec![on(UserField::UserName, FieldTest::Equals("ada.admin".into()))]);
    assert_eq!(find(&named), ["11"], "userName without regard to case");
    let by_email = query(vec![on(UserField::UserName, FieldTest::Equals("U12@EXAMPLE.COM".into()))]);
    assert_eq!(find(&by_email), ["12"], "userName is the email where there is no username");
    let starts = query(vec![on(UserField::Email, FieldTest::StartsWith("u1".into()))]);
    assert_eq!(store.count_users(id, &starts).expect("count"), 10);
    let contains = query(vec![on(UserField::Email, FieldTest::Contains("5@".into()))]);
    assert_eq!(find(&contains), ["15"]);
    let exact = query(vec![on(UserField::ExternalId, FieldTest::Equals("13".into()))]);
    assert_eq!(find(&exact), ["13"]);
    let inactive = query(vec![on(UserField::Access, FieldTest::Is(false))]);
    assert_eq!(find(&inactive), ["10"]);
    let both = query(vec![
        on(UserField::Access, FieldTest::Is(true)),
        on(UserField::Email, FieldTest::StartsWith("u1".into())),
        on(UserField::UserName, FieldTest::Present),
    ]);
    assert_eq!(store.count_users(id, &both).expect("count"), 9, "conditions all hold");
    let page = UserQuery { offset: Some(3), limit: Some(4), ..both.clone() };
    assert_eq!(find(&page), ["14", "15", "16", "17"]);
    assert_eq!(store.count_users(id, &page).expect("count"), 9, "the count leaves paging aside");
}

fn users_are_sorted_by_email_name_and_times_those_without_the_value_last(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    let at = |day: u32| Some(chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 1, day, 0, 0, 0).unwrap());
    let mut rows = users(1..5);
    rows[0].email = "zed@example.com".into();
    rows[1].email = "Amy@example.com".into();
    rows[0].name = Some(Name::Full("bob".into()));
    rows[2].name = Some(Name::Split { first: Some("Al".into()), last: None });
    rows[3].name = None;
    rows[1].last_seen_at = at(3);
    rows[2].last_seen_at = at(9);
    rows[0].created_at = at(1);
    rows[3].created_at = at(2);
    sync(store.as_ref(), id, &rows, 100);
    let sorted = |order: UserOrder| -> Vec<String> {
        let query = UserQuery { order, ..UserQuery::default() };
        store.find_users(id, &query).expect("users").into_iter().map(|u| u.user.external_id).collect()
    };
    assert_eq!(sorted(UserOrder::ExternalId), ["1", "2", "3", "4"]);
    assert_eq!(sorted(UserOrder::Email), ["2", "3", "4", "1"], "without regard to case");
    assert_eq!(sorted(UserOrder::Name), ["3", "1", "2", "4"], "Al, bob, User 2; the nameless last");
    assert_eq!(sorted(UserOrder::LastSeen), ["3", "2", "1", "4"], "the most recent first");
    assert_eq!(sorted(UserOrder::Created), ["4", "1", "2", "3"]);
}

fn a_sync_that_lost_its_lease_is_not_applied(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..5), 100);
    let before = store.users(id, true).expect("users");
    let Started { run_id, baseline } = staged(store.as_ref(), id, &users(3..9), 200);
    // Stopped past its lease: another instance records the run as interrupted and takes the connection over.
    assert!(!store.try_lease(id, "other-host:2", 2000).expect("lease"), "not before the lease is freed");
    assert_eq!(store.recover_interrupted(&|_| true, 1200).expect("recover"), 1, "the lease expired at 1100");
    assert!(store.try_lease(id, "other-host:2", 2000).expect("lease"), "the freed lease is taken over");
    let late = store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), ApplyPolicy::default(), 1201);
    let error = late.expect_err("refused").to_string();
    assert!(error.contains("lost its lease") && error.contains("other-host:2"), "{error}");
    assert_eq!(store.users(id, true).expect("users"), before, "nothing applied");
    // Its failure recorded late changes nothing: the run stays interrupted, the other's lease stays.
    store.fail_run(run_id, &RunTotals::default(), &error, 1202).expect("fail");
    assert_eq!(store.last_run(id).expect("runs").expect("run").outcome, Outcome::Interrupted);
    assert!(!store.try_lease(id, OWNER, 3000).expect("lease"), "still the other's");
    // Even once the same process holds the lease again, the interrupted run cannot apply.
    store.release(id, "other-host:2").expect("release");
    assert!(store.try_lease(id, OWNER, 3000).expect("lease"));
    let Started { baseline, .. } = store.start_run(id, OWNER, 1300).expect("run");
    let again = store.complete_run(run_id, OWNER, baseline, &RunTotals::default(), ApplyPolicy::default(), 1301);
    assert!(again.expect_err("refused").to_string().contains("the run is interrupted"));
}

/// Connects `n` accounts of `integration`, due at `due` one second apart in that order; their ids.
fn due_connections(store: &dyn Store, integration: &str, n: usize, due: i64) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let (id, _) = connect(store, integration, &format!("account-{i}"));
            store.set_next_sync(id, due + i as i64).expect("due");
            id
        })
        .collect()
}

/// A claim at `now` by `owner` of at most `limit` (`slow_limit` slow) under `caps`, leased for 100 seconds;
/// the accounts claimed.
fn claim(store: &dyn Store, owner: &str, now: i64, limits: (usize, usize), caps: &[(&str, usize)]) -> Vec<String> {
    let caps = caps.iter().map(|(name, cap)| (name.to_string(), *cap)).collect();
    let next = |c: &Connection| 10_000 + c.id;
    let claim = Claim {
        owner,
        now,
        until: now + 100,
        limit: limits.0,
        slow_limit: limits.1,
        slow_after: 900,
        caps: &caps,
        next: &next,
    };
    let claimed = store.claim_due(&claim).expect("claim");
    claimed.into_iter().map(|c| format!("{}{}", c.connection.name(), if c.slow { " (slow)" } else { "" })).collect()
}

fn due_connections_are_claimed_once_within_the_limit_the_slow_share_and_each_integrations_cap(backend: &Backend) {
    let store = backend.open();
    due_connections(store.as_ref(), "okta", 4, 10);
    let slack = due_connections(store.as_ref(), "slack", 3, 20);
    let (later, _) = connect(store.as_ref(), "slack", "later");
    store.set_next_sync(later, 500).expect("not due yet");
    // The slack account due first had a sync that lasted an hour.
    store.try_lease(slack[0], "old:1", 0).expect("lease");
    let run = store.start_run(slack[0], "old:1", 0).expect("run").run_id;
    store.fail_run(run, &RunTotals::default(), "too slow", 3600).expect("fail");

    let first = claim(store.as_ref(), "a:1", 100, (4, 0), &[("okta", 2)]);
    assert_eq!(first, ["okta/account-0", "okta/account-1", "slack/account-1", "slack/account-2"]);
    let second = claim(store.as_ref(), "b:2", 100, (4, 1), &[("okta", 2)]);
    assert_eq!(second, ["slack/account-0 (slow)"], "okta is at its cap on every instance; the slow one may come now");
    assert!(claim(store.as_ref(), "b:2", 100, (4, 1), &[("okta", 2)]).is_empty(), "each slot is claimed once");
    // A claimed connection is leased, and due again at the next its claim set.
    assert!(!store.try_lease(slack[1], "c:3", 1000).expect("lease"));
    let claimed = store.connection("slack", "account-1").expect("read").expect("exists");
    assert_eq!(claimed.next_sync_at, 10_000 + claimed.id);
    // A sync ending frees its lease, and the cap has room again.
    let run = store.start_run(slack[1], "a:1", 100).expect("run").run_id;
    store.fail_run(run, &RunTotals::default(), "HTTP 500", 110).expect("fail");
    assert!(store.try_lease(slack[1], "c:3", 1000).expect("lease"), "freed with its run");
    let okta = store.connection("okta", "account-0").expect("read").expect("exists").id;
    store.release(okta, "a:1").expect("release");
    assert_eq!(claim(store.as_ref(), "b:2", 100, (4, 1), &[("okta", 2)]), ["okta/account-2"]);
    assert_eq!(claim(store.as_ref(), "b:2", 100, (4, 1), &[]), ["okta/account-3"], "without a cap, nothing held back");
    assert_eq!(claim(store.as_ref(), "b:2", 600, (4, 1), &[]), ["slack/later"]);
}

fn a_lease_renewed_stands_and_a_lapsed_one_is_freed_with_its_connection_due_again(backend: &Backend) {
    let store = backend.open();
    let ids = due_connections(store.as_ref(), "okta", 2, 10);
    assert_eq!(claim(store.as_ref(), "a:1", 100, (2, 0), &[]).len(), 2);
    // One never started its sync; the other did.
    let Started { run_id, .. } = store.start_run(ids[1], "a:1", 100).expect("run");
    let refused = store.start_run(ids[0], "b:2", 100).expect_err("not b's lease").to_string();
    assert!(refused.contains("lost its lease") && refused.contains("b:2"), "{refused}");
    assert_eq!(store.renew_leases("a:1", &ids, 400).expect("renew"), 2);
    assert_eq!(store.renew_leases("b:2", &ids, 400).expect("renew"), 0, "only its own");
    assert_eq!(store.renew_leases("a:1", &[], 900).expect("renew"), 0, "only those it names");
    assert_eq!(store.recover_interrupted(&|_| true, 300).expect("recover"), 0, "renewed: still live at 300");
    assert_eq!(store.recover_interrupted(&|_| true, 401).expect("recover"), 2, "both lapsed at 400");
    let run = store.last_run(ids[1]).expect("runs").expect("run");
    assert_eq!((run.id, run.outcome), (run_id, Outcome::Interrupted));
    for id in &ids {
        let connection = store.connections().expect("read").into_iter().find(|c| c.id == *id).expect("exists");
        assert_eq!(connection.next_sync_at, 401, "due again, to sync in the slot it lost");
    }
    // Interrupted twice in a row: it waits for its next slot, lest a sync that kills its process loop.
    assert_eq!(claim(store.as_ref(), "b:2", 500, (2, 0), &[]).len(), 2);
    store.start_run(ids[1], "b:2", 500).expect("run");
    assert_eq!(store.recover_interrupted(&|owner| owner != "b:2", 501).expect("recover"), 2, "its owner is gone");
    let connections = store.connections().expect("read");
    let next = |id: i64| connections.iter().find(|c| c.id == id).expect("exists").next_sync_at;
    assert_eq!((next(ids[0]), next(ids[1])), (501, 10_000 + ids[1]));
}

fn text_beyond_ascii_is_matched_without_regard_to_case(backend: &Backend) {
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    let mut rows = users(0..3);
    rows[1].email = "Émile@Example.com".into();
    rows[1].name = Some(Name::Full("Émile Zoë Ångström".into()));
    sync(store.as_ref(), id, &rows, 100);
    let find = |q: &UserQuery| -> Vec<String> {
        store.find_users(id, q).expect("users").into_iter().map(|u| u.user.external_id).collect()
    };
    let on = |field, test| UserQuery { conditions: vec![Condition { field, test }], ..UserQuery::default() };
    assert_eq!(find(&on(UserField::Email, FieldTest::Equals("émile@example.com".into()))), ["1"]);
    assert_eq!(find(&on(UserField::UserName, FieldTest::Equals("ÉMILE@EXAMPLE.COM".into()))), ["1"]);
    assert_eq!(find(&on(UserField::Email, FieldTest::StartsWith("ÉMI".into()))), ["1"]);
    assert_eq!(find(&on(UserField::Email, FieldTest::Contains("mile@".into()))), ["1"]);
    let search = |text: &str| UserQuery { search: Some(text.to_owned()), ..UserQuery::default() };
    assert_eq!(find(&search("ÅNGSTRÖM")), ["1"], "a search of the name");
    assert_eq!(find(&search("émile@")), ["1"], "a search of the email");
}

/// SCIM's `userName eq` and a person's email are found through their indexes, not by reading every
/// user of the connection: the statistics a sync gathers let SQLite's planner see that.
#[test]
fn searches_by_user_name_and_email_use_their_indexes_on_sqlite() {
    let backend = Backend::sqlite();
    let store = backend.open();
    let (id, _) = connect(store.as_ref(), "okta", "Prod");
    sync(store.as_ref(), id, &users(0..2000), 100);
    let Backend::Sqlite(dir) = &backend else { unreachable!("an SQLite backend") };
    let db = rusqlite::Connection::open(dir.path().join("data/tib.db")).expect("the store");
    let plan = |query: &str| -> String {
        let mut statement = db.prepare(&format!("EXPLAIN QUERY PLAN {query}")).expect("a plan");
        let rows = statement.query_map([], |r| r.get::<_, String>(3)).expect("its steps");
        rows.collect::<rusqlite::Result<Vec<_>>>().expect("read").join("; ")
    };
    let by_name =
        plan("SELECT * FROM users WHERE (connection_id = 1) AND (lower(COALESCE(username, email)) = 'u7@example.com')");
    assert!(by_name.contains("USING INDEX users_by_user_name"), "{by_name}");
    let by_person = plan("SELECT * FROM users WHERE lower(email) = 'u7@example.com'");
    assert!(by_person.contains("USING INDEX users_by_person"), "{by_person}");
}
