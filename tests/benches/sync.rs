//! Benchmark: sync 1,000,000 users in pages of 100 through the generated
//! PagerDuty connector from a fast local server on 127.0.0.1, beside two
//! references over the same bytes in the same run: serde_json into
//! `IgnoredAny` (the floor any Rust connector pays) and the same spec
//! evaluated over `serde_json::Value` by preview's interpreter. Then the gain
//! of concurrent pages with 20 ms of added latency per request.
//!
//! The server runs on a thread of its own, so the client's CPU time is
//! reported apart from the server's. The sections run in turn for
//! [`ROUNDS`] rounds, and the goals are read off their medians.
//!
//! Then the whole path through the runtime's store ([`store`]): first sync,
//! unchanged and 10 %-changed re-syncs, beside a Python loop.
//!
//! Then lookups: 100,000 users through the Jira example, each with its groups
//! asked by a lookup answered after 1 ms, measuring what the sync holds
//! meanwhile: requests in flight at most, peak RSS, time and CPU per user.
//!
//! `cargo bench -p tib-e2e --bench sync` prints the figures the README quotes;
//! `cargo bench -p tib-e2e --bench sync -- e2e` (or `floor`, `typed`, `value`,
//! `transport`, `latency`, `store`, `lookups`) runs one section, to profile it.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Buf;
use serde_json::Value;
use tib_support::spec::{Counted, Pagination, Spec};
use tib_support::{Client, Connection, Connector, CredentialValues, RetryPolicy, Secret, SyncOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// The allocator is the system's, as in the `tib` binary: mimalloc spent no
// less CPU on the whole path through the store and raised its peak memory
// from 14 to 36 MiB at a million users (README, "Syncing users").

const USERS: usize = 1_000_000;
const PAGE: usize = 100;
/// Distinct page bodies the server cycles through (ids differ per body).
const BODIES: usize = 100;

/// Rounds of each measured section. The machine is shared and its speed
/// drifts by a quarter from one minute to the next, so the sections run in
/// turn, round after round, and their medians are compared.
const ROUNDS: usize = 5;

#[path = "sync/store.rs"]
mod store;

fn main() {
    if store::child_main() {
        return;
    }
    // `cargo bench -p tib-e2e --bench sync -- typed` runs one section, to profile it.
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let bodies = Arc::new(page_bodies());
    let connector = tib_connectors::connector("pagerduty").expect("the PagerDuty example connector");
    let value_interpreter = interpreter("pagerduty");
    let server = serve(Arc::new(Cycled(bodies.to_vec())), Duration::ZERO);
    let transport: &'static TransportOnly = Box::leak(Box::new(TransportOnly(connector.spec())));

    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let e2e = run("e2e").then(|| end_to_end(&runtime, &server, connector, "end to end", USERS as u64));
        if run("transport") {
            end_to_end(&runtime, &server, transport, "transport alone (no user read)", 0);
        }
        let floor = run("floor").then(|| {
            let floor = pages_through(&bodies, |body| {
                let _: serde::de::IgnoredAny = serde_json::from_slice(body).expect("valid JSON");
            });
            println!("parse floor (IgnoredAny): {:.0} users/s", per_second(floor));
            floor
        });
        let typed = run("typed").then(|| {
            let typed = parse_and_map(connector, &bodies);
            println!("generated connector, parse and map only: {:.0} users/s", per_second(typed));
            typed
        });
        let value = run("value").then(|| {
            let value = parse_and_map(&value_interpreter, &bodies);
            println!("same spec over serde_json::Value: {:.0} users/s", per_second(value));
            value
        });
        if let (Some(e2e), Some(floor), Some(typed), Some(value)) = (e2e, floor, typed, value) {
            rounds.push(Round { e2e, floor, typed, value });
        }
    }
    if !rounds.is_empty() {
        summarise(&rounds);
    }
    if run("store") {
        let cpu: Vec<f64> = rounds.iter().map(|r| r.e2e.client_cpu_per_user).collect();
        store::section((!cpu.is_empty()).then(|| median(&cpu)));
    }
    if run("latency") {
        concurrent_pages(&runtime, &bodies, connector);
    }
    if run("lookups") {
        lookups(&runtime);
    }
}

/// Users of the lookups section.
const LOOKUP_USERS: usize = 100_000;

/// Jira's users, 100 a page by `startAt`, and each user's groups.
struct JiraUsers {
    page: Vec<u8>,
    groups: Vec<u8>,
}

