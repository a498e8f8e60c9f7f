//! A day of 10,000 connections on three `tib serve` instances sharing one
//! PostgreSQL, against an Acme API on 127.0.0.1, with the day compressed:
//! the connections sync once per `TIB_BENCH_DAY` seconds (120 by default)
//! at their phases, as they would once a day. Prints the claims per second,
//! how evenly the day spreads over time and over the instances, the
//! database's size and each instance's peak memory.
//!
//!     TIB_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tib-runtime --bench instances

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tib_runtime::demo::{member, serve};
use tib_runtime::schedule::next_sync;
use tib_runtime::store::NewConnection;
use tib_support::Secret;

const SECRET: &str = "acme-secret-token-8842";
const KEY: &str = "5f1e0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
/// Members per account: one page.
const MEMBERS: usize = 20;
const INSTANCES: usize = 3;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// An Acme API answering every account at once.
async fn api() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    serve(listener, |head: String| async move {
        if !head.to_lowercase().contains(&format!("authorization: token token={SECRET}")) {
            return Some(("401 Unauthorized", json!({"ok": false, "error": {"message": "bad token"}}).to_string()));
        }
        let offset: usize = head
            .split(['?', '&', ' '])
            .find_map(|p| p.strip_prefix("offset="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let end = (offset + 100).min(MEMBERS);
        let members: Vec<Value> = (offset.min(end)..end).map(member).collect();
        Some(("200 OK", json!({"ok": true, "data": {"members": members}, "has_more": end < MEMBERS}).to_string()))
    });
    format!("http://{address}/api/v2")
}

fn sql(url: &str, query: &str) -> Vec<i64> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("the PostgreSQL");
    client.query(query, &[]).unwrap_or_else(|e| panic!("{query}: {e}")).iter().map(|r| r.get::<_, i64>(0)).collect()
}

