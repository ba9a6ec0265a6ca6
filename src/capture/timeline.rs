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
    /// `ns` as frames at the stream's rate, to the nearest, saturating.
    pub(crate) fn frames_in(&self, ns: u64) -> u32 {
        u32::try_from((u128::from(ns) * u128::from(self.rate) + 500_000_000) / 1_000_000_000)
            .unwrap_or(u32::MAX)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;
    /// Frames per block: 10 ms at `RATE`.
    const PERIOD: u64 = 480;
    const PERIOD_NS: u64 = 10_000_000;
    const JACK: TimestampTrust = TimestampTrust::Exact {
        whole_periods: true,
    };

    /// Places blocks of `PERIOD` frames with the given stamps, as the callback does (each
    /// stored after the dropout before it), and returns the dropouts with their positions.
    fn dropouts(
        trust: TimestampTrust,
        stamps: impl IntoIterator<Item = u64>,
    ) -> Vec<(u64, Dropout)> {
        let mut timeline = Timeline::new(RATE, trust);
        let mut position = 0;
        let mut out = Vec::new();
        for stamp in stamps {
            let m = timeline.missing(PERIOD, Some(stamp), position, 0);
            if let Some(d) = timeline.dropout(m) {
                out.push((position, d));
                position += d.frames;
            }
            position += PERIOD;
        }
        out
    }

    fn exact(frames: u64) -> Dropout {
        Dropout {
            frames,
            exact: true,
        }
    }

    /// What is missing before a block `late_ns` late after eight on time.
    fn after_eight_on_time(trust: TimestampTrust, late_ns: u64, xruns: u64) -> Option<Dropout> {
        let mut timeline = Timeline::new(RATE, trust);
        for k in 0..8 {
            let m = timeline.missing(PERIOD, Some(k * PERIOD_NS), k * PERIOD, 0);
            assert_eq!(timeline.dropout(m), None);
        }
        let m = timeline.missing(PERIOD, Some(8 * PERIOD_NS + late_ns), 8 * PERIOD, xruns);
        timeline.dropout(m)
    }

    #[test]
    fn lateness_is_measured_from_the_earliest_origin_of_the_window_not_the_block_before() {
        // Block 10 half a period late, block 11 lost, block 12 on time: against block 10 the
        // hole would look half a period long, and be none.
        let stamps = (0..20u64)
            .filter(|&k| k != 11)
            .map(|k| k * PERIOD_NS + if k == 10 { PERIOD_NS / 2 } else { 0 });
        assert_eq!(dropouts(JACK, stamps), [(11 * PERIOD, exact(PERIOD))]);
    }

    #[test]
    fn the_window_follows_a_drifting_clock() {
        // Each block 5 % of a period later than the one before says: 0.4 of a period across
        // the window, but 0.8 (a lost period) against anything older than 16 blocks.
        let stamps = (0..100u64).map(|k| k * PERIOD_NS * 105 / 100);
        assert_eq!(dropouts(JACK, stamps), []);
    }

    #[test]
    fn whole_periods_count_from_four_fifths_of_a_period_late() {
        assert_eq!(after_eight_on_time(JACK, PERIOD_NS * 4 / 5 - 1, 0), None);
        assert_eq!(
            after_eight_on_time(JACK, PERIOD_NS * 4 / 5, 0),
            Some(exact(PERIOD))
        );
        assert_eq!(
            after_eight_on_time(JACK, PERIOD_NS * 9 / 5, 0),
            Some(exact(2 * PERIOD))
        );
    }

    #[test]
    fn frame_accurate_stamps_count_the_nearest_frame() {
        let demo = TimestampTrust::Exact {
            whole_periods: false,
        };
        // A frame is 20 833 ns: 1.39 and 1.6 frames.
        assert_eq!(after_eight_on_time(demo, 29_000, 0), Some(exact(1)));
        assert_eq!(after_eight_on_time(demo, 33_333, 0), Some(exact(2)));
    }

    #[test]
    fn approximate_stamps_count_a_hole_only_after_a_reported_xrun_and_as_an_estimate() {
        let alsa = TimestampTrust::OnXrunOnly;
        assert_eq!(after_eight_on_time(alsa, 3 * PERIOD_NS, 0), None);
        assert_eq!(
            after_eight_on_time(alsa, 3 * PERIOD_NS, 1),
            Some(Dropout {
                frames: 3 * PERIOD,
                exact: false
            })
        );
        // An xrun with no hole is still recorded, as nothing missing.
        assert_eq!(after_eight_on_time(alsa, 0, 1), Some(exact(0)));
        assert_eq!(after_eight_on_time(JACK, 0, 1), Some(exact(0)));
    }

    #[test]
    fn an_xrun_is_reported_once() {
        let mut timeline = Timeline::new(RATE, TimestampTrust::OnXrunOnly);
        let m = timeline.missing(PERIOD, None, 0, 1);
        assert_eq!(timeline.dropout(m), Some(exact(0)));
        let m = timeline.missing(PERIOD, None, PERIOD, 1);
        assert_eq!(timeline.dropout(m), None);
    }

    #[test]
    fn a_hole_of_more_than_a_minute_is_cut_to_a_minute_and_marked_estimated() {
        assert_eq!(
            after_eight_on_time(JACK, 100_000_000_000, 0),
            Some(Dropout {
                frames: 60 * u64::from(RATE),
                exact: false
            })
        );
    }

    #[test]
    fn the_frame_counter_runs_on_across_its_wrap_and_may_step_back() {
        let mut timeline = Timeline::new(RATE, JACK);
        let period = PERIOD as u32;
        let first = timeline.cycle_stamp(u32::MAX - period + 1, None);
        assert_eq!(timeline.cycle_stamp(0, None), first + PERIOD_NS);
        assert_eq!(timeline.cycle_stamp(period, None), first + 2 * PERIOD_NS);
        assert_eq!(timeline.cycle_stamp(0, None), first + PERIOD_NS);
        assert_eq!(
            timeline.cycle_stamp(u32::MAX - period + 1, None),
            first,
            "back across the wrap"
        );
    }

    /// The stall before a cycle that comes `clock_ms` after the one before by the system
    /// clock, one period on by the counter; and before the cycle after it, on time.
    fn stall_after(clock_ms: u64) -> (Option<Dropout>, Option<Dropout>) {
        let mut timeline = Timeline::new(RATE, JACK);
        let mut position = 0;
        let mut clock = 1_000_000_000;
        let mut place = |timeline: &mut Timeline, cycle: u32, clock: u64| {
            let stamp = timeline.cycle_stamp(cycle * PERIOD as u32, Some(clock));
            let m = timeline.missing(PERIOD, Some(stamp), position, 0);
            let d = timeline.dropout(m);
            position += PERIOD + d.map_or(0, |d| d.frames);
            d
        };
        for cycle in 0..10 {
            assert_eq!(place(&mut timeline, cycle, clock), None);
            clock += PERIOD_NS;
        }
        clock += clock_ms * 1_000_000 - PERIOD_NS;
        let stalled = place(&mut timeline, 10, clock);
        let after = place(&mut timeline, 11, clock + PERIOD_NS);
        (stalled, after)
    }

    #[test]
    fn a_server_that_stood_still_half_a_second_or_more_is_an_estimated_silence_counted_once() {
        // 0.6 s by the clock where the counter says 10 ms: 0.59 s of standstill.
        let estimated = |frames| Dropout {
            frames,
            exact: false,
        };
        assert_eq!(stall_after(600), (Some(estimated(28_320)), None));
        assert_eq!(stall_after(510), (Some(estimated(24_000)), None));
        assert_eq!(stall_after(509), (None, None));
    }

    #[test]
    fn a_stamp_found_late_shortens_only_its_own_hole() {
        let timeline = Timeline::new(RATE, JACK);
        let m = Missing {
            timeline: 2 * PERIOD,
            exact: true,
            stall: 100,
            xrun_reported: false,
        };
        assert_eq!(
            timeline.dropout(m.stamped_late_by(PERIOD)),
            Some(Dropout {
                frames: PERIOD + 100,
                exact: false
            })
        );
        assert_eq!(
            timeline.dropout(m.stamped_late_by(5 * PERIOD)),
            Some(Dropout {
                frames: 100,
                exact: false
            })
        );
    }

    #[test]
    fn cycles_begun_during_a_read_are_whole_periods_of_the_counter() {
        let f = u32::MAX - 99;
        let p = PERIOD as usize;
        assert_eq!(cycles_begun(f, f, p), 0);
        assert_eq!(cycles_begun(f, f.wrapping_add(479), p), 0);
        assert_eq!(cycles_begun(f, f.wrapping_add(480), p), 1);
        assert_eq!(cycles_begun(f, f.wrapping_add(2 * 480), p), 2);
        assert_eq!(cycles_begun(f, f - 1, p), 0, "a counter behind the cycle");
        assert_eq!(cycles_begun(f, f.wrapping_add(3), 0), 3, "an empty block");
    }
}