impl Pages for JiraUsers {
    fn body(&self, head: &str) -> Cow<'_, [u8]> {
        let target = head.split_whitespace().nth(1).unwrap_or("");
        if target.starts_with("/user/groups") {
            return Cow::Borrowed(&self.groups);
        }
        let start = query_number(head, "startAt");
        if start >= LOOKUP_USERS {
            return Cow::Borrowed(b"[]");
        }
        // Ids differ per page: a lookup is asked with the user's own.
        Cow::Owned(String::from_utf8_lossy(&self.page).replace("{start}", &start.to_string()).into_bytes())
    }

    fn latency(&self, head: &str) -> bool {
        head.contains("/user/groups")
    }
}

/// 100,000 users with one lookup each (Jira's groups, 8 at a time as its spec says), each lookup
/// answered after 1 ms.
fn lookups(runtime: &tokio::runtime::Runtime) {
    let users: Vec<Value> = (0..PAGE)
        .map(|i| {
            serde_json::json!({
                "accountId": format!("557058:{{start}}-{i}"), "accountType": "atlassian", "active": true,
                "emailAddress": format!("user{i}@acme.example"), "displayName": format!("User {i}"),
                "timeZone": "Europe/Berlin", "locale": "en_US", "self": "https://acme.atlassian.net/rest/api/3/user"
            })
        })
        .collect();
    let groups = serde_json::json!([
        {"name": "jira-software-users", "groupId": "6e87dc72-4f1f-421f-b4aa-4b1c5d3f8a8b", "self": "https://acme.atlassian.net/rest/api/3/group"},
        {"name": "site-admins", "groupId": "0a5e1e0c-3b9c-4d7a-8d15-6b0f3c2e9d41", "self": "https://acme.atlassian.net/rest/api/3/group"}
    ]);
    let pages = JiraUsers {
        page: serde_json::to_vec(&users).expect("serialisable"),
        groups: serde_json::to_vec(&groups).expect("serialisable"),
    };
    let server = serve(Arc::new(pages), Duration::from_millis(1));
    let connector = tib_connectors::connector("jira").expect("the Jira example connector");
    let (cpu_before, server_before) = (cpu_seconds(), server.cpu_seconds());
    let start = Instant::now();
    let url = server.url.clone();
    let summary = runtime
        .block_on(runtime.spawn(async move {
            let values = ["acme", "admin@acme.example", "token"].map(|v| (Secret::new(v), false)).to_vec();
            let credentials = CredentialValues::new(values);
            let connection = Connection { credentials: &credentials, tokens: None, base_url: Some(&url) };
            let client = Client::new(tib_support::ClientSettings {
                network: tib_support::NetworkPolicy::with_loopback(),
                ..tib_support::ClientSettings::default()
            })
            .expect("a client");
            let options = SyncOptions { retry: RetryPolicy::default(), ..SyncOptions::default() };
            tib_support::sync(&client, Arc::new(connector), &connection, &options, &mut |_| {}).await
        }))
        .expect("the sync task")
        .expect("the sync");
    let wall = start.elapsed();
    let client_cpu = cpu_seconds() - cpu_before - (server.cpu_seconds() - server_before);
    assert_eq!((summary.users, summary.lookups), (LOOKUP_USERS as u64, LOOKUP_USERS as u64));
    println!(
        "lookups: {LOOKUP_USERS} users and {} lookups in {:.2} s = {:.0} users/s; {} lookups in flight at most \
         (the spec allows 8); CPU per user {:.1} µs in the client; peak RSS of the process {:.1} MiB",
        summary.lookups,
        wall.as_secs_f64(),
        LOOKUP_USERS as f64 / wall.as_secs_f64(),
        server.most_in_flight.load(Ordering::Relaxed),
        client_cpu * 1e6 / LOOKUP_USERS as f64,
        peak_rss_mib(),
    );
}

/// One round's measures of the sections the goals compare.
struct Round {
    e2e: Synced,
    floor: Duration,
    typed: Duration,
    value: Duration,
}

