//! The scheduler under a clock the test moves: daily cadence at each connection's phase,
//! catch-up once after downtime, the concurrency limit, one sync per
//! connection at a time, disabled connections left alone.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tib_runtime::clock::{Clock, ManualClock};
use tib_runtime::schedule::{DAY, Runner, Scheduler, phase};
use tib_runtime::store::prelude::*;
use tib_runtime::store::sqlite::Sqlite;
use tib_runtime::store::{Connection, NewConnection, Store};

/// Records each sync; holds each for `hold` so overlaps can be seen.
#[derive(Default)]
struct Recorder {
    started: Mutex<Vec<String>>,
    now: AtomicUsize,
    peak: AtomicUsize,
    hold: Duration,
}

impl Runner for Recorder {
    async fn run(&self, connection: Connection) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.started.lock().expect("lock").push(connection.name());
        tokio::time::sleep(self.hold).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

const START: i64 = 1_800_000_000;

/// Connects `okta/<account>`, daily, first due at `next_sync_at`; its id.
fn connect(store: &Sqlite, account: &str, next_sync_at: i64) -> i64 {
    store
        .upsert_connection(&NewConnection {
            integration: "okta",
            account,
            sealed_credentials: b"sealed",
            base_url: None,
            interval_secs: DAY,
            next_sync_at,
            token_url: None,
            authorize_url: None,
            waiting_reason: None,
        })
        .expect("connect");
    store.connection("okta", account).expect("read").expect("exists").id
}

fn store_with(dir: &tempfile::TempDir, accounts: usize, next_sync_at: i64) -> Arc<dyn Store> {
    let store = Sqlite::open(&dir.path().join("tib.db")).expect("store");
    for i in 0..accounts {
        connect(&store, &format!("account-{i:02}"), next_sync_at);
    }
    Arc::new(store)
}

fn scheduler(
    store: &Arc<dyn Store>,
    clock: &Arc<ManualClock>,
    runner: &Arc<Recorder>,
    n: usize,
) -> Scheduler<Recorder> {
    let clock: Arc<dyn Clock> = clock.clone();
    Scheduler::new(store.clone(), clock, runner.clone(), n, "test-host:1")
}

/// Ticks, waiting for the syncs started, until a tick starts none; how many started in all.
async fn drain<R: Runner>(scheduler: &mut Scheduler<R>) -> usize {
    let mut started = 0;
    loop {
        let now = scheduler.tick().await.expect("tick").len();
        if now == 0 {
            return started;
        }
        started += now;
        scheduler.wait().await;
    }
}

#[tokio::test]
async fn each_connection_syncs_once_a_day_at_its_own_offset() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store_with(&dir, 3, START);
    let clock = Arc::new(ManualClock::at(START));
    let runner = Arc::new(Recorder::default());
    let mut scheduler = scheduler(&store, &clock, &runner, 4);

    assert_eq!(scheduler.tick().await.expect("tick").len(), 3, "all due at the start");
    scheduler.wait().await;
    let connections = store.connections().expect("connections");
    for c in &connections {
        assert_eq!(c.next_sync_at.rem_euclid(DAY), phase(&c.name(), DAY), "at its own place in the day");
        assert!((START + DAY / 2..START + DAY / 2 + DAY).contains(&c.next_sync_at));
    }
    // Nothing more until the first of them is due; once the last is, each has run once more.
    let first = connections.iter().map(|c| c.next_sync_at).min().expect("one");
    let last = connections.iter().map(|c| c.next_sync_at).max().expect("one");
    clock.advance(first - START - 1);
    assert!(scheduler.tick().await.expect("tick").is_empty());
    clock.advance(last - first + 1);
    assert_eq!(scheduler.tick().await.expect("tick").len(), 3);
    scheduler.wait().await;
    assert!(scheduler.tick().await.expect("tick").is_empty());
    assert_eq!(runner.started.lock().expect("lock").len(), 6);
}

