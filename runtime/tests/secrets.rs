//! Secrets an API echoes, in the form any common encoder writes them, reach
//! none of tib's outputs: generated secrets (base64-like, with `+/=%&<>"'`),
//! each echoed by an Acme API on 127.0.0.1 as one encoder writes it (in an
//! error body, or a redirect's `Location`), through `tib serve` with a
//! webhook; then every output is searched for any run of each secret in any
//! of those forms: the trace log, the store's files, the webhook, the JSON
//! API, the console's pages, and `tib list`, `status` and `sync`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use tib_support::encoders;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ADMIN_TOKEN: &str = "admin-token-for-the-secrets-test";
/// Secrets per encoder.
const EACH: usize = 2;

/// The secrets, drawn from the strategy the unit property test uses, the same in every run.
fn secrets() -> Vec<String> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = "[A-Za-z0-9+/=%&<>\"']{16,40}";
    (0..encoders::ALL.len() * EACH).map(|_| strategy.new_tree(&mut runner).expect("a secret").current()).collect()
}

/// An Acme API whose account `k` (at `/e<k>/api/v2`) echoes the token it is
/// sent as encoder `k % encoders` writes it: refused (401) with it in the body,
/// failing (500) with it in the body, or redirecting (302) elsewhere with it in
/// the `Location`, by `k`.
async fn echoing_api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split(' ').nth(1).unwrap_or_default();
                let k: usize = path.strip_prefix("/e").and_then(|p| p.split('/').next()?.parse().ok()).unwrap_or(0);
                let token = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("authorization")))
                    .and_then(|(_, v)| v.trim().strip_prefix("Token token="))
                    .unwrap_or_default()
                    .to_owned();
                let (_, encode) = encoders::ALL[k % encoders::ALL.len()];
                let echoed = encode(&token);
                let response = match k % 3 {
                    0 => format!(
                        "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<p>the token {echoed} is not valid</p>"
                    ),
                    1 => format!(
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{{\"error\": \"failed for {echoed}\"}}"
                    ),
                    _ => format!(
                        "HTTP/1.1 302 Found\r\nlocation: https://elsewhere.example/login?token={echoed}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    ),
                };
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}")
}

/// A webhook that takes every notification and keeps its body.
async fn webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, socket.read(&mut chunk)).await {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    // The body has come when the request ends in its JSON's closing brace.
                    if request.ends_with(b"}") {
                        deadline = tokio::time::Instant::now();
                    }
                }
                kept.lock().expect("lock").push(String::from_utf8_lossy(&request).into_owned());
                let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
            });
        }
    });
    (format!("http://{address}/hook"), received)
}

fn tib(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tib"));
    command
        .args(args)
        .env("TIB_STORE", dir.join("tib.db"))
        .env("TIB_MAX_RETRIES", "0")
        .env("TIB_ALLOW_NETWORKS", "127.0.0.0/8")
        .env_remove("TIB_KEY")
        .env_remove("TIB_KEY_FILE")
        .env_remove("TIB_WEBHOOK_URL")
        .env_remove("TIB_SPECS")
        .env_remove("TIB_ADMIN_TOKEN")
        .stdin(Stdio::null());
    command
}

