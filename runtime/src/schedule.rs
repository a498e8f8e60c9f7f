//! When connections sync: once per interval (a day by default), each at its
//! own place in the interval so that many connections share the day; at
//! most N at once, of which slow connections hold at most half; never one
//! connection twice at the same time, nor twice for one slot when several
//! processes serve one store; after downtime, an overdue connection runs once.
//!
//! A process claims only as many due connections as it has room to sync,
//! each under a lease it renews while it syncs; the leases of a process that
//! died or was cut off lapse, and another process syncs their connections.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::store::{Claim, Claimed, Connection, Store, Time};

pub const DAY: i64 = 24 * 60 * 60;

/// Where in each interval a connection syncs, in seconds from the interval's
/// start: fixed per connection, and spread evenly over the whole interval by
/// a hash of its name, so that ten thousand daily connections share the day
/// instead of crowding an hour of it, and keep their place day after day.
pub fn phase(name: &str, interval: i64) -> i64 {
    if interval <= 0 {
        return 0;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % interval as u64) as i64
}

/// When a connection whose sync starts at `now` syncs next: at its phase, at
/// least half an interval on (one that first synced just before its phase
/// does not sync again minutes later). Saturating: an interval stored before
/// intervals were bounded cannot overflow the time.
pub fn next_sync(now: Time, interval: i64, name: &str) -> Time {
    if interval <= 0 {
        return now;
    }
    let earliest = now.saturating_add(interval / 2);
    let wait = (phase(name, interval) - earliest.rem_euclid(interval)).rem_euclid(interval);
    earliest.saturating_add(wait)
}

/// When a new connection first syncs: soon, spread over ten minutes.
pub fn first_sync(now: Time, name: &str) -> Time {
    now.saturating_add(phase(name, 600))
}

/// A connection whose last sync took this long is slow: a quarter of an hour.
pub const SLOW_SECS: i64 = 15 * 60;

/// Syncs one connection; the runtime's engine, or a test's stand-in.
pub trait Runner: Send + Sync + 'static {
    fn run(&self, connection: Connection) -> impl Future<Output = ()> + Send;
}

/// What a look at the store does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    RecoverAndClaim,
    Claim,
}

/// How long a lease lasts unless renewed, by default: an instance killed
/// or cut off from the store loses its syncs to the others after this.
pub const LEASE_SECS: i64 = 5 * 60;

pub struct Scheduler<R: Runner> {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    runner: Arc<R>,
    /// Syncs this process runs at once.
    capacity: usize,
    /// Of those, at most this many of connections whose last sync was slow,
    /// so a few slow tenants cannot keep the others waiting.
    slow_capacity: usize,
    /// How long a sync lasts before its connection counts as slow.
    slow_after: i64,
    /// This process, as leases name it.
    owner: String,
    lease_secs: i64,
    /// At most this many connections of an integration sync at once, on every process together.
    caps: BTreeMap<String, usize>,
    /// Connections this process claimed and is syncing, each with whether it is slow.
    held: Arc<Mutex<HashMap<i64, bool>>>,
    tasks: JoinSet<()>,
    /// When this process last renewed its leases: past a lease without one,
    /// it cannot be sure it still holds them, and abandons its syncs.
    renewed: tokio::time::Instant,
    /// Rung when a connection is made due now in this process: it is claimed at once.
    wake: Arc<tokio::sync::Notify>,
}

