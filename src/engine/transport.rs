//! The song's transport on the writer thread: play, stop, locate, cue settings, the take each
//! track plays, and the start of an overdub.
//!
//! An overdub asks the player to start at the song position, waits for the output's anchor
//! of that first block (which device cycle played it), and only then knows the capture frame
//! the take starts at (`roundtrip`). Until then the writer leaves the capture ring alone, so
//! that frame is still there however the two callbacks were ordered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{Locate, SongView};
use super::recorder::Placement;
use super::roundtrip::{RoundTripFix, capture_frame_for, latency_record};
use crate::anchor::{Anchor, ConverterClock};
use crate::capture::CaptureShared;
use crate::display::song_clock as clock;
use crate::playback::{ClockStamp, PlayState, PlaybackShared, Player};
use crate::session::manifest::{Manifest, TakeKind};
use crate::session::song::{self, Song};

/// The player's ring between the disk reader and the output callback, in seconds.
pub(crate) const SONG_RING_SECONDS: f64 = 2.0;

/// How long the output may take to play the first block of an overdub.
const START_TIMEOUT: Duration = Duration::from_secs(3);
/// Anchors of each stream looked at before an overdub's start is fixed (the median of what
/// they say is used: host stamps jitter, and an output's first blocks may be stamped while
/// its buffer fills).
const CAPTURE_ANCHORS: usize = 16;
const OUTPUT_ANCHORS: usize = 16;

/// An overdub waiting for its first block to be played.
struct Pending {
    run: u32,
    t0: u64,
    max_frames: Option<u64>,
    deadline: Instant,
    captured: Vec<Anchor>,
    played: Vec<Anchor>,
}

/// What an overdub waiting to start has come to.
pub(super) enum Start {
    Waiting,
    /// Start the take: at this stream frame, placed so, for at most so many frames.
    Take {
        placement: Placement,
        max_frames: Option<u64>,
    },
    Failed(String),
}

pub(super) struct Transport {
    player: Option<(Player, Arc<PlaybackShared>, String)>,
    rate: u32,
    fix: RoundTripFix,
    loop_probe: Option<super::LoopProbe>,
    song: Song,
    markers: Vec<u64>,
    /// Where play and record start from.
    position: u64,
    /// Where the last play or take started: the position returns there on stop.
    started_from: Option<u64>,
    pending: Option<Pending>,
}

impl Transport {
    /// `player`: the player, its shared state and the output's name; none when tapedeck
    /// plays nothing (no output was opened).
    pub(super) fn new(
        player: Option<(Player, Arc<PlaybackShared>, String)>,
        rate: u32,
        fix: RoundTripFix,
        loop_probe: Option<super::LoopProbe>,
        position: u64,
    ) -> Self {
        Self {
            player,
            rate,
            fix,
            loop_probe,
            song: Song::default(),
            markers: Vec::new(),
            position,
            started_from: None,
            pending: None,
        }
    }

    /// Reads the song again (a take finished, a cue or a take choice changed).
    pub(super) fn reload(&mut self, dir: &std::path::Path, m: &Manifest) -> Vec<String> {
        let old = std::mem::take(&mut self.song.problems);
        self.song = song::load(dir, m);
        self.markers = m
            .takes
            .iter()
            .flat_map(|t| t.markers.iter().map(move |k| t.timeline_start + k.frame))
            .collect();
        self.markers.sort_unstable();
        self.markers.dedup();
        if let Some((p, _, _)) = &mut self.player {
            p.set_tracks(self.song.cue.clone());
        }
        // Only what is new is worth a warning.
        self.song
            .problems
            .iter()
            .filter(|p| !old.contains(p))
            .cloned()
            .collect()
    }

    fn length(&self) -> u64 {
        crate::playback::song_length(&self.song.cue)
    }

    pub(super) fn is_playing(&self) -> bool {
        self.player
            .as_ref()
            .is_some_and(|(p, _, _)| matches!(p.state(), PlayState::Starting | PlayState::Playing))
    }

    /// Whether a Record should overdub: something plays and there is an output to play it.
    pub(super) fn overdubs(&self) -> bool {
        self.player.is_some() && self.song.has_audio()
    }

    pub(super) fn position(&self) -> u64 {
        match &self.player {
            Some((p, _, _)) if self.is_playing() => p.position(),
            _ => self.position,
        }
    }

