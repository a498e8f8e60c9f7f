//! The sync engine over a real SQLite file and the demo Acme API on
//! 127.0.0.1: store work never holds the async workers, so one account's
//! long apply does not stop another account's sync.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tib_runtime::store::sqlite::Sqlite;
use tib_runtime::store::*;
use tib_runtime::sync::{Ended, Engine};

/// The SQLite store, except that completing one connection's run waits until
/// the test opens the gate: an apply that takes as long as the test likes.
struct Gated {
    inner: Sqlite,
    gated: i64,
    /// The gated connection's run, once started.
    run: AtomicI64,
    entered: AtomicBool,
    gate: Mutex<std::sync::mpsc::Receiver<()>>,
    /// The gate was never opened: the test could not go on while the apply was held.
    timed_out: AtomicBool,
}

// Every aggregate but the runs is the SQLite store's own.
impl Connections for Gated {
    fn upsert_connection(&self, new: &NewConnection<'_>) -> Result<Upserted> {
        self.inner.upsert_connection(new)
    }
    fn connection(&self, integration: &str, account: &str) -> Result<Option<Connection>> {
        self.inner.connection(integration, account)
    }
    fn connections(&self) -> Result<Vec<Connection>> {
        self.inner.connections()
    }
    fn remove_connection(&self, id: i64) -> Result<bool> {
        self.inner.remove_connection(id)
    }
    fn set_enabled(&self, id: i64, enabled: bool, reason: Option<&str>) -> Result<()> {
        self.inner.set_enabled(id, enabled, reason)
    }
    fn set_next_sync(&self, id: i64, at: Time) -> Result<()> {
        self.inner.set_next_sync(id, at)
    }
}

impl Leases for Gated {
    fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Claimed>> {
        self.inner.claim_due(claim)
    }
    fn renew_leases(&self, owner: &str, ids: &[i64], until: Time) -> Result<usize> {
        self.inner.renew_leases(owner, ids, until)
    }
    fn try_lease(&self, id: i64, owner: &str, until: Time) -> Result<bool> {
        self.inner.try_lease(id, owner, until)
    }
    fn release(&self, id: i64, owner: &str) -> Result<()> {
        self.inner.release(id, owner)
    }
    fn recover_interrupted(&self, is_alive: &dyn Fn(&str) -> bool, now: Time) -> Result<usize> {
        self.inner.recover_interrupted(is_alive, now)
    }
}

impl Runs for Gated {
    fn start_run(&self, connection_id: i64, owner: &str, now: Time) -> Result<Started> {
        let started = self.inner.start_run(connection_id, owner, now)?;
        if connection_id == self.gated {
            self.run.store(started.run_id, Ordering::SeqCst);
        }
        Ok(started)
    }
    fn stage(&self, run_id: i64, records: &[u8]) -> Result<()> {
        self.inner.stage(run_id, records)
    }
    fn complete_run(
        &self,
        run_id: i64,
        owner: &str,
        baseline: Baseline,
        totals: &RunTotals,
        policy: ApplyPolicy,
        now: Time,
    ) -> Result<Applied> {
        if run_id == self.run.load(Ordering::SeqCst) {
            self.entered.store(true, Ordering::SeqCst);
            if self.gate.lock().expect("gate").recv_timeout(Duration::from_secs(10)).is_err() {
                self.timed_out.store(true, Ordering::SeqCst);
            }
        }
        self.inner.complete_run(run_id, owner, baseline, totals, policy, now)
    }
    fn fail_run(&self, run_id: i64, totals: &RunTotals, error: &str, now: Time) -> Result<()> {
        self.inner.fail_run(run_id, totals, error, now)
    }
    fn approve_held(&self, connection_id: i64, policy: ApplyPolicy, now: Time) -> Result<Option<Applied>> {
        self.inner.approve_held(connection_id, policy, now)
    }
    fn discard_held(&self, connection_id: i64) -> Result<bool> {
        self.inner.discard_held(connection_id)
    }
    fn held_deletions(&self, connection_id: i64, offset: i64, limit: i64, now: Time) -> Result<Option<HeldDeletions>> {
        self.inner.held_deletions(connection_id, offset, limit, now)
    }
    fn last_runs(&self) -> Result<Vec<Run>> {
        self.inner.last_runs()
    }
    fn last_run(&self, connection_id: i64) -> Result<Option<Run>> {
        self.inner.last_run(connection_id)
    }
    fn runs(&self, connection_id: i64, limit: i64) -> Result<Vec<Run>> {
        self.inner.runs(connection_id, limit)
    }
}

