//! Failed attempts at the admin token, on every route that takes it (the
//! API, SCIM and the console's login), limited with growing delays rather
//! than refusals. A refusal that spares the right token tells a guesser
//! nothing a wrong answer does not, and one that does not spare it lets
//! anyone lock the operator out; a delay before the token is even looked at
//! costs a guesser time for every guess, and costs the operator at most a
//! few seconds once.
//!
//! Per client address: five failures in a quarter of an hour are free, then
//! each attempt from that address waits, a quarter of a second doubling with
//! every further failure up to half a minute, and its attempts wait in turn
//! (one at a time), so opening connections in parallel buys nothing. Overall:
//! beyond fifty failures a minute from all addresses together, every attempt
//! waits too, up to ten seconds, except from an address that presented the
//! right token in the last day. A success clears its address's failures.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failures from one address that cost nothing...
const FREE: u32 = 5;
/// ...within this long.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The first delay, doubled at every failure beyond the free ones.
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// Failures from all addresses together in a minute before every attempt waits.
const OVERALL_FREE: usize = 50;
const MAX_OVERALL_DELAY: Duration = Duration::from_secs(10);
/// An address that presented the right token is spared the overall delay this long.
const KNOWN_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// Addresses remembered at most: beyond, the oldest are forgotten (the overall delay still holds).
const MAX_ADDRESSES: usize = 100_000;

#[derive(Default)]
pub struct Attempts {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    addresses: HashMap<IpAddr, Address>,
    /// When each failure of the last minute happened, from any address.
    recent: VecDeque<Instant>,
    /// When addresses were last swept.
    swept: Option<Instant>,
}

struct Address {
    /// Failures within the window, and when the last was.
    failures: u32,
    last_failure: Option<Instant>,
    /// When this address last presented the right token.
    known_since: Option<Instant>,
    /// Its delayed attempts go one at a time.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Address {
    fn new() -> Self {
        Address { failures: 0, last_failure: None, known_since: None, turn: Arc::default() }
    }

    /// Its failures that count at `now`: none once the last is a window old.
    fn failures_at(&self, now: Instant) -> u32 {
        match self.last_failure {
            Some(at) if now.duration_since(at) < WINDOW => self.failures,
            _ => 0,
        }
    }
}

