//! The capture callback: the only code that runs on the audio thread.
//!
//! Each block becomes 32-bit ring words (`sample`), is placed on the host's timeline
//! (`timeline`), waits one cycle beside the next on JACK (`holdback`), and is stored in one
//! preallocated SPSC ring, with the frames missing before it as `Gap` events on a second, small
//! one (`ring`), so that the writer can zero-fill the exact number of missing frames at the
//! exact position. `stream` builds the cpal stream around it. The meters are the writer's: it
//! reads every sample anyway. The callback never allocates, locks, blocks, logs or does I/O
//! (tests/no_alloc.rs proves the allocation part).

mod holdback;
mod ring;
mod sample;
mod shared;
mod stream;
mod timeline;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::anchor::{Anchor, ConverterClock};
use holdback::{Converter, HoldBack, Timing, Verdict};
use ring::Store;
use timeline::{Missing, Timeline};

pub use ring::CaptureOutput;
pub use sample::CaptureSample;
pub use shared::CaptureShared;
pub(crate) use shared::{Gap, GapCause, Realtime, StreamFault};
pub(crate) use stream::{open_stream, schedule_audio_thread};
pub use timeline::TimestampTrust;

/// Frames converted per step; larger blocks are stored in steps of this, and not held back.
const SCRATCH_FRAMES: usize = 1024;

/// What the host says of when a block was captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// cpal's timestamps (ALSA, the demo device): when the block's first frame was captured
    /// and when the callback ran, in ns on the host's clock, where the host gives them.
    Host {
        capture_ns: Option<u64>,
        callback_ns: Option<u64>,
    },
    /// A JACK cycle (`cpal::platform::jack_cycle()`): the server's frame counter at the
    /// cycle's start, how long after the cycle began the callback ran (ns, by JACK's
    /// clock), the system's monotonic clock now, and the counter when the ports had been
    /// read.
    JackCycle {
        frame: u32,
        wake_ns: u64,
        clock_ns: Option<u64>,
        read_end: u32,
        /// The input ports' capture latency JACK reports, in frames.
        latency: u32,
    },
}

/// The audio thread's state. Everything is allocated in `new`.
pub struct Capture {
    shared: Arc<CaptureShared>,
    store: Store,
    timeline: Timeline,
    hold: HoldBack,
    /// Whether blocks are held back (JACK: `holdback`).
    hold_back: bool,
    /// Where a block is converted, `SCRATCH_FRAMES` at a time; as large as the hold-back's.
    scratch: Box<[u32]>,
    channels: usize,
    /// Software monitoring: the monitored inputs go to the output from here (`crate::monitor`).
    monitor: Option<crate::monitor::MonitorIn>,
}

impl Capture {
    /// `ring_frames` frames of all channels are preallocated; the gap queue holds 1024 events.
    pub fn new(
        channels: usize,
        sample_rate: u32,
        ring_frames: usize,
        trust: TimestampTrust,
    ) -> (Self, CaptureOutput, Arc<CaptureShared>) {
        let channels = channels.max(1);
        let shared = Arc::new(CaptureShared::new(channels));
        let (store, output) = Store::new(Arc::clone(&shared), ring_frames);
        let capture = Self {
            shared: Arc::clone(&shared),
            store,
            timeline: Timeline::new(sample_rate, trust),
            hold: HoldBack::new(channels, sample_rate, SCRATCH_FRAMES),
            hold_back: trust
                == TimestampTrust::Exact {
                    whole_periods: true,
                },
            scratch: ring::touched(SCRATCH_FRAMES * channels),
            channels,
            monitor: None,
        };
        (capture, output, shared)
    }

    /// Feeds the monitored inputs of every block to `monitor` (set before the stream starts).
    pub fn set_monitor(&mut self, monitor: crate::monitor::MonitorIn) {
        self.monitor = Some(monitor);
    }

