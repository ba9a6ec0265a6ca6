//! The capture callback: the only code that runs on the audio thread.
//!
//! It copies each interleaved block into one preallocated SPSC ring as raw 32-bit words and
//! turns device xruns and ring overflows into `Gap` events on a second small SPSC ring so that
//! the writer can zero-fill the exact number of missing frames at the exact position. The
//! meters are the writer's: it reads every sample anyway. It never allocates, locks, blocks,
//! logs or does I/O (tests/no_alloc.rs proves the allocation part).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

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
    /// How the audio thread is scheduled, once its first callback has run (`Realtime`).
    pub realtime: AtomicU8,
}

/// How the audio thread is scheduled (`CaptureShared::realtime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Realtime {
    /// No callback has run yet.
    Unknown = 0,
    /// SCHED_FIFO or SCHED_RR: the host's (a realtime JACK server) or tapedeck's request.
    Yes = 1,
    /// The ordinary scheduler: the request was refused (no rtprio allowance), or the JACK
    /// server runs its clients without realtime priority.
    No = 2,
    /// Not asked for: the demo device is no hardware and has no deadline.
    NotApplicable = 3,
}

impl CaptureShared {
    pub fn new(channels: usize) -> Self {
        Self {
            channels,
            position: AtomicU64::new(0),
            xruns_reported: AtomicU64::new(0),
            overflow_frames: AtomicU64::new(0),
            xrun_frames: AtomicU64::new(0),
            callbacks: AtomicU64::new(0),
            fault: AtomicU8::new(StreamFault::None as u8),
            ended: AtomicBool::new(false),
            realtime: AtomicU8::new(Realtime::Unknown as u8),
        }
    }

    pub fn realtime(&self) -> Realtime {
        match self.realtime.load(Ordering::Acquire) {
            1 => Realtime::Yes,
            2 => Realtime::No,
            3 => Realtime::NotApplicable,
            _ => Realtime::Unknown,
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
}

impl CaptureSample for i16 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I16;
    #[inline]
    fn to_word(self) -> u32 {
        i32::from(self) as u32
    }
}

impl CaptureSample for cpal::I24 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I24;
    #[inline]
    fn to_word(self) -> u32 {
        self.inner() as u32
    }
}

impl CaptureSample for i32 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::I32;
    #[inline]
    fn to_word(self) -> u32 {
        self as u32
    }
}

impl CaptureSample for f32 {
    const DEVICE_FORMAT: DeviceFormat = DeviceFormat::F32;
    #[inline]
    fn to_word(self) -> u32 {
        self.to_bits()
    }
}

/// Converts device samples into ring words, as many as `dst` has room for. A plain loop over
/// the samples, which the compiler runs on vectors.
fn convert<T: CaptureSample>(data: &[T], dst: &mut [u32]) {
    for (d, s) in dst.iter_mut().zip(data) {
        *d = s.to_word();
    }
}

/// Touches every page of the ring before the stream starts, and locks them in memory where
/// the system allows it (`RLIMIT_MEMLOCK`; root may).
///
/// The ring's memory comes from the kernel untouched: each first write to a page is a page
/// fault in which the kernel clears it, and without this every one of them would land on the
/// audio thread during the first pass through the ring (6 000 faults in the first 4 s at 32
/// inputs). Locking keeps the pages from being swapped out later; where it is refused the
/// ring is still resident, just not pinned.
fn prepare_ring(ring: &mut HeapProd<u32>) {
    let (a, b) = ring.vacant_slices_mut();
    for part in [a, b] {
        for w in part.iter_mut() {
            w.write(0);
        }
        if !part.is_empty() {
            // SAFETY: the range is memory this ring owns, alive for the call; mlock only
            // pins it and reports failure through its return value, which is not needed.
            unsafe {
                libc::mlock(part.as_ptr().cast(), std::mem::size_of_val(part));
            }
        }
    }
}

/// A buffer whose pages have all been written (see `prepare_ring`). Zeros would not do: an
/// allocation of zeros comes straight from the kernel, untouched.
fn touched(words: usize) -> Box<[u32]> {
    vec![u32::MAX; words].into_boxed_slice()
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

/// How long a JACK server must stand still (by the clock, its frame counter waiting) before
/// the take is kept in pace with the clock by an estimated silence.
const SERVER_STALL_NS: u64 = 500_000_000;

/// Blocks whose earliest origin a block's lateness is measured against.
const ORIGIN_WINDOW: usize = 8;

/// Words converted per step; the callback works through larger blocks in steps of this.
const SCRATCH_FRAMES: usize = 1024;

/// The consumer ends handed to the writer.
pub struct CaptureOutput {
    pub samples: HeapCons<u32>,
    pub gaps: HeapCons<Gap>,
}

/// What is missing before a block.
#[derive(Clone, Copy, Debug)]
struct Missing {
    /// Frames by the block's stamp on the host's timeline, and whether that count is exact.
    timeline: u64,
    exact: bool,
    /// Frames the server itself stood still, estimated from the system clock.
    stall: u64,
    /// Whether the host reported an xrun since the block before.
    xrun_reported: bool,
}

impl Missing {
    const NONE: Self = Self {
        timeline: 0,
        exact: true,
        stall: 0,
        xrun_reported: false,
    };
}

/// What the host says of when a block was captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// cpal's timestamps (ALSA, the demo device): when the block's first frame was captured
    /// and when the callback ran, in ns on the host's clock, where the host gives them.
    Host {
        capture_ns: Option<u64>,
        callback_ns: Option<u64>,
    },
    /// A JACK cycle (`cpal::platform::jack_cycle()`): the server's frame counter at the
    /// cycle's start, how long after the cycle began the callback ran (ns, by JACK's
    /// clock), the system's monotonic clock now, and the counter when the ports had been
    /// read.
    JackCycle {
        frame: u32,
        wake_ns: u64,
        clock_ns: Option<u64>,
        read_end: u32,
    },
}

