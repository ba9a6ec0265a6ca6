//! JACK's hold-back: each block waits until the next one arrives, which shows what it was.
//!
//! A JACK client can run late, and a late client can read a cycle the source has already
//! overwritten, or is writing, for the next one. Comparing a held block with the next tells:
//!
//! - The next block is stamped with the same cycle and holds the same audio: the client was
//!   called twice for one cycle; the copy is dropped (the cycle before was counted lost
//!   already, from the held block's stamp).
//! - The held block was read while the server began its next cycle (or, where the host cannot
//!   say so, its callback ran half a period or more after its cycle began) and the next block,
//!   stamped one cycle on, holds the same audio: the held block read this cycle's audio early,
//!   and the cycle it was stamped with never reached us. That cycle becomes an exact dropout
//!   and the copy is dropped. A callback that is merely late cannot have read the next cycle:
//!   the source writes it only after the server has begun it, so audio that repeats every
//!   period by nature (a tone whose cycle divides the period) is kept from late callbacks on a
//!   loaded machine.
//! - Some inputs of the held block hold the next block's audio and others do not (a torn
//!   read): the held block was read while the source was writing the next cycle into its
//!   ports, so the held cycle is gone from some inputs and the tracks disagree about what it
//!   was. Its period becomes an exact dropout on every track, and the next block is kept. This
//!   needs the timing to agree: the two blocks stamped with one cycle (the held callback ran so
//!   late that the counter had moved on), or the held one read while the server began its
//!   next cycle (late, where the host cannot say).
//!
//! Storing both would repeat a period without saying so; storing a torn one would put the
//! tracks out of step with each other for a period. `HoldBack` only judges; the callback
//! stores, drops and records the dropouts its verdict asks for.

use super::ring::touched;
use super::timeline::Missing;

/// When a block arrived, as far as the host says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timing {
    /// The block's stamp on the host's timeline (ns).
    pub(crate) stamp: Option<u64>,
    /// How long after its cycle began the callback ran (ns).
    pub(crate) wake: Option<u64>,
    /// Whether the server began its next cycle while the block was read (JACK's frame
    /// counter says).
    pub(crate) moved: Option<bool>,
    /// When the block's first frame was at the converter, for the anchor (`crate::anchor`).
    pub(crate) converter: Option<Converter>,
}

/// A block's converter time: on which clock, when, and the latency the host reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Converter {
    pub(crate) clock: crate::anchor::ConverterClock,
    pub(crate) at: u64,
    pub(crate) latency_frames: u32,
}

/// What the next block shows the held one was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The same cycle delivered twice: the held block is stored, the next one dropped.
    DeliveredTwice,
    /// The held block read the next block's cycle early: the cycle it was stamped with is an
    /// exact dropout of a period, then the held block is stored and the next one dropped.
    ReadEarly,
    /// The held block is torn between two cycles: it is dropped, the hole before it stays, and
    /// unless the two blocks share a cycle its own period is lost too. The next one is held.
    Torn { same_cycle: bool },
    /// The held block is stored, after the hole its stamp showed less `early` frames (the
    /// stamp was that much too late), and the next one is held.
    Next { early: u64 },
}

/// One block held back, and what is needed to judge it against the next.
pub(crate) struct HoldBack {
    channels: usize,
    rate: u64,
    /// The block held back, `frames` long (none held when 0).
    held: Box<[u32]>,
    frames: usize,
    /// The held block's stamp, and whether its callback ran half a period late.
    stamp: Option<u64>,
    late: bool,
    /// Whether the server began its next cycle while the held block was read; `None` when
    /// the host cannot say.
    moved: Option<bool>,
    /// Where the held block lies on the host's clock.
    converter: Option<Converter>,
    /// What was missing before the held block: recorded when it is stored.
    hole: Missing,
    /// The smallest distance seen between a callback and its cycle's start (ns).
    min_wake: u64,
    /// Per input, for the comparison of a held block with the next (see `torn`).
    flags: Box<[u8]>,
}

