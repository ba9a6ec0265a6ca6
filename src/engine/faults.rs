//! Fault injection for the test suite, compiled only with the `fault-injection` feature (which
//! `scripts/test` enables and a release build does not).

use std::time::{Duration, Instant};

/// `TAPEDECK_TEST_STALL_WRITER=SECONDS:MILLIS`: the writer stops once for MILLIS, SECONDS into
/// the first take, standing in for a disk that stops answering.
pub(super) struct Stall {
    after: Duration,
    pause: Duration,
    take_seen: Option<Instant>,
    done: bool,
}

impl Stall {
    pub(super) fn from_env() -> Option<Self> {
        let v = std::env::var("TAPEDECK_TEST_STALL_WRITER").ok()?;
        let (after, ms) = v.split_once(':')?;
        Some(Self {
            after: Duration::from_secs_f64(after.parse().ok()?),
            pause: Duration::from_millis(ms.parse().ok()?),
            take_seen: None,
            done: false,
        })
    }

    pub(super) fn maybe(&mut self, recording: bool) {
        if self.done || !recording {
            return;
        }
        let seen = *self.take_seen.get_or_insert_with(Instant::now);
        if seen.elapsed() >= self.after {
            self.done = true;
            std::thread::sleep(self.pause);
        }
    }
}

/// `TAPEDECK_TEST_STALL_READER=SECONDS:MILLIS`: the song's disk reader stops for MILLIS,
/// SECONDS into the first take, standing in for a disk that is slow on the playback side.
pub(super) struct ReaderStall {
    after: Duration,
    pause: Duration,
    take_seen: Option<Instant>,
    /// When the stall ends, once it has begun.
    until: Option<Instant>,
    done: bool,
}

impl ReaderStall {
    pub(super) fn from_env() -> Option<Self> {
        let v = std::env::var("TAPEDECK_TEST_STALL_READER").ok()?;
        let (after, ms) = v.split_once(':')?;
        Some(Self {
            after: Duration::from_secs_f64(after.parse().ok()?),
            pause: Duration::from_millis(ms.parse().ok()?),
            take_seen: None,
            until: None,
            done: false,
        })
    }

    /// Whether the reader should be stalled now.
    pub(super) fn stalled(&mut self, recording: bool) -> Option<bool> {
        if self.done {
            return None;
        }
        if let Some(until) = self.until {
            if Instant::now() >= until {
                self.done = true;
                return Some(false);
            }
            return Some(true);
        }
        if !recording {
            return None;
        }
        let seen = *self.take_seen.get_or_insert_with(Instant::now);
        if seen.elapsed() >= self.after {
            self.until = Some(Instant::now() + self.pause);
            return Some(true);
        }
        None
    }
}