impl Users for Gated {
    fn find_users(&self, connection_id: i64, query: &UserQuery) -> Result<Vec<StoredUser>> {
        self.inner.find_users(connection_id, query)
    }
    fn count_users(&self, connection_id: i64, query: &UserQuery) -> Result<i64> {
        self.inner.count_users(connection_id, query)
    }
    fn license_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        self.inner.license_counts(connection_id)
    }
    fn group_counts(&self, connection_id: i64) -> Result<Vec<(String, i64)>> {
        self.inner.group_counts(connection_id)
    }
    fn user_counts(&self, connection_id: i64) -> Result<(i64, i64)> {
        self.inner.user_counts(connection_id)
    }
    fn all_user_counts(&self) -> Result<Vec<(i64, i64, i64)>> {
        self.inner.all_user_counts()
    }
    fn history(&self, connection_id: i64, query: &HistoryQuery) -> Result<Vec<Change>> {
        self.inner.history(connection_id, query)
    }
}

impl Company for Gated {
    fn people(&self, query: &PeopleQuery) -> Result<Vec<Person>> {
        self.inner.people(query)
    }
    fn person(&self, email: &str) -> Result<Vec<(i64, StoredUser)>> {
        self.inner.person(email)
    }
    fn licenses_held(&self, unseen_before: &str) -> Result<Vec<LicenseHeld>> {
        self.inner.licenses_held(unseen_before)
    }
    fn set_directory(&self, connection_id: i64, directory: bool) -> Result<()> {
        self.inner.set_directory(connection_id, directory)
    }
    fn directories(&self) -> Result<Vec<i64>> {
        self.inner.directories()
    }
    fn departed(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<Departed>)> {
        self.inner.departed(page)
    }
    fn unaccounted(&self, page: Option<(i64, i64)>) -> Result<(i64, Vec<(i64, StoredUser)>)> {
        self.inner.unaccounted(page)
    }
}

impl Notifications for Gated {
    fn add_notification(&self, connection: Option<&str>, kind: &str, message: &str, now: Time) -> Result<i64> {
        self.inner.add_notification(connection, kind, message, now)
    }
    fn notifications(&self, limit: i64) -> Result<Vec<Notification>> {
        self.inner.notifications(limit)
    }
}

impl Operators for Gated {
    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<bool> {
        self.inner.add_token(token, hash)
    }
    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.inner.token_by_hash(hash)
    }
    fn tokens(&self) -> Result<Vec<ApiToken>> {
        self.inner.tokens()
    }
    fn remove_token(&self, name: &str) -> Result<bool> {
        self.inner.remove_token(name)
    }
    fn record(&self, entry: &AuditEntry) -> Result<()> {
        self.inner.record(entry)
    }
    fn audit(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        self.inner.audit(before, limit)
    }
    fn mark_read(&self, operator: &str, up_to: i64) -> Result<()> {
        self.inner.mark_read(operator, up_to)
    }
    fn unread(&self, operator: &str) -> Result<i64> {
        self.inner.unread(operator)
    }
}

