//! Authorizing a spec author's test client in the browser (RFC 8252): a
//! listener on the loopback test redirect URL receives the provider's
//! redirect, checks `state`, and the code is exchanged. The tokens stay in
//! memory; nothing is written anywhere.

use std::collections::HashMap;
use std::time::Duration;

use tib_support::oauth::{OAuthClient, TokenSet, test_redirect_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How long the listener waits for the user to grant access.
const WAIT: Duration = Duration::from_secs(300);

/// Authorizes in the browser: `show` gets the link to open; the tokens come
/// back once the provider redirects to `http://127.0.0.1:{port}/callback`.
pub async fn authorize(client: &OAuthClient, port: u16, show: impl FnOnce(&url::Url)) -> Result<TokenSet, String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port} for the redirect: {e} (choose another with --port)"))?;
    let redirect = test_redirect_url(port);
    let authorization = client.authorize(&redirect).map_err(|e| e.to_string())?;
    show(&authorization.url);
    let query = tokio::time::timeout(WAIT, redirected(&listener))
        .await
        .map_err(|_| format!("no redirect came to {redirect} within {} minutes", WAIT.as_secs() / 60))??;
    if query.get("state") != Some(&authorization.state) {
        return Err("the redirect's state does not match this authorization: ignored".to_owned());
    }
    if let Some(error) = query.get("error") {
        let description = query.get("error_description").map(|d| format!(": {d}")).unwrap_or_default();
        return Err(format!("the provider refused the authorization: {error}{description}"));
    }
    let code = query.get("code").ok_or("the redirect has no code")?;
    client.exchange(code, &authorization.verifier, &redirect).await.map_err(|e| e.to_string())
}

/// How long one connection may take to send its request head: a browser's
/// speculative connection that sends nothing must not hold up the redirect.
const HEAD_WAIT: Duration = Duration::from_secs(5);
/// Connections read at once; more wait in the backlog.
const AT_ONCE: usize = 16;

/// The query of the first request to `/callback`; other requests (a
/// browser's favicon) get a 404. Connections are read side by side, each
/// within [`HEAD_WAIT`], so a silent one cannot block the others.
async fn redirected(listener: &TcpListener) -> Result<HashMap<String, String>, String> {
    let mut reading = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept(), if reading.len() < AT_ONCE => {
                let (socket, _) = accepted.map_err(|e| format!("the redirect listener failed: {e}"))?;
                reading.spawn(answer(socket));
            }
            Some(done) = reading.join_next(), if !reading.is_empty() => {
                if let Ok(Some(query)) = done {
                    return Ok(query);
                }
            }
        }
    }
}

/// Reads one connection's request head and answers it: the redirect's
/// query when it is the callback.
async fn answer(mut socket: tokio::net::TcpStream) -> Option<HashMap<String, String>> {
    let head = tokio::time::timeout(HEAD_WAIT, read_head(&mut socket)).await.ok()?;
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
    let Some(url) = url.filter(|u| u.path() == "/callback") else {
        let _ = socket.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return None;
    };
    let body =
        "<!doctype html><title>tib</title><p>Authorized. You can close this page and go back to the terminal.</p>\n";
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    Some(url.query_pairs().into_owned().collect())
}

/// A request's head, up to 64 KiB.
async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_connection_does_not_hold_up_the_redirect() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let waiting = tokio::spawn(async move { super::redirected(&listener).await });
        // A browser's speculative connection: opened, never used.
        let _silent = tokio::net::TcpStream::connect(address).await.expect("connect");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut redirect = tokio::net::TcpStream::connect(address).await.expect("connect");
        redirect.write_all(b"GET /callback?code=c-1&state=s-1 HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
        let mut answer = String::new();
        redirect.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        let query = tokio::time::timeout(std::time::Duration::from_secs(1), waiting)
            .await
            .expect("answered before the silent connection's head wait ran out")
            .expect("joined")
            .expect("a query");
        assert_eq!((query["code"].as_str(), query["state"].as_str()), ("c-1", "s-1"));
    }
}
