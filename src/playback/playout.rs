//! The output callback: copies the mixed cue to the device, and nothing else.
//!
//! It never allocates, locks, blocks or does I/O (tests/no_alloc.rs proves the allocation
//! part): the blocks it plays were allocated by `Player::new` and go back to the reader
//! through a ring. It plays silence while stopped, while the reader prepares a play, after
//! the song's end, and when the reader is late (an underrun, counted). The timeline keeps
//! pace with the device: the frames of an underrun are skipped, so what follows plays at its
//! own timeline frame and the anchors stay on one line (timeline frame = clock + constant).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringbuf::traits::{Consumer, Producer};

use super::anchor::{Anchor, ClockStamp};
use super::block::{Block, PlayoutEnds};
use super::sample::OutputSample;
use super::shared::{PlayState, PlaybackShared};

/// What the host says of when an output block is played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutStamp {
    /// A JACK cycle (`cpal::platform::jack_cycle()`): the server's frame counter at its start
    /// and the playback latency of the stream's ports, in frames.
    JackCycle { frame: u32, latency: u32 },
    /// cpal's timestamps (ALSA, the demo device): when the callback ran and when its first
    /// frame is to be played, in ns on the host's clock.
    Host {
        callback_ns: Option<u64>,
        playback_ns: Option<u64>,
    },
}

/// The output callback's state. Everything is allocated by `Player::new`.
pub struct Playout {
    shared: Arc<PlaybackShared>,
    ends: PlayoutEnds,
    rate: u32,
    /// The block being played, and how many of its frames have been.
    current: Option<Block>,
    used: usize,
    /// The run being played; 0 when none is.
    run: u32,
    /// Timeline frame of the next frame to play.
    position: u64,
    length: u64,
    /// The last block was short of audio (an underrun goes on).
    short: bool,
    /// The JACK frame counter the next block should come at.
    next_cycle: Option<u32>,
    /// Software monitoring: the monitored inputs, added to every block (`crate::monitor`).
    monitor: Option<crate::monitor::MonitorOut>,
}

impl Playout {
    pub(crate) fn new(shared: Arc<PlaybackShared>, ends: PlayoutEnds, rate: u32) -> Self {
        Self {
            shared,
            ends,
            rate: rate.max(1),
            current: None,
            used: 0,
            run: 0,
            position: 0,
            length: 0,
            short: false,
            next_cycle: None,
            monitor: None,
        }
    }

    /// Adds the monitored inputs `monitor` carries to every block (set before the stream
    /// starts).
    pub fn set_monitor(&mut self, monitor: crate::monitor::MonitorOut) {
        self.monitor = Some(monitor);
    }

    /// The data callback: fills `out` (`channels` interleaved) with the next frames of the
    /// cue, its left and right sides on the first two channels (a one-channel device gets
    /// their average), and publishes where the block lies.
    pub fn on_block<T: OutputSample>(&mut self, out: &mut [T], channels: usize, stamp: OutStamp) {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        let cycle = match stamp {
            OutStamp::JackCycle { frame, .. } => Some(frame),
            OutStamp::Host { .. } => None,
        };
        self.on_block_inner(out, channels, frames, stamp);
        if let Some(m) = &mut self.monitor {
            m.add(
                &mut out[..frames * channels],
                channels,
                crate::monitor::heard_at(stamp, self.rate),
            );
        }
        self.next_cycle = cycle.map(|f| f.wrapping_add(frames as u32));
    }

    fn on_block_inner<T: OutputSample>(
        &mut self,
        out: &mut [T],
        channels: usize,
        frames: usize,
        stamp: OutStamp,
    ) {
        let (clock, latency_frames) = self.clock(stamp);
        let first = self.follow_control();
        if self.run == 0 {
            out.fill(T::SILENCE);
            let a = Anchor {
                run: 0,
                position: self.position,
                frames: frames as u32,
                clock,
                latency_frames,
            };
            self.shared.publish(&a, false);
            return;
        }
        if let OutStamp::JackCycle { frame, .. } = stamp {
            self.catch_up_with_the_server(frame, first);
        }
        let start = self.position;
        self.play(out, channels, frames);
        let a = Anchor {
            run: self.run,
            position: start,
            frames: frames as u32,
            clock,
            latency_frames,
        };
        self.shared.publish(&a, first);
        if self.position >= self.length {
            self.shared
                .advance(self.run, PlayState::Playing, PlayState::Ended);
            self.run = 0;
            self.recycle();
        }
    }

