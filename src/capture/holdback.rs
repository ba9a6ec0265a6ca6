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
        self.hole = hole;
    }

    /// Lets the held block go, if one is held: what was missing before it, and its words.
    pub(crate) fn release(&mut self) -> Option<(Missing, &[u32])> {
        if self.frames == 0 {
            return None;
        }
        let words = std::mem::take(&mut self.frames) * self.channels;
        let hole = std::mem::replace(&mut self.hole, Missing::NONE);
        Some((hole, &self.held[..words]))
    }

    /// Drops the held block; what was missing before it stays to be recorded.
    pub(crate) fn discard(&mut self) -> Missing {
        self.frames = 0;
        std::mem::replace(&mut self.hole, Missing::NONE)
    }
}
