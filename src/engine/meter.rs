//! Meters: each input's peak, peak hold and clip count, measured by the writer thread from
//! every frame it takes out of the ring (the audio thread only copies), and handed to front
//! ends in snapshots and meter taps.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::format::DeviceFormat;

/// How long a peak-hold value stays before it falls back to the current peak.
pub const PEAK_HOLD: Duration = Duration::from_secs(2);

/// One input's meter, as front ends see it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct InputMeter {
    /// Highest magnitude (1.0 = full scale) in the latest meter window (~33 ms).
    pub peak: f32,
    /// Highest magnitude of the last couple of seconds.
    pub hold: f32,
    /// Samples at full scale since the counter was last cleared.
    pub clips: u64,
}

/// Samples at or beyond this magnitude count as clipped on the meter: the largest value of a
/// 24-bit (or wider) integer, the largest 16-bit value for i16, and 1.0 for floats.
const FULL_SCALE_24: f32 = 1.0 - 1.0 / 8_388_608.0;
const FULL_SCALE_16: f32 = 1.0 - 1.0 / 32768.0;

/// Per-input state of one meter.
struct MeterState {
    meter: InputMeter,
    hold_since: Instant,
    clips_cleared_at: u64,
}

impl MeterState {
    fn new(now: Instant) -> Self {
        Self {
            meter: InputMeter::default(),
            hold_since: now,
            clips_cleared_at: 0,
        }
    }

    /// Feeds one window's peak and the running clip total.
    fn update(&mut self, peak: f32, clips_total: u64, now: Instant) {
        self.meter.peak = peak;
        if peak >= self.meter.hold || now.duration_since(self.hold_since) >= PEAK_HOLD {
            self.meter.hold = peak;
            self.hold_since = now;
        }
        self.meter.clips = clips_total.saturating_sub(self.clips_cleared_at);
    }

    fn clear_clips(&mut self, clips_total: u64) {
        self.clips_cleared_at = clips_total;
        self.meter.clips = 0;
    }
}

/// Every input's meter, fed with raw ring words (the device's samples).
pub(crate) struct Meters {
    format: DeviceFormat,
    /// Per input, over the current window: the largest magnitude (f32 bits; non-negative
    /// floats order like their bits).
    window_peak: Box<[u32]>,
    /// Per input: samples at full scale since the stream started, and within one measure.
    clips: Box<[u64]>,
    clips_now: Box<[u32]>,
    states: Vec<MeterState>,
    taps: Arc<Mutex<Vec<Arc<TapInner>>>>,
}

impl Meters {
    pub(crate) fn new(
        channels: usize,
        format: DeviceFormat,
        taps: Arc<Mutex<Vec<Arc<TapInner>>>>,
        now: Instant,
    ) -> Self {
        let channels = channels.max(1);
        Self {
            format,
            window_peak: vec![0; channels].into_boxed_slice(),
            clips: vec![0; channels].into_boxed_slice(),
            clips_now: vec![0; channels].into_boxed_slice(),
            states: (0..channels).map(|_| MeterState::new(now)).collect(),
            taps,
        }
    }

    /// Measures whole frames of interleaved ring words.
    pub(crate) fn measure(&mut self, words: &[u32]) {
        self.clips_now.fill(0);
        match self.format {
            DeviceFormat::I16 => self.levels(words, FULL_SCALE_16, |w| {
                f32::from(w as i32 as i16).abs() / 32768.0
            }),
            DeviceFormat::I24 => self.levels(words, FULL_SCALE_24, |w| {
                (w as i32 as f32).abs() / 8_388_608.0
            }),
            DeviceFormat::I32 => self.levels(words, FULL_SCALE_24, |w| {
                (w as i32 as f32).abs() / 2_147_483_648.0
            }),
            DeviceFormat::F32 => self.levels(words, 1.0, |w| {
                let v = f32::from_bits(w);
                // An infinite sample must not read as silence.
                if v.is_nan() {
                    0.0
                } else {
                    v.abs().min(f32::MAX)
                }
            }),
        }
        for (total, now) in self.clips.iter_mut().zip(self.clips_now.iter()) {
            *total += u64::from(*now);
        }
    }

    /// One loop over the inputs of a frame, so that it runs on vectors.
    #[inline(always)]
    fn levels(&mut self, words: &[u32], threshold: f32, magnitude: impl Fn(u32) -> f32) {
        let ch = self.window_peak.len();
        for frame in words.chunks_exact(ch) {
            for ((w, p), c) in frame
                .iter()
                .zip(self.window_peak.iter_mut())
                .zip(self.clips_now.iter_mut())
            {
                let m = magnitude(*w);
                *p = (*p).max(m.to_bits());
                *c += u32::from(m >= threshold);
            }
        }
    }