/// Prints the medians of the rounds, and the ratios within each round.
fn summarise(rounds: &[Round]) {
    let users_per_second = |time: fn(&Round) -> Duration| {
        let rates: Vec<f64> = rounds.iter().map(|r| per_second(time(r))).collect();
        format!("{:.0} users/s ({})", median(&rates), spread(&rates, 0))
    };
    println!("medians of {} rounds:", rounds.len());
    println!("  end to end: {}", users_per_second(|r| r.e2e.wall));
    let cpu: Vec<f64> = rounds.iter().map(|r| r.e2e.client_cpu_per_user).collect();
    println!("  CPU per user in the client: {:.2} µs ({})", median(&cpu), spread(&cpu, 2));
    // VmHWM only grows: after the last round it covers every section, the references' included.
    println!("  peak RSS of the process: {:.1} MiB", rounds.iter().map(|r| r.e2e.peak_rss_mib).fold(0.0, f64::max));
    println!("  parse floor (IgnoredAny): {}", users_per_second(|r| r.floor));
    println!("  generated connector, parse and map only: {}", users_per_second(|r| r.typed));
    println!("  same spec over serde_json::Value: {}", users_per_second(|r| r.value));
    let ratio = |name: &str, ratio: fn(&Round) -> f64| {
        let ratios: Vec<f64> = rounds.iter().map(ratio).collect();
        println!("  {name}: {:.2} (rounds: {})", median(&ratios), spread(&ratios, 2));
    };
    println!("ratios, median over the rounds:");
    ratio("end to end / parse floor", |r| r.floor.as_secs_f64() / r.e2e.wall.as_secs_f64());
    ratio("parse and map / parse floor", |r| r.floor.as_secs_f64() / r.typed.as_secs_f64());
    ratio("typed / Value", |r| r.value.as_secs_f64() / r.typed.as_secs_f64());
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The lowest and highest of `values`, to `decimals` places.
fn spread(values: &[f64], decimals: usize) -> String {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{low:.decimals$}–{high:.decimals$}")
}

/// What one end-to-end sync measured.
struct Synced {
    wall: Duration,
    client_cpu_per_user: f64,
    peak_rss_mib: f64,
}

/// Syncs every user through sockets with the generated connector.
fn end_to_end(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    connector: &'static dyn Connector,
    what: &str,
    users_read: u64,
) -> Synced {
    let (cpu_before, server_before) = (cpu_seconds(), server.cpu_seconds());
    let requests_before = server.requests.load(Ordering::Relaxed);
    let start = Instant::now();
    // As the runtime's scheduler does: the sync is a task on the worker threads.
    let url = server.url.clone();
    let users = runtime.block_on(runtime.spawn(async move { sync(connector, &url).await })).expect("the sync task");
    let wall = start.elapsed();
    let server_cpu = server.cpu_seconds() - server_before;
    let client_cpu = cpu_seconds() - cpu_before - server_cpu;
    let peak = peak_rss_mib();
    assert_eq!(users, users_read, "{what}: every user synced");
    println!(
        "{what}: {USERS} users in {:.2} s = {:.0} users/s; CPU per user {:.2} µs in the client, {:.2} µs in the server; peak RSS {peak:.1} MiB; {} requests",
        wall.as_secs_f64(),
        per_second(wall),
        client_cpu * 1e6 / USERS as f64,
        server_cpu * 1e6 / USERS as f64,
        server.requests.load(Ordering::Relaxed) - requests_before,
    );
    Synced { wall, client_cpu_per_user: client_cpu * 1e6 / USERS as f64, peak_rss_mib: peak }
}

/// The time to run `read` over every page's bytes.
fn pages_through(bodies: &[Vec<u8>], mut read: impl FnMut(&[u8])) -> Duration {
    let start = Instant::now();
    for i in 0..USERS / PAGE {
        read(&bodies[i % BODIES]);
    }
    start.elapsed()
}

/// The time `connector` takes to parse and map every page, without HTTP.
fn parse_and_map(connector: &dyn Connector, bodies: &[Vec<u8>]) -> Duration {
    let mut kept = 0usize;
    let time = pages_through(bodies, |body| {
        connector.parse_page(body, &mut |u| kept += usize::from(u.is_ok())).expect("parses");
    });
    assert_eq!(kept, USERS);
    time
}

fn per_second(time: Duration) -> f64 {
    USERS as f64 / time.as_secs_f64()
}

/// Concurrent pages against a slow API: 20 ms added to every answer.
fn concurrent_pages(runtime: &tokio::runtime::Runtime, bodies: &Arc<Vec<Vec<u8>>>, connector: &'static dyn Connector) {
    let slow = serve(Arc::new(Cycled(bodies.to_vec())), Duration::from_millis(20));
    let limited = 20_000;
    for concurrency in [1, 4] {
        let start = Instant::now();
        let users = runtime.block_on(sync_limited(connector, &slow.url, concurrency, limited));
        println!(
            "20 ms latency, {limited} users, concurrency {concurrency}: {:.2} s ({users} users)",
            start.elapsed().as_secs_f64()
        );
    }
}

/// Page bodies shaped like PagerDuty's `GET /users`, `more` left for the server to set.
fn page_bodies() -> Vec<Vec<u8>> {
    (0..BODIES)
        .map(|b| {
            let users: Vec<Value> = (0..PAGE)
                .map(|i| {
                    let n = b * PAGE + i;
                    serde_json::json!({
                        "id": format!("P{n:06}"), "type": "user", "summary": format!("User {n}"),
                        "name": format!("User {n}"), "email": format!("user{n}@example.com"),
                        "time_zone": "Europe/Paris", "color": "green",
                        "role": if n.is_multiple_of(10) { "read_only_limited_user" } else { "user" },
                        "avatar_url": "https://secure.gravatar.com/avatar/1.png", "description": null,
                        "invitation_sent": false, "job_title": "Engineer",
                        "teams": [{"id": "PT1", "type": "team_reference", "summary": "Ops"}],
                        "contact_methods": [{"id": "PC1", "type": "email_contact_method_reference"}],
                        "html_url": format!("https://acme.pagerduty.com/users/P{n:06}")
                    })
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({"users": users, "limit": PAGE, "more": true})).expect("serialisable")
        })
        .collect()
}

struct Server {
    url: url::Url,
    requests: Arc<AtomicU64>,
    /// The most requests being answered at once.
    most_in_flight: Arc<AtomicU64>,
    /// The server thread's id, to read its CPU time apart from the client's.
    thread: u32,
}

impl Server {
    /// User plus system CPU time of the server's thread so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/self/task/{}/stat", self.thread))
    }
}

/// What the bench's server answers for a request, by its head.
trait Pages: Send + Sync + 'static {
    fn body(&self, head: &str) -> Cow<'_, [u8]>;

    /// Whether this request is answered after the server's latency.
    fn latency(&self, head: &str) -> bool {
        let _ = head;
        true
    }
}

