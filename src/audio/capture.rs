//! The capture callback: the only code that runs on the audio thread.
//!
//! It copies each interleaved block into one preallocated SPSC ring as raw 32-bit words,
//! updates per-input peak and clip atomics for the meters, and turns device xruns and ring
//! overflows into `Gap` events on a second small SPSC ring so that the writer can zero-fill
//! the exact number of missing frames at the exact position. It never allocates, locks,
//! blocks, logs or does I/O (tests/no_alloc.rs proves the allocation part).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

use ringbuf::traits::{Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use crate::format::DeviceFormat;

/// Why frames are missing from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapCause {
    /// The device or audio server reported an overrun (xrun): it lost input before we saw it.
    DeviceXrun,
    /// The ring buffer was full (the writer fell behind): the callback had to drop frames.
    RingOverflow,
}

impl GapCause {
    pub fn name(self) -> &'static str {
        match self {
            Self::DeviceXrun => "device_xrun",
            Self::RingOverflow => "ring_overflow",
        }
    }
}

/// Frames missing from the stream at a position (in frames since the stream started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub at_frame: u64,
    pub frames: u64,
    pub cause: GapCause,
    /// True when the length is known exactly (frame-accurate timestamps or our own overflow);
    /// false when it was estimated from the host's timestamps.
    pub exact: bool,
}

/// A fatal stream condition reported by the host through the error callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamFault {
    None = 0,
    DeviceLost = 1,
    Other = 2,
}

/// State shared between the audio thread and the rest of the engine. Only atomics.
pub struct CaptureShared {
    pub channels: usize,
    /// Per input: largest magnitude (f32 bits) since the meter last took it.
    pub peaks: Box<[AtomicU32]>,
    /// Per input: samples at full scale since the stream started.
    pub clips: Box<[AtomicU64]>,
    /// Stream position: frames captured plus frames known to be missing.
    pub position: AtomicU64,
    /// Xruns reported by the host's error callback (may run on another thread).
    pub xruns_reported: AtomicU64,
    /// Total frames lost to ring overflow and to device xruns.
    pub overflow_frames: AtomicU64,
    pub xrun_frames: AtomicU64,
    pub callbacks: AtomicU64,
    pub fault: AtomicU8,
    /// Set by the error callback when the stream ended for good.
    pub ended: AtomicBool,
}

impl CaptureShared {
    pub fn new(channels: usize) -> Self {
        Self {
            channels,
            peaks: (0..channels).map(|_| AtomicU32::new(0)).collect(),
            clips: (0..channels).map(|_| AtomicU64::new(0)).collect(),
            position: AtomicU64::new(0),
            xruns_reported: AtomicU64::new(0),
            overflow_frames: AtomicU64::new(0),
            xrun_frames: AtomicU64::new(0),
            callbacks: AtomicU64::new(0),
            fault: AtomicU8::new(StreamFault::None as u8),
            ended: AtomicBool::new(false),
        }
    }

    pub fn fault(&self) -> StreamFault {
        match self.fault.load(Ordering::Acquire) {
            1 => StreamFault::DeviceLost,
            2 => StreamFault::Other,
            _ => StreamFault::None,
        }
    }

    /// Called from cpal's error callback (audio or notification thread): atomics only.
    pub fn on_stream_error(&self, kind: cpal::ErrorKind) {
        match kind {
            cpal::ErrorKind::Xrun => {
                self.xruns_reported.fetch_add(1, Ordering::AcqRel);
            }
            cpal::ErrorKind::DeviceNotAvailable => {
                self.fault
                    .store(StreamFault::DeviceLost as u8, Ordering::Release);
                self.ended.store(true, Ordering::Release);
            }
            cpal::ErrorKind::StreamInvalidated | cpal::ErrorKind::BackendError => {
                self.fault
                    .store(StreamFault::Other as u8, Ordering::Release);
                self.ended.store(true, Ordering::Release);
            }
            // Realtime priority denied and similar notices do not affect the data.
            _ => {}
        }
    }
}

/// A device sample type the callback accepts. The ring word keeps every bit of the sample.
pub trait CaptureSample: cpal::SizedSample + Copy + Send + 'static {
    const DEVICE_FORMAT: DeviceFormat;
    fn to_word(self) -> u32;
    /// |x| relative to full scale (1.0).
    fn magnitude(self) -> f32;
}

/// Samples at or beyond this magnitude count as clipped on the meter: the largest value of a
/// 24-bit (or wider) integer, the largest 16-bit value for i16, and 1.0 for floats.
const FULL_SCALE_24: f32 = 1.0 - 1.0 / 8_388_608.0;
const FULL_SCALE_16: f32 = 1.0 - 1.0 / 32768.0;

impl CaptureSample for i16 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I16;
    #[inline]
    fn to_word(self) -> u32 {
        i32::from(self) as u32
    }
    #[inline]
    fn magnitude(self) -> f32 {
        f32::from(self).abs() / 32768.0
    }
}