    /// Ends a meter window: its peaks go to the meters and to every tap.
    pub(crate) fn update(&mut self, now: Instant) {
        let taps = match self.taps.lock() {
            Ok(t) => t.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (i, m) in self.states.iter_mut().enumerate() {
            let peak = f32::from_bits(std::mem::take(&mut self.window_peak[i]));
            m.update(peak, self.clips[i], now);
            for t in &taps {
                t.feed(i, peak);
            }
        }
    }

    pub(crate) fn clear_clips(&mut self) {
        for (m, total) in self.states.iter_mut().zip(self.clips.iter()) {
            m.clear_clips(*total);
        }
    }

    pub(crate) fn inputs(&self) -> Vec<InputMeter> {
        self.states.iter().map(|m| m.meter.clone()).collect()
    }
}

pub(crate) struct TapInner {
    peaks: Box<[AtomicU32]>,
}

impl TapInner {
    pub(crate) fn new(channels: usize) -> Self {
        Self {
            peaks: (0..channels).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    fn feed(&self, input: usize, peak: f32) {
        if let Some(p) = self.peaks.get(input) {
            p.fetch_max(peak.to_bits(), Ordering::Relaxed);
        }
    }
}

/// A front end's own view of the meters: the highest peak per input since its last `take`,
/// so a reader polling once a second misses nothing between its reads.
pub struct MeterTap(pub(crate) Arc<TapInner>);

impl MeterTap {
    /// Peak magnitudes per input since the last call; resets them.
    pub fn take(&self) -> Vec<f32> {
        self.0
            .peaks
            .iter()
            .map(|p| f32::from_bits(p.swap(0, Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meters(channels: usize, format: DeviceFormat) -> Meters {
        Meters::new(channels, format, Default::default(), Instant::now())
    }

    #[test]
    fn peak_hold_falls_back_after_the_hold_time() {
        let t0 = Instant::now();
        let mut m = MeterState::new(t0);
        m.update(0.8, 0, t0);
        m.update(0.1, 0, t0 + Duration::from_millis(500));
        assert_eq!(m.meter.hold, 0.8);
        assert_eq!(m.meter.peak, 0.1);
        m.update(0.1, 0, t0 + PEAK_HOLD + Duration::from_millis(1));
        assert_eq!(m.meter.hold, 0.1);
    }

    #[test]
    fn clip_counter_clears() {
        let t0 = Instant::now();
        let mut m = MeterState::new(t0);
        m.update(1.0, 5, t0);
        assert_eq!(m.meter.clips, 5);
        m.clear_clips(5);
        m.update(1.0, 7, t0);
        assert_eq!(m.meter.clips, 2);
    }

    #[test]
    fn each_input_gets_its_own_peak_and_full_scale_count_in_the_devices_terms() {
        let now = Instant::now();
        // i16 words are sign-extended: -32768 and 32767 are full scale.
        let mut m = meters(2, DeviceFormat::I16);
        let w = |v: i16| i32::from(v) as u32;
        m.measure(&[w(-32768), w(100), w(32767), w(-16384), w(0), w(32766)]);
        m.update(now);
        let i = m.inputs();
        assert_eq!(i[0].peak, 1.0);
        assert_eq!(i[0].clips, 2);
        assert_eq!(i[1].peak, 32766.0 / 32768.0);
        assert_eq!(i[1].clips, 0, "32766 is below full scale");
        // A window's peak starts over; the clip count runs on until cleared.
        m.measure(&[w(10), w(0)]);
        m.update(now);
        assert_eq!(m.inputs()[0].peak, 10.0 / 32768.0);
        assert_eq!(m.inputs()[0].clips, 2);
        m.clear_clips();
        assert_eq!(m.inputs()[0].clips, 0);
    }

    #[test]
    fn float_inputs_clip_at_one_and_an_infinite_sample_is_loud_not_silent() {
        let now = Instant::now();
        let mut m = meters(3, DeviceFormat::F32);
        let f = |v: f32| v.to_bits();
        m.measure(&[
            f(-1.0),
            f(f32::INFINITY),
            f(f32::NAN),
            f(0.25),
            f(0.5),
            f(0.0),
        ]);
        m.update(now);
        let i = m.inputs();
        assert_eq!((i[0].peak, i[0].clips), (1.0, 1));
        assert_eq!((i[1].peak, i[1].clips), (f32::MAX, 1));
        assert_eq!((i[2].peak, i[2].clips), (0.0, 0), "NaN counts as silence");
    }

    #[test]
    fn wide_integers_clip_at_the_largest_24_bit_value() {
        let now = Instant::now();
        let mut m = meters(1, DeviceFormat::I32);
        m.measure(&[i32::MIN as u32, (-(1 << 30)) as u32]);
        m.update(now);
        assert_eq!((m.inputs()[0].peak, m.inputs()[0].clips), (1.0, 1));
        let mut m = meters(1, DeviceFormat::I24);
        m.measure(&[8_388_607u32, 8_388_606u32]);
        m.update(now);
        assert_eq!(m.inputs()[0].clips, 1);
    }

    #[test]
    fn taps_keep_the_highest_peak_between_their_reads() {
        let taps: Arc<Mutex<Vec<Arc<TapInner>>>> = Default::default();
        let tap = MeterTap(Arc::new(TapInner::new(1)));
        taps.lock().expect("lock").push(Arc::clone(&tap.0));
        let now = Instant::now();
        let mut m = Meters::new(1, DeviceFormat::F32, taps, now);
        for v in [0.5f32, 0.25] {
            m.measure(&[v.to_bits()]);
            m.update(now);
        }
        assert_eq!(tap.take(), [0.5]);
        assert_eq!(tap.take(), [0.0]);
    }
}
