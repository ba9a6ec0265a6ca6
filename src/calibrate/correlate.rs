//! Cross-correlation by FFT between what was played and what came back, over a window of
//! lags, and the peak found to the sample.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::signal::LagWindow;

/// What one capture says about the test signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    /// Where the correlation peaks, in frames: how much later (positive) or earlier
    /// (negative) than expected the signal came back.
    pub lag: i64,
    /// The peak's magnitude over the largest one outside its main lobe (±1 ms): about 1 for
    /// a capture that does not hold the signal, tens to thousands for one that does.
    pub confidence: f64,
    /// The normalised correlation coefficient at the peak (1.0: an exact, scaled copy).
    pub coefficient: f64,
    /// RMS level of the capture where the signal came back (`lag .. lag + probe length`),
    /// dBFS (a full-scale square wave is 0 dBFS). `-inf` for digital silence.
    pub level_dbfs: f64,
    /// The path's gain for the part of the signal that correlates, dB (0: unchanged).
    pub gain_db: f64,
    /// The signal came back upside down (the path inverts polarity).
    pub inverted: bool,
    /// The loudest sample of the whole capture, dBFS (`-inf` for digital silence).
    pub captured_peak_dbfs: f64,
}

/// A correlator for one probe and one window, planned once and used for every repeat.
pub struct Correlator {
    window: LagWindow,
    probe_len: usize,
    probe_energy: f64,
    /// Half-width of the main lobe excluded when looking for the next best peak, frames.
    lobe: usize,
    /// The probe's spectrum, conjugated (correlation, not convolution).
    probe_spectrum: Vec<Complex<f64>>,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator")
            .field("window", &self.window)
            .field("probe_len", &self.probe_len)
            .field("fft_len", &self.forward.len())
            .finish()
    }
}

impl Correlator {
    /// Plans the FFTs for correlating `probe` over `window` at `rate` (which sets the main
    /// lobe's width: 1 ms).
    pub fn new(probe: &[f32], window: LagWindow, rate: u32) -> Self {
        // Lags earliest..=latest need the capture from earliest to latest + probe length;
        // an FFT at least that long has no wrap-around for those lags.
        let span = window.len() + probe.len().saturating_sub(1);
        let fft_len = fast_len(span.max(2));
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let mut input = forward.make_input_vec();
        for (d, &s) in input.iter_mut().zip(probe) {
            *d = f64::from(s);
        }
        let mut probe_spectrum = forward.make_output_vec();
        if forward.process(&mut input, &mut probe_spectrum).is_err() {
            // Only a length mismatch fails, and the buffers come from the plan itself.
            probe_spectrum
                .iter_mut()
                .for_each(|c| *c = Complex::new(0.0, 0.0));
        }
        for c in &mut probe_spectrum {
            *c = c.conj();
        }
        Self {
            window,
            probe_len: probe.len(),
            probe_energy: probe.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
            lobe: (rate / 1000).max(8) as usize,
            probe_spectrum,
            forward,
            inverse,
        }
    }

    pub fn window(&self) -> LagWindow {
        self.window
    }