impl CaptureSample for cpal::I24 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I24;
    #[inline]
    fn to_word(self) -> u32 {
        self.inner() as u32
    }
    #[inline]
    fn magnitude(self) -> f32 {
        (self.inner() as f32).abs() / 8_388_608.0
    }
}

impl CaptureSample for i32 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I32;
    #[inline]
    fn to_word(self) -> u32 {
        self as u32
    }
    #[inline]
    fn magnitude(self) -> f32 {
        (self as f32).abs() / 2_147_483_648.0
    }
}

impl CaptureSample for f32 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::F32;
    #[inline]
    fn to_word(self) -> u32 {
        self.to_bits()
    }
    #[inline]
    fn magnitude(self) -> f32 {
        if self.is_nan() {
            0.0
        } else {
            self.abs().min(f32::MAX)
        }
    }
}

fn clip_threshold(f: DeviceFormat) -> f32 {
    match f {
        DeviceFormat::I16 => FULL_SCALE_16,
        DeviceFormat::I24 | DeviceFormat::I32 => FULL_SCALE_24,
        DeviceFormat::F32 => 1.0,
    }
}

/// How far the host's callback timestamps can be trusted to measure a gap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampTrust {
    /// Frame-accurate clock (JACK cycle times, the built-in demo device): gaps are measured
    /// even when no xrun was reported, rounded to whole periods when `quantum` is set.
    Exact { whole_periods: bool },
    /// Approximate clock (ALSA): a gap is only assumed after the host reported an xrun, and
    /// its length is an estimate.
    OnXrunOnly,
}

/// The longest gap we will zero-fill from a timestamp estimate; beyond it the clock is more
/// likely wrong than the device silent for that long.
const MAX_ESTIMATED_GAP_SECONDS: u64 = 60;

/// Words converted per step; the callback works through larger blocks in steps of this.
const SCRATCH_FRAMES: usize = 1024;

/// The consumer ends handed to the writer.
pub struct CaptureOutput {
    pub samples: HeapCons<u32>,
    pub gaps: HeapCons<Gap>,
}

/// The audio thread's state. Everything is allocated in `new`.
pub struct Capture {
    shared: Arc<CaptureShared>,
    samples: HeapProd<u32>,
    gaps: HeapProd<Gap>,
    scratch: Box<[u32]>,
    block_peak: Box<[f32]>,
    block_clips: Box<[u64]>,
    channels: usize,
    rate: u64,
    trust: TimestampTrust,
    position: u64,
    /// A gap that could not be queued yet (the gap queue was full): everything after it waits.
    pending: Option<Gap>,
    xruns_seen: u64,
    /// Capture time (ns) and length of the previous block, for gap measurement.
    prev: Option<(u64, u64)>,
}

impl Capture {
    /// `ring_frames` frames of all channels are preallocated; the gap queue holds 1024 events.
    pub fn new(
        channels: usize,
        sample_rate: u32,
        ring_frames: usize,
        trust: TimestampTrust,
    ) -> (Self, CaptureOutput, Arc<CaptureShared>) {
        let channels = channels.max(1);
        let shared = Arc::new(CaptureShared::new(channels));
        let (sp, sc) = HeapRb::<u32>::new(ring_frames.max(1) * channels).split();
        let (gp, gc) = HeapRb::<Gap>::new(1024).split();
        let capture = Self {
            shared: Arc::clone(&shared),
            samples: sp,
            gaps: gp,
            scratch: vec![0u32; SCRATCH_FRAMES * channels].into_boxed_slice(),
            block_peak: vec![0f32; channels].into_boxed_slice(),
            block_clips: vec![0u64; channels].into_boxed_slice(),
            channels,
            rate: u64::from(sample_rate.max(1)),
            trust,
            position: 0,
            pending: None,
            xruns_seen: 0,
            prev: None,
        };
        (
            capture,
            CaptureOutput {
                samples: sc,
                gaps: gc,
            },
            shared,
        )
    }

    /// The data callback. `capture_ns` is the host's capture timestamp of the block's first
    /// frame, if it gave one.
    pub fn on_data<T: CaptureSample>(&mut self, data: &[T], capture_ns: Option<u64>) {
        let ch = self.channels;
        let frames = (data.len() / ch) as u64;
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);

        self.account_for_missing_frames(frames, capture_ns);

        // Meters see every block, even one that cannot be stored.
        self.measure(data);

        if !self.flush_pending() {
            // Nothing may be stored after a gap the writer has not been told about yet.
            self.add_gap(frames, GapCause::RingOverflow, true);
            self.publish_position();
            return;
        }