impl<R: Runner> Scheduler<R> {
    /// Syncs `max_concurrent` connections at once at most, under leases named `owner`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        runner: Arc<R>,
        max_concurrent: usize,
        owner: impl Into<String>,
    ) -> Self {
        let capacity = max_concurrent.max(1);
        Scheduler {
            store,
            clock,
            runner,
            capacity,
            slow_capacity: (capacity / 2).max(1),
            slow_after: SLOW_SECS,
            owner: owner.into(),
            lease_secs: LEASE_SECS,
            caps: BTreeMap::new(),
            held: Arc::default(),
            tasks: JoinSet::new(),
            renewed: tokio::time::Instant::now(),
            wake: Arc::default(),
        }
    }

    /// Claims due connections as soon as `wake` is rung ([`crate::services::Services::wake`]), as well
    /// as at every poll.
    pub fn with_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Connections whose last sync lasted `seconds` or longer count as slow.
    pub fn with_slow_after(mut self, seconds: i64) -> Self {
        self.slow_after = seconds;
        self
    }

    /// Leases last `seconds` unless renewed (a third of that apart, by `serve`).
    pub fn with_lease(mut self, seconds: i64) -> Self {
        self.lease_secs = seconds.max(3);
        self
    }

    /// At most `cap` connections of each integration named sync at once, on every process serving the store.
    pub fn with_caps(mut self, caps: BTreeMap<String, usize>) -> Self {
        self.caps = caps;
        self
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<i64, bool>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Frees the leases of stopped processes (their runs recorded as
    /// interrupted, their connections due again), then claims as many due
    /// connections as this process has room for, the longest waiting first,
    /// and starts their syncs. A claimed connection's next sync is set now,
    /// one interval on: an overdue one runs once. Returns the connections
    /// started. The store is read and written off the async workers: a long
    /// apply elsewhere delays the tick, never the syncs under way.
    pub async fn tick(&mut self) -> Result<Vec<String>, crate::store::StoreError> {
        self.look(Look::RecoverAndClaim).await
    }

    async fn look(&mut self, look: Look) -> Result<Vec<String>, crate::store::StoreError> {
        let now = self.clock.now();
        let (limit, slow_limit) = {
            let held = self.held();
            let slow = held.values().filter(|slow| **slow).count();
            let limit = self.capacity.saturating_sub(held.len());
            (limit, self.slow_capacity.saturating_sub(slow).min(limit))
        };
        let (owner, until, slow_after, caps) =
            (self.owner.clone(), now.saturating_add(self.lease_secs), self.slow_after, self.caps.clone());
        let claimed = crate::store::off_workers(&self.store, move |store| {
            // A process killed or cut off mid-sync leaves a lease behind: free it, and its connection syncs again.
            let recovered =
                if look == Look::RecoverAndClaim { store.recover_interrupted(&crate::owner::alive, now)? } else { 0 };
            if recovered > 0 {
                tracing::warn!(
                    recovered,
                    "the leases of stopped processes were freed, their syncs recorded as interrupted"
                );
            }
            if limit == 0 {
                return Ok(Vec::new());
            }
            let next = |c: &Connection| next_sync(now, c.interval_secs, &c.name());
            store.claim_due(&Claim {
                owner: &owner,
                now,
                until,
                limit,
                slow_limit,
                slow_after,
                caps: &caps,
                next: &next,
            })
        })
        .await?;
        let mut started = Vec::new();
        for Claimed { connection, slow } in claimed {
            let (id, name) = (connection.id, connection.name());
            self.held().insert(id, slow);
            let (runner, store, held, owner) =
                (self.runner.clone(), self.store.clone(), self.held.clone(), self.owner.clone());
            self.tasks.spawn(async move {
                runner.run(connection).await;
                // A sync that ended released its lease with its run; this frees one that never started one.
                if let Err(error) = crate::store::off_workers(&store, move |s| s.release(id, &owner)).await {
                    tracing::error!(%error, connection = id, "cannot release the connection");
                }
                held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
            });
            started.push(name);
        }
        // Reap finished tasks so the set does not grow over months.
        while self.tasks.try_join_next().is_some() {}
        Ok(started)
    }

    async fn look_logged(&mut self, look: Look) {
        match self.look(look).await {
            Ok(started) if !started.is_empty() => tracing::info!(?started, "syncs started"),
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "cannot claim the due connections"),
        }
    }

    /// Extends the leases of the syncs this process runs: a third of a lease
    /// apart, so that one renewal lost to a busy store does not cost a sync its
    /// lease. Only those: a lease left behind by a sync that ended while the
    /// store was unreachable lapses, and its connection is recovered. When no
    /// renewal has gone through for a whole lease, the store may have freed
    /// the leases and given the connections to another instance: the syncs
    /// under way are abandoned (their runs are recorded as interrupted once the
    /// store answers again, and their connections sync anew).
    async fn renew(&mut self) {
        let ids: Vec<i64> = self.held().keys().copied().collect();
        if ids.is_empty() {
            self.renewed = tokio::time::Instant::now();
            return;
        }
        let (owner, until) = (self.owner.clone(), self.clock.now().saturating_add(self.lease_secs));
        match crate::store::off_workers(&self.store, move |s| s.renew_leases(&owner, &ids, until)).await {
            Ok(_) => self.renewed = tokio::time::Instant::now(),
            Err(error) => {
                tracing::error!(%error, "cannot renew the leases of the syncs under way");
                if self.renewed.elapsed() >= Duration::from_secs(self.lease_secs.max(1) as u64) {
                    self.abandon();
                }
            }
        }
    }

    /// Stops every sync under way, leaving its run to be recovered as interrupted.
    fn abandon(&mut self) {
        let abandoned = self.tasks.len();
        self.tasks.abort_all();
        self.held().clear();
        self.renewed = tokio::time::Instant::now();
        tracing::warn!(
            abandoned,
            "the store has not answered for a whole lease: the syncs under way are abandoned; their runs are \
             recorded as interrupted and their connections synced again once it answers"
        );
    }

    /// Ticks every `poll`, as soon as a sync ends (its room goes to the
    /// next due connection at once, not at the next poll) and when woken, and renews the
    /// leases a third of a lease apart, until `shutdown` completes; then waits
    /// up to `grace` for the syncs under way (a sync cut short is recovered as
    /// interrupted by the next tick of any instance, its users untouched).
    pub async fn serve(mut self, poll: Duration, grace: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let renew_every = Duration::from_secs((self.lease_secs / 3).max(1) as u64);
        let mut renewal = tokio::time::interval(renew_every);
        renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut polling = tokio::time::interval(poll);
        polling.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let wake = self.wake.clone();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = renewal.tick() => self.renew().await,
                _ = polling.tick() => self.look_logged(Look::RecoverAndClaim).await,
                // A sync now: claimed at once, not at the next poll.
                () = wake.notified() => self.look_logged(Look::Claim).await,
                // Recovery waits for the poll: it reads every lease, and syncs end many times a second.
                Some(_) = self.tasks.join_next() => self.look_logged(Look::Claim).await,
            }
        }
        tracing::info!(running = self.tasks.len(), "shutting down: waiting for the syncs under way");
        let drained = tokio::time::timeout(grace, async {
            loop {
                tokio::select! {
                    done = self.tasks.join_next() => if done.is_none() { break },
                    _ = renewal.tick() => self.renew().await,
                }
            }
        })
        .await;
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
    fn phases_spread_evenly_over_the_whole_interval_and_stay_fixed() {
        let phases: Vec<i64> = (0..10_000).map(|i| phase(&format!("okta/account-{i}"), DAY)).collect();
        assert!(phases.iter().all(|p| (0..DAY).contains(p)));
        let mut per_hour = [0usize; 24];
        for p in &phases {
            per_hour[(p / 3600) as usize] += 1;
        }
        // 10000 / 24 = 417 an hour; none far from it.
        assert!(per_hour.iter().all(|n| (330..=500).contains(n)), "{per_hour:?}");
        assert_eq!(phase("okta/Prod", DAY), phase("okta/Prod", DAY), "fixed per connection");
        assert_eq!(phase("x", 0), 0);
    }

    #[test]
    fn the_next_sync_is_at_the_phase_at_least_half_an_interval_on() {
        let p = phase("okta/Prod", DAY);
        for now in [0, 1_800_000_000, 1_800_000_000 + p, 1_800_000_000 + DAY / 2 + 7] {
            let next = next_sync(now, DAY, "okta/Prod");
            assert_eq!(next.rem_euclid(DAY), p, "at its phase");
            assert!((now + DAY / 2..now + DAY / 2 + DAY).contains(&next), "{now} → {next}");
        }
        let at_phase = 1_800_000_000 - 1_800_000_000 % DAY + p;
        assert_eq!(next_sync(at_phase, DAY, "okta/Prod"), at_phase + DAY, "a day apart once at its phase");
    }

    #[test]
    fn an_interval_stored_before_intervals_were_bounded_cannot_overflow_the_schedule() {
        assert_eq!(next_sync(1_800_000_000, i64::MAX, "okta/Prod"), i64::MAX);
        assert_eq!(first_sync(i64::MAX - 1, "okta/Prod"), i64::MAX);
        assert_eq!(next_sync(100, 3600, "x").rem_euclid(3600), phase("x", 3600));
    }
}
