//! Time as the recording core sees it, injected so that tests can set it: a monotonic clock for
//! cadences and timeouts, and the wall clock for the manifest's timestamps.

use std::time::Instant;

use chrono::{DateTime, FixedOffset};

pub(crate) trait Clock {
    fn now(&self) -> Instant;
    fn wall(&self) -> DateTime<FixedOffset>;
}

/// The system's clocks.
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> DateTime<FixedOffset> {
        crate::session::now()
    }
}

/// A clock that moves only when told to.
#[cfg(test)]
#[derive(Clone)]
pub(crate) struct TestClock {
    start: Instant,
    wall0: DateTime<FixedOffset>,
    elapsed: std::rc::Rc<std::cell::Cell<std::time::Duration>>,
}

#[cfg(test)]
impl TestClock {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            wall0: crate::session::now(),
            elapsed: Default::default(),
        }
    }

    pub(crate) fn advance(&self, by: std::time::Duration) {
        self.elapsed.set(self.elapsed.get() + by);
    }
}

#[cfg(test)]
impl Clock for TestClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed.get()
    }

    fn wall(&self) -> DateTime<FixedOffset> {
        self.wall0 + self.elapsed.get()
    }
}