    /// Cycles the JACK server ran without calling us (an xrun of this client): the song went
    /// on unheard for those frames, so the timeline moves on by as many, counted as an
    /// underrun, and what follows stays where it belongs.
    fn catch_up_with_the_server(&mut self, frame: u32, first: bool) {
        if let Some(expected) = self.next_cycle
            && !first
        {
            let missed = frame.wrapping_sub(expected);
            if missed > 0 && missed < u32::MAX / 2 {
                self.position += u64::from(missed);
                self.shared.underrun_events.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .underrun_frames
                    .fetch_add(u64::from(missed), Ordering::Relaxed);
            }
        }
    }

    /// The timeline frame after the last one mixed and waiting for the callback (for tests
    /// and benches that drive the callback faster than a device would: they wait for it).
    #[doc(hidden)]
    pub fn mixed_until(&self) -> Option<u64> {
        let queued = self.ends.filled.iter().last().map(Block::end);
        queued.or(self.current.as_ref().map(Block::end))
    }

    /// Follows what the control side asked for; true when a run starts with this block.
    fn follow_control(&mut self) -> bool {
        let (run, state) = self.shared.control();
        match state {
            PlayState::Playing if run == self.run => false,
            PlayState::Starting => {
                self.run = 0;
                self.discard_other_runs(run);
                if self.shared.ready() != run {
                    return false;
                }
                let Some(start) = self.current.as_ref().map(|b| b.start) else {
                    return false;
                };
                if !self
                    .shared
                    .advance(run, PlayState::Starting, PlayState::Playing)
                {
                    return false;
                }
                self.run = run;
                self.position = start;
                self.length = self.shared.length();
                self.short = false;
                true
            }
            _ => {
                self.run = 0;
                self.discard_other_runs(0);
                false
            }
        }
    }

    /// Gives every block not of `run` back to the reader, and takes the first one of `run`.
    fn discard_other_runs(&mut self, run: u32) {
        loop {
            if let Some(b) = &self.current {
                if b.run == run && run != 0 {
                    return;
                }
                self.recycle();
            }
            match self.ends.filled.try_pop() {
                Some(b) => {
                    self.current = Some(b);
                    self.used = 0;
                }
                None => return,
            }
        }
    }

    /// Gives the current block back to the reader.
    fn recycle(&mut self) {
        if let Some(b) = self.current.take()
            && let Err(b) = self.ends.free.try_push(b)
        {
            // Cannot happen (the free ring holds every block); freeing here would be a
            // system call on the audio thread.
            std::mem::forget(b);
        }
        self.used = 0;
    }

    /// Plays the next `frames` frames of the run.
    fn play<T: OutputSample>(&mut self, out: &mut [T], channels: usize, frames: usize) {
        let end = (self.length.saturating_sub(self.position)).min(frames as u64) as usize;
        let mut done = 0;
        let mut short = 0;
        while done < end {
            let Some(b) = &self.current else {
                match self.ends.filled.try_pop() {
                    Some(b) => {
                        self.current = Some(b);
                        self.used = 0;
                        continue;
                    }
                    None => break,
                }
            };
            let at = b.start + self.used as u64;
            if self.used >= b.frames || b.run != self.run || b.end() <= self.position {
                self.recycle();
                continue;
            }
            if at < self.position {
                // Frames whose time passed in an underrun.
                self.used += (self.position - at) as usize;
                continue;
            }
            let n = if at > self.position {
                let n = ((at - self.position) as usize).min(end - done);
                out[done * channels..(done + n) * channels].fill(T::SILENCE);
                short += n;
                n
            } else {
                let n = (b.frames - self.used).min(end - done);
                let lr = &b.samples[self.used * 2..(self.used + n) * 2];
                write(
                    &mut out[done * channels..(done + n) * channels],
                    channels,
                    lr,
                );
                self.used += n;
                n
            };
            done += n;
            self.position += n as u64;
        }
        if done < end {
            out[done * channels..end * channels].fill(T::SILENCE);
            short += end - done;
            self.position += (end - done) as u64;
        }
        out[end * channels..].fill(T::SILENCE);
        if short > 0 {
            if !self.short {
                self.shared.underrun_events.fetch_add(1, Ordering::Relaxed);
            }
            self.shared
                .underrun_frames
                .fetch_add(short as u64, Ordering::Relaxed);
        }
        self.short = short > 0;
    }

