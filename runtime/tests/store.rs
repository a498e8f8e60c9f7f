//! The SQLite store on a real file: atomic syncs, deletions, the hold
//! policy, replaced accounts, interrupted runs, separate accounts.

use tib_runtime::store::sqlite::Sqlite;
use tib_runtime::store::{Applied, HoldPolicy, NewConnection, Outcome, RunTotals, Store, Upserted, UserRow};

fn user(id: usize) -> UserRow {
    UserRow {
        external_id: id.to_string(),
        email: format!("u{id}@example.com"),
        username: None,
        full_name: Some(format!("User {id}")),
        first_name: None,
        last_name: None,
        role: Some("Member".into()),
        created_at: None,
        last_seen_at: None,
        active: true,
        status: "Active".into(),
        licenses: vec!["Pro".into()],
        custom_fields: serde_json::Map::new(),
    }
}

fn users(ids: std::ops::Range<usize>) -> Vec<UserRow> {
    ids.map(user).collect()
}

fn connect(store: &Sqlite, integration: &str, account: &str) -> (i64, Upserted) {
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

/// A complete sync returning `rows`, staged over pages of 3.
fn sync(store: &Sqlite, id: i64, rows: &[UserRow], now: i64) -> Applied {
    let run = store.start_run(id, now).expect("run");
    for page in rows.chunks(3) {
        store.stage(run, page).expect("stage");
    }
    let totals =
        RunTotals { pages: rows.len().div_ceil(3) as i64, users_seen: rows.len() as i64, ..RunTotals::default() };
    store.complete_run(run, &totals, HoldPolicy::default(), now).expect("complete")
}

fn ids(store: &Sqlite, id: i64, all: bool) -> Vec<String> {
    store.users(id, all).expect("users").into_iter().map(|u| u.user.external_id).collect()
}

fn open(dir: &tempfile::TempDir) -> Sqlite {
    Sqlite::open(&dir.path().join("data/tib.db")).expect("open")
}

#[test]
fn a_complete_sync_replaces_users_and_keeps_the_missing_ones_as_deleted() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, _) = connect(&store, "okta", "Prod");
    assert_eq!(sync(&store, id, &users(0..5), 100), Applied::Applied { added: 5, updated: 0, deleted: 0 });
    let mut changed = users(1..6);
    changed[0].email = "new@example.com".into();
    assert_eq!(sync(&store, id, &changed, 200), Applied::Applied { added: 1, updated: 4, deleted: 1 });

    let all = store.users(id, true).expect("users");
    let gone = all.iter().find(|u| u.user.external_id == "0").expect("kept");
    assert!(gone.deleted && !gone.user.active && gone.user.licenses.is_empty(), "deleted, without access: {gone:?}");
    let one = all.iter().find(|u| u.user.external_id == "1").expect("user 1");
    assert_eq!((one.user.email.as_str(), one.first_seen, one.last_seen), ("new@example.com", 100, 200));
    assert_eq!(ids(&store, id, false), ["1", "2", "3", "4", "5"]);
    assert_eq!(store.user_counts(id).expect("counts"), (5, 6));

    // A user who comes back is no longer deleted.
    sync(&store, id, &users(0..6), 300);
    assert_eq!(store.user_counts(id).expect("counts"), (6, 6));
}

#[test]
fn a_failed_sync_leaves_the_stored_users_exactly_as_they_were() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, _) = connect(&store, "okta", "Prod");
    sync(&store, id, &users(0..5), 100);
    let before = store.users(id, true).expect("users");

    let run = store.start_run(id, 200).expect("run");
    store.stage(run, &users(10..13)).expect("stage");
    store.fail_run(run, &RunTotals::default(), "page 2: HTTP 500", 201).expect("fail");
    assert_eq!(store.users(id, true).expect("users"), before);
    let last = store.last_run(id).expect("runs").expect("a run");
    assert_eq!((last.outcome, last.error.as_deref()), (Outcome::Failed, Some("page 2: HTTP 500")));
}

#[test]
fn a_sync_that_would_delete_most_users_is_held_until_approved() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, _) = connect(&store, "okta", "Prod");
    sync(&store, id, &users(0..30), 100);
    // 19 of 30 gone: more than half, and more than 10.
    assert_eq!(sync(&store, id, &users(0..11), 200), Applied::Held { would_delete: 19, of: 30 });
    assert_eq!(store.user_counts(id).expect("counts"), (30, 30), "nothing applied");
    assert_eq!(store.last_run(id).expect("runs").expect("run").outcome, Outcome::Held);

    assert_eq!(
        store.approve_held(id, 300).expect("approve"),
        Some(Applied::Applied { added: 0, updated: 11, deleted: 19 })
    );
    assert_eq!(store.user_counts(id).expect("counts"), (11, 30));
    assert_eq!(store.approve_held(id, 301).expect("nothing held"), None);

    // Under the bounds (10 or fewer, or half or less), syncs apply.
    let (small, _) = connect(&store, "okta", "Small");
    sync(&store, small, &users(0..12), 100);
    assert!(matches!(sync(&store, small, &users(0..2), 200), Applied::Applied { deleted: 10, .. }));
}

