//! The console's sessions: an operator logs in (with the admin token, or at the company's identity
//! provider) once and gets a random session id in an `HttpOnly`, `SameSite=Strict` cookie; each
//! session has its own CSRF token, which every form carries back. Failed
//! logins cost time as every wrong admin token does ([`crate::access::attempts`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;

use super::operator::Actor;

/// How long a session lasts from its login.
const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

pub struct Session {
    pub csrf: String,
    /// Who logged in: their name, role and how they proved it; the address is each request's own.
    pub who: Actor,
    expires: Instant,
}

#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
}

/// A lock that a panic elsewhere left poisoned still guards plain maps: take it anyway.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 32 random bytes, as hex: an id no one can guess.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    /// A new session of `who`: its id (for the cookie) and its CSRF token.
    pub fn open(&self, who: Actor) -> (String, String) {
        let (id, csrf) = (random_id(), random_id());
        let mut sessions = lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(id.clone(), Session { csrf: csrf.clone(), who, expires: now + LIFETIME });
        (id, csrf)
    }

    /// The CSRF token of a live session, and who it is.
    pub fn find(&self, id: &str) -> Option<(String, Actor)> {
        let sessions = lock(&self.sessions);
        sessions.get(id).filter(|s| s.expires > Instant::now()).map(|s| (s.csrf.clone(), s.who.clone()))
    }

    pub fn close(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }
}

/// Whether two tokens are equal, every byte looked at.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}