async fn output(mut command: Command) -> String {
    let out = tokio::task::spawn_blocking(move || command.output().expect("runs")).await.expect("joined");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Every window of `length` bytes of `text` (as text, where one is).
fn windows(text: &str, length: usize) -> Vec<String> {
    text.as_bytes().windows(length).filter_map(|w| std::str::from_utf8(w).ok().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_echoed_in_any_encoding_reach_no_output() {
    let dir = tempfile::tempdir().expect("dir");
    let (api, (hook, hooked)) = (echoing_api().await, webhook().await);
    let secrets = secrets();
    for (k, secret) in secrets.iter().enumerate() {
        let (account, base, token) = (format!("A{k}"), format!("{api}/e{k}/api/v2"), format!("api_token={secret}"));
        let args = ["connect", "acme", &account, "--cred", "tenant=t", "--cred", &token, "--base-url", &base];
        let connected = output(tib(dir.path(), &args)).await;
        assert!(connected.contains("connected"), "{connected}");
    }
    let db = rusqlite::Connection::open(dir.path().join("tib.db")).expect("open");
    db.execute("UPDATE connections SET next_sync_at = 0 WHERE account <> 'A0'", []).expect("due");
    let mut outputs: Vec<(String, String)> = Vec::new();
    outputs.push(("`tib sync`".to_owned(), output(tib(dir.path(), &["--webhook", &hook, "sync", "acme", "A0"])).await));

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let (listen, log) = (format!("127.0.0.1:{port}"), dir.path().join("serve.log"));
    let mut serve =
        tib(dir.path(), &["--webhook", &hook, "serve", "--listen", &listen, "--poll", "1", "--max-concurrent", "8"]);
    serve
        .env("TIB_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TIB_PUBLIC_URL", format!("http://{listen}"))
        .env("RUST_LOG", "trace");
    let mut child =
        serve.stdout(Stdio::null()).stderr(std::fs::File::create(&log).expect("log")).spawn().expect("serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ended: i64 =
            db.query_row("SELECT COUNT(*) FROM runs WHERE outcome <> 'running'", [], |r| r.get(0)).expect("count");
        if ended as usize == secrets.len() && hooked.lock().expect("lock").len() >= secrets.len() / 3 {
            break;
        }
        assert!(Instant::now() < deadline, "every sync ends and every refusal is notified: {ended}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let base = format!("http://{listen}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut paths = vec!["/api/v1/connections".to_owned(), "/api/v1/notifications".to_owned()];
    paths.extend((0..secrets.len()).map(|k| format!("/api/v1/connections/acme/A{k}/runs")));
    for path in &paths {
        let answer = client.get(format!("{base}{path}")).bearer_auth(ADMIN_TOKEN).send().await.expect("sent");
        outputs.push((format!("the API's {path}"), answer.text().await.expect("text")));
    }
    let cookie = common::console_login(&client, &base, ADMIN_TOKEN).await;
    let mut pages = vec!["/".to_owned(), "/notifications".to_owned()];
    pages.extend((0..secrets.len()).map(|k| format!("/connections/acme/A{k}")));
    for page in &pages {
        let answer = client.get(format!("{base}{page}")).header("cookie", &cookie).send().await.expect("sent");
        assert_eq!(answer.status(), 200, "{page}");
        outputs.push((format!("the console's {page}"), answer.text().await.expect("text")));
    }
    outputs.push(("`tib list`".to_owned(), output(tib(dir.path(), &["list"])).await));
    outputs.push(("`tib status`".to_owned(), output(tib(dir.path(), &["status"])).await));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    outputs.push(("the trace log".to_owned(), std::fs::read_to_string(&log).expect("log")));
    for file in ["tib.db", "tib.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        outputs.push((format!("the store's {file}"), String::from_utf8_lossy(&bytes).into_owned()));
    }
    let hooked = hooked.lock().expect("lock").clone();
    assert_eq!(hooked.len(), secrets.len().div_ceil(3), "each refused account is notified once");
    outputs.extend(hooked.into_iter().map(|body| ("the webhook".to_owned(), body)));
    assert!(outputs.iter().any(|(_, text)| text.contains("[redacted]")), "what was echoed shows redacted");

    for (k, secret) in secrets.iter().enumerate() {
        let mut runs = windows(secret, 8);
        for (_, encode) in encoders::ALL {
            runs.extend(windows(&encode(secret), 12));
        }
        for (place, text) in &outputs {
            if let Some(run) = runs.iter().find(|run| text.contains(run.as_str())) {
                panic!("secret {k} (`{secret}`): `{run}` is in {place}:\n{text}");
            }
        }
    }
}
