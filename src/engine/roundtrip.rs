//! Where an overdub starts on the capture stream: the frame that holds what the performer
//! played while hearing the take's first timeline frame.
//!
//! The output stream's anchor says when a timeline frame reaches the output converter; the
//! capture stream's anchor says when a stream frame left the input converter; both on the
//! host's clock (`crate::anchor`). What the performer plays on hearing timeline frame `T`
//! reaches the input at the same moment, so the take starts at the stream frame captured then:
//! output latency and input latency are in the anchors already. Two things are not:
//! - where the loop closes inside JACK (our output through other clients back into our
//!   input, no physical port in between), JACK reports that path as our output's playback
//!   latency and again as our input's capture latency (`audio::jack_graph` explains why):
//!   the input's figure alone is the loop's delay, so the output's is taken off;
//! - what no host reports (converters, an external loop, a plugin's buffering): the
//!   correction measured by `tapedeck calibrate`.

use crate::anchor::{Anchor, ConverterClock};
use crate::session::manifest::LatencyRecord;

/// What the hosts do not say of the round trip.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct RoundTripFix {
    /// The loop closes inside JACK: the output's reported latency is taken off.
    pub(crate) inside_jack: bool,
    /// The measured correction, added.
    pub(crate) correction: i64,
    /// Where the correction came from, for the manifest ("none" when there is none).
    pub(crate) correction_source: String,
    /// Where the reported latencies came from, e.g. "jack port latencies".
    pub(crate) reported_by: String,
}

/// One stream's anchors as one: the first, moved by the median of where the others put the
/// stream's origin relative to it. On a frame-exact clock (JACK, the demo) every anchor agrees;
/// host timestamps (ALSA) jitter by up to a period, and a stream's first blocks may be stamped
/// while its buffer is still being filled.
fn settled(anchors: &[Anchor], rate: u32) -> Option<Anchor> {
    let first = *anchors.first()?;
    let mut moves: Vec<i64> = anchors
        .iter()
        .filter_map(|a| {
            let later = a.frames_after(&first, rate)?;
            Some(later - (a.position as i64 - first.position as i64))
        })
        .collect();
    moves.sort_unstable();
    let m = moves[moves.len() / 2];
    let at = match first.clock {
        ConverterClock::JackFrames => u64::from((first.at as u32).wrapping_add(m as u32)),
        ConverterClock::Nanos => {
            (first.at as i128 + i128::from(m) * 1_000_000_000 / i128::from(rate.max(1))) as u64
        }
    };
    Some(Anchor { at, ..first })
}

/// The stream frame holding timeline frame `t0`, from anchors of the output (`played`:
/// timeline frames and when they sound) and of the capture stream (`captured`: stream
/// positions and when they were sampled) on the same clock. `None` when the anchors are on
/// different clocks or either list is empty.
pub(crate) fn capture_frame_for(
    t0: u64,
    played: &[Anchor],
    captured: &[Anchor],
    rate: u32,
    fix: &RoundTripFix,
) -> Option<u64> {
    let out = settled(played, rate)?;
    let cap = settled(captured, rate)?;
    // How long after `cap.position` was sampled `out.position` sounds, in frames.
    let after = out.frames_after(&cap, rate)?;
    let s = i128::from(cap.position) + i128::from(after) + (t0 as i128 - out.position as i128)
        - i128::from(counted_once(&out, fix))
        + i128::from(fix.correction);
    u64::try_from(s).ok()
}

/// The output latency reported on both sides of a loop inside JACK.
fn counted_once(out: &Anchor, fix: &RoundTripFix) -> u32 {
    if fix.inside_jack {
        out.latency_frames
    } else {
        0
    }
}

