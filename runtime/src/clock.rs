//! The time the runtime sees: the system's, or in tests a clock moved by hand.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::store::Time;

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