impl HoldBack {
    /// Room for a block of `capacity_frames` frames of `channels` inputs.
    pub(crate) fn new(channels: usize, sample_rate: u32, capacity_frames: usize) -> Self {
        let channels = channels.max(1);
        Self {
            channels,
            rate: u64::from(sample_rate.max(1)),
            held: touched(capacity_frames * channels),
            frames: 0,
            stamp: None,
            late: false,
            moved: None,
            converter: None,
            hole: Missing::NONE,
            min_wake: u64::MAX,
            flags: vec![0u8; channels].into_boxed_slice(),
        }
    }

    /// Judges the held block by the next one, `new` (ring words of whole frames, no more
    /// than the held block's room), which arrived at `timing`. `negative_zero`: the word of a
    /// sample that is silence although not 0 (f32's -0.0).
    pub(crate) fn judge(&mut self, new: &[u32], timing: Timing, negative_zero: u32) -> Verdict {
        let ch = self.channels;
        let frames = new.len() / ch;
        let period_ns = frames as u64 * 1_000_000_000 / self.rate;
        // How late the callback ran is measured against the earliest it has run in a cycle:
        // the clients ahead of it in the graph take part of every cycle.
        if let Some(w) = timing.wake {
            self.min_wake = self.min_wake.min(w);
        }
        let held = &self.held[..self.frames * ch];
        // Only audio that moves within the block says which cycle it came from: silence and
        // DC (a control voltage, say) repeat by nature, and are left alone.
        let same_audio = self.frames == frames
            && new == held
            && held.iter().any(|&w| w & !negative_zero != 0)
            && held.chunks_exact(ch).any(|f| f != &held[..ch]);
        let step = match (timing.stamp, self.stamp) {
            (Some(now), Some(held)) if self.frames > 0 => Some(now.abs_diff(held)),
            _ => None,
        };
        let same_cycle = step.is_some_and(|d| d < period_ns / 2);
        if same_audio && same_cycle {
            return Verdict::DeliveredTwice;
        }
        let read_across = self.moved.unwrap_or(self.late);
        let consecutive = step.is_some_and(|d| d < period_ns * 3 / 2);
        if same_audio && read_across && consecutive {
            return Verdict::ReadEarly;
        }
        if !same_audio
            && self.frames == frames
            && (same_cycle || (read_across && consecutive))
            && self.torn(new)
        {
            return Verdict::Torn { same_cycle };
        }
        // A new cycle's audio under the held block's stamp: the held block ran late, after
        // the stamp moved on, but still read the cycle before it. Its stamp is one cycle
        // too late, and the hole it showed one period too long: none after a late callback,
        // the rest of the hole after a standstill of the process (woken for a cycle it had
        // missed, before the source had written the current one).
        Verdict::Next {
            early: if same_cycle { frames as u64 } else { 0 },
        }
    }

    /// Whether the held block and `new` (as long) agree on some inputs and differ on others,
    /// counting only inputs whose audio moves within the held block (silence and DC say
    /// nothing about which cycle they came from).
    fn torn(&mut self, new: &[u32]) -> bool {
        let ch = self.channels;
        let held = &self.held[..new.len()];
        let first = &held[..ch];
        // Bit 0: differs from the new block; bit 1: moves within the held block.
        let flags = &mut self.flags;
        flags.fill(0);
        for (h, n) in held.chunks_exact(ch).zip(new.chunks_exact(ch)) {
            for (((f, h), n), first) in flags.iter_mut().zip(h).zip(n).zip(first) {
                *f |= u8::from(h != n) | (u8::from(h != first) << 1);
            }
        }
        flags.contains(&0b10) && flags.contains(&0b11)
    }