/// The pre-rendered bodies, cycled: ids repeat every [`BODIES`] pages.
struct Cycled(Vec<Vec<u8>>);

impl Pages for Cycled {
    fn body(&self, head: &str) -> Cow<'_, [u8]> {
        let offset = query_number(head, "offset");
        let body = &self.0[(offset / PAGE) % BODIES];
        if offset + PAGE >= USERS {
            let text = String::from_utf8_lossy(body).replace("\"more\":true", "\"more\":false");
            Cow::Owned(text.into_bytes())
        } else {
            Cow::Borrowed(body)
        }
    }
}

/// A minimal HTTP/1.1 server on a thread of its own: keep-alive, answers every
/// request with the body for its offset. Its own thread keeps its CPU time
/// apart from the client's.
fn serve(bodies: Arc<dyn Pages>, latency: Duration) -> Server {
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("server runtime");
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = url::Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("url");
            let requests = Arc::new(AtomicU64::new(0));
            let (in_flight, most_in_flight) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let thread = this_thread_id();
            let server = Server { url, requests: requests.clone(), most_in_flight: most_in_flight.clone(), thread };
            ready.send(server).expect("the bench waits");
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let counters = Counters {
                    requests: requests.clone(),
                    in_flight: in_flight.clone(),
                    most_in_flight: most_in_flight.clone(),
                };
                tokio::spawn(answer(socket, bodies.clone(), counters, latency));
            }
        });
    });
    started.recv().expect("the server starts")
}

/// What the server counts, shared by its connections.
struct Counters {
    requests: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    most_in_flight: Arc<AtomicU64>,
}

/// Answers the requests of one connection.
async fn answer(mut socket: tokio::net::TcpStream, bodies: Arc<dyn Pages>, counters: Counters, latency: Duration) {
    // Without it, Nagle's algorithm and delayed ACKs hold every answer ~40 ms.
    let _ = socket.set_nodelay(true);
    let mut buffer = vec![0u8; 8192];
    let mut filled = 0;
    loop {
        let Ok(n) = socket.read(&mut buffer[filled..]).await else { return };
        if n == 0 {
            return;
        }
        filled += n;
        let Some(end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.copy_within(end + 4..filled, 0);
        filled -= end + 4;
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let at_once = counters.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counters.most_in_flight.fetch_max(at_once, Ordering::Relaxed);
        let body = bodies.body(&head);
        if !latency.is_zero() && bodies.latency(&head) {
            tokio::time::sleep(latency).await;
        }
        counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        let head =
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
        // Head and body in one write, without copying the body.
        let mut answer = Buf::chain(head.as_bytes(), &body[..]);
        if socket.write_all_buf(&mut answer).await.is_err() {
            return;
        }
    }
}

/// The kernel's id of the calling thread.
fn this_thread_id() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("Linux /proc");
    link.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok()).expect("a thread id")
}

