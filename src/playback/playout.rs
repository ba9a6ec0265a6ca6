//! The output callback: copies the mixed cue out of the ring into the device's buffer. It never
//! allocates, locks, blocks or does I/O (tests/no_alloc.rs proves the allocation part).
//!
//! The song's timeline keeps pace with the device's clock: when the reader is late, the
//! callback plays silence for the frames it lacks (an underrun, counted), and drops as many of
//! the frames that arrive later, so that everything after stays at its timeline frame.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringbuf::HeapCons;
use ringbuf::traits::{Consumer, Observer};

use super::shared::{PlayState, PlaybackShared};
use crate::anchor::{Anchor, ConverterClock};

/// What the host says of when a block will sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutStamp {
    /// A JACK cycle: the server's frame counter and the output ports' playback latency.
    JackCycle { frame: u32, latency: u32 },
    /// cpal's timestamps in ns: when the callback ran and when its first frame sounds.
    Host {
        callback_ns: Option<u64>,
        playback_ns: Option<u64>,
    },
}

/// A device sample the cue can be written as.
pub trait OutputSample: Copy + Send + 'static {
    /// From a cue sample in -1..1, rounded and clipped.
    fn from_cue(x: f32) -> Self;
    /// Digital silence.
    fn silence() -> Self;
}

impl OutputSample for f32 {
    fn from_cue(x: f32) -> Self {
        x
    }
    fn silence() -> Self {
        0.0
    }
}

impl OutputSample for i16 {
    fn from_cue(x: f32) -> Self {
        (x * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
    }
    fn silence() -> Self {
        0
    }
}

impl OutputSample for i32 {
    fn from_cue(x: f32) -> Self {
        // f32 to i32 saturates: full scale stays full scale.
        (f64::from(x) * 2_147_483_648.0).round() as i32
    }
    fn silence() -> Self {
        0
    }
}

impl OutputSample for cpal::I24 {
    fn from_cue(x: f32) -> Self {
        // Clamped to the 24-bit range just above.
        cpal::I24::new_unchecked((x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32)
    }
    fn silence() -> Self {
        cpal::I24::new_unchecked(0)
    }
}

/// The output callback's state. Everything is allocated by `Player::new`.
pub struct Playout {
    shared: Arc<PlaybackShared>,
    ring: HeapCons<f32>,
    rate: u32,
    /// The play being played, and the timeline frame of the next frame out.
    run: u64,
    pos: u64,
    /// Frames still to drop from the ring after an underrun.
    owed: u64,
    /// Stereo frames popped per step.
    scratch: Box<[f32]>,
    /// The JACK frame counter the next block should come at: cycles the server ran without
    /// calling us (an xrun) are frames of the song that went by unheard.
    next_cycle: Option<u32>,
}

impl Playout {
    pub(crate) fn new(shared: Arc<PlaybackShared>, ring: HeapCons<f32>, rate: u32) -> Self {
        Self {
            shared,
            ring,
            rate,
            run: 0,
            pos: 0,
            owed: 0,
            scratch: vec![0.0; 2 * 1024].into_boxed_slice(),
            next_cycle: None,
        }
    }

    /// The data callback: fills `out` (interleaved, `channels` per frame) with the cue's left
    /// and right in its first two channels (a mono device gets their mean), silence elsewhere.
    pub fn on_block<T: OutputSample>(&mut self, out: &mut [T], channels: usize, stamp: OutStamp) {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);
        out.fill(T::silence());
        let asked = self.shared.run.load(Ordering::Acquire);
        match self.shared.state() {
            PlayState::Starting => {
                if self.shared.flushed_run.load(Ordering::Acquire) != asked {
                    // What the ring holds belongs to an earlier play.
                    let stale = self.ring.occupied_len();
                    self.ring.skip(stale);
                    self.shared.flushed_run.store(asked, Ordering::Release);
                    return;
                }
                if self.shared.ready_run.load(Ordering::Acquire) != asked {
                    return;
                }
                self.run = asked;
                self.pos = self.shared.start_frame.load(Ordering::Acquire);
                self.owed = 0;
                self.shared.set_state(PlayState::Playing);
            }
            PlayState::Playing if self.run == asked => {
                if let (OutStamp::JackCycle { frame, .. }, Some(expected)) =
                    (stamp, self.next_cycle)
                {
                    let missed = frame.wrapping_sub(expected);
                    // Cycles the server ran without us: the song went on without being heard.
                    if missed > 0 && missed < u32::MAX / 2 {
                        self.owed += u64::from(missed);
                        self.pos += u64::from(missed);
                        self.shared.underruns.fetch_add(1, Ordering::Relaxed);
                        self.shared
                            .underrun_frames
                            .fetch_add(u64::from(missed), Ordering::Relaxed);
                    }
                }
            }
            _ => return,
        }
        if let OutStamp::JackCycle { frame, .. } = stamp {
            self.next_cycle = Some(frame.wrapping_add(frames as u32));
        }
        self.publish_anchor(stamp);
        let end = self.shared.end_frame.load(Ordering::Acquire);
        let playable = end.saturating_sub(self.pos).min(frames as u64) as usize;
        let mut done = 0;
        while done < playable {
            // Audio that belonged to frames already played as silence is dropped.
            if self.owed > 0 {
                let n = (self.owed as usize).min(self.ring.occupied_len() / 2);
                self.ring.skip(n * 2);
                self.owed -= n as u64;
                if self.owed > 0 {
                    break;
                }
            }
            let step = (playable - done).min(self.scratch.len() / 2);
            let got = self.ring.pop_slice(&mut self.scratch[..step * 2]) / 2;
            for (k, lr) in self.scratch[..got * 2].chunks_exact(2).enumerate() {
                let frame = &mut out[(done + k) * channels..(done + k + 1) * channels];
                if channels == 1 {
                    frame[0] = T::from_cue((lr[0] + lr[1]) * 0.5);
                } else {
                    frame[0] = T::from_cue(lr[0]);
                    frame[1] = T::from_cue(lr[1]);
                }
            }
            done += got;
            if got < step {
                break;
            }
        }
        if done < playable {
            let missing = (playable - done) as u64;
            self.owed += missing;
            self.shared.underruns.fetch_add(1, Ordering::Relaxed);
            self.shared
                .underrun_frames
                .fetch_add(missing, Ordering::Relaxed);
        }
        self.pos += frames as u64;
        self.shared
            .position
            .store(self.pos.min(end), Ordering::Release);
        if self.pos >= end {
            self.shared.set_state(PlayState::Ended);
        }
    }

    fn publish_anchor(&self, stamp: OutStamp) {
        let (clock, at, latency) = match stamp {
            OutStamp::JackCycle { frame, latency } => (
                ConverterClock::JackFrames,
                u64::from(frame.wrapping_add(latency)),
                latency,
            ),
            OutStamp::Host {
                callback_ns,
                playback_ns: Some(at),
            } => {
                let ns = at.saturating_sub(callback_ns.unwrap_or(at));
                let frames = u128::from(ns) * u128::from(self.rate) / 1_000_000_000;
                (
                    ConverterClock::Nanos,
                    at,
                    u32::try_from(frames).unwrap_or(u32::MAX),
                )
            }
            OutStamp::Host { .. } => return,
        };
        self.shared.anchor.publish(Anchor {
            run: self.run,
            position: self.pos,
            clock,
            at,
            latency_frames: latency,
        });
    }
}
