//! A demo of the Acme API (the example spec `specs/acme.tib`), served on
//! 127.0.0.1 by `tib demo`, so the quick start syncs an app end to end
//! offline.

use std::fmt::Write;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The API token the demo API accepts.
pub const TOKEN: &str = "demo-token-not-a-secret";
pub const USERS: usize = 250;

/// The demo's members: every state, plan, role and add-on of the Acme spec,
/// with a few of the problems real APIs have (an invalid email, a seat
/// count sent as a string, a number that is not one).
pub fn member(i: usize) -> Value {
    let state = ["active", "active", "active", "invited", "suspended", "deactivated"][i % 6];
    let plan = ["enterprise", "pro", "team", "free"][i % 4];
    let role = match i % 25 {
        0 => json!([{"name": "owner"}]),
        1..=4 => json!([{"name": "admin"}]),
        _ => json!([{"name": "member"}]),
    };
    let first = ["Ada", "Bo", "Cy", "Di", "Ed"][i % 5];
    let department = ["Sales", "Engineering", "Support", "Finance"][i % 4];
    let teams: &[&str] = [&["core"][..], &["core", "growth"], &["ops"]][i % 3];
    let email = if i % 97 == 13 { format!("user{i}-at-acme.example") } else { format!("user{i}@acme.example") };
    json!({
        "id": 100_000 + i,
        "contact": {"e-mail": email},
        "handle": format!("user{i}"),
        "name": {"first": first, "last": format!("Lee{i}")},
        "roles": role,
        "created_at": format!("2024-{:02}-{:02}T09:30:00Z", 1 + i % 12, 1 + i % 28),
        "activity": {"last_seen": 1_732_000_000 + (i as i64) * 3600},
        "state": state,
        "seats": if i % 10 == 3 { json!("1") } else { json!(usize::from(!i.is_multiple_of(7))) },
        "plan": plan,
        "addons": if i.is_multiple_of(3) { json!(["ai"]) } else { json!([]) },
        "org": {
            "department": department,
            "cost_center": if i % 50 == 7 { json!("n/a") } else { json!(4000 + i % 9) },
            "manager_id": format!("{}", 100_000 + i / 10),
            "start_date": format!("2023-{:02}-15", 1 + i % 12),
        },
        "teams": teams,
        "billing": {"email": format!("billing+{i}@acme.example")},
    })
}

/// A running demo API; it stops when the process does.
pub struct DemoApi {
    /// The base URL to connect with, e.g. `http://127.0.0.1:40123/api/v2`.
    pub base_url: String,
}

/// Starts the demo API on a free port of 127.0.0.1.
pub async fn start() -> std::io::Result<DemoApi> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    serve(listener, |head| std::future::ready(Some(answer(&head))));
    Ok(DemoApi { base_url: format!("http://{address}/api/v2") })
}

/// Serves one request per connection on `listener`: reads the request head,
/// asks `respond` for the status line and JSON body, answers and closes.
/// `None` closes the connection without an answer, as a dying API does.
pub fn serve<F, A>(listener: TcpListener, respond: F)
where
    F: Fn(String) -> A + Clone + Send + 'static,
    A: Future<Output = Option<(&'static str, String)>> + Send,
{
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let respond = respond.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let Some((status, body)) = respond(String::from_utf8_lossy(&buffer).into_owned()).await else {
                    return;
                };
                let mut response = String::new();
                let _ = write!(
                    response,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
}

/// The answer to one request head.
fn answer(head: &str) -> (&'static str, String) {
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let authorized = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("authorization") && value.trim() == format!("Token token={TOKEN}")
        })
    });
    if !authorized {
        return ("401 Unauthorized", json!({"ok": false, "error": {"message": "invalid API token"}}).to_string());
    }
    let Ok(url) = url::Url::parse(&format!("http://demo{target}")) else {
        return ("400 Bad Request", json!({"ok": false, "error": {"message": "bad request"}}).to_string());
    };
    if url.path() != "/api/v2/members" {
        return ("404 Not Found", json!({"ok": false, "error": {"message": "no such endpoint"}}).to_string());
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<usize>().ok());
    let offset = param("offset").unwrap_or(0);
    let limit = param("limit").unwrap_or(50).min(100);
    let end = (offset + limit).min(USERS);
    let members: Vec<Value> = (offset.min(end)..end).map(member).collect();
    ("200 OK", json!({"ok": true, "data": {"members": members}, "has_more": end < USERS}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_the_members_and_refuses_a_wrong_token() {
        let auth = format!("authorization: Token token={TOKEN}");
        let (status, body) = answer(&format!("GET /api/v2/members?offset=200&limit=100 HTTP/1.1\r\n{auth}\r\n\r\n"));
        let body: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(status, "200 OK");
        assert_eq!(body["data"]["members"].as_array().map(Vec::len), Some(50));
        assert_eq!(body["has_more"], false);
        assert_eq!(
            answer("GET /api/v2/members HTTP/1.1\r\nauthorization: Token token=x\r\n\r\n").0,
            "401 Unauthorized"
        );
        assert_eq!(answer(&format!("GET /api/v2/nope HTTP/1.1\r\n{auth}\r\n\r\n")).0, "404 Not Found");
    }
}