    /// The block's place on the reference clock and the output latency in frames.
    fn clock(&self, stamp: OutStamp) -> (Option<ClockStamp>, u32) {
        match stamp {
            OutStamp::JackCycle { frame, latency } => (Some(ClockStamp::JackFrame(frame)), latency),
            OutStamp::Host {
                callback_ns,
                playback_ns,
            } => {
                let latency = callback_ns.zip(playback_ns).map_or(0, |(c, p)| {
                    let ns = u128::from(p.saturating_sub(c));
                    ((ns * u128::from(self.rate) + 500_000_000) / 1_000_000_000) as u32
                });
                (callback_ns.map(ClockStamp::Nanos), latency)
            }
        }
    }
}

/// Stereo frames `lr` into the device's frames: left and right on the first two channels,
/// the others silent; one channel gets (left + right) / 2 (a centred mono track stays exact).
#[inline]
fn write<T: OutputSample>(out: &mut [T], channels: usize, lr: &[f32]) {
    if channels == 1 {
        for (o, f) in out.iter_mut().zip(lr.chunks_exact(2)) {
            *o = T::from_cue((f[0] + f[1]) * 0.5);
        }
        return;
    }
    for (o, f) in out.chunks_exact_mut(channels).zip(lr.chunks_exact(2)) {
        o[0] = T::from_cue(f[0]);
        o[1] = T::from_cue(f[1]);
        o[2..].fill(T::SILENCE);
    }
}

#[cfg(test)]
mod tests {
    use super::super::block::{self, BLOCK_FRAMES, ReaderEnds};
    use super::super::shared::Underruns;
    use super::*;
    use ringbuf::traits::Observer;

    /// The callback with the reader's ends of its rings, driven by hand.
    fn rig(length: u64) -> (Playout, ReaderEnds, Arc<PlaybackShared>) {
        let shared = Arc::new(PlaybackShared::default());
        let (reader, ends) = block::rings(8);
        let playout = Playout::new(Arc::clone(&shared), ends, 48_000);
        shared.set_length(length);
        shared.set_control(1, PlayState::Starting);
        (playout, reader, shared)
    }

    /// Queues a block of run 1 whose samples are their timeline frame (left) and its
    /// negative (right).
    fn push(r: &mut ReaderEnds, start: u64, frames: usize) {
        let mut b = r.free.try_pop().expect("a free block");
        b.run = 1;
        b.start = start;
        b.frames = frames;
        for f in 0..frames {
            b.samples[f * 2] = (start + f as u64) as f32;
            b.samples[f * 2 + 1] = -((start + f as u64) as f32);
        }
        assert!(r.filled.try_push(b).is_ok());
    }

    fn stamp(frame: u32) -> OutStamp {
        OutStamp::JackCycle { frame, latency: 0 }
    }

    fn left(out: &[f32]) -> Vec<f32> {
        out.chunks(2).map(|f| f[0]).collect()
    }

    #[test]
    fn waits_for_the_reader_then_starts_at_a_block_boundary() {
        let (mut p, mut r, shared) = rig(100_000);
        push(&mut r, 500, BLOCK_FRAMES);
        let mut out = [9.0f32; 200];
        p.on_block(&mut out, 2, stamp(0));
        assert!(out.iter().all(|&x| x == 0.0), "not ready: silence");
        assert_eq!(shared.state(), PlayState::Starting);
        shared.set_ready(1);
        p.on_block(&mut out, 2, stamp(100));
        assert_eq!(shared.state(), PlayState::Playing);
        assert_eq!(left(&out), (500..600).map(|x| x as f32).collect::<Vec<_>>());
        let first = shared.first_anchor().expect("first");
        assert_eq!(
            (first.run, first.position, first.clock),
            (1, 500, Some(ClockStamp::JackFrame(100)))
        );
        assert_eq!(shared.underruns(), Underruns::default());
    }