    /// The data callback: every block the stream delivers, with what the host says of when
    /// it was captured.
    pub fn on_block<T: CaptureSample>(&mut self, data: &[T], stamp: Stamp) {
        let frames = data.len() / self.channels;
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);
        let timing = self.timing(stamp, frames);
        if let Some(m) = &mut self.monitor {
            // At once, not held back: what is heard needs no judging, only to be early.
            let converter = timing
                .and_then(|t| t.converter)
                .map(|c| (c.clock, c.at, c.latency_frames));
            m.feed(data, self.channels, converter);
        }
        if let Some(timing) = timing {
            if self.hold_back && frames <= SCRATCH_FRAMES {
                self.hold_back(data, frames, timing);
            } else {
                self.release_held(0);
                let missing = self.missing(frames, timing.stamp);
                self.record_missing(missing);
                publish_anchor(&self.shared, &self.store, timing.converter);
                self.store_block(data);
            }
        }
        self.store.publish_position();
    }

    /// When the block arrived, or `None` when it is to be left out.
    fn timing(&mut self, stamp: Stamp, frames: usize) -> Option<Timing> {
        match stamp {
            Stamp::Host {
                capture_ns,
                callback_ns,
            } => Some(Timing {
                stamp: capture_ns,
                wake: capture_ns
                    .zip(callback_ns)
                    .map(|(c, w)| w.saturating_sub(c)),
                moved: None,
                converter: capture_ns.map(|at| Converter {
                    clock: ConverterClock::Nanos,
                    at,
                    latency_frames: self
                        .timeline
                        .frames_in(callback_ns.map_or(0, |w| w.saturating_sub(at))),
                }),
            }),
            Stamp::JackCycle {
                frame,
                wake_ns,
                clock_ns,
                read_end,
                latency,
            } => {
                let stamp = self.timeline.cycle_stamp(frame, clock_ns);
                let begun = timeline::cycles_begun(frame, read_end, frames);
                // Held up for a whole cycle or more between its cycle's start and the end of
                // the read (the process stopped, or starved of CPU): the ports held a later
                // cycle's audio than the stamp says, and which one is not known. Stored at
                // its stamp it would lie that many cycles early. It is left out, untimed, so
                // the next block's stamp counts its period as lost together with the cycles
                // after it: one exact dropout, and the audio after it in its place.
                (begun < 2).then_some(Timing {
                    stamp: Some(stamp),
                    wake: Some(wake_ns),
                    moved: Some(begun > 0),
                    // Sampled `latency` frames before the cycle began.
                    converter: Some(Converter {
                        clock: ConverterClock::JackFrames,
                        at: u64::from(frame.wrapping_sub(latency)),
                        latency_frames: latency,
                    }),
                })
            }
        }
    }

    /// Holds the block back until the next one shows what it was (`holdback`), and acts on
    /// what the block shows of the one held before it.
    fn hold_back<T: CaptureSample>(&mut self, data: &[T], frames: usize, timing: Timing) {
        let new = &mut self.scratch[..frames * self.channels];
        sample::convert(data, new);
        match self.hold.judge(new, timing, T::NEGATIVE_ZERO) {
            Verdict::DeliveredTwice => self.release_held(0),
            Verdict::ReadEarly => {
                self.store
                    .add_gap(frames as u64, GapCause::DeviceXrun, true);
                self.release_held(0);
            }
            Verdict::Torn { same_cycle } => {
                // The hole before the held block stays; under the next block's stamp the
                // held block's place is that hole, otherwise its own period is lost too.
                let hole = self.hold.discard();
                self.record_missing(hole);
                if !same_cycle {
                    self.store
                        .add_gap(frames as u64, GapCause::DeviceXrun, true);
                }
                self.hold_new(frames, timing);
            }
            Verdict::Next { early } => {
                self.release_held(early);
                self.hold_new(frames, timing);
            }
        }
    }

    /// Holds the block in `scratch`, after the held one has been let go: where it lies on
    /// the timeline depends on the position that one left.
    fn hold_new(&mut self, frames: usize, timing: Timing) {
        let hole = self.missing(frames, timing.stamp);
        self.hold.hold(&mut self.scratch, frames, timing, hole);
    }

    /// Stores the block held back, if any, after the hole its stamp showed less `early`
    /// frames (the stamp was that much too late).
    fn release_held(&mut self, early: u64) {
        if let Some((hole, converter, words)) = self.hold.release() {
            if let Some(d) = self.timeline.dropout(hole.stamped_late_by(early)) {
                self.store.add_gap(d.frames, GapCause::DeviceXrun, d.exact);
            }
            publish_anchor(&self.shared, &self.store, converter);
            self.store.push(words);
        }
    }

    /// What the timeline says is missing before a block stored now.
    fn missing(&mut self, frames: usize, stamp: Option<u64>) -> Missing {
        let xruns = self.shared.xruns_reported.load(Ordering::Acquire);
        self.timeline
            .missing(frames as u64, stamp, self.store.position(), xruns)
    }

    fn record_missing(&mut self, missing: Missing) {
        if let Some(d) = self.timeline.dropout(missing) {
            self.store.add_gap(d.frames, GapCause::DeviceXrun, d.exact);
        }
    }

    /// Converts and stores a block in scratch-sized steps.
    fn store_block<T: CaptureSample>(&mut self, data: &[T]) {
        for part in data.chunks(self.scratch.len()) {
            let words = &mut self.scratch[..part.len()];
            sample::convert(part, words);
            self.store.push(words);
        }
    }
}

/// Publishes where the block about to be stored lies on the host's clock.
fn publish_anchor(shared: &CaptureShared, store: &Store, converter: Option<Converter>) {
    if let Some(c) = converter {
        shared.anchor.publish(Anchor {
            run: 0,
            position: store.position(),
            clock: c.clock,
            at: c.at,
            latency_frames: c.latency_frames,
        });
    }
}