/// The audio thread's state. Everything is allocated in `new`.
pub struct Capture {
    shared: Arc<CaptureShared>,
    samples: HeapProd<u32>,
    gaps: HeapProd<Gap>,
    scratch: Box<[u32]>,
    /// The block held back (see `on_held_data`), `held_frames` long; as large as `scratch`.
    held: Box<[u32]>,
    held_frames: usize,
    /// The held block's capture stamp, and whether its callback ran half a period late.
    held_stamp: Option<u64>,
    held_late: bool,
    /// Whether the server began its next cycle while the held block was read; `None` when
    /// the host cannot say (JACK's frame counter path says).
    held_moved: Option<bool>,
    /// Per input, for the comparison of a held block with the next (see `torn_read`).
    channel_flags: Box<[u8]>,
    /// What was missing before the held block: recorded when it is stored.
    held_gap: Missing,
    /// The smallest distance seen between a callback and its cycle's stamp (ns).
    min_wake: u64,
    hold_back: bool,
    /// The last frame counter a JACK cycle carried, and where it lies on our unwrapped count.
    last_cycle_frame: Option<(u32, u64)>,
    /// The system clock at that cycle, and how long the server itself stood still
    /// before the block about to be stored (frames, estimated).
    last_cycle_clock: Option<u64>,
    server_stall_frames: u64,
    channels: usize,
    rate: u64,
    trust: TimestampTrust,
    position: u64,
    /// A gap that could not be queued yet (the gap queue was full): everything after it waits.
    pending: Option<Gap>,
    xruns_seen: u64,
    /// `capture time - position` (ns) of the last `ORIGIN_WINDOW` blocks, gaps accounted for:
    /// where each of them put the stream's frame 0 on the host's clock.
    recent_origins: [i128; ORIGIN_WINDOW],
    recent_len: usize,
    recent_next: usize,
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
        let (mut sp, sc) = HeapRb::<u32>::new(ring_frames.max(1) * channels).split();
        prepare_ring(&mut sp);
        let (gp, gc) = HeapRb::<Gap>::new(1024).split();
        let capture = Self {
            shared: Arc::clone(&shared),
            samples: sp,
            gaps: gp,
            scratch: touched(SCRATCH_FRAMES * channels),
            held: touched(SCRATCH_FRAMES * channels),
            held_frames: 0,
            held_stamp: None,
            held_late: false,
            held_moved: None,
            channel_flags: vec![0u8; channels].into_boxed_slice(),
            held_gap: Missing::NONE,
            min_wake: u64::MAX,
            last_cycle_frame: None,
            last_cycle_clock: None,
            server_stall_frames: 0,
            hold_back: trust
                == TimestampTrust::Exact {
                    whole_periods: true,
                },
            channels,
            rate: u64::from(sample_rate.max(1)),
            trust,
            position: 0,
            pending: None,
            xruns_seen: 0,
            recent_origins: [0; ORIGIN_WINDOW],
            recent_len: 0,
            recent_next: 0,
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

    /// The data callback: every block the stream delivers, with what the host says of when
    /// it was captured.
    pub fn on_block<T: CaptureSample>(&mut self, data: &[T], stamp: Stamp) {
        match stamp {
            Stamp::Host {
                capture_ns,
                callback_ns,
            } => {
                let wake = match (capture_ns, callback_ns) {
                    (Some(c), Some(w)) => Some(w.saturating_sub(c)),
                    _ => None,
                };
                self.place(data, capture_ns, wake, None);
            }
            Stamp::JackCycle {
                frame,
                wake_ns,
                clock_ns,
                read_end,
            } => self.on_cycle(data, frame, wake_ns, clock_ns, read_end),
        }
    }

    /// A JACK cycle (see `Stamp::JackCycle`).
    ///
    /// The counter is the block's position on the server's timeline: it advances by exactly
    /// one period per cycle the server runs (jackd adjusts it only at its own overruns).
    /// JACK's microsecond cycle times come
    /// from a filter that jackd resets at every xrun and that then runs fast or slow for
    /// seconds, so they are used for nothing but the wake-up distance.
    fn on_cycle<T: CaptureSample>(
        &mut self,
        data: &[T],
        frame: u32,
        wake_ns: u64,
        clock_ns: Option<u64>,
        read_end: u32,
    ) {
        // The counter is 32 bits and wraps after a day at 48 kHz; steps are small.
        let counter = match self.last_cycle_frame {
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
            (clock_ns, self.last_cycle_frame, self.last_cycle_clock)
        {
            let timeline = counter.saturating_sub(last) * 1_000_000_000 / self.rate;
            let excess = now.saturating_sub(then).saturating_sub(timeline);
            if excess >= SERVER_STALL_NS {
                self.server_stall_frames = (u128::from(excess) * u128::from(self.rate)
                    / 1_000_000_000)
                    .try_into()
                    .unwrap_or(u64::MAX);
            }
        }
        self.last_cycle_frame = Some((frame, counter));
        self.last_cycle_clock = clock_ns;
        // How many cycles the server began while this block was being read.
        let per_block = u32::try_from(data.len() / self.channels)
            .unwrap_or(u32::MAX)
            .max(1);
        let begun = (read_end.wrapping_sub(frame) as i32).max(0) as u32 / per_block;
        self.place(data, Some(stamp), Some(wake_ns), Some(begun));
    }

    /// A block stamped `capture_ns` on the host's timeline, whose callback ran `wake` ns
    /// after the stamp (JACK's cycles), if the host says; `begun`: how many cycles the host
    /// began while the block was read, if it says.
    fn place<T: CaptureSample>(
        &mut self,
        data: &[T],
        capture_ns: Option<u64>,
        wake: Option<u64>,
        begun: Option<u32>,
    ) {
        let ch = self.channels;
        let frames = data.len() / ch;
        self.shared.callbacks.fetch_add(1, Ordering::Relaxed);

        if begun.is_some_and(|b| b >= 2) {
            // Held up for a whole cycle or more between its cycle's start and the end of the
            // read (the process stopped, or starved of CPU): the ports held a later cycle's
            // audio than the stamp says, and which one is not known. Stored at its stamp it
            // would lie that many cycles early. It is left out, untimed, so the next block's
            // stamp counts its period as lost together with the cycles after it: one exact
            // dropout, and the audio after it in its place.
            self.publish_position();
            return;
        }

        if self.hold_back && frames <= SCRATCH_FRAMES {
            self.on_held_data(data, frames, capture_ns, wake, begun.map(|b| b > 0));
        } else {
            self.release_held(0);
            self.account_for_missing_frames(frames as u64, capture_ns);
            self.store(data);
        }
        self.publish_position();
    }

    /// A host whose client can run late and then read a cycle the source has already
    /// overwritten (JACK): each block is held back until the next one arrives, which shows
    /// what the held one was.
    ///
    /// - The next block is stamped with the same cycle and holds the same audio: the client
    ///   was called twice for one cycle; the copy is dropped (the cycle before was counted
    ///   lost already, from the held block's stamp).
    /// - The held block was read while the server began its next cycle (or, where the host
    ///   cannot say so, its callback ran half a period or more after its cycle began) and the
    ///   next block, stamped one cycle on, holds the same audio: the held block read this
    ///   cycle's audio early, and the cycle it was stamped with never reached us. That cycle
    ///   becomes an exact dropout and the copy is dropped. A callback that is merely late
    ///   cannot have read the next cycle: the source writes it only after the server has
    ///   begun it, so audio that repeats every period by nature (a tone whose cycle divides
    ///   the period) is kept from late callbacks on a loaded machine.
    /// - Some inputs of the held block hold the next block's audio and others do not (a torn
    ///   read): the held block was read while the source was writing the next cycle into its
    ///   ports, so the held cycle is gone from some inputs and the tracks disagree about what
    ///   it was. Its period becomes an exact dropout on every track, and the next block is
    ///   kept. This needs the timing to agree: the two blocks stamped with one cycle (the
    ///   held callback ran so late that the counter had moved on), or the held one read while
    ///   the server began its next cycle (late, where the host cannot say).
    ///
    /// Storing both would repeat a period without saying so; storing a torn one would put
    /// the tracks out of step with each other for a period.
    fn on_held_data<T: CaptureSample>(
        &mut self,
        data: &[T],
        frames: usize,
        capture_ns: Option<u64>,
        wake: Option<u64>,
        moved: Option<bool>,
    ) {
        let words = frames * self.channels;
        convert(data, &mut self.scratch[..words]);
        let period_ns = frames as u64 * 1_000_000_000 / self.rate;
        // How late the callback ran is measured against the earliest it has run in a cycle:
        // the clients ahead of it in the graph take part of every cycle.
        if let Some(w) = wake {
            self.min_wake = self.min_wake.min(w);
        }
        let sign_only = if T::DEVICE_FORMAT == DeviceFormat::F32 {
            0x8000_0000
        } else {
            0
        };
        // Only audio that moves within the block says which cycle it came from: silence and
        // DC (a control voltage, say) repeat by nature, and are left alone.
        let ch = self.channels;
        let same_audio = self.held_frames == frames
            && self.scratch[..words] == self.held[..words]
            && self.held[..words].iter().any(|&w| w & !sign_only != 0)
            && self.held[..words]
                .chunks_exact(ch)
                .any(|f| f != &self.held[..ch]);
        let step = match (capture_ns, self.held_stamp) {
            (Some(now), Some(held)) if self.held_frames > 0 => Some(now.abs_diff(held)),
            _ => None,
        };
        let same_cycle = step.is_some_and(|d| d < period_ns / 2);
        if same_audio && same_cycle {
            // Called twice for one cycle.
            self.release_held(0);
            return;
        }
        let read_across = self.held_moved.unwrap_or(self.held_late);
        if same_audio && read_across && step.is_some_and(|d| d < period_ns * 3 / 2) {
            // The held block was the next cycle's audio, read early.
            self.add_gap(frames as u64, GapCause::DeviceXrun, true);
            self.release_held(0);
            return;
        }
        let consecutive = step.is_some_and(|d| d < period_ns * 3 / 2);
        if !same_audio
            && self.held_frames == frames
            && (same_cycle || (read_across && consecutive))
            && self.torn_read(words)
        {
            // The hole before the held block stays; under the next block's stamp the held
            // block's place is that hole, otherwise its own period is lost too.
            let hole = std::mem::replace(&mut self.held_gap, Missing::NONE);
            self.record_missing(hole);
            if !same_cycle {
                self.add_gap(frames as u64, GapCause::DeviceXrun, true);
            }
            self.held_frames = 0;
        }
        // A new cycle's audio under the held block's stamp: the held block ran late, after
        // the stamp moved on, but still read the cycle before it. Its stamp is one cycle
        // too late, and the hole it showed one period too long: none after a late callback,
        // the rest of the hole after a standstill of the process (woken for a cycle it had
        // missed, before the source had written the current one).
        self.release_held(if same_cycle { frames as u64 } else { 0 });
        self.held_gap = self.missing_frames(frames as u64, capture_ns);
        std::mem::swap(&mut self.scratch, &mut self.held);
        self.held_frames = frames;
        self.held_stamp = capture_ns;
        self.held_late = wake.is_some_and(|w| w - self.min_wake >= period_ns / 2);
        self.held_moved = moved;
    }

    /// Whether the held block and the new one (`words` each, in `held` and `scratch`) agree
    /// on some inputs and differ on others, counting only inputs whose audio moves within the
    /// held block (silence and DC say nothing about which cycle they came from).
    fn torn_read(&mut self, words: usize) -> bool {
        let ch = self.channels;
        let held = &self.held[..words];
        let new = &self.scratch[..words];
        let first = &held[..ch];
        // Bit 0: differs from the new block; bit 1: moves within the held block.
        let flags = &mut self.channel_flags;
        flags.fill(0);
        for (h, n) in held.chunks_exact(ch).zip(new.chunks_exact(ch)) {
            for (((f, h), n), first) in flags.iter_mut().zip(h).zip(n).zip(first) {
                *f |= u8::from(h != n) | (u8::from(h != first) << 1);
            }
        }
        flags.contains(&0b10) && flags.contains(&0b11)
    }

    /// Stores the block held back, if any, after the hole its stamp showed less `early`
    /// frames (the stamp was that much too late).
    fn release_held(&mut self, early: u64) {
        if self.held_frames == 0 {
            return;
        }
        let gap = std::mem::replace(&mut self.held_gap, Missing::NONE);
        // Only the stamp's hole is shortened: the server's own standstill (no stamp's guess)
        // stays.
        self.record_missing(Missing {
            timeline: gap.timeline.saturating_sub(early),
            ..gap
        });
        // Taking the buffer out and putting it back moves a pointer; an empty boxed slice
        // does not allocate.
        let held = std::mem::take(&mut self.held);
        self.store_words(&held[..self.held_frames * self.channels]);
        self.held = held;
        self.held_frames = 0;
    }

    /// Stores ring words of whole frames, or as many as fit, the rest an overflow gap.
    fn store_words(&mut self, words: &[u32]) {
        let ch = self.channels;
        let total = words.len() / ch;
        if !self.flush_pending() {
            // Nothing may be stored after a gap the writer has not been told about yet.
            self.add_gap(total as u64, GapCause::RingOverflow, true);
            return;
        }
        let n = total.min(self.samples.vacant_len() / ch);
        // Cannot come up short: `n` whole frames fit in the vacant space just measured, and
        // only this thread adds to the ring.
        self.samples.push_slice(&words[..n * ch]);
        self.position += n as u64;
        if n < total {
            self.add_gap((total - n) as u64, GapCause::RingOverflow, true);
        }
    }

    /// Converts and stores a block in scratch-sized steps.
    fn store<T: CaptureSample>(&mut self, data: &[T]) {
        let ch = self.channels;
        let mut scratch = std::mem::take(&mut self.scratch);
        for block in data.chunks(SCRATCH_FRAMES * ch) {
            let dst = &mut scratch[..block.len()];
            convert(block, dst);
            self.store_words(dst);
        }
        self.scratch = scratch;
    }

    /// Records a device gap before this block when the host lost frames, measured from the
    /// timestamps.
    fn account_for_missing_frames(&mut self, frames: u64, capture_ns: Option<u64>) {
        let missing = self.missing_frames(frames, capture_ns);
        self.record_missing(missing);
    }

    /// What the timestamps say is missing before this block.
    fn missing_frames(&mut self, frames: u64, capture_ns: Option<u64>) -> Missing {
        let xruns = self.shared.xruns_reported.load(Ordering::Acquire);
        let xrun_reported = xruns != self.xruns_seen;
        self.xruns_seen = xruns;
        let (timeline, exact) = self.frames_late(frames, capture_ns, xrun_reported);
        Missing {
            timeline,
            exact,
            // Not part of the timeline's origin: the server's own frame counter did not move.
            stall: std::mem::take(&mut self.server_stall_frames),
            xrun_reported,
        }
    }

    fn record_missing(&mut self, m: Missing) {
        let missing = m.timeline.saturating_add(m.stall);
        let exact = m.exact && m.stall == 0;
        let xrun_reported = m.xrun_reported;
        let cap = MAX_ESTIMATED_GAP_SECONDS * self.rate;
        if missing > 0 {
            self.add_gap(
                missing.min(cap),
                GapCause::DeviceXrun,
                exact && missing <= cap,
            );
        } else if xrun_reported {
            // The host reported an xrun but our stream shows no hole: record it anyway.
            self.add_gap(0, GapCause::DeviceXrun, true);
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
        capture_ns: Option<u64>,
        xrun_reported: bool,
    ) -> (u64, bool) {
        let rate = i128::from(self.rate);
        let origin =
            capture_ns.map(|now| now as i128 - self.position as i128 * 1_000_000_000 / rate);
        let earliest = self.recent_origins[..self.recent_len].iter().min().copied();
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
            self.recent_origins[self.recent_next] = o - i128::from(counted) * 1_000_000_000 / rate;
            self.recent_next = (self.recent_next + 1) % ORIGIN_WINDOW;
            self.recent_len = (self.recent_len + 1).min(ORIGIN_WINDOW);
        }
        (missing, exact)
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringbuf::traits::Consumer;

    const RATE: u64 = 96_000;
    const PERIOD: u64 = 256;

    fn period_ns(n: u64) -> u64 {
        n * PERIOD * 1_000_000_000 / RATE
    }

    /// A host's stamp of a block captured at `ns`.
    fn host(ns: u64) -> Stamp {
        Stamp::Host {
            capture_ns: Some(ns),
            callback_ns: None,
        }
    }

    /// A JACK cycle's stamp, the system clock given.
    fn jack(frame: u32, wake_ns: u64, clock_ns: u64, read_end: u32) -> Stamp {
        Stamp::JackCycle {
            frame,
            wake_ns,
            clock_ns: Some(clock_ns),
            read_end,
        }
    }

    /// Feeds blocks at the given capture times and returns the gaps queued.
    fn gaps_for(times: impl IntoIterator<Item = u64>, trust: TimestampTrust) -> Vec<Gap> {
        let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, trust);
        let block = vec![0.25f32; PERIOD as usize * 2];
        let mut gaps = Vec::new();
        for t in times {
            c.on_block(&block, host(t));
            out.samples.clear();
            while let Some(g) = out.gaps.try_pop() {
                gaps.push(g);
            }
        }
        gaps
    }

    const JACK: TimestampTrust = TimestampTrust::Exact {
        whole_periods: true,
    };

    #[test]
    fn a_late_cycle_and_the_catch_up_after_it_are_not_a_gap() {
        // Cycle 10 wakes 0.8 of a period late, cycle 11 on time; later, three cycles in a row
        // come late and the host catches up with quick ones.
        let times = (0..2000).map(|k| {
            let late = match k {
                10 => period_ns(1) * 8 / 10,
                500..=502 => period_ns(1) * 7 / 10,
                _ => 0,
            };
            1_000_000 + period_ns(k) + late
        });
        assert_eq!(gaps_for(times, JACK), []);
    }

    #[test]
    fn lost_cycles_are_exact_periods_at_their_place_even_with_jitter() {
        // Cycles 100-101, 400 and 777 never reach us; every delivered cycle is up to half a
        // period late, at random.
        let lost = |k: &u64| (100..=101).contains(k) || *k == 400 || *k == 777;
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let times: Vec<u64> = (0..5000u64)
            .filter(|k| !lost(k))
            .map(|k| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                period_ns(k) + (x % (period_ns(1) / 2))
            })
            .collect();
        let gap = |at: u64, n: u64| Gap {
            at_frame: at * PERIOD,
            frames: n * PERIOD,
            cause: GapCause::DeviceXrun,
            exact: true,
        };
        assert_eq!(
            gaps_for(times, JACK),
            [gap(100, 2), gap(400, 1), gap(777, 1)]
        );
    }

    #[test]
    fn a_device_clock_slower_than_the_system_clock_is_not_a_gap() {
        // 200 ppm slow, for 10 minutes of periods: 120 ms of drift, ~4.5 periods.
        let n = 10 * 60 * RATE / PERIOD;
        let times = (0..n).map(|k| period_ns(k) + period_ns(k) / 5000);
        assert_eq!(gaps_for(times, JACK), []);
    }

    #[test]
    fn a_server_falling_behind_is_not_a_gap() {
        // For 2000 cycles the host's cycles come 5 % further apart than its period says (an
        // overloaded server), with up to 0.3 of a period of jitter on top: nothing is lost.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut t = 0u64;
        let times: Vec<u64> = (0..3000u64)
            .map(|k| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t += if (500..2500).contains(&k) {
                    period_ns(1) * 105 / 100
                } else {
                    period_ns(1)
                };
                t + x % (period_ns(1) * 3 / 10)
            })
            .collect();
        assert_eq!(gaps_for(times, JACK), []);
    }

