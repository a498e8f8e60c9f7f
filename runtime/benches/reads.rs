//! Reads at scale: an Acme account of 100,000 users (`TIB_BENCH_USERS`) synced into a fresh SQLite
//! store by `tib sync`, then `tib serve` asked by `TIB_BENCH_CLIENTS` clients at once (16), each
//! for `TIB_BENCH_SECONDS` (5), in one run and side by side:
//!
//! - SCIM `GET /Users?filter=userName eq "…"`, a user picked at random each time (one found);
//! - the JSON API's first page of users (100);
//! - the same SCIM lookup again, to see that the figures hold.
//!
//! Prints requests per second, the median and the 99th percentile, and each one's ratio to the
//! API's. The clients run on the same machine as the server.
//!
//!     cargo bench -p tib-runtime --bench reads

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tib_runtime::demo::{member, serve};

const SECRET: &str = "acme-secret-token-8842";
const KEY: &str = "5f1e0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const ADMIN: &str = "bench-admin-token-0123456789";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// An Acme API listing `users` members, 100 a page.
async fn api(users: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    serve(listener, move |head: String| async move {
        let offset: usize = head
            .split(['?', '&', ' '])
            .find_map(|p| p.strip_prefix("offset="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let end = (offset + 100).min(users);
        let members: Vec<Value> = (offset.min(end)..end).map(member).collect();
        Some(("200 OK", json!({"ok": true, "data": {"members": members}, "has_more": end < users}).to_string()))
    });
    format!("http://{address}/api/v2")
}

/// What one kind of request did in its window.
struct Measured {
    requests: usize,
    seconds: f64,
    median_ms: f64,
    p99_ms: f64,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// `clients` clients asking `url_of(n)` (n counting each client's requests) for `seconds`; every
/// answer must pass `check`.
async fn measure(
    clients: usize,
    seconds: u64,
    url_of: Arc<dyn Fn(usize) -> String + Send + Sync>,
    check: fn(&Value) -> bool,
) -> Measured {
    let http = reqwest::Client::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let (http, url_of) = (http.clone(), url_of.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = client * 7919;
                while Instant::now() < end {
                    let sent = Instant::now();
                    let answer = http.get(url_of(n)).bearer_auth(ADMIN).send().await.expect("sent");
                    assert!(answer.status().is_success(), "HTTP {}", answer.status());
                    let body: Value = serde_json::from_slice(&answer.bytes().await.expect("a body")).expect("JSON");
                    assert!(check(&body), "{body}");
                    latencies.push(sent.elapsed());
                    n += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a client"));
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |share: f64| latencies[((latencies.len() as f64 * share) as usize).min(latencies.len() - 1)];
    Measured {
        requests: latencies.len(),
        seconds,
        median_ms: at(0.5).as_secs_f64() * 1000.0,
        p99_ms: at(0.99).as_secs_f64() * 1000.0,
    }
}

fn main() {
    let users = setting("TIB_BENCH_USERS", 100_000) as usize;
    let clients = setting("TIB_BENCH_CLIENTS", 16) as usize;
    let seconds = setting("TIB_BENCH_SECONDS", 5);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let base_url = runtime.block_on(api(users));
    let dir = tempfile::tempdir().expect("dir");
    let store = dir.path().join("tib.db");
    let tib = |args: &[&str]| {
        let status = Command::new(env!("CARGO_BIN_EXE_tib"))
            .args(args)
            .env("TIB_STORE", &store)
            .env("TIB_KEY", KEY)
            .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
            .stdout(Stdio::null())
            .status()
            .expect("tib runs");
        assert!(status.success(), "tib {args:?}");
    };
    let synced = Instant::now();
    tib(&[
        "connect",
        "acme",
        "Prod",
        "--cred",
        "tenant=demo",
        "--cred",
        &format!("api_token={SECRET}"),
        "--base-url",
        &base_url,
    ]);
    tib(&["sync", "acme", "Prod"]);
    println!("synced {users} users into a fresh store in {:.1} s", synced.elapsed().as_secs_f64());

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_tib"))
        .args(["serve", "--poll", "3600", "--listen", &format!("127.0.0.1:{port}"), "--max-connections", "1024"])
        .env("TIB_STORE", &store)
        .env("TIB_KEY", KEY)
        .env("TIB_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{base}/health")).await.is_err() {
            assert!(Instant::now() < deadline, "serve never answered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    // Users with an email: every 97th from 13 has none and is dropped.
    let listed: Vec<usize> = (0..users).filter(|i| i % 97 != 13).collect();
    let listed = Arc::new(listed);
    let scim_base = base.clone();
    let scim = Arc::new(move |n: usize| {
        let i = listed[(n.wrapping_mul(2_654_435_761)) % listed.len()];
        format!("{scim_base}/scim/v2/acme/Prod/Users?filter=userName%20eq%20%22user{i}%22")
    }) as Arc<dyn Fn(usize) -> String + Send + Sync>;
    let api_base = base.clone();
    let api = Arc::new(move |_| format!("{api_base}/api/v1/connections/acme/Prod/users?limit=100"))
        as Arc<dyn Fn(usize) -> String + Send + Sync>;
    let one_found: fn(&Value) -> bool = |body| body["totalResults"] == 1;
    let a_page: fn(&Value) -> bool = |body| body["users"].as_array().is_some_and(|u| u.len() == 100);
    let rounds = [
        ("SCIM userName eq", scim.clone(), one_found),
        ("API users, a page of 100", api, a_page),
        ("SCIM userName eq, again", scim, one_found),
    ];
    let measured: Vec<(&str, Measured)> = rounds
        .into_iter()
        .map(|(name, url_of, check)| (name, runtime.block_on(measure(clients, seconds, url_of, check))))
        .collect();
    let _ = server.kill();
    let _ = server.wait();

    let api_rate = measured[1].1.per_second();
    println!("{users} users, {clients} clients at once, {seconds} s each, on this machine:");
    for (name, m) in &measured {
        println!(
            "  {name:<26} {:>7.0} req/s  median {:>6.2} ms  p99 {:>6.2} ms  ({:.2}× the API's rate)",
            m.per_second(),
            m.median_ms,
            m.p99_ms,
            m.per_second() / api_rate
        );
    }
}
