//! The runtime's listener, guarded: at most so many connections at once
//! (the others wait in the kernel's backlog, so idle sockets never exhaust
//! the process's file descriptors), each closed when it is idle too long or
//! has lived too long, so a client that sends a byte now and then cannot hold
//! one forever.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// What one listener allows its clients.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// A connection with no byte read or written for this long is closed.
    pub idle: Duration,
    /// A connection is closed this long after it was accepted, whatever it does.
    pub lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        // Idle longer than the token exchange a callback waits for (30 s), so a callback is not cut.
        Limits { max_connections: 256, idle: Duration::from_secs(60), lifetime: Duration::from_secs(300) }
    }
}

/// A TCP listener that hands out [`Bounded`] connections within [`Limits`].
pub struct Guarded {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    limits: Limits,
}

impl Guarded {
    pub fn new(listener: TcpListener, limits: Limits) -> Self {
        Guarded { listener, permits: Arc::new(Semaphore::new(limits.max_connections.max(1))), limits }
    }
}

impl axum::serve::Listener for Guarded {
    type Io = Bounded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Bounded, SocketAddr) {
        // A permit first: at the cap, connections wait in the backlog, not as open sockets here.
        // (The semaphore is never closed, so a permit always comes.)
        let permit = self.permits.clone().acquire_owned().await.ok();
        loop {
            match self.listener.accept().await {
                Ok((stream, address)) => return (Bounded::new(stream, permit, self.limits), address),
                Err(error) => {
                    // Out of descriptors, say: wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection that errors out when idle or too old, and frees its place
/// among the listener's connections when dropped.
pub struct Bounded {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
    idle_for: Duration,
    idle: Pin<Box<Sleep>>,
    ends: Pin<Box<Sleep>>,
}

impl Bounded {
    fn new(stream: TcpStream, permit: Option<OwnedSemaphorePermit>, limits: Limits) -> Self {
        Bounded {
            stream,
            _permit: permit,
            idle_for: limits.idle,
            idle: Box::pin(tokio::time::sleep(limits.idle)),
            ends: Box::pin(tokio::time::sleep(limits.lifetime)),
        }
    }

    /// The outcome of an IO poll: progress resets the idle timer; waiting is
    /// cut short when the connection is idle or too old.
    fn guard<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if self.ends.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the connection lived too long")));
        }
        match polled {
            Poll::Ready(result) => {
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

/// The address of the client a request came from, as handlers read it
/// (`ConnectInfo<ClientAddress>`): the console limits failed logins by it.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Guarded>> for ClientAddress {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Guarded>) -> Self {
        ClientAddress(*stream.remote_addr())
    }
}