impl Authorizations for Gated {
    fn save_tokens(&self, id: i64, sealed: &[u8]) -> Result<()> {
        self.inner.save_tokens(id, sealed)
    }
    fn add_authorization(&self, pending: &PendingAuthorization) -> Result<()> {
        self.inner.add_authorization(pending)
    }
    fn take_authorization(&self, state: &str, now: Time) -> Result<Option<PendingAuthorization>> {
        self.inner.take_authorization(state, now)
    }
}

impl Store for Gated {
    fn health(&self) -> Result<String> {
        self.inner.health()
    }
}

/// The engine of a test: its store and vault, the notifier given, requests to this machine allowed.
fn engine(
    store: Arc<dyn Store>,
    vault: Arc<tib_runtime::vault::Vault>,
    notifier: tib_runtime::notify::Notifier,
) -> Engine {
    let network = tib_support::NetworkPolicy::with_loopback();
    Engine {
        store,
        vault,
        client: tib_support::Client::new(tib_support::ClientSettings { network, ..Default::default() })
            .expect("client"),
        notifier: std::sync::Arc::new(notifier),
        apply: ApplyPolicy::default(),
        options: tib_support::SyncOptions::default(),
        notify_after_failures: 3,
        clock: Arc::new(tib_runtime::clock::SystemClock),
        owner: tib_runtime::owner::this_process(),
        lease_secs: tib_runtime::schedule::LEASE_SECS,
        client_tokens: Mutex::default(),
        live: Default::default(),
    }
}

/// Connects `account` of the demo Acme API with `token`.
fn connect(
    store: &Sqlite,
    vault: &tib_runtime::vault::Vault,
    base_url: &str,
    account: &str,
    token: &str,
) -> Connection {
    let name = format!("acme/{account}");
    let secrets = [tib_support::Secret::new("demo"), tib_support::Secret::new(token)];
    let sealed = vault.seal(&secrets, &name).expect("sealed");
    store
        .upsert_connection(&NewConnection {
            integration: "acme",
            account,
            sealed_credentials: &sealed,
            base_url: Some(base_url),
            interval_secs: 86_400,
            next_sync_at: 0,
            token_url: None,
            authorize_url: None,
            waiting_reason: None,
        })
        .expect("connected");
    store.connection("acme", account).expect("read").expect("connected")
}

/// On a runtime of one thread, where a store call made on the worker would
/// stop everything: account A's apply is held at the gate while account B
/// syncs from start to end, and a timer keeps ticking.
#[tokio::test(flavor = "current_thread")]
async fn one_accounts_long_apply_does_not_stop_another_accounts_sync() {
    let dir = tempfile::tempdir().expect("dir");
    let api = tib_runtime::demo::start().await.expect("the demo API");
    let sqlite = Sqlite::open(&dir.path().join("tib.db")).expect("store");
    let vault = Arc::new(tib_runtime::vault::Vault::open(None, &dir.path().join("tib.key")).expect("key"));
    let token = tib_runtime::demo::TOKEN;
    let (a, b) =
        (connect(&sqlite, &vault, &api.base_url, "A", token), connect(&sqlite, &vault, &api.base_url, "B", token));
    let (open, gate) = std::sync::mpsc::channel();
    let store = Arc::new(Gated {
        inner: sqlite,
        gated: a.id,
        run: AtomicI64::new(-1),
        entered: AtomicBool::new(false),
        gate: Mutex::new(gate),
        timed_out: AtomicBool::new(false),
    });
    let engine = engine(store.clone(), vault, tib_runtime::notify::Notifier::new(None, Vec::new()).expect("notifier"));
    let synced_a = async {
        let mut progress = |_, _| {};
        engine.sync(&a, &mut progress).await.expect("A runs")
    };
    let while_held = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !store.entered.load(Ordering::SeqCst) {
            assert!(tokio::time::Instant::now() < deadline, "A never reached its apply");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        let mut progress = |_, _| {};
        let (b_ended, ()) = tokio::join!(engine.sync(&b, &mut progress), async {
            for _ in 0..3 {
                ticks.tick().await;
            }
        });
        assert!(store.entered.load(Ordering::SeqCst));
        let b_ended = b_ended.expect("B runs");
        // B ended with A's apply still held: now let A go.
        open.send(()).expect("A waits at the gate");
        b_ended
    };
    let (a_ended, b_ended) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(synced_a, while_held) })
            .await
            .expect("neither sync waits for the other's store work");
    assert!(!store.timed_out.load(Ordering::SeqCst), "B could not sync while A's apply was held");
    let valid = (0..tib_runtime::demo::USERS).filter(|i| i % 97 != 13).count() as u64;
    for ended in [a_ended, b_ended] {
        assert!(matches!(ended, Ended::Applied { users, .. } if users == valid), "{ended:?}");
    }
    assert_eq!(store.user_counts(a.id).expect("counts").1, valid as i64);
    assert_eq!(store.user_counts(b.id).expect("counts").1, valid as i64);
}