    /// Holds the first `frames` frames of `block`, which arrived at `timing` after `hole`. The
    /// buffers are swapped, not copied: `block` gets the room the held block had.
    pub(crate) fn hold(
        &mut self,
        block: &mut Box<[u32]>,
        frames: usize,
        timing: Timing,
        hole: Missing,
    ) {
        let period_ns = frames as u64 * 1_000_000_000 / self.rate;
        std::mem::swap(block, &mut self.held);
        self.frames = frames;
        self.stamp = timing.stamp;
        self.late = timing
            .wake
            .is_some_and(|w| w.saturating_sub(self.min_wake) >= period_ns / 2);
        self.moved = timing.moved;
        self.converter = timing.converter;
        self.hole = hole;
    }

    /// Lets the held block go, if one is held: what was missing before it, where it lies on
    /// the host's clock, and its words.
    pub(crate) fn release(&mut self) -> Option<(Missing, Option<Converter>, &[u32])> {
        if self.frames == 0 {
            return None;
        }
        let words = std::mem::take(&mut self.frames) * self.channels;
        let hole = std::mem::replace(&mut self.hole, Missing::NONE);
        Some((hole, self.converter, &self.held[..words]))
    }

    /// Drops the held block; what was missing before it stays to be recorded.
    pub(crate) fn discard(&mut self) -> Missing {
        self.frames = 0;
        std::mem::replace(&mut self.hole, Missing::NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::super::timeline::{Timeline, TimestampTrust};
    use super::*;

    const RATE: u32 = 48_000;
    const CH: usize = 2;
    /// Frames per block: 10 ms at `RATE`.
    const FRAMES: usize = 480;
    const PERIOD_NS: u64 = 10_000_000;
    /// The hold-back's room, as in the callback.
    const ROOM: usize = 1024;

    /// A block of moving audio on both inputs, different for each `n`.
    fn audio(n: u32) -> Vec<u32> {
        (0..(FRAMES * CH) as u32)
            .map(|i| n * 100_000 + i + 1)
            .collect()
    }

    /// A block whose frames are `frame` repeated.
    fn constant(frame: [u32; CH]) -> Vec<u32> {
        frame.repeat(FRAMES)
    }

    /// Input 0 from `a`, input 1 from `b`.
    fn mixed(a: &[u32], b: &[u32]) -> Vec<u32> {
        a.chunks_exact(CH)
            .zip(b.chunks_exact(CH))
            .flat_map(|(a, b)| [a[0], b[1]])
            .collect()
    }

    /// Cycle `cycle`'s stamp, a callback `wake` periods after its start, and what the frame
    /// counter says of the read.
    fn at(cycle: u64, wake: f64, moved: Option<bool>) -> Timing {
        Timing {
            stamp: Some(cycle * PERIOD_NS),
            wake: Some((wake * PERIOD_NS as f64) as u64),
            moved,
            converter: None,
        }
    }

    /// A stamp `ns` after cycle 10's, from a callback on time.
    fn after_cycle_10(ns: u64) -> Timing {
        Timing {
            stamp: Some(10 * PERIOD_NS + ns),
            wake: Some(0),
            moved: Some(false),
            converter: None,
        }
    }

    /// Judges and holds each block in turn as the callback does, and returns the verdict on
    /// the last one.
    fn judged(blocks: &[(&[u32], Timing)], negative_zero: u32) -> Verdict {
        let mut hold = HoldBack::new(CH, RATE, ROOM);
        let mut scratch = touched(ROOM * CH);
        let mut verdict = None;
        for &(block, timing) in blocks {
            scratch[..block.len()].copy_from_slice(block);
            let v = hold.judge(&scratch[..block.len()], timing, negative_zero);
            if let Verdict::Torn { .. } = v {
                hold.discard();
            }
            if let Verdict::Torn { .. } | Verdict::Next { .. } = v {
                hold.hold(&mut scratch, block.len() / CH, timing, Missing::NONE);
            }
            verdict = Some(v);
        }
        verdict.expect("at least one block")
    }

    /// The verdict on `next` after `held`.
    fn verdict(held: (&[u32], Timing), next: (&[u32], Timing)) -> Verdict {
        judged(&[held, next], 0)
    }

    #[test]
    fn nothing_held_is_nothing_to_judge() {
        let a = audio(1);
        assert_eq!(
            judged(&[(&a, at(3, 0.9, Some(true)))], 0),
            Verdict::Next { early: 0 }
        );
        assert_eq!(HoldBack::new(CH, RATE, ROOM).release(), None);
    }

    #[test]
    fn the_same_moving_audio_under_one_stamp_was_delivered_twice() {
        let a = audio(1);
        assert_eq!(
            verdict(
                (&a, at(10, 0.0, Some(false))),
                (&a, at(10, 0.1, Some(false)))
            ),
            Verdict::DeliveredTwice
        );
        // A host's stamps of one cycle may differ by less than half a period.
        assert_eq!(
            verdict(
                (&a, at(10, 0.0, None)),
                (&a, after_cycle_10(PERIOD_NS / 2 - 1))
            ),
            Verdict::DeliveredTwice
        );
        assert_eq!(
            verdict((&a, at(10, 0.0, None)), (&a, after_cycle_10(PERIOD_NS / 2))),
            Verdict::Next { early: 0 }
        );
    }

    #[test]
    fn the_same_audio_a_cycle_on_after_a_read_across_the_next_cycle_was_read_early() {
        let (a, b) = (audio(1), audio(2));
        let held_read = |wake, moved| {
            judged(
                &[
                    (&b, at(9, 0.0, Some(false))),
                    (&a, at(10, wake, Some(moved))),
                    (&a, at(11, 0.0, Some(false))),
                ],
                0,
            )
        };
        assert_eq!(held_read(0.1, true), Verdict::ReadEarly);
        // However late its callback, a read that ended in its own cycle read its own cycle:
        // the audio repeats by nature.
        assert_eq!(held_read(0.9, false), Verdict::Next { early: 0 });
    }

    #[test]
    fn without_the_counter_a_callback_half_a_period_late_counts_as_a_read_across() {
        let (a, b) = (audio(1), audio(2));
        let late_by = |wake| {
            judged(
                &[
                    (&b, at(9, 0.0, None)),
                    (&a, at(10, wake, None)),
                    (&a, at(11, 0.0, None)),
                ],
                0,
            )
        };
        assert_eq!(late_by(0.5), Verdict::ReadEarly);
        assert_eq!(late_by(0.49), Verdict::Next { early: 0 });
    }

    #[test]
    fn lateness_is_measured_from_the_earliest_callback_seen() {
        // Clients ahead in the graph take 0.6 of every cycle: a callback 0.6 in is on time,
        // one 0.65 in after one at 0.1 is not.
        let (a, b, c) = (audio(1), audio(2), audio(3));
        assert_eq!(
            judged(
                &[
                    (&a, at(9, 0.6, None)),
                    (&b, at(10, 0.6, None)),
                    (&b, at(11, 0.6, None))
                ],
                0
            ),
            Verdict::Next { early: 0 }
        );
        assert_eq!(
            judged(
                &[
                    (&a, at(9, 0.1, None)),
                    (&c, at(10, 0.65, None)),
                    (&c, at(11, 0.6, None))
                ],
                0
            ),
            Verdict::ReadEarly
        );
    }

    #[test]
    fn a_read_across_a_period_and_a_half_before_is_not_the_cycle_before() {
        let a = audio(1);
        assert_eq!(
            verdict(
                (&a, at(10, 0.0, Some(true))),
                (&a, after_cycle_10(PERIOD_NS * 3 / 2 - 1))
            ),
            Verdict::ReadEarly
        );
        assert_eq!(
            verdict(
                (&a, at(10, 0.0, Some(true))),
                (&a, after_cycle_10(PERIOD_NS * 3 / 2))
            ),
            Verdict::Next { early: 0 }
        );
    }

    #[test]
    fn silence_and_dc_repeat_by_nature_and_say_nothing() {
        let same_cycle = |block: &[u32], negative_zero| {
            judged(
                &[
                    (block, at(10, 0.0, Some(false))),
                    (block, at(10, 0.1, Some(false))),
                ],
                negative_zero,
            )
        };
        let silence_of_the_cycle_after = Verdict::Next {
            early: FRAMES as u64,
        };
        assert_eq!(same_cycle(&constant([0, 0]), 0), silence_of_the_cycle_after);
        assert_eq!(same_cycle(&constant([5, 7]), 0), silence_of_the_cycle_after);
        // f32's 0.0 and -0.0 in turn: silence, however its bits move.
        let zeros: Vec<u32> = (0..FRAMES * CH)
            .map(|i| {
                if (i / CH).is_multiple_of(2) {
                    0
                } else {
                    0x8000_0000
                }
            })
            .collect();
        assert_eq!(same_cycle(&zeros, 0x8000_0000), silence_of_the_cycle_after);
        // The same words from an integer device are audio.
        assert_eq!(same_cycle(&zeros, 0), Verdict::DeliveredTwice);
    }

    #[test]
    fn inputs_that_disagree_when_the_timing_allows_are_a_torn_read() {
        let (a, b) = (audio(1), audio(2));
        let torn = mixed(&a, &b);
        // Input 0 already holds the next block's audio, input 1 not yet.
        assert_eq!(
            verdict(
                (&torn, at(10, 0.0, Some(false))),
                (&b, at(10, 0.1, Some(false)))
            ),
            Verdict::Torn { same_cycle: true }
        );
        assert_eq!(
            verdict(
                (&torn, at(10, 0.0, Some(true))),
                (&b, at(11, 0.0, Some(false)))
            ),
            Verdict::Torn { same_cycle: false }
        );
        // A read that ended in its own cycle: an input that loops every period beside one
        // that moves on.
        assert_eq!(
            verdict(
                (&torn, at(10, 0.9, Some(false))),
                (&b, at(11, 0.0, Some(false)))
            ),
            Verdict::Next { early: 0 }
        );
    }

    #[test]
    fn an_input_that_agrees_only_because_it_stands_still_is_no_torn_read() {
        let dc = mixed(&constant([5, 5]), &audio(1));
        let next = mixed(&constant([5, 5]), &audio(2));
        assert_eq!(
            verdict(
                (&dc, at(10, 0.0, Some(false))),
                (&next, at(10, 0.1, Some(false)))
            ),
            Verdict::Next {
                early: FRAMES as u64
            }
        );
    }

    #[test]
    fn new_audio_under_the_held_blocks_stamp_makes_its_hole_a_period_shorter() {
        let (a, b) = (audio(1), audio(2));
        assert_eq!(
            verdict(
                (&a, at(11, 0.1, Some(false))),
                (&b, at(11, 0.0, Some(false)))
            ),
            Verdict::Next {
                early: FRAMES as u64
            }
        );
        assert_eq!(
            verdict(
                (&a, at(10, 0.1, Some(false))),
                (&b, at(11, 0.0, Some(false)))
            ),
            Verdict::Next { early: 0 }
        );
    }

    #[test]
    fn a_held_block_is_let_go_once_with_the_hole_before_it() {
        let mut hold = HoldBack::new(CH, RATE, ROOM);
        // A hole to recognise: an xrun reported before the block.
        let hole = Timeline::new(RATE, TimestampTrust::OnXrunOnly).missing(0, None, 0, 1);
        assert_ne!(hole, Missing::NONE);
        let a = audio(1);
        let mut block = touched(ROOM * CH);
        block[..a.len()].copy_from_slice(&a);
        hold.hold(&mut block, FRAMES, at(10, 0.0, None), hole);
        assert_eq!(block.len(), ROOM * CH, "the held block's room in exchange");
        assert_eq!(hold.release(), Some((hole, None, &a[..])));
        assert_eq!(hold.release(), None);

        block[..a.len()].copy_from_slice(&a);
        hold.hold(&mut block, FRAMES, at(11, 0.0, None), hole);
        assert_eq!(hold.discard(), hole);
        assert_eq!(hold.release(), None);
    }
}
