//! The runtime's HTTP listener, guarded so that idle, silent and slow clients
//! never delay the others. The accept loop never waits: it takes every
//! connection at once and decides on the spot. One client address holds at
//! most so many connections (a trusted proxy's, which carry many clients,
//! excepted), and all of them at most so many; at either cap the connection
//! idle longest (of that address, or of all) makes room, or when none is idle
//! the newcomer is closed. A request's head must arrive
//! within a few seconds, a connection with nothing read or written is closed
//! soon, and none lives past its lifetime, so a client that sends a byte now
//! and then cannot hold one either.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// What one listener allows its clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub per_address: usize,
    /// A request's head (its line and headers) must have arrived this long after it began.
    pub header: Duration,
    /// A connection with no byte read or written for this long is closed.
    pub idle: Duration,
    /// A connection is closed this long after it was accepted, whatever it does.
    pub lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            per_address: 32,
            header: Duration::from_secs(10),
            // Longer than the token exchange an OAuth callback waits for (30 s), so a callback is not cut.
            idle: Duration::from_secs(60),
            lifetime: Duration::from_secs(300),
        }
    }
}

/// A connection idle at least this long may be closed to make room for a new one.
const EVICTABLE_AFTER: Duration = Duration::from_secs(1);
/// How long a stopping server waits for the requests under way.
const DRAIN: Duration = Duration::from_secs(10);

/// The address of the client a request came from, as handlers read it
/// (`ConnectInfo<ClientAddress>`): the peer of the connection.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub SocketAddr);

/// Serves `router` on `listener` within `limits` until `shutdown` completes,
/// then lets the requests under way end (for a while).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    proxies: Arc<crate::access::proxies::TrustedProxies>,
    shutdown: impl Future<Output = ()>,
) {
    let open = Arc::new(Open::default());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, say: a moment's pause instead of spinning.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let capped = !proxies.contains(peer.ip());
        let Some(slot) = open.admit(peer.ip(), capped, &limits) else {
            tracing::debug!(%peer, "connection refused: its address or the server holds as many as allowed");
            continue;
        };
        let io = TokioIo::new(Bounded::new(stream, slot, limits));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(ClientAddress(peer)));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header)
                .serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    let _ = stop.send(true);
    // A live view's stream does not end by itself: the wait is bounded.
    let drained = tokio::time::timeout(DRAIN, async {
        while !open.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after {DRAIN:?} were closed");
    }
}

/// The open connections.
#[derive(Default)]
struct Open {
    state: Mutex<OpenState>,
}

#[derive(Default)]
struct OpenState {
    next: u64,
    slots: BTreeMap<u64, Arc<Slot>>,
    per_address: HashMap<IpAddr, usize>,
}

impl OpenState {
    /// Closes the connection idle longest among those `among` takes, if one
    /// has been idle a while; `None` when none has.
    fn evict_idle(&self, among: impl Fn(&Slot) -> bool) -> Option<()> {
        let idle_since = now_ms().saturating_sub(EVICTABLE_AFTER.as_millis() as u64);
        let longest_idle = self
            .slots
            .values()
            .filter(|slot| among(slot) && !slot.evicted.load(Ordering::SeqCst))
            .map(|slot| (slot.active.load(Ordering::SeqCst), slot))
            .filter(|(active, _)| *active <= idle_since)
            .min_by_key(|(active, _)| *active)?
            .1;
        longest_idle.evicted.store(true, Ordering::SeqCst);
        longest_idle.wake.notify_one();
        Some(())
    }
}

/// One open connection as the listener sees it.
struct Slot {
    id: u64,
    address: IpAddr,
    open: std::sync::Weak<Open>,
    /// When it last read or wrote, in milliseconds since [`start`].
    active: AtomicU64,
    /// Closed to make room: it errors out at its next poll.
    evicted: AtomicBool,
    wake: Notify,
}

/// A clock for activity stamps, shared by every connection.
fn start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    start().elapsed().as_millis() as u64
}

impl Open {
    fn lock(&self) -> std::sync::MutexGuard<'_, OpenState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_empty(&self) -> bool {
        self.lock().slots.is_empty()
    }

    /// A place for a new connection from `address` (held to its cap when
    /// `capped`), or `None`. At a cap, the connection idle longest (of that
    /// address, or of all) makes room; when none is idle, the newcomer is closed.
    fn admit(self: &Arc<Self>, address: IpAddr, capped: bool, limits: &Limits) -> Option<Arc<Slot>> {
        let mut state = self.lock();
        if capped && state.per_address.get(&address).copied().unwrap_or(0) >= limits.per_address.max(1) {
            state.evict_idle(|slot| slot.address == address)?;
        }
        if state.slots.len() >= limits.max_connections.max(1) {
            state.evict_idle(|_| true)?;
        }
        let id = state.next;
        state.next += 1;
        *state.per_address.entry(address).or_default() += 1;
        let slot = Arc::new(Slot {
            id,
            address,
            open: Arc::downgrade(self),
            active: AtomicU64::new(now_ms()),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        });
        state.slots.insert(id, slot.clone());
        Some(slot)
    }

    fn close(&self, slot: &Slot) {
        let mut state = self.lock();
        if state.slots.remove(&slot.id).is_some()
            && let Some(count) = state.per_address.get_mut(&slot.address)
        {
            *count -= 1;
            if *count == 0 {
                state.per_address.remove(&slot.address);
            }
        }
    }
}

/// A connection that errors out when idle, too old or evicted, and frees its
/// place among the listener's connections when dropped.
pub struct Bounded {
    stream: TcpStream,
    slot: Arc<Slot>,
    idle_for: Duration,
    idle: Pin<Box<Sleep>>,
    ends: Pin<Box<Sleep>>,
    evicted: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
}

impl Bounded {
    fn new(stream: TcpStream, slot: Arc<Slot>, limits: Limits) -> Self {
        let waiting = slot.clone();
        Bounded {
            stream,
            slot,
            idle_for: limits.idle,
            idle: Box::pin(tokio::time::sleep(limits.idle)),
            ends: Box::pin(tokio::time::sleep(limits.lifetime)),
            evicted: Box::pin(async move { waiting.wake.notified().await }),
        }
    }

    /// The outcome of an IO poll: progress resets the idle timer; waiting is
    /// cut short when the connection is idle, too old or evicted.
    fn guard<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if self.ends.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the connection lived too long")));
        }
        if self.slot.evicted.load(Ordering::SeqCst) || self.evicted.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "closed to make room for another")));
        }
        match polled {
            Poll::Ready(result) => {
                self.slot.active.store(now_ms(), Ordering::SeqCst);
                let next = Instant::now() + self.idle_for;
                self.idle.as_mut().reset(next);
                Poll::Ready(result)
            }
            Poll::Pending if self.idle.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the connection was idle too long")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        if let Some(open) = self.slot.open.upgrade() {
            open.close(&self.slot);
        }
    }
}

impl AsyncRead for Bounded {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.guard(cx, polled)
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