/// A webhook that holds every request until the test lets it answer, then
/// refuses the first with 500 and takes the rest.
struct Webhook {
    url: url::Url,
    received: Arc<Mutex<Vec<String>>>,
    answer: Arc<tokio::sync::Semaphore>,
}

async fn webhook() -> Webhook {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = url::Url::parse(&format!("http://{}/hook", listener.local_addr().expect("address"))).expect("URL");
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let answer = Arc::new(tokio::sync::Semaphore::new(0));
    let (seen, gate) = (received.clone(), answer.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (seen, gate) = (seen.clone(), gate.clone());
            tokio::spawn(async move {
                // The head, then as much body as it announces.
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
                            .and_then(|n| n.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let first = {
                    let mut seen = seen.lock().expect("lock");
                    seen.push(String::from_utf8_lossy(&request).into_owned());
                    seen.len() == 1
                };
                gate.acquire().await.expect("open").forget();
                let status = if first { "500 Internal Server Error" } else { "204 No Content" };
                let _ = socket.write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes()).await;
            });
        }
    });
    Webhook { url, received, answer }
}

/// A sync that disables its connection ends while the webhook has not
/// answered: the notification waits in the queue, not in the sync's slot,
/// and is delivered again after the webhook refused it once.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_does_not_answer_holds_no_sync_and_a_refused_notification_is_retried() {
    let dir = tempfile::tempdir().expect("dir");
    let api = tib_runtime::demo::start().await.expect("the demo API");
    let store = Arc::new(Sqlite::open(&dir.path().join("tib.db")).expect("store"));
    let vault = Arc::new(tib_runtime::vault::Vault::open(None, &dir.path().join("tib.key")).expect("key"));
    let connection = connect(&store, &vault, &api.base_url, "A", "wrong-token");
    let hook = webhook().await;
    let notifier =
        tib_runtime::notify::Notifier::new(Some(hook.url.clone()), vec![Duration::from_millis(50)]).expect("notifier");
    let engine = engine(store.clone(), vault, notifier);
    let mut progress = |_, _| {};
    let ended = engine.sync(&connection, &mut progress).await.expect("runs");
    assert!(matches!(ended, Ended::Disabled { .. }), "{ended:?}");
    assert_eq!(engine.notifier.pending(), 1, "the sync ended with its notification still waiting for the webhook");
    assert_eq!(store.notifications(10).expect("read").len(), 1, "stored at once");

    hook.answer.add_permits(2);
    engine.notifier.settle(Duration::from_secs(30)).await;
    assert_eq!(engine.notifier.pending(), 0, "delivered");
    let received = hook.received.lock().expect("lock").clone();
    assert_eq!(received.len(), 2, "refused once, then delivered: {received:?}");
    let body = |request: &str| request.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    assert_eq!(body(&received[0]), body(&received[1]), "the same notification again");
    assert!(body(&received[1]).contains("connection_disabled"), "{received:?}");
}
