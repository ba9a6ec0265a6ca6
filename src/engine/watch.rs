//! Watching the audio thread from the writer: a stream that stops calling back, and an audio
//! thread that runs without realtime priority. Each becomes a warning (and a note in the
//! manifest during a take); neither touches the audio.

use std::time::{Duration, Instant};

use crate::capture::Realtime;

/// Without a single callback for this long, the device or audio server has stopped
/// delivering: say so, rather than wait in silence.
pub(crate) const NO_AUDIO_WARNING: Duration = Duration::from_secs(2);

/// Reports a stream that has stopped calling back, and when it comes back. The time without
/// audio becomes a dropout of the take when the stream resumes (the host's timestamps show it),
/// so this only has to make sure nobody waits unknowingly.
pub(crate) struct AudioWatch {
    /// Callbacks counted at the last check, when that count last changed, and whether the
    /// silence since then has been reported.
    seen: u64,
    since: Instant,
    warned: bool,
}

impl AudioWatch {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            seen: 0,
            since: now,
            warned: false,
        }
    }

    /// `callbacks`: the audio thread's count so far; `live`: whether the stream has not failed.
    pub(crate) fn check(
        &mut self,
        callbacks: u64,
        live: bool,
        now: Instant,
        device: &str,
    ) -> Option<String> {
        if callbacks != self.seen {
            let was = std::mem::replace(&mut self.warned, false);
            let since = std::mem::replace(&mut self.since, now);
            self.seen = callbacks;
            return was.then(|| {
                let secs = now.duration_since(since).as_secs_f64();
                format!("audio from {device} resumed after {secs:.1} s without it")
            });
        }
        if self.warned || !live || now.duration_since(self.since) < NO_AUDIO_WARNING {
            return None;
        }
        self.warned = true;
        Some(format!(
            "no audio from {device} for {} s: it has stopped delivering (a stalled device, or \
             an audio server that stopped running tapedeck); everything captured is kept, \
             and recording goes on when audio returns",
            NO_AUDIO_WARNING.as_secs()
        ))
    }
}

/// What to say of the audio thread's scheduling once its first callback has run: `None` while
/// it has not, `Some(None)` when all is well. Without realtime priority it waits behind
/// ordinary threads under load, and the device can overrun.
pub(crate) fn realtime_warning(state: Realtime, host: &str) -> Option<Option<&'static str>> {
    match state {
        Realtime::Unknown => None,
        Realtime::Yes | Realtime::NotApplicable => Some(None),
        Realtime::No if host == "jack" => Some(Some(
            "the JACK server runs tapedeck without realtime priority (it was started \
             without it): under load it may miss cycles",
        )),
        Realtime::No => Some(Some(
            "the audio thread runs without realtime priority (this user may not have it): \
             under load the interface may overrun; see \"Realtime priority\" in docs/usage.md",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_reported_once_and_its_end_with_its_length() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = AudioWatch::new(t0);
        assert_eq!(w.check(5, true, at(100), "d"), None);
        assert_eq!(w.check(5, true, at(2000), "d"), None, "under 2 s");
        let said = w.check(5, true, at(2200), "d");
        assert!(said.is_some_and(|s| s.starts_with("no audio from d for 2 s")));
        assert_eq!(w.check(5, true, at(4000), "d"), None, "once");
        assert_eq!(
            w.check(6, true, at(5100), "d").as_deref(),
            Some("audio from d resumed after 5.0 s without it")
        );
        assert_eq!(w.check(7, true, at(5200), "d"), None);
    }

    #[test]
    fn a_failed_stream_is_not_reported_as_silent() {
        let t0 = Instant::now();
        let mut w = AudioWatch::new(t0);
        assert_eq!(w.check(0, false, t0 + Duration::from_secs(9), "d"), None);
    }

    #[test]
    fn realtime_is_judged_once_known() {
        assert_eq!(realtime_warning(Realtime::Unknown, "alsa"), None);
        assert_eq!(realtime_warning(Realtime::Yes, "alsa"), Some(None));
        assert!(
            realtime_warning(Realtime::No, "jack")
                .is_some_and(|w| w.is_some_and(|w| w.contains("JACK")))
        );
        assert!(
            realtime_warning(Realtime::No, "alsa")
                .is_some_and(|w| w.is_some_and(|w| w.contains("docs/usage.md")))
        );
    }
}