    /// Stops or resumes the song's disk reader (fault injection).
    #[cfg(feature = "fault-injection")]
    pub(super) fn stall_reader(&self, stall: bool) {
        if let Some((_, shared, _)) = &self.player {
            shared.stall_reader(stall);
        }
    }

    /// Blocks of silence the output has played because the reader was late, and their frames.
    pub(super) fn underruns(&self) -> (u64, u64) {
        self.player.as_ref().map_or((0, 0), |(_, shared, _)| {
            let u = shared.underruns();
            (u.events, u.frames)
        })
    }

    pub(super) fn has_output(&self) -> bool {
        self.player.is_some()
    }

    pub(super) fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts playing from the song position. Returns a warning when it cannot.
    pub(super) fn play(&mut self) -> Result<(), String> {
        if self.player.is_none() {
            return Err("no output is open: start tapedeck with --output to play the song".into());
        }
        if !self.song.has_audio() {
            return Err("the song has nothing to play yet: record or import a take first".into());
        }
        if self.position >= self.length() {
            return Err(format!(
                "the position {} is at or past the song's end ({}); locate back first (Home)",
                clock(self.position, self.rate),
                clock(self.length(), self.rate)
            ));
        }
        if let Some((player, _, _)) = &mut self.player {
            player.play_from(self.position).map_err(|e| e.to_string())?;
        }
        self.started_from = Some(self.position);
        Ok(())
    }

    /// Stops playing; the position returns to where playing started.
    pub(super) fn stop(&mut self) {
        if let Some((p, _, _)) = &mut self.player {
            p.stop();
        }
        self.pending = None;
        if let Some(from) = self.started_from.take() {
            self.position = from;
        }
    }

