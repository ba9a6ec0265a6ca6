//! What the repeats of a measurement add up to, and what to tell the user.

use std::fmt;

use super::correlate::Correlation;

/// Below this confidence (peak over next best) a capture does not hold the test signal:
/// unrelated sound reaches about 1.1–1.5, a real return tens to thousands.
pub const MIN_CONFIDENCE: f64 = 4.0;

/// The quietest return measured, dBFS RMS: 28 dB under what is played. Quieter than that,
/// the noise of a real input moves the peak, and the user can easily do better.
pub const MIN_LEVEL_DBFS: f64 = -40.0;

/// The most the repeats' lags may differ and still count as one result, frames. One frame
/// allows for a loop through a resampler or the air; a host that changes its buffering from
/// one run to the next differs by a period and is caught.
pub const MAX_SPREAD_FRAMES: u64 = 1;

/// Below this the input is taken as silent (no cable, no signal, a muted input), dBFS peak.
const SILENT_DBFS: f64 = -70.0;

/// What one repeat heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// The test signal, loud enough.
    Signal,
    /// The test signal, too quiet to trust.
    TooQuiet,
    /// Not the test signal (silence, or other sound).
    Nothing,
}

/// Sorts one repeat.
pub fn classify(c: &Correlation) -> Heard {
    if c.confidence < MIN_CONFIDENCE {
        Heard::Nothing
    } else if c.level_dbfs < MIN_LEVEL_DBFS {
        Heard::TooQuiet
    } else {
        Heard::Signal
    }
}

/// The result of a calibration, with every repeat's measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub rate: u32,
    pub repeats: Vec<Correlation>,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// No repeat heard the test signal.
    NothingCameBack {
        /// The loudest sample any repeat heard, dBFS (`-inf`: digital silence).
        loudest_dbfs: f64,
    },
    /// The signal came back, too quiet for a reliable measurement.
    TooQuiet { level_dbfs: f64, needed_dbfs: f64 },
    /// The repeats disagree (or some heard nothing).
    Unstable {
        /// Each repeat's lag, `None` where it heard nothing.
        lags: Vec<Option<i64>>,
        /// Largest minus smallest lag among those that heard the signal.
        spread: u64,
    },
    /// The correction to add to the reported round trip, frames (negative: the host
    /// reports more than there is).
    Correction {
        frames: i64,
        /// The lowest confidence among the repeats.
        confidence: f64,
        /// The lowest level among the repeats, dBFS.
        level_dbfs: f64,
    },
}

impl Verdict {
    /// The correction, when the measurement succeeded.
    pub fn correction(&self) -> Option<i64> {
        match self.outcome {
            Outcome::Correction { frames, .. } => Some(frames),
            _ => None,
        }
    }

    fn ms(&self, frames: f64) -> f64 {
        frames * 1000.0 / f64::from(self.rate.max(1))
    }
}

/// Decides from the repeats of one measurement (at `rate`, for the messages).
pub fn judge(rate: u32, repeats: Vec<Correlation>) -> Verdict {
    let heard: Vec<Heard> = repeats.iter().map(classify).collect();
    let outcome = decide(&repeats, &heard);
    Verdict {
        rate,
        repeats,
        outcome,
    }
}

