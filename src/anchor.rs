//! Where a stream's blocks lie on the host's clock: what lets a captured frame be matched to
//! the played frame it heard.
//!
//! Each realtime callback (capture and playback) publishes an `Anchor` for the blocks it
//! handles: a position (capture: the stream position; playback: the song timeline frame) and
//! the time at the converter (capture: when that frame was sampled; playback: when it will
//! sound), on a clock both streams of one host share:
//! - JACK: the server's frame counter (`ConverterClock::JackFrames`), with the ports'
//!   latency added or taken off as JACK reports it;
//! - other hosts: cpal's capture/playback timestamps in ns (`ConverterClock::Nanos`).
//!
//! `AnchorCell` is a seqlock of atomics: the callback writes without waiting; a reader retries
//! the rare read that a write overlapped.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::Instant;

/// The clock both streams of a host that gives no common one are stamped with (ALSA): ns
/// since the first call, from the system's monotonic clock. cpal's ALSA timestamps of two
/// streams may have different origins (a device without hardware timestamps counts from its
/// stream's creation), so only their differences within one stream are used: the latency.
/// Call `process_clock_ns` once before the streams start; in a callback it only reads the
/// clock (vDSO: no lock, no allocation, no system call).
pub fn process_clock_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A stream instant's distance from another, in ns (0 when it is earlier).
pub fn ns_between(earlier: cpal::StreamInstant, later: cpal::StreamInstant) -> u64 {
    later
        .checked_duration_since(earlier)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The clock an anchor's `at` is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConverterClock {
    /// A JACK server's frame counter (32 bits, wrapping), at the stream's rate.
    JackFrames,
    /// Nanoseconds on the host's stream clock.
    Nanos,
}

/// A position on a stream and when it is at the converter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Which play this anchor belongs to (playback: counts plays; capture: 0).
    pub run: u64,
    /// Capture: stream position of a block's first frame. Playback: its timeline frame.
    pub position: u64,
    pub clock: ConverterClock,
    /// When `position` is at the converter: JACK frames (a `u32` counter, widened) or ns.
    pub at: u64,
    /// The latency the host reports between the callback's cycle and the converter, in frames
    /// (already included in `at`): for the manifest and the screen.
    pub latency_frames: u32,
}

impl Anchor {
    /// The signed distance in frames from `earlier` to this anchor's converter time, at `rate`.
    /// JACK counters are compared modulo 2^32 (they are read close together).
    pub fn frames_after(&self, earlier: &Anchor, rate: u32) -> Option<i64> {
        match (self.clock, earlier.clock) {
            (ConverterClock::JackFrames, ConverterClock::JackFrames) => Some(i64::from(
                (self.at as u32).wrapping_sub(earlier.at as u32) as i32,
            )),
            (ConverterClock::Nanos, ConverterClock::Nanos) => {
                let ns = self.at as i128 - earlier.at as i128;
                let frames = (ns * i128::from(rate) + ns.signum() * 500_000_000) / 1_000_000_000;
                i64::try_from(frames).ok()
            }
            _ => None,
        }
    }
}

const FIELDS: usize = 5;

/// One anchor, written by one realtime thread, read by any.
pub struct AnchorCell {
    seq: AtomicU64,
    fields: [AtomicU64; FIELDS],
}

impl Default for AnchorCell {
    fn default() -> Self {
        Self::new()
    }
}

impl AnchorCell {
    pub fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
            fields: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Publishes an anchor. Only one thread may write (the stream's callback): lock-free and
    /// wait-free, a handful of stores.
    pub fn publish(&self, a: Anchor) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let clock = match a.clock {
            ConverterClock::JackFrames => 1,
            ConverterClock::Nanos => 2,
        };
        let values = [a.run, a.position, clock, a.at, u64::from(a.latency_frames)];
        for (f, v) in self.fields.iter().zip(values) {
            f.store(v, Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The latest anchor, or `None` before the first.
    pub fn read(&self) -> Option<Anchor> {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let v: [u64; FIELDS] = std::array::from_fn(|i| self.fields[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            let clock = match v[2] {
                1 => ConverterClock::JackFrames,
                _ => ConverterClock::Nanos,
            };
            return Some(Anchor {
                run: v[0],
                position: v[1],
                clock,
                at: v[3],
                latency_frames: u32::try_from(v[4]).unwrap_or(u32::MAX),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor(at: u64, clock: ConverterClock) -> Anchor {
        Anchor {
            run: 1,
            position: 10,
            clock,
            at,
            latency_frames: 256,
        }
    }

    #[test]
    fn a_published_anchor_reads_back_whole() {
        let cell = AnchorCell::new();
        assert_eq!(cell.read(), None);
        let a = anchor(12345, ConverterClock::JackFrames);
        cell.publish(a);
        assert_eq!(cell.read(), Some(a));
    }

    #[test]
    fn jack_frames_compare_across_the_wrap() {
        let early = anchor(u64::from(u32::MAX - 10), ConverterClock::JackFrames);
        let late = anchor(20, ConverterClock::JackFrames);
        assert_eq!(late.frames_after(&early, 48_000), Some(31));
        assert_eq!(early.frames_after(&late, 48_000), Some(-31));
    }

    #[test]
    fn nanoseconds_round_to_the_nearest_frame() {
        let early = anchor(1_000_000_000, ConverterClock::Nanos);
        // 1000 frames at 48 kHz is 20.8333 ms.
        let late = anchor(1_020_833_333, ConverterClock::Nanos);
        assert_eq!(late.frames_after(&early, 48_000), Some(1000));
        assert_eq!(early.frames_after(&late, 48_000), Some(-1000));
        let jack = anchor(5, ConverterClock::JackFrames);
        assert_eq!(jack.frames_after(&early, 48_000), None);
    }

    #[test]
    fn a_reader_never_sees_a_torn_anchor() {
        use std::sync::Arc;
        let cell = Arc::new(AnchorCell::new());
        let writer = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                for i in 1..200_000u64 {
                    cell.publish(Anchor {
                        run: i,
                        position: i * 2,
                        clock: ConverterClock::Nanos,
                        at: i * 3,
                        latency_frames: (i % 1000) as u32,
                    });
                }
            })
        };
        let mut seen = 0;
        while !writer.is_finished() || seen == 0 {
            if let Some(a) = cell.read() {
                assert_eq!(a.position, a.run * 2);
                assert_eq!(a.at, a.run * 3);
                assert_eq!(u64::from(a.latency_frames), a.run % 1000);
                seen += 1;
            }
        }
        writer.join().unwrap();
        assert!(seen > 0);
    }
}