        let mut done = 0usize;
        let total = frames as usize;
        while done < total {
            let room = self.samples.vacant_len() / ch;
            let n = (total - done).min(SCRATCH_FRAMES).min(room);
            if n == 0 {
                let lost = (total - done) as u64;
                self.add_gap(lost, GapCause::RingOverflow, true);
                break;
            }
            let src = &data[done * ch..(done + n) * ch];
            let dst = &mut self.scratch[..n * ch];
            for (d, s) in dst.iter_mut().zip(src) {
                *d = s.to_word();
            }
            // Cannot come up short: `n` whole frames fit in the vacant space measured above,
            // and only this thread adds to the ring.
            self.samples.push_slice(dst);
            done += n;
            self.position += n as u64;
        }
        self.publish_position();
    }

    /// Compares this block's timestamp with where the previous block ended and records a
    /// device gap when the host lost frames.
    fn account_for_missing_frames(&mut self, frames: u64, capture_ns: Option<u64>) {
        let xruns = self.shared.xruns_reported.load(Ordering::Acquire);
        let xrun_reported = xruns != self.xruns_seen;
        self.xruns_seen = xruns;

        let measured = match (self.prev, capture_ns) {
            (Some((prev_ns, prev_frames)), Some(now_ns)) => {
                let expected =
                    prev_ns as i128 + (prev_frames as i128 * 1_000_000_000) / self.rate as i128;
                let delta_ns = now_ns as i128 - expected;
                let missing =
                    (delta_ns * self.rate as i128 + 500_000_000).div_euclid(1_000_000_000);
                Some(missing.max(0) as u64)
            }
            _ => None,
        };
        if let Some(now) = capture_ns {
            self.prev = Some((now, frames));
        }
        let cap = MAX_ESTIMATED_GAP_SECONDS * self.rate;

        match self.trust {
            TimestampTrust::Exact { whole_periods } => {
                let mut missing = measured.unwrap_or(0);
                if whole_periods && frames > 0 {
                    // Hosts with a fixed period lose whole periods; rounding absorbs clock jitter.
                    missing = (missing + frames / 2) / frames * frames;
                }
                if missing > 0 {
                    self.add_gap(missing.min(cap), GapCause::DeviceXrun, missing <= cap);
                } else if xrun_reported {
                    // The host reported an xrun but our stream shows no hole: record it anyway.
                    self.add_gap(0, GapCause::DeviceXrun, true);
                }
            }
            TimestampTrust::OnXrunOnly => {
                if xrun_reported {
                    let missing = measured.unwrap_or(0).min(cap);
                    self.add_gap(missing, GapCause::DeviceXrun, false);
                }
            }
        }
    }

    fn measure<T: CaptureSample>(&mut self, data: &[T]) {
        let ch = self.channels;
        let threshold = clip_threshold(T::DEVICE_FORMAT);
        self.block_peak.fill(0.0);
        self.block_clips.fill(0);
        for frame in data.chunks_exact(ch) {
            for (i, s) in frame.iter().enumerate() {
                let m = s.magnitude();
                if m > self.block_peak[i] {
                    self.block_peak[i] = m;
                }
                if m >= threshold {
                    self.block_clips[i] += 1;
                }
            }
        }
        for i in 0..ch {
            // Non-negative floats order like their bit patterns, so fetch_max on bits works.
            self.shared.peaks[i].fetch_max(self.block_peak[i].to_bits(), Ordering::Relaxed);
            if self.block_clips[i] > 0 {
                self.shared.clips[i].fetch_add(self.block_clips[i], Ordering::Relaxed);
            }
        }
    }

    /// Records `frames` missing at the current position, merging with a gap still waiting to
    /// be queued when they touch.
    fn add_gap(&mut self, frames: u64, cause: GapCause, exact: bool) {
        let counter = match cause {
            GapCause::DeviceXrun => &self.shared.xrun_frames,
            GapCause::RingOverflow => &self.shared.overflow_frames,
        };
        counter.fetch_add(frames, Ordering::Relaxed);
        match &mut self.pending {
            // A pending gap blocks all data, so it always ends at the current position.
            Some(p) => {
                p.frames += frames;
                p.exact &= exact;
            }
            None => {
                self.pending = Some(Gap {
                    at_frame: self.position,
                    frames,
                    cause,
                    exact,
                });
            }
        }
        self.position += frames;
        self.flush_pending();
    }

    /// Queues the pending gap for the writer; false if the gap queue is still full.
    fn flush_pending(&mut self) -> bool {
        match self.pending.take() {
            None => true,
            Some(g) => match self.gaps.try_push(g) {
                Ok(()) => true,
                Err(g) => {
                    self.pending = Some(g);
                    false
                }
            },
        }
    }

    fn publish_position(&self) {
        self.shared.position.store(self.position, Ordering::Release);
        // One relaxed store: lets a source that can wait (the demo device unpaced) keep pace.
        super::demo::note_ring_fill(
            self.samples.occupied_len() / self.channels,
            self.samples.capacity().get() / self.channels,
        );
    }
}
