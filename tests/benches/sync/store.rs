//! The whole path through the store: the runtime's `Engine::sync` of the
//! PagerDuty connector into a SQLite file, each sync in a fresh process (this
//! binary run again), so that its CPU time and peak memory are its own. Per
//! account size: the first sync, an unchanged re-sync, and a re-sync with
//! every tenth user renamed; beside them, in the same rounds, a plain Python
//! `http.client` + `json` loop over the same pages, the script users would
//! write themselves.

use std::borrow::Cow;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tib_runtime::store::Store;

use super::{PAGE, Pages, Server, cpu_seconds, median, peak_rss_mib, serve, spread};

/// Account sizes the section syncs.
const SIZES: [usize; 2] = [100_000, 1_000_000];
/// Rounds of each size: every sync of a round is a process of its own.
const ROUNDS: usize = 3;
/// Set in a child process: the store directory it syncs into.
const CHILD: &str = "TIB_BENCH_STORE_CHILD";
const MARKER: &[u8] = b"#######";

/// PagerDuty-shaped pages with a distinct user at every offset (7-digit ids
/// patched into one rendered page), `more: false` at the account's end. Every
/// tenth user's name ends with a letter set by the generation: moving it on
/// changes a tenth of the account.
struct Distinct {
    template: Vec<u8>,
    /// Where each user's id digits go (id, email and name), in page order.
    digits: Vec<Vec<usize>>,
    /// Where each user's generation letter goes.
    letters: Vec<usize>,
    /// Where `true` of `"more":true` is.
    more: usize,
    total: AtomicUsize,
    generation: AtomicU8,
}

impl Distinct {
    fn new() -> Distinct {
        let users: Vec<serde_json::Value> = (0..PAGE)
            .map(|i| {
                serde_json::json!({
                    "id": "P#######", "type": "user", "summary": "A user",
                    "name": "User #######~", "email": "user#######@example.com",
                    "time_zone": "Europe/Paris", "color": "green",
                    "role": if i % 10 == 3 { "read_only_limited_user" } else { "user" },
                    "avatar_url": "https://secure.gravatar.com/avatar/1.png", "description": null,
                    "invitation_sent": false, "job_title": "Engineer",
                    "teams": [{"id": "PT1", "type": "team_reference", "summary": "Ops"}],
                    "contact_methods": [{"id": "PC1", "type": "email_contact_method_reference"}],
                    "html_url": "https://acme.pagerduty.com/users/PXXXXXX"
                })
            })
            .collect();
        let template = serde_json::to_vec(&serde_json::json!({"users": users, "limit": PAGE, "more": true}))
            .expect("serialisable");
        let markers: Vec<usize> =
            template.windows(MARKER.len()).enumerate().filter(|(_, w)| *w == MARKER).map(|(i, _)| i).collect();
        assert_eq!(markers.len(), 3 * PAGE, "id, name and email of every user");
        let digits: Vec<Vec<usize>> = markers.chunks(3).map(<[usize]>::to_vec).collect();
        let letters: Vec<usize> = template.iter().enumerate().filter(|(_, b)| **b == b'~').map(|(i, _)| i).collect();
        assert_eq!(letters.len(), PAGE);
        let flag = b"\"more\":true";
        let more =
            template.windows(flag.len()).position(|w| w == flag).expect("the has-more flag") + b"\"more\":".len();
        Distinct { template, digits, letters, more, total: AtomicUsize::new(0), generation: AtomicU8::new(0) }
    }
}

impl Pages for Distinct {
    fn body(&self, head: &str) -> Cow<'_, [u8]> {
        let offset = super::query_number(head, "offset");
        let (total, generation) = (self.total.load(Ordering::Relaxed), self.generation.load(Ordering::Relaxed));
        let mut body = self.template.clone();
        for (i, (at, letter)) in self.digits.iter().zip(&self.letters).enumerate() {
            let n = offset + i;
            let text = format!("{n:07}");
            for position in at {
                body[*position..*position + 7].copy_from_slice(text.as_bytes());
            }
            body[*letter] = if n.is_multiple_of(10) { b'a' + generation } else { b'a' };
        }
        if offset + PAGE >= total {
            body.splice(self.more..self.more + b"true".len(), b"false".iter().copied());
        }
        Cow::Owned(body)
    }
}

/// One sync (or the Python loop) as measured in its process.
#[derive(Clone, Copy)]
struct Measured {
    wall: Duration,
    cpu_per_user: f64,
    peak_rss_mib: f64,
}

/// One kind of sync of a round.
type Pick = fn(&Round) -> Measured;

/// One round of one size.
struct Round {
    first: Measured,
    unchanged: Measured,
    changed: Measured,
    python: Measured,
}

