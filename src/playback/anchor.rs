//! Where each output block lies on the host's reference clock: published by the output
//! callback for every block, read by the engine to place what it records against what was
//! played. A seqlock of atomics: the callback never waits, a reader retries a torn read.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering, fence};

/// A block's callback cycle on the host's reference clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockStamp {
    /// JACK: the server's frame counter at the cycle's start.
    JackFrame(u32),
    /// Other hosts: cpal's callback time, in ns on the host's clock.
    Nanos(u64),
}

/// One output block as the callback played it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The play (`Player::play_from`) the block belongs to; 0 when it played none (stopped,
    /// starting, or after the song's end).
    pub run: u32,
    /// Timeline frame of the block's first frame (for run 0: where playback stands).
    pub position: u64,
    /// Frames in the block.
    pub frames: u32,
    /// The block's callback on the reference clock, where the host gives one.
    pub clock: Option<ClockStamp>,
    /// The output latency the host reports, in frames: how long after its callback the
    /// block's first frame is heard.
    pub latency_frames: u32,
}

const NO_CLOCK: u8 = 0;
const JACK: u8 = 1;
const NANOS: u8 = 2;

/// The seqlock: `seq` is odd while the single writer (the callback) stores the fields.
#[derive(Debug, Default)]
pub(crate) struct AnchorCell {
    seq: AtomicU64,
    run: AtomicU32,
    position: AtomicU64,
    frames: AtomicU32,
    clock_kind: AtomicU8,
    clock: AtomicU64,
    latency: AtomicU32,
}

impl AnchorCell {
    /// Only one thread may store (the output callback).
    pub(crate) fn store(&self, a: &Anchor) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // The odd count is visible before any field changes.
        fence(Ordering::Release);
        let (kind, value) = match a.clock {
            None => (NO_CLOCK, 0),
            Some(ClockStamp::JackFrame(f)) => (JACK, u64::from(f)),
            Some(ClockStamp::Nanos(n)) => (NANOS, n),
        };
        self.run.store(a.run, Ordering::Relaxed);
        self.position.store(a.position, Ordering::Relaxed);
        self.frames.store(a.frames, Ordering::Relaxed);
        self.clock_kind.store(kind, Ordering::Relaxed);
        self.clock.store(value, Ordering::Relaxed);
        self.latency.store(a.latency_frames, Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// The last anchor stored, or `None` before the first.
    pub(crate) fn load(&self) -> Option<Anchor> {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let a = Anchor {
                run: self.run.load(Ordering::Relaxed),
                position: self.position.load(Ordering::Relaxed),
                frames: self.frames.load(Ordering::Relaxed),
                clock: match self.clock_kind.load(Ordering::Relaxed) {
                    JACK => Some(ClockStamp::JackFrame(
                        self.clock.load(Ordering::Relaxed) as u32
                    )),
                    NANOS => Some(ClockStamp::Nanos(self.clock.load(Ordering::Relaxed))),
                    _ => None,
                },
                latency_frames: self.latency.load(Ordering::Relaxed),
            };
            // The fields are read before the count is read again.
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return (s1 != 0).then_some(a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_reader_never_sees_a_torn_anchor() {
        let cell = Arc::new(AnchorCell::default());
        assert_eq!(cell.load(), None);
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (cell, done) = (Arc::clone(&cell), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !done.load(Ordering::Relaxed) {
                    i += 1;
                    // Every field derived from i: a mix of two anchors shows.
                    cell.store(&Anchor {
                        run: i as u32,
                        position: i * 3,
                        frames: (i * 5) as u32,
                        clock: Some(if i.is_multiple_of(2) {
                            ClockStamp::Nanos(i * 7)
                        } else {
                            ClockStamp::JackFrame((i * 7) as u32)
                        }),
                        latency_frames: (i * 11) as u32,
                    });
                }
            })
        };
        for _ in 0..200_000 {
            if let Some(a) = cell.load() {
                let i = a.position / 3;
                let clock = if i.is_multiple_of(2) {
                    ClockStamp::Nanos(i * 7)
                } else {
                    ClockStamp::JackFrame((i * 7) as u32)
                };
                assert_eq!(
                    (a.run, a.frames, a.clock, a.latency_frames),
                    (i as u32, (i * 5) as u32, Some(clock), (i * 11) as u32)
                );
            }
        }
        done.store(true, Ordering::Relaxed);
        writer.join().expect("writer");
    }
}