    /// Moves the song position (stopped or playing).
    pub(super) fn locate(&mut self, to: Locate) -> Result<(), String> {
        let here = self.position();
        let length = self.length();
        let target = match to {
            Locate::Start => 0,
            Locate::Frame(f) => f,
            Locate::By(d) => here.saturating_add_signed(d),
            Locate::NextMarker => match self.markers.iter().find(|&&m| m > here) {
                Some(&m) => m,
                None => return Err("no marker after the position".into()),
            },
            Locate::PreviousMarker => {
                // Just after a marker, "previous" means the one before it.
                let grace = u64::from(self.rate) / 2;
                match self.markers.iter().rev().find(|&&m| m + grace < here) {
                    Some(&m) => m,
                    None => 0,
                }
            }
        };
        if target > length && !matches!(to, Locate::By(_)) {
            return Err(format!(
                "{} is past the song's end ({}); the position stays at {}",
                clock(target, self.rate),
                clock(length, self.rate),
                clock(here, self.rate)
            ));
        }
        let target = target.min(length);
        self.position = target;
        if self.is_playing() {
            self.started_from = Some(target);
            if let Some((p, _, _)) = &mut self.player {
                p.play_from(target).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Starts an overdub from the song position: the player starts, the take waits for it.
    /// Returns a warning to show, if any.
    pub(super) fn begin_overdub(
        &mut self,
        max_frames: Option<u64>,
    ) -> Result<Option<String>, String> {
        if self.pending.is_some() {
            return Err("already starting an overdub".into());
        }
        let mut warning = None;
        if let Some(probe) = &mut self.loop_probe {
            match probe() {
                Ok(inside) => self.fix.inside_jack = inside,
                Err(e) => {
                    warning = Some(format!(
                        "could not read the JACK graph ({e}); the round trip is taken as both sides' latencies"
                    ));
                    self.fix.inside_jack = false;
                }
            }
        }
        let Some((player, _, _)) = &mut self.player else {
            return Err("no output is open".into());
        };
        let t0 = self.position;
        player.play_from(t0).map_err(|e| e.to_string())?;
        let run = player.run();
        self.started_from = Some(t0);
        self.pending = Some(Pending {
            run,
            t0,
            max_frames,
            deadline: Instant::now() + START_TIMEOUT,
            captured: Vec::new(),
            played: Vec::new(),
        });
        Ok(warning)
    }

    /// Where the overdub waiting to start stands.
    pub(super) fn poll_start(&mut self, capture: &CaptureShared) -> Start {
        let Some(p) = &mut self.pending else {
            return Start::Waiting;
        };
        let Some((_, shared, _)) = &self.player else {
            return Start::Failed("no output is open".into());
        };
        if let Some(a) = capture.anchor.read()
            && p.captured.last() != Some(&a)
        {
            p.captured.push(a);
        }
        if p.played.is_empty()
            && let Some(a) = shared
                .first_anchor()
                .filter(|a| a.run == p.run)
                .and_then(|a| converter_anchor(&a, self.rate))
        {
            p.played.push(a);
        }
        if !p.played.is_empty()
            && let Some(a) = shared
                .anchor()
                .filter(|a| a.run == p.run)
                .and_then(|a| converter_anchor(&a, self.rate))
            && p.played.last().is_some_and(|l| l.position != a.position)
        {
            p.played.push(a);
        }
        let late = Instant::now() + START_TIMEOUT / 2 > p.deadline;
        let ready = (p.captured.len() >= CAPTURE_ANCHORS && p.played.len() >= OUTPUT_ANCHORS)
            || (late && !p.captured.is_empty());
        match p.played.first().copied() {
            Some(out) if ready => {
                let p = self.pending.take().expect("checked above");
                let Some(stream_start) =
                    capture_frame_for(p.t0, &p.played, &p.captured, self.rate, &self.fix)
                else {
                    self.stop();
                    return Start::Failed(
                        "the input and the output are timed by different clocks; use an input and an output of the same host".into(),
                    );
                };
                let last = p.captured.last().copied().unwrap_or(out);
                Start::Take {
                    placement: Placement {
                        timeline_start: p.t0,
                        kind: TakeKind::Overdub,
                        latency: Some(latency_record(&out, &last, &self.fix)),
                        stream_start: Some(stream_start),
                        ..Placement::plain(p.t0)
                    },
                    max_frames: p.max_frames,
                }
            }
            _ if Instant::now() >= p.deadline => {
                self.stop();
                Start::Failed(format!(
                    "the output did not start playing within {} s; check that it is running (tapedeck devices)",
                    START_TIMEOUT.as_secs()
                ))
            }
            _ => Start::Waiting,
        }
    }

    /// The song ended by itself: the position returns to where it started.
    pub(super) fn tick(&mut self) {
        if let Some((p, _, _)) = &self.player
            && p.state() == PlayState::Ended
            && self.pending.is_none()
            && let Some(from) = self.started_from.take()
        {
            self.position = from;
        }
    }

    pub(super) fn set_cue(&mut self, track: u16, cue: crate::session::manifest::CueRecord) {
        // What front ends see changes at once, like what they hear.
        if let Some(t) = self.song.tracks.iter_mut().find(|t| t.number == track) {
            t.cue = cue;
        }
        // A track split in parts plays one clip per part, each with the track's cue.
        for t in self.song.cue.iter_mut().filter(|t| t.number == track) {
            t.cue = song::cue_of(&cue);
        }
        if let Some((p, _, _)) = &mut self.player {
            // A track the player does not know has nothing to play yet.
            let _ = p.set_cue(track, song::cue_of(&cue));
        }
    }

    /// What front ends show of the song.
    pub(super) fn view(&self) -> SongView {
        let (underruns, underrun_frames, output) = match &self.player {
            Some((_, shared, name)) => {
                let u = shared.underruns();
                (u.events, u.frames, Some(name.clone()))
            }
            None => (0, 0, None),
        };
        let mut problems = self.song.problems.clone();
        if let Some((p, _, _)) = &self.player {
            for problem in p.problems() {
                let text = problem.to_string();
                if !problems.contains(&text) {
                    problems.push(text);
                }
            }
        }
        SongView {
            position: self.position(),
            playing: self.is_playing(),
            length: self.length(),
            tracks: self.song.tracks.clone(),
            underruns,
            underrun_frames,
            problems,
            output,
            starting_overdub: self.pending.is_some(),
            monitor: Default::default(),
        }
    }
}

/// The output's anchor on the converter's clock (`crate::anchor`): when the block's first
/// frame is heard.
fn converter_anchor(a: &crate::playback::Anchor, rate: u32) -> Option<Anchor> {
    let (clock, at) = match a.clock? {
        ClockStamp::JackFrame(f) => (
            ConverterClock::JackFrames,
            u64::from(f.wrapping_add(a.latency_frames)),
        ),
        ClockStamp::Nanos(ns) => (
            ConverterClock::Nanos,
            ns + u64::from(a.latency_frames) * 1_000_000_000 / u64::from(rate.max(1)),
        ),
    };
    Some(Anchor {
        run: u64::from(a.run),
        position: a.position,
        clock,
        at,
        latency_frames: a.latency_frames,
    })
}
