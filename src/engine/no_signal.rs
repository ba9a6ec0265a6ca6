//! A take that has heard nothing: every armed input pure digital silence since the take
//! started. An interface's input always carries some noise, so exact zeros mean the input
//! reaches nothing (a JACK or PipeWire port connected to nothing, a stream linked to the wrong
//! node): said once per take, on screen, in the status output and in the take's manifest entry.

use std::time::{Duration, Instant};

/// How long a take may be silent on every armed input before it is said. Longer than the
/// meters' peak hold, so that the hold values seen cover the whole time.
pub(crate) const SILENT_TAKE_WARNING: Duration = Duration::from_secs(3);

pub(crate) struct SilenceWatch {
    /// The take watched, when it started, and whether anything has been heard or said.
    take: Option<u32>,
    since: Instant,
    heard: bool,
    warned: bool,
}

impl SilenceWatch {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            take: None,
            since: now,
            heard: false,
            warned: false,
        }
    }

    /// `take`: the take being recorded, if any; `heard`: whether an armed input's meter (its
    /// peak hold) shows anything but zero. Returns the warning, once per take.
    pub(crate) fn check(&mut self, take: Option<u32>, heard: bool, now: Instant) -> Option<String> {
        if take != self.take {
            *self = Self {
                take,
                since: now,
                heard: false,
                warned: false,
            };
        }
        let number = take?;
        self.heard |= heard;
        if self.heard || self.warned || now.duration_since(self.since) < SILENT_TAKE_WARNING {
            return None;
        }
        self.warned = true;
        Some(format!(
            "take {number} has recorded pure digital silence on every armed input since it \
             started: the inputs are connected to nothing (JACK: --connect-input or a \
             patchbay; PipeWire: the stream's links) or the interface sends nothing"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_take_is_said_once_and_a_heard_one_never() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut w = SilenceWatch::new(t0);
        assert_eq!(w.check(None, false, at(5000)), None, "between takes");
        assert_eq!(w.check(Some(1), false, at(5000)), None);
        assert_eq!(w.check(Some(1), false, at(7900)), None, "under 3 s");
        let said = w.check(Some(1), false, at(8100)).expect("a warning");
        assert!(said.starts_with("take 1 "), "{said}");
        assert_eq!(w.check(Some(1), false, at(9000)), None, "once");
        // The next take starts over; a sound at any time keeps it from being said.
        assert_eq!(w.check(Some(2), false, at(10_000)), None);
        assert_eq!(w.check(Some(2), true, at(10_100)), None);
        assert_eq!(w.check(Some(2), false, at(20_000)), None);
    }
}