#[tokio::test]
async fn after_downtime_an_overdue_connection_runs_once_not_once_per_missed_day() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store_with(&dir, 2, START);
    let clock = Arc::new(ManualClock::at(START + 10 * DAY));
    let runner = Arc::new(Recorder::default());
    let mut scheduler = scheduler(&store, &clock, &runner, 4);
    assert_eq!(scheduler.tick().await.expect("tick").len(), 2);
    scheduler.wait().await;
    for _ in 0..5 {
        assert!(scheduler.tick().await.expect("tick").is_empty());
        scheduler.wait().await;
    }
    assert_eq!(runner.started.lock().expect("lock").len(), 2);
    let next = store.connections().expect("connections")[0].next_sync_at;
    assert!(next >= START + 10 * DAY + DAY / 2, "the next one is at its phase after the catch-up");
}

#[tokio::test]
async fn at_most_n_sync_at_once_and_none_twice_at_the_same_time() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store_with(&dir, 12, START);
    let clock = Arc::new(ManualClock::at(START));
    let runner = Arc::new(Recorder { hold: Duration::from_millis(50), ..Recorder::default() });
    let mut scheduler = scheduler(&store, &clock, &runner, 3);
    let first = scheduler.tick().await.expect("tick");
    assert_eq!(first.len(), 3, "a process claims only what it has room to sync");
    // While they run, even a connection due again is not started twice.
    for c in store.connections().expect("connections") {
        if first.contains(&c.name()) {
            store.set_next_sync(c.id, START).expect("due again");
        }
    }
    assert!(scheduler.tick().await.expect("tick").is_empty(), "no room, and the due again ones still run");
    scheduler.wait().await;
    assert_eq!(drain(&mut scheduler).await, 12, "the nine others, then the three due again");
    assert_eq!(runner.peak.load(Ordering::SeqCst), 3);
    let started = runner.started.lock().expect("lock").clone();
    let distinct: std::collections::HashSet<&String> = started.iter().collect();
    assert_eq!((started.len(), distinct.len()), (15, 12));
}

#[tokio::test]
async fn disabled_connections_are_not_scheduled() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store_with(&dir, 2, START);
    let first = store.connections().expect("connections")[0].id;
    store.set_enabled(first, false, Some("HTTP 401")).expect("disable");
    let clock = Arc::new(ManualClock::at(START));
    let runner = Arc::new(Recorder::default());
    let mut scheduler = scheduler(&store, &clock, &runner, 4);
    assert_eq!(scheduler.tick().await.expect("tick"), ["okta/account-01"]);
}

#[tokio::test]
async fn serve_stops_on_shutdown_after_the_syncs_under_way() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store_with(&dir, 2, START);
    let clock = Arc::new(ManualClock::at(START));
    let runner = Arc::new(Recorder { hold: Duration::from_millis(100), ..Recorder::default() });
    let scheduler = scheduler(&store, &clock, &runner, 4);
    let shutdown = tokio::time::sleep(Duration::from_millis(20));
    scheduler.serve(Duration::from_millis(5), Duration::from_secs(5), shutdown).await;
    assert_eq!(runner.started.lock().expect("lock").len(), 2);
    assert_eq!(runner.now.load(Ordering::SeqCst), 0, "both finished before serve returned");
}

#[tokio::test]
async fn a_tick_records_runs_left_by_stopped_processes_as_interrupted() {
    let dir = tempfile::tempdir().expect("dir");
    let store = store_with(&dir, 1, START + DAY);
    let id = store.connections().expect("connections")[0].id;
    // Another process took the connection and stopped; its lease ran out.
    assert!(store.try_lease(id, "elsewhere:4242", START - 1).expect("lease"));
    store.start_run(id, "elsewhere:4242", START - 100).expect("run");
    let clock = Arc::new(ManualClock::at(START));
    let runner = Arc::new(Recorder::default());
    let mut scheduler = scheduler(&store, &clock, &runner, 4);
    assert_eq!(scheduler.tick().await.expect("tick"), ["okta/account-00"], "due again: it lost its slot's sync");
    scheduler.wait().await;
    let runs = store.runs(id, 5).expect("runs");
    assert_eq!(runs.len(), 1, "the recorder runs no store run");
    assert_eq!(runs[0].outcome, tib_runtime::store::Outcome::Interrupted);
    assert!(scheduler.tick().await.expect("tick").is_empty(), "synced once; next a day on");
}

