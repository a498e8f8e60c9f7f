//! The Acme API the runtime's tests sync (the example spec `specs/acme.tib`):
//! served on 127.0.0.1 by the test, its answers switchable while it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tib_runtime::demo::{member, serve};
use tokio::net::TcpListener;

pub const SECRET: &str = "acme-secret-token-8842";

/// How many of the first `n` demo members have a valid email (every 97th, from 13, has not).
pub fn valid(n: usize) -> usize {
    (0..n).filter(|i| i % 97 != 13).count()
}

/// How the test API answers, switchable while it runs.
pub const FINE: usize = 0;
pub const UNAUTHORIZED: usize = 1;
pub const NOT_FOUND: usize = 2;
pub const SERVER_ERROR: usize = 3;
/// Answers offsets below 100, then closes the connection without an answer.
pub const DIES_AFTER_FIRST_PAGE: usize = 4;
/// Answers offsets below 400 at once, later ones after a minute.
pub const STALLS_AT_400: usize = 5;
/// Lists members whose names and handles carry terminal escapes, a spreadsheet formula and 10,000 characters.
pub const HOSTILE: usize = 6;
/// Answers each first page (offset 0) after 300 ms, counting those in flight: one per sync under way.
pub const SLOW: usize = 7;
/// Answers the first page (offset 0) at once and holds every later one until the mode changes: a
/// sync stopped after its first page, for a test to see what is shown while it runs.
pub const HOLDS_AFTER_FIRST_PAGE: usize = 8;
/// Lists members whose first names hold a NUL character.
pub const NUL_TEXT: usize = 9;
/// Answers 500 with a body that holds NUL characters.
pub const NUL_ERROR: usize = 10;

pub struct Api {
    pub base_url: String,
    pub mode: Arc<AtomicUsize>,
    /// How many users it lists.
    pub users: Arc<AtomicUsize>,
    /// Requests held by STALLS_AT_400 so far.
    pub stalled: Arc<AtomicUsize>,
    /// The most requests SLOW has had in flight at once.
    pub most_in_flight: Arc<AtomicUsize>,
}

impl Api {
    pub fn set(&self, mode: usize) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// What `GET /__control/...` sets, for a test that cannot call [`Api::set`] (the browser test's script).
fn control(head: &str, mode: &AtomicUsize, count: &AtomicUsize) -> Option<&'static str> {
    let path = head.strip_prefix("get /__control/")?.split(' ').next()?;
    match path {
        "fine" => mode.store(FINE, Ordering::SeqCst),
        "unauthorized" => mode.store(UNAUTHORIZED, Ordering::SeqCst),
        "hold-after-first-page" => mode.store(HOLDS_AFTER_FIRST_PAGE, Ordering::SeqCst),
        users => count.store(users.strip_prefix("users/")?.parse().ok()?, Ordering::SeqCst),
    }
    Some("200 OK")
}

/// An Acme API on 127.0.0.1: pages of 100 members by offset, `has_more`,
/// and the token checked.
pub async fn api(users: usize) -> Api {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let mode = Arc::new(AtomicUsize::new(FINE));
    let count = Arc::new(AtomicUsize::new(users));
    let stalled = Arc::new(AtomicUsize::new(0));
    let (in_flight, most_in_flight) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (m, c, held, flying, most) = (mode.clone(), count.clone(), stalled.clone(), in_flight, most_in_flight.clone());
    serve(listener, move |head| {
        let head = head.to_lowercase();
        let controlled = control(&head, &m, &c);
        let switch = m.clone();
        let (mode, count, held) = (m.load(Ordering::SeqCst), c.load(Ordering::SeqCst), held.clone());
        let (flying, most) = (flying.clone(), most.clone());
        async move {
            if let Some(status) = controlled {
                return Some((status, "{}".to_owned()));
            }
            let offset: usize = head
                .split(['?', '&', ' '])
                .find_map(|p| p.strip_prefix("offset="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if mode == HOLDS_AFTER_FIRST_PAGE && offset > 0 {
                while switch.load(Ordering::SeqCst) == HOLDS_AFTER_FIRST_PAGE {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            if mode == SLOW && offset == 0 {
                most.fetch_max(flying.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                flying.fetch_sub(1, Ordering::SeqCst);
            }
            let authorized = head.contains(&format!("authorization: token token={SECRET}"));
            let (status, body) = match mode {
                _ if !authorized || mode == UNAUTHORIZED => {
                    ("401 Unauthorized", json!({"ok": false, "error": {"message": "invalid API token"}}))
                }
                NOT_FOUND => ("404 Not Found", json!({"ok": false, "error": {"message": "no such workspace"}})),
                SERVER_ERROR => ("500 Internal Server Error", json!({"ok": false})),
                NUL_ERROR => return Some(("500 Internal Server Error", "broken\u{0}down\u{0}".to_owned())),
                DIES_AFTER_FIRST_PAGE if offset >= 100 => return None,
                _ => {
                    if mode == STALLS_AT_400 && offset >= 400 {
                        held.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    let end = (offset + 100).min(count);
                    let mut members: Vec<Value> = (offset.min(end)..end).map(member).collect();
                    if mode == NUL_TEXT {
                        for m in &mut members {
                            m["name"]["first"] = json!("Ada\u{0}Lee");
                        }
                    }
                    if mode == HOSTILE {
                        for m in &mut members {
                            m["name"]["first"] = json!("\u{1b}]0;owned\u{7}\u{1b}[2JEve\u{9b}31m\u{202e}");
                            m["handle"] = json!("=HYPERLINK(\"http://evil.example\",\"x\")");
                            m["name"]["last"] = json!("L".repeat(10_000));
                        }
                    }
                    ("200 OK", json!({"ok": true, "data": {"members": members}, "has_more": end < count}))
                }
            };
            Some((status, body.to_string()))
        }
    });
    Api { base_url: format!("http://{address}/api/v2"), mode, users: count, stalled, most_in_flight }
}
