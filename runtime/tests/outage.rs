//! PostgreSQL lost and back, as a deployment meets it: a cluster of the
//! test's own (never the machine's shared server) is killed and restarted at
//! random points while two `tib serve` instances claim, sync and apply thirty
//! connections against an Acme API on 127.0.0.1. When the database is back,
//! every connection syncs again, nothing stays leased or running, and what
//! each run recorded matches what the store holds: no user was written by a
//! run that did not apply.
//!
//! TIB_POSTGRES_BIN names PostgreSQL's programs (`initdb`, `pg_ctl`); `.ci/run`
//! sets it. As root, the cluster is run as the `postgres` user.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tib_runtime::demo::{member, serve};
use tokio::net::TcpListener;

const SECRET: &str = "acme-secret-token-8842";
const KEY: &str = "6a1e0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const CONNECTIONS: usize = 30;
/// Members per account: three pages of 100.
const MEMBERS: usize = 250;
const LEASE_SECS: u64 = 3;

/// A PostgreSQL cluster in a directory of the test's own, on a port of its own.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run as the `postgres` user (the test runs as root, which PostgreSQL refuses).
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// A new cluster, started; `None` (the test skipped) without TIB_POSTGRES_BIN.
    fn start() -> Option<Cluster> {
        let Some(bin) = std::env::var_os("TIB_POSTGRES_BIN").map(PathBuf::from) else {
            assert!(
                std::env::var_os("TIB_REQUIRE_POSTGRES").is_none(),
                "TIB_REQUIRE_POSTGRES is set, TIB_POSTGRES_BIN (PostgreSQL's programs) is not"
            );
            eprintln!("skipped: set TIB_POSTGRES_BIN to the directory of initdb and pg_ctl");
            return None;
        };
        let dir = tempfile::tempdir().expect("dir");
        let as_postgres = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let data = dir.path().join("data");
        if as_postgres {
            let owned = Command::new("chown").args(["postgres", &dir.path().display().to_string()]).status();
            assert!(owned.expect("chown").success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let cluster = Cluster { bin, data, port, as_postgres, _dir: dir };
        let data = cluster.data.display().to_string();
        let made =
            cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
        assert!(made.status.success(), "initdb: {}", String::from_utf8_lossy(&made.stderr));
        cluster.up();
        Some(cluster)
    }

    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(program).display().to_string();
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).stdin(Stdio::null()).output().expect("runs")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (recovering from a crash as it must), and waits until it answers.
    fn up(&self) {
        let data = self.data.display().to_string();
        let options =
            format!("-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", self.port);
        let log = format!("{data}/server.log");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let started = self.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "-t", "30", "start"]);
            if started.status.success() {
                return;
            }
            // Backends of the killed server may still be leaving: try again.
            assert!(
                Instant::now() < deadline,
                "the cluster does not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Takes the server down as a crash does: an immediate stop (no checkpoint), or SIGKILL.
    fn crash(&self, kill: bool) {
        let data = self.data.display().to_string();
        if kill {
            let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap_or_default();
            if let Some(pid) = pid.lines().next() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        } else {
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// An Acme API for every account at `/t<N>/api/v2`, each page answered after 150 ms.
async fn api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    serve(listener, move |head| async move {
        let head = head.to_lowercase();
        let path = head.split(' ').nth(1)?.to_owned();
        let offset: usize =
            path.split(['?', '&']).find_map(|p| p.strip_prefix("offset=")).and_then(|v| v.parse().ok())?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        if !head.contains(&format!("authorization: token token={SECRET}")) {
            return Some(("401 Unauthorized", json!({"ok": false}).to_string()));
        }
        let end = (offset + 100).min(MEMBERS);
        let members: Vec<Value> = (offset.min(end)..end).map(member).collect();
        Some(("200 OK", json!({"ok": true, "data": {"members": members}, "has_more": end < MEMBERS}).to_string()))
    });
    format!("http://{address}")
}

/// `tib` on the test's cluster, with the deployment's key and a short lease.
fn tib(url: &str, args: &[&str]) -> Command {
    common::deployed_tib(url, KEY, LEASE_SECS, args)
}

/// A `tib serve` process, killed when dropped; its log in a file.
struct Instance {
    child: Child,
    log: PathBuf,
}

impl Instance {
    fn start(url: &str, dir: &Path, name: &str) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let listen = format!("127.0.0.1:{port}");
        let log = dir.join(format!("{name}.log"));
        let mut command = tib(url, &["serve", "--listen", &listen, "--poll", "1", "--max-concurrent", "6"]);
        command.env("TIB_PUBLIC_URL", format!("http://{listen}"));
        let child = command.stderr(std::fs::File::create(&log).expect("log")).spawn().expect("serve");
        Instance { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first column of `sql`'s rows as text, or `None` while the database does not answer.
fn query(url: &str, sql: &str) -> Option<Vec<String>> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).ok()?;
        let rows = client.query(sql.as_str(), &[]).ok()?;
        Some(rows.iter().map(|row| row.get::<_, Option<String>>(0).unwrap_or_else(|| "NULL".to_owned())).collect())
    })
    .join()
    .expect("the PostgreSQL thread")
}

