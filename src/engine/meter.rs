//! Meters: the callback's per-input peak atomics turned into peak, peak hold and clip counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::format::dbfs;

/// How long a peak-hold value stays before it falls back to the current peak.
pub const PEAK_HOLD: Duration = Duration::from_secs(2);

/// One input's meter, as front ends see it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputMeter {
    /// Highest magnitude (1.0 = full scale) in the latest meter window (~33 ms).
    pub peak: f32,
    /// Highest magnitude of the last couple of seconds.
    pub hold: f32,
    /// Samples at full scale since the counter was last cleared.
    pub clips: u64,
}

impl InputMeter {
    pub fn peak_dbfs(&self) -> Option<f64> {
        dbfs(self.peak)
    }
    pub fn hold_dbfs(&self) -> Option<f64> {
        dbfs(self.hold)
    }
}

/// Per-input meter state kept by the engine.
pub(crate) struct MeterState {
    pub meter: InputMeter,
    hold_since: Instant,
    clips_cleared_at: u64,
}

impl MeterState {
    pub fn new(now: Instant) -> Self {
        Self {
            meter: InputMeter::default(),
            hold_since: now,
            clips_cleared_at: 0,
        }
    }

    /// Feeds one window's peak and the callback's running clip total.
    pub fn update(&mut self, peak: f32, clips_total: u64, now: Instant) {
        self.meter.peak = peak;
        if peak >= self.meter.hold || now.duration_since(self.hold_since) >= PEAK_HOLD {
            self.meter.hold = peak;
            self.hold_since = now;
        }
        self.meter.clips = clips_total.saturating_sub(self.clips_cleared_at);
    }

    pub fn clear_clips(&mut self, clips_total: u64) {
        self.clips_cleared_at = clips_total;
        self.meter.clips = 0;
    }
}

pub(crate) struct TapInner {
    peaks: Box<[AtomicU32]>,
}

impl TapInner {
    pub fn new(channels: usize) -> Self {
        Self {
            peaks: (0..channels).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    pub fn feed(&self, input: usize, peak: f32) {
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
}