fn decide(repeats: &[Correlation], heard: &[Heard]) -> Outcome {
    let loudest_dbfs = repeats
        .iter()
        .map(|c| c.captured_peak_dbfs)
        .fold(f64::NEG_INFINITY, f64::max);
    let found: Vec<&Correlation> = repeats
        .iter()
        .zip(heard)
        .filter(|(_, h)| **h != Heard::Nothing)
        .map(|(c, _)| c)
        .collect();
    if found.is_empty() {
        return Outcome::NothingCameBack { loudest_dbfs };
    }
    let lowest = found
        .iter()
        .map(|c| c.level_dbfs)
        .fold(f64::INFINITY, f64::min);
    let min_lag = found.iter().map(|c| c.lag).min().unwrap_or(0);
    let max_lag = found.iter().map(|c| c.lag).max().unwrap_or(0);
    let spread = max_lag.abs_diff(min_lag);
    // A low level is fixed first: it alone can explain repeats that disagree or miss.
    if heard.contains(&Heard::TooQuiet) {
        return Outcome::TooQuiet {
            level_dbfs: lowest,
            needed_dbfs: MIN_LEVEL_DBFS,
        };
    }
    if found.len() < repeats.len() || spread > MAX_SPREAD_FRAMES {
        let lags = repeats
            .iter()
            .zip(heard)
            .map(|(c, h)| (*h != Heard::Nothing).then_some(c.lag))
            .collect();
        return Outcome::Unstable { lags, spread };
    }
    let mut lags: Vec<i64> = found.iter().map(|c| c.lag).collect();
    lags.sort_unstable();
    // The lower median: with the spread at most one frame, the lag most repeats found.
    let frames = lags[(lags.len() - 1) / 2];
    let confidence = found
        .iter()
        .map(|c| c.confidence)
        .fold(f64::INFINITY, f64::min);
    Outcome::Correction {
        frames,
        confidence,
        level_dbfs: lowest,
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::NothingCameBack { loudest_dbfs } => {
                if *loudest_dbfs < SILENT_DBFS {
                    write!(f, "nothing came back: the input heard silence")?;
                    if loudest_dbfs.is_finite() {
                        write!(f, " (loudest sample {loudest_dbfs:.1} dBFS)")?;
                    }
                } else {
                    write!(
                        f,
                        "nothing came back: the input heard sound (up to {loudest_dbfs:.1} \
                         dBFS) but not the test signal"
                    )?;
                }
                write!(
                    f,
                    ". Check that the cable goes from the output chosen (--output) to the \
                     input chosen (--input) and the channel it reaches is the one measured, \
                     that the input is armed and its gain up, and that the output is not \
                     muted; then run calibrate again"
                )
            }
            Outcome::TooQuiet {
                level_dbfs,
                needed_dbfs,
            } => write!(
                f,
                "the test signal came back too quiet to measure: {level_dbfs:.1} dBFS, \
                 at least {needed_dbfs:.1} dBFS needed. Turn up the output volume or the \
                 input gain by about {:.0} dB, then run calibrate again",
                (needed_dbfs - level_dbfs).ceil() + 3.0
            ),
            Outcome::Unstable { lags, spread } => {
                let list: Vec<String> = lags
                    .iter()
                    .map(|l| l.map_or_else(|| "nothing".into(), |l| format!("{l:+}")))
                    .collect();
                write!(
                    f,
                    "the round trip was not the same at each repeat: {} frames (spread \
                     {spread} frames, {:.2} ms)",
                    list.join(", "),
                    self.ms(*spread as f64)
                )?;
                if lags.iter().any(Option::is_none) {
                    write!(
                        f,
                        "; some repeats heard nothing (dropouts, or a loose cable?)"
                    )?;
                }
                write!(
                    f,
                    ". Try a larger buffer (--buffer), close other programs using the \
                     device, and for an acoustic loop (speaker to microphone) a quiet room \
                     with nothing moving; then run calibrate again"
                )
            }
            Outcome::Correction {
                frames,
                confidence,
                level_dbfs,
            } => {
                let ms = self.ms(frames.unsigned_abs() as f64);
                match frames.signum() {
                    0 => write!(
                        f,
                        "the round trip is exactly what the host reports: no correction \
                         needed"
                    )?,
                    1 => write!(
                        f,
                        "the round trip is {frames} frames ({ms:.2} ms) longer than the host \
                         reports: correction {frames:+} frames"
                    )?,
                    _ => write!(
                        f,
                        "the round trip is {} frames ({ms:.2} ms) shorter than the host \
                         reports: correction {frames:+} frames",
                        frames.unsigned_abs()
                    )?,
                }
                write!(
                    f,
                    " (the repeats agreed; the peak stood {confidence:.0}x above the next \
                     best; level {level_dbfs:.1} dBFS)"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(lag: i64, confidence: f64, level_dbfs: f64) -> Correlation {
        Correlation {
            lag,
            confidence,
            coefficient: 0.9,
            level_dbfs,
            gain_db: level_dbfs + 12.0,
            inverted: false,
            captured_peak_dbfs: level_dbfs,
        }
    }

    #[test]
    fn agreeing_repeats_give_the_correction() {
        let v = judge(48_000, vec![c(100, 500.0, -14.0); 3]);
        assert_eq!(v.correction(), Some(100));
        let text = v.to_string();
        assert!(text.contains("100 frames (2.08 ms) longer"), "{text}");
        let v = judge(48_000, vec![c(-48, 50.0, -14.0), c(-48, 30.0, -15.0)]);
        assert_eq!(
            v.outcome,
            Outcome::Correction {
                frames: -48,
                confidence: 30.0,
                level_dbfs: -15.0
            }
        );
        assert!(v.to_string().contains("shorter"), "{v}");
    }

    #[test]
    fn a_one_frame_spread_is_the_majority() {
        let v = judge(
            48_000,
            vec![
                c(101, 90.0, -14.0),
                c(100, 90.0, -14.0),
                c(100, 90.0, -14.0),
            ],
        );
        assert_eq!(v.correction(), Some(100));
    }

    #[test]
    fn spread_repeats_are_unstable() {
        let v = judge(
            48_000,
            vec![c(12, 90.0, -14.0), c(12, 90.0, -14.0), c(268, 90.0, -14.0)],
        );
        assert_eq!(
            v.outcome,
            Outcome::Unstable {
                lags: vec![Some(12), Some(12), Some(268)],
                spread: 256
            }
        );
        let text = v.to_string();
        assert!(text.contains("+12, +12, +268"), "{text}");
        assert!(text.contains("spread 256 frames, 5.33 ms"), "{text}");
        assert!(text.contains("larger buffer"), "{text}");
        assert_eq!(v.correction(), None);
    }

    #[test]
    fn a_repeat_that_heard_nothing_makes_it_unstable() {
        let v = judge(
            48_000,
            vec![c(12, 90.0, -14.0), c(3, 1.2, -60.0), c(12, 90.0, -14.0)],
        );
        assert_eq!(
            v.outcome,
            Outcome::Unstable {
                lags: vec![Some(12), None, Some(12)],
                spread: 0
            }
        );
        assert!(v.to_string().contains("+12, nothing, +12"), "{v}");
    }

    #[test]
    fn quiet_returns_are_refused_with_the_levels() {
        let v = judge(48_000, vec![c(7, 40.0, -52.3), c(7, 60.0, -50.0)]);
        assert_eq!(
            v.outcome,
            Outcome::TooQuiet {
                level_dbfs: -52.3,
                needed_dbfs: MIN_LEVEL_DBFS
            }
        );
        let text = v.to_string();
        assert!(text.contains("-52.3 dBFS"), "{text}");
        assert!(text.contains("-40.0 dBFS"), "{text}");
        assert!(text.contains("output volume or the input gain"), "{text}");
    }

    #[test]
    fn nothing_says_silence_or_sound() {
        let silent = Correlation {
            captured_peak_dbfs: f64::NEG_INFINITY,
            ..c(0, 0.0, f64::NEG_INFINITY)
        };
        let v = judge(48_000, vec![silent; 3]);
        assert_eq!(
            v.outcome,
            Outcome::NothingCameBack {
                loudest_dbfs: f64::NEG_INFINITY
            }
        );
        assert!(
            v.to_string()
                .contains("heard silence. Check that the cable"),
            "{v}"
        );
        let v = judge(48_000, vec![c(5, 1.3, -20.0); 3]);
        assert!(
            v.to_string().contains("heard sound (up to -20.0 dBFS)"),
            "{v}"
        );
        assert!(judge(48_000, vec![]).correction().is_none());
    }
}
