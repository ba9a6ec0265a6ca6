//! Software input monitoring on the writer thread: which tracks are monitored, and what the
//! callbacks are told (`crate::monitor`): the inputs of the monitored tracks that are armed,
//! each with its cue gain and pan. A setting of the run, not of the session.

use std::sync::Arc;

use super::api::{MonitorView, Track};
use crate::monitor::{MAX_MONITORED, MonitorShared};
use crate::playback::Gains;
use crate::session::manifest::TrackRecord;
use crate::session::song::cue_of;

pub(super) struct Monitoring {
    shared: Option<Arc<MonitorShared>>,
    /// Tracks whose monitor is on, ascending.
    on: Vec<u16>,
    /// What the callbacks were last told: (track, input, gains).
    applied: Vec<(u16, u16, Gains)>,
    rate: u32,
}

impl Monitoring {
    pub(super) fn new(shared: Option<Arc<MonitorShared>>, on: Vec<u16>, rate: u32) -> Self {
        let mut on = on;
        on.sort_unstable();
        on.dedup();
        Self {
            shared,
            on,
            applied: Vec::new(),
            rate,
        }
    }

    /// Turns a track's monitor on or off.
    pub(super) fn set(&mut self, track: u16, on: bool, tracks: &[Track]) -> Result<(), String> {
        if !tracks.iter().any(|t| t.number == track) {
            return Err(format!("there is no track {track} to monitor"));
        }
        if on && self.shared.is_none() {
            return Err(
                "no output is open to monitor on: start tapedeck with --output (or use the interface's direct monitoring)"
                    .into(),
            );
        }
        match (on, self.on.binary_search(&track)) {
            (true, Err(i)) => self.on.insert(i, track),
            (false, Ok(i)) => {
                self.on.remove(i);
            }
            _ => {}
        }
        Ok(())
    }

    /// Tells the callbacks what to monitor now: the inputs of the monitored tracks that are
    /// armed, with their cue gain and pan (mute and solo are the song's, not the input's).
    /// Returns a warning when more are asked for than can be heard, or a track is unknown.
    pub(super) fn apply(&mut self, tracks: &[Track], cues: &[TrackRecord]) -> Option<String> {
        let shared = self.shared.as_ref()?;
        let mut warning = None;
        let mut wanted = Vec::new();
        for &number in &self.on {
            let Some(t) = tracks.iter().find(|t| t.number == number) else {
                warning = Some(format!("there is no track {number} to monitor"));
                continue;
            };
            if !t.armed {
                continue;
            }
            if wanted.len() == MAX_MONITORED {
                warning = Some(format!(
                    "at most {MAX_MONITORED} tracks are monitored at once; track {number} is not heard"
                ));
                continue;
            }
            let gains = cues
                .iter()
                .find(|c| c.number == number)
                .map_or(Gains::of(&Default::default()), |c| {
                    Gains::of(&cue_of(&c.cue))
                });
            wanted.push((number, t.input, gains));
        }
        if wanted != self.applied {
            let slots: Vec<(u16, Gains)> = wanted.iter().map(|&(_, i, g)| (i, g)).collect();
            shared.set(&slots);
            self.applied = wanted;
        }
        warning
    }

    pub(super) fn view(&self) -> MonitorView {
        let mut v = MonitorView {
            tracks: self.on.clone(),
            audible: self.applied.iter().map(|&(t, _, _)| t).collect(),
            ..MonitorView::default()
        };
        if let Some(shared) = &self.shared {
            v.dropped_frames = shared.dropped_frames();
            v.missing_frames = shared.missing_frames();
            v.waiting_frames = shared.waiting_frames();
            if let Some(l) = shared.latency(self.rate) {
                v.latency_frames = Some(l.total);
                v.latency_ms = Some(
                    (l.total as f64 * 1000.0 / f64::from(self.rate.max(1)) * 10.0).round() / 10.0,
                );
                v.input_latency_frames = Some(l.input);
                v.output_latency_frames = Some(l.output);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::manifest::CueRecord;

    fn tracks(armed: &[bool]) -> Vec<Track> {
        let mut t = Track::every_input(armed.len() as u16);
        for (t, a) in t.iter_mut().zip(armed) {
            t.armed = *a;
        }
        t
    }

    #[test]
    fn only_armed_monitored_tracks_are_heard_with_their_cue_gain_and_pan() {
        let (_, _, shared) = crate::monitor::monitor();
        let mut m = Monitoring::new(Some(Arc::clone(&shared)), vec![3], 48_000);
        let mut t = tracks(&[true, true, false]);
        let mut cues: Vec<TrackRecord> = t
            .iter()
            .map(|t| TrackRecord::new(t.number, &t.name, t.input, None, "s24"))
            .collect();
        cues[1].cue = CueRecord {
            gain_db: 0.0,
            pan: 1.0,
            mute: true,
            solo: false,
        };
        // Track 3 is not armed: nothing is heard.
        assert_eq!(m.apply(&t, &cues), None);
        assert!(!shared.is_active());
        m.set(2, true, &t).expect("monitor 2");
        assert_eq!(m.apply(&t, &cues), None);
        // Hard right; mute is the song's, not the input's.
        let right = Gains {
            left: 0.0,
            right: 1.0,
        };
        assert_eq!(shared.monitored(3), vec![(2, right)]);
        assert_eq!(m.view().tracks, vec![2, 3]);
        assert_eq!(m.view().audible, vec![2]);
        t[2].armed = true;
        m.apply(&t, &cues);
        let unity = Gains {
            left: 1.0,
            right: 1.0,
        };
        assert_eq!(shared.monitored(3), vec![(2, right), (3, unity)]);
        m.set(2, false, &t).expect("off");
        m.set(3, false, &t).expect("off");
        m.apply(&t, &cues);
        assert!(!shared.is_active());
        assert!(m.view().tracks.is_empty());
        assert!(m.set(9, true, &t).is_err(), "no track 9");
        let mut none = Monitoring::new(None, Vec::new(), 48_000);
        assert!(none.set(1, true, &t).is_err(), "no output");
    }
}