fn query_number(head: &str, name: &str) -> usize {
    let target = head.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Syncs with the spec as written (PagerDuty fetches 4 pages at once).
async fn sync(connector: &'static dyn Connector, url: &url::Url) -> u64 {
    let concurrency = match &connector.spec().pagination {
        Pagination::Offset(counted) => counted.concurrency,
        _ => 1,
    };
    sync_limited(connector, url, concurrency, USERS).await
}

/// Syncs with the spec's concurrency replaced, stopping after `limit` users.
async fn sync_limited(connector: &'static dyn Connector, url: &url::Url, concurrency: u32, limit: usize) -> u64 {
    let spec = with_concurrency(connector.spec(), concurrency);
    let bench = Arc::new(Bench { inner: connector, spec });
    let creds = CredentialValues::new(vec![(Secret::new("bench-key"), true)]);
    let connection = Connection { credentials: &creds, tokens: None, base_url: Some(url) };
    let network = tib_support::NetworkPolicy::with_loopback();
    let client = Client::new(tib_support::ClientSettings { network, ..Default::default() }).expect("client");
    let options = SyncOptions {
        max_pages: u32::try_from(limit / PAGE).expect("fits"),
        retry: RetryPolicy::default(),
        ..SyncOptions::default()
    };
    let mut users = 0u64;
    let result =
        tib_support::sync(&client, bench, &connection, &options, &mut |page| users += page.users.len() as u64).await;
    match result {
        Ok(summary) => summary.users + summary.dropped,
        // A limited run ends at its page cap, by design.
        Err(tib_support::SyncError::PageCap { .. }) if limit < USERS => users,
        Err(error) => panic!("sync failed: {error}"),
    }
}

fn with_concurrency(spec: &Spec, concurrency: u32) -> &'static Spec {
    let mut spec = spec.clone();
    if let Pagination::Offset(Counted { concurrency: c, .. }) = &mut spec.pagination {
        *c = concurrency;
    }
    Box::leak(Box::new(spec))
}

/// The PagerDuty connector with another request side.
struct Bench {
    inner: &'static dyn Connector,
    spec: &'static Spec,
}

impl Connector for Bench {
    fn spec(&self) -> &'static Spec {
        self.spec
    }

    fn parse_page(
        &self,
        body: &[u8],
        users: &mut dyn FnMut(Result<tib_support::User, tib_support::Dropped>),
    ) -> Result<tib_support::PageInfo, tib_support::PageError> {
        self.inner.parse_page(body, users)
    }
}

/// The transport alone: a reader that takes only the has-more flag from the
/// head of each body (the bench's bodies put it first) and reads no user, so
/// the sync costs what HTTP and pagination cost the client.
struct TransportOnly(&'static Spec);

impl Connector for TransportOnly {
    fn spec(&self) -> &'static Spec {
        self.0
    }

    fn parse_page(
        &self,
        body: &[u8],
        _users: &mut dyn FnMut(Result<tib_support::User, tib_support::Dropped>),
    ) -> Result<tib_support::PageInfo, tib_support::PageError> {
        let head = &body[..body.len().min(64)];
        let flag = |text: &[u8]| head.windows(text.len()).any(|w| w == text);
        let more = flag(b"\"more\":true");
        assert!(more || flag(b"\"more\":false"), "the bench's bodies hold the has-more flag in their head");
        Ok(tib_support::PageInfo { count: PAGE, next: None, more: Some(more), total: None })
    }
}

/// The interpreter `compiler preview` runs, for the example spec of `id`.
fn interpreter(id: &str) -> tib_interpret::Interpreted {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let catalog = tib_front::workspace::CatalogFile::load(&root).expect("catalog").catalog();
    let paths = tib_front::workspace::spec_paths(&root).expect("specs");
    let files = tib_front::workspace::compile_files(&root, &paths, &catalog);
    let spec = files.into_iter().filter_map(|f| f.compiled.spec).find(|s| s.app.id == id).expect("the example spec");
    tib_interpret::Interpreted::new(spec)
}

/// User plus system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// User plus system CPU time from a `/proc` stat file, in seconds.
fn cpu_seconds_of(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

/// The peak resident set size of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
