//! Where each block lies on the host's timeline, and what is missing before it.
//!
//! A plain type: it is told each block's stamp and the stream position the block would be
//! stored at, and answers with the frames missing before it. The callback turns that into a
//! dropout (`dropout`) and keeps the position.

/// How far the host's callback timestamps can be trusted to measure a gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampTrust {
    /// Frame-accurate clock (JACK cycle times, the built-in demo device): gaps are measured
    /// even when no xrun was reported, rounded to whole periods when `whole_periods` is set.
    Exact { whole_periods: bool },
    /// Approximate clock (ALSA): a gap is only assumed after the host reported an xrun, and
    /// its length is an estimate.
    OnXrunOnly,
}

/// The longest gap we will zero-fill from a timestamp estimate; beyond it the clock is more
/// likely wrong than the device silent for that long.
const MAX_ESTIMATED_GAP_SECONDS: u64 = 60;

/// How long a JACK server must stand still (by the clock, its frame counter waiting) before
/// the take is kept in pace with the clock by an estimated silence.
const SERVER_STALL_NS: u64 = 500_000_000;

/// Blocks whose earliest origin a block's lateness is measured against.
const ORIGIN_WINDOW: usize = 8;

/// What is missing before a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Missing {
    /// Frames by the block's stamp on the host's timeline, and whether that count is exact.
    timeline: u64,
    exact: bool,
    /// Frames the server itself stood still, estimated from the system clock.
    stall: u64,
    /// Whether the host reported an xrun since the block before.
    xrun_reported: bool,
}

impl Missing {
    pub(crate) const NONE: Self = Self {
        timeline: 0,
        exact: true,
        stall: 0,
        xrun_reported: false,
    };

    /// The same with the stamp's hole `early` frames shorter: the stamp was that much too
    /// late. The server's own standstill (no stamp's guess) stays.
    pub(crate) fn stamped_late_by(self, early: u64) -> Self {
        Self {
            timeline: self.timeline.saturating_sub(early),
            ..self
        }
    }
}

/// A dropout to record before a block: `frames` missing (none when the host reported an xrun
/// that left no hole), `exact` or estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dropout {
    pub(crate) frames: u64,
    pub(crate) exact: bool,
}

/// The host's timeline as the blocks' stamps show it.
pub(crate) struct Timeline {
    rate: u64,
    trust: TimestampTrust,
    /// `stamp - position` (ns) of the last `ORIGIN_WINDOW` blocks, gaps accounted for: where
    /// each of them put the stream's frame 0 on the host's clock.
    origins: [i128; ORIGIN_WINDOW],
    origins_len: usize,
    origins_next: usize,
    /// The host's xrun count when the block before was placed.
    xruns_seen: u64,
    /// The last frame counter a JACK cycle carried, and where it lies on our unwrapped count.
    last_cycle: Option<(u32, u64)>,
    /// The system clock at that cycle, and how long the server itself stood still before the
    /// block about to be placed (frames, estimated).
    last_clock: Option<u64>,
    stall_frames: u64,
}

impl Timeline {
    pub(crate) fn new(sample_rate: u32, trust: TimestampTrust) -> Self {
        Self {
            rate: u64::from(sample_rate.max(1)),
            trust,
            origins: [0; ORIGIN_WINDOW],
            origins_len: 0,
            origins_next: 0,
            xruns_seen: 0,
            last_cycle: None,
            last_clock: None,
            stall_frames: 0,
        }
    }

    /// The stamp (ns) of a JACK cycle whose frame counter at its start was `frame`, the
    /// system's monotonic clock then being `clock_ns`.
    ///
    /// The counter is the block's position on the server's timeline: it advances by exactly
    /// one period per cycle the server runs (jackd adjusts it only at its own overruns).
    /// JACK's microsecond cycle times come from a filter that jackd resets at every xrun and
    /// that then runs fast or slow for seconds, so they are used for nothing here.
    pub(crate) fn cycle_stamp(&mut self, frame: u32, clock_ns: Option<u64>) -> u64 {
        // The counter is 32 bits and wraps after a day at 48 kHz; steps are small.
        let counter = match self.last_cycle {
            Some((last, at)) => at.wrapping_add_signed(i64::from(frame.wrapping_sub(last) as i32)),
            None => u64::from(frame),
        };
        let stamp = u64::try_from(u128::from(counter) * 1_000_000_000 / u128::from(self.rate))
            .unwrap_or(u64::MAX);
        // The server itself not running (hung, stopped, its driver restarted after an
        // overrun) shows only on the system clock: its frame counter waits with it. Short of
        // half a second that is the server's timeline, which every other client of it
        // shares; longer, the take keeps pace with the clock, and the silence is estimated.
        if let (Some(now), Some((_, last)), Some(then)) =
            (clock_ns, self.last_cycle, self.last_clock)
        {
            let timeline = counter.saturating_sub(last) * 1_000_000_000 / self.rate;
            let excess = now.saturating_sub(then).saturating_sub(timeline);
            if excess >= SERVER_STALL_NS {
                self.stall_frames = (u128::from(excess) * u128::from(self.rate) / 1_000_000_000)
                    .try_into()
                    .unwrap_or(u64::MAX);
            }
        }
        self.last_cycle = Some((frame, counter));
        self.last_clock = clock_ns;
        stamp
    }

