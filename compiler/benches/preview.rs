//! The memory of `compiler preview` over a large account: the binary, run as
//! an author runs it, lists 100,000 users from a mock API on 127.0.0.1 as a
//! table and as JSON, and its peak RSS (VmHWM, read from /proc while it runs)
//! is printed for each. Preview writes users out page by page, so its memory
//! is that of a page, not of the account.
//!
//! `cargo bench -p compiler --bench preview`; with `TIB_PREVIEW_BASELINE` set
//! to another build of the compiler, that build is run beside this one, in
//! turn, and the ratio of their peaks printed.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const PAGE: usize = 1_000;

fn main() {
    let address = serve();
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("specs")).expect("specs/");
    std::fs::write(root.path().join("custom-fields.toml"), "").expect("catalog");
    std::fs::write(root.path().join("specs/big.tib"), spec(&address)).expect("spec");
    let baseline = std::env::var("TIB_PREVIEW_BASELINE").ok();
    println!("compiler preview of {USERS} users in pages of {PAGE}:");
    for (what, args) in [("table", vec![]), ("json", vec!["--json"])] {
        let (peak, wall, bytes) = preview(env!("CARGO_BIN_EXE_compiler"), root.path(), &args);
        let mib = bytes as f64 / 1_048_576.0;
        println!("  {what:5}: peak RSS {peak:.1} MiB, {:.2} s, {mib:.1} MiB written", wall.as_secs_f64());
        if let Some(baseline) = &baseline {
            let (before, wall, _) = preview(baseline, root.path(), &args);
            println!(
                "  {what:5}, baseline: peak RSS {before:.1} MiB, {:.2} s; this build's peak is {:.2}x the baseline's",
                wall.as_secs_f64(),
                peak / before
            );
        }
    }
}

fn spec(address: &str) -> String {
    format!(
        r#"app "Big"
base_url "http://{address}"
credentials {{
  token secret "A token"
}}
auth bearer "{{token}}"
request GET "/users"
paginate offset {{
  offset_param = "offset"
  limit_param  = "limit"
  page_size    = {PAGE}
  stop when short_page
}}
users at users
fields {{
  id         = id
  email      = email
  name       = name
  role       = role
  created_at = created
}}
active when {{ state is "active" }}
status field state
"#
    )
}

/// Runs `compiler`'s preview to its end; its peak RSS in MiB, how long it took, and how much it printed.
fn preview(compiler: &str, root: &std::path::Path, extra: &[&str]) -> (f64, Duration, usize) {
    let start = Instant::now();
    let mut child = Command::new(compiler)
        .args(["preview", "specs/big.tib", "--cred", "token=t", "--pages", "1000"])
        .args(extra)
        .current_dir(root)
        .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the compiler runs");
    let status = format!("/proc/{}/status", child.id());
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = 0;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        while stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
            bytes += line.len();
            line.clear();
        }
        bytes
    });
    let mut peak = 0.0f64;
    while child.try_wait().expect("waits").is_none() {
        peak = peak.max(vm_hwm(&status).unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(5));
    }
    let bytes = reader.join().expect("read");
    (peak, start.elapsed(), bytes)
}

fn vm_hwm(status: &str) -> Option<f64> {
    let text = std::fs::read_to_string(status).ok()?;
    let kib: f64 =
        text.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// A plain HTTP/1.1 server of `USERS` users, `offset`/`limit` paged, one connection at a time.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("bound").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    address
}

fn answer(stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut head = String::new();
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        while reader.read_line(&mut head).is_ok_and(|n| n > 2) {
            head.clear();
        }
        let number = |name: &str| {
            request_line
                .split(['?', '&', ' '])
                .find_map(|part| part.strip_prefix(&format!("{name}=")))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        };
        let (offset, limit) = (number("offset"), number("limit").max(1));
        let users: Vec<String> = (offset..USERS.min(offset + limit))
            .map(|i| {
                format!(
                    r#"{{"id":{i},"email":"user{i}@example.com","name":"User Number {i}","role":"member","created":"2024-03-05T12:00:00Z","state":"active","bio":"{}"}}"#,
                    "x".repeat(400)
                )
            })
            .collect();
        let body = format!(r#"{{"users":[{}]}}"#, users.join(","));
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