/// The peak resident memory of a process, in MiB.
fn peak_mib(child: &Child) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    let Ok(admin) = std::env::var("TIB_POSTGRES_URL") else {
        eprintln!("skipped: set TIB_POSTGRES_URL to a PostgreSQL (a schema of its own is made there)");
        return;
    };
    let connections = setting("TIB_BENCH_CONNECTIONS", 10_000) as usize;
    let day = setting("TIB_BENCH_DAY", 120) as i64;
    let max_concurrent = setting("TIB_BENCH_MAX_CONCURRENT", 16).to_string();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let base_url = runtime.block_on(api());
    let _serving = runtime.enter();

    let schema = format!("tib_bench_instances_{}", std::process::id());
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("the PostgreSQL");
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).expect("schema");
    let separator = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{separator}options=-c%20search_path%3D{schema}");

    // Connected as `tib connect` does (credentials sealed for each), each first due at its phase in the
    // day: its place in seconds from the day's start, which is set once all are connected.
    let store = tib_runtime::store::open(&url).expect("store");
    let vault = tib_runtime::vault::Vault::open(Some(KEY), std::path::Path::new("unused")).expect("vault");
    let connecting = Instant::now();
    for i in 0..connections {
        let account = format!("tenant-{i:05}");
        let sealed = vault.seal(&[Secret::new("demo"), Secret::new(SECRET)], &format!("acme/{account}")).expect("seal");
        let name = format!("acme/{account}");
        store
            .upsert_connection(&NewConnection {
                integration: "acme",
                account: &account,
                sealed_credentials: &sealed,
                base_url: Some(&base_url),
                interval_secs: day,
                next_sync_at: next_sync(-day / 2, day, &name),
                token_url: None,
                authorize_url: None,
                waiting_reason: None,
            })
            .expect("connect");
    }
    drop(store);
    println!("connected {connections} accounts in {:.1} s", connecting.elapsed().as_secs_f64());
    // A day starts where the phases count from: at a multiple of its length.
    let start = (chrono::Utc::now().timestamp() + 3).div_euclid(day) * day + day;
    client
        .batch_execute(&format!("UPDATE {schema}.connections SET next_sync_at = next_sync_at + {start}"))
        .expect("the day");

    let dir = tempfile::tempdir().expect("dir");
    let mut instances: Vec<(Child, std::path::PathBuf)> = (0..INSTANCES)
        .map(|n| {
            let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
            let log = dir.path().join(format!("instance-{n}.log"));
            let child = Command::new(env!("CARGO_BIN_EXE_tib"))
                .args(["serve", "--poll", "1", "--max-concurrent", &max_concurrent])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .env("TIB_STORE", &url)
                .env("TIB_KEY", KEY)
                .env("TIB_MAX_RETRIES", "0")
                .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log"))
                .spawn()
                .expect("serve");
            (child, log)
        })
        .collect();

    // The day: from its start until every connection synced once, or two days at most.
    let applied = "SELECT COUNT(DISTINCT connection_id) FROM runs WHERE outcome = 'applied'";
    let deadline = Instant::now()
        + Duration::from_secs((start - chrono::Utc::now().timestamp()).max(0) as u64)
        + Duration::from_secs(2 * day as u64);
    while sql(&url, applied)[0] < connections as i64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let peaks: Vec<f64> = instances.iter().map(|(child, _)| peak_mib(child)).collect();
    for (child, _) in &mut instances {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }

    let synced = sql(&url, applied)[0];
    let first_runs =
        sql(&url, "SELECT MIN(started_at) FROM runs WHERE outcome = 'applied' GROUP BY connection_id ORDER BY 1");
    let twice = sql(
        &url,
        &format!(
            "SELECT COUNT(*) FROM (SELECT connection_id FROM runs WHERE outcome = 'applied' AND started_at < {} \
             GROUP BY connection_id HAVING COUNT(*) > 1) t",
            start + day
        ),
    )[0];
    let failed = sql(&url, "SELECT COUNT(*) FROM runs WHERE outcome <> 'applied'")[0];
    if std::env::var_os("TIB_BENCH_KEEP_LOGS").is_some() {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("the PostgreSQL");
        for row in client
            .query("SELECT outcome, COALESCE(error, '') FROM runs WHERE outcome <> 'applied' LIMIT 5", &[])
            .expect("runs")
        {
            println!("  not applied: {}: {}", row.get::<_, String>(0), row.get::<_, String>(1));
        }
        for (_, log) in &instances {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            for line in text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).take(5) {
                println!("  {}: {line}", log.display());
            }
        }
    }
    // Claims per second: the syncs begun in each second of the day.
    let mut per_second = vec![0i64; day as usize];
    let mut late = 0;
    for at in &first_runs {
        match usize::try_from(at - start).ok().filter(|s| *s < per_second.len()) {
            Some(second) => per_second[second] += 1,
            None => late += 1,
        }
    }
    let buckets = 24usize;
    let per_hour: Vec<i64> = per_second.chunks(per_second.len().div_ceil(buckets)).map(|c| c.iter().sum()).collect();
    let mean = per_hour.iter().sum::<i64>() as f64 / per_hour.len() as f64;
    let (least, most) = (per_hour.iter().min().copied().unwrap_or(0), per_hour.iter().max().copied().unwrap_or(0));
    let per_instance: Vec<usize> = instances
        .iter()
        .map(|(_, log)| std::fs::read_to_string(log).unwrap_or_default().matches("sync started").count())
        .collect();
    let size: Vec<i64> = sql(
        &url,
        &format!(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{schema}' AND c.relkind = 'r'"
        ),
    );
    let users = sql(&url, "SELECT COUNT(*) FROM users")[0];
    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));

    println!(
        "a day of {connections} connections ({MEMBERS} users each) compressed into {day} s, on {INSTANCES} instances of --max-concurrent {max_concurrent}:"
    );
    println!(
        "  synced once: {synced} of {connections}; twice within the day: {twice}; runs not applied: {failed}; after the day: {late}"
    );
    println!(
        "  claims per second: {:.0} on average over the day, {} in the busiest second",
        per_second.iter().sum::<i64>() as f64 / day as f64,
        per_second.iter().max().copied().unwrap_or(0)
    );
    println!(
        "  spread over the day's 24 \"hours\": {least} to {most} syncs (mean {mean:.0}, the busiest {:.2}× the mean)",
        most as f64 / mean.max(1.0)
    );
    println!("  spread over the instances: {per_instance:?} syncs");
    println!("  database: {:.1} MiB for {users} users", size[0] as f64 / (1 << 20) as f64);
    println!(
        "  peak memory per instance: {}",
        peaks.iter().map(|p| format!("{p:.0} MiB")).collect::<Vec<_>>().join(", ")
    );
}