/// A small generator for the chaos's timing; its seed is printed, so that a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_lost_at_random_points_strands_nothing_and_every_outcome_matches_the_store() {
    let Some(cluster) = Cluster::start() else { return };
    let url = cluster.url();
    let api = api().await;
    let dir = tempfile::tempdir().expect("dir");
    let seed = std::env::var("TIB_OUTAGE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    eprintln!("TIB_OUTAGE_SEED={seed}");
    let mut random = Random(seed);

    let connects: Vec<Command> = (0..CONNECTIONS)
        .map(|i| {
            let (account, base) = (format!("A{i}"), format!("{api}/t{i}/api/v2"));
            let token = format!("api_token={SECRET}");
            tib(&url, &["connect", "acme", &account, "--cred", "tenant=t", "--cred", &token, "--base-url", &base])
        })
        .collect();
    let connected = tokio::task::spawn_blocking(move || {
        connects.into_iter().map(|mut c| c.stderr(Stdio::piped()).output().expect("connect")).collect::<Vec<_>>()
    })
    .await
    .expect("joined");
    assert!(connected.iter().all(|o| o.status.success()), "{connected:?}");
    let instances = [Instance::start(&url, dir.path(), "a"), Instance::start(&url, dir.path(), "b")];

    for round in 0..6 {
        query(&url, "UPDATE connections SET next_sync_at = 0 RETURNING 'due'");
        tokio::time::sleep(Duration::from_millis(300 + random.next(1500))).await;
        cluster.crash(random.next(2) == 0);
        // Down for a moment, or for longer than a lease.
        let down = if round % 2 == 1 { 4000 + random.next(2000) } else { 200 + random.next(1500) };
        tokio::time::sleep(Duration::from_millis(down)).await;
        tokio::task::block_in_place(|| cluster.up());
    }

    // Back for good: every connection due once more, and each must sync.
    let back = query(&url, "SELECT floor(extract(epoch FROM now()))::bigint::text").expect("it answers")[0]
        .parse::<i64>()
        .expect("a time");
    query(&url, "UPDATE connections SET next_sync_at = 0 RETURNING 'due'").expect("it answers");
    let deadline = Instant::now() + Duration::from_secs(120);
    let settled = loop {
        let fresh = query(
            &url,
            &format!(
                "SELECT c.account FROM connections c WHERE c.lease_owner IS NULL AND \
                 (SELECT r.outcome FROM runs r WHERE r.connection_id = c.id ORDER BY r.id DESC LIMIT 1) = 'applied' \
                 AND (SELECT r.started_at FROM runs r WHERE r.connection_id = c.id ORDER BY r.id DESC LIMIT 1) >= {back}"
            ),
        );
        if fresh.as_ref().is_some_and(|f| f.len() == CONNECTIONS) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let logs: Vec<String> = instances.iter().map(Instance::log).collect();
    assert!(settled, "every connection syncs again once the database is back (seed {seed}):\n{}", logs.join("\n"));

    let running = query(&url, "SELECT id::text FROM runs WHERE outcome = 'running'").expect("it answers");
    assert!(running.is_empty(), "no run stays running: {running:?}");
    let leased = query(&url, "SELECT account FROM connections WHERE lease_owner IS NOT NULL").expect("it answers");
    assert!(leased.is_empty(), "no lease stays held: {leased:?}");
    let written_by_others = query(
        &url,
        "SELECT COUNT(*)::text FROM users u JOIN runs r ON r.id = u.run_id WHERE r.outcome NOT IN ('applied', 'approved')",
    )
    .expect("it answers");
    assert_eq!(written_by_others, ["0"], "no user was written by a run that did not apply");
    let valid = (0..MEMBERS).filter(|i| i % 97 != 13).count();
    let counts = query(
        &url,
        "SELECT c.account || ' ' || COUNT(u.external_id) FILTER (WHERE NOT u.deleted) || ' ' || \
         COUNT(u.external_id) FILTER (WHERE u.deleted) FROM connections c LEFT JOIN users u ON u.connection_id = c.id \
         GROUP BY c.account",
    )
    .expect("it answers");
    for line in &counts {
        assert!(line.ends_with(&format!(" {valid} 0")), "every user stored, none marked deleted: {counts:?}");
    }
    let interrupted = query(&url, "SELECT COUNT(*)::text FROM runs WHERE outcome IN ('interrupted', 'failed')");
    eprintln!("runs interrupted or failed by the outages: {interrupted:?}");
    for mut instance in instances {
        assert!(instance.child.try_wait().expect("waits").is_none(), "it never stopped:\n{}", instance.log());
        let _ = Command::new("kill").args(["-TERM", &instance.child.id().to_string()]).status();
        let status = instance.child.wait().expect("waits");
        assert!(status.success(), "stopped cleanly: {status}\n{}", instance.log());
        assert!(!instance.log().contains("panicked"), "{}", instance.log());
    }
}
