//! When connections sync: once per interval (a day by default), offset by a
//! per-connection jitter so that many connections do not fire together; at
//! most N at once, of which slow connections hold at most half; never one
//! connection twice at the same time, nor twice for one slot when several
//! processes serve one store; after downtime, an overdue connection runs once.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::store::{Connection, Store, Time};

pub const DAY: i64 = 24 * 60 * 60;

/// The time the scheduler sees; tests drive it by hand.
pub trait Clock: Send + Sync {
    fn now(&self) -> Time;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that moves only when told.
#[derive(Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(now: Time) -> Self {
        ManualClock(AtomicI64::new(now))
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Time {
        self.0.load(Ordering::SeqCst)
    }
}

/// A connection's fixed offset within its interval: a tenth of the
/// interval, at most an hour. Fixed per connection, so connections stay
/// spread out day after day instead of drifting together.
pub fn jitter(name: &str, interval: i64) -> i64 {
    let window = (interval / 10).min(3600);
    if window <= 0 {
        return 0;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % window as u64) as i64
}

/// When a connection whose sync starts at `now` syncs next. Saturating: an
/// interval stored before intervals were bounded cannot overflow the time.
pub fn next_sync(now: Time, interval: i64, name: &str) -> Time {
    now.saturating_add(interval).saturating_add(jitter(name, interval))
}

/// When a new connection first syncs: soon, spread over ten minutes.
pub fn first_sync(now: Time, name: &str) -> Time {
    now.saturating_add(jitter(name, 600))
}

/// A connection whose last sync took this long is slow: a quarter of an hour.
pub const SLOW_SECS: i64 = 15 * 60;

/// Syncs one connection; the runtime's engine, or a test's stand-in.
pub trait Runner: Send + Sync + 'static {
    fn run(&self, connection: Connection) -> impl Future<Output = ()> + Send;
}

pub struct Scheduler<R: Runner> {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    runner: Arc<R>,
    permits: Arc<Semaphore>,
    /// What a slow connection takes before a permit: at most half the
    /// permits go to connections whose last sync was slow, so a few slow
    /// tenants cannot keep the others waiting.
    slow_permits: Arc<Semaphore>,
    /// How long a sync lasts before its connection counts as slow.
    slow_after: i64,
    /// Connections with a sync under way in this process.
    running: Arc<Mutex<HashSet<i64>>>,
    tasks: JoinSet<()>,
}

impl<R: Runner> Scheduler<R> {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, runner: Arc<R>, max_concurrent: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Scheduler {
            store,
            clock,
            runner,
            permits: Arc::new(Semaphore::new(max_concurrent)),
            slow_permits: Arc::new(Semaphore::new((max_concurrent / 2).max(1))),
            slow_after: SLOW_SECS,
            running: Arc::default(),
            tasks: JoinSet::new(),
        }
    }

    /// Connections whose last sync lasted `seconds` or longer count as slow.
    pub fn with_slow_after(mut self, seconds: i64) -> Self {
        self.slow_after = seconds;
        self
    }

    /// Records the runs of stopped processes as interrupted, then starts a
    /// sync of every enabled connection that is due and not already running;
    /// each waits for one of the N permits. A started connection's
    /// next sync is set now, one interval on: an overdue one runs once.
    /// Returns the connections started. The store is read and written off
    /// the async workers: a long apply elsewhere delays the tick, never the
    /// syncs under way.
    pub async fn tick(&mut self) -> Result<Vec<String>, crate::store::StoreError> {
        let now = self.clock.now();
        let running: HashSet<i64> = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let slow_after = self.slow_after;
        let claimed = crate::store::off_workers(&self.store, move |store| {
            // A `tib sync` killed while serve runs leaves a run behind: record it as interrupted.
            let recovered = store.recover_interrupted(&crate::sync::owner_alive, now)?;
            if recovered > 0 {
                tracing::warn!(recovered, "syncs of stopped processes were recorded as interrupted");
            }
            // The longest waiting first: the order permits are handed out in.
            let mut due: Vec<Connection> = store
                .connections()?
                .into_iter()
                .filter(|c| c.enabled && c.next_sync_at <= now && !running.contains(&c.id))
                .collect();
            due.sort_by_key(|c| c.next_sync_at);
            let mut claimed = Vec::new();
            for connection in due {
                let next = next_sync(now, connection.interval_secs, &connection.name());
                // Claimed only if no other process serving this store took the slot meanwhile.
                if !store.claim_slot(connection.id, connection.next_sync_at, next)? {
                    continue;
                }
                // Slow: its last sync lasted `slow_after` or longer (or is still running since long).
                let slow = match store.last_run(connection.id) {
                    Ok(last) => last.is_some_and(|run| {
                        run.ended_at.unwrap_or(now).saturating_sub(run.started_at) >= slow_after
                    }),
                    Err(error) => {
                        tracing::error!(%error, connection = connection.name(), "cannot read the last run; counted as not slow");
                        false
                    }
                };
                claimed.push((connection, slow));
            }
            Ok(claimed)
        })
        .await?;
        let mut started = Vec::new();
        for (connection, slow) in claimed {
            let name = connection.name();
            self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(connection.id);
            let (runner, permits, running) = (self.runner.clone(), self.permits.clone(), self.running.clone());
            let slow_permits = slow.then(|| self.slow_permits.clone());
            self.tasks.spawn(async move {
                let id = connection.id;
                let slow_permit = match slow_permits {
                    Some(slow_permits) => slow_permits.acquire_owned().await.ok(),
                    None => None,
                };
                if let Ok(_permit) = permits.acquire_owned().await {
                    runner.run(connection).await;
                }
                drop(slow_permit);
                running.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
            });
            started.push(name);
        }
        // Reap finished tasks so the set does not grow over months.
        while self.tasks.try_join_next().is_some() {}
        Ok(started)
    }

    /// Ticks every `poll` until `shutdown` completes, then waits up to
    /// `grace` for the syncs under way (a sync cut short is recovered as
    /// interrupted at the next start, its users untouched).
    pub async fn serve(mut self, poll: Duration, grace: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.tick().await {
                Ok(started) if !started.is_empty() => tracing::info!(?started, "syncs started"),
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "cannot read the connections to schedule"),
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
        tracing::info!(running = self.tasks.len(), "shutting down: waiting for the syncs under way");
        let drained = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("syncs still running after the grace period were stopped; they resume at the next start");
        }
    }

    /// Waits for every started sync (tests).
    pub async fn wait(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_tenth_of_the_interval_and_at_most_an_hour() {
        let offsets: Vec<i64> = (0..1000).map(|i| jitter(&format!("okta/account-{i}"), DAY)).collect();
        assert!(offsets.iter().all(|o| (0..3600).contains(o)));
        let distinct: HashSet<i64> = offsets.iter().copied().collect();
        assert!(distinct.len() > 800, "1000 connections land on {} distinct seconds", distinct.len());
        assert!((0..100).all(|i| (0..360).contains(&jitter(&format!("c{i}"), 3600))));
        assert_eq!(jitter("x", 5), 0);
        assert_eq!(jitter("okta/Prod", DAY), jitter("okta/Prod", DAY), "fixed per connection");
    }

    #[test]
    fn an_interval_stored_before_intervals_were_bounded_cannot_overflow_the_schedule() {
        assert_eq!(next_sync(1_800_000_000, i64::MAX, "okta/Prod"), i64::MAX);
        assert_eq!(first_sync(i64::MAX - 1, "okta/Prod"), i64::MAX);
        assert_eq!(next_sync(100, 3600, "x"), 100 + 3600 + jitter("x", 3600));
    }
}
