//! The runtime's guarded listener over real sockets: idle sockets from one
//! address never delay another's request, at the cap the longest idle
//! connection makes room, a request head that never ends is cut, and no
//! connection outlives its lifetime.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tib_runtime::access::proxies::TrustedProxies;
use tib_runtime::listen::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn start(limits: Limits) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(serve(listener, router, limits, Arc::new(TrustedProxies::default()), std::future::pending()));
    address
}

/// A connection from `from` (any 127.0.0.0/8 address is this machine).
async fn connect(server: SocketAddr, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).expect("bind the client's address");
    socket.connect(server).await.expect("connect")
}

/// Sends one request from `from` and reads the answer until the server closes.
async fn get(server: SocketAddr, from: [u8; 4]) -> String {
    let mut stream = connect(server, from).await;
    stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("write");
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut answer)).await;
    answer
}

/// Whether the server has closed `stream`, looking for up to `within`.
async fn closed(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(within, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn idle_sockets_from_one_address_delay_no_request_from_another_or_from_it() {
    let limits = Limits { max_connections: 64, per_address: 8, idle: Duration::from_secs(120), ..Limits::default() };
    let server = start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(connect(server, [127, 0, 0, 1]).await);
    }
    let looked = futures_util::future::join_all(idle.iter_mut().map(|s| closed(s, Duration::from_secs(3)))).await;
    assert_eq!(looked.iter().filter(|c| **c).count(), 32, "beyond its 8, an address's connections are closed");
    let answer = get(server, [127, 0, 0, 2]).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    let mut still_open = 0;
    for stream in &mut idle {
        still_open += usize::from(!closed(stream, Duration::from_millis(20)).await);
    }
    assert_eq!(still_open, 8, "the request did not wait for the idle ones to go");
    // Idle a while, one of them makes room for a request from their own address.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let answer = get(server, [127, 0, 0, 1]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn at_the_cap_the_connection_idle_longest_makes_room() {
    let limits = Limits { max_connections: 4, per_address: 100, idle: Duration::from_secs(120), ..Limits::default() };
    let server = start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(server, [127, 0, 0, 1]).await);
        // Idle for longer than a second: it may be closed to make room.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let answer = get(server, [127, 0, 0, 3]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "served at the cap: {answer}");
    assert!(closed(&mut idle[0], Duration::from_secs(5)).await, "the one idle longest made room");
    for stream in &mut idle[1..] {
        assert!(!closed(stream, Duration::from_millis(20)).await, "the others stay");
    }
}

/// Sends one byte every 100 ms until the server closes the connection, for at most `within`.
async fn trickle_until_closed(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if stream.write_all(b"x").await.is_err() || closed(stream, Duration::from_millis(100)).await {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_and_others_are_served() {
    let limits = Limits { header: Duration::from_millis(500), ..Limits::default() };
    let server = start(limits).await;
    let mut stream = connect(server, [127, 0, 0, 1]).await;
    stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ").await.expect("write");
    // Never idle (a byte every 100 ms), long before its lifetime: only the head's bound can cut it.
    assert!(trickle_until_closed(&mut stream, Duration::from_secs(30)).await, "the head's bound closed it");
    assert!(get(server, [127, 0, 0, 1]).await.starts_with("HTTP/1.1 200"), "others are served");
}

#[tokio::test]
async fn no_connection_outlives_its_lifetime() {
    let limits = Limits { header: Duration::from_secs(600), lifetime: Duration::from_millis(800), ..Limits::default() };
    let server = start(limits).await;
    let mut stream = connect(server, [127, 0, 0, 1]).await;
    stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ").await.expect("write");
    assert!(trickle_until_closed(&mut stream, Duration::from_secs(30)).await, "its lifetime closed it");
}
