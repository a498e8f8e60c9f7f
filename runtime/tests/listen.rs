//! The runtime's guarded listener over real sockets: a cap on connections,
//! idle ones closed, none kept past its lifetime.

use std::time::{Duration, Instant};

use tib_runtime::listen::{Guarded, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn serve(limits: Limits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(Guarded::new(listener, limits), router).await });
    address
}

/// Sends one request and reads the answer until the server closes.
async fn get(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer).await;
    answer
}

/// How long the server takes to close a connection that sends nothing; it closes at all.
async fn closed_after(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the server closed it: {read:?}");
    start.elapsed()
}

#[tokio::test]
async fn idle_connections_are_closed_and_the_cap_holds_the_rest_in_the_backlog() {
    let limits = Limits { max_connections: 2, idle: Duration::from_millis(400), lifetime: Duration::from_secs(30) };
    let address = serve(limits).await;
    let mut silent =
        [TcpStream::connect(address).await.expect("connect"), TcpStream::connect(address).await.expect("connect")];
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Both places are taken by silent clients: a third waits until one is closed for idleness.
    let start = Instant::now();
    let third = tokio::spawn(get(address));
    for stream in &mut silent {
        let closed = closed_after(stream).await;
        assert!(closed < Duration::from_secs(2), "closed when idle: {closed:?}");
    }
    let answer = third.await.expect("joined");
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    assert!(start.elapsed() >= Duration::from_millis(300), "it waited for a place: {:?}", start.elapsed());
}

#[tokio::test]
async fn a_client_that_trickles_bytes_is_closed_at_the_connection_lifetime() {
    let limits = Limits { max_connections: 4, idle: Duration::from_millis(500), lifetime: Duration::from_millis(1200) };
    let address = serve(limits).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let start = Instant::now();
    // A header that never ends, one byte every 200 ms: never idle, never done.
    let mut closed = false;
    for _ in 0..40 {
        if stream.write_all(b"x").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "the server closed the connection");
    let lived = start.elapsed();
    assert!(
        lived >= Duration::from_millis(1000) && lived < Duration::from_secs(4),
        "closed at its lifetime: {lived:?}"
    );
    assert_eq!(get(address).await.lines().next(), Some("HTTP/1.1 200 OK\r").map(|l| l.trim_end()), "others are served");
}
