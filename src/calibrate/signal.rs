//! The test signal `calibrate` plays through the cable: one period of a maximum-length
//! sequence (MLS) at −12 dBFS, about 1.4 s long, with silence before and after.
//!
//! Why an MLS:
//! - Its spectrum is flat, so its autocorrelation is one sharp spike: one sample wide, with
//!   sidelobes around 1/√N of the peak (−48 dB for N = 65535) even for the single period
//!   played here. The correlation peak falls on the exact sample.
//! - A band-limited path (converters' filters, a cheap cable, the ALSA jack plugin's
//!   resampling) only takes part of the band away: the peak widens but stays where it is,
//!   and the energy left still gives 40+ dB of correlation gain over noise.
//! - It is deterministic (same bits at every repeat, at every run) and cheap to make.
//!
//! A log sweep would have been the other choice; it is kinder to loudspeakers and to
//! distortion, but its pink spectrum puts most of its energy in the bass, which makes the
//! plain cross-correlation peak broad: an MLS fits "find the lag to the sample" better.
//!
//! The level: −12 dBFS leaves headroom for the overshoot a band-limiting filter adds to a
//! square-ish signal, and for an input gain set hot, while staying 28 dB above the level below
//! which the measurement is refused (`verdict::MIN_LEVEL_DBFS`).

/// The level the sequence is played at, dBFS (its peak and RMS: an MLS is ±A).
pub const LEVEL_DBFS: f64 = -12.0;

/// The lags a measurement looks at, in frames, both ends included. A positive lag: the signal
/// came back later than where it was expected; a negative one: earlier (the reported latency
/// over-compensates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LagWindow {
    pub earliest: i64,
    pub latest: i64,
}

impl LagWindow {
    /// Half a second early to one second late: wider than any round trip a host leaves
    /// unreported, narrow enough to keep the correlation short.
    pub fn for_rate(rate: u32) -> Self {
        let rate = i64::from(rate.max(1));
        Self {
            earliest: -rate / 2,
            latest: rate,
        }
    }

    /// How many lags the window holds.
    pub fn len(&self) -> usize {
        usize::try_from(self.latest - self.earliest + 1).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, lag: i64) -> bool {
        (self.earliest..=self.latest).contains(&lag)
    }
}

/// What to play and where in it the sequence lies.
#[derive(Clone, Debug)]
pub struct TestSignal {
    samples: Vec<f32>,
    start: usize,
    len: usize,
    rate: u32,
    window: LagWindow,
}

impl TestSignal {
    /// The signal for `rate` with the default window ([`LagWindow::for_rate`]).
    pub fn new(rate: u32) -> Self {
        Self::with_window(rate, LagWindow::for_rate(rate))
    }

    /// The signal with silence around it long enough for every lag of `window` to bring the
    /// whole sequence back within a capture as long as what was played.
    pub fn with_window(rate: u32, window: LagWindow) -> Self {
        let rate_frames = rate.max(1) as usize;
        let sequence = mls(order_for_rate(rate));
        let amplitude = 10f64.powf(LEVEL_DBFS / 20.0) as f32;
        // A fresh stream's first blocks are where hosts glitch: a quarter second at least.
        let early = usize::try_from(window.earliest.min(0).unsigned_abs()).unwrap_or(usize::MAX);
        let lead = early.max(rate_frames / 4);
        let late = usize::try_from(window.latest.max(0)).unwrap_or(usize::MAX);
        let tail = late.saturating_add(rate_frames / 20);
        let len = sequence.len();
        let mut samples = vec![0.0f32; lead + len + tail];
        for (s, &bit) in samples[lead..lead + len].iter_mut().zip(&sequence) {
            *s = f32::from(bit) * amplitude;
        }
        Self {
            samples,
            start: lead,
            len,
            rate,
            window,
        }
    }

    /// Everything to play, mono, silence included (the caller puts it on the output
    /// channel(s) the cable leaves from).
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// The sequence alone: what the capture is correlated with.
    pub fn probe(&self) -> &[f32] {
        &self.samples[self.start..self.start + self.len]
    }