    #[test]
    fn after_an_underrun_the_audio_of_the_silent_frames_is_skipped() {
        let (mut p, mut r, shared) = rig(100_000);
        push(&mut r, 0, 300);
        shared.set_ready(1);
        let mut out = [0.0f32; 400];
        p.on_block(&mut out, 2, stamp(0));
        // 200 played; the next block has only 100 left: 100 frames short.
        p.on_block(&mut out, 2, stamp(200));
        let l = left(&out);
        assert_eq!(&l[..100], (200..300).map(|x| x as f32).collect::<Vec<_>>());
        assert!(l[100..].iter().all(|&x| x == 0.0));
        assert_eq!(
            shared.underruns(),
            Underruns {
                events: 1,
                frames: 100
            }
        );
        // Still nothing: the same episode goes on.
        p.on_block(&mut out, 2, stamp(400));
        assert_eq!(
            shared.underruns(),
            Underruns {
                events: 1,
                frames: 300
            }
        );
        // The reader comes back with what it was mixing (frames 300..), late: the device is
        // at 600, so 300..600 are skipped.
        push(&mut r, 300, 500);
        p.on_block(&mut out, 2, stamp(600));
        assert_eq!(left(&out), (600..800).map(|x| x as f32).collect::<Vec<_>>());
        assert_eq!(shared.anchor().map(|a| a.position), Some(600));
        assert_eq!(
            shared.underruns(),
            Underruns {
                events: 1,
                frames: 300
            }
        );
        // A block beginning later than the device (the reader skipped too far): silence up
        // to it, counted, then its audio at its frame.
        push(&mut r, 850, 100);
        p.on_block(&mut out, 2, stamp(800));
        let l = left(&out);
        assert!(l[..50].iter().all(|&x| x == 0.0));
        assert_eq!(
            &l[50..150],
            (850..950).map(|x| x as f32).collect::<Vec<_>>()
        );
        assert!(l[150..].iter().all(|&x| x == 0.0));
        assert_eq!(
            shared.underruns(),
            Underruns {
                events: 2,
                frames: 300 + 50 + 50
            }
        );
    }

    #[test]
    fn stops_by_itself_at_the_song_end_and_when_told() {
        let (mut p, mut r, shared) = rig(250);
        push(&mut r, 0, 250);
        shared.set_ready(1);
        let mut out = [7.0f32; 400];
        p.on_block(&mut out, 2, stamp(0));
        p.on_block(&mut out, 2, stamp(200));
        let l = left(&out);
        assert_eq!(&l[..50], (200..250).map(|x| x as f32).collect::<Vec<_>>());
        assert!(l[50..].iter().all(|&x| x == 0.0));
        assert_eq!(shared.state(), PlayState::Ended);
        assert_eq!(shared.underruns(), Underruns::default());
        p.on_block(&mut out, 2, stamp(400));
        let a = shared.anchor().expect("anchor");
        assert_eq!((a.run, a.position), (0, 250));

        // A new run, then stopped: the blocks go back to the reader.
        shared.set_control(2, PlayState::Starting);
        for i in 0..8 {
            let mut b = r.free.try_pop().expect("all blocks are back");
            b.run = 2;
            b.start = i * 1024;
            b.frames = 1024;
            assert!(r.filled.try_push(b).is_ok());
        }
        shared.set_ready(2);
        shared.set_length(100_000);
        p.on_block(&mut out, 2, stamp(600));
        assert_eq!(shared.state(), PlayState::Playing);
        shared.set_control(2, PlayState::Stopped);
        p.on_block(&mut out, 2, stamp(800));
        assert!(out.iter().all(|&x| x == 0.0));
        assert_eq!(r.free.occupied_len(), 8, "every block given back");
    }
}