#[test]
fn a_newer_sync_supersedes_a_held_one() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, _) = connect(&store, "okta", "Prod");
    sync(&store, id, &users(0..30), 100);
    assert!(matches!(sync(&store, id, &users(0..5), 200), Applied::Held { .. }));
    assert!(matches!(sync(&store, id, &users(0..29), 300), Applied::Applied { deleted: 1, .. }));
    assert_eq!(store.approve_held(id, 301).expect("approve"), None, "the held run is moot");
    let outcomes: Vec<Outcome> = store.runs(id, 10).expect("runs").into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Applied, Outcome::Superseded, Outcome::Applied]);
}

#[test]
fn connecting_again_replaces_the_accounts_users_at_its_next_sync_under_the_hold() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, created) = connect(&store, "okta", "Prod");
    assert_eq!(created, Upserted::Created);
    sync(&store, id, &users(0..30), 100);
    let (again, replaced) = connect(&store, "okta", "Prod");
    assert_eq!((again, replaced), (id, Upserted::Replaced));
    assert!(store.connection("okta", "Prod").expect("read").expect("exists").replace_users);
    // Connecting again is how a token is rotated: an API that then answers with nobody is held,
    // the stored users and their history untouched.
    assert_eq!(sync(&store, id, &[], 200), Applied::Held { would_delete: 30, of: 30 });
    assert_eq!(ids(&store, id, false).len(), 30);
    // Another listing altogether is held too; approved, it replaces the users outright.
    assert_eq!(sync(&store, id, &users(100..103), 300), Applied::Held { would_delete: 30, of: 30 });
    assert_eq!(
        store.approve_held(id, 400).expect("approve"),
        Some(Applied::Applied { added: 3, updated: 0, deleted: 0 })
    );
    assert_eq!(ids(&store, id, true), ["100", "101", "102"], "replaced: no deleted rows of the old listing kept");
    assert!(!store.connection("okta", "Prod").expect("read").expect("exists").replace_users);
}

#[test]
fn connecting_again_keeps_the_history_of_the_users_the_api_still_lists() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, _) = connect(&store, "okta", "Prod");
    sync(&store, id, &users(0..30), 100);
    connect(&store, "okta", "Prod");
    assert_eq!(sync(&store, id, &users(1..31), 200), Applied::Applied { added: 1, updated: 29, deleted: 0 });
    let stored = store.users(id, true).expect("users");
    assert_eq!(stored.len(), 30, "user 0 is gone outright: connecting again replaces");
    let first_seen: Vec<i64> = stored.iter().map(|u| u.first_seen).collect();
    assert_eq!(first_seen.iter().filter(|t| **t == 100).count(), 29, "first seen at the first sync, not reset");
    assert_eq!(stored.iter().find(|u| u.user.external_id == "30").map(|u| u.first_seen), Some(200));
}

#[test]
fn two_accounts_of_one_integration_are_kept_apart() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (prod, _) = connect(&store, "okta", "Prod");
    let (dev, _) = connect(&store, "okta", "Dev");
    assert_ne!(prod, dev);
    sync(&store, prod, &users(0..4), 100);
    sync(&store, dev, &users(2..3), 100);
    assert_eq!(ids(&store, prod, true), ["0", "1", "2", "3"]);
    assert_eq!(ids(&store, dev, true), ["2"]);
    assert!(store.remove_connection(dev).expect("remove"));
    assert_eq!(ids(&store, prod, true), ["0", "1", "2", "3"]);
    assert!(store.users(dev, true).expect("users").is_empty());
}

#[test]
fn runs_of_a_dead_process_are_recovered_as_interrupted_and_their_staging_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
    let (id, _) = connect(&store, "okta", "Prod");
    sync(&store, id, &users(0..3), 100);
    assert!(store.try_lease(id, "host:1", 1000, 200).expect("lease"));
    assert!(!store.try_lease(id, "host:2", 1000, 200).expect("lease"), "a live lease is respected");
    let run = store.start_run(id, 200).expect("run");
    store.stage(run, &users(50..60)).expect("stage");

    assert_eq!(store.recover_interrupted(&|_| true, 300).expect("recover"), 0, "its owner still runs");
    assert_eq!(store.recover_interrupted(&|owner| owner != "host:1", 300).expect("recover"), 1);
    let last = store.last_run(id).expect("runs").expect("run");
    assert_eq!(last.outcome, Outcome::Interrupted);
    assert_eq!(ids(&store, id, true), ["0", "1", "2"]);
    assert!(store.try_lease(id, "host:2", 1000, 300).expect("lease"), "the lease is free again");

    // Reopening the file (as after a restart) keeps everything and migrates nothing twice.
    drop(store);
    let store = open(&dir);
    assert_eq!(ids(&store, id, true), ["0", "1", "2"]);
    assert!(store.health().expect("health").contains("schema 2, integrity ok"));
}

#[test]
fn an_authorization_state_is_taken_once_and_expired_ones_are_swept() {
    use tib_runtime::store::PendingAuthorization;
    let dir = tempfile::tempdir().expect("dir");
    let store = open(&dir);
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