/// What the manifest records of the round trip an overdub was compensated by.
pub(crate) fn latency_record(out: &Anchor, cap: &Anchor, fix: &RoundTripFix) -> LatencyRecord {
    let reported = i64::from(out.latency_frames) + i64::from(cap.latency_frames);
    LatencyRecord {
        applied_frames: reported - i64::from(counted_once(out, fix)) + fix.correction,
        output_frames: out.latency_frames,
        input_frames: cap.latency_frames,
        reported_by: fix.reported_by.clone(),
        counted_once_frames: counted_once(out, fix),
        correction_frames: fix.correction,
        correction_source: fix.correction_source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    /// A JACK cycle at counter `cycle` where the output writes timeline frame `t` and its
    /// ports report `latency`: the frame sounds `latency` after the cycle.
    fn out_at(cycle: u32, t: u64, latency: u32) -> Anchor {
        Anchor {
            run: 1,
            position: t,
            clock: ConverterClock::JackFrames,
            at: u64::from(cycle.wrapping_add(latency)),
            latency_frames: latency,
        }
    }

    /// A JACK cycle at `cycle` whose input block is stored at stream position `s`: sampled
    /// `latency` before the cycle.
    fn in_at(cycle: u32, s: u64, latency: u32) -> Anchor {
        Anchor {
            run: 0,
            position: s,
            clock: ConverterClock::JackFrames,
            at: u64::from(cycle.wrapping_sub(latency)),
            latency_frames: latency,
        }
    }

    fn fix(counted_once: u32, correction: i64) -> RoundTripFix {
        RoundTripFix {
            inside_jack: counted_once > 0,
            correction,
            correction_source: "none".into(),
            reported_by: "jack port latencies".into(),
        }
    }

    #[test]
    fn a_loop_through_the_hardware_adds_both_latencies() {
        // Timeline frame 0 written in cycle 10_000; playback latency 512, capture 256: it is
        // captured in the cycle 768 frames later. The capture stream stored cycle 9_000 at
        // stream position 100_000, so cycle 10_768 is at 101_768.
        let out = out_at(10_000, 0, 512);
        let cap = in_at(9_000, 100_000, 256);
        assert_eq!(
            capture_frame_for(0, &[out], &[cap], RATE, &fix(0, 0)),
            Some(101_768)
        );
        let rec = latency_record(&out, &cap, &fix(0, 0));
        assert_eq!(rec.applied_frames, 768);
    }

    #[test]
    fn a_loop_inside_jack_counts_the_cable_once() {
        // jack_latent_client 1000 between our output and input: both report 1000, the audio
        // written in cycle C is read in cycle C + 1000.
        let out = out_at(50_000, 48_000, 1000);
        let cap = in_at(50_000, 7_000, 1000);
        assert_eq!(
            capture_frame_for(48_000, &[out], &[cap], RATE, &fix(1000, 0)),
            Some(8_000)
        );
        assert_eq!(
            latency_record(&out, &cap, &fix(1000, 0)).applied_frames,
            1000
        );
        // Counted twice it would land 1000 frames late.
        assert_eq!(
            capture_frame_for(48_000, &[out], &[cap], RATE, &fix(0, 0)),
            Some(9_000)
        );
    }

    #[test]
    fn the_correction_moves_the_start_and_the_timeline_offset_carries() {
        let out = out_at(u32::MAX - 100, 1_000, 0);
        let cap = in_at(200, 500, 0);
        // Cycle MAX-100 is 301 frames before cycle 200 (across the wrap): stream 199 holds
        // timeline 1_000; timeline 1_010 is at 209; a hidden cable of 37 frames moves it on.
        assert_eq!(
            capture_frame_for(1_010, &[out], &[cap], RATE, &fix(0, 37)),
            Some(246)
        );
    }

    #[test]
    fn host_stamps_take_the_median_of_several_anchors() {
        let ns = |frames: u64| frames * 1_000_000_000 / u64::from(RATE);
        let out = Anchor {
            run: 1,
            position: 0,
            clock: ConverterClock::Nanos,
            at: ns(96_000),
            latency_frames: 256,
        };
        let cap = |s: u64, jitter: i64| Anchor {
            run: 0,
            position: s,
            clock: ConverterClock::Nanos,
            at: (ns(s) as i64 + jitter) as u64,
            latency_frames: 256,
        };
        // Stream frame s was sampled at time s: timeline 0 sounds at 96_000.
        let anchors = [cap(10_000, 0), cap(11_000, 300_000), cap(12_000, -2_000)];
        assert_eq!(
            capture_frame_for(0, &[out], &anchors, RATE, &fix(0, 0)),
            Some(96_000)
        );
        let other = Anchor {
            clock: ConverterClock::JackFrames,
            ..anchors[0]
        };
        assert_eq!(
            capture_frame_for(0, &[out], &[other], RATE, &fix(0, 0)),
            None
        );
        // The output's first block stamped 2000 frames early (its buffer was being filled),
        // the next ones right: the median of where each puts the origin wins.
        let played: Vec<Anchor> = (0..5u64)
            .map(|i| Anchor {
                position: i * 512,
                at: ns(96_000 + i * 512) - if i == 0 { ns(2000) } else { 0 },
                ..out
            })
            .collect();
        assert_eq!(
            capture_frame_for(0, &played, &anchors, RATE, &fix(0, 0)),
            Some(96_000)
        );
    }
}
