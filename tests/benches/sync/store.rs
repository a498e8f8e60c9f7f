//! The whole path through the store: the runtime's `Engine::sync` of the
//! connector of the shared benchmark's mock users API into a SQLite file, each sync in a fresh process (this
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
/// The connector synced: the shared benchmark's mock users API (`specs/mock-users-api.tib`).
const INTEGRATION: &str = "mock_users_api";
/// Set in a child process: the store directory it syncs into.
const CHILD: &str = "TIB_BENCH_STORE_CHILD";

/// Pages of the shared benchmark's mock users API (`mock_users_api.py`), made here with the same
/// fields, sizes and types: about 15 top-level fields a user (~740 bytes), a nested `profile`, a
/// `licenses` array, ISO timestamps, 100 a page by offset with the total in `meta`. A distinct user
/// at every offset (8-digit numbers patched into one rendered page); every tenth user's last name
/// ends with a letter set by the generation: moving it on changes a tenth of the account.
struct MockUsers {
    /// The page's users, rendered once, between `{"data":[` and the `meta` made per request.
    users: Vec<u8>,
    /// Where each user's number goes (id, email, username), in page order.
    digits: Vec<Vec<usize>>,
    /// Where each user's generation letter goes.
    letters: Vec<usize>,
    total: AtomicUsize,
    generation: AtomicU8,
}

/// The mock's word lists, as `mock_users_api.py` has them.
const FIRST: [&str; 20] = [
    "Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "John", "Radia", "Edsger",
    "Hedy", "Tim", "Karen", "Niklaus", "Sophie", "Donald", "Shafi", "Leslie",
];
const LAST: [&str; 20] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Backus",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Sparck-Jones",
    "Wirth",
    "Wilson",
    "Knuth",
    "Goldwasser",
    "Lamport",
];
const DEPARTMENTS: [&str; 8] = ["Engineering", "Sales", "Marketing", "Finance", "Support", "Legal", "HR", "Operations"];
const TITLES: [&str; 8] =
    ["Engineer", "Senior Engineer", "Manager", "Director", "Analyst", "Specialist", "Account Executive", "Designer"];
const COUNTRIES: [(&str, &str); 8] = [
    ("US", "America/New_York"),
    ("DE", "Europe/Berlin"),
    ("FR", "Europe/Paris"),
    ("GB", "Europe/London"),
    ("IN", "Asia/Kolkata"),
    ("JP", "Asia/Tokyo"),
    ("BR", "America/Sao_Paulo"),
    ("AU", "Australia/Sydney"),
];
const SKUS: [(&str, &str); 5] = [
    ("ENTERPRISE", "Enterprise seat"),
    ("PRO", "Pro seat"),
    ("BASIC", "Basic seat"),
    ("ADDON_ANALYTICS", "Analytics add-on"),
    ("ADDON_SSO", "SSO add-on"),
];
const ROLES: [&str; 5] = ["member", "admin", "owner", "guest", "billing"];
const NUMBER: &str = "########";

/// A user of the page's slot `slot`, its number left as [`NUMBER`] and its generation letter as `~`.
/// Drawn from a small generator seeded by the slot, as the mock draws from one seeded by the id.
fn mock_user(slot: u64) -> serde_json::Value {
    let mut state = slot.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut next = move |below: u64| {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    };
    let (first, last) = (FIRST[next(20) as usize], LAST[next(20) as usize]);
    let (country, zone) = COUNTRIES[next(8) as usize];
    let status = match next(100) {
        0..80 => "active",
        80..92 => "suspended",
        _ => "deprovisioned",
    };
    let day = |next: &mut dyn FnMut(u64) -> u64, year: u64| {
        format!("{year}-{:02}-{:02}T{:02}:{:02}:{:02}Z", next(12) + 1, next(28) + 1, next(24), next(60), next(60))
    };
    let year = 2015 + next(10);
    let created = day(&mut next, year);
    let last_login = (next(10) > 0).then(|| day(&mut next, 2025));
    let licenses: Vec<serde_json::Value> = (0..next(4))
        .map(|n| {
            let (sku, name) = SKUS[((slot + n) % 5) as usize];
            let state = if next(10) > 0 { "assigned" } else { "pending" };
            serde_json::json!({"sku": sku, "name": name, "assigned_at": day(&mut next, 2024), "state": state})
        })
        .collect();
    let groups: Vec<String> = (0..next(5)).map(|_| format!("grp_{:03}", next(50) + 1)).collect();
    serde_json::json!({
        "id": format!("usr_{NUMBER}"),
        "external_id": format!("ext-{:012x}", next(1 << 48)),
        "email": format!("{}.{}.{NUMBER}@example.com", first.to_lowercase(), last.to_lowercase()),
        "username": format!("{}{NUMBER}", first.to_lowercase()),
        "first_name": first,
        "last_name": format!("{last}~"),
        "display_name": format!("{first} {last}"),
        "status": status,
        "is_admin": next(100) < 5,
        "mfa_enabled": next(100) < 70,
        "role": ROLES[next(5) as usize],
        "created_at": created,
        "updated_at": day(&mut next, 2025),
        "last_login_at": last_login,
        "profile": {
            "title": TITLES[next(8) as usize],
            "department": DEPARTMENTS[next(8) as usize],
            "manager_id": format!("usr_{:08}", next(1000)),
            "location": {"country": country, "timezone": zone},
            "phone": format!("+1-555-{:04}", next(10_000)),
            "locale": "en-US",
        },
        "licenses": licenses,
        "groups": groups,
    })
}