/// Runs the section; `fetch_only` is the in-process client CPU per user of
/// the same connector without a store (the end-to-end section), when it ran.
pub fn section(fetch_only: Option<f64>) {
    let pages = Arc::new(Distinct::new());
    let server = serve(pages.clone(), Duration::ZERO);
    for size in SIZES {
        let mut rounds = Vec::new();
        for round in 1..=ROUNDS {
            let dir = tempfile::tempdir().expect("dir");
            pages.total.store(size, Ordering::Relaxed);
            pages.generation.store(0, Ordering::Relaxed);
            let first = child(dir.path(), &server, size, "first sync", &format!("{size} new"));
            let unchanged = child(dir.path(), &server, size, "unchanged re-sync", "0 new, 0 updated");
            pages.generation.store(1, Ordering::Relaxed);
            let changed = child(dir.path(), &server, size, "10 % changed", &format!("0 new, {} updated", size / 10));
            let python = python(&server, size);
            println!(
                "store {size} round {round}: first {:.2} µs/user {:.2} s {:.1} MiB; unchanged {:.2} µs {:.2} s {:.1} MiB; \
                 10% changed {:.2} µs {:.2} s {:.1} MiB; Python {:.2} µs {:.2} s {:.1} MiB",
                first.cpu_per_user,
                first.wall.as_secs_f64(),
                first.peak_rss_mib,
                unchanged.cpu_per_user,
                unchanged.wall.as_secs_f64(),
                unchanged.peak_rss_mib,
                changed.cpu_per_user,
                changed.wall.as_secs_f64(),
                changed.peak_rss_mib,
                python.cpu_per_user,
                python.wall.as_secs_f64(),
                python.peak_rss_mib,
            );
            rounds.push(Round { first, unchanged, changed, python });
        }
        summarise(size, &rounds, fetch_only);
    }
}

fn summarise(size: usize, rounds: &[Round], fetch_only: Option<f64>) {
    println!("store path, {size} users, medians of {} rounds:", rounds.len());
    let kinds: [(&str, Pick); 4] = [
        ("first sync", |r| r.first),
        ("unchanged re-sync", |r| r.unchanged),
        ("10 % changed re-sync", |r| r.changed),
        ("Python http.client + json loop", |r| r.python),
    ];
    for (name, pick) in kinds {
        let cpu: Vec<f64> = rounds.iter().map(|r| pick(r).cpu_per_user).collect();
        let wall: Vec<f64> = rounds.iter().map(|r| pick(r).wall.as_secs_f64()).collect();
        let rss: Vec<f64> = rounds.iter().map(|r| pick(r).peak_rss_mib).collect();
        let share = fetch_only
            .filter(|_| !name.starts_with("Python"))
            .map(|f| format!("; the store's share {:.0} %", 100.0 * (1.0 - f / median(&cpu)).max(0.0)))
            .unwrap_or_default();
        println!(
            "  {name}: CPU {:.2} µs/user ({}), wall {:.2} s ({}), peak RSS {:.1} MiB ({}){share}",
            median(&cpu),
            spread(&cpu, 2),
            median(&wall),
            spread(&wall, 2),
            median(&rss),
            spread(&rss, 1)
        );
    }
    for (name, pick) in [
        ("first", (|r| r.first) as fn(&Round) -> Measured),
        ("unchanged", |r| r.unchanged),
        ("10 % changed", |r| r.changed),
    ] {
        let ratios: Vec<f64> = rounds.iter().map(|r| r.python.cpu_per_user / pick(r).cpu_per_user).collect();
        println!("  Python CPU / tib CPU, {name}: {:.2}x (rounds: {})", median(&ratios), spread(&ratios, 2));
    }
}

/// Runs one `Engine::sync` in a fresh process and reads what it measured.
fn child(dir: &Path, server: &Server, size: usize, what: &str, expect: &str) -> Measured {
    let output = Command::new(std::env::current_exe().expect("this bench"))
        .env(CHILD, dir)
        .env("TIB_BENCH_URL", server.url.as_str())
        .env("TIB_BENCH_USERS", size.to_string())
        .output()
        .expect("the child runs");
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{what}: {said}{}", String::from_utf8_lossy(&output.stderr));
    assert!(said.contains(expect), "{what}: expected `{expect}` in {said}");
    parse_measured(&said)
}

/// `wall cpu_per_user peak_rss_mib` on the first line.
fn parse_measured(said: &str) -> Measured {
    let numbers: Vec<f64> =
        said.lines().next().unwrap_or_default().split_whitespace().take(3).filter_map(|n| n.parse().ok()).collect();
    assert_eq!(numbers.len(), 3, "measured: {said}");
    Measured { wall: Duration::from_secs_f64(numbers[0]), cpu_per_user: numbers[1], peak_rss_mib: numbers[2] }
}