/// What an attempt must do before its token is looked at.
pub struct Wait {
    pub delay: Duration,
    /// Taken while waiting, so that an address's delayed attempts go in turn.
    turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Attempts {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long an attempt from `client` waits at `now` before its token is looked at.
    pub fn wait(&self, client: IpAddr, now: Instant) -> Wait {
        let mut state = self.lock();
        state.forget(now);
        let overall = state.overall_delay();
        let Some(address) = state.addresses.get(&client) else {
            return Wait { delay: overall, turn: None };
        };
        let known = address.known_since.is_some_and(|since| now.duration_since(since) < KNOWN_FOR);
        let own = match address.failures_at(now).checked_sub(FREE) {
            None => Duration::ZERO,
            Some(beyond) => FIRST_DELAY.saturating_mul(1 << beyond.min(16)).min(MAX_DELAY),
        };
        let delay = if known { own } else { own.max(overall) };
        Wait { delay, turn: (delay > Duration::ZERO).then(|| address.turn.clone()) }
    }

    /// Waits as [`Attempts::wait`] says, in turn with the address's other delayed attempts.
    pub async fn wait_turn(&self, client: IpAddr) -> Duration {
        let wait = self.wait(client, Instant::now());
        let Some(turn) = wait.turn else {
            tokio::time::sleep(wait.delay).await;
            return wait.delay;
        };
        let _turn = turn.lock().await;
        // The delay as it is now: the attempts before this one may have added to it.
        let delay = self.wait(client, Instant::now()).delay;
        tokio::time::sleep(delay).await;
        delay
    }

    pub fn failed(&self, client: IpAddr, now: Instant) {
        let mut state = self.lock();
        state.recent.push_back(now);
        if state.addresses.len() >= MAX_ADDRESSES && !state.addresses.contains_key(&client) {
            state.forget_oldest();
        }
        let address = state.addresses.entry(client).or_insert_with(Address::new);
        address.failures = address.failures_at(now).saturating_add(1);
        address.last_failure = Some(now);
    }

    pub fn succeeded(&self, client: IpAddr, now: Instant) {
        let mut state = self.lock();
        let address = state.addresses.entry(client).or_insert_with(Address::new);
        address.failures = 0;
        address.last_failure = None;
        address.known_since = Some(now);
    }

    /// Failures counted against `client` at `now` (for messages).
    pub fn failures(&self, client: IpAddr, now: Instant) -> u32 {
        self.lock().addresses.get(&client).map_or(0, |a| a.failures_at(now))
    }
}

impl State {
    /// Drops what no longer counts: failures older than a minute overall, and
    /// (every ten seconds at most, so that a flood of addresses costs little)
    /// addresses neither failing nor known.
    fn forget(&mut self, now: Instant) {
        while self.recent.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60)) {
            self.recent.pop_front();
        }
        if self.swept.is_some_and(|at| now.duration_since(at) < Duration::from_secs(10)) {
            return;
        }
        self.swept = Some(now);
        self.addresses.retain(|_, a| {
            a.failures_at(now) > 0 || a.known_since.is_some_and(|at| now.duration_since(at) < KNOWN_FOR)
        });
    }

    fn forget_oldest(&mut self) {
        let oldest = self.addresses.iter().min_by_key(|(_, a)| a.last_failure.or(a.known_since)).map(|(ip, _)| *ip);
        if let Some(ip) = oldest {
            self.addresses.remove(&ip);
        }
    }

    /// The delay every attempt waits while failures from all addresses are many.
    fn overall_delay(&self) -> Duration {
        match self.recent.len().checked_sub(OVERALL_FREE) {
            None => Duration::ZERO,
            Some(beyond) => FIRST_DELAY.saturating_mul(1 << (beyond / OVERALL_FREE).min(16)).min(MAX_OVERALL_DELAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_address_waits_longer_with_every_failure_beyond_five_until_it_succeeds() {
        let attempts = Attempts::default();
        let (guesser, operator, t0) = (ip("203.0.113.9"), ip("198.51.100.7"), Instant::now());
        let delays: Vec<Duration> = (0..12)
            .map(|i| {
                let delay = attempts.wait(guesser, t0 + Duration::from_secs(i)).delay;
                attempts.failed(guesser, t0 + Duration::from_secs(i));
                delay
            })
            .collect();
        let ms = |d: &Duration| d.as_millis();
        assert_eq!(delays.iter().map(ms).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 250, 500, 1000, 2000, 4000, 8000, 16000]);
        let later = t0 + Duration::from_secs(20);
        assert_eq!(attempts.wait(guesser, later).delay, MAX_DELAY, "bounded");
        assert!(attempts.wait(guesser, later).turn.is_some(), "its attempts wait in turn");
        assert_eq!(attempts.wait(operator, later).delay, Duration::ZERO, "another address is not slowed");
        assert_eq!(attempts.wait(guesser, later + WINDOW).delay, Duration::ZERO, "forgotten after the window");
        attempts.failed(guesser, later);
        attempts.succeeded(guesser, later);
        assert_eq!(attempts.wait(guesser, later).delay, Duration::ZERO, "a success clears its address");
    }

    #[test]
    fn many_failures_from_many_addresses_slow_every_attempt_but_from_known_addresses() {
        let attempts = Attempts::default();
        let (operator, newcomer, t0) = (ip("198.51.100.7"), ip("198.51.100.8"), Instant::now());
        attempts.succeeded(operator, t0);
        for i in 0..200u32 {
            let guesser = IpAddr::from([203, 0, (i / 256) as u8, (i % 256) as u8]);
            attempts.failed(guesser, t0 + Duration::from_millis(u64::from(i)));
        }
        let now = t0 + Duration::from_secs(1);
        let overall = attempts.wait(newcomer, now).delay;
        assert_eq!(overall, Duration::from_secs(2), "150 beyond the free 50: three doublings");
        assert!(attempts.wait(newcomer, now).turn.is_none(), "no address of its own to wait behind");
        assert_eq!(attempts.wait(operator, now).delay, Duration::ZERO, "the operator's address is known");
        assert_eq!(attempts.wait(newcomer, now + Duration::from_secs(61)).delay, Duration::ZERO, "a minute on");
        assert_eq!(attempts.wait(operator, t0 + KNOWN_FOR).delay, Duration::ZERO);
    }
}
