//! The syncs under way in this process, as the console's live view follows
//! them: the scheduler's syncs report their pages and users here, and a page
//! watching a connection sees each change (coalesced: a watcher slower than
//! the pages sees the latest count, never a backlog).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use tokio::sync::watch;

use crate::store::Time;

/// A connection's sync as a watcher sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// How many syncs of it this process has started: a watcher tells a sync that ended meanwhile from
    /// the one it saw before.
    pub sync: u64,
    /// A sync of it is under way in this process.
    pub running: bool,
    pub started_at: Option<Time>,
    pub pages: u32,
    pub users: u64,
    /// How the last sync seen here ended, in words; `None` while one runs or before any.
    pub ended: Option<String>,
}

/// The progress of every connection synced or watched in this process: one
/// small entry each, kept for the process's life, so that a watcher that
/// comes late still tells the syncs apart by their count.
#[derive(Default)]
pub struct Syncs {
    by_connection: Mutex<HashMap<i64, watch::Sender<Progress>>>,
}

impl Syncs {
    fn sender(&self, connection: i64) -> watch::Sender<Progress> {
        let mut map = self.by_connection.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(connection).or_insert_with(|| watch::Sender::new(Progress::default())).clone()
    }

    /// Follows a connection: its progress now, then each change.
    pub fn watch(&self, connection: i64) -> watch::Receiver<Progress> {
        self.sender(connection).subscribe()
    }

    /// A sync of `connection` starts: watchers see it run until [`Tracker::ended`].
    pub fn start(&self, connection: i64, now: Time) -> Tracker {
        let sender = self.sender(connection);
        sender.send_modify(|p| {
            *p = Progress { sync: p.sync + 1, running: true, started_at: Some(now), ..Progress::default() };
        });
        Tracker { sender, ended: None }
    }
}

/// One sync's reports. Dropped without [`Tracker::ended`] (the sync's task
/// stopped), watchers see it stop all the same.
pub struct Tracker {
    sender: watch::Sender<Progress>,
    ended: Option<String>,
}

impl Tracker {
    pub fn progress(&self, pages: u32, users: u64) {
        self.sender.send_modify(|p| {
            p.pages = pages;
            p.users = users;
        });
    }

    /// How the sync ended, in words for the operator.
    pub fn ended(mut self, how: String) {
        self.ended = Some(how);
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let ended = self.ended.take().unwrap_or_else(|| "the sync stopped".to_owned());
        self.sender.send_modify(|p| {
            p.running = false;
            p.ended = Some(ended);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watcher_sees_a_sync_run_count_and_end() {
        let syncs = Syncs::default();
        let mut watcher = syncs.watch(7);
        assert_eq!(*watcher.borrow_and_update(), Progress::default());
        let tracker = syncs.start(7, 100);
        tracker.progress(1, 100);
        tracker.progress(2, 200);
        assert!(watcher.has_changed().unwrap_or(false));
        let seen = watcher.borrow_and_update().clone();
        assert_eq!((seen.sync, seen.running, seen.pages, seen.users, seen.started_at), (1, true, 2, 200, Some(100)));
        tracker.ended("synced 200 users".to_owned());
        let seen = watcher.borrow_and_update().clone();
        assert_eq!((seen.running, seen.ended.as_deref()), (false, Some("synced 200 users")));
        drop(syncs.start(7, 200));
        assert_eq!(watcher.borrow().sync, 2, "the next sync is told apart");
    }

    #[test]
    fn a_sync_dropped_unfinished_is_seen_to_stop_and_a_late_watcher_still_counts_the_syncs() {
        let syncs = Syncs::default();
        let watcher = syncs.watch(1);
        drop(syncs.start(1, 5));
        assert_eq!(watcher.borrow().ended.as_deref(), Some("the sync stopped"));
        // Unwatched while it ran: a watcher coming after still sees it counted.
        drop(syncs.start(2, 5));
        assert_eq!(syncs.watch(2).borrow().sync, 1);
    }
}
