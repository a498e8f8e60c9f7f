//! Several `tib serve` processes on one PostgreSQL, as a deployment beyond
//! one machine runs them, against an Acme API served on 127.0.0.1 by the
//! test: they share the schedule through leases, one is killed mid-sync and
//! another stopped past its lease, and every due connection still syncs
//! exactly once.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{on_postgres, pg_numbers, pg_texts, postgres_schema};
use serde_json::{Value, json};
use tib_runtime::demo::{member, serve};
use tokio::net::TcpListener;

const SECRET: &str = "acme-secret-token-8842";
const KEY: &str = "5f1e0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const CONNECTIONS: usize = 300;
/// Members per account: two pages of 100.
const MEMBERS: usize = 120;
const MAX_CONCURRENT: i64 = 8;
const CAP: i64 = 20;
/// Short, so that a stopped instance outlives its leases within the test.
const LEASE_SECS: u64 = 4;

/// An Acme API for every account at `/t<N>/api/v2`, each page answered after
/// 700 ms; counts the syncs each account saw begin (its first page asked for).
async fn api() -> (String, Arc<Vec<AtomicUsize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let begun: Arc<Vec<AtomicUsize>> = Arc::new((0..CONNECTIONS).map(|_| AtomicUsize::new(0)).collect());
    let counted = begun.clone();
    serve(listener, move |head| {
        let head = head.to_lowercase();
        let counted = counted.clone();
        async move {
            let path = head.split(' ').nth(1)?;
            let account: usize = path.strip_prefix("/t")?.split('/').next()?.parse().ok()?;
            let offset: usize =
                path.split(['?', '&']).find_map(|p| p.strip_prefix("offset=")).and_then(|v| v.parse().ok())?;
            if offset == 0 {
                counted.get(account)?.fetch_add(1, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
            if !head.contains(&format!("authorization: token token={SECRET}")) {
                return Some(("401 Unauthorized", json!({"ok": false, "error": {"message": "bad token"}}).to_string()));
            }
            let end = (offset + 100).min(MEMBERS);
            let members: Vec<Value> = (offset.min(end)..end).map(member).collect();
            Some(("200 OK", json!({"ok": true, "data": {"members": members}, "has_more": end < MEMBERS}).to_string()))
        }
    });
    (format!("http://{address}"), begun)
}

/// `tib` on the store at `url`, with the deployment's key and a short lease.
fn tib(url: &str, args: &[&str]) -> Command {
    common::deployed_tib(url, KEY, LEASE_SECS, args)
}

/// A `tib serve` process, killed when dropped; its log in a file.
struct Instance {
    child: Child,
    log: std::path::PathBuf,
    /// As its leases name it: `host:pid`.
    owner: String,
}

impl Instance {
    fn start(url: &str, dir: &std::path::Path, name: &str, extra: &[&str]) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend_from_slice(extra);
        let log = dir.join(format!("{name}.log"));
        let mut command = tib(url, &args);
        command.env("TIB_PUBLIC_URL", format!("http://{listen}"));
        let child = command.stderr(std::fs::File::create(&log).expect("log")).spawn().expect("serve");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
        let owner = format!("{}:{}", host.trim(), child.id());
        Instance { child, log, owner }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill");
        assert!(sent.success(), "kill {signal}");
    }

    /// Stops it as an operator does, and waits for it; its log.
    fn stop(mut self) -> String {
        self.signal("-TERM");
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).expect("log")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to `secs`) until `done`, checking every 50 ms.
async fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the watcher saw at its worst while the instances ran.
#[derive(Debug, Default)]
struct Worst {
    leases_of_one_instance: i64,
    leases_in_all: i64,
    connections_running_twice: i64,
}

/// Reads the store every 20 ms until `stop`: the most leases one instance
/// and all held at once, and connections with two runs running at once.
fn watch(url: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Worst> {
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("the PostgreSQL");
        let mut worst = Worst::default();
        let number = |client: &mut postgres::Client, sql: &str| -> i64 {
            client.query_one(sql, &[]).map(|row| row.get::<_, i64>(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
        };
        while !stop.load(Ordering::SeqCst) {
            let one = number(
                &mut client,
                "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM connections \
                 WHERE lease_owner IS NOT NULL GROUP BY lease_owner) t",
            );
            let all = number(&mut client, "SELECT COUNT(*) FROM connections WHERE lease_owner IS NOT NULL");
            let twice = number(
                &mut client,
                "SELECT COUNT(*) FROM (SELECT connection_id FROM runs WHERE outcome = 'running' \
                 GROUP BY connection_id HAVING COUNT(*) > 1) t",
            );
            worst.leases_of_one_instance = worst.leases_of_one_instance.max(one);
            worst.leases_in_all = worst.leases_in_all.max(all);
            worst.connections_running_twice = worst.connections_running_twice.max(twice);
            std::thread::sleep(Duration::from_millis(20));
        }
        worst
    })
}

fn leases_of(url: &str, owner: &str) -> Vec<i64> {
    pg_numbers(url, &format!("SELECT id FROM connections WHERE lease_owner = '{owner}' ORDER BY id"))
}

/// Three instances, 300 connections due at once: one instance is SIGKILLed
/// mid-sync and another SIGSTOPped past its lease, then resumed. Each
/// connection syncs exactly once, never twice at the same time; no instance
/// holds more than its limit nor all more than the integration's cap; the
/// killed and stopped instances' syncs are recorded as interrupted and done
/// by the others; and the stopped one's late syncs stop without applying.
#[tokio::test(flavor = "multi_thread")]
async fn three_instances_share_the_schedule_through_a_kill_and_a_stop_past_the_lease() {
    let Some((url, _schema)) = postgres_schema("instances") else { return };
    let dir = tempfile::tempdir().expect("dir");
    let (base, begun) = api().await;

    // The accounts are connected through the API of an instance that never ticks again, then all made due.
    let admin = "admin-token-for-the-instances-test";
    let connecting = {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = tib(&url, &["serve", "--poll", "86400", "--listen", &listen]);
        command.env("TIB_ADMIN_TOKEN", admin).stderr(Stdio::null());
        (command.spawn().expect("serve"), format!("http://{listen}"))
    };
    let (mut setup, api_base) = connecting;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{api_base}/health")).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "serve never answered /health");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..CONNECTIONS {
        let body = json!({
            "credentials": {"tenant": "demo", "api_token": SECRET},
            "base_url": format!("{base}/t{i}/api/v2"),
        });
        let put = client
            .put(format!("{api_base}/api/v1/connections/acme/t{i}"))
            .bearer_auth(admin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("PUT");
        assert_eq!(put.status(), 201, "{}", put.text().await.unwrap_or_default());
    }
    let _ = Command::new("kill").args(["-TERM", &setup.id().to_string()]).status();
    let _ = setup.wait();
    on_postgres(&url, "UPDATE connections SET next_sync_at = 0".to_owned()).expect("all due");

    let stop_watching = Arc::new(AtomicBool::new(false));
    let watcher = watch(url.clone(), stop_watching.clone());
    let (max, cap) = (MAX_CONCURRENT.to_string(), format!("acme={CAP}"));
    let serve = ["--poll", "1", "--max-concurrent", &max, "--integration-cap", &cap];
    let killed = Instance::start(&url, dir.path(), "killed", &serve);
    let stopped = Instance::start(&url, dir.path(), "stopped", &serve);
    let steady = Instance::start(&url, dir.path(), "steady", &serve);

    // Killed mid-sync: while it holds leases, its syncs under way.
    wait_until(60, "the first instance syncs", || leases_of(&url, &killed.owner).len() >= 4).await;
    // Its syncs begun: each takes longer than this.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut killed = killed;
    killed.child.kill().expect("SIGKILL");
    let _ = killed.child.wait();
    // Stopped mid-sync, past its lease: the others take over its connections.
    wait_until(60, "the second instance syncs", || leases_of(&url, &stopped.owner).len() >= 4).await;
    stopped.signal("-STOP");
    let stopped_at = Instant::now();
    // What it still holds once what it had sent before it stopped is done.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held_when_stopped = leases_of(&url, &stopped.owner);
    assert!(!held_when_stopped.is_empty(), "stopped mid-sync");
    wait_until(60, "the stopped instance's leases are freed", || leases_of(&url, &stopped.owner).is_empty()).await;
    // Renewed a third of a lease apart: at least two thirds of it were left when it stopped.
    let freed_after = stopped_at.elapsed();
    assert!(freed_after >= Duration::from_secs(LEASE_SECS * 2 / 3), "freed after {freed_after:?}, within its lease");
    tokio::time::sleep(Duration::from_secs(1)).await;
    stopped.signal("-CONT");

    let applied = "SELECT COUNT(DISTINCT connection_id) FROM runs WHERE outcome = 'applied'";
    wait_until(180, "every connection synced", || pg_numbers(&url, applied) == [CONNECTIONS as i64]).await;
    let running = "SELECT COUNT(*) FROM runs WHERE outcome = 'running'";
    wait_until(30, "no sync runs", || pg_numbers(&url, running) == [0]).await;
    // Long enough for a stopped instance's late syncs to have ended, and anything due twice to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_watching.store(true, Ordering::SeqCst);
    let worst = watcher.join().expect("watcher");
    let stopped_log = stopped.stop();
    let steady_log = steady.stop();

    // Exactly once per slot: one applied run per connection, nothing due again today.
    let per_connection = pg_numbers(
        &url,
        "SELECT COUNT(*) FILTER (WHERE outcome = 'applied') FROM connections c LEFT JOIN runs r \
         ON r.connection_id = c.id GROUP BY c.id",
    );
    assert_eq!(per_connection, vec![1; CONNECTIONS], "each connection applied exactly once");
    let due =
        pg_numbers(&url, "SELECT COUNT(*) FROM connections WHERE next_sync_at < extract(epoch FROM now()) + 3600");
    assert_eq!(due, [0], "every connection's next sync is a day on");
    let failed = pg_texts(
        &url,
        "SELECT outcome || ': ' || COALESCE(error, '') FROM runs WHERE outcome NOT IN ('applied', 'interrupted')",
    );
    assert!(failed.is_empty(), "no run failed: {failed:?}");
    // Nothing lost: every account's users, all of them.
    let valid = (0..MEMBERS).filter(|i| i % 97 != 13).count() as i64;
    let users = pg_numbers(&url, "SELECT COUNT(*) FROM users WHERE NOT deleted GROUP BY connection_id");
    assert_eq!(users, vec![valid; CONNECTIONS], "every account's users stored");
    // The killed instance's syncs and the stopped one's were interrupted, and done again by another.
    let interrupted = pg_numbers(&url, "SELECT connection_id FROM runs WHERE outcome = 'interrupted' ORDER BY 1");
    assert!(interrupted.len() > held_when_stopped.len(), "the killed one's too: {interrupted:?}");
    for id in &held_when_stopped {
        assert!(interrupted.contains(id), "the stopped instance's sync of {id} was interrupted");
    }
    let synced: Vec<usize> = begun.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    let begun_in_all = synced.iter().sum::<usize>();
    // A run killed before its first request began none.
    assert!(synced.iter().all(|n| *n >= 1), "every account was synced: {synced:?}");
    assert!(begun_in_all <= CONNECTIONS + interrupted.len(), "no sync begun but by a run: {begun_in_all}");
    // The stopped instance's late syncs stopped without applying; the steady one lost nothing.
    assert!(stopped_log.contains("lost its lease"), "{stopped_log}");
    assert!(!steady_log.contains("lost its lease"), "{steady_log}");
    // Never two syncs of a connection at once, nor more than an instance's limit or the integration's cap.
    assert_eq!(worst.connections_running_twice, 0, "{worst:?}");
    assert!(worst.leases_of_one_instance <= MAX_CONCURRENT, "{worst:?}");
    assert!(worst.leases_in_all <= CAP, "{worst:?}");
    assert!(worst.leases_in_all >= CAP - MAX_CONCURRENT, "the instances synced side by side: {worst:?}");
    let per_instance: BTreeMap<&str, usize> = [
        ("stopped", stopped_log.matches("sync started").count()),
        ("steady", steady_log.matches("sync started").count()),
    ]
    .into();
    assert!(per_instance.values().all(|n| *n > 0), "each instance synced some: {per_instance:?}");
}