    /// Correlates a capture with the probe. `probe_at` is the index in `captured` where the
    /// probe would start at lag 0; samples outside `captured` count as silence.
    pub fn run(&self, captured: &[f32], probe_at: i64) -> Correlation {
        let captured_peak = captured.iter().fold(0f32, |m, x| m.max(x.abs()));
        let nothing = Correlation {
            lag: 0,
            confidence: 0.0,
            coefficient: 0.0,
            level_dbfs: f64::NEG_INFINITY,
            gain_db: f64::NEG_INFINITY,
            inverted: false,
            captured_peak_dbfs: amplitude_db(f64::from(captured_peak)),
        };
        if self.probe_energy == 0.0 || self.window.is_empty() {
            return nothing;
        }
        let at = |i: i64| -> f64 {
            usize::try_from(i)
                .ok()
                .and_then(|i| captured.get(i))
                .map_or(0.0, |&x| f64::from(x))
        };
        let first = probe_at + self.window.earliest;
        let mut buf = self.forward.make_input_vec();
        let span = self.window.len() + self.probe_len - 1;
        for (j, d) in buf.iter_mut().take(span).enumerate() {
            *d = at(first + j as i64);
        }
        let mut spectrum = self.forward.make_output_vec();
        if self.forward.process(&mut buf, &mut spectrum).is_err() {
            return nothing;
        }
        for (s, p) in spectrum.iter_mut().zip(&self.probe_spectrum) {
            *s *= p;
        }
        // The inverse of a real signal's spectrum: DC and Nyquist bins are real.
        if let Some(c) = spectrum.first_mut() {
            c.im = 0.0;
        }
        if let Some(c) = spectrum.last_mut() {
            c.im = 0.0;
        }
        let mut r = self.inverse.make_output_vec();
        if self.inverse.process(&mut spectrum, &mut r).is_err() {
            return nothing;
        }
        // realfft does not normalise; the scale is irrelevant for the peak but not the gain.
        let scale = 1.0 / r.len() as f64;
        let r = &mut r[..self.window.len()];
        r.iter_mut().for_each(|x| *x *= scale);

        let (peak_at, peak) = r.iter().enumerate().fold((0, 0.0f64), |(bi, bv), (i, &v)| {
            if v.abs() > bv.abs() { (i, v) } else { (bi, bv) }
        });
        let next = r
            .iter()
            .enumerate()
            .filter(|(i, _)| i.abs_diff(peak_at) > self.lobe)
            .fold(0.0f64, |m, (_, v)| m.max(v.abs()));
        let lag = self.window.earliest + peak_at as i64;
        let from = probe_at + lag;
        let energy: f64 = (0..self.probe_len as i64)
            .map(|k| at(from + k).powi(2))
            .sum();
        if peak == 0.0 || energy == 0.0 {
            return nothing;
        }
        Correlation {
            lag,
            // Capped so a noiseless copy (nothing else anywhere) stays a finite number.
            confidence: (peak.abs() / next.max(peak.abs() * 1e-9)),
            coefficient: peak.abs() / (self.probe_energy * energy).sqrt(),
            level_dbfs: power_db(energy / self.probe_len as f64),
            gain_db: amplitude_db(peak.abs() / self.probe_energy),
            inverted: peak < 0.0,
            captured_peak_dbfs: nothing.captured_peak_dbfs,
        }
    }
}

/// Correlates one capture with `probe` over `window` (a one-off [`Correlator`]).
pub fn correlate(
    probe: &[f32],
    captured: &[f32],
    probe_at: i64,
    window: LagWindow,
    rate: u32,
) -> Correlation {
    Correlator::new(probe, window, rate).run(captured, probe_at)
}

fn amplitude_db(a: f64) -> f64 {
    20.0 * a.log10()
}

fn power_db(p: f64) -> f64 {
    10.0 * p.log10()
}