    /// Where the sequence starts in [`Self::samples`].
    pub fn start(&self) -> usize {
        self.start
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn window(&self) -> LagWindow {
        self.window
    }
}

/// The sequence order for a rate: the shortest MLS that lasts at least one second (65535
/// frames at 44.1 and 48 kHz, 131071 at 88.2 and 96 kHz), within the orders tabulated.
fn order_for_rate(rate: u32) -> u32 {
    let mut order = MIN_ORDER;
    while order < MAX_ORDER && (1u64 << order) - 1 < u64::from(rate) {
        order += 1;
    }
    order
}

const MIN_ORDER: u32 = 10;
const MAX_ORDER: u32 = 20;

/// Feedback taps (1-based bit positions) of a maximal-length Fibonacci LFSR for each order
/// from `MIN_ORDER`, from the usual table of primitive polynomials (Xilinx XAPP052).
const TAPS: [&[u32]; (MAX_ORDER - MIN_ORDER + 1) as usize] = [
    &[10, 7],
    &[11, 9],
    &[12, 6, 4, 1],
    &[13, 4, 3, 1],
    &[14, 5, 3, 1],
    &[15, 14],
    &[16, 15, 13, 4],
    &[17, 14],
    &[18, 11],
    &[19, 6, 2, 1],
    &[20, 17],
];

/// One period (2^order − 1 values of ±1) of the maximum-length sequence of `order`, clamped
/// to 10..=20.
pub fn mls(order: u32) -> Vec<i8> {
    let order = order.clamp(MIN_ORDER, MAX_ORDER);
    let taps = TAPS[(order - MIN_ORDER) as usize];
    let period = (1usize << order) - 1;
    let mut state: u32 = 1;
    let mut out = Vec::with_capacity(period);
    for _ in 0..period {
        out.push(if state & 1 == 1 { 1 } else { -1 });
        let feedback = taps
            .iter()
            .fold(0u32, |acc, &t| acc ^ (state >> (order - t)) & 1);
        state = (state >> 1) | (feedback << (order - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tabulated_order_is_maximal() {
        // A maximal LFSR walks all 2^n − 1 non-zero states before coming back: a wrong tap
        // gives a shorter cycle, hence a sequence with a worse autocorrelation.
        for order in MIN_ORDER..=MAX_ORDER {
            let taps = TAPS[(order - MIN_ORDER) as usize];
            let mut state: u32 = 1;
            let mut steps = 0u64;
            loop {
                let feedback = taps
                    .iter()
                    .fold(0u32, |acc, &t| acc ^ (state >> (order - t)) & 1);
                state = (state >> 1) | (feedback << (order - 1));
                steps += 1;
                if state == 1 {
                    break;
                }
                assert!(steps < 1 << order, "order {order}: no cycle");
            }
            assert_eq!(steps, (1 << order) - 1, "order {order}");
        }
    }

    #[test]
    fn periodic_autocorrelation_is_a_single_spike() {
        // The defining property of an MLS: N at lag 0, −1 at every other lag.
        let s = mls(12);
        let n = s.len();
        for lag in [0usize, 1, 2, 17, 1000, n - 1] {
            let r: i64 = (0..n)
                .map(|i| i64::from(s[i]) * i64::from(s[(i + lag) % n]))
                .sum();
            assert_eq!(r, if lag == 0 { n as i64 } else { -1 }, "lag {lag}");
        }
    }

    #[test]
    fn the_signal_has_its_level_length_and_room_for_the_window() {
        let s = TestSignal::new(48_000);
        assert_eq!(s.probe().len(), 65_535);
        let peak = s.probe().iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!((20.0 * f64::from(peak).log10() - LEVEL_DBFS).abs() < 0.01);
        assert!(s.samples()[..s.start()].iter().all(|&x| x == 0.0));
        assert!(s.start() >= 24_000, "room for half a second early");
        let after = s.samples().len() - s.start() - s.probe().len();
        assert!(after >= 48_000, "room for a second late");
        assert_eq!(TestSignal::new(96_000).probe().len(), 131_071);
        assert_eq!(TestSignal::new(8_000).probe().len(), 8_191);
    }
}