    /// What is missing before a block of `frames` stamped `stamp`, which would be stored at
    /// stream position `position`; `xruns`: how many xruns the host has reported so far.
    pub(crate) fn missing(
        &mut self,
        frames: u64,
        stamp: Option<u64>,
        position: u64,
        xruns: u64,
    ) -> Missing {
        let xrun_reported = xruns != self.xruns_seen;
        self.xruns_seen = xruns;
        let (timeline, exact) = self.frames_late(frames, stamp, position, xrun_reported);
        Missing {
            timeline,
            exact,
            // Not part of the timeline's origin: the server's own frame counter did not move.
            stall: std::mem::take(&mut self.stall_frames),
            xrun_reported,
        }
    }

    /// Frames missing before this block by its timestamp, and whether that count is exact.
    ///
    /// Each block's capture time minus its position says where the stream's frame 0 lies on
    /// the host's clock. Scheduling can only make a block late, never early, so the earliest
    /// such origin among the last `ORIGIN_WINDOW` blocks is the timeline, and a block's
    /// lateness is measured against it rather than against the block before: a cycle that
    /// merely woke late, and the quick cycles with which the host catches up after it, are not
    /// gaps, while lost cycles show as a lateness of whole periods. The window lets the
    /// timeline follow a device clock that drifts against the system's, or a server that
    /// falls behind, without counting that as lost audio.
    fn frames_late(
        &mut self,
        frames: u64,
        stamp: Option<u64>,
        position: u64,
        xrun_reported: bool,
    ) -> (u64, bool) {
        let rate = i128::from(self.rate);
        let origin = stamp.map(|now| now as i128 - position as i128 * 1_000_000_000 / rate);
        let earliest = self.origins[..self.origins_len].iter().min().copied();
        let late = match (origin, earliest) {
            (Some(o), Some(e)) => (o - e).max(0),
            _ => 0,
        };
        let nearest_frame = ((late * rate + 500_000_000) / 1_000_000_000) as u64;
        let (missing, exact) = match self.trust {
            TimestampTrust::Exact {
                whole_periods: true,
            } if frames > 0 => {
                // Hosts with a fixed period lose whole periods: count those that are (nearly)
                // complete; less than 80 % of a period late is scheduling jitter.
                let period_ns = i128::from(frames) * 1_000_000_000 / rate;
                let periods = (late + period_ns / 5) / period_ns.max(1);
                (periods as u64 * frames, true)
            }
            // Frame-accurate timestamps: the nearest whole frame.
            TimestampTrust::Exact { .. } => (nearest_frame, true),
            // Approximate timestamps: only an xrun the host reported is a hole.
            TimestampTrust::OnXrunOnly if xrun_reported => (nearest_frame, false),
            TimestampTrust::OnXrunOnly => (0, false),
        };
        if let Some(o) = origin {
            // Where this block puts frame 0 once the gap about to be counted is accounted for.
            let counted = missing.min(MAX_ESTIMATED_GAP_SECONDS * self.rate);
            self.origins[self.origins_next] = o - i128::from(counted) * 1_000_000_000 / rate;
            self.origins_next = (self.origins_next + 1) % ORIGIN_WINDOW;
            self.origins_len = (self.origins_len + 1).min(ORIGIN_WINDOW);
        }
        (missing, exact)
    }

    /// The dropout to record for what is missing before a block, if any: at most
    /// `MAX_ESTIMATED_GAP_SECONDS`, and exact only when nothing of it was estimated.
    pub(crate) fn dropout(&self, m: Missing) -> Option<Dropout> {
        let missing = m.timeline.saturating_add(m.stall);
        let exact = m.exact && m.stall == 0;
        let cap = MAX_ESTIMATED_GAP_SECONDS * self.rate;
        if missing > 0 {
            Some(Dropout {
                frames: missing.min(cap),
                exact: exact && missing <= cap,
            })
        } else if m.xrun_reported {
            // The host reported an xrun but our stream shows no hole: record it anyway.
            Some(Dropout {
                frames: 0,
                exact: true,
            })
        } else {
            None
        }
    }
}

/// How many cycles a JACK server began while a block of `frames` was read: its frame counter
/// at the cycle's start was `frame`, and `read_end` when the read had ended.
pub(crate) fn cycles_begun(frame: u32, read_end: u32, frames: usize) -> u32 {
    let per_block = u32::try_from(frames).unwrap_or(u32::MAX).max(1);
    (read_end.wrapping_sub(frame) as i32).max(0) as u32 / per_block
}