/// The smallest length ≥ `n` whose only prime factors are 2, 3 and 5: FFTs of those lengths
/// are fast, and the next one is much closer than the next power of two.
fn fast_len(n: usize) -> usize {
    let mut best = n.next_power_of_two();
    let mut p5 = 1usize;
    while p5 < best {
        let mut p35 = p5;
        while p35 < best {
            let mut m = p35;
            while m < n {
                m *= 2;
            }
            best = best.min(m);
            p35 *= 3;
        }
        p5 *= 5;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::signal::TestSignal;

    /// A small deterministic generator: tests must not depend on a seed from the clock.
    struct Noise(u64);

    impl Noise {
        fn uniform(&mut self) -> f64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Gaussian, by Box-Muller.
        fn gauss(&mut self) -> f64 {
            let u = self.uniform().max(1e-300);
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    const RATE: u32 = 48_000;

    /// What was played, moved by `delay` frames and scaled, as long as what was played.
    fn delayed(played: &[f32], delay: i64, gain: f32) -> Vec<f32> {
        (0..played.len() as i64)
            .map(|k| {
                usize::try_from(k - delay)
                    .ok()
                    .and_then(|i| played.get(i))
                    .map_or(0.0, |&x| x * gain)
            })
            .collect()
    }

    fn add_noise(x: &mut [f32], rms_dbfs: f64, seed: u64) {
        let mut n = Noise(seed);
        let a = 10f64.powf(rms_dbfs / 20.0);
        for s in x {
            *s += (n.gauss() * a) as f32;
        }
    }

    /// A zero-phase low-pass (windowed sinc, applied centred): band-limits without moving
    /// anything in time, so the expected lag stays the delay.
    fn low_pass_zero_phase(x: &[f32], cutoff: f64) -> Vec<f32> {
        let half = 32i64;
        let taps: Vec<f64> = (-half..=half)
            .map(|k| {
                let t = k as f64;
                let sinc = if k == 0 {
                    2.0 * cutoff
                } else {
                    (std::f64::consts::TAU * cutoff * t).sin() / (std::f64::consts::PI * t)
                };
                let w = 0.5 + 0.5 * (std::f64::consts::PI * t / (half + 1) as f64).cos();
                sinc * w
            })
            .collect();
        (0..x.len() as i64)
            .map(|n| {
                taps.iter()
                    .enumerate()
                    .map(|(i, &h)| {
                        usize::try_from(n + i as i64 - half)
                            .ok()
                            .and_then(|j| x.get(j))
                            .map_or(0.0, |&v| f64::from(v) * h)
                    })
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// A causal one-pole low-pass (an RC filter, ~1.7 kHz at 48 kHz): its response is
    /// largest at its first sample, so the peak stays on the delay.
    fn low_pass_one_pole(x: &[f32]) -> Vec<f32> {
        let a = 0.8f32;
        let mut y = 0.0f32;
        x.iter()
            .map(|&v| {
                y = (1.0 - a) * v + a * y;
                y
            })
            .collect()
    }

    const DELAYS: [i64; 9] = [0, 1, 100, 1000, 12_345, -1, -100, -1000, -12_345];

    fn check_all(what: &str, make: impl Fn(&[f32], i64) -> Vec<f32>) {
        let s = TestSignal::new(RATE);
        let c = Correlator::new(s.probe(), s.window(), RATE);
        for delay in DELAYS {
            let captured = make(s.samples(), delay);
            let r = c.run(&captured, s.start() as i64);
            assert_eq!(r.lag, delay, "{what}: {r:?}");
            assert!(r.confidence > 10.0, "{what}, delay {delay}: {r:?}");
        }
    }

    #[test]
    fn finds_known_delays_with_noise() {
        check_all("noise at -40 dBFS", |p, d| {
            let mut x = delayed(p, d, 1.0);
            add_noise(&mut x, -40.0, 7u64.wrapping_add(d as u64));
            x
        });
    }

    #[test]
    fn finds_known_delays_under_loud_noise() {
        // The noise 6 dB louder than the signal: the correlation gain still finds it.
        check_all("noise at -6 dBFS", |p, d| {
            let mut x = delayed(p, d, 1.0);
            add_noise(&mut x, -6.0, 11u64.wrapping_add(d as u64));
            x
        });
    }

    #[test]
    fn finds_known_delays_through_a_band_limited_path() {
        check_all("zero-phase low-pass at 5 kHz", |p, d| {
            let mut x = low_pass_zero_phase(&delayed(p, d, 1.0), 5_000.0 / f64::from(RATE));
            add_noise(&mut x, -50.0, 3);
            x
        });
    }

    #[test]
    fn finds_known_delays_through_an_rc_filter() {
        check_all("one-pole low-pass", |p, d| {
            let mut x = low_pass_one_pole(&delayed(p, d, 1.0));
            add_noise(&mut x, -50.0, 5);
            x
        });
    }

    #[test]
    fn finds_known_delays_10_db_lower_and_inverted() {
        let s = TestSignal::new(RATE);
        let c = Correlator::new(s.probe(), s.window(), RATE);
        for delay in DELAYS {
            let mut x = delayed(s.samples(), delay, -(10f64.powf(-10.0 / 20.0) as f32));
            add_noise(&mut x, -50.0, 13);
            let r = c.run(&x, s.start() as i64);
            assert_eq!(r.lag, delay, "{r:?}");
            assert!(r.inverted);
            assert!((r.gain_db + 10.0).abs() < 0.1, "{r:?}");
            assert!((r.level_dbfs + 22.0).abs() < 0.1, "{r:?}");
        }
    }

    #[test]
    fn an_exact_copy_measures_as_one() {
        let s = TestSignal::new(RATE);
        let x = delayed(s.samples(), 321, 1.0);
        let r = correlate(s.probe(), &x, s.start() as i64, s.window(), RATE);
        assert_eq!(r.lag, 321);
        assert!(!r.inverted);
        assert!((r.coefficient - 1.0).abs() < 1e-6, "{r:?}");
        assert!(r.gain_db.abs() < 1e-3, "{r:?}");
        assert!((r.level_dbfs + 12.0).abs() < 1e-3, "{r:?}");
        assert!((r.captured_peak_dbfs + 12.0).abs() < 1e-3, "{r:?}");
    }

    #[test]
    fn the_window_edges_are_measured_whole() {
        // At either end of the window the whole sequence still counts (no wrap-around, no
        // part cut off): full gain and a coefficient of one.
        let s = TestSignal::new(RATE);
        let c = Correlator::new(s.probe(), s.window(), RATE);
        for delay in [s.window().earliest, s.window().latest] {
            let x = delayed(s.samples(), delay, 1.0);
            let r = c.run(&x, s.start() as i64);
            assert_eq!(r.lag, delay);
            assert!((r.coefficient - 1.0).abs() < 1e-6, "{r:?}");
            assert!(r.gain_db.abs() < 1e-3, "{r:?}");
        }
    }

    #[test]
    fn lags_outside_the_window_are_not_found() {
        // The signal sits 0.2 s late but the window stops at 0.1 s: what is found is not it.
        let s = TestSignal::new(RATE);
        let window = LagWindow {
            earliest: 0,
            latest: 4_800,
        };
        let x = delayed(s.samples(), 9_600, 1.0);
        let r = correlate(s.probe(), &x, s.start() as i64, window, RATE);
        assert!(r.confidence < 2.0, "{r:?}");
    }

    #[test]
    fn probe_at_moves_the_origin() {
        // A capture without compensation: the signal sits 5000 frames late, of which the
        // host reported 4000: the correction still needed is 1000.
        let s = TestSignal::new(RATE);
        let x = delayed(s.samples(), 5_000, 1.0);
        let r = correlate(s.probe(), &x, s.start() as i64 + 4_000, s.window(), RATE);
        assert_eq!(r.lag, 1_000);
    }

    #[test]
    fn silence_and_unrelated_noise_have_no_confidence() {
        let s = TestSignal::new(RATE);
        let c = Correlator::new(s.probe(), s.window(), RATE);
        let silent = vec![0.0f32; s.samples().len()];
        let r = c.run(&silent, s.start() as i64);
        assert_eq!(r.confidence, 0.0);
        assert_eq!(r.captured_peak_dbfs, f64::NEG_INFINITY);
        let mut noise = vec![0.0f32; s.samples().len()];
        add_noise(&mut noise, -20.0, 99);
        let r = c.run(&noise, s.start() as i64);
        assert!(r.confidence < 2.0, "{r:?}");
        assert!(r.coefficient < 0.05, "{r:?}");
    }

    #[test]
    fn fast_len_is_the_smallest_5_smooth_length() {
        let smooth = |mut m: usize| {
            for p in [2, 3, 5] {
                while m.is_multiple_of(p) {
                    m /= p;
                }
            }
            m == 1
        };
        for n in 2..3000 {
            let expected = (n..).find(|&m| smooth(m)).unwrap_or(0);
            assert_eq!(fast_len(n), expected, "{n}");
        }
    }
}