/// In a child process (see [`CHILD`]): syncs once and prints what it measured; false otherwise.
pub fn child_main() -> bool {
    let Some(dir) = std::env::var_os(CHILD) else { return false };
    let dir = std::path::PathBuf::from(dir);
    let url = url::Url::parse(&std::env::var("TIB_BENCH_URL").expect("url")).expect("a URL");
    let size: f64 = std::env::var("TIB_BENCH_USERS").expect("users").parse().expect("a number");
    // From the store's opening on, as `tib sync` spends it.
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let store: Arc<dyn Store> =
        Arc::new(tib_runtime::store::sqlite::Sqlite::open(&dir.join("tib.db")).expect("the store"));
    let vault = Arc::new(tib_runtime::vault::Vault::open(None, &dir.join("tib.key")).expect("the key"));
    if store.connection("pagerduty", "Bench").expect("read").is_none() {
        let sealed = vault.seal(&[tib_support::Secret::new("bench-key")], "pagerduty/Bench").expect("sealed");
        store
            .upsert_connection(&tib_runtime::store::NewConnection {
                integration: "pagerduty",
                account: "Bench",
                sealed_credentials: &sealed,
                base_url: Some(url.as_str()),
                interval_secs: 86_400,
                next_sync_at: 0,
                token_url: None,
                authorize_url: None,
                waiting_reason: None,
            })
            .expect("connected");
    }
    let connection = store.connection("pagerduty", "Bench").expect("read").expect("connected");
    let network = tib_support::NetworkPolicy::with_loopback();
    let engine = tib_runtime::sync::Engine {
        store,
        vault,
        client: tib_support::Client::new(tib_support::ClientSettings { network, ..Default::default() })
            .expect("client"),
        notifier: std::sync::Arc::new(tib_runtime::notify::Notifier::new(None, Vec::new()).expect("notifier")),
        apply: tib_runtime::store::ApplyPolicy::default(),
        options: tib_support::SyncOptions::default(),
        notify_after_failures: 3,
        clock: Arc::new(tib_runtime::clock::SystemClock),
        owner: tib_runtime::owner::this_process(),
        lease_secs: tib_runtime::schedule::LEASE_SECS,
        client_tokens: std::sync::Mutex::default(),
        live: Default::default(),
    };
    let ended = runtime.block_on(engine.sync(&connection, &mut |_, _| {})).expect("the sync runs");
    let (wall, cpu) = (start.elapsed(), cpu_seconds() - cpu);
    println!("{} {} {}", wall.as_secs_f64(), cpu * 1e6 / size, peak_rss_mib());
    match ended {
        tib_runtime::sync::Ended::Applied { added, updated, deleted, .. } => {
            println!("{added} new, {updated} updated, {deleted} deleted");
        }
        other => println!("{other:?}"),
    }
    true
}

/// The loop a user would write: fetch every page with `http.client` on one
/// kept-alive connection, parse it with `json`, and keep the fields tib maps.
const PYTHON: &str = r#"
import http.client, json, resource, sys, time
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = time.monotonic()
connection = http.client.HTTPConnection(host, port)
headers = {"Authorization": "Token token=bench-key", "Accept": "application/vnd.pagerduty+json;version=2"}
offset, kept = 0, 0
while True:
    connection.request("GET", f"/users?include%5B%5D=teams&offset={offset}&limit=100", headers=headers)
    page = json.loads(connection.getresponse().read())
    users = [
        {"id": u["id"], "email": u["email"], "name": u["name"], "role": u["role"],
         "active": u["role"] != "read_only_limited_user" and u["invitation_sent"] is not True,
         "job_title": u.get("job_title"), "time_zone": u.get("time_zone")}
        for u in page["users"]
    ]
    kept += len(users)
    offset += 100
    if not page["more"]:
        break
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(wall, (usage.ru_utime + usage.ru_stime) * 1e6 / kept, usage.ru_maxrss / 1024)
print(kept, "users")
"#;

fn python(server: &Server, size: usize) -> Measured {
    let host = server.url.host_str().expect("host");
    let port = server.url.port().expect("port").to_string();
    let output =
        Command::new("python3").args(["-c", PYTHON, host, &port, &size.to_string()]).output().expect("python3 runs");
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "python: {said}{}", String::from_utf8_lossy(&output.stderr));
    assert!(said.contains(&format!("{size} users")), "python read every user: {said}");
    parse_measured(&said)
}