    #[test]
    fn a_stall_is_measured_from_the_timeline() {
        // 300 ms without callbacks, the cycles in it lost: 112.5 periods -> 112 or 113.
        let stall = 300_000_000u64;
        let times = (0..400u64).map(|k| {
            if k < 200 {
                period_ns(k)
            } else {
                period_ns(k) + stall - stall % period_ns(1)
            }
        });
        let gaps = gaps_for(times, JACK);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].at_frame, 200 * PERIOD);
        assert_eq!(gaps[0].frames, 112 * PERIOD);
    }

    /// Feeds JACK cycles as (frame counter, system clock in periods from the start) and
    /// returns the gaps queued.
    fn gaps_by_counter(cycles: impl IntoIterator<Item = (u32, f64)>) -> Vec<Gap> {
        let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, JACK);
        let block: Vec<f32> = (0..PERIOD * 2).map(|i| i as f32 / 1024.0).collect();
        let mut gaps = Vec::new();
        for (frame, at) in cycles {
            let ns = 1_000_000 + (at * period_ns(1) as f64) as u64;
            c.on_block(&block, jack(frame, 1000, ns, frame));
            out.samples.clear();
            while let Some(g) = out.gaps.try_pop() {
                gaps.push(g);
            }
        }
        gaps
    }

    #[test]
    fn cycles_late_by_the_clock_are_no_gap_while_the_frame_counter_runs_on() {
        // Cycles that run late by the clock (a whole period and more, ten in a row) are no
        // gap while the frame counter runs on.
        let cycles = (0..200u32).map(|i| {
            let at = f64::from(i) + if (50..60).contains(&i) { 1.3 } else { 0.0 };
            (i * PERIOD as u32, at)
        });
        let gaps = gaps_by_counter(cycles);
        assert!(gaps.is_empty(), "{gaps:?}");
    }

    #[test]
    fn cycles_the_server_ran_without_us_are_exact_by_the_frame_counter() {
        // 56 cycles skipped at cycle 100, while the clock says 55.6.
        let cycles = (0..300u32).filter(|i| !(100..156).contains(i)).map(|i| {
            let at = f64::from(i) - if i >= 156 { 0.4 } else { 0.0 };
            (i * PERIOD as u32, at)
        });
        let gaps = gaps_by_counter(cycles);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].at_frame, 100 * PERIOD);
        assert_eq!(gaps[0].frames, 56 * PERIOD);
        assert!(gaps[0].exact);
    }

    #[test]
    fn a_server_that_stood_still_for_seconds_gets_an_estimated_silence_and_a_short_one_none() {
        // The server stops for 3 s after cycle 100 and for 0.3 s after cycle 300; its frame
        // counter waits both times.
        let periods = |seconds: f64| seconds * RATE as f64 / PERIOD as f64;
        let cycles = (0..500u32).map(|i| {
            let mut at = f64::from(i);
            if i > 100 {
                at += periods(3.0);
            }
            if i > 300 {
                at += periods(0.3);
            }
            (i * PERIOD as u32, at)
        });
        let gaps = gaps_by_counter(cycles);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].at_frame, 101 * PERIOD);
        assert!(gaps[0].frames.abs_diff(3 * RATE) <= 1, "{gaps:?}");
        assert!(!gaps[0].exact, "measured by the clock, not by the server");
    }

    #[test]
    fn a_server_stall_stays_when_the_block_after_it_ran_under_the_next_cycles_stamp() {
        // The server stands still for 3 s after cycle 100 (its counter waits). The first
        // callback after it runs so late that the counter has moved on: it and the next
        // carry the same stamp. The stamp's hole is none, the 3 s standstill still is one.
        let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, JACK);
        let stall_periods = 3.0 * RATE as f64 / PERIOD as f64;
        let mut gaps = Vec::new();
        let mut blocks = 0usize;
        let mut feed = |c: &mut Capture, cycle: u32, at: f64| {
            // Audio that differs from block to block, as music does.
            let block: Vec<f32> = (0..PERIOD * 2)
                .map(|i| (blocks * 4096 + i as usize) as f32 / 1_048_576.0)
                .collect();
            blocks += 1;
            let ns = 1_000_000 + (at * period_ns(1) as f64) as u64;
            let frame = cycle * PERIOD as u32;
            c.on_block(&block, jack(frame, 1000, ns, frame));
        };
        for i in 0..=100u32 {
            feed(&mut c, i, f64::from(i));
        }
        feed(&mut c, 102, 101.0 + stall_periods);
        feed(&mut c, 102, 101.2 + stall_periods);
        for i in 103..120u32 {
            feed(&mut c, i, f64::from(i) - 1.0 + stall_periods);
        }
        out.samples.clear();
        while let Some(g) = out.gaps.try_pop() {
            gaps.push(g);
        }
        let lost: u64 = gaps.iter().map(|g| g.frames).sum();
        assert!(lost.abs_diff(3 * RATE) <= 2 * PERIOD, "{gaps:?}");
        assert!(gaps.iter().any(|g| g.frames > 0 && !g.exact), "{gaps:?}");
    }

    #[test]
    fn the_frame_counter_wraps_without_a_gap_and_a_skip_across_the_wrap_is_exact() {
        let start = u32::MAX - 20 * PERIOD as u32 + 1;
        let cycles = (0..100u32)
            .filter(|&i| i != 30 && i != 31)
            .map(|i| (start.wrapping_add(i * PERIOD as u32), f64::from(i)));
        let gaps = gaps_by_counter(cycles);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].at_frame, 30 * PERIOD);
        assert_eq!(gaps[0].frames, 2 * PERIOD);
    }

    /// JACK-like blocks of a two-channel counter: (cycle whose audio, cycle whose stamp, how
    /// late the callback ran in periods), through cpal's stamps. Returns the gaps and the
    /// counter values stored.
    fn replay(blocks: &[(u64, u64, f64)]) -> (Vec<Gap>, Vec<u64>) {
        let blocks: Vec<_> = blocks.iter().map(|&(a, s, l)| (a, s, l, 0)).collect();
        replay_through(&blocks, |c, block, cycle, wake, _| {
            let at = 1_000_000 + period_ns(cycle);
            c.on_block(
                block,
                Stamp::Host {
                    capture_ns: Some(at),
                    callback_ns: Some(at + wake),
                },
            );
        })
    }

    /// [`replay`] on JACK's frame-counter path: (cycle whose audio, cycle of the counter, how
    /// late the callback ran in periods, how many cycles the server began during the read).
    fn replay_counted(blocks: &[(u64, u64, f64, u32)]) -> (Vec<Gap>, Vec<u64>) {
        replay_through(blocks, |c, block, cycle, wake, begun| {
            let frame = (cycle * PERIOD) as u32;
            let clock = 1_000_000 + period_ns(cycle) + wake;
            let read_end = frame + begun * PERIOD as u32;
            c.on_block(block, jack(frame, wake, clock, read_end));
        })
    }

    /// Feeds each block, and one of silence after them to let the last out, through `feed`
    /// (the capture, the block, its cycle, how late in ns, cycles begun during the read).
    fn replay_through(
        blocks: &[(u64, u64, f64, u32)],
        mut feed: impl FnMut(&mut Capture, &[f32], u64, u64, u32),
    ) -> (Vec<Gap>, Vec<u64>) {
        let (mut c, mut out, _) = Capture::new(2, RATE as u32, RATE as usize, JACK);
        let mut gaps = Vec::new();
        let mut stored = Vec::new();
        let block_of = |audio: u64| -> Vec<f32> {
            (0..PERIOD)
                .flat_map(|i| {
                    let k = (audio * PERIOD + i + 1) as f32;
                    [k, -k]
                })
                .collect()
        };
        let last = blocks.last().map_or(0, |b| b.1 + 1);
        let silence = vec![0.0f32; PERIOD as usize * 2];
        let all = blocks
            .iter()
            .map(|&(audio, cycle, late, begun)| (block_of(audio), cycle, late, begun))
            .chain([(silence, last, 0.0, 0)]);
        for (block, cycle, late, begun) in all {
            feed(
                &mut c,
                &block,
                cycle,
                (late * period_ns(1) as f64) as u64,
                begun,
            );
            while let Some(w) = out.samples.try_pop() {
                stored.push(f32::from_bits(w));
            }
            while let Some(g) = out.gaps.try_pop() {
                gaps.push(g);
            }
        }
        let firsts = stored
            .chunks_exact(2)
            .filter(|f| f[0] != 0.0)
            .map(|f| {
                assert_eq!(f[0], -f[1], "channels stay together");
                f[0] as u64
            })
            .collect();
        (gaps, firsts)
    }

    fn counter(cycles: impl IntoIterator<Item = u64>) -> Vec<u64> {
        cycles
            .into_iter()
            .flat_map(|c| (0..PERIOD).map(move |i| c * PERIOD + i + 1))
            .collect()
    }

    fn lost_at(cycle: u64) -> Gap {
        lost(cycle, 1)
    }

    /// An exact dropout of `periods` periods from `cycle` on.
    fn lost(cycle: u64, periods: u64) -> Gap {
        Gap {
            at_frame: cycle * PERIOD,
            frames: periods * PERIOD,
            cause: GapCause::DeviceXrun,
            exact: true,
        }
    }

    #[test]
    fn a_late_block_that_read_the_next_cycle_becomes_a_dropout_not_a_repeat() {
        // The callback for cycle 10 ran 0.9 of a period late, stamped with cycle 10 but
        // reading cycle 11's audio, which the callback for cycle 11 then read again.
        let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
        blocks[10] = (11, 10, 0.9);
        let (gaps, stored) = replay(&blocks);
        assert_eq!(gaps, [lost_at(10)]);
        assert!(
            stored == counter((0..10).chain(11..20)),
            "stored audio differs"
        );
    }

    #[test]
    fn a_cycle_delivered_twice_is_stored_once() {
        // Cycle 10 never reached us; the late callback was stamped with cycle 11 and read
        // it, and the next callback was stamped with cycle 11 again and read it again.
        let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
        blocks[10] = (11, 11, 0.1);
        let (gaps, stored) = replay(&blocks);
        assert_eq!(gaps, [lost_at(10)]);
        assert!(
            stored == counter((0..10).chain(11..20)),
            "stored audio differs"
        );
    }

    #[test]
    fn audio_that_repeats_is_kept_when_the_timing_says_nothing_was_missed() {
        // The same audio in consecutive cycles (a tone whose period divides the block) from
        // callbacks on time: nothing is dropped.
        let blocks: Vec<_> = (0..20).map(|k| (3, k, 0.05)).collect();
        let (gaps, stored) = replay(&blocks);
        assert_eq!(gaps, []);
        assert!(
            stored == counter(std::iter::repeat_n(3, 20)),
            "stored audio differs"
        );
        // A late callback alone, with different audio after it, is no repeat either.
        let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
        blocks[10] = (10, 10, 0.9);
        let (gaps, stored) = replay(&blocks);
        assert_eq!(gaps, []);
        assert!(stored == counter(0..20), "stored audio differs");
    }

    #[test]
    fn a_read_across_the_next_cycle_that_holds_it_becomes_a_dropout_by_the_counter() {
        // The callback for cycle 10 ran so late that the server began cycle 11 during the
        // read, and the source had already written cycle 11; the callback for 11 read it again.
        let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05, 0)).collect();
        blocks[10] = (11, 10, 0.9, 1);
        let (gaps, stored) = replay_counted(&blocks);
        assert_eq!(gaps, [lost_at(10)]);
        assert!(
            stored == counter((0..10).chain(11..20)),
            "stored audio differs"
        );
    }

    #[test]
    fn a_block_read_after_the_process_stood_still_for_cycles_is_not_put_at_its_stamp() {
        // Stopped after its callback for cycle 10 began and before the ports were read, for
        // 55 cycles: the read found cycle 65's audio. The next callback is for cycle 66.
        let mut blocks: Vec<_> = (0..10).map(|k| (k, k, 0.05, 0)).collect();
        blocks.push((65, 10, 0.05, 55));
        blocks.extend((66..80).map(|k| (k, k, 0.05, 0)));
        let (gaps, stored) = replay_counted(&blocks);
        assert_eq!(gaps, [lost(10, 56)]);
        assert!(
            stored == counter((0..10).chain(66..80)),
            "stored audio differs"
        );
    }

    #[test]
    fn a_process_woken_late_for_a_missed_cycle_gets_the_hole_before_the_audio_it_read() {
        // Stopped for a while after cycle 9, the process is woken for a cycle it missed
        // while the server is in cycle 15, before the source has written cycle 15: that
        // block is stamped 15 but holds cycle 14. Then it is woken for cycle 15 itself.
        let mut blocks: Vec<_> = (0..10).map(|k| (k, k, 0.05, 0)).collect();
        blocks.push((14, 15, 0.05, 0));
        blocks.extend((15..25).map(|k| (k, k, 0.05, 0)));
        let (gaps, stored) = replay_counted(&blocks);
        assert_eq!(gaps, [lost(10, 4)]);
        assert!(
            stored == counter((0..10).chain(14..25)),
            "stored audio differs"
        );
    }

    #[test]
    fn a_tone_that_repeats_every_period_is_kept_from_late_callbacks_that_read_their_own_cycle() {
        // A loaded machine: every other callback runs most of a period late, but each ends
        // its read before the server begins the next cycle, so each read its own cycle.
        let blocks: Vec<_> = (0..20)
            .map(|k| (3, k, if k % 2 == 1 { 0.9 } else { 0.05 }, 0))
            .collect();
        let (gaps, stored) = replay_counted(&blocks);
        assert_eq!(gaps, []);
        assert!(
            stored == counter(std::iter::repeat_n(3, 20)),
            "stored audio differs"
        );
    }

    /// Feeds JACK cycles of a four-input counter by frame counter: (the cycle whose audio each
    /// input holds, the counter's cycle, whether the server began its next cycle during the
    /// read). Returns the gaps and, per stored frame, the counter value all four inputs agree
    /// on (a frame on which they disagree fails the test).
    fn replay_inputs(blocks: &[([u64; 4], u64, bool)]) -> (Vec<Gap>, Vec<u64>) {
        let (mut c, mut out, _) = Capture::new(4, RATE as u32, RATE as usize, JACK);
        let mut gaps = Vec::new();
        let mut stored = Vec::new();
        let mut take = |out: &mut CaptureOutput, gaps: &mut Vec<Gap>| {
            while let Some(w) = out.samples.try_pop() {
                stored.push(f32::from_bits(w));
            }
            while let Some(g) = out.gaps.try_pop() {
                gaps.push(g);
            }
        };
        let block_of = |audio: [u64; 4]| -> Vec<f32> {
            (0..PERIOD)
                .flat_map(|i| {
                    (0..4u64)
                        .map(move |ch| (audio[ch as usize] * PERIOD + i + 1 + 100_000 * ch) as f32)
                })
                .collect()
        };
        let ns = |cycle: u64| 1_000_000 + period_ns(cycle);
        for &(audio, cycle, moved) in blocks {
            let frame = (cycle * PERIOD) as u32;
            c.on_block(
                &block_of(audio),
                jack(
                    frame,
                    1000,
                    ns(cycle),
                    frame + u32::from(moved) * PERIOD as u32,
                ),
            );
            take(&mut out, &mut gaps);
        }
        // One more cycle lets the last block out.
        let last = blocks.last().map_or(0, |b| b.1 + 1);
        let silence = vec![0.0f32; PERIOD as usize * 4];
        let frame = (last * PERIOD) as u32;
        c.on_block(&silence, jack(frame, 1000, ns(last), frame));
        take(&mut out, &mut gaps);
        let frames = stored
            .chunks_exact(4)
            .filter(|f| f[0] != 0.0)
            .map(|f| {
                let k = f[0] as u64;
                for (ch, v) in f.iter().enumerate() {
                    assert_eq!(*v as u64, k + 100_000 * ch as u64, "inputs out of step");
                }
                k
            })
            .collect();
        (gaps, frames)
    }

    #[test]
    fn a_torn_read_under_the_next_cycles_stamp_becomes_an_exact_dropout() {
        // The callback for cycle 10 ran so late that the counter said 11 and the source was
        // writing cycle 11 into the ports as they were read: inputs 0 and 1 hold cycle 11,
        // inputs 2 and 3 still cycle 10. Then the callback for cycle 11 reads cycle 11.
        let mut blocks: Vec<_> = (0..20).map(|k| ([k; 4], k, false)).collect();
        blocks[10] = ([11, 11, 10, 10], 11, false);
        let (gaps, stored) = replay_inputs(&blocks);
        assert_eq!(gaps, [lost_at(10)]);
        assert!(
            stored == counter((0..10).chain(11..20)),
            "stored audio differs"
        );
    }

    #[test]
    fn a_torn_read_of_its_own_cycle_becomes_an_exact_dropout_when_the_read_overlapped_the_next() {
        // Read while the server began cycle 11: input 3 already holds cycle 11.
        let mut blocks: Vec<_> = (0..20).map(|k| ([k; 4], k, false)).collect();
        blocks[10] = ([10, 10, 10, 11], 10, true);
        let (gaps, stored) = replay_inputs(&blocks);
        assert_eq!(gaps, [lost_at(10)]);
        assert!(
            stored == counter((0..10).chain(11..20)),
            "stored audio differs"
        );
    }

    #[test]
    fn inputs_that_repeat_a_cycle_by_nature_are_no_torn_read_when_the_timing_says_nothing() {
        // Input 1 plays a loop as long as a period (the same audio every cycle); the others
        // move on. Every other callback runs most of a period late (a loaded machine), but no
        // read overlapped a new cycle: every block is kept.
        let blocks: Vec<_> = (0..20).map(|k| ([k, 3, k, k], k, false)).collect();
        let (mut c, mut out, _) = Capture::new(4, RATE as u32, RATE as usize, JACK);
        let mut stored = 0;
        let mut gaps = Vec::new();
        for &(audio, cycle, moved) in &blocks {
            let block: Vec<f32> = (0..PERIOD)
                .flat_map(|i| {
                    (0..4u64)
                        .map(move |ch| (audio[ch as usize] * PERIOD + i + 1 + 100_000 * ch) as f32)
                })
                .collect();
            let wake = if cycle % 2 == 1 {
                period_ns(1) * 9 / 10
            } else {
                1000
            };
            let frame = (cycle * PERIOD) as u32;
            c.on_block(
                &block,
                jack(
                    frame,
                    wake,
                    1_000_000 + period_ns(cycle) + wake,
                    frame + u32::from(moved) * PERIOD as u32,
                ),
            );
            while out.samples.try_pop().is_some() {
                stored += 1;
            }
            while let Some(g) = out.gaps.try_pop() {
                gaps.push(g);
            }
        }
        assert_eq!(gaps, []);
        // All but the block still held back.
        assert_eq!(stored, 19 * PERIOD as usize * 4);
    }

    #[test]
    fn a_late_block_stamped_with_the_next_cycle_is_no_hole_when_the_next_block_shares_it() {
        // The callback for cycle 10 ran after the server's stamp had moved on to cycle 11 but
        // still read cycle 10's audio; the callback for cycle 11 then came with the same stamp.
        let mut blocks: Vec<_> = (0..20).map(|k| (k, k, 0.05)).collect();
        blocks[10] = (10, 11, 0.1);
        let (gaps, stored) = replay(&blocks);
        assert_eq!(gaps, []);
        assert!(stored == counter(0..20), "stored audio differs");
    }
}