impl MockUsers {
    fn new() -> MockUsers {
        let users: Vec<serde_json::Value> = (0..PAGE as u64).map(mock_user).collect();
        let rendered = serde_json::to_vec(&users).expect("serialisable");
        // Without the array's brackets: the page puts its own around them.
        let users = rendered[1..rendered.len() - 1].to_vec();
        let markers: Vec<usize> =
            users.windows(NUMBER.len()).enumerate().filter(|(_, w)| *w == NUMBER.as_bytes()).map(|(i, _)| i).collect();
        assert_eq!(markers.len(), 3 * PAGE, "id, email and username of every user");
        let digits: Vec<Vec<usize>> = markers.chunks(3).map(<[usize]>::to_vec).collect();
        let letters: Vec<usize> = users.iter().enumerate().filter(|(_, b)| **b == b'~').map(|(i, _)| i).collect();
        assert_eq!(letters.len(), PAGE);
        MockUsers { users, digits, letters, total: AtomicUsize::new(0), generation: AtomicU8::new(0) }
    }

    /// The mean size of a user, in bytes.
    fn user_bytes(&self) -> usize {
        self.users.len() / PAGE
    }
}

impl Pages for MockUsers {
    fn body(&self, head: &str) -> Cow<'_, [u8]> {
        let offset = super::query_number(head, "offset");
        let (total, generation) = (self.total.load(Ordering::Relaxed), self.generation.load(Ordering::Relaxed));
        // Every size the section syncs is whole pages: a page holds all its users or none.
        let count = if offset < total { PAGE } else { 0 };
        let mut body = Vec::with_capacity(self.users.len() + 200);
        body.extend_from_slice(b"{\"data\":[");
        if count > 0 {
            let mut users = self.users.clone();
            for (i, (at, letter)) in self.digits.iter().zip(&self.letters).enumerate() {
                let n = offset + i;
                let text = format!("{n:08}");
                for position in at {
                    users[*position..*position + NUMBER.len()].copy_from_slice(text.as_bytes());
                }
                users[*letter] = if n.is_multiple_of(10) { b'a' + generation } else { b'a' };
            }
            body.extend_from_slice(&users);
        }
        let next = if offset + count < total {
            format!("\"http://127.0.0.1/api/v1/users?offset={}&limit={PAGE}\"", offset + PAGE)
        } else {
            "null".to_owned()
        };
        let meta = format!(
            "],\"meta\":{{\"total\":{total},\"offset\":{offset},\"limit\":{PAGE},\"count\":{count},\"page\":{},\
             \"next_cursor\":null}},\"links\":{{\"next\":{next}}}}}",
            offset / PAGE + 1
        );
        body.extend_from_slice(meta.as_bytes());
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
    let pages = Arc::new(MockUsers::new());
    println!("store path: users of the shared mock's shape, {} bytes each on average", pages.user_bytes());
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
    if store.connection(INTEGRATION, "Bench").expect("read").is_none() {
        let sealed = vault.seal(&[tib_support::Secret::new("bench-token")], "mock_users_api/Bench").expect("sealed");
        store
            .upsert_connection(&tib_runtime::store::NewConnection {
                integration: INTEGRATION,
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
    let connection = store.connection(INTEGRATION, "Bench").expect("read").expect("connected");
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
/// kept-alive connection, parse it with `json`, and keep the fields the spec maps,
/// with its status filter and licenses; nothing is stored.
const PYTHON: &str = r#"
import http.client, json, resource, sys, time
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = time.monotonic()
connection = http.client.HTTPConnection(host, port)
headers = {"Authorization": "Bearer bench-token"}
offset, kept = 0, 0
while True:
    connection.request("GET", f"/api/v1/users?offset={offset}&limit=100", headers=headers)
    page = json.loads(connection.getresponse().read())
    users = [
        {"id": u["id"], "email": u["email"], "username": u["username"], "first_name": u["first_name"],
         "last_name": u["last_name"], "role": u["role"], "created_at": u["created_at"],
         "last_seen_at": u["last_login_at"], "groups": u["groups"], "active": u["status"] == "active",
         "licenses": [l["sku"] for l in u["licenses"] if l["state"] == "assigned"],
         "department": u["profile"]["department"], "title": u["profile"]["title"],
         "manager": u["profile"]["manager_id"], "country": u["profile"]["location"]["country"]}
        for u in page["data"]
    ]
    kept += len(users)
    offset += 100
    if offset >= page["meta"]["total"]:
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
