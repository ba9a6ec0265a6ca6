//! Calibration of the round trip: with a cable from an output to an input, play a test
//! signal, find where it came back to the sample, and keep the difference from what the host
//! reports per device pair. Pure: the caller plays and records; this module only reasons
//! about samples and files.
//!
//! - [`signal`]: what is played (an MLS at −12 dBFS, silence around it).
//! - [`correlate`]: FFT cross-correlation over a window of lags, the peak to the sample.
//! - [`verdict`]: what N repeats add up to, and what to tell the user.
//! - [`store`]: the corrections in the user's config folder.
//!
//! A calibration, as the command runs it: `let signal = TestSignal::new(rate)`; play
//! `signal.samples()` N times (3 is plenty), each time capturing the input the cable reaches
//! placed on the timeline with the reported round trip compensated (captured frame k belongs
//! where played frame k was); [`analyse`] the captures; on a correction, save it with
//! [`store::Store::save`].

pub mod correlate;
pub mod signal;
pub mod store;
pub mod verdict;

pub use correlate::{Correlation, Correlator};
pub use signal::{LagWindow, TestSignal};
pub use store::{DeviceKey, Store, StoreError, StoredCorrection};
pub use verdict::{Outcome, Verdict};

/// How many times the command plays the signal.
pub const REPEATS: usize = 3;

/// The verdict on captures already compensated for the reported round trip: captured frame
/// k belongs at the timeline frame where `signal.samples()[k]` was played. The lag found is
/// the correction still needed (negative when the report over-compensates).
pub fn analyse<C: AsRef<[f32]>>(
    signal: &TestSignal,
    captures: impl IntoIterator<Item = C>,
) -> Verdict {
    analyse_at(signal, captures, 0)
}

/// The same for captures not compensated: captured frame k was recorded while played frame k
/// went out, so the signal sits `reported_round_trip` (plus the correction) frames late. The
/// verdict is still the correction to the report. The captures must be long enough to hold
/// the signal that late.
pub fn analyse_uncompensated<C: AsRef<[f32]>>(
    signal: &TestSignal,
    captures: impl IntoIterator<Item = C>,
    reported_round_trip: u64,
) -> Verdict {
    analyse_at(
        signal,
        captures,
        i64::try_from(reported_round_trip).unwrap_or(i64::MAX / 2),
    )
}

fn analyse_at<C: AsRef<[f32]>>(
    signal: &TestSignal,
    captures: impl IntoIterator<Item = C>,
    offset: i64,
) -> Verdict {
    let correlator = Correlator::new(signal.probe(), signal.window(), signal.rate());
    let at = signal.start() as i64 + offset;
    let repeats = captures
        .into_iter()
        .map(|c| correlator.run(c.as_ref(), at))
        .collect();
    verdict::judge(signal.rate(), repeats)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn noise(len: usize, rms: f32, mut seed: u64) -> Vec<f32> {
        // Uniform noise (RMS = half-width / √3): enough for these cases.
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let u = (seed >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0;
                u * rms * 3f32.sqrt()
            })
            .collect()
    }

    fn returned(signal: &TestSignal, delay: i64, gain: f32, noise_rms: f32, seed: u64) -> Vec<f32> {
        let played = signal.samples();
        let n = noise(played.len(), noise_rms, seed);
        (0..played.len())
            .map(|k| {
                let src = usize::try_from(k as i64 - delay)
                    .ok()
                    .and_then(|i| played.get(i));
                src.map_or(0.0, |&x| x * gain) + n[k]
            })
            .collect()
    }

    #[test]
    fn three_agreeing_repeats_give_the_correction() {
        let s = TestSignal::new(RATE);
        let caps: Vec<Vec<f32>> = (0..3)
            .map(|i| returned(&s, -37, 0.5, 1e-3, i + 1))
            .collect();
        let v = analyse(&s, &caps);
        assert_eq!(v.correction(), Some(-37), "{v}");
        assert_eq!(v.repeats.len(), 3);
    }

    #[test]
    fn silence_and_unrelated_noise_come_back_as_nothing() {
        let s = TestSignal::new(RATE);
        let silent = vec![vec![0.0f32; s.samples().len()]; 3];
        let v = analyse(&s, &silent);
        assert!(matches!(v.outcome, Outcome::NothingCameBack { .. }), "{v}");
        assert!(v.to_string().contains("silence"), "{v}");
        let hum: Vec<Vec<f32>> = (0..3)
            .map(|i| {
                let mut x = noise(s.samples().len(), 0.05, 40 + i);
                for (k, v) in x.iter_mut().enumerate() {
                    *v += 0.2 * (k as f32 * 50.0 / RATE as f32 * std::f32::consts::TAU).sin();
                }
                x
            })
            .collect();
        let v = analyse(&s, &hum);
        assert!(matches!(v.outcome, Outcome::NothingCameBack { .. }), "{v}");
        assert!(v.to_string().contains("but not the test signal"), "{v}");
    }

    #[test]
    fn a_return_below_the_threshold_is_too_quiet() {
        let s = TestSignal::new(RATE);
        // −12 dBFS played, −36 dB on the way: −48 dBFS, under −40. Clearly detected (the
        // noise is 30 dB lower still), only too quiet to trust.
        let gain = 10f32.powf(-36.0 / 20.0);
        let caps: Vec<Vec<f32>> = (0..3)
            .map(|i| returned(&s, 250, gain, 1e-4, i + 9))
            .collect();
        let v = analyse(&s, &caps);
        match v.outcome {
            Outcome::TooQuiet {
                level_dbfs,
                needed_dbfs,
            } => {
                assert!((level_dbfs + 48.0).abs() < 0.5, "{level_dbfs}");
                assert_eq!(needed_dbfs, verdict::MIN_LEVEL_DBFS);
            }
            ref o => panic!("{o:?}"),
        }
        // 10 dB lower than played is fine.
        let gain = 10f32.powf(-10.0 / 20.0);
        let caps: Vec<Vec<f32>> = (0..3)
            .map(|i| returned(&s, 250, gain, 1e-3, i + 9))
            .collect();
        assert_eq!(analyse(&s, &caps).correction(), Some(250));
    }

    #[test]
    fn repeats_that_disagree_are_unstable() {
        let s = TestSignal::new(RATE);
        let caps: Vec<Vec<f32>> = [12i64, 12, 268]
            .iter()
            .zip(1..)
            .map(|(&d, i)| returned(&s, d, 0.5, 1e-3, i))
            .collect();
        let v = analyse(&s, &caps);
        assert_eq!(
            v.outcome,
            Outcome::Unstable {
                lags: vec![Some(12), Some(12), Some(268)],
                spread: 256
            },
            "{v}"
        );
    }

    #[test]
    fn uncompensated_captures_give_the_same_correction() {
        let s = TestSignal::new(RATE);
        // The host reports 768 frames, the loop really takes 1000.
        let caps: Vec<Vec<f32>> = (0..3)
            .map(|i| {
                let mut x = returned(&s, 1_000, 0.5, 1e-3, i + 3);
                x.extend(std::iter::repeat_n(0.0, 1_000));
                x
            })
            .collect();
        assert_eq!(
            analyse_uncompensated(&s, &caps, 768).correction(),
            Some(232)
        );
    }
}