#[test]
fn two_processes_serving_one_store_sync_each_due_connection_once() {
    let dir = tempfile::tempdir().expect("dir");
    store_with(&dir, 300, START);
    let runner = Arc::new(Recorder::default());
    // Two schedulers, each with its own handle on the store file and its own runtime, as two
    // `tib serve` processes are; they tick at the same moment, again and again.
    std::thread::scope(|scope| {
        for process in 0..2 {
            let (dir, runner) = (&dir, runner.clone());
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    let store: Arc<dyn Store> = Arc::new(Sqlite::open(&dir.path().join("tib.db")).expect("store"));
                    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(START));
                    let mut scheduler = Scheduler::new(store, clock, runner, 8, format!("test-host:{process}"));
                    drain(&mut scheduler).await;
                });
            });
        }
    });
    let started = runner.started.lock().expect("lock").clone();
    let distinct: std::collections::HashSet<&String> = started.iter().collect();
    assert_eq!((started.len(), distinct.len()), (300, 300), "each of the 300 due connections ran once, by one process");
}

/// Records when each sync started and how many slow ones ran at once;
/// connections named `slow-…` take `hold`, the others return at once.
struct Lanes {
    began: std::time::Instant,
    started: Mutex<Vec<(String, Duration)>>,
    slow_now: AtomicUsize,
    slow_peak: AtomicUsize,
    hold: Duration,
}

impl Runner for Lanes {
    async fn run(&self, connection: Connection) {
        let name = connection.name();
        self.started.lock().expect("lock").push((name.clone(), self.began.elapsed()));
        if name.contains("slow-") {
            let now = self.slow_now.fetch_add(1, Ordering::SeqCst) + 1;
            self.slow_peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.hold).await;
            self.slow_now.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_hold_at_most_half_the_slots_so_the_others_are_not_starved() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Sqlite::open(&dir.path().join("tib.db")).expect("store");
    // Three tenants whose last sync took an hour, due before a fast one.
    for (i, account) in ["slow-a", "slow-b", "slow-c"].into_iter().enumerate() {
        let id = connect(&store, account, START - 100 + i as i64);
        assert!(store.try_lease(id, "earlier:1", START).expect("lease"));
        let run = store.start_run(id, "earlier:1", START - 2 * 3600).expect("run").run_id;
        store
            .fail_run(run, &Default::default(), "the sync did not end within its deadline", START - 3600)
            .expect("failed");
    }
    connect(&store, "fast", START - 10);
    let store: Arc<dyn Store> = Arc::new(store);
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(START));
    let hold = Duration::from_millis(600);
    let lanes = Arc::new(Lanes {
        began: std::time::Instant::now(),
        started: Mutex::default(),
        slow_now: AtomicUsize::new(0),
        slow_peak: AtomicUsize::new(0),
        hold,
    });
    let scheduler = Scheduler::new(store, clock, lanes.clone(), 2, "test-host:1").with_slow_after(15 * 60);
    // Served, ticking often: the fast one is claimed at the first tick that has room for it.
    let shutdown = async {
        while lanes.started.lock().expect("lock").len() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    scheduler.serve(Duration::from_millis(5), Duration::from_secs(10), shutdown).await;
    let started = lanes.started.lock().expect("lock").clone();
    let fast = started.iter().find(|(name, _)| name == "okta/fast").map(|(_, at)| *at).expect("the fast one ran");
    assert!(fast < hold / 2, "the fast tenant started at once ({fast:?}), not after the slow ones: {started:?}");
    assert_eq!(lanes.slow_peak.load(Ordering::SeqCst), 1, "of 2 slots, slow tenants held at most 1");
    assert_eq!(started.len(), 4, "the slow ones all ran, one after another");
}
